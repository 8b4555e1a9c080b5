"""The choice parser and the scope roots of handlers.flow, without a database.

A ``Context`` is built with only the parts these helpers read (the grants); units
are transient model objects with hand-written materialised paths.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import pytest

from db.members import Grant, UnitRecord
from db.models import Role
from handlers.flow import Context, choice_or_text
from handlers.types import Choice, Incoming

OPTIONS = [
    Choice("c:vi", "Tiếng Việt"),
    Choice("c:en", "English"),
    Choice("c:nh", "Phường Nghi Hương"),
]


def typed(text: str | None) -> Incoming:
    return Incoming(channel="test", user_id="1", chat_id="1", text=text)


def pressed(choice: str) -> Incoming:
    return Incoming(channel="test", user_id="1", chat_id="1", choice=choice)


def test_a_pressed_button_counts_only_if_it_is_among_the_options() -> None:
    assert choice_or_text(pressed("c:en"), OPTIONS) == "c:en"
    assert choice_or_text(pressed("c:fr"), OPTIONS) is None
    assert choice_or_text(pressed("c:en"), []) is None
    # A stale button is not read as its text either.
    assert choice_or_text(Incoming("test", "1", "1", text="1", choice="x"), OPTIONS) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", "c:vi"), ("2", "c:en"), (" 3 ", "c:nh"), ("03", "c:nh")],
)
def test_a_number_picks_the_option_counted_from_one(text: str, expected: str) -> None:
    assert choice_or_text(typed(text), OPTIONS) == expected


@pytest.mark.parametrize("text", ["0", "4", "-1", "10", "²", "1.0", "", "   ", None])
def test_numbers_outside_the_list_and_odd_digits_pick_nothing(text: str | None) -> None:
    assert choice_or_text(typed(text), OPTIONS) is None


def test_a_typed_label_matches_whole_ignoring_case_and_accents() -> None:
    assert choice_or_text(typed("english"), OPTIONS) == "c:en"
    assert choice_or_text(typed("  phuong  NGHI huong "), OPTIONS) == "c:nh"
    assert choice_or_text(typed("tieng viet"), OPTIONS) == "c:vi"


@pytest.mark.parametrize("text", ["Eng", "Phường Nghi", "Tiếng", "English please", "nghi huong"])
def test_a_prefix_or_a_longer_text_matches_nothing(text: str) -> None:
    assert choice_or_text(typed(text), OPTIONS) is None


# --- scope roots --------------------------------------------------------------------------


T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def unit(uid: int, path: str) -> UnitRecord:
    depth = path.count("/") - 2
    return UnitRecord(
        uid, f"u{uid}", f"Unit {uid}", "", "commune", None, path, depth, *[None] * 7, T0
    )


PROVINCE = unit(1, "/1/")
CITY = unit(2, "/1/2/")
WARD = unit(5, "/1/2/5/")
OTHER_WARD = unit(6, "/1/2/6/")
DISTRICT = unit(3, "/1/3/")
TWELVE = unit(12, "/1/3/12/")  # "/1/2" is a prefix of "/1/20/..." but not of "/1/2/"


def context(*grants: tuple[Role, UnitRecord]) -> Context:
    fake: Any = None
    return Context(
        tx=fake,
        settings=fake,
        identity=fake,
        member=None,
        grants=[Grant(i, role, u) for i, (role, u) in enumerate(grants, start=1)],
        conversation=cast(Any, None),
        now=fake,
        incoming=typed("x"),
    )


def test_units_with_returns_only_the_units_of_the_asked_roles() -> None:
    ctx = context((Role.FORCE, WARD), (Role.OFFICER, OTHER_WARD), (Role.SUPERVISOR, CITY))
    assert [u.id for u in ctx.units_with(Role.OFFICER)] == [6]
    assert [u.id for u in ctx.units_with(Role.OFFICER, Role.SUPERVISOR)] == [6, 2]
    assert [u.id for u in ctx.units_with(Role.FORCE)] == [5]
    assert ctx.units_with(Role.ADMIN) == []
    assert context().units_with(Role.OFFICER) == []


def test_units_with_lists_a_unit_once_in_grant_order() -> None:
    ctx = context((Role.OFFICER, WARD), (Role.SUPERVISOR, WARD), (Role.OFFICER, DISTRICT))
    assert [u.id for u in ctx.units_with(Role.OFFICER, Role.SUPERVISOR)] == [5, 3]


def test_can_see_follows_the_role_and_the_subtree() -> None:
    ctx = context((Role.SUPERVISOR, CITY), (Role.FORCE, TWELVE))
    assert ctx.can_see(WARD, Role.SUPERVISOR) and ctx.can_see(CITY, Role.SUPERVISOR)
    assert not ctx.can_see(PROVINCE, Role.SUPERVISOR)  # above the grant
    assert not ctx.can_see(DISTRICT, Role.SUPERVISOR)  # a sibling subtree
    assert not ctx.can_see(TWELVE, Role.SUPERVISOR, Role.OFFICER)  # force is not asked for
    assert ctx.can_see(TWELVE)  # no roles named: any role
    assert not ctx.can_see(unit(20, "/1/20/"), Role.SUPERVISOR)


def test_has_role_checks_the_role_only() -> None:
    ctx = context((Role.FORCE, WARD))
    assert ctx.has_role(Role.FORCE) and ctx.has_role(Role.OFFICER, Role.FORCE)
    assert not ctx.has_role(Role.OFFICER, Role.SUPERVISOR)
    both = context((Role.FORCE, WARD), (Role.SUPERVISOR, CITY))
    assert both.has_role(Role.FORCE) and both.has_role(Role.SUPERVISOR)
    assert not context().has_role(*Role)
