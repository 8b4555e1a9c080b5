"""The lines ``antt unit reorganize`` prints: one per change, in the reader's language."""

from __future__ import annotations

from bot.commands._output import ROLE_NAMES, name_of
from db.reorganize import Report
from handlers.i18n import _, format_date


def _status(value: str) -> str:
    from db.checkins import Progress
    from handlers.checkin import PROGRESS_LABELS

    return PROGRESS_LABELS[Progress(value)]()


def change_lines(report: Report) -> list[str]:
    """Every change of ``report``, one line each, in the order they were made."""
    c = report.changes
    lines: list[str] = []
    for code, name, day in c.opened:
        lines.append(
            _("unit opens on {date}: {code} ({name})").format(
                date=format_date(day), code=code, name=name
            )
        )
    for code, successor, day in c.closed:
        if successor:
            lines.append(
                _("unit closes on {date}: {code}, merged into {successor}").format(
                    date=format_date(day), code=code, successor=successor
                )
            )
        else:
            lines.append(
                _("unit ends on {date}: {code}, without a successor").format(
                    date=format_date(day), code=code
                )
            )
    for a in c.assignments_moved:
        target = "-" if a.target is None else f"{a.target.normalize():f}"
        lines.append(
            _("assignment {task} moves from {old} to {new} (target now {target})").format(
                task=a.task_code, old=a.from_unit, new=a.to_unit, target=target
            )
        )
    for closed in c.assignments_closed:
        lines.append(
            _("assignment {task} of {unit} closes with its last status: {status}").format(
                task=closed.task_code, unit=closed.unit, status=_status(closed.status)
            )
        )
    for g in c.grants:
        role = name_of(ROLE_NAMES, g.role)
        if g.to_unit:
            lines.append(
                _("role moves: {name}, {role}, from {old} to {new}").format(
                    name=g.member_name, role=role, old=g.from_unit, new=g.to_unit
                )
            )
        else:
            lines.append(
                _("role ends: {name}, {role} of {unit}").format(
                    name=g.member_name, role=role, unit=g.from_unit
                )
            )
    for t in c.tips:
        lines.append(
            _("open tip #{id} moves from {old} to {new}").format(
                id=t.tip_id, old=t.from_unit, new=t.to_unit
            )
        )
    for i in c.invites:
        if i.to_unit:
            lines.append(
                _("invite #{id} moves from {old} to {new}").format(
                    id=i.invite_id, old=i.from_unit, new=i.to_unit
                )
            )
        else:
            lines.append(
                _("invite #{id} of {unit} is revoked").format(id=i.invite_id, unit=i.from_unit)
            )
    for m in c.subscriptions:
        if m.to_unit:
            lines.append(
                _("{count} subscriptions to announcements move from {old} to {new}").format(
                    count=m.count, old=m.from_unit, new=m.to_unit
                )
            )
        else:
            lines.append(
                _("{count} subscriptions to announcements of {unit} end").format(
                    count=m.count, unit=m.from_unit
                )
            )
    for day, rows in report.scheduled:
        lines.append(
            _("{rows} rows wait for {date}: the scheduler applies them on that day").format(
                rows=rows, date=format_date(day)
            )
        )
    for day in report.already_scheduled:
        lines.append(
            _("the rows for {date} were already waiting for that day").format(date=format_date(day))
        )
    return lines


def summary_line(report: Report) -> str:
    n = report.changes.counts()
    return _(
        "{opened} units opened, {closed} closed; {moved} assignments moved, {ended} closed;"
        " {grants} roles moved, {lost} ended; {tips} tips moved"
    ).format(
        opened=n["units_opened"],
        closed=n["units_closed"],
        moved=n["assignments_moved"],
        ended=n["assignments_closed"],
        grants=n["grants_moved"],
        lost=n["grants_ended"],
        tips=n["tips_moved"],
    )
