"""Escaping, plain-text fallback, and splitting long texts for Telegram's 4096 limit."""

from __future__ import annotations

import re

from handlers.render import TELEGRAM_LIMIT, bold, esc, split_text, to_plain, visible_length


def test_esc_escapes_html_but_not_quotes() -> None:
    assert esc("<b>Tom & Jerry</b>") == "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;"
    assert esc('say "hi" it\'s') == 'say "hi" it\'s'
    assert esc(42) == "42"
    assert esc("Nguyễn Văn Ánh") == "Nguyễn Văn Ánh"


def test_to_plain_strips_tags_and_unescapes() -> None:
    text = bold(esc("<Cường>")) + " <i>đã</i> gửi &amp; <code>ABC</code>"
    assert to_plain(text) == "<Cường> đã gửi & ABC"


def test_esc_then_to_plain_round_trips() -> None:
    raw = "a < b > c & d <b>not bold</b>"
    assert to_plain(esc(raw)) == raw


def _tags_balanced(part: str) -> bool:
    for tag in ("b", "i", "code"):
        if part.count(f"<{tag}>") != part.count(f"</{tag}>"):
            return False
    # No tag cut in half: every "<" opens a whole tag.
    return re.search(r"<[^>]*$", part) is None


def test_short_text_is_one_part() -> None:
    assert split_text("hello\n<b>world</b>") == ["hello\n<b>world</b>"]


def test_many_lines_split_on_line_breaks() -> None:
    lines = [f"<b>{i:04d}</b> " + esc("<x>") * 20 for i in range(400)]  # ~26 000 visible
    text = "\n".join(lines)
    parts = split_text(text)
    assert len(parts) > 1
    for part in parts:
        assert visible_length(part) <= TELEGRAM_LIMIT
        assert _tags_balanced(part)
    # Nothing lost, nothing reordered: the parts are the lines, regrouped.
    assert "\n".join(parts) == text


def test_long_single_line_is_cut_as_plain_text() -> None:
    line = "Nghệ An " * 1500  # 12 000 characters, no line break
    parts = split_text(bold(line))
    assert len(parts) == 3
    assert all(visible_length(p) <= TELEGRAM_LIMIT for p in parts)
    assert "".join(to_plain(p) for p in parts) == line


def test_long_line_of_escaped_text_stays_escaped() -> None:
    raw = "<&>" * 3000  # 9 000 visible characters, 27 000 once escaped
    parts = split_text(esc(raw))
    assert all(visible_length(p) <= TELEGRAM_LIMIT for p in parts)
    assert all("<" not in p for p in parts), "user text is escaped again after the cut"
    assert "".join(to_plain(p) for p in parts) == raw


def test_long_line_between_short_ones_keeps_order() -> None:
    text = "first\n" + "x" * 5000 + "\nlast"
    parts = split_text(text)
    assert parts[0] == "first" and parts[-1] == "last"
    assert "".join(parts[1:-1]) == "x" * 5000
    assert all(visible_length(p) <= TELEGRAM_LIMIT for p in parts)


def test_custom_limit() -> None:
    parts = split_text("aaaa\nbbbb\ncccc", limit=10)
    assert parts == ["aaaa\nbbbb", "cccc"]
    assert all(visible_length(p) <= 10 for p in parts)


def test_empty_text() -> None:
    assert split_text("") == [""]
