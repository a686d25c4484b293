"""What one student's record says of one assignment: a grade, or which kind of no grade.

The one definition every instructor output uses (summary.json and grades.csv,
the dashboard, the nbgrader export), so none of them turns a non-grade into a
0. A cell is:

- ``graded``: a score that counts (a module not submitted at all is a graded 0);
- ``not_started``: the submitted module is, byte for byte, the course's stub;
- ``attempted``: the student changed the module, but it holds no grade: the
  per-student time budget ran out before it was graded;
- ``flagged``: the integrity screen found something for a person to look at
  (graded code refused something the grader forbids, or changed what graded
  it): the score is held for review and counts nowhere until then;
- ``error``: the submission could not be graded at all (a clone that failed,
  a fault of the grader's), or this record does not list the assignment.

Only ``graded`` cells count in statistics, totals and exports.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

CellStatus = Literal["graded", "not_started", "attempted", "flagged", "error"]
CELL_STATUSES: tuple[CellStatus, ...] = ("graded", "not_started", "attempted", "flagged", "error")
GRADED_RECORDS = ("graded", "partial")  # record statuses whose assignments can hold grades
HELD = ("void", "flagged")  # assignment statuses of the integrity screen: held for review


@dataclass(frozen=True)
class Cell:
    """One assignment of one student's record."""

    status: CellStatus
    score: float | None  # the grade when graded; for flagged, the score the tests gave, held; None otherwise
    max_score: float
    flags: tuple[str, ...] = ()  # the integrity screen's findings, for a person to review
    why: str = ""  # one line on why this is no grade ("" when it is one)

    @property
    def counts(self) -> bool:
        """Whether the cell is a grade that statistics, totals and exports use."""
        return self.status == "graded"


def not_started(record: dict[str, Any]) -> frozenset[str]:
    """The assignments a record says were submitted as the course's untouched stub (none in older records)."""
    ids = record.get("not_started")
    return frozenset(str(i) for i in ids) if isinstance(ids, list) else frozenset()


def not_graded(record: dict[str, Any]) -> dict[str, str]:
    """The assignments the time budget left ungraded, with why (none in a complete record)."""
    found = record.get("not_graded")
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def cell(record: dict[str, Any], assignment_id: str) -> Cell:
    """What ``record`` (a batch student record, its ``result`` a dict or a GradeResult) says of one assignment."""
    return _cell(record, _entry(record.get("result"), assignment_id), assignment_id)


def cells(record: dict[str, Any]) -> dict[str, Cell]:
    """``cell`` of every assignment the record lists, by id, in its order (the result read once)."""
    return {str(entry["id"]): _cell(record, entry, str(entry["id"])) for entry in _entries(record.get("result"))}


def _cell(record: dict[str, Any], entry: dict[str, Any] | None, assignment_id: str) -> Cell:
    max_score = float(entry.get("max_score", 0.0)) if entry is not None else 0.0
    if record.get("status") not in GRADED_RECORDS:
        return Cell("error", None, max_score, why=str(record.get("message") or "could not be graded"))
    if entry is None:
        return Cell("error", None, max_score, why="this record does not list the assignment")
    if assignment_id in not_started(record):
        return Cell("not_started", None, max_score, why="not started: the untouched stub")
    ungraded = not_graded(record)
    if assignment_id in ungraded:
        return Cell("attempted", None, max_score, why=f"not graded: {ungraded[assignment_id]}")
    flags = tuple(str(f) for f in entry.get("flags") or ())
    if entry.get("status") in HELD or flags:
        return Cell("flagged", float(entry["score"]), max_score, flags or (str(entry.get("message", "")),),
                    "held for review: " + "; ".join(flags or (str(entry.get("message", "")),)))
    return Cell("graded", float(entry["score"]), max_score)


def counted(record: dict[str, Any]) -> dict[str, float]:
    """The assignment scores of a record that are grades, by id (only ``graded`` cells)."""
    return {i: c.score for i, c in cells(record).items() if c.counts and c.score is not None}


def complete(record: dict[str, Any]) -> bool:
    """Whether every assignment of the record is a grade: only then is its total one."""
    found = cells(record)
    return bool(found) and all(c.counts for c in found.values())


def only(record: dict[str, Any], ids: Iterable[str]) -> dict[str, Any]:
    """``record`` narrowed to the assignments ``ids`` (the released ones): its result, its score and maximum, its
    lists of assignments not started and not graded; the record itself when it lists nothing else."""
    wanted = set(ids)
    entries = _entries(record.get("result"))
    if all(str(a["id"]) in wanted for a in entries):
        return record
    kept = [a for a in entries if str(a["id"]) in wanted]
    result = record["result"] if isinstance(record.get("result"), dict) else record["result"].to_dict()
    narrowed = {**result, "assignments": kept, "score": round(sum(float(a["score"]) for a in kept), 2),
                "max_score": round(sum(float(a["max_score"]) for a in kept), 2),
                "ungraded_points": round(sum(float(a.get("ungraded_points", 0.0)) for a in kept), 2)}
    return {**record, "result": narrowed, "not_started": sorted(not_started(record) & wanted),
            "not_graded": {k: v for k, v in not_graded(record).items() if k in wanted}}


def _entries(result: Any) -> list[dict[str, Any]]:
    if result is None:
        return []
    if not isinstance(result, dict):  # a GradeResult
        result = result.to_dict()
    entries = result.get("assignments")
    return [a for a in entries if isinstance(a, dict) and "id" in a] if isinstance(entries, list) else []


def _entry(result: Any, assignment_id: str) -> dict[str, Any] | None:
    return next((a for a in _entries(result) if str(a["id"]) == assignment_id), None)
