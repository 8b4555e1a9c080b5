"""Officers' side of citizen tips: notifications, the inbox, the tip card and its actions.

Who may act on a tip: officers whose units contain the tip's unit, and supervisors
above it. An identified reporter's contact is shown only to officers of exactly
the unit the tip is routed to; nobody ever sees who sent an anonymous tip.
Messages to the reporter go through the sealed link (``db.sealed``) and the
outbox, worded neutrally, and name the tip only by its date and category.

Every button here is a global choice (``tr:…``), so a notification works whatever
the officer is doing. Only typing (a question, a duplicate's number, a closing
note) uses a short flow.

```mermaid
flowchart TD
    notif[notification: new / escalated tip] -- tr:ack --> ack[acknowledged] --> card
    notif -- tr:open --> card[tip card]
    inbox["inbox (/tips, menu): tr:in:page:cat:status"] -- tr:open --> card
    inbox -- "tr:fc / tr:fs" --> filter[choose category / status] --> inbox
    card -- tr:asg --> members[members of the unit] -- tr:asm --> card
    card -- tr:ask --> ask[type the question] --> relayed[relayed to the reporter] --> card
    card -- tr:dup --> dup[type or pick the original] --> closed
    card -- tr:close --> outcome[choose outcome] -- tr:out --> note[public note or Skip]
    outcome -- "tr:out handled, drugs tip, unit drug-free" --> drugs[confirmed a case?]
    drugs -- "tr:dg:y (re-appraisal flagged on closing) / tr:dg:n" --> note
    note --> closed[closed] --> card
```
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from db import audit
from db import tips as repo
from db.members import identities_of_unit_role
from db.models import Identity, Member, Role, Tip, TipCategory, TipStatus, Unit
from db.sealed import has_link, keyed_tag, reporter_of, seal_ref
from db.units import by_id
from handlers import notify, reappraisal
from handlers.flow import Context, Flow, Invalid, MenuEntry, StepDef, registry
from handlers.i18n import _, current_language, format_ago, format_date, format_datetime
from handlers.render import bold, esc, split_text
from handlers.start import COMMAND_HELP
from handlers.types import Choice, Incoming, MediaRef, Message, Reply, in_place

log = logging.getLogger(__name__)

PREFIX = "tr:"
ANSWER_PREFIX = "tpa:"  # the reporter's "Reply" button; handled in handlers.tip_status
PAGE_SIZE = 8
QUESTION_MAX = 1000
NOTE_MAX = 1000
PREVIEW = 300
TRIAGE_ROLES = (Role.OFFICER, Role.SUPERVISOR)

STATUS_LABELS: dict[str, Callable[[], str]] = {
    TipStatus.NEW: lambda: _("new"),
    TipStatus.ACKNOWLEDGED: lambda: _("acknowledged"),
    TipStatus.ASSIGNED: lambda: _("assigned"),
    TipStatus.CLOSED: lambda: _("closed"),
}
OUTCOME_LABELS: dict[str, Callable[[], str]] = {
    "handled": lambda: _("handled"),
    "not_verified": lambda: _("not verified"),
    "referred": lambda: _("referred to another body"),
    "spam": lambda: _("spam or abuse"),
    repo.DUPLICATE: lambda: _("duplicate"),
}
MEDIA_LABELS: dict[str, Callable[[], str]] = {
    "photo": lambda: _("photo"),
    "video": lambda: _("video"),
    "voice": lambda: _("voice"),
    "document": lambda: _("document"),
}


def status_label(status: str) -> str:
    return STATUS_LABELS[status]() if status in STATUS_LABELS else status


def outcome_label(outcome: str | None) -> str:
    if outcome is None:
        return ""
    return OUTCOME_LABELS[outcome]() if outcome in OUTCOME_LABELS else outcome


def category_name(cat: TipCategory | None) -> str:
    """The category in the current language (texts rendered for a recipient use theirs)."""
    return repo.category_title(cat, current_language())


# --- notifications to officers and supervisors ----------------------------------------


def _officer_buttons(tip_id: int, *, acknowledge: bool = True) -> list[Choice]:
    choices = [Choice(f"{PREFIX}open:{tip_id}", _("Open"))]
    if acknowledge:
        choices.insert(0, Choice(f"{PREFIX}ack:{tip_id}", _("Acknowledge")))
    return choices


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return esc(text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…")


async def notify_new_tip(session: AsyncSession, tip: Tip, unit: Unit, cat: TipCategory) -> int:
    """Queue "new tip" to the officers of the tip's unit; the number queued."""
    officers = await identities_of_unit_role(session, unit.id, [Role.OFFICER])

    def render() -> list[Message]:
        text = _("New tip #{id} ({category}) for {unit}:\n{preview}").format(
            id=tip.id,
            category=esc(category_name(cat)),
            unit=esc(unit.name),
            preview=_preview(tip.description),
        )
        return [Message(text, choices=_officer_buttons(tip.id), columns=2)]

    for identity in officers:
        await notify.enqueue(
            session, identity, render, dedup_key=f"tip:{tip.id}:new:{identity.id}", urgent=True
        )
    return len(officers)


async def escalate(
    session: AsyncSession, tip: Tip, now: dt.datetime, *, reason: str
) -> Unit | None:
    """Raise the tip one level, to the supervisors of the next unit above that has any.

    Idempotent: a guarded update moves the level once, and each notification has a
    dedup key. Returns the unit escalated to, or None when there is none above.
    """
    unit = await by_id(session, tip.unit_id)
    if unit is None:
        return None
    level = tip.escalation_level
    target = await escalation_target(session, unit, level + 1)
    if target is None or not await repo.raise_escalation(session, tip.id, level, now):
        return None
    await session.refresh(tip)
    repo.add_event(
        session,
        tip.id,
        repo.EventKind.ESCALATED,
        at=now,
        data={"level": level + 1, "unit_id": target.id, "unit": target.name, "reason": reason},
    )
    audit.record(
        session,
        "tip.escalate",
        actor_member_id=None,
        object_kind="tip",
        object_id=tip.id,
        data={"level": level + 1, "unit_id": target.id, "reason": reason},
    )
    cat = await repo.category(session, tip.category)
    created = tip.created_at

    def render() -> list[Message]:
        if reason == "no_officer":
            head = _("Tip #{id} ({category}) for {unit}: no officer of that unit can receive it.")
        else:
            head = _("Tip #{id} ({category}) for {unit} has not been acknowledged since {time}.")
        text = head.format(
            id=tip.id,
            category=esc(category_name(cat)),
            unit=esc(unit.name),
            time=format_datetime(created),
        )
        return [Message(f"{text}\n{_preview(tip.description)}", choices=_officer_buttons(tip.id))]

    for identity in await identities_of_unit_role(session, target.id, [Role.SUPERVISOR]):
        await notify.enqueue(
            session,
            identity,
            render,
            dedup_key=f"tip:{tip.id}:esc:{level + 1}:{identity.id}",
            urgent=True,
        )
    log.info("tip %s escalated to level %s (unit %s)", tip.id, level + 1, target.code)
    return target


async def escalation_target(session: AsyncSession, unit: Unit, level: int) -> Unit | None:
    return await repo.escalation_target(session, unit, level)


async def notify_reporter_input(
    session: AsyncSession, tip: Tip, kind: str, now: dt.datetime
) -> None:
    """Tell the people working the tip that the reporter added information or answered."""
    unit = await by_id(session, tip.unit_id)
    if unit is None:
        return
    recipients: dict[int, Identity] = {
        i.id: i for i in await identities_of_unit_role(session, unit.id, [Role.OFFICER])
    }
    for level in range(1, tip.escalation_level + 1):
        target = await escalation_target(session, unit, level)
        if target is not None:
            for i in await identities_of_unit_role(session, target.id, [Role.SUPERVISOR]):
                recipients.setdefault(i.id, i)
    if tip.assigned_member_id is not None:
        stmt = select(Identity).where(
            Identity.member_id == tip.assigned_member_id, Identity.blocked_at.is_(None)
        )
        for i in (await session.execute(stmt)).scalars():
            recipients.setdefault(i.id, i)

    def render() -> list[Message]:
        if kind == repo.EventKind.REPORTER_ANSWER:
            text = _("The reporter answered your question on tip #{id}.")
        else:
            text = _("The reporter added information to tip #{id}.")
        return [
            Message(text.format(id=tip.id), choices=_officer_buttons(tip.id, acknowledge=False))
        ]

    stamp = int(now.timestamp() * 1000)
    for identity in recipients.values():
        await notify.enqueue(
            session, identity, render, dedup_key=f"tip:{tip.id}:{kind}:{stamp}:{identity.id}"
        )


# --- messages to the reporter (through the sealed link) ---------------------------


async def _reporter_identity(
    session: AsyncSession, settings: Settings, tip_id: int
) -> Identity | None:
    link = await reporter_of(session, settings, tip_id)
    if link is None:
        return None
    identity = await session.get(Identity, link.identity_id)
    if identity is None or identity.blocked_at is not None:
        return None
    return identity


def _about_tip(created: dt.datetime, cat: TipCategory | None) -> str:
    return _("the tip you sent on {date} ({category})").format(
        date=format_date(created), category=esc(category_name(cat))
    )


async def tell_reporter_status(
    session: AsyncSession,
    settings: Settings,
    tip: Tip,
    status: str,
    *,
    event_id: int,
    now: dt.datetime,
    note: str | None = None,
) -> bool:
    """Queue a neutral status update for the reporter, if still reachable."""
    identity = await _reporter_identity(session, settings, tip.id)
    if identity is None:
        return False
    cat = await repo.category(session, tip.category)
    created = tip.created_at

    def render() -> list[Message]:
        about = _about_tip(created, cat)
        if status == TipStatus.ACKNOWLEDGED:
            text = _("Update on {about}: it has been received and is being looked at.")
        elif status == TipStatus.ASSIGNED:
            text = _("Update on {about}: an officer has been given the task of handling it.")
        else:
            text = _(
                "Update on {about}: it has been dealt with and is now closed. "
                "Thank you for helping keep your community safe."
            )
        text = text.format(about=about)
        if note:
            text += "\n\n" + _("Message from the police: {note}").format(note=esc(note))
        return [Message(text)]

    # The key is keyed-hashed: an outbox row must not name the tip next to the reporter.
    return await notify.enqueue(
        session,
        identity,
        render,
        dedup_key=f"tipr:{keyed_tag(settings, tip.id, event_id)}",
        private=(settings, now),
    )


async def relay_question(
    session: AsyncSession,
    settings: Settings,
    tip: Tip,
    question: str,
    *,
    event_id: int,
    now: dt.datetime,
) -> bool:
    """Relay an officer's question; the reporter answers with the "Reply" button."""
    identity = await _reporter_identity(session, settings, tip.id)
    if identity is None:
        return False
    cat = await repo.category(session, tip.category)
    created = tip.created_at
    ref = seal_ref(settings, tip.id)

    def render() -> list[Message]:
        text = _(
            "The police have a question about {about}:\n\n{question}\n\n"
            "Press Reply to answer. Your answer goes only to the officers handling the tip."
        ).format(about=_about_tip(created, cat), question=esc(question))
        return [Message(text, choices=[Choice(f"{ANSWER_PREFIX}a:{ref}", _("Reply"))])]

    return await notify.enqueue(
        session,
        identity,
        render,
        dedup_key=f"tipr:{keyed_tag(settings, tip.id, event_id)}",
        private=(settings, now),
    )


# --- permissions ---------------------------------------------------------------------


def can_triage(ctx: Context, unit: Unit) -> bool:
    return ctx.can_see(unit, *TRIAGE_ROLES)


def sees_contact(ctx: Context, tip: Tip) -> bool:
    """Only officers of exactly the tip's unit see an identified reporter's contact."""
    return any(g.role == Role.OFFICER and g.unit.id == tip.unit_id for g in ctx.grants)


async def _load(ctx: Context, tip_id: int) -> tuple[Tip, Unit]:
    """The tip and its unit, if this person may work it; raises Invalid otherwise."""
    tip = await repo.get(ctx.session, tip_id)
    unit = await by_id(ctx.session, tip.unit_id) if tip is not None else None
    if tip is None or unit is None or not can_triage(ctx, unit):
        raise Invalid(_("That tip does not exist or is not in your area."))
    return tip, unit


def _actor(ctx: Context) -> int | None:
    return ctx.member.id if ctx.member else None


def _audit(ctx: Context, action: str, tip_id: int, **data: object) -> None:
    audit.record(
        ctx.session,
        action,
        actor_member_id=_actor(ctx),
        object_kind="tip",
        object_id=tip_id,
        data=dict(data),
    )


# --- the tip card ----------------------------------------------------------------------


def _event_line(kind: str, actor: str | None, text: str | None, data: dict[str, object]) -> str:
    who = esc(actor or "?")
    body = esc(text) if text else ""
    if kind == repo.EventKind.CREATED:
        return _("received")
    if kind == repo.EventKind.ACKNOWLEDGED:
        return _("acknowledged by {name}").format(name=who)
    if kind == repo.EventKind.ASSIGNED:
        return _("assigned to {member} by {name}").format(
            member=esc(data.get("member_name", "?")), name=who
        )
    if kind == repo.EventKind.QUESTION:
        return _("question to the reporter by {name}: {text}").format(name=who, text=body)
    if kind == repo.EventKind.REPORTER_ANSWER:
        return _("the reporter answered: {text}").format(text=body)
    if kind == repo.EventKind.REPORTER_INFO:
        return _("the reporter added: {text}").format(text=body)
    if kind == repo.EventKind.DUPLICATE:
        return _("marked as a duplicate of #{original} by {name}").format(
            original=data.get("of", "?"), name=who
        )
    if kind == repo.EventKind.CLOSED:
        line = _("closed ({outcome}) by {name}").format(
            outcome=outcome_label(str(data.get("outcome", ""))), name=who
        )
        return f"{line}: {body}" if body else line
    if kind == repo.EventKind.ESCALATED:
        return _("escalated to the supervisors of {unit}").format(unit=esc(data.get("unit", "?")))
    if kind == repo.EventKind.MOVED:
        day = data.get("on")
        return _("moved from {old} to {new}: the units were reorganised on {date}").format(
            old=esc(data.get("from", "?")),
            new=esc(data.get("to", "?")),
            date=format_date(dt.date.fromisoformat(day)) if isinstance(day, str) else "?",
        )
    return esc(kind)


def _media_line(counts: dict[str, int]) -> str | None:
    if not counts:
        return None
    parts = ", ".join(
        f"{MEDIA_LABELS[k]() if k in MEDIA_LABELS else esc(k)} {n}"
        for k, n in sorted(counts.items())
    )
    return _("Files: {count} ({parts})").format(count=sum(counts.values()), parts=parts)


async def render_card(ctx: Context, tip: Tip, unit: Unit, *, note: str | None = None) -> Reply:
    """The tip as an officer or supervisor sees it, with the actions open to them."""
    session = ctx.session
    cat = await repo.category(session, tip.category)
    lines = []
    if note:
        lines += [note, ""]
    lines.append(bold(_("Tip #{id}").format(id=tip.id)) + " · " + esc(category_name(cat)))
    status = _("Status: {status}").format(status=status_label(tip.status))
    if tip.status == TipStatus.CLOSED and tip.outcome:
        status += f" ({outcome_label(tip.outcome)})"
    if tip.escalation_level:
        status += " · " + _("escalated (level {level})").format(level=tip.escalation_level)
    lines.append(status)
    lines.append(_("Unit: {unit}").format(unit=esc(unit.name)))
    if tip.place_text:
        lines.append(_("Place: {place}").format(place=esc(tip.place_text)))
    if tip.lat is not None and tip.lon is not None:
        # Kept to 3 decimals (about 100 m) unless the reporter chose to send it exactly.
        if round(tip.lat, 3) == tip.lat and round(tip.lon, 3) == tip.lon:
            location = _(
                "Location, to about 100 m: {lat}, {lon} (https://maps.google.com/?q={lat},{lon})"
            )
            lat, lon = f"{tip.lat:.3f}", f"{tip.lon:.3f}"
        else:
            location = _("Location: {lat}, {lon} (https://maps.google.com/?q={lat},{lon})")
            lat, lon = f"{tip.lat:.5f}", f"{tip.lon:.5f}"
        lines.append(location.format(lat=lat, lon=lon))
    sent = f"{format_datetime(tip.created_at)} ({format_ago(ctx.now - tip.created_at)})"
    lines.append(_("Received: {time}").format(time=sent))
    counts = await repo.media_counts(session, tip.id)
    media = _media_line(counts)
    if media:
        lines.append(media)
    if tip.anonymous:
        lines.append(_("Reporter: anonymous"))
    elif sees_contact(ctx, tip):
        link = await reporter_of(session, ctx.settings, tip.id)
        if link is not None:
            lines.append(
                _("Reporter: {name}, phone {phone}").format(
                    name=esc(link.name or "?"), phone=esc(link.phone or "?")
                )
            )
        else:
            lines.append(_("Reporter: identified (contact deleted after closing)"))
    else:
        lines.append(
            _("Reporter: identified (contact visible to the officers of {unit})").format(
                unit=esc(unit.name)
            )
        )
    if tip.assigned_member_id is not None:
        assignee = await session.get(Member, tip.assigned_member_id)
        lines.append(
            _("Assigned to: {name}").format(name=esc(assignee.full_name if assignee else "?"))
        )
    if tip.duplicate_of_id is not None:
        lines.append(_("Duplicate of #{id}").format(id=tip.duplicate_of_id))
    lines += ["", esc(tip.description)]
    history = await repo.events(session, tip.id)
    shown = [(ev, name) for ev, name in history if ev.kind != repo.EventKind.ROUTED]
    if shown:
        lines += ["", bold(_("History"))]
        for ev, name in shown:
            line = _event_line(ev.kind, name, ev.text, ev.data)
            lines.append(f"{format_datetime(ev.at)} · {line}")
    choices = await _card_choices(ctx, tip)
    if counts:
        files = Choice(
            f"{PREFIX}files:{tip.id}", _("Show files ({count})").format(count=sum(counts.values()))
        )
        choices.insert(len(choices) - 1, files)  # before "Inbox"
    parts = split_text("\n".join(lines))
    reply = [Message(p) for p in parts]
    reply[-1].choices = choices
    reply[-1].columns = 2
    return reply


async def _card_choices(ctx: Context, tip: Tip) -> list[Choice]:
    t = tip.id
    choices: list[Choice] = []
    if tip.status != TipStatus.CLOSED:
        if tip.status == TipStatus.NEW:
            choices.append(Choice(f"{PREFIX}ack:{t}", _("Acknowledge")))
        choices.append(Choice(f"{PREFIX}asg:{t}", _("Assign")))
        if await has_link(ctx.session, t):
            choices.append(Choice(f"{PREFIX}ask:{t}", _("Ask the reporter")))
        choices.append(Choice(f"{PREFIX}dup:{t}", _("Mark duplicate")))
        choices.append(Choice(f"{PREFIX}close:{t}", _("Close")))
    choices.append(Choice(f"{PREFIX}in:0:-:-", _("Inbox")))
    return choices


# --- the inbox -----------------------------------------------------------------------------


def _inbox_id(page: int, cat: str | None, status: str | None) -> str:
    return f"{PREFIX}in:{page}:{cat or '-'}:{status or '-'}"


async def show_inbox(
    ctx: Context, page: int = 0, cat: str | None = None, status: str | None = None
) -> Reply:
    roots = ctx.units_with(*TRIAGE_ROLES)
    if not roots:
        return [Message(_("The tip inbox is for officers and supervisors."))]
    result = await repo.inbox(
        ctx.session, roots, category=cat, status=status, limit=PAGE_SIZE, offset=page * PAGE_SIZE
    )
    cats = {c.code: c for c in await repo.categories(ctx.session)}
    pages = max(1, -(-result.total // PAGE_SIZE))
    cat_text = category_name(cats.get(cat)) if cat else _("all")
    status_text = status_label(status) if status else _("open")
    lines = [
        bold(_("Tip inbox")),
        _("{count} tips · page {page}/{pages}").format(
            count=result.total, page=page + 1, pages=pages
        ),
        _("Category: {category} · Status: {status}").format(
            category=esc(cat_text), status=status_text
        ),
    ]
    if result.waiting:  # what needs action first; those tips lead the list
        lines.insert(1, "❗ " + _("Not acknowledged yet: {n}").format(n=result.waiting))
    if not result.rows:
        lines.append(_("No tips here."))
    choices = []
    own = roots[0].id if len(roots) == 1 else None
    for tip, unit in result.rows:
        choices.append(Choice(f"{PREFIX}open:{tip.id}", inbox_label(tip, unit, cats, own)))
    if page > 0:
        choices.append(Choice(_inbox_id(page - 1, cat, status), _("◂ Newer")))
    if page + 1 < pages:
        choices.append(Choice(_inbox_id(page + 1, cat, status), _("Older ▸")))
    choices.append(Choice(f"{PREFIX}fc:{status or '-'}", _("Filter by category")))
    choices.append(Choice(f"{PREFIX}fs:{cat or '-'}", _("Filter by status")))
    return [Message("\n".join(lines), choices=choices)]


def inbox_label(tip: Tip, unit: Unit, cats: dict[str, TipCategory], own: int | None) -> str:
    """What an officer needs first: the status, the number, then the category; the
    commune only when the inbox spans several (cut to a phone line by ``Choice``)."""
    status = status_label(tip.status)
    mark = " ⚠" if tip.escalation_level else ""
    label = f"{status} #{tip.id}{mark} · {category_name(cats.get(tip.category))}"
    return label if unit.id == own else f"{label} · {unit.name}"


async def _pick_category(ctx: Context, status: str | None) -> Reply:
    choices = [Choice(_inbox_id(0, None, status), _("All categories"))]
    for c in await repo.categories(ctx.session):
        choices.append(Choice(_inbox_id(0, c.code, status), category_name(c)))
    return [Message(_("Show tips of which category?"), choices=choices)]


async def _pick_status(ctx: Context, cat: str | None) -> Reply:
    choices = [Choice(_inbox_id(0, cat, None), _("open"))]
    for s in TipStatus:
        choices.append(Choice(_inbox_id(0, cat, s.value), status_label(s.value)))
    return [Message(_("Show tips with which status?"), choices=choices, columns=2)]


# --- actions -------------------------------------------------------------------------------


async def _acknowledge(ctx: Context, tip: Tip, unit: Unit) -> Reply:
    if not await repo.acknowledge(ctx.session, tip.id, ctx.now):
        await ctx.session.refresh(tip)
        return await render_card(ctx, tip, unit, note=_("This tip was already acknowledged."))
    await ctx.session.refresh(tip)
    event = repo.add_event(
        ctx.session, tip.id, repo.EventKind.ACKNOWLEDGED, at=ctx.now, actor_member_id=_actor(ctx)
    )
    await ctx.session.flush()
    _audit(ctx, "tip.acknowledge", tip.id)
    await tell_reporter_status(
        ctx.session, ctx.settings, tip, TipStatus.ACKNOWLEDGED, event_id=event.id, now=ctx.now
    )
    log.info("tip %s acknowledged by member %s", tip.id, _actor(ctx))
    return await render_card(ctx, tip, unit, note=_("Acknowledged."))


async def _assign_menu(ctx: Context, tip: Tip, unit: Unit) -> Reply:
    members = await repo.members_of_unit(ctx.session, unit.id)
    if not members:
        return await render_card(
            ctx,
            tip,
            unit,
            note=_("{unit} has no registered members to assign.").format(unit=esc(unit.name)),
        )
    choices = [Choice(f"{PREFIX}asm:{tip.id}:{mid}", name or f"#{mid}") for mid, name in members]
    choices.append(Choice(f"{PREFIX}open:{tip.id}", _("Back")))
    return [Message(_("Assign tip #{id} to:").format(id=tip.id), choices=choices)]


async def _assign(ctx: Context, tip: Tip, unit: Unit, member_id: int) -> Reply:
    members = dict(await repo.members_of_unit(ctx.session, unit.id))
    if member_id not in members:
        raise Invalid(_("That person is not a member of {unit}.").format(unit=esc(unit.name)))
    previous = tip.status
    if previous == TipStatus.CLOSED or not await repo.assign(
        ctx.session, tip.id, member_id, ctx.now
    ):
        return await render_card(ctx, tip, unit, note=_("This tip is closed."))
    await ctx.session.refresh(tip)
    event = repo.add_event(
        ctx.session,
        tip.id,
        repo.EventKind.ASSIGNED,
        at=ctx.now,
        actor_member_id=_actor(ctx),
        data={"member_id": member_id, "member_name": members[member_id]},
    )
    await ctx.session.flush()
    _audit(ctx, "tip.assign", tip.id, member_id=member_id)
    if previous != TipStatus.ASSIGNED:
        await tell_reporter_status(
            ctx.session, ctx.settings, tip, TipStatus.ASSIGNED, event_id=event.id, now=ctx.now
        )
    stmt = select(Identity).where(Identity.member_id == member_id, Identity.blocked_at.is_(None))
    for identity in (await ctx.session.execute(stmt)).scalars():
        if identity.id == ctx.identity.id:
            continue

        def render() -> list[Message]:
            return [
                Message(
                    _("Tip #{id} has been assigned to you.").format(id=tip.id),
                    choices=_officer_buttons(tip.id, acknowledge=False),
                )
            ]

        await notify.enqueue(
            ctx.session, identity, render, dedup_key=f"tip:{tip.id}:asg:{event.id}:{identity.id}"
        )
    return await render_card(
        ctx, tip, unit, note=_("Assigned to {name}.").format(name=esc(members[member_id]))
    )


async def _show_files(ctx: Context, tip: Tip) -> Reply:
    """The tip's photos, videos, voice notes and documents, sent anew by the bot.

    Never forwarded: a forward would carry the reporter's name. A channel sends its
    own files by its own reference and any file from the kept copy (``stored``);
    a file that came on another channel and was not kept is only counted.
    """
    channel = ctx.incoming.channel
    files = await repo.attachments(ctx.session, tip.id)
    shown = [a for a in files if a.kind in MEDIA_LABELS and (a.channel == channel or a.stored_path)]
    here = tuple(
        MediaRef(
            a.kind,  # type: ignore[arg-type]
            a.file_id if a.channel == channel else "",
            mime=a.mime,
            size=a.size,
            name=f"#{tip.id} · {MEDIA_LABELS[a.kind]()} {n}/{len(shown)}",  # a caption
            stored=a.stored_path,
        )
        for n, a in enumerate(shown, 1)
    )
    lines = [_("Files of tip #{id}: {count}").format(id=tip.id, count=len(here))]
    elsewhere = len(files) - len(here)
    if elsewhere:
        lines.append(
            _("{count} more came on another channel and cannot be shown here.").format(
                count=elsewhere
            )
        )
    _audit(ctx, "tip.files", tip.id, shown=len(here))
    back = [Choice(f"{PREFIX}open:{tip.id}", _("Back to the tip"))]
    return [Message("\n".join(lines), choices=back, files=here)]


async def _outcome_menu(ctx: Context, tip: Tip) -> Reply:
    choices = [Choice(f"{PREFIX}out:{tip.id}:{o}", outcome_label(o)) for o in repo.OUTCOMES]
    choices.append(Choice(f"{PREFIX}open:{tip.id}", _("Back")))
    return [Message(_("Close tip #{id} with which outcome?").format(id=tip.id), choices=choices)]


async def on_global(ctx: Context, choice: str) -> Reply:
    """Every ``tr:`` button: parse, check the person may act, act."""
    parts = choice[len(PREFIX) :].split(":")
    action, args = parts[0], parts[1:]
    try:
        if action == "in":
            page = int(args[0]) if args and args[0].isdigit() else 0
            cat = args[1] if len(args) > 1 and args[1] != "-" else None
            status = args[2] if len(args) > 2 and args[2] in set(TipStatus) else None
            return in_place(await show_inbox(ctx, page, cat, status))
        if action == "fc":  # pages and filters replace the list they were pressed on
            return in_place(
                await _pick_category(ctx, args[0] if args and args[0] in set(TipStatus) else None)
            )
        if action == "fs":
            return in_place(await _pick_status(ctx, args[0] if args and args[0] != "-" else None))
        if not args or not args[0].isdigit():
            raise Invalid(_("That button is no longer valid."))
        tip, unit = await _load(ctx, int(args[0]))
        if action == "open":
            return await render_card(ctx, tip, unit)
        if action == "files":
            return await _show_files(ctx, tip)
        if action == "ack":
            return await _acknowledge(ctx, tip, unit)
        if action == "asg":
            return await _assign_menu(ctx, tip, unit)
        if action == "asm" and len(args) > 1 and args[1].isdigit():
            return await _assign(ctx, tip, unit, int(args[1]))
        if tip.status == TipStatus.CLOSED and action in {"ask", "dup", "close", "out", "dg"}:
            return await render_card(ctx, tip, unit, note=_("This tip is closed."))
        if action == "ask":
            if not await has_link(ctx.session, tip.id):
                return await render_card(
                    ctx, tip, unit, note=_("The reporter can no longer be reached.")
                )
            ctx.goto(FLOW_NAME, Step.ASK, tip_id=tip.id)
            return await ask_question(ctx)
        if action == "dup":
            ctx.goto(FLOW_NAME, Step.DUPLICATE, tip_id=tip.id)
            return await ask_original(ctx)
        if action == "close":
            return await _outcome_menu(ctx, tip)
        if action == "out" and len(args) > 1 and args[1] in repo.OUTCOMES:
            recognition = await reappraisal.recognition_at_stake(ctx.session, tip, args[1])
            if recognition is not None:
                return [reappraisal.question(tip, unit, recognition)]
            ctx.goto(FLOW_NAME, Step.NOTE, tip_id=tip.id, outcome=args[1])
            return await ask_note(ctx)
        if action == "dg" and len(args) > 1 and args[1] in {"y", "n"}:
            ctx.goto(
                FLOW_NAME,
                Step.NOTE,
                tip_id=tip.id,
                outcome=reappraisal.HANDLED,
                drugs_confirmed=args[1] == "y",
            )
            return await ask_note(ctx)
    except Invalid as bad:
        return [Message(str(bad))]
    return [Message(_("That button is no longer valid."))]


# --- typed inputs: question, duplicate, closing note ------------------------------------

FLOW_NAME = "triage"
SKIP = "trf:skip"
CANCEL = "trf:cancel"
ASK_SEND = "trf:asksend"
ASK_EDIT = "trf:askedit"
# What a question to a reporter is checked for: links, account names, phone numbers.
_CONTACT_LIKE = re.compile(
    r"(?i)(?:https?://|www\.|t\.me/|zalo\.me/)\S+"
    r"|\b[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|vn|info|biz|me|io|ly|xyz|top|site|online|link|app)"
    r"\b(?:/\S*)?"
    r"|(?<![\w@])@[A-Za-z0-9_]{3,}"
    r"|(?<![\w+])\+?\d(?:[ .-]?\d){7,13}(?!\d)"
)


def contact_like(text: str) -> list[str]:
    """The links, account names (@name) and phone numbers in ``text``."""
    return [m.group(0) for m in _CONTACT_LIKE.finditer(text)]


class Step(StrEnum):
    ASK = "ask"
    CONFIRM_ASK = "confirm_ask"
    DUPLICATE = "duplicate"
    NOTE = "note"


def _cancel_choice() -> Choice:
    return Choice(CANCEL, _("Cancel"))


async def _current(ctx: Context) -> tuple[Tip, Unit]:
    return await _load(ctx, int(ctx.data["tip_id"]))


async def _leave(ctx: Context, inp: Incoming) -> Reply | None:
    """Cancel: back to the card, nothing written."""
    if inp.choice == CANCEL:
        tip, unit = await _current(ctx)
        ctx.finish()
        return await render_card(ctx, tip, unit, note=_("Cancelled."))
    return None


async def ask_question(ctx: Context) -> Reply:
    text = _(
        "Type your question for the reporter of tip #{id}. The bot passes it on; "
        "you will not learn who the reporter is."
    ).format(id=ctx.data["tip_id"])
    return [Message(text, choices=[_cancel_choice()])]


async def on_question(ctx: Context, inp: Incoming) -> Reply:
    if (left := await _leave(ctx, inp)) is not None:
        return left
    question = (inp.text or "").strip()
    if not question:
        raise Invalid(_("Please type the question as text."))
    if len(question) > QUESTION_MAX:
        raise Invalid(
            _("The question is {length} characters long; the limit is {limit}.").format(
                length=len(question), limit=QUESTION_MAX
            )
        )
    flagged = contact_like(question)
    if flagged:
        # Links, handles and numbers are how a reporter is lured: the officer confirms first.
        ctx.goto(FLOW_NAME, Step.CONFIRM_ASK, question=question)
        return await ask_confirm_question(ctx)
    return await _relay(ctx, question)


async def ask_confirm_question(ctx: Context) -> Reply:
    found = ", ".join(esc(f) for f in contact_like(str(ctx.data.get("question", ""))))
    text = _(
        "Your question contains a link, an account name or a phone number ({found}). "
        "Messages like that are how reporters are lured and tricked, so send it only if it "
        "is needed. Send it as it is?"
    ).format(found=found)
    choices = [
        Choice(ASK_SEND, _("Send as it is")),
        Choice(ASK_EDIT, _("Write it again")),
        _cancel_choice(),
    ]
    return [Message(text, choices=choices)]


async def on_confirm_question(ctx: Context, inp: Incoming) -> Reply:
    if (left := await _leave(ctx, inp)) is not None:
        return left
    if inp.choice == ASK_EDIT:
        ctx.goto(FLOW_NAME, Step.ASK)
        return await ask_question(ctx)
    if inp.choice == ASK_SEND:
        return await _relay(ctx, str(ctx.data.get("question", "")))
    raise Invalid(_("Please choose one of the buttons."))


async def _relay(ctx: Context, question: str) -> Reply:
    tip, unit = await _current(ctx)
    if tip.status == TipStatus.CLOSED:
        ctx.finish()
        return await render_card(ctx, tip, unit, note=_("This tip is closed."))
    day = dt.timedelta(days=1)
    asked = await repo.event_times(ctx.session, tip.id, [repo.EventKind.QUESTION], ctx.now - day)
    limit = ctx.settings.tip_questions_per_day
    if len(asked) >= limit:
        ctx.finish()
        note = _(
            "Tip #{id} has had {limit} questions in the last 24 hours, the most allowed. "
            "You can ask again after {time}."
        ).format(id=tip.id, limit=limit, time=format_datetime(asked[len(asked) - limit] + day))
        return await render_card(ctx, tip, unit, note=note)
    event = repo.add_event(
        ctx.session,
        tip.id,
        repo.EventKind.QUESTION,
        at=ctx.now,
        actor_member_id=_actor(ctx),
        public=True,
        text=question,
    )
    await ctx.session.flush()
    _audit(ctx, "tip.question", tip.id)
    relayed = await relay_question(
        ctx.session, ctx.settings, tip, question, event_id=event.id, now=ctx.now
    )
    ctx.finish()
    note = (
        _("Your question was passed on. You will be told when the reporter answers.")
        if relayed
        else _(
            "The reporter cannot be reached by the bot; they will see the question "
            "if they check the tip's status."
        )
    )
    return await render_card(ctx, tip, unit, note=note)


async def ask_original(ctx: Context) -> Reply:
    tip, unit = await _current(ctx)
    choices = [
        Choice(
            f"trf:dup:{t.id}",
            "#{id} · {time} · {preview}".format(
                id=t.id,
                time=format_datetime(t.created_at),
                preview=" ".join(t.description.split())[:40],
            ),
        )
        for t in await repo.recent_open_in_unit(ctx.session, unit.id, exclude=tip.id)
    ]
    choices.append(_cancel_choice())
    text = _("Tip #{id} repeats which tip? Type its number (for example 12) or choose:").format(
        id=tip.id
    )
    return [Message(text, choices=choices)]


async def on_original(ctx: Context, inp: Incoming) -> Reply:
    if (left := await _leave(ctx, inp)) is not None:
        return left
    raw = (
        inp.choice[len("trf:dup:") :]
        if inp.choice and inp.choice.startswith("trf:dup:")
        else ((inp.text or "").strip().lstrip("#"))
    )
    if not (raw.isascii() and raw.isdigit()):  # "²".isdigit(), but int("²") raises
        raise Invalid(_("Please type the number of the original tip, for example 12."))
    tip, unit = await _current(ctx)
    original_id = int(raw)
    if original_id == tip.id:
        raise Invalid(_("A tip cannot be a duplicate of itself."))
    original, _unit = await _load(ctx, original_id)
    if await repo.duplicate_root(ctx.session, original.id) == tip.id:
        raise Invalid(_("Tip #{id} is itself a duplicate of this tip.").format(id=original.id))
    if not await repo.close(ctx.session, tip.id, repo.DUPLICATE, ctx.now, duplicate_of=original.id):
        ctx.finish()
        await ctx.session.refresh(tip)
        return await render_card(ctx, tip, unit, note=_("This tip is closed."))
    await ctx.session.refresh(tip)
    event = repo.add_event(
        ctx.session,
        tip.id,
        repo.EventKind.DUPLICATE,
        at=ctx.now,
        actor_member_id=_actor(ctx),
        data={"of": original.id},
    )
    await ctx.session.flush()
    await _after_close(ctx, tip, repo.DUPLICATE, event.id, None)
    _audit(ctx, "tip.duplicate", tip.id, of=original.id)
    ctx.finish()
    return await render_card(
        ctx, tip, unit, note=_("Marked as a duplicate of #{id} and closed.").format(id=original.id)
    )


async def ask_note(ctx: Context) -> Reply:
    text = _(
        'Closing tip #{id} as "{outcome}". Write a short note for the reporter (they see '
        "it when they check the status), or press Skip."
    ).format(id=ctx.data["tip_id"], outcome=outcome_label(ctx.data["outcome"]))
    return [Message(text, choices=[Choice(SKIP, _("Skip")), _cancel_choice()], columns=2)]


async def on_note(ctx: Context, inp: Incoming) -> Reply:
    if (left := await _leave(ctx, inp)) is not None:
        return left
    note: str | None = None
    if inp.choice != SKIP:
        note = (inp.text or "").strip()
        if not note:
            raise Invalid(_("Please type the note, or press Skip."))
        if len(note) > NOTE_MAX:
            raise Invalid(
                _("The note is {length} characters long; the limit is {limit}.").format(
                    length=len(note), limit=NOTE_MAX
                )
            )
    tip, unit = await _current(ctx)
    outcome = str(ctx.data["outcome"])
    if not await repo.close(ctx.session, tip.id, outcome, ctx.now):
        ctx.finish()
        await ctx.session.refresh(tip)
        return await render_card(ctx, tip, unit, note=_("This tip is closed."))
    await ctx.session.refresh(tip)
    event = repo.add_event(
        ctx.session,
        tip.id,
        repo.EventKind.CLOSED,
        at=ctx.now,
        actor_member_id=_actor(ctx),
        public=note is not None,
        text=note,
        data={"outcome": outcome},
    )
    await ctx.session.flush()
    await _after_close(ctx, tip, outcome, event.id, note)
    _audit(ctx, "tip.close", tip.id, outcome=outcome)
    closed = _("Closed.")
    if ctx.data.get("drugs_confirmed"):
        await reappraisal.flag_reappraisal(
            ctx.session,
            tip,
            unit,
            actor_member_id=_actor(ctx),
            actor_name=ctx.member.full_name if ctx.member else "",
            now=ctx.now,
        )
        _audit(ctx, "recognition.reappraisal", tip.id, unit=unit.code)
        closed += " " + _("The drug-free recognition is flagged for re-appraisal.")
    ctx.finish()
    return await render_card(ctx, tip, unit, note=closed)


async def _after_close(
    ctx: Context, tip: Tip, outcome: str, event_id: int, note: str | None
) -> None:
    from db.sealed import schedule_purge

    await tell_reporter_status(
        ctx.session, ctx.settings, tip, TipStatus.CLOSED, event_id=event_id, now=ctx.now, note=note
    )
    await schedule_purge(ctx.session, ctx.settings, tip.id, ctx.now)
    log.info("tip %s closed (%s) by member %s", tip.id, outcome, _actor(ctx))


FLOW = registry.add_flow(
    Flow(
        FLOW_NAME,
        {
            Step.ASK: StepDef(prompt=ask_question, handle=on_question),
            Step.CONFIRM_ASK: StepDef(prompt=ask_confirm_question, handle=on_confirm_question),
            Step.DUPLICATE: StepDef(prompt=ask_original, handle=on_original),
            Step.NOTE: StepDef(prompt=ask_note, handle=on_note),
        },
    )
)


async def _open_inbox(ctx: Context) -> Reply:
    return await show_inbox(ctx)


async def _inbox_command(ctx: Context, args: str) -> Reply:
    return await show_inbox(ctx)


def _is_triager(ctx: Context) -> bool:
    return ctx.has_role(*TRIAGE_ROLES)


registry.add_global_choice(PREFIX, on_global)
registry.add_menu(MenuEntry("tip_inbox", lambda: _("Tip inbox"), _open_inbox, _is_triager, 40))
registry.add_command("tips", _inbox_command)


COMMAND_HELP["tips"] = lambda: _("the tip inbox (officers and supervisors)")
