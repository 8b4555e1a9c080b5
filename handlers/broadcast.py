"""Announcements: admins and supervisors write to members and subscribed citizens of their area.

Who may do what:

- authors are admins and supervisors, each within the subtree of their grant; a
  unit (or a forged button) outside it is refused with a clear sentence;
- the audience, combinable: members by role (officers, grassroots force,
  supervisors) on units of the subtree, and chats subscribed to a commune of it;
- above ``broadcast_approval_threshold`` recipients a second admin whose scope
  covers the unit approves (``bcx:ok:<id>``) or rejects (``bcx:no:<id>``); the
  author cannot approve their own;
- the author (or an admin over the unit) may cancel while it goes out
  (``bcx:x:<id>`` on the status message): what has not been sent stays unsent.

Every step that changes something is audited (``broadcast.*``). The draft lives
in the conversation; nothing is queued before the confirmation, and the outbox
rows are written later by ``scheduler.broadcast`` (fan-out in PostgreSQL).
Buttons inside the flow use ``bc:``; global ones ``bcx:``.

```mermaid
flowchart TD
    menu(["menu 'Announcement' or /broadcast"]) --> unit[UNIT: a unit of one's scope]
    unit --> text[TEXT: text, optionally one photo or document]
    text --> link[LINK: 'label https://…' or Skip]
    link --> audience[AUDIENCE: roles and/or citizens, toggled; Next]
    audience -- "zero recipients: hint" --> audience
    audience -- "bc:area: a unit below" --> unit
    audience --> preview[PREVIEW: count by channel and language + the message as sent]
    preview -- "bc:now" --> confirm
    preview -- "bc:at" --> when[WHEN: DD/MM/YYYY HH:MM, not in the past] --> confirm
    confirm[CONFIRM] -- "bc:ok, count > threshold" --> approval[(awaiting a second admin)]
    confirm -- "bc:ok" --> scheduled[(scheduled: fan-out at the time)]
    approval -- "bcx:ok:id" --> scheduled
    scheduled --> status[status message edited in place; Cancel bcx:x:id]
```
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from db import audit
from db import broadcasts as repo
from db.models import Broadcast, BroadcastStatus, Identity, Role, RoleGrant, Unit
from db.units import by_id, search_by_name
from handlers.flow import (
    Context,
    Flow,
    Invalid,
    MenuEntry,
    StepDef,
    choice_or_text,
    menu_choices,
    registry,
)
from handlers.i18n import _, current_language, format_datetime, format_number, set_language
from handlers.notify import enqueue
from handlers.quiet_hours import quiet_until
from handlers.render import bold, esc, visible_length
from handlers.start import COMMAND_HELP
from handlers.subscribe import stop_choice
from handlers.types import Choice, Incoming, MediaRef, Message, Reply, message_to_json

FLOW_NAME = "broadcast"
P = "bc:"
G = "bcx:"
AUTHOR_ROLES = (Role.ADMIN, Role.SUPERVISOR)
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
LINK_LABEL_MAX = 40
AUDIENCES = ("officer", "force", "supervisor", "citizens")
MESSENGERS = ("telegram", "zalo")  # channels that need a token (not the demo's emulator)
URL = re.compile(r"^https://[^\s<>\"']{3,500}$")
WHEN = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2})[:h](\d{2})\s*$")


class Step(StrEnum):
    UNIT = "unit"
    TEXT = "text"
    LINK = "link"
    AUDIENCE = "audience"
    PREVIEW = "preview"
    WHEN = "when"
    CONFIRM = "confirm"


AUDIENCE_LABELS = {
    "officer": lambda: _("Commune officers"),
    "force": lambda: _("Grassroots security force"),
    "supervisor": lambda: _("Supervisors"),
    "citizens": lambda: _("Subscribed citizens"),
}


# --- what recipients see --------------------------------------------------------------


def announcement(content: dict[str, Any], *, citizen: bool) -> list[Message]:
    """The announcement as recipients get it, in the current language."""
    unit = esc(content.get("unit_name", ""))
    if content.get("urgent"):
        header = "🚨 " + bold(_("URGENT announcement from {unit}").format(unit=unit))
    else:
        header = "📢 " + bold(_("Announcement from {unit}").format(unit=unit))
    media = content.get("media") or {}
    link = content.get("link")
    msg = Message(
        f"{header}\n\n{esc(content.get('text', ''))}",
        text_as_caption=True,
        link=(link["label"], link["url"]) if link else None,
        choices=[stop_choice()] if citizen else [],
        bulk=True,
    )
    if media.get("file_id") or media.get("stored"):
        # Sent in chat: out again by the channel's file id. Kept before fan-out
        # (``scheduler.broadcast_media``): channels that take a file only by URL (Zalo)
        # get the kept copy by a signed link, and a channel without the file id uploads it.
        msg.files = (
            MediaRef(
                media["kind"],
                media.get("file_id") or "",
                name=media.get("name"),
                stored=media.get("stored"),
            ),
        )
    elif media.get("data"):  # from the command line: the file itself
        data = base64.b64decode(media["data"])
        if media["kind"] == "photo":
            msg.image, msg.image_name = data, media.get("name") or "photo.jpg"
        else:
            msg.document, msg.document_name = data, media.get("name") or "document.pdf"
    return [msg]


def render_all(content: dict[str, Any]) -> dict[str, Any]:
    """``{"member"|"citizen": {language: [message json]}}``, stored on the broadcast."""
    from handlers.i18n import LANGUAGES

    previous = current_language()
    out: dict[str, Any] = {"member": {}, "citizen": {}}
    try:
        for lang in LANGUAGES:
            set_language(lang)
            for kind in ("member", "citizen"):
                out[kind][lang] = [
                    message_to_json(m) for m in announcement(content, citizen=kind == "citizen")
                ]
    finally:
        set_language(previous)
    return out


def _length_limit(content: dict[str, Any]) -> int:
    return CAPTION_LIMIT if content.get("media") else TEXT_LIMIT


def _shown_length(content: dict[str, Any]) -> int:
    """The visible length of the whole message (the header counts)."""
    return max(visible_length(m.text) for m in announcement(content, citizen=True))


# --- entry and scope -------------------------------------------------------------------


def _may_author(ctx: Context) -> bool:
    return ctx.has_role(*AUTHOR_ROLES)


async def begin(ctx: Context) -> Reply:
    ctx.finish()
    if not _may_author(ctx):
        return [
            Message(
                _("Only administrators and supervisors can send announcements."),
                choices=menu_choices(ctx),
            )
        ]
    roots = ctx.units_with(*AUTHOR_ROLES)
    if len(roots) == 1:
        ctx.goto(FLOW_NAME, Step.TEXT, unit_id=roots[0].id, roles=[], citizens=False)
        return await ask_text(ctx)
    ctx.goto(FLOW_NAME, Step.UNIT, roles=[], citizens=False)
    return await ask_unit(ctx)


async def ask_unit(ctx: Context) -> Reply:
    choices = [Choice(f"{P}u:{u.id}", u.name) for u in ctx.units_with(*AUTHOR_ROLES)]
    text = _(
        "Which unit's area is the announcement for? Choose one, or type the name of a unit "
        "below it."
    )
    return [Message(text, choices=choices)]


def _refuse_scope() -> Invalid:
    return Invalid(_("That unit is outside your area; you can only send announcements there."))


async def on_unit(ctx: Context, inp: Incoming) -> Reply:
    unit: Unit | None = None
    if inp.choice and inp.choice.startswith(f"{P}u:"):
        raw = inp.choice[len(f"{P}u:") :]
        unit = await by_id(ctx.session, int(raw)) if raw.isdigit() else None
        if unit is None or not ctx.can_see(unit, *AUTHOR_ROLES):
            # Not Invalid: its rollback would take the audit row with it.
            _audit_refusal(ctx, "unit", raw)
            return [Message(str(_refuse_scope())), *await ask_unit(ctx)]
    else:
        text = (inp.text or "").strip()
        if not text or len(text) > 100:
            raise Invalid(_("Choose a unit or type its name."))
        found = [
            u for u in await search_by_name(ctx.session, text) if ctx.can_see(u, *AUTHOR_ROLES)
        ]
        if not found:
            raise Invalid(_('No unit of your area is called "{name}".').format(name=esc(text)))
        unit = found[0]
    ctx.update(unit_id=unit.id)
    if _content(ctx).get("text"):  # the area changed from the audience step
        ctx.goto(FLOW_NAME, Step.AUDIENCE)
        return await ask_audience(ctx)
    ctx.goto(FLOW_NAME, Step.TEXT)
    return await ask_text(ctx)


async def _unit(ctx: Context) -> Unit:
    unit = await by_id(ctx.session, int(ctx.data["unit_id"]))
    if unit is None or not ctx.can_see(unit, *AUTHOR_ROLES):
        raise _refuse_scope()
    return unit


def _audit_refusal(ctx: Context, what: str, value: object) -> None:
    audit.record(
        ctx.session,
        "broadcast.refused",
        actor_member_id=ctx.member.id if ctx.member else None,
        object_kind="unit" if what == "unit" else "broadcast",
        object_id=value,
        data={"reason": "out_of_scope"},
    )


# --- text, file, link ----------------------------------------------------------------------


def _content(ctx: Context) -> dict[str, Any]:
    return dict(ctx.data.get("content") or {})


async def ask_text(ctx: Context) -> Reply:
    unit = await _unit(ctx)
    content = _content(ctx)
    if content.get("media"):
        text = _(
            "The file is kept. Now send the text of the announcement (up to {limit} characters "
            "with a file)."
        ).format(limit=CAPTION_LIMIT)
    else:
        text = _(
            "Announcement to {unit}. Send its text (up to {limit} characters). You may attach "
            "one photo or one document (a PDF leaflet) with the text as its caption."
        ).format(unit=bold(esc(unit.name)), limit=TEXT_LIMIT)
    return [Message(text)]


async def on_text(ctx: Context, inp: Incoming) -> Reply:
    unit = await _unit(ctx)
    content = _content(ctx)
    content["unit_name"] = unit.name
    if inp.media:
        if len(inp.media) > 1:
            raise Invalid(_("An announcement can carry one photo or one document, not more."))
        ref = inp.media[0]
        if ref.kind not in ("photo", "document"):
            raise Invalid(_("Only a photo or a document can be attached."))
        limit_mb = ctx.settings.broadcast_max_file_mb
        if ref.size is not None and ref.size > limit_mb * 1024 * 1024:
            raise Invalid(
                _("The file is too large: the limit is {limit} MB.").format(limit=limit_mb)
            )
        content["media"] = {
            "kind": ref.kind,
            "channel": inp.channel,  # where the file id means something
            "file_id": ref.file_id,
            "name": ref.name,
            "size": ref.size,
        }
    text = (inp.text or "").strip()
    if not text:
        if inp.media:
            ctx.update(content=content)
            return await ask_text(ctx)
        raise Invalid(_("The announcement needs a text."))
    content["text"] = text
    length, limit = _shown_length(content), _length_limit(content)
    if length > limit:
        hint = _(
            "The announcement would have {length} characters with its heading; the limit is "
            "{limit}. Please shorten it and send it again."
        ).format(length=length, limit=limit)
        if inp.media:
            ctx.update(content={k: v for k, v in content.items() if k != "text"})
            return [Message(hint), *await ask_text(ctx)]
        raise Invalid(hint)
    ctx.update(content=content)
    ctx.goto(FLOW_NAME, Step.LINK)
    return await ask_link(ctx)


async def ask_link(ctx: Context) -> Reply:
    text = _(
        "Add a button that opens a web page? Send its label and address, for example: "
        "Xem chi tiết https://congan.nghean.gov.vn — or press Skip."
    )
    return [Message(text, choices=[Choice(f"{P}skip", _("Skip"))])]


async def on_link(ctx: Context, inp: Incoming) -> Reply:
    content = _content(ctx)
    if choice_or_text(inp, [Choice(f"{P}skip", _("Skip"))]) is not None:
        content.pop("link", None)
    else:
        label, _sep, url = (inp.text or "").strip().rpartition(" ")
        label = label.strip()
        if not URL.match(url) or not label:
            raise Invalid(
                _("Send a label, a space and an address starting with https://, or press Skip.")
            )
        if len(label) > LINK_LABEL_MAX:
            raise Invalid(
                _("The label can have at most {limit} characters.").format(limit=LINK_LABEL_MAX)
            )
        content["link"] = {"label": label, "url": url}
    ctx.update(content=content)
    ctx.goto(FLOW_NAME, Step.AUDIENCE)
    return await ask_audience(ctx)


# --- audience, count, preview ---------------------------------------------------------------


def _audience_choices(ctx: Context) -> list[Choice]:
    chosen = set(ctx.data.get("roles", [])) | ({"citizens"} if ctx.data.get("citizens") else set())
    choices = [
        Choice(f"{P}a:{key}", ("✅ " if key in chosen else "▫️ ") + AUDIENCE_LABELS[key]())
        for key in AUDIENCES
    ]
    choices.append(Choice(f"{P}area", _("Change the area")))
    choices.append(Choice(f"{P}next", _("Next ▸")))
    return choices


async def ask_audience(ctx: Context) -> Reply:
    unit = await _unit(ctx)
    text = _(
        "Who in {unit} should receive it? Tap to select (several are possible), then press Next."
    ).format(unit=bold(esc(unit.name)))
    return [Message(text, choices=_audience_choices(ctx))]


async def _count(ctx: Context) -> repo.AudienceCount:
    unit = await _unit(ctx)
    return await repo.count_audience(
        ctx.session, unit, list(ctx.data.get("roles", [])), bool(ctx.data.get("citizens"))
    )


async def on_audience(ctx: Context, inp: Incoming) -> Reply:
    picked = choice_or_text(inp, _audience_choices(ctx))
    if picked is None:
        raise Invalid(_("Tap the groups to select them, then press Next."))
    if picked == f"{P}area":
        ctx.goto(FLOW_NAME, Step.UNIT)
        return await ask_unit(ctx)
    if picked.startswith(f"{P}a:"):
        key = picked[len(f"{P}a:") :]
        if key == "citizens":
            ctx.update(citizens=not ctx.data.get("citizens"))
        else:
            roles = set(ctx.data.get("roles", []))
            roles ^= {key}
            ctx.update(roles=[r for r in repo.MEMBER_ROLES if r in roles])
        return await ask_audience(ctx)
    if not ctx.data.get("roles") and not ctx.data.get("citizens"):
        raise Invalid(_("Select at least one group."))
    if (await _count(ctx)).total == 0:
        raise Invalid(_("Nobody in this audience can receive it yet. Choose other groups."))
    ctx.goto(FLOW_NAME, Step.PREVIEW, urgent=False, send_at=None)
    return await ask_preview(ctx)


def _count_lines(count: repo.AudienceCount) -> list[str]:
    channels = ", ".join(
        f"{name.capitalize()} {format_number(n)}" for name, n in sorted(count.by_channel.items())
    )
    names = {"vi": _("Vietnamese"), "en": _("English")}
    languages = ", ".join(
        f"{names.get(lang, lang)} {format_number(n)}"
        for lang, n in sorted(count.by_language.items())
    )
    return [
        bold(_("Recipients: {count}").format(count=format_number(count.total))),
        _("By channel: {channels}").format(channels=channels),
        _("By language: {languages}").format(languages=languages),
    ]


def _audience_text(audience: dict[str, Any]) -> str:
    keys = [*audience.get("roles", []), *(["citizens"] if audience.get("citizens") else [])]
    return ", ".join(AUDIENCE_LABELS[k]() for k in keys)


async def ask_preview(ctx: Context) -> Reply:
    content = {**_content(ctx), "urgent": bool(ctx.data.get("urgent"))}
    count = await _count(ctx)
    lines = [bold(_("Preview: recipients will see the message below.")), *_count_lines(count)]
    for channel, n in sorted(count.by_channel.items()):
        if channel in MESSENGERS and channel not in ctx.settings.messengers():
            lines.append(
                _("{channel} is not set up on this bot: {count} will not be reached.").format(
                    channel=channel.capitalize(), count=format_number(n)
                )
            )
    urgent = ctx.data.get("urgent")
    choices = [
        Choice(f"{P}now", _("Send now")),
        Choice(f"{P}at", _("Choose a time")),
        Choice(
            f"{P}urgent",
            _("Urgent: also in quiet hours ✅") if urgent else _("Mark as urgent"),
        ),
        Choice(f"{P}cancel", _("Cancel")),
    ]
    citizen_view = bool(ctx.data.get("citizens")) and not ctx.data.get("roles")
    return [
        Message("\n".join(lines)),
        *announcement(content, citizen=citizen_view),
        Message(_("Send it now or at a chosen time?"), choices=choices, columns=2),
    ]


async def on_preview(ctx: Context, inp: Incoming) -> Reply:
    if inp.choice == f"{P}urgent":
        ctx.update(urgent=not ctx.data.get("urgent"))
        return await ask_preview(ctx)
    if inp.choice == f"{P}cancel":
        ctx.finish()
        return [Message(_("Cancelled. Nothing was sent."), choices=menu_choices(ctx))]
    if inp.choice == f"{P}now":
        ctx.update(send_at=None)
        ctx.goto(FLOW_NAME, Step.CONFIRM)
        return await ask_confirm(ctx)
    if inp.choice == f"{P}at":
        ctx.goto(FLOW_NAME, Step.WHEN)
        return await ask_when(ctx)
    raise Invalid(_("Please choose one of the buttons."))


async def ask_when(ctx: Context) -> Reply:
    return [Message(_("When should it go out? Send the date and time as DD/MM/YYYY HH:MM."))]


def parse_when(text: str, timezone: str) -> dt.datetime | None:
    """``DD/MM/YYYY HH:MM`` in local time, as UTC; None when it is not a valid time."""
    found = WHEN.match(text)
    if not found:
        return None
    day, month, year, hour, minute = (int(g) for g in found.groups())
    try:
        moment = dt.datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(timezone))
    except ValueError:
        return None
    return moment.astimezone(dt.UTC)


async def on_when(ctx: Context, inp: Incoming) -> Reply:
    moment = parse_when(inp.text or "", ctx.settings.timezone)
    if moment is None:
        raise Invalid(
            _("Please send the date and time as DD/MM/YYYY HH:MM, e.g. 06/05/2025 08:00.")
        )
    if moment <= ctx.now:
        raise Invalid(_("That time has already passed. Please choose a later time."))
    ctx.update(send_at=moment.isoformat())
    ctx.goto(FLOW_NAME, Step.CONFIRM)
    return await ask_confirm(ctx)


def _send_at(ctx: Context) -> dt.datetime | None:
    raw = ctx.data.get("send_at")
    return dt.datetime.fromisoformat(raw) if raw else None


def _quiet_end(ctx: Context, moment: dt.datetime) -> dt.datetime | None:
    return quiet_until(moment, ctx.settings)


async def ask_confirm(ctx: Context) -> Reply:
    unit = await _unit(ctx)
    count = await _count(ctx)
    moment = _send_at(ctx) or ctx.now
    lines = [
        bold(_("Please confirm the announcement:")),
        _("From: {unit}").format(unit=esc(unit.name)),
        _("To: {audience}").format(
            audience=_audience_text(
                {"roles": ctx.data.get("roles", []), "citizens": ctx.data.get("citizens")}
            )
        ),
        _("Recipients: {count}").format(count=format_number(count.total)),
        _("When: {time}").format(time=format_datetime(moment) if _send_at(ctx) else _("now")),
    ]
    quiet = _quiet_end(ctx, moment)
    if quiet is not None and not ctx.data.get("urgent"):
        lines.append(
            _("It falls in the quiet hours: it will go out at {time}.").format(
                time=format_datetime(quiet)
            )
        )
    if ctx.data.get("urgent"):
        lines.append(_("Urgent: delivered even in quiet hours."))
    if count.total > ctx.settings.broadcast_approval_threshold:
        lines.append(
            _("More than {limit} recipients: a second administrator must approve it.").format(
                limit=format_number(ctx.settings.broadcast_approval_threshold)
            )
        )
    choices = [Choice(f"{P}ok", _("Confirm")), Choice(f"{P}cancel", _("Cancel"))]
    return [Message("\n".join(lines), choices=choices, columns=2)]


async def on_confirm(ctx: Context, inp: Incoming) -> Reply:
    picked = choice_or_text(
        inp, [Choice(f"{P}ok", _("Confirm")), Choice(f"{P}cancel", _("Cancel"))]
    )
    if picked == f"{P}cancel":
        ctx.finish()
        return [Message(_("Cancelled. Nothing was sent."), choices=menu_choices(ctx))]
    if picked != f"{P}ok":
        raise Invalid(_("Press Confirm to send the announcement, or Cancel."))
    send_at = _send_at(ctx)
    if send_at is not None and send_at <= ctx.now:
        ctx.goto(FLOW_NAME, Step.WHEN)
        return [
            Message(_("That time has already passed. Please choose a later time.")),
            *await ask_when(ctx),
        ]
    unit = await _unit(ctx)
    count = await _count(ctx)
    if count.total == 0:
        ctx.goto(FLOW_NAME, Step.AUDIENCE)
        return [
            Message(_("Nobody in this audience can receive it yet. Choose other groups.")),
            *await ask_audience(ctx),
        ]
    content = {**_content(ctx), "urgent": bool(ctx.data.get("urgent"))}
    b, asked = await save(
        ctx.session,
        ctx.settings,
        author_member_id=ctx.member.id if ctx.member else None,
        unit=unit,
        roles=list(ctx.data.get("roles", [])),
        citizens=bool(ctx.data.get("citizens")),
        content=content,
        send_at=send_at,
        now=ctx.now,
        recipients=count.total,
        status_identity_id=ctx.identity.id,
    )
    needs_approval = asked is not None
    ctx.finish()
    if needs_approval:
        text = _(
            "Announcement #{id} is saved and waits for a second administrator's approval "
            "({count} asked)."
        ).format(id=b.id, count=asked)
    elif send_at is not None:
        text = _("Announcement #{id} will go out at {time}. Its progress will show here.").format(
            id=b.id, time=format_datetime(send_at)
        )
    else:
        text = _("Announcement #{id} is going out. Its progress will show here.").format(id=b.id)
    return [Message(text, choices=menu_choices(ctx))]


async def save(
    session: AsyncSession,
    settings: Settings,
    *,
    author_member_id: int | None,
    unit: Unit,
    roles: list[str],
    citizens: bool,
    content: dict[str, Any],
    send_at: dt.datetime | None,
    now: dt.datetime,
    recipients: int,
    status_identity_id: int | None,
) -> tuple[Broadcast, int | None]:
    """Save a confirmed announcement (chat or command line), audited; above the threshold
    it waits for approval and the admins asked are counted (else None)."""
    needs_approval = recipients > settings.broadcast_approval_threshold
    b = await repo.create(
        session,
        author_member_id=author_member_id,
        unit=unit,
        roles=roles,
        citizens=citizens,
        content=content,
        messages=render_all(content),
        send_at=send_at or now,
        urgent=bool(content.get("urgent")),
        recipients=recipients,
        status=BroadcastStatus.AWAITING_APPROVAL if needs_approval else BroadcastStatus.SCHEDULED,
        status_identity_id=status_identity_id,
    )
    audit.record(
        session,
        "broadcast.create",
        actor_member_id=author_member_id,
        object_kind="broadcast",
        object_id=b.id,
        data={
            "unit": unit.code,
            "audience": b.audience,
            "recipients": recipients,
            "send_at": send_at.isoformat() if send_at else None,
            "urgent": b.urgent,
            "approval": needs_approval,
        },
    )
    if not needs_approval:
        return b, None
    return b, await request_approval(session, b, unit, author_member_id)


# --- approval ---------------------------------------------------------------------------------


async def approvers(session: AsyncSession, b: Broadcast, unit: Unit) -> list[Identity]:
    """Reachable identities of admins whose scope covers ``unit``, the author excluded."""
    stmt = (
        select(Identity, Unit.path)
        .join(RoleGrant, RoleGrant.member_id == Identity.member_id)
        .join(Unit, Unit.id == RoleGrant.unit_id)
        .where(
            RoleGrant.role == Role.ADMIN.value,
            RoleGrant.revoked_at.is_(None),
            Identity.blocked_at.is_(None),
            Identity.member_id != (b.author_member_id or -1),
        )
    )
    found = (await session.execute(stmt)).all()
    people = {row[0].id: row[0] for row in found if unit.path.startswith(row[1])}
    return list(people.values())


def _approval_request(b: Broadcast) -> list[Message]:
    content = dict(b.content)
    lines = [
        bold(_("Announcement #{id} needs your approval").format(id=b.id)),
        _("To: {audience}").format(audience=_audience_text(b.audience)),
        _("Recipients: {count}").format(count=format_number(b.recipients or 0)),
    ]
    choices = [Choice(f"{G}ok:{b.id}", _("Approve")), Choice(f"{G}no:{b.id}", _("Reject"))]
    return [
        Message("\n".join(lines)),
        *announcement(content, citizen=not b.audience.get("roles")),
        Message(_("Approve it?"), choices=choices, columns=2),
    ]


async def request_approval(
    session: AsyncSession, b: Broadcast, unit: Unit, actor_member_id: int | None
) -> int:
    """Ask every admin above ``unit`` (but the author) to approve; how many were asked."""
    people = await approvers(session, b, unit)
    for person in people:
        await enqueue(
            session,
            person,
            lambda: _approval_request(b),
            dedup_key=f"bc-approve:{b.id}:{person.id}",
            urgent=True,
        )
    audit.record(
        session,
        "broadcast.approval_requested",
        actor_member_id=actor_member_id,
        object_kind="broadcast",
        object_id=b.id,
        data={"asked": len(people)},
    )
    return len(people)


async def _may_manage(ctx: Context, b: Broadcast, *roles: Role) -> Unit | None:
    unit = await by_id(ctx.session, b.unit_id) if b.unit_id else None
    if unit is None or not ctx.can_see(unit, *roles):
        return None
    return unit


async def _decide(ctx: Context, b: Broadcast, approve: bool) -> Reply:
    if b.status != BroadcastStatus.AWAITING_APPROVAL:
        return [
            Message(
                _("Announcement #{id} no longer waits for approval.").format(id=b.id),
                choices=menu_choices(ctx),
            )
        ]
    if ctx.member is not None and ctx.member.id == b.author_member_id:
        return [
            Message(
                _("You wrote this announcement: another administrator must approve it."),
                choices=menu_choices(ctx),
            )
        ]
    b.status = (BroadcastStatus.SCHEDULED if approve else BroadcastStatus.REJECTED).value
    if approve:
        b.approved_by = ctx.member.id if ctx.member else None
    else:
        b.finished_at = ctx.now
    audit.record(
        ctx.session,
        "broadcast.approved" if approve else "broadcast.rejected",
        actor_member_id=ctx.member.id if ctx.member else None,
        object_kind="broadcast",
        object_id=b.id,
    )
    author = await ctx.session.get(Identity, b.status_identity_id) if b.status_identity_id else None
    if author is not None:
        approver = esc(ctx.member.full_name if ctx.member else "")

        def note() -> list[Message]:
            said = (
                _("{name} approved announcement #{id}; it goes out as planned.")
                if approve
                else _("{name} rejected announcement #{id}; nothing was sent.")
            )
            return [Message(said.format(name=approver, id=b.id))]

        await enqueue(ctx.session, author, note, dedup_key=f"bc-decided:{b.id}", urgent=True)
    text = (
        _("Approved: announcement #{id} goes out as planned.")
        if approve
        else _("Rejected: announcement #{id} will not be sent.")
    ).format(id=b.id)
    return [Message(text, choices=menu_choices(ctx))]


# --- cancel -------------------------------------------------------------------------------------


async def _cancel(ctx: Context, b: Broadcast) -> Reply:
    from db.models import ACTIVE_BROADCAST

    if b.status not in {*ACTIVE_BROADCAST, BroadcastStatus.AWAITING_APPROVAL}:
        return [
            Message(
                _("Announcement #{id} has already finished.").format(id=b.id),
                choices=menu_choices(ctx),
            )
        ]
    stopped = await repo.cancel(ctx.session, b, ctx.now)
    audit.record(
        ctx.session,
        "broadcast.cancelled",
        actor_member_id=ctx.member.id if ctx.member else None,
        object_kind="broadcast",
        object_id=b.id,
        data={"unsent": stopped},
    )
    return [
        Message(
            _(
                "Announcement #{id} is cancelled; {count} messages not yet sent will not go out."
            ).format(id=b.id, count=format_number(stopped)),
            choices=menu_choices(ctx),
        )
    ]


async def on_global(ctx: Context, choice: str) -> Reply:
    """``bcx:ok:<id>``, ``bcx:no:<id>`` (admins above the unit), ``bcx:x:<id>`` (cancel)."""
    parts = choice.split(":")
    b = (
        await repo.get(ctx.session, int(parts[2]), lock=True)
        if len(parts) == 3 and parts[2].isdigit()
        else None
    )
    action = parts[1] if len(parts) == 3 else ""
    if b is None or action not in ("ok", "no", "x"):
        return [Message(_("That button has expired."), choices=menu_choices(ctx))]
    if action == "x":
        is_author = ctx.member is not None and ctx.member.id == b.author_member_id
        if not is_author and await _may_manage(ctx, b, Role.ADMIN) is None:
            _audit_refusal(ctx, "broadcast", b.id)
            return [Message(_("You cannot cancel this announcement."), choices=menu_choices(ctx))]
        return await _cancel(ctx, b)
    if await _may_manage(ctx, b, Role.ADMIN) is None:
        _audit_refusal(ctx, "broadcast", b.id)
        return [
            Message(
                _("Only an administrator above its unit can approve it."), choices=menu_choices(ctx)
            )
        ]
    return await _decide(ctx, b, action == "ok")


async def _menu_start(ctx: Context) -> Reply:
    return await begin(ctx)


async def _command(ctx: Context, args: str) -> Reply:
    return await begin(ctx)


FLOW = registry.add_flow(
    Flow(
        FLOW_NAME,
        {
            Step.UNIT: StepDef(prompt=ask_unit, handle=on_unit),
            Step.TEXT: StepDef(prompt=ask_text, handle=on_text, accepts_media=True),
            Step.LINK: StepDef(prompt=ask_link, handle=on_link),
            Step.AUDIENCE: StepDef(prompt=ask_audience, handle=on_audience),
            Step.PREVIEW: StepDef(prompt=ask_preview, handle=on_preview),
            Step.WHEN: StepDef(prompt=ask_when, handle=on_when),
            Step.CONFIRM: StepDef(prompt=ask_confirm, handle=on_confirm),
        },
    )
)
registry.add_menu(MenuEntry("broadcast", lambda: _("Announcement"), _menu_start, _may_author, 60))
registry.add_command("broadcast", _command)
registry.add_global_choice(G, on_global)
COMMAND_HELP["broadcast"] = lambda: _("send an announcement (administrators and supervisors)")
