"""The web emulator offers a document of a bot message (an export) as a download link."""

from __future__ import annotations

from urllib.parse import quote

from handlers.types import Message
from tests.e2e.test_emulator_api import Emu, emu  # noqa: F401  (the fixture)

XLSX = b"PK\x03\x04 pretend workbook"


async def test_a_document_becomes_a_download_link(emu: Emu) -> None:  # noqa: F811
    name = "antt-xã-001.xlsx"
    await emu.channel.send("officer", [Message("Export", document=XLSX, document_name=name)])
    history = await emu.get("/api/personas/officer/history")
    entry = history["entries"][-1]
    assert entry["document_name"] == name and entry["document"].startswith("/api/documents/")
    async with emu.http.get(entry["document"]) as resp:
        assert resp.status == 200
        assert await resp.read() == XLSX
        assert resp.headers["Content-Disposition"] == (
            "attachment; filename*=UTF-8''" + quote(name, safe="")
        )
    async with emu.http.get("/api/documents/" + "0" * 64) as resp:
        assert resp.status == 404
    await emu.channel.send("officer", [Message("no file")])
    history = await emu.get("/api/personas/officer/history")
    assert history["entries"][-1]["document"] is None
