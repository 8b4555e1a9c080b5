"""``POST <path>``: Telegram's webhook on our aiohttp server.

The ``X-Telegram-Bot-Api-Secret-Token`` header must equal the secret given to
``setWebhook`` (compared in constant time); otherwise 401 and the body is not
even read. A good update is processed before the answer, so a 200 means it was
handled (and recorded in ``processed_update``); Telegram redelivers on anything
else, and the redelivery is then skipped by the engine if it had committed. An
update the database could not take (an outage) gets 503, so it comes back.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.channels.telegram.adapter import trim_pressed

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def add_webhook_route(
    web_app: web.Application,
    application: Application,  # type: ignore[type-arg]
    *,
    secret: str,
    path: str,
    unstored: dict[int, Update],
) -> None:
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            log.warning("webhook call without the right secret from %s", request.remote)
            return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
        try:
            data: Any = await request.json()
            update = Update.de_json(trim_pressed(data), application.bot)
        except Exception:  # not JSON, or not an Update
            return web.json_response({"ok": False, "error": "bad update"}, status=400)
        if update is None:
            return web.json_response({"ok": False, "error": "bad update"}, status=400)
        await application.update_processor.process_update(
            update, application.process_update(update)
        )
        if unstored.pop(update.update_id, None) is not None:
            return web.json_response({"ok": False, "error": "try again"}, status=503)
        return web.json_response({"ok": True})

    web_app.router.add_post(path, receive)
