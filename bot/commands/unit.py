"""``antt unit import FILE.csv`` and ``antt unit list [--under CODE]``: the unit tree."""

from __future__ import annotations

import argparse

from bot.commands._output import UNIT_KIND_NAMES, counts_line, name_of
from bot.errors import UserError
from handlers.i18n import _, format_date


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("unit", help=_("the unit tree: provinces, districts, communes, …"))
    actions = parser.add_subparsers(dest="action", required=True)
    imp = actions.add_parser(
        "import",
        help=_("import units from CSV: code,name,kind,parent_code[,lat,lon,valid_from,…]"),
    )
    imp.add_argument("file", help=_("the CSV file (UTF-8)"))
    imp.set_defaults(handler=import_units_command)
    lst = actions.add_parser("list", help=_("list units as a tree"))
    lst.add_argument("--under", metavar="CODE", help=_("only this unit and the units below it"))
    lst.set_defaults(handler=list_units_command)


async def import_units_command(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.config import get_settings
    from db.session import UnitOfWork
    from db.unit_import import import_units, read_unit_csv

    unit_file = read_unit_csv(args.file)
    async with open_database(get_settings()) as db, UnitOfWork(db) as uow:
        counts = await import_units(uow.session, unit_file)
        await uow.commit()
    print(_("Units imported from {file}.").format(file=unit_file.file))
    print(counts_line("units", counts))
    if not counts.changed:
        print(_("Nothing changed."))
    return 0


async def list_units_command(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from bot.bootstrap import open_database
    from bot.config import get_settings
    from db.models import Unit
    from db.units import by_code, in_subtree

    async with open_database(get_settings(), existing=True) as db, db.sessions() as session:
        stmt = select(Unit).order_by(Unit.path)
        base_depth = 0
        if args.under:
            root = await by_code(session, args.under)
            if root is None:
                raise UserError(_("unknown unit {code}").format(code=args.under))
            stmt = stmt.where(in_subtree(root.path))
            base_depth = root.depth
        units = (await session.execute(stmt)).scalars().all()
        replaced_ids = {u.replaced_by_id for u in units if u.replaced_by_id is not None}
        codes = {u.id: u.code for u in units}
        missing = replaced_ids - codes.keys()
        if missing:
            found = await session.execute(select(Unit.id, Unit.code).where(Unit.id.in_(missing)))
            codes.update({uid: code for uid, code in found.tuples()})
    for unit in units:
        line = "  " * (unit.depth - base_depth) + f"{unit.code}  {unit.name}"
        line += f"  ({name_of(UNIT_KIND_NAMES, unit.kind)})"
        if unit.valid_to is not None:
            closed = _("closed {date}").format(date=format_date(unit.valid_to))
            if unit.replaced_by_id is not None:
                closed += " → " + codes.get(unit.replaced_by_id, "?")
            line += f"  [{closed}]"
        print(line)
    print(_("{count} units.").format(count=len(units)))
    return 0
