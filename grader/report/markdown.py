"""``--format markdown``: the GitHub step summary (and Classroom 50's release body).

Its words and the grader's messages are shown in the active language (coursekit.i18n).
"""
from __future__ import annotations

from collections.abc import Mapping

from coursekit.i18n import N_, _, localize
from grader.model import GradeResult
from grader.report.wording import FLAGGED, FULL_STOP, NOT_SANDBOXED, OUTCOME, STATUS, VISIBILITY, public_only_note, word

ICONS = {"passed": "✅", "failed": "❌", "error": "💥", "timeout": "⏱️", "skipped": "⏭️"}
PUBLIC_HEADING = N_("## Public tests: {score} / {max_score} (hidden tests worth {points} more points not run)")
PUBLIC_ONLY = N_("> **Public tests only:** {note}")
SCORE_HEADING = N_("## Score: {score} / {max_score}")
NO_HIDDEN_TESTS = N_("> **Public tests only.** The hidden tests were not available to this run, so this is not "
                     "your final grade: the graded run adds the hidden tests.")
NOT_SANDBOXED_NOTE = N_("> **Not sandboxed:** {note}")
FLAGGED_NOTE = N_("> **Flagged:** {note}")
TABLE_HEAD = N_("| # | Assignment | Score | Tests passed | Status |")
PUBLIC_SCORE = N_("{score} public (+{points} hidden, not run)")
TEST_SUMMARY = N_("({visibility}, {outcome}, 0 / {points})")


def _cell(text: str) -> str:
    """Markdown-safe table cell: no pipes, no line breaks, no HTML."""
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def render(result: GradeResult, env: Mapping[str, str]) -> str:
    """A summary table and, per assignment, the feedback of every test that did not pass."""
    if result.ungraded_points:
        out = [_(PUBLIC_HEADING).format(score=f"{result.score:g}", max_score=f"{result.max_score:g}",
                                        points=f"{result.ungraded_points:g}"), "",
               _(PUBLIC_ONLY).format(note=public_only_note(result)), ""]
    else:
        out = [_(SCORE_HEADING).format(score=f"{result.score:g}", max_score=f"{result.max_score:g}"), ""]
        if not result.hidden_tests_included:
            out += [_(NO_HIDDEN_TESTS), ""]
    if not result.sandboxed:
        out += [_(NOT_SANDBOXED_NOTE).format(note=_(NOT_SANDBOXED) + _(FULL_STOP)), ""]
    if any(a.status == "flagged" for a in result.assignments):
        out += [_(FLAGGED_NOTE).format(note=_(FLAGGED) + _(FULL_STOP)), ""]
    out += [_(TABLE_HEAD), "|---|---|---|---|---|"]
    for a in result.assignments:
        tests = f"{a.passed}/{len(a.tests)}" if a.tests else "–"
        score = f"{a.score:g} / {a.max_score:g}"
        if a.ungraded_points:
            score = _(PUBLIC_SCORE).format(score=score, points=f"{a.ungraded_points:g}")
        out.append(f"| {a.id} | {_cell(localize(a.title))} | {score} | {tests} | {_cell(word(STATUS, a.status))} |")
    for a in result.assignments:
        failing = [t for t in a.tests if t.outcome != "passed"]
        if a.status == "graded" and not failing:
            continue
        out += ["", f"### {a.id} {_cell(localize(a.title))}", "", _cell(localize(a.message)), ""]
        for t in failing:
            summary = _(TEST_SUMMARY).format(visibility=word(VISIBILITY, t.visibility),
                                             outcome=word(OUTCOME, t.outcome), points=f"{t.max_score:g}")
            out.append(f"<details><summary>{ICONS[t.outcome]} <code>{_cell(t.name)}</code> {summary}</summary>")
            out += ["", "```text", localize(t.feedback).replace("```", "'''"), "```", "", "</details>"]
    return "\n".join(out) + "\n"
