"""Schema-driven fuzzing of every /api route from the served /api/openapi.json: no 500, no off-schema answer.

Bounded: ``FUZZ_EXAMPLES`` examples per operation and generation mode (fewer when ``CI`` is set,
derandomized there so a CI failure reproduces); ``AGENTLENS_FUZZ_EXAMPLES`` raises it for a long
local run.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from collector.api.openapi import OPERATIONS
from tests.fuzz.conftest import ThreadServer

CI = bool(os.environ.get("CI"))
FUZZ_EXAMPLES = int(os.environ.get("AGENTLENS_FUZZ_EXAMPLES") or (12 if CI else 25))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# negative cases exist only where there is something to get wrong (parameters or a body)
FUZZED = [
    (op.method, op.path, mode)
    for op in OPERATIONS if op.fuzz
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode == GenerationMode.POSITIVE or op.params or op.body or "{" in op.path
]


@pytest.fixture(scope="module")
def served_schema(thread_server: ThreadServer) -> Any:
    """The document as the running service serves it (no key needed for it)."""
    return schemathesis.openapi.from_url(f"{thread_server.url}/api/openapi.json")


@pytest.fixture(scope="module")
def http() -> Any:
    with requests.Session() as session:
        yield session


@pytest.mark.parametrize(("method", "path", "mode"), FUZZED, ids=[f"{m} {p} {g}" for m, p, g in FUZZED])
def test_fuzz_operation(
    method: str, path: str, mode: GenerationMode, served_schema: Any, thread_server: ThreadServer, http: Any,
) -> None:
    operation = served_schema[path][method]
    auth = {"Authorization": f"Bearer {thread_server.admin_key}"}

    @settings(
        max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=CI,
        suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    @given(case=operation.as_strategy(mode))
    def run(case: Any) -> None:
        response = case.call(base_url=thread_server.url, session=http, headers=auth, timeout=30)
        case.validate_response(response, checks=CHECKS)

    run()
