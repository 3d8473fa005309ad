"""Service settings, read once at the edge from CITEQA_* environment variables (or a .env file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from citeqa.answer_model import DEFAULT_ANSWER_MODEL_PATH
from citeqa.dedup import DEFAULT_DEDUP_RULE, DedupRule
from citeqa.fusion import FusionMethod, FusionSettings
from citeqa.query_adapter import DEFAULT_QUERY_ADAPTER_PATH
from citeqa.question_tower import DEFAULT_QUESTION_TOWER_PATH
from corpus import DEFAULT_CORPUS_DIR
from corpus.ingest import MAX_BULK_DOCUMENTS, MAX_DOCUMENT_CHARS
from indexer.batching_encoder import DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_WAIT_MS
from indexer.embedding import DEFAULT_MODEL
from indexer.embedding_cache import DEFAULT_CACHE_DIR
from indexer.onnx_encoder import DEFAULT_ONNX_CACHE, Backend

DEFAULT_INDEX_DIR = Path("var/index")
DEFAULT_FUSION = FusionSettings()
# A question of MAX_QUESTION_CHARS (10,000) characters in any JSON: ASCII-escaped, as json.dumps writes it by
# default, a character outside the BMP takes 12 bytes (\ud83c\udf5e), so 120,000; the rest is room.
DEFAULT_MAX_BODY_BYTES = 160 * 1024
DEFAULT_MAX_WRITE_BODY_BYTES = 32 * 1024 * 1024
DEFAULT_QUERY_CONCURRENCY = 16
DEFAULT_MAX_QUEUED = 32
# Twice the write threads (service.writes.WRITE_THREADS, 4): each admitted write may hold a body of
# CITEQA_MAX_WRITE_BODY_BYTES, so 8 of 32 MiB is at most 256 MiB of bodies held at once.
DEFAULT_MAX_QUEUED_WRITES = 8
MAX_THREADS = 256
MAX_WORKERS = 256


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITEQA_", env_file=".env", extra="ignore")

    index_path: Path = Field(DEFAULT_INDEX_DIR, description="index folder to serve (built by citeqa index)")
    corpus_path: Path = Field(DEFAULT_CORPUS_DIR, description="corpus that make run / citeqa index builds")
    index_mmap: bool = Field(
        False, description="memory-map the segments' FAISS files instead of reading them in"
    )
    index_checksums: bool = Field(
        True, description="sha256 every index file at start-up (false: sizes only; see citeqa verify)"
    )
    model: str = Field(DEFAULT_MODEL, description="sentence-transformers model name or local path")
    backend: Backend = Field("onnx", description="encoder backend: torch, onnx or onnx-int8 (see README)")
    onnx_cache_path: Path = Field(DEFAULT_ONNX_CACHE, description="where ONNX exports of the model are kept")
    # Each worker loads the model and the index: 100,000 would fork until the machine gives out.
    workers: int = Field(
        1, ge=1, le=MAX_WORKERS, description="worker processes on this machine (sets the thread default)"
    )
    # 100,000 threads ended the start in an ImportError traceback from onnxruntime (its thread pool could
    # not be mapped); 2,048 did not start in 40 s on 2 cores. More threads than cores only slow a query.
    threads: int | None = Field(
        None, ge=1, le=MAX_THREADS, description="encoder/FAISS threads per process (cores//workers)"
    )
    encoder_spin: bool = Field(
        True,
        description="ONNX encoder threads keep spinning after a question (fastest on a dedicated machine); "
        "false frees about 3-4 ms of CPU per question on a shared one",
    )
    host: str = Field("127.0.0.1", description="interface citeqa serve binds")
    port: int = Field(8000, ge=1, le=65535, description="port citeqa serve listens on")
    shutdown_grace_seconds: float = Field(
        30.0,
        gt=0.0,
        le=3600.0,
        allow_inf_nan=False,
        description="on SIGTERM or SIGINT, how long citeqa serve waits for requests in progress before it "
        "cancels them and stops (a write cut off is not acknowledged and leaves the index as it was)",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="origins allowed by CORS, comma-separated; '*' for any"
    )
    fusion_method: FusionMethod = Field(
        DEFAULT_FUSION.method, description="hybrid fusion: convex_minmax, convex, weighted_rrf or rrf"
    )
    fusion_dense_weight: float = Field(
        DEFAULT_FUSION.dense_weight, ge=0.0, le=1.0, description="weight of the dense side in hybrid fusion"
    )
    fusion_rrf_k: float = Field(
        DEFAULT_FUSION.rrf_k, gt=0.0, allow_inf_nan=False, description="k of (weighted) rrf fusion"
    )
    fusion_sentence_weight: float = Field(
        DEFAULT_FUSION.sentence_weight,
        ge=0.0,
        le=1.0,
        description="share of the dense side taken from each passage's best stored sentence (convex fusion; "
        "0: passage vectors only)",
    )
    reranker: Path | None = Field(
        None, description="folder of a sentence-transformers CrossEncoder that reranks hybrid results"
    )
    rerank_depth: int = Field(20, ge=1, le=200, description="how many fused passages the reranker rescores")
    calibration_path: Path | None = Field(
        None,
        description="answerability calibration (written by citeqa eval --calibrate); unset: the index "
        "folder's calibration.json if it holds one, else the packaged citeqa/calibration.json",
    )
    answer_model_path: Path | None = Field(
        DEFAULT_ANSWER_MODEL_PATH,
        description="learned answer choice (written by python -m eval.answer_fit); empty: the similarity mix",
    )
    answer_sentence_candidates: int | None = Field(
        None,
        ge=0,
        le=200,
        description="how many of the index's sentences closest to the question (brute force over the stored "
        "sentence vectors) add their results to the answer's candidates; unset: as many as the answer model "
        "was fitted with (0 for the packaged one), 0: none",
    )
    answer_sentence_bm25_weight: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="those sentences are found by the fusion (convex, min-max) of their vectors and BM25 "
        "over the sentences with this share for BM25 (segments written before sentence postings were "
        "stored: by their vectors); unset: the answer model's (0 for the packaged ones), 0: by their "
        "vectors alone",
    )
    query_adapter_path: Path | None = Field(
        None,
        description="linear query adapter of question vectors (written by python -m eval.adapter_fit, one "
        f"packaged at {DEFAULT_QUERY_ADAPTER_PATH.name}, fitted on the model's own question vectors; refused "
        "when fitted for another model, the packaged one off for other models); unset or empty: off",
    )
    question_tower_path: Path | None = Field(
        DEFAULT_QUESTION_TOWER_PATH,
        description="question tower: the model fine-tuned to encode questions (written by python -m "
        "eval.query_tower_fit; refused when tuned from another model, the packaged one off for other "
        "models); empty: questions are encoded by the model itself",
    )
    dedup: DedupRule = Field(DEFAULT_DEDUP_RULE, description="near-duplicate rule for results")
    max_body_bytes: int = Field(
        DEFAULT_MAX_BODY_BYTES, ge=1, description="largest request body accepted (larger: 413)"
    )
    max_write_body_bytes: int = Field(
        DEFAULT_MAX_WRITE_BODY_BYTES,
        ge=1,
        description="largest body of a document write (POST/PUT /documents...; larger: 413)",
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="API keys for write access (and reads, see below), comma-separated"
    )
    # At most the corpus's own limit: files (uploads included) are refused past it as they are read.
    max_document_chars: int = Field(
        MAX_DOCUMENT_CHARS,
        ge=1,
        le=MAX_DOCUMENT_CHARS,
        description="largest document text accepted by the write endpoints (characters; at most the "
        "default, the most any document may hold)",
    )
    max_bulk_documents: int = Field(
        MAX_BULK_DOCUMENTS, ge=1, description="most documents in one POST /documents"
    )
    merge_segments_per_tier: int = Field(
        8, ge=2, description="segments of one size tier that start a background merge into one"
    )
    require_key_for_reads: bool = Field(False, description="also require an API key on the read endpoints")
    precompute_sentences: bool = Field(
        True,
        description="embed at start (through the embedding cache) the sentences of index segments written "
        "without sentence vectors by an earlier release, not per query",
    )
    response_cache_size: int = Field(1024, ge=0, description="responses kept in memory (0: no cache)")
    question_cache_size: int = Field(1024, ge=0, description="question vectors kept in memory (0: no cache)")
    question_batch_size: int = Field(
        DEFAULT_MAX_BATCH_SIZE,
        ge=1,
        description="most questions of concurrent queries encoded in one call (1: no micro-batching)",
    )
    question_batch_wait_ms: float = Field(
        DEFAULT_MAX_WAIT_MS,
        ge=0.0,
        le=100.0,
        description="how long a batch waits to fill, only while other questions are queued (ms)",
    )
    query_concurrency: int = Field(
        DEFAULT_QUERY_CONCURRENCY, ge=1, le=32, description="queries computed at once per process (threads)"
    )
    answer_concurrency: int = Field(
        1,
        ge=1,
        le=32,
        description="queries whose answer layer (all but encoding the question) runs at once per process; "
        "the others wait their turn in arrival order",
    )
    max_queued_queries: int = Field(
        DEFAULT_MAX_QUEUED,
        ge=1,
        description="queries admitted at once per process, computing or waiting; more: 503 with Retry-After",
    )
    max_queued_writes: int = Field(
        DEFAULT_MAX_QUEUED_WRITES,
        ge=1,
        description="document writes (POST/PUT /documents...) admitted at once per process, computing or "
        "waiting, each holding its body; more: 503 with Retry-After, before the body is read",
    )
    retry_after_seconds: int = Field(
        1, ge=1, description="the Retry-After of a 503 when the queue (of queries or of writes) is full"
    )
    embedding_cache_path: Path = Field(
        DEFAULT_CACHE_DIR, description="persistent embedding cache (passage and sentence vectors)"
    )
    example_questions: Annotated[list[str] | None, NoDecode] = Field(
        None,
        description="the search page's example questions, separated by | (or a JSON list); empty: none "
        "(unset: examples.json beside the index folder, see service/examples.py)",
    )
    corpus_name: str | None = Field(None, description="the corpus's name, shown in the search page's title")

    @field_validator(
        "reranker",
        "answer_model_path",
        "calibration_path",
        "answer_sentence_candidates",
        "answer_sentence_bm25_weight",
        "query_adapter_path",
        "question_tower_path",
        mode="before",
    )
    @classmethod
    def empty_is_off(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("host", mode="before")
    @classmethod
    def host_is_given(cls, value: object) -> object:
        """An empty host made uvicorn listen on every interface ('Uvicorn running on http://:8000'), so
        CITEQA_HOST= left empty by mistake exposed the service; every interface is asked for by name."""
        if isinstance(value, str) and not value.strip():
            raise ValueError(
                "empty, which would listen on every interface: give 127.0.0.1 (this machine only, the "
                "default) or 0.0.0.0 (every interface), or leave the variable unset"
            )
        return value

    @field_validator(
        "model", "index_path", "corpus_path", "onnx_cache_path", "embedding_cache_path", mode="before"
    )
    @classmethod
    def named(cls, value: object) -> object:
        """Set but empty, a model was loaded as a blank one (citeqa index ended in a TypeError traceback)
        and a folder was the working folder ('.', where an empty embedding cache path wrote its files)."""
        if isinstance(value, str) and not value.strip():
            raise ValueError("empty: give a value, or leave the variable unset for the default")
        return value

    @field_validator("api_keys", mode="before")
    @classmethod
    def split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @field_validator("api_keys")
    @classmethod
    def keys_can_be_sent(cls, keys: list[SecretStr]) -> list[SecretStr]:
        """A client sends its key in an HTTP header, which carries printable ASCII: a key with an accented
        letter or a control character arrives as other characters (curl sends UTF-8, read back as
        Latin-1; browsers and httpx refuse to send it) and never matched, every write answered 403. The
        key itself is never named: its place in the list is."""
        for number, key in enumerate(keys, 1):
            if not all(" " <= char <= "~" for char in key.get_secret_value()):
                raise ValueError(
                    f"key {number} of {len(keys)} holds a character other than printable ASCII (an accented "
                    "letter, a control character), which a client cannot send in an Authorization header; "
                    "use letters, digits and punctuation, e.g. python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))'"
                )
        return keys

    @field_validator("example_questions", mode="before")
    @classmethod
    def split_questions(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [question.strip() for question in value.split("|") if question.strip()]
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def origins_are_origins(cls, origins: list[str]) -> list[str]:
        """A browser sends its Origin as scheme://host[:port] and CORS compares it whole: an origin given
        with a path or a trailing slash (https://example.org/) never matched, and the page on it was
        refused with no word from the service."""
        from urllib.parse import urlsplit

        for origin in origins:
            if origin == "*":
                continue
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.netloc
                or origin != f"{parts.scheme}://{parts.netloc}"
            ):
                hint = (
                    f" (the browser sends {parts.scheme}://{parts.netloc})"
                    if parts.scheme and parts.netloc
                    else ""
                )
                raise ValueError(
                    f"{origin!r} is not an origin: give scheme://host[:port], no path and no trailing "
                    f"slash{hint}, or '*' for any"
                )
        return origins
