"""Sentences more than one output format shows, worded once."""
from __future__ import annotations

from grader.model import GradeResult


def public_only_note(result: GradeResult) -> str:
    """What a score from public tests alone is out of, and what is left to grade.

    "33/33" alone reads as full marks; the hidden tests are usually worth the
    larger part of each assignment.
    """
    graded = f"{result.score:g}/{result.max_score:g}"
    total = result.max_score + result.ungraded_points
    return (f"{graded} is the score of the public tests alone. The hidden tests, worth {result.ungraded_points:g} "
            f"more points, were not run here: they are graded when your instructor grades your submission, so "
            f"the full score is out of {total:g} and this is not your grade.")


NOT_SANDBOXED = ("the graded code ran without the operating-system sandbox (bubblewrap), so this result is no "
                 "grade of record")
