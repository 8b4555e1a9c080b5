"""The emulator's page and JSON API on our aiohttp app: ``mount(app, channel, clock)``.

==========================================  =============================================
route                                       does
==========================================  =============================================
``GET /``                                   the chat page, with the run's token
``GET /emulator/<file>``                    its script and style sheet
``GET /api/personas``                       personas, UI language, demo clock
``GET /api/personas/<id>/history``          the persona's chat (``?after=<entry id>``)
``POST /api/personas/<id>/send``            JSON ``{text}`` | ``{choice}`` |
                                            ``{location: {lat, lon, label?}}`` |
                                            ``{contact}`` | ``{file: {name, mime, data
                                            (base64)}, caption?}``: ``{sent, replies}``
``GET /api/personas/<id>/events``           server-sent events: that persona's new entries
``GET /api/events``                         server-sent events: every persona's entries
``GET /api/units``                          units with coordinates (the commune picker)
``GET /api/images/<sha256>``                an image of a bot message (kept in memory)
``GET /api/documents/<sha256>``             a document of a bot message, as a download
``GET /api/media/<sha256>``                 a file a persona uploaded
``GET /api/clock``                          the demo clock
``POST /api/clock/next-day``                one day forward, then the clock's hooks
``POST /api/clock/jump``                    ``{"date": "2025-07-01"}``: forward to that
                                            morning, then the hooks once
``POST /api/language``                      ``{lang}``: the bot's language for every persona
==========================================  =============================================

Events carry ``id:`` = the entry id; a reconnecting ``EventSource`` sends
``Last-Event-ID`` and gets what it missed first. An entry edited in place (an
announcement's status) comes again with ``edited`` and without ``id:``.

The emulator has no passwords, so it trusts only its own page on this machine:
every request must name a loopback ``Host`` (no DNS rebinding), an API request
with an ``Origin`` must come from a loopback origin, every API request carries the
run's random token (the page has it in a ``<meta>`` tag and sends it as
``X-Emulator-Token``; a ``SameSite=Strict`` cookie carries it for images, links and
event streams), and a POST must be ``application/json`` (which a foreign page
cannot send without asking first).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hmac
import json
import math
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy import select
from sqlalchemy.orm import aliased

from bot.channels.emulator.channel import EmulatorChannel, Entry, Input, UnknownPersona
from bot.channels.emulator.clock import DemoClock
from db.models import Unit
from handlers.i18n import LANGUAGES, format_date, format_datetime
from handlers.types import Location

STATIC = Path(__file__).resolve().parent / "static"
CHANNEL_KEY = web.AppKey("emulator_channel", EmulatorChannel)
CLOCK_KEY = web.AppKey("emulator_clock", DemoClock)
TOKEN_KEY = web.AppKey("emulator_token", str)
TOKEN_HEADER = "X-Emulator-Token"
TOKEN_COOKIE = "antt_emulator"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TOKEN_META = '<meta name="emulator-token" content="">'
MAX_UPLOAD = 20 * 1024 * 1024  # Telegram's limit for files a bot downloads
KEEPALIVE_SECONDS = 15.0
MAX_TEXT = 16384  # characters of a text, choice or phone (a flow applies its own limit)
NO_CACHE = {"Cache-Control": "no-cache"}


class BadInput(web.HTTPBadRequest):
    def __init__(self, reason: str) -> None:
        super().__init__(
            text=json.dumps({"error": reason}), content_type="application/json", reason=reason
        )


def _channel(request: web.Request) -> EmulatorChannel:
    return request.app[CHANNEL_KEY]


def _persona_id(request: web.Request) -> str:
    persona_id = request.match_info["persona"]
    try:
        _channel(request).persona(persona_id)
    except UnknownPersona:
        raise web.HTTPNotFound(
            text=json.dumps({"error": "unknown persona"}), content_type="application/json"
        ) from None
    return persona_id


def clock_json(clock: DemoClock) -> dict[str, Any]:
    now = clock.now()
    return {
        "now": now.isoformat(),
        "local": format_datetime(now),
        "date": format_date(now),
        "offset_days": round(clock.offset.total_seconds() / 86400, 3),
    }


# --- page ----------------------------------------------------------------------------


async def index(request: web.Request) -> web.Response:
    token = request.app[TOKEN_KEY]
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    page = page.replace(TOKEN_META, f'<meta name="emulator-token" content="{token}">')
    response = web.Response(text=page, content_type="text/html", headers=NO_CACHE)
    response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict", path="/")
    return response


# --- who may call ----------------------------------------------------------------------


def _hostname(host: str) -> str:
    """``127.0.0.1:8080`` -> ``127.0.0.1``; ``[::1]:8080`` -> ``::1``."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _refuse(status: type[web.HTTPException], reason: str) -> web.HTTPException:
    return status(text=json.dumps({"error": reason}), content_type="application/json")


@web.middleware
async def only_its_own_page(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Loopback ``Host``; for the API also a loopback ``Origin``, the token, JSON posts."""
    path = request.path
    if path == "/" or path.startswith(("/emulator/", "/api/")):
        if _hostname(request.host or "") not in LOOPBACK:
            raise _refuse(web.HTTPForbidden, "the emulator answers only on this machine")
    if path.startswith("/api/"):
        origin = request.headers.get("Origin")
        if origin is not None:
            host = origin.split("://", 1)[-1]
            if not origin.startswith("http://") or _hostname(host) not in LOOPBACK:
                raise _refuse(web.HTTPForbidden, "requests from other sites are refused")
        token = request.headers.get(TOKEN_HEADER) or request.cookies.get(TOKEN_COOKIE) or ""
        if not hmac.compare_digest(token.encode(), request.app[TOKEN_KEY].encode()):
            raise _refuse(web.HTTPForbidden, "the emulator's token is missing or wrong")
        if request.method == "POST" and request.content_type != "application/json":
            raise _refuse(web.HTTPUnsupportedMediaType, "the API takes application/json only")
    return await handler(request)


# --- JSON API ------------------------------------------------------------------------


async def personas(request: web.Request) -> web.Response:
    channel = _channel(request)
    return web.json_response(
        {
            "personas": [p.as_json() for p in channel.personas.values()],
            "language": channel.language,
            "languages": list(LANGUAGES),
            "clock": clock_json(request.app[CLOCK_KEY]),
        }
    )


def _after(request: web.Request) -> int:
    raw = request.headers.get("Last-Event-ID") or request.query.get("after") or "0"
    return int(raw) if raw.isdigit() else 0


async def history(request: web.Request) -> web.Response:
    persona_id = _persona_id(request)
    entries = _channel(request).history(persona_id, after=_after(request))
    return web.json_response({"persona": persona_id, "entries": [e.as_json() for e in entries]})


def _number(value: object, low: float, high: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(f"{what} must be a number")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise BadInput(f"{what} out of range")
    return number


def _upload(request: web.Request, body: dict[str, Any]) -> Input:
    """``{file: {name, mime, data}, caption?}``: the file, base64-encoded in the JSON."""
    file = body.get("file")
    if not isinstance(file, dict) or not isinstance(file.get("data"), str):
        raise BadInput("file must be {name, mime, data (base64)}")
    try:
        data = base64.b64decode(file["data"], validate=True)
    except (binascii.Error, ValueError):
        raise BadInput("file data is not base64") from None
    if not data:
        raise BadInput("the file is empty")
    if len(data) > MAX_UPLOAD:
        raise web.HTTPRequestEntityTooLarge(MAX_UPLOAD, len(data))
    mime = file.get("mime") if isinstance(file.get("mime"), str) else None
    name = file.get("name") if isinstance(file.get("name"), str) else None
    upload = _channel(request).store_upload(data, mime or "application/octet-stream", name)
    caption = body.get("caption")
    text = caption.strip() if isinstance(caption, str) and caption.strip() else None
    return Input(upload=upload, text=text)


async def _read_json(request: web.Request) -> object:
    """The JSON body, read up to what a base64 upload of ``MAX_UPLOAD`` takes."""
    limit = MAX_UPLOAD * 4 // 3 + 65536
    raw = bytearray()
    while chunk := await request.content.read(65536):
        raw.extend(chunk)
        if len(raw) > limit:
            raise web.HTTPRequestEntityTooLarge(limit, len(raw))
    try:
        return json.loads(raw)
    except ValueError:
        raise BadInput("the body is not JSON") from None


def _json_input(body: object) -> Input:
    if not isinstance(body, dict):
        raise BadInput("the body must be a JSON object")
    given = [k for k in ("text", "choice", "location", "contact") if body.get(k) is not None]
    if len(given) != 1:
        raise BadInput("send exactly one of text, choice, location, contact")
    key, value = given[0], body[given[0]]
    if key == "location":
        if not isinstance(value, dict):
            raise BadInput("location must be {lat, lon}")
        where = Location(
            _number(value.get("lat"), -90, 90, "lat"), _number(value.get("lon"), -180, 180, "lon")
        )
        label = value.get("label")
        return Input(location=where, location_label=label if isinstance(label, str) else None)
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{key} must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise BadInput(f"{key} is too long")
    if key == "choice":
        return Input(choice=value)
    if key == "contact":
        return Input(contact=value.strip())
    return Input(text=value)


async def send(request: web.Request) -> web.Response:
    persona_id = _persona_id(request)
    body = await _read_json(request)
    if isinstance(body, dict) and "file" in body:
        sent = _upload(request, body)
    else:
        sent = _json_input(body)
    mine, replies = await _channel(request).submit(persona_id, sent)
    return web.json_response({"sent": mine.as_json(), "replies": [e.as_json() for e in replies]})


async def units(request: web.Request) -> web.Response:
    """Units with coordinates, for the picker a location request opens."""
    parent = aliased(Unit)
    stmt = (
        select(Unit, parent.name)
        .outerjoin(parent, parent.id == Unit.parent_id)
        .where(Unit.lat.is_not(None), Unit.lon.is_not(None), Unit.valid_to.is_(None))
        .order_by(parent.name, Unit.name)
    )
    async with _channel(request).engine.db.sessions() as session:
        rows = (await session.execute(stmt)).all()
    return web.json_response(
        {
            "units": [
                {
                    "id": u.id,
                    "code": u.code,
                    "name": u.name,
                    "kind": u.kind,
                    "parent": parent_name,
                    "lat": u.lat,
                    "lon": u.lon,
                }
                for u, parent_name in rows
            ]
        }
    )


async def image(request: web.Request) -> web.Response:
    data = _channel(request).image(request.match_info["key"])
    if data is None:
        raise web.HTTPNotFound()
    return web.Response(body=data, content_type="image/png")


async def document(request: web.Request) -> web.Response:
    found = _channel(request).document(request.match_info["key"])
    if found is None:
        raise web.HTTPNotFound()
    name, data = found
    return web.Response(
        body=data,
        content_type="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _sniff(head: bytes) -> str:
    for magic, mime in (
        (b"\x89PNG", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF8", "image/gif"),
    ):
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


async def media(request: web.Request) -> web.FileResponse:
    path = _channel(request).media_path(request.match_info["sha"])
    if path is None:
        raise web.HTTPNotFound()
    with path.open("rb") as fh:
        head = fh.read(16)
    return web.FileResponse(
        path,
        headers={"Content-Type": _sniff(head), "X-Content-Type-Options": "nosniff"},
    )


async def get_clock(request: web.Request) -> web.Response:
    return web.json_response(clock_json(request.app[CLOCK_KEY]))


async def next_day(request: web.Request) -> web.Response:
    clock = request.app[CLOCK_KEY]
    errors = await clock.advance(days=1)
    return web.json_response({**clock_json(clock), "errors": len(errors)})


async def jump(request: web.Request) -> web.Response:
    """Forward to a later day's morning (the demo's "jump to 01/07"), running the hooks once."""
    clock = request.app[CLOCK_KEY]
    try:
        body = await request.json()
        target = dt.date.fromisoformat(str(body["date"]))
    except (ValueError, KeyError, TypeError):
        raise BadInput('expected {"date": "YYYY-MM-DD"}') from None
    days = (target - clock.now().astimezone(clock.tz).date()).days
    if days <= 0:
        raise BadInput("the demo clock is already past that day")
    errors = await clock.advance(days=days)
    return web.json_response({**clock_json(clock), "errors": len(errors)})


async def language(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        raise BadInput("the body is not JSON") from None
    lang = body.get("lang") if isinstance(body, dict) else None
    if lang not in LANGUAGES:
        raise BadInput(f"lang must be one of {', '.join(LANGUAGES)}")
    await _channel(request).set_language(lang)
    return web.json_response({"language": lang})


# --- server-sent events --------------------------------------------------------------


def _event(entry: Entry) -> bytes:
    data = json.dumps(entry.as_json(), ensure_ascii=False)
    # An edit keeps its entry's (older) id: it must not move the reconnect point back.
    head = "" if entry.edited else f"id: {entry.id}\n"
    return f"{head}event: entry\ndata: {data}\n\n".encode()


async def _stream(request: web.Request, persona_id: str | None) -> web.StreamResponse:
    channel = _channel(request)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    queue = channel.subscribe(persona_id)  # before the replay, so nothing falls in between
    try:
        after = _after(request)
        missed: list[Entry] = []
        if after:
            ids = [persona_id] if persona_id else list(channel.personas)
            missed = sorted(
                (e for p in ids for e in channel.history(p, after=after)), key=lambda e: e.id
            )
        await response.write(b"retry: 1000\n: connected\n\n")
        last = after
        for entry in missed:
            await response.write(_event(entry))
            last = entry.id
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                await response.write(b": keepalive\n\n")
                continue
            if item is None:
                break
            if item.edited:  # a status edited in place: its entry again, under its id
                await response.write(_event(item))
            elif item.id > last:
                await response.write(_event(item))
                last = item.id
    except ConnectionResetError:
        pass
    finally:
        channel.unsubscribe(persona_id, queue)
    return response


async def persona_events(request: web.Request) -> web.StreamResponse:
    return await _stream(request, _persona_id(request))


async def all_events(request: web.Request) -> web.StreamResponse:
    return await _stream(request, None)


# --- wiring ------------------------------------------------------------------------


def mount(
    app: web.Application, channel: EmulatorChannel, clock: DemoClock, *, token: str | None = None
) -> str:
    """Add the page and the API to ``app`` (before it starts); the run's token."""
    app[CHANNEL_KEY] = channel
    app[CLOCK_KEY] = clock
    app[TOKEN_KEY] = token or secrets.token_urlsafe(32)
    app.middlewares.append(only_its_own_page)

    async def end_streams(_app: web.Application) -> None:
        channel.close_subscribers()

    app.on_shutdown.append(end_streams)
    router = app.router
    router.add_get("/", index)
    router.add_static("/emulator/", STATIC, append_version=False)
    router.add_get("/api/personas", personas)
    router.add_get("/api/personas/{persona}/history", history)
    router.add_post("/api/personas/{persona}/send", send)
    router.add_get("/api/personas/{persona}/events", persona_events)
    router.add_get("/api/events", all_events)
    router.add_get("/api/units", units)
    router.add_get("/api/images/{key}", image)
    router.add_get("/api/documents/{key}", document)
    router.add_get("/api/media/{sha}", media)
    router.add_get("/api/clock", get_clock)
    router.add_post("/api/clock/next-day", next_day)
    router.add_post("/api/clock/jump", jump)
    router.add_post("/api/language", language)
    return app[TOKEN_KEY]
