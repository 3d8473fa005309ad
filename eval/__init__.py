"""Offline evaluation of citeqa retrieval: BEIR datasets and retrieval metrics."""
