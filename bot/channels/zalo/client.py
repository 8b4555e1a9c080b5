"""The Zalo Bot API over aiohttp: ``await client.call("sendMessage", chat_id=..., text=...)``.

Every method is a POST with a JSON body; the answer is ``{"ok": true, "result": ...}``
or ``{"ok": false, "error_code": ..., "description": ...}``. aiohttp rather than
httpx (which the design names): it is already our web server and PTB
transport, and costs about a tenth of the CPU per call (bench/telegram_engine.py).
The token is part of every URL: errors and logs name the method, never the URL;
it is stripped of whitespace (a stray newline makes Zalo answer a misleading 404).

Zalo refuses with HTTP 200 and ``ok: false``: ``ZaloError.status`` is then the
``error_code`` (403 internal error, 410/422 the person cannot be reached, 429
quota exceeded, 408 an empty poll). ``sendPhoto`` waits longer than other calls:
Zalo fetches the photo from its URL before it answers.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

DEFAULT_API_URL = "https://bot-api.zaloplatforms.com"
CALL_WAIT = 15.0  # seconds for a call
PHOTO_WAIT = 60.0  # seconds for sendPhoto (Zalo fetches the photo first)


class ZaloError(Exception):
    """A refused call (``status`` is the HTTP status) or a network failure (status 0)."""

    def __init__(self, method: str, status: int, description: str) -> None:
        super().__init__(f"{method}: {status} {description}")
        self.method = method
        self.status = status
        self.description = description


class ZaloClient:
    def __init__(
        self,
        token: str,
        api_url: str = DEFAULT_API_URL,
        *,
        pool_size: int = 16,
        call_wait: float = CALL_WAIT,
        photo_wait: float = PHOTO_WAIT,
    ):
        self._base = f"{api_url.strip().rstrip('/')}/bot{token.strip()}/"
        self.call_wait = call_wait
        self.photo_wait = photo_wait
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size)
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The started HTTP session (also for fetching media from Zalo's URLs)."""
        if self._session is None:
            raise RuntimeError("ZaloClient is not started")
        return self._session

    async def call(self, method: str, *, wait: float | None = None, **params: Any) -> Any:
        """The call's ``result`` (``wait``: seconds for the whole call); raises ``ZaloError``."""
        if self._session is None:
            raise RuntimeError("ZaloClient is not started")
        if wait is None:
            wait = self.photo_wait if method == "sendPhoto" else self.call_wait
        try:
            async with self._session.post(
                self._base + method,
                json=params,
                timeout=aiohttp.ClientTimeout(total=wait),
            ) as response:
                body = await response.read()
                status = response.status
        except TimeoutError as exc:
            raise ZaloError(method, 0, "timed out") from exc
        except aiohttp.ClientError as exc:
            raise ZaloError(method, 0, type(exc).__name__) from exc
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ZaloError(method, status or 502, "not a JSON object")
        if status != 200 or not answer.get("ok"):
            code = answer.get("error_code")
            if status == 200:  # refused with a 200: the error code says why
                status = code if isinstance(code, int) else 400
            raise ZaloError(method, status, str(answer.get("description", "")))
        return answer.get("result")
