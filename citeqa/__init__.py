"""citeqa: retrieval question answering with exact, checkable citations."""

__version__ = "0.1.0"
