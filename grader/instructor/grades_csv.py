"""``grades.csv``: the class's grades as one spreadsheet, written here and nowhere else.

``batch`` writes it beside the student records and ``dashboard`` into its
site; both hand this module one :class:`GradeRow` per student, so the two
files agree cell for cell (lateness columns included) and every text cell is
guarded against spreadsheet formulas the same way. Standard library only.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field

from grader.instructor.gradebook.deadlines import penalised


@dataclass(frozen=True)
class GradeRow:
    """One student's line: what is a grade, why the rest is not, and the lateness the record carries."""

    student: str
    status: str  # graded, partial, error (or the dashboard's unverified)
    scores: Mapping[str, float]  # the assignments that are real grades, by id
    total: float | None  # None unless every assignment was graded
    not_started: frozenset[str] = frozenset()  # submitted as the untouched stub: an empty cell, never a 0
    attempted: frozenset[str] = frozenset()  # changed, but the time budget left it ungraded: an empty cell
    flagged: frozenset[str] = frozenset()  # held for review by the integrity screen: an empty cell until reviewed
    dated: bool = False  # the record carries lateness (course.toml has due times)
    late: Mapping[str, tuple[int, float]] = field(default_factory=dict)  # id: (days late, penalty %)
    first_seen_at: str = ""
    committed_at: str = ""
    as_of: str = ""


def grades_csv(ids: list[str], rows: list[GradeRow]) -> str:
    """``student,<assignment ids>,total,status,not_started,attempted,flagged``, then the lateness columns when
    rows carry them.

    Only a grade fills a cell (grader.instructor.statuses): what was not
    graded is an empty cell, never a 0. ``status`` is the record's (an
    ``error`` row could not be graded at all); the ids of a row's not-started,
    attempted (past the time budget) and flagged (held for review) assignments
    are listed, space-separated, in the columns of those names. The total
    stays what was earned when the rest are grades or not started, and is
    empty otherwise.

    When the rows carry lateness the scores above stay the raw ones and these
    columns follow: ``<id> late_days`` and ``<id> final`` (the score less its
    penalty) for each assignment some row has a due time for, ``final_total``,
    ``first_seen_at`` (when the grader first had the graded commit: what
    lateness is decided on), ``committed_at`` (the commit's own date, shown
    beside, never used) and ``as_of``.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    dated_ids = [i for i in ids if any(i in row.late for row in rows)]
    dates = any(row.dated for row in rows)
    late_head = [h for i in dated_ids for h in (f"{i} late_days", f"{i} final")]
    writer.writerow([_cell(h) for h in ["student", *ids, "total", "status", "not_started", "attempted", "flagged",
                                         *((*late_head, "final_total", "first_seen_at", "committed_at", "as_of")
                                           if dates else ())]])
    for row in rows:
        cells = [_cell(row.student), *(_num(row.scores[i]) if i in row.scores else "" for i in ids),
                 "" if row.total is None else _num(row.total), _cell(row.status),
                 *(_cell(" ".join(i for i in ids if i in listed))
                   for listed in (row.not_started, row.attempted, row.flagged))]
        if dates:
            cells += _late_cells(row, dated_ids)
        writer.writerow(cells)
    return buffer.getvalue()


def _late_cells(row: GradeRow, dated_ids: list[str]) -> list[str]:
    """The lateness columns of one row: per dated assignment its days late and final score, then the rest."""
    cells, lost = [], 0.0
    for i in dated_ids:
        late = row.late.get(i)
        if i not in row.scores or late is None:  # no grade, or nothing seen to be late: both cells empty
            cells += ["", ""]
            continue
        final = penalised(row.scores[i], late[1])
        lost += row.scores[i] - final
        cells += [str(late[0]), _num(final)]
    final_total = "" if row.total is None else _num(row.total - lost)
    return [*cells, final_total, _cell(row.first_seen_at), _cell(row.committed_at), _cell(row.as_of)]


def _num(value: float) -> str:
    return f"{round(value, 2):g}"


def _cell(text: str) -> str:
    """Text a spreadsheet would run as a formula gets a leading quote (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
