"""The schema check at start without Alembic: heads read from the files, the database's
revision read with SQL; Alembic runs only when the database is behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from db import migrate
from db.session import Database


def test_heads_read_from_the_files_are_alembics() -> None:
    from alembic.script import ScriptDirectory

    alembic_heads = ScriptDirectory.from_config(migrate.alembic_config()).get_heads()
    assert migrate.script_heads() == frozenset(alembic_heads)


def _write(folder: Path, name: str, header: str) -> None:
    (folder / f"{name}.py").write_text(
        f'"""{name}"""\n\n{header}\n\n\ndef upgrade() -> None:\n    pass\n'
    )


@pytest.fixture
def versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "versions"
    folder.mkdir()
    monkeypatch.setattr(migrate, "MIGRATIONS", tmp_path)
    return folder


def test_heads_of_a_branch_and_a_merge(versions: Path) -> None:
    _write(versions, "a", 'revision: str = "a"\ndown_revision: str | None = None')
    _write(versions, "b", "revision = 'b'\ndown_revision = 'a'\nbranch_labels = None")
    _write(versions, "c", 'revision: str = "c"\ndown_revision: str | None = "a"')
    assert migrate.script_heads() == {"b", "c"}
    _write(versions, "d", 'revision = "d"\ndown_revision = ("b", "c")\ndepends_on = None')
    assert migrate.script_heads() == {"d"}


@pytest.mark.parametrize(
    "header",
    [
        'revision = "b"\ndown_revision = "a"\nbranch_labels = ("feature",)',
        'revision = "b"\ndown_revision = "a"\ndepends_on = "a"',
        'revision = make_id()\ndown_revision = "a"',
        'down_revision = "a"',
    ],
    ids=["branch-label", "depends-on", "not-a-literal", "no-revision"],
)
def test_headers_it_cannot_read_are_left_to_alembic(versions: Path, header: str) -> None:
    _write(versions, "a", 'revision = "a"\ndown_revision = None')
    _write(versions, "b", header)
    assert migrate.script_heads() is None


async def test_at_head_only_when_the_version_table_says_so(pg_url: str) -> None:
    admin = Database(pg_url, pool_size=1)
    async with admin.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("DROP DATABASE IF EXISTS antt_heads_test"))
        await conn.execute(text("CREATE DATABASE antt_heads_test"))
    await admin.dispose()
    base, _, query = pg_url.partition("?")
    url = base.rsplit("/", 1)[0] + "/antt_heads_test" + (f"?{query}" if query else "")
    scratch = Database(url, pool_size=1)
    try:
        assert await migrate.database_revisions(scratch) == frozenset()  # no table yet
        assert not await migrate.is_at_head(scratch)
        await migrate.upgrade(scratch)
        (head,) = migrate.script_heads() or ()
        assert await migrate.database_revisions(scratch) == {head}
        assert await migrate.is_at_head(scratch)
        await migrate.downgrade(scratch, "-1")
        assert not await migrate.is_at_head(scratch)
        await migrate.upgrade(scratch)  # behind: Alembic brings it to head again
        assert await migrate.current_revision(scratch) == head
    finally:
        await scratch.dispose()
