"""``antt demo``: the whole system on this machine, with a web emulator instead of a messenger.

The database (embedded unless ANTT_DATABASE_URL is set), the shipped plan, the
demo communes, people and history (:mod:`bot.demo_seed`); then the emulator,
the scheduler and the outbox sender (:mod:`bot.demo`) on
http://ANTT_WEB_HOST:ANTT_WEB_PORT until Ctrl-C, announced by a short banner
whose last line is the URL. Import reports, the province's progress table and
the INFO logs are shown with ``antt -v demo``. A second run reuses the data.
``--setup-only`` prints the reports and the table, and stops.
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import logging
from typing import TYPE_CHECKING

from bot.commands._output import render_table, shorten
from handlers.i18n import _, current_language, format_date, local_today

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.config import Settings
    from db.progress import TaskProgress

ROOT_UNIT = "nghe-an"
TITLE_WIDTH = 60


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "demo", help=_("the whole system on this machine, with a web emulator for every role")
    )
    parser.add_argument(
        "--port", type=int, help=_("the emulator's port (default: 8080, or ANTT_WEB_PORT)")
    )
    parser.add_argument(
        "--setup-only",
        action="store_true",
        help=_("prepare the data and print the progress table, without starting the emulator"),
    )
    parser.add_argument(
        "--date",
        metavar="DD/MM/YYYY",
        help=_("start the demo clock on this day (e.g. 01/07/2025, when the units are merged)"),
    )
    parser.set_defaults(handler=demo_command)


async def demo_command(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.commands.plan import print_plan_report
    from bot.config import get_settings
    from bot.demo import running_demo, saved_start
    from bot.demo_reorg import hand_over_mapping
    from bot.demo_seed import seed
    from bot.errors import UserError
    from bot.runtime import wait_for_stop_signal
    from db.progress import province_progress
    from db.session import UnitOfWork

    verbose = args.setup_only or getattr(args, "verbose", False)
    if not verbose:  # the banner only; the logs are for -v
        logging.getLogger().setLevel(logging.WARNING)
    settings = demo_only(get_settings())
    start = _start(args.date, settings.reminder_hour) if args.date else None
    if args.port is not None:
        settings = settings.model_copy(update={"web_port": args.port})
    if settings.database_url is None:
        print(_("Database: embedded PostgreSQL in {path}").format(path=settings.data_dir))
    async with open_database(settings) as db:
        async with db.sessions() as session:
            if await holds_real_people(session):
                raise UserError(not_a_demo_database())
        async with UnitOfWork(db) as uow:
            seeded = await seed(uow.session, settings)
            await hand_over_mapping(uow.session, start or saved_start(settings.data_dir))
            await uow.commit()
        async with db.sessions() as session:
            rows = await province_progress(
                session,
                ROOT_UNIT,
                today=local_today(start or saved_start(settings.data_dir)),
                plan_code=seeded.plans[0][1].plan_code,
            )
        if verbose:
            for file, report in seeded.plans:
                print(
                    _("Plan {code} imported from {file}.").format(code=report.plan_code, file=file)
                )
                print_plan_report(report)
            print()
            print(progress_table(rows))
        if args.setup_only:
            return 0
        try:
            async with running_demo(settings, db, start=start) as demo:
                print(banner(rows, start or saved_start(settings.data_dir)))
                print(_("The emulator is at {url} (Ctrl-C stops the demo).").format(url=demo.url))
                await wait_for_stop_signal()
        except OSError as exc:
            if exc.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                raise
            raise UserError(
                _("Cannot serve on port {port} ({error}); use --port or ANTT_WEB_PORT.").format(
                    port=settings.web_port, error=exc.strerror or exc
                )
            ) from exc
    print(_("The demo has stopped."))
    return 0


LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def not_a_demo_database() -> str:
    return _(
        "antt demo runs only on its own database (it adds an administrator and serves an "
        "emulator without passwords): unset ANTT_DATABASE_URL."
    )


def demo_only(settings: Settings) -> Settings:
    """The demo's settings, or a ``UserError`` when they point at something real.

    The emulator has no passwords and the demo seeds an administrator of the
    province, so the demo serves on loopback only, on the embedded database (or a
    PostgreSQL on this machine holding no real people, as the tests use), and,
    unless ANTT_SECRET_KEY is set, with a random key of its own kept in its data
    directory.
    """
    from urllib.parse import urlsplit

    from bot.config import DEFAULT_SECRET_KEY, SecretStr
    from bot.errors import UserError
    from bot.keys import demo_key

    if settings.web_host not in LOOPBACK:
        raise UserError(
            _(
                "antt demo serves only this machine (ANTT_WEB_HOST=127.0.0.1): its emulator has "
                "no passwords."
            )
        )
    if settings.database_url is not None:
        url = urlsplit(settings.database_url.get_secret_value())
        socket = "host=/" in (url.query or "")
        if not socket and (url.hostname or "") not in LOOPBACK:
            raise UserError(not_a_demo_database())
    if settings.secret_key.get_secret_value() == DEFAULT_SECRET_KEY:
        key = demo_key(settings.data_dir)
        settings = settings.model_copy(update={"secret_key": SecretStr(key)})
    return settings


async def holds_real_people(session: AsyncSession) -> bool:
    """True when someone reached the database through a real messenger (not the emulator)."""
    from sqlalchemy import select

    from bot.channels.emulator import CHANNEL
    from db.models import Identity

    found = await session.scalar(select(Identity.id).where(Identity.channel != CHANNEL).limit(1))
    return found is not None


def _start(value: str, hour: int) -> dt.datetime:
    """``--date DD/MM/YYYY``: that day at the morning hour, not before the demo's first day."""
    from bot.demo_seed import DEMO_START, TZ
    from bot.errors import UserError
    from db.reorg_file import parse_date

    day = parse_date(value)
    if day is None:
        raise UserError(_("--date {value}: not a date (dd/mm/yyyy)").format(value=value))
    if day < DEMO_START.date():
        raise UserError(
            _("--date {value}: the demo starts on {first}").format(
                value=value, first=format_date(DEMO_START)
            )
        )
    return dt.datetime.combine(day, dt.time(hour), tzinfo=TZ)


def banner(rows: list[TaskProgress], start: dt.datetime) -> str:
    """Two lines before the URL: what this is, and what is loaded."""
    return "\n".join(
        [
            _("ANTT Bot demo: every role in one browser window; data kept in ANTT_DATA_DIR."),
            _("Plan loaded: {tasks} tasks, {assignments} assignments; demo day {date}.").format(
                tasks=len(rows),
                assignments=sum(r.assignments for r in rows),
                date=format_date(start),
            ),
        ]
    )


def progress_table(rows: list[TaskProgress]) -> str:
    """The progress rows as a text table, titles in the current language."""
    lang = current_language()
    headers = ["#", _("Task"), _("Units"), _("Checked in"), _("Done"), _("Next deadline")]
    table = [
        (
            i,
            shorten(row.title(lang), TITLE_WIDTH),
            row.assignments,
            row.checked_in,
            row.done,
            format_date(row.next_deadline) if row.next_deadline else "-",
        )
        for i, row in enumerate(rows, start=1)
    ]
    total = sum(r.assignments for r in rows)
    done = sum(r.done for r in rows)
    footer = _("{tasks} tasks, {assignments} assignments, {done} done.").format(
        tasks=len(rows), assignments=total, done=done
    )
    return render_table(headers, table, right=(0, 2, 3, 4)) + "\n" + footer
