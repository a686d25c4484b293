"""A student's own tests: `pytest assignments/NN` runs them with the course's configuration, and grading ignores them.

The README's student guide tells students to add `assignments/NN/test_mine_NN.py`;
these tests hold the guide to what actually happens in a student's clone.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from repo_support import ROOT, run_grader

MINE = """
    import pytest

    import why_async
    from coursekit.testing import within


    async def test_fetch_async_on_the_virtual_clock(looptime):
        # The course's virtual clock: 100 s of sleeping costs no real time, and looptime reads it.
    # `points` is the course plugin's marker: unknown to pytest without it (an error here, -W).
        assert await within(why_async.fetch_async("a", 100), 200, what="fetch_async") == "a"
        assert looptime == 100


    @pytest.mark.points(1)
    def test_course_markers_are_known():
        pass


    def test_only_mine_{n}():
        pass
"""


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", *args, "-p", "no:randomly",
                           "-W", "error::pytest.PytestUnknownMarkWarning"],
                          cwd=folder, capture_output=True, text=True, timeout=300)


def test_own_tests_run_with_the_courses_configuration(student_copy):
    """`pytest assignments/01` runs test_mine_01.py beside the public tests, with the plugin, virtual clock and markers."""
    folder = student_copy / "assignments" / "01"
    (folder / "why_async.py").write_bytes((ROOT / "solutions" / "01" / "why_async.py").read_bytes())
    (folder / "test_mine_01.py").write_text(textwrap.dedent(MINE.format(n="01")))
    done = _pytest(student_copy, "assignments/01", "-v")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    for name in ("test_fetch_async_on_the_virtual_clock", "test_course_markers_are_known", "test_only_mine_01"):
        assert re.search(rf"test_mine_01.py::{name} PASSED", done.stdout), done.stdout[-3000:]
    assert "test_why_async.py::" in done.stdout, "the public tests should run beside the student's own"


def test_own_tests_of_two_assignments_run_together(student_copy):
    """Distinct file names (test_mine_01.py, test_mine_02.py) let `pytest assignments` run every assignment's own tests."""
    for n in ("01", "02"):
        (student_copy / "assignments" / n / f"test_mine_{n}.py").write_text("def test_mine():\n    pass\n")
    done = _pytest(student_copy, "assignments", "-k", "test_mine")
    assert re.search(r"\b2 passed\b", done.stdout), done.stdout[-3000:] + done.stderr[-2000:]


def test_grading_ignores_the_students_own_tests(student_copy):
    """The grader never runs a student's test file: its results, and whatever it would do, do not count."""
    folder = student_copy / "assignments" / "01"
    (folder / "why_async.py").write_bytes((ROOT / "solutions" / "01" / "why_async.py").read_bytes())
    marker = student_copy / "ran.txt"
    (folder / "test_mine_01.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n\n"
        "def test_mine_fails():\n    assert False\n"
    )
    done = run_grader("grade", "--assignment", "01", "--format", "json", cwd=student_copy)
    assert done.returncode == 0, done.stderr
    [result] = json.loads(done.stdout)["assignments"]
    names = {t["name"] for t in result["tests"]}
    assert names and not any("mine" in name for name in names), names
    assert result["score"] == result["max_score"], result["message"]
    assert not marker.exists(), "the grader imported the student's own test file"


def test_each_assignment_has_exactly_one_public_test_file():
    """The grader takes `assignments/NN/test_<module>.py` as the public tests and leaves every other test file
    to the student: a second public test file of the course's would silently go ungraded."""
    from grader.manifest import load_manifest

    for a in load_manifest(ROOT).assignments:
        found = sorted(p.name for p in (ROOT / "assignments" / a.id).glob("test_*.py"))
        assert found == [f"test_{a.module}"], f"{a.id}: {found}"
