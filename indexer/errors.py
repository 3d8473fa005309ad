"""Errors of the index layer."""

from corpus.errors import CiteqaError, CorpusError


class IndexMismatchError(CiteqaError):
    """An index folder is missing, corrupt, or built for other settings: rebuild it."""


class DocumentNotFoundError(CiteqaError):
    """No document has the requested doc_id."""


class EncoderError(CiteqaError):
    """The embedding model cannot be loaded or exported."""


class LastDocumentError(CorpusError):
    """A write would leave the index without any document."""
