"""The nbgrader gradebook export: results in, the real ``nbgrader export`` CSV out.

nbgrader is an optional extra; CI installs it, so a missing nbgrader fails
these tests rather than skipping them.
"""
from __future__ import annotations

import contextlib
import csv
import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from grader.instructor.results import RECORD_PURPOSE
from grader.errors import EnvironmentFault, UsageError
from grader.instructor.nbgrader_export import NEEDS_EXTRA, export
from grader.records import Key, load_key

# A course of its own, so the test does not move with course.toml; 03 is worth
# 50 points to show the maximum comes from the course, not a constant.
COURSE_TOML = """
[course]
title = "A small course"

[[assignment]]
id = "01"
slug = "alpha"
title = "Alpha"
module = "alpha.py"
article = "1"
topics = "a"
points = 100

[[assignment]]
id = "02"
slug = "beta"
title = "Beta"
module = "beta.py"
article = "2"
topics = "b"
points = 100

[[assignment]]
id = "03"
slug = "gamma"
title = "Gamma"
module = "gamma.py"
article = "3"
topics = "c"
points = 50
"""
POINTS = {"01": 100.0, "02": 100.0, "03": 50.0}
NAMES = {"01": "01-alpha", "02": "02-beta", "03": "03-gamma"}
GRADED_AT = "2026-09-01T12:00:00+02:00"
GRADED_AT_UTC = "2026-09-01 10:00:00"  # nbgrader stores and exports UTC

# student -> assignment -> (status, score); every assignment of the course is
# listed, as batch writes them. bob did not submit 02 ("missing").
FIRST = {
    "alice": {"01": ("graded", 100.0), "02": ("graded", 62.5), "03": ("graded", 0.0)},
    "bob": {"01": ("graded", 40.0), "02": ("missing", 0.0), "03": ("error", 0.0)},
    "carol": {"01": ("graded", 87.25), "02": ("graded", 100.0), "03": ("graded", 12.5)},
}
# The next batch: alice improved 01, bob submitted 02, carol's 03 went missing.
SECOND = {
    "alice": {**FIRST["alice"], "01": ("graded", 90.0)},
    "bob": {**FIRST["bob"], "02": ("graded", 75.0)},
    "carol": {**FIRST["carol"], "03": ("missing", 0.0)},
}


@pytest.fixture
def nbgrader_cli() -> Path:
    """The ``nbgrader`` command of this environment; the test fails (not skips) without the extra."""
    if importlib.util.find_spec("nbgrader") is None:
        pytest.fail("nbgrader is not installed: pip install -e '.[nbgrader]' (CI installs this extra)")
    found = shutil.which("nbgrader", path=sysconfig.get_path("scripts"))
    assert found, f"the nbgrader command is missing from {sysconfig.get_path('scripts')}"
    return Path(found)


@pytest.fixture
def key(tmp_path: Path) -> Key:
    """The results key batch sealed the records with (outside the results folder)."""
    return load_key(tmp_path / "state" / "results.key")


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A course folder (export reads course.toml from the current directory, like every command)."""
    root = tmp_path / "course"
    root.mkdir()
    (root / "course.toml").write_text(COURSE_TOML, encoding="utf-8")
    monkeypatch.chdir(root)
    return root


def write_results(results: Path, grades: dict[str, dict[str, tuple[str, float]]], key: Key) -> Path:
    """A RESULTS folder as batch writes it (students/<student>.json, sealed), with these statuses and scores."""
    folder = results / "students"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for student, marks in grades.items():
        assignments = [
            {"id": aid, "title": aid, "score": score, "max_score": POINTS[aid], "status": status,
             "message": "not submitted" if status == "missing" else "", "tests": []}
            for aid, (status, score) in marks.items()
        ]
        record = {
            "student": student, "source": f"/submissions/{student}", "key": "0" * 40,
            "graded_at": GRADED_AT, "status": "graded", "message": "",
            "result": {"score": sum(a["score"] for a in assignments),
                       "max_score": sum(a["max_score"] for a in assignments), "assignments": assignments},
        }
        write_record(folder / f"{student}.json", record, key)
    return results


def write_record(path: Path, record: dict[str, Any], key: Key) -> None:
    """One student file as batch writes it: sealed with ``key``."""
    path.write_text(json.dumps(key.sealed(RECORD_PURPOSE, record)), encoding="utf-8")


def expected_rows(grades: dict[str, dict[str, tuple[str, float]]]) -> dict[tuple[str, str], tuple[str, float, float]]:
    """(assignment, student) -> (timestamp, score, max_score) as nbgrader export should show them."""
    rows = {}
    for student, marks in grades.items():
        for aid, (status, score) in marks.items():
            timestamp = "" if status == "missing" else GRADED_AT_UTC
            rows[(NAMES[aid], student)] = (timestamp, score, POINTS[aid])
    return rows


def nbgrader_export_csv(cli: Path, db: Path, where: Path) -> dict[tuple[str, str], tuple[str, float, float]]:
    """Run the real ``nbgrader export`` on ``db`` and parse its CSV, keyed by (assignment, student)."""
    where.mkdir(exist_ok=True)
    (where / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.db_url = {f'sqlite:///{db}'!r}\n", encoding="utf-8")
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(cli.parent), os.environ.get("PATH", "")]),
        # Only this folder's nbgrader_config.py: not the user's ~/.jupyter.
        "JUPYTER_CONFIG_DIR": str(where / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(where / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(where / "jupyter-runtime"),
    }
    out = where / "grades.csv"
    done = subprocess.run(["nbgrader", "export", "--to", str(out)], check=False, cwd=where, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"nbgrader export failed ({done.returncode}): {done.stderr}"
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    parsed = {(r["assignment"], r["student_id"]): (r["timestamp"], float(r["score"]), float(r["max_score"]))
              for r in rows}
    assert len(parsed) == len(rows), f"duplicate (assignment, student) rows: {rows}"
    return parsed


def table_counts(db: Path) -> dict[str, int]:
    """Rows per gradebook table: a re-export must not add any."""
    tables = ("assignment", "notebook", "grade_cells", "student", "submitted_assignment",
              "submitted_notebook", "grade")
    with contextlib.closing(sqlite3.connect(db)) as connection:
        return {t: connection.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}


@pytest.mark.slow  # nbgrader's own start-up
def test_round_trip_through_nbgrader_export(nbgrader_cli: Path, course: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch, key: Key) -> None:
    from nbgrader.api import Gradebook

    results = write_results(tmp_path / "results", FIRST, key)
    db = tmp_path / "out" / "gradebook.db"
    # As from a venv used without activation: alembic (run by nbgrader to
    # create the database) is on no PATH entry; export must find it itself.
    no_tools = str(tmp_path / "no-tools")
    monkeypatch.setenv("PATH", no_tools)

    assert export(results, db, key).students == 3
    assert os.environ["PATH"] == no_tools, "export must restore PATH"
    assert table_counts(db) == {"assignment": 3, "notebook": 3, "grade_cells": 3, "student": 3,
                                "submitted_assignment": 8, "submitted_notebook": 8, "grade": 8}

    # An instructor overrides carol's 02 in formgrader; a re-export must keep it.
    with Gradebook(f"sqlite:///{db}") as gradebook:
        gradebook.find_grade("autograder", "beta", "02-beta", "carol").manual_score = 95.0
        gradebook.db.commit()

    # The next batch changes a score, adds a submission and loses one: the
    # export updates in place, and exporting it again changes nothing.
    write_results(results, SECOND, key)
    assert export(results, db, key).students == 3
    counts = table_counts(db)
    assert counts["submitted_assignment"] == counts["grade"] == 8, counts
    assert export(results, db, key).students == 3
    assert table_counts(db) == counts, "a second export of the same results must change no row count"

    # One nbgrader run (its start-up is the slow part) checks the end state,
    # which holds every case: graded, error, missing, changed, added, removed,
    # and the manual score taking precedence over the autograder's.
    expected = expected_rows(SECOND)
    expected[("02-beta", "carol")] = (GRADED_AT_UTC, 95.0, 100.0)
    assert nbgrader_export_csv(nbgrader_cli, db, tmp_path / "nbgrader") == expected
    with Gradebook(f"sqlite:///{db}") as gradebook:
        grade = gradebook.find_grade("autograder", "beta", "02-beta", "carol")
        assert (grade.auto_score, grade.manual_score, grade.needs_manual_grade) == (100.0, 95.0, False)


def test_without_nbgrader_export_names_the_extra(course: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch, key: Key) -> None:
    """The extra missing is the grader's environment, not the input: an environment error (exit 1)."""
    monkeypatch.setitem(sys.modules, "nbgrader", None)  # makes `import nbgrader` fail
    results = write_results(tmp_path / "results", FIRST, key)
    with pytest.raises(EnvironmentFault) as raised:
        export(results, tmp_path / "gradebook.db", key)
    assert str(raised.value) == NEEDS_EXTRA == "nbgrader export needs the optional extra: pip install -e '.[nbgrader]'"
    assert not (tmp_path / "gradebook.db").exists()


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r["result"]["assignments"][0].update(max_score=40.0), "graded out of 40 points but course.toml"),
    (lambda r: r["result"]["assignments"][0].update(id="99"), "assignment '99' is not in course.toml"),
    (lambda r: r.update(student="bad name"), "student name 'bad name'"),
    (lambda r: r.update(graded_at="yesterday"), "is not a batch result file"),
    (lambda r: r.pop("result"), "is not a batch result file"),
])
def test_unusable_results_are_refused_before_anything_is_written(
        nbgrader_cli: Path, course: Path, tmp_path: Path, change: Any, message: str, key: Key) -> None:
    results = write_results(tmp_path / "results", FIRST, key)
    path = results / "students" / "bob.json"
    record = key.opened(RECORD_PURPOSE, json.loads(path.read_text(encoding="utf-8")))
    assert record is not None
    change(record)
    write_record(path, record, key)  # sealed: batch's own record of a shape the export cannot use
    with pytest.raises(UsageError, match=message) as raised:
        export(results, tmp_path / "gradebook.db", key)
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "gradebook.db").exists()


def test_a_folder_without_students_is_refused(nbgrader_cli: Path, course: Path, tmp_path: Path, key: Key) -> None:
    with pytest.raises(UsageError, match="has no students/ folder"):
        export(tmp_path / "nothing-here", tmp_path / "gradebook.db", key)


@pytest.mark.parametrize(("content", "message"), [
    (b"a note to self\n" * 100, "is not an nbgrader gradebook: file is not a database"),
    (None, "is an SQLite database but not an nbgrader gradebook"),
])
def test_a_file_that_is_not_a_gradebook_is_left_alone(nbgrader_cli: Path, course: Path, tmp_path: Path,
                                                      content: bytes | None, message: str, key: Key) -> None:
    results = write_results(tmp_path / "results", FIRST, key)
    db = tmp_path / "gradebook.db"
    if content is None:  # someone else's database
        with contextlib.closing(sqlite3.connect(db)) as connection:
            connection.execute("CREATE TABLE notes (text TEXT)")
            connection.commit()
    else:
        db.write_bytes(content)
    before = db.read_bytes()
    with pytest.raises(UsageError, match=message):
        export(results, db, key)
    assert db.read_bytes() == before


def gradebook_scores(db: Path) -> dict[tuple[str, str], float]:
    """(assignment, student) -> score of every submission the gradebook holds (nbgrader exports the rest as 0)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gradebook:
        return {(submission.assignment.name, submission.student.id): submission.score
                for assignment in gradebook.assignments
                for submission in gradebook.assignment_submissions(assignment.name)}


@pytest.mark.slow  # several seconds: dev.py check runs it
def test_what_was_not_graded_is_never_written_as_a_grade(nbgrader_cli: Path, course: Path, tmp_path: Path,
                                                         key: Key) -> None:
    """A student the batch could not grade (a failed clone), an assignment the time budget left ungraded, and a
    record whose seal does not verify (a score edited by hand) write nothing: the gradebook keeps what it had (here
    dan's earlier grade), never a 0 nbgrader would export; each is named in what export returns."""
    results = write_results(tmp_path / "results", {**FIRST, "dan": {"01": ("graded", 80.0), "02": ("graded", 10.0),
                                                                    "03": ("graded", 5.0)}}, key)
    db = tmp_path / "gradebook.db"
    assert export(results, db, key).students == 4
    before = gradebook_scores(db)
    assert before[("01-alpha", "dan")] == 80.0

    students = results / "students"
    dan = key.opened(RECORD_PURPOSE, json.loads((students / "dan.json").read_text(encoding="utf-8")))
    assert dan is not None
    clone_failed = "cannot clone https://example.org/dan.git: repository not found"
    for a in dan["result"]["assignments"]:
        a.update(status="error", score=0.0, message=clone_failed)
    write_record(students / "dan.json", {**dan, "status": "error", "message": clone_failed}, key)
    carol = key.opened(RECORD_PURPOSE, json.loads((students / "carol.json").read_text(encoding="utf-8")))
    assert carol is not None
    carol["result"]["assignments"][1].update(status="error", score=0.0, message="not graded: out of time")
    write_record(students / "carol.json", {**carol, "status": "partial", "not_graded": {"02": "out of time"}}, key)
    bob = key.opened(RECORD_PURPOSE, json.loads((students / "bob.json").read_text(encoding="utf-8")))
    assert bob is not None
    write_record(students / "bob.json", {**bob, "not_started": ["03"]}, key)  # the stub again: no grade, no 0
    alice = json.loads((students / "alice.json").read_text(encoding="utf-8"))
    alice["result"]["assignments"][2]["score"] = 50.0  # edited by hand: the seal no longer verifies
    (students / "alice.json").write_text(json.dumps(alice), encoding="utf-8")
    eve = {k: v for k, v in alice.items() if k != "seal"} | {"student": "eve"}  # unsealed: forged outright
    (students / "eve.json").write_text(json.dumps(eve), encoding="utf-8")

    exported = export(results, db, key)
    assert exported.students == 2  # bob in full and carol in part; dan not graded, alice and eve unverified
    assert exported.left_out == (
        f"alice.json: its seal does not verify with the key {key.path} (edited, forged or sealed with another "
        "key): nothing of it is written",
        f"eve.json: its seal does not verify with the key {key.path} (edited, forged or sealed with another "
        "key): nothing of it is written",
        "bob: 03 not graded (not started: the untouched stub): not written",
        "carol: 02 not graded (the time budget ran out): not written",
        f"dan: not graded (status error: {clone_failed}): nothing written")
    after = gradebook_scores(db)
    assert after == before  # nothing changed: every change above is no grade
    assert ("01-alpha", "eve") not in after


@pytest.mark.slow  # several seconds: dev.py check runs it
def test_due_times_first_sightings_extensions_and_late_penalties_reach_nbgrader(
        course: Path, tmp_path: Path, key: Key) -> None:
    """With a due time, nbgrader's assignment gets it, each submission the moment batch first saw it (what lateness
    was decided on) and its extension, and a late notebook the points batch's policy took."""
    from nbgrader.api import Gradebook

    (course / "course.toml").write_text(COURSE_TOML + '\n[deadlines]\npenalty_per_day = 10\n\n'
                                        '[deadlines.assignment.01]\ndue = "2026-10-05T23:59:00+08:00"\n',
                                        encoding="utf-8")
    results = write_results(tmp_path / "results", FIRST, key)
    lateness = {  # alice: two days late; carol: an extension of a day, on time within it
        "alice": {"first_seen_at": "2026-10-07T11:59:00+00:00", "due": "2026-10-05T23:59:00+08:00", "days": 2,
                  "penalty": 20.0},
        "carol": {"first_seen_at": "2026-10-06T12:00:00+00:00", "due": "2026-10-06T23:59:00+08:00", "days": 0,
                  "penalty": 0.0},
    }
    for student, late in lateness.items():
        path = results / "students" / f"{student}.json"
        record = key.opened(RECORD_PURPOSE, json.loads(path.read_text(encoding="utf-8")))
        write_record(path, {**record, "late": {"01": late}}, key)
    db = tmp_path / "out" / "gradebook.db"
    assert export(results, db, key).students == 3
    with Gradebook(f"sqlite:///{db}") as gradebook:
        assert str(gradebook.find_assignment("01-alpha").duedate) == "2026-10-05 15:59:00"  # UTC, as nbgrader keeps
        alice = gradebook.find_submission("01-alpha", "alice")
        carol = gradebook.find_submission("01-alpha", "carol")
        bob = gradebook.find_submission("01-alpha", "bob")
        assert (str(alice.timestamp), alice.extension) == ("2026-10-07 11:59:00", None)
        assert (str(carol.timestamp), str(carol.extension)) == ("2026-10-06 12:00:00", "1 day, 0:00:00")
        assert str(bob.timestamp) == GRADED_AT_UTC  # nothing seen late: when it was graded, as without due times
        notebook = gradebook.find_submission_notebook("alpha", "01-alpha", "alice")
        assert notebook.late_submission_penalty == 20.0  # 20 % of alice's 100 points
        assert gradebook.find_submission_notebook("alpha", "01-alpha", "carol").late_submission_penalty is None
