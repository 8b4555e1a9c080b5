"""The audit log: who did what to which object, and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Audit


def record(
    session: AsyncSession,
    action: str,
    *,
    actor_member_id: int | None,
    object_kind: str | None = None,
    object_id: object = None,
    data: dict[str, Any] | None = None,
) -> Audit:
    """Add an audit row to the session (committed with the change it records)."""
    row = Audit(
        actor_member_id=actor_member_id,
        action=action,
        object_kind=object_kind,
        object_id=None if object_id is None else str(object_id),
        data=data or {},
    )
    session.add(row)
    return row
