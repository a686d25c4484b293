"""``batch`` records that cannot be forged or lost: sealed results, interruptions, the per-student time budget.

Grading is narrowed to assignment 01 (and 02 for the budget) with one worker,
so each batch is a few child processes of about a second.
"""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from repo_support import own_key  # noqa: F401 - an autouse fixture
from repo_support import (
    ROOT, batch_01, batch_files, batch_records, git_submission, run_grader, solution_source, write_module,
)

from grader.instructor import batch
from grader.instructor.roster import read_sources
from grader import errors
from grader.manifest import load_manifest
from grader.model import AssignmentResult, GradeResult
from grader.model import TestResult as Run
from grader.pipeline import course_tests
from grader.records import default_key_path, load_key
from grader.stage import CourseTests

SOLUTION = solution_source("01")
STUB = (ROOT / "assignments" / "01" / "why_async.py").read_text(encoding="utf-8")
# Each student's true score on 01 alone; "Zoë" is there for its note line, printed once grading can start.
TRUE = {"alice": 100.0, "bob": 0.0, "carol": 100.0, "dave": 100.0, "Zo_": 100.0}


def _class(root: Path) -> Path:
    for name, score in TRUE.items():
        write_module(root / ("Zoë" if name == "Zo_" else name), SOLUTION if score else STUB)
    return root


def _roster(root: Path) -> Path:
    """The same class as a roster of git repositories (``NAME PATH`` lines), cloned by the batch."""
    lines = []
    for name, score in TRUE.items():
        raw = "Zoë" if name == "Zo_" else name
        git_submission(root / raw, {"01": SOLUTION if score else STUB})
        lines.append(f"{raw} {root / raw}")
    roster = root / "roster.txt"
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return roster


def _interrupted(submissions: Path, out: Path, lines_before: int, signum: int) -> tuple[int, str]:
    """Run a batch, send ``signum`` once its standard error has ``lines_before`` lines; exit status and stderr."""
    child = subprocess.Popen([sys.executable, "-m", "grader", "batch", str(submissions), "--out", str(out),
                              "--assignment", "01", "--workers", "1"], cwd=ROOT, stderr=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, text=True, env=dict(os.environ))
    assert child.stderr is not None
    seen = []
    while len(seen) < lines_before:
        line = child.stderr.readline()
        if not line:
            break
        seen.append(line)
    child.send_signal(signum)
    rest = child.stderr.read()
    return child.wait(timeout=600), "".join(seen) + rest


def _assert_true_or_earlier(out: Path, earlier: dict[str, bytes]) -> None:
    """Every student file is a complete result at the true score, or the file as it was before."""
    for name, data in batch_files(out).items():
        if earlier.get(name) == data:
            continue
        record = json.loads(data)
        assert record["status"] == "graded", record
        assert record["result"]["score"] == TRUE[record["student"]], record


# Standard error's first line (what the batch will do) is printed once the signal handlers are in place and
# before the session opens; the second, the note on Zoë's name, once it is open. So, interrupted after 1 line:
# nobody is under way yet; 2: the first student (a roster: the clones) under way; 3: one student done; 4: two.
# One moment runs by default; the others are `slow` (dev.py check runs them).
@pytest.mark.slow  # several seconds: dev.py check runs it
@pytest.mark.parametrize(("kind", "lines_before", "signum"), [
    pytest.param("folder", 1, signal.SIGINT, marks=pytest.mark.slow),
    pytest.param("folder", 2, signal.SIGINT, marks=pytest.mark.slow),
    ("folder", 3, signal.SIGINT), pytest.param("folder", 2, signal.SIGTERM, marks=pytest.mark.slow),
    pytest.param("roster", 2, signal.SIGINT, marks=pytest.mark.slow),
    pytest.param("roster", 3, signal.SIGINT, marks=pytest.mark.slow),
    pytest.param("roster", 4, signal.SIGINT, marks=pytest.mark.slow),
])
def test_an_interrupted_batch_records_only_complete_results(tmp_path: Path, kind: str, lines_before: int,
                                                            signum: int) -> None:
    """No student below the true score after Ctrl-C or SIGTERM; the run names who was not graded; the next run
    grades everyone at the true score and skips only the complete results."""
    submissions = _class(tmp_path / "class") if kind == "folder" else _roster(tmp_path / "repositories")
    out = tmp_path / "results"
    status, stderr = _interrupted(submissions, out, lines_before, signum)
    assert status == 128 + signum, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"interrupted ({signal.Signals(signum).name}): not graded: "), stderr
    assert "Traceback" not in stderr
    _assert_true_or_earlier(out, {})
    recorded = {p.stem for p in (out / "students").glob("*.json")} if (out / "students").is_dir() else set()
    not_graded = set(last.split("not graded: ")[1].split(";")[0].split(", "))
    assert recorded.isdisjoint(not_graded) and recorded | not_graded == set(TRUE), (recorded, not_graded)
    assert not (out / "grades.csv").exists() and not (out / "summary.json").exists()

    again = batch_01(submissions, out, workers=1)
    records = batch_records(out)
    assert {n: r["result"]["score"] for n, r in records.items()} == TRUE
    assert all(r["status"] == "graded" for r in records.values())
    skipped = {line.split()[1] for line in again.stderr.splitlines() if line.endswith("(unchanged, skipped)")}
    assert skipped == recorded


@pytest.mark.slow
def test_an_interrupted_regrade_keeps_each_earlier_result_or_replaces_it_whole(tmp_path: Path) -> None:
    """Every submission changed since a complete run; interrupted mid-class, each file is the old one or the new
    complete result, and the next run finishes the rest."""
    submissions = _class(tmp_path / "class")
    out = tmp_path / "results"
    batch_01(submissions, out, workers=1)
    earlier = batch_files(out)
    for folder in submissions.iterdir():
        path = folder / "assignments" / "01" / "why_async.py"
        path.write_text(path.read_text(encoding="utf-8") + "\n# resubmitted\n", encoding="utf-8")
    status, stderr = _interrupted(submissions, out, 3, signal.SIGINT)
    assert status == 130, stderr
    _assert_true_or_earlier(out, earlier)
    assert set(batch_files(out)) == set(earlier)
    batch_01(submissions, out, workers=1)
    records = batch_records(out)
    assert {n: r["result"]["score"] for n, r in records.items()} == TRUE
    assert all(r["key"] != json.loads(earlier[f"{n}.json"])["key"] for n, r in records.items())


@pytest.mark.slow  # several seconds: dev.py check runs it
def test_a_forged_record_is_regraded_not_kept(tmp_path: Path) -> None:
    """bob's file edited to full marks (its key, status and seal left as they were) is regraded to his 0."""
    submissions = _class(tmp_path / "class")
    out = tmp_path / "results"
    batch_01(submissions, out, workers=1)
    path = out / "students" / "bob.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    for assignment in record["result"]["assignments"]:
        assignment["score"] = assignment["max_score"]
        for test in assignment["tests"]:
            test["outcome"], test["score"] = "passed", test["max_score"]
    record["result"]["score"] = record["result"]["max_score"]
    path.write_text(json.dumps(record), encoding="utf-8")

    again = batch_01(submissions, out, workers=1)
    assert "bob 0/100 (" in again.stderr and "bob 100/100" not in again.stderr
    assert "alice 100/100 (unchanged, skipped)" in again.stderr  # a record the grader sealed is still trusted
    assert batch_records(out)["bob"]["result"]["score"] == 0
    assert "bob,,0,graded,01,,\n" in (out / "grades.csv").read_text(encoding="utf-8")

    unsealed = {k: v for k, v in batch_records(out)["carol"].items() if k != "seal"}
    (out / "students" / "carol.json").write_text(json.dumps(unsealed), encoding="utf-8")
    third = batch_01(submissions, out, workers=1)
    assert "carol 100/100 (unchanged, skipped)" not in third.stderr and "carol 100/100 (" in third.stderr


@pytest.mark.slow
def test_the_time_budget_leaves_assignments_not_graded_never_zero(tmp_path: Path) -> None:
    """A submission that hangs at import uses up its budget: both assignments are recorded as not graded for
    time, empty in grades.csv, and out of the statistics."""
    slow = tmp_path / "class" / "slow"
    write_module(slow, "import time\ntime.sleep(3600)\n")
    write_module(slow, "import time\ntime.sleep(3600)\n", "02", "coroutines.py")
    out = tmp_path / "results"
    done = run_grader("batch", str(tmp_path / "class"), "--out", str(out), "--assignment", "01", "--assignment",
                      "02", "--workers", "1", "--student-budget", "3")
    assert done.returncode == 0, done.stderr
    assert "[1/1] slow partial: not graded for time: 01, 02 (the time budget of 3 s per student ran out) (" in (
        done.stderr)
    record = batch_records(out)["slow"]
    assert record["status"] == "partial"
    assert sorted(record["not_graded"]) == ["01", "02"]
    # One at a time: the first runs until the budget ends it, the second never starts.
    assert sorted(record["not_graded"].values()) == [
        "the submission's time budget ran out before this assignment's turn",
        "the submission's time budget ran out while this assignment's tests were running"]
    assert "not graded for time: 01, 02 (the time budget of 3 s per student ran out)" in record["message"]
    assert (out / "grades.csv").read_text(encoding="utf-8") == (
        "student,01,02,total,status,not_started,attempted,flagged\nslow,,,,partial,,01 02,\n")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["students"][0]["score"] is None and summary["students"][0]["assignments"] == {}
    assert summary["statistics"]["total"]["students"] == 0
    assert summary["statistics"]["assignments"]["01"]["students"] == 0

    # A partial result is never skipped as unchanged: with time enough, the next run grades it.
    write_module(slow, SOLUTION)
    write_module(slow, solution_source("02"), "02", "coroutines.py")
    again = run_grader("batch", str(tmp_path / "class"), "--out", str(out), "--assignment", "01", "--assignment",
                       "02", "--workers", "1")
    assert again.returncode == 0, again.stderr
    assert batch_records(out)["slow"]["status"] == "graded" and batch_records(out)["slow"]["result"]["score"] == 200


def _course_toml(folder: Path, batch_table: str) -> Path:
    """A copy of the course manifest with its own ``[batch]`` table (none for "")."""
    kept, skipping = [], False
    for line in (ROOT / "course.toml").read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            skipping = line.strip() == "[batch]"
        if not skipping:
            kept.append(line)
    folder.mkdir()
    (folder / "course.toml").write_text("\n".join(kept) + "\n" + batch_table, encoding="utf-8")
    return folder


def test_the_budget_comes_from_the_option_then_course_toml(tmp_path: Path) -> None:
    """--student-budget wins; else course.toml's [batch] student_budget; else the default; nonsense is refused."""
    configured = load_manifest(_course_toml(tmp_path / "a", "[batch]\nstudent_budget = 120\n"))
    assert batch.student_budget(configured, 42.0) == 42.0
    assert batch.student_budget(configured, None) == 120.0
    assert batch.student_budget(load_manifest(_course_toml(tmp_path / "b", "")), None) == batch.DEFAULT_STUDENT_BUDGET
    for number, value in enumerate(("-1", "0", "true", '"soon"')):
        wrong = load_manifest(_course_toml(tmp_path / f"c{number}", f"[batch]\nstudent_budget = {value}\n"))
        with pytest.raises(errors.UsageError, match="student_budget must be a number of seconds > 0"):
            batch.student_budget(wrong, None)


def _fake(score: float) -> GradeResult:
    return GradeResult((AssignmentResult("01", "Why asynchronous?", score, 100.0, "graded", "fake"),), True)


def test_a_fault_of_the_grader_keeps_the_earlier_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception while grading a student who has a sealed result leaves that file as it was and says so."""
    def fine(manifest: object, submission: Path, tests: CourseTests, *, deadline: float | None,
             workers: int | None = None, session: object = None) -> tuple[GradeResult, dict[str, str]]:
        return _fake(42.0), {}

    def broken(manifest: object, submission: Path, tests: CourseTests, *, deadline: float | None,
               workers: int | None = None, session: object = None) -> tuple[GradeResult, dict[str, str]]:
        raise RuntimeError("the runner lost its fork server")

    for name in ("alice", "bob"):
        write_module(tmp_path / "class" / name, SOLUTION)
    manifest = load_manifest(ROOT).only(["01"])
    out = tmp_path / "out"
    run = dict(workers=1, tests=course_tests(manifest, None), stream=io.StringIO())
    monkeypatch.setattr(batch, "grade_within", fine)
    batch.run_batch(manifest, read_sources(tmp_path / "class", out), out, **run)  # type: ignore[arg-type]
    before = batch_files(out)
    monkeypatch.setattr(batch, "grade_within", broken)
    stream = io.StringIO()
    summary = batch.run_batch(manifest, read_sources(tmp_path / "class", out), out, workers=1, force=True,
                              tests=course_tests(manifest, None), stream=stream)
    assert batch_files(out) == before
    assert [s.action for s in summary.students] == ["not graded", "not graded"]
    assert ("alice not graded: internal error while grading: RuntimeError: the runner lost its fork server; "
            "the earlier result is kept") in stream.getvalue()
    assert "not graded 2 of 2 student(s)" in stream.getvalue()
    assert "alice,42,42,graded,,,\n" in (out / "grades.csv").read_text(encoding="utf-8")


def test_the_dashboard_counts_only_grades(tmp_path: Path) -> None:
    """grades.csv and the class statistics: a failed clone and an assignment past the budget are empty, not 0,
    and out of the mean and median."""
    from grader.instructor import dashboard

    key = load_key(tmp_path / "state" / "results.key")

    def result(scores: dict[str, float], status: str = "graded") -> dict[str, object]:
        return GradeResult(tuple(AssignmentResult(i, i, s, 100.0, status, "m") for i, s in scores.items()),
                           True).to_dict()

    students = tmp_path / "results" / "students"
    students.mkdir(parents=True)
    rows = {"alice": ("graded", {}, {"01": 100.0, "02": 80.0}), "bob": ("graded", {}, {"01": 50.0, "02": 40.0}),
            "carol": ("partial", {"02": "the submission's time budget ran out"}, {"01": 90.0, "02": 0.0}),
            "ghost": ("error", {}, {"01": 0.0, "02": 0.0})}
    for name, (status, not_graded, scores) in rows.items():
        record = {"student": name, "source": name, "key": "k", "graded_at": "2026-12-01T00:00:00+00:00",
                  "status": status, "message": "", "not_graded": not_graded,
                  "result": result(scores, "error" if status == "error" else "graded")}
        (students / f"{name}.json").write_text(json.dumps(key.sealed(batch.RECORD_PURPOSE, record)), encoding="utf-8")
    loaded = dashboard.load_students(tmp_path / "results", key)
    columns = dashboard.assignment_columns(loaded)
    assert dashboard.grades_csv(loaded, columns) == (
        "student,01,02,total,status,not_started,attempted,flagged\nalice,100,80,180,graded,,,\nbob,50,40,90,graded,,,\n"
        "carol,90,,,partial,,02,\nghost,,,,error,,,\n")
    index = dashboard.render_index(loaded, columns, "A course")
    page = index[index.index("<tfoot>"):index.index("</tfoot>")]
    assert page == ("<tfoot><tr><th scope=\"row\" data-kind=\"mean\">Class mean</th><td>80</td><td>60</td><td>135</td>"
                    "</tr><tr><th scope=\"row\" data-kind=\"median\">Class median</th><td>90</td><td>60</td>"
                    "<td>135</td></tr>")
    assert "<b>Total</b><br>2 students, 2 not graded in full; mean 135, median 135" in index
    assert "<br>2 students, 1 attempted, 1 not graded; mean 60, median 60" in index
    assert "aria-label=\"02 02 score distribution: 40%: 1, 80%: 1\"" in index


def test_an_untouched_stub_is_not_started_never_a_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A student who left 01 as the course's stub (byte for byte) is "not started" there: an empty cell in both
    CSVs, out of the statistics and out of the tests the class fails most; one line more is an attempt, and a 0."""
    from grader.instructor import dashboard

    manifest = load_manifest(ROOT).only(["01", "02"])
    stub_02 = (ROOT / "assignments" / "02" / manifest.get("02").module).read_text(encoding="utf-8")
    write_module(tmp_path / "class" / "alice", STUB)  # untouched
    write_module(tmp_path / "class" / "alice", stub_02 + "# tried\n", "02", manifest.get("02").module)
    write_module(tmp_path / "class" / "bob", STUB + "# tried\n")  # attempted, and fails
    write_module(tmp_path / "class" / "bob", stub_02 + "# tried\n", "02", manifest.get("02").module)
    scores = {"alice": 30.0, "bob": 90.0}

    def fake(manifest: object, submission: Path, tests: CourseTests, *, deadline: float | None,
             workers: int | None = None, session: object = None) -> tuple[GradeResult, dict[str, str]]:
        why = "NotImplementedError" if submission.name == "alice" else "the loop never started"
        failed = Run("test_timing", "public", "failed", 0.0, 100.0, why)
        return GradeResult((AssignmentResult("01", "Why asynchronous?", 0.0, 100.0, "graded", "", (failed,)),
                            AssignmentResult("02", "Coroutines", scores[submission.name], 100.0, "graded", "")),
                           True), {}

    monkeypatch.setattr(batch, "grade_within", fake)
    out = tmp_path / "out"
    batch.run_batch(manifest, read_sources(tmp_path / "class", out), out, workers=1,
                    tests=course_tests(manifest, None), stream=io.StringIO())
    assert (out / "grades.csv").read_text(encoding="utf-8") == (
        "student,01,02,total,status,not_started,attempted,flagged\nalice,,30,30,graded,01,,\nbob,0,90,90,graded,,,\n")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [(s["assignments"], s["not_started"], s["score"]) for s in summary["students"]] == [
        ({"02": 30.0}, ["01"], 30.0), ({"01": 0.0, "02": 90.0}, [], 90.0)]
    stats = summary["statistics"]
    assert stats["assignments"]["01"] == {"students": 1, "mean": 0.0, "median": 0.0}
    assert stats["assignments"]["02"] == {"students": 2, "mean": 60.0, "median": 60.0}
    assert stats["total"] == {"students": 1, "mean": 90.0, "median": 90.0}  # alice's total would count 01 as 0
    assert stats["not_started"] == {"01": 1, "02": 0}

    loaded = dashboard.load_students(out, load_key(default_key_path()))
    columns = dashboard.assignment_columns(loaded, manifest)
    assert dashboard.grades_csv(loaded, columns) == (out / "grades.csv").read_text(encoding="utf-8")
    assert [(f.name, f.failing, f.taking, f.feedback) for f in dashboard.most_failed(loaded, columns[0])] == [
        ("test_timing", 1, 1, "the loop never started")]
    index = dashboard.render_index(loaded, columns, "A course")
    assert '<td class="s-unstarted" data-value="">' in index
    assert '<span class="swatch s-unstarted"></span>not started' in index
    footer = index[index.index("<tfoot>"):index.index("</tfoot>")]
    assert footer == ("<tfoot><tr><th scope=\"row\" data-kind=\"mean\">Class mean</th><td>0</td><td>60</td><td>90</td>"
                      "</tr><tr><th scope=\"row\" data-kind=\"median\">Class median</th><td>0</td><td>60</td>"
                      "<td>90</td></tr>")
    assert "<br>1 students, 1 not started; mean 0, median 0" in index
    assert "<b>Total</b><br>1 students, 1 with an assignment not started; mean 90, median 90" in index
    alice = dashboard.render_student(loaded[0], columns)
    assert '<td class="s-unstarted">0 / 100</td><td>not started</td>' in alice
