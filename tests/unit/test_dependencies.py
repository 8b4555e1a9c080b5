"""Known-good dependencies: floors without published advisories, and a lock with hashes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
# The first releases without the advisories published against older ones (docs/security.md).
FLOORS = {"aiohttp": "3.14.5", "cryptography": "50.0.2", "pillow": "13.0"}


def runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in project["dependencies"]]


def locked() -> dict[str, tuple[Version, int]]:
    """name -> (pinned version, number of hashes) from requirements.lock."""
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    found: dict[str, tuple[Version, int]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        head = re.match(r"([A-Za-z0-9._-]+)==([^\s\\]+)", block)
        if head:
            found[canonicalize_name(head.group(1))] = (
                Version(head.group(2)),
                block.count("--hash=sha256:"),
            )
    return found


def test_floors_are_raised_past_the_advisories() -> None:
    declared = {canonicalize_name(r.name): r for r in runtime_requirements()}
    for name, floor in FLOORS.items():
        spec = declared[name].specifier
        assert not spec.contains(Version("0.1")), name
        below = Version(floor).release
        older = Version(".".join(map(str, (*below[:-1], max(below[-1] - 1, 0)))))
        if older < Version(floor):
            assert not spec.contains(older), f"{name} still allows {older}"
        assert spec.contains(Version(floor)), name


def test_the_lock_pins_every_runtime_dependency_with_hashes() -> None:
    pins = locked()
    for requirement in runtime_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock"
        version, hashes = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (name, version)
        assert hashes >= 1, f"{name} has no hash"
    assert all(hashes >= 1 for _version, hashes in pins.values())


def test_the_readme_says_how_to_refresh_the_lock() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip-compile --generate-hashes" in readme and "requirements.lock" in readme
    assert "pip install --require-hashes -r requirements.lock" in readme
