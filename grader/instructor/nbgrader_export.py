"""Write batch results into an nbgrader gradebook, so ``nbgrader export`` gives the usual CSV.

This is the optional ``nbgrader`` extra (``pip install -e '.[nbgrader]'``);
``python -m grader dashboard RESULTS --out SITE --nbgrader-db gradebook.db``
calls :func:`export`.

The mapping is the smallest one nbgrader's own scoring reads honestly. nbgrader
computes a submission's score as the sum of the ``Grade`` rows of the grade
cells in its notebooks, and an assignment's maximum as the sum of those cells'
``max_score``; so:

- every assignment of course.toml is an nbgrader ``Assignment`` named
  ``<id>-<slug>`` (``01-why-async``), holding one ``Notebook`` named after the
  module (``why_async``) with one code ``GradeCell`` called ``autograder``
  whose ``max_score`` is the assignment's points;
- every student file is a ``Student`` whose id is the student name (no names
  or e-mail: the results do not have them);
- every assignment graded (status ``graded``, or ``error`` when the
  student's code could not be imported or run) is a ``SubmittedAssignment``
  stamped with the result's ``graded_at``, whose one ``Grade`` has
  ``auto_score`` = the grader's score and needs no manual grading. An
  assignment the student did not submit (``missing``) has no submission,
  which nbgrader exports as score 0 with an empty timestamp.

What is no grade is never written as one (nbgrader would export it as a 0):
a student file whose seal does not verify with the results key (edited,
forged, or sealed with another key), a student the batch could not grade
(record status ``error``: a failed clone, a fault of the grader's), an
assignment the time budget left ungraded (listed in ``not_graded``), one not
started, and one the integrity screen flagged or voided (held for review).
grader.instructor.statuses decides, as for every other output. Their rows in the gradebook are left as they were, and
:func:`export` returns them, one line each, for the command to show.

Per-test detail stays in the dashboard: one grade cell per test would need
the same cells for every student and nbgrader shows no feedback text anyway.
The score goes into ``auto_score`` because it is the autograder's; a
``manual_score`` an instructor sets in formgrader takes precedence, as in
nbgrader, and a re-export does not overwrite it. Exporting again updates
rows in place (no duplicates); a submission whose assignment is now missing is
removed, with any manual score on it. Students and assignments the results do
not mention are left alone. A graded assignment whose maximum differs from
course.toml's points (graded without the hidden tests) is refused, as is a
database that is not an nbgrader gradebook.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import sqlite3
import subprocess
import sysconfig
import warnings
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from coursekit.hints import describe
from grader.instructor.results import RECORD_PURPOSE
from grader.instructor.statuses import GRADED_RECORDS, Cell, cell
from grader.errors import EnvironmentFault, UsageError
from grader.instructor.gradebook.deadlines import load_deadlines, penalised
from grader.manifest import Assignment, Manifest, find_course_root, load_manifest
from grader.model import AssignmentResult, GradeResult
from grader.records import Key

NEEDS_EXTRA = "nbgrader export needs the optional extra: pip install -e '.[nbgrader]'"
GRADE_CELL = "autograder"
STUDENT_NAME = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class StudentRecord:
    """What the gradebook needs from one RESULTS/students/<student>.json."""

    student: str
    graded_at: datetime
    result: GradeResult
    status: str = "graded"  # the batch record's status: graded, partial, error
    message: str = ""  # the batch record's message: why a student was not graded
    cells: dict[str, Cell] = field(default_factory=dict)  # each assignment's status (grader.instructor.statuses)
    late: dict[str, dict[str, Any]] = field(default_factory=dict)  # batch's lateness per assignment with a due time

    def grade(self, assignment_id: str) -> AssignmentResult | None:
        """The assignment's result when it is a grade (a "missing" one, not submitted, included); None otherwise."""
        found = self.cells.get(assignment_id)
        if found is None or not found.counts:
            return None
        return next((a for a in self.result.assignments if a.id == assignment_id), None)


@dataclass(frozen=True)
class Exported:
    """What :func:`export` did: students written, and one line per student or assignment left as it was."""

    students: int
    left_out: tuple[str, ...] = ()


def assignment_name(assignment: Assignment) -> str:
    """The nbgrader assignment name of a course assignment: ``<id>-<slug>``, e.g. ``01-why-async``."""
    return f"{assignment.id}-{assignment.slug}"


def export(results_dir: Path, db: Path, key: Key) -> Exported:
    """Write the grades of ``results_dir`` into the nbgrader gradebook ``db``, trusting only records ``key`` sealed.

    The course is the one around the current directory (as for every
    command). The whole results folder is checked before anything is
    written. Raises EnvironmentFault when nbgrader (or its ``alembic``) is not
    installed, UsageError when the results are unusable or the database
    cannot be written.
    """
    api = _nbgrader_api()
    manifest = load_manifest(find_course_root(Path.cwd()))
    records, left_out = load_records(results_dir, manifest, key)
    db = db.resolve()
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the folder of {db}: {exc.strerror}") from None
    with _environment_scripts_on_path():
        _check_database(db)
        try:
            with _quiet_nbgrader(), api.Gradebook(f"sqlite:///{db}") as gradebook:
                _write_assignments(gradebook, manifest)
                for record in records:
                    left_out += _write_student(api, gradebook, manifest, record)
        except _database_errors(api) as exc:
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            raise UsageError(f"cannot write the nbgrader gradebook {db}: {lines[0]}") from None
    return Exported(sum(1 for r in records if r.status in GRADED_RECORDS), tuple(left_out))


def _nbgrader_api() -> ModuleType:
    try:
        from nbgrader import api
    except ImportError:
        raise EnvironmentFault(NEEDS_EXTRA) from None
    return api


@contextmanager
def _quiet_nbgrader() -> Iterator[None]:
    """Hide SQLAlchemy's warnings about nbgrader's own session use.

    nbgrader 0.9 builds a submission's rows before adding them to the
    session, which SQLAlchemy 2 reports with an SAWarning per submission
    ("not in session, add operation ... will not proceed"); the rows are
    written all the same (the round-trip test reads them back through
    ``nbgrader export``), and an instructor can do nothing about it.
    """
    from sqlalchemy.exc import SAWarning  # installed with nbgrader

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=SAWarning, module=r"nbgrader\.")
        yield


def _database_errors(api: ModuleType) -> tuple[type[Exception], ...]:
    """What writing a gradebook raises for a file that is not one, or a database it cannot change."""
    from sqlalchemy.exc import SQLAlchemyError  # installed with nbgrader

    return (SQLAlchemyError, api.InvalidEntry, api.MissingEntry, subprocess.CalledProcessError)


@contextmanager
def _environment_scripts_on_path() -> Iterator[None]:
    """Put this Python environment's scripts folder first on PATH, restoring PATH afterwards.

    nbgrader runs the ``alembic`` command (``alembic heads``) when it creates
    a database, found on PATH. A virtual environment used without activation
    (``.venv/bin/python -m grader ...``) does not have its ``bin`` on PATH, so
    the ``alembic`` installed beside nbgrader would not be found, or another
    one would. This changes ``os.environ`` for the process while the
    gradebook is written (the command line is single-threaded).
    """
    scripts = sysconfig.get_path("scripts")
    saved = os.environ.get("PATH")
    os.environ["PATH"] = os.pathsep.join(p for p in (scripts, saved) if p)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = saved


def _check_database(db: Path) -> None:
    """Refuse a file that is not an nbgrader gradebook, and say up front when a new one cannot be made.

    nbgrader would add its tables to any SQLite database it is given, and
    fail with a bare FileNotFoundError when ``alembic`` is missing.
    """
    if db.exists() and db.stat().st_size > 0:
        try:
            with closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)) as connection:
                tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.Error as exc:
            raise UsageError(f"{db} is not an nbgrader gradebook: {exc}") from None
        if tables and "alembic_version" not in tables:
            raise UsageError(f"{db} is an SQLite database but not an nbgrader gradebook: give a new file")
        if tables:
            return
    if shutil.which("alembic") is None:
        raise EnvironmentFault("nbgrader needs the `alembic` command to create a gradebook and it is not on PATH "
                         f"nor in {sysconfig.get_path('scripts')}: reinstall the extra: pip install -e '.[nbgrader]'")


def load_records(results_dir: Path, manifest: Manifest, key: Key) -> tuple[list[StudentRecord], list[str]]:
    """Every RESULTS/students/*.json that ``key`` sealed as a StudentRecord, checked against the course, and one
    line per file left out because its seal does not verify; UsageError for results that are unusable."""
    folder = results_dir / "students"
    if not folder.is_dir():
        raise UsageError(f"{results_dir} has no students/ folder: is it a folder written by `batch`?")
    records: dict[str, StudentRecord] = {}
    left_out = []
    for path in sorted(folder.glob("*.json")):
        record = _read_record(path, manifest, key)
        if record is None:
            left_out.append(f"{path.name}: its seal does not verify with the key {key.path} (edited, forged or "
                            "sealed with another key): nothing of it is written")
            continue
        if record.student in records:
            raise UsageError(f"{path}: student {record.student!r} appears in two result files")
        records[record.student] = record
    return list(records.values()), left_out


def _read_record(path: Path, manifest: Manifest, key: Key) -> StudentRecord | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        data = key.opened(RECORD_PURPOSE, raw)
        if data is None:
            return None
        student = data["student"]
        graded_at = datetime.fromisoformat(data["graded_at"])
        result = GradeResult.from_dict(data["result"])
        status = str(data.get("status", "graded"))
        message = str(data.get("message", ""))
        cells = {a.id: cell(data, a.id) for a in result.assignments}
        late = {str(k): dict(v) for k, v in (data.get("late") or {}).items() if isinstance(v, dict)}
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{path} is not a batch result file ({describe(exc)})") from None
    if not isinstance(student, str) or not STUDENT_NAME.fullmatch(student):
        raise UsageError(f"{path}: student name {student!r} is not made of letters, digits, '_', '.', '-'")
    points = {a.id: a.points for a in manifest.assignments}
    record = StudentRecord(student, graded_at, result, status, message, cells, late)
    for graded in result.assignments:
        if graded.id not in points:
            raise UsageError(f"{path}: assignment {graded.id!r} is not in course.toml: results of another course?")
        # The gradebook holds one maximum per assignment: a score out of another
        # maximum (graded without the hidden tests) would be exported wrongly.
        if (graded.status == "graded" and record.grade(graded.id) is not None
                and not math.isclose(graded.max_score, points[graded.id])):
            raise UsageError(f"{path}: assignment {graded.id} was graded out of {graded.max_score:g} points but "
                             f"course.toml gives it {points[graded.id]}: grade with the hidden tests")
    return record


def _utc_naive(moment: datetime) -> datetime:
    """nbgrader keeps naive UTC datetimes."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def _write_assignments(gradebook: Any, manifest: Manifest) -> None:
    """Every course assignment with its one notebook, one grade cell worth its points, and its due time if any."""
    deadlines = load_deadlines(manifest)
    for assignment in manifest.released().assignments:  # an unreleased one is not in the gradebook yet
        name = assignment_name(assignment)
        deadline = deadlines.get(assignment.id)
        gradebook.update_or_create_assignment(
            name, **({"duedate": _utc_naive(deadline.due)} if deadline is not None else {}))
        gradebook.update_or_create_notebook(assignment.module_name, name)
        gradebook.update_or_create_grade_cell(GRADE_CELL, assignment.module_name, name,
                                              max_score=float(assignment.points), cell_type="code")


def _write_student(api: ModuleType, gradebook: Any, manifest: Manifest, record: StudentRecord) -> list[str]:
    """Write the student's grades; one line per assignment (or the whole student) left as it was, and why."""
    if record.status not in GRADED_RECORDS:
        why = f": {record.message}" if record.message else ""
        return [f"{record.student}: not graded (status {record.status}{why}): nothing written"]
    gradebook.update_or_create_student(record.student)
    listed = {a.id: a for a in record.result.assignments}
    deadlines = load_deadlines(manifest)
    left_out = []
    for assignment in manifest.released().assignments:
        result = listed.get(assignment.id)
        grade = record.grade(assignment.id)
        if result is not None and grade is None:
            found = record.cells.get(assignment.id)
            why = ("the time budget ran out" if found.status == "attempted" else found.why) if found is not None \
                else f"status {result.status}"
            left_out.append(f"{record.student}: {assignment.id} not graded ({why}): not written")
        elif grade is None or grade.status == "missing":
            _remove_submission(api, gradebook, assignment, record.student)
        else:
            deadline = deadlines.get(assignment.id)
            _write_grade(api, gradebook, assignment, record, grade, deadline.due if deadline is not None else None)
    return left_out


def _remove_submission(api: ModuleType, gradebook: Any, assignment: Assignment, student: str) -> None:
    try:
        gradebook.remove_submission(assignment_name(assignment), student)
    except api.MissingEntry:
        pass  # never submitted, nothing to undo


def _write_grade(api: ModuleType, gradebook: Any, assignment: Assignment, record: StudentRecord,
                 result: AssignmentResult, due: datetime | None = None) -> None:
    name = assignment_name(assignment)
    # With a due time, nbgrader's timestamp is when the grader first saw the graded content (what batch decided
    # lateness on), its extension the student's own extra time; without one, when it was graded.
    late = record.late.get(assignment.id)
    timestamp = datetime.fromisoformat(late["first_seen_at"]) if late else record.graded_at
    extra: dict[str, Any] = {}
    if late and due is not None:
        moved = datetime.fromisoformat(late["due"]) - due
        extra["extension"] = moved if moved.total_seconds() > 0 else None
    gradebook.update_or_create_submission(name, record.student, timestamp=timestamp, **extra)
    try:
        grade = gradebook.find_grade(GRADE_CELL, assignment.module_name, name, record.student)
    except api.MissingEntry:
        # A submission made before its grade cell existed has no Grade row:
        # nbgrader builds the rows only when a submission is created.
        gradebook.remove_submission(name, record.student)
        gradebook.add_submission(name, record.student, timestamp=timestamp, **extra)
        grade = gradebook.find_grade(GRADE_CELL, assignment.module_name, name, record.student)
    grade.auto_score = result.score
    grade.needs_manual_grade = False
    # The points batch's late policy takes (nbgrader subtracts a notebook's late_submission_penalty in its export).
    notebook = gradebook.find_submission_notebook(assignment.module_name, name, record.student)
    percent = float(late["penalty"]) if late and int(late["days"]) > 0 else 0.0
    notebook.late_submission_penalty = result.score - penalised(result.score, percent) if percent else None
    gradebook.db.commit()
