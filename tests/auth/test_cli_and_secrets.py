"""End to end through the command line: keys create|list|revoke, the first-start admin key, no secret in logs."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.auth.conftest import AuthEnv, bearer
from tests.support import REPO, ServerProcess, custom_event

KEY_RE = re.compile(r"als_[0-9a-f]{64}")
pytestmark = pytest.mark.slow


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector", *args], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "AGENTLENS_LOG_LEVEL": "debug", **(env or {})}, check=False,
    )


async def _get(url: str, key: str | None = None, **kwargs: Any) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers, **kwargs) as resp:
        return resp.status, await resp.text()


async def test_keys_cli_end_to_end(tmp_path: Path) -> None:
    db = str(tmp_path / "keys.db")
    made = cli("keys", "create", "--db-path", db, "--tenant", "acme", "--name", "ci", "--scopes", "read,write")
    assert made.returncode == 0, made.stderr
    raw = made.stdout.strip()
    assert KEY_RE.fullmatch(raw), made.stdout
    assert raw not in made.stderr  # the key goes to stdout only; the log stream never carries it
    doomed = cli("keys", "create", "--db-path", db, "--tenant", "acme", "--name", "doomed").stdout.strip()
    assert cli("keys", "create", "--db-path", db, "--scopes", "bogus").returncode == 2
    assert cli("keys", "create", "--db-path", db, "--expires-days", "0").returncode == 2

    listing = cli("keys", "list", "--db-path", db)
    assert listing.returncode == 0 and raw not in listing.stdout and doomed not in listing.stdout
    rows = {line.split()[2]: line.split() for line in listing.stdout.splitlines()[1:]}
    assert rows["ci"][1] == "acme" and rows["ci"][3] == "read,write" and rows["ci"][-1] == "active"
    assert rows["doomed"][3] == "*"
    assert cli("keys", "list", "--db-path", db, "--tenant", "nobody").stdout.splitlines()[1:] == []

    revoked = cli("keys", "revoke", "--db-path", db, rows["doomed"][0])
    assert revoked.returncode == 0 and rows["doomed"][0] in revoked.stdout
    again = cli("keys", "revoke", "--db-path", db, rows["doomed"][0])
    assert again.returncode == 1 and "already revoked" in again.stderr
    assert cli("keys", "revoke", "--db-path", db, "01NOSUCHKEY").returncode == 1
    assert cli("keys", "list", "--db-path", db).stdout.count("revoked") == 1

    server = ServerProcess(Path(db), env={"AGENTLENS_AUTH": "required", "AGENTLENS_LOG_LEVEL": "debug"}).start()
    try:
        assert "shown only this once" not in "".join(server.output)  # a usable key exists: no bootstrap key
        assert (await _get(f"{server.url}/api/events", raw))[0] == 200
        async with aiohttp.ClientSession() as http:
            resp = await http.post(f"{server.url}/api/events", json={"events": [custom_event("s", 1)]},
                                   headers={"Authorization": f"Bearer {raw}"})
            assert resp.status == 201
        assert (await _get(f"{server.url}/api/keys", raw))[0] == 403      # read,write is not manage
        status, text = await _get(f"{server.url}/api/events", doomed)
        assert status == 401 and "Invalid or revoked API key" in text
        assert (await _get(f"{server.url}/api/events"))[0] == 401
    finally:
        assert server.terminate() == 0
    output = "".join(server.output)
    assert raw not in output and doomed not in output


async def test_first_start_prints_one_admin_key_once_and_it_works(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    env = {"AGENTLENS_AUTH": "required", "AGENTLENS_LOG_LEVEL": "debug"}
    first = ServerProcess(db, env=env).start()
    try:
        printed = KEY_RE.findall("".join(first.output))
        assert len(printed) == 1, first.output
        admin = printed[0]
        status, text = await _get(f"{first.url}/api/keys", admin)
        assert status == 200 and '"tenantId":"default"' in text and '"scopes":["*"]' in text
        async with aiohttp.ClientSession() as http:
            resp = await http.post(f"{first.url}/api/keys", json={"name": "more", "scopes": ["read"]},
                                   headers={"Authorization": f"Bearer {admin}"})
            created = (await resp.json())["key"]
        assert (await _get(f"{first.url}/api/events", created))[0] == 200
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{first.url}/api/stream", params={"token": created}) as resp:
                assert resp.status == 200
    finally:
        assert first.terminate() == 0
    output = "".join(first.output)
    assert output.count(admin) == 1   # shown once, at start
    assert created not in output      # keys made later, used in headers and ?token=, never appear
    second = ServerProcess(db, env=env).start()
    try:
        assert KEY_RE.findall("".join(second.output)) == []  # not on the next start
        assert (await _get(f"{second.url}/api/events", admin))[0] == 200
    finally:
        second.terminate()


async def test_raw_keys_never_reach_the_logs(env: AuthEnv, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # an in-process CLI test may have run collector.logs.configure_logging, which quiets the access log
    caplog.set_level(logging.DEBUG, logger="aiohttp.access")
    admin = await env.key("acme", ["*"])
    resp = await env.client.post("/api/keys", json={"name": "x", "scopes": ["read", "write"]}, headers=bearer(admin))
    made = (await resp.json())["key"]
    seen = [admin, made]
    await env.client.get("/api/events", headers=bearer(made))
    await env.client.post("/api/events", json={"events": [custom_event("s", 1)]}, headers=bearer(made))
    await env.client.post("/api/events", data=b"{bad", headers={**bearer(made), "Content-Type": "application/json"})
    await env.client.get("/api/keys", headers=bearer(made))                    # 403
    await env.client.get("/api/events", headers=bearer(made[:-1] + "0"))       # unknown key
    pb = {**bearer(made), "Content-Type": "application/x-protobuf"}
    await env.client.post("/v1/traces", data=b"\xff", headers=pb)
    async with env.client.get("/api/stream", headers=bearer(made)) as stream:
        stream.close()
    await env.client.delete(f"/api/keys/{env.keys[admin]}", headers=bearer(admin))
    await env.client.get("/api/events", headers=bearer(admin))                 # revoked
    messages = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    assert any("/api/keys" in m for m in messages)  # the capture works (access log lines included)
    for raw in seen:
        assert not any(raw in m or raw[4:] in m for m in messages), raw


def test_database_passwords_never_reach_the_output(tmp_path: Path) -> None:
    url = "postgresql://agent:S3cretPw9@127.0.0.1:1/nowhere"
    for args in (("migrate", "--database-url", url), ("serve", "--port", "0", "--database-url", url),
                 ("keys", "list", "--database-url", url)):
        proc = cli(*args)
        assert proc.returncode != 0
        assert "S3cretPw9" not in proc.stderr + proc.stdout, args
