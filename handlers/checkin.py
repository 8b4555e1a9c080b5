"""My tasks and progress check-ins: officers and grassroots force members report on the plan.

Who may do what:

- officers and force members (``Role.OFFICER``, ``Role.FORCE``) see and check in
  on the assignments of exactly the unit of their grant;
- supervisors see the assignments of their unit and every unit below it, but
  only view them: the unit's own officers check in (a supervisor's word on a
  commune's progress would hide who actually did the work);
- anyone else (citizens, admins without another role) gets neither the menu
  entry nor the buttons; a forged button gets a clear refusal.

Buttons that work in any state (global prefix ``ck:``): ``ck:l:<page>`` a page
of the list, ``ck:a:<assignment id>`` the assignment card, ``ck:n:<id>`` start a
check-in, ``ck:c:<id>`` correct one's last check-in (within 24 hours). Buttons
inside the flow use ``ci:`` (statuses ``ci:st:<status>``, ``ci:skip``,
``ci:save``, ``ci:edit``, ``ci:cancel``). The list and the card are steps too, so
channels without buttons can answer with the number of a line.

Numbers: Vietnamese separators come first. A dot between groups of three
digits groups thousands ("1.234" = 1234, "1.234.567"), a comma marks decimals
("12,5" = 12.5), so "1,234" is one point two three four (refused where a whole
number is asked). English grouping is accepted only when unambiguous
("1,234,567", "1,234.5"), and a lone dot with other than three digits after it
is a decimal point ("12.5").

```mermaid
flowchart TD
    menu["menu: My tasks (m:tasks)"] --> list[LIST: 8 a page, ck:l:page]
    list -- "ck:a:id" --> card[CARD: target, latest, deadline, history]
    card -- "ck:n:id" --> value[VALUE]
    card -- "ck:c:id (own last, < 24 h)" --> value
    value -- "milestone/recurring: blocked" --> reason[REASON] --> evidence
    value -- "milestone/recurring, count, percent" --> note[NOTE: text or skip]
    value -- "report: document or photo" --> note
    value -- "report with figures" --> figure["FIGURE: one by one, proposals to confirm"]
    figure --> note
    note -- report --> confirm
    note --> evidence[EVIDENCE: photo/document or skip]
    evidence --> confirm[CONFIRM: summary]
    confirm -- "ci:save: append row (supersedes when correcting)" --> card
    confirm -- ci:edit --> value
    confirm -- ci:cancel --> card
    value -- "bad input: hint" --> value
```
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from db.checkins import (
    AssignmentProgress,
    CheckinStatus,
    HistoryEntry,
    Latest,
    Progress,
    Scope,
    add_attachment,
    append_checkin,
    assignment_progress,
    correctable,
    eligible_subunits,
    history,
    owed_page,
)
from db.models import Role, TaskKind
from db.plan_years import current_of, plan_years
from db.units import by_id
from handlers import report_figures
from handlers.flow import (
    Context,
    Flow,
    Invalid,
    MenuEntry,
    StepDef,
    choice_or_text,
    registry,
)
from handlers.i18n import (
    _,
    current_language,
    format_date,
    format_datetime,
    format_number,
    local_today,
    ngettext,
)
from handlers.i18n import parse_number as read_number
from handlers.render import bold, esc
from handlers.start import menu_button
from handlers.types import Choice, Incoming, MediaRef, Message, Reply, in_place

FLOW_NAME = "checkin"
MENU_ID = "tasks"
PER_PAGE = 8
CHECKIN_ROLES = (Role.OFFICER, Role.FORCE)
VIEW_ROLES = (Role.OFFICER, Role.FORCE, Role.SUPERVISOR)
EVIDENCE_KINDS = ("photo", "document")
MAX_FILES = 10
MAX_NOTE = 1000
MAX_NUMBER = Decimal(999_999_999)  # numeric(12, 2) holds 10 digits before the point
BUTTON_TITLE = 38  # "8. " and the title fit a phone line (handlers.types.PHONE_LINE)

# Choice ids inside the flow.
SKIP = "ci:skip"
SAVE = "ci:save"
EDIT = "ci:edit"
CANCEL = "ci:cancel"
STATUS_PREFIX = "ci:st:"


class Step(StrEnum):
    LIST = "list"
    CARD = "card"
    VALUE = "value"
    REASON = "reason"
    NOTE = "note"
    EVIDENCE = "evidence"
    CONFIRM = "confirm"
    FIGURE = "figure"


STATUS_LABELS = {
    CheckinStatus.NOT_STARTED: lambda: _("not started"),
    CheckinStatus.IN_PROGRESS: lambda: _("in progress"),
    CheckinStatus.DONE: lambda: _("done"),
    CheckinStatus.BLOCKED: lambda: _("blocked"),
    CheckinStatus.SUBMITTED: lambda: _("submitted"),
}
PROGRESS_LABELS = {
    Progress.DONE: lambda: _("done"),
    Progress.OVERDUE: lambda: _("overdue"),
    Progress.BLOCKED: lambda: _("blocked"),
    Progress.IN_PROGRESS: lambda: _("in progress"),
    Progress.NOT_STARTED: lambda: _("not started"),
}
PROGRESS_MARKS = {
    Progress.DONE: "✅",
    Progress.OVERDUE: "❗",
    Progress.BLOCKED: "⛔",
    Progress.IN_PROGRESS: "⏳",
    Progress.NOT_STARTED: "▫️",
}
MILESTONE_STATUSES = (
    CheckinStatus.NOT_STARTED,
    CheckinStatus.IN_PROGRESS,
    CheckinStatus.DONE,
    CheckinStatus.BLOCKED,
)


# --- numbers ----------------------------------------------------------------------

_DIGITS = re.compile(r"[\d.,]+")
_SPACES = re.compile(r"[\s\u00a0\u202f]+")


def parse_number(text: str | None, *, whole: bool) -> Decimal:
    """A non-negative number typed the Vietnamese way (see the module docstring), read
    by Babel (``handlers.i18n.parse_number``).

    Raises ``Invalid`` with a hint for text, a negative number, a fraction where
    a whole number is asked, or a number too large to keep.
    """
    raw = _SPACES.sub("", text or "").rstrip("%")
    if raw[:1] in {"-", "−", "–"} and len(raw) > 1:
        raise Invalid(_("The number cannot be negative."))
    raw = raw.removeprefix("+")
    if not _DIGITS.fullmatch(raw) or not any(c.isdigit() for c in raw):
        raise Invalid(_("Please send a number, for example 12 or 1.234."))
    try:
        value = read_number(raw)
    except ValueError as exc:
        raise Invalid(_("Please send a number, for example 12 or 1.234.")) from exc
    if whole and value != value.to_integral_value():
        raise Invalid(
            _("Please send a whole number, for example 3 (a comma marks decimals: 1,5 is 1.5).")
        )
    if value > MAX_NUMBER:
        raise Invalid(_("That number is too large."))
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# --- rendering shared with /progress ------------------------------------------------


def num(value: Decimal | int | float) -> str:
    return format_number(float(value))


def days_text(deadline: dt.date, today: dt.date) -> str:
    days = (deadline - today).days
    if days > 0:
        return ngettext("{n} day left", "{n} days left", days).format(n=days)
    if days == 0:
        return _("due today")
    return ngettext("{n} day overdue", "{n} days overdue", -days).format(n=-days)


def planned(text: str, inferred: bool) -> str:
    """``text`` marked "(dự kiến)" when the plan file reads the value off the text."""
    return _("{value} (inferred)").format(value=text) if inferred else text


def deadline_text(a: AssignmentProgress, today: dt.date) -> str:
    return _("deadline {date} ({left})").format(
        date=planned(format_date(a.deadline), a.inferred), left=days_text(a.deadline, today)
    )


def target_text(a: AssignmentProgress) -> str | None:
    if a.target is None:
        return None
    if a.kind == TaskKind.PERCENT:
        return planned(f"{num(a.target)}%", a.inferred)
    if a.kind == TaskKind.COUNT:
        return planned(num(a.target), a.inferred)
    return None


def register_text(a: AssignmentProgress) -> str:
    """ "3 of the 10 remaining communes (30%)": the register's count for a percent target."""
    base = a.base or 0
    achieved = a.achieved or 0
    return ngettext(
        "{achieved} of the {base} remaining commune ({share}%)",
        "{achieved} of the {base} remaining communes ({share}%)",
        base,
    ).format(achieved=achieved, base=base, share=num(round(a.register_share(), 1)))


def share_text(value: Decimal, eligible: int | None, target: Decimal | None) -> str:
    """ "12/40 = 30% (target 30%)", or "25% (target 30%)" when sub-units are not tracked."""
    if eligible:
        share = value * 100 / eligible
        text = f"{num(value)}/{eligible} = {num(round(share, 1))}%"
    else:
        text = f"{num(value)}%"
    if target is not None:
        text += " " + _("(target {target}%)").format(target=num(target))
    return text


def value_text(
    kind: str,
    *,
    status: str | None,
    value: Decimal | None,
    eligible: int | None,
    period: str | None,
    target: Decimal | None,
) -> str:
    """One reported result in words: "3/4", "12/40 = 30% (target 30%)", "2025-Q3: done"."""
    label = STATUS_LABELS[CheckinStatus(status)]() if status in STATUS_LABELS else ""
    if kind == TaskKind.COUNT and value is not None:
        return f"{num(value)}/{num(target)}" if target is not None else num(value)
    if kind == TaskKind.PERCENT and value is not None:
        return share_text(value, eligible, target)
    if kind == TaskKind.RECURRING:
        return f"{period}: {label}" if period else label
    return label


def latest_text(a: AssignmentProgress) -> str:
    if a.from_register:
        return register_text(a)
    latest: Latest | None = a.latest
    if latest is None:
        return _("no check-in yet")
    return value_text(
        a.kind,
        status=latest.status,
        value=latest.value,
        eligible=latest.eligible,
        period=latest.period,
        target=a.target,
    )


def assignment_lines(a: AssignmentProgress, today: dt.date, lang: str) -> list[str]:
    """Title line, then target, latest value, status and deadline."""
    state = a.progress(today)
    details = []
    target = target_text(a)
    if target is not None:
        details.append(_("target {target}").format(target=target))
    if a.from_register:
        details.append(_("register: {value}").format(value=esc(latest_text(a))))
    elif a.latest is None:
        details.append(_("no check-in yet"))
    else:
        details.append(_("reported: {value}").format(value=esc(latest_text(a))))
    details.append(PROGRESS_LABELS[state]())
    details.append(deadline_text(a, today))
    return [f"{PROGRESS_MARKS[state]} {bold(esc(a.title(lang)))}", "   " + " · ".join(details)]


def _short(text: str, limit: int = BUTTON_TITLE) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- who may do what ------------------------------------------------------------------


def my_scope(ctx: Context) -> Scope:
    """The assignments a person sees: their own units', and below their supervised units."""
    own = sorted({g.unit.id for g in ctx.grants if g.role in CHECKIN_ROLES})
    paths = sorted({g.unit.path for g in ctx.grants if g.role == Role.SUPERVISOR})
    return Scope(tuple(own), tuple(paths))


def may_check_in(ctx: Context, a: AssignmentProgress) -> bool:
    return ctx.member is not None and any(
        g.role in CHECKIN_ROLES and g.unit.id == a.unit_id for g in ctx.grants
    )


def may_view(ctx: Context, a: AssignmentProgress) -> bool:
    return may_check_in(ctx, a) or any(
        g.role == Role.SUPERVISOR and a.unit_path.startswith(g.unit.path) for g in ctx.grants
    )


async def _owed(ctx: Context, assignment_id: int, *, to_check_in: bool) -> AssignmentProgress:
    """The assignment, if the person may see it (or check in on it); else ``Invalid``."""
    a = await assignment_progress(ctx.session, assignment_id)
    if a is None or not may_view(ctx, a):
        raise Invalid(_("That task is not assigned to your unit."))
    if to_check_in and not may_check_in(ctx, a):
        raise Invalid(
            _("Supervisors follow progress; the officers of {unit} check in on its tasks.").format(
                unit=esc(a.unit_name)
            )
        )
    return a


# --- the list -----------------------------------------------------------------------


async def _list_message(ctx: Context) -> Message:
    page = int(ctx.data.get("page", 0))
    today = local_today(ctx.now)
    years = await plan_years(ctx.session)
    current = current_of(years, today)
    year = ctx.data.get("year") if ctx.data.get("year") in years else current
    scope = replace(my_scope(ctx), year=year)
    # Last year's plan on request (``ck:y:<year>``), this year's by default.
    switch = [
        Choice(f"ck:y:{other}", _("Plan {year}").format(year=other))
        for other in ((current - 1, current) if current is not None else ())
        if other != year and other in years
    ]
    rows, total = await owed_page(ctx.session, scope, page=page, per_page=PER_PAGE)
    if not rows:
        return Message(_("No tasks are assigned to your unit yet."), choices=switch)
    last = (total - 1) // PER_PAGE
    page = min(page, last)
    ctx.update(page=page)
    lang = current_language()
    several_units = len(scope.unit_ids) > 1 or bool(scope.subtree_paths)
    if several_units:
        head = _("Your tasks: {total}").format(total=total)
    else:
        head = _("Tasks of {unit}: {total}").format(unit=esc(rows[0].unit_name), total=total)
    if last > 0:
        head += " · " + _("page {page}/{pages}").format(page=page + 1, pages=last + 1)
    if len(years) > 1 and year is not None:
        head += " · " + _("plan {year}").format(year=year)
    lines = [bold(head)]
    choices = []
    for i, a in enumerate(rows, start=1):
        title_line, detail = assignment_lines(a, today, lang)
        lines.append(f"{i}. {title_line}")
        if several_units:
            lines.append("   " + esc(a.unit_name))
        lines.append(detail)
        choices.append(Choice(f"ck:a:{a.assignment_id}", f"{i}. {_short(a.title(lang))}"))
    if page > 0:
        choices.append(Choice(f"ck:l:{page - 1}", _("« Previous")))
    if page < last:
        choices.append(Choice(f"ck:l:{page + 1}", _("Next »")))
    return Message("\n".join(lines), choices=[*choices, *switch, menu_button()])


async def prompt_list(ctx: Context) -> Reply:
    return [await _list_message(ctx)]


async def on_list(ctx: Context, inp: Incoming) -> Reply:
    options = (await _list_message(ctx)).choices
    picked = choice_or_text(inp, options)
    if picked is None:
        raise Invalid(_("Choose a task by its button or its number."))
    return await navigate(ctx, picked)


async def start_tasks(ctx: Context) -> Reply:
    ctx.goto(FLOW_NAME, Step.LIST, page=0, year=None)
    return await prompt_list(ctx)


# --- the card -------------------------------------------------------------------------


def _history_line(entry: HistoryEntry, a: AssignmentProgress) -> str:
    result = value_text(
        a.kind,
        status=entry.status,
        value=entry.value,
        eligible=entry.eligible,
        period=entry.period,
        target=a.target,
    )
    line = f"• {format_datetime(entry.created_at)} {esc(entry.member_name)}: {esc(result)}"
    if entry.note:
        line += f" — <i>{esc(_short(entry.note, 120))}</i>"
    if entry.attachments:
        line += " " + ngettext("({n} file)", "({n} files)", entry.attachments).format(
            n=entry.attachments
        )
    if entry.supersedes_id is not None:
        line += " " + _("(correction)")
    if entry.superseded:
        line += " " + _("(corrected)")
    return line


async def _card(ctx: Context, a: AssignmentProgress) -> Message:
    today = local_today(ctx.now)
    lang = current_language()
    state = a.progress(today)
    lines = [bold(esc(a.title(lang))), _("Unit: {unit}").format(unit=esc(a.unit_name))]
    target = target_text(a)
    if target is not None:
        lines.append(_("Target: {target}").format(target=target))
    lines.append(
        _("Deadline: {date} ({left})").format(
            date=planned(format_date(a.deadline), a.inferred), left=days_text(a.deadline, today)
        )
    )
    lines.append(f"{PROGRESS_MARKS[state]} {PROGRESS_LABELS[state]()}")
    if a.from_register:
        lines.append(_("Register: {value}").format(value=esc(latest_text(a))))
        lines.append(_("Counted from the register of recognised units, not from check-ins."))
    else:
        lines.append(_("Latest: {value}").format(value=esc(latest_text(a))))
    period = a.current_period(today)
    if a.kind == TaskKind.RECURRING and period is not None:
        lines.append(_("Current period: {period}").format(period=period))
    if a.note:
        lines.append(f"<i>{esc(a.note)}</i>")
    past = await history(ctx.session, a.assignment_id)
    if past:
        lines.append("")
        lines.append(bold(_("Recent check-ins")))
        lines.extend(_history_line(e, a) for e in past)
    choices = []
    if may_check_in(ctx, a) and not a.from_register:
        choices.append(Choice(f"ck:n:{a.assignment_id}", _("Check in")))
        assert ctx.member is not None
        if await correctable(ctx.session, a.assignment_id, ctx.member.id, ctx.now):
            choices.append(Choice(f"ck:c:{a.assignment_id}", _("Correct my last check-in")))
    choices.append(Choice(f"ck:l:{int(ctx.data.get('page', 0))}", _("« Back to my tasks")))
    return Message("\n".join(lines), choices=choices)


async def prompt_card(ctx: Context) -> Reply:
    a = await assignment_progress(ctx.session, int(ctx.data["assignment_id"]))
    if a is None or not may_view(ctx, a):
        ctx.goto(FLOW_NAME, Step.LIST)
        return [Message(_("That task is not assigned to your unit.")), *await prompt_list(ctx)]
    return [await _card(ctx, a)]


async def on_card(ctx: Context, inp: Incoming) -> Reply:
    options = [c for m in await prompt_card(ctx) for c in m.choices]
    picked = choice_or_text(inp, options)
    if picked is None:
        raise Invalid(_("Choose one of the options below."))
    return await navigate(ctx, picked)


async def _show_card(ctx: Context, assignment_id: int, note: str | None = None) -> Reply:
    """Show the card (the check-in in progress, if any, is dropped)."""
    page = ctx.data.get("page", 0) if ctx.flow == FLOW_NAME else 0
    ctx.goto(FLOW_NAME, Step.CARD)
    ctx.conversation.data = {"page": page, "assignment_id": assignment_id}
    reply = await prompt_card(ctx)
    return [Message(note), *reply] if note else reply


# --- navigation (buttons that work in any state) ----------------------------------------


async def navigate(ctx: Context, choice_id: str) -> Reply:
    """``ck:l:<page>``, ``ck:y:<year>``, ``ck:a:<id>``, ``ck:n:<id>``, ``ck:c:<id>``;
    ``Invalid`` if refused."""
    parts = choice_id.split(":")
    if len(parts) != 3 or parts[0] != "ck" or not parts[2].isdigit():
        raise Invalid(_("That button is no longer valid."))
    action, arg = parts[1], int(parts[2])
    if action in {"l", "y"}:
        if my_scope(ctx).empty:
            raise Invalid(_("Only the officers and force members of a unit have tasks here."))
        if action == "y":  # another year's plan (db.plan_years), from its first page
            ctx.goto(FLOW_NAME, Step.LIST, page=0, year=arg)
        else:
            ctx.goto(FLOW_NAME, Step.LIST, page=arg)
        return in_place(await prompt_list(ctx))
    if action == "a":  # the card in place of the list (or of the question left)
        a = await _owed(ctx, arg, to_check_in=False)
        return in_place(await _show_card(ctx, a.assignment_id))
    if action in {"n", "c"}:
        if not ctx.has_role(*CHECKIN_ROLES, Role.SUPERVISOR) or ctx.member is None:
            raise Invalid(
                _("Only the officers and grassroots force members of a unit can check in.")
            )
        a = await _owed(ctx, arg, to_check_in=True)
        return await _begin(ctx, a, correcting=action == "c")
    raise Invalid(_("That button is no longer valid."))


async def _begin(ctx: Context, a: AssignmentProgress, *, correcting: bool) -> Reply:
    assert ctx.member is not None
    if a.from_register:
        raise Invalid(
            _(
                "This target is counted from the register of recognised units; "
                "supervisors keep the register."
            )
        )
    today = local_today(ctx.now)
    period = a.current_period(today) if a.kind == TaskKind.RECURRING else None
    supersedes: int | None = None
    if correcting:
        last = await correctable(ctx.session, a.assignment_id, ctx.member.id, ctx.now)
        if last is None:
            raise Invalid(
                _("Only your last check-in can be corrected, within 24 hours of making it.")
            )
        supersedes = last.id
        period = last.period if a.kind == TaskKind.RECURRING else period
    eligible = None
    if a.kind == TaskKind.PERCENT:
        unit = await by_id(ctx.session, a.unit_id)
        eligible = await eligible_subunits(ctx.session, unit, today) if unit else 0
    page = ctx.data.get("page", 0) if ctx.flow == FLOW_NAME else 0
    ctx.goto(FLOW_NAME, Step.VALUE)
    ctx.conversation.data = {
        "page": page,
        "assignment_id": a.assignment_id,
        "supersedes_id": supersedes,
        "eligible": eligible or None,
        "period": period,
    }
    return await prompt_value(ctx)


async def on_global_choice(ctx: Context, choice_id: str) -> Reply:
    try:
        return await navigate(ctx, choice_id)
    except Invalid as bad:
        return await _again(ctx, str(bad))


async def _again(ctx: Context, hint: str) -> Reply:
    """The hint, then the current question (the task list, or the menu for outsiders)."""
    from handlers import start

    flow = registry.flows.get(ctx.flow or "")
    step = flow.steps.get(ctx.step or "") if flow else None
    if step is not None:
        return [Message(hint), *await step.prompt(ctx)]
    if my_scope(ctx).empty:
        return await start.main_menu(ctx, hint)
    ctx.goto(FLOW_NAME, Step.LIST, page=0)
    return [Message(hint), *await prompt_list(ctx)]


# --- the check-in steps -----------------------------------------------------------------


async def _current(ctx: Context) -> AssignmentProgress:
    a = await assignment_progress(ctx.session, int(ctx.data["assignment_id"]))
    if a is None:  # pragma: no cover - assignments are never deleted
        raise Invalid(_("That task is not assigned to your unit."))
    return a


def _status_choices(a: AssignmentProgress) -> list[Choice]:
    return [Choice(STATUS_PREFIX + s.value, STATUS_LABELS[s]()) for s in MILESTONE_STATUSES]


def _back(ctx: Context) -> Choice:
    """Back to the task's card: the check-in in progress is dropped."""
    return Choice(f"ck:a:{ctx.data['assignment_id']}", _("« Back to the task"))


def _heading(ctx: Context, a: AssignmentProgress) -> str:
    text = bold(esc(a.title(current_language())))
    if ctx.data.get("supersedes_id"):
        text += "\n" + _("Correcting your last check-in.")
    return text


async def prompt_value(ctx: Context) -> Reply:
    a = await _current(ctx)
    head = _heading(ctx, a)
    kind = a.kind
    if kind in (TaskKind.MILESTONE, TaskKind.RECURRING):
        question = _("Where does it stand?")
        if kind == TaskKind.RECURRING and ctx.data.get("period"):
            question = _("Period {period}: where does it stand?").format(period=ctx.data["period"])
        choices = [*_status_choices(a), _back(ctx)]
        return [Message(f"{head}\n{question}", choices=choices, columns=2)]
    if kind == TaskKind.COUNT:
        if a.target is not None:
            question = _("How many have been achieved so far? Target: {target}.").format(
                target=num(a.target)
            )
        else:
            question = _("How many have been achieved so far?")
        send = _("Send a number.")
        return [Message(f"{head}\n{question}\n{send}", choices=[_back(ctx)], numeric_answer=True)]
    if kind == TaskKind.PERCENT:
        eligible = ctx.data.get("eligible")
        target = num(a.target) if a.target is not None else "100"
        if eligible:
            question = _(
                "How many of the {n} communes and wards under {unit} have achieved it? "
                "Target: {target}%. Send a number from 0 to {n}."
            ).format(n=eligible, unit=esc(a.unit_name), target=target)
        else:
            question = _(
                "What share has been achieved, in percent (0 to 100)? Target: {target}%."
            ).format(target=target)
        return [Message(f"{head}\n{question}", choices=[_back(ctx)], numeric_answer=True)]
    # report
    question = _("Send the report document (a file or a photo); it will be marked as submitted.")
    return [Message(f"{head}\n{question}", choices=[_back(ctx)])]


def _evidence(inp: Incoming) -> list[dict[str, Any]]:
    """The photos and documents of an update; ``Invalid`` for other media."""
    files = [m for m in inp.media if m.kind in EVIDENCE_KINDS]
    if inp.media and not files:
        raise Invalid(_("Only photos and documents can be kept with a check-in."))
    return [_media_json(m) for m in files]


def _media_json(m: MediaRef) -> dict[str, Any]:
    return {"kind": m.kind, "file_id": m.file_id, "mime": m.mime, "size": m.size, "name": m.name}


def _add_files(ctx: Context, files: list[dict[str, Any]]) -> None:
    media = [*ctx.data.get("media", []), *files]
    if len(media) > MAX_FILES:
        raise Invalid(_("At most {n} files can be kept with a check-in.").format(n=MAX_FILES))
    ctx.update(media=media)


async def on_value(ctx: Context, inp: Incoming) -> Reply:
    a = await _current(ctx)
    kind = a.kind
    if kind in (TaskKind.MILESTONE, TaskKind.RECURRING):
        picked = choice_or_text(inp, _status_choices(a))
        if picked is None:
            raise Invalid(_("Choose one of the options below."))
        status = picked.removeprefix(STATUS_PREFIX)
        ctx.update(status=status, value=None)
        if status == CheckinStatus.BLOCKED:
            ctx.goto(FLOW_NAME, Step.REASON)
            return await prompt_reason(ctx)
    elif kind == TaskKind.REPORT:
        files = _evidence(inp)
        if not files:
            raise Invalid(_("Please send the report as a file or a photo."))
        _add_files(ctx, files)
        ctx.update(status=CheckinStatus.SUBMITTED.value, value=None)
        if await report_figures.start(ctx, a):
            ctx.goto(FLOW_NAME, Step.FIGURE)
            return await report_figures.prompt(ctx)
    elif kind == TaskKind.COUNT:
        value = parse_number(inp.text, whole=True)
        reached = value >= a.target if a.target is not None else value > 0
        status = CheckinStatus.DONE if reached else CheckinStatus.IN_PROGRESS
        ctx.update(status=status.value, value=str(value))
    else:  # percent
        eligible = ctx.data.get("eligible")
        value = parse_number(inp.text, whole=bool(eligible))
        if eligible and value > eligible:
            raise Invalid(
                _(
                    "There are only {n} communes and wards under {unit}; "
                    "send a number from 0 to {n}."
                ).format(n=eligible, unit=esc(a.unit_name))
            )
        if not eligible and value > 100:
            raise Invalid(_("A share cannot be above 100%."))
        share = value * 100 / eligible if eligible else value
        target = a.target if a.target is not None else Decimal(100)
        status = CheckinStatus.DONE if share >= target else CheckinStatus.IN_PROGRESS
        ctx.update(status=status.value, value=str(value))
    ctx.goto(FLOW_NAME, Step.NOTE)
    return await prompt_note(ctx)


async def on_figure(ctx: Context, inp: Incoming) -> Reply:
    if not await report_figures.handle(ctx, inp):
        return await report_figures.prompt(ctx)
    ctx.goto(FLOW_NAME, Step.NOTE)
    return await prompt_note(ctx)


async def prompt_reason(ctx: Context) -> Reply:
    return [Message(_("What is blocking it? Describe it briefly."), choices=[_back(ctx)])]


async def on_reason(ctx: Context, inp: Incoming) -> Reply:
    reason = (inp.text or "").strip()
    if not reason or inp.choice is not None:
        raise Invalid(_("Please describe in a few words what is blocking it."))
    if len(reason) > MAX_NOTE:
        raise Invalid(_("Please keep it under {n} characters.").format(n=MAX_NOTE))
    ctx.update(note=reason)
    ctx.goto(FLOW_NAME, Step.EVIDENCE)
    return await prompt_evidence(ctx)


def _skip() -> list[Choice]:
    return [Choice(SKIP, _("Skip"))]


async def prompt_note(ctx: Context) -> Reply:
    return [Message(_("Add a note? Send it as text, or press Skip."), choices=_skip())]


async def on_note(ctx: Context, inp: Incoming) -> Reply:
    if inp.media:
        raise Invalid(_("A note is text; send it as a message, or press Skip."))
    if choice_or_text(inp, _skip()) == SKIP:
        ctx.update(note=None)
    else:
        note = (inp.text or "").strip()
        if not note:
            raise Invalid(_("Send the note as text, or press Skip."))
        if len(note) > MAX_NOTE:
            raise Invalid(_("Please keep it under {n} characters.").format(n=MAX_NOTE))
        ctx.update(note=note)
    a = await _current(ctx)
    if a.kind == TaskKind.REPORT:  # the report itself is the evidence
        ctx.goto(FLOW_NAME, Step.CONFIRM)
        return await prompt_confirm(ctx)
    ctx.goto(FLOW_NAME, Step.EVIDENCE)
    return await prompt_evidence(ctx)


async def prompt_evidence(ctx: Context) -> Reply:
    return [
        Message(_("Attach evidence? Send a photo or a document, or press Skip."), choices=_skip())
    ]


async def on_evidence(ctx: Context, inp: Incoming) -> Reply:
    files = _evidence(inp)
    if files:
        _add_files(ctx, files)
        caption = (inp.text or "").strip()
        if caption and not ctx.data.get("note"):  # a photo's caption serves as the note
            ctx.update(note=caption[:MAX_NOTE])
    elif choice_or_text(inp, _skip()) != SKIP:
        raise Invalid(_("Send a photo or a document, or press Skip."))
    ctx.goto(FLOW_NAME, Step.CONFIRM)
    return await prompt_confirm(ctx)


def _confirm_choices() -> list[Choice]:
    return [Choice(SAVE, _("Save")), Choice(EDIT, _("Edit")), Choice(CANCEL, _("Cancel"))]


def _stored_value(ctx: Context) -> Decimal | None:
    raw = ctx.data.get("value")
    return Decimal(raw) if raw is not None else None


async def prompt_confirm(ctx: Context) -> Reply:
    a = await _current(ctx)
    data = ctx.data
    result = value_text(
        a.kind,
        status=data.get("status"),
        value=_stored_value(ctx),
        eligible=data.get("eligible"),
        period=data.get("period"),
        target=a.target,
    )
    lines = [
        bold(_("Check your check-in")),
        _("Task: {title}").format(title=esc(a.title(current_language()))),
        _("Unit: {unit}").format(unit=esc(a.unit_name)),
        _("Result: {result}").format(result=esc(result)),
    ]
    if data.get("note"):
        lines.append(_("Note: {note}").format(note=esc(data["note"])))
    files = data.get("media") or []
    if files:
        lines.append(
            ngettext("{n} file attached", "{n} files attached", len(files)).format(n=len(files))
        )
    lines.extend(report_figures.summary_lines(ctx))
    if data.get("supersedes_id"):
        lines.append(_("This corrects your last check-in."))
    lines.append(_("Save it?"))
    return [Message("\n".join(lines), choices=_confirm_choices(), columns=3)]


async def on_confirm(ctx: Context, inp: Incoming) -> Reply:
    files = _evidence(inp) if inp.media else []
    if files:  # a late photo of an album: keep it and show the summary again
        _add_files(ctx, files)
        return await prompt_confirm(ctx)
    picked = choice_or_text(inp, _confirm_choices())
    if picked == EDIT:
        keep = {k: ctx.data.get(k) for k in ("page", "assignment_id", "supersedes_id")}
        keep.update(eligible=ctx.data.get("eligible"), period=ctx.data.get("period"))
        ctx.conversation.data = keep
        ctx.goto(FLOW_NAME, Step.VALUE)
        return await prompt_value(ctx)
    if picked == CANCEL:
        return await _show_card(
            ctx, int(ctx.data["assignment_id"]), _("Cancelled. Nothing was saved.")
        )
    if picked != SAVE:
        raise Invalid(_("Choose one of the options below."))
    return await _save(ctx)


async def _save(ctx: Context) -> Reply:
    data = ctx.data
    assignment_id = int(data["assignment_id"])
    a = await assignment_progress(ctx.session, assignment_id)
    if a is None or ctx.member is None or not may_check_in(ctx, a):
        ctx.finish()
        return await _again(ctx, _("That task is not assigned to your unit."))
    supersedes = data.get("supersedes_id")
    if supersedes is not None:
        last = await correctable(ctx.session, assignment_id, ctx.member.id, ctx.now)
        if last is None or last.id != supersedes:
            return await _show_card(
                ctx,
                assignment_id,
                _("Only your last check-in can be corrected, within 24 hours of making it."),
            )
    row = await append_checkin(
        ctx.session,
        assignment_id=assignment_id,
        member_id=ctx.member.id,
        at=ctx.now,
        status=data.get("status"),
        value=_stored_value(ctx),
        eligible=data.get("eligible") if a.kind == TaskKind.PERCENT else None,
        period=data.get("period") if a.kind == TaskKind.RECURRING else None,
        note=data.get("note"),
        supersedes_id=supersedes,
    )
    for f in data.get("media") or []:
        # ANTT_STORE_MEDIA: the channel fills stored_path/sha256 when it downloads the file.
        await add_attachment(
            ctx.session,
            row.id,
            channel=ctx.identity.channel,
            file_id=f["file_id"],
            kind=f["kind"],
            mime=f.get("mime"),
            size=f.get("size"),
            at=ctx.now,
        )
    report_figures.save(ctx, row.id)
    saved = _("Correction saved.") if supersedes else _("Check-in saved.")
    return await _show_card(ctx, assignment_id, saved)


FLOW = registry.add_flow(
    Flow(
        FLOW_NAME,
        {
            Step.LIST: StepDef(prompt=prompt_list, handle=on_list),
            Step.CARD: StepDef(prompt=prompt_card, handle=on_card),
            Step.VALUE: StepDef(prompt=prompt_value, handle=on_value, accepts_media=True),
            Step.REASON: StepDef(prompt=prompt_reason, handle=on_reason),
            Step.NOTE: StepDef(prompt=prompt_note, handle=on_note),
            Step.EVIDENCE: StepDef(prompt=prompt_evidence, handle=on_evidence, accepts_media=True),
            Step.CONFIRM: StepDef(prompt=prompt_confirm, handle=on_confirm, accepts_media=True),
            Step.FIGURE: StepDef(prompt=report_figures.prompt, handle=on_figure),
        },
    )
)
registry.add_global_choice("ck:", on_global_choice)
registry.add_menu(
    MenuEntry(
        MENU_ID,
        lambda: _("My tasks"),
        start_tasks,
        lambda c: c.has_role(*VIEW_ROLES),
        20,
    )
)
