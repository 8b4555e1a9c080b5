"""/progress [unit]: supervisors (and admins) follow the plan in their area.

A view of one unit opens with a summary that fits a phone screen (at most
``handlers.summary.SUMMARY_LIMIT`` characters): the counts, then what needs
action, laggards first (overdue, then blocked, then the lowest share): the
units directly below (each counted over its whole subtree, with its share of
target), the unit's own assignments, the tasks, the former units. Each list is
cut to what fits; the rest is a button away. Buttons drill down
(``pg:u:<unit id>``), page through the children (``pg:u:<unit id>:<page>``),
list the unit's own tasks (``pg:o:<unit id>:<page>``) and every task
(``pg:k:<unit id>:<page>``), and go back up while still within scope. The
current year's plan is shown (``db.plan_years``); a fifth part ``:<year>``
shows last year's. Units that closed are listed as they stood on their last
day, and open.

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
    view -- "pg:o:id:page, pg:k:id:page" --> list[own tasks / by task, a page] --> view
```
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

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
from handlers.summary import Section, fit, share_by_child, share_by_task, target_share
from handlers.types import Choice, Message, Reply, in_place

VIEW_ROLES = (Role.SUPERVISOR, Role.ADMIN)
CHILDREN_PER_PAGE = 10
LINES_PER_PAGE = 10
MAX_MATCHES = 10


def _pct(share: float) -> str:
    return f"{format_number(round(share * 100))}%"


def _rollup_line(r: Rollup, *, of_units: bool, target: float | None = None) -> str:
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
    if target is not None and r.done < r.total:
        line += " · " + _("{share} of target").format(share=_pct(target))
    return line


def _messages(text: str, choices: list[Choice]) -> Reply:
    """A long text as several messages, the buttons under the last one."""
    messages = [Message(part) for part in split_text(text)]
    messages[-1].choices = choices
    return messages


@dataclass
class _View:
    """What a view of a unit shows: the day (a closed unit's last day), the plan year."""

    today: dt.date
    closed: bool
    years: list[int]
    current: int | None
    year: int | None
    rows: list[AssignmentProgress]
    own: list[AssignmentProgress]

    @property
    def keep(self) -> str:
        """Buttons keep a year other than the current one: ":<page>:<year>"."""
        return f":{self.year}" if self.year != self.current else ""


async def _view(ctx: Context, unit: Unit, year: int | None = None) -> _View:
    """Every row under ``unit`` and its own rows, laggards first, for the day and year."""
    today = local_today(ctx.now)
    closed = unit.valid_to is not None and unit.valid_to <= today
    if closed:
        # A closed unit's history: its assignments as they stood on its last day.
        assert unit.valid_to is not None
        today = unit.valid_to - dt.timedelta(days=1)
    years = list(await plan_years(ctx.session))
    current = current_of(years, today)
    year = year if year in years else current
    rows = list(await progress_in_subtree(ctx.session, unit, include_closed=closed, year=year))
    own = sorted((r for r in rows if r.unit_id == unit.id), key=lambda r: r.laggard_key(today))
    return _View(today, closed, years, current, year, rows, own)


async def render_unit(ctx: Context, unit: Unit, page: int = 0, year: int | None = None) -> Reply:
    """The summary of ``unit`` (one phone screen), with the buttons to everything else."""
    view = await _view(ctx, unit, year)
    today, rows, own, keep = view.today, view.rows, view.own, view.keep
    lang = current_language()
    children = await active_children(ctx.session, unit, today)
    by_child = rollup_by_child(rows, unit, children, today)
    by_task = rollup_by_task(rows, today, lang, exclude_unit=unit.id)
    scope = await history_scope(ctx.session, unit)
    former = await former_rollups(
        ctx.session, [*scope.former, *await closed_children(ctx.session, unit)]
    )
    child_share = share_by_child(rows, unit.path, today)
    task_share = share_by_task(rows, today, exclude_unit=unit.id)

    states = [r.progress(today) for r in rows]
    head = [bold(_("Progress: {unit}").format(unit=esc(unit.name)))]
    if note := including_former(scope.former):
        head.append(f"({note})")
    if view.closed:
        head.append(await _closed_line(ctx, unit))
    if len(view.years) > 1 and view.year is not None:
        head.append(_("Plan {year}.").format(year=view.year))
    head.append(_("As of {date}.").format(date=format_date(today)))
    if not rows:
        head.append(_("No tasks are assigned to this unit or the units below it."))
    else:
        head.append(
            _("{done}/{total} assignments done, {overdue} overdue.").format(
                done=states.count(Progress.DONE),
                total=len(states),
                overdue=states.count(Progress.OVERDUE),
            )
            + " "
            + _("{share} of target reached.").format(share=_pct(target_share(rows, today)))
        )
    sections = []
    if by_child:
        sections.append(
            Section(
                bold(_("Units below, laggards first")),
                [_rollup_line(r, of_units=False, target=child_share.get(r.key)) for r in by_child],
            )
        )
    if own:
        own_lines = ["\n".join(assignment_lines(a, today, lang)) for a in own]
        sections.append(Section(bold(_("Tasks of this unit")), own_lines, most=4))
    if by_task:
        sections.append(
            Section(
                bold(_("By task, laggards first")),
                [_rollup_line(r, of_units=True, target=task_share.get(r.key)) for r in by_task],
                most=3,
            )
        )
    shown_former = [(u, r) for u, r, _rows in former if r.total]
    if shown_former:
        sections.append(
            Section(
                bold(_("Former units, as they stood on their last day")),
                [
                    _rollup_line(replace(r, label=until_label(u)), of_units=False)
                    for u, r in shown_former
                ],
                most=3,
            )
        )
    text = fit(head, sections)

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
    if own:
        choices.append(
            Choice(f"pg:o:{unit.id}:0{keep}", _("Tasks of this unit ({n})").format(n=len(own)))
        )
    if by_task:
        choices.append(
            Choice(f"pg:k:{unit.id}:0{keep}", _("All tasks ({n})").format(n=len(by_task)))
        )
    if view.current is not None:
        for other in (view.current - 1, view.current):
            if other != view.year and other in view.years:
                choices.append(
                    Choice(f"pg:u:{unit.id}:0:{other}", _("Plan {year}").format(year=other))
                )
    choices += await _up(ctx, unit)
    return _messages(text, choices)


async def _up(ctx: Context, unit: Unit) -> list[Choice]:
    """The parent (within scope) and, for a closed unit, its successor."""
    up: list[Choice] = []
    if unit.parent_id is not None:
        parent = await by_id(ctx.session, unit.parent_id)
        if parent is not None and ctx.can_see(parent, *VIEW_ROLES):
            up.append(Choice(f"pg:u:{parent.id}", _("⬆ {unit}").format(unit=parent.name)))
    if unit.replaced_by_id is not None:
        successor = await by_id(ctx.session, unit.replaced_by_id)
        if successor is not None and await _may_see(ctx, successor):
            up.append(Choice(f"pg:u:{successor.id}", _("➡ {unit}").format(unit=successor.name)))
    return up


async def render_list(
    ctx: Context, unit: Unit, kind: str, page: int, year: int | None = None
) -> Reply:
    """A page of the unit's own tasks (``o``) or of every task below it (``k``)."""
    view = await _view(ctx, unit, year)
    today, rows, own, keep = view.today, view.rows, view.own, view.keep
    lang = current_language()
    if kind == "o":
        title = _("Tasks of this unit")
        lines = ["\n".join(assignment_lines(a, today, lang)) for a in own]
    else:
        title = _("By task, laggards first")
        shares = share_by_task(rows, today, exclude_unit=unit.id)
        lines = [
            _rollup_line(r, of_units=True, target=shares.get(r.key))
            for r in rollup_by_task(rows, today, lang, exclude_unit=unit.id)
        ]
    last = max((len(lines) - 1) // LINES_PER_PAGE, 0)
    page = min(max(page, 0), last)
    head = bold(f"{esc(unit.name)}: {title}")
    if last > 0:
        head += " · " + _("page {page}/{pages}").format(page=page + 1, pages=last + 1)
    text = "\n".join([head, *lines[page * LINES_PER_PAGE : (page + 1) * LINES_PER_PAGE]])
    choices = []
    if page > 0:
        choices.append(Choice(f"pg:{kind}:{unit.id}:{page - 1}{keep}", _("« Previous")))
    if page < last:
        choices.append(Choice(f"pg:{kind}:{unit.id}:{page + 1}{keep}", _("Next »")))
    summary = f"pg:u:{unit.id}" + (f":0{keep}" if keep else "")
    choices.append(Choice(summary, _("« Back to the summary")))
    return _messages(text, choices)


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
    if (
        len(parts) not in (3, 4, 5)
        or parts[1] not in ("u", "o", "k")
        or not all(p.isdigit() for p in parts[2:])
    ):
        return await _refuse(ctx, _("That button is no longer valid."))
    unit = await by_id(ctx.session, int(parts[2]))
    if unit is None or not await _may_see(ctx, unit):
        return await _refuse(ctx, _("That unit is outside your area."))
    ctx.finish()  # a refused button leaves whatever the person was doing alone
    page = int(parts[3]) if len(parts) >= 4 else 0
    year = int(parts[4]) if len(parts) == 5 else None
    if parts[1] == "u":  # drilling, paging, going back: in place of the view pressed on
        return in_place(await render_unit(ctx, unit, page, year))
    return in_place(await render_list(ctx, unit, parts[1], page, year))


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
