"""Admins list and manage the members of their subtree, on real PostgreSQL through the engine.

Nothing outside the admin's subtree is shown or revocable, even with a crafted button id.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from db.members import ensure_member, grant_role, identity_for
from db.models import Audit, Member, Role, RoleGrant, Unit
from db.session import Database
from tests.integration.test_register import Tree, make_engine, make_tree
from tests.support import Clock, Person


async def add_member(
    db: Database, name: str, *grants: tuple[Unit, Role], user_id: str | None = None
) -> int:
    """A member with active grants (and a test-channel identity when ``user_id`` is given)."""
    async with db.sessions() as s:
        if user_id is not None:
            identity = await identity_for(s, "test", user_id, display_name=name, language="en")
            member = await ensure_member(s, identity, name)
        else:
            member = Member(full_name=name)
            s.add(member)
            await s.flush()
        for unit, role in grants:
            await grant_role(s, member.id, unit.id, role, granted_by=None)
        await s.commit()
        return member.id


async def grant_id(db: Database, member_id: int, unit: Unit, role: Role) -> int:
    async with db.sessions() as s:
        gid = await s.scalar(
            select(RoleGrant.id).where(
                RoleGrant.member_id == member_id,
                RoleGrant.unit_id == unit.id,
                RoleGrant.role == role.value,
                RoleGrant.revoked_at.is_(None),
            )
        )
    assert gid is not None
    return gid


@dataclass(frozen=True)
class Org:
    tree: Tree
    admin: int
    inside: int  # officer of commune A
    both: int  # officer of commune A and of the other district's commune
    outside: int  # only in the other district


@pytest.fixture
async def org(db: Database) -> Org:
    tree = await make_tree(db)
    admin = await add_member(db, "Quản Trị Viên", (tree.district, Role.ADMIN), user_id="900")
    inside = await add_member(db, "An Văn Trong", (tree.commune_a, Role.OFFICER))
    both = await add_member(
        db,
        "Bùi Thị Hai",
        (tree.commune_b, Role.FORCE),
        (tree.other_commune, Role.OFFICER),
    )
    outside = await add_member(db, "Cao Văn Ngoài", (tree.other_commune, Role.SUPERVISOR))
    return Org(tree, admin, inside, both, outside)


def admin(db: Database, clock: Clock | None = None) -> Person:
    return Person(make_engine(db, clock), "900", name="Quản Trị Viên", language_code="en")


async def test_members_entry_only_for_admins(db: Database, org: Org) -> None:
    citizen = Person(make_engine(db), "901", language_code="en")
    await citizen.say("/start")
    assert "m:members" not in citizen.choices
    await citizen.press("m:members")
    assert "not available to you" in citizen.text
    boss = admin(db)
    await boss.say("/start")
    assert "m:members" in boss.choices


async def test_list_is_scoped_to_subtree(db: Database, org: Org) -> None:
    boss = admin(db)
    await boss.press("m:members")
    assert "3 members in your units" in boss.text
    listed = {c for c in boss.choices if c.startswith("adm:m:")}
    assert listed == {f"adm:m:{org.admin}", f"adm:m:{org.inside}", f"adm:m:{org.both}"}
    assert "Cao Văn Ngoài" not in boss.text


async def test_card_shows_only_grants_inside_subtree(db: Database, org: Org) -> None:
    boss = admin(db)
    await boss.press("m:members")
    await boss.press(f"adm:m:{org.both}")
    assert "Bùi Thị Hai" in boss.text
    assert "grassroots security force member of Xã Nghi Thạch" in boss.text
    assert "Diễn" not in boss.text, "nothing outside the subtree"
    labels = " ".join(c.label for m in boss.last for c in m.choices)
    assert "Diễn" not in labels
    outside_grant = await grant_id(db, org.both, org.tree.other_commune, Role.OFFICER)
    assert f"adm:r:{outside_grant}" not in boss.choices


async def test_member_chosen_by_number(db: Database, org: Org) -> None:
    boss = admin(db)
    await boss.press("m:members")
    await boss.say("1")  # Zalo has no buttons: the number picks the first member
    assert "Roles in your units" in boss.text
    assert "An Văn Trong" in boss.text


async def test_revoke_through_chat_is_audited(db: Database, org: Org) -> None:
    boss = admin(db)
    gid = await grant_id(db, org.both, org.tree.commune_b, Role.FORCE)
    await boss.press("m:members")
    await boss.press(f"adm:m:{org.both}")
    await boss.press(f"adm:r:{gid}")
    assert "Revoke the role grassroots security force member of Xã Nghi Thạch" in boss.text
    await boss.press("adm:yes")
    assert "is no longer grassroots security force member of Xã Nghi Thạch" in boss.text
    async with db.sessions() as s:
        grant = await s.get(RoleGrant, gid)
        row = await s.scalar(select(Audit).where(Audit.action == "role.revoke"))
        other = await s.scalar(
            select(RoleGrant.revoked_at).where(
                RoleGrant.member_id == org.both, RoleGrant.unit_id == org.tree.other_commune.id
            )
        )
    assert grant is not None and grant.revoked_at is not None and grant.revoked_by == org.admin
    assert row is not None and row.actor_member_id == org.admin
    assert row.object_id == str(org.both) and row.data["role"] == "force"
    assert other is None, "the grant outside the subtree is untouched"
    # Her only role in the subtree is gone: she leaves the list.
    assert "2 members in your units" in boss.text


async def test_revoke_can_be_called_off(db: Database, org: Org) -> None:
    boss = admin(db)
    gid = await grant_id(db, org.inside, org.tree.commune_a, Role.OFFICER)
    await boss.press("m:members")
    await boss.press(f"adm:m:{org.inside}")
    await boss.press(f"adm:r:{gid}")
    await boss.press("adm:no")
    assert "Roles in your units" in boss.text
    async with db.sessions() as s:
        assert (await s.get(RoleGrant, gid)).revoked_at is None  # type: ignore[union-attr]


async def test_forged_member_outside_subtree_refused(db: Database, org: Org) -> None:
    boss = admin(db)
    await boss.press("m:members")
    await boss.press(f"adm:m:{org.outside}")
    assert "not in your units" in boss.text
    assert "Cao Văn Ngoài" not in boss.text
    assert "Roles in your units" not in boss.text


async def test_forged_revoke_outside_subtree_refused(db: Database, org: Org) -> None:
    boss = admin(db)
    outside_grant = await grant_id(db, org.both, org.tree.other_commune, Role.OFFICER)
    stranger_grant = await grant_id(db, org.outside, org.tree.other_commune, Role.SUPERVISOR)
    await boss.press("m:members")
    await boss.press(f"adm:m:{org.both}")
    await boss.press(f"adm:r:{outside_grant}")
    assert "You cannot revoke that role" in boss.text
    await boss.press(f"adm:r:{stranger_grant}")
    assert "You cannot revoke that role" in boss.text
    await boss.press("adm:yes")  # no confirmation pending: nothing happens
    async with db.sessions() as s:
        revoked = await s.scalar(select(RoleGrant.id).where(RoleGrant.revoked_at.is_not(None)))
        audits = await s.scalar(select(Audit.id).where(Audit.action == "role.revoke"))
    assert revoked is None and audits is None


async def test_own_admin_role_cannot_be_revoked(db: Database, org: Org) -> None:
    boss = admin(db)
    gid = await grant_id(db, org.admin, org.tree.district, Role.ADMIN)
    await boss.press("m:members")
    await boss.press(f"adm:m:{org.admin}")
    await boss.press(f"adm:r:{gid}")
    assert "your own administrator role" in boss.text


async def test_pages_of_ten(db: Database, org: Org) -> None:
    for i in range(10):
        await add_member(db, f"Đinh Văn {i:02d}", (org.tree.commune_a, Role.FORCE))
    boss = admin(db)
    await boss.press("m:members")
    assert "13 members in your units" in boss.text and "Page 1 of 2" in boss.text
    first = [c for c in boss.choices if c.startswith("adm:m:")]
    assert len(first) == 10 and "adm:next" in boss.choices and "adm:prev" not in boss.choices
    await boss.press("adm:next")
    assert "Page 2 of 2" in boss.text
    second = [c for c in boss.choices if c.startswith("adm:m:")]
    assert len(second) == 3 and not set(first) & set(second)
    assert "adm:prev" in boss.choices and "adm:next" not in boss.choices
    await boss.press("adm:prev")
    assert "Page 1 of 2" in boss.text


async def test_admin_who_lost_the_role_is_stopped(db: Database, org: Org) -> None:
    boss = admin(db)
    await boss.press("m:members")
    async with db.sessions() as s:
        grant = await s.scalar(select(RoleGrant).where(RoleGrant.member_id == org.admin))
        assert grant is not None
        grant.revoked_at = grant.granted_at
        await s.commit()
    await boss.press(f"adm:m:{org.inside}")
    assert "not available to you" in boss.text
    assert "Roles in your units" not in boss.text
