"""The gradebook: every grading of every student's submissions, kept in a database.

``batch`` writes each student it grades (and each unchanged result it keeps
that the database lacks) into the gradebook at ``--gradebook URL``, else
course.toml's ``[gradebook] url``, else ``RESULTS/gradebook.sqlite``. The
results folder (``students/*.json``, ``summary.json``, ``grades.csv``) is
written as before: it is the export, the database the history.
``grade --record URL`` adds one submission's grading the same way.

This module needs nothing but the standard library, so ``batch`` can say in
one line that the gradebook is not written when the optional ``gradebook``
extra (SQLAlchemy, Alembic, psycopg) is not installed; the database code is
in grader.instructor.gradebook.store.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from grader.errors import EnvironmentFault, UsageError
from grader.manifest import course_setting

if TYPE_CHECKING:
    from grader.instructor.gradebook.store import Gradebook
    from grader.manifest import Manifest
    from grader.model import GradeResult
    from grader.records import Key
    from grader.stage import CourseTests

EXTRA = "pip install -e '.[gradebook]'"
DEFAULT_NAME = "gradebook.sqlite"
SECTION = "gradebook"
Kind = Literal["commit", "content", "unknown"]


@dataclass(frozen=True)
class Sighting:
    """What a batch had in hand for one student: the revision, the commit's own date, and when it had it."""

    revision: str  # a commit sha, or the contract files' hash for a folder
    kind: Kind
    committed_at: datetime | None  # from git (the student's to set): shown, never used to decide lateness
    seen_at: datetime  # when this batch had the revision: the grader's clock, not the student's
    # sha256 of each assignment's submitted module, by id: lateness is per assignment, from the first
    # sighting of that module's content (a commit that changes only 05 does not make 01 late).
    contents: dict[str, str] | None = None


def available() -> bool:
    """Whether the gradebook's packages (the ``gradebook`` extra) are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("sqlalchemy", "alembic"))


def configured_url(course_root: Path) -> str | None:
    """course.toml's ``[gradebook] url``, or None; UsageError when it is not a non-empty string."""
    value, path = course_setting(course_root, SECTION, "url")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{path}: [{SECTION}] url must be a database URL or a file path, got {value!r}")
    return value.strip()


def resolve_url(given: str | None, course_root: Path, out: Path) -> tuple[str, bool]:
    """The gradebook's URL and whether it was asked for (option or course.toml) rather than the default.

    A value without ``://`` is a SQLite file: relative to the current folder
    when given as an option, to the course root in course.toml.
    """
    if given is not None:
        return as_url(given, Path.cwd()), True
    configured = configured_url(course_root)
    if configured is not None:
        return as_url(configured, course_root), True
    return as_url(str(out / DEFAULT_NAME), Path.cwd()), False


def as_url(text: str, base: Path) -> str:
    """A database URL: ``text`` itself when it has a scheme, else the SQLite file it names."""
    if "://" in text:
        return text
    path = Path(text).expanduser()
    return f"sqlite:///{(path if path.is_absolute() else base / path).resolve()}"


class Recorder:
    """A batch's writer: adds each record, and never lets a database fault stop the grading.

    A record the database could not take is said once at the end; the next
    batch brings in every unchanged result the database lacks, so nothing
    sealed in the results folder is lost for good.
    """

    def __init__(self, book: Gradebook) -> None:
        self.book = book
        self.added = 0
        self.failed: list[str] = []
        self._reason = ""

    def add(self, record: dict[str, Any], sighting: Sighting | None, *, fresh: bool) -> None:
        """Record one student's result: graded by this batch (``fresh``), or an unchanged one it kept."""
        from sqlalchemy.exc import SQLAlchemyError

        try:
            if self.book.add(record, sighting, fresh=fresh):
                self.added += 1
        except (SQLAlchemyError, OSError, ValueError) as exc:
            self.failed.append(str(record.get("student")))
            self._reason = self._reason or " ".join(str(exc).split())[:200]

    def close(self) -> str | None:
        """Close the database; one line when some records were not written, else None."""
        self.book.close()
        if not self.failed:
            return None
        return (f"gradebook: {len(self.failed)} record(s) not written to {self.book.shown} "
                f"({', '.join(self.failed[:5])}{' ...' if len(self.failed) > 5 else ''}): {self._reason}; the "
                "results folder has them, and the next batch writes the unchanged ones")


def open_for_batch(url: str, asked: bool, key: Key, note: Callable[[str], None]) -> Recorder | None:
    """The batch's recorder, or None (said in one line) when the extra is missing and the gradebook is the default.

    Asked for (``--gradebook`` or course.toml) without the extra: EnvironmentFault,
    before anything is graded. A URL that cannot be opened: UsageError.
    """
    if not available():
        if asked:
            raise EnvironmentFault(f"the gradebook {url.split('://', 1)[0]}://... was asked for, but its packages "
                                   f"are not installed: {EXTRA}")
        note(f"note: no gradebook written (the optional extra is not installed: {EXTRA}); "
             "the results folder is written as always")
        return None
    from grader.instructor.gradebook.store import Gradebook

    return Recorder(Gradebook.open(url, key))


def record_grade(url: str, student: str | None, submission: Path, result: GradeResult, *, manifest: Manifest,
                 tests: CourseTests, key_path: Path | None = None) -> str:
    """``grade --record URL``: add one submission's result to the gradebook, as batch would; the line to show.

    The student is ``student``, else the submission folder's name (made file-safe
    as batch does). The revision is the hash of the contract files graded (a
    checkout's working tree may differ from its last commit), first seen now.
    """
    from grader.instructor.keys import contract_hash, identity
    from grader.instructor.roster import sanitize_name
    from grader.records import load_key

    if not available():
        raise EnvironmentFault(f"grade --record writes the gradebook, whose packages are not installed: {EXTRA}")
    from grader.instructor.gradebook.store import Gradebook

    name = sanitize_name(student if student is not None else submission.resolve().name)
    seen = datetime.now(UTC)
    revision = contract_hash(submission, manifest)
    record = {"student": name, "source": str(submission.resolve()), "key": f"{revision}+{identity(manifest, tests)}",
              "graded_at": seen.isoformat(timespec="seconds"), "status": "graded", "message": "", "not_graded": {},
              "sandboxed": result.sandboxed, "result": result.to_dict()}
    with Gradebook.open(as_url(url, Path.cwd()), load_key(key_path)) as book:
        book.add(record, Sighting(revision, "content", None, seen))
        shown = book.shown
    return f"recorded {name}'s grading in the gradebook {shown}"
