"""The ``antt`` data commands, run in-process against the test database.

``bot.cli.main`` runs each async handler with ``asyncio.run``, so these tests are
plain functions (not coroutines); database checks open their own short-lived engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot import cli
from bot.config import get_settings
from db.invites import ALPHABET, CODE_LENGTH, InviteStatus, check_invite
from db.plan_import import SHIPPED_PLAN
from db.session import Database

ROOT = Path(__file__).resolve().parents[2]
CODE_RE = f"[{ALPHABET}]{{{CODE_LENGTH}}}"


@pytest.fixture
def antt_env(db: Database, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """ANTT_* settings pointing at the (emptied) test database, messages in English."""
    monkeypatch.setenv("ANTT_DATABASE_URL", pg_url)
    monkeypatch.setenv("ANTT_DEFAULT_LANGUAGE", "en")
    monkeypatch.delenv("ANTT_TELEGRAM_BOT_USERNAME", raising=False)
    get_settings.cache_clear()
    with _logging_restored():
        yield pg_url
    get_settings.cache_clear()


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    """``cli.main`` configures logging for the process; undo it for the tests that follow."""
    manager = logging.Logger.manager
    levels = {
        name: logger.level
        for name, logger in manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    root_level, root_handlers = logging.root.level, list(logging.root.handlers)
    try:
        yield
    finally:
        for name, logger in manager.loggerDict.items():
            if isinstance(logger, logging.Logger):
                logger.setLevel(levels.get(name, logging.NOTSET))
        logging.root.setLevel(root_level)
        logging.root.handlers[:] = root_handlers


def antt(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``antt ARGS`` in-process (in its own context, so its language does not leak)."""
    capsys.readouterr()
    code = contextvars.copy_context().run(cli.main, list(args))
    out, err = capsys.readouterr()
    return code, out, err


def sql(url: str, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    async def run() -> list[tuple[Any, ...]]:
        database = Database(url, pool_size=1)
        try:
            async with database.engine.begin() as conn:
                result = await conn.execute(text(statement), params)
                return [tuple(r) for r in result.all()] if result.returns_rows else []
        finally:
            await database.dispose()

    return asyncio.run(run())


def test_plan_import_twice(antt_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = antt(capsys, "plan", "import")
    assert code == 0, err
    assert f"from {SHIPPED_PLAN}" in out
    assert "Units: 40 created, 0 updated, 0 unchanged" in out
    assert "Assignments: 424 created, 0 updated, 0 unchanged" in out
    assert "Tip categories: 9 created" in out

    code, out, err = antt(capsys, "plan", "import", str(SHIPPED_PLAN))
    assert code == 0, err
    assert "Units: 0 created, 0 updated, 40 unchanged" in out
    assert "Tasks: 0 created, 0 updated, 36 unchanged" in out
    assert "Assignments: 0 created, 0 updated, 424 unchanged" in out
    assert "Nothing changed." in out
    assert sql(antt_env, "SELECT count(*) FROM assignment") == [(424,)]


def test_malformed_plan_exits_2_with_one_line(
    antt_env: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        SHIPPED_PLAN.read_text(encoding="utf-8").replace("kind: percent", "kind: share", 1),
        encoding="utf-8",
    )
    code, out, err = antt(capsys, "plan", "import", str(bad))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert re.match(rf"Error: {re.escape(str(bad))}:\d+: tasks\[typical-communes\]\.kind: ", err)
    assert "unknown task kind share" in err
    assert sql(antt_env, "SELECT count(*) FROM unit") == [(0,)]


def test_unit_import_and_list(
    antt_env: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    csv_file = tmp_path / "units.csv"
    csv_file.write_text(
        "code,name,kind,parent_code,valid_to,replaced_by\n"
        "na,Tỉnh Nghệ An,province,,,\n"
        "vinh,Thành phố Vinh,city,na,,\n"
        "xa-a,Xã A,commune,vinh,2025-06-30,xa-b\n"
        "xa-b,Phường B,ward,vinh,,\n"
        "dl,Huyện Đô Lương,district,na,,\n",
        encoding="utf-8",
    )
    code, out, err = antt(capsys, "unit", "import", str(csv_file))
    assert code == 0, err
    assert "Units: 5 created, 0 updated, 0 unchanged" in out
    code, out, _err = antt(capsys, "unit", "import", str(csv_file))
    assert "Units: 0 created, 0 updated, 5 unchanged" in out

    code, out, err = antt(capsys, "unit", "list", "--under", "vinh")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "vinh  Thành phố Vinh  (city)"
    assert "  xa-a  Xã A  (commune)  [closed 30/06/2025 → xa-b]" in lines
    assert "  xa-b  Phường B  (ward)" in lines
    assert lines[-1] == "3 units."
    code, out, _err = antt(capsys, "unit", "list")
    assert out.splitlines()[-1] == "5 units."

    code, out, err = antt(capsys, "unit", "list", "--under", "nowhere")
    assert (code, out) == (2, "")
    assert err == "Error: unknown unit nowhere\n"

    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,kind,parent_code\nx,X,cty,na\n", encoding="utf-8")
    code, out, err = antt(capsys, "unit", "import", str(bad))
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"Error: {bad}:2:3: kind: unknown unit kind cty")


def test_invite_create(
    antt_env: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert antt(capsys, "plan", "import")[0] == 0
    code, out, err = antt(
        capsys, "invite", "create", "--unit", "vinh", "--role", "officer", "--uses", "3"
    )
    assert code == 0, err
    match = re.search(rf"^Invite code: ({CODE_RE})$", out, re.M)
    assert match, out
    assert "Role: commune officer; unit: Thành phố Vinh (vinh); uses: 3; valid until" in out
    assert "t.me" not in out

    async def status(invite: str) -> tuple[InviteStatus, int | None]:
        database = Database(antt_env, pool_size=1)
        try:
            async with database.sessions() as session:
                checked = await check_invite(session, invite)
                return checked.status, checked.invite.max_uses if checked.invite else None
        finally:
            await database.dispose()

    assert asyncio.run(status(match.group(1))) == (InviteStatus.OK, 3)

    monkeypatch.setenv("ANTT_TELEGRAM_BOT_USERNAME", "@antt_test_bot")
    get_settings.cache_clear()
    code, out, err = antt(capsys, "invite", "create", "--unit", "do-luong", "--role", "force")
    assert code == 0, err
    invite = re.search(rf"^Invite code: ({CODE_RE})$", out, re.M)
    assert invite, out
    assert f"Link: https://t.me/antt_test_bot?start=inv_{invite.group(1)}" in out

    for args, message in (
        (("--unit", "nowhere", "--role", "officer"), "Error: unknown unit nowhere\n"),
        (("--unit", "vinh", "--role", "boss"), "Error: unknown role boss; expected one of: "),
        (("--unit", "vinh", "--role", "force", "--uses", "0"), "Error: --uses must be"),
        (("--unit", "vinh", "--role", "force", "--days", "0"), "Error: --days must be"),
    ):
        code, out, err = antt(capsys, "invite", "create", *args)
        assert (code, out) == (2, ""), args
        assert err.startswith(message) and err.count("\n") == 1, err
    assert sql(antt_env, "SELECT count(*) FROM invite") == [(2,)]


def test_member_grant_list_revoke(antt_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert antt(capsys, "plan", "import")[0] == 0
    [(member_id,)] = sql(
        antt_env, "INSERT INTO member (full_name) VALUES ('Nguyễn Văn A') RETURNING id"
    )
    member = str(member_id)

    code, out, err = antt(capsys, "member", "list")
    assert (code, out) == (0, "No members.\n")

    code, out, err = antt(
        capsys, "member", "grant", "--member", member, "--unit", "nghi-huong", "--role", "force"
    )
    assert code == 0, err
    assert out == f"Member {member} is now grassroots security force member of nghi-huong.\n"
    code, out, err = antt(
        capsys, "member", "grant", "--member", member, "--unit", "nghi-huong", "--role", "force"
    )
    assert "already" in out and code == 0

    code, out, err = antt(capsys, "member", "list", "--unit", "vinh")
    assert code == 0, err
    assert "Nguyễn Văn A" in out and "nghi-huong (Phường Nghi Hương)" in out
    code, out, err = antt(capsys, "member", "list", "--unit", "hoang-mai")
    assert out == "No members.\n"

    code, out, err = antt(
        capsys, "member", "revoke", "--member", member, "--unit", "nghi-huong", "--role", "force"
    )
    assert code == 0, err
    assert out == f"Member {member} is no longer grassroots security force member of nghi-huong.\n"
    assert antt(capsys, "member", "list")[1] == "No members.\n"

    code, out, err = antt(
        capsys, "member", "revoke", "--member", member, "--unit", "nghi-huong", "--role", "force"
    )
    assert (code, out) == (2, "")
    assert err == f"Error: Member {member} is not grassroots security force member of nghi-huong.\n"
    code, out, err = antt(
        capsys, "member", "grant", "--member", "999999", "--unit", "vinh", "--role", "admin"
    )
    assert (code, err) == (2, "Error: no member with id 999999\n")
    actions = sql(antt_env, "SELECT action FROM audit WHERE action LIKE 'role.%' ORDER BY id")
    assert actions == [("role.grant",), ("role.revoke",)]


def test_demo_prints_the_progress_table(antt_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = antt(capsys, "demo", "--setup-only")
    assert code == 0, err
    assert "Assignments: 424 created" in out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith(" #  Task"))
    assert "Units" in header and "Next deadline" in header
    assert any("Own implementation plan issued" in line for line in lines)  # English titles
    assert lines[-1] == "36 tasks, 424 assignments, 1 done."  # Nam Đàn's six-month report
    # a second run imports nothing new and prints the same table
    code, again, _err = antt(capsys, "demo", "--setup-only")
    assert "Nothing changed." in again
    assert again.splitlines()[-1] == lines[-1]


def test_role_choices_match_the_model() -> None:
    from bot.commands._args import ROLE_CHOICES
    from db.models import Role

    assert set(ROLE_CHOICES) == {r.value for r in Role}


def test_cli_startup_stays_light() -> None:
    probe = (
        "import bot.cli, sys; bot.cli.build_parser(); "
        "print('telegram' in sys.modules, 'PIL' in sys.modules, "
        "'sqlalchemy' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTT_")}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False", "False"], result.stderr


def test_help_lists_the_data_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    for command in ("plan", "unit", "invite", "member", "demo"):
        assert re.search(rf"^\s+{command}\s", result.stdout, re.M), command


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["run"], "run"),
        (["-v", "run", "--webhook", "https://x.test/hook"], "run"),
        (["--help"], None),
        ([], None),
        (["nosuch", "run"], None),
    ],
)
def test_the_command_named_on_the_line(argv: list[str], named: str | None) -> None:
    assert cli.named_command(argv) == named


def test_a_command_imports_only_its_own_module() -> None:
    probe = (
        "import bot.cli, sys; bot.cli.build_parser('run'); "
        "print(sorted(m for m in sys.modules if m.startswith('bot.commands.')))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTT_")}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "['bot.commands.run']", result.stderr


def test_errors_of_a_command_still_name_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["run", "--no-such-option"])
    assert stop.value.code == 2
    assert "--no-such-option" in capsys.readouterr().err
