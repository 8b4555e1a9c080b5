"""Joining a unit with an invite: officers, force members, supervisors and admins.

The code arrives by deep link (``/start inv_<code>``) or is typed after the menu
entry "Join with an invite code". A refused code (unknown, expired, used up,
withdrawn) is counted in ``rate_event``; ``invite_max_failures`` refusals within
``invite_lock_minutes`` lock code entry for that person for ``invite_lock_minutes``,
and while locked no code is even looked at. The failure is recorded by returning
a normal reply (not ``Invalid``, whose rollback would erase it).

Between the code step and the final confirmation the conversation keeps the
invite's id, never the code: the code is a secret, stored only as a hash.

```mermaid
flowchart TD
    menu[menu: Join with an invite code] --> locked{locked?}
    link["/start inv_CODE"] --> locked
    locked -- yes --> refused[until HH:mm] --> main[main menu]
    locked -- no --> code[ASK_CODE]
    code -- refused code --> count[count failure] --> code
    count -- 5th within an hour --> refused
    code -- already holds the role --> main
    code -- valid --> name[CONFIRM_NAME: unit, role, 'Yes, that is me: NAME']
    name -- yes --> join
    name -- "another name / typed name" --> ask[ASK_NAME] --> confirm[CONFIRM]
    confirm -- confirm --> join[ensure_member + redeem_invite] --> main
    confirm -- cancel --> main
```
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from db import rate_limits
from db.invites import InviteStatus, check_invite, check_invite_id, normalize_code, redeem_invite
from db.members import Grant, UnitRecord, ensure_member
from db.models import Role
from handlers.flow import (
    Context,
    Flow,
    Invalid,
    MenuEntry,
    StepDef,
    choice_or_text,
    registry,
)
from handlers.i18n import _, format_datetime, format_time, local
from handlers.render import bold, esc
from handlers.start import main_menu, role_label
from handlers.types import Choice, Incoming, Message, Reply

FLOW_NAME = "register"
FAIL_KIND = rate_limits.INVITE_FAIL
LOCK_KIND = rate_limits.INVITE_LOCK
NAME_MIN, NAME_MAX = 2, 100

YES_ME = "reg:me"
OTHER_NAME = "reg:other"
CONFIRM = "reg:ok"
CANCEL = "reg:cancel"


class Step(StrEnum):
    ASK_CODE = "ask_code"
    CONFIRM_NAME = "confirm_name"
    ASK_NAME = "ask_name"
    CONFIRM = "confirm"


# --- the lock-out ------------------------------------------------------------


def _lock_span(ctx: Context) -> dt.timedelta:
    return dt.timedelta(minutes=ctx.settings.invite_lock_minutes)


async def _times(ctx: Context, kind: str, since: dt.datetime) -> list[dt.datetime]:
    return await rate_limits.times(ctx.session, ctx.settings, kind, ctx.identity.id, since, ctx.now)


async def _last_lock(ctx: Context) -> dt.datetime | None:
    locks = await _times(ctx, LOCK_KIND, ctx.now - _lock_span(ctx))
    return locks[-1] if locks else None


async def locked_until(ctx: Context) -> dt.datetime | None:
    """When code entry opens again for this person, or None when it is open."""
    last = await _last_lock(ctx)
    if last is not None and ctx.now < last + _lock_span(ctx):
        return last + _lock_span(ctx)
    return None


async def record_failure(ctx: Context) -> dt.datetime | None:
    """Count a refused code; when it completes the series, lock and return the lock's end.

    Failures before the last lock started do not count again after it ends.
    """
    await rate_limits.hit(ctx.session, ctx.settings, FAIL_KIND, ctx.identity.id, ctx.now)
    since = ctx.now - _lock_span(ctx)
    last = await _last_lock(ctx)
    failures = [t for t in await _times(ctx, FAIL_KIND, since) if last is None or t > last]
    if len(failures) < ctx.settings.invite_max_failures:
        return None
    await rate_limits.hit(ctx.session, ctx.settings, LOCK_KIND, ctx.identity.id, ctx.now)
    return rate_limits.bucket_start(ctx.now) + rate_limits.BUCKET + _lock_span(ctx)


def _local_time(ctx: Context, moment: dt.datetime) -> str:
    """HH:mm, with the date when it is not today (local time)."""
    if local(moment).date() != local(ctx.now).date():
        return format_datetime(moment)
    return format_time(moment)


async def _refuse_locked(ctx: Context, until: dt.datetime, intro: str | None = None) -> Reply:
    ctx.finish()
    note = _(
        "Too many wrong invite codes. Code entry is locked until {time}; please try again then."
    ).format(time=_local_time(ctx, until))
    return await main_menu(ctx, f"{intro}\n{note}" if intro else note)


# --- the steps -----------------------------------------------------------------


def _cancel_choice() -> Choice:
    return Choice(CANCEL, _("Cancel"))


async def _cancelled(ctx: Context) -> Reply:
    ctx.finish()
    return await main_menu(ctx, _("Cancelled. Nothing was saved."))


async def ask_code(ctx: Context) -> Reply:
    return [
        Message(
            _("Please type the invite code you were given (12 letters and digits)."),
            choices=[_cancel_choice()],
        )
    ]


REFUSALS = {
    InviteStatus.UNKNOWN: lambda: _("This invite code does not exist. Check it and type it again."),
    InviteStatus.EXPIRED: lambda: _(
        "This invite code has expired. Ask the person who invited you for a new one."
    ),
    InviteStatus.USED_UP: lambda: _(
        "This invite code has already been used. Ask the person who invited you for a new one."
    ),
    InviteStatus.REVOKED: lambda: _(
        "This invite code has been withdrawn. Ask the person who invited you for a new one."
    ),
}


async def _try_code(ctx: Context, raw: str) -> Reply:
    """Check a code (the person is not locked): refuse and count, or move on to the name."""
    code = normalize_code(raw)
    check = await check_invite(ctx.session, code, now=ctx.now, settings=ctx.settings)
    if check.status is not InviteStatus.OK or check.invite is None or check.unit is None:
        refusal = REFUSALS[check.status]()
        until = await record_failure(ctx)
        if until is not None:
            return await _refuse_locked(ctx, until, refusal)
        ctx.goto(FLOW_NAME, Step.ASK_CODE)
        return [Message(refusal), *await ask_code(ctx)]
    role = Role(check.invite.role)
    if any(g.role == role and g.unit.id == check.unit.id for g in ctx.grants):
        ctx.finish()
        return await main_menu(
            ctx,
            _("You are already {role} of {unit}.").format(
                role=role_label(role), unit=esc(check.unit.name)
            ),
        )
    # A messenger display name is offered only when it reads like a full name:
    # "hung99" is a nickname, so the full name is asked for.
    if ctx.member is not None:
        prefill = _clean_name(ctx.member.full_name)
    else:
        shown = _clean_name(ctx.identity.display_name)
        prefill = shown if _looks_like_full_name(shown) else ""
    ctx.goto(
        FLOW_NAME,
        Step.CONFIRM_NAME if _name_problem(prefill) is None else Step.ASK_NAME,
        invite_id=check.invite.id,
        unit_name=check.unit.name,
        role=role.value,
        name=prefill,
    )
    return [Message(_invite_summary(ctx)), *await _prompt_current(ctx)]


def _invite_summary(ctx: Context) -> str:
    return _("This invite makes you {role} of {unit}.").format(
        role=bold(role_label(Role(ctx.data["role"]))), unit=bold(esc(ctx.data["unit_name"]))
    )


async def _prompt_current(ctx: Context) -> Reply:
    return await FLOW.steps[ctx.step or Step.ASK_CODE].prompt(ctx)


async def on_code(ctx: Context, inp: Incoming) -> Reply:
    # "1" or "Cancel" typed on a channel without buttons is not a wrong code.
    if choice_or_text(inp, [_cancel_choice()]) == CANCEL:
        return await _cancelled(ctx)
    if not (inp.text or "").strip():
        raise Invalid(_("Please type the invite code as text."))
    until = await locked_until(ctx)
    if until is not None:
        return await _refuse_locked(ctx, until)
    return await _try_code(ctx, inp.text or "")


def _confirm_name_choices(ctx: Context) -> list[Choice]:
    return [
        Choice(YES_ME, _("Yes, that's me: {name}").format(name=ctx.data["name"])),
        Choice(OTHER_NAME, _("Use another name")),
        _cancel_choice(),
    ]


async def ask_confirm_name(ctx: Context) -> Reply:
    return [
        Message(
            _("Is this your full name? Press the button, or type your full name.")
            + "\n"
            + bold(esc(ctx.data["name"])),
            choices=_confirm_name_choices(ctx),
        )
    ]


async def on_confirm_name(ctx: Context, inp: Incoming) -> Reply:
    picked = choice_or_text(inp, _confirm_name_choices(ctx))
    if picked == CANCEL:
        return await _cancelled(ctx)
    if picked == YES_ME:
        return await _join(ctx)
    if picked == OTHER_NAME:
        ctx.goto(FLOW_NAME, Step.ASK_NAME)
        return await ask_name(ctx)
    if inp.text and not inp.text.startswith("/"):
        return await on_name(ctx, inp)
    raise Invalid(_("Please press one of the buttons, or type your full name."))


async def ask_name(ctx: Context) -> Reply:
    return [
        Message(
            _("Please type your full name as it should appear in reports (e.g. Nguyễn Văn An)."),
            choices=[_cancel_choice()],
        )
    ]


def _clean_name(raw: str | None) -> str:
    return " ".join((raw or "").split())


def _looks_like_full_name(name: str) -> bool:
    """Two or more words of letters only ("Trần Thị Bình", not "hung99" or "tb_2")."""
    words = name.split()
    return len(words) >= 2 and all(w.replace("-", "").replace("'", "").isalpha() for w in words)


def _name_problem(name: str) -> str | None:
    if not NAME_MIN <= len(name) <= NAME_MAX or not any(ch.isalpha() for ch in name):
        return _("A full name has 2 to 100 characters, with letters. Please type it again.")
    return None


async def on_name(ctx: Context, inp: Incoming) -> Reply:
    if choice_or_text(inp, [_cancel_choice()]) == CANCEL:
        return await _cancelled(ctx)
    name = _clean_name(inp.text)
    problem = _name_problem(name)
    if problem is not None:
        raise Invalid(problem)
    ctx.goto(FLOW_NAME, Step.CONFIRM, name=name)
    return await ask_confirm(ctx)


def _confirm_choices() -> list[Choice]:
    return [Choice(CONFIRM, _("Confirm")), _cancel_choice()]


async def ask_confirm(ctx: Context) -> Reply:
    text = "\n".join(
        [
            _("Please check and confirm:"),
            _("Name: {name}").format(name=bold(esc(ctx.data["name"]))),
            _invite_summary(ctx),
        ]
    )
    return [Message(text, choices=_confirm_choices())]


async def on_confirm(ctx: Context, inp: Incoming) -> Reply:
    picked = choice_or_text(inp, _confirm_choices())
    if picked == CANCEL:
        return await _cancelled(ctx)
    if picked != CONFIRM:
        raise Invalid(_("Please press Confirm or Cancel."))
    return await _join(ctx)


async def _join(ctx: Context) -> Reply:
    """Create the member if needed and use the invite, in this update's transaction."""
    if ctx.data.get("invite_id") is None:  # a conversation from before invite ids: ask again
        ctx.goto(FLOW_NAME, Step.ASK_CODE)
        return await ask_code(ctx)
    invite_id = int(ctx.data["invite_id"])
    # Looked at again: the invite may have expired or been used up since the code step.
    check = await check_invite_id(ctx.session, invite_id, now=ctx.now)
    if check.status is InviteStatus.OK and check.invite is not None and check.unit is not None:
        member = await ensure_member(ctx.session, ctx.identity, ctx.data["name"])
        check = await redeem_invite(ctx.session, invite_id, member.id, now=ctx.now, checked=check)
        if check.status is InviteStatus.OK and check.invite is not None and check.unit is not None:
            ctx.finish()
            ctx.member = member
            role = Role(check.invite.role)
            if check.grant_id is not None:  # the grants as they stand now, without reading them
                grants = [*ctx.grants, Grant(check.grant_id, role, UnitRecord.of(check.unit))]
                ctx.grants = sorted(grants, key=lambda g: (g.unit.depth, g.role.value))
            return await main_menu(
                ctx,
                _("You are now {role} of {unit}.").format(
                    role=role_label(role), unit=esc(check.unit.name)
                ),
            )
    ctx.goto(FLOW_NAME, Step.ASK_CODE, invite_id=None)
    return [Message(REFUSALS[check.status]()), *await ask_code(ctx)]


FLOW = registry.add_flow(
    Flow(
        FLOW_NAME,
        {
            Step.ASK_CODE: StepDef(prompt=ask_code, handle=on_code),
            Step.CONFIRM_NAME: StepDef(prompt=ask_confirm_name, handle=on_confirm_name),
            Step.ASK_NAME: StepDef(prompt=ask_name, handle=on_name),
            Step.CONFIRM: StepDef(prompt=ask_confirm, handle=on_confirm),
        },
    )
)


# --- the ways in ---------------------------------------------------------------


async def start_register(ctx: Context) -> Reply:
    """The menu entry: ask for the code (unless the person is locked out)."""
    until = await locked_until(ctx)
    if until is not None:
        return await _refuse_locked(ctx, until)
    ctx.goto(FLOW_NAME, Step.ASK_CODE)
    return await ask_code(ctx)


async def from_deep_link(ctx: Context, code: str) -> Reply:
    """``/start inv_<code>``: the code is checked at once, like a typed one."""
    ctx.finish()
    if not normalize_code(code):
        return await start_register(ctx)
    until = await locked_until(ctx)
    if until is not None:
        return await _refuse_locked(ctx, until)
    ctx.goto(FLOW_NAME, Step.ASK_CODE)
    return await _try_code(ctx, code)


registry.add_deep_link("inv_", from_deep_link)
registry.add_menu(
    MenuEntry(
        "join", lambda: _("Join with an invite code"), start_register, lambda c: not c.grants, 800
    )
)
