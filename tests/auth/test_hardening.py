"""Hardening: security headers, CORS only for configured origins, slow bodies, header limits, secure binds."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

from collector.config import load_settings
from tests.auth.conftest import AuthEnv, MakeEnv, bearer
from tests.support import REPO

SECURITY = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}


async def test_security_headers_on_json_answers_success_and_error(env: AuthEnv) -> None:
    key = bearer(await env.key("acme", ["*"]))
    for path, headers, status in (("/api/events", key, 200), ("/api/events", {}, 401),
                                  ("/api/events/nope", key, 404), ("/api/health", {}, 200),
                                  ("/api/nothing-here", key, 404)):
        resp = await env.client.get(path, headers=headers)
        assert resp.status == status, path
        for name, value in SECURITY.items():
            assert resp.headers.get(name) == value, (path, name)
        assert resp.headers.get("Cache-Control") == "no-store", path
    resp = await env.client.get("/metrics")
    assert all(resp.headers.get(n) == v for n, v in SECURITY.items())
    async with env.client.get("/api/stream", headers=key) as resp:
        assert resp.headers.get("Cache-Control") == "no-cache"  # the stream's own value is kept
        assert resp.headers.get("X-Content-Type-Options") == "nosniff"
        resp.close()


async def test_no_cors_unless_configured(env: AuthEnv) -> None:
    key = bearer(await env.key("acme", ["*"]))
    resp = await env.client.get("/api/events", headers={**key, "Origin": "https://evil.example"})
    assert resp.status == 200 and "Access-Control-Allow-Origin" not in resp.headers
    resp = await env.client.options("/api/events", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert resp.status == 403 and "Access-Control-Allow-Origin" not in resp.headers


async def test_cors_for_configured_origins_only(store: Any, make_env: MakeEnv) -> None:
    env = await make_env(store, AGENTLENS_CORS_ORIGINS="https://ui.example, https://*.grafana.example")
    key = bearer(await env.key("acme", ["*"]))
    for origin in ("https://ui.example", "https://team.grafana.example"):
        resp = await env.client.get("/api/events", headers={**key, "Origin": origin})
        assert resp.headers["Access-Control-Allow-Origin"] == origin
        assert "Retry-After" in resp.headers["Access-Control-Expose-Headers"]
        assert "Origin" in resp.headers["Vary"]
        # errors carry CORS headers too, so the browser lets the page read the 401
        resp = await env.client.get("/api/events", headers={"Origin": origin})
        assert resp.status == 401 and resp.headers["Access-Control-Allow-Origin"] == origin
    resp = await env.client.get("/api/events", headers={**key, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers and resp.headers["Vary"] == "Origin"

    for path, method in (("/api/events", "POST"), ("/v1/traces", "POST"), ("/api/keys/x", "DELETE")):
        # preflights carry no credentials: answered before authentication
        resp = await env.client.options(path, headers={
            "Origin": "https://ui.example", "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type"})
        assert resp.status == 204, path
        assert resp.headers["Access-Control-Allow-Origin"] == "https://ui.example"
        assert method in resp.headers["Access-Control-Allow-Methods"]
        assert resp.headers["Access-Control-Allow-Headers"] == "authorization, content-type"
    resp = await env.client.options("/api/events", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert resp.status == 403 and "Access-Control-Allow-Origin" not in resp.headers
    # a preflight is no way around authentication: the actual request still needs the key
    assert (await env.client.post("/api/events", json={"events": []}, headers={"Origin": "https://ui.example"})
            ).status == 401


async def test_a_body_that_does_not_arrive_in_time_gets_408(store: Any, make_env: MakeEnv) -> None:
    env = await make_env(store, AGENTLENS_REQUEST_TIMEOUT_SECONDS="1")
    key = await env.key("acme", ["*"])
    reader, writer = await asyncio.open_connection(env.client.host, env.client.port)
    writer.write(
        b"POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: 1000\r\n\r\n" + b'{"events": ['
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 30)  # the server answers on its own deadline
    assert status_line.startswith(b"HTTP/1.1 408"), status_line
    head = await reader.readuntil(b"\r\n\r\n")
    assert b"Connection: close" in head or b"connection: close" in head.lower()
    writer.close()
    # a body that arrives whole is not affected, however long the handler then takes
    resp = await env.client.post("/api/events", json={"events": []}, headers=bearer(key))
    assert resp.status == 400


async def test_oversized_or_too_many_headers_are_refused(env: AuthEnv) -> None:
    key = await env.key("acme", ["*"])
    for extra in ({"X-Big": "a" * 9000}, {f"X-H{i}": "v" for i in range(120)}):
        reader, writer = await asyncio.open_connection(env.client.host, env.client.port)
        lines = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
        writer.write(f"GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n{lines}\r\n".encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 30)
        assert status_line.split()[1] in (b"400", b"431"), status_line
        writer.close()


def test_non_loopback_without_auth_refuses_to_start() -> None:
    env = {"AGENTLENS_AUTH": "disabled", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "collector", "serve", "--host", "0.0.0.0", "--port", "0",
         "--db-path", "/nonexistent/x.db"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 2
    assert "AGENTLENS_AUTH=disabled on non-loopback address '0.0.0.0'" in proc.stderr
    assert "AGENTLENS_ALLOW_UNAUTHENTICATED=true" in proc.stderr
    assert "ready on" not in proc.stderr


def test_auth_defaults_follow_the_bind_address() -> None:
    cases = [
        ({"AGENTLENS_HOST": "127.0.0.1"}, False, []),
        ({"AGENTLENS_HOST": "::1"}, False, []),
        ({"AGENTLENS_HOST": "localhost"}, False, []),
        ({"AGENTLENS_HOST": "0.0.0.0"}, True, []),                              # secure default: required
        ({"AGENTLENS_HOST": "10.1.2.3", "AGENTLENS_AUTH": "disabled"}, False, ["AGENTLENS_AUTH=disabled"]),
        ({"AGENTLENS_HOST": "0.0.0.0", "AGENTLENS_AUTH": "disabled", "AGENTLENS_ALLOW_UNAUTHENTICATED": "true"},
         False, []),
        ({"AGENTLENS_HOST": "127.0.0.1", "AGENTLENS_AUTH": "required"}, True, []),
    ]
    for env, required, problems in cases:
        settings, found = load_settings(env)
        assert settings.auth_required is required, env
        assert len(found) == len(problems) and all(p in f for p, f in zip(problems, found, strict=True)), found
