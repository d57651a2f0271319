"""Settings: every option with its default, environment variable, CLI flag and help; validated as a whole."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ("SettingSpec", "Settings", "load_settings", "setting_specs")

MiB = 1024 * 1024


def _opt(
    default: Any,
    env: str,
    help: str,
    *,
    flag: str | None = None,
    choices: tuple[str, ...] = (),
    minimum: float | None = None,
    maximum: float | None = None,
    secret: bool = False,
    aliases: tuple[str, ...] = (),
) -> Any:
    return field(
        default=default,
        metadata={
            "env": env,
            "help": help,
            "flag": flag,
            "choices": choices,
            "min": minimum,
            "max": maximum,
            "secret": secret,
            "aliases": aliases,
        },
    )


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole configuration; build it with ``load_settings``, never by hand in production code."""

    host: str = _opt("127.0.0.1", "AGENTLENS_HOST", "Address to listen on.", flag="--host")
    port: int = _opt(
        4318, "AGENTLENS_PORT", "TCP port (4318 is the OTLP/HTTP default).", flag="--port", minimum=0, maximum=65535
    )
    db_path: str = _opt(
        "./data/agentlens.db", "AGENTLENS_DB_PATH", "SQLite database file (created on first start).", flag="--db-path"
    )
    database_url: str = _opt(
        "",
        "DATABASE_URL",
        "postgresql://... selects PostgreSQL; empty means SQLite at the db path.",
        flag="--database-url",
        secret=True,
    )
    db_dialect: str = _opt(
        "",
        "DB_DIALECT",
        "Compatibility: 'postgresql' requires DATABASE_URL; 'sqlite' forces SQLite.",
        choices=("", "sqlite", "postgresql", "postgres"),
    )
    sqlite_writer: str = _opt("process", "AGENTLENS_SQLITE_WRITER",
                              "Where the SQLite writer runs: its own process (uses a second core) or a thread.",
                              choices=("process", "thread"))
    otlp_mapper: str = _opt("process", "AGENTLENS_OTLP_MAPPER",
                            "Where OTLP bodies are decoded and mapped: a mapper process (uses a second core) "
                            "or a thread of the server.", choices=("process", "thread"))
    pg_pool_min: int = _opt(
        2, "AGENTLENS_PG_POOL_MIN", "PostgreSQL pool: connections kept open.", minimum=1, maximum=100
    )
    pg_pool_max: int = _opt(10, "AGENTLENS_PG_POOL_MAX", "PostgreSQL pool: most connections.", minimum=1, maximum=500)
    retention_days: int = _opt(
        90,
        "RETENTION_DAYS",
        "Delete events older than this many days (0 keeps everything); PUT /api/config overrides it per tenant.",
        minimum=0,
        maximum=3650,
    )
    retention_cron: str = _opt("17 3 * * *", "AGENTLENS_RETENTION_CRON", "When retention runs (cron, UTC).")
    alert_cron: str = _opt("* * * * *", "AGENTLENS_ALERT_CRON", "When alert rules are evaluated (cron, UTC).")
    session_idle_minutes: float = _opt(
        30.0,
        "AGENTLENS_SESSION_IDLE_MINUTES",
        "An active session without events for this long reads as idle.",
        minimum=0.01,
        maximum=525600,
    )
    max_body_bytes: int = _opt(
        10 * MiB,
        "AGENTLENS_MAX_BODY_BYTES",
        "Largest JSON request body (413 above it).",
        minimum=1024,
        maximum=1024 * MiB,
    )
    otlp_max_bytes: int = _opt(
        32 * MiB,
        "AGENTLENS_OTLP_MAX_BYTES",
        "Largest OTLP request body after decompression (413 above it).",
        minimum=1024,
        maximum=1024 * MiB,
    )
    queue_max_events: int = _opt(
        50_000,
        "AGENTLENS_QUEUE_MAX_EVENTS",
        "Events waiting for the writer before ingest answers 503.",
        minimum=1,
        maximum=10_000_000,
    )
    queue_max_bytes: int = _opt(
        64 * MiB,
        "AGENTLENS_QUEUE_MAX_BYTES",
        "Bytes of events waiting for the writer before ingest answers 503.",
        minimum=1024,
        maximum=8192 * MiB,
    )
    inflight_max_bytes: int = _opt(
        128 * MiB,
        "AGENTLENS_INFLIGHT_MAX_BYTES",
        "Request bytes being read and parsed at once before ingest answers 503.",
        minimum=1024,
        maximum=8192 * MiB,
    )
    commit_max_events: int = _opt(
        5000, "AGENTLENS_COMMIT_MAX_EVENTS", "Most events written in one group commit.", minimum=1, maximum=1_000_000
    )
    log_level: str = _opt(
        "info", "AGENTLENS_LOG_LEVEL", "Log level.", flag="--log-level", choices=("debug", "info", "warning", "error")
    )
    log_format: str = _opt(
        "text", "AGENTLENS_LOG_FORMAT", "Log lines as text or JSON.", flag="--log-format", choices=("text", "json")
    )
    auth: str = _opt(
        "",
        "AGENTLENS_AUTH",
        "required or disabled; empty means disabled on a loopback bind and required elsewhere.",
        choices=("", "required", "disabled"),
    )
    allow_unauthenticated: bool = _opt(
        False, "AGENTLENS_ALLOW_UNAUTHENTICATED", "Allow auth=disabled on a non-loopback address."
    )
    metrics_auth: bool = _opt(False, "AGENTLENS_METRICS_AUTH", "Require an API key for /metrics.")
    cors_origins: str = _opt("", "AGENTLENS_CORS_ORIGINS", "Comma-separated origins allowed by CORS (empty: none).")
    allow_private_webhooks: bool = _opt(
        False, "AGENTLENS_ALLOW_PRIVATE_WEBHOOKS", "Let alert webhooks reach private and loopback addresses."
    )
    webhook_timeout_seconds: float = _opt(
        10.0, "AGENTLENS_WEBHOOK_TIMEOUT_SECONDS", "Timeout of one alert webhook attempt.", minimum=0.1, maximum=300
    )
    retention_batch_size: int = _opt(
        1000,
        "AGENTLENS_RETENTION_BATCH_SIZE",
        "Events deleted per retention transaction (smaller: shorter write-lock holds).",
        minimum=100,
        maximum=100_000,
    )
    stream_heartbeat_seconds: float = _opt(
        30.0, "AGENTLENS_STREAM_HEARTBEAT_SECONDS", "Interval of live-stream heartbeats.", minimum=0.01, maximum=3600
    )
    stream_client_buffer_bytes: int = _opt(
        4 * MiB,
        "AGENTLENS_STREAM_CLIENT_BUFFER_BYTES",
        "Bytes queued for one live-stream client before it is dropped as too slow.",
        minimum=64 * 1024,
        maximum=1024 * MiB,
    )
    stream_max_clients: int = _opt(
        1000, "AGENTLENS_STREAM_MAX_CLIENTS", "Live-stream clients at once (503 beyond).", minimum=1, maximum=100_000
    )
    prices_file: str = _opt("", "AGENTLENS_PRICES_FILE", "JSON price table merged over the shipped one.")
    request_timeout_seconds: float = _opt(
        60.0,
        "AGENTLENS_REQUEST_TIMEOUT_SECONDS",
        "Longest time a request body may take to arrive.",
        minimum=1,
        maximum=3600,
    )
    shutdown_timeout_seconds: float = _opt(
        30.0,
        "AGENTLENS_SHUTDOWN_TIMEOUT_SECONDS",
        "How long shutdown waits for queued events to commit.",
        minimum=1,
        maximum=3600,
    )

    @property
    def dialect(self) -> str:
        if self.database_url.startswith(("postgresql://", "postgres://")) and self.db_dialect != "sqlite":
            return "postgresql"
        return "sqlite"

    @property
    def store_url(self) -> str:
        return self.database_url if self.dialect == "postgresql" else f"sqlite:///{self.db_path}"

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def auth_required(self) -> bool:
        if self.auth:
            return self.auth == "required"
        return not self.loopback and not self.allow_unauthenticated

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        return tuple(o.strip() for o in self.cors_origins.split(",") if o.strip())

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with secrets masked (for logs)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = "***" if f.metadata.get("secret") and value else value
        return out


# a field's annotation (a string under ``from __future__ import annotations``) -> its type
_KINDS: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}


@dataclass(frozen=True, slots=True)
class SettingSpec:
    name: str
    env: str
    flag: str | None
    default: Any
    help: str
    kind: type


def setting_specs() -> list[SettingSpec]:
    """Every setting, for the CLI, the README table and the docs test."""
    return [
        SettingSpec(f.name, f.metadata["env"], f.metadata["flag"], f.default, f.metadata["help"], _KINDS[str(f.type)])
        for f in dataclasses.fields(Settings)
    ]


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _convert(raw: Any, kind: type, name: str, problems: list[str]) -> Any:
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    try:
        if kind is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
    except ValueError:
        problems.append(f"{name}: {raw!r} is not a valid {kind.__name__}")
        return None
    return text


def load_settings(
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[Settings, list[str]]:
    """Defaults, then environment variables, then explicit overrides (CLI flags); returns every problem."""
    env = os.environ if env is None else env
    problems: list[str] = []
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        spec_kind = _KINDS[str(f.type)]
        raw: Any = None
        for var in (f.metadata["env"], *f.metadata["aliases"]):
            if var in env:
                raw = env[var]
                source = var
                break
        if overrides and overrides.get(f.name) is not None:
            raw, source = overrides[f.name], f.metadata["flag"] or f.name
        if raw is None:
            continue
        value = _convert(raw, spec_kind, source, problems)
        if value is None:
            continue
        choices = f.metadata["choices"]
        if choices and value not in choices:
            problems.append(f"{source}: {value!r} is not one of {', '.join(repr(c) for c in choices if c)}")
            continue
        low, high = f.metadata["min"], f.metadata["max"]
        if (low is not None and value < low) or (high is not None and value > high):
            problems.append(f"{source}: {value} is outside {low}..{high}")
            continue
        values[f.name] = value
    settings = Settings(**values)
    problems.extend(_cross_checks(settings))
    return settings, problems


def _cross_checks(s: Settings) -> list[str]:
    problems: list[str] = []
    if s.db_dialect in ("postgresql", "postgres") and s.dialect != "postgresql":
        problems.append("DB_DIALECT=postgresql needs DATABASE_URL=postgresql://...")
    if s.database_url and not s.database_url.startswith(("postgresql://", "postgres://", "sqlite://")):
        problems.append("DATABASE_URL: use postgresql://user@host:port/db (or leave it empty for SQLite)")
    if s.dialect == "sqlite" and not s.db_path.strip():
        problems.append("AGENTLENS_DB_PATH: must not be empty")
    if s.pg_pool_min > s.pg_pool_max:
        problems.append("AGENTLENS_PG_POOL_MIN must not exceed AGENTLENS_PG_POOL_MAX")
    for name, expr in (("AGENTLENS_RETENTION_CRON", s.retention_cron), ("AGENTLENS_ALERT_CRON", s.alert_cron)):
        problem = _cron_problem(expr)
        if problem:
            problems.append(f"{name}: {expr!r} is not a cron expression ({problem})")
    if s.auth == "disabled" and not s.loopback and not s.allow_unauthenticated:
        problems.append(
            f"AGENTLENS_AUTH=disabled on non-loopback address {s.host!r}: set AGENTLENS_ALLOW_UNAUTHENTICATED=true "
            "to allow it, or bind to 127.0.0.1"
        )
    if s.prices_file and not Path(s.prices_file).is_file():
        problems.append(f"AGENTLENS_PRICES_FILE: {s.prices_file!r} is not a readable file")
    return problems


def _cron_problem(expr: str) -> str | None:
    """Why aiocron could not schedule ``expr`` (5 fields, or 6 with seconds), or None."""
    import datetime as dt

    from cronsim import CronSim, CronSimError

    if len(expr.split()) not in (5, 6):
        return "5 fields, or 6 with seconds"
    try:
        CronSim(expr, dt.datetime.now(dt.UTC))
    except CronSimError as exc:
        return str(exc)
    return None
