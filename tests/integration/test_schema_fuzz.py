"""Property-based API testing with schemathesis, as its command line runs it: every default phase
(examples, coverage, fuzzing, stateful) and every default check (server errors, status codes, content
types, response schemas and headers, positive data accepted and negative data refused, missing headers,
unsupported methods and their Allow header, use after free, resource availability, ignored auth),
against the real app on loopback over a private index. It must report no failure.

Twice: with reads public (the default: the OpenAPI document declares no security on them) and with
CITEQA_REQUIRE_KEY_FOR_READS (reads declare the key). Writes always need the key; schemathesis has it (for
the operations that declare the scheme) and checks that a request without it, or with a wrong one, is
refused. The writes store generated documents, so the index is a copy built for this module, of documents
without metadata: its filter keys (stated in the schema) cannot vanish under the writes.

One allowance, for the writes only: a document whose content breaks a rule no JSON schema can state (an
upload with no text once converted, a file type the name gives away, page offsets past the text) is
refused with 422 or 415 although its envelope matches the schema.

Bounded and deterministic: a fixed seed, one worker, at most MAX_EXAMPLES cases per operation, no shrinking.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from corpus.types import Document
from eval.bench import loopback_server
from indexer.embedding import DEFAULT_MODEL, SentenceTransformerEncoder
from service.app import create_app
from service.settings import Settings
from service.wiring import build_searcher

MAX_EXAMPLES = 25
SEED = 20261124
KEY = "fuzz-test-key"
EXPECTED_OPERATIONS = {
    "POST /query",
    "GET /search",
    "GET /examples",
    "GET /documents",
    "GET /documents/{doc_id}",
    "GET /health",
    "GET /ready",
    "POST /documents",
    "POST /documents/upload",
    "PUT /documents/{doc_id}",
    "DELETE /documents/{doc_id}",
    "POST /index/rebuild",
}
READS = {"POST /query", "GET /search", "GET /examples", "GET /documents", "GET /documents/{doc_id}"}
WRITE_ACCEPTANCE = ["2xx", "3xx", "401", "403", "404", "409", "415", "422", "429"]
CONFIG = f"""
seed = {SEED}
workers = 1

[generation]
max-examples = {MAX_EXAMPLES}

[auth.openapi.HTTPBearer]
bearer = "{KEY}"

[[operations]]
include-method-regex = "^(POST|PUT)$"
include-path-regex = "^/documents"
checks.positive_data_acceptance.expected-statuses = {WRITE_ACCEPTANCE!r}
"""


@pytest.fixture(scope="module")
def fuzz_index(
    tmp_path_factory: pytest.TempPathFactory,
    default_documents: list[Document],
    encoder: SentenceTransformerEncoder,
) -> Path:
    from indexer.build import IndexSettings, build_index

    path = tmp_path_factory.mktemp("fuzz-index") / "index"
    plain = [dataclasses.replace(d, metadata={}) for d in default_documents]
    build_index(plain, encoder, path, IndexSettings(), "schema fuzz documents")
    return path


@pytest.fixture
def served(
    request: pytest.FixtureRequest, fuzz_index: Path, tmp_path: Path, encoder: SentenceTransformerEncoder
) -> Iterator[tuple[str, bool]]:
    """(URL, reads need the key) of the app with writes on (a key) over a fresh copy of the fuzz index."""
    index = tmp_path / "index"
    shutil.copytree(fuzz_index, index)
    settings = Settings(
        index_path=index,
        model=DEFAULT_MODEL,
        api_keys=[KEY],
        require_key_for_reads=request.param,
        max_document_chars=20_000,
        max_bulk_documents=5,
        embedding_cache_path=tmp_path / "embedding-cache",
    )
    with loopback_server(create_app(settings, build_searcher(settings, encoder))) as url:
        yield url, request.param


def run_schemathesis(url: str, folder: Path) -> subprocess.CompletedProcess[str]:
    config = folder / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    command = [
        *(str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(config), "run"),
        *(f"{url}/openapi.json", "--no-shrink", "--no-color"),
        # POST /index/rebuild embeds the whole corpus: on a busy 2-core machine it took more than
        # schemathesis's default 10 s (a network error, not a contract failure).
        *("--request-timeout", "120"),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=1200, cwd=folder, check=False)


def failures(output: str) -> str:
    """The report's failures and summary (the run's progress is left out)."""
    start = output.find("FAILURES")
    return output[start - 40 :] if start >= 0 else output[-6000:]


@pytest.mark.parametrize("served", [False, True], ids=["public-reads", "keyed-reads"], indirect=True)
def test_schemathesis_finds_no_failure(served: tuple[str, bool], tmp_path: Path) -> None:
    url, keyed_reads = served
    schema = httpx.get(f"{url}/openapi.json", timeout=30, trust_env=False).json()
    operations = {f"{m.upper()} {path}": op for path, ops in schema["paths"].items() for m, op in ops.items()}
    assert set(operations) == EXPECTED_OPERATIONS
    for label, operation in operations.items():
        declared = bool(operation.get("security"))
        if label in READS:
            assert declared == keyed_reads, label
        elif label not in {"GET /health", "GET /ready"}:
            assert declared, f"{label} needs the key and must say so"
    result = run_schemathesis(url, tmp_path)
    assert result.returncode == 0, failures(result.stdout) + result.stderr[-2000:]
    assert "No issues found" in result.stdout or " passed" in result.stdout, result.stdout[-3000:]
