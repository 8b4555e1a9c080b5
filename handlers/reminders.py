"""Deadline reminders and check-in nudges: their texts, and the buttons they carry.

The scheduler (``scheduler/reminders.py``) decides who hears what and when; this
module only renders, in the recipient's language (``handlers.notify.enqueue``
sets it), and handles the buttons, which work in any state:

- ``ck:n:<assignment id>`` "Check in now": the check-in flow's own button
  (``handlers.checkin``), which checks that the person may check in;
- ``rm:sn:<assignment id>`` "Remind me tomorrow": no reminder of that
  assignment to this person until tomorrow's run, which sends one again.

```mermaid
flowchart LR
    job[daily run 07:00] -- "7 days, 1 day, on the day, weekly overdue" --> reminder
    reminder -- "ck:n:id" --> checkin[check-in flow: value step]
    reminder -- "rm:sn:id" --> snoozed["snoozed until tomorrow: 'I will remind you'"]
    snoozed -. tomorrow's run .-> reminder
    week[weekly run] -- "no check-in for 7 days" --> nudge -- "ck:n:id" --> checkin
```
"""

from __future__ import annotations

import datetime as dt

from db import reminders as repo
from db.checkins import AssignmentProgress, assignment_progress
from db.models import Role, TaskKind
from handlers.checkin import latest_text, planned, target_text
from handlers.flow import Context, registry
from handlers.i18n import _, current_language, format_date, local_today, ngettext
from handlers.render import bold, esc
from handlers.types import Choice, Message, Reply

PREFIX = "rm:"
SNOOZE = "rm:sn:"
NUDGE_LISTED = 10
NUDGE_BUTTONS = 5
BUTTON_TITLE = 38  # "3. " and the title fit a phone line (handlers.types.PHONE_LINE)
SNOOZE_ROLES = (Role.OFFICER, Role.FORCE)


def checkin_choice(assignment_id: int) -> str:
    """The check-in flow's "start a check-in on this assignment" button."""
    return f"ck:n:{assignment_id}"


def snooze_choice(assignment_id: int) -> str:
    return f"{SNOOZE}{assignment_id}"


def _short(text: str, limit: int = BUTTON_TITLE) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _when(due: dt.date, today: dt.date, inferred: bool = False) -> str:
    left = (due - today).days
    date = planned(format_date(due), inferred)
    if left > 1:
        return ngettext(
            "Due on {date}, in {days} day.", "Due on {date}, in {days} days.", left
        ).format(date=date, days=left)
    if left == 1:
        return _("Due tomorrow, {date}.").format(date=date)
    if left == 0:
        return _("Due today, {date}.").format(date=date)
    return ngettext(
        "Overdue: it was due on {date}, {days} day ago.",
        "Overdue: it was due on {date}, {days} days ago.",
        -left,
    ).format(date=date, days=-left)


def _reported(row: AssignmentProgress, today: dt.date) -> str:
    lines = []
    target = target_text(row)
    if target is not None:
        lines.append(_("Target: {target}.").format(target=target))
    period = row.current_period(today)
    if row.kind == TaskKind.RECURRING and period is not None:
        lines.append(_("Not yet checked in as done for the period {period}.").format(period=period))
    elif row.latest is None:
        lines.append(_("No check-in yet."))
    else:
        lines.append(
            _("Last check-in on {date}: {value}.").format(
                date=format_date(row.latest.created_at), value=esc(latest_text(row))
            )
        )
    return "\n".join(lines)


def reminder_messages(row: AssignmentProgress, due: dt.date, today: dt.date) -> list[Message]:
    """One reminder of ``row``, due on ``due``, as seen on ``today``."""
    heading = _("The plan's reporting calendar") if row.is_reporting else _("Deadline reminder")
    if (due - today).days < 0:
        heading = _("Overdue task")
    text = "\n".join(
        [
            bold(heading),
            f"{bold(esc(row.title(current_language())))} ({esc(row.unit_name)})",
            _when(due, today, row.inferred and due == row.deadline),
            _reported(row, today),
            _("When it is done, check in so your supervisors see it."),
        ]
    )
    choices = [Choice(checkin_choice(row.assignment_id), _("Check in now"))]
    if due != today:  # tomorrow would already be too late
        choices.append(Choice(snooze_choice(row.assignment_id), _("Remind me tomorrow")))
    return [Message(text, choices=choices, columns=2)]


def nudge_messages(rows: list[AssignmentProgress]) -> list[Message]:
    """The weekly nudge: tasks of the person's unit with no check-in for 7 days or more."""
    lang = current_language()
    lines = [
        bold(_("Weekly check-in")),
        ngettext(
            "No check-in for 7 days or more on {count} task of your unit:",
            "No check-in for 7 days or more on {count} tasks of your unit:",
            len(rows),
        ).format(count=len(rows)),
    ]
    for i, row in enumerate(rows[:NUDGE_LISTED], 1):
        lines.append(
            _("{n}. {task} ({unit}), deadline {date}").format(
                n=i,
                task=bold(esc(row.title(lang))),
                unit=esc(row.unit_name),
                date=format_date(row.deadline),
            )
        )
    if len(rows) > NUDGE_LISTED:
        lines.append(_("… and {more} more in My tasks.").format(more=len(rows) - NUDGE_LISTED))
    lines.append(_('A short check-in, even "in progress", keeps your supervisors informed.'))
    choices = [
        Choice(checkin_choice(row.assignment_id), f"{i}. {_short(row.title(lang))}")
        for i, row in enumerate(rows[:NUDGE_BUTTONS], 1)
    ]
    choices.append(Choice("ck:l:0", _("My tasks")))
    return [Message("\n".join(lines), choices=choices)]


async def on_reminder_choice(ctx: Context, choice_id: str) -> Reply:
    """``rm:sn:<id>``: snooze that assignment's reminders to this person until tomorrow."""
    raw = choice_id.removeprefix(SNOOZE)
    if not choice_id.startswith(SNOOZE) or not raw.isdigit():
        return [Message(_("That button is no longer valid."))]
    row = await assignment_progress(ctx.session, int(raw))
    if row is None or not any(
        g.role in SNOOZE_ROLES and g.unit.id == row.unit_id for g in ctx.grants
    ):
        return [Message(_("That task is not assigned to your unit."))]
    tomorrow = local_today(ctx.now) + dt.timedelta(days=1)
    await repo.snooze(ctx.session, ctx.identity.id, row.assignment_id, tomorrow)
    text = _("All right: I will remind you about {task} again tomorrow, {date}.").format(
        task=bold(esc(row.title(current_language()))), date=format_date(tomorrow)
    )
    return [Message(text, choices=[Choice(checkin_choice(row.assignment_id), _("Check in now"))])]


registry.add_global_choice(PREFIX, on_reminder_choice)
