"""Summary first: the opening message of a supervisor's answer fits one phone screen.

A supervisor's answer (progress, digest, inbox) opens with what needs action in
at most ``SUMMARY_LIMIT`` visible characters; the rest is one button or one page
away. :func:`fit` fills that budget section by section, laggards first, and says
how many lines were left for the buttons. :func:`target_share` measures progress
against the targets (15 of 20 cameras is 75%, not 0), not only finished tasks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from db.checkins import AssignmentProgress, by_child
from handlers.i18n import _
from handlers.render import visible_length

SUMMARY_LIMIT = 1000


@dataclass
class Section:
    """A titled list, most urgent first; ``total`` counts the items beyond ``lines`` too;
    at most ``most`` lines are shown, so the sections after it get their share."""

    title: str
    lines: list[str] = field(default_factory=list)
    total: int | None = None
    most: int = 5


def _more(n: int) -> str:
    return _("…and {n} more").format(n=n)


def fit(head: Sequence[str], sections: Iterable[Section], limit: int = SUMMARY_LIMIT) -> str:
    """``head`` then each section with as many of its lines as the budget holds.

    A section cut short (or with ``total`` above its lines) ends with "…and N
    more"; a section that does not fit at all is left out. The result never shows
    more than ``limit`` characters (a head longer than that is cut).
    """
    text = "\n".join(head)
    if visible_length(text) > limit:
        return text[: limit - 1] + "…"
    for section in sections:
        total = section.total if section.total is not None else len(section.lines)
        block = "\n\n" + section.title
        if visible_length(text + block) > limit:
            continue
        shown = 0
        for line in section.lines[: section.most]:
            rest = total - shown - 1
            tail = "\n" + _more(rest) if rest > 0 else ""
            if visible_length(text + block + "\n" + line + tail) > limit:
                break
            block += "\n" + line
            shown += 1
        if shown < total:
            note = "\n" + _more(total - shown)
            if visible_length(text + block + note) > limit:
                continue
            block += note
        text += block
    return text


def target_share(rows: Iterable[AssignmentProgress], today: dt.date) -> float:
    """The mean share of target reached over ``rows`` (0..1); 0 without rows."""
    fractions = [r.fraction(today) for r in rows]
    return sum(fractions) / len(fractions) if fractions else 0.0


def share_by_child(
    rows: Sequence[AssignmentProgress],
    root_path: str,
    today: dt.date,
    *,
    grouped: dict[int, list[AssignmentProgress]] | None = None,
) -> dict[int, float]:
    """Per direct child of the unit at ``root_path``: the mean share of target of its subtree
    (grouped by ``db.checkins.by_child``, as ``rollup_by_child`` groups them)."""
    if grouped is None:
        grouped = by_child(rows, root_path)
    return {key: target_share(items, today) for key, items in grouped.items()}


def share_by_task(
    rows: Sequence[AssignmentProgress], today: dt.date, *, exclude_unit: int | None
) -> dict[int, float]:
    """Per task: the mean share of target over the units that owe it."""
    grouped: dict[int, list[AssignmentProgress]] = {}
    for row in rows:
        if row.unit_id != exclude_unit:
            grouped.setdefault(row.task_id, []).append(row)
    return {key: target_share(items, today) for key, items in grouped.items()}
