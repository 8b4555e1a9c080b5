"""Import a plan file (YAML): units, groups, tasks and their assignments, the reporting
calendar and the tip categories, upserted by code.

The file's shape is ``db/data/plan-2025-nghe-an.yaml``. Reading (``read_plan``) checks
everything that needs no database and expands ``group``/``except``; importing
(``import_plan``) checks the references against the stored units, then writes in the
caller's transaction. Any problem refuses the whole file with a ``PlanError`` naming
``FILE:LINE: key path: what is wrong``, before anything is written. A second import of
the same file changes nothing. Assignments and tasks the file no longer mentions are
retired (``retired_at``; ``retire_missing``): no reminders, out of progress and
digests, their check-ins kept; a later file that names them again brings them back.

Beyond the text's own keys, a percent task may name the ``recognition`` kind its
share is measured over (the register's units not yet recognised at the start of the
plan year), and a reporting entry the ``figures`` the report collects, each with a
``source`` when the system can propose it (``db.report_figures``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from yaml.nodes import MappingNode, Node, ScalarNode

from db import audit
from db.importing import DataFileError, ImportStats, IssueLog, Where, lock_imports
from db.models import Assignment, Plan, RecognitionKind, Task, TaskKind, TipCategory, UnitKind
from db.plan_years import year_problem
from db.report_figures import FIGURE_SOURCES
from db.rows_sync import sync_rows
from db.unit_sync import Ref, UnitSpec, apply_units, check_units, load_units, unit_field_problems
from db.yaml_reader import NodeReader, compose_file
from handlers.i18n import _

SHIPPED_PLAN = Path(__file__).resolve().parent / "data" / "plan-2025-nghe-an.yaml"

CADENCES = ("daily", "weekly", "monthly", "quarterly", "yearly")
TARGET_KINDS = (TaskKind.COUNT, TaskKind.PERCENT)
MAX_TARGET = Decimal("1e10")  # assignment.target is numeric(12, 2)


class PlanError(DataFileError):
    """A plan file was refused; nothing was written."""


@dataclass(frozen=True)
class AssignmentSpec:
    unit: str
    target: Decimal | None
    deadline: dt.date
    note: str | None
    inferred: bool
    where: Where


@dataclass
class TaskSpec:
    code: str
    kind: TaskKind
    title_vi: str
    title_en: str
    clause: str | None
    cadence: str | None
    note: str | None
    is_reporting: bool
    sort: int
    where: Where
    assignments: list[AssignmentSpec] = field(default_factory=list)
    recognition: str | None = None
    figures: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class TipCategorySpec:
    code: str
    title_vi: str
    title_en: str
    extension: bool
    sort: int


@dataclass(frozen=True)
class PlanSpec:
    code: str
    title_vi: str
    title_en: str
    year: int
    timezone: str
    coordinator: Ref | None
    meta: dict[str, Any]


@dataclass
class PlanFile:
    """A plan file that passed every check that needs no database."""

    file: str
    plan: PlanSpec
    units: list[UnitSpec]
    tasks: list[TaskSpec]
    tip_categories: list[TipCategorySpec]
    # every unit code used outside ``units`` (groups, assignments, coordinator)
    refs: list[Ref]


@dataclass
class PlanReport:
    """What an import did, table by table."""

    plan_code: str
    stats: ImportStats
    # retired by this import (no longer in the file)
    retired_tasks: int = 0
    retired_assignments: int = 0


def read_plan(path: Path | str, *, display_name: str | None = None) -> PlanFile:
    """Parse and check a plan file; raise ``PlanError`` listing every problem found."""
    path = Path(path)
    log = IssueLog(display_name or str(path))
    root = compose_file(path, log)
    log.raise_if_any(PlanError)
    assert root is not None
    parsed = _PlanReader(NodeReader(log), log.file).read(root)
    log.raise_if_any(PlanError)
    assert parsed is not None
    return parsed


async def import_plan(session: AsyncSession, plan: PlanFile) -> PlanReport:
    """Check references against the stored units, then upsert everything (no commit)."""
    await lock_imports(session)
    existing = await load_units(session)
    log = IssueLog(plan.file)
    check_units(plan.units, existing, log)
    known = {u.code for u in plan.units} | set(existing)
    for ref in plan.refs:
        if ref.code not in known:
            log.add(ref.where, _("unknown unit {code}").format(code=ref.code))
    if problem := await year_problem(session, plan.plan.code, plan.plan.year):
        log.add(Where(None, "plan.year"), problem)  # plans by year: db.plan_years
    log.raise_if_any(PlanError)

    stats = ImportStats()
    stats.tables["units"], ids = await apply_units(session, plan.units, existing)
    spec = plan.plan
    plans = await sync_rows(
        session,
        Plan,
        ("code",),
        [
            {
                "code": spec.code,
                "title_vi": spec.title_vi,
                "title_en": spec.title_en,
                "year": spec.year,
                "timezone": spec.timezone,
                "coordinator_unit_id": ids[spec.coordinator.code] if spec.coordinator else None,
                "meta": spec.meta,
            }
        ],
    )
    stats.tables["plans"] = plans.counts
    plan_id = plans.ids[(spec.code,)]

    tasks = await sync_rows(
        session,
        Task,
        ("plan_id", "code"),
        [
            {
                "plan_id": plan_id,
                "code": t.code,
                "kind": t.kind.value,
                "title_vi": t.title_vi,
                "title_en": t.title_en,
                "clause": t.clause,
                "cadence": t.cadence,
                "note": t.note,
                "is_reporting": t.is_reporting,
                "sort": t.sort,
                "recognition": t.recognition,
                "figures": t.figures,
                "retired_at": None,
            }
            for t in plan.tasks
        ],
        scope=Task.plan_id == plan_id,
    )
    stats.tables["tasks"] = tasks.counts
    task_ids = [tasks.ids[(plan_id, t.code)] for t in plan.tasks]

    assignments = await sync_rows(
        session,
        Assignment,
        ("task_id", "unit_id"),
        [
            {
                "task_id": task_id,
                "unit_id": ids[a.unit],
                "target": a.target,
                "deadline": a.deadline,
                "note": a.note,
                "inferred": a.inferred,
                "retired_at": None,
            }
            for t, task_id in zip(plan.tasks, task_ids, strict=True)
            for a in t.assignments
        ],
        scope=Assignment.task_id.in_(task_ids),
    )
    stats.tables["assignments"] = assignments.counts

    categories = await sync_rows(
        session,
        TipCategory,
        ("code",),
        [
            {
                "code": c.code,
                "title_vi": c.title_vi,
                "title_en": c.title_en,
                "extension": c.extension,
                "sort": c.sort,
            }
            for c in plan.tip_categories
        ],
        id_column="code",
    )
    stats.tables["tip categories"] = categories.counts

    retired_tasks, retired_assignments = await retire_missing(
        session,
        plan_id,
        [key[1] for key in tasks.stale],
        sorted(assignments.stale),
    )
    report = PlanReport(spec.code, stats, retired_tasks, retired_assignments)
    if stats.changed or retired_tasks or retired_assignments:
        audit.record(
            session,
            "plan.import",
            actor_member_id=None,
            object_kind="plan",
            object_id=plan_id,
            data={
                "file": plan.file,
                "code": spec.code,
                **{name: c.as_dict() for name, c in stats.tables.items()},
                "retired": {"tasks": retired_tasks, "assignments": retired_assignments},
            },
        )
    return report


async def retire_missing(
    session: AsyncSession,
    plan_id: int,
    task_codes: list[str],
    assignment_keys: list[tuple[Any, ...]],
) -> tuple[int, int]:
    """Retire the plan's tasks (and their assignments) and the assignments the file dropped.

    ``assignment_keys`` are ``(task id, unit id)`` pairs. Rows already retired stay as
    they are; check-ins are never touched. Returns (tasks, assignments) newly retired.
    """
    tasks = 0
    assignments = 0
    if task_codes:
        retired = await session.execute(
            update(Task)
            .where(Task.plan_id == plan_id, Task.code.in_(task_codes), Task.retired_at.is_(None))
            .values(retired_at=func.now())
            .returning(Task.id)
        )
        tasks = len(retired.all())
        task_ids = [
            tid
            for (tid,) in (
                await session.execute(
                    select(Task.id).where(Task.plan_id == plan_id, Task.code.in_(task_codes))
                )
            ).all()
        ]
        if task_ids:
            done = await session.execute(
                update(Assignment)
                .where(Assignment.task_id.in_(task_ids), Assignment.retired_at.is_(None))
                .values(retired_at=func.now())
                .returning(Assignment.id)
            )
            assignments += len(done.all())
    # An assignment that took over a merged unit's (``moved_to_id``) belongs to the
    # reorganisation, not to the file: the file never lists the successor.
    predecessor = aliased(Assignment)
    took_over = exists().where(predecessor.moved_to_id == Assignment.id)
    for task_id, unit_id in assignment_keys:
        done = await session.execute(
            update(Assignment)
            .where(
                Assignment.task_id == task_id,
                Assignment.unit_id == unit_id,
                Assignment.retired_at.is_(None),
                ~took_over,
            )
            .values(retired_at=func.now())
            .returning(Assignment.id)
        )
        assignments += len(done.all())
    return tasks, assignments


async def import_plan_file(
    session: AsyncSession, path: Path | str, *, display_name: str | None = None
) -> PlanReport:
    """``read_plan`` then ``import_plan``."""
    return await import_plan(session, read_plan(path, display_name=display_name))


class _PlanReader:
    """Walks the node tree of a plan file, logging every problem it meets."""

    def __init__(self, reader: NodeReader, file: str) -> None:
        self.r = reader
        self.file = file
        self.refs: list[Ref] = []
        self.groups: dict[str, list[str]] = {}
        self.tasks: list[TaskSpec] = []
        self.task_lines: dict[str, int | None] = {}

    def read(self, root: Node) -> PlanFile | None:
        top = self.r.mapping(
            root,
            "",
            required=("plan", "tasks"),
            optional=("units", "groups", "reporting", "tip_categories"),
        )
        if top is None:
            return None
        plan = self._plan(top["plan"]) if "plan" in top else None
        units = self._units(top["units"]) if "units" in top else []
        if "groups" in top:
            self._groups(top["groups"])
        if "tasks" in top:
            self._tasks(top["tasks"])
        if "reporting" in top:
            self._reporting(top["reporting"])
        categories = self._tip_categories(top["tip_categories"]) if "tip_categories" in top else []
        if plan is None:
            return None
        return PlanFile(self.file, plan, units, self.tasks, categories, self.refs)

    # -- helpers ------------------------------------------------------------------

    def _label(self, section: str, index: int, node: Node) -> str:
        """``tasks[typical-communes]`` when the item has a usable code, else ``tasks[3]``."""
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if key.value == "code" and isinstance(value, ScalarNode) and value.value:
                    return f"{section}[{value.value}]"
        return f"{section}[{index}]"

    def _ref(self, node: Node, path: str) -> Ref | None:
        code = self.r.code(node, path)
        return Ref(code, self.r.where(node, path)) if code is not None else None

    def _optional_text(
        self, m: dict[str, Node], key: str, path: str, max_len: int | None = None
    ) -> str | None:
        if key not in m:
            return None
        return self.r.text(m[key], f"{path}.{key}", max_len=max_len)

    def _title(self, node: Node, path: str) -> tuple[str, str] | None:
        m = self.r.mapping(node, path, required=("vi", "en"))
        if m is None or "vi" not in m or "en" not in m:
            return None
        vi = self.r.text(m["vi"], f"{path}.vi")
        en = self.r.text(m["en"], f"{path}.en")
        return (vi, en) if vi is not None and en is not None else None

    # -- sections -----------------------------------------------------------------

    def _plan(self, node: Node) -> PlanSpec | None:
        r = self.r
        m = r.mapping(node, "plan", required=("code", "title", "year"), open_ended=True)
        if m is None or not {"code", "title", "year"} <= m.keys():
            return None
        code = r.code(m["code"], "plan.code")
        title = self._title(m["title"], "plan.title")
        year = r.integer(m["year"], "plan.year")
        if year is not None and not 2000 <= year <= 2100:
            r.fail(m["year"], "plan.year", _("not a plausible year: {value}").format(value=year))
            year = None
        timezone = "Asia/Ho_Chi_Minh"
        if "timezone" in m:
            tz = r.text(m["timezone"], "plan.timezone", max_len=64)
            if tz is not None:
                try:
                    ZoneInfo(tz)
                    timezone = tz
                except (ZoneInfoNotFoundError, ValueError):
                    r.fail(
                        m["timezone"],
                        "plan.timezone",
                        _("unknown time zone {value}").format(value=tz),
                    )
        coordinator = None
        if "coordinator" in m:
            coordinator = self._ref(m["coordinator"], "plan.coordinator")
            if coordinator is not None:
                self.refs.append(coordinator)
        columns = {"code", "title", "year", "timezone", "coordinator"}
        meta = {k: r.plain(v, f"plan.{k}") for k, v in m.items() if k not in columns}
        if code is None or title is None or year is None:
            return None
        return PlanSpec(code, title[0], title[1], year, timezone, coordinator, meta)

    def _units(self, node: Node) -> list[UnitSpec]:
        r = self.r
        specs: list[UnitSpec] = []
        for i, item in enumerate(r.sequence(node, "units", non_empty=False) or []):
            path = self._label("units", i, item)
            m = r.mapping(
                item,
                path,
                required=("code", "kind", "name"),
                optional=("parent", "note", "lat", "lon", "valid_from", "valid_to", "replaced_by"),
            )
            if m is None or not {"code", "kind", "name"} <= m.keys():
                continue
            code = r.code(m["code"], f"{path}.code")
            name = r.text(m["name"], f"{path}.name", max_len=200)
            kind = self._kind(m["kind"], f"{path}.kind", UnitKind)
            note = self._optional_text(m, "note", path)
            fields: dict[str, Any] = {"name": name, "kind": kind, "note": note}
            bad = "note" in m and note is None
            for key in ("lat", "lon"):
                if key in m:
                    number = r.number(m[key], f"{path}.{key}")
                    fields[key] = float(number) if number is not None else None
                    bad = bad or number is None
            for key in ("valid_from", "valid_to"):
                if key in m:
                    fields[key] = r.date(m[key], f"{path}.{key}")
                    bad = bad or fields[key] is None
            if bad:
                continue
            parent = self._ref(m["parent"], f"{path}.parent") if "parent" in m else None
            replaced_by = (
                self._ref(m["replaced_by"], f"{path}.replaced_by") if "replaced_by" in m else None
            )
            problems = unit_field_problems(fields, has_replaced_by=replaced_by is not None)
            for key, message in problems:
                r.fail(m.get(key, item), f"{path}.{key}", message)
            if code is None or name is None or kind is None or problems:
                continue
            if ("parent" in m and parent is None) or ("replaced_by" in m and replaced_by is None):
                continue
            specs.append(
                UnitSpec(
                    code,
                    r.where(item, path),
                    fields,
                    parent,
                    replaced_by,
                    manages_replaced_by="replaced_by" in m,
                )
            )
        return specs

    def _kind(self, node: Node, path: str, kinds: type[UnitKind] | type[TaskKind]) -> str | None:
        value = self.r.text(node, path)
        if value is None:
            return None
        allowed = [k.value for k in kinds]
        if value not in allowed:
            message = (
                _("unknown unit kind {kind}; expected one of: {kinds}")
                if kinds is UnitKind
                else _("unknown task kind {kind}; expected one of: {kinds}")
            )
            self.r.fail(node, path, message.format(kind=value, kinds=", ".join(allowed)))
            return None
        return value

    def _groups(self, node: Node) -> None:
        r = self.r
        m = r.mapping(node, "groups", open_ended=True)
        for name, members_node in (m or {}).items():
            path = f"groups.{name}"
            members: list[str] = []
            for i, member in enumerate(r.sequence(members_node, path, non_empty=False) or []):
                ref = self._ref(member, f"{path}[{i}]")
                if ref is None:
                    continue
                if ref.code in members:
                    r.fail(
                        member, f"{path}[{i}]", _("{code} is listed twice").format(code=ref.code)
                    )
                    continue
                members.append(ref.code)
                self.refs.append(ref)
            self.groups[name] = members

    def _units_of(self, m: dict[str, Node], node: Node, path: str) -> list[str] | None:
        """The unit codes an entry names through ``units`` or ``group`` minus ``except``."""
        r = self.r
        if "units" in m and "group" in m:
            r.fail(node, path, _("give either units or group, not both"))
            return None
        if "except" in m and "group" not in m:
            r.fail(m["except"], f"{path}.except", _("except is only allowed with group"))
            return None
        if "units" in m:
            codes: list[str] = []
            for i, item in enumerate(r.sequence(m["units"], f"{path}.units") or []):
                ref = self._ref(item, f"{path}.units[{i}]")
                if ref is None:
                    return None
                if ref.code in codes:
                    r.fail(item, ref.where.path, _("{code} is listed twice").format(code=ref.code))
                    return None
                codes.append(ref.code)
                self.refs.append(ref)
            return codes or None
        if "group" not in m:
            r.fail(node, path, _("give units or group"))
            return None
        group = r.text(m["group"], f"{path}.group")
        if group is None:
            return None
        if group not in self.groups:
            r.fail(m["group"], f"{path}.group", _("unknown group {name}").format(name=group))
            return None
        members = self.groups[group]
        excluded: list[str] = []
        if "except" in m:
            for i, item in enumerate(r.sequence(m["except"], f"{path}.except") or []):
                code = r.code(item, f"{path}.except[{i}]")
                if code is None:
                    return None
                if code in excluded:
                    r.fail(
                        item, f"{path}.except[{i}]", _("{code} is listed twice").format(code=code)
                    )
                    return None
                if code not in members:
                    r.fail(
                        item,
                        f"{path}.except[{i}]",
                        _("{code} is not a member of group {group}").format(code=code, group=group),
                    )
                    return None
                excluded.append(code)
        codes = [c for c in members if c not in excluded]
        if not codes:
            r.fail(node, path, _("the assignment covers no unit"))
            return None
        return codes

    def _target(self, m: dict[str, Node], node: Node, path: str, kind: TaskKind) -> Any:
        """The target, None when the kind has none, or ``False`` after a problem."""
        r = self.r
        if kind not in TARGET_KINDS:
            if "target" in m:
                r.fail(
                    m["target"],
                    f"{path}.target",
                    _("a {kind} task takes no target").format(kind=kind.value),
                )
                return False
            return None
        if "target" not in m:
            r.fail(node, path, _("a {kind} task needs a numeric target").format(kind=kind.value))
            return False
        value = r.number(m["target"], f"{path}.target")
        if value is None:
            return False
        problem = None
        if kind is TaskKind.PERCENT and not 0 <= value <= 100:
            problem = _("a percentage must be between 0 and 100, got {value}")
        elif kind is TaskKind.COUNT and (value <= 0 or value != value.to_integral_value()):
            problem = _("a count target must be a positive whole number, got {value}")
        elif abs(value) >= MAX_TARGET:
            problem = _("too large: {value}")
        elif value.as_tuple().exponent < -2:  # type: ignore[operator]
            problem = _("at most 2 decimal places, got {value}")
        if problem:
            r.fail(m["target"], f"{path}.target", problem.format(value=value))
            return False
        return value

    def _add_task(self, spec: TaskSpec) -> bool:
        if spec.code in self.task_lines:
            self.r.log.add(
                Where(spec.where.line, f"{spec.where.path}.code"),
                _("duplicate task code {code} (first at line {line})").format(
                    code=spec.code, line=self.task_lines[spec.code]
                ),
            )
            return False
        self.task_lines[spec.code] = spec.where.line
        self.tasks.append(spec)
        return True

    def _expand(
        self,
        task: TaskSpec,
        codes: list[str],
        where: Where,
        seen: dict[str, int | None],
        target: Decimal | None,
        deadline: dt.date,
        note: str | None,
        inferred: bool,
    ) -> None:
        for code in codes:
            if code in seen:
                self.r.log.add(
                    where,
                    _("{code} already has this task (line {line})").format(
                        code=code, line=seen[code]
                    ),
                )
                continue
            seen[code] = where.line
            task.assignments.append(AssignmentSpec(code, target, deadline, note, inferred, where))

    def _tasks(self, node: Node) -> None:
        r = self.r
        for i, item in enumerate(r.sequence(node, "tasks") or []):
            path = self._label("tasks", i, item)
            required = ("code", "kind", "title", "assignments")
            m = r.mapping(
                item,
                path,
                required=required,
                optional=("clause", "note", "cadence", "recognition"),
            )
            if m is None or not set(required) <= m.keys():
                continue
            code = r.code(m["code"], f"{path}.code")
            kind_value = self._kind(m["kind"], f"{path}.kind", TaskKind)
            title = self._title(m["title"], f"{path}.title")
            clause = self._optional_text(m, "clause", path, max_len=120)
            note = self._optional_text(m, "note", path)
            cadence = self._optional_text(m, "cadence", path)
            if cadence is not None and cadence not in CADENCES:
                r.fail(
                    m["cadence"],
                    f"{path}.cadence",
                    _("cadence must be one of: {values}").format(values=", ".join(CADENCES)),
                )
            elif cadence is not None and kind_value != TaskKind.RECURRING.value:
                r.fail(m["cadence"], f"{path}.cadence", _("cadence is only for recurring tasks"))
            if code is None or kind_value is None or title is None:
                continue
            kind = TaskKind(kind_value)
            recognition = self._recognition(m, path, kind)
            if recognition is False:
                continue
            assert recognition is None or isinstance(recognition, str)
            task = TaskSpec(
                code,
                kind,
                title[0],
                title[1],
                clause,
                cadence,
                note,
                False,
                len(self.tasks),
                r.where(item, path),
                recognition=recognition,
            )
            if not self._add_task(task):
                continue
            seen: dict[str, int | None] = {}
            for j, a_node in enumerate(r.sequence(m["assignments"], f"{path}.assignments") or []):
                a_path = f"{path}.assignments[{j}]"
                a = r.mapping(
                    a_node,
                    a_path,
                    required=("deadline",),
                    optional=("units", "group", "except", "target", "note", "inferred"),
                )
                if a is None:
                    continue
                codes = self._units_of(a, a_node, a_path)
                target = self._target(a, a_node, a_path, kind)
                deadline = r.date(a["deadline"], f"{a_path}.deadline") if "deadline" in a else None
                a_note = self._optional_text(a, "note", a_path)
                inferred = (
                    r.boolean(a["inferred"], f"{a_path}.inferred") if "inferred" in a else False
                )
                if codes is None or target is False or deadline is None or inferred is None:
                    continue
                where = r.where(a_node, a_path)
                self._expand(task, codes, where, seen, target, deadline, a_note, inferred)

    def _reporting(self, node: Node) -> None:
        r = self.r
        for i, item in enumerate(r.sequence(node, "reporting") or []):
            path = self._label("reporting", i, item)
            required = ("code", "title", "due")
            m = r.mapping(
                item,
                path,
                required=required,
                optional=("kind", "group", "units", "except", "note", "clause", "figures"),
            )
            if m is None or not set(required) <= m.keys():
                continue
            code = r.code(m["code"], f"{path}.code")
            title = self._title(m["title"], f"{path}.title")
            if "kind" in m:
                kind = r.text(m["kind"], f"{path}.kind")
                if kind is not None and kind != TaskKind.REPORT.value:
                    r.fail(
                        m["kind"],
                        f"{path}.kind",
                        _("reporting entries must have kind report, got {kind}").format(kind=kind),
                    )
            due = r.date(m["due"], f"{path}.due")
            note = self._optional_text(m, "note", path)
            clause = self._optional_text(m, "clause", path, max_len=120)
            codes = self._units_of(m, item, path)
            figures = self._figures(m["figures"], f"{path}.figures") if "figures" in m else []
            if code is None or title is None or due is None or codes is None or figures is None:
                continue
            where = r.where(item, path)
            task = TaskSpec(
                code,
                TaskKind.REPORT,
                title[0],
                title[1],
                clause,
                None,
                note,
                True,
                len(self.tasks),
                where,
                figures=figures,
            )
            if self._add_task(task):
                self._expand(task, codes, where, {}, None, due, None, False)

    def _recognition(self, m: dict[str, Node], path: str, kind: TaskKind) -> str | bool | None:
        """The recognition kind a percent task is measured over; ``False`` after a problem."""
        if "recognition" not in m:
            return None
        value = self.r.text(m["recognition"], f"{path}.recognition")
        if value is None:
            return False
        allowed = [k.value for k in RecognitionKind]
        if value not in allowed:
            self.r.fail(
                m["recognition"],
                f"{path}.recognition",
                _("unknown recognition kind {kind}; expected one of: {kinds}").format(
                    kind=value, kinds=", ".join(allowed)
                ),
            )
            return False
        if kind is not TaskKind.PERCENT:
            self.r.fail(
                m["recognition"], f"{path}.recognition", _("recognition is only for percent tasks")
            )
            return False
        return value

    def _figures(self, node: Node, path: str) -> list[dict[str, str]] | None:
        """The figures a report collects: code, vi, en and an optional known source."""
        r = self.r
        figures: list[dict[str, str]] = []
        ok = True
        for i, item in enumerate(r.sequence(node, path) or []):
            f_path = self._label(path, i, item)
            m = r.mapping(item, f_path, required=("code", "vi", "en"), optional=("source",))
            if m is None or not {"code", "vi", "en"} <= m.keys():
                ok = False
                continue
            code = r.code(m["code"], f"{f_path}.code")
            vi = r.text(m["vi"], f"{f_path}.vi")
            en = r.text(m["en"], f"{f_path}.en")
            source = self._optional_text(m, "source", f_path)
            if source is not None and source not in FIGURE_SOURCES:
                r.fail(
                    m["source"],
                    f"{f_path}.source",
                    _("unknown figure source {source}; expected one of: {sources}").format(
                        source=source, sources=", ".join(FIGURE_SOURCES)
                    ),
                )
                ok = False
                continue
            if code is None or vi is None or en is None:
                ok = False
                continue
            if any(f["code"] == code for f in figures):
                r.fail(m["code"], f"{f_path}.code", _("{code} is listed twice").format(code=code))
                ok = False
                continue
            figure = {"code": code, "vi": vi, "en": en}
            if source is not None:
                figure["source"] = source
            figures.append(figure)
        return figures if ok else None

    def _tip_categories(self, node: Node) -> list[TipCategorySpec]:
        r = self.r
        categories: list[TipCategorySpec] = []
        lines: dict[str, int | None] = {}
        for i, item in enumerate(r.sequence(node, "tip_categories") or []):
            path = self._label("tip_categories", i, item)
            m = r.mapping(item, path, required=("code", "vi", "en"), optional=("extension",))
            if m is None or not {"code", "vi", "en"} <= m.keys():
                continue
            code = r.code(m["code"], f"{path}.code", max_len=32)
            vi = r.text(m["vi"], f"{path}.vi")
            en = r.text(m["en"], f"{path}.en")
            ext = r.boolean(m["extension"], f"{path}.extension") if "extension" in m else False
            if code is None or vi is None or en is None or ext is None:
                continue
            if code in lines:
                r.fail(
                    m["code"],
                    f"{path}.code",
                    _("duplicate tip category {code} (first at line {line})").format(
                        code=code, line=lines[code]
                    ),
                )
                continue
            lines[code] = r.where(item, path).line
            categories.append(TipCategorySpec(code, vi, en, ext, len(categories)))
        return categories
