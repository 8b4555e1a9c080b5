"""A document (an export) in a ``Message``: through the outbox JSON and onto Telegram."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, InputFile

from bot.channels.telegram.render import render_message, render_reply
from handlers.types import Choice, Message, message_from_json, message_to_json

XLSX = b"PK\x03\x04 pretend workbook"


def test_document_survives_the_outbox_json() -> None:
    msg = Message("Export <b>ready</b>", document=XLSX, document_name="antt-vinh.xlsx")
    data = message_to_json(msg)
    assert isinstance(data["document"], str)  # base64, JSON-safe
    back = message_from_json(data)
    assert back.document == XLSX and back.document_name == "antt-vinh.xlsx"
    assert message_from_json(message_to_json(Message("plain"))).document is None


def test_document_is_sent_with_its_name_and_the_text_as_caption() -> None:
    [call] = render_message(Message("Export <b>ready</b>", document=XLSX, document_name="a.xlsx"))
    assert call.method == "send_document"
    upload = call.kwargs["document"]
    assert isinstance(upload, InputFile) and upload.filename == "a.xlsx"
    assert upload.input_file_content == XLSX
    assert call.kwargs["caption"] == "Export <b>ready</b>"


def test_long_text_follows_the_document_and_keeps_the_keyboard() -> None:
    text = "x" * 2000
    calls = render_reply(
        [Message(text, choices=[Choice("m:menu", "Menu")], document=XLSX, document_name="a.xlsx")]
    )
    assert [c.method for c in calls] == ["send_document", "send_message"]
    assert "caption" not in calls[0].kwargs
    assert calls[1].kwargs["text"] == text
    assert isinstance(calls[1].markup, InlineKeyboardMarkup)


def test_document_without_text_carries_the_keyboard() -> None:
    [call] = render_message(
        Message("", choices=[Choice("m:menu", "Menu")], document=XLSX, document_name="a.xlsx")
    )
    assert call.method == "send_document" and isinstance(call.markup, InlineKeyboardMarkup)
