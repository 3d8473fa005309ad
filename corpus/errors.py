"""Errors of the lowest layer; ``CiteqaError`` is the base class of every domain error in the product."""


class CiteqaError(Exception):
    """Base class: the message says what went wrong and what to do."""


class CorpusError(CiteqaError):
    """A document or dataset file is invalid (the message names the file and the field)."""


class InvalidDocumentIdError(CorpusError):
    """A doc_id is not one a document could have (see ``corpus.doc_ids``)."""


class UnsupportedFormatError(CorpusError):
    """A file or upload is of a type citeqa does not read (HTTP 415); the message lists the ones it does."""


class DuplicateDocumentIdError(CorpusError):
    """Two documents of one read get the same doc_id (no file is unreadable: ``--skip-bad`` cannot help)."""


class NoDocumentsError(CorpusError):
    """A corpus folder holds no file citeqa reads (nothing to skip: ``--skip-bad`` cannot help)."""
