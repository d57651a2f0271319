"""The OTLP mapper process (the default for ``serve``): maps in a child, 503 if the child dies, stops with the app."""

from __future__ import annotations

import asyncio
import os
import select
import signal
from pathlib import Path

import aiohttp
import pytest

from collector.receivers.otlp_http import otlp_state_key
from collector.receivers.otlp_mapper import ProcessMapper
from tests.otlp.builders import ROOT, TRACE, span, to_protobuf, traces
from tests.otlp.conftest import OtlpClientFactory, all_events
from tests.otlp.test_protocol import JS, PB, chat_span, post, status_json, status_pb
from tests.support import ServerProcess


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_bodies_map_in_the_child_and_the_child_stops_with_the_app(make_otlp_client: OtlpClientFactory) -> None:
    client = await make_otlp_client(otlp_mapper="process")
    state = client.server.app[otlp_state_key]
    mapper = state.mapper
    assert isinstance(mapper, ProcessMapper)
    child = await mapper.child_pid()
    assert child != os.getpid()
    status, _, _ = await post(client, "/v1/traces", to_protobuf(traces(chat_span())), PB)
    assert status == 200
    assert [e["eventType"] for e in await all_events(client)] == ["llm_call", "llm_response"]
    # a body that is not OTLP: the child's DecodeError reaches the handler as a 400
    status, _, body = await post(client, "/v1/traces", b"{not json", JS)
    assert status == 400 and status_json(body)["code"] == 3
    assert await mapper.child_pid() == child  # the same child serves every request
    await client.close()
    assert state.mapper is None
    assert not _pid_alive(child)  # close() joined (and so reaped) the child


async def test_a_dead_child_answers_503_and_a_new_one_takes_over(make_otlp_client: OtlpClientFactory) -> None:
    client = await make_otlp_client(otlp_mapper="process")
    mapper = client.server.app[otlp_state_key].mapper
    assert isinstance(mapper, ProcessMapper)
    # the parent span's session is remembered by the child's memo ...
    root = span(ROOT, "invoke_agent planner", {"gen_ai.operation.name": "invoke_agent",
                                               "gen_ai.conversation.id": "conv-1"})
    status, _, _ = await post(client, "/v1/traces", to_protobuf(traces(root)), PB)
    assert status == 200
    first = await mapper.child_pid()
    os.kill(first, signal.SIGKILL)
    status, headers, body = await post(client, "/v1/traces", to_protobuf(traces(chat_span("00000000000000c1",
                                                                                         parent=ROOT))), PB)
    assert status == 503 and headers["Retry-After"] == "1"
    assert "mapper process" in status_pb(body).message
    # ... and the new child starts with an empty memo: a child span sent now falls back to its trace
    status, _, _ = await post(client, "/v1/traces", to_protobuf(traces(chat_span("00000000000000c2",
                                                                                 parent=ROOT))), PB)
    assert status == 200
    assert await mapper.child_pid() != first
    sessions = {e["eventType"]: e["sessionId"] for e in await all_events(client)}
    assert sessions["session_started"] == "conv-1"
    assert sessions["llm_call"] == f"trace-{TRACE}"
    await client.close()


async def test_killing_the_server_takes_its_children_with_it(tmp_path: Path) -> None:
    """SIGKILL gives the server no chance to stop its mapper and writer processes: they leave on their own."""
    if not hasattr(os, "pidfd_open"):
        pytest.skip("needs os.pidfd_open (Linux) to wait for processes that are not our children")
    server = ServerProcess(tmp_path / "kill.db").start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{server.url}/v1/traces", data=to_protobuf(traces(chat_span())), headers=PB) as resp:
                assert resp.status == 200
        assert server.proc is not None
        children = [int(c) for task in Path(f"/proc/{server.proc.pid}/task").iterdir()
                    for c in (task / "children").read_text().split()]
        assert len(children) >= 2  # the SQLite writer and the OTLP mapper (and multiprocessing's tracker)
        handles = [os.pidfd_open(pid) for pid in children]
    finally:
        server.kill()
    try:
        for pid, fd in zip(children, handles, strict=True):
            ready, _, _ = await asyncio.to_thread(select.select, [fd], [], [], 30)
            assert ready, f"child {pid} of the killed server is still running"
    finally:
        for fd in handles:
            os.close(fd)
