"""``antt member list|grant|revoke``: who holds which role on which unit.

``antt member list [--unit CODE]``;
``antt member grant|revoke --member ID --unit CODE --role ROLE``.
Grants and revocations from the command line are audited with no acting member.
"""

from __future__ import annotations

import argparse

from bot.commands._args import ROLE_CHOICES
from bot.commands._output import ROLE_NAMES, name_of, render_table
from bot.errors import UserError
from handlers.i18n import _


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("member", help=_("members and their roles"))
    actions = parser.add_subparsers(dest="action", required=True)
    lst = actions.add_parser("list", help=_("members with an active role"))
    lst.add_argument("--unit", metavar="CODE", help=_("only roles on this unit and below it"))
    lst.set_defaults(handler=list_members_command)
    roles = ", ".join(ROLE_CHOICES)
    for action, handler, text in (
        ("grant", grant_command, _("give a member a role on a unit")),
        ("revoke", revoke_command, _("take a role on a unit away from a member")),
    ):
        p = actions.add_parser(action, help=text)
        p.add_argument("--member", required=True, type=int, metavar="ID", help=_("member id"))
        p.add_argument("--unit", required=True, metavar="CODE", help=_("unit code"))
        p.add_argument("--role", required=True, metavar="ROLE", help=roles)
        p.set_defaults(handler=handler)


async def list_members_command(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.commands._args import unit_of
    from bot.config import get_settings
    from db.members import members_in_subtree

    async with open_database(get_settings(), existing=True) as db, db.sessions() as session:
        root = await unit_of(session, args.unit) if args.unit else None
        rows = await members_in_subtree(session, root)
    if not rows:
        print(_("No members."))
        return 0
    headers = [_("ID"), _("Name"), _("Role"), _("Unit")]
    table = [
        (r.member_id, r.full_name, name_of(ROLE_NAMES, r.role), f"{r.unit_code} ({r.unit_name})")
        for r in rows
    ]
    print(render_table(headers, table, right=(0,)))
    return 0


async def _change(args: argparse.Namespace, grant: bool) -> int:
    from bot.bootstrap import open_database
    from bot.commands._args import role_of, unit_of
    from bot.config import get_settings
    from db.members import grant_role, revoke_role
    from db.models import Member
    from db.session import UnitOfWork

    role = role_of(args.role)
    async with open_database(get_settings(), existing=True) as db, UnitOfWork(db) as uow:
        unit = await unit_of(uow.session, args.unit)
        if await uow.session.get(Member, args.member) is None:
            raise UserError(_("no member with id {id}").format(id=args.member))
        if grant:
            changed = await grant_role(uow.session, args.member, unit.id, role, granted_by=None)
        else:
            changed = await revoke_role(uow.session, args.member, unit.id, role, revoked_by=None)
        await uow.commit()
    names = {"member": args.member, "role": name_of(ROLE_NAMES, role.value), "unit": unit.code}
    if grant and changed:
        print(_("Member {member} is now {role} of {unit}.").format(**names))
    elif grant:
        print(_("Member {member} already was {role} of {unit}; nothing changed.").format(**names))
    elif changed:
        print(_("Member {member} is no longer {role} of {unit}.").format(**names))
    else:
        raise UserError(_("Member {member} is not {role} of {unit}.").format(**names))
    return 0


async def grant_command(args: argparse.Namespace) -> int:
    return await _change(args, grant=True)


async def revoke_command(args: argparse.Namespace) -> int:
    return await _change(args, grant=False)
