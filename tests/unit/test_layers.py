"""The arrows of DESIGN.md's layout: handlers/ never reaches up into scheduler/ or a messenger."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("scheduler", "telegram", "bot.channels.telegram", "bot.channels.zalo")


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_handlers_import_neither_the_scheduler_nor_a_messenger() -> None:
    wrong = {
        f"{path.name}: {name}"
        for path in sorted((ROOT / "handlers").glob("*.py"))
        for name in imported(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    }
    assert not wrong, sorted(wrong)


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from scheduler.outbox import quiet_until\n")
    assert "scheduler.outbox" in imported(module)
