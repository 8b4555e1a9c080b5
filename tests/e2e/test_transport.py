"""AiohttpRequest, PTB's transport here, against a small HTTP server on 127.0.0.1.

The Telegram e2e tests run every Bot API call through it; these cover what they
do not reach: the exact wire format, timeouts, refused connections, restart.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import BodyPartReader, web
from telegram import InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.channels.telegram.transport import AiohttpRequest


class Server:
    def __init__(self) -> None:
        self.seen: list[dict[str, object]] = []
        self.delay = 0.0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay)
        entry: dict[str, object] = {
            "method": request.method,
            "content_type": request.content_type,
            "agent": request.headers.get("User-Agent", ""),
        }
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            parts = {}
            async for part in reader:
                assert isinstance(part, BodyPartReader)
                content_type = part.headers.get("Content-Type")
                parts[part.name] = (part.filename, content_type, await part.read())
            entry["parts"] = parts
        elif request.content_type == "application/json":
            entry["json"] = await request.json()
        elif request.method == "POST":
            entry["form"] = dict(await request.post())
        self.seen.append(entry)
        return web.json_response({"ok": True, "result": True}, status=200)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", srv.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    srv.url = f"http://127.0.0.1:{port}/botTOKEN/"
    yield srv
    await runner.cleanup()


def _data(**params: object) -> RequestData:
    return RequestData([RequestParameter.from_input(k, v) for k, v in params.items()])


async def test_parameters_go_as_one_json_body(server: Server) -> None:
    request = AiohttpRequest()
    await request.initialize()
    try:
        status, body = await request.do_request(
            server.url + "sendMessage",
            "POST",
            _data(chat_id=42, text="Xin chào <b>", reply_markup={"inline_keyboard": []}),
        )
    finally:
        await request.shutdown()
    assert status == 200 and json.loads(body) == {"ok": True, "result": True}
    (seen,) = server.seen
    assert seen["content_type"] == "application/json"
    assert seen["json"] == {
        "chat_id": 42,
        "text": "Xin chào <b>",
        "reply_markup": {"inline_keyboard": []},
    }
    assert "python-telegram-bot" in str(seen["agent"])


async def test_files_go_multipart_with_name_and_type(server: Server) -> None:
    request = AiohttpRequest()
    await request.initialize()
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    try:
        status, _ = await request.do_request(
            server.url + "sendPhoto",
            "POST",
            _data(chat_id=7, caption="Biểu đồ", photo=InputFile(png, filename="chart.png")),
        )
    finally:
        await request.shutdown()
    assert status == 200
    parts = server.seen[0]["parts"]
    assert isinstance(parts, dict)
    assert parts["chat_id"][2] == b"7" and parts["caption"][2] == "Biểu đồ".encode()
    filename, content_type, content = parts["photo"]
    assert (filename, content_type, content) == ("chart.png", "image/png", png)


async def test_a_slow_answer_times_out(server: Server) -> None:
    server.delay = 1.0
    request = AiohttpRequest(read_timeout=0.2)
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await request.do_request(server.url + "getMe", "POST", _data())
        # A timeout passed for one call wins over the default.
        server.delay = 0.3
        status, _ = await request.do_request(server.url + "getMe", "POST", read_timeout=2.0)
        assert status == 200
    finally:
        await request.shutdown()


async def test_a_refused_connection_is_a_network_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        request = AiohttpRequest()
        await request.initialize()
        try:
            with pytest.raises(NetworkError) as caught:
                await request.do_request(f"http://127.0.0.1:{port}/botX/getMe", "POST")
        finally:
            await request.shutdown()
    assert not isinstance(caught.value, TimedOut)


async def test_shut_down_until_initialized_again(server: Server) -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError):
        await request.do_request(server.url + "getMe", "POST")
    await request.initialize()
    await request.shutdown()
    with pytest.raises(RuntimeError):
        await request.do_request(server.url + "getMe", "POST")
    await request.initialize()
    try:
        status, _ = await request.do_request(server.url + "file/x.jpg", "GET")
    finally:
        await request.shutdown()
    assert status == 200 and server.seen[-1]["method"] == "GET"
