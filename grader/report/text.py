"""``--format text``: a score table and the failures' feedback, for a terminal."""
from __future__ import annotations

from collections.abc import Mapping

from grader.model import GradeResult
from grader.report.wording import NOT_SANDBOXED, public_only_note

MARKS = {"passed": "ok", "failed": "FAIL", "error": "ERROR", "timeout": "TIMEOUT", "skipped": "SKIP"}


def _points(value: float) -> str:
    return f"{value:g}"


def _score(score: float, max_score: float, ungraded: float) -> str:
    """``"33/33"``, or ``"33/33 (+67 hidden)"`` when hidden tests worth 67 points were not run."""
    text = f"{_points(score)}/{_points(max_score)}"
    return f"{text} (+{_points(ungraded)} hidden)" if ungraded else text


def render(result: GradeResult, env: Mapping[str, str]) -> str:
    """A table of assignments, then each failed test with its feedback."""
    rows = [("id", "assignment", "score", "tests", "status")]
    for a in result.assignments:
        tests = f"{a.passed}/{len(a.tests)}" if a.tests else "-"
        rows.append((a.id, a.title, _score(a.score, a.max_score, a.ungraded_points), tests, a.status))
    rows.append(("", "total", _score(result.score, result.max_score, result.ungraded_points), "", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
    if result.ungraded_points:
        lines.append(f"\nPublic tests only: {public_only_note(result)}")
    elif not result.hidden_tests_included:
        lines.append("\nPublic tests only: the hidden tests are not available here.")
    if not result.sandboxed:
        lines.append(f"\nNot sandboxed: {NOT_SANDBOXED}.")
    for a in result.assignments:
        failing = [t for t in a.tests if t.outcome != "passed"]
        if a.status != "graded" or failing:
            lines.append(f"\n{a.id} {a.title}: {a.message}")
        for t in failing:
            lines.append(f"  [{MARKS[t.outcome]}] {t.name} ({t.visibility}, 0/{_points(t.max_score)})")
            lines += [f"      {line}" for line in t.feedback.splitlines()]
    return "\n".join(lines) + "\n"
