"""The results folder: sealed student records, what counts as a grade in them, summary.json and grades.csv."""
from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from grader.errors import UsageError
from grader.files import write_atomic
from grader.find import find_submission
from grader.instructor.gradebook.deadlines import late_days
from grader.instructor.grades_csv import GradeRow
from grader.instructor.grades_csv import grades_csv as write_grades_csv
from grader.instructor.statuses import CellStatus, cells, complete, counted, not_started, only
from grader.manifest import Manifest
from grader.model import GradeResult
from grader.records import Key

if TYPE_CHECKING:  # shards imports this module
    from grader.instructor.shards import Shard


RECORD_PURPOSE = "batch-student-record"
# A student file's status: "graded" (every assignment graded), "partial" (the time budget left some
# assignments ungraded, listed in "not_graded"), "error" (the submission could not be graded at all).
RecordStatus = Literal["graded", "partial", "error"]


def prepare_results(out: Path) -> None:
    """Create ``out/students`` and prove it writable; UsageError otherwise."""
    try:
        (out / "students").mkdir(parents=True, exist_ok=True)
        write_atomic(out / "students" / ".write-test", "")
        (out / "students" / ".write-test").unlink()
        for stale in (out / "students").glob(".*.partial"):  # left by a batch killed mid-write
            stale.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write results to {out}: {exc.strerror or exc}") from None


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def points_text(value: float) -> str:
    return f"{round(value, 2):g}"


def untouched_stubs(manifest: Manifest, folder: Path) -> list[str]:
    """The assignments whose submitted module is byte for byte the course's stub: not started, which is no 0."""
    ids = []
    for found in find_submission(folder, manifest):
        stub = manifest.root / "assignments" / found.assignment.id / found.assignment.module
        try:
            if found.source is not None and stub.is_file() and stub.read_bytes() == found.source:
                ids.append(found.assignment.id)
        except OSError:  # an unreadable stub: nothing can be said, so the assignment counts as attempted
            continue
    return ids


def total(record: dict[str, Any]) -> float | None:
    """A record's total when every assignment is a grade or not started (it adds nothing); None otherwise.

    An assignment attempted but ungraded, flagged for review or not graded
    at all leaves no total: summing the rest would count it as a 0.
    """
    if record.get("status") != "graded":
        return None
    found = cells(record).values()
    if any(c.status not in ("graded", "not_started") for c in found):
        return None
    return round(sum(c.score or 0.0 for c in found), 2)


def cells_with(record: dict[str, Any], status: CellStatus) -> frozenset[str]:
    """The ids of a record's assignments whose cell has ``status``."""
    return frozenset(i for i, c in cells(record).items() if c.status == status)


def class_statistics(ids: list[str], records: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and median of what was graded: totals of complete records, each assignment where it was graded.

    Only grades count (grader.instructor.statuses): a not-started, attempted
    or flagged assignment is left out of its assignment's statistics, and its
    student out of the totals' (their total would count it as a 0); each is
    counted per assignment under its own name.
    """
    def stats(values: list[float]) -> dict[str, Any]:
        if not values:
            return {"students": 0, "mean": None, "median": None}
        return {"students": len(values), "mean": round(statistics.fmean(values), 2),
                "median": round(float(statistics.median(values)), 2)}

    every = [cells(r) for r in records]  # each record's cells, read once
    totals = [t for r in records if (t := total(r)) is not None and complete(r)]
    per = {i: [c[i] for r in records if i in (c := counted(r))] for i in ids}
    return {"total": stats(totals), "assignments": {i: stats(v) for i, v in per.items()},
            "not_graded": sum(1 for r in records if r.get("status") != "graded"),
            **{status: {i: sum(1 for found in every if found.get(i) is not None and found[i].status == status)
                        for i in ids}
               for status in ("not_started", "attempted", "flagged")}}


def summary_json(manifest: Manifest, records: list[dict[str, Any]], shard: Shard | None = None) -> str:
    """``summary.json``: the course, one line per student of this batch, and statistics of what was graded.

    Only released assignments are listed (course.toml's ``released``), and
    a student's ``score`` and ``max_score`` are over those. A student not graded in full has a null ``score`` and lists only the
    assignments that were graded; statistics leave them out. A not-started
    assignment (the untouched stub) is left out of ``assignments`` and listed
    in ``not_started``; ``score`` stays what the student earned. An attempted
    (past the time budget) or flagged (held for review) one is listed in
    ``attempted`` or ``flagged``, and ``score`` is null. A sharded batch
    adds ``"shard": "K/N"``, which ``merge`` checks.
    """
    ids = [a.id for a in manifest.released().assignments]
    records = [only(r, ids) for r in records]
    students = [{
        "student": r["student"],
        "score": total(r),
        "max_score": float(r["result"]["max_score"]),
        "status": r["status"],
        "assignments": counted(r),
        "not_started": sorted(not_started(r)),
        "attempted": sorted(cells_with(r, "attempted")),
        "flagged": sorted(cells_with(r, "flagged")),
    } for r in records]
    data: dict[str, Any] = {"course": manifest.title, "generated_at": now_text(), "students": students,
                            "statistics": class_statistics(ids, records)}
    if shard is not None:
        data["shard"] = str(shard)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def grades_csv(manifest: Manifest, records: list[dict[str, Any]]) -> str:
    """``grades.csv`` of this batch's records, their released assignments only (``grader.instructor.grades_csv``, the project's one writer of it)."""
    ids = [a.id for a in manifest.released().assignments]
    return write_grades_csv(ids, [grade_row(only(r, ids)) for r in records])


def grade_row(record: dict[str, Any]) -> GradeRow:
    """A record's line of ``grades.csv``."""
    late = record.get("late")
    return GradeRow(student=str(record["student"]), status=str(record["status"]), scores=counted(record),
                    total=total(record), not_started=not_started(record),
                    attempted=cells_with(record, "attempted"), flagged=cells_with(record, "flagged"),
                    dated=late is not None,
                    late={str(i): found for i in late if (found := late_days(record, str(i)))}
                    if isinstance(late, dict) else {},
                    first_seen_at=str(record.get("first_seen_at") or ""),
                    committed_at=str(record.get("committed_at") or ""), as_of=str(record.get("as_of") or ""))


def earlier_record(path: Path, key: str, seal: Key) -> tuple[dict[str, Any], GradeResult, str] | None:
    """The student's earlier record, result and file text if this grader sealed it for exactly this key, complete.

    Errors and partial results are always retried; a record whose seal does
    not verify (edited, forged, from another key) is regraded, not trusted.
    """
    try:
        text = path.read_text(encoding="utf-8")
        record = seal.opened(RECORD_PURPOSE, json.loads(text))
        if record is None or record.get("key") != key or record.get("status") != "graded":
            return None
        result = GradeResult.from_dict(record["result"])  # a damaged file is regraded, not trusted
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return {**record, "result": result.to_dict()}, result, text


def kept_record(path: Path, seal: Key) -> dict[str, Any] | None:
    """The student's earlier record, whatever it graded, when its seal is good (kept when this run fails)."""
    try:
        return seal.opened(RECORD_PURPOSE, json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None
