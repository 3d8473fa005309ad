"""The one query contract of POST /query (a JSON body) and GET /search (a URL): the same parameters with
the same rules, each defined once below and used by both models.

==========  ==============  =============  ======================================================
POST body   GET parameter   default        rule
==========  ==============  =============  ======================================================
question    q               (required)     1 to 10,000 characters, at least one that is not a space
top_k       k               5              1 to 50 results
mode        mode            hybrid         hybrid, dense or bm25
offset      offset          0              results to skip, 0 to 200 (paging)
filters     filter          none           POST: {"key": ["value", ...]}; GET: filter=key:value,
                                           repeatable (values of one key OR, keys AND)
min_version min_version     0              answer from this index version or later (409 if none)
==========  ==============  =============  ======================================================

Any other body key or query parameter is refused with a 422 that names it, and so is one given twice (a
body's name, a filter key included, as a URL's parameter other than ``filter``). GET's ``filter`` is split at
its first colon, so a value may hold colons (``filter=url:https://example.org/a``).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, ClassVar
from urllib.parse import parse_qsl

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from citeqa.errors import InvalidQueryError
from citeqa.paging import PAGE_DEPTH
from citeqa.search import MAX_QUESTION_CHARS, MAX_TOP_K
from citeqa.types import SearchMode
from corpus.unicode_check import LONE_SURROGATE_FIX, has_lone_surrogate

# Python's regular expressions: \S is exactly a character str.strip() keeps (the library strips questions).
NOT_ONLY_SPACES = r"\S"
FILTER_PARAM = r"^[^:]+:"  # key:value, split at the first colon


def has_text(value: str) -> str:
    if not re.search(NOT_ONLY_SPACES, value):
        raise ValueError("must not be empty or only spaces; type a question")
    if len(value) > MAX_QUESTION_CHARS:
        raise ValueError(f"is {len(value)} characters long; shorten it to at most {MAX_QUESTION_CHARS}")
    if has_lone_surrogate(value):
        raise ValueError(f"{LONE_SURROGATE_FIX}; write the character itself or remove it")
    return value


# The checks are the validator's (with messages that say what to do); the schema states the same rules.
Question = Annotated[
    str,
    AfterValidator(has_text),
    Field(json_schema_extra={"minLength": 1, "maxLength": MAX_QUESTION_CHARS, "pattern": NOT_ONLY_SPACES}),
]


def json_number(value: Any) -> Any:
    """A JSON body's whole number is a number (2 or 2.0): pydantic would also read true, false and "2"."""
    if isinstance(value, bool | str):
        raise ValueError(f"must be a whole number, not {type(value).__name__} {value!r}")
    return value


JsonNumber = BeforeValidator(json_number)  # for JSON bodies; a URL's numbers are text


def url_number(value: Any) -> Any:
    """A URL's whole number is written in digits: pydantic would also read "1_0" as 10, and " 5", "+5"
    and "5.0" as 5, so a typo was answered as another request."""
    if isinstance(value, str) and not re.fullmatch(r"-?[0-9]+", value):  # a sign: the range says why
        raise ValueError(f"must be a whole number written in digits (0-9), not {value!r}")
    return value


UrlNumber = BeforeValidator(url_number)  # for URL parameters
TopK = Annotated[int, Field(ge=1, le=MAX_TOP_K)]
Offset = Annotated[int, Field(ge=0, le=PAGE_DEPTH)]
# An empty list matches no document: citeqa.filters refuses it with its own message; the schema says so.
FilterValues = Annotated[list[str], Field(json_schema_extra={"minItems": 1})]
Filters = dict[str, FilterValues]

QUESTION_DOC = f"the question: 1 to {MAX_QUESTION_CHARS:,} characters (code points), at least one not a space"
TOP_K_DOC = "how many results to return"
MODE_DOC = "hybrid (default), dense or bm25"
OFFSET_DOC = f"results to skip before these (paging through the best {PAGE_DEPTH} passages)"
MIN_VERSION_DOC = (
    "answer from index version min_version or later (the index_version a write returned: read your own "
    "writes on any worker); 409 if no commit has reached it"
)
MinVersion = Annotated[int, Field(ge=0)]
FILTER_KEYS_DOC = "keys: doc_id, title, author, publisher, url, or a metadata key of the index"


class KnownParameters(BaseModel):
    """Refuses any input name that is not a field, naming all of them and the ones that are known."""

    model_config = ConfigDict(extra="forbid")
    where: ClassVar[str] = "parameter"
    repeatable: ClassVar[tuple[str, ...]] = ()  # the URL parameters that may be given more than once

    @classmethod
    def check_single(cls, names: list[str]) -> None:
        """A URL that gives a parameter twice (other than a ``repeatable`` one) is refused, not read as the
        last one."""
        counts = {name: names.count(name) for name in dict.fromkeys(names) if name not in cls.repeatable}
        repeated = [f"{name!r} given {count} times" for name, count in counts.items() if count > 1]
        if repeated:
            hint = f" (only {', '.join(cls.repeatable)} repeats)" if cls.repeatable else ""
            raise InvalidQueryError(f"parameter {', '.join(repeated)}; give each once{hint}")

    @model_validator(mode="before")
    @classmethod
    def no_unknown_names(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = [field.alias or name for name, field in cls.model_fields.items()]
        unknown = [str(name) for name in data if name not in known]
        if unknown:
            names = ", ".join(repr(name) for name in unknown)
            plural = "s" if len(unknown) > 1 else ""
            raise PydanticCustomError(
                "unknown_parameter",
                "unknown {where}{plural} {names}; known: {known}",
                {"where": cls.where, "plural": plural, "names": names, "known": ", ".join(known)},
            )
        return data


class QueryRequest(KnownParameters):
    """POST /query's body."""

    where: ClassVar[str] = "field"

    question: Question = Field(..., description=QUESTION_DOC)
    top_k: Annotated[TopK, JsonNumber] = Field(5, description=TOP_K_DOC)
    mode: SearchMode = Field("hybrid", description=MODE_DOC)
    offset: Annotated[Offset, JsonNumber] = Field(0, description=OFFSET_DOC)
    filters: Filters | None = Field(
        None,
        description="only passages of documents whose value for every key is one of the listed values; "
        + FILTER_KEYS_DOC,
        examples=[{"doc_id": ["bailey-baby-milia"]}],
    )
    min_version: Annotated[MinVersion, JsonNumber] = Field(0, description=MIN_VERSION_DOC)


def names_given_twice(body: bytes) -> list[str]:
    """The names a JSON body gives more than once in one object (``"question"`` twice, or a filter key
    twice in ``filters``), each once, in order; a body that is not JSON has none here (it is refused as
    such). A JSON parser keeps the last of them silently, so a repeated filter key would drop values."""
    repeated: list[str] = []

    def each_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        names = [name for name, _ in pairs]
        repeated.extend(n for n in dict.fromkeys(names) if names.count(n) > 1 and n not in repeated)
        return dict(pairs)

    try:
        json.loads(body, object_pairs_hook=each_once)
    except ValueError:
        return []
    return repeated


def check_single_fields(body: bytes) -> None:
    """POST /query refuses a body that names a field twice, as GET /search refuses a repeated parameter
    (its ``filter`` repeats: POST lists one key's values once, ``{"doc_id": ["a", "b"]}``)."""
    repeated = names_given_twice(body)
    if repeated:
        names = ", ".join(repr(name) for name in repeated)
        raise InvalidQueryError(
            f"the JSON body gives {names} more than once; give each once (list a filter's values in one "
            'list: {"doc_id": ["a", "b"]})'
        )


class SearchQuery(KnownParameters):
    """GET /search's query parameters: POST /query's, named for URLs."""

    repeatable: ClassVar[tuple[str, ...]] = ("filter",)

    q: Question = Field(..., description=QUESTION_DOC)
    k: Annotated[TopK, UrlNumber] = Field(5, description=TOP_K_DOC)
    mode: SearchMode = Field("hybrid", description=MODE_DOC)
    offset: Annotated[Offset, UrlNumber] = Field(0, description=OFFSET_DOC)
    filter: list[Annotated[str, Field(pattern=FILTER_PARAM)]] = Field(
        default_factory=list,
        description="key:value, repeatable: only passages of documents whose value for every key is one of "
        "the values given for it; " + FILTER_KEYS_DOC,
        examples=[["publisher:Dr. Bailey Skin Care"]],
    )
    min_version: Annotated[MinVersion, UrlNumber] = Field(0, description=MIN_VERSION_DOC)

    @field_validator("filter", mode="before")
    @classmethod
    def key_and_value(cls, value: Any) -> Any:
        for item in value if isinstance(value, list) else []:
            if isinstance(item, str) and not re.match(FILTER_PARAM, item):
                raise ValueError(f"{item!r} is not key:value; write e.g. filter=doc_id:my-doc")
        return value

    @staticmethod
    def check_encoding(query_string: bytes) -> None:
        """A URL whose percent-encoded bytes are not UTF-8 is refused (read with replacement characters, a
        question would silently become another; POST refuses the same text as a lone surrogate)."""
        try:
            parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise InvalidQueryError(
                "the URL's query parameters are not UTF-8 once percent-decoded; percent-encode the UTF-8 "
                "bytes of the text (é is %C3%A9)"
            ) from None

    def request(self) -> QueryRequest:
        """The same query as POST /query's body (already valid: the fields share their rules)."""
        filters: Filters = {}
        for item in self.filter:
            key, _, value = item.partition(":")
            filters.setdefault(key, []).append(value)
        return QueryRequest.model_construct(
            question=self.q,
            top_k=self.k,
            mode=self.mode,
            offset=self.offset,
            filters=filters or None,
            min_version=self.min_version,
        )


DOCUMENTS_PAGE = 1000  # documents per GET /documents page, unless asked otherwise
DOCUMENTS_PAGE_MAX = 10_000
DOCUMENTS_OFFSET_MAX = 1_000_000_000  # beyond any index; a bound keeps the arithmetic in machine integers


class DocumentsPage(KnownParameters):
    """GET /documents's query parameters: one page of the stored documents, in the index's order."""

    offset: Annotated[int, Field(ge=0, le=DOCUMENTS_OFFSET_MAX), UrlNumber] = Field(
        0, description="documents to skip (the next_offset of a page)"
    )
    limit: Annotated[int, Field(ge=1, le=DOCUMENTS_PAGE_MAX), UrlNumber] = Field(
        DOCUMENTS_PAGE, description="documents per page, at most 10000"
    )
