"""``antt broadcast send|list|status|cancel``: announcements from the command line.

``antt broadcast send --unit CODE --audience officers,force,supervisors,citizens
--text FILE [--photo FILE | --document FILE] [--link "LABEL https://…"]
[--at "DD/MM/YYYY HH:MM"] [--urgent]`` saves an announcement exactly like the chat
flow (same checks, same approval rule, audited with no acting member); the
running ``antt run`` or ``antt scheduler`` sends it. ``list`` shows the latest,
``status ID`` its counts, ``cancel ID`` stops what has not been sent.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.errors import UserError
from handlers.i18n import _

AUDIENCE_NAMES = {
    "officers": "officer",
    "force": "force",
    "supervisors": "supervisor",
    "citizens": "citizens",
}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("broadcast", help=_("send and follow announcements"))
    actions = parser.add_subparsers(dest="action", required=True)
    send = actions.add_parser("send", help=_("save an announcement to send"))
    send.add_argument("--unit", required=True, metavar="CODE", help=_("the unit's code"))
    send.add_argument(
        "--audience",
        required=True,
        metavar="LIST",
        help=_("comma-separated: officers, force, supervisors, citizens"),
    )
    send.add_argument("--text", required=True, metavar="FILE", help=_("a UTF-8 text file"))
    files = send.add_mutually_exclusive_group()
    files.add_argument("--photo", metavar="FILE", help=_("a photo to attach"))
    files.add_argument("--document", metavar="FILE", help=_("a document (e.g. a PDF) to attach"))
    send.add_argument("--link", metavar="LINK", help=_('a link button: "LABEL https://…"'))
    send.add_argument("--at", metavar="TIME", help=_('when: "DD/MM/YYYY HH:MM" (default: now)'))
    send.add_argument(
        "--urgent", action="store_true", help=_("deliver even in quiet hours (citizens too)")
    )
    send.set_defaults(handler=send_command)
    lst = actions.add_parser("list", help=_("the latest announcements"))
    lst.set_defaults(handler=list_command)
    for name, handler, text in (
        ("status", status_command, _("the counts of one announcement")),
        ("cancel", cancel_command, _("stop what has not been sent yet")),
    ):
        p = actions.add_parser(name, help=text)
        p.add_argument("id", type=int, metavar="ID", help=_("the announcement's number"))
        p.set_defaults(handler=handler)


def _audience(value: str) -> tuple[list[str], bool]:
    keys = [k.strip().lower() for k in value.split(",") if k.strip()]
    unknown = [k for k in keys if k not in AUDIENCE_NAMES]
    if unknown or not keys:
        raise UserError(
            _("unknown audience {value}; expected some of: {names}").format(
                value=value, names=", ".join(AUDIENCE_NAMES)
            )
        )
    roles = [AUDIENCE_NAMES[k] for k in keys if k != "citizens"]
    return [r for r in ("officer", "force", "supervisor") if r in roles], "citizens" in keys


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UserError(
            _("cannot read the {what} file {path}: {error}").format(
                what=what, path=path, error=exc.strerror
            )
        ) from None


async def send_command(args: argparse.Namespace) -> int:
    import base64
    import re

    from bot.bootstrap import open_database
    from bot.commands._args import unit_of
    from bot.config import get_settings
    from db import broadcasts as repo
    from db.models import utcnow
    from db.session import UnitOfWork
    from handlers import broadcast as flow
    from handlers.render import visible_length

    settings = get_settings()
    roles, citizens = _audience(args.audience)
    text = _read(args.text, "text").decode("utf-8", errors="replace").strip()
    if not text:
        raise UserError(_("The announcement needs a text."))
    content: dict[str, object] = {"text": text, "urgent": bool(args.urgent)}
    attached = args.photo or args.document
    if attached:
        data = _read(attached, "attached")
        limit = settings.broadcast_max_file_mb
        if len(data) > limit * 1024 * 1024:
            raise UserError(
                _("The file is too large: the limit is {limit} MB.").format(limit=limit)
            )
        content["media"] = {
            "kind": "photo" if args.photo else "document",
            "data": base64.b64encode(data).decode(),
            "name": Path(attached).name,
        }
    if args.link:
        label, _sep, url = args.link.strip().rpartition(" ")
        if not label.strip() or not re.match(r"^https://\S{3,500}$", url):
            raise UserError(_('a link is "LABEL https://…"'))
        content["link"] = {"label": label.strip(), "url": url}
    now = utcnow()
    send_at = None
    if args.at:
        send_at = flow.parse_when(args.at, settings.timezone)
        if send_at is None:
            raise UserError(_("Please send the date and time as DD/MM/YYYY HH:MM."))
        if send_at <= now:
            raise UserError(_("That time has already passed. Please choose a later time."))
    async with open_database(settings) as db, UnitOfWork(db) as uow:
        unit = await unit_of(uow.session, args.unit)
        content["unit_name"] = unit.name
        length = max(visible_length(m.text) for m in flow.announcement(content, citizen=True))
        limit = flow.CAPTION_LIMIT if attached else flow.TEXT_LIMIT
        if length > limit:
            raise UserError(
                _(
                    "The announcement would have {length} characters with its heading; the limit "
                    "is {limit}. Please shorten it and send it again."
                ).format(length=length, limit=limit)
            )
        count = await repo.count_audience(uow.session, unit, roles, citizens)
        if count.total == 0:
            raise UserError(_("Nobody in this audience can receive it yet. Choose other groups."))
        b, asked = await flow.save(
            uow.session,
            settings,
            author_member_id=None,
            unit=unit,
            roles=roles,
            citizens=citizens,
            content=content,
            send_at=send_at,
            now=now,
            recipients=count.total,
            status_identity_id=None,
        )
        await uow.commit()
    channels = ", ".join(f"{k} {v}" for k, v in sorted(count.by_channel.items()))
    print(
        _("Announcement #{id}: {count} recipients ({channels}).").format(
            id=b.id, count=count.total, channels=channels
        )
    )
    if asked is not None:
        print(_("It waits for an administrator's approval ({count} asked).").format(count=asked))
    return 0


async def list_command(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from bot.bootstrap import open_database
    from bot.commands._output import render_table
    from bot.config import get_settings
    from db import broadcasts as repo
    from db.models import Unit
    from handlers.i18n import format_datetime

    async with open_database(get_settings()) as db, db.sessions() as session:
        rows = await repo.recent(session)
        found = await session.execute(select(Unit.id, Unit.code))
        units = {unit_id: code for unit_id, code in found.all()}
    if not rows:
        print(_("No announcements."))
        return 0
    headers = [_("ID"), _("Status"), _("Unit"), _("Recipients"), _("Sent"), _("Created")]
    table = [
        (
            b.id,
            b.status,
            units.get(b.unit_id or 0, ""),
            b.recipients or 0,
            (b.counts or {}).get("sent", ""),
            format_datetime(b.created_at),
        )
        for b in rows
    ]
    print(render_table(headers, table, right=(0, 3, 4)))
    return 0


async def status_command(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.config import get_settings
    from db import broadcasts as repo
    from scheduler.broadcast import final_counts

    async with open_database(get_settings()) as db, db.sessions() as session:
        b = await repo.get(session, args.id)
        if b is None:
            raise UserError(_("no announcement with number {id}").format(id=args.id))
        p = final_counts(b, await repo.progress(session, b.id))
    print(_("Announcement #{id}: {status}").format(id=b.id, status=b.status))
    print(
        _(
            "Sent {sent}, pending {pending}, blocked {blocked}, failed {failed}, "
            "cancelled {cancelled} (of {total})."
        ).format(
            sent=p.sent,
            pending=p.pending,
            blocked=p.blocked,
            failed=p.failed,
            cancelled=p.cancelled,
            total=b.recipients or p.total,
        )
    )
    if p.unreachable:
        print(
            _("Not reachable {count}: this bot does not send on {channels}.").format(
                count=p.unreachable, channels=", ".join(c.capitalize() for c in p.unserved)
            )
        )
    return 0


async def cancel_command(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.config import get_settings
    from db import audit
    from db import broadcasts as repo
    from db.models import ACTIVE_BROADCAST, BroadcastStatus, utcnow
    from db.session import UnitOfWork

    async with open_database(get_settings()) as db, UnitOfWork(db) as uow:
        b = await repo.get(uow.session, args.id, lock=True)
        if b is None:
            raise UserError(_("no announcement with number {id}").format(id=args.id))
        if b.status not in {*ACTIVE_BROADCAST, BroadcastStatus.AWAITING_APPROVAL}:
            raise UserError(_("Announcement #{id} has already finished.").format(id=b.id))
        stopped = await repo.cancel(uow.session, b, utcnow())
        audit.record(
            uow.session,
            "broadcast.cancelled",
            actor_member_id=None,
            object_kind="broadcast",
            object_id=b.id,
            data={"unsent": stopped, "from": "cli"},
        )
        await uow.commit()
    print(
        _("Announcement #{id} is cancelled; {count} messages not yet sent will not go out.").format(
            id=b.id, count=stopped
        )
    )
    return 0
