"""``--format classroom``: the legacy GitHub Classroom reporter's ``result`` output.

``classroom-resources/autograding-grading-reporter@v1`` reads base64 JSON from
``<RUNNER_ID>_RESULTS`` and prints ``test_code``: it stays empty here, so
hidden test source never reaches it. It crashes on a result with no ``tests``.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from grader.model import GradeResult

STATUS = {"passed": "pass", "failed": "fail", "error": "error", "timeout": "error", "skipped": "fail"}


def payload(result: GradeResult) -> dict[str, Any]:
    """The reporter's JSON document (before base64)."""
    tests = []
    for a in result.assignments:
        if not a.tests:
            tests.append({"name": f"{a.id} {a.title}", "status": "fail" if a.status == "missing" else "error",
                          "score": 0, "message": a.message, "line_no": 0, "execution_time": "0s",
                          "test_code": "", "filename": ""})
        for t in a.tests:
            tests.append({"name": f"{a.id} {t.name}", "status": STATUS[t.outcome], "score": round(t.score),
                          "message": t.feedback, "line_no": 0, "execution_time": "0s",
                          "test_code": "", "filename": ""})
    errored = any(a.status == "error" for a in result.assignments)
    all_passed = all(t["status"] == "pass" for t in tests)
    return {
        "version": 1,
        "status": "error" if errored else ("pass" if all_passed else "fail"),
        # The reporter prints "Points X/Y" from this: out of the full points, hidden tests not run included,
        # so public tests alone never read as full marks.
        "max_score": round(result.max_score + result.ungraded_points),
        "tests": tests,
    }


def render(result: GradeResult, env: Mapping[str, str]) -> str:
    """Base64 of the reporter's JSON, one line, for ``echo "result=..." >> $GITHUB_OUTPUT``."""
    encoded = json.dumps(payload(result), ensure_ascii=False).encode()
    return base64.b64encode(encoded).decode() + "\n"
