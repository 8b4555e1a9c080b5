"""The demo's plan cycle: communes recognised in the register, the "remaining communes"
line, the six-month report with figures, the evaluation round the supervisor ranks; driven
through the real engine as the demo's supervisor persona."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from bot.demo_seed import DEMO_START, seed
from db.session import Database, UnitOfWork
from handlers.engine import Engine
from tests.support import Clock, Person


async def test_the_demo_supervisor_sees_the_plan_cycle(db: Database, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="demo-test-key")
    async with UnitOfWork(db) as uow:
        await seed(uow.session, settings)
        await uow.commit()
    engine = Engine(db, settings, clock=Clock(DEMO_START))
    supervisor = Person(engine, "supervisor", channel="emulator", language_code="vi")

    await supervisor.say("/progress")
    # The summary fits a phone screen (issue 16): the district's own tasks are a button
    # away, ten a page, laggards first; the register's line is on one of those pages.
    remaining = "sổ công nhận: 3 trong số 10 đơn vị cấp xã còn lại (30%)"
    pages = []
    button = next(c for c in supervisor.choices if c.startswith("pg:o:"))
    for page in range(3):  # 19 tasks: two pages
        await supervisor.press(f"{button.rsplit(':', 1)[0]}:{page}")
        pages.append(supervisor.text)
    assert any(remaining in text for text in pages)

    await supervisor.say("/recognised")
    assert "Sổ theo dõi đơn vị được công nhận: Huyện Nam Đàn" in supervisor.text
    assert "điển hình, kiểu mẫu: 5" in supervisor.text and "sạch về ma túy: 9" in supervisor.text

    await supervisor.say("/reports")
    await supervisor.press(supervisor.choices[0])  # the six-month report
    assert "Thuộc Huyện Nam Đàn: 1/1 đơn vị đã báo cáo (0 chậm hạn)." in supervisor.text
    assert "• Lượt người được tập huấn: 310" in supervisor.text

    await supervisor.say("/evaluation")
    assert "Đánh giá năm 2025: các đơn vị thuộc Huyện Nam Đàn" in supervisor.text
    assert "1. Xã Kim Liên: 81 (đã gửi, chờ quyết định)" in supervisor.text
    assert "Chưa gửi (11): " in supervisor.text
    review = next(c for c in supervisor.choices if c.startswith("ev:r:"))
    await supervisor.press(review)
    await supervisor.press(review.replace("ev:r:", "ev:d:"))
    assert "Đã quyết định: 81 điểm, xếp loại Khá." in supervisor.text
