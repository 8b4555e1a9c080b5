"""Every user-facing string reaches the catalogue: checked by parsing the code (AST).

Babel extracts only literal arguments of ``_()``, ``N_()`` and ``ngettext()``;
a call with a variable, a concatenation or a ``.format()`` inside, or one
written inside an f-string (where the extractor never looks), is a string that
stays English. The second half records what is translated while the CLI runs
(argparse's own texts included) and checks that each msgid is in the
extraction, so ``pybabel update --ignore-obsolete`` can never drop it.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.test_catalogue import catalogue, extracted

ROOT = Path(__file__).resolve().parents[2]
GETTEXT = {"_": 1, "N_": 1, "ngettext": 2}


def _source_files() -> Iterator[Path]:
    for top in ("bot", "handlers", "scheduler", "db"):
        yield from sorted((ROOT / top).rglob("*.py"))


def gettext_problems(source: str, filename: str = "<string>") -> list[str]:
    """Lines where a gettext call cannot be extracted, with the reason."""
    tree = ast.parse(source, filename=filename)
    bad: list[str] = []
    inside_fstring: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name):
                    if sub.func.id in GETTEXT:
                        inside_fstring.add(id(sub))
                        bad.append(f"{filename}:{sub.lineno}: {sub.func.id}() inside an f-string")
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        wanted = GETTEXT.get(node.func.id)
        if wanted is None:
            continue
        args = node.args[:wanted]
        if len(args) < wanted or node.keywords:
            bad.append(f"{filename}:{node.lineno}: {node.func.id}() without literal msgids")
            continue
        for arg in args:
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                bad.append(
                    f"{filename}:{node.lineno}: {node.func.id}() of a non-literal "
                    f"({ast.unparse(arg)[:60]})"
                )
    return bad


def test_the_check_catches_what_babel_cannot_extract() -> None:
    # The bug of issue 16, as it was in handlers/checkin.py.
    before = "text = f\"{head}\\n{question}\\n{_('Send a number.')}\"\n"
    assert gettext_problems(before) == ["<string>:1: _() inside an f-string"]
    assert gettext_problems("x = _(label)\n") == ["<string>:1: _() of a non-literal (label)"]
    assert gettext_problems("x = _('a' + b)\n")[0].endswith("non-literal ('a' + b)")
    assert gettext_problems("x = _('{n}'.format(n=1))\n")[0].endswith(
        "non-literal ('{n}'.format(n=1))"
    )
    assert gettext_problems("x = ngettext('a', plural, n)\n")[0].endswith("non-literal (plural)")
    assert gettext_problems("x = N_(name)\n")[0].endswith("non-literal (name)")
    assert gettext_problems("x = ngettext('one')\n") != []
    # What is fine: literals, formatted after the call, and in an f-string by value.
    good = (
        "a = _('Send a number.')\n"
        "b = _('{n} tasks').format(n=3)\n"
        "c = ngettext('{n} day', '{n} days', 2).format(n=2)\n"
        "d = f'{a}\\n{b}'\n"
    )
    assert gettext_problems(good) == []


def test_every_gettext_call_in_the_code_is_extractable() -> None:
    bad: list[str] = []
    for path in _source_files():
        bad += gettext_problems(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    if bad:
        pytest.fail(
            "gettext calls Babel cannot extract (use a literal msgid, format after the "
            "call, and keep _() out of f-strings):\n  " + "\n  ".join(bad),
            pytrace=False,
        )


# --- what is translated at run time ----------------------------------------------


def argparse_msgids() -> set[str]:
    """The literal msgids argparse itself passes to gettext (``usage: ``, ``options``...)."""
    tree = ast.parse(Path(argparse.__file__).read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            # A plural is found by its singular, as in the extraction.
            if node.func.id in ("_", "ngettext") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(arg.value)
    return found


@pytest.fixture
def looked_up(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Every msgid the code asks the catalogue for while the test runs."""
    from handlers import i18n

    seen: set[str] = set()
    real = i18n.translations

    class Recording:
        def __init__(self, lang: str) -> None:
            self.inner = real(lang)

        def gettext(self, message: str) -> str:
            seen.add(message)
            return self.inner.gettext(message)

        def ngettext(self, singular: str, plural: str, n: int) -> str:
            seen.add(singular)
            return self.inner.ngettext(singular, plural, n)

    monkeypatch.setattr(i18n, "translations", Recording)
    return seen


def _run_cli(*argv: str) -> str:
    from bot import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        with contextlib.suppress(SystemExit):
            cli.main(list(argv))
    return out.getvalue() + err.getvalue()


def test_cli_msgids_used_at_run_time_are_extracted(
    looked_up: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTT_DEFAULT_LANGUAGE", "vi")
    from bot import cli

    _run_cli("--help")
    for name in cli.COMMANDS:
        _run_cli(name, "--help")
    _run_cli("no-such-command")
    _run_cli("qr")  # a required argument missing
    assert "usage: " in looked_up, "argparse's texts go through our catalogue"
    found = extracted()
    vi = catalogue("vi")
    missing = sorted(m for m in looked_up if m not in found)
    assert not missing, f"translated at run time but not extracted: {missing}"
    untranslated = sorted(m for m in looked_up if not (vi.get(m) and vi.get(m).string))  # type: ignore[union-attr]
    assert not untranslated, f"no Vietnamese for: {untranslated}"


def test_argparse_texts_are_all_extracted_and_translated() -> None:
    found = extracted()
    vi = catalogue("vi")
    wanted = argparse_msgids()
    assert {"usage: ", "options", "show this help message and exit"} <= wanted
    missing = sorted(m for m in wanted if m not in found)
    assert not missing, f"argparse msgids missing from bot/argparse_texts.py: {missing}"
    for msgid in wanted:
        entry = vi.get(msgid)
        assert entry is not None and entry.string, msgid


def test_argparse_speaks_vietnamese(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTT_DEFAULT_LANGUAGE", "vi")
    text = _run_cli("qr", "--help")
    assert "cách dùng:" in text and "usage:" not in text
    assert "tùy chọn:" in text and "options:" not in text
    assert "hiện trợ giúp này rồi thoát" in text
    error = _run_cli("qr")
    assert "lỗi:" in error and "error:" not in error
    monkeypatch.setenv("ANTT_DEFAULT_LANGUAGE", "en")
    assert "usage:" in _run_cli("qr", "--help")
