"""Property-based API testing with schemathesis over the OpenAPI schema of every endpoint: generated
requests, valid and invalid, against the real app in process (ASGI). No response may be a server error,
and every response must match the schema (status code, content type, body).

Bounded and deterministic: a fixed seed, at most MAX_EXAMPLES cases per operation and mode, no shrinking,
no example database. (The operations are walked here rather than through ``schemathesis.pytest``, whose
lazy fixture loader does not run under pytest 9.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

MAX_EXAMPLES = 25
SEED = 20261124
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXPECTED_OPERATIONS = {
    "POST /query",
    "GET /search",
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
# No parameters, body or credentials: nothing to make invalid.
NO_INPUT_OPERATIONS = {"GET /health", "GET /ready"}


@pytest.fixture(scope="module")
def api_schema(client: TestClient) -> schemathesis.BaseSchema:
    config = SchemathesisConfig.from_dict({"seed": SEED, "generation": {"max-examples": MAX_EXAMPLES}})
    return schemathesis.openapi.from_asgi("/openapi.json", client.app, config=config)


def fuzz(operation: schemathesis.APIOperation, mode: GenerationMode) -> None:
    @seed(SEED)
    @settings(
        max_examples=MAX_EXAMPLES,
        phases=[Phase.explicit, Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=CHECKS)

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_conforms(api_schema: schemathesis.BaseSchema, mode: GenerationMode) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.label for op in operations} == EXPECTED_OPERATIONS
    failures = []
    for operation in operations:
        try:
            fuzz(operation, mode)
        except Unsatisfiable:
            if not (mode == GenerationMode.NEGATIVE and operation.label in NO_INPUT_OPERATIONS):
                failures.append(f"{operation.label}: no {mode} case could be generated")
        except (Exception, BaseExceptionGroup) as error:  # try every operation, report all failures
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)
