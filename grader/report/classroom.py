"""``--format classroom``: the legacy GitHub Classroom reporter's ``result`` output.

``classroom-resources/autograding-grading-reporter@v1`` reads base64 JSON from
one environment variable, ``<RUNNER_ID>_RESULTS``, and Linux refuses to start a
process with a variable over 128 KiB ("Argument list too long"), so the
payload is kept to PAYLOAD_BUDGET, half of that, whatever the submission:
per-test messages are cut to a line that points to the run's step summary
(which, like the uploaded artifact, keeps the full feedback), and when even
that is too long the tests are reported one entry per assignment. Either way
the entries' scores add up to the grade, which is what the reporter's
``Points X/Y`` annotation shows. (Its console table's "Total points" line
instead counts tests passed out of all tests, ignoring their points: the
annotation is the grade.) ``test_code`` stays empty, so hidden test source
never reaches it; it crashes on a result with no ``tests``. Names' titles,
messages and the pointer are in the active language (coursekit.i18n), within
the same budget.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from coursekit.i18n import N_, _, localize
from grader.model import AssignmentResult, GradeResult, TestResult
from grader.report.wording import TESTS_PASSED

STATUS = {"passed": "pass", "failed": "fail", "error": "error", "timeout": "error", "skipped": "fail"}
LIMIT = 128 * 1024  # Linux's MAX_ARG_STRLEN: one environment variable, "NAME=value" and its NUL included
PAYLOAD_BUDGET = LIMIT // 2  # the base64 text's ceiling: far from the limit, whatever else the step sets
MESSAGE_CHARS = 160  # a non-passing test's message, before the pointer to the summary
POINTER = N_("(full feedback: the run's summary)")


def _pointer() -> str:
    return " " + _(POINTER)


def _line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _entry(name: str, status: str, score: float, message: str) -> dict[str, Any]:
    return {"name": name, "status": status, "score": round(score), "message": message, "line_no": 0,
            "execution_time": "0s", "test_code": "", "filename": ""}


def _test_entry(a: AssignmentResult, t: TestResult, messages: bool) -> dict[str, Any]:
    message = _line(localize(t.feedback), MESSAGE_CHARS) + _pointer() if messages and t.outcome != "passed" else ""
    return _entry(_line(f"{a.id} {t.name}", 200), STATUS[t.outcome], t.score, message)


def _assignment_entry(a: AssignmentResult) -> dict[str, Any]:
    if not a.tests:
        return _entry(_line(f"{a.id} {localize(a.title)}", 200), "fail" if a.status == "missing" else "error", 0,
                      _line(localize(a.message), MESSAGE_CHARS) + _pointer())
    passed = all(t.outcome == "passed" for t in a.tests)
    tests = _(TESTS_PASSED).format(passed=a.passed, total=len(a.tests))
    name = _line(f"{a.id} {localize(a.title)}: {tests}", 200)
    return _entry(name, "pass" if passed else "fail", sum(round(t.score) for t in a.tests),
                  "" if passed else _line(localize(a.message), MESSAGE_CHARS) + _pointer())


def _per_test(result: GradeResult, messages: bool) -> list[dict[str, Any]]:
    tests = []
    for a in result.assignments:
        if not a.tests:
            tests.append(_assignment_entry(a))
        tests += [_test_entry(a, t, messages) for t in a.tests]
    return tests


def payload(result: GradeResult) -> dict[str, Any]:
    """The reporter's JSON document (before base64), within PAYLOAD_BUDGET once encoded."""
    errored = any(a.status in ("error", "void") for a in result.assignments)
    all_passed = all(t.outcome == "passed" for a in result.assignments for t in a.tests) and all(
        a.tests for a in result.assignments)
    document: dict[str, Any] = {
        "version": 1,
        "status": "error" if errored else ("pass" if all_passed else "fail"),
        # The reporter prints "Points X/Y" from this: out of the full points, hidden tests not run included,
        # so public tests alone never read as full marks.
        "max_score": round(result.max_score + result.ungraded_points),
        "tests": [],
    }
    for tests in (lambda: _per_test(result, True), lambda: _per_test(result, False),
                  lambda: [_assignment_entry(a) for a in result.assignments]):
        document["tests"] = tests()
        if len(_encode(document)) <= PAYLOAD_BUDGET:
            break
    return document


def _encode(document: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()).decode()


def render(result: GradeResult, env: Mapping[str, str]) -> str:
    """Base64 of the reporter's JSON, one line, for ``echo "result=..." >> $GITHUB_OUTPUT``."""
    return _encode(payload(result)) + "\n"
