"""The gradebook's database: open (and migrate) it, add batch records, read the history back.

Needs the ``gradebook`` extra (SQLAlchemy, Alembic; psycopg for PostgreSQL).
"""
from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from grader.errors import UsageError
from grader.instructor.gradebook import Sighting
from grader.instructor.gradebook.models import AssignmentGrade, Base, GradedTest, Grading, Submission
from grader.records import Key

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
SUBMISSION_SEAL = "gradebook-submission/1"
GRADING_SEAL = "gradebook-grading/1"
# Any fixed number: two batches opening one PostgreSQL gradebook at once migrate it one after the other.
MIGRATION_LOCK = 0x67726164


def grader_version() -> str:
    """The course package's version, recorded with every grading."""
    try:
        return importlib.metadata.version("asyncio-course")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the gradebook's migrations (there is no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def database_url(url: str) -> URL:
    """The SQLAlchemy URL; ``postgresql://`` means psycopg 3 (the driver the extra installs), not psycopg2."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        shown = f"{url.split('://', 1)[0]}://..." if "://" in url else repr(url)  # a URL may hold a password
        raise UsageError(f"{shown} is not a database URL (e.g. sqlite:///PATH or postgresql://USER@HOST/DB)") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment.astimezone(UTC)


def submission_payload(row: Submission) -> dict[str, Any]:
    """What a submission row's seal covers (``contents`` only when there: rows sealed before it still verify)."""
    payload: dict[str, Any] = {"student": row.student, "revision": row.revision, "kind": row.kind,
                               "source": row.source, "committed_at": _iso(row.committed_at),
                               "first_seen_at": _iso(row.first_seen_at)}
    if row.contents is not None:
        payload["contents"] = dict(sorted(row.contents.items()))
    return payload


def grading_payload(row: Grading, revision: str | None) -> dict[str, Any]:
    """What a grading row's seal covers: the row, its submission's revision, every assignment and test."""
    return {
        "student": row.student, "revision": revision, "key": row.key, "grader_version": row.grader_version,
        "status": row.status, "message": row.message, "score": row.score, "max_score": row.max_score,
        "sandboxed": row.sandboxed, "hidden_tests_included": row.hidden_tests_included,
        "graded_at": _iso(row.graded_at),
        "assignments": [{
            "assignment": a.assignment, "title": a.title, "status": a.status, "score": a.score,
            "max_score": a.max_score, "message": a.message, "flags": list(a.flags), "not_graded": a.not_graded,
            "tests": [[t.position, t.name, t.visibility, t.outcome, t.score, t.max_score, t.feedback]
                      for t in a.tests],
        } for a in row.assignments],
    }


@dataclass(frozen=True)
class TestView:
    """One test of a grading, as the gradebook has it."""

    __test__ = False  # not a pytest class, though its name says Test

    name: str
    visibility: str
    outcome: str
    score: float
    max_score: float
    feedback: str


@dataclass(frozen=True)
class AssignmentView:
    """One assignment of a grading."""

    assignment: str
    title: str
    status: str
    score: float
    max_score: float
    message: str
    flags: tuple[str, ...]
    not_graded: str | None  # why the time budget left it ungraded; None when it was graded
    tests: tuple[TestView, ...]


@dataclass(frozen=True)
class GradingView:
    """One grading of one student's submission, with what the gradebook knows of that submission."""

    student: str
    revision: str | None  # None: no revision was in hand (a clone that failed)
    kind: str | None
    committed_at: datetime | None
    first_seen_at: datetime | None
    key: str
    grader_version: str
    status: str
    message: str
    score: float | None
    max_score: float
    sandboxed: bool
    graded_at: datetime
    verified: bool  # both seals (grading and submission) are this key's: no one else wrote or edited the rows
    assignments: tuple[AssignmentView, ...]
    # The submission's module hashes by assignment id (migration 0002 on; empty before, or with no submission).
    contents: dict[str, str] = field(default_factory=dict)


class Gradebook:
    """An open gradebook database, migrated to this grader's schema."""

    def __init__(self, engine: Engine, key: Key) -> None:
        self.engine = engine
        self.key = key
        self.shown = engine.url.render_as_string(hide_password=True)

    @classmethod
    def open(cls, url: str, key: Key) -> Gradebook:
        """Open the database at ``url``, creating or upgrading its tables; UsageError when it cannot be used.

        A database that has tables but none of Alembic's bookkeeping is not a
        gradebook and is refused, as is one at a schema revision this grader
        does not know (a newer grader's, or another application's).
        """
        parsed = database_url(url)
        shown = parsed.render_as_string(hide_password=True)
        if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
            try:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UsageError(f"cannot create the folder of the gradebook {shown}: {exc.strerror}") from None
        try:
            engine = create_engine(parsed)
        except (NoSuchModuleError, ImportError) as exc:
            raise UsageError(f"the gradebook {shown} is of a kind this grader cannot open ({exc}): SQLite "
                             "(sqlite:///PATH) and PostgreSQL (postgresql://, through psycopg) are") from None
        try:
            cls._migrate(engine, shown)
        except SQLAlchemyError as exc:
            engine.dispose()
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            raise UsageError(f"cannot open the gradebook {shown}: {lines[0]}") from None
        except UsageError:
            engine.dispose()
            raise
        return cls(engine, key)

    @staticmethod
    def _migrate(engine: Engine, shown: str) -> None:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": MIGRATION_LOCK})
            tables = set(inspect(connection).get_table_names())
            if tables and "alembic_version" not in tables:
                raise UsageError(f"{shown} is a database but not a gradebook (it has tables "
                                 f"{', '.join(sorted(tables)[:5])}): give a new or empty database")
            try:
                command.upgrade(alembic_config(connection), "head")
            except CommandError as exc:
                raise UsageError(f"{shown} is at a schema revision this grader does not know ({exc}): a gradebook "
                                 "of a newer grader, or another application's database") from None

    def close(self) -> None:
        """Close every connection."""
        self.engine.dispose()

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with Session(self.engine) as session, session.begin():
            yield session

    def add(self, record: dict[str, Any], sighting: Sighting | None, *, fresh: bool = True,
            now: datetime | None = None) -> bool:
        """Add one batch record (as written to RESULTS/students/); False when it was kept and is already there.

        ``fresh``: the record comes from a grading just done, so it is a new
        row whatever the gradebook holds; otherwise (an unchanged result a
        batch kept) it is added only when no grading with its key and
        ``graded_at`` is there yet.

        The submission's ``first_seen_at`` becomes the earliest of what the
        gradebook had (when its seal is good), this sighting, and the record's
        own ``graded_at`` (a sealed record proves the grader had the revision
        by then, which counts for one graded before the gradebook existed).
        """
        now = now if now is not None else datetime.now(UTC)
        student = str(record["student"])
        key = str(record.get("key") or "")
        graded_at = _parse_time(str(record["graded_at"]))
        if sighting is None and key:
            sighting = Sighting(key.split("+", 1)[0], "unknown", None, graded_at + timedelta(seconds=1))
        with self._session() as session:
            exists = None if fresh else session.scalar(select(Grading.id).where(
                Grading.student == student, Grading.key == key, Grading.graded_at == graded_at).limit(1))
            submission = None
            if sighting is not None:
                # graded_at is cut to the second: the revision was in hand before graded_at + 1 s, not
                # always before graded_at itself, and a first sighting must never be earlier than the truth.
                submission = self._sighted(session, student, str(record.get("source", "")), sighting,
                                           min(sighting.seen_at, graded_at + timedelta(seconds=1)))
            if exists is not None:
                return False
            grading = self._grading(record, student, key, graded_at, now)
            grading.submission = submission
            session.add(grading)
            session.flush()
            grading.seal = self.key.seal(GRADING_SEAL, grading_payload(grading, submission.revision if submission else None))
        return True

    def _sighted(self, session: Session, student: str, source: str, sighting: Sighting,
                 seen: datetime) -> Submission:
        row = session.scalar(select(Submission).where(Submission.student == student,
                                                      Submission.revision == sighting.revision))
        if row is None:
            row = Submission(student=student, revision=sighting.revision, kind=sighting.kind, source=source,
                             committed_at=sighting.committed_at, first_seen_at=seen, contents=sighting.contents)
            session.add(row)
        else:
            trusted = self.key.verify(SUBMISSION_SEAL, submission_payload(row), row.seal)
            # An edited row's first sighting is not believed: an earlier time there could excuse a late commit.
            row.first_seen_at = min(row.first_seen_at, seen) if trusted else seen
            if sighting.kind != "unknown":
                row.kind = sighting.kind
            if sighting.committed_at is not None:
                row.committed_at = sighting.committed_at
            row.source = source or row.source
            if sighting.contents is not None:
                row.contents = dict(sighting.contents)
        row.seal = self.key.seal(SUBMISSION_SEAL, submission_payload(row))
        return row

    @staticmethod
    def _grading(record: dict[str, Any], student: str, key: str, graded_at: datetime, now: datetime) -> Grading:
        result = record["result"]
        status = str(record["status"])
        not_graded: dict[str, str] = dict(record.get("not_graded") or {})
        grading = Grading(
            student=student, key=key, grader_version=grader_version(), status=status,
            message=str(record.get("message", "")),
            score=float(result["score"]) if status == "graded" else None, max_score=float(result["max_score"]),
            sandboxed=bool(record.get("sandboxed", result.get("sandboxed", False))),
            hidden_tests_included=any(t["visibility"] == "hidden" for a in result["assignments"] for t in a["tests"]),
            graded_at=graded_at, recorded_at=now, seal="")
        for entry in result["assignments"]:
            grade = AssignmentGrade(
                assignment=str(entry["id"]), title=str(entry["title"]), status=str(entry["status"]),
                score=float(entry["score"]), max_score=float(entry["max_score"]), message=str(entry["message"]),
                flags=[str(flag) for flag in entry.get("flags", [])], not_graded=not_graded.get(str(entry["id"])))
            grade.tests = [GradedTest(position=number, name=str(t["name"]), visibility=str(t["visibility"]),
                                      outcome=str(t["outcome"]), score=float(t["score"]),
                                      max_score=float(t["max_score"]), feedback=str(t["feedback"]))
                           for number, t in enumerate(entry["tests"])]
            grading.assignments.append(grade)
        return grading

    def sight(self, student: str, source: str, sighting: Sighting) -> datetime:
        """Record that a batch has ``sighting``'s revision in hand now; its first sighting (the earliest)."""
        with self._session() as session:
            return self._sighted(session, student, source, sighting, sighting.seen_at).first_seen_at

    def _trusted(self, student: str) -> list[Submission]:
        """The student's submissions whose seals verify, first seen first: an edited time is never believed."""
        with Session(self.engine) as session:
            rows = session.scalars(select(Submission).where(Submission.student == student)
                                   .order_by(Submission.first_seen_at, Submission.id)).all()
            session.expunge_all()
        return [row for row in rows if self.key.verify(SUBMISSION_SEAL, submission_payload(row), row.seal)]

    def first_seen(self, student: str, revision: str) -> dict[str, datetime]:
        """When the grader first saw each assignment's module as it is in ``revision``, by assignment id.

        The earliest sighting of any of the student's revisions holding the
        same module content counts: a later commit that changes another
        assignment does not make this one late. Under ``"*"``, the revision's
        own first sighting (what an assignment without recorded contents, from
        before migration 0002, is judged by). Empty when it was never seen.
        """
        rows = self._trusted(student)
        mine = next((row for row in rows if row.revision == revision), None)
        if mine is None:
            return {}
        firsts: dict[str, datetime] = {"*": mine.first_seen_at}
        if mine.contents is None:
            return firsts
        for assignment, digest in mine.contents.items():
            firsts[assignment] = min(row.first_seen_at for row in rows
                                     if row is mine or (row.contents or {}).get(assignment) == digest)
        return firsts

    def last_seen_by(self, student: str, moment: datetime) -> tuple[str, datetime] | None:
        """The student's commit (sha, first sighting) first seen last at or before ``moment``; None if none was."""
        seen = [row for row in self._trusted(student) if row.kind == "commit" and row.first_seen_at <= moment]
        return (seen[-1].revision, seen[-1].first_seen_at) if seen else None

    def history(self, student: str | None = None) -> list[GradingView]:
        """Every grading (of ``student``, or of everyone), oldest first, each with whether its seals verify."""
        query = (select(Grading)
                 .options(selectinload(Grading.submission),
                          selectinload(Grading.assignments).selectinload(AssignmentGrade.tests))
                 .order_by(Grading.graded_at, Grading.id))
        if student is not None:
            query = query.where(Grading.student == student)
        with Session(self.engine) as session:
            return [self._view(row) for row in session.scalars(query)]

    def _view(self, row: Grading) -> GradingView:
        submission = row.submission
        revision = submission.revision if submission is not None else None
        verified = self.key.verify(GRADING_SEAL, grading_payload(row, revision), row.seal) and (
            submission is None or self.key.verify(SUBMISSION_SEAL, submission_payload(submission), submission.seal))
        assignments = tuple(AssignmentView(
            a.assignment, a.title, a.status, a.score, a.max_score, a.message, tuple(a.flags), a.not_graded,
            tuple(TestView(t.name, t.visibility, t.outcome, t.score, t.max_score, t.feedback) for t in a.tests),
        ) for a in row.assignments)
        return GradingView(
            row.student, revision, submission.kind if submission else None,
            submission.committed_at if submission else None, submission.first_seen_at if submission else None,
            row.key, row.grader_version, row.status, row.message, row.score, row.max_score, row.sandboxed,
            row.graded_at, verified, assignments, dict(submission.contents or {}) if submission else {})


def new_revision(message: str) -> None:
    """For a developer who changed models.py: write the migration that brings a database at head to the models.

    Autogenerated against a fresh in-memory SQLite database upgraded to head;
    read the new file in migrations/versions/ before committing it.
    ``python -c "from grader.instructor.gradebook.store import new_revision; new_revision('what changed')"``.
    """
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        config = alembic_config(connection)
        command.upgrade(config, "head")
        command.revision(config, message, autogenerate=True)
