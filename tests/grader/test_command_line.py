"""The command line contract: exit codes, one-line errors, public-only grading."""
from __future__ import annotations

import json

import pytest

from repo_support import ROOT, run_grader


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


@pytest.fixture
def path_without_bwrap(tmp_path):
    """A PATH with git and nothing else: bubblewrap is not installed, as far as the grader can tell."""
    import shutil

    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "git").symlink_to(shutil.which("git"))
    return {"PATH": str(folder)}


@pytest.mark.parametrize("args", [
    ["grade", "--assignment", "01", "--sandbox", "required"],
    ["check", "--assignment", "01", "--sandbox", "required"],
    ["batch", "class", "--out", "results"],  # batch, the grade of record, requires it by default
])
def test_a_required_sandbox_that_cannot_be_made_refuses_in_one_line(args, tmp_path, path_without_bwrap):
    """Where bubblewrap is missing, a grading command that requires the sandbox exits 1 with one line naming what
    is missing and how to grade anyway, and grades nothing."""
    (tmp_path / "class" / "alice").mkdir(parents=True)
    done = run_grader(*[str(tmp_path / a) if a in ("class", "results") else a for a in args], env=path_without_bwrap,
                      sandbox=None)
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("environment error: the sandbox is required"), \
        done.stderr
    assert "bubblewrap (bwrap) is not installed" in done.stderr and "--sandbox off" in done.stderr
    assert done.stdout == "" and not (tmp_path / "results").exists()


def test_auto_without_bubblewrap_grades_and_every_output_says_not_sandboxed(path_without_bwrap):
    """auto (course.toml's default) where bubblewrap is missing: graded, one note on stderr, and the JSON and the
    text report say the run was not sandboxed; --no-sandbox says so without the note."""
    done = run_grader("grade", "--submission", "solutions", "--assignment", "01", "--format", "json",
                      env=path_without_bwrap, sandbox=None)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("note: grading without the OS sandbox (bubblewrap (bwrap) is not installed")
    result = json.loads(done.stdout)
    assert result["sandboxed"] is False and result["score"] == 100
    done = run_grader("grade", "--submission", "solutions", "--assignment", "01", "--no-sandbox")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "\nNot sandboxed: the graded code ran without the operating-system sandbox" in done.stdout


def test_a_sandbox_lost_after_the_check_is_an_environment_error(monkeypatch, capsys):
    """bubblewrap gone between the environment check and the run (the check said yes, the runner cannot start it):
    the grader's fault, not the input's: exit 1 with one "environment error:" line, and no report."""
    from grader import cli, sandbox

    monkeypatch.setattr(sandbox, "unavailable", lambda: None)  # what the check saw
    monkeypatch.setattr(sandbox, "bwrap", lambda: None)  # what the runner finds
    status = cli.main(["grade", "--submission", str(ROOT / "solutions"), "--assignment", "01", "--sandbox", "required"])
    out, err = capsys.readouterr()
    assert status == 1, err
    assert err == "environment error: cannot sandbox the graded runs: bubblewrap (bwrap) is not installed\n"
    assert out == ""
