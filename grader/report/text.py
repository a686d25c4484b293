"""``--format text``: a score table and the failures' feedback, for a terminal."""
from __future__ import annotations

from collections.abc import Mapping

from grader.model import GradeResult

MARKS = {"passed": "ok", "failed": "FAIL", "error": "ERROR", "timeout": "TIMEOUT", "skipped": "SKIP"}


def _points(value: float) -> str:
    return f"{value:g}"


def render(result: GradeResult, env: Mapping[str, str]) -> str:
    """A table of assignments, then each failed test with its feedback."""
    rows = [("id", "assignment", "score", "tests", "status")]
    for a in result.assignments:
        tests = f"{a.passed}/{len(a.tests)}" if a.tests else "-"
        rows.append((a.id, a.title, f"{_points(a.score)}/{_points(a.max_score)}", tests, a.status))
    rows.append(("", "total", f"{_points(result.score)}/{_points(result.max_score)}", "", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
    if not result.hidden_tests_included:
        lines.append("\nPublic tests only: the hidden tests are not available here.")
    for a in result.assignments:
        failing = [t for t in a.tests if t.outcome != "passed"]
        if a.status != "graded" or failing:
            lines.append(f"\n{a.id} {a.title}: {a.message}")
        for t in failing:
            lines.append(f"  [{MARKS[t.outcome]}] {t.name} ({t.visibility}, 0/{_points(t.max_score)})")
            lines += [f"      {line}" for line in t.feedback.splitlines()]
    return "\n".join(lines) + "\n"
