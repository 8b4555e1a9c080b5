"""``antt unit import FILE.csv``, ``antt unit reorganize FILE.csv [--dry-run]`` and
``antt unit list [--under CODE]``: the unit tree."""

from __future__ import annotations

import argparse

from bot.commands._output import UNIT_KIND_NAMES, counts_line, name_of
from bot.errors import UserError
from handlers.i18n import _, format_date, local_today


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("unit", help=_("the unit tree: provinces, districts, communes, …"))
    actions = parser.add_subparsers(dest="action", required=True)
    imp = actions.add_parser(
        "import",
        help=_("import units from CSV: code,name,kind,parent_code[,lat,lon,valid_from,…]"),
    )
    imp.add_argument("file", help=_("the CSV file (UTF-8)"))
    imp.set_defaults(handler=import_units_command)
    reorg = actions.add_parser(
        "reorganize",
        help=_("merge and close units from a mapping: old_code,new_code,effective_date,…"),
    )
    reorg.add_argument("file", help=_("the mapping CSV file (UTF-8)"))
    reorg.add_argument(
        "--dry-run", action="store_true", help=_("print what would change and change nothing")
    )
    reorg.set_defaults(handler=reorganize_command)
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


async def reorganize_command(args: argparse.Namespace) -> int:
    import sys

    from bot.bootstrap import open_database
    from bot.commands._reorg_output import change_lines, summary_line
    from bot.config import get_settings
    from db.models import utcnow
    from db.reorg_file import ReorganizeError, read_mapping
    from db.reorganize import reorganize
    from db.session import UnitOfWork
    from handlers.unit_changes import notify_lost_roles

    now = utcnow()
    try:
        mapping = read_mapping(args.file)
        async with open_database(get_settings()) as db, UnitOfWork(db) as uow:
            report = await reorganize(
                uow.session, mapping, today=local_today(now), now=now, dry_run=args.dry_run
            )
            if not args.dry_run:
                await notify_lost_roles(uow.session, report.changes.ended_grants, now)
                await uow.commit()
    except ReorganizeError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        print(_("The mapping was refused; nothing was changed."), file=sys.stderr)
        return 2
    if args.dry_run:
        print(
            _("Dry run of {file}: nothing was changed. Applying it would:").format(
                file=mapping.file
            )
        )
    else:
        print(_("Reorganisation applied from {file}.").format(file=mapping.file))
    for line in change_lines(report):
        print("  " + line)
    if not report.changed:
        print(_("Nothing changed."))
    else:
        print(summary_line(report))
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
