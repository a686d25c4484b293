"""``--format classroom50``: Classroom 50's ``result.json`` (schema classroom50/result/v1)."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from grader.errors import UsageError
from grader.model import GradeResult

SCHEMA = "classroom50/result/v1"
# result.json field -> the environment variable Classroom 50 sets it from.
ENV_FIELDS = {
    "classroom": "CLASSROOM",
    "assignment": "ASSIGNMENT",
    "submission": "SUBMISSION_TAG",
    "commit": "COMMIT_URL",
    "release": "RELEASE_URL",
    "review": "REVIEW_URL",
}


def payload(result: GradeResult, env: Mapping[str, str]) -> dict[str, Any]:
    """The result.json document; a UsageError names any platform variable that is missing."""
    missing = [var for var in ENV_FIELDS.values() if not env.get(var)]
    if missing:
        raise UsageError(f"Classroom 50 variables not set: {', '.join(missing)}")
    if not env["SUBMISSION_TAG"].startswith("submit/"):
        raise UsageError(f"SUBMISSION_TAG must start with 'submit/', got {env['SUBMISSION_TAG']!r}")
    tests: list[dict[str, Any]] = []
    for a in result.assignments:
        for t in a.tests:
            tests.append({
                "test-name": f"{a.id}/{t.name}",
                "passed": t.outcome == "passed",
                "score": round(t.score),
                "max-score": round(t.max_score),
                "outcome": t.outcome,
                "visibility": t.visibility,
                "feedback": t.feedback,
            })
    score = sum(round(t.score) for a in result.assignments for t in a.tests)
    max_score = round(result.max_score)  # every test's points are whole, so this is exact
    document: dict[str, Any] = {"schema": SCHEMA}
    document.update({field: env[var] for field, var in ENV_FIELDS.items()})
    document.update({
        "datetime": env.get("GRADED_AT") or _now(),
        "score": score,
        "max-score": max_score,
        "tests": tests,
    })
    return document


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def render(result: GradeResult, env: Mapping[str, str]) -> str:
    """result.json as text."""
    return json.dumps(payload(result, env), indent=2, ensure_ascii=False) + "\n"
