"""``--format gradescope``: Gradescope's ``results.json``.

Per Gradescope's autograder specification: a test marked ``hidden`` is never
shown to students and hides their total score too, so hidden tests are
released with ``after_due_date`` by default (``after_published`` or
``hidden`` if course.toml says so: ``[gradescope] hidden_visibility``);
public tests are ``visible``. Outputs are Markdown (``output_format: md``), so
hints render as code rather than as literal backticks. Tests are listed per
assignment, public ones first, each group in name order, and numbered
``NN.k`` in that order, so a test keeps its number from one submission to the
next.

What a student reads (each test's feedback, the summary and its notes) is in
the active language (coursekit.i18n); names, statuses and scores are as they
are in every language.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coursekit.i18n import N_, _, localize
from grader.errors import UsageError
from grader.manifest import course_setting, find_course_root
from grader.model import AssignmentResult, GradeResult, TestResult
from grader.report.wording import FULL_STOP, NOT_SANDBOXED, public_only_note

HIDDEN_CHOICES = ("after_due_date", "after_published", "hidden")
DEFAULT_HIDDEN = "after_due_date"
FORMAT = "md"
PUBLIC_ONLY = N_("**Public tests only:** {note}")
NOT_SANDBOXED_NOTE = N_("**Not sandboxed:** {note}")
ASSIGNMENT_LINE = "{id}: {score} ({message})"


def hidden_visibility(course_root: Path) -> str:
    """course.toml's ``[gradescope] hidden_visibility`` (DEFAULT_HIDDEN when absent); UsageError when not a choice."""
    value, path = course_setting(course_root, "gradescope", "hidden_visibility")
    if value is None:
        value = DEFAULT_HIDDEN
    if value not in HIDDEN_CHOICES:
        raise UsageError(f"{path}: [gradescope] hidden_visibility must be one of {', '.join(HIDDEN_CHOICES)}, "
                         f"got {value!r}")
    return str(value)


def ordered(assignment: AssignmentResult) -> list[TestResult]:
    """The assignment's tests as Gradescope lists them: public first, then hidden, each in name order."""
    return sorted(assignment.tests, key=lambda t: (t.visibility != "public", t.name))


def payload(result: GradeResult, hidden: str = DEFAULT_HIDDEN) -> dict[str, Any]:
    """The results.json document, hidden tests released as ``hidden`` says."""
    if hidden not in HIDDEN_CHOICES:
        raise ValueError(f"hidden visibility {hidden!r} is not one of {HIDDEN_CHOICES}")
    tests = []
    for a in result.assignments:
        for number, t in enumerate(ordered(a), start=1):
            tests.append({
                "number": f"{a.id}.{number}",
                "name": f"{a.id} {t.name}",
                "score": t.score,
                "max_score": t.max_score,
                "status": "passed" if t.outcome == "passed" else "failed",
                "output": localize(t.feedback),
                "output_format": FORMAT,
                "visibility": "visible" if t.visibility == "public" else hidden,
            })
    summary = "\n\n".join(ASSIGNMENT_LINE.format(id=a.id, score=f"{a.score:g}/{a.max_score:g}",
                                                 message=localize(a.message)) for a in result.assignments)
    if result.ungraded_points:
        summary = _(PUBLIC_ONLY).format(note=public_only_note(result)) + "\n\n" + summary
    if not result.sandboxed:
        summary += "\n\n" + _(NOT_SANDBOXED_NOTE).format(note=_(NOT_SANDBOXED) + _(FULL_STOP))
    return {
        "score": result.score,
        "execution_time": round(result.duration),
        "output": summary,
        "output_format": FORMAT,
        "test_output_format": FORMAT,
        "tests": tests,
    }


def render(result: GradeResult, env: Mapping[str, str]) -> str:
    """results.json as text, with the hidden-test visibility of the course found from the working directory."""
    try:
        hidden = hidden_visibility(find_course_root(Path.cwd()))
    except UsageError as exc:
        if "hidden_visibility" in str(exc):
            raise
        hidden = DEFAULT_HIDDEN  # no course here: Gradescope's own default for this course
    return json.dumps(payload(result, hidden), indent=2, ensure_ascii=False) + "\n"
