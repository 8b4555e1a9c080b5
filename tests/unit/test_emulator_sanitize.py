"""The emulator keeps only Telegram's tags of a message's HTML."""

from __future__ import annotations

import pytest

from bot.channels.emulator.sanitize import sanitize_html
from handlers.render import esc


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("<b>Đậm</b> <i>nghiêng</i> <u>gạch</u> <s>xóa</s>", None),
        ("<code>ABC-123</code>\n<pre>bảng</pre>", None),
        (
            "<strong>a</strong><em>b</em><ins>c</ins><del>d</del>",
            "<b>a</b><i>b</i><u>c</u><s>d</s>",
        ),
        ("a &lt; b &amp;&amp; c &gt; d", None),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ('<img src=x onerror="alert(1)">', '&lt;img src=x onerror="alert(1)"&gt;'),
        ('<b onclick="x()">hi</b>', "<b>hi</b>"),
        ("<b>open", "<b>open</b>"),
        ("stray</i>", "stray&lt;/i&gt;"),
        ("<b><i>x</b>", "<b><i>x</i></b>"),
        ("<!-- note -->ok", "ok"),
        ("line<br/>break", "line&lt;br/&gt;break"),
    ],
)
def test_sanitize(given: str, shown: str | None) -> None:
    assert sanitize_html(given) == (given if shown is None else shown)


def test_links_keep_only_safe_schemes() -> None:
    assert sanitize_html('<a href="https://x.vn/a?b=1&amp;c=2">x</a>') == (
        '<a href="https://x.vn/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">x</a>'
    )
    assert sanitize_html('<a href="javascript:alert(1)">x</a>') == "<a>x</a>"
    assert sanitize_html('<a href=" JAVASCRIPT:alert(1)">x</a>') == "<a>x</a>"
    assert (
        sanitize_html('<a href="https://x.vn/" onmouseover="y()">x</a>').count("onmouseover") == 0
    )


def test_escaped_user_text_stays_text() -> None:
    user = '<b>not bold</b> & "quoted"'
    assert sanitize_html(f"<b>Tên:</b> {esc(user)}") == (
        '<b>Tên:</b> &lt;b&gt;not bold&lt;/b&gt; &amp; "quoted"'
    )
