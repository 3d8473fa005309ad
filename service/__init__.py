"""The HTTP service: a thin FastAPI layer over the citeqa search library."""
