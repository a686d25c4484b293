"""The grader's own environment: checked before anything is graded, and part of what a result is keyed on.

A grader run by the wrong interpreter (no pytest, another aiohttp) cannot
run a single test, and would otherwise blame every student for it: every
graded run would end early and score 0. So ``grade``, ``check`` and
``batch`` first ask :func:`problems`, and refuse to grade with one line when
it finds any. The check asks the interpreter the graded runs use
(``sys.executable -I``, what the runner starts), not this process, whose
import path may differ.
"""
from __future__ import annotations

import hashlib
import json
import platform
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

from grader.catalog import update_digest
from grader.errors import EnvironmentFault

PROBE_TIMEOUT = 60.0  # seconds the graded runs' interpreter may take to list its packages
_PIN = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s;,]+)\s*$")
# The distributions every graded run imports, with the versions pyproject.toml pins (its ``dependencies``).
PINNED_NAMES = ("pytest", "pytest-asyncio", "pytest-timeout", "looptime", "aiohttp", "aioresponses")
_GRADER = Path(__file__).resolve().parent

# Asks the graded runs' interpreter which versions it has and whether each module is on its import path,
# without importing any (aiohttp alone takes most of a second); the fork server imports them soon after.
_PROBE = """\
import importlib.metadata as m, importlib.util, json, sys
out = {"python": list(sys.version_info[:3]), "packages": {}}
for name, module in json.loads(sys.argv[1]).items():
    try:
        version = m.version(name)
    except m.PackageNotFoundError:
        out["packages"][name] = None
        continue
    if importlib.util.find_spec(module) is None:
        version = "broken: installed, but its module is not importable"
    out["packages"][name] = version
print(json.dumps(out))
"""
_MODULES = {"pytest": "pytest", "pytest-asyncio": "pytest_asyncio", "pytest-timeout": "pytest_timeout",
            "looptime": "looptime", "aiohttp": "aiohttp", "aioresponses": "aioresponses"}


def pins(course_root: Path) -> dict[str, str]:
    """The exact versions ``pyproject.toml`` pins for the packages graded runs import (empty without one)."""
    try:
        data = tomllib.loads((course_root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    found: dict[str, str] = {}
    for requirement in data.get("project", {}).get("dependencies", []):
        match = _PIN.match(str(requirement))
        if match and match.group(1).lower() in PINNED_NAMES:
            found[match.group(1).lower()] = match.group(2)
    return found


@cache
def _probe(executable: str) -> dict[str, object]:
    """What the graded runs' interpreter reports about itself; ``{"error": ...}`` when it cannot say."""
    try:
        done = subprocess.run([executable, "-I", "-c", _PROBE, json.dumps(_MODULES)], capture_output=True,
                              text=True, timeout=PROBE_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": f"cannot run {executable}: {exc}"}
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        assert isinstance(answer, dict)
        return answer
    except (IndexError, ValueError, AssertionError):
        return {"error": f"{executable} -I could not list its packages (exit status {done.returncode})"}


def package_problems(course_root: Path, executable: str = sys.executable) -> list[str]:
    """One line per pinned package missing, broken or at another version than pyproject.toml pins."""
    answer = _probe(executable)
    if "error" in answer:
        return [str(answer["error"])]
    installed = answer.get("packages")
    assert isinstance(installed, dict)
    wanted = pins(course_root)
    problems = []
    for name in PINNED_NAMES:
        version = installed.get(name)
        if version is None:
            problems.append(f"{name} is not installed for {executable}")
        elif str(version).startswith("broken"):
            problems.append(f"{name} is {version.removeprefix('broken: ')} by {executable}")
        elif name in wanted and version != wanted[name]:
            problems.append(f"{name} is {version}, pyproject.toml pins {wanted[name]}")
    return problems


def python_problems(executable: str = sys.executable) -> list[str]:
    """One line when the graded runs' Python is outside the course's 3.11-3.13."""
    answer = _probe(executable)
    version = answer.get("python")
    if not isinstance(version, list) or len(version) < 2:
        return []  # package_problems already says the interpreter cannot answer
    if not (3, 11) <= (int(version[0]), int(version[1])) < (3, 14):
        return [f"{executable} is Python {version[0]}.{version[1]}; the course needs 3.11 to 3.13"]
    return []


def sandbox_problems(mode: str = "off") -> list[str]:
    """One line when the sandbox ``mode`` demands (``--sandbox required``) cannot be made here; empty otherwise."""
    from grader import sandbox

    return sandbox.problems(mode) if mode in sandbox.MODES else []  # type: ignore[arg-type]


def problems(course_root: Path, executable: str = sys.executable, *, sandbox: str = "off") -> list[str]:
    """Everything that keeps the grader from grading here (under the sandbox mode ``sandbox``), one line each."""
    found = package_problems(course_root, executable)
    return found + python_problems(executable) + ([] if found else sandbox_problems(sandbox))


def require_usable(course_root: Path, executable: str = sys.executable, *, sandbox: str = "off") -> None:
    """Raise EnvironmentFault (one line) unless the grader can grade here, under the sandbox mode ``sandbox``."""
    found = package_problems(course_root, executable) + python_problems(executable)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise EnvironmentFault(f"the grader cannot grade with this environment: {found[0]}{more}; "
                               f"install the course's pinned packages (pip install -e .) and run it again")
    for problem in sandbox_problems(sandbox):
        raise EnvironmentFault(problem)


def fingerprint(executable: str = sys.executable) -> str:
    """A hash of the grader's own code and of the environment graded runs use.

    Part of every key a re-run trusts: a changed grader, Python or package
    version regrades instead of keeping results it might not give today.
    """
    digest = hashlib.sha256(b"grader-environment/1\0")
    for source in sorted(_GRADER.rglob("*.py")):
        if "__pycache__" not in source.parts:
            update_digest(digest, f"grader/{source.relative_to(_GRADER).as_posix()}", source.read_bytes())
    answer = {k: v for k, v in _probe(executable).items() if k != "error"}
    update_digest(digest, "interpreter", json.dumps([executable, platform.machine(), answer], sort_keys=True).encode())
    return digest.hexdigest()
