"""The register of recognised units in the bot: supervisors and admins keep it.

Who may do what: supervisors and admins see the register of the units under the
units of their grants, add a recognition of a unit there (kind, level for models,
decision number, date and deciding body) and record a status (maintained,
spread, re-appraisal, closed, revoked) on one. Everyone else gets no menu entry,
and a forged button a refusal. The CSV side is ``antt register import/export``.

Global buttons (``rg:``): ``rg:v:<unit id>`` the register of a unit,
``rg:r:<recognition id>`` one recognition and its history, ``rg:s:<id>:<status>``
record a status (today), ``rg:add`` add a recognition, ``rg:x:<unit id>`` the
register of the unit's area as CSV (the shape ``antt register import`` reads).
Inside the flow: ``rgf:k:<kind>``, ``rgf:l:<level>``, ``rgf:save``, ``rgf:cancel``.

```mermaid
flowchart TD
    menu["menu: Register (m:register)"] --> view[VIEW: counts, re-appraisals, latest]
    view -- "rg:r:id" --> card[recognition: history, status buttons]
    card -- "rg:s:id:status" --> card
    view -- rg:add --> unit[UNIT: type a name] --> kind[KIND] --> level[LEVEL: models only]
    level --> number[NUMBER] --> date[DATE dd/mm/yyyy] --> body[BODY: deciding body]
    kind --> number
    body --> confirm[CONFIRM] -- rgf:save --> card
    confirm -- rgf:cancel --> view
```
"""

from __future__ import annotations

import io
from collections.abc import Callable
from enum import StrEnum

from sqlalchemy import select

from db import audit
from db.models import (
    Recognition,
    RecognitionEvent,
    RecognitionKind,
    RecognitionLevel,
    RecognitionStatus,
    Role,
    Unit,
)
from db.register import add_event, count_in_force, recognitions_under
from db.register_csv import ensure_recognition, export_rows, parse_date, write_csv
from db.units import by_id, search_by_name
from handlers.flow import Context, Flow, Invalid, MenuEntry, StepDef, choice_or_text, registry
from handlers.i18n import _, format_date, local_today
from handlers.render import bold, esc
from handlers.start import COMMAND_HELP
from handlers.types import Choice, Incoming, Message, Reply

FLOW_NAME = "recognitions"
PREFIX = "rg:"
ROLES = (Role.SUPERVISOR, Role.ADMIN)
LISTED = 8
SAVE = "rgf:save"
CANCEL = "rgf:cancel"

KIND_LABELS: dict[str, Callable[[], str]] = {
    RecognitionKind.MODEL: lambda: _("model unit"),
    RecognitionKind.DRUG_FREE: lambda: _("drug-free"),
    RecognitionKind.SECURITY_SAFE: lambda: _("safe for security and order"),
    RecognitionKind.RURAL_SECURITY: lambda: _("new-rural security criterion"),
}
LEVEL_LABELS: dict[str, Callable[[], str]] = {
    RecognitionLevel.MINISTRY: lambda: _("by the Ministry"),
    RecognitionLevel.PROVINCE: lambda: _("by the province"),
    RecognitionLevel.DISTRICT: lambda: _("by the district"),
}
STATUS_LABELS: dict[str, Callable[[], str]] = {
    RecognitionStatus.RECOGNISED: lambda: _("recognised"),
    RecognitionStatus.MAINTAINED: lambda: _("maintained"),
    RecognitionStatus.SPREAD: lambda: _("spread"),
    RecognitionStatus.REAPPRAISAL: lambda: _("under re-appraisal"),
    RecognitionStatus.CLOSED: lambda: _("closed"),
    RecognitionStatus.REVOKED: lambda: _("revoked"),
}


class Step(StrEnum):
    UNIT = "unit"
    KIND = "kind"
    LEVEL = "level"
    NUMBER = "number"
    DATE = "date"
    BODY = "body"
    CONFIRM = "confirm"


def _label(labels: dict[str, Callable[[], str]], key: str | None) -> str:
    return labels[key]() if key in labels else (key or "")


def _allowed(ctx: Context) -> bool:
    return ctx.has_role(*ROLES)


def _line(unit_name: str, kind: str, level: str | None, number: str, day: object) -> str:
    what = _label(KIND_LABELS, kind)
    if level:
        what += f" ({_label(LEVEL_LABELS, level)})"
    return f"{esc(unit_name)} — {what}, {esc(number)} {format_date(day)}"  # type: ignore[arg-type]


# --- the view -----------------------------------------------------------------------


async def show_register(ctx: Context, unit: Unit | None = None) -> Reply:
    """The register of ``unit`` (default: the person's first supervised unit)."""
    if not _allowed(ctx):
        return [Message(_("The register is kept by supervisors and admins."))]
    if unit is None:
        unit = sorted(ctx.units_with(*ROLES), key=lambda u: u.depth)[0]
    elif not ctx.can_see(unit, *ROLES):
        return [Message(_("That unit is outside your area."))]
    lines = [bold(_("Register of recognised units: {unit}").format(unit=esc(unit.name)))]
    counts = []
    for kind in RecognitionKind:
        n = await count_in_force(ctx.session, unit, kind.value)
        counts.append(f"{_label(KIND_LABELS, kind.value)}: {n}")
    lines.append(_("In force: {counts}").format(counts=" · ".join(counts)))
    rows = await recognitions_under(ctx.session, unit)
    flagged = [r for r in rows if r.status == RecognitionStatus.REAPPRAISAL]
    if flagged:
        lines += ["", bold(_("Under re-appraisal"))]
        lines += [
            "❗ " + _line(r.unit_name, r.kind, r.level, r.decision_no, r.decided_on)
            for r in flagged
        ]
    latest = sorted(rows, key=lambda r: (r.status_on, r.recognition_id), reverse=True)[:LISTED]
    choices = []
    if latest:
        lines += ["", bold(_("Latest entries"))]
        for i, r in enumerate(latest, 1):
            line = _line(r.unit_name, r.kind, r.level, r.decision_no, r.decided_on)
            lines.append(f"{i}. {line} · {_label(STATUS_LABELS, r.status)}")
            choices.append(Choice(f"rg:r:{r.recognition_id}", f"{i}. {r.unit_name}"))
    else:
        lines.append(_("No recognition recorded yet."))
    choices.append(Choice("rg:add", _("Add a recognition")))
    choices.append(Choice(f"rg:x:{unit.id}", _("Export (CSV)")))
    ctx.finish()
    return [Message("\n".join(lines), choices=choices)]


async def _recognition(ctx: Context, recognition_id: int) -> tuple[Recognition, Unit]:
    recognition = await ctx.session.get(Recognition, recognition_id)
    unit = await by_id(ctx.session, recognition.unit_id) if recognition else None
    if recognition is None or unit is None or not ctx.can_see(unit, *ROLES):
        raise Invalid(_("That entry is outside your area."))
    return recognition, unit


async def show_recognition(ctx: Context, recognition_id: int, note: str | None = None) -> Reply:
    recognition, unit = await _recognition(ctx, recognition_id)
    lines = [
        bold(esc(unit.name)),
        _line(
            unit.name,
            recognition.kind,
            recognition.level,
            recognition.decision_no,
            recognition.decided_on,
        ),
        _("Decided by: {body}").format(body=esc(recognition.decided_by)),
        _("Status: {status} since {date}").format(
            status=_label(STATUS_LABELS, recognition.status),
            date=format_date(recognition.status_on),
        ),
        "",
        bold(_("History")),
    ]
    events = (
        await ctx.session.execute(
            select(RecognitionEvent)
            .where(RecognitionEvent.recognition_id == recognition.id)
            .order_by(RecognitionEvent.on, RecognitionEvent.id)
        )
    ).scalars()
    for e in events:
        line = f"• {format_date(e.on)}: {_label(STATUS_LABELS, e.status)}"
        if e.note:
            line += f" — <i>{esc(e.note)}</i>"
        lines.append(line)
    choices = [
        Choice(f"rg:s:{recognition.id}:{s.value}", _label(STATUS_LABELS, s.value))
        for s in RecognitionStatus
        if s != RecognitionStatus.RECOGNISED and recognition.ended_on is None
    ]
    choices.append(Choice(f"rg:v:{unit.parent_id or unit.id}", _("« Back to the register")))
    text = "\n".join(lines)
    return [Message(f"{note}\n\n{text}" if note else text, choices=choices, columns=2)]


async def _record_status(ctx: Context, recognition_id: int, status: str) -> Reply:
    recognition, unit = await _recognition(ctx, recognition_id)
    if status not in {s.value for s in RecognitionStatus} or status == "recognised":
        raise Invalid(_("That button is no longer valid."))
    if recognition.ended_on is not None:
        raise Invalid(_("This recognition has ended; record a new decision instead."))
    today = local_today(ctx.now)
    added = await add_event(
        ctx.session,
        recognition,
        status,
        today,
        source="bot",
        actor_member_id=ctx.member.id if ctx.member else None,
    )
    if added:
        audit.record(
            ctx.session,
            "recognition.status",
            actor_member_id=ctx.member.id if ctx.member else None,
            object_kind="recognition",
            object_id=recognition.id,
            data={"status": status, "on": today.isoformat(), "unit": unit.code},
        )
    note = _("Recorded: {status} on {date}.").format(
        status=_label(STATUS_LABELS, status), date=format_date(today)
    )
    return await show_recognition(ctx, recognition.id, note if added else None)


async def _export(ctx: Context, unit_id: int) -> Reply:
    """The register of the unit's subtree as the CSV ``antt register import`` reads."""
    unit = await by_id(ctx.session, unit_id)
    if unit is None or not ctx.can_see(unit, *ROLES):
        raise Invalid(_("That unit is outside your area."))
    lines = await export_rows(ctx.session, unit)
    out = io.StringIO()
    write_csv(lines, out)
    audit.record(
        ctx.session,
        "register.export",
        actor_member_id=ctx.member.id if ctx.member else None,
        object_kind="unit",
        object_id=unit.id,
        data={"rows": len(lines) - 1},
    )
    return [
        Message(
            _("Register of recognised units: {unit}").format(unit=esc(unit.name)),
            document=("\ufeff" + out.getvalue()).encode("utf-8"),
            document_name=f"register-{unit.code}.csv",
        )
    ]


async def on_global(ctx: Context, choice: str) -> Reply:
    if not _allowed(ctx):
        return [Message(_("The register is kept by supervisors and admins."))]
    parts = choice[len(PREFIX) :].split(":")
    try:
        if parts[0] == "add":
            ctx.goto(FLOW_NAME, Step.UNIT)
            return await ask_unit(ctx)
        if parts[0] == "v" and len(parts) == 2 and parts[1].isdigit():
            unit = await by_id(ctx.session, int(parts[1]))
            if unit is None:
                raise Invalid(_("That unit is outside your area."))
            if not ctx.can_see(unit, *ROLES):
                return await show_register(ctx)
            return await show_register(ctx, unit)
        if parts[0] == "x" and len(parts) == 2 and parts[1].isdigit():
            return await _export(ctx, int(parts[1]))
        if parts[0] == "r" and len(parts) == 2 and parts[1].isdigit():
            return await show_recognition(ctx, int(parts[1]))
        if parts[0] == "s" and len(parts) == 3 and parts[1].isdigit():
            return await _record_status(ctx, int(parts[1]), parts[2])
    except Invalid as bad:
        return [Message(str(bad))]
    return [Message(_("That button is no longer valid."))]


# --- adding a recognition --------------------------------------------------------------


def _cancel() -> Choice:
    return Choice(CANCEL, _("Cancel"))


async def _leave(ctx: Context, inp: Incoming) -> Reply | None:
    if inp.choice == CANCEL:
        return [Message(_("Cancelled. Nothing was saved.")), *await show_register(ctx)]
    return None


async def ask_unit(ctx: Context) -> Reply:
    return [Message(_("Which unit? Type part of its name."), choices=[_cancel()])]


async def on_unit(ctx: Context, inp: Incoming) -> Reply:
    if (left := await _leave(ctx, inp)) is not None:
        return left
    if inp.choice and inp.choice.startswith("rgf:u:") and inp.choice[6:].isdigit():
        unit = await by_id(ctx.session, int(inp.choice[6:]))
        if unit is None or not ctx.can_see(unit, *ROLES):
            raise Invalid(_("That unit is outside your area."))
        ctx.goto(FLOW_NAME, Step.KIND, unit_id=unit.id)
        return await ask_kind(ctx)
    found = [
        u
        for u in await search_by_name(ctx.session, inp.text or "", limit=20)
        if ctx.can_see(u, *ROLES)
    ][:LISTED]
    if not found:
        raise Invalid(_("No unit of your area has that name; try another part of it."))
    choices = [Choice(f"rgf:u:{u.id}", u.name) for u in found]
    return [Message(_("Which of these?"), choices=[*choices, _cancel()])]


async def ask_kind(ctx: Context) -> Reply:
    choices = [Choice(f"rgf:k:{k.value}", _label(KIND_LABELS, k.value)) for k in RecognitionKind]
    return [Message(_("Recognised as what?"), choices=[*choices, _cancel()])]


async def on_kind(ctx: Context, inp: Incoming) -> Reply:
    if (left := await _leave(ctx, inp)) is not None:
        return left
    options = (await ask_kind(ctx))[0].choices
    picked = choice_or_text(inp, options)
    if picked is None or not picked.startswith("rgf:k:"):
        raise Invalid(_("Choose one of the options below."))
    kind = picked[6:]
    if kind == RecognitionKind.MODEL:
        ctx.goto(FLOW_NAME, Step.LEVEL, kind=kind)
        return await ask_level(ctx)
    ctx.goto(FLOW_NAME, Step.NUMBER, kind=kind, level=None)
    return await ask_number(ctx)


async def ask_level(ctx: Context) -> Reply:
    choices = [Choice(f"rgf:l:{v.value}", _label(LEVEL_LABELS, v.value)) for v in RecognitionLevel]
    return [Message(_("Recognised at which level?"), choices=[*choices, _cancel()])]


async def on_level(ctx: Context, inp: Incoming) -> Reply:
    if (left := await _leave(ctx, inp)) is not None:
        return left
    picked = choice_or_text(inp, (await ask_level(ctx))[0].choices)
    if picked is None or not picked.startswith("rgf:l:"):
        raise Invalid(_("Choose one of the options below."))
    ctx.goto(FLOW_NAME, Step.NUMBER, level=picked[6:])
    return await ask_number(ctx)


async def ask_number(ctx: Context) -> Reply:
    return [Message(_("The decision's number, e.g. 1234/QĐ-UBND?"), choices=[_cancel()])]


async def on_number(ctx: Context, inp: Incoming) -> Reply:
    if (left := await _leave(ctx, inp)) is not None:
        return left
    number = (inp.text or "").strip()
    if not number or len(number) > 64:
        raise Invalid(_("Please type the decision's number (at most 64 characters)."))
    ctx.goto(FLOW_NAME, Step.DATE, number=number)
    return await ask_date(ctx)


async def ask_date(ctx: Context) -> Reply:
    return [Message(_("The decision's date (dd/mm/yyyy)?"), choices=[_cancel()])]


async def on_date(ctx: Context, inp: Incoming) -> Reply:
    if (left := await _leave(ctx, inp)) is not None:
        return left
    day = parse_date((inp.text or "").strip())
    if day is None:
        raise Invalid(_("Please type a date such as 15/03/2025."))
    if day > local_today(ctx.now):
        raise Invalid(_("That date is in the future."))
    ctx.goto(FLOW_NAME, Step.BODY, date=day.isoformat())
    return await ask_body(ctx)


async def ask_body(ctx: Context) -> Reply:
    return [Message(_("Who decided it (e.g. UBND huyện Nam Đàn)?"), choices=[_cancel()])]


async def on_body(ctx: Context, inp: Incoming) -> Reply:
    if (left := await _leave(ctx, inp)) is not None:
        return left
    body = (inp.text or "").strip()
    if not body or len(body) > 200:
        raise Invalid(_("Please type the deciding body (at most 200 characters)."))
    ctx.goto(FLOW_NAME, Step.CONFIRM, body=body)
    return await ask_confirm(ctx)


async def ask_confirm(ctx: Context) -> Reply:
    from datetime import date

    d = ctx.data
    unit = await by_id(ctx.session, int(d["unit_id"]))
    assert unit is not None
    line = _line(unit.name, d["kind"], d.get("level"), d["number"], date.fromisoformat(d["date"]))
    text = "\n".join(
        [bold(_("Add to the register?")), line, _("Decided by: {body}").format(body=esc(d["body"]))]
    )
    return [Message(text, choices=[Choice(SAVE, _("Save")), _cancel()], columns=2)]


async def on_confirm(ctx: Context, inp: Incoming) -> Reply:
    from datetime import date

    if (left := await _leave(ctx, inp)) is not None:
        return left
    if inp.choice != SAVE:
        raise Invalid(_("Choose one of the options below."))
    d = ctx.data
    unit = await by_id(ctx.session, int(d["unit_id"]))
    if unit is None or not ctx.can_see(unit, *ROLES):
        raise Invalid(_("That unit is outside your area."))
    actor = ctx.member.id if ctx.member else None
    recognition, created = await ensure_recognition(
        ctx.session,
        unit_id=unit.id,
        kind=d["kind"],
        level=d.get("level"),
        decided_by=d["body"],
        decision_no=d["number"],
        decided_on=date.fromisoformat(d["date"]),
        source="bot",
        actor_member_id=actor,
    )
    if created:
        audit.record(
            ctx.session,
            "recognition.add",
            actor_member_id=actor,
            object_kind="recognition",
            object_id=recognition.id,
            data={"unit": unit.code, "kind": d["kind"], "decision": d["number"]},
        )
    ctx.finish()
    note = _("Saved.") if created else _("That decision is already in the register.")
    return await show_recognition(ctx, recognition.id, note)


async def _open(ctx: Context) -> Reply:
    return await show_register(ctx)


async def _command(ctx: Context, args: str) -> Reply:
    return await show_register(ctx)


FLOW = registry.add_flow(
    Flow(
        FLOW_NAME,
        {
            Step.UNIT: StepDef(prompt=ask_unit, handle=on_unit),
            Step.KIND: StepDef(prompt=ask_kind, handle=on_kind),
            Step.LEVEL: StepDef(prompt=ask_level, handle=on_level),
            Step.NUMBER: StepDef(prompt=ask_number, handle=on_number),
            Step.DATE: StepDef(prompt=ask_date, handle=on_date),
            Step.BODY: StepDef(prompt=ask_body, handle=on_body),
            Step.CONFIRM: StepDef(prompt=ask_confirm, handle=on_confirm),
        },
    )
)
registry.add_global_choice(PREFIX, on_global)
registry.add_menu(
    MenuEntry("register", lambda: _("Register of recognised units"), _open, _allowed, 55)
)
registry.add_command("recognised", _command)
COMMAND_HELP["recognised"] = lambda: _("the register of recognised units (supervisors, admins)")
