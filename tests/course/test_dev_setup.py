"""``dev.py``'s environment set-up: the demo installs only what grading needs, extras are added in place."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from repo_support import ROOT

sys.path.insert(0, str(ROOT))
import dev  # noqa: E402


@pytest.fixture
def installs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[list[str]]:
    """Records what setup would run, and fakes a created environment instead of building one."""
    made: list[list[str]] = []

    def create(builder: Any, env: Path) -> None:
        made.append(["create", str(env)])
        (Path(env) / "bin").mkdir(parents=True, exist_ok=True)
        (Path(env) / "bin" / "python").touch()

    def run(command: list[str], check: bool = False, **_: Any) -> subprocess.CompletedProcess[str]:
        made.append([str(part) for part in command])
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(dev.venv.EnvBuilder, "create", create)
    monkeypatch.setattr(dev.subprocess, "run", run)
    (tmp_path / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    monkeypatch.setattr(dev, "ROOT", tmp_path)
    return made


def _pip_targets(made: list[list[str]]) -> list[str]:
    return [command[-1] for command in made if "pip" in command]


def test_the_demo_installs_the_runtime_dependencies_only(installs: list[list[str]], tmp_path: Path) -> None:
    env = tmp_path / ".venv"
    dev.setup(env, extras="")
    assert installs[0] == ["create", str(env)]
    assert _pip_targets(installs) == [str(tmp_path)]


def test_extras_are_added_to_the_same_environment_and_then_reused(installs: list[list[str]], tmp_path: Path) -> None:
    env = tmp_path / ".venv"
    dev.setup(env, extras="")
    dev.setup(env, extras="dev,nbgrader")
    dev.setup(env, extras="dev")  # already there: nothing runs
    dev.setup(env, extras="")
    creations = [command for command in installs if command[0] == "create"]
    assert len(creations) == 1, "adding extras must not rebuild (and so wipe) the environment"
    assert _pip_targets(installs) == [str(tmp_path), f"{tmp_path}[dev,nbgrader]"]


def test_a_changed_pyproject_rebuilds_the_environment(installs: list[list[str]], tmp_path: Path) -> None:
    env = tmp_path / ".venv"
    dev.setup(env, extras="dev")
    (env / ".installed").write_text("an older pyproject\ndev")
    dev.setup(env, extras="dev")
    assert [command[0] for command in installs].count("create") == 2


def test_every_package_of_the_course_is_packaged() -> None:
    """A package folder missing from pyproject.toml's list would be left out of a wheel (a non-editable install,
    an autograder image): the probe runtime's ``coursekit.probes`` once was."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("grader", "coursekit")
             for p in (ROOT / top).rglob("__init__.py") if "__pycache__" not in p.parts}
    assert found <= listed, f"packages missing from pyproject.toml: {sorted(found - listed)}"
