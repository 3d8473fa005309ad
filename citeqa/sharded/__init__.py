"""Search over a sharded index (indexer/shards.py): each shard answers for its own passages under corpus-wide
statistics, and one gatherer ranks, answers and cites over what the shards sent, with the query core of an
index of one folder. The shards may live in this process (citeqa.sharded.local) or on Ray Serve replicas
(service.ray_engine): both go through the same messages (citeqa.sharded.messages) and the same gatherer."""
