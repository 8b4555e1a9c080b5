"""Benchmark: every supervisor's daily digest on a province-scale dataset.

On an embedded PostgreSQL in a temporary folder under ``.antt-bench/``, migrated to
head, the dataset is generated in SQL with set-based ``INSERT … SELECT
generate_series`` (foreign-key triggers off while loading rows that are consistent
by construction), then ``ANALYZE``:

- 1 province, 20 districts, 480 communes (24 a district);
- 24 tasks (16 owed by every commune, 6 by every district, 2 by the province):
  7,802 assignments with deadlines spread over 2025;
- 20,000 members with a Telegram identity each: 501 supervisors (the province,
  each district, each commune), the others officers and force members;
- 1,000,000 check-ins over the 365 days before ``NOW`` (1 in 97 corrects an
  earlier one of the same assignment); 200,000 tips over the same year, 2.5 %
  still unacknowledged.

Then, at ``NOW`` (20/11/2025 07:00 in Hanoi), one after the other on one
connection, the work the daily job does per supervisor without the chart: build
the digest of its unit (:func:`db.digest.build_digest`) and render its messages in
Vietnamese. Figures: the total, p50/p95/max per digest, per level; the chart for a
sample; the real daily job (:func:`scheduler.digest.send_digests`: every digest
with its chart, queued to the outbox); and, measured in the same run the same way,
a baseline: the simplest
subtree query (``count(*)`` of the units under the supervisor's unit). EXPLAIN
(ANALYZE) of each digest query for a district and for the province shows which
index every scan of ``checkin`` and ``tip`` uses; a sequential scan of either fails
the check.

Targets (issue 6): p95 ≤ 100 ms a digest, all digests ≤ 30 s. Issue 17's, under
``targets`` and ``met``: ``chart_p95_ms`` ≤ 100 (the sample), ``province_digest_ms``
≤ 200 (median of five rounds, built and its text rendered, beside the subtree count
of the same rounds), ``daily_job_s`` ≤ 60 (beside ``daily_job_serial_estimate_s``,
the same work one supervisor after the other). The load average is printed: the
machine may be shared, and it moves every figure.

    .venv/bin/python -m bench.digest            # about two and a half minutes
    .venv/bin/python -m bench.digest --quick    # a tenth of the rows (or ANTT_BENCH_QUICK=1)

The last line printed is a JSON object with the figures and the targets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".antt-bench"
NOW_SQL = "timestamptz '2025-11-20 00:00:00+00'"
TARGET_P95_MS = 100.0
TARGET_TOTAL_S = 30.0
# issue 17: a chart, the province's digest (built and its text rendered), the daily job
TARGET_CHART_P95_MS = 100.0
TARGET_PROVINCE_DIGEST_MS = 200.0
TARGET_DAILY_JOB_S = 60.0
PROVINCE_ROUNDS = 5
CHART_SAMPLE = 20
BIG_TABLES = ("checkin", "tip")


@dataclass(frozen=True)
class Scale:
    districts: int = 20
    communes_per_district: int = 24
    members: int = 20_000
    checkins: int = 1_000_000
    tips: int = 200_000

    @property
    def communes(self) -> int:
        return self.districts * self.communes_per_district

    @property
    def supervisors(self) -> int:
        return 1 + self.districts + self.communes


QUICK = Scale(checkins=100_000, tips=20_000)

CATEGORIES = [
    ("crime", "Tội phạm hình sự", "Criminal offence"),
    ("drugs", "Ma túy", "Drugs"),
    ("traffic", "Vi phạm trật tự an toàn giao thông", "Traffic-safety violation"),
    ("cyber", "Lừa đảo trên mạng", "Online fraud"),
    ("fire", "Nguy cơ cháy nổ", "Fire hazard"),
    ("other", "Khác", "Other"),
]


def generation_sql(scale: Scale) -> list[tuple[str, str]]:
    """(label, statement) in order; run on one connection."""
    d, per, c = scale.districts, scale.communes_per_district, scale.communes
    first_commune = 2 + d  # unit ids: 1 province, 2..d+1 districts, then communes
    sup = scale.supervisors
    officers = scale.members - sup
    categories = ", ".join(
        f"('{code}', '{vi}', '{en}', false, {i})" for i, (code, vi, en) in enumerate(CATEGORIES)
    )
    kinds = "array['count','percent','milestone','report','recurring']"
    return [
        (
            "units",
            f"""
            INSERT INTO unit (id, code, name, name_search, kind, parent_id, path, depth)
            VALUES (1, 'tinh', 'Tỉnh Bench', 'tinh bench', 'province', NULL, '/1/', 0);
            INSERT INTO unit (id, code, name, name_search, kind, parent_id, path, depth)
            SELECT 1 + n, 'huyen-' || lpad(n::text, 2, '0'), 'Huyện ' || lpad(n::text, 2, '0'),
                   'huyen ' || lpad(n::text, 2, '0'), 'district', 1, '/1/' || (1 + n) || '/', 1
            FROM generate_series(1, {d}) n;
            INSERT INTO unit (id, code, name, name_search, kind, parent_id, path, depth)
            SELECT {first_commune - 1} + n, 'xa-' || lpad(n::text, 3, '0'),
                   'Xã ' || lpad(n::text, 3, '0'), 'xa ' || lpad(n::text, 3, '0'), 'commune',
                   2 + (n - 1) / {per},
                   '/1/' || (2 + (n - 1) / {per}) || '/' || ({first_commune - 1} + n) || '/', 2
            FROM generate_series(1, {c}) n;
        """,
        ),
        (
            "plan and tasks",
            f"""
            INSERT INTO tip_category (code, title_vi, title_en, extension, sort)
            VALUES {categories};
            INSERT INTO plan (id, code, title_vi, title_en, year, timezone, meta)
            VALUES (1, 'KH-BENCH', 'Kế hoạch thử tải', 'Load plan', 2025, 'Asia/Ho_Chi_Minh',
                    '{{}}');
            INSERT INTO task (id, plan_id, code, kind, title_vi, title_en, cadence, is_reporting,
                              sort)
            SELECT t, 1, 'task-' || t, ({kinds})[1 + t % 5],
                   'Nhiệm vụ số ' || t || ' của kế hoạch', 'Plan task number ' || t,
                   CASE WHEN t % 5 = 4 THEN 'monthly' END, false, t
            FROM generate_series(1, 24) t;
        """,
        ),
        (
            "assignments",
            """
            INSERT INTO assignment (task_id, unit_id, target, deadline, inferred)
            SELECT t.id, u.id,
                   CASE t.kind WHEN 'count' THEN 10 + u.id % 40 WHEN 'percent' THEN 80 END,
                   date '2025-03-31' + ((t.id * 37 + u.id * 11) % 300)::int, false
            FROM task t JOIN unit u ON (t.sort <= 16 AND u.kind = 'commune')
                OR (t.sort BETWEEN 17 AND 22 AND u.kind = 'district')
                OR (t.sort >= 23 AND u.kind = 'province');
        """,
        ),
        (
            "members",
            f"""
            INSERT INTO member (id, full_name)
            SELECT n, 'Cán bộ ' || n FROM generate_series(1, {scale.members}) n;
            INSERT INTO identity (member_id, channel, external_id, chat_id, display_name, language)
            SELECT n, 'telegram', (100000 + n)::text, (100000 + n)::text, 'CB ' || n, 'vi'
            FROM generate_series(1, {scale.members}) n;
            INSERT INTO role_grant (member_id, unit_id, role)
            SELECT n, n, 'supervisor' FROM generate_series(1, {sup}) n;
            INSERT INTO role_grant (member_id, unit_id, role)
            SELECT n, {first_commune} + (n - {sup + 1}) % {c},
                   CASE WHEN n % 2 = 0 THEN 'officer' ELSE 'force' END
            FROM generate_series({sup + 1}, {scale.members}) n;
        """,
        ),
        (
            "check-ins",
            f"""
            INSERT INTO checkin (id, assignment_id, member_id, status, value, supersedes_id,
                                 created_at)
            SELECT n, 1 + (n::bigint * 7919) % a.total, {sup + 1} + n % {officers},
                   CASE WHEN n % 4 = 0 THEN 'done' ELSE 'in_progress' END, n % 50,
                   CASE WHEN n > a.total AND n % 97 = 0 THEN n - a.total END,
                   {NOW_SQL} - make_interval(secs => (n::bigint * 7793) % (365 * 86400))
            FROM generate_series(1, {scale.checkins}) n,
                 (SELECT count(*) AS total FROM assignment) a;
        """,
        ),
        (
            "tips",
            f"""
            INSERT INTO tip (id, code_hash, category, description, unit_id, anonymous, status,
                             outcome, escalation_level, created_at, acknowledged_at, closed_at)
            SELECT n, md5('bench-' || n),
                   (array['crime', 'drugs', 'traffic', 'cyber', 'fire', 'other'])[1 + n % 6],
                   'Tin báo số ' || n, {first_commune} + (n::bigint * 131) % {c}, n % 3 <> 0,
                   st, CASE WHEN st = 'closed' THEN 'handled' END, 0, created,
                   CASE WHEN st <> 'new' THEN created + interval '2 hours' END,
                   CASE WHEN st = 'closed' THEN created + interval '1 day' END
            FROM (
                SELECT n,
                       {NOW_SQL} - make_interval(secs => (n::bigint * 15733) % (365 * 86400))
                           AS created,
                       CASE WHEN n % 40 = 0 THEN 'new' WHEN n % 9 = 0 THEN 'assigned'
                            WHEN n % 7 = 0 THEN 'acknowledged' ELSE 'closed' END AS st
                FROM generate_series(1, {scale.tips}) n
            ) g;
        """,
        ),
        (
            "sequences",
            """
            SELECT setval(pg_get_serial_sequence('unit', 'id'), (SELECT max(id) FROM unit));
            SELECT setval(pg_get_serial_sequence('plan', 'id'), 1);
            SELECT setval(pg_get_serial_sequence('task', 'id'), (SELECT max(id) FROM task));
            SELECT setval(pg_get_serial_sequence('member', 'id'), (SELECT max(id) FROM member));
            SELECT setval(pg_get_serial_sequence('checkin', 'id'), (SELECT max(id) FROM checkin));
            SELECT setval(pg_get_serial_sequence('tip', 'id'), (SELECT max(id) FROM tip));
        """,
        ),
    ]


def statements(block: str) -> Iterator[str]:
    for part in block.split(";"):
        if part.strip():
            yield part.strip()


async def generate(db: Any, scale: Scale) -> dict[str, float]:
    from sqlalchemy import text

    timings: dict[str, float] = {}
    async with db.engine.begin() as conn:
        # Rows are consistent by construction; skip the per-row foreign-key triggers.
        await conn.execute(text("SET session_replication_role = replica"))
        for label, block in generation_sql(scale):
            started = time.perf_counter()
            for statement in statements(block):
                await conn.exec_driver_sql(statement)
            timings[label] = round(time.perf_counter() - started, 2)
            print(f"  {label:<15} {timings[label]:6.2f} s", flush=True)
        await conn.execute(text("SET session_replication_role = DEFAULT"))
    started = time.perf_counter()
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql("ANALYZE")
    timings["analyze"] = round(time.perf_counter() - started, 2)
    print(f"  {'analyze':<15} {timings['analyze']:6.2f} s", flush=True)
    return timings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summary(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2) if ms else 0.0,
        "p95_ms": round(percentile(ms, 0.95), 2),
        "max_ms": round(max(ms), 2) if ms else 0.0,
    }


# --- EXPLAIN ------------------------------------------------------------------------


QUERY_NAMES = (
    ("count(*) OVER", "stale tips (new, older than 24 h)"),
    ("count(DISTINCT", "check-ins of the day: counts and newest"),
    ("LATERAL", "assignments with their latest check-in"),
    ("GROUP BY tip.category", "new tips by category and status"),
    ("WHERE unit.parent_id", "child units"),
)


def query_name(sql: str) -> str:
    for marker, name in QUERY_NAMES:
        if marker in sql:
            return name
    return sql.split()[0]


def scans(plan: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(node type, table, index) of every scan in a JSON plan."""
    relation = plan.get("Relation Name")
    if relation is not None:
        yield plan["Node Type"], relation, plan.get("Index Name", "")
    elif "Index Name" in plan:  # a Bitmap Index Scan names only its index
        yield plan["Node Type"], "", plan["Index Name"]
    for child in plan.get("Plans", []):
        yield from scans(child)


async def explain_digest(db: Any, root: Any, now: Any, today: Any) -> list[dict[str, Any]]:
    """Run one digest while recording its SQL, then EXPLAIN ANALYZE each statement."""
    from sqlalchemy import event

    from db.digest import build_digest

    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        seen.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with db.sessions() as session:
            await build_digest(session, root, now, today)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    report = []
    async with db.engine.connect() as conn:
        for statement, parameters in seen:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            result = await conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters
            )
            raw = result.scalar_one()
            plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]
            text_plan = await conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + statement, parameters
            )
            found = sorted(set(scans(plan["Plan"])))
            big_seq = [t for kind, t, _ in found if kind == "Seq Scan" and t in BIG_TABLES]
            report.append(
                {
                    "query": query_name(statement),
                    "ms": round(plan["Execution Time"], 2),
                    "scans": [f"{kind} {table} {index}".strip() for kind, table, index in found],
                    "indexes_ok": not big_seq,
                    "plan": [row[0] for row in text_plan.all()],
                }
            )
    return report


# --- the run --------------------------------------------------------------------------


async def benchmark(scale: Scale) -> dict[str, Any]:
    import datetime as dt

    from sqlalchemy import text

    from bot.config import Settings
    from db import migrate
    from db.digest import build_digest, supervisor_recipients
    from db.embedded import embedded_url, start_embedded
    from db.session import Database
    from handlers.digest import chart_spec, render_chart
    from scheduler.digest import messages_in, send_digests

    now = dt.datetime(2025, 11, 20, 0, 0, tzinfo=dt.UTC)
    today = dt.date(2025, 11, 20)
    BENCH_DIR.mkdir(exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="digest-", dir=BENCH_DIR))
    started_all = time.perf_counter()
    server = start_embedded(data_dir)
    db = Database(embedded_url(server), pool_size=4)
    try:
        await migrate.upgrade(db)
        print(
            f"generating: {scale.districts} districts, {scale.communes} communes, "
            f"{scale.members:,} members, {scale.checkins:,} check-ins, {scale.tips:,} tips",
            flush=True,
        )
        started = time.perf_counter()
        generation = await generate(db, scale)
        generate_s = time.perf_counter() - started
        async with db.sessions() as session:
            counts = {
                table: int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
                for table in ("unit", "assignment", "member", "checkin", "tip")
            }
            started = time.perf_counter()
            recipients = await supervisor_recipients(session)
            recipients_ms = (time.perf_counter() - started) * 1000
        print(f"generated in {generate_s:.1f} s: {counts}", flush=True)

        # Warm-up: the first digest pays for imports and cold caches.
        async with db.sessions() as session:
            warm = await build_digest(session, recipients[-1].roots[0], now, today)
            await messages_in("vi", [warm], chart=False)

        by_level: dict[str, list[float]] = {"province": [], "district": [], "commune": []}
        baseline: list[float] = []
        all_times: list[float] = []
        sizes: list[int] = []
        started = time.perf_counter()
        for recipient in recipients:
            root = recipient.roots[0]
            t0 = time.perf_counter()
            async with db.sessions() as session:
                digest = await build_digest(session, root, now, today)
            messages = await messages_in("vi", [digest], chart=False)
            elapsed = time.perf_counter() - t0
            all_times.append(elapsed)
            by_level.setdefault(root.kind, []).append(elapsed)
            sizes.append(sum(len(m.text) for m in messages))
        total_s = time.perf_counter() - started
        for recipient in recipients:
            t0 = time.perf_counter()
            async with db.sessions() as session:
                await session.scalar(
                    text("SELECT count(*) FROM unit WHERE path LIKE :p"),
                    {"p": recipient.roots[0].path + "%"},
                )
            baseline.append(time.perf_counter() - t0)

        # The chart, for a sample of districts and communes and the province.
        sample = [r.roots[0] for r in recipients[: CHART_SAMPLE // 2]]
        sample += [r.roots[0] for r in recipients[-(CHART_SAMPLE // 2) :]]
        chart_times: list[float] = []
        with_chart: list[float] = []
        png_bytes: list[int] = []
        for root in sample:
            t0 = time.perf_counter()
            async with db.sessions() as session:
                digest = await build_digest(session, root, now, today)
            spec = chart_spec(digest, "vi")
            t1 = time.perf_counter()
            png = render_chart(spec) if spec is not None else b""
            chart_times.append(time.perf_counter() - t1)
            await messages_in("vi", [digest], chart=False)
            with_chart.append(time.perf_counter() - t0)
            png_bytes.append(len(png))

        # The province's digest again, a few times (one sample says little on a shared
        # machine), alternating with the baseline query over the same subtree.
        province = next(r.roots[0] for r in recipients if r.roots[0].kind == "province")
        province_times: list[float] = []
        province_baseline: list[float] = []
        for _ in range(PROVINCE_ROUNDS):
            t0 = time.perf_counter()
            async with db.sessions() as session:
                digest = await build_digest(session, province, now, today)
            await messages_in("vi", [digest], chart=False)
            province_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            async with db.sessions() as session:
                await session.scalar(
                    text("SELECT count(*) FROM unit WHERE path LIKE :p"), {"p": province.path + "%"}
                )
            province_baseline.append(time.perf_counter() - t0)

        # The real daily job: every digest with its chart, queued to the outbox.
        started = time.perf_counter()
        job_queued = await send_digests(db, Settings(), now)
        job_s = time.perf_counter() - started
        print(f"daily job: {job_queued} digests queued with charts in {job_s:.1f} s", flush=True)

        district = next(r.roots[0] for r in recipients if r.roots[0].kind == "district")
        explain = {
            "district": await explain_digest(db, district, now, today),
            "province": await explain_digest(db, province, now, today),
        }
    finally:
        await db.dispose()
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)

    overall = summary(all_times)
    base = summary(baseline)
    chart = summary(chart_times)
    province_ms = round(statistics.median(province_times) * 1000, 1)
    # What the job would take one supervisor after the other, each chart drawn in turn
    # (the structure before issue 17): every digest plus every chart at the sample's p50.
    serial_s = total_s + len(recipients) * chart["p50_ms"] / 1000
    load = os.getloadavg()
    indexes_ok = all(q["indexes_ok"] for queries in explain.values() for q in queries)
    result: dict[str, Any] = {
        "dataset": {
            "districts": scale.districts,
            "communes": scale.communes,
            "members": counts["member"],
            "assignments": counts["assignment"],
            "checkins": counts["checkin"],
            "tips": counts["tip"],
            "supervisors": len(recipients),
        },
        "generate_s": round(generate_s, 1),
        "generate_steps_s": generation,
        "recipients_query_ms": round(recipients_ms, 2),
        "digests": len(all_times),
        "digest_total_s": round(total_s, 2),
        "digest_p50_ms": overall["p50_ms"],
        "digest_p95_ms": overall["p95_ms"],
        "digest_max_ms": overall["max_ms"],
        "by_level": {level: summary(times) for level, times in by_level.items() if times},
        "digest_text_chars_p50": int(statistics.median(sizes)),
        "baseline_subtree_count": base,
        "digest_vs_baseline_p50": round(overall["p50_ms"] / max(base["p50_ms"], 1e-6), 1),
        "chart_sample": chart,
        "digest_with_chart_sample": summary(with_chart),
        "chart_png_bytes_p50": int(statistics.median(png_bytes)) if png_bytes else 0,
        "daily_job_with_charts_s": round(job_s, 1),
        "daily_job_queued": job_queued,
        # issue 17's figures, each beside a baseline measured in this run
        "chart_p95_ms": chart["p95_ms"],
        "province_digest_ms": province_ms,
        "province_digest_rounds_ms": [round(t * 1000, 1) for t in province_times],
        "province_baseline_subtree_count_ms": round(statistics.median(province_baseline) * 1000, 2),
        "daily_job_s": round(job_s, 1),
        "daily_job_serial_estimate_s": round(serial_s, 1),
        "daily_job_vs_serial_estimate": round(job_s / max(serial_s, 1e-9), 2),
        "load_average": [round(x, 2) for x in load],
        "cpus": os.cpu_count(),
        "explain": {
            level: [{k: q[k] for k in ("query", "ms", "scans", "indexes_ok")} for q in queries]
            for level, queries in explain.items()
        },
        "indexes_ok": indexes_ok,
        "targets": {
            "digest_p95_ms": TARGET_P95_MS,
            "digest_total_s": TARGET_TOTAL_S,
            "chart_p95_ms": TARGET_CHART_P95_MS,
            "province_digest_ms": TARGET_PROVINCE_DIGEST_MS,
            "daily_job_s": TARGET_DAILY_JOB_S,
        },
        "met": {
            "digest_p95_ms": overall["p95_ms"] <= TARGET_P95_MS,
            "digest_total_s": total_s <= TARGET_TOTAL_S,
            "chart_p95_ms": chart["p95_ms"] <= TARGET_CHART_P95_MS,
            "province_digest_ms": province_ms <= TARGET_PROVINCE_DIGEST_MS,
            "daily_job_s": job_s <= TARGET_DAILY_JOB_S,
        },
        "ok": overall["p95_ms"] <= TARGET_P95_MS and total_s <= TARGET_TOTAL_S and indexes_ok,
        "wall_s": round(time.perf_counter() - started_all, 1),
    }
    print_report(result, explain)
    return result


def print_report(result: dict[str, Any], explain: dict[str, list[dict[str, Any]]]) -> None:
    print()
    for level, queries in explain.items():
        print(f"EXPLAIN ANALYZE of the digest queries, {level}:")
        for q in queries:
            mark = "ok" if q["indexes_ok"] else "SEQUENTIAL SCAN OF A BIG TABLE"
            print(f"-- {q['query']} ({q['ms']} ms, {mark})")
            for line in q["plan"]:
                print("   " + line)
        print()
    print(
        f"{result['digests']} digests in {result['digest_total_s']} s: "
        f"p50 {result['digest_p50_ms']} ms, p95 {result['digest_p95_ms']} ms, "
        f"max {result['digest_max_ms']} ms"
    )
    for level, figures in result["by_level"].items():
        print(f"  {level:<9} {figures}")
    print(f"baseline (count of the units in the subtree): {result['baseline_subtree_count']}")
    print(f"chart alone, sample: {result['chart_sample']}")
    print(f"digest with chart, sample: {result['digest_with_chart_sample']}")
    print(
        f"targets: p95 <= {TARGET_P95_MS} ms, all <= {TARGET_TOTAL_S} s; "
        f"indexes ok: {result['indexes_ok']}; ok: {result['ok']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("ANTT_BENCH_QUICK", "") not in ("", "0")
    result = asyncio.run(benchmark(QUICK if quick else Scale()))
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
