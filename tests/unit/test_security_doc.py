"""docs/security.md: the threat model says what, from whom, how, what not; its tests exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_threat_model_has_its_parts_and_names_real_tests() -> None:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    for heading in (
        "## What is protected",
        "## From whom",
        "## How",
        "## What is not protected",
        "## Rotating the key",
    ):
        assert heading in text, heading
    named = re.findall(r"`(tests/[\w/]+\.py)`", text)
    assert "tests/security/test_dump_cannot_name_reporters.py" in named
    for path in named:
        assert (ROOT / path).is_file(), path
    assert "Telegram" in text.split("## What is not protected")[1]
