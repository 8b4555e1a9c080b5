"""``antt invite create --unit CODE --role ROLE [--uses N] [--days D]``.

Prints the code once (only its hash is stored) and, when
``ANTT_TELEGRAM_BOT_USERNAME`` is set, the Telegram deep link that redeems it.
"""

from __future__ import annotations

import argparse
import datetime as dt

from bot.commands._args import ROLE_CHOICES
from bot.commands._output import ROLE_NAMES, name_of
from bot.errors import UserError
from handlers.i18n import _, format_datetime


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("invite", help=_("invite codes for officers, forces, supervisors"))
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help=_("create an invite code and print it"))
    create.add_argument("--unit", required=True, metavar="CODE", help=_("the unit to join"))
    create.add_argument(
        "--role",
        required=True,
        metavar="ROLE",
        help=_("the role it grants: {roles}").format(roles=", ".join(ROLE_CHOICES)),
    )
    create.add_argument(
        "--uses", type=int, default=1, metavar="N", help=_("how many people may use it")
    )
    create.add_argument(
        "--days", type=float, default=7, metavar="D", help=_("days until it expires")
    )
    create.set_defaults(handler=create_invite_command)


async def create_invite_command(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.commands._args import role_of, unit_of
    from bot.config import get_settings
    from db.invites import create_invite, deep_link
    from db.models import utcnow
    from db.session import UnitOfWork

    role = role_of(args.role)
    if args.uses < 1:
        raise UserError(_("--uses must be at least 1"))
    if not 0 < args.days <= 366:
        raise UserError(_("--days must be more than 0 and at most 366"))
    settings = get_settings()
    now = utcnow()
    async with open_database(settings, existing=True) as db, UnitOfWork(db) as uow:
        unit = await unit_of(uow.session, args.unit)
        code = await create_invite(
            uow.session,
            unit_id=unit.id,
            role=role,
            max_uses=args.uses,
            days=args.days,
            now=now,
            settings=settings,
        )
        await uow.commit()
    expires = now + dt.timedelta(days=args.days)
    print(_("Invite code: {code}").format(code=code))
    print(
        _("Role: {role}; unit: {unit} ({code}); uses: {uses}; valid until {until}.").format(
            role=name_of(ROLE_NAMES, role.value),
            unit=unit.name,
            code=unit.code,
            uses=args.uses,
            until=format_datetime(expires),
        )
    )
    username = (settings.telegram_bot_username or "").strip().lstrip("@")
    if username:
        print(_("Link: {link}").format(link=deep_link(username, code)))
    return 0
