"""Fixtures of the course's own test suite (the grader, the course's integrity, the platforms).

Grading runs real child processes, so the expensive results (the reference
solutions and the stubs graded through the command line) are computed once
per session and shared.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The suite checks the English wording: a developer's Chinese LANG (or COURSE_LANG) must not change what it
# reads. Set before the course's plugin chooses the language; the tests of the Chinese set it themselves.
os.environ["COURSE_LANG"] = "en"

from repo_support import ROOT, grade_json  # noqa: E402


@pytest.fixture(autouse=True)
def _own_test_catalogs() -> Any:
    """Each test starts with no tests' catalog in use, and one it adds (often its own, in tmp_path, or the
    course's, through a command run in this process) is left to no other test."""
    from coursekit import i18n

    i18n.restore_test_catalogs(())
    yield
    i18n.restore_test_catalogs(())


@pytest.fixture(scope="session")
def solutions_result() -> dict[str, Any]:
    """The reference solutions graded on public and hidden tests."""
    return grade_json(ROOT / "solutions")


@pytest.fixture(scope="session")
def stubs_result() -> dict[str, Any]:
    """The committed stubs graded on public and hidden tests."""
    return grade_json(ROOT)


@pytest.fixture
def student_copy(tmp_path: Path) -> Path:
    """A student's clone, as far as local testing goes: no solutions, no hidden tests."""
    copy = tmp_path / "student"
    ignore = shutil.ignore_patterns(".git", ".venv*", "__pycache__", ".grader-cache", "solutions", "results")
    shutil.copytree(ROOT, copy, ignore=ignore)
    for hidden in (copy / "tests").glob("[0-9][0-9]"):
        shutil.rmtree(hidden)
    (copy / "conftest.py").unlink()
    return copy


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The suite's own tests grade whole submissions in child processes: they get a longer timeout."""
    own = Path(__file__).resolve().parent
    for item in items:
        if own in item.path.parents and not item.path.parent.name.isdigit() and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(300))
