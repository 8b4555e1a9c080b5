"""One place that wires the application: settings -> database (embedded or not) -> migrations."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from bot.config import Settings
from bot.errors import UserError
from db import migrate
from db.embedded import embedded_url, has_database, start_embedded
from db.session import Database
from handlers.i18n import _

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
async def open_database(
    settings: Settings, *, upgrade: bool = True, existing: bool = False
) -> AsyncIterator[Database]:
    """The configured database, or the embedded one; migrated to head unless told otherwise.

    ``existing``: refuse, naming the data directory, rather than create an empty
    embedded database (a command run from the wrong folder would find nothing).
    """
    embedded: EmbeddedServer | None = None
    url = settings.sqlalchemy_url()
    if url is None and existing and not has_database(settings.data_dir):
        raise UserError(
            _(
                "No database in {path}. Run the command from the folder where you ran "
                "`antt demo` or `antt db upgrade`, or set ANTT_DATA_DIR or ANTT_DATABASE_URL."
            ).format(path=settings.data_dir.expanduser().resolve())
        )
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
