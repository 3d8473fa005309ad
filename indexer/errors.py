"""Errors of the index layer."""

from corpus.errors import CiteqaError


class IndexMismatchError(CiteqaError):
    """An index folder is missing, corrupt, or built for other settings: rebuild it."""


class DocumentNotFoundError(CiteqaError):
    """No document has the requested doc_id."""


class EncoderError(CiteqaError):
    """The embedding model cannot be loaded or exported."""


class VersionNotReachedError(CiteqaError):
    """A reader asked for an index version that no commit has reached yet."""
