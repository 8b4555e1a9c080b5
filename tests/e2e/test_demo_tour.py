"""What each press of "Next day" brings in the demo, as the README's tour says
(step 4 of "Ten minutes"): the proactive messages of the officer and the supervisor,
press by press, with the outbox drained in between."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from bot.config import Settings
from bot.demo import running_demo
from bot.demo_seed import DEMO_START, seed
from db.models import Outbox
from db.session import Database, UnitOfWork
from handlers.render import to_plain


async def drained(db: Database) -> None:
    for _ in range(600):
        async with db.sessions() as s:
            pending = await s.scalar(
                select(func.count()).select_from(Outbox).where(Outbox.status == "pending")
            )
        if not pending:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the outbox did not drain")


DIGEST = "📋 Bản tin hằng ngày: Huyện Nam Đàn"
# press -> persona -> the messages that arrive on their own (their first lines, in order),
# and words the message must hold. Presses 2 to 5 bring the supervisor's digest only.
EXPECTED: dict[int, dict[str, list[tuple[str, str]]]] = {
    1: {
        "officer": [
            ("Nhắc hạn nhiệm vụ", "hôm nay, 06/05/2025"),  # the drug-free file
            ("Báo cáo tiến độ hằng tuần", ""),
        ],
        "supervisor": [("Tin báo #2", "chưa được tiếp nhận"), (DIGEST, "")],
    },
    **{day: {"supervisor": [(DIGEST, "")]} for day in (2, 3, 4, 5)},
    6: {
        "officer": [("Nhắc hạn nhiệm vụ", "ngày mai, 12/05/2025")],  # the cameras
        "supervisor": [(DIGEST, "")],
    },
    7: {
        "officer": [
            ("Nhắc hạn nhiệm vụ", "hôm nay, 12/05/2025"),
            ("Báo cáo tiến độ hằng tuần", ""),
        ],
        "supervisor": [(DIGEST, "")],
    },
    8: {
        "officer": [("Nhiệm vụ quá hạn", "06/05/2025, đã quá 7 ngày")],  # the drug-free file
        "supervisor": [(DIGEST, "")],
    },
}


def test_the_readme_tells_the_same_story() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for claim in (
        "**first press (06/05):**",
        "**second to fifth press:** the supervisor's digest only",
        "**sixth press (11/05):** the officer is reminded that the cameras are due\n     tomorrow",
        "**seventh (12/05):** due today, and the weekly nudge again",
        "**eighth (13/05):** the drug-free file, a week overdue",
    ):
        assert claim in readme, claim


async def test_each_press_of_next_day_brings_what_the_readme_says(
    db: Database, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, web_port=0)
    async with UnitOfWork(db) as uow:
        await seed(uow.session, settings)
        await uow.commit()
    async with running_demo(settings, db, start=DEMO_START) as demo:
        await drained(db)
        seen = {p: len(demo.channel.history(p)) for p in demo.channel.personas}
        for press in range(1, 9):
            await demo.clock.advance()
            await drained(db)
            arrived: dict[str, list[str]] = {}
            for persona in demo.channel.personas:
                new = demo.channel.history(persona)[seen[persona] :]
                seen[persona] += len(new)
                texts = [to_plain(e.html) for e in new if e.proactive and e.html]
                # A digest's details follow its summary: only first messages are counted.
                texts = [t for t in texts if not t.startswith("Tin báo mới trong 24 giờ")]
                if texts:
                    arrived[persona] = texts
            wanted = EXPECTED[press]
            assert set(arrived) == set(wanted), (press, arrived)
            for persona, messages in wanted.items():
                got = arrived[persona]
                assert len(got) == len(messages), (press, persona, got)
                for text, (start, words) in zip(got, messages, strict=True):
                    assert text.startswith(start) and words in text, (press, persona, text)
