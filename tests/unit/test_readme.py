"""The README's Quick start stays two commands, and CI runs the second as written."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    return [line for block in blocks for line in block.strip().splitlines()]


def test_quick_start_is_two_commands() -> None:
    commands = quick_start_commands()
    assert len(commands) == 2
    assert commands[0].startswith("python3.11 -m venv .venv")
    assert "antt demo" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert quick_start_commands()[1] in ci


def test_every_image_the_readme_shows_exists() -> None:
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text)
        for target in images:
            if "://" in target:
                continue
            assert (doc.parent / target).is_file(), f"{doc.name} shows a missing image: {target}"


def test_the_fake_bot_api_reads_its_spec_from_inside_the_repository() -> None:
    from tests.fakes.telegram_api import DEFAULT_SPEC_PATH

    spec = DEFAULT_SPEC_PATH.resolve()
    assert spec.is_file()
    assert ROOT in spec.parents
    assert (spec.parent / "LICENSE-bot-api").read_text(encoding="utf-8").startswith("MIT")
