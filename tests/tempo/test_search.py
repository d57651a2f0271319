"""GET /tempo/api/search: the TraceQL subset and the legacy parameters, answered as Tempo does (ns strings)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from store.interface import Store
from tests.conftest import AppClientFactory
from tests.otlp.builders import SECOND, T0
from tests.tempo.support import MS, T1, T2, T3, T4, dataset


@pytest.fixture
async def client(store: Store, make_client: AppClientFactory) -> TestClient[Any, Any]:
    c = await make_client(store)
    for doc in dataset():
        resp = await c.post("/v1/traces", json=doc)
        assert resp.status == 200, await resp.text()
    return c


async def _search(client: TestClient[Any, Any], **params: Any) -> dict[str, Any]:
    resp = await client.get("/tempo/api/search", params={k: str(v) for k, v in params.items()},
                            headers={"Accept": "application/json"})
    assert resp.status == 200, await resp.text()
    doc: dict[str, Any] = await resp.json()
    return doc


async def _ids(client: TestClient[Any, Any], q: str, **params: Any) -> list[str]:
    return [t["traceID"] for t in (await _search(client, q=q, **params))["traces"]]


CASES = [
    ("{}", [T4, T3, T2, T1]),
    ("{ }", [T4, T3, T2, T1]),
    ('{ resource.service.name = "api" }', [T3, T1]),
    ('{ .service.name = "worker" }', [T2]),
    ('{ span.gen_ai.request.model = "gpt-4o" }', [T1]),
    ('{ .gen_ai.request.model =~ "gpt.*|claude.*" }', [T2, T1]),
    ('{ name =~ "chat" }', []),                     # regular expressions are anchored
    ('{ name =~ "chat.*" && duration > 1s }', [T1]),
    ("{ duration >= 300ms && duration < 1s }", [T2]),
    ("{ status = error }", [T1]),
    ("{ status = ok }", [T3]),
    ("{ kind = server }", [T3, T2, T1]),
    ("{ kind = client && span.gen_ai.usage.input_tokens > 50 }", [T1]),
    ("{ span.http.status_code >= 500 }", [T2]),
    ('{ span.http.status_code = "500" }', []),       # typed: a string is not the int 500
    ("{ traceDuration < 100ms }", [T4, T3]),
    ('{ rootServiceName = "worker" }', [T2]),
    ('{ rootServiceName != "api" }', [T2]),        # a trace without its root has no root service
    ('{ rootName = "invoke_agent planner" }', [T1]),
    ('{ resource.deployment.environment = "prod" && name = "chat claude" }', [T2]),
    ('{ resource.deployment.environment = "prod" && name = "chat gpt-4o" }', []),
    ('{ name = "chat gpt-4o" } && { status = error }', [T1]),
    ('{ name = "chat claude" } && { status = error }', []),
    ('{ name = "GET /health" } || { span.http.status_code = 500 }', [T3, T2]),
    ('{ (name = "GET /health" || name = "orphan step") && kind != server }', [T4]),
    ("{ .gen_ai.request.model != nil }", [T2, T1]),
    ("{ .no.such.attribute != nil }", []),
    ('{ span.gen_ai.tool.name = `search` && statusMessage = "backend down" }', [T1]),
]


@pytest.mark.parametrize(("q", "expected"), CASES)
async def test_traceql_subset(client: TestClient[Any, Any], q: str, expected: list[str]) -> None:
    assert await _ids(client, q) == expected


async def test_the_answer_has_tempos_shape_with_nanosecond_strings(client: TestClient[Any, Any]) -> None:
    doc = await _search(client, q='{ span.gen_ai.request.model = "gpt-4o" || status = error }', spss=1)
    (trace,) = doc["traces"]
    assert trace["traceID"] == T1 and trace["rootServiceName"] == "api"
    assert trace["rootTraceName"] == "invoke_agent planner"
    assert trace["startTimeUnixNano"] == str(T0) and trace["durationMs"] == 3000
    (spanset,) = trace["spanSets"]
    assert spanset == trace["spanSet"] and spanset["matched"] == 2 and len(spanset["spans"]) == 1   # spss=1
    first = spanset["spans"][0]
    assert first == {"spanID": "a100000000000002", "name": "chat gpt-4o", "startTimeUnixNano": str(T0 + 100 * MS),
                     "durationNanos": str(2000 * MS),
                     "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}}]}
    assert trace["serviceStats"] == {"api": {"spanCount": 3, "errorCount": 1}}
    assert doc["metrics"]["inspectedTraces"] >= 1


async def test_limit_and_time_window(client: TestClient[Any, Any]) -> None:
    assert await _ids(client, "{}", limit=2) == [T4, T3]
    start_s = (T0 + 5 * SECOND) // SECOND
    end_s = (T0 + 25 * SECOND) // SECOND
    assert await _ids(client, "{}", start=start_s, end=end_s) == [T3, T2]
    assert await _ids(client, "{}", start=end_s + 100) == []


async def test_legacy_tags_and_durations(client: TestClient[Any, Any]) -> None:
    async def legacy(**params: Any) -> list[str]:
        return [t["traceID"] for t in (await _search(client, **params))["traces"]]

    assert await legacy(tags='service.name=api name="GET /health"') == [T3]
    assert await legacy(tags="http.status_code=500") == [T2]          # text match, whatever the type
    assert await legacy(tags="error=true") == [T1]
    assert await legacy(minDuration="1s") == [T1]
    assert await legacy(maxDuration="100ms") == [T4, T3]
    assert await legacy(tags="service.name=api", minDuration="20ms") == [T1]
    assert await legacy() == [T4, T3, T2, T1]


@pytest.mark.parametrize(("q", "named"), [
    ("{} | count() > 1", "pipelines"),
    ('{ .a = "x" } | select(.b)', "pipelines"),
    ('{ .a = "x" } >> { .b = "y" }', "structural operators ('>>')"),
    ('{ .a = "x" } > { .b = "y" }', "structural operators ('>')"),
    ('{ .a = "x" } ~ { .b = "y" }', "structural operators ('~')"),
    ("{ span.n + 1 = 2 }", "arithmetic ('+')"),
    ('{ event.name = "x" }', "'event.name' is not supported"),
    ('{ link.foo = "x" }', "'link.foo' is not supported"),
    ('{ span:id = "x" }', "'span:id' is not supported"),
    ("rate()", "functions ('rate()')"),
    ("{ !(.a = 1) }", "negation ('!')"),
])
async def test_traceql_outside_the_subset_is_400_naming_it(client: TestClient[Any, Any], q: str, named: str) -> None:
    resp = await client.get("/tempo/api/search", params={"q": q})
    assert resp.status == 400
    text = await resp.text()
    assert text.startswith("unsupported TraceQL: ") and named in text, text


@pytest.mark.parametrize("params", [
    {"q": "{ .a = }"}, {"q": "{"}, {"q": '{ .a =~ "(" }'}, {"q": "{ status > ok }"}, {"q": "{ a = 1 }"},
    {"limit": "many"}, {"start": "yesterday"}, {"start": "100", "end": "50"}, {"minDuration": "fast"},
    {"tags": 'unterminated="x'}, {"q": "(" * 200 + "{}" + ")" * 200},
])
async def test_invalid_parameters_are_400(client: TestClient[Any, Any], params: dict[str, str]) -> None:
    resp = await client.get("/tempo/api/search", params=params)
    assert resp.status == 400, await resp.text()
    assert (await resp.text()).startswith("invalid query: ")
