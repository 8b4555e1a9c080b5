"""``antt broadcast send|list|status|cancel`` in-process on real PostgreSQL: what is saved,
the one-line refusals (empty text, too long, file too large, past time, nobody, unknown
audience), the approval rule, and cancel."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from db.session import Database
from tests.integration.test_broadcast import add_subscribers
from tests.integration.test_cli import antt, antt_env, sql
from tests.integration.tip_helpers import make_world

__all__ = ["antt_env"]


def world(url: str, subscribers: int = 0) -> None:
    async def run() -> None:
        database = Database(url, pool_size=1)
        try:
            made = await make_world(database)
            if subscribers:
                await add_subscribers(database, made.units["ben-thuy"], 1, subscribers)
        finally:
            await database.dispose()

    asyncio.run(run())


def test_send_list_status_cancel(
    antt_env: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    world(antt_env, subscribers=4)
    text = tmp_path / "canh-bao.txt"
    text.write_text("Cảnh báo thủ đoạn lừa đảo mới.\n", encoding="utf-8")
    photo = tmp_path / "to-roi.jpg"
    photo.write_bytes(b"\xff\xd8\xff" + b"0" * 5000)
    code, out, err = antt(
        capsys,
        "broadcast", "send", "--unit", "vinh", "--audience", "officers,citizens",
        "--text", str(text), "--photo", str(photo), "--at", "01/01/2099 08:00",
    )  # fmt: skip
    assert code == 0, err
    assert "Announcement #1: 6 recipients (test 6)." in out
    rows = sql(antt_env, "SELECT status, recipients, audience, send_at FROM broadcast")
    assert rows[0][:3] == ("scheduled", 6, {"roles": ["officer"], "citizens": True})
    assert rows[0][3].isoformat() == "2099-01-01T01:00:00+00:00"  # 08:00 in Hanoi
    assert sql(antt_env, "SELECT count(*) FROM outbox") == [(0,)]  # the scheduler fans out
    audited = "SELECT action FROM audit WHERE action LIKE 'broadcast.%'"
    assert sql(antt_env, audited) == [("broadcast.create",)]

    code, out, _err = antt(capsys, "broadcast", "list")
    assert code == 0 and "scheduled" in out and "vinh" in out
    code, out, _err = antt(capsys, "broadcast", "status", "1")
    assert "Sent 0, pending 0, blocked 0, failed 0, cancelled 0 (of 6)." in out
    code, out, _err = antt(capsys, "broadcast", "cancel", "1")
    assert code == 0 and "Announcement #1 is cancelled" in out
    assert sql(antt_env, "SELECT status FROM broadcast") == [("cancelled",)]
    code, _out, err = antt(capsys, "broadcast", "cancel", "1")
    assert code != 0 and "already finished" in err


def test_bad_input_is_one_line_and_saves_nothing(
    antt_env: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    world(antt_env)
    empty, long, fine = tmp_path / "e.txt", tmp_path / "l.txt", tmp_path / "f.txt"
    empty.write_text("  \n", encoding="utf-8")
    long.write_text("x" * 1000, encoding="utf-8")
    fine.write_text("Lịch trực Tết.", encoding="utf-8")
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF" + b"0" * (21 * 1024 * 1024))
    base = ["broadcast", "send", "--unit", "vinh"]
    past = ["--at", "01/01/2020 08:00"]
    cases = [
        ([*base, "--audience", "officers", "--text", str(empty)], "needs a text"),
        ([*base, "--audience", "officers", "--text", str(long), "--photo", str(fine)], "1024"),
        ([*base, "--audience", "officers", "--text", str(fine), "--document", str(big)], "20 MB"),
        ([*base, "--audience", "officers", "--text", str(fine), *past], "passed"),
        ([*base, "--audience", "citizens", "--text", str(fine)], "Nobody"),
        ([*base, "--audience", "mayors", "--text", str(fine)], "unknown audience"),
        ([*base[:3], "atlantis", "--audience", "officers", "--text", str(fine)], "atlantis"),
    ]  # fmt: skip
    for args, expected in cases:
        code, out, err = antt(capsys, *args)
        assert code == 2, (args, out, err)
        assert expected in err and err.count("\n") == 1, err
    assert sql(antt_env, "SELECT count(*) FROM broadcast") == [(0,)]


def test_above_the_threshold_it_waits_for_an_admin(
    antt_env: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world(antt_env, subscribers=3)
    monkeypatch.setenv("ANTT_BROADCAST_APPROVAL_THRESHOLD", "2")
    from bot.config import get_settings

    get_settings.cache_clear()
    text = tmp_path / "t.txt"
    text.write_text("Ngày hội toàn dân bảo vệ ANTT.", encoding="utf-8")
    code, out, err = antt(
        capsys, "broadcast", "send", "--unit", "ben-thuy", "--audience", "citizens",
        "--text", str(text),
    )  # fmt: skip
    assert code == 0, err
    assert "waits for an administrator's approval (0 asked)" in out
    assert sql(antt_env, "SELECT status FROM broadcast") == [("approval",)]
