"""Errors of the query core; the service maps every domain error to an HTTP code in one place."""

from corpus.errors import CiteqaError


class InvalidQueryError(CiteqaError):
    """A question or search parameter is unusable."""


class RerankerError(CiteqaError):
    """The configured reranker cannot be loaded or used."""


class CalibrationError(CiteqaError):
    """The answerability calibration file is missing, malformed, or fitted for another model."""
