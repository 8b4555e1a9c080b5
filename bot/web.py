"""The one aiohttp server: ``/healthz`` here; channels (Telegram's webhook, the
emulator) add their own routes to the app before it starts.

``/healthz`` answers 200 when the database answers ``SELECT 1`` and no background
loop of this process is down (``bot.health``), else 503 with what is wrong.
``create_web_app(db, health)`` returns the ``aiohttp.web.Application``; ``WebServer``
runs it on a host and port (port 0 picks a free one, see ``WebServer.url``).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy import text

from bot.health import Health
from db.session import Database

log = logging.getLogger(__name__)

DB_KEY = web.AppKey("db", Database)
HEALTH_KEY = web.AppKey("health", Health)
HEALTH_TIMEOUT = 2.0


async def healthz(request: web.Request) -> web.Response:
    """200 ``{"ok": true, "db": true, "down": {}}``; 503 naming what is down otherwise."""
    db = request.app[DB_KEY]
    down = request.app[HEALTH_KEY].problems()
    reachable = True
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT), db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("health check: database unreachable: %s", exc)
        reachable = False
    ok = reachable and not down
    return web.json_response({"ok": ok, "db": reachable, "down": down}, status=200 if ok else 503)


def create_web_app(db: Database, health: Health | None = None) -> web.Application:
    app = web.Application()
    app[DB_KEY] = db
    app[HEALTH_KEY] = health or Health()
    app.router.add_get("/healthz", healthz)
    return app


class WebServer:
    """``app`` served on ``host:port`` until ``stop()``."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        addresses = runner.addresses
        if addresses:
            self.port = addresses[0][1]
        log.info("web server on %s", self.url)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
