"""The builders of real PDF (fpdf2) and Word (python-docx) files (tests/document_files.py) as fixtures of the
corpus tests: no binary fixtures."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from document_files import docx_bytes, pdf_bytes


@pytest.fixture
def make_pdf() -> Callable[..., bytes]:
    return pdf_bytes


@pytest.fixture
def make_docx() -> Callable[..., bytes]:
    return docx_bytes
