"""The command line contract: exit codes, one-line errors, public-only grading."""
from __future__ import annotations

import json

import pytest

from repo_support import run_grader


@pytest.mark.parametrize("args", [
    ["bogus"],
    ["grade", "--format", "pdf"],
    ["grade", "--submission", "/nonexistent/submission"],
    ["grade", "--assignment", "42"],
    ["grade", "--tests", "/nonexistent/tests"],
    ["report", "/nonexistent/results.json"],
    ["check", "--repeat", "0"],
    ["batch", "class", "--out", "results", "--student-budget", "0"],
    ["batch", "class", "--out", "results", "--student-budget", "soon"],
])
def test_bad_usage_is_one_line_and_exit_2(args):
    """Bad usage or unusable input: exit 2 with one line on stderr and no traceback."""
    done = run_grader(*args)
    assert done.returncode == 2, (args, done.stderr)
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr


def test_submission_that_is_a_file_is_refused(tmp_path):
    """A submission path that is not a folder is refused clearly."""
    path = tmp_path / "file.py"
    path.write_text("x = 1\n")
    done = run_grader("grade", "--submission", str(path))
    assert done.returncode == 2 and "not a folder" in done.stderr


def test_public_only_grading_says_so(tmp_path, student_copy):
    """Without hidden tests (a student's clone), only public tests are graded and the output says so."""
    done = run_grader("grade", "--assignment", "01", "--format", "json", cwd=student_copy)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    tests = result["assignments"][0]["tests"]
    assert tests and {t["visibility"] for t in tests} == {"public"}
    text = run_grader("grade", "--assignment", "01", cwd=student_copy).stdout
    assert "Public tests only" in text


def test_stubs_check_passes_on_the_committed_course():
    """`python -m grader stubs --check` passes on the committed course."""
    done = run_grader("stubs", "--check")
    assert done.returncode == 0, done.stdout + done.stderr
