"""The gradebook database (grader/gradebook): round trips on SQLite and on a real PostgreSQL, its migrations,
and batch writing every grading into it (history across runs, first sightings from the grader's clock).

The PostgreSQL server is Debian's (``postgresql`` package, /usr/lib/postgresql/N/bin), started by the
``postgres`` fixture in a temporary folder, listening only on a unix socket there, once per test session;
each test gets a database of its own. It is skipped, saying why, only where those binaries are absent.
"""
from __future__ import annotations

import io
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from repo_support import own_key  # noqa: F401 - an autouse fixture
from repo_support import (
    ROOT, batch_01, batch_records, git_commit, run_grader, solution_source,
)
from sqlalchemy import Column, Integer, MetaData, create_engine, inspect, text

from coursekit.testing import assert_same
from grader.instructor import batch
from grader.instructor.roster import read_sources
from grader.instructor import progress
from grader.errors import EnvironmentFault, UsageError
from grader.instructor.gradebook import Recorder, Sighting, as_url, open_for_batch, resolve_url
from grader.instructor.gradebook import store as gradebook_store
from grader.instructor.gradebook.models import Base
from grader.instructor.gradebook.store import Gradebook, GradingView
from grader.manifest import load_manifest
from grader.model import AssignmentResult, GradeResult
from grader.pipeline import course_tests
from grader.records import Key, load_key
from grader.stage import CourseTests

# The first test on PostgreSQL also waits for initdb and the server's start (about 1.5 s on a quiet machine).
pytestmark = pytest.mark.timeout(60)

KEY = Key(b"k" * 32, Path("unused"))
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NOBODY = 65534  # initdb and postgres refuse to run as root


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_server_user(folder: Path) -> list[str]:
    """The prefix that runs a server command as an unprivileged user when the tests run as root."""
    if os.geteuid() != 0:
        return []
    os.chown(folder, NOBODY, NOBODY)
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A PostgreSQL server of its own on a unix socket in a temporary folder; yields its base URL (no database)."""
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    # Not under pytest's own temporary folder: as root that is 0700, where the server's user cannot enter.
    folder = Path(tempfile.mkdtemp(prefix="gradebook-pg-"))
    prefix = _as_server_user(folder)
    data = folder / "data"
    try:
        _server_command(prefix, bindir / "initdb", "-D", str(data), "-U", "grader", "--auth=trust", "-E", "UTF8",
                        "--no-locale", "--no-sync")
        # No TCP at all (listen_addresses empty): only this folder's socket; fsync off: the data is thrown away.
        _server_command(prefix, bindir / "pg_ctl", "-D", str(data), "-o", f"-k {folder} -c listen_addresses= "
                        "-c fsync=off", "-w", "-t", "30", "-l", str(folder / "server.log"), "start")
        yield f"postgresql://grader@/{{db}}?host={folder}"
    finally:
        if (data / "postmaster.pid").exists():
            _server_command(prefix, bindir / "pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def _server_command(prefix: list[str], program: Path, *args: str) -> None:
    done = subprocess.run([*prefix, str(program), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{program.name} failed ({done.returncode}): {done.stderr or done.stdout}"


_databases = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gradebook.sqlite'}"
    base: str = request.getfixturevalue("postgres")
    name = f"gradebook_{next(_databases)}"
    engine = create_engine(base.format(db="postgres").replace("postgresql://", "postgresql+psycopg://"),
                           isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return base.format(db=name)


def _record(student: str = "alice", revision: str = "a" * 40, graded_at: datetime = T0, *, status: str = "graded",
            score: float = 50.0, flags: list[str] | None = None, not_graded: dict[str, str] | None = None,
            message: str = "") -> dict[str, Any]:
    """A batch record (the shape of RESULTS/students/<student>.json, without its seal)."""
    tests = [{"name": "test_fetch", "visibility": "public", "outcome": "passed", "score": score,
              "max_score": 50.0, "feedback": ""},
             {"name": "test_hidden_race", "visibility": "hidden", "outcome": "failed", "score": 0.0,
              "max_score": 50.0, "feedback": "expected 3 requests at once, saw 1 — ünïcode kept"}]
    assignments = [{"id": "01", "title": "Why asynchronous?", "score": score, "max_score": 100.0,
                    "status": "graded" if status != "error" else "error", "message": message, "tests": tests,
                    "ungraded_points": 0.0, "flags": flags or []},
                   {"id": "02", "title": "Coroutines", "score": 0.0, "max_score": 100.0, "status": "missing",
                    "message": "not submitted", "tests": [], "ungraded_points": 0.0}]
    return {"student": student, "source": f"https://example.test/{student}.git",
            "key": f"{revision}+course" if revision else "", "graded_at": graded_at.isoformat(timespec="seconds"),
            "status": status, "message": message, "not_graded": not_graded or {}, "sandboxed": True,
            "result": {"score": score, "max_score": 200.0, "sandboxed": True, "assignments": assignments}}


def _seen(revision: str = "a" * 40, at: datetime = T0 - timedelta(minutes=5),
          committed: datetime | None = datetime(2020, 1, 1, tzinfo=UTC)) -> Sighting:
    return Sighting(revision, "commit", committed, at)


def test_a_grading_round_trips_with_every_field(url: str) -> None:
    """What batch records comes back exactly: submission, times, status, per-test outcomes, flags."""
    with Gradebook.open(url, KEY) as book:
        assert book.add(_record(flags=["reads the tests' files"], not_graded={"02": "time budget"}), _seen())
    with Gradebook.open(url, KEY) as book:  # a second open finds the schema at head and changes nothing
        [grading] = book.history()
    assert isinstance(grading, GradingView)
    assert_same((grading.student, grading.revision, grading.kind, grading.key, grading.status, grading.score,
                 grading.max_score, grading.sandboxed, grading.verified),
                ("alice", "a" * 40, "commit", "a" * 40 + "+course", "graded", 50.0, 200.0, True, True),
                what="grading")
    assert_same((grading.committed_at, grading.first_seen_at, grading.graded_at),
                (datetime(2020, 1, 1, tzinfo=UTC), T0 - timedelta(minutes=5), T0), what="times")
    assert all(moment.tzinfo == UTC for moment in (grading.committed_at, grading.first_seen_at, grading.graded_at)
               if moment is not None)
    first, second = grading.assignments
    assert_same((first.assignment, first.status, first.score, first.flags, first.not_graded),
                ("01", "graded", 50.0, ("reads the tests' files",), None), what="assignment 01")
    assert_same((second.assignment, second.status, second.tests, second.not_graded),
                ("02", "missing", (), "time budget"), what="assignment 02")
    assert [(t.name, t.visibility, t.outcome, t.score, t.max_score) for t in first.tests] == [
        ("test_fetch", "public", "passed", 50.0, 50.0), ("test_hidden_race", "hidden", "failed", 0.0, 50.0)]
    assert first.tests[1].feedback == "expected 3 requests at once, saw 1 — ünïcode kept"
    assert grading.grader_version == gradebook_store.grader_version()


def test_a_regrade_adds_history_and_the_first_sighting_stays(url: str) -> None:
    """The same grading twice is one row; a regrade is a new row; first_seen_at only ever moves earlier."""
    with Gradebook.open(url, KEY) as book:
        assert book.add(_record(), _seen(at=T0 - timedelta(minutes=5)))
        # The same result kept by a later batch (unchanged, skipped): no new row.
        assert not book.add(_record(), _seen(at=T0 + timedelta(days=1)), fresh=False)
        assert book.add(_record(graded_at=T0 + timedelta(days=1), score=25.0), _seen(at=T0 + timedelta(days=1)))
        # A new commit: a submission of its own, first seen now.
        assert book.add(_record(revision="b" * 40, graded_at=T0 + timedelta(days=2), score=50.0),
                        _seen("b" * 40, at=T0 + timedelta(days=2) - timedelta(seconds=30)))
        history = book.history("alice")
    assert [(g.revision, g.score, g.graded_at, g.first_seen_at) for g in history] == [
        ("a" * 40, 50.0, T0, T0 - timedelta(minutes=5)),
        ("a" * 40, 25.0, T0 + timedelta(days=1), T0 - timedelta(minutes=5)),
        ("b" * 40, 50.0, T0 + timedelta(days=2), T0 + timedelta(days=2) - timedelta(seconds=30))]
    assert all(g.verified for g in history)


def test_two_gradings_in_one_second_are_two_rows(url: str) -> None:
    """graded_at is to the second: a fresh grading is a row of its own even when key and second are the same."""
    with Gradebook.open(url, KEY) as book:
        ghost = _record("ghost", revision="", status="error", score=0.0, message="clone failed")
        assert book.add(ghost, None) and book.add(ghost, None)
        assert not book.add(ghost, None, fresh=False)
        assert [g.status for g in book.history("ghost")] == ["error", "error"]


def test_a_record_graded_before_the_gradebook_counts_as_seen_when_it_was_graded(url: str) -> None:
    """An unchanged result brought in later is first seen at its own sealed graded_at, not when it is brought in."""
    with Gradebook.open(url, KEY) as book:
        book.add(_record(graded_at=T0), _seen(at=T0 + timedelta(days=3)), fresh=False)
        [grading] = book.history()
    # graded_at is written to the second: the revision was in hand before the end of that second.
    assert grading.first_seen_at == T0 + timedelta(seconds=1)


def test_a_student_who_could_not_be_graded_has_a_row_without_a_revision(url: str) -> None:
    """A failed clone is history too: status error, no revision, no score."""
    with Gradebook.open(url, KEY) as book:
        book.add(_record("ghost", revision="", status="error", score=0.0, message="clone failed: not found"), None)
        [grading] = book.history("ghost")
    assert_same((grading.revision, grading.first_seen_at, grading.status, grading.score, grading.message,
                 grading.verified), (None, None, "error", None, "clone failed: not found", True), what="error row")


def test_an_edited_row_is_told_and_its_earlier_first_sighting_not_believed(url: str) -> None:
    """A row anything but the grader changed fails its seal; an earlier first_seen_at planted there is replaced."""
    with Gradebook.open(url, KEY) as book:
        book.add(_record(), _seen(at=T0))
        with book.engine.begin() as connection:
            connection.execute(text("UPDATE submissions SET first_seen_at = :early"),
                               {"early": datetime(2026, 1, 1) if url.startswith("sqlite") else T0 - timedelta(days=300)})
            connection.execute(text("UPDATE graded_tests SET outcome = 'passed'"))
        [edited] = book.history()
        assert not edited.verified
        book.add(_record(graded_at=T0 + timedelta(hours=1)), _seen(at=T0 + timedelta(hours=1)))
        later = book.history()[-1]
    assert later.first_seen_at == T0 + timedelta(hours=1)  # not the planted date: the seal failed
    assert later.verified


def test_another_key_verifies_nothing(url: str) -> None:
    """Rows sealed with one key do not verify with another (a gradebook copied from elsewhere)."""
    with Gradebook.open(url, KEY) as book:
        book.add(_record(), _seen())
    with Gradebook.open(url, Key(b"o" * 32, Path("other"))) as book:
        assert [g.verified for g in book.history()] == [False]


def test_a_database_that_is_no_gradebook_is_refused(url: str) -> None:
    """Tables without Alembic's bookkeeping, or a schema revision this grader does not know: one-line UsageError."""
    engine = create_engine(gradebook_store.database_url(url))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE grades (student TEXT)"))
    with pytest.raises(UsageError, match=r"is a database but not a gradebook \(it has tables grades\)"):
        Gradebook.open(url, KEY)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE grades"))
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('f00d')"))
    engine.dispose()
    with pytest.raises(UsageError, match="at a schema revision this grader does not know") as caught:
        Gradebook.open(url, KEY)
    assert "\n" not in str(caught.value)


def test_an_empty_database_is_migrated_to_head_and_agrees_with_the_models(url: str) -> None:
    """The migrations create exactly the models' schema: Alembic's autogenerate comparison finds nothing to do."""
    Gradebook.open(url, KEY).close()
    engine = create_engine(gradebook_store.database_url(url))
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert context.get_current_revision() == "0002"
        assert compare_metadata(context, Base.metadata) == []
        # The comparison does see a difference: a column the migrations never made.
        changed = MetaData()
        for table in Base.metadata.tables.values():
            table.to_metadata(changed)
        changed.tables["gradings"].append_column(Column("late_days", Integer))
        assert [diff[0] for diff in compare_metadata(context, changed)] == ["add_column"]
        assert set(inspect(connection).get_table_names()) == {"alembic_version", *Base.metadata.tables}
    engine.dispose()


def test_a_url_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    """A URL of no known database, or a server that is not there: UsageError on one line, password hidden."""
    with pytest.raises(UsageError, match=r"^'nonsense' is not a database URL"):
        Gradebook.open("nonsense", KEY)
    with pytest.raises(UsageError, match=r"^the gradebook mysql\+nodriver://u@h/db is of a kind this grader cannot"):
        Gradebook.open("mysql+nodriver://u@h/db", KEY)
    socket = tmp_path / "no-server-here"
    socket.mkdir()
    with pytest.raises(UsageError) as caught:
        Gradebook.open(f"postgresql://grader:s3cret@/db?host={socket}", KEY)
    message = str(caught.value)
    assert message.startswith("cannot open the gradebook postgresql+psycopg://grader:***@/db")
    assert "s3cret" not in message and "\n" not in message


def test_where_the_gradebook_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--gradebook, else course.toml's [gradebook] url (a path relative to the course), else RESULTS/gradebook.sqlite."""
    monkeypatch.chdir(tmp_path)
    course = tmp_path / "course"
    course.mkdir()
    (course / "course.toml").write_text("[course]\ntitle = 'x'\n", encoding="utf-8")
    assert resolve_url(None, course, Path("out")) == (f"sqlite:///{tmp_path / 'out' / 'gradebook.sqlite'}", False)
    assert resolve_url("books/g.db", course, Path("out")) == (f"sqlite:///{tmp_path / 'books' / 'g.db'}", True)
    (course / "course.toml").write_text("[gradebook]\nurl = 'data/g.sqlite'\n", encoding="utf-8")
    assert resolve_url(None, course, Path("out")) == (f"sqlite:///{course / 'data' / 'g.sqlite'}", True)
    (course / "course.toml").write_text("[gradebook]\nurl = 'postgresql://grader@db.example/course'\n")
    assert resolve_url(None, course, Path("out")) == ("postgresql://grader@db.example/course", True)
    assert resolve_url("sqlite:////abs.db", course, Path("out")) == ("sqlite:////abs.db", True)
    (course / "course.toml").write_text("[gradebook]\nurl = 3\n")
    with pytest.raises(UsageError, match=r"\[gradebook\] url must be a database URL or a file path, got 3"):
        resolve_url(None, course, Path("out"))
    assert as_url("~/g.db", tmp_path) == f"sqlite:///{Path('~/g.db').expanduser()}"


def test_without_the_extra_a_default_gradebook_is_skipped_and_an_asked_one_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The extra missing: the default gradebook is left out with one note; one asked for stops the batch first."""
    monkeypatch.setattr("grader.instructor.gradebook.available", lambda: False)
    notes: list[str] = []
    url = f"sqlite:///{tmp_path / 'g.sqlite'}"
    assert open_for_batch(url, False, KEY, notes.append) is None
    assert notes == ["note: no gradebook written (the optional extra is not installed: pip install -e "
                     "'.[gradebook]'); the results folder is written as always"]
    with pytest.raises(EnvironmentFault, match=r"the gradebook sqlite://\.\.\. was asked for, but its packages are "
                                               r"not installed: pip install -e '\.\[gradebook\]'"):
        open_for_batch(url, True, KEY, notes.append)
    assert not (tmp_path / "g.sqlite").exists()


# --- batch writes the gradebook -------------------------------------------------------------------------

SOLUTION = solution_source("01")
BACKDATED = "2020-01-01T00:00:00+00:00"  # a commit date the student chose: never what lateness is decided on


def _fake_grade(manifest: object, submission: Path, tests: CourseTests, *, deadline: float | None,
                workers: int | None = None, session: object = None) -> tuple[GradeResult, dict[str, str]]:
    """A grade without running pytest: 100 for the solution, 0 for anything else."""
    source = (submission / "assignments" / "01" / "why_async.py").read_text(encoding="utf-8")
    points = 100.0 if source == SOLUTION else 0.0
    return GradeResult((AssignmentResult("01", "Why asynchronous?", points, 100.0, "graded", ""),), True), {}


def _batch(roster: Path, out: Path, url: str, *, force: bool = False) -> progress.BatchSummary:
    manifest = load_manifest(ROOT).only(["01"])
    key = load_key()
    return batch.run_batch(manifest, read_sources(roster, out), out, workers=2, force=force,
                           tests=course_tests(manifest, None), stream=io.StringIO(), key=key,
                           gradebook=Recorder(Gradebook.open(url, key)))


def _history(url: str) -> dict[str, list[GradingView]]:
    with Gradebook.open(url, load_key()) as book:
        rows = book.history()
    by_student: dict[str, list[GradingView]] = {}
    for row in rows:
        by_student.setdefault(row.student, []).append(row)
    return by_student


def _wipe(url: str) -> None:
    """Drop every table of the gradebook, Alembic's own too: a database as if new."""
    engine = create_engine(gradebook_store.database_url(url))
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.exec_driver_sql("DROP TABLE alembic_version")
    engine.dispose()


def _graded_at(out: Path, student: str) -> datetime:
    return datetime.fromisoformat(batch_records(out)[student]["graded_at"])


# Four batches: about 2 s on a quiet machine; the PostgreSQL copy only repeats the SQLite one's path through batch.
@pytest.mark.slow  # several seconds: dev.py check runs it
@pytest.mark.parametrize("url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)], indirect=True)
def test_batches_over_changing_commits_keep_every_grading_and_the_first_sightings(
        url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two batches over changed commits: a new row per grading, first_seen_at from the batch that first had the
    commit (never its backdated commit date), a forced regrade as history, and a lost gradebook rebuilt."""
    monkeypatch.setattr(batch, "grade_within", _fake_grade)
    alice_sha = git_commit(tmp_path / "repos" / "alice", {"01": SOLUTION}, date=BACKDATED)
    bob_first = git_commit(tmp_path / "repos" / "bob", {"01": "raise SystemExit\n"}, date=BACKDATED)
    roster = tmp_path / "roster.txt"
    roster.write_text(f"repos/alice\nrepos/bob\nghost {(tmp_path / 'repos' / 'ghost').as_uri()}\n", encoding="utf-8")
    out = tmp_path / "results"

    before = datetime.now(UTC)
    _batch(roster, out, url)
    after_first = datetime.now(UTC)
    first = _history(url)
    assert [(g.revision, g.status, g.score) for g in first["alice"]] == [(alice_sha, "graded", 100.0)]
    assert [(g.revision, g.status, g.score) for g in first["bob"]] == [(bob_first, "graded", 0.0)]
    assert [(g.revision, g.status, g.score, g.message[:13]) for g in first["ghost"]] == [
        (None, "error", None, "clone failed:")]
    for row in (first["alice"][0], first["bob"][0]):
        assert row.kind == "commit" and row.verified
        assert row.committed_at == datetime.fromisoformat(BACKDATED)  # shown as git has it
        assert row.first_seen_at is not None and before <= row.first_seen_at <= after_first
        assert row.first_seen_at <= row.graded_at + timedelta(seconds=1)

    # bob pushes a fix backdated to before anything: it is first seen by this second batch, whatever its date.
    bob_fixed = git_commit(tmp_path / "repos" / "bob", {"01": SOLUTION}, date="2019-06-01T00:00:00+00:00")
    _batch(roster, out, url)
    after_second = datetime.now(UTC)
    second = _history(url)
    assert second["alice"] == first["alice"]  # unchanged: skipped, no new row
    assert [(g.revision, g.score) for g in second["bob"]] == [(bob_first, 0.0), (bob_fixed, 100.0)]
    fixed = second["bob"][1]
    assert fixed.first_seen_at is not None and after_first <= fixed.first_seen_at <= after_second
    assert [g.status for g in second["ghost"]] == ["error", "error"]  # each failed try is history too

    # A forced regrade is a new row for the same submission; its first sighting stays the first batch's.
    _batch(roster, out, url, force=True)
    alice = _history(url)["alice"]
    assert [g.revision for g in alice] == [alice_sha, alice_sha]
    assert alice[1].graded_at >= after_second.replace(microsecond=0)  # graded_at is to the second
    assert [g.first_seen_at for g in alice] == [first["alice"][0].first_seen_at] * 2

    # The gradebook lost, and the next batch a day later: it brings in every unchanged sealed result, first seen
    # when it was graded (by the end of graded_at's second), not a day later.
    _wipe(url)
    sighting = batch._sighting
    monkeypatch.setattr(batch, "_sighting", lambda *args: replace(
        sighting(*args), seen_at=sighting(*args).seen_at + timedelta(days=1)))
    _batch(roster, out, url)
    rebuilt = _history(url)
    for student in ("alice", "bob"):
        [row] = rebuilt[student]
        assert row.graded_at == _graded_at(out, student)
        assert row.first_seen_at == row.graded_at + timedelta(seconds=1)


def test_the_command_writes_the_gradebook_in_the_results_folder(tmp_path: Path) -> None:
    """`batch` writes RESULTS/gradebook.sqlite by default, with every test of the real grading."""
    student = tmp_path / "class" / "alice" / "assignments" / "01" / "why_async.py"
    student.parent.mkdir(parents=True)
    student.write_text(SOLUTION, encoding="utf-8")
    out = tmp_path / "results"
    batch_01(tmp_path / "class", out)
    [row] = _history(f"sqlite:///{out / 'gradebook.sqlite'}")["alice"]
    assert (row.kind, row.status, row.score, row.verified) == ("content", "graded", 100.0, True)
    assert row.revision == batch_records(out)["alice"]["key"].split("+")[0]
    [assignment] = row.assignments
    assert assignment.tests and all(t.outcome == "passed" for t in assignment.tests)
    assert {t.visibility for t in assignment.tests} == {"public", "hidden"}


def test_a_gradebook_that_cannot_be_opened_stops_the_batch_before_it_grades(tmp_path: Path) -> None:
    """--gradebook with a server that is not there: exit 2, one line, no password shown, nobody graded."""
    (tmp_path / "class" / "alice").mkdir(parents=True)
    refused = run_grader("batch", str(tmp_path / "class"), "--out", str(tmp_path / "never"), "--assignment", "01",
                         "--gradebook", "postgresql://grader:s3cret@/db?host=/nonexistent")
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: cannot open the gradebook postgresql+psycopg://grader:***@/db")
    assert len(refused.stderr.strip().splitlines()) == 1 and "s3cret" not in refused.stderr
    assert not (tmp_path / "never" / "students").exists()


@pytest.mark.slow
def test_a_gradebook_that_fails_mid_batch_never_stops_the_grading(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A database that stops taking rows: every student is still graded into the results folder, and one line
    at the end names who is not in the gradebook; the next batch brings them in."""
    monkeypatch.setattr(batch, "grade_within", _fake_grade)
    for name in ("alice", "bob"):
        module = tmp_path / "class" / name / "assignments" / "01" / "why_async.py"
        module.parent.mkdir(parents=True)
        module.write_text(SOLUTION, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'gradebook.sqlite'}"
    manifest = load_manifest(ROOT).only(["01"])
    key = load_key()
    book = Gradebook.open(url, key)
    with book.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE assignment_grades")  # every grading's insert now fails
    stream = io.StringIO()
    out = tmp_path / "results"
    summary = batch.run_batch(manifest, read_sources(tmp_path / "class", out), out, workers=1,
                              tests=course_tests(manifest, None), stream=stream, key=key, gradebook=Recorder(book))
    assert summary.graded == 2 and set(batch_records(out)) == {"alice", "bob"}
    [line] = [line for line in stream.getvalue().splitlines() if line.startswith("gradebook:")]
    assert line.startswith(f"gradebook: 2 record(s) not written to {url} (alice, bob): ")
    assert line.endswith("; the results folder has them, and the next batch writes the unchanged ones")

    (tmp_path / "gradebook.sqlite").unlink()
    batch.run_batch(manifest, read_sources(tmp_path / "class", out), out, workers=1,
                    tests=course_tests(manifest, None), stream=io.StringIO(), key=key,
                    gradebook=Recorder(Gradebook.open(url, key)))
    assert {student: len(rows) for student, rows in _history(url).items()} == {"alice": 1, "bob": 1}


@pytest.mark.slow
def test_grade_record_adds_one_grading_to_the_gradebook(tmp_path: Path) -> None:
    """`grade --record URL --student NAME` adds that grading as batch would: each run a row of its own."""
    module = tmp_path / "work" / "assignments" / "01" / "why_async.py"
    module.parent.mkdir(parents=True)
    module.write_text(SOLUTION, encoding="utf-8")
    book = tmp_path / "gradebook.sqlite"
    args = ["grade", "--submission", str(tmp_path / "work"), "--assignment", "01", "--format", "json"]
    for _ in range(2):
        done = run_grader(*args, "--record", str(book), "--student", "alice")
        assert done.returncode == 0, done.stderr
        assert f"recorded alice's grading in the gradebook sqlite:///{book}" in done.stderr
    rows = _history(f"sqlite:///{book}")["alice"]
    assert [(g.kind, g.status, g.score, g.verified) for g in rows] == [("content", "graded", 100.0, True)] * 2
    assert rows[0].revision == rows[1].revision and rows[0].first_seen_at == rows[1].first_seen_at
    assert {t.outcome for t in rows[0].assignments[0].tests} == {"passed"}

    alone = run_grader(*args, "--student", "alice")
    assert alone.returncode == 2
    assert alone.stderr == ("error: --student names whose grading --record adds to the gradebook: give --record "
                            "URL too\n")
