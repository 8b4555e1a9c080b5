"""The secret key: weak keys refused, the demo's own key, rotation to a new key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.commands.demo import demo_only
from bot.config import SecretStr, Settings
from bot.errors import UserError
from bot.keys import demo_key, key_bits, new_key, require_strong_key
from db import tips as repo
from db.models import Outbox, Tip, TipReporter
from db.rekey import reseal_all
from db.sealed import open_ref, payload_messages, seal_ref, unseal
from db.session import Database
from tests.integration.test_cli import _logging_restored
from tests.integration.tip_helpers import make_engine, make_world, send_tip, staff
from tests.support import TEST_KEY, Clock, Person

OLD = "0ld-K3y_0f-32-rAnd0m-bYtes_bEfore-the-r0tation"
NEW = "n3w-K3y_0f-32-rAnd0m-bYtes_aFter-the-r0tati0n!"


def test_key_strength() -> None:
    assert key_bits("dev-only-change-me") == 0
    assert key_bits("ab" * 40) == 0  # long, but two characters
    assert key_bits("0123456789abcdef" * 4) == 256  # 64 hex digits = 32 bytes
    # `openssl rand -hex 32` rarely shows all 16 digits (here 12 of them): still a key
    assert key_bits("0123456789ab" * 5 + "0123") == 256
    assert key_bits("012345678" * 7 + "0") == 0  # 9 different digits: a pattern
    assert key_bits("0123456789abcdef" * 3) == 192
    assert key_bits(new_key()) >= 256 and len(new_key()) == 43
    require_strong_key(Settings(secret_key=TEST_KEY))  # type: ignore[arg-type]
    with pytest.raises(UserError, match="ANTT_SECRET_KEY"):
        require_strong_key(Settings(secret_key="a-passphrase-of-28-characters"))  # type: ignore[arg-type]


def test_antt_secret_new_prints_a_strong_key(capsys: pytest.CaptureFixture[str]) -> None:
    with _logging_restored():
        assert main(["secret", "new"]) == 0
    key = capsys.readouterr().out.strip()
    assert key_bits(key) >= 256


def test_the_demo_makes_its_key_once_and_keeps_it_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "demo", secret_key="dev-only-change-me")  # type: ignore[arg-type]
    first = demo_only(settings).secret_key.get_secret_value()
    assert key_bits(first) >= 256
    path = tmp_path / "demo" / "secret-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert demo_only(settings).secret_key.get_secret_value() == first == demo_key(path.parent)
    chosen = settings.model_copy(update={"secret_key": SecretStr(TEST_KEY)})
    assert demo_only(chosen).secret_key.get_secret_value() == TEST_KEY


@pytest.mark.parametrize(
    "changes",
    [
        {"web_host": "0.0.0.0"},
        {"web_host": "192.168.1.10"},
        {"database_url": "postgresql://antt:pw@db.province.gov.vn/antt"},
        {"database_url": "postgresql://antt:pw@10.0.0.5:5432/antt"},
    ],
)
def test_the_demo_refuses_a_public_host_or_a_remote_database(
    tmp_path: Path, changes: dict[str, str]
) -> None:
    values = {"data_dir": tmp_path, "secret_key": TEST_KEY, **changes}
    with pytest.raises(UserError, match="ANTT_WEB_HOST|ANTT_DATABASE_URL"):
        demo_only(Settings(**values))  # type: ignore[arg-type]


def test_the_demo_accepts_loopback_and_a_local_socket(tmp_path: Path) -> None:
    for url in ("postgresql://postgres:@/postgres?host=/tmp/pg", "postgresql://u@127.0.0.1/x"):
        settings = Settings(data_dir=tmp_path, secret_key=TEST_KEY, database_url=url)  # type: ignore[arg-type]
        assert demo_only(settings).database_url is not None


async def test_rotation_keeps_codes_links_and_buttons_then_reseals(db: Database) -> None:
    await make_world(db)
    clock = Clock()
    before = make_engine(db, clock, secret_key=OLD)
    citizen = Person(before, "rep-r", language_code="en")
    code = await send_tip(citizen)
    async with db.sessions() as s:
        tip = (await s.execute(select(Tip))).scalar_one()
        old_hash = tip.code_hash
    button = seal_ref(before.settings, tip.id)
    officer = staff(before, "o-nh")
    await officer.press(f"tr:ack:{tip.id}")  # a sealed message waits for the reporter

    rotated = Settings(secret_key=NEW, secret_key_previous=OLD)  # type: ignore[arg-type]
    only_new = Settings(secret_key=NEW)  # type: ignore[arg-type]
    assert open_ref(only_new, button) is None and open_ref(rotated, button) == tip.id
    after = make_engine(db, clock, secret_key=NEW, secret_key_previous=OLD)
    await Person(after, "rep-r", language_code="en").say(f"/status {code}")
    async with db.sessions() as s:
        rekeyed = await s.scalar(select(Tip.code_hash))
        assert await repo.by_code(s, only_new, code) is not None  # re-keyed when used
    assert rekeyed != old_hash

    done = await reseal_all(db, rotated)
    assert (done.links, done.messages) == (1, 1) and done.conversations >= 1
    async with db.sessions() as s:
        blob = await s.scalar(select(TipReporter.sealed))
        payload = (
            await s.execute(select(Outbox.payload).where(Outbox.dedup_key.like("tipr:%")))
        ).scalar_one()
    assert blob is not None and unseal(only_new, tip.id, blob) is not None
    assert "has been received" in str(payload_messages(only_new, payload))
    assert await reseal_all(db, rotated) == type(done)(0, 0, 0)  # twice does no harm


def test_antt_secret_rotate_needs_the_previous_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.config import get_settings

    monkeypatch.setenv("ANTT_DEFAULT_LANGUAGE", "en")
    monkeypatch.delenv("ANTT_SECRET_KEY_PREVIOUS", raising=False)
    get_settings.cache_clear()
    try:
        with _logging_restored():
            assert main(["secret", "rotate"]) == 2
        assert "ANTT_SECRET_KEY_PREVIOUS" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
