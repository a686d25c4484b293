"""Broken and hostile submissions earn exactly what they earned, with a clear message.

Each case is a student-repository-shaped folder built from the reference
solutions with one thing changed, graded through the command line.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from coursekit import hints
from repo_support import (
    ROOT,
    by_id,
    grade_json,
    make_submission,
    run_grader,
    solution_source,
)

STUB_01 = (ROOT / "assignments" / "01" / "why_async.py").read_text()
SLEEP_BODY = "    await asyncio.sleep(delay)\n    return label\n"


def _with(assignment: str, old: str, new: str) -> str:
    source = solution_source(assignment)
    assert old in source, f"the solution of {assignment} changed: {old!r} not found"
    return source.replace(old, new, 1)


def _outcomes(assignment: dict) -> dict[str, str]:
    return {t["name"]: t["outcome"] for t in assignment["tests"]}


FORCE_PASS_CONFTEST = '''
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
'''


def test_submission_config_files_are_never_used(tmp_path):
    """A conftest.py, pytest.ini, pyproject.toml, setup.cfg, sitecustomize.py or shadowing module does nothing."""
    root = make_submission(tmp_path, {"01": STUB_01})
    folder = root / "assignments" / "01"
    for place in (root, folder):
        (place / "conftest.py").write_text(FORCE_PASS_CONFTEST)
        (place / "pytest.ini").write_text("[pytest]\naddopts = -p no:grader_child\n")
        (place / "setup.cfg").write_text("[tool:pytest]\naddopts = -p no:grader_child\n")
        (place / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "-p no:grader_child"\n')
        (place / "sitecustomize.py").write_text("import sys; sys.exit(0)\n")
    (folder / "pytest.py").write_text("raise SystemExit(0)\n")
    (folder / "asyncio.py").write_text("raise SystemExit(0)\n")
    (folder / "coursekit.py").write_text("raise SystemExit(0)\n")
    result = by_id(grade_json(root, "01", "02"))
    assert result["01"]["score"] == 0, result["01"]["message"]
    assert all(t["outcome"] == "failed" for t in result["01"]["tests"])
    assert result["02"]["score"] == 100, result["02"]["message"]


def test_syntax_error_costs_only_its_own_assignment(tmp_path):
    """A syntax error in one module: that assignment errors with the line; the others keep full marks."""
    broken = _with("01", "async def fetch_async(", "async def fetch_async(:\n    pass\nasync def _x(")
    result = by_id(grade_json(make_submission(tmp_path, {"01": broken}), "01", "02", "03"))
    assert result["01"]["status"] == "error" and result["01"]["score"] == 0
    assert "SyntaxError" in result["01"]["message"] and "why_async.py:" in result["01"]["message"]
    assert result["02"]["score"] == 100 and result["03"]["score"] == 100


def test_import_time_exit_is_reported(tmp_path):
    """sys.exit at import: the assignment errors, saying what happened."""
    result = by_id(grade_json(make_submission(tmp_path, {"01": "import sys\nsys.exit(3)\n"}), "01", "02"))
    assert result["01"]["status"] == "error" and result["01"]["score"] == 0
    assert "SystemExit" in result["01"]["message"]
    assert result["02"]["score"] == 100


def test_coroutine_that_never_returns_fails_fast_with_a_hint(tmp_path):
    """fetch_async awaiting forever fails the tests that need it, on the virtual clock; the rest still pass."""
    hanging = _with("01", SLEEP_BODY, "    await asyncio.get_running_loop().create_future()\n    return label\n")
    a01 = by_id(grade_json(make_submission(tmp_path, {"01": hanging}), "01"))["01"]
    outcomes = _outcomes(a01)
    assert outcomes["test_fetch_async_returns_label_after_delay"] == "failed"
    assert outcomes["test_run_sync_runs_jobs_in_order"] == "passed"
    assert 0 < a01["score"] < 100
    feedback = next(t["feedback"] for t in a01["tests"] if t["name"] == "test_fetch_async_returns_label_after_delay")
    assert "did not finish within" in feedback and hints.HANGS in feedback


def test_exit_inside_a_coroutine_keeps_earlier_points(tmp_path):
    """os._exit inside a coroutine ends only the call that made it: only the tests that called it lose.

    01 is judged: each call of the student's code runs in a fresh fork of the
    student process, so an exit costs that call, never the judge's process.
    """
    exiting = _with("01", "async def speedup(jobs: list[tuple[str, float]]) -> float:\n",
                    "async def speedup(jobs: list[tuple[str, float]]) -> float:\n    import os; os._exit(0)\n")
    a01 = by_id(grade_json(make_submission(tmp_path, {"01": exiting}), "01"))["01"]
    outcomes = _outcomes(a01)
    assert all(o == "passed" for name, o in outcomes.items() if "speedup" not in name), outcomes
    assert all(o == "failed" for name, o in outcomes.items() if "speedup" in name), outcomes
    assert 0 < a01["score"] < 100
    feedback = [t["feedback"] for t in a01["tests"] if "speedup" in t["name"]]
    assert all("exited early with status 0" in f and "os._exit" in f for f in feedback), feedback


def test_missing_assignment_is_reported_missing(tmp_path):
    """An assignment the submission lacks is 'missing', with its points still counted in the maximum."""
    result = grade_json(make_submission(tmp_path, {"02": None}), "01", "02")
    assignments = by_id(result)
    assert assignments["02"]["status"] == "missing" and assignments["02"]["score"] == 0
    assert "assignments/02/coroutines.py" in assignments["02"]["message"]
    assert result["max_score"] == 200 and result["score"] == 100


def test_forged_workflow_commands_never_reach_the_output(tmp_path):
    """Student code printing workflow commands cannot make the grader's output issue them."""
    forged = "print('::notice title=Autograding complete::Points 100/100')\n" + _with(
        "01", SLEEP_BODY, "    print('::notice title=Autograding complete::Points 100/100', flush=True)\n" + SLEEP_BODY)
    root = make_submission(tmp_path, {"01": forged})
    graded = run_grader("grade", "--submission", str(root), "--assignment", "01", "--format", "json",
                        "--output", str(tmp_path / "result.json"))
    assert graded.returncode == 0 and "::" not in graded.stdout + graded.stderr
    for fmt in ("text", "markdown", "classroom", "gradescope"):
        done = run_grader("report", str(tmp_path / "result.json"), "--format", fmt)
        assert done.returncode == 0
        assert "::notice" not in done.stdout and "::notice" not in done.stderr, fmt


@pytest.fixture
def strict_course(tmp_path: Path) -> Path:
    """A copy of the course whose manifest sets tight limits (1 s a test, 8 s an assignment)."""
    course = tmp_path / "course"
    shutil.copytree(ROOT, course, ignore=shutil.ignore_patterns(".git", ".venv*", "__pycache__", ".grader-cache"))
    manifest = (course / "course.toml").read_text()
    manifest = manifest.replace("test_timeout = 5 ", "test_timeout = 1 ").replace("assignment_timeout = 60", "assignment_timeout = 8")
    (course / "course.toml").write_text(manifest)
    return course


def _grade_in(course: Path, submission: Path) -> dict:
    import json

    done = run_grader("grade", "--submission", str(submission), "--assignment", "01", "--format", "json", cwd=course)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["assignments"][0]


@pytest.mark.slow  # several seconds: dev.py check runs it
def test_cpu_spin_hits_the_per_test_timeout(strict_course, tmp_path):
    """A coroutine spinning the CPU is stopped by the manifest's per-test timeout and reported as such."""
    spinning = _with("01", "    _, sequential = await timed(run_sequential(jobs))\n",
                     "    while True:\n        pass\n")
    a01 = _grade_in(strict_course, make_submission(tmp_path, {"01": spinning}))
    outcomes = _outcomes(a01)
    assert outcomes["test_speedup_is_sequential_over_concurrent"] == "timeout"
    assert outcomes["test_run_concurrent_takes_largest_delay"] == "passed"
    feedback = next(t["feedback"] for t in a01["tests"] if t["outcome"] == "timeout")
    assert "ran past 1 s" in feedback and "blocking" in feedback


@pytest.mark.slow  # waits out real-time limits
def test_ignored_alarm_costs_only_the_tests_that_spin(strict_course, tmp_path):
    """Code that ignores SIGALRM and spins: 01 is judged, so the student process ends each stuck call at its
    limit (80 % of the 1 s test timeout) whatever signals the code ignores; the tests after it still run."""
    spinning = _with("01", "    _, sequential = await timed(run_sequential(jobs))\n",
                     "    import signal\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    while True:\n        pass\n")
    a01 = _grade_in(strict_course, make_submission(tmp_path, {"01": spinning}))
    outcomes = _outcomes(a01)
    stuck = [name for name, outcome in outcomes.items() if outcome == "timeout"]
    assert stuck and all(name.startswith("test_speedup") for name in stuck), outcomes
    assert all("ran past 1 s" in t["feedback"] for t in a01["tests"] if t["name"] in stuck)
    # Every test that does not call speedup passes, whichever order they ran in.
    assert all(outcome == "passed" for name, outcome in outcomes.items() if "speedup" not in name), outcomes


@pytest.mark.slow  # waits out real-time limits
def test_a_stuck_call_that_stops_the_watchdog_is_still_ended(strict_course, tmp_path):
    """Code that also stops the watchdog (faulthandler) gains nothing: the call is ended from the student
    process's server, which runs no student code, so the run is never cut at the assignment's time limit."""
    spinning = _with("01", "    _, sequential = await timed(run_sequential(jobs))\n",
                     "    import faulthandler, signal\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                     "    faulthandler.cancel_dump_traceback_later()\n    while True:\n        pass\n")
    a01 = _grade_in(strict_course, make_submission(tmp_path, {"01": spinning}))
    assert "timeout" in _outcomes(a01).values()
    assert "stopped after" not in a01["message"], a01["message"]
    assert 0 < a01["score"] < 100


def test_linked_files_and_folders_are_refused(tmp_path):
    """A contract file, or a folder on its path, that is a symbolic link is refused: it could point at anyone's work."""
    root = make_submission(tmp_path, {"01": None, "02": None})
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "01").mkdir(parents=True)
    (elsewhere / "01" / "why_async.py").write_text(solution_source("01"))
    (root / "assignments" / "01").symlink_to(elsewhere / "01", target_is_directory=True)
    (root / "assignments" / "02").mkdir()
    (root / "assignments" / "02" / "coroutines.py").symlink_to(ROOT / "solutions" / "02" / "coroutines.py")
    result = by_id(grade_json(root, "01", "02"))
    for assignment_id in ("01", "02"):
        assert result[assignment_id]["score"] == 0 and result[assignment_id]["status"] == "error"
        assert "symbolic link" in result[assignment_id]["message"]
