"""``keep_file`` on real PostgreSQL: when an announcement's file is kept for Zalo before
fan-out, when nothing needs it, and how long a file no process here can fetch holds it up.

The channel that fetches is a stand-in (it has no messenger behind it); the real Telegram
and Zalo clients are driven in ``tests/e2e/test_broadcast_media_zalo.py``."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from bot.channels.base import TransientError
from bot.config import Settings
from db import broadcasts as repo
from db.members import identity_for
from db.models import Broadcast, Identity, Subscription, Unit
from db.session import Database, UnitOfWork
from db.units import by_code
from handlers.broadcast import save
from handlers.types import MediaRef, Message
from scheduler.broadcast_media import KEEP_WAIT, keep_file
from tests.integration.tip_helpers import make_world

NOW = dt.datetime(2025, 5, 5, 2, 0, tzinfo=dt.UTC)
PHOTO = b"\xff\xd8\xff\xe0 the announcement's photo"


class Source:
    """A channel that hands over one file, or fails."""

    name = "telegram"

    def __init__(self, data: bytes = PHOTO, error: Exception | None = None) -> None:
        self.data, self.error, self.asked = data, error, []  # type: list[MediaRef]

    async def send(self, chat_id: str, messages: list[Message]) -> None:
        raise AssertionError("nothing is sent here")

    async def show(self, chat_id: str, message: Message, replace: str | None = None) -> str:
        raise AssertionError("nothing is shown here")

    async def fetch(self, ref: MediaRef) -> bytes:
        self.asked.append(ref)
        if self.error is not None:
            raise self.error
        return self.data


async def announcement(
    db: Database,
    media: dict[str, Any],
    *,
    zalo: int = 1,
    test: int = 1,
    roles: list[str] | None = None,
) -> int:
    """An announcement to the subscribers of Nghi Hương (``zalo`` on Zalo, ``test`` others),
    or with ``roles`` to those members of it (and no citizens)."""
    await make_world(db)
    async with UnitOfWork(db) as uow:
        unit = await by_code(uow.session, "nghi-huong")
        assert isinstance(unit, Unit)
        for channel, count in (("zalo", zalo), ("test", test)):
            for n in range(count):
                who = await identity_for(uow.session, channel, f"{channel}-{n}", language="vi")
                uow.session.add(Subscription(identity_id=who.id, unit_id=unit.id, created_at=NOW))
        await uow.session.flush()
        content = {"text": "Cảnh giác lừa đảo.", "unit_name": unit.name, "media": media}
        b, _asked = await save(
            uow.session,
            Settings(),
            author_member_id=None,
            unit=unit,
            roles=roles or [],
            citizens=roles is None,
            content=content,
            send_at=None,
            now=NOW,
            recipients=zalo + test,
            status_identity_id=None,
        )
        await uow.commit()
        return b.id


async def stored(db: Database, broadcast_id: int) -> Broadcast:
    async with db.sessions() as s:
        b = await repo.get(s, broadcast_id)
        assert b is not None
        return b


def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


def read(path: str | Path) -> bytes:
    return Path(path).read_bytes()


def kept_path(root: Path, digest: str) -> Path:
    return root.resolve() / "media" / digest[:2] / digest


def citizen_files(b: Broadcast) -> list[list[Any]]:
    files: list[list[Any]] = b.messages["citizen"]["vi"][0].get("files", [])
    return files


async def test_bytes_from_the_command_line_are_kept_and_leave_the_row(
    db: Database, tmp_path: Path
) -> None:
    data = base64.b64encode(PHOTO).decode()
    bid = await announcement(db, {"kind": "photo", "data": data, "name": "canh-bao.jpg"})
    assert await keep_file(db, settings(tmp_path), bid, NOW, served={"zalo", "test"})
    b = await stored(db, bid)
    digest = hashlib.sha256(PHOTO).hexdigest()
    path = kept_path(tmp_path, digest)
    assert read(path) == PHOTO
    assert b.content["media"] == {
        "kind": "photo",
        "name": "canh-bao.jpg",
        "stored": str(path),
        "sha256": digest,
        "size": len(PHOTO),
    }
    assert citizen_files(b) == [["photo", "", "canh-bao.jpg", str(path)]]
    assert "image" not in b.messages["citizen"]["vi"][0]  # no copy of the bytes any more


async def test_nothing_is_kept_without_zalo_recipients_or_a_zalo_sender(
    db: Database, tmp_path: Path
) -> None:
    media = {"kind": "photo", "channel": "telegram", "file_id": "tg-photo"}
    bid = await announcement(db, media, zalo=1)
    source = Source()
    assert await keep_file(
        db, settings(tmp_path), bid, NOW, channels={"telegram": source}, served={"telegram"}
    )
    assert source.asked == [] and (await stored(db, bid)).content["media"] == media
    async with db.sessions() as s:  # the Zalo subscriber leaves: no Zalo recipient at all
        await s.execute(Subscription.__table__.delete())
        await s.commit()
    assert await keep_file(db, settings(tmp_path), bid, NOW, channels={"telegram": source})
    assert source.asked == [] and (await stored(db, bid)).content["media"] == media


async def test_a_telegram_file_is_fetched_once_by_its_channel(db: Database, tmp_path: Path) -> None:
    media = {"kind": "photo", "channel": "telegram", "file_id": "tg-photo", "size": 30}
    bid = await announcement(db, media)
    source = Source()
    channels = {"telegram": source}
    assert await keep_file(db, settings(tmp_path), bid, NOW, channels=channels)
    assert [(r.kind, r.file_id, r.size) for r in source.asked] == [("photo", "tg-photo", 30)]
    b = await stored(db, bid)
    assert b.content["media"]["file_id"] == "tg-photo"  # Telegram still sends it by its id
    assert b.content["media"]["sha256"] == hashlib.sha256(PHOTO).hexdigest()
    [[kind, file_id, _name, path]] = citizen_files(b)
    assert (kind, file_id, read(path)) == ("photo", "tg-photo", PHOTO)
    assert await keep_file(db, settings(tmp_path), bid, NOW, channels=channels)
    assert len(source.asked) == 1  # kept: never fetched again


async def test_a_zalo_photo_is_kept_and_its_expiring_url_dropped(
    db: Database, tmp_path: Path
) -> None:
    media = {"kind": "photo", "channel": "zalo", "file_id": "https://zalo.example/p.jpg"}
    bid = await announcement(db, media)
    source = Source()
    source.name = "zalo"
    assert await keep_file(db, settings(tmp_path), bid, NOW, channels={"zalo": source})
    b = await stored(db, bid)
    assert b.content["media"]["file_id"] == ""
    [[_kind, file_id, _name, path]] = citizen_files(b)
    assert file_id == "" and read(path) == PHOTO


async def test_a_file_no_process_here_can_fetch_waits_then_is_given_up(
    db: Database, tmp_path: Path
) -> None:
    media = {"kind": "photo", "channel": "telegram", "file_id": "tg-photo"}
    bid = await announcement(db, media)
    assert False is await keep_file(db, settings(tmp_path), bid, NOW, channels={})
    assert False is await keep_file(
        db, settings(tmp_path), bid, NOW + KEEP_WAIT - dt.timedelta(seconds=1)
    )
    assert (await stored(db, bid)).content["media"] == media
    assert await keep_file(db, settings(tmp_path), bid, NOW + KEEP_WAIT)
    b = await stored(db, bid)
    assert b.content["media"]["keep_error"] == "no process could fetch it"
    assert "stored" not in b.content["media"]
    assert await keep_file(db, settings(tmp_path), bid, NOW + KEEP_WAIT)  # given up: no wait


async def test_a_failing_fetch_is_tried_again_then_given_up(db: Database, tmp_path: Path) -> None:
    media = {"kind": "photo", "channel": "telegram", "file_id": "tg-photo"}
    bid = await announcement(db, media)
    source = Source(error=TransientError("503 Service Unavailable"))
    channels = {"telegram": source}
    assert False is await keep_file(db, settings(tmp_path), bid, NOW, channels=channels)
    assert len(source.asked) == 1 and "keep_error" not in (await stored(db, bid)).content["media"]
    later = NOW + KEEP_WAIT
    assert await keep_file(db, settings(tmp_path), bid, later, channels=channels)
    error = (await stored(db, bid)).content["media"]["keep_error"]
    assert error == "TransientError: 503 Service Unavailable"


async def test_a_fan_out_under_way_keeps_its_messages(db: Database, tmp_path: Path) -> None:
    media = {"kind": "photo", "channel": "telegram", "file_id": "tg-photo"}
    bid = await announcement(db, media)
    async with db.sessions() as s:
        b = await repo.get(s, bid)
        assert b is not None
        b.status = "fanout"
        await s.commit()
    source = Source()
    assert await keep_file(db, settings(tmp_path), bid, NOW, channels={"telegram": source})
    assert source.asked == [] and (await stored(db, bid)).content["media"] == media


def test_a_file_is_waited_for_five_minutes() -> None:
    assert dt.timedelta(minutes=5) == KEEP_WAIT  # as the README says


async def test_a_broadcast_without_a_file_or_with_its_file_kept_goes_at_once(
    db: Database, tmp_path: Path
) -> None:
    bid = await announcement(db, {})
    assert True is await keep_file(db, settings(tmp_path), bid, NOW, channels={})
    async with db.sessions() as s:
        b = await repo.get(s, bid)
        assert b is not None
        b.content = {**b.content, "media": {"kind": "photo", "file_id": "x", "stored": "/k"}}
        await s.commit()
    assert True is await keep_file(db, settings(tmp_path), bid, NOW, channels={})


async def test_given_up_is_final(db: Database, tmp_path: Path) -> None:
    media = {"kind": "photo", "channel": "telegram", "file_id": "tg-photo", "keep_error": "x"}
    bid = await announcement(db, media)
    source = Source()
    assert True is await keep_file(db, settings(tmp_path), bid, NOW, channels={"telegram": source})
    assert source.asked == []


async def test_an_old_draft_s_file_is_telegram_s_and_keeps_its_name(
    db: Database, tmp_path: Path
) -> None:
    media = {"kind": "document", "file_id": "tg-doc", "name": "to-roi.pdf"}  # no "channel"
    bid = await announcement(db, media)
    source = Source(data=b"%PDF-1.4")
    assert True is await keep_file(db, settings(tmp_path), bid, NOW, channels={"telegram": source})
    assert [(r.kind, r.file_id, r.name) for r in source.asked] == [
        ("document", "tg-doc", "to-roi.pdf")
    ]


async def test_a_zalo_officer_in_a_member_audience_needs_the_file(
    db: Database, tmp_path: Path
) -> None:
    media = {"kind": "photo", "channel": "telegram", "file_id": "tg-photo"}
    bid = await announcement(db, media, zalo=0, test=0, roles=["officer"])
    async with db.sessions() as s:  # the officer of Nghi Hương reads the bot on Zalo
        await s.execute(
            Identity.__table__.update().where(Identity.external_id == "o-nh").values(channel="zalo")
        )
        await s.commit()
    source = Source()
    assert True is await keep_file(db, settings(tmp_path), bid, NOW, channels={"telegram": source})
    assert len(source.asked) == 1 and "stored" in (await stored(db, bid)).content["media"]


async def test_a_cancel_during_the_fetch_wins(db: Database, tmp_path: Path) -> None:
    media = {"kind": "photo", "channel": "telegram", "file_id": "tg-photo"}
    bid = await announcement(db, media)

    class CancelledMeanwhile(Source):
        async def fetch(self, ref: MediaRef) -> bytes:
            async with db.sessions() as s:
                await s.execute(
                    Broadcast.__table__.update()
                    .where(Broadcast.id == bid)
                    .values(status="cancelled")
                )
                await s.commit()
            return await super().fetch(ref)

    source = CancelledMeanwhile()
    assert True is await keep_file(db, settings(tmp_path), bid, NOW, channels={"telegram": source})
    assert (await stored(db, bid)).content["media"] == media  # nothing written after it


async def test_a_long_error_is_kept_short(db: Database, tmp_path: Path) -> None:
    media = {"kind": "photo", "channel": "telegram", "file_id": "tg-photo"}
    bid = await announcement(db, media)
    source = Source(error=TransientError("x" * 500))
    later = NOW + KEEP_WAIT
    assert True is await keep_file(
        db, settings(tmp_path), bid, later, channels={"telegram": source}
    )
    error = (await stored(db, bid)).content["media"]["keep_error"]
    assert error == ("TransientError: " + "x" * 500)[:300] and len(error) == 300


async def test_a_broadcast_waiting_for_its_file_holds_back_no_other(
    db: Database, tmp_path: Path
) -> None:
    """The fan-out job goes on to the next announcement while one waits for its file."""
    from scheduler.broadcast import fan_out_due

    media = {"kind": "photo", "channel": "telegram", "file_id": "tg-photo"}
    waiting = await announcement(db, media)
    async with UnitOfWork(db) as uow:
        unit = await by_code(uow.session, "nghi-huong")
        assert isinstance(unit, Unit)
        content = {"text": "Không có ảnh.", "unit_name": unit.name}
        plain, _asked = await save(
            uow.session,
            Settings(),
            author_member_id=None,
            unit=unit,
            roles=[],
            citizens=True,
            content=content,
            send_at=None,
            now=NOW,
            recipients=2,
            status_identity_id=None,
        )
        await uow.commit()
    assert await fan_out_due(db, settings(tmp_path), NOW, channels={}) == 1
    assert (await stored(db, waiting)).status == "scheduled"
    assert (await stored(db, plain.id)).status == "sending"
