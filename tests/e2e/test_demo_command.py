"""``antt demo`` as a newcomer runs it: a process that serves the emulator until Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp

from db.session import Database

ROOT = Path(__file__).resolve().parents[2]


async def _line_matching(stream: asyncio.StreamReader, pattern: str, seen: list[str]) -> str:
    while True:
        raw = await asyncio.wait_for(stream.readline(), 60)
        if not raw:
            raise AssertionError("antt demo ended early:\n" + "".join(seen))
        line = raw.decode()
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found.group(1)


async def test_demo_serves_the_emulator_and_stops_on_ctrl_c(
    db: Database, pg_url: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTT_")}
    env.update(
        ANTT_DATABASE_URL=pg_url,
        ANTT_DATA_DIR=str(tmp_path),
        ANTT_DEFAULT_LANGUAGE="en",
        PYTHONUNBUFFERED="1",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "demo",
        "--port",
        "0",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    out: list[str] = []
    try:
        url = await _line_matching(proc.stdout, r"The emulator is at (http://\S+) ", out)
        # A short banner, the URL its last line; the import reports and logs are for -v.
        assert len(out) <= 4, out
        assert out[0].startswith("ANTT Bot demo") and "demo day 05/05/2025" in out[1]
        assert not any("INFO" in line or "imported" in line for line in out)
        async with aiohttp.ClientSession(base_url=url) as http:
            async with http.get("/api/personas") as resp:
                assert resp.status == 403  # not without the page's token
            async with http.get("/") as resp:
                page = await resp.text()
            found = re.search(r'name="emulator-token" content="([^"]+)"', page)
            assert found, page
            headers = {"X-Emulator-Token": found.group(1)}
            async with http.get("/api/personas", headers=headers) as resp:
                info = await resp.json()
            assert [p["id"] for p in info["personas"]] == [
                "citizen",
                "officer",
                "supervisor",
                "admin",
            ]
            assert info["clock"]["date"] == "05/05/2025"
            async with http.get("/") as resp:
                assert resp.status == 200
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
    rest, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert "The demo has stopped." in rest.decode()
    assert "Traceback" not in err.decode()
    assert " INFO " not in err.decode(), "no INFO logs without -v"
    assert (tmp_path / "demo-clock.txt").exists() is False  # no "next day" was pressed
    assert len((tmp_path / "secret-key").read_text().strip()) == 43  # its own random key
