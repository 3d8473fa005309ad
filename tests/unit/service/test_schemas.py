"""The API's citation is the query core's citation: the pydantic model and the dataclass have the same
fields (names, order and types), so they cannot drift apart."""

from __future__ import annotations

import dataclasses
import typing

from citeqa.types import Citation
from service.schemas import CitationOut


def test_citation_out_has_the_fields_of_citation() -> None:
    dataclass_fields = typing.get_type_hints(Citation)
    model_fields = {name: field.annotation for name, field in CitationOut.model_fields.items()}
    assert list(model_fields) == [f.name for f in dataclasses.fields(Citation)]
    assert model_fields == dataclass_fields


def test_citation_out_copies_a_citation() -> None:
    citation = Citation("doc", "Title", None, "Author", None, 3, 9)
    assert CitationOut.from_citation(citation).model_dump() == dataclasses.asdict(citation)
