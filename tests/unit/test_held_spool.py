"""``HeldSpool``: which updates go to disk, when, and when their files go (real files)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from telegram import Update

from bot.channels.telegram.held import HeldSpool, SpoolingQueue


class Outage:
    def __init__(self) -> None:
        self.on = False

    def __call__(self) -> bool:
        return self.on


def message(update_id: int, text: str, user: int = 42) -> Update:
    person = {"id": user, "is_bot": False, "first_name": "Lan"}
    data = {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": user, "type": "private"},
            "from": person,
            "text": text,
        },
    }
    update = Update.de_json(data, None)
    assert update is not None
    return update


def files(tmp_path: Path) -> list[str]:
    folder = tmp_path / "held" / "telegram"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_nothing_is_written_while_the_database_answers(tmp_path: Path) -> None:
    spool = HeldSpool(tmp_path, outage=Outage())
    queue = SpoolingQueue(spool)
    for n in (1, 2, 3):
        queue.put_nowait(message(n, "hello"))
    spool.settled(message(1, "hello"), keep=False)
    assert not (tmp_path / "held").exists()
    assert spool.kept == 0


def test_an_outage_puts_every_update_in_hand_on_disk_until_it_is_handled(
    tmp_path: Path,
) -> None:
    outage = Outage()
    spool = HeldSpool(tmp_path, outage=outage)
    queue = SpoolingQueue(spool)
    first, second, third = message(7, "/tip"), message(8, "2"), message(9, "/menu", user=43)
    queue.put_nowait(first)
    queue.put_nowait(second)  # came before the outage was known
    outage.on = True
    spool.outage_began()  # the first try of update 7 found the database down
    assert files(tmp_path) == ["7.json", "8.json"]
    queue.put_nowait(third)  # during the outage: at once
    assert files(tmp_path) == ["7.json", "8.json", "9.json"]
    outage.on = False
    spool.settled(first, keep=False)
    spool.settled(third, keep=True)  # given up on (a stop): stays
    assert files(tmp_path) == ["8.json", "9.json"]
    spool.settled(second, keep=False)
    assert files(tmp_path) == ["9.json"] and spool.kept == 1


def test_the_next_start_replays_in_id_order_and_removes_each_once_handled(
    tmp_path: Path,
) -> None:
    before = HeldSpool(tmp_path, outage=lambda: True)
    for n, text in ((10, "/menu"), (9, "/tip"), (100, "/help")):
        before.arrived(message(n, text))  # 100 after 10 after 9, not "10" < "100" < "9"
    (tmp_path / "held" / "telegram" / "11.json").write_text("{not json", encoding="utf-8")

    after = HeldSpool(tmp_path, outage=lambda: False)
    replayed = after.replay(None)
    assert [(u.update_id, u.message.text if u.message else None) for u in replayed] == [
        (9, "/tip"),
        (10, "/menu"),
        (100, "/help"),
    ]
    assert files(tmp_path) == ["10.json", "100.json", "11.json", "9.json"]  # until handled
    for update in replayed:
        after.arrived(update)
        after.settled(update, keep=False)
    assert files(tmp_path) == ["11.json"]  # unreadable: left for a person to look at


def test_a_stop_keeps_what_is_still_in_hand(tmp_path: Path) -> None:
    spool = HeldSpool(tmp_path, outage=lambda: False)
    spool.arrived(message(5, "/start"))
    spool.arrived(message(6, "/menu"))
    spool.settled(message(5, "/start"), keep=False)
    spool.keep_all()
    assert files(tmp_path) == ["6.json"] and spool.kept == 1


def test_a_kept_file_and_its_folder_are_synced_to_disk_before_it_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A power cut cannot be made here, so the test records what reached fsync (and
    # lets the real fsync run): the file's bytes while still under its temporary
    # name, then the folder that holds the new name.
    synced: list[tuple[str, str]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        content = Path(path).read_text(encoding="utf-8") if Path(path).is_file() else ""
        synced.append((path, content))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    spool = HeldSpool(tmp_path, outage=lambda: True)
    spool.arrived(message(5, "/start"))
    folder = str((tmp_path / "held" / "telegram").resolve())
    assert [path for path, _ in synced] == [f"{folder}/5.tmp", folder]
    assert json.loads(synced[0][1])["message"]["text"] == "/start"  # whole when synced
    assert files(tmp_path) == ["5.json"] and spool.kept == 1
