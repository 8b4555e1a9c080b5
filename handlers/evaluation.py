"""The yearly evaluation in the bot: officers score their unit, supervisors review, decide, rank.

Who may do what (the round is the latest one opened, ``antt evaluation open``):

- an officer (``Role.OFFICER``) of a unit the sheet evaluates scores it criterion
  by criterion (the measurable ones come proposed), adds evidence if they wish,
  and submits it by the unit kind's deadline;
- a supervisor sees the ranking of the units directly below their unit (short,
  laggards named), opens a submitted evaluation of a unit below them, adjusts a
  criterion with a reason and decides; a decided total that differs from the
  self-assessment needs a reason. Excel: the ranking; at the top of the tree,
  the commendation proposals (best units per kind with scores and evidence).

Global buttons (``ev:``): ``ev:me`` own sheet, ``ev:c:<i>`` score criterion i,
``ev:sub`` submit, ``ev:rk`` ranking, ``ev:r:<evaluation id>`` review,
``ev:a:<evaluation id>:<i>`` adjust criterion i, ``ev:d:<evaluation id>`` decide,
``ev:x`` ranking as Excel, ``ev:p`` commendation proposals as Excel. In the flow:
``evf:ok`` take the proposal, ``evf:skip``.

```mermaid
flowchart TD
    menu["menu: Yearly evaluation (m:evaluation)"] -- officer --> sheet[own sheet]
    sheet -- "ev:c:i" --> points[POINTS] --> evidence[EVIDENCE or skip] --> sheet
    sheet -- ev:sub --> submitted
    menu -- supervisor --> ranking[RANKING: best first, laggards named]
    ranking -- "ev:r:id" --> review[scores: self, proposed, final]
    review -- "ev:a:id:i" --> adjust[ADJUST points] --> reason[REASON] --> review
    review -- "ev:d:id" --> decide{total differs?}
    decide -- no --> decided
    decide -- yes --> why[DECIDE_REASON] --> decided
```
"""

from __future__ import annotations

import io
from decimal import Decimal
from enum import StrEnum
from typing import Any

from db import audit
from db import evaluation as repo
from db.models import Evaluation, EvaluationRound, EvaluationStatus, Role, Unit
from db.units import by_id
from handlers.flow import Context, Flow, Invalid, MenuEntry, StepDef, registry
from handlers.i18n import _, current_language, format_date, local_today
from handlers.render import bold, esc
from handlers.start import COMMAND_HELP
from handlers.types import Choice, Incoming, Message, Reply

FLOW_NAME = "evaluation"
PREFIX = "ev:"
OK = "evf:ok"
SKIP = "evf:skip"
SHOWN = 5
NAMED = 10
MAX_TEXT = 1000


class Step(StrEnum):
    POINTS = "points"
    EVIDENCE = "evidence"
    ADJUST = "adjust"
    REASON = "reason"
    DECIDE = "decide"


def _num(value: Decimal | None) -> str:
    return "—" if value is None else f"{value.normalize():f}"


def _class_label(round_: EvaluationRound, code: str | None) -> str:
    for c in round_.sheet["classes"]:
        if c["code"] == code:
            return repo.label(c, current_language())
    return code or ""


async def _round(ctx: Context) -> EvaluationRound:
    found = await repo.latest_round(ctx.session)
    if found is None:
        raise Invalid(_("No evaluation round is open."))
    return found


def _own_units(ctx: Context, round_: EvaluationRound) -> list[Unit]:
    return [
        u for u in ctx.units_with(Role.OFFICER) if repo.sheet_code(round_.sheet, u.kind) is not None
    ]


def _number(text: str | None) -> Decimal:
    from handlers.checkin import parse_number

    return parse_number(text, whole=False)


# --- the officer's sheet -------------------------------------------------------------------


async def _own(ctx: Context) -> tuple[EvaluationRound, Unit, Evaluation]:
    round_ = await _round(ctx)
    units = _own_units(ctx, round_)
    if not units:
        raise Invalid(_("Your unit is not evaluated in this round."))
    unit = units[0]
    try:
        evaluation = await repo.evaluation_for(ctx.session, round_, unit, local_today(ctx.now))
    except repo.EvaluationError as refused:
        raise Invalid(str(refused)) from None
    return round_, unit, evaluation


async def show_sheet(ctx: Context, note: str | None = None) -> Reply:
    round_, unit, evaluation = await _own(ctx)
    lang = current_language()
    scores = await repo.scores(ctx.session, evaluation)
    due = repo.deadline(round_.sheet, unit.kind, round_.year)
    lines = [
        bold(_("Evaluation {year}: {unit}").format(year=round_.year, unit=esc(unit.name))),
        f"<i>{esc(repo.label(round_.sheet['title'], lang))}</i>",
    ]
    if due is not None:
        lines.append(_("Self-assessment due {date}.").format(date=format_date(due)))
    choices = []
    criteria = repo.criteria(round_.sheet, evaluation.sheet_kind)
    for i, c in enumerate(criteria, 1):
        s = scores[c["code"]]
        most = _("max {max}").format(max=c["max"])
        line = f"{i}. {esc(repo.label(c, lang))} ({most}): "
        line += _num(s.self_points)
        if s.self_points is None and s.proposed is not None:
            line += " " + _("(proposed {value})").format(value=_num(s.proposed))
        lines.append(line)
        if evaluation.status == EvaluationStatus.DRAFT:
            choices.append(Choice(f"ev:c:{i - 1}", f"{i}. {repo.label(c, lang)[:30]}"))
    if evaluation.status == EvaluationStatus.DRAFT:
        choices.append(Choice("ev:sub", _("Submit")))
    else:
        lines.append(
            _("Submitted: {total} points.").format(total=_num(evaluation.self_total))
            if evaluation.status == EvaluationStatus.SUBMITTED
            else _("Decided: {total} points, {grade}.").format(
                total=_num(evaluation.final_total), grade=_class_label(round_, evaluation.grade)
            )
        )
    text = "\n".join(lines)
    return [Message(f"{note}\n\n{text}" if note else text, choices=choices)]


async def _begin_criterion(ctx: Context, index: int) -> Reply:
    round_, _unit, evaluation = await _own(ctx)
    criteria = repo.criteria(round_.sheet, evaluation.sheet_kind)
    if not 0 <= index < len(criteria):
        raise Invalid(_("That button is no longer valid."))
    ctx.goto(FLOW_NAME, Step.POINTS, evaluation_id=evaluation.id, index=index)
    return await ask_points(ctx)


async def _criterion(ctx: Context) -> tuple[EvaluationRound, Evaluation, dict[str, Any]]:
    round_ = await _round(ctx)
    evaluation = await ctx.session.get(Evaluation, int(ctx.data["evaluation_id"]))
    assert evaluation is not None
    return round_, evaluation, repo.criteria(round_.sheet, evaluation.sheet_kind)[ctx.data["index"]]


async def ask_points(ctx: Context) -> Reply:
    round_, evaluation, c = await _criterion(ctx)
    lang = current_language()
    lines = [
        bold(repo.label(c, lang)),
        _("Maximum: {max} points.").format(max=c["max"]),
    ]
    if c.get("evidence"):
        lines.append(_("Evidence asked: {what}").format(what=esc(repo.label(c["evidence"], lang))))
    score = (await repo.scores(ctx.session, evaluation))[c["code"]]
    choices = []
    if score.proposed is not None:
        lines.append(_("Proposed from the bot's data: {value}.").format(value=_num(score.proposed)))
        choices.append(Choice(OK, _("Take {value}").format(value=_num(score.proposed))))
    lines.append(_("Send the points."))
    return [Message("\n".join(lines), choices=choices)]


async def on_points(ctx: Context, inp: Incoming) -> Reply:
    round_, evaluation, c = await _criterion(ctx)
    score = (await repo.scores(ctx.session, evaluation))[c["code"]]
    if inp.choice == OK and score.proposed is not None:
        points = score.proposed
    elif inp.choice is not None:
        raise Invalid(_("Send the points as a number."))
    else:
        points = _number(inp.text)
    try:
        await repo.score(
            ctx.session, round_, evaluation, c["code"], points, None, local_today(ctx.now)
        )
    except repo.EvaluationError as refused:
        raise Invalid(str(refused)) from None
    ctx.goto(FLOW_NAME, Step.EVIDENCE)
    return await ask_evidence(ctx)


async def ask_evidence(ctx: Context) -> Reply:
    return [
        Message(
            _("Evidence (optional): type it, or press Skip."), choices=[Choice(SKIP, _("Skip"))]
        )
    ]


async def on_evidence(ctx: Context, inp: Incoming) -> Reply:
    round_, evaluation, c = await _criterion(ctx)
    if inp.choice != SKIP:
        text = (inp.text or "").strip()
        if not text or len(text) > MAX_TEXT:
            raise Invalid(_("Type the evidence (at most 1000 characters), or press Skip."))
        score = (await repo.scores(ctx.session, evaluation))[c["code"]]
        score.evidence = text
    ctx.finish()
    return await show_sheet(ctx, _("Saved."))


async def _submit(ctx: Context) -> Reply:
    round_, unit, evaluation = await _own(ctx)
    assert ctx.member is not None
    try:
        total = await repo.submit(
            ctx.session, round_, evaluation, ctx.member.id, ctx.now, local_today(ctx.now)
        )
    except repo.EvaluationError as refused:
        return await show_sheet(ctx, str(refused))
    audit.record(
        ctx.session,
        "evaluation.submit",
        actor_member_id=ctx.member.id,
        object_kind="evaluation",
        object_id=evaluation.id,
        data={"unit": unit.code, "total": str(total)},
    )
    return await show_sheet(ctx, _("Submitted to your superior."))


# --- the supervisor's side ----------------------------------------------------------------


def _top(ctx: Context) -> Unit:
    return sorted(ctx.units_with(Role.SUPERVISOR), key=lambda u: u.depth)[0]


async def show_ranking(ctx: Context) -> Reply:
    round_ = await _round(ctx)
    root = _top(ctx)
    rows = await repo.ranking(ctx.session, round_, root)
    lines = [
        bold(
            _("Evaluation {year}: units below {unit}").format(year=round_.year, unit=esc(root.name))
        )
    ]
    if not rows:
        lines.append(_("No unit below is evaluated by this sheet."))
        return [Message("\n".join(lines))]
    ranked = [r for r in rows if not r.lagging]
    lagging = [r for r in rows if r.lagging]
    for i, r in enumerate(ranked[:SHOWN], 1):
        state = (
            _class_label(round_, r.grade)
            if r.status == EvaluationStatus.DECIDED
            else _("submitted, to decide")
        )
        lines.append(f"{i}. {esc(r.unit_name)}: {_num(r.total)} ({state})")
    if len(ranked) > SHOWN:
        lines.append(_("… and {n} more ranked.").format(n=len(ranked) - SHOWN))
    if lagging:
        named = ", ".join(esc(r.unit_name) for r in lagging[:NAMED])
        if len(lagging) > NAMED:
            named += " " + _("and {n} more units").format(n=len(lagging) - NAMED)
        lines.append(_("Not submitted ({n}): {units}").format(n=len(lagging), units=named))
    choices = [
        Choice(f"ev:r:{r.evaluation_id}", f"{r.unit_name} ({_num(r.total)})")
        for r in ranked
        if r.status == EvaluationStatus.SUBMITTED
    ][:8]
    choices.append(Choice("ev:x", _("Excel")))
    if root.parent_id is None:
        choices.append(Choice("ev:p", _("Commendation proposals")))
    return [Message("\n".join(lines), choices=choices)]


async def _reviewable(ctx: Context, evaluation_id: int) -> tuple[EvaluationRound, Evaluation, Unit]:
    round_ = await _round(ctx)
    evaluation = await ctx.session.get(Evaluation, evaluation_id)
    unit = await by_id(ctx.session, evaluation.unit_id) if evaluation else None
    if (
        evaluation is None
        or unit is None
        or evaluation.round_id != round_.id
        or not any(
            g.role == Role.SUPERVISOR and unit.path.startswith(g.unit.path) and unit.id != g.unit.id
            for g in ctx.grants
        )
    ):
        raise Invalid(_("Only a supervisor above that unit reviews its evaluation."))
    return round_, evaluation, unit


async def show_review(ctx: Context, evaluation_id: int, note: str | None = None) -> Reply:
    round_, evaluation, unit = await _reviewable(ctx, evaluation_id)
    lang = current_language()
    scores = await repo.scores(ctx.session, evaluation)
    lines = [
        bold(_("Evaluation {year}: {unit}").format(year=round_.year, unit=esc(unit.name))),
        _("Self-assessment: {total} points.").format(total=_num(evaluation.self_total)),
    ]
    choices = []
    for i, c in enumerate(repo.criteria(round_.sheet, evaluation.sheet_kind)):
        s = scores[c["code"]]
        line = f"{i + 1}. {esc(repo.label(c, lang))} /{c['max']}: {_num(s.self_points)}"
        if s.proposed is not None:
            line += " " + _("(data: {value})").format(value=_num(s.proposed))
        if s.final_points is not None:
            line += " → " + _num(s.final_points) + f" <i>{esc(s.reason or '')}</i>"
        if s.evidence:
            line += "\n   " + _("evidence: {what}").format(what=esc(s.evidence))
        lines.append(line)
        if evaluation.status == EvaluationStatus.SUBMITTED:
            choices.append(Choice(f"ev:a:{evaluation.id}:{i}", _("Adjust {n}").format(n=i + 1)))
    if evaluation.status == EvaluationStatus.SUBMITTED:
        choices.append(Choice(f"ev:d:{evaluation.id}", _("Decide")))
    else:
        lines.append(
            _("Decided: {total} points, {grade}.").format(
                total=_num(evaluation.final_total), grade=_class_label(round_, evaluation.grade)
            )
        )
    choices.append(Choice("ev:rk", _("« Ranking")))
    text = "\n".join(lines)
    return [Message(f"{note}\n\n{text}" if note else text, choices=choices, columns=3)]


async def ask_adjust(ctx: Context) -> Reply:
    round_ = await _round(ctx)
    evaluation = await ctx.session.get(Evaluation, int(ctx.data["evaluation_id"]))
    assert evaluation is not None
    c = repo.criteria(round_.sheet, evaluation.sheet_kind)[ctx.data["index"]]
    return [
        Message(
            _("{criterion} (max {max}): the points you decide?").format(
                criterion=bold(esc(repo.label(c, current_language()))), max=c["max"]
            )
        )
    ]


async def on_adjust(ctx: Context, inp: Incoming) -> Reply:
    round_, evaluation, _unit = await _reviewable(ctx, int(ctx.data["evaluation_id"]))
    c = repo.criteria(round_.sheet, evaluation.sheet_kind)[ctx.data["index"]]
    points = _number(inp.text)
    if points > Decimal(str(c["max"])):
        raise Invalid(
            _("{points} is more than this criterion's maximum of {max} points.").format(
                points=_num(points), max=c["max"]
            )
        )
    ctx.goto(FLOW_NAME, Step.REASON, points=str(points))
    return await ask_reason(ctx)


async def ask_reason(ctx: Context) -> Reply:
    return [Message(_("The reason for the change?"))]


async def on_reason(ctx: Context, inp: Incoming) -> Reply:
    round_, evaluation, unit = await _reviewable(ctx, int(ctx.data["evaluation_id"]))
    c = repo.criteria(round_.sheet, evaluation.sheet_kind)[ctx.data["index"]]
    reason = (inp.text or "").strip()
    if not reason or len(reason) > MAX_TEXT:
        raise Invalid(_("Give the reason for the change."))
    try:
        await repo.adjust(
            ctx.session, round_, evaluation, c["code"], Decimal(ctx.data["points"]), reason
        )
    except repo.EvaluationError as refused:
        raise Invalid(str(refused)) from None
    ctx.finish()
    return await show_review(ctx, evaluation.id, _("Saved."))


async def _decide(ctx: Context, evaluation_id: int, reason: str | None) -> Reply:
    round_, evaluation, unit = await _reviewable(ctx, evaluation_id)
    assert ctx.member is not None
    try:
        total, grade = await repo.decide(
            ctx.session, round_, evaluation, ctx.member.id, reason, ctx.now
        )
    except repo.EvaluationError as refused:
        if reason is None:  # the total differs: ask why
            ctx.goto(FLOW_NAME, Step.DECIDE, evaluation_id=evaluation.id)
            return [Message(str(refused))]
        raise Invalid(str(refused)) from None
    audit.record(
        ctx.session,
        "evaluation.decide",
        actor_member_id=ctx.member.id,
        object_kind="evaluation",
        object_id=evaluation.id,
        data={"unit": unit.code, "total": str(total), "grade": grade, "reason": reason},
    )
    ctx.finish()
    return await show_review(ctx, evaluation.id, _("Decided."))


async def ask_decide_reason(ctx: Context) -> Reply:
    return [Message(_("The reason for the decided total?"))]


async def on_decide_reason(ctx: Context, inp: Incoming) -> Reply:
    reason = (inp.text or "").strip()
    if not reason or len(reason) > MAX_TEXT:
        raise Invalid(_("Give the reason for the change."))
    return await _decide(ctx, int(ctx.data["evaluation_id"]), reason)


def _workbook(headers: list[str], rows: list[list[Any]], title: str) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def proposals_workbook(round_: EvaluationRound, proposals: list[repo.Proposal]) -> bytes:
    """The commendation proposals: the best decided units per kind, scores and evidence."""
    data = [
        [
            p.sheet_kind,
            p.unit_code,
            p.unit_name,
            float(p.total),
            _class_label(round_, p.grade),
            "; ".join(p.evidence),
        ]
        for p in proposals
    ]
    headers = [_("Sheet"), _("Unit code"), _("Unit"), _("Decided"), _("Class"), _("Evidence")]
    return _workbook(headers, data, _("Commendation proposals"))


async def _ranking_excel(ctx: Context) -> Reply:
    round_ = await _round(ctx)
    root = _top(ctx)
    rows = await repo.ranking(ctx.session, round_, root)
    data = [
        [
            i,
            r.unit_code,
            r.unit_name,
            r.sheet_kind,
            _status_label(r.status),
            float(r.self_total) if r.self_total is not None else None,
            float(r.final_total) if r.final_total is not None else None,
            _class_label(round_, r.grade) if r.grade else "",
        ]
        for i, r in enumerate(rows, 1)
    ]
    headers = [
        _("Rank"),
        _("Unit code"),
        _("Unit"),
        _("Sheet"),
        _("Status"),
        _("Self-assessment"),
        _("Decided"),
        _("Class"),
    ]
    doc = _workbook(headers, data, _("Ranking"))
    _audit_export(ctx, "evaluation.export", root)
    return [
        Message(
            _("Ranking {year}: {unit}").format(year=round_.year, unit=esc(root.name)),
            document=doc,
            document_name=f"ranking-{round_.year}-{root.code}.xlsx",
        )
    ]


async def _proposals_excel(ctx: Context) -> Reply:
    round_ = await _round(ctx)
    root = _top(ctx)
    proposals = await repo.commendation_proposals(ctx.session, round_, root)
    doc = proposals_workbook(round_, proposals)
    _audit_export(ctx, "evaluation.proposals", root)
    return [
        Message(
            _("Commendation proposals {year}").format(year=round_.year),
            document=doc,
            document_name=f"commendations-{round_.year}.xlsx",
        )
    ]


def _audit_export(ctx: Context, action: str, root: Unit) -> None:
    audit.record(
        ctx.session,
        action,
        actor_member_id=ctx.member.id if ctx.member else None,
        object_kind="unit",
        object_id=root.id,
    )


def _status_label(status: str | None) -> str:
    return {
        None: _("not started"),
        EvaluationStatus.DRAFT.value: _("not submitted"),
        EvaluationStatus.SUBMITTED.value: _("submitted, to decide"),
        EvaluationStatus.DECIDED.value: _("decided"),
    }.get(status, status or "")


# --- wiring ---------------------------------------------------------------------------------


async def open_evaluation(ctx: Context) -> Reply:
    try:
        round_ = await _round(ctx)
        if _own_units(ctx, round_):
            return await show_sheet(ctx)
        if ctx.has_role(Role.SUPERVISOR):
            return await show_ranking(ctx)
    except Invalid as bad:
        return [Message(str(bad))]
    return [Message(_("Your unit is not evaluated in this round."))]


async def on_global(ctx: Context, choice: str) -> Reply:
    parts = choice[len(PREFIX) :].split(":")
    action, args = parts[0], parts[1:]
    digits = all(a.isdigit() for a in args)
    try:
        if action == "me":
            return await show_sheet(ctx)
        if action == "c" and len(args) == 1 and digits:
            return await _begin_criterion(ctx, int(args[0]))
        if action == "sub":
            return await _submit(ctx)
        if not ctx.has_role(Role.SUPERVISOR):
            raise Invalid(_("Only a supervisor above that unit reviews its evaluation."))
        if action == "rk":
            return await show_ranking(ctx)
        if action == "x":
            return await _ranking_excel(ctx)
        if action == "p":
            return await _proposals_excel(ctx)
        if action == "r" and len(args) == 1 and digits:
            return await show_review(ctx, int(args[0]))
        if action == "a" and len(args) == 2 and digits:
            round_, evaluation, _unit = await _reviewable(ctx, int(args[0]))
            if int(args[1]) >= len(repo.criteria(round_.sheet, evaluation.sheet_kind)):
                raise Invalid(_("That button is no longer valid."))
            ctx.goto(FLOW_NAME, Step.ADJUST, evaluation_id=evaluation.id, index=int(args[1]))
            return await ask_adjust(ctx)
        if action == "d" and len(args) == 1 and digits:
            return await _decide(ctx, int(args[0]), None)
    except Invalid as bad:
        return [Message(str(bad))]
    return [Message(_("That button is no longer valid."))]


def _visible(ctx: Context) -> bool:
    return ctx.has_role(Role.OFFICER, Role.SUPERVISOR)


async def _command(ctx: Context, args: str) -> Reply:
    return await open_evaluation(ctx)


FLOW = registry.add_flow(
    Flow(
        FLOW_NAME,
        {
            Step.POINTS: StepDef(prompt=ask_points, handle=on_points),
            Step.EVIDENCE: StepDef(prompt=ask_evidence, handle=on_evidence),
            Step.ADJUST: StepDef(prompt=ask_adjust, handle=on_adjust),
            Step.REASON: StepDef(prompt=ask_reason, handle=on_reason),
            Step.DECIDE: StepDef(prompt=ask_decide_reason, handle=on_decide_reason),
        },
    )
)
registry.add_global_choice(PREFIX, on_global)
registry.add_menu(
    MenuEntry("evaluation", lambda: _("Yearly evaluation"), open_evaluation, _visible, 57)
)
registry.add_command("evaluation", _command)
COMMAND_HELP["evaluation"] = lambda: _("the yearly evaluation: your unit's sheet, or the ranking")
