"""Stage: a fresh folder per graded run holding the course's tests and only the contract files.

Nothing of the submission but ``assignments/NN/<module>.py`` is copied, so a
student's conftest.py, pytest.ini, pyproject.toml, sitecustomize.py or a
module shadowing a library never reaches pytest. The runtime the child
process needs (the course's test kit and the grader's child plugin) is
copied in too, so the child never sees the course repository, and with it
the reference solutions, on its import path.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from grader.manifest import Assignment, Manifest
from grader.pytest_options import ini_text

RUNTIME = "_runtime"
BOOT = """\
import sys
sys.path.insert(0, sys.argv[1])
import pytest
sys.exit(pytest.main(sys.argv[2:]))
"""


@dataclass(frozen=True)
class CourseTests:
    """Where the tests of the course are: public beside the stubs, hidden under ``tests/``."""

    course_root: Path
    hidden_root: Path | None

    def public(self, assignment: Assignment) -> list[Path]:
        """The public test files of an assignment."""
        return sorted((self.course_root / "assignments" / assignment.id).glob("test_*.py"))

    def hidden(self, assignment: Assignment) -> list[Path]:
        """The hidden test files of an assignment (none without a hidden-test folder)."""
        if self.hidden_root is None:
            return []
        return sorted((self.hidden_root / assignment.id).glob("test_*.py"))

    def stub(self, assignment: Assignment) -> Path:
        """The course's own stub: the trusted stand-in used to list the tests."""
        return self.course_root / "assignments" / assignment.id / assignment.module


@dataclass(frozen=True)
class Stage:
    """A staged folder: ``root/pytest.ini``, ``root/_runtime`` and one folder per assignment."""

    root: Path

    @property
    def runtime(self) -> Path:
        """The import root of the child process."""
        return self.root / RUNTIME

    @property
    def boot(self) -> Path:
        """The script the child process starts with."""
        return self.runtime / "boot.py"

    @property
    def ini(self) -> Path:
        """The grader's own pytest configuration."""
        return self.root / "pytest.ini"

    def folder(self, assignment: Assignment) -> Path:
        """The folder an assignment's tests and module are staged in."""
        return self.root / assignment.id


def new_stage(root: Path, manifest: Manifest) -> Stage:
    """Create the runtime and configuration of a stage in the empty folder ``root``."""
    stage = Stage(root)
    package_root = Path(__file__).resolve().parent.parent
    shutil.copytree(package_root / "coursekit", stage.runtime / "coursekit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(Path(__file__).with_name("child_plugin.py"), stage.runtime / "grader_child.py")
    stage.boot.write_text(BOOT, encoding="utf-8")
    stage.ini.write_text(ini_text(manifest.limits), encoding="utf-8")
    return stage


def place(stage: Stage, assignment: Assignment, module_source: bytes, tests: CourseTests) -> Path:
    """Stage one assignment: the given module source beside the course's public and hidden tests."""
    folder = stage.folder(assignment)
    folder.mkdir()
    for test_file in [*tests.public(assignment), *tests.hidden(assignment)]:
        shutil.copyfile(test_file, folder / test_file.name)
    (folder / assignment.module).write_bytes(module_source)
    return folder
