"""/digest and the daily digest: what moved in a supervisor's area, as text and a chart.

One digest per outermost unit a person supervises (a grant inside another grant
adds nothing), built by :func:`db.digest.build_digest` and rendered here in the
current language:

- first, one phone screen (``handlers.summary.SUMMARY_LIMIT`` characters):
  the heading, the counts, then what needs action: tips not acknowledged for
  over 24 hours, overdue assignments, the units below that lag most (with
  their share of target); as the caption of a chart made for a phone (each
  child unit's share of target reached, laggards on top; for a unit without
  children, each task's), with buttons to the tip inbox and to /progress;
- then the details, split to Telegram's 4096 characters: new tips of the last
  24 hours by category and status, tips not acknowledged for over 24 hours,
  the check-ins of the last 24 hours, overdue assignments and those due within
  7 days, and progress against target per task with the laggards named.

A digest names tips only by number, category, unit and time: never their text,
never anything about who sent them. The scheduled digest (``scheduler.digest``)
queues the same messages through the outbox; ``/digest`` answers with them now.

```mermaid
flowchart LR
    job["scheduler.digest, daily at digest_hour"] --> build
    cmd["/digest [unit code]"] --> who{supervisor?}
    menu["menu: Daily digest (m:digest)"] --> who
    who -- no --> hint[main menu with a hint]
    who -- yes --> build[build_digest per outermost supervised unit]
    build --> photo[chart photo, heading and summary as caption]
    photo --> text[text parts of at most 4096 characters]
```
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from db.bulk import collector_paused
from db.checkins import AssignmentProgress, Progress, Rollup, by_child, rollup_by_child
from db.digest import DigestData, TipCount, build_digest, outermost
from db.models import Role, TipStatus
from db.units import by_code
from handlers.chart import Bar, ChartSpec, render_chart
from handlers.checkin import PROGRESS_MARKS, deadline_text, value_text
from handlers.flow import Context, MenuEntry, registry
from handlers.former import including_former
from handlers.i18n import _, current_language, format_datetime, format_number, local_today
from handlers.render import bold, esc, split_text
from handlers.start import COMMAND_HELP, main_menu
from handlers.summary import Section, fit, share_by_child
from handlers.triage import status_label
from handlers.types import Choice, Message, Reply

DIGEST_ROLES = (Role.SUPERVISOR,)
LIST_LIMIT = 8  # stale tips, check-ins, overdue and due-soon assignments listed by name
LAGGARDS_NAMED = 3  # per task
SOON_DAYS = 7
MAX_BARS = 10  # a phone screen of bars; the rest are in /progress
STATUS_ORDER = [s.value for s in TipStatus]
_T = TypeVar("_T")


def _pct(fraction: float) -> str:
    return f"{format_number(round(fraction * 100))}%"


def _more(shown: int, total: int) -> list[str]:
    return [_("…and {n} more").format(n=total - shown)] if total > shown else []


# --- the text ----------------------------------------------------------------------


def _once(d: DigestData, key: object, make: Callable[[], _T]) -> _T:
    """``make()`` once per digest: its heading, summary, text and chart ask for the same
    lists and roll-ups, over some 7,800 rows for a province."""
    memo: dict[object, Any] = d.__dict__.setdefault("_rendering", {})
    if key not in memo:
        memo[key] = make()
    return memo[key]  # type: ignore[no-any-return]


def open_assignments(d: DigestData) -> tuple[list[AssignmentProgress], list[AssignmentProgress]]:
    """(overdue, due within 7 days) among the assignments not done, nearest deadline first."""
    return _once(d, "open", lambda: _open_assignments(d))


def _open_assignments(
    d: DigestData,
) -> tuple[list[AssignmentProgress], list[AssignmentProgress]]:
    today = d.today
    undone = sorted(
        (r for r in d.rows if not r.is_done(today)),
        key=lambda r: (r.deadline, r.task_sort, r.unit_path),
    )
    overdue = [r for r in undone if r.deadline < today]
    soon = [r for r in undone if 0 <= (r.deadline - today).days <= SOON_DAYS]
    return overdue, soon


def heading(d: DigestData) -> str:
    """The digest's caption: title, time, and one line of counts."""
    overdue, soon = open_assignments(d)
    return "\n".join(
        [
            "📋 " + bold(_("Daily digest: {unit}").format(unit=esc(d.root.name))),
            *([f"({note})"] if (note := including_former(d.former)) else []),
            _("{time}, covering the last 24 hours.").format(time=format_datetime(d.now)),
            _(
                "New tips: {tips} · not acknowledged for over 24 h: {stale} · check-ins: "
                "{checkins} · overdue: {overdue} · due within 7 days: {soon}"
            ).format(
                tips=d.new_tips_total,
                stale=d.stale_total,
                checkins=d.checkins_total,
                overdue=len(overdue),
                soon=len(soon),
            ),
        ]
    )


def summary(d: DigestData, lang: str) -> str:
    """The first screen: the heading, then what needs action, laggards first."""
    overdue, _soon = open_assignments(d)
    sections = []
    if d.stale_total:
        stale = _stale_lines(d, lang)
        sections.append(Section(stale[0], stale[1 : 1 + len(d.stale)], d.stale_total))
    if overdue:
        lines = [
            f"• {esc(r.unit_name)} · {esc(r.title(lang))} · {deadline_text(r, d.today)}"
            for r in overdue[:LIST_LIMIT]
        ]
        sections.append(
            Section(bold(_("Overdue: {n}").format(n=len(overdue))), lines, len(overdue))
        )
    rollups, shares = children_progress(d)
    behind = [r for r in rollups if r.done < r.total]
    if behind:
        lines = [
            "• "
            + _("{unit}: {share} of target, {done}/{total} done").format(
                unit=esc(r.label), share=_pct(shares.get(r.key, 0.0)), done=r.done, total=r.total
            )
            + (", " + _("{n} overdue").format(n=r.overdue) if r.overdue else "")
            for r in behind
        ]
        sections.append(Section(bold(_("Units below, laggards first")), lines))
    return fit(heading(d).split("\n"), sections)


def summary_choices(d: DigestData) -> list[Choice]:
    """Where the rest is: the tip inbox, and /progress of the digest's unit."""
    return [
        Choice("m:tip_inbox", _("Tip inbox")),
        Choice(f"pg:u:{d.root.id}", _("Progress")),
    ]


def _tip_lines(d: DigestData, lang: str) -> list[str]:
    lines = [bold(_("New tips in the last 24 hours: {n}").format(n=d.new_tips_total))]
    by_category: dict[str, list[TipCount]] = {}
    for count in d.new_tips:
        by_category.setdefault(count.category, []).append(count)
    for counts in by_category.values():
        counts.sort(key=lambda c: STATUS_ORDER.index(c.status) if c.status in STATUS_ORDER else 9)
        statuses = ", ".join(f"{status_label(c.status)} {c.count}" for c in counts)
        lines.append(
            "• "
            + _("{category}: {n} ({statuses})").format(
                category=esc(counts[0].title(lang)),
                n=sum(c.count for c in counts),
                statuses=statuses,
            )
        )
    return lines


def _stale_lines(d: DigestData, lang: str) -> list[str]:
    lines = [bold(_("Tips not acknowledged for over 24 hours: {n}").format(n=d.stale_total))]
    for tip in d.stale:
        lines.append(
            "• "
            + _("#{id} {category} · {unit} · received {time}").format(
                id=tip.tip_id,
                category=esc(tip.title(lang)),
                unit=esc(tip.unit_name),
                time=format_datetime(tip.created_at),
            )
        )
    return lines + _more(len(d.stale), d.stale_total)


def _checkin_lines(d: DigestData, lang: str) -> list[str]:
    lines = [
        bold(
            _("Check-ins in the last 24 hours: {n} from {units} units").format(
                n=d.checkins_total, units=d.checkin_units
            )
        )
    ]
    for c in d.checkins:
        value = value_text(
            c.kind,
            status=c.status,
            value=c.value,
            eligible=c.eligible,
            period=c.period,
            target=c.target,
        )
        lines.append(f"• {esc(c.unit_name)} · {esc(c.title(lang))}: {esc(value)}")
    return lines + _more(len(d.checkins), d.checkins_total)


def _assignment_lines(
    title: str, rows: list[AssignmentProgress], d: DigestData, lang: str
) -> list[str]:
    lines = [bold(title)]
    for r in rows[:LIST_LIMIT]:
        lines.append(f"• {esc(r.unit_name)} · {esc(r.title(lang))} · {deadline_text(r, d.today)}")
    return lines + _more(min(len(rows), LIST_LIMIT), len(rows))


@dataclass(frozen=True)
class TaskLine:
    """One task over the subtree: done, average share of target, overdue, laggards."""

    title: str
    total: int
    done: int
    overdue: int
    fraction: float
    laggards: list[AssignmentProgress]

    def sort_key(self) -> tuple[object, ...]:
        return (-self.overdue, self.done / self.total, self.fraction, self.title)


def children_progress(d: DigestData) -> tuple[list[Rollup], dict[int, float]]:
    """Per child unit: its roll-up (laggards first) and its mean share of target."""
    return _once(d, "children", lambda: _children_progress_of(d))


def _children_progress_of(d: DigestData) -> tuple[list[Rollup], dict[int, float]]:
    grouped = by_child(d.rows, d.root.path)
    return (
        rollup_by_child(d.rows, d.root, d.children, d.today, grouped=grouped),
        share_by_child(d.rows, d.root.path, d.today, grouped=grouped),
    )


def task_lines(d: DigestData, lang: str) -> list[TaskLine]:
    """Per task, laggards first (most overdue, then the lowest share done)."""
    return _once(d, ("tasks", lang), lambda: _task_lines_of(d, lang))


def _task_lines_of(d: DigestData, lang: str) -> list[TaskLine]:
    today = d.today
    grouped: dict[int, list[AssignmentProgress]] = {}
    for row in d.rows:
        grouped.setdefault(row.task_id, []).append(row)
    result = []
    for rows in grouped.values():
        states = [r.progress(today) for r in rows]
        behind = sorted(
            (r for r in rows if not r.is_done(today)), key=lambda r: r.laggard_key(today)
        )
        result.append(
            TaskLine(
                title=rows[0].title(lang),
                total=len(rows),
                done=states.count(Progress.DONE),
                overdue=states.count(Progress.OVERDUE),
                fraction=sum(r.fraction(today) for r in rows) / len(rows),
                laggards=behind,
            )
        )
    return sorted(result, key=TaskLine.sort_key)


def _task_lines(d: DigestData, lang: str) -> list[str]:
    lines = [bold(_("Progress against target, by task"))]
    if not d.rows:
        return [*lines, _("No tasks are assigned to this unit or the units below it.")]
    for t in task_lines(d, lang):
        mark = (
            PROGRESS_MARKS[Progress.OVERDUE]
            if t.overdue
            else PROGRESS_MARKS[Progress.DONE]
            if t.done == t.total
            else PROGRESS_MARKS[Progress.IN_PROGRESS]
        )
        line = f"{mark} {bold(esc(t.title))}: " + _(
            "{done}/{total} done · {share} of target"
        ).format(done=t.done, total=t.total, share=_pct(t.fraction))
        if t.overdue:
            line += ", " + _("{n} overdue").format(n=t.overdue)
        lines.append(line)
        if t.laggards and t.total > 1:
            named = ", ".join(
                f"{esc(r.unit_name)} ({_pct(r.fraction(d.today))})"
                for r in t.laggards[:LAGGARDS_NAMED]
            )
            extra = len(t.laggards) - LAGGARDS_NAMED
            if extra > 0:
                named += " " + _("and {n} more units").format(n=extra)
            lines.append("   " + _("Behind: {units}").format(units=named))
    return lines


def body(d: DigestData, lang: str) -> str:
    """Everything under the heading, sections separated by a blank line."""
    overdue, soon = open_assignments(d)
    sections = [
        _tip_lines(d, lang),
        _stale_lines(d, lang),
        _checkin_lines(d, lang),
        _assignment_lines(_("Overdue: {n}").format(n=len(overdue)), overdue, d, lang),
        _assignment_lines(_("Due within 7 days: {n}").format(n=len(soon)), soon, d, lang),
        _task_lines(d, lang),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections)


# --- the chart ---------------------------------------------------------------------


def _note(text: str, overdue: int) -> str:
    return text + " · " + _("{n} overdue").format(n=overdue) if overdue else text


def chart_spec(d: DigestData, lang: str) -> ChartSpec | None:
    """Bars per child unit, else per task: the share of target reached, laggards on top
    (most overdue, then the lowest share): 15 of 20 cameras shows 75%, not 0."""
    rollups, shares = children_progress(d)
    if rollups:
        bars = [
            Bar(
                r.label,
                shares.get(r.key, 0.0) * 100,
                r.overdue,
                _note(f"{_pct(shares.get(r.key, 0.0))} · {r.done}/{r.total}", r.overdue),
            )
            for r in rollups
        ]
        title = _("Progress by unit: {unit}").format(unit=d.root.name)
    elif d.rows:
        bars = [
            Bar(t.title, t.fraction * 100, t.overdue, _note(_pct(t.fraction), t.overdue))
            for t in task_lines(d, lang)
        ]
        title = _("Progress by task: {unit}").format(unit=d.root.name)
    else:
        return None
    bars.sort(key=lambda b: (-b.overdue, b.percent, b.label))
    if len(bars) > MAX_BARS:
        title += " " + _("({shown} lowest of {total})").format(shown=MAX_BARS, total=len(bars))
        bars = bars[:MAX_BARS]
    return ChartSpec(title, _("% of target reached"), bars)


# --- messages ------------------------------------------------------------------------


async def digest_messages(digests: Sequence[DigestData], *, chart: bool = True) -> list[Message]:
    """The digests in the current language: per unit, the chart with the heading as its
    caption, then the text in parts Telegram accepts. A chart is drawn in a thread."""
    lang = current_language()
    messages: list[Message] = []
    for d in digests:
        with collector_paused():  # thousands of rows sorted and rolled up
            spec = chart_spec(d, lang) if chart else None
            first = Message(summary(d, lang), choices=summary_choices(d), columns=2)
            rest = [Message(part) for part in split_text(body(d, lang))]
        if spec is not None:
            first.image = await asyncio.to_thread(render_chart, spec)
            first.image_name = "digest.png"
        messages += [first, *rest]
    return messages


# --- /digest -------------------------------------------------------------------------


async def digest_command(ctx: Context, args: str) -> Reply:
    """``/digest``: the digest of every unit one supervises, now; ``/digest CODE``: of one
    unit within that scope."""
    ctx.finish()
    if not ctx.has_role(*DIGEST_ROLES):
        return await main_menu(ctx, _("The daily digest is for supervisors."))
    roots = outermost(ctx.units_with(*DIGEST_ROLES))
    code = args.strip()
    if code:
        unit = await by_code(ctx.session, code) or await by_code(ctx.session, code.lower())
        if unit is None or not ctx.can_see(unit, *DIGEST_ROLES):
            return await main_menu(ctx, _("That unit is outside your area."))
        roots = [unit]
    today = local_today(ctx.now)
    digests = [await build_digest(ctx.session, root, ctx.now, today) for root in roots]
    return await digest_messages(digests)


async def _menu_digest(ctx: Context) -> Reply:
    return await digest_command(ctx, "")


registry.add_command("digest", digest_command)
registry.add_menu(
    MenuEntry(
        "digest",
        lambda: _("Daily digest"),
        _menu_digest,
        lambda c: c.has_role(*DIGEST_ROLES),
        32,
    )
)
COMMAND_HELP["digest"] = lambda: _("the daily digest of your area, now (supervisors)")

# /export lives beside the digest; the engine loads this module, which loads that one.
from handlers import export as _export  # noqa: E402, F401
