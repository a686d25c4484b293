"""``python -m grader batch``: a class graded in parallel, re-runs that skip what did not change.

Grading is narrowed to assignment 01 (``--assignment 01``) to keep the suite
quick: each real grading is one child process of about a second.
"""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from repo_support import own_key  # noqa: F401 - an autouse fixture
from repo_support import (
    ROOT, batch_01, batch_files, batch_records, run_grader, solution_source, write_module,
)

from grader.instructor import batch
from grader.instructor import git
from grader.instructor import keys
from grader.instructor.progress import BatchSummary, Progress, StudentOutcome
from grader.instructor.roster import Source, name_from_url, read_sources, sanitize_name
from grader.catalog import course_fingerprint
from grader.manifest import load_manifest
from grader.model import AssignmentResult, GradeResult
from grader.pipeline import course_tests
from grader.stage import CourseTests

SOLUTION = solution_source("01")
STUB = (ROOT / "assignments" / "01" / "why_async.py").read_text(encoding="utf-8")
FORCE_PASS_CONFTEST = """\
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().outcome = "passed"
"""
TITLE = load_manifest(ROOT).title
RECORD_KEYS = {"student", "source", "key", "graded_at", "status", "message", "not_graded", "not_started", "sandboxed",
               "result", "seal"}
PROGRESS_LINE = re.compile(r"\[(\d+)/(\d+)\] (\S+) (\d+)/100 \((?:\d+\.\d s|unchanged, skipped)\)")


def _progress(stderr: str) -> dict[str, str]:
    """Each student's progress line, by name; every line numbered 1..N once."""
    lines = [line for line in stderr.splitlines() if line.startswith("[")]
    matches = [PROGRESS_LINE.fullmatch(line) or re.fullmatch(r"\[(\d+)/(\d+)\] (\S+) error: .*", line)
               for line in lines]
    assert all(matches), lines
    assert sorted(int(m.group(1)) for m in matches if m) == list(range(1, len(lines) + 1))
    return {m.group(3): line for m, line in zip(matches, lines) if m}


def _last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


@pytest.fixture
def class_folder(tmp_path: Path) -> Path:
    """A folder of five checkouts: the reference, the stub, a syntax error, a hostile one, an odd name."""
    root = tmp_path / "class"
    write_module(root / "alice", SOLUTION)
    write_module(root / "bob", STUB)
    write_module(root / "carol", "async def fetch_async(label, delay:\n")
    # Hostile: conftest files that would force every test to pass if pytest
    # ever read them, and a module that ends the process at import.
    write_module(root / "dave", "import os\nos._exit(0)\n")
    (root / "dave" / "conftest.py").write_text(FORCE_PASS_CONFTEST)
    (root / "dave" / "assignments" / "01" / "conftest.py").write_text(FORCE_PASS_CONFTEST)
    (root / "Zoë Q").mkdir()  # submitted nothing, and its name is not file-safe
    (root / ".cache").mkdir()  # hidden folders and plain files are not students
    (root / "README.txt").write_text("the class of 2026\n")
    return root


@pytest.mark.slow  # several seconds: dev.py check runs it
def test_a_class_folder_is_graded_then_only_changes_are_regraded(class_folder: Path, tmp_path: Path) -> None:
    """Each student gets exactly their score in the documented files; re-runs skip, a change regrades one."""
    out = tmp_path / "results"
    first = batch_01(class_folder, out)
    assert first.stderr.splitlines()[0] == "grading 5 student(s), 2 at a time"  # before any student is done
    assert f"note: student name {'Zoë Q'!r} is not [A-Za-z0-9_.-]+: filed as 'Zo__Q'" in first.stderr
    lines = _progress(first.stderr)
    assert sorted(lines) == ["Zo__Q", "alice", "bob", "carol", "dave"]
    assert "alice 100/100 (" in lines["alice"] and "dave 0/100 (" in lines["dave"]
    assert _last_line(first.stderr).startswith("graded 5, skipped 0, errors 0 of 5 student(s) in ")

    records = batch_records(out)
    assert sorted(records) == ["Zo__Q", "alice", "bob", "carol", "dave"]
    course = keys.identity(load_manifest(ROOT).only(["01"]), course_tests(load_manifest(ROOT), None))
    for name, record in records.items():
        assert set(record) == RECORD_KEYS
        assert record["student"] == name and record["status"] == "graded"
        assert re.fullmatch(rf"[0-9a-f]{{64}}\+{course}", record["key"]), record["key"]
        assert datetime.fromisoformat(record["graded_at"]).tzinfo is not None
        GradeResult.from_dict(record["result"])  # the grade JSON of the contract
        assert [a["id"] for a in record["result"]["assignments"]] == ["01"]
    assert records["alice"]["source"] == str((class_folder / "alice").resolve())
    assert records["Zo__Q"]["source"] == str((class_folder / "Zoë Q").resolve())
    assert "filed as 'Zo__Q'" in records["Zo__Q"]["message"]
    assert records["alice"]["message"] == ""
    a01 = {name: r["result"]["assignments"][0] for name, r in records.items()}
    assert {name: a["score"] for name, a in a01.items()} == {"alice": 100, "bob": 0, "carol": 0, "dave": 0, "Zo__Q": 0}
    assert all(a["max_score"] == 100 for a in a01.values())
    assert a01["alice"]["status"] == "graded" and a01["bob"]["status"] == "graded"
    assert a01["carol"]["status"] == "error" and "SyntaxError" in a01["carol"]["message"]
    assert "exited early" in a01["dave"]["message"]
    assert all(t["outcome"] != "passed" for t in a01["dave"]["tests"])
    assert a01["Zo__Q"]["status"] == "missing"

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(summary) == {"course", "generated_at", "students", "statistics"} and summary["course"] == TITLE
    datetime.fromisoformat(summary["generated_at"])
    # bob's untouched stub is "not started": out of his assignments and of the statistics, never a 0.
    assert summary["students"] == [  # the folder's students in name order
        {"student": n, "score": s, "max_score": 100.0, "status": "graded",
         "assignments": {} if n == "bob" else {"01": s}, "not_started": ["01"] if n == "bob" else [],
             "attempted": [], "flagged": []}
        for n, s in [("Zo__Q", 0.0), ("alice", 100.0), ("bob", 0.0), ("carol", 0.0), ("dave", 0.0)]]
    assert summary["statistics"] == {"total": {"students": 4, "mean": 25.0, "median": 0.0},
                                     "assignments": {"01": {"students": 4, "mean": 25.0, "median": 0.0}},
                                     "not_graded": 0, "not_started": {"01": 1},
                                     "attempted": {"01": 0}, "flagged": {"01": 0}}
    assert (out / "grades.csv").read_text(encoding="utf-8") == (
        "student,01,total,status,not_started,attempted,flagged\nZo__Q,0,0,graded,,,\nalice,100,100,graded,,,\nbob,,0,graded,01,,\n"
        "carol,0,0,graded,,,\ndave,0,0,graded,,,\n")
    assert not [p for p in out.rglob("*") if p.name.endswith(".partial")]

    # Unchanged: nothing is graded or rewritten.
    before = batch_files(out)
    second = batch_01(class_folder, out)
    assert _last_line(second.stderr).startswith("graded 0, skipped 5, errors 0 of 5 student(s) in ")
    assert all(line.endswith("(unchanged, skipped)") for line in _progress(second.stderr).values())
    assert batch_files(out) == before

    # bob fixes his module; alice adds files the grader never reads: only bob is regraded.
    write_module(class_folder / "bob", SOLUTION)
    (class_folder / "alice" / "conftest.py").write_text(FORCE_PASS_CONFTEST)
    (class_folder / "alice" / "assignments" / "01" / "notes.md").write_text("done\n")
    third = batch_01(class_folder, out)
    assert _last_line(third.stderr).startswith("graded 1, skipped 4, errors 0 of 5 student(s) in ")
    after = batch_files(out)
    assert {name for name in before if before[name] != after[name]} == {"bob.json"}
    assert batch_records(out)["bob"]["result"]["score"] == 100
    assert "bob,100,100,graded,,,\n" in (out / "grades.csv").read_text(encoding="utf-8")

    forced = batch_01(class_folder, out, "--force")
    assert _last_line(forced.stderr).startswith("graded 5, skipped 0, errors 0 of 5 student(s) in ")
    assert "(unchanged, skipped)" not in forced.stderr
    assert {n: r["result"]["score"] for n, r in batch_records(out).items()} == {
        "alice": 100, "bob": 100, "carol": 0, "dave": 0, "Zo__Q": 0}


def _git(repository: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.org", *args],
                          cwd=repository, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _repository(path: Path, source: str) -> Path:
    write_module(path, source)
    _git(path, "init", "-q")
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "submission")
    return path


@pytest.mark.slow  # several seconds: dev.py check runs it
def test_a_roster_of_git_repositories_is_cloned_graded_and_updated(tmp_path: Path) -> None:
    """Roster entries are cloned and graded; a clone that fails is that student's error; re-runs fetch."""
    alice = _repository(tmp_path / "repos" / "alice", SOLUTION)
    bob = _repository(tmp_path / "repos" / "bob-work", STUB)
    # mallory commits a link to alice's work: it must arrive as a plain file, not be followed.
    mallory = tmp_path / "repos" / "mallory"
    mallory.mkdir()
    (mallory / "assignments").symlink_to(alice / "assignments", target_is_directory=True)
    _git(mallory, "init", "-q")
    _git(mallory, "add", "-A")
    _git(mallory, "commit", "-q", "-m", "borrowed")
    roster = tmp_path / "roster.txt"
    roster.write_text(
        "# the class\n\n"
        f"{alice.as_uri()}\n"
        "bob repos/bob-work   # named, and a path relative to the roster\n"
        f"{mallory.as_uri()}\n"
        f"   {(tmp_path / 'repos' / 'ghost.git').as_uri()}\n", encoding="utf-8")
    out = tmp_path / "results"

    first = batch_01(roster, out)
    assert first.stderr.splitlines()[0] == "grading 4 student(s), 2 at a time; each repository is fetched first"
    assert _last_line(first.stderr).startswith("graded 3, skipped 0, errors 1 of 4 student(s) in ")
    assert re.search(r"^\[\d/4\] ghost error: clone failed: .*ghost\.git.* \(\d+\.\d s\)$", first.stderr, re.MULTILINE)
    records = batch_records(out)
    course = records["alice"]["key"].split("+")[1]
    assert records["alice"]["key"] == f"{_git(alice, 'rev-parse', 'HEAD')}+{course}"
    assert records["alice"]["source"] == alice.as_uri()
    assert records["bob"]["key"] == f"{_git(bob, 'rev-parse', 'HEAD')}+{course}"
    assert records["bob"]["source"] == str(bob.resolve())
    assert [records[n]["result"]["score"] for n in ("alice", "bob", "mallory")] == [100, 0, 0]
    assert records["mallory"]["result"]["assignments"][0]["status"] == "missing"
    ghost = records["ghost"]
    assert set(ghost) == RECORD_KEYS
    assert (ghost["status"], ghost["key"]) == ("error", "")
    assert ghost["message"].startswith("clone failed: ") and "\n" not in ghost["message"]
    assert ghost["result"]["score"] == 0 and ghost["result"]["max_score"] == 100
    assert [(a["id"], a["status"], a["score"]) for a in ghost["result"]["assignments"]] == [("01", "error", 0)]
    assert (out / "checkouts" / "alice" / "assignments" / "01" / "why_async.py").read_text() == SOLUTION
    # A failed clone is no grade: an empty cell and its status, never a 0, and no part of the statistics.
    assert (out / "grades.csv").read_text() == (
        "student,01,total,status,not_started,attempted,flagged\nalice,100,100,graded,,,\nbob,,0,graded,01,,\n"
        "mallory,0,0,graded,,,\nghost,,,error,,,\n")
    summary = json.loads((out / "summary.json").read_text())
    assert [(s["status"], s["score"], s["assignments"]) for s in summary["students"]] == [
        ("graded", 100.0, {"01": 100.0}), ("graded", 0.0, {}), ("graded", 0.0, {"01": 0.0}),
        ("error", None, {})]
    assert summary["statistics"]["total"] == {"students": 2, "mean": 50.0, "median": 50.0}
    assert summary["statistics"]["assignments"]["01"] == {"students": 2, "mean": 50.0, "median": 50.0}
    assert summary["statistics"]["not_graded"] == 1

    # bob pushes a fix: his checkout is fetched (not cloned again) and regraded; errors are retried.
    marker = out / "checkouts" / "bob" / ".git" / "kept-by-an-update"
    marker.write_text("")
    write_module(bob, SOLUTION)
    _git(bob, "commit", "-q", "-am", "fixed")
    second = batch_01(roster, out)
    assert _last_line(second.stderr).startswith("graded 1, skipped 2, errors 1 of 4 student(s) in ")
    assert "alice 100/100 (unchanged, skipped)" in second.stderr
    assert marker.exists()
    records = batch_records(out)
    assert records["bob"]["key"] == f"{_git(bob, 'rev-parse', 'HEAD')}+{course}"
    assert records["bob"]["result"]["score"] == 100


def _fake_result(score: float) -> GradeResult:
    return GradeResult((AssignmentResult("01", "Why asynchronous?", score, 100.0, "graded", "fake"),), True)


def test_a_fault_grading_one_student_never_stops_the_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """run_batch: an exception while grading one submission makes that student an error; the rest are graded."""
    def fake_grade(manifest: object, submission: Path, tests: CourseTests, *, deadline: float | None,
                   workers: int | None = None, session: object = None) -> tuple[GradeResult, dict[str, str]]:
        assert workers == 1  # submissions run in parallel, each with one assignment process at a time
        if submission.name == "bob":
            raise RuntimeError("boom")
        return _fake_result(42.0), {}

    monkeypatch.setattr(batch, "grade_within", fake_grade)
    for name in ("alice", "bob", "carol"):
        write_module(tmp_path / "class" / name, SOLUTION)
    manifest = load_manifest(ROOT).only(["01"])
    sources = read_sources(tmp_path / "class", tmp_path / "out")
    stream = io.StringIO()
    summary = batch.run_batch(manifest, sources, tmp_path / "out", workers=3, force=False,
                              tests=course_tests(manifest, None), stream=stream)
    assert isinstance(summary, BatchSummary)
    assert (summary.graded, summary.skipped, summary.errors) == (2, 0, 1)
    assert [(s.student, s.action, s.score) for s in summary.students] == [
        ("alice", "graded", 42.0), ("bob", "error", 0.0), ("carol", "graded", 42.0)]
    bob = batch_records(tmp_path / "out")["bob"]
    assert bob["status"] == "error" and bob["message"] == "internal error while grading: RuntimeError: boom"
    assert bob["key"]  # the submission was read: a later run retries it anyway, since it is an error
    assert "bob error: internal error while grading: RuntimeError: boom" in stream.getvalue()
    rows = list(csv.reader(io.StringIO((tmp_path / "out" / "grades.csv").read_text())))
    assert rows == [["student", "01", "total", "status", "not_started", "attempted", "flagged"],
                    ["alice", "42", "42", "graded", "", "", ""], ["bob", "", "", "error", "", "", ""],
                    ["carol", "42", "42", "graded", "", "", ""]]


def test_each_result_is_written_as_soon_as_its_student_is_graded(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """With one worker, a student's file is complete on disk before the next student starts."""
    seen: list[list[str]] = []

    def fake_grade(manifest: object, submission: Path, tests: CourseTests, *, deadline: float | None,
                   workers: int | None = None, session: object = None) -> tuple[GradeResult, dict[str, str]]:
        seen.append(sorted(p.name for p in (tmp_path / "out" / "students").iterdir()))
        return _fake_result(7.0), {}

    monkeypatch.setattr(batch, "grade_within", fake_grade)
    for name in ("alice", "bob", "carol"):
        write_module(tmp_path / "class" / name, SOLUTION)
    manifest = load_manifest(ROOT).only(["01"])
    batch.run_batch(manifest, read_sources(tmp_path / "class", tmp_path / "out"), tmp_path / "out",
                    workers=1, force=False, tests=course_tests(manifest, None), stream=io.StringIO())
    assert seen == [[], ["alice.json"], ["alice.json", "bob.json"]]


def test_a_name_with_nothing_file_safe_gets_a_stable_one(tmp_path: Path) -> None:
    """A folder named in another script is filed under a name made from its hash, and the note says so."""
    (tmp_path / "class" / "日本").mkdir(parents=True)
    [first] = read_sources(tmp_path / "class", tmp_path / "out")
    [again] = read_sources(tmp_path / "class", tmp_path / "out")
    assert re.fullmatch(r"student-[0-9a-f]{8}", first.student) and first == again
    assert first.note == f"student name '日本' is not [A-Za-z0-9_.-]+: filed as {first.student!r}"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _outcomes() -> list[StudentOutcome]:
    return [StudentOutcome("alice", "graded", 285.0, 900.0, 3.14),
            StudentOutcome("bob", "error", 0.0, 900.0, 0.2, "clone failed: not found"),
            StudentOutcome("carol", "skipped", 900.0, 900.0, 0.0)]


class _Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_in_a_log_starts_at_once_and_says_what_is_left_every_so_often() -> None:
    """Off a terminal (a log, CI): a line from the start, one finished line per student, a `progress:` line
    (done, cloned, left, time to go) every PROGRESS_EVERY seconds and only then, then the summary line."""
    stream, clock = io.StringIO(), _Clock()
    progress = Progress(stream, total=3, clock=clock, every=30.0)
    progress.start(2, cloning=True)
    progress.tick()
    assert stream.getvalue() == "grading 3 student(s), 2 at a time; each repository is fetched first\n"
    clock.now += 30.0  # nothing finished yet: the estimate is not guessed
    progress.clone_done()
    progress.tick()
    clock.now += 10.0
    progress.finished(_outcomes()[0])  # 40 s for the first of three: 80 s for the other two
    progress.tick()  # 10 s since the last status line: none
    progress.clone_done()
    clock.now += 20.0
    progress.tick()
    for outcome in _outcomes()[1:]:
        progress.finished(outcome)
    progress.summary(BatchSummary(tuple(_outcomes()), 12.34), Path("results"))
    assert stream.getvalue() == (
        "grading 3 student(s), 2 at a time; each repository is fetched first\n"
        "progress: 0/3 done, cloned 1/3, 3 left, time to go not known yet\n"
        "[1/3] alice 285/900 (3.1 s)\n"
        "progress: 1/3 done, cloned 2/3, 2 left, about 2 min to go\n"
        "[2/3] bob error: clone failed: not found (0.2 s)\n"
        "[3/3] carol 900/900 (unchanged, skipped)\n"
        "graded 1, skipped 1, errors 1 of 3 student(s) in 12.3 s; results in results\n")


def test_progress_without_a_start_is_one_line_per_student() -> None:
    """The lines a log gets per student and at the end are exactly the documented ones."""
    stream = io.StringIO()
    progress = Progress(stream, total=3)
    for outcome in _outcomes():
        progress.finished(outcome)
    progress.summary(BatchSummary(tuple(_outcomes()), 12.34), Path("results"))
    assert stream.getvalue() == (
        "[1/3] alice 285/900 (3.1 s)\n"
        "[2/3] bob error: clone failed: not found (0.2 s)\n"
        "[3/3] carol 900/900 (unchanged, skipped)\n"
        "graded 1, skipped 1, errors 1 of 3 student(s) in 12.3 s; results in results\n")


def test_progress_on_a_terminal_is_one_status_line_from_the_start() -> None:
    """On a terminal one line, rewritten in place, shows from the start what is done, fetched and left and the
    time to go, with the last student; errors and the summary get lines of their own; a line never wraps."""
    stream, clock = _Terminal(), _Clock()
    progress = Progress(stream, total=3, clock=clock, width=200)
    progress.start(2, cloning=True)
    progress.tick()  # nothing changed, under a second: no redraw
    progress.clone_done()
    progress.tick()
    clock.now += 6.0
    progress.finished(_outcomes()[0])
    progress.finished(_outcomes()[1])
    clock.now += 1.0
    progress.tick()  # a second passed: the estimate is redrawn
    progress.finished(_outcomes()[2])
    progress.summary(BatchSummary(tuple(_outcomes()), 1.0), Path("r"))
    assert stream.getvalue() == (
        "grading 3 student(s), 2 at a time; each repository is fetched first\n"
        "\r\x1b[K[0/3] cloned 0/3, 3 left, time to go not known yet"
        "\r\x1b[K[0/3] cloned 1/3, 3 left, time to go not known yet"
        "\r\x1b[K[1/3] alice 285/900 (3.1 s) · cloned 1/3, 2 left, about 12 s to go"
        "\r\x1b[K[2/3] bob error: clone failed: not found (0.2 s)\n"
        "\r\x1b[K[2/3] alice 285/900 (3.1 s) · cloned 1/3, 1 left, about 3 s to go"
        "\r\x1b[K[2/3] alice 285/900 (3.1 s) · cloned 1/3, 1 left, about 4 s to go"
        "\r\x1b[K[3/3] carol 900/900 (unchanged, skipped) · cloned 1/3, 0 left"
        "\r\x1b[Kgraded 1, skipped 1, errors 1 of 3 student(s) in 1.0 s; results in r\n")
    narrow = _Terminal()
    Progress(narrow, total=3, width=20).start(1, cloning=True)
    assert narrow.getvalue().endswith("\r\x1b[K[0/3] cloned 0/3, …")  # 19 characters: no wrap at 20


def test_the_key_covers_contract_files_and_the_course_only(tmp_path: Path) -> None:
    """Files beside the contract file leave the key alone; a changed hidden test changes the course's identity."""
    manifest = load_manifest(ROOT).only(["01"])
    student = tmp_path / "student"
    write_module(student, SOLUTION)
    key = keys.contract_hash(student, manifest)
    (student / "conftest.py").write_text("x = 1\n")
    (student / "assignments" / "02").mkdir()
    assert keys.contract_hash(student, manifest) == key
    write_module(student, SOLUTION + "\n# edited\n")
    assert keys.contract_hash(student, manifest) != key

    hidden = tmp_path / "hidden"
    shutil.copytree(ROOT / "tests" / "01", hidden / "01")
    copied = course_fingerprint(manifest, CourseTests(ROOT, hidden))
    assert copied == course_fingerprint(manifest, course_tests(manifest, None))
    test_file = next((hidden / "01").glob("test_*.py"))
    test_file.write_text(test_file.read_text() + "\n# one more line\n")
    assert course_fingerprint(manifest, CourseTests(ROOT, hidden)) != copied
    assert course_fingerprint(load_manifest(ROOT).only(["01", "02"]), course_tests(manifest, None)) != copied


@pytest.mark.parametrize(("raw", "name"), [
    ("alice", "alice"), ("Zoë Q", "Zo__Q"), ("a.b-c_9", "a.b-c_9"), ("..", "_."), (".hidden", "_hidden"),
    ("-rf", "_rf"), ("../../etc", "_._.._etc"),
])
def test_student_names_are_made_file_safe(raw: str, name: str) -> None:
    """Names outside [A-Za-z0-9_.-] are sanitized; none can be hidden, an option, or leave its folder."""
    assert sanitize_name(raw) == name


@pytest.mark.parametrize(("url", "name"), [
    ("https://github.com/course/hw1-alice.git", "hw1-alice"), ("git@github.com:course/hw1-bob.git", "hw1-bob"),
    ("file:///srv/repos/carol/", "carol"), ("../repos/dave", "dave"),
])
def test_student_names_come_from_the_repository_name(url: str, name: str) -> None:
    """Without an explicit name, a roster entry is named after the repository."""
    assert name_from_url(url) == name


def test_credentials_never_reach_the_results(tmp_path: Path) -> None:
    """A token in a roster URL is left out of the recorded source."""
    roster = tmp_path / "roster.txt"
    roster.write_text("https://x-access-token:s3cret@github.com/course/hw1-alice.git\n")
    [source] = read_sources(roster, tmp_path / "out")
    assert source == Source("hw1-alice", "https://github.com/course/hw1-alice.git",
                            "https://x-access-token:s3cret@github.com/course/hw1-alice.git")
    assert git.git_reason("remote: nope\nfatal: repository 'https://u:s3cret@h/r/' not found\n") == (
        "repository 'https://h/r/' not found")


def _bad_input(case: str, tmp: Path) -> tuple[Path, Path]:
    """SUBMISSIONS and RESULTS for one kind of bad input."""
    roster, one = tmp / "roster.txt", tmp / "class" / "alice"
    write_module(one, SOLUTION)
    lines = {"empty roster": "# nobody yet\n\n", "three fields": "a b c\n",
             "same name twice": "x file:///srv/a\nX file:///srv/b\n",
             "misspelt scheme": f"{one.as_uri()}\nbob htps://github.com/course/hw-bob.git\n",
             "transport": "mallory ext::touch%S\n"}
    if case in lines:
        roster.write_text(lines[case], encoding="utf-8")
        return roster, tmp / "out"
    if case == "grades.csv given as the roster":
        (tmp / "grades.csv").write_text("student,01,total,status\nalice,100,100,graded\n", encoding="utf-8")
        return tmp / "grades.csv", tmp / "out"
    if case == "summary.json given as the roster":
        (tmp / "summary.json").write_text('{\n  "course": "x",\n  "students": []\n}\n', encoding="utf-8")
        return tmp / "summary.json", tmp / "out"
    if case == "no students":
        (tmp / "empty").mkdir()
        return tmp / "empty", tmp / "out"
    if case == "results is a file":
        (tmp / "out").write_text("")
        return tmp / "class", tmp / "out"
    if case == "one submission":
        return one, tmp / "out"
    return tmp / "missing", tmp / "out"


@pytest.mark.parametrize(("case", "message"), [
    ("missing", "do not exist"),
    ("empty roster", "lists no repositories"),
    ("three fields", "line 1: expected `URL` or `NAME URL`"),
    ("same name twice", "give them distinct names"),
    ("no students", "has no student folders"),
    ("results is a file", "is a file"),
    ("one submission", "looks like one submission"),
    ("misspelt scheme", "line 2: htps://github.com/course/hw-bob.git is not a URL git can clone: its scheme htps://"),
    ("transport", "line 1: ext::touch%S is not a URL git can clone here"),
    ("grades.csv given as the roster", "line 1: 'student,01,total,status' is neither a git URL, host:path nor an "
                                       "existing folder: is grades.csv a roster?"),
    ("summary.json given as the roster", "line 1: '{' is neither a git URL"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, case: str, message: str) -> None:
    """Unusable submissions, an empty or malformed roster, or an unwritable results folder: one line, exit 2."""
    submissions, out = _bad_input(case, tmp_path)
    done = run_grader("batch", str(submissions), "--out", str(out), "--assignment", "01")
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("error: "), done.stderr
    assert message in done.stderr
    assert not (tmp_path / "out" / "students").exists() and not (tmp_path / "out" / "checkouts").exists()


def test_clone_then_batch_cloned_grades_without_fetching(tmp_path: Path) -> None:
    """`clone` fetches the roster (the only step that needs its credentials); `batch --cloned` grades those
    checkouts with git never reaching a repository: here they are gone by then. A repository that could not be
    cloned is that student's error, never a 0."""
    alice = _repository(tmp_path / "repos" / "alice", SOLUTION)
    roster = tmp_path / "roster.txt"
    roster.write_text(f"{alice.as_uri()}\nghost {(tmp_path / 'repos' / 'ghost.git').as_uri()}\n", encoding="utf-8")
    out = tmp_path / "results"
    cloned = run_grader("clone", str(roster), "--out", str(out))
    assert cloned.returncode == 0, cloned.stderr
    sha = _git(alice, "rev-parse", "HEAD")
    assert cloned.stderr.splitlines()[0] == "cloning 2 repositories, 8 at a time"  # before the first clone ends
    assert cloned.stdout.splitlines()[0] == f"alice {sha[:12]}"
    assert cloned.stdout.splitlines()[1].startswith("ghost not cloned: clone failed: ")
    assert _last_line(cloned.stderr) == (f"cloned 1 of 2 repositories into {out / 'checkouts'}; 1 not cloned "
                                         "(batch --cloned records them as errors)")
    assert not (out / "students").exists()  # nothing graded
    (tmp_path / "repos").rename(tmp_path / "gone")  # a fetch would fail now
    done = batch_01(roster, out, "--cloned")
    assert _last_line(done.stderr).startswith("graded 1, skipped 0, errors 1 of 2 student(s) in ")
    records = batch_records(out)
    assert records["alice"]["key"].startswith(f"{sha}+") and records["alice"]["result"]["score"] == 100
    assert records["ghost"]["status"] == "error"
    assert records["ghost"]["message"].startswith("not cloned: no checkout of ")
    assert (out / "grades.csv").read_text() == (
        "student,01,total,status,not_started,attempted,flagged\nalice,100,100,graded,,,\nghost,,,error,,,\n")
    refused = run_grader("batch", str(tmp_path / "gone"), "--out", str(tmp_path / "other"), "--cloned")
    assert refused.returncode == 2 and "--cloned grades the checkouts of a roster" in refused.stderr
