"""``antt register import FILE.csv`` and ``antt register export [--unit CODE] [--output PATH]``:
the register of recognised units as CSV (the shape is in :mod:`db.register_csv`).

A refused file prints one line per problem on stderr and writes nothing.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from bot.commands._output import counts_line
from bot.errors import UserError
from handlers.i18n import _


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("register", help=_("the register of recognised units"))
    actions = parser.add_subparsers(dest="action", required=True)
    imp = actions.add_parser(
        "import",
        help=_(
            "import recognitions from CSV: unit_code,kind,level,decided_by,decision_no,"
            "decided_on,status,status_on,note"
        ),
    )
    imp.add_argument("file", help=_("the CSV file (UTF-8)"))
    imp.set_defaults(handler=import_register_command)
    exp = actions.add_parser("export", help=_("write the register as CSV"))
    exp.add_argument("--unit", metavar="CODE", help=_("only this unit and the units below it"))
    exp.add_argument(
        "--output", "-o", type=Path, metavar="PATH", help=_("the file to write (default: stdout)")
    )
    exp.set_defaults(handler=export_register_command)


async def import_register_command(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.config import get_settings
    from db.models import utcnow
    from db.register_csv import RegisterFileError, import_register, read_register_csv
    from db.session import UnitOfWork
    from handlers.i18n import local_today

    try:
        rows = read_register_csv(args.file, local_today(utcnow()))
        async with open_database(get_settings()) as db, UnitOfWork(db) as uow:
            result = await import_register(uow.session, args.file, rows, actor_member_id=None)
            await uow.commit()
    except RegisterFileError as refused:
        for issue in refused.issues:
            print(issue, file=sys.stderr)
        print(_("Nothing was written."), file=sys.stderr)
        return 2
    print(_("Register imported from {file}.").format(file=args.file))
    print(counts_line("recognitions", result.recognitions))
    print(counts_line("status events", result.events))
    if not (result.recognitions.changed or result.events.changed):
        print(_("Nothing changed."))
    return 0


async def export_register_command(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.config import get_settings
    from db.register_csv import export_rows, write_csv
    from db.units import by_code

    async with open_database(get_settings()) as db, db.sessions() as session:
        root = None
        if args.unit:
            root = await by_code(session, args.unit)
            if root is None:
                raise UserError(_("unknown unit {code}").format(code=args.unit))
        lines = await export_rows(session, root)
    out = io.StringIO()
    write_csv(lines, out)
    if args.output is None:
        sys.stdout.write(out.getvalue())
    else:
        args.output.write_text(out.getvalue(), encoding="utf-8-sig")
        print(_("{count} rows written to {path}.").format(count=len(lines) - 1, path=args.output))
    return 0
