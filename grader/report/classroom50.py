"""``--format classroom50``: Classroom 50's ``result.json`` (schema classroom50/result/v1).

The published schema (``grader/platforms/schemas/result-v1.json`` keeps its
rules) allows no top-level field beyond its own, requires ``owner`` and
``assignment_type``, and timestamps written ``YYYY-MM-DDTHH:MM:SSZ``. Its
runner re-stamps ``owner``, ``assignment_type`` and ``datetime`` anyway; we
still write them as the schema says, so the file is valid on its own. The summary and each test's feedback are in the
active language (coursekit.i18n); every other field is as the schema has it.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from coursekit.i18n import N_, _, localize
from grader.errors import UsageError
from grader.model import GradeResult
from grader.report.wording import TESTS_PASSED

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
# The runner hands an autograder the repository owner as OWNER and USERNAME (the same login).
OWNER_VARS = ("OWNER", "USERNAME")
# The runner sets ASSIGNMENT_TYPE for the autograder (MODE for itself); a missing one means individual, as there.
TYPE_VARS = ("ASSIGNMENT_TYPE", "MODE")
DEFAULT_TYPE = "individual"
TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"
# GitHub rejects a commit-status description longer than this; the runner posts our summary as one.
SUMMARY_LIMIT = 140
NOT_SANDBOXED_SUMMARY = N_("{summary}; not sandboxed: no grade of record")


def owner(env: Mapping[str, str]) -> str | None:
    """The repository owner's login the runner passed, or None."""
    return next((env[var] for var in OWNER_VARS if env.get(var)), None)


def assignment_type(env: Mapping[str, str]) -> str:
    """``individual`` or ``group``, as the runner passed it (``individual`` when it did not)."""
    value = next((env[var] for var in TYPE_VARS if env.get(var)), DEFAULT_TYPE)
    return value.strip().lower() or DEFAULT_TYPE


def timestamp(moment: datetime | None = None) -> str:
    """``moment`` (default: now) in UTC as the schema writes it: ``2026-12-02T20:15:00Z``."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime(TIMESTAMP)


def _graded_at(env: Mapping[str, str]) -> str:
    given = env.get("GRADED_AT")
    if not given:
        return timestamp()
    try:
        moment = datetime.fromisoformat(given.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"GRADED_AT must be an ISO 8601 date and time, got {given!r}") from None
    return timestamp(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def summary_line(text: str) -> str:
    """``text`` on one line and at most SUMMARY_LIMIT characters (the commit status GitHub accepts)."""
    line = " ".join(text.split())
    return line if len(line) <= SUMMARY_LIMIT else line[: SUMMARY_LIMIT - 1].rstrip() + "…"


def status_and_summary(result: GradeResult) -> tuple[str, str]:
    """The commit status (``success`` when every test passed, else ``failure``) and its one-line summary."""
    tests = [t for a in result.assignments for t in a.tests]
    passed = sum(1 for t in tests if t.outcome == "passed")
    state = "success" if tests and passed == len(tests) else "failure"
    text = f"{result.score:g}/{result.max_score:g} ({_(TESTS_PASSED).format(passed=passed, total=len(tests))})"
    if not result.sandboxed:
        text = _(NOT_SANDBOXED_SUMMARY).format(summary=text)
    return state, summary_line(text)


def payload(result: GradeResult, env: Mapping[str, str]) -> dict[str, Any]:
    """The result.json document; a UsageError names any platform variable that is missing."""
    missing = [var for var in ENV_FIELDS.values() if not env.get(var)]
    if owner(env) is None:
        missing.append(" or ".join(OWNER_VARS))
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
                "feedback": localize(t.feedback),
            })
    score = sum(round(t.score) for a in result.assignments for t in a.tests)
    max_score = round(result.max_score)  # every test's points are whole, so this is exact
    document: dict[str, Any] = {"schema": SCHEMA}
    document.update({field: env[var] for field, var in ENV_FIELDS.items()})
    document.update({
        "owner": owner(env),
        "assignment_type": assignment_type(env),
        "datetime": _graded_at(env),
        "score": score,
        "max-score": max_score,
        "tests": tests,
    })
    return document


def render(result: GradeResult, env: Mapping[str, str]) -> str:
    """result.json as text."""
    return json.dumps(payload(result, env), indent=2, ensure_ascii=False) + "\n"
