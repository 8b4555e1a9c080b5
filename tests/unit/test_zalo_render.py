"""Zalo rendering and updates: plain text, numbered choices, 2000-character parts."""

from __future__ import annotations

import datetime as dt

from bot.channels.zalo.adapter import to_incoming, unwrap
from bot.channels.zalo.render import TEXT_LIMIT, render_message, render_reply, split_plain
from handlers.i18n import set_language
from handlers.types import Choice, MediaRef, Message

UPDATE = {
    "event_name": "message.text.received",
    "message": {
        "message_id": "16f6366b3f02645a3d15",
        "date": 1766619597466,
        "text": "Xin chào",
        "chat": {"id": "e4ea2cd5189df1c3a88c", "chat_type": "PRIVATE"},
        "from": {"id": "e4ea2cd5189df1c3a88c", "display_name": "Nguyen Van A", "is_bot": False},
    },
}


def test_text_is_plain_and_choices_are_numbered() -> None:
    set_language("en")
    try:
        [call] = render_message(
            Message(
                "<b>Menu</b> &amp; more <i>x</i>",
                choices=[Choice("m:tip", "Send a <tip>"), Choice("m:lang", "Language")],
            )
        )
    finally:
        set_language("vi")
    assert call.method == "sendMessage"
    assert call.params["text"] == (
        "Menu & more x\n\nReply with a number:\n1. Send a <tip>\n2. Language"
    )


def test_requests_ask_to_type_and_the_last_list_is_remembered() -> None:
    set_language("en")
    try:
        calls, shown = render_reply(
            [
                Message("Where?", choices=[Choice("t:pick", "Choose from the list")]),
                Message("Tap the button below.", request="location"),
            ]
        )
    finally:
        set_language("vi")
    texts = [c.params["text"] for c in calls]
    assert texts == [
        "Where?\n\nReply with a number:\n1. Choose from the list",
        "Type the name of the commune or ward.",
    ]
    assert [c.id for c in shown] == ["t:pick"]
    assert render_reply([Message("Thanks.")])[1] == []


def test_long_text_is_split_within_the_limit_without_losing_anything() -> None:
    text = "\n".join(f"Dòng {n}: " + "x" * 90 for n in range(60)) + "\n" + "y" * 4500
    parts = split_plain(text)
    assert all(0 < len(p) <= TEXT_LIMIT for p in parts)
    assert "".join(p.replace("\n", "") for p in parts) == text.replace("\n", "")
    calls = render_message(Message(text))
    assert [c.params["text"] for c in calls] == parts


def test_zalo_photos_go_again_by_url_other_files_do_not() -> None:
    files = (MediaRef("photo", "https://photo.zdn.vn/1.jpg"), MediaRef("photo", "AgAD-tg"))
    calls = render_message(Message("Files", files=files))
    assert [(c.method, c.params) for c in calls] == [
        ("sendPhoto", {"photo": "https://photo.zdn.vn/1.jpg"}),
        ("sendMessage", {"text": "Files"}),
    ]


def test_update_becomes_incoming() -> None:
    inp = to_incoming(UPDATE)
    assert inp is not None
    assert (inp.channel, inp.user_id, inp.chat_id) == (
        "zalo",
        UPDATE["message"]["from"]["id"],
        UPDATE["message"]["chat"]["id"],
    )  # type: ignore[index]
    assert inp.update_id == "16f6366b3f02645a3d15" and inp.text == "Xin chào"
    assert inp.display_name == "Nguyen Van A" and inp.language_code == "vi"
    assert inp.received_at == dt.datetime(2025, 12, 24, 23, 39, 57, 466000, tzinfo=dt.UTC)
    assert unwrap({"ok": True, "result": UPDATE}) == UPDATE and unwrap(UPDATE) == UPDATE


def test_commands_images_groups_and_bots() -> None:
    msg = dict(UPDATE["message"])  # type: ignore[arg-type]
    start = to_incoming({**UPDATE, "message": {**msg, "text": "/start inv_ABC123"}})
    assert start is not None and (start.command, start.args, start.text) == (
        "start",
        "inv_ABC123",
        None,
    )
    image = to_incoming(
        {
            "event_name": "message.image.received",
            "message": {
                **msg,
                "text": None,
                "photo": "https://photo.zdn.vn/a.jpg",
                "caption": "Ở chợ",
            },
        }
    )
    assert image is not None and image.text == "Ở chợ"
    assert [(m.kind, m.file_id) for m in image.media] == [("photo", "https://photo.zdn.vn/a.jpg")]
    group = {**msg, "chat": {"id": "g1", "chat_type": "GROUP"}}
    assert to_incoming({**UPDATE, "message": group}) is None
    bot = {**msg, "from": {"id": "b", "is_bot": True}}
    assert to_incoming({**UPDATE, "message": bot}) is None
    assert to_incoming({"event_name": "x"}) is None


def test_a_numeric_question_never_offers_its_buttons_by_number() -> None:
    """At "how many?", a typed 1 is the count, not the first button (issue 16)."""
    ask = Message(
        "How many have been achieved so far?",
        choices=[Choice("ck:a:7", "« Back to the task")],
        numeric_answer=True,
    )
    set_language("en")
    try:
        calls, shown = render_reply([ask])
    finally:
        set_language("vi")
    text = calls[0].params["text"]
    assert "1. " not in text and "/cancel" in text
    assert shown == [], "nothing remembered: the next number is the answer"
    # The same message without the flag numbers its button as usual.
    calls, shown = render_reply([Message(ask.text, choices=ask.choices)])
    assert "1. « Back to the task" in calls[0].params["text"] and shown == ask.choices
