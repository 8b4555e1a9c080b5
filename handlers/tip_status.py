"""The citizen after sending: check a tip by its code, add to it, answer the police.

Anyone who holds a tracking code may see that tip's status and the officers'
public messages, and add information while it is open. Ten wrong codes within an
hour lock look-ups for that person for an hour; the failures are counted as
keyed counters (``db.rate_limits``) written in the normal path (never under ``Invalid``, whose
rollback would undo them).

Buttons that name a tip in the citizen's chat carry an encrypted reference
(``tpa:i:<ref>`` to add information, ``tpa:a:<ref>`` to answer a relayed
question), and the conversation keeps only that reference while they type, so
no row joins the person to the tip in clear.

```mermaid
flowchart TD
    entry(["/status CODE, /status, menu 'Check a tip'"]) --> locked{locked out?}
    locked -- yes --> wait[try again after HH:MM]
    locked -- no --> code[type the code] --> check{code known?}
    check -- no --> fail[count a failure; tries left or locked] --> code
    check -- yes --> view[status + public messages]
    view -- "tpa:i:ref" --> add
    question(["relayed question: Reply = tpa:a:ref"]) --> add
    add[files, then text] -- text or Done --> saved[(tip_event + attachments + officers notified)]
```
"""

from __future__ import annotations

import datetime as dt
import logging
from enum import StrEnum
from typing import Any

from db import rate_limits
from db import tips as repo
from db.models import Tip, TipStatus
from db.sealed import open_ref, seal_ref
from handlers import triage
from handlers.flow import Context, Flow, Invalid, MenuEntry, StepDef, menu_choices, registry
from handlers.i18n import _, format_date, format_datetime, format_time, ngettext
from handlers.render import bold, esc, split_text
from handlers.start import COMMAND_HELP
from handlers.tip import files_warning
from handlers.types import Choice, Incoming, Message, Reply

log = logging.getLogger(__name__)

FLOW_NAME = "tip_status"
PREFIX = triage.ANSWER_PREFIX  # "tpa:"
DONE = "tps:done"
CANCEL = "tps:cancel"
LOCK_WINDOW = dt.timedelta(hours=1)
CODE_EXAMPLE = "1234-5678-9012-3456"


class Step(StrEnum):
    CODE = "code"
    ADD = "add"


CITIZEN_STATUS = {
    TipStatus.NEW: lambda: _("received, waiting to be looked at"),
    TipStatus.ACKNOWLEDGED: lambda: _("being looked at"),
    TipStatus.ASSIGNED: lambda: _("being handled by an officer"),
    TipStatus.CLOSED: lambda: _("closed"),
}


# --- lock-out ---------------------------------------------------------------------------


async def _failures(ctx: Context, since: dt.datetime) -> list[dt.datetime]:
    return await rate_limits.times(
        ctx.session, ctx.settings, rate_limits.TIP_LOOKUP_FAIL, ctx.identity.id, since, ctx.now
    )


async def locked_until(ctx: Context) -> dt.datetime | None:
    """The end of the person's lock-out: an hour after the failure that made
    ``tip_lookup_max_failures`` within an hour. Failures are not counted while locked."""
    limit = ctx.settings.tip_lookup_max_failures
    times = await _failures(ctx, ctx.now - 2 * LOCK_WINDOW)
    until: dt.datetime | None = None
    for i in range(limit - 1, len(times)):
        if times[i] - times[i - limit + 1] < LOCK_WINDOW:
            until = times[i] + LOCK_WINDOW
    return until if until is not None and ctx.now < until else None


def _locked_text(until: dt.datetime) -> str:
    return _("Too many wrong codes. You can try again after {time}.").format(
        time=format_time(until)
    )


# --- looking a tip up -------------------------------------------------------------------


async def ask_code(ctx: Context) -> Reply:
    text = _("Type the tracking code of your tip (16 digits, like {example}).").format(
        example=CODE_EXAMPLE
    )
    return [Message(text)]


async def begin(ctx: Context, args: str = "") -> Reply:
    ctx.finish()
    until = await locked_until(ctx)
    if until is not None:
        return [Message(_locked_text(until), choices=menu_choices(ctx))]
    if args.strip():
        return await lookup(ctx, args)
    ctx.goto(FLOW_NAME, Step.CODE)
    return await ask_code(ctx)


async def _menu_start(ctx: Context) -> Reply:
    return await begin(ctx)


async def on_code(ctx: Context, inp: Incoming) -> Reply:
    if not (inp.text or "").strip():
        raise Invalid(_("Please type the code as text."))
    return await lookup(ctx, inp.text or "")


async def lookup(ctx: Context, raw: str) -> Reply:
    """Check a code; a wrong one counts towards the lock-out (and is kept: no Invalid)."""
    until = await locked_until(ctx)
    if until is not None:
        ctx.finish()
        return [Message(_locked_text(until), choices=menu_choices(ctx))]
    if repo.normalize_code(raw) is None:
        ctx.goto(FLOW_NAME, Step.CODE)
        return [
            Message(
                _("That is not a tracking code: it has 16 digits, like {example}.").format(
                    example=CODE_EXAMPLE
                )
            ),
            *await ask_code(ctx),
        ]
    tip = await repo.by_code(ctx.session, ctx.settings, raw)
    if tip is None:
        await rate_limits.hit(
            ctx.session, ctx.settings, rate_limits.TIP_LOOKUP_FAIL, ctx.identity.id, ctx.now
        )
        await ctx.session.flush()
        until = await locked_until(ctx)
        if until is not None:
            log.info("tip code look-ups locked for an hour after repeated failures")
            ctx.finish()
            return [Message(_locked_text(until), choices=menu_choices(ctx))]
        left = ctx.settings.tip_lookup_max_failures - len(
            await _failures(ctx, ctx.now - LOCK_WINDOW)
        )
        ctx.goto(FLOW_NAME, Step.CODE)
        return [
            Message(
                _("No tip has this code. Check it and try again ({left} tries left).").format(
                    left=left
                )
            )
        ]
    ctx.finish()
    return await show_status(ctx, tip)


async def show_status(ctx: Context, tip: Tip, *, note: str | None = None) -> Reply:
    """The citizen's view: neutral status and the officers' public messages; no names."""
    cat = await repo.category(ctx.session, tip.category)
    lines = []
    if note:
        lines += [note, ""]
    lines.append(
        bold(_("Your tip of {date}").format(date=format_date(tip.created_at)))
        + " · "
        + esc(triage.category_name(cat))
    )
    lines.append(_("Status: {status}").format(status=CITIZEN_STATUS[TipStatus(tip.status)]()))
    messages = await repo.events(ctx.session, tip.id, public_only=True)
    if messages:
        lines += ["", bold(_("Messages from the police:"))]
        for ev, _actor_name in messages:
            if ev.text:
                lines.append(f"{format_datetime(ev.at)} · {esc(ev.text)}")
    choices: list[Choice] = []
    if tip.status != TipStatus.CLOSED:
        choices.append(
            Choice(f"{PREFIX}i:{seal_ref(ctx.settings, tip.id)}", _("Add information or answer"))
        )
    choices += menu_choices(ctx)
    reply = [Message(p) for p in split_text("\n".join(lines))]
    reply[-1].choices = choices
    return reply


# --- adding to a tip ------------------------------------------------------------------


async def on_global(ctx: Context, choice: str) -> Reply:
    """``tpa:i:<ref>`` (add information) and ``tpa:a:<ref>`` (answer a question)."""
    kind, _sep, ref = choice[len(PREFIX) :].partition(":")
    tip_id = open_ref(ctx.settings, ref) if kind in {"i", "a"} else None
    tip = await repo.get(ctx.session, tip_id) if tip_id is not None else None
    if tip is None:
        return [Message(_("That button is no longer valid.")), *_menu(ctx)]
    if tip.status == TipStatus.CLOSED:
        return [
            Message(_("This tip is closed. To report something new, send a new tip.")),
            *_menu(ctx),
        ]
    full = await _additions_full(ctx, tip)
    if full is not None:
        return [Message(full), *_menu(ctx)]
    event_kind = repo.EventKind.REPORTER_ANSWER if kind == "a" else repo.EventKind.REPORTER_INFO
    ctx.goto(FLOW_NAME, Step.ADD, ref=seal_ref(ctx.settings, tip.id), kind=event_kind, media=[])
    return await ask_addition(ctx)


ADDITION_KINDS = (repo.EventKind.REPORTER_INFO, repo.EventKind.REPORTER_ANSWER)


async def _additions_full(ctx: Context, tip: Tip) -> str | None:
    """Why no more can be added to the tip this hour, or None when it can."""
    hour = dt.timedelta(hours=1)
    times = await repo.event_times(ctx.session, tip.id, ADDITION_KINDS, ctx.now - hour)
    limit = ctx.settings.tip_additions_per_hour
    if len(times) < limit:
        return None
    return _(
        "This tip has had {limit} additions in the last hour, the most allowed. "
        "You can add more after {time}."
    ).format(limit=limit, time=format_time(times[len(times) - limit] + hour))


def _menu(ctx: Context) -> Reply:
    return [Message(_("What would you like to do?"), choices=menu_choices(ctx))]


async def _tip_of(ctx: Context) -> Tip | None:
    tip_id = open_ref(ctx.settings, str(ctx.data.get("ref", "")))
    return await repo.get(ctx.session, tip_id) if tip_id is not None else None


async def ask_addition(ctx: Context) -> Reply:
    count = len(ctx.data.get("media", []))
    if ctx.data.get("kind") == repo.EventKind.REPORTER_ANSWER:
        text = _("Type your answer. If you have files, send them first.")
    else:
        text = _("Type what you want to add. If you have files, send them first.")
    text += " " + _("Your name is not shown to the officers.")
    if not count:
        text += "\n\n" + files_warning()
    if count:
        text += "\n" + ngettext("{count} file received.", "{count} files received.", count).format(
            count=count
        )
    choices = (
        [Choice(DONE, _("Done")), Choice(CANCEL, _("Cancel"))]
        if count
        else [Choice(CANCEL, _("Cancel"))]
    )
    return [Message(text, choices=choices, columns=2)]


async def on_addition(ctx: Context, inp: Incoming) -> Reply:
    if inp.choice == CANCEL:
        ctx.finish()
        return [Message(_("Cancelled. Nothing was added.")), *_menu(ctx)]
    tip = await _tip_of(ctx)
    if tip is None or tip.status == TipStatus.CLOSED:
        ctx.finish()
        return [
            Message(_("This tip is closed. To report something new, send a new tip.")),
            *_menu(ctx),
        ]
    media: list[dict[str, Any]] = list(ctx.data.get("media", []))
    notes: list[Message] = []
    if inp.media:
        existing = sum((await repo.media_counts(ctx.session, tip.id)).values())
        room = max(0, ctx.settings.tip_max_media - existing - len(media))
        taken = [
            repo.MediaItem(m.kind, m.file_id, m.mime, m.size).as_json() for m in inp.media[:room]
        ]
        media += taken
        ctx.update(media=media)
        if len(inp.media) > len(taken):
            notes.append(
                Message(
                    _(
                        "A tip can have at most {limit} files; {dropped} of the files you sent "
                        "were not added."
                    ).format(limit=ctx.settings.tip_max_media, dropped=len(inp.media) - len(taken))
                )
            )
    text = (inp.text or "").strip()
    if len(text) > ctx.settings.tip_max_text:
        message = _(
            "Your text has {length} characters; the limit is {limit}. "
            "Please shorten it and send it again."
        ).format(length=len(text), limit=ctx.settings.tip_max_text)
        if inp.media:
            return [*notes, Message(message), *await ask_addition(ctx)]
        raise Invalid(message)
    if text or inp.choice == DONE:
        if not text and not media:
            raise Invalid(_("Please type something, or press Cancel."))
        full = await _additions_full(ctx, tip)
        if full is not None:
            return [Message(full), *await ask_addition(ctx)]
        return await _save(ctx, tip, text, media)
    if inp.media:
        return [*notes, *await ask_addition(ctx)]
    raise Invalid(_("Please type your message, or send a file."))


async def _save(ctx: Context, tip: Tip, text: str, media: list[dict[str, Any]]) -> Reply:
    kind = str(ctx.data.get("kind", repo.EventKind.REPORTER_INFO))
    # No actor: the event must not name the reporter, even one who is a member.
    repo.add_event(
        ctx.session, tip.id, kind, at=ctx.now, text=text or None, data={"media": len(media)}
    )
    repo.add_attachments(
        ctx.session,
        tip.id,
        ctx.identity.channel,
        [repo.MediaItem.from_json(m) for m in media],
        now=ctx.now,
    )
    await ctx.session.flush()
    await triage.notify_reporter_input(ctx.session, tip, kind, ctx.now)
    log.info("tip %s: reporter input added", tip.id)
    ctx.finish()
    return await show_status(ctx, tip, note=_("Thank you. It was added to your tip."))


FLOW = registry.add_flow(
    Flow(
        FLOW_NAME,
        {
            Step.CODE: StepDef(prompt=ask_code, handle=on_code),
            Step.ADD: StepDef(prompt=ask_addition, handle=on_addition, accepts_media=True),
        },
    )
)

registry.add_command("status", begin)
registry.add_global_choice(PREFIX, on_global)
registry.add_menu(
    MenuEntry("tip_status", lambda: _("Check a tip"), _menu_start, lambda c: True, 11)
)
COMMAND_HELP["status"] = lambda: _("check a tip with its tracking code")
