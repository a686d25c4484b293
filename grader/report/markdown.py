"""``--format markdown``: the GitHub step summary (and Classroom 50's release body)."""
from __future__ import annotations

from collections.abc import Mapping

from grader.model import GradeResult
from grader.report.wording import NOT_SANDBOXED, public_only_note

ICONS = {"passed": "✅", "failed": "❌", "error": "💥", "timeout": "⏱️", "skipped": "⏭️"}


def _cell(text: str) -> str:
    """Markdown-safe table cell: no pipes, no line breaks, no HTML."""
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def render(result: GradeResult, env: Mapping[str, str]) -> str:
    """A summary table and, per assignment, the feedback of every test that did not pass."""
    if result.ungraded_points:
        out = [f"## Public tests: {result.score:g} / {result.max_score:g} "
               f"(hidden tests worth {result.ungraded_points:g} more points not run)", "",
               f"> **Public tests only:** {public_only_note(result)}", ""]
    else:
        out = [f"## Score: {result.score:g} / {result.max_score:g}", ""]
        if not result.hidden_tests_included:
            out += ["> **Public tests only.** The hidden tests were not available to this run, so this is "
                    "not your final grade: the graded run adds the hidden tests.", ""]
    if not result.sandboxed:
        out += [f"> **Not sandboxed:** {NOT_SANDBOXED}.", ""]
    out += ["| # | Assignment | Score | Tests passed | Status |", "|---|---|---|---|---|"]
    for a in result.assignments:
        tests = f"{a.passed}/{len(a.tests)}" if a.tests else "–"
        score = f"{a.score:g} / {a.max_score:g}"
        if a.ungraded_points:
            score += f" public (+{a.ungraded_points:g} hidden, not run)"
        out.append(f"| {a.id} | {_cell(a.title)} | {score} | {tests} | {a.status} |")
    for a in result.assignments:
        failing = [t for t in a.tests if t.outcome != "passed"]
        if a.status == "graded" and not failing:
            continue
        out += ["", f"### {a.id} {_cell(a.title)}", "", _cell(a.message), ""]
        for t in failing:
            out.append(f"<details><summary>{ICONS[t.outcome]} <code>{_cell(t.name)}</code> "
                       f"({t.visibility}, {t.outcome}, 0 / {t.max_score:g})</summary>")
            out += ["", "```text", t.feedback.replace("```", "'''"), "```", "", "</details>"]
    return "\n".join(out) + "\n"
