"""The compiled table of a report's figures, for supervisors: who reported what, who has not.

Section III.1 of the plan has the provincial police compile every reporting
body's results for the Ministry and the Provincial Party Committee. For each
reporting task that collects figures, a supervisor sees, over the units below
them: how many reported (late ones counted), who has not (named), and the
totals per figure; "Excel" sends the whole table as a workbook.

Buttons (global, ``rp:``): ``rp:t:<task id>`` the table, ``rp:x:<task id>`` the workbook.
"""

from __future__ import annotations

import io
from decimal import Decimal

from db import audit
from db import report_figures as repo
from db.models import Role, Task, Unit
from handlers.flow import Context, MenuEntry, registry
from handlers.i18n import _, current_language, format_date, format_datetime
from handlers.render import bold, esc
from handlers.start import COMMAND_HELP
from handlers.types import Choice, Message, Reply

PREFIX = "rp:"
ROLES = (Role.SUPERVISOR,)
NAMED = 10


def _root(ctx: Context) -> Unit:
    return sorted(ctx.units_with(*ROLES), key=lambda u: u.depth)[0]


def _num(value: Decimal) -> str:
    return f"{value.normalize():f}"


async def show_reports(ctx: Context) -> Reply:
    if not ctx.has_role(*ROLES):
        return [Message(_("Only supervisors see the compiled reports."))]
    tasks = await repo.reports_with_figures(ctx.session)
    if not tasks:
        return [Message(_("No report of the plan collects figures."))]
    lang = current_language()
    choices = [
        Choice(f"rp:t:{t.id}", t.title_en if lang == "en" and t.title_en else t.title_vi)
        for t in tasks
    ]
    return [Message(_("Which report?"), choices=choices)]


async def show_table(ctx: Context, task_id: int) -> Reply:
    task = await ctx.session.get(Task, task_id)
    if task is None or not task.figures or not ctx.has_role(*ROLES):
        return [Message(_("That button is no longer valid."))]
    root = _root(ctx)
    report = await repo.compile_report(ctx.session, task, root)
    lang = current_language()
    done = [r for r in report.rows if r.submitted_at is not None]
    late = [r for r in done if r.late]
    lines = [
        bold(report.title(lang)),
        _("Under {unit}: {done} of {total} reported ({late} late).").format(
            unit=esc(root.name), done=len(done), total=len(report.rows), late=len(late)
        ),
    ]
    if report.deadline is not None:
        lines.append(_("Due {date}.").format(date=format_date(report.deadline)))
    missing = report.missing
    if missing:
        named = ", ".join(esc(r.unit_name) for r in missing[:NAMED])
        if len(missing) > NAMED:
            named += " " + _("and {n} more units").format(n=len(missing) - NAMED)
        lines.append(_("Not reported: {units}").format(units=named))
    if done:
        lines += ["", bold(_("Totals of the reports received"))]
        for figure in report.figures:
            label = figure["en"] if lang == "en" else figure["vi"]
            lines.append(f"• {esc(label)}: {_num(report.total(figure['code']))}")
    choices = [Choice(f"rp:x:{task.id}", _("Excel"))]
    return [Message("\n".join(lines), choices=choices)]


async def send_workbook(ctx: Context, task_id: int) -> Reply:
    from openpyxl import Workbook

    task = await ctx.session.get(Task, task_id)
    if task is None or not task.figures or not ctx.has_role(*ROLES):
        return [Message(_("That button is no longer valid."))]
    root = _root(ctx)
    report = await repo.compile_report(ctx.session, task, root)
    lang = current_language()
    labels = [f["en"] if lang == "en" else f["vi"] for f in report.figures]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("Figures")[:31]
    sheet.append([_("Unit code"), _("Unit"), _("Reported at"), _("Late"), *labels])
    for r in report.rows:
        sheet.append(
            [
                r.unit_code,
                r.unit_name,
                format_datetime(r.submitted_at) if r.submitted_at else _("not reported"),
                _("yes") if r.late else "",
                *[
                    float(r.figures[f["code"]]) if f["code"] in r.figures else None
                    for f in report.figures
                ],
            ]
        )
    sheet.append(
        ["", _("Total"), "", "", *[float(report.total(f["code"])) for f in report.figures]]
    )
    out = io.BytesIO()
    book.save(out)
    audit.record(
        ctx.session,
        "report.export",
        actor_member_id=ctx.member.id if ctx.member else None,
        object_kind="task",
        object_id=task.id,
        data={"unit": root.code, "rows": len(report.rows)},
    )
    name = f"{task.code}-{root.code}.xlsx"
    return [
        Message(
            _("{title}: the compiled figures").format(title=report.title(lang)),
            document=out.getvalue(),
            document_name=name,
        )
    ]


async def on_global(ctx: Context, choice: str) -> Reply:
    parts = choice[len(PREFIX) :].split(":")
    if len(parts) == 2 and parts[1].isdigit():
        if parts[0] == "t":
            return await show_table(ctx, int(parts[1]))
        if parts[0] == "x":
            return await send_workbook(ctx, int(parts[1]))
    return [Message(_("That button is no longer valid."))]


async def _open(ctx: Context) -> Reply:
    return await show_reports(ctx)


async def _command(ctx: Context, args: str) -> Reply:
    return await show_reports(ctx)


registry.add_global_choice(PREFIX, on_global)
registry.add_menu(
    MenuEntry("reports", lambda: _("Reports' figures"), _open, lambda c: c.has_role(*ROLES), 56)
)
registry.add_command("reports", _command)
COMMAND_HELP["reports"] = lambda: _("the compiled figures of the plan's reports (supervisors)")
