"""A TCP proxy in front of PostgreSQL that a test can cut and restore: an outage for one store only.

Stopping the shared server would break every other test running against it; cutting this proxy
makes PostgreSQL vanish (connections reset, new ones refused) for the process behind it alone.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ("PgProxy",)

_CHUNK = 65536


class PgProxy:
    """Listens on 127.0.0.1:<port> and forwards to ``target``; ``cut()`` / ``restore()`` toggle it."""

    def __init__(self, target_host: str = "127.0.0.1", target_port: int = 5432) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self.connections = 0

    async def start(self) -> PgProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, database: str, user: str = "root") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    async def cut(self) -> None:
        """Refuse new connections and reset every open one (as if the server went away)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    async def restore(self) -> None:
        """Accept connections again, on the same port."""
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def close(self) -> None:
        await self.cut()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._pipes.update((writer, up_writer))
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(_CHUNK):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._pipes.discard(writer)
            with contextlib.suppress(Exception):
                writer.transport.abort()
