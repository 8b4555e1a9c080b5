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

    async def stop(self) -> None:
        await asyncio.to_thread(self.server._stop)

    async def start(self) -> None:
        def up() -> None:
            with self.server._lock:
                self.server.ensure_postgres_running()

        await asyncio.to_thread(up)
        assert embedded_url(self.server) == self.url

    def close(self) -> None:
        self.server.cleanup()
