"""PTB's HTTP transport on aiohttp instead of httpx.

python-telegram-bot lets an application bring its own ``BaseRequest``. Sending
a message through httpx/httpcore costs about 1.3 ms of CPU against about 0.1 ms
through aiohttp (whose HTTP parser is in C), and the bot is CPU-bound when busy:
see bench/telegram_engine.py. Parameters go as one JSON body (the Bot API takes
``application/json``), multipart when a file goes with them: PTB's own transport
form-encodes them, and quoting a menu's keyboard byte by byte in Python cost more
than the rest of sending it (issue 17). Timeouts map onto aiohttp's:
``pool_timeout`` to waiting for a pooled connection, ``connect_timeout`` to the
socket connect, ``read_timeout`` to each read; aiohttp has no write timeout, so
the four together bound the whole request.
Errors become PTB's: ``TimedOut`` and ``NetworkError``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.channels.telegram.adapter import trim_pressed

log = logging.getLogger(__name__)


class AiohttpRequest(BaseRequest):
    """A pooled aiohttp client session for the Bot API (one per PTB request object)."""

    __slots__ = ("_defaults", "_pool_size", "_session")

    def __init__(
        self,
        *,
        pool_size: int = 16,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._pool_size = pool_size
        self._defaults = {
            "read": read_timeout,
            "write": write_timeout,
            "connect": connect_timeout,
            "pool": pool_timeout,
        }
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._defaults["read"]

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                timeout=aiohttp.ClientTimeout(total=None),
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        read = self._given(read_timeout, "read")
        write = self._given(write_timeout, "write")
        connect = self._given(connect_timeout, "connect")
        pool = self._given(pool_timeout, "pool")
        phases = (read, write, connect, pool)
        timeout = aiohttp.ClientTimeout(
            total=None if None in phases else sum(p for p in phases if p is not None),
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )
        data: aiohttp.FormData | bytes | None = None
        headers = {"User-Agent": self.USER_AGENT}
        if request_data is not None:
            files = request_data.multipart_data
            if files:
                form = aiohttp.FormData(request_data.json_parameters)
                for name, (filename, content, mimetype) in files.items():
                    form.add_field(name, content, filename=filename, content_type=mimetype)
                data = form
            else:
                data = json.dumps(request_data.parameters, ensure_ascii=False).encode()
                headers["Content-Type"] = "application/json"
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=timeout
            ) as response:
                payload = await response.read()
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors too
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
        if log.isEnabledFor(logging.DEBUG):
            log.debug('HTTP Request: %s %s "%d"', method, url, response.status)
        return response.status, payload

    def _given(self, value: object, name: str) -> float | None:
        """A timeout passed for this request, or this client's default."""
        if isinstance(value, DefaultValue):
            return self._defaults[name]
        return value  # type: ignore[return-value]


class UpdatesRequest(AiohttpRequest):
    """The transport of ``getUpdates``: each update's JSON trimmed to what we read
    (``adapter.trim_pressed``) before PTB builds its objects."""

    __slots__ = ()

    @staticmethod
    def parse_json_payload(payload: bytes) -> Any:
        data = BaseRequest.parse_json_payload(payload)
        result = data.get("result") if isinstance(data, dict) else None
        if isinstance(result, list):
            for update in result:
                if isinstance(update, dict):
                    trim_pressed(update)
        return data
