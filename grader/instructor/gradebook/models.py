"""The gradebook's tables (SQLAlchemy 2.x ORM); the Alembic migrations create exactly these.

Four tables, one row per thing the grader saw or decided, never updated in
place except a submission's first sighting (which can only move earlier):

- ``submissions``: one per student and revision (a commit sha, or the
  contract files' hash for a folder), with the commit's own date (from git:
  shown, never trusted, since a student sets it) and ``first_seen_at``, the
  earliest time any batch had that revision in hand;
- ``gradings``: one per grading of a submission (a regrade is a new row),
  with the batch record's key, status, message, score and when it was graded;
- ``assignment_grades`` and ``graded_tests``: each assignment's status,
  score and flags, and each test's outcome, points and feedback.

Every submission and grading row carries ``seal``, an HMAC with the results
key (grader/records.py), so a row that anything but the grader wrote or
edited is told from a true one.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Dialect, ForeignKey, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import DateTime, TypeDecorator

# Constraint names fixed by convention: a migration can then name what it alters, on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A moment in UTC: timezone-aware in and out, whatever the database keeps.

    SQLite has no time zones (SQLAlchemy stores its text without the offset),
    PostgreSQL's ``timestamptz`` answers in the session's zone: both come
    back as aware UTC datetimes, and a naive one is refused on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"a naive datetime {value!r} has no time zone: the gradebook keeps UTC moments")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """The gradebook's tables."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Submission(Base):
    """One revision of one student's work, and when the grader first had it."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("student", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student: Mapped[str] = mapped_column(String(200))
    revision: Mapped[str] = mapped_column(String(64))  # commit sha, or sha256 of the contract files
    kind: Mapped[str] = mapped_column(String(16))  # "commit" (a repository) or "content" (a folder)
    source: Mapped[str] = mapped_column(Text)  # the repository URL (no credentials) or folder
    committed_at: Mapped[datetime | None]  # the commit's date from git: the student's to set, so shown only
    first_seen_at: Mapped[datetime]  # the earliest moment a batch had this revision: what lateness is decided on
    # sha256 of each assignment's module in this revision, by id (None for rows written before revision 0002)
    contents: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    seal: Mapped[str] = mapped_column(String(64))

    gradings: Mapped[list[Grading]] = relationship(back_populates="submission", order_by="Grading.graded_at")


class Grading(Base):
    """One grading of a submission by one batch: a regrade adds a row, never changes one."""

    __tablename__ = "gradings"
    # Not unique: two gradings of one submission within one second (graded_at is to the second) are two rows.
    __table_args__ = (Index("ix_gradings_student_key", "student", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # None when no revision was ever in hand (a clone that failed).
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    student: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))  # the batch record's key: revision + course and grader identity
    grader_version: Mapped[str] = mapped_column(String(40))  # the course package's version
    status: Mapped[str] = mapped_column(String(16))  # the record's: graded, partial, error
    message: Mapped[str] = mapped_column(Text)
    score: Mapped[float | None]  # the total when every assignment was graded, else None (no grade)
    max_score: Mapped[float]
    sandboxed: Mapped[bool]
    hidden_tests_included: Mapped[bool]
    graded_at: Mapped[datetime]
    recorded_at: Mapped[datetime]  # when this row was written (later than graded_at for a record brought in later)
    seal: Mapped[str] = mapped_column(String(64))

    submission: Mapped[Submission | None] = relationship(back_populates="gradings")
    assignments: Mapped[list[AssignmentGrade]] = relationship(
        back_populates="grading", order_by="AssignmentGrade.assignment", cascade="all, delete-orphan")


class AssignmentGrade(Base):
    """One assignment of one grading."""

    __tablename__ = "assignment_grades"
    __table_args__ = (UniqueConstraint("grading_id", "assignment"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grading_id: Mapped[int] = mapped_column(ForeignKey("gradings.id", ondelete="CASCADE"))
    assignment: Mapped[str] = mapped_column(String(16))  # the course.toml id, "01"
    title: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # graded, missing, error, void, flagged
    score: Mapped[float]
    max_score: Mapped[float]
    message: Mapped[str] = mapped_column(Text)
    flags: Mapped[list[str]] = mapped_column(JSON)  # integrity findings for a human to review
    not_graded: Mapped[str | None] = mapped_column(Text)  # why the time budget left it ungraded; None when graded

    grading: Mapped[Grading] = relationship(back_populates="assignments")
    tests: Mapped[list[GradedTest]] = relationship(
        back_populates="assignment_grade", order_by="GradedTest.position", cascade="all, delete-orphan")


class GradedTest(Base):
    """One test of one assignment of one grading."""

    __tablename__ = "graded_tests"
    __table_args__ = (UniqueConstraint("assignment_grade_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_grade_id: Mapped[int] = mapped_column(ForeignKey("assignment_grades.id", ondelete="CASCADE"))
    position: Mapped[int]  # the order the result lists the tests in
    name: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(16))  # public, hidden
    outcome: Mapped[str] = mapped_column(String(16))  # passed, failed, error, timeout, skipped
    score: Mapped[float]
    max_score: Mapped[float]
    feedback: Mapped[str] = mapped_column(Text)

    assignment_grade: Mapped[AssignmentGrade] = relationship(back_populates="tests")
