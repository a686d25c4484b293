"""Stage: the folders a graded run works in, holding the course's tests and only the contract files.

Nothing of the submission but ``assignments/NN/<module>.py`` is copied, so a
student's conftest.py, pytest.ini, pyproject.toml, sitecustomize.py or a
module shadowing a library never reaches pytest. The runtime the child
processes need (the course's test kit, the grader's child plugin, the fork
server and the pytest configuration) lives in a folder of its own, made once
per grading session and shared by every submission it grades, so the child
never sees the course repository, and with it the reference solutions, on
its import path.
"""
from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from grader.manifest import Assignment, Manifest
from grader.pytest_options import ini_text

# A spawned run: the runtime on the path; in a sandbox, the same namespaces a forked run gets, and for a
# judged assignment its student process (the second argument is the JSON of {"isolate": Job.isolation() or
# null, "student": Job.student or null}); then pytest.
BOOT = """\
import json, sys
sys.path.insert(0, sys.argv[1])
setup = json.loads(sys.argv[2])
if setup["isolate"] or setup["student"]:
    import grader_zygote
    grader_zygote.enter_run(setup["isolate"], setup["student"])
import pytest
sys.exit(pytest.main(sys.argv[3:]))
"""
_GRADER = Path(__file__).resolve().parent


@dataclass(frozen=True)
class CourseTests:
    """Where the tests of the course are: public beside the stubs, hidden under ``tests/``."""

    course_root: Path
    hidden_root: Path | None

    def public(self, assignment: Assignment) -> list[Path]:
        """The public test file of an assignment: ``assignments/NN/test_<module>.py``.

        Named exactly, not globbed: in a student's clone the folder also holds
        the student's own tests (``test_mine_NN.py``), which are theirs to run
        and never graded.
        """
        path = self.course_root / "assignments" / assignment.id / f"test_{assignment.module}"
        return [path] if path.is_file() else []

    def hidden(self, assignment: Assignment) -> list[Path]:
        """The hidden test files of an assignment (none without a hidden-test folder)."""
        if self.hidden_root is None:
            return []
        return sorted((self.hidden_root / assignment.id).glob("test_*.py"))

    def stub(self, assignment: Assignment) -> Path:
        """The course's own stub: the trusted stand-in used to list the tests."""
        return self.course_root / "assignments" / assignment.id / assignment.module


@dataclass(frozen=True)
class Runtime:
    """The import root of every child process, and the grader's pytest configuration."""

    root: Path

    @property
    def boot(self) -> Path:
        """The script a spawned child process starts with."""
        return self.root / "boot.py"

    @property
    def zygote(self) -> Path:
        """The fork server's script."""
        return self.root / "grader_zygote.py"

    @property
    def ini(self) -> Path:
        """The grader's own pytest configuration."""
        return self.root / "pytest.ini"


def new_runtime(root: Path, manifest: Manifest) -> Runtime:
    """Fill the empty folder ``root`` with what the child processes import."""
    runtime = Runtime(root)
    shutil.copytree(_GRADER.parent / "coursekit", root / "coursekit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(_GRADER / "child_plugin.py", root / "grader_child.py")
    shutil.copyfile(_GRADER / "guard.py", root / "grader_guard.py")
    shutil.copyfile(_GRADER / "student_server.py", root / "grader_student.py")
    shutil.copyfile(_GRADER / "zygote.py", runtime.zygote)
    runtime.boot.write_text(BOOT, encoding="utf-8")
    runtime.ini.write_text(ini_text(manifest.limits), encoding="utf-8")
    return runtime


@dataclass(frozen=True)
class Stage:
    """A staged submission: one folder per assignment, and a scratch folder per run."""

    root: Path
    runtime: Runtime

    def folder(self, assignment: Assignment) -> Path:
        """The folder an assignment's tests and module are staged in."""
        return self.root / assignment.id

    def scratch(self, name: str) -> Path:
        """A fresh folder a run may write to (its HOME and TMPDIR); nothing else is writable for it.

        In a sandbox the run mounts a tmpfs over it, so the folder on disk stays empty.
        """
        path = self.root / f"scratch-{name}"
        path.mkdir()
        return path


@dataclass(frozen=True)
class Placed:
    """One staged assignment: its folder and the digest of every test file staged in it."""

    folder: Path
    test_digests: dict[str, str]

    def altered_tests(self) -> list[str]:
        """The staged test files that no longer hold what was staged (changed, removed or added)."""
        now = {p.name: _digest(p) for p in self.folder.glob("test_*.py")}
        names = set(now) | set(self.test_digests)
        return sorted(n for n in names if now.get(n) != self.test_digests.get(n))


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "<unreadable>"


def place(stage: Stage, assignment: Assignment, module_source: bytes, tests: CourseTests) -> Placed:
    """Stage one assignment: the given module source beside the course's public and hidden tests."""
    folder = stage.folder(assignment)
    folder.mkdir()
    digests = {}
    for test_file in [*tests.public(assignment), *tests.hidden(assignment)]:
        data = test_file.read_bytes()
        (folder / test_file.name).write_bytes(data)
        (folder / test_file.name).chmod(0o444)
        digests[test_file.name] = hashlib.sha256(data).hexdigest()
    (folder / assignment.module).write_bytes(module_source)
    return Placed(folder, digests)
