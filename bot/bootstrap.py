"""One place that wires the application: settings -> database (embedded or not) -> migrations."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from bot.config import Settings
from db import migrate
from db.embedded import embedded_url, start_embedded
from db.session import Database

log = logging.getLogger(__name__)


class EmbeddedServer:
    """Handle on the embedded PostgreSQL, stopped explicitly (and at exit as a fallback)."""

    def __init__(self, settings: Settings) -> None:
        self._server: Any = start_embedded(settings.data_dir)
        self.url = embedded_url(self._server)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._server.cleanup()


@contextlib.asynccontextmanager
async def open_database(settings: Settings, *, upgrade: bool = True) -> AsyncIterator[Database]:
    """The configured database, or the embedded one; migrated to head unless told otherwise."""
    embedded: EmbeddedServer | None = None
    url = settings.sqlalchemy_url()
    if url is None:
        embedded = EmbeddedServer(settings)
        url = embedded.url
    db = Database(url, pool_size=settings.db_pool_size)
    try:
        if upgrade:
            await migrate.upgrade(db)
        yield db
    finally:
        await db.dispose()
        if embedded is not None:
            embedded.stop()
