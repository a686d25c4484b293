"""Due times, the late policy and extensions (grader/instructor/gradebook/deadlines.py), and ``batch --as-of``.

Lateness is decided from when the grader first saw a module's content (the gradebook's first sightings), never
from commit dates; every time here is explicit (the batch's clock is passed in), none is now().
"""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from repo_support import own_key  # noqa: F401 - an autouse fixture
from repo_support import ROOT, batch_records, git_commit, run_grader, solution_source

from grader.instructor import batch
from grader.instructor.roster import read_sources
from grader.errors import UsageError
from grader.instructor.gradebook import Recorder
from grader.instructor.gradebook.deadlines import (
    Deadline, Policy, days_late, lateness, load_deadlines, load_extensions, penalised, penalty_percent,
)
from grader.instructor.gradebook.store import Gradebook
from grader.manifest import load_manifest
from grader.model import AssignmentResult, GradeResult
from grader.pipeline import course_tests
from grader.records import load_key
from grader.stage import CourseTests

pytestmark = pytest.mark.timeout(120)

DUE = datetime(2026, 10, 5, 23, 59, tzinfo=datetime.fromisoformat("2026-01-01T00:00+08:00").tzinfo)
GRACE = timedelta(minutes=10)
SOLUTION = {"01": solution_source("01"), "02": solution_source("02")}
BACKDATED = "2020-01-01T00:00:00+00:00"  # a commit date a student chose: never what lateness is decided on
COURSE_TOML = """[course]
title = "T"
[[assignment]]
id = "01"
slug = "a"
title = "A"
module = "a.py"
article = ""
topics = ""
[[assignment]]
id = "02"
slug = "b"
title = "B"
module = "b.py"
article = ""
topics = ""
"""


# --- the arithmetic ---------------------------------------------------------------------------------


def test_days_late_count_each_started_day_after_due_plus_grace() -> None:
    assert days_late(DUE + GRACE, DUE, GRACE) == 0  # the last moment of the grace period is on time
    assert days_late(DUE + GRACE + timedelta(seconds=1), DUE, GRACE) == 1
    assert days_late(DUE + GRACE + timedelta(days=1), DUE, GRACE) == 1
    assert days_late(DUE + GRACE + timedelta(days=1, seconds=1), DUE, GRACE) == 2
    assert days_late(DUE - timedelta(days=3), DUE, GRACE) == 0
    # One moment in any time zone: 16:00 UTC is 00:00 the next day at +08:00, one minute past 23:59.
    assert days_late(datetime(2026, 10, 5, 16, 0, tzinfo=UTC), DUE, timedelta(0)) == 1


def test_penalty_is_per_day_up_to_the_cap_and_taken_from_the_score() -> None:
    assert penalty_percent(0, 10, 30) == 0
    assert penalty_percent(2, 10, 30) == 20
    assert penalty_percent(4, 10, 30) == 30
    assert penalised(80, 20) == 64
    assert penalised(100, 0) == 100
    late = lateness(Deadline("01", DUE, GRACE, 10, 30), DUE + timedelta(days=1, hours=12))
    assert (late.days, late.penalty) == (2, 20)
    moved = lateness(Deadline("01", DUE, GRACE, 10, 30), DUE + timedelta(days=1, hours=12), DUE + timedelta(days=2))
    assert (moved.days, moved.penalty) == (0, 0)


# --- configuration ----------------------------------------------------------------------------------


def _course(tmp_path: Path, deadlines: str) -> object:
    (tmp_path / "course.toml").write_text(COURSE_TOML + deadlines, encoding="utf-8")
    return load_manifest(tmp_path)


def test_deadlines_take_course_defaults_and_per_assignment_overrides(tmp_path: Path) -> None:
    manifest = _course(tmp_path, """
[deadlines]
grace_minutes = 10
penalty_per_day = 10
penalty_cap = 30
[deadlines.assignment.01]
due = "2026-10-05T23:59:00+08:00"
[deadlines.assignment.02]
due = 2026-10-12T23:59:00+08:00
penalty_per_day = 25
""")
    found = load_deadlines(manifest)  # type: ignore[arg-type]
    assert found == {"01": Deadline("01", DUE, GRACE, 10.0, 30.0),
                     "02": Deadline("02", DUE + timedelta(days=7), GRACE, 25.0, 30.0)}
    assert load_deadlines(_course(tmp_path, "")) == {}  # type: ignore[arg-type]


@pytest.mark.parametrize(("settings", "says"), [
    ('[deadlines.assignment.01]\ndue = "2026-10-05T23:59:00"\n', "has no time zone"),
    ('[deadlines.assignment.01]\ndue = "next monday"\n', "is not a date and time"),
    ('[deadlines.assignment.01]\ndue = 2026-10-05\n', "no time of day"),
    ('[deadlines.assignment.07]\ndue = "2026-10-05T23:59:00Z"\n', "no assignment '07'"),
    ('[deadlines.assignment.01]\npenalty_per_day = 5\n', "no due time"),
    ('[deadlines.assignment.01]\ndue = "2026-10-05T23:59:00Z"\ngrace = 5\n', "unknown setting 'grace'"),
    ('[deadlines]\npenalty_cap = 150\n[deadlines.assignment.01]\ndue = "2026-10-05T23:59:00Z"\n', "at most 100"),
    ('[deadlines]\npenalty_per_day = -1\n[deadlines.assignment.01]\ndue = "2026-10-05T23:59:00Z"\n', ">= 0"),
])
def test_a_bad_deadline_setting_is_one_line_naming_the_file(tmp_path: Path, settings: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        load_deadlines(_course(tmp_path, settings))  # type: ignore[arg-type]
    assert says in str(caught.value) and "course.toml" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(("text", "says"), [
    ("name,assignment,due\n", "the first line must be the header"),
    ("student,assignment,due,extra_days\nalice,02,,3\n", "assignment '02' has no due time"),
    ("student,assignment,due,extra_days\nalice,01,2026-10-07T00:00:00Z,3\n", "exactly one of"),
    ("student,assignment,due,extra_days\nalice,01,,\n", "exactly one of"),
    ("student,assignment,due,extra_days\nalice,01,,-2\n", "more than 0"),
    ("student,assignment,due,extra_days\nalice,01,,three\n", "a number of days"),
    ("student,assignment,due,extra_days\nalice,01,2026-10-07,\n", "has no time zone"),
    ("student,assignment,due,extra_days\nalice,01,,1\nalice,01,,2\n", "line 3: a second extension"),
])
def test_a_bad_extensions_file_is_one_line_naming_the_line(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "extensions.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        load_extensions(path, {"01": Deadline("01", DUE, GRACE, 10, 30)})
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_extensions_move_the_due_time_by_days_or_to_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "extensions.csv"
    path.write_text("student,assignment,due,extra_days\ncarol,01,,5\ndave,01,2026-10-09T12:00:00+00:00,\n",
                    encoding="utf-8")
    assert load_extensions(path, {"01": Deadline("01", DUE, GRACE, 10, 30)}) == {
        ("carol", "01"): DUE + timedelta(days=5), ("dave", "01"): datetime(2026, 10, 9, 12, tzinfo=UTC)}


def test_a_bad_as_of_is_one_line_and_exit_2(tmp_path: Path) -> None:
    roster = tmp_path / "roster.txt"
    (tmp_path / "alice").mkdir()
    roster.write_text("alice alice\n", encoding="utf-8")
    done = run_grader("batch", str(roster), "--out", str(tmp_path / "out"), "--as-of", "2026-10-05 23:59")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: --as-of: 2026-10-05 23:59 has no time zone"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


# --- a class graded as of the deadline --------------------------------------------------------------


def _fake_grade(manifest: object, submission: Path, tests: CourseTests, *, deadline: float | None,
                workers: int | None = None, session: object = None) -> tuple[GradeResult, dict[str, str]]:
    """A grade without pytest: 80 for the reference solution of each assignment, 0 for anything else."""
    results = []
    for assignment in ("01", "02"):
        module = load_manifest(ROOT).get(assignment).module
        path = submission / "assignments" / assignment / module
        points = 80.0 if path.is_file() and path.read_text(encoding="utf-8") == SOLUTION[assignment] else 0.0
        results.append(AssignmentResult(assignment, assignment, points, 100.0, "graded", ""))
    return GradeResult(tuple(results), True), {}


@pytest.mark.slow  # several seconds: dev.py check runs it
def test_a_class_graded_as_of_the_deadline_gets_late_flags_and_penalties(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches at explicit times before and after the due time, then one ``--as-of`` it plus five days.

    alice: on time. bob: 01 fixed 1.5 days late (-20 %), 02 untouched since before the due time (on time).
    carol: first seen 4 days late, with a 5-day extension: on time. dave: on time, then a commit after the
    as-of moment, which is not graded. erin: 4 days late, capped at 30 %. Commit dates are all 2020.
    """
    monkeypatch.setattr(batch, "grade_within", _fake_grade)
    repos = tmp_path / "repos"
    wrong = {"01": "raise SystemExit\n", "02": SOLUTION["02"]}
    git_commit(repos / "alice", SOLUTION, date=BACKDATED)
    bob_first = git_commit(repos / "bob", wrong, date=BACKDATED)
    dave_first = git_commit(repos / "dave", SOLUTION, date=BACKDATED)
    roster = tmp_path / "roster.txt"
    roster.write_text("".join(f"{name} {(repos / name).as_uri()}\n" for name in ("alice", "bob", "dave")),
                      encoding="utf-8")
    manifest = load_manifest(ROOT).only(["01", "02"])
    deadlines = {"01": Deadline("01", DUE, GRACE, 10, 30), "02": Deadline("02", DUE, GRACE, 10, 30)}
    extensions = tmp_path / "extensions.csv"
    extensions.write_text("student,assignment,due,extra_days\ncarol,01,,5\ncarol,02,,5\n", encoding="utf-8")
    policy = Policy(deadlines, load_extensions(extensions, deadlines))
    out = tmp_path / "results"
    url = f"sqlite:///{tmp_path / 'gradebook.sqlite'}"
    key = load_key()

    def at(moment: datetime, *, as_of: datetime | None = None) -> None:
        batch.run_batch(manifest, read_sources(roster, out), out, workers=2, tests=course_tests(manifest, None),
                        stream=io.StringIO(), key=key, gradebook=Recorder(Gradebook.open(url, key)), policy=policy,
                        as_of=as_of, clock=lambda: moment)

    at(DUE - timedelta(days=1))
    bob_fixed = git_commit(repos / "bob", {"01": SOLUTION["01"]}, date=BACKDATED)
    at(DUE + timedelta(days=1, hours=12))
    git_commit(repos / "carol", SOLUTION, date=BACKDATED)
    git_commit(repos / "erin", SOLUTION, date=BACKDATED)
    roster.write_text(roster.read_text() + "".join(f"{n} {(repos / n).as_uri()}\n" for n in ("carol", "erin")))
    at(DUE + timedelta(days=4))
    dave_late = git_commit(repos / "dave", {"01": "raise SystemExit\n"}, date=BACKDATED)
    at(DUE + timedelta(days=6))
    at(DUE + timedelta(days=7), as_of=DUE + timedelta(days=5))

    records = batch_records(out)
    assert records["bob"]["key"].startswith(bob_fixed) and records["dave"]["key"].startswith(dave_first)
    assert bob_first != bob_fixed and dave_late != dave_first
    late = {s: {a: (e["days"], e["penalty"]) for a, e in r["late"].items()} for s, r in records.items()}
    assert late == {"alice": {"01": (0, 0), "02": (0, 0)}, "bob": {"01": (2, 20), "02": (0, 0)},
                    "carol": {"01": (0, 0), "02": (0, 0)}, "dave": {"01": (0, 0), "02": (0, 0)},
                    "erin": {"01": (4, 30), "02": (4, 30)}}
    assert records["carol"]["late"]["01"]["due"] == (DUE + timedelta(days=5)).isoformat()
    assert records["bob"]["committed_at"] == BACKDATED  # shown, never used
    assert records["bob"]["first_seen_at"] == (DUE + timedelta(days=1, hours=12)).astimezone(UTC).isoformat()
    rows = {row["student"]: row for row in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}
    assert {s: (r["01"], r["01 late_days"], r["01 final"], r["02 final"], r["total"], r["final_total"])
            for s, r in rows.items()} == {
        "alice": ("80", "0", "80", "80", "160", "160"), "bob": ("80", "2", "64", "80", "160", "144"),
        "dave": ("80", "0", "80", "80", "160", "160"), "carol": ("80", "0", "80", "80", "160", "160"),
        "erin": ("80", "4", "56", "56", "160", "112")}
    assert {r["as_of"] for r in rows.values()} == {(DUE + timedelta(days=5)).isoformat()}
    # The dashboard's grades.csv is the same file, lateness columns and all (grader.instructor.grades_csv writes both).
    from grader.instructor import dashboard

    loaded = dashboard.load_students(out, key)
    shown = dashboard.grades_csv(loaded, dashboard.assignment_columns(loaded, manifest)).splitlines()
    written = (out / "grades.csv").read_text(encoding="utf-8").splitlines()
    assert shown[0] == written[0] and sorted(shown[1:]) == sorted(written[1:])  # the dashboard sorts by name


def test_as_of_before_anything_was_seen_is_an_error_record_not_a_zero(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "grade_within", _fake_grade)
    git_commit(tmp_path / "repos" / "alice", SOLUTION, date=BACKDATED)
    roster = tmp_path / "roster.txt"
    roster.write_text(f"alice {(tmp_path / 'repos' / 'alice').as_uri()}\n", encoding="utf-8")
    manifest = load_manifest(ROOT).only(["01", "02"])
    out = tmp_path / "results"
    key = load_key()
    batch.run_batch(manifest, read_sources(roster, out), out, workers=1, tests=course_tests(manifest, None),
                    stream=io.StringIO(), key=key,
                    gradebook=Recorder(Gradebook.open(f"sqlite:///{tmp_path / 'g.sqlite'}", key)),
                    as_of=DUE, clock=lambda: DUE + timedelta(days=1))
    record = batch_records(out)["alice"]
    assert record["status"] == "error" and record["message"].startswith("no commit first seen by")
    assert (out / "grades.csv").read_text().splitlines()[1].startswith("alice,,,,error")
