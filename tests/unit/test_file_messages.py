"""Files sent earlier, shown again (``Message.files``): the outbox JSON and Telegram calls."""

from __future__ import annotations

from bot.channels.telegram.render import render_message
from handlers.types import Choice, MediaRef, Message, message_from_json, message_to_json

FILES = (
    MediaRef("photo", "AgAD-p"),
    MediaRef("video", "BAAD-v"),
    MediaRef("voice", "AwAD-o"),
    MediaRef("document", "BQAD-d", name="list.pdf"),
)


def test_files_survive_the_outbox_json() -> None:
    back = message_from_json(message_to_json(Message("Files", files=FILES)))
    assert [(f.kind, f.file_id, f.name) for f in back.files] == [
        (f.kind, f.file_id, f.name) for f in FILES
    ]
    assert message_from_json(message_to_json(Message("plain"))).files == ()


def test_files_go_out_by_file_id_before_the_text_and_its_keyboard() -> None:
    calls = render_message(
        Message("Files of tip #3: 4", choices=[Choice("tr:open:3", "Back")], files=FILES)
    )
    assert [(c.method, c.kwargs) for c in calls[:4]] == [
        ("send_photo", {"photo": "AgAD-p"}),
        ("send_video", {"video": "BAAD-v"}),
        ("send_voice", {"voice": "AwAD-o"}),
        ("send_document", {"document": "BQAD-d"}),
    ]
    [text] = calls[4:]
    assert text.method == "send_message" and text.kwargs["text"] == "Files of tip #3: 4"
    assert text.markup is not None
