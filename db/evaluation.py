"""The yearly evaluation and classification of the movement: the scoring sheet, rounds,
self-assessments, the superior's decision, rankings and commendation proposals.

The scoring sheet is data (``db/data/evaluation-sheet.yaml``, a TEMPLATE of the
structure of Decision 510/QĐ-BCA-V05, to be replaced by the official criteria):
criteria with maximum points and the evidence asked, per unit kind; class
thresholds; each unit kind's deadline. Opening a round keeps a copy of the sheet,
so a later edit of the file does not change a round under way.

Each unit's officer scores their unit criterion by criterion (the measurable ones
proposed from the bot's data) and submits it by the unit kind's deadline; the
superior (a supervisor above it) may adjust a criterion (with a reason) and
decides: a final total that differs from the self-assessment needs a reason.
Refusals raise ``EvaluationError`` with a translated message; nothing is written.

Repositories never commit; the caller's unit of work does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import UserError
from db.checkins import CheckinStatus, progress_in_subtree
from db.models import (
    Assignment,
    Checkin,
    Evaluation,
    EvaluationRound,
    EvaluationScore,
    EvaluationStatus,
    Task,
    Tip,
    Unit,
    UnitKind,
)
from db.units import in_subtree
from handlers.i18n import _

SHIPPED_SHEET = Path(__file__).resolve().parent / "data" / "evaluation-sheet.yaml"
MEASURES = ("reports_on_time", "targets_met", "tips_acknowledged")
ACK_WITHIN = dt.timedelta(hours=24)
LOCAL = dt.timedelta(hours=7)  # Asia/Ho_Chi_Minh, no daylight saving


class EvaluationError(UserError):
    """An evaluation step was refused; nothing was written."""


# --- the sheet ------------------------------------------------------------------------


def load_sheet(path: Path | str = SHIPPED_SHEET) -> dict[str, Any]:
    """Read and check a scoring sheet; ``EvaluationError`` lists every problem."""
    import yaml  # here, not at the top: the bot's process never reads a sheet (issue 17)

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise EvaluationError(
            _("cannot read the scoring sheet {file}: {reason}").format(file=path, reason=exc)
        ) from None
    problems: list[str] = []
    if not isinstance(data, dict):
        raise EvaluationError(_("the scoring sheet {file} is not a mapping").format(file=path))
    sheets = data.get("sheets") or {}
    kinds_seen: set[str] = set()
    for code, sheet in sheets.items():
        for kind in sheet.get("kinds") or []:
            if kind not in {k.value for k in UnitKind}:
                problems.append(
                    _("sheet {sheet}: unknown unit kind {kind}").format(sheet=code, kind=kind)
                )
            if kind in kinds_seen:
                problems.append(_("unit kind {kind} is in two sheets").format(kind=kind))
            kinds_seen.add(kind)
            if kind not in (data.get("deadlines") or {}):
                problems.append(_("unit kind {kind} has no deadline").format(kind=kind))
        codes = set()
        for c in sheet.get("criteria") or []:
            if not isinstance(c.get("max"), int | float) or c["max"] <= 0:
                problems.append(
                    _("sheet {sheet}: criterion {code} needs a positive max").format(
                        sheet=code, code=c.get("code")
                    )
                )
            if c.get("measure") is not None and c["measure"] not in MEASURES:
                problems.append(
                    _("sheet {sheet}: unknown measure {measure}").format(
                        sheet=code, measure=c["measure"]
                    )
                )
            if c.get("code") in codes or not c.get("code") or not c.get("vi"):
                problems.append(
                    _("sheet {sheet}: a criterion needs a unique code and a vi title").format(
                        sheet=code
                    )
                )
            codes.add(c.get("code"))
    for kind, day in (data.get("deadlines") or {}).items():
        if _day_month(str(day)) is None:
            problems.append(
                _("deadline of {kind} is not dd/mm: {value}").format(kind=kind, value=day)
            )
    classes = data.get("classes") or []
    if not classes or [c.get("min") for c in classes] != sorted(
        (c.get("min") for c in classes), reverse=True
    ):
        problems.append(_("classes must be listed from the highest minimum down"))
    if problems:
        raise EvaluationError("; ".join(problems))
    return dict(data)


def _day_month(text: str) -> tuple[int, int] | None:
    parts = text.split("/")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    day, month = int(parts[0]), int(parts[1])
    try:
        dt.date(2000, month, day)
    except ValueError:
        return None
    return day, month


def sheet_code(sheet: dict[str, Any], unit_kind: str) -> str | None:
    for code, s in sheet["sheets"].items():
        if unit_kind in s.get("kinds", []):
            return str(code)
    return None


def criteria(sheet: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return list(sheet["sheets"][code]["criteria"])


def deadline(sheet: dict[str, Any], unit_kind: str, year: int) -> dt.date | None:
    found = (sheet.get("deadlines") or {}).get(unit_kind)
    parsed = _day_month(str(found)) if found is not None else None
    return dt.date(year, parsed[1], parsed[0]) if parsed else None


def grade(sheet: dict[str, Any], total: Decimal) -> str:
    for c in sheet["classes"]:
        if total >= Decimal(str(c["min"])):
            return str(c["code"])
    return str(sheet["classes"][-1]["code"])


def shown(value: Decimal | None) -> str:
    """A number of points without trailing zeros ("72.5", "76")."""
    return "—" if value is None else f"{value.normalize():f}"


def label(item: dict[str, Any], lang: str) -> str:
    return str(item.get("en") if lang == "en" and item.get("en") else item.get("vi"))


# --- rounds and evaluations -----------------------------------------------------------


async def open_round(
    session: AsyncSession, year: int, sheet: dict[str, Any], *, actor_member_id: int | None
) -> tuple[EvaluationRound, bool]:
    """The round of ``year`` (opened now with ``sheet`` if there is none); True if new."""
    found = await round_of(session, year)
    if found is not None:
        return found, False
    row = EvaluationRound(year=year, sheet=sheet, opened_by=actor_member_id)
    session.add(row)
    await session.flush()
    return row, True


async def round_of(session: AsyncSession, year: int) -> EvaluationRound | None:
    stmt = select(EvaluationRound).where(EvaluationRound.year == year)
    return (await session.execute(stmt)).scalar_one_or_none()


async def latest_round(session: AsyncSession) -> EvaluationRound | None:
    stmt = select(EvaluationRound).order_by(EvaluationRound.year.desc()).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


def _points(value: float, maximum: Any) -> Decimal:
    return (Decimal(str(maximum)) * Decimal(str(value))).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )


async def measured(
    session: AsyncSession, unit: Unit, year: int, today: dt.date
) -> dict[str, float]:
    """The measurable shares (0..1) from the bot's data; a measure with no data is left out."""
    found: dict[str, float] = {}
    rows = await progress_in_subtree(session, unit)
    targets = [r for r in rows if not r.is_reporting and r.deadline.year == year]
    if targets:
        found["targets_met"] = sum(r.is_done(today) for r in targets) / len(targets)
    first_submission = (
        select(func.min(Checkin.created_at))
        .where(Checkin.assignment_id == Assignment.id, Checkin.status == CheckinStatus.SUBMITTED)
        .correlate(Assignment)
        .scalar_subquery()
    )
    reports = (
        await session.execute(
            select(Assignment.deadline, first_submission)
            .join(Task, Task.id == Assignment.task_id)
            .where(
                Assignment.unit_id == unit.id,
                Assignment.retired_at.is_(None),
                Task.is_reporting,
                Assignment.deadline <= today,
                func.extract("year", Assignment.deadline) == year,
            )
        )
    ).all()
    if reports:
        on_time = sum(1 for due, at in reports if at is not None and (at + LOCAL).date() <= due)
        found["reports_on_time"] = on_time / len(reports)
    start = dt.datetime(year, 1, 1, tzinfo=dt.UTC) - LOCAL
    tips = (
        await session.execute(
            select(Tip.created_at, Tip.acknowledged_at)
            .join(Unit, Unit.id == Tip.unit_id)
            .where(in_subtree(unit.path), Tip.created_at >= start)
        )
    ).all()
    if tips:
        quick = sum(1 for at, ack in tips if ack is not None and ack - at <= ACK_WITHIN)
        found["tips_acknowledged"] = quick / len(tips)
    return found


async def evaluation_for(
    session: AsyncSession, round_: EvaluationRound, unit: Unit, today: dt.date
) -> Evaluation:
    """The unit's evaluation in the round, made (draft, with proposals) on first use."""
    stmt = select(Evaluation).where(Evaluation.round_id == round_.id, Evaluation.unit_id == unit.id)
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is not None:
        return found
    code = sheet_code(round_.sheet, unit.kind)
    if code is None:
        raise EvaluationError(_("{unit} is not evaluated by this sheet.").format(unit=unit.name))
    shares = await measured(session, unit, round_.year, today)
    row = Evaluation(round_id=round_.id, unit_id=unit.id, sheet_kind=code)
    session.add(row)
    await session.flush()
    for c in criteria(round_.sheet, code):
        share = shares.get(c.get("measure") or "")
        session.add(
            EvaluationScore(
                evaluation_id=row.id,
                criterion=c["code"],
                proposed=_points(share, c["max"]) if share is not None else None,
            )
        )
    await session.flush()
    return row


async def scores(session: AsyncSession, evaluation: Evaluation) -> dict[str, EvaluationScore]:
    stmt = select(EvaluationScore).where(EvaluationScore.evaluation_id == evaluation.id)
    return {s.criterion: s for s in (await session.execute(stmt)).scalars()}


def _criterion(round_: EvaluationRound, evaluation: Evaluation, code: str) -> dict[str, Any]:
    for c in criteria(round_.sheet, evaluation.sheet_kind):
        if c["code"] == code:
            return c
    raise EvaluationError(_("Unknown criterion {code}.").format(code=code))


def _check_points(c: dict[str, Any], points: Decimal) -> None:
    if points < 0 or points > Decimal(str(c["max"])):
        raise EvaluationError(
            _("{points} is more than this criterion's maximum of {max} points.").format(
                points=shown(points), max=c["max"]
            )
            if points > 0
            else _("Points cannot be negative.")
        )


async def _check_open(
    session: AsyncSession, round_: EvaluationRound, evaluation: Evaluation, today: dt.date
) -> None:
    if evaluation.status != EvaluationStatus.DRAFT:
        raise EvaluationError(_("This evaluation has already been submitted."))
    unit = await session.get(Unit, evaluation.unit_id)
    assert unit is not None
    due = deadline(round_.sheet, unit.kind, round_.year)
    if due is not None and today > due:
        raise EvaluationError(
            _("The deadline for {unit} was {date}; the self-assessment is closed.").format(
                unit=unit.name, date=due.strftime("%d/%m/%Y")
            )
        )


async def score(
    session: AsyncSession,
    round_: EvaluationRound,
    evaluation: Evaluation,
    code: str,
    points: Decimal,
    evidence: str | None,
    today: dt.date,
) -> None:
    """The unit's own points on one criterion (refused above its maximum or after the deadline)."""
    c = _criterion(round_, evaluation, code)
    _check_points(c, points)
    await _check_open(session, round_, evaluation, today)
    row = (await scores(session, evaluation))[code]
    row.self_points = points
    if evidence is not None:
        row.evidence = evidence
    await session.flush()


async def submit(
    session: AsyncSession,
    round_: EvaluationRound,
    evaluation: Evaluation,
    member_id: int,
    now: dt.datetime,
    today: dt.date,
) -> Decimal:
    await _check_open(session, round_, evaluation, today)
    rows = await scores(session, evaluation)
    missing = [code for code, s in rows.items() if s.self_points is None]
    if missing:
        raise EvaluationError(
            _("Score every criterion first ({count} left).").format(count=len(missing))
        )
    total = sum((s.self_points or Decimal(0) for s in rows.values()), Decimal(0))
    evaluation.self_total = total
    evaluation.status = EvaluationStatus.SUBMITTED.value
    evaluation.submitted_by = member_id
    evaluation.submitted_at = now
    await session.flush()
    return total


async def adjust(
    session: AsyncSession,
    round_: EvaluationRound,
    evaluation: Evaluation,
    code: str,
    points: Decimal,
    reason: str,
) -> None:
    """The superior's points on one criterion, with the reason."""
    if evaluation.status != EvaluationStatus.SUBMITTED:
        raise EvaluationError(_("Only a submitted, undecided evaluation can be adjusted."))
    c = _criterion(round_, evaluation, code)
    _check_points(c, points)
    if not reason.strip():
        raise EvaluationError(_("Give the reason for the change."))
    row = (await scores(session, evaluation))[code]
    row.final_points = points
    row.reason = reason.strip()
    await session.flush()


async def decide(
    session: AsyncSession,
    round_: EvaluationRound,
    evaluation: Evaluation,
    member_id: int,
    reason: str | None,
    now: dt.datetime,
) -> tuple[Decimal, str]:
    """The final total and class; a total that differs from the self-assessment needs a reason."""
    if evaluation.status != EvaluationStatus.SUBMITTED:
        raise EvaluationError(_("Only a submitted, undecided evaluation can be decided."))
    rows = await scores(session, evaluation)
    total = sum(
        (s.final_points if s.final_points is not None else s.self_points or Decimal(0))
        for s in rows.values()
    )
    total = Decimal(total)
    if total != evaluation.self_total and not (reason or "").strip():
        raise EvaluationError(
            _(
                "The decided total ({total}) differs from the self-assessment ({self}); "
                "give the reason."
            ).format(total=shown(total), self=shown(evaluation.self_total))
        )
    evaluation.final_total = total
    evaluation.grade = grade(round_.sheet, total)
    evaluation.reason = (reason or "").strip() or None
    evaluation.status = EvaluationStatus.DECIDED.value
    evaluation.decided_by = member_id
    evaluation.decided_at = now
    await session.flush()
    return total, evaluation.grade


# --- rankings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RankRow:
    unit_id: int
    unit_code: str
    unit_name: str
    unit_kind: str
    sheet_kind: str
    status: str | None  # None: not started
    self_total: Decimal | None
    final_total: Decimal | None
    grade: str | None
    evaluation_id: int | None

    @property
    def total(self) -> Decimal | None:
        return self.final_total if self.final_total is not None else self.self_total

    @property
    def lagging(self) -> bool:
        return self.status in (None, EvaluationStatus.DRAFT.value)


async def ranking(session: AsyncSession, round_: EvaluationRound, root: Unit) -> list[RankRow]:
    """The units directly below ``root`` that the sheet evaluates: best first, laggards last."""
    kinds = [k for s in round_.sheet["sheets"].values() for k in s.get("kinds", [])]
    stmt = (
        select(Unit, Evaluation)
        .outerjoin(Evaluation, (Evaluation.unit_id == Unit.id) & (Evaluation.round_id == round_.id))
        .where(Unit.parent_id == root.id, Unit.kind.in_(kinds), Unit.valid_to.is_(None))
    )
    rows = []
    for unit, ev in (await session.execute(stmt)).all():
        rows.append(
            RankRow(
                unit.id,
                unit.code,
                unit.name,
                unit.kind,
                sheet_code(round_.sheet, unit.kind) or "",
                ev.status if ev else None,
                ev.self_total if ev else None,
                ev.final_total if ev else None,
                ev.grade if ev else None,
                ev.id if ev else None,
            )
        )
    return sorted(rows, key=lambda r: (r.lagging, -(r.total or 0), r.unit_name))


@dataclass(frozen=True)
class Proposal:
    sheet_kind: str
    unit_code: str
    unit_name: str
    total: Decimal
    grade: str
    evidence: list[str]


async def commendation_proposals(
    session: AsyncSession, round_: EvaluationRound, root: Unit, per_kind: int = 3
) -> list[Proposal]:
    """The best decided units of each sheet kind under ``root``, with their evidence."""
    stmt = (
        select(Evaluation, Unit)
        .join(Unit, Unit.id == Evaluation.unit_id)
        .where(
            Evaluation.round_id == round_.id,
            Evaluation.status == EvaluationStatus.DECIDED.value,
            in_subtree(root.path),
        )
        .order_by(Evaluation.sheet_kind, Evaluation.final_total.desc(), Unit.name)
    )
    taken: dict[str, int] = {}
    proposals = []
    for ev, unit in (await session.execute(stmt)).all():
        if taken.get(ev.sheet_kind, 0) >= per_kind:
            continue
        taken[ev.sheet_kind] = taken.get(ev.sheet_kind, 0) + 1
        evidence = [
            f"{code}: {s.evidence}" for code, s in (await scores(session, ev)).items() if s.evidence
        ]
        proposals.append(
            Proposal(
                ev.sheet_kind,
                unit.code,
                unit.name,
                ev.final_total or Decimal(0),
                ev.grade or "",
                evidence,
            )
        )
    return proposals
