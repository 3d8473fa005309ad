"""Domain errors raised by the library; the service maps them to HTTP codes in one place."""


class CiteqaError(Exception):
    """Base class: the message says what went wrong and what to do."""


class CorpusError(CiteqaError):
    """A document or dataset file is invalid (the message names the file and the field)."""


class IndexMismatchError(CiteqaError):
    """An index folder is missing, corrupt, or built for other settings: rebuild it."""


class InvalidQueryError(CiteqaError):
    """A question or search parameter is unusable."""


class DocumentNotFoundError(CiteqaError):
    """No document has the requested doc_id."""


class RerankerError(CiteqaError):
    """The configured reranker cannot be loaded or used."""


class CalibrationError(CiteqaError):
    """The answerability calibration file is missing, malformed, or fitted for another model."""


class InvalidDocumentIdError(InvalidQueryError):
    """A doc_id in a request is not one a document could have (path separators, '..', control
    characters, or outside the loader's pattern)."""
