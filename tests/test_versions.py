"""The declared version ranges agree, and requirements-lowest.txt pins their floors, so
`make test-lowest` tests the oldest versions a reader may have."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
tomllib = pytest.importorskip("tomllib")


def requirement_lines(name: str) -> list[str]:
    lines = (ROOT / name).read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines
            if line.split("#")[0].strip() and not line.startswith(("-r", "-e"))]


def split(requirement: str) -> tuple[str, str]:
    name, spec = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(.*)", requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.match(r"[0-9.]+", version).group().rstrip(".").split("."))


def test_pyproject_and_requirements_declare_the_same_ranges():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = dict(split(r) for r in requirement_lines("requirements.txt")
                    + requirement_lines("requirements-test.txt"))
    for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
        name, spec = split(requirement)
        assert declared.get(name) == spec, f"{name}: pyproject.toml says {spec!r}, " \
                                           f"requirements*.txt say {declared.get(name)!r}"


def test_lowest_pins_are_the_floors():
    declared = dict(split(r) for r in requirement_lines("requirements.txt")
                    + requirement_lines("requirements-test.txt"))
    pins = dict(split(r) for r in requirement_lines("requirements-lowest.txt"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {split(r)[0] for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    needed -= {"playwright", "nbval"}  # only the site and notebook tests use them: not run there
    assert needed <= set(pins), f"requirements-lowest.txt lacks {sorted(needed - set(pins))}"
    for name, pin in pins.items():
        assert pin.startswith("=="), f"{name}: requirements-lowest.txt must pin with ==, got {pin}"
        floor = re.search(r"(?:>=|==)([0-9][0-9.]*)", declared[name]).group(1)
        # the floor itself, or its first patch release when that was yanked (scipy 1.11.0)
        assert release(pin[2:])[:len(release(floor))] == release(floor), (
            f"{name}: requirements-lowest.txt pins {pin}, but the floor is {floor}")
