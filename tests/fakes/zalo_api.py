"""A fake Zalo Bot Platform API server for end-to-end tests.

``FakeZaloAPI`` is a small aiohttp server on ``127.0.0.1`` speaking the Zalo Bot API
(``shared/channels/zalo-bot-api.md``) over real HTTP: ``<root>/bot<TOKEN>/<method>``, every
method a POST with a JSON body, answers ``{"ok": true, "result": ...}`` or ``{"ok": false,
"error_code": N, "description": "..."}``, errors too with HTTP 200 as real Zalo does::

    async with FakeZaloAPI(token="123:abc") as api:
        client = MyZaloClient(base_url=api.root_url, token=api.token)
        api.user_text("e4ea2cd5189df1c3a88c", "Xin chào")   # a user writes to the bot
        call = await api.wait_for("sendMessage")             # the bot answers
        api.assert_no_violations()

Every request is checked: the token (401), the method name (404), the HTTP verb (POST), the
body (a JSON object) and each method's fields (required, unknown, type, ``chat_id`` a string,
``text`` 1-2000 characters, ``caption`` 1-2000, ``timeout`` a string of digits, ``url`` HTTPS,
``secret_token`` 8-256 of ``[A-Za-z0-9_-]``, ``action`` "typing"), and so is getUpdates while
a webhook is set (409).  A request the real API rejects gets the same kind of error answer and
is recorded in ``api.violations``.

Runtime errors a correct bot can meet are answered but are not violations: sending to a chat
no user ever wrote from (410 "The chat_id is invaild", in ``api.errors``), a photo whose URL
cannot be fetched (400, in ``api.errors``), an empty long poll (408 "Request timeout", counted
in ``api.empty_polls``) and failures injected with ``api.fail_next()`` (in ``api.failed_calls``):
Zalo's own codes are 403 (an internal server error), 410 and 422 (the person cannot be
reached), 429 (quota exceeded); ``REAL_ERRORS`` holds their descriptions as Zalo words them.

Like Zalo, ``sendPhoto`` fetches the photo's URL before it answers (``photo_delay`` makes that
slow); what it fetched is in ``ApiCall.content``.  ``api.host_media(data)`` serves a file the
way Zalo's CDN does, at a URL a user's image or voice event can carry; ``api.expire_media(url)``
makes it answer 404, as Zalo's URLs do after about a month.

Successful calls are recorded in ``api.calls`` as ``ApiCall``.  Users are simulated with
``user_text()``, ``user_image()`` (``photo_url``, or the documented ``photo``), ``user_voice()``,
``user_sticker()`` and ``user_unsupported()`` (with or without ``message``); their updates are
served one per ``getUpdates`` call, or POSTed to the bot's webhook with ``post_webhook()``.
Payloads as captured from live bots are in ``tests/fixtures/zalo_payloads.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web

__all__ = [
    "DEFAULT_TOKEN",
    "REAL_ERRORS",
    "SECRET_HEADER",
    "ApiCall",
    "FakeZaloAPI",
    "ZaloApiError",
    "real_payload",
]

DEFAULT_TOKEN = "123:abc"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
MAX_TEXT = 2000

JsonDict = dict[str, Any]
CallPredicate = Callable[["ApiCall"], bool]
Check = Callable[[Any], str | None]  # returns what is wrong with a value, or None

# Methods whose successful call puts a message into a chat (see ``sent_messages``).
MESSAGE_METHODS = frozenset({"sendMessage", "sendPhoto", "sendSticker"})

_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{8,256}")
PAYLOADS = Path(__file__).resolve().parent.parent / "fixtures" / "zalo_payloads.json"


def real_payload(name: str) -> JsonDict:
    """A payload as live Zalo sends it, from ``tests/fixtures/zalo_payloads.json`` (a copy)."""
    found: JsonDict = json.loads(PAYLOADS.read_text(encoding="utf-8"))[name]
    return found


# --------------------------------------------------------------------------------------------
# Field checks
# --------------------------------------------------------------------------------------------


def _string(min_len: int = 1, max_len: int | None = None) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"must be a string, got {type(value).__name__}"
        if len(value) < min_len or (max_len is not None and len(value) > max_len):
            bounds = f"{min_len}-{max_len}" if max_len is not None else f"at least {min_len}"
            return f"must be {bounds} characters long, got {len(value)}"
        return None

    return check


def _matching(pattern: str, wanted: str) -> Check:
    regex = re.compile(pattern)

    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"must be a string, got {type(value).__name__}"
        return None if regex.fullmatch(value) else f"must be {wanted}, got {value[:80]!r}"

    return check


_CHAT_ID = _string(1, 256)
_TEXT = _string(1, MAX_TEXT)
_URL = _matching(r"https?://\S+", "an http(s) URL")

# Per method: field -> (required, check).
_FIELDS: dict[str, dict[str, tuple[bool, Check]]] = {
    "getMe": {},
    "getUpdates": {"timeout": (False, _matching(r"[0-9]+", "a string of digits"))},
    "setWebhook": {
        "url": (True, _matching(r"https://\S+", "an https:// URL")),
        "secret_token": (True, _matching(_SECRET_RE.pattern, "8-256 of [A-Za-z0-9_-]")),
    },
    "getWebhookInfo": {},
    "deleteWebhook": {},
    "sendMessage": {"chat_id": (True, _CHAT_ID), "text": (True, _TEXT)},
    "sendPhoto": {"chat_id": (True, _CHAT_ID), "photo": (True, _URL), "caption": (False, _TEXT)},
    "sendSticker": {"chat_id": (True, _CHAT_ID), "sticker": (True, _string(1, 256))},
    "sendChatAction": {
        "chat_id": (True, _CHAT_ID),
        "action": (True, _matching("typing", '"typing"')),
    },
}

# Zalo's meanings: 403 is an internal server error (retry), 410/422 the person cannot be
# reached, 429 a quota exceeded (brief: "Errors").
REAL_ERRORS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Internal server error",
    404: "Not Found",
    408: "Request timeout",
    409: "Conflict",
    410: "The chat_id is invaild",
    422: "You are not permitted to send messages to this chat_id",
    429: "Quota exceeded",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


# --------------------------------------------------------------------------------------------
# Value types
# --------------------------------------------------------------------------------------------


@dataclass
class ApiCall:
    """One request of the bot: method, parameters as sent, and the result or error answered."""

    seq: int
    method: str
    params: JsonDict
    result: Any = None
    timestamp: float = field(default_factory=time.monotonic)
    error: JsonDict | None = None
    content: bytes | None = None  # what sendPhoto fetched from the photo's URL

    @property
    def chat_id(self) -> str | None:
        value = self.params.get("chat_id")
        return value if isinstance(value, str) else None

    @property
    def text(self) -> str | None:
        """``text`` or ``caption`` as sent."""
        value = self.params.get("text", self.params.get("caption"))
        return value if isinstance(value, str) else None

    @property
    def message_id(self) -> str | None:
        """The id the fake gave the sent message."""
        return self.result.get("message_id") if isinstance(self.result, dict) else None

    def __repr__(self) -> str:
        shown = repr(self.params)
        shown = shown if len(shown) <= 200 else shown[:197] + "..."
        error = f" -> {self.error['error_code']}" if self.error else ""
        return f"ApiCall(#{self.seq} {self.method} {shown}{error})"


class ZaloApiError(Exception):
    """An error answer; ``violation`` marks requests the bot should never have made."""

    def __init__(
        self, status: int, description: str, *, violation: bool = True, http_status: int = 200
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.violation = violation
        self.http_status = http_status  # Zalo answers errors with HTTP 200 and ``ok: false``

    def payload(self) -> JsonDict:
        return {"ok": False, "error_code": self.status, "description": self.description}


def _bad(description: str) -> ZaloApiError:
    return ZaloApiError(400, f"Bad Request: {description}")


@dataclass
class _FailureRule:
    status: int
    description: str
    times: int
    chat_id: str | None
    http_status: int


class _Signal:
    """Wakes every coroutine waiting in ``wait()`` when ``notify()`` is called."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:  # noqa: ASYNC109
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), max(timeout, 0))


def _new_id() -> str:
    """A message id shaped like Zalo's (20 hex digits)."""
    return secrets.token_hex(10)


def _now_ms() -> int:
    return int(time.time() * 1000)


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class FakeZaloAPI:
    """A Zalo Bot API server for tests; see the module docstring.

    Args:
        token: the only token accepted (``<bot_id>:<secret>``); others get 401.
        host / port: where to listen (port 0: a free port).
        long_poll_cap: upper bound (seconds) for the ``timeout`` of ``getUpdates``.
        photo_delay: seconds ``sendPhoto`` takes besides fetching the photo.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        long_poll_cap: float = 2.0,
        photo_delay: float = 0.0,
    ) -> None:
        self.token = token
        self.bot_id = token.split(":", 1)[0]
        self.host = host
        self.port = port
        self.long_poll_cap = long_poll_cap
        self.photo_delay = photo_delay

        self.calls: list[ApiCall] = []
        self.errors: list[ApiCall] = []
        self.failed_calls: list[ApiCall] = []
        self.violations: list[str] = []
        self.known_chats: set[str] = set()
        self.calls_count = 0
        self.empty_polls = 0
        self.webhook: JsonDict | None = None
        self.media_fetches: list[str] = []  # names of hosted media fetched, in order

        self._seq = 0
        self._updates: deque[JsonDict] = deque()
        self._update_signal = _Signal()
        self._call_signal = _Signal()
        self._failures: list[tuple[str, _FailureRule]] = []
        self._runner: web.AppRunner | None = None
        self._root_url: str | None = None
        self._session: ClientSession | None = None
        self._closing = False
        self._media: dict[str, bytes] = {}

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> FakeZaloAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> FakeZaloAPI:
        """Start listening (on a free port unless ``port`` was given)."""
        if self._runner is not None:
            return self
        self._closing = False
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/media/{name}", self._serve_media)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        await web.SockSite(runner, sock).start()
        self.port = sock.getsockname()[1]
        self._runner = runner
        self._root_url = f"http://{self.host}:{self.port}"
        return self

    async def stop(self) -> None:
        """Release long pollers and shut the server down."""
        self._closing = True
        self._update_signal.notify()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``; the bot calls ``root_url + "/bot" + token + "/" + method``."""
        if self._root_url is None:
            raise RuntimeError("FakeZaloAPI is not started; use 'async with' or start()")
        return self._root_url

    @property
    def webhook_url(self) -> str | None:
        return None if self.webhook is None else self.webhook["url"]

    @property
    def webhook_secret(self) -> str | None:
        return None if self.webhook is None else self.webhook["secret_token"]

    # -- inspection ----------------------------------------------------------------------

    def mark(self) -> int:
        """A position for ``since=``: only calls made after this one count."""
        return self._seq + 1

    def calls_of(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    def sent_messages(self, chat_id: str | None = None, since: int | None = None) -> list[ApiCall]:
        """Successful sendMessage/sendPhoto/sendSticker calls, in order."""
        return [
            call
            for call in self.calls
            if call.method in MESSAGE_METHODS
            and (chat_id is None or call.chat_id == chat_id)
            and call.seq >= (since or 0)
        ]

    def last_message(self, chat_id: str | None = None) -> ApiCall | None:
        messages = self.sent_messages(chat_id)
        return messages[-1] if messages else None

    def pop_violations(self) -> list[str]:
        """Return and forget the violations (for tests that provoke them on purpose)."""
        found, self.violations = self.violations, []
        return found

    def assert_no_violations(self) -> None:
        if self.violations:
            listing = "\n  ".join(self.violations)
            raise AssertionError(
                f"{len(self.violations)} Zalo Bot API violation(s) by the bot:\n  {listing}"
            )

    def clear(self) -> None:
        """Forget recorded calls, errors, violations and injected failures."""
        for found in (self.calls, self.errors, self.failed_calls, self.violations):
            found.clear()
        self._failures.clear()
        self.empty_polls = 0

    async def wait_for(
        self,
        what: str | CallPredicate,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of this helper's contract
        chat_id: str | None = None,
        since: int | None = None,
    ) -> ApiCall:
        """The first successful call matching ``what`` (a method name or a predicate).

        Calls already recorded count too unless ``since=api.mark()`` excludes them.
        Raises ``TimeoutError`` listing the recent calls and violations.
        """
        deadline = time.monotonic() + timeout
        while True:
            for call in self.calls:
                if call.seq < (since or 0) or (chat_id is not None and call.chat_id != chat_id):
                    continue
                if (call.method == what) if isinstance(what, str) else what(call):
                    return call
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(self._timeout_message(what, timeout, chat_id, since))
            await self._call_signal.wait(remaining)

    def _timeout_message(
        self, what: str | CallPredicate, timeout: float, chat_id: str | None, since: int | None
    ) -> str:
        recent = "\n  ".join(repr(c) for c in self.calls[-10:]) or "(none)"
        errors = "\n  ".join(repr(c) for c in (self.errors + self.failed_calls)[-5:]) or "(none)"
        violations = "\n  ".join(self.violations[-5:]) or "(none)"
        return (
            f"no call matching {what!r} (chat_id={chat_id!r}, since={since!r}) within "
            f"{timeout}s; recent calls:\n  {recent}\nerrors:\n  {errors}\n"
            f"violations:\n  {violations}"
        )

    # -- failure injection ---------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        chat_id: str | None = None,
        description: str | None = None,
        times: int = 1,
        http_status: int = 200,
    ) -> None:
        """Make the next ``times`` valid calls of ``method`` (``"*"``: any) answer ``status``.

        The answer is ``{"ok": false, "error_code": status, ...}`` with HTTP 200, as Zalo
        sends it (``http_status`` for a proxy's or gateway's own status).  Only calls to
        ``chat_id`` count when it is given.  Injected failures are not violations; they land
        in ``failed_calls``.
        """
        text = description or REAL_ERRORS.get(status, f"Error {status}")
        self._failures.append((method, _FailureRule(status, text, times, chat_id, http_status)))

    def _take_failure(self, method: str, params: JsonDict) -> ZaloApiError | None:
        for index, (wanted, rule) in enumerate(self._failures):
            if wanted not in (method, "*"):
                continue
            if rule.chat_id is not None and params.get("chat_id") != rule.chat_id:
                continue
            rule.times -= 1
            if rule.times <= 0:
                del self._failures[index]
            return ZaloApiError(
                rule.status, rule.description, violation=False, http_status=rule.http_status
            )
        return None

    # -- simulated users -----------------------------------------------------------------

    def user_text(
        self, user_id: str, text: str, *, display_name: str = "Người dùng", push: bool = True
    ) -> JsonDict:
        """A user writes ``text`` to the bot in their private chat."""
        return self._user_update(user_id, "text", {"text": text}, display_name, push)

    def user_image(
        self,
        user_id: str,
        photo_url: str,
        *,
        caption: str = "",
        field: str = "photo_url",
        display_name: str = "Người dùng",
        push: bool = True,
    ) -> JsonDict:
        """A user sends a photo, its URL in ``photo_url`` as live Zalo sends it.

        ``field="photo"`` puts the URL where Zalo's documentation says instead.  The caption
        is there even when empty, as in captured payloads.
        """
        content: JsonDict = {field: photo_url, "caption": caption, "message_type": "CHAT_PHOTO"}
        return self._user_update(user_id, "image", content, display_name, push)

    def user_voice(
        self, user_id: str, voice_url: str, *, display_name: str = "Người dùng", push: bool = True
    ) -> JsonDict:
        """A user sends a voice message (AAC audio at ``voice_url``)."""
        return self._user_update(user_id, "voice", {"voice_url": voice_url}, display_name, push)

    def user_sticker(
        self,
        user_id: str,
        sticker: str,
        *,
        url: str = "https://zalo-api.zadn.vn/api/emoticon/sticker/webpc?eid=46991",
        display_name: str = "Người dùng",
        push: bool = True,
    ) -> JsonDict:
        content = {"sticker": sticker, "url": url}
        return self._user_update(user_id, "sticker", content, display_name, push)

    def user_unsupported(
        self,
        user_id: str,
        *,
        with_message: bool = True,
        display_name: str = "Người dùng",
        push: bool = True,
    ) -> JsonDict:
        """What Zalo passes on without content: a file, video, contact, location, quote or
        reaction, and every message of an account Zalo protects.  ``with_message=False``:
        the bare event, which names nobody."""
        if not with_message:
            update: JsonDict = {"event_name": "message.unsupported.received"}
            return self.push_update(update) if push else update
        return self._user_update(user_id, "unsupported", {}, display_name, push)

    # -- media hosted like Zalo's CDN ---------------------------------------------------

    def host_media(self, data: bytes, suffix: str = ".jpg") -> str:
        """Serve ``data`` at a new URL (fetchable without the token), as Zalo's CDN does."""
        name = secrets.token_hex(8) + suffix
        self._media[name] = data
        return f"{self.root_url}/media/{name}"

    def expire_media(self, url: str) -> None:
        """The URL answers 404 from now on, as Zalo's media URLs do after a while."""
        self._media.pop(url.rsplit("/", 1)[-1], None)

    async def _serve_media(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.media_fetches.append(name)
        data = self._media.get(name)
        if data is None:
            return web.Response(status=404, text="Not Found")
        kind = "audio/aac" if name.endswith(".aac") else "image/jpeg"
        return web.Response(body=data, content_type=kind)

    def push_update(self, update: JsonDict) -> JsonDict:
        """Queue a raw update for getUpdates (its chat becomes known)."""
        self._register(update)
        self._updates.append(update)
        self._update_signal.notify()
        return update

    def redeliver(self, update: JsonDict) -> JsonDict:
        """Queue the very same update again, as a duplicate delivery."""
        return self.push_update(copy.deepcopy(update))

    @property
    def pending_updates(self) -> list[JsonDict]:
        return list(self._updates)

    def _user_update(
        self, user_id: str, kind: str, content: JsonDict, display_name: str, push: bool
    ) -> JsonDict:
        message: JsonDict = {
            "message_id": _new_id(),
            "date": _now_ms(),
            **content,
            "chat": {"id": user_id, "chat_type": "PRIVATE"},
            "from": {"id": user_id, "display_name": display_name, "is_bot": False},
        }
        update: JsonDict = {"event_name": f"message.{kind}.received", "message": message}
        if push:
            return self.push_update(update)
        self._register(update)
        return update

    def _register(self, update: JsonDict) -> None:
        message = update.get("message")
        chat = message.get("chat") if isinstance(message, dict) else None
        if isinstance(chat, dict) and isinstance(chat.get("id"), str):
            self.known_chats.add(chat["id"])

    # -- webhook delivery ----------------------------------------------------------------

    async def post_webhook(
        self, url: str, update: JsonDict, *, secret: str | None = None, wrapped: bool = False
    ) -> int:
        """POST ``update`` to the bot's webhook like Zalo does; returns the HTTP status.

        The ``X-Bot-Api-Secret-Token`` header carries ``secret``, else the one given to
        setWebhook; ``secret=""`` sends no header.  ``wrapped`` sends ``{"ok": true,
        "result": update}`` instead of the bare update.
        """
        self._register(update)
        token = secret if secret is not None else self.webhook_secret
        headers = {"Content-Type": "application/json"}
        if token:
            headers[SECRET_HEADER] = token
        body = {"ok": True, "result": update} if wrapped else update
        if self._session is None:
            self._session = ClientSession(timeout=ClientTimeout(total=30))
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        async with self._session.post(url, data=data, headers=headers) as resp:
            await resp.read()
            return resp.status

    # -- HTTP ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params = await self._checked_params(request, method)
        except ZaloApiError as exc:
            self.violations.append(f"{method}: {exc.description}")
            return self._json(exc.payload(), exc.http_status)
        call = ApiCall(seq=self._next_seq(), method=method, params=params)
        failure = self._take_failure(method, params)
        try:
            if failure is not None:
                raise failure
            call.result = await self._execute(method, params, call)
            if method == "getUpdates" and (
                request.transport is None or request.transport.is_closing()
            ):
                # The poller hung up (its process stopped) while waiting: the update was
                # never delivered, so it goes back to the front of the queue.
                self._updates.appendleft(call.result)
                return self._json({"ok": False, "description": "client gone"}, 499)
        except ZaloApiError as exc:
            call.error = exc.payload()
            if failure is not None:
                self.failed_calls.append(call)
            elif exc.violation:
                self.violations.append(f"{method}: {exc.description}")
            elif exc.status == 408:
                self.empty_polls += 1
            else:
                self.errors.append(call)
            return self._json(exc.payload(), exc.http_status)
        self._record(call)
        if method == "sendChatAction":  # documented answer: just {"ok": true}
            return self._json({"ok": True})
        return self._json({"ok": True, "result": call.result})

    async def _checked_params(self, request: web.Request, method: str) -> JsonDict:
        """The JSON body of a well-formed request, or a ZaloApiError saying what is wrong."""
        if request.match_info["token"] != self.token:
            raise ZaloApiError(401, "Unauthorized")
        fields = _FIELDS.get(method)
        if fields is None:
            raise ZaloApiError(404, f"Not Found: no method {method!r}")
        if request.method != "POST":
            raise ZaloApiError(405, f"Method Not Allowed: {request.method}, use POST")
        params = await self._read_json(request)
        for name, (required, check) in fields.items():
            if name not in params:
                if required:
                    raise _bad(f"missing required field {name!r}")
                continue
            problem = check(params[name])
            if problem:
                raise _bad(f"{name} {problem}")
        unknown = sorted(set(params) - set(fields))
        if unknown:
            raise _bad(f"unknown field(s) {', '.join(map(repr, unknown))}")
        return params

    @staticmethod
    async def _read_json(request: web.Request) -> JsonDict:
        raw = await request.read()
        if not raw.strip():
            return {}  # parameterless methods may come without a body
        if request.content_type != "application/json":
            raise _bad(f"Content-Type must be application/json, got {request.content_type!r}")
        try:
            body = json.loads(raw)
        except ValueError:
            raise _bad("body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _bad(f"body must be a JSON object, got {type(body).__name__}")
        return body

    @staticmethod
    def _json(body: JsonDict, status: int = 200) -> web.Response:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return web.Response(body=data, status=status, content_type="application/json")

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _record(self, call: ApiCall) -> None:
        self.calls.append(call)
        self.calls_count += 1
        self._call_signal.notify()

    # -- methods -------------------------------------------------------------------------

    async def _execute(self, method: str, params: JsonDict, call: ApiCall) -> Any:
        if method == "getUpdates":
            return await self._get_updates(params)
        if method == "getMe":
            return {
                "id": self.bot_id,
                "account_name": "antt_test_bot",
                "account_type": "BASIC",
                "can_join_groups": False,
            }
        if method == "setWebhook":
            self.webhook = {"url": params["url"], "secret_token": params["secret_token"]}
            self.webhook["updated_at"] = _now_ms()
            return self._webhook_info()
        if method == "getWebhookInfo":
            return self._webhook_info()
        if method == "deleteWebhook":
            self.webhook = None
            return {"url": "", "updated_at": _now_ms()}
        if params["chat_id"] not in self.known_chats:
            raise ZaloApiError(410, REAL_ERRORS[410], violation=False)
        if method == "sendChatAction":
            return True
        if method == "sendPhoto":
            call.content = await self._fetch_photo(params["photo"])
            await asyncio.sleep(self.photo_delay)
        return {"message_id": _new_id(), "date": _now_ms()}

    async def _fetch_photo(self, url: str) -> bytes:
        """Zalo fetches the photo before it answers; one it cannot fetch is refused."""
        if self._session is None:
            self._session = ClientSession(timeout=ClientTimeout(total=30))
        try:
            async with self._session.get(url) as resp:
                if resp.status == 200:
                    return await resp.read()
        except (ClientError, OSError, TimeoutError) as exc:
            raise ZaloApiError(
                400, f"Bad Request: photo not fetched ({type(exc).__name__})", violation=False
            ) from exc
        raise ZaloApiError(400, "Bad Request: photo not fetched", violation=False)

    def _webhook_info(self) -> JsonDict:
        """The webhook as getWebhookInfo shows it (never with the secret)."""
        if self.webhook is None:
            return {"url": "", "updated_at": 0}
        return {"url": self.webhook["url"], "updated_at": self.webhook["updated_at"]}

    async def _get_updates(self, params: JsonDict) -> JsonDict:
        if self.webhook is not None:
            raise ZaloApiError(
                409,
                "Conflict: getUpdates is not available while a webhook is set; "
                "call deleteWebhook first",
            )
        wait = min(float(params.get("timeout", "30")), self.long_poll_cap)
        deadline = time.monotonic() + wait
        while not self._updates:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closing:
                raise ZaloApiError(408, "Request timeout", violation=False)
            await self._update_signal.wait(remaining)
        return self._updates.popleft()


async def _run_forever(api: FakeZaloAPI) -> None:  # pragma: no cover - manual use
    async with api:
        print(f"FakeZaloAPI listening on {api.root_url} (token {api.token})")
        await asyncio.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    asyncio.run(_run_forever(FakeZaloAPI()))
