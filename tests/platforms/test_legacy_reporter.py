"""The legacy Classroom reporter's payload fits the one environment variable it is read from.

``autograding-grading-reporter@v1`` reads the whole result from
``<RUNNER_ID>_RESULTS``; Linux refuses to start a process whose single
variable exceeds 128 KiB. These tests pass the payload through a real
``execve`` environment at its worst cases and read it back the way the
reporter does.
"""
from __future__ import annotations

import base64
import json
import subprocess
import sys
from typing import Any

import pytest

from grader.model import AssignmentResult, GradeResult
from grader.model import TestResult as Run
from grader.report import classroom

# What the reporter computes from the variable: its "Points X/Y" annotation (the sum of the
# tests' scores over max_score), and the tests it lists.
READ_AS_THE_REPORTER = """\
import base64, json, os
results = json.loads(base64.b64decode(os.environ["ASYNCIO_RESULTS"]).decode("utf-8"))
points = sum(test["score"] for test in results["tests"])
print(json.dumps({"points": points, "max": results["max_score"], "tests": len(results["tests"]),
                  "status": results["status"], "codes": [t["test_code"] for t in results["tests"]]}))
"""


def _through_execve(payload: str) -> dict[str, Any]:
    """Start a process with the payload as its environment variable, as the reporter's step does."""
    done = subprocess.run([sys.executable, "-I", "-c", READ_AS_THE_REPORTER], env={"ASYNCIO_RESULTS": payload},
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def _pathological(assignments: int = 9, tests: int = 400, text: int = 5000) -> GradeResult:
    """A submission whose every test failed with a huge message, in a course far larger than this one."""
    graded = []
    for n in range(assignments):
        runs = tuple(Run(name=f"test_{'x' * 150}_{k}", visibility="hidden" if k % 2 else "public",
                                outcome="error" if k % 3 else "failed", score=0.0, max_score=1.0,
                                feedback="Traceback: " + "é" * text)
                     for k in range(tests))
        graded.append(AssignmentResult(id=f"{n:02d}", title="T" * 300, score=0.0, max_score=float(tests),
                                       status="graded", message="m" * text, tests=runs))
    return GradeResult(tuple(graded), hidden_tests_included=True)


def test_a_stub_submission_with_hidden_tests_reaches_the_reporter(stubs_result):
    """All nine stubs graded with hidden tests (191 KB before): the payload starts a process and reads back
    with the grade's points."""
    result = GradeResult.from_dict(stubs_result)
    payload = classroom.render(result, {}).strip()
    assert len(payload) <= classroom.PAYLOAD_BUDGET
    read = _through_execve(payload)
    assert (read["points"], read["max"], read["status"]) == (0, round(result.max_score), "fail")
    assert not any(read["codes"])


def test_the_reference_solutions_reach_the_reporter_with_full_points(solutions_result):
    """The reference solutions: the annotation's points are the full score."""
    result = GradeResult.from_dict(solutions_result)
    read = _through_execve(classroom.render(result, {}).strip())
    assert read["points"] == read["max"] == round(result.max_score) and read["status"] == "pass"


def test_a_pathological_submission_stays_within_the_budget():
    """3,600 failing tests with 5,000-character messages and long names: still within half the limit,
    the entries' points still the grade, and a real process starts with it."""
    result = _pathological()
    payload = classroom.render(result, {}).strip()
    assert len(payload) <= classroom.PAYLOAD_BUDGET < classroom.LIMIT
    read = _through_execve(payload)
    assert read["points"] == 0 and read["max"] == 9 * 400


def test_partial_scores_add_up_to_the_grade_at_every_level():
    """Whichever form fits (every test with messages, without, or one entry per assignment), the scores
    the reporter adds up are the grade."""
    runs = tuple(Run(f"test_{k}", "public", "passed" if k % 2 else "failed", float(k % 2) * 3, 3.0,
                            "f" * 100) for k in range(10))
    small = GradeResult((AssignmentResult("01", "One", 15.0, 30.0, "graded", "5/10", runs),),
                        hidden_tests_included=True)
    assert len(classroom.payload(small)["tests"]) == 10
    assert _through_execve(classroom.render(small, {}).strip())["points"] == 15
    big = GradeResult(tuple(AssignmentResult(f"{n:02d}", "A", 15.0 * 40, 30.0 * 40, "graded", "m", runs * 40)
                            for n in range(9)), hidden_tests_included=True)
    assert len(classroom.payload(big)["tests"]) == 9
    assert _through_execve(classroom.render(big, {}).strip())["points"] == 9 * 15 * 40


def test_the_message_points_to_the_full_feedback():
    """A trimmed message is one line and says where the whole feedback is."""
    result = _pathological(assignments=1, tests=3, text=500)
    messages = [t["message"] for t in classroom.payload(result)["tests"]]
    for message in messages:
        assert "\n" not in message and message.endswith(classroom.POINTER)
        assert len(message) <= classroom.MESSAGE_CHARS + len(classroom._pointer())


@pytest.mark.parametrize("size", [128 * 1024 + 1024])
def test_the_limit_is_real_here(size):
    """The control: a variable over the limit does stop a process from starting (so the tests above can fail)."""
    with pytest.raises(OSError, match="Argument list too long"):
        _through_execve("A" * size)
