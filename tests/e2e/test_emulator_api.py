"""The emulator's HTTP API on the real aiohttp app, over real HTTP, on real PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import re
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.channels.emulator import DemoClock, EmulatorChannel, Persona, mount
from bot.channels.emulator.channel import Input, Upload, to_incoming
from bot.channels.emulator.web import TOKEN_HEADER
from bot.config import Settings
from bot.web import WebServer, create_web_app
from db.models import Identity, Unit
from db.session import Database, UnitOfWork
from handlers.engine import Engine
from handlers.types import MediaRef, Message

START = dt.datetime(2025, 5, 5, 2, 0, tzinfo=dt.UTC)  # 09:00 in Vinh
PERSONAS = [
    Persona("citizen", "Nguyễn Thị Lan", "Người dân", role_labels={"en": "Citizen"}),
    Persona("officer", "Trần Văn Hùng", "Công an xã", phone="0912345678", lat=18.7, lon=105.6),
]


def tiny_png(width: int = 2, height: int = 2) -> bytes:
    """A valid PNG of ``width`` x ``height`` red pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@dataclass
class Emu:
    http: aiohttp.ClientSession
    channel: EmulatorChannel
    clock: DemoClock
    db: Database
    data_dir: Path

    async def send(self, persona: str, **body: object) -> dict:
        async with self.http.post(f"/api/personas/{persona}/send", json=body) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def get(self, path: str) -> dict:
        async with self.http.get(path) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()


@pytest.fixture
async def emu(db: Database, tmp_path: Path) -> AsyncIterator[Emu]:
    settings = Settings(data_dir=tmp_path)
    clock = DemoClock(START)
    engine = Engine(db, settings, clock=clock)
    channel = EmulatorChannel(engine, PERSONAS)
    app = create_web_app(db)
    mount(app, channel, clock)
    server = WebServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        async with aiohttp.ClientSession(base_url=server.url) as http:
            http.headers[TOKEN_HEADER] = await page_token(http)
            yield Emu(http, channel, clock, db, tmp_path)
    finally:
        await server.stop()


async def page_token(http: aiohttp.ClientSession) -> str:
    """The run's token, as the page knows it (the only place it is given out)."""
    async with http.get("/") as resp:
        page = await resp.text()
    found = re.search(r'<meta name="emulator-token" content="([A-Za-z0-9_-]{43})">', page)
    assert found, page
    return found.group(1)


def upload_body(data: bytes, name: str, mime: str, caption: str | None = None) -> dict:
    body: dict = {"file": {"name": name, "mime": mime, "data": base64.b64encode(data).decode()}}
    if caption is not None:
        body["caption"] = caption
    return body


def texts(entries: list[dict]) -> str:
    return "\n".join(e["html"] for e in entries)


async def test_page_and_its_assets_are_served_locally(emu: Emu) -> None:
    async with emu.http.get("/") as resp:
        assert resp.status == 200
        page = await resp.text()
    assert "/emulator/app.js" in page and "/emulator/style.css" in page
    for asset in ("/emulator/app.js", "/emulator/style.css"):
        async with emu.http.get(asset) as resp:
            assert resp.status == 200
            body = await resp.text()
        assert "http://" not in body and "https://" not in body, asset
    assert "http://" not in page and "https://" not in page


async def test_personas_language_and_clock(emu: Emu) -> None:
    info = await emu.get("/api/personas")
    assert [p["id"] for p in info["personas"]] == ["citizen", "officer"]
    officer = info["personas"][1]
    assert officer["name"] == "Trần Văn Hùng"
    assert officer["role"] == "Công an xã"
    assert officer["phone"] == "0912345678"
    assert info["personas"][0]["role_labels"] == {"en": "Citizen"}
    assert info["personas"][0]["phone"].startswith("09")
    assert info["language"] == "vi"
    assert info["clock"]["date"] == "05/05/2025"


async def test_unknown_persona_and_bad_bodies_are_refused(emu: Emu) -> None:
    async with emu.http.post("/api/personas/nobody/send", json={"text": "hi"}) as resp:
        assert resp.status == 404
    bad = [
        {},
        {"text": "a", "choice": "b"},
        {"text": "   "},
        {"location": {"lat": 91, "lon": 105}},
        {"location": {"lat": "18", "lon": 105}},
        {"location": [18, 105]},
    ]
    for body in bad:
        async with emu.http.post("/api/personas/citizen/send", json=body) as resp:
            assert resp.status == 400, body
            assert "error" in await resp.json()
    headers = {"Content-Type": "application/json"}
    async with emu.http.post(
        "/api/personas/citizen/send", data=b"not json", headers=headers
    ) as resp:
        assert resp.status == 400
    assert emu.channel.history("citizen") == []


async def test_text_gets_a_reply_with_choices_kept_in_history(emu: Emu) -> None:
    result = await emu.send("citizen", text="/start")
    assert result["sent"]["kind"] == "command"
    assert result["sent"]["html"] == "/start"
    replies = result["replies"]
    assert replies and all(r["sender"] == "bot" and not r["proactive"] for r in replies)
    assert any(r["choices"] for r in replies)
    assert "113" in texts(replies)

    history = (await emu.get("/api/personas/citizen/history"))["entries"]
    assert [e["id"] for e in history] == [result["sent"]["id"], *[r["id"] for r in replies]]
    assert (await emu.get("/api/personas/officer/history"))["entries"] == []
    later = await emu.get(f"/api/personas/citizen/history?after={result['sent']['id']}")
    assert [e["id"] for e in later["entries"]] == [r["id"] for r in replies]

    async with emu.db.sessions() as session:
        identity = (
            await session.execute(
                select(Identity).where(
                    Identity.channel == "emulator", Identity.external_id == "citizen"
                )
            )
        ).scalar_one()
    assert identity.display_name == "Nguyễn Thị Lan"
    assert identity.language == "vi"


async def test_user_text_is_escaped(emu: Emu) -> None:
    result = await emu.send("citizen", text="<script>alert(1)</script> & co")
    assert result["sent"]["html"] == "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"
    assert "<script>" not in texts(result["replies"])


async def test_pressing_a_choice(emu: Emu) -> None:
    asked = await emu.send("officer", text="/lang")
    offered = [c["id"] for r in asked["replies"] for c in r["choices"]]
    assert "lang:en" in offered
    result = await emu.send("officer", choice="lang:en")
    assert result["sent"]["kind"] == "choice"
    assert result["sent"]["html"] == "English"  # the button's label, not its id
    assert "Language set to English." in texts(result["replies"])
    history = (await emu.get("/api/personas/officer/history"))["entries"]
    assert len(history) == 2 + len(asked["replies"]) + len(result["replies"])


async def test_location_and_contact(emu: Emu) -> None:
    result = await emu.send(
        "officer", location={"lat": 18.7, "lon": 105.6, "label": "Xã Nam Giang"}
    )
    assert result["sent"]["kind"] == "location"
    assert "Xã Nam Giang" in result["sent"]["html"] and "18.70000" in result["sent"]["html"]
    assert result["replies"]
    result = await emu.send("officer", contact="0912345678")
    assert result["sent"]["kind"] == "contact"
    assert "0912345678" in result["sent"]["html"]


async def test_units_with_coordinates_for_the_picker(emu: Emu) -> None:
    async with UnitOfWork(emu.db) as uow:
        district = Unit(code="nam-dan", name="Huyện Nam Đàn", kind="district", path="/1/", depth=0)
        uow.session.add(district)
        await uow.session.flush()
        uow.session.add_all(
            [
                Unit(
                    code="nam-giang",
                    name="Xã Nam Giang",
                    kind="commune",
                    parent_id=district.id,
                    path=f"/{district.id}/2/",
                    depth=1,
                    lat=18.69,
                    lon=105.52,
                ),
                Unit(code="no-coords", name="Xã Không", kind="commune", path="/3/", depth=0),
            ]
        )
        await uow.commit()
    units = (await emu.get("/api/units"))["units"]
    assert [(u["name"], u["parent"], u["lat"], u["lon"]) for u in units] == [
        ("Xã Nam Giang", "Huyện Nam Đàn", 18.69, 105.52)
    ]


async def _next_event(lines: aiohttp.StreamReader) -> tuple[int, dict]:
    """The next ``entry`` event of a server-sent event stream (comments skipped)."""
    event_id, data = 0, None
    while True:
        raw = await asyncio.wait_for(lines.readline(), 10)
        assert raw, "the stream ended"
        line = raw.decode().rstrip("\n")
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "" and data is not None:
            return event_id, data


async def _wait_subscribed(channel: EmulatorChannel, persona: str | None) -> None:
    for _ in range(200):
        if channel.subscriber_count(persona):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no subscriber")


async def test_proactive_message_arrives_live_and_stays_in_history(emu: Emu) -> None:
    png = tiny_png()
    async with (
        emu.http.get("/api/personas/officer/events") as mine,
        emu.http.get("/api/events") as everyone,
    ):
        assert mine.headers["Content-Type"].startswith("text/event-stream")
        await _wait_subscribed(emu.channel, "officer")
        await _wait_subscribed(emu.channel, None)
        await emu.channel.send(
            "officer",
            [Message("<b>Nhắc hạn</b>: <i>báo cáo</i> <script>x()</script>", image=png)],
        )
        await emu.channel.send("citizen", [Message("Thông báo")])
        event_id, entry = await _next_event(mine.content)
        assert entry["persona"] == "officer" and entry["proactive"] is True
        assert entry["html"] == "<b>Nhắc hạn</b>: <i>báo cáo</i> &lt;script&gt;x()&lt;/script&gt;"
        assert event_id == entry["id"]
        _, first = await _next_event(everyone.content)
        _, second = await _next_event(everyone.content)
        assert (first["persona"], second["persona"]) == ("officer", "citizen")

    async with emu.http.get(entry["image"]) as resp:
        assert resp.status == 200
        assert resp.content_type == "image/png"
        assert await resp.read() == png
    history = (await emu.get("/api/personas/officer/history"))["entries"]
    assert [e["id"] for e in history] == [entry["id"]]

    # A reconnecting page says what it saw last and gets what it missed.
    await emu.channel.send("officer", [Message("Tin thứ hai")])
    async with emu.http.get(
        "/api/personas/officer/events", headers={"Last-Event-ID": str(entry["id"])}
    ) as again:
        _, missed = await _next_event(again.content)
    assert missed["html"] == "Tin thứ hai"


async def test_a_status_edited_in_place_reaches_the_live_page(emu: Emu) -> None:
    """An announcement's status (``Channel.show`` with ``replace``) keeps its entry id: the
    stream sends the edit all the same, without an ``id:`` that would move the reconnect
    point back."""
    async with emu.http.get("/api/personas/officer/events") as stream:
        await _wait_subscribed(emu.channel, "officer")
        shown = await emu.channel.show("officer", Message("Đã gửi 0, đang chờ 5"))
        await emu.channel.send("officer", [Message("Tin khác")])
        edited = await emu.channel.show("officer", Message("Đã hoàn tất."), replace=shown)
        assert edited == shown
        first_id, first = await _next_event(stream.content)
        other_id, _other = await _next_event(stream.content)
        raw: list[str] = []
        while not raw or raw[-1] != "":
            raw.append((await asyncio.wait_for(stream.content.readline(), 10)).decode().strip())
    assert first_id == first["id"] == int(shown) and other_id > first_id
    assert not any(line.startswith("id:") for line in raw)
    [data] = [json.loads(line[6:]) for line in raw if line.startswith("data: ")]
    assert (data["id"], data["edited"], data["html"]) == (int(shown), True, "Đã hoàn tất.")
    history = (await emu.get("/api/personas/officer/history"))["entries"]
    assert [e["html"] for e in history] == ["Đã hoàn tất.", "Tin khác"]


async def test_reply_is_pushed_to_the_live_page_too(emu: Emu) -> None:
    async with emu.http.get("/api/personas/citizen/events") as stream:
        await _wait_subscribed(emu.channel, "citizen")
        result = await emu.send("citizen", text="/menu")
        seen = [
            (await _next_event(stream.content))[1]["id"] for _ in range(1 + len(result["replies"]))
        ]
    assert seen == [result["sent"]["id"], *[r["id"] for r in result["replies"]]]


async def test_photo_upload_is_stored_by_sha256(emu: Emu) -> None:
    png = tiny_png(3, 3)
    digest = hashlib.sha256(png).hexdigest()
    body = upload_body(png, "canh-bao.png", "image/png", caption="Ảnh hiện trường")
    async with emu.http.post("/api/personas/citizen/send", json=body) as resp:
        assert resp.status == 200, await resp.text()
        result = await resp.json()
    stored = emu.data_dir / "emulator-media" / digest
    assert stored.read_bytes() == png
    assert result["sent"]["kind"] == "file"
    assert result["sent"]["html"] == "Ảnh hiện trường"
    assert result["sent"]["image"] == f"/api/media/{digest}"
    assert result["replies"]
    async with emu.http.get(result["sent"]["image"]) as resp:
        assert resp.status == 200 and resp.content_type == "image/png"
        assert await resp.read() == png
    async with emu.http.get("/api/media/" + "0" * 64) as resp:
        assert resp.status == 404
    async with emu.http.get("/api/media/..%2F..%2Fetc%2Fpasswd") as resp:
        assert resp.status == 404

    for bad in ({"file": None, "caption": "no file"}, upload_body(b"", "e.png", "image/png")):
        async with emu.http.post("/api/personas/citizen/send", json=bad) as resp:
            assert resp.status == 400


def test_an_upload_reaches_the_engine_as_an_emu_media_ref() -> None:
    upload = Upload("ab" * 32, 1234, "image/jpeg", "photo", "x.jpg")
    inp = to_incoming(PERSONAS[0], Input(upload=upload, text="caption"), language="en", now=START)
    assert inp.media == (
        MediaRef(
            "photo", "emu:" + "ab" * 32, "ab" * 32, mime="image/jpeg", size=1234, name="x.jpg"
        ),
    )
    assert inp.text == "caption" and inp.channel == "emulator" and inp.chat_id == "citizen"
    assert inp.language_code == "en" and inp.received_at == START
    other = to_incoming(PERSONAS[0], Input(text="/start inv_ABC"), language="vi", now=START)
    assert (other.command, other.args) == ("start", "inv_ABC")
    assert other.update_id and other.update_id != inp.update_id


async def test_next_day_moves_the_shared_clock_and_runs_the_hooks(emu: Emu) -> None:
    seen: list[dt.datetime] = []

    async def hook(now: dt.datetime) -> None:
        seen.append(now)

    async def broken(now: dt.datetime) -> None:
        raise RuntimeError("job failed")

    emu.clock.hooks.extend([broken, hook])
    before = await emu.get("/api/clock")
    async with emu.http.post("/api/clock/next-day", json={}) as resp:
        assert resp.status == 200
        after = await resp.json()
    moved = dt.datetime.fromisoformat(after["now"]) - dt.datetime.fromisoformat(before["now"])
    assert dt.timedelta(days=1) <= moved < dt.timedelta(days=1, minutes=1)
    assert after["date"] == "06/05/2025"
    assert after["errors"] == 1
    assert len(seen) == 1 and seen[0] - START >= dt.timedelta(days=1)
    # The engine runs on the same clock: its messages carry the demo's date.
    result = await emu.send("citizen", text="/start")
    assert result["sent"]["at_local"].endswith("06/05/2025")


async def test_language_switch_sets_every_persona_and_new_ones(emu: Emu) -> None:
    await emu.send("citizen", text="/start")
    async with emu.http.post("/api/language", json={"lang": "en"}) as resp:
        assert resp.status == 200
    async with emu.http.post("/api/language", json={"lang": "fr"}) as resp:
        assert resp.status == 400
    assert (await emu.get("/api/personas"))["language"] == "en"
    english = await emu.send("citizen", text="/start")
    assert "Hello" in texts(english["replies"])
    newcomer = await emu.send("officer", text="/start")  # first message after the switch
    assert "Hello" in texts(newcomer["replies"])
    async with emu.db.sessions() as session:
        languages = (
            await session.execute(
                select(Identity.external_id, Identity.language).where(
                    Identity.channel == "emulator"
                )
            )
        ).all()
    assert sorted(languages) == [("citizen", "en"), ("officer", "en")]

    async with emu.http.post("/api/language", json={"lang": "vi"}) as resp:
        assert resp.status == 200
    vietnamese = await emu.send("citizen", text="/start")
    assert "Hello" not in texts(vietnamese["replies"])
    assert "Xin chào" in texts(vietnamese["replies"])


async def test_files_sent_earlier_show_again_before_the_message(emu: Emu) -> None:
    png = tiny_png(4, 4)
    body = upload_body(png, "hien-truong.png", "image/png")
    async with emu.http.post("/api/personas/citizen/send", json=body) as resp:
        assert resp.status == 200, await resp.text()
    digest = hashlib.sha256(png).hexdigest()
    files = (
        MediaRef("photo", f"emu:{digest}"),
        MediaRef("document", f"emu:{'cd' * 32}", name="danh-sach.pdf"),
        MediaRef("photo", "AgAD-telegram-id"),  # another channel's: not shown here
    )
    await emu.channel.send("officer", [Message("Tệp của tin báo #1: 2", files=files)])
    history = (await emu.get("/api/personas/officer/history"))["entries"]
    assert [(e["image"], e["document"], e["document_name"], e["html"]) for e in history] == [
        (f"/api/media/{digest}", None, None, ""),
        (None, f"/api/media/{'cd' * 32}", "danh-sach.pdf", ""),
        (None, None, None, "Tệp của tin báo #1: 2"),
    ]
    async with emu.http.get(history[0]["image"]) as resp:
        assert resp.status == 200 and await resp.read() == png


# --- only its own page ------------------------------------------------------------------


async def test_the_api_needs_the_pages_token(emu: Emu) -> None:
    token = emu.http.headers.pop(TOKEN_HEADER)
    for method, path in (
        ("GET", "/api/personas"),
        ("GET", "/api/clock"),
        ("POST", "/api/clock/next-day"),
    ):
        async with emu.http.request(method, path, json={}) as resp:
            assert resp.status == 403, path
    async with emu.http.get("/api/personas", headers={TOKEN_HEADER: "x" * 43}) as resp:
        assert resp.status == 403
    async with emu.http.get("/api/personas", headers={TOKEN_HEADER: token}) as resp:
        assert resp.status == 200
    # The page's cookie (SameSite=Strict) carries it for images, links and event streams.
    async with emu.http.get("/api/personas", headers={"Cookie": f"antt_emulator={token}"}) as resp:
        assert resp.status == 200
    async with emu.http.get("/") as resp:
        cookie = resp.cookies["antt_emulator"]
    assert cookie.value == token and cookie["samesite"] == "Strict" and cookie["httponly"]
    # The page gives out the same token for the whole run.
    assert await page_token(emu.http) == token


async def test_only_json_posts_are_taken(emu: Emu) -> None:
    for content_type, data in (
        ("text/plain", b'{"text": "/start"}'),
        ("application/x-www-form-urlencoded", b"text=%2Fstart"),
        (
            "multipart/form-data; boundary=x",
            b"--x\r\nContent-Disposition: form-data; name=text\r\n\r\n/start\r\n--x--\r\n",
        ),
    ):
        headers = {"Content-Type": content_type}
        async with emu.http.post("/api/personas/citizen/send", data=data, headers=headers) as resp:
            assert resp.status == 415, content_type
    assert emu.channel.history("citizen") == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://127.0.0.1.evil.example:8080"},
        {"Origin": "null"},
        {"Host": "evil.example"},
        {"Host": "attacker.example:8080"},
    ],
)
async def test_foreign_origins_and_hosts_are_refused(emu: Emu, headers: dict[str, str]) -> None:
    async with emu.http.post(
        "/api/personas/citizen/send", json={"text": "/start"}, headers=headers
    ) as resp:
        assert resp.status == 403
    assert emu.channel.history("citizen") == []


async def test_a_rebound_host_does_not_even_get_the_page(emu: Emu) -> None:
    async with emu.http.get("/", headers={"Host": "rebind.example:8080"}) as resp:
        assert resp.status == 403
        assert "emulator-token" not in await resp.text()


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "localhost"])
async def test_loopback_hosts_and_origins_are_accepted(emu: Emu, host: str) -> None:
    headers = {"Host": host, "Origin": f"http://{host}"}
    async with emu.http.get("/api/clock", headers=headers) as resp:
        assert resp.status == 200


async def test_chats_survive_a_restart(emu: Emu) -> None:
    """A new channel over the same data directory (the demo started again) shows the chats;
    a chart sent before the restart is still served."""
    first = await emu.send("citizen", text="/start")
    assert first["replies"]
    png = tiny_png(4, 4)
    await emu.channel.send("officer", [Message("Biểu đồ", image=png)])
    before = {p: emu.channel.history(p) for p in ("citizen", "officer")}
    again = EmulatorChannel(emu.channel.engine, PERSONAS)
    for persona, entries in before.items():
        assert [(e.id, e.html, e.at) for e in again.history(persona)] == [
            (e.id, e.html, e.at) for e in entries
        ]
    chart = again.history("officer")[-1].image
    assert chart is not None and again.image(chart.rsplit("/", 1)[-1]) == png
    # New entries continue the numbering: a reconnecting page misses nothing.
    _mine, reply = await again.submit("citizen", Input(text="/help"))
    assert reply[0].id > max(e.id for e in before["citizen"])
    # A damaged line is skipped, not fatal.
    with again.history_file.open("a", encoding="utf-8") as fh:
        fh.write("{not json\n")
    assert len(EmulatorChannel(emu.channel.engine, PERSONAS).history("citizen")) == len(
        again.history("citizen")
    )


async def test_a_page_button_edits_its_message_in_place(emu: Emu) -> None:
    """As on Telegram: the task list's card button replaces the list, in the history, in
    the events and after a restart; a menu entry starts a new message."""
    from db.models import Member, Role, RoleGrant, TaskKind
    from tests.integration.plan_fixtures import add_task, assign, make_world

    world = await make_world(emu.db)
    task = await add_task(emu.db, world, TaskKind.MILESTONE, "Ngày hội", "Festival")
    aid = await assign(emu.db, task, world.a, dt.date(2025, 12, 31))
    async with emu.db.sessions() as s:
        member = Member(full_name="Trần Văn Hùng")
        s.add(member)
        await s.flush()
        s.add(
            Identity(
                member_id=member.id,
                channel="emulator",
                external_id="officer",
                chat_id="officer",
                language="vi",
            )
        )
        s.add(RoleGrant(member_id=member.id, unit_id=world.a.id, role=Role.OFFICER.value))
        await s.commit()
    listing = (await emu.send("officer", choice="m:tasks"))["replies"]
    assert listing[0].get("replaces") is None
    card = (await emu.send("officer", choice=f"ck:a:{aid}"))["replies"]
    assert card[0]["replaces"] == listing[0]["id"]
    kept = [e["id"] for e in (await emu.get("/api/personas/officer/history"))["entries"]]
    assert listing[0]["id"] not in kept and card[0]["id"] in kept
    again = EmulatorChannel(emu.channel.engine, PERSONAS)
    assert listing[0]["id"] not in [e.id for e in again.history("officer")]
