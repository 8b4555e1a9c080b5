"""``antt evaluation open [--year YYYY] [--sheet FILE]`` and
``antt evaluation proposals [--unit CODE] [--output PATH]``: the yearly evaluation.

Opening a round keeps a copy of the scoring sheet (by default the shipped TEMPLATE,
``db/data/evaluation-sheet.yaml``); the proposals are the best decided units per
kind with their scores and evidence, as an Excel workbook (plan III.6).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.errors import UserError
from handlers.i18n import _


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("evaluation", help=_("the yearly evaluation and classification"))
    actions = parser.add_subparsers(dest="action", required=True)
    opening = actions.add_parser("open", help=_("open the evaluation round of a year"))
    opening.add_argument("--year", type=int, help=_("the year (default: this year)"))
    opening.add_argument("--sheet", help=_("the scoring sheet (default: the shipped template)"))
    opening.set_defaults(handler=open_command)
    props = actions.add_parser(
        "proposals", help=_("the commendation proposals as an Excel workbook")
    )
    props.add_argument("--unit", default="nghe-an", metavar="CODE", help=_("the unit's code"))
    props.add_argument("--year", type=int, help=_("the year (default: this year)"))
    props.add_argument("--output", "-o", type=Path, metavar="PATH", help=_("the file to write"))
    props.set_defaults(handler=proposals_command)


async def open_command(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.config import get_settings
    from db import evaluation as ev
    from db.models import utcnow
    from db.session import UnitOfWork
    from handlers.i18n import local_today

    sheet = ev.load_sheet(args.sheet or ev.SHIPPED_SHEET)
    year = args.year or local_today(utcnow()).year
    async with open_database(get_settings()) as db, UnitOfWork(db) as uow:
        _round, created = await ev.open_round(uow.session, year, sheet, actor_member_id=None)
        await uow.commit()
    if created:
        print(_("Evaluation round {year} opened.").format(year=year))
    else:
        print(_("The evaluation round {year} is already open; nothing changed.").format(year=year))
    if sheet.get("template"):
        print(_("Note: the scoring sheet is a TEMPLATE; replace it with the official criteria."))
    return 0


async def proposals_command(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.config import get_settings
    from db import evaluation as ev
    from db.models import utcnow
    from db.units import by_code
    from handlers.evaluation import proposals_workbook
    from handlers.i18n import local_today

    year = args.year or local_today(utcnow()).year
    async with open_database(get_settings()) as db, db.sessions() as session:
        round_ = await ev.round_of(session, year)
        if round_ is None:
            raise UserError(_("No evaluation round {year}.").format(year=year))
        root = await by_code(session, args.unit)
        if root is None:
            raise UserError(_("unknown unit {code}").format(code=args.unit))
        proposals = await ev.commendation_proposals(session, round_, root)
        doc = proposals_workbook(round_, proposals)
    path = args.output or Path(f"commendations-{year}-{args.unit}.xlsx")
    path.write_bytes(doc)
    print(_("{count} proposals written to {path}.").format(count=len(proposals), path=path))
    return 0
