"""Chunking, embedding, the vector and BM25 indexes, and the index folder on disk."""
