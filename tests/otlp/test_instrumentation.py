"""End to end with a real instrumentation: the official OpenAI instrumentation (openai-v2) calling a
local stub of the OpenAI API, exporting spans and GenAI log events over OTLP/HTTP to the server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.otlp.conftest import all_events


async def _chat_completions(request: web.Request) -> web.Response:
    body = await request.json()
    assert body["model"] == "gpt-4o-mini"
    return web.json_response({
        "id": "chatcmpl-stub-1", "object": "chat.completion", "created": 1764236400,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "It is sunny in Paris."}}],
        "usage": {"prompt_tokens": 23, "completion_tokens": 7, "total_tokens": 30},
    })


@pytest.fixture
async def openai_stub() -> Any:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", _chat_completions)
    server = TestServer(app)
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture
def instrumented(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[str]:
    mode = request.param
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", mode)
    yield mode
    OpenAIInstrumentor().uninstrument()


@pytest.mark.parametrize("instrumented", ["SPAN_ONLY", "EVENT_ONLY"], indirect=True)
async def test_openai_v2_instrumentation_end_to_end(otlp_client: TestClient[Any, Any], openai_stub: TestServer,
                                                    instrumented: str) -> None:
    collector = str(otlp_client.make_url("")).rstrip("/")

    def run() -> str:
        resource = Resource.create({"service.name": "weather-assistant"})
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{collector}/v1/traces")))
        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{collector}/v1/logs")))
        OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
        try:
            client = openai.OpenAI(api_key="sk-test", base_url=str(openai_stub.make_url("/v1")))
            answer = client.chat.completions.create(model="gpt-4o-mini", temperature=0.1, messages=[
                {"role": "system", "content": "Answer in one sentence."},
                {"role": "user", "content": "What is the weather in Paris?"}])
            return str(answer.choices[0].message.content)
        finally:
            OpenAIInstrumentor().uninstrument()
            tracer_provider.shutdown()
            logger_provider.shutdown()

    assert await asyncio.to_thread(run) == "It is sunny in Paris."
    events = {e["eventType"]: e for e in await all_events(otlp_client)}
    assert set(events) == {"llm_call", "llm_response"}
    call, response = events["llm_call"], events["llm_response"]
    assert call["agentId"] == "weather-assistant"
    assert call["payload"]["provider"] == "openai" and call["payload"]["model"] == "gpt-4o-mini"
    assert call["payload"]["messages"] == [
        {"role": "system", "content": "Answer in one sentence."},
        {"role": "user", "content": "What is the weather in Paris?"}]
    assert call["payload"]["parameters"]["temperature"] == 0.1
    assert response["payload"]["completion"] == "It is sunny in Paris."
    assert response["payload"]["model"] == "gpt-4o-mini-2024-07-18"
    assert response["payload"]["usage"] == {"inputTokens": 23, "outputTokens": 7, "totalTokens": 30}
    assert response["payload"]["finishReason"] == "stop"
    assert response["payload"]["costUsd"] == pytest.approx((23 * 0.15 + 7 * 0.6) / 1e6)
    assert response["metadata"]["costSource"] == "table"
