"""Periods, due dates and progress of assignments, on hand-built rows (no database).

Calendar facts are worked out by hand: 30/12/2024 is the Monday of ISO week 1 of
2025; 2026 starts on a Thursday, so it has 53 ISO weeks and 01/01/2027 (a Friday)
is in 2026-W53; 03/01/2021 (a Sunday) is in 2020-W53; 2024 is a leap year.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from db.checkins import AssignmentProgress, Latest, Progress, period_key
from scheduler.reminders import (
    Kind,
    due_date,
    nudge_key,
    period_end,
    reminder_key,
    scheduled_kind,
)

D = dt.date


@pytest.mark.parametrize(
    ("cadence", "day", "key"),
    [
        ("weekly", D(2024, 12, 30), "2025-W01"),
        ("weekly", D(2021, 1, 3), "2020-W53"),
        ("weekly", D(2027, 1, 1), "2026-W53"),
        ("weekly", D(2025, 9, 1), "2025-W36"),
        ("quarterly", D(2025, 1, 1), "2025-Q1"),
        ("quarterly", D(2025, 3, 31), "2025-Q1"),
        ("quarterly", D(2025, 4, 1), "2025-Q2"),
        ("quarterly", D(2025, 9, 30), "2025-Q3"),
        ("quarterly", D(2025, 12, 31), "2025-Q4"),
        ("half-yearly", D(2025, 6, 30), "2025-H1"),
        ("half_yearly", D(2025, 6, 1), "2025-H1"),
        ("Half_Yearly", D(2025, 7, 1), "2025-H2"),
        ("semiannual", D(2025, 12, 31), "2025-H2"),
        ("semi-annual", D(2025, 3, 1), "2025-H1"),
        ("semi_annual", D(2025, 8, 1), "2025-H2"),
        ("biannual", D(2025, 2, 1), "2025-H1"),
        ("annually", D(2025, 2, 1), "2025"),
        ("yearly", D(2025, 12, 31), "2025"),
        ("annual", D(2026, 1, 1), "2026"),
        ("monthly", D(2025, 9, 30), "2025-09"),
        (None, D(2025, 1, 31), "2025-01"),
        (" Weekly ", D(2025, 9, 1), "2025-W36"),
    ],
)
def test_period_key(cadence: str | None, day: dt.date, key: str) -> None:
    assert period_key(cadence, day) == key


@pytest.mark.parametrize(
    ("cadence", "day", "end"),
    [
        ("weekly", D(2025, 5, 19), D(2025, 5, 25)),  # Monday -> Sunday
        ("weekly", D(2025, 5, 21), D(2025, 5, 25)),
        ("weekly", D(2025, 5, 25), D(2025, 5, 25)),  # Sunday is its own end
        ("weekly", D(2025, 12, 29), D(2026, 1, 4)),
        ("quarterly", D(2025, 1, 1), D(2025, 3, 31)),
        ("quarterly", D(2025, 5, 1), D(2025, 6, 30)),
        ("quarterly", D(2025, 8, 15), D(2025, 9, 30)),
        ("quarterly", D(2025, 10, 1), D(2025, 12, 31)),
        ("quarterly", D(2025, 12, 5), D(2025, 12, 31)),
        ("half-yearly", D(2025, 1, 1), D(2025, 6, 30)),
        ("half_yearly", D(2025, 6, 30), D(2025, 6, 30)),
        ("half_yearly", D(2025, 4, 10), D(2025, 6, 30)),
        ("semi_annual", D(2025, 8, 10), D(2025, 12, 31)),
        ("half-yearly", D(2025, 7, 1), D(2025, 12, 31)),
        ("yearly", D(2024, 2, 29), D(2024, 12, 31)),
        ("annual", D(2025, 1, 1), D(2025, 12, 31)),
        ("annually", D(2025, 7, 1), D(2025, 12, 31)),
        ("semiannual", D(2025, 2, 1), D(2025, 6, 30)),
        ("semi-annual", D(2025, 8, 1), D(2025, 12, 31)),
        ("biannual", D(2025, 3, 1), D(2025, 6, 30)),
        (" Quarterly ", D(2025, 11, 1), D(2025, 12, 31)),
        ("monthly", D(2024, 2, 10), D(2024, 2, 29)),
        (None, D(2025, 2, 10), D(2025, 2, 28)),
        ("monthly", D(2025, 12, 31), D(2025, 12, 31)),
    ],
)
def test_period_end(cadence: str | None, day: dt.date, end: dt.date) -> None:
    assert period_end(cadence, day) == end


def test_every_day_of_a_year_ends_its_period_on_a_day_of_the_same_period() -> None:
    day = D(2025, 1, 1)
    while day.year == 2025:
        for cadence in ("weekly", "monthly", "quarterly", "half-yearly", "yearly"):
            end = period_end(cadence, day)
            assert end >= day
            assert period_key(cadence, end) == period_key(cadence, day)
            assert period_key(cadence, end + dt.timedelta(days=1)) != period_key(cadence, day)
        day += dt.timedelta(days=1)


# --- assignments ------------------------------------------------------------------------


def row(
    kind: str,
    *,
    deadline: dt.date = D(2025, 5, 20),
    target: str | None = None,
    cadence: str | None = None,
    status: str | None = None,
    value: str | None = None,
    eligible: int | None = None,
    period: str | None = None,
    checked: bool = True,
) -> AssignmentProgress:
    latest = (
        Latest(
            checkin_id=1,
            member_id=1,
            status=status,
            value=Decimal(value) if value is not None else None,
            eligible=eligible,
            period=period,
            note=None,
            created_at=dt.datetime(2025, 5, 1, tzinfo=dt.UTC),
        )
        if checked
        else None
    )
    return AssignmentProgress(
        assignment_id=1,
        target=Decimal(target) if target is not None else None,
        deadline=deadline,
        note=None,
        task_id=1,
        task_code="t",
        kind=kind,
        title_vi="Việc",
        title_en="Task",
        cadence=cadence,
        is_reporting=False,
        task_sort=0,
        unit_id=1,
        unit_code="u",
        unit_name="Unit",
        unit_kind="commune",
        unit_path="/1/",
        latest=latest,
    )


TODAY = D(2025, 5, 10)


def test_count_with_a_target_is_done_at_the_target() -> None:
    assert row("count", target="3", value="3").is_done(TODAY)
    assert not row("count", target="3", value="2.99").is_done(TODAY)
    assert row("count", target="3", value=None, status="in_progress").is_done(TODAY) is False
    assert row("count", target="4", value="2").fraction(TODAY) == 0.5
    assert row("count", target="4", value="9").fraction(TODAY) == 1.0


def test_count_without_a_target_is_done_at_any_value_above_zero() -> None:
    assert not row("count", value="0").is_done(TODAY)
    assert row("count", value="1").is_done(TODAY)
    assert row("count", value="0.5").is_done(TODAY)
    assert row("count", value="0").fraction(TODAY) == 0.0
    assert row("count", checked=False).is_done(TODAY) is False  # a bool, not just falsy


def test_percent_exactly_at_target_is_done() -> None:
    assert row("percent", target="80", value="8", eligible=10).is_done(TODAY)
    assert not row("percent", target="80", value="7", eligible=10).is_done(TODAY)
    assert row("percent", target="80", value="80").is_done(TODAY)  # no base: the value is a share
    assert row("percent", target="80", value="80", eligible=0).is_done(TODAY)
    assert not row("percent", target="80", value="79.9").is_done(TODAY)
    assert row("percent", target="80", status="in_progress").is_done(TODAY) is False


def test_percent_without_a_target_means_all() -> None:
    assert row("percent", value="4", eligible=4).is_done(TODAY)
    assert not row("percent", value="3", eligible=4).is_done(TODAY)
    assert row("percent", value="3", eligible=4).fraction(TODAY) == 0.75
    assert row("percent", target="60", value="3", eligible=10).fraction(TODAY) == 0.5


def test_share_is_value_over_eligible_in_percent() -> None:
    assert row("percent", value="3", eligible=4).latest.share() == Decimal(75)  # type: ignore[union-attr]
    assert row("percent", value="42").latest.share() == Decimal(42)  # type: ignore[union-attr]
    assert row("percent", status="blocked").latest.share() is None  # type: ignore[union-attr]


def test_milestone_report_and_recurring_are_done_by_status() -> None:
    assert row("milestone", status="done").is_done(TODAY)
    assert not row("milestone", status="submitted").is_done(TODAY)
    assert row("report", status="submitted").is_done(TODAY)
    assert not row("report", status="done").is_done(TODAY)
    assert row("milestone", status="done").fraction(TODAY) == 1.0
    assert row("milestone", status="in_progress").fraction(TODAY) == 0.0
    # Milestones and reports are 0 or 1, whatever number a check-in carries.
    assert row("milestone", status="in_progress", value="50").fraction(TODAY) == 0.0
    assert row("report", status="in_progress", value="1").fraction(TODAY) == 0.0
    assert row("count", target="4", checked=False).fraction(TODAY) == 0.0
    assert row("percent", target="50", checked=False).fraction(TODAY) == 0.0
    assert row("count", target="4", status="blocked").fraction(TODAY) == 0.0  # no value yet
    assert row("percent", target="50", status="blocked").fraction(TODAY) == 0.0
    assert row("percent", target="0", value="0", eligible=4).fraction(TODAY) == 1.0  # 0 %: done
    may = period_key("weekly", TODAY)
    assert may == "2025-W19"
    assert row("recurring", cadence="weekly", status="done", period=may).is_done(TODAY)
    assert not row("recurring", cadence="weekly", status="done", period="2025-W18").is_done(TODAY)
    assert not row("recurring", cadence="monthly", status="done", period="2025-04").is_done(TODAY)
    assert row("recurring", cadence="monthly", status="done", period="2025-05").is_done(TODAY)
    assert not row("recurring", cadence="monthly", status="in_progress", period="2025-05").is_done(
        TODAY
    )
    assert row("unknown-kind", status="done").is_done(TODAY) is False


def test_the_deadline_day_is_not_overdue_the_next_day_is() -> None:
    deadline = D(2025, 5, 20)
    started = row("milestone", deadline=deadline, status="in_progress")
    assert started.progress(deadline) == Progress.IN_PROGRESS
    assert started.progress(deadline + dt.timedelta(days=1)) == Progress.OVERDUE
    fresh = row("milestone", deadline=deadline, checked=False)
    assert fresh.progress(deadline) == Progress.NOT_STARTED
    assert fresh.progress(deadline + dt.timedelta(days=1)) == Progress.OVERDUE
    done = row("milestone", deadline=deadline, status="done")
    assert done.progress(deadline + dt.timedelta(days=30)) == Progress.DONE


def test_progress_of_blocked_not_started_and_a_new_period() -> None:
    assert row("milestone", status="blocked").progress(TODAY) == Progress.BLOCKED
    assert row("milestone", status="not_started").progress(TODAY) == Progress.NOT_STARTED
    last_month = row("recurring", cadence="monthly", status="in_progress", period="2025-04")
    assert last_month.progress(TODAY) == Progress.NOT_STARTED
    this_month = row("recurring", cadence="monthly", status="in_progress", period="2025-05")
    assert this_month.progress(TODAY) == Progress.IN_PROGRESS


def test_laggards_sort_overdue_then_blocked_then_lowest_share() -> None:
    today = D(2025, 5, 21)
    overdue = row("count", target="10", value="9", deadline=D(2025, 5, 20))
    blocked = row("count", target="10", value="1", status="blocked", deadline=D(2025, 6, 1))
    low = row("count", target="10", value="2", deadline=D(2025, 6, 1))
    high = row("count", target="10", value="5", deadline=D(2025, 5, 25))
    ordered = sorted([high, low, blocked, overdue], key=lambda r: r.laggard_key(today))
    assert ordered == [overdue, blocked, low, high]


# --- due dates and reminder days --------------------------------------------------------


def test_a_recurring_duty_is_due_at_its_period_end_capped_by_the_deadline() -> None:
    monthly = row("recurring", cadence="monthly", deadline=D(2025, 12, 31))
    assert due_date(monthly, D(2025, 5, 10)) == D(2025, 5, 31)
    capped = row("recurring", cadence="monthly", deadline=D(2025, 5, 20))
    assert due_date(capped, D(2025, 5, 10)) == D(2025, 5, 20)
    assert due_date(capped, D(2025, 5, 20)) == D(2025, 5, 20)  # the last day still counts
    assert due_date(capped, D(2025, 5, 21)) is None  # ended
    quarterly = row("recurring", cadence="quarterly", deadline=D(2026, 6, 30))
    assert due_date(quarterly, D(2025, 12, 5)) == D(2025, 12, 31)
    assert due_date(row("milestone"), D(2025, 6, 1)) == D(2025, 5, 20)


@pytest.mark.parametrize(
    ("today", "kind"),
    [
        (D(2025, 5, 13), Kind.WEEK_BEFORE),
        (D(2025, 5, 12), None),
        (D(2025, 5, 14), None),
        (D(2025, 5, 19), Kind.DAY_BEFORE),
        (D(2025, 5, 20), Kind.ON_THE_DAY),
        (D(2025, 5, 21), None),
        (D(2025, 5, 26), None),
        (D(2025, 5, 27), Kind.OVERDUE),
        (D(2025, 6, 3), Kind.OVERDUE),
        (D(2025, 6, 4), None),
    ],
)
def test_reminder_days_of_a_one_off_task(today: dt.date, kind: Kind | None) -> None:
    assert scheduled_kind(row("milestone", deadline=D(2025, 5, 20)), today) == kind


def test_weekly_duties_get_no_seven_day_reminder_and_duties_are_never_overdue() -> None:
    weekly = row("recurring", cadence="weekly", deadline=D(2025, 12, 31))
    monthly = row("recurring", cadence="monthly", deadline=D(2025, 6, 30))
    seen_weekly, seen_monthly = set(), set()
    day = D(2025, 5, 1)
    while day <= D(2025, 8, 31):
        seen_weekly.add(scheduled_kind(weekly, day))
        seen_monthly.add(scheduled_kind(monthly, day))
        day += dt.timedelta(days=1)
    assert seen_weekly == {Kind.DAY_BEFORE, Kind.ON_THE_DAY, None}
    assert seen_monthly == {Kind.WEEK_BEFORE, Kind.DAY_BEFORE, Kind.ON_THE_DAY, None}
    assert scheduled_kind(weekly, D(2025, 5, 24)) == Kind.DAY_BEFORE  # Saturday
    assert scheduled_kind(weekly, D(2025, 5, 25)) == Kind.ON_THE_DAY  # Sunday
    assert scheduled_kind(monthly, D(2025, 5, 24)) == Kind.WEEK_BEFORE


def test_dedup_keys_name_the_day_and_the_iso_week() -> None:
    assert reminder_key(12, 34, Kind.DAY_BEFORE, D(2025, 5, 19)) == "rem:12:34:d1:2025-05-19"
    assert nudge_key(34, D(2025, 5, 5)) == "nudge:34:2025-W19"
    assert nudge_key(34, D(2024, 12, 30)) == "nudge:34:2025-W01"  # ISO week-year
    assert nudge_key(34, D(2027, 1, 1)) == "nudge:34:2026-W53"


# --- percent tasks measured from the register -------------------------------------------------


def register(target: str | None, base: int, achieved: int | None) -> AssignmentProgress:
    """A percent task over ``base`` communes remaining, ``achieved`` recognised since."""
    return dataclasses.replace(
        row("percent", target=target, checked=False),
        recognition="safe_commune",
        communes=base + 2,
        base=base,
        achieved=achieved,
    )


def test_a_register_task_is_done_when_the_recognised_share_reaches_the_target() -> None:
    # 8 of 10 remaining communes recognised: 80 %, exactly the target of 80.
    assert register("80", 10, 8).is_done(TODAY)
    assert register("80", 10, 8).fraction(TODAY) == 1.0
    assert register("80", 10, 8).progress(TODAY) == Progress.DONE
    # 7 of 10: 70 % of a target of 80 is 0.875 of the way.
    assert not register("80", 10, 7).is_done(TODAY)
    assert register("80", 10, 7).fraction(TODAY) == 0.875
    assert register("80", 10, 7).progress(TODAY) == Progress.IN_PROGRESS


def test_a_register_task_without_a_target_means_every_commune() -> None:
    assert register(None, 4, 4).is_done(TODAY)  # 100 %
    assert not register(None, 4, 3).is_done(TODAY)
    assert register(None, 4, 3).fraction(TODAY) == 0.75  # 75 % of 100
    assert register(None, 8, 2).fraction(TODAY) == 0.25


def test_a_register_task_with_no_commune_left_is_done_and_none_recognised_not_started() -> None:
    assert register("100", 0, 0).is_done(TODAY)  # nothing remained to recognise
    assert register("90", 10, 0).progress(TODAY) == Progress.NOT_STARTED
    assert register("90", 10, None).progress(TODAY) == Progress.NOT_STARTED
    assert register("90", 10, 0).fraction(TODAY) == 0.0
    assert register("90", 10, 5).progress(D(2025, 5, 21)) == Progress.OVERDUE


def test_a_recurring_task_without_a_cadence_has_no_period() -> None:
    assert row("recurring", cadence=None).current_period(TODAY) is None
    assert row("recurring", cadence="").current_period(TODAY) is None
    assert row("recurring", cadence="monthly").current_period(TODAY) == "2025-05"
    assert row("recurring", cadence="weekly").current_period(TODAY) == "2025-W19"  # Sat 10/05
    # Done once is done: a check-in of any period (or none) counts.
    assert row("recurring", cadence=None, status="done", period="2025-01").is_done(TODAY)
    assert row("recurring", cadence=None, status="done", period=None).is_done(TODAY)
    in_progress = row("recurring", cadence=None, status="in_progress", period="2025-01")
    assert in_progress.progress(TODAY) == Progress.IN_PROGRESS
    assert not row("recurring", cadence="monthly", status="done", period="2025-04").is_done(TODAY)


def test_a_recurring_task_without_a_cadence_is_due_on_its_deadline() -> None:
    # No period to end: the deadline, even months away or already past.
    assert due_date(row("recurring", cadence=None, deadline=D(2025, 12, 31)), TODAY) == D(
        2025, 12, 31
    )
    assert due_date(row("recurring", cadence=None, deadline=D(2025, 5, 1)), TODAY) == D(2025, 5, 1)
    assert due_date(row("recurring", cadence="monthly", deadline=D(2025, 12, 31)), TODAY) == D(
        2025, 5, 31
    )


def test_the_register_share_shown_is_recognised_over_remaining_in_percent() -> None:
    assert register("80", 10, 7).register_share() == Decimal(70)
    assert register("80", 3, 1).register_share().quantize(Decimal("0.1")) == Decimal("33.3")
    assert register("80", 10, None).register_share() == Decimal(0)
    assert register("80", 0, 0).register_share() == Decimal(100)  # none remained: all done


def test_answers_are_remembered_for_one_day_only() -> None:
    """A digest asks each row the same questions many times a day; a new day asks again:
    done for May (2025-05) on 10/05, nothing yet for June on 01/06."""
    monthly = row("recurring", cadence="monthly", status="done", period="2025-05")
    june = D(2025, 6, 1)
    assert (monthly.is_done(TODAY), monthly.progress(TODAY), monthly.fraction(TODAY)) == (
        True,
        Progress.DONE,
        1.0,
    )
    assert (monthly.is_done(june), monthly.progress(june), monthly.fraction(june)) == (
        False,
        Progress.OVERDUE,  # its deadline, 20/05, has passed
        0.0,
    )
    assert monthly.is_done(TODAY) and monthly.progress(TODAY) == Progress.DONE
    # A copy with another check-in is judged afresh, not from the original's memory.
    redone = dataclasses.replace(monthly, latest=None)
    assert not redone.is_done(TODAY) and redone.fraction(TODAY) == 0.0
