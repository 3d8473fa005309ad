"""citeqa on Ray Serve (``citeqa serve --engine ray``): a deployment per shard of a sharded index and an
ingress that is the service's own FastAPI app, asking the shards through deployment handles. Ray is an
optional dependency (``pip install citeqa[ray]``), imported only in this package and indexer.ray_build."""
