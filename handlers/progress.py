"""/progress [unit]: supervisors (and admins) follow the plan in their area.

A view of one unit: its own assignments (target, latest value, status,
deadline), then a roll-up over the units directly below it, each counted over
its whole subtree (for a district: its communes), then a roll-up per task;
laggards first everywhere (overdue, then blocked, then the lowest share).
Buttons drill down (``pg:u:<unit id>``), page through the children
(``pg:u:<unit id>:<page>``) and go back up while still within scope. The current
year's plan is shown (``db.plan_years``); ``pg:u:<unit id>:<page>:<year>`` shows last
year's. Units that closed are listed as they stood on their last day, and open.

Scope: a person sees the subtrees of the units where they are supervisor or
admin; a unit outside them, by name, code or a forged button, is refused.

```mermaid
flowchart TD
    cmd["/progress"] --> roots{one scope unit?}
    cmd2["/progress name or code"] --> search[code, else folded name within scope]
    menu["menu: Progress (m:progress)"] --> roots
    roots -- yes --> view[unit view: own tasks, by child unit, by task]
    roots -- several --> pick[choose: pg:u:id]
    search -- one --> view
    search -- several --> pick
    search -- none --> hint[not in your area]
    pick --> view
    view -- "pg:u:child" --> view
    view -- "pg:u:id:page" --> view
    view -- "pg:u:id:page:year (last year's plan)" --> view
```
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

from db.checkins import (
    AssignmentProgress,
    Progress,
    Rollup,
    active_children,
    progress_in_subtree,
    rollup_by_child,
    rollup_by_task,
)
from db.history import closed_children, former_rollups, history_scope
from db.models import Role, Unit
from db.plan_years import current_of, plan_years
from db.tips import current_unit
from db.units import by_code, by_id, fold, search_by_name
from handlers.checkin import PROGRESS_MARKS, assignment_lines
from handlers.flow import Context, MenuEntry, registry
from handlers.former import including_former, until_label
from handlers.i18n import _, current_language, format_date, format_number, local_today
from handlers.render import bold, esc, split_text
from handlers.start import COMMAND_HELP, main_menu
from handlers.types import Choice, Message, Reply

VIEW_ROLES = (Role.SUPERVISOR, Role.ADMIN)
CHILDREN_PER_PAGE = 20
MAX_MATCHES = 10


def _pct(share: float) -> str:
    return f"{format_number(round(share * 100))}%"


def _rollup_line(r: Rollup, *, of_units: bool) -> str:
    mark = (
        PROGRESS_MARKS[Progress.OVERDUE]
        if r.overdue
        else PROGRESS_MARKS[Progress.DONE]
        if r.done == r.total
        else PROGRESS_MARKS[Progress.IN_PROGRESS]
    )
    if of_units:
        counted = _("{done}/{total} units done ({share})")
    else:
        counted = _("{done}/{total} assignments done ({share})")
    line = f"{mark} {esc(r.label)}: " + counted.format(
        done=r.done, total=r.total, share=_pct(r.share)
    )
    if r.overdue:
        line += ", " + _("{n} overdue").format(n=r.overdue)
    if r.blocked:
        line += ", " + _("{n} blocked").format(n=r.blocked)
    return line


def _messages(text: str, choices: list[Choice]) -> Reply:
    """A long text as several messages, the buttons under the last one."""
    messages = [Message(part) for part in split_text(text)]
    messages[-1].choices = choices
    return messages


async def render_unit(ctx: Context, unit: Unit, page: int = 0, year: int | None = None) -> Reply:
    today = local_today(ctx.now)
    lang = current_language()
    closed = unit.valid_to is not None and unit.valid_to <= today
    if closed:
        # A closed unit's history: its assignments as they stood on its last day.
        assert unit.valid_to is not None
        today = unit.valid_to - dt.timedelta(days=1)
    years = await plan_years(ctx.session)
    current = current_of(years, today)
    year = year if year in years else current
    # Buttons keep a year other than the current one: ":<page>:<year>".
    keep = f":{year}" if year != current else ""
    rows: Sequence[AssignmentProgress] = await progress_in_subtree(
        ctx.session, unit, include_closed=closed, year=year
    )
    children = await active_children(ctx.session, unit, today)
    own = sorted((r for r in rows if r.unit_id == unit.id), key=lambda r: r.laggard_key(today))
    by_child = rollup_by_child(rows, unit, children, today)
    by_task = rollup_by_task(rows, today, lang, exclude_unit=unit.id)
    scope = await history_scope(ctx.session, unit)
    former = await former_rollups(
        ctx.session, [*scope.former, *await closed_children(ctx.session, unit)]
    )

    states = [r.progress(today) for r in rows]
    lines = [bold(_("Progress: {unit}").format(unit=esc(unit.name)))]
    if note := including_former(scope.former):
        lines.append(f"({note})")
    if closed:
        lines.append(await _closed_line(ctx, unit))
    if len(years) > 1 and year is not None:
        lines.append(_("Plan {year}.").format(year=year))
    lines.append(_("As of {date}.").format(date=format_date(today)))
    if not rows:
        lines.append(_("No tasks are assigned to this unit or the units below it."))
    else:
        lines.append(
            _("{done}/{total} assignments done, {overdue} overdue.").format(
                done=states.count(Progress.DONE),
                total=len(states),
                overdue=states.count(Progress.OVERDUE),
            )
        )
    if own:
        lines += ["", bold(_("Tasks of this unit"))]
        for a in own:
            lines.extend(assignment_lines(a, today, lang))
    if by_child:
        lines += ["", bold(_("Units below, laggards first"))]
        lines.extend(_rollup_line(r, of_units=False) for r in by_child)
    if by_task:
        lines += ["", bold(_("By task, laggards first"))]
        lines.extend(_rollup_line(r, of_units=True) for r in by_task)
    shown_former = [(u, r) for u, r, _rows in former if r.total]
    if shown_former:
        lines += ["", bold(_("Former units, as they stood on their last day"))]
        for u, r in shown_former:
            lines.append(_rollup_line(replace(r, label=until_label(u)), of_units=False))

    last = max((len(by_child) - 1) // CHILDREN_PER_PAGE, 0)
    page = min(max(page, 0), last)
    shown = by_child[page * CHILDREN_PER_PAGE : (page + 1) * CHILDREN_PER_PAGE]
    child = ":0" + keep if keep else ""
    choices = [Choice(f"pg:u:{r.key}{child}", f"{r.label} ({_pct(r.share)})") for r in shown]
    choices += [Choice(f"pg:u:{u.id}", until_label(u)) for u, _r in shown_former]
    if page > 0:
        choices.append(Choice(f"pg:u:{unit.id}:{page - 1}{keep}", _("« Previous")))
    if page < last:
        choices.append(Choice(f"pg:u:{unit.id}:{page + 1}{keep}", _("Next »")))
    if current is not None:
        for other in (current - 1, current):
            if other != year and other in years:
                choices.append(
                    Choice(f"pg:u:{unit.id}:0:{other}", _("Plan {year}").format(year=other))
                )
    if unit.parent_id is not None:
        parent = await by_id(ctx.session, unit.parent_id)
        if parent is not None and ctx.can_see(parent, *VIEW_ROLES):
            choices.append(Choice(f"pg:u:{parent.id}", _("⬆ {unit}").format(unit=parent.name)))
    if unit.replaced_by_id is not None:
        successor = await by_id(ctx.session, unit.replaced_by_id)
        if successor is not None and await _may_see(ctx, successor):
            choices.append(
                Choice(f"pg:u:{successor.id}", _("➡ {unit}").format(unit=successor.name))
            )
    return _messages("\n".join(lines), choices)


async def _closed_line(ctx: Context, unit: Unit) -> str:
    assert unit.valid_to is not None
    successor = await by_id(ctx.session, unit.replaced_by_id) if unit.replaced_by_id else None
    if successor is not None:
        return _("Closed on {date}; merged into {unit}.").format(
            date=format_date(unit.valid_to), unit=esc(successor.name)
        )
    return _("Closed on {date}, without a successor.").format(date=format_date(unit.valid_to))


async def _may_see(ctx: Context, unit: Unit) -> bool:
    """In scope, or a closed unit whose successor (at any remove) is in scope."""
    if ctx.can_see(unit, *VIEW_ROLES):
        return True
    return unit.valid_to is not None and ctx.can_see(
        await current_unit(ctx.session, unit), *VIEW_ROLES
    )


def _pick(units: Sequence[Unit], text: str) -> Reply:
    return [Message(text, choices=[Choice(f"pg:u:{u.id}", u.name) for u in units])]


async def _refuse(ctx: Context, hint: str) -> Reply:
    roots = ctx.units_with(*VIEW_ROLES)
    if not roots:
        return await main_menu(ctx, hint)
    return _pick(roots, hint + "\n" + _("Units you can follow:"))


async def progress_command(ctx: Context, args: str) -> Reply:
    """``/progress`` (one's own unit) or ``/progress <code or name>`` within one's scope."""
    ctx.finish()
    if not ctx.has_role(*VIEW_ROLES):
        return await main_menu(
            ctx,
            _("Progress of units is for supervisors. Your unit's tasks are under “My tasks”."),
        )
    query = args.strip()
    roots = ctx.units_with(*VIEW_ROLES)
    if not query:
        if len(roots) == 1:
            return await render_unit(ctx, roots[0])
        return _pick(roots, _("Which unit?"))
    unit = await by_code(ctx.session, query) or await by_code(ctx.session, query.lower())
    if unit is not None:
        if not await _may_see(ctx, unit):
            return await _refuse(ctx, _("That unit is outside your area."))
        return await render_unit(ctx, unit)
    folded = fold(query)
    found = await search_by_name(ctx.session, query, limit=200)
    matches = [u for u in found if ctx.can_see(u, *VIEW_ROLES)]
    exact = [u for u in matches if fold(u.name) == folded or fold(u.name).endswith(" " + folded)]
    if len(exact) == 1:
        return await render_unit(ctx, exact[0])
    if len(matches) == 1:
        return await render_unit(ctx, matches[0])
    if not matches:
        return await _refuse(
            ctx, _("No unit in your area matches “{query}”.").format(query=esc(query))
        )
    return _pick(matches[:MAX_MATCHES], _("Several units match; choose one:"))


async def on_progress_choice(ctx: Context, choice_id: str) -> Reply:
    """``pg:u:<unit id>`` or ``pg:u:<unit id>:<page>`` (a button; works in any state)."""
    if not ctx.has_role(*VIEW_ROLES):
        return await main_menu(ctx, _("Progress of units is for supervisors."))
    parts = choice_id.split(":")
    if len(parts) not in (3, 4, 5) or parts[1] != "u" or not all(p.isdigit() for p in parts[2:]):
        return await _refuse(ctx, _("That button is no longer valid."))
    unit = await by_id(ctx.session, int(parts[2]))
    if unit is None or not await _may_see(ctx, unit):
        return await _refuse(ctx, _("That unit is outside your area."))
    ctx.finish()  # a refused button leaves whatever the person was doing alone
    page = int(parts[3]) if len(parts) >= 4 else 0
    return await render_unit(ctx, unit, page, int(parts[4]) if len(parts) == 5 else None)


async def _menu_progress(ctx: Context) -> Reply:
    return await progress_command(ctx, "")


registry.add_command("progress", progress_command)
registry.add_global_choice("pg:", on_progress_choice)
registry.add_menu(
    MenuEntry(
        "progress", lambda: _("Progress"), _menu_progress, lambda c: c.has_role(*VIEW_ROLES), 30
    )
)
COMMAND_HELP["progress"] = lambda: _(
    "progress of a unit in your area and the units below it (supervisors)"
)
