"""A class graded in slices (``batch --shard K/N``, one per machine) and merged (``merge``) is the class graded once."""
from __future__ import annotations

import io
import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from repo_support import own_key  # noqa: F401 - an autouse fixture
from repo_support import (
    ROOT, batch_01, batch_records, run_grader, solution_source, write_module,
)

from grader.instructor import batch
from grader.instructor.roster import Source, read_sources
from grader.instructor.shards import Shard, merge_results, parse_shard, shard_of
from grader.errors import UsageError
from grader.manifest import load_manifest
from grader.model import AssignmentResult, GradeResult
from grader.pipeline import course_tests
from grader.records import load_key
from grader.stage import CourseTests

SOLUTION = solution_source("01")
STUB = (ROOT / "assignments" / "01" / "why_async.py").read_text(encoding="utf-8")
NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar"]


def _without_times(record: dict[str, Any]) -> dict[str, Any]:
    """A record less what differs between two gradings of one submission: when, and so its seal."""
    return {k: v for k, v in record.items() if k not in ("graded_at", "seal")}


def _summary(out: Path) -> dict[str, Any]:
    data = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    del data["generated_at"]
    return data


def test_the_slices_partition_the_class_and_never_move_a_student_when_the_roster_changes() -> None:
    """Every student is in exactly one slice of N; reordering the roster or adding and removing others moves nobody."""
    names = [f"student{i}" for i in range(300)]
    for count in (1, 2, 3, 7, 20):
        slices = [Shard(k, count) for k in range(1, count + 1)]
        assert all(sum(s.holds(name) for s in slices) == 1 for name in names)
        assert all(any(s.holds(name) for name in names) for s in slices)  # 300 names fill 20 slices
        before = {name: shard_of(name, count) for name in names}
        changed = [*names[50:], "newcomer", "another"]
        random.Random(count).shuffle(changed)
        assert {name: shard_of(name, count) for name in changed if name in before} == \
            {name: before[name] for name in changed if name in before}
    # Names differing in case are one file on some disks, and so one student: one slice too.
    assert shard_of("Alice", 7) == shard_of("alice", 7)


@pytest.mark.parametrize(("text", "reason"), [
    ("0/3", "the slice must be 1 to 3, got 0"), ("4/3", "the slice must be 1 to 3, got 4"),
    ("1/0", "the number of slices must be 1 to 256, got 0"), ("3", "expected K/N"), ("a/b", "expected K/N"),
])
def test_a_bad_shard_is_one_line_and_exit_2(tmp_path: Path, text: str, reason: str) -> None:
    """`--shard` says what is wrong with it, on one line, before anything is read or graded."""
    assert parse_shard(" 2 / 3 ") == Shard(2, 3)
    done = run_grader("batch", str(tmp_path), "--out", str(tmp_path / "out"), "--shard", text)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("error: argument --shard: ") and reason in done.stderr


def _fake_grade(manifest: object, submission: Path, tests: CourseTests, *, deadline: float | None,
                workers: int | None = None, session: object = None) -> tuple[GradeResult, dict[str, str]]:
    """A score from the student's name; one partial (time budget) and one internal fault, as real batches have."""
    name = submission.name
    if name == "frank":
        raise RuntimeError("boom")
    score = float(sum(map(ord, name)) % 101)
    result = GradeResult((AssignmentResult("01", "Why asynchronous?", score, 100.0, "graded", "fake"),), True)
    return result, ({"01": "the time budget ran out"} if name == "grace" else {})


@pytest.fixture(scope="module")
def graded_once(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One class graded whole, and the same class graded in three slices, each in a folder of its own (once: a
    batch starts a session, about a second)."""
    tmp = tmp_path_factory.mktemp("graded")
    key = load_key(tmp_path_factory.mktemp("key") / "results.key")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batch, "grade_within", _fake_grade)
        # The grader's own source is part of every key; pinned here so an edit to it mid-test changes nothing.
        patch.setattr(batch, "identity", lambda manifest, tests: "0123456789abcdef")
        for name in NAMES:
            write_module(tmp / "class" / name, SOLUTION)
        manifest = load_manifest(ROOT).only(["01"])
        tests = course_tests(manifest, None)
        sources = read_sources(tmp / "class", None)
        whole = tmp / "whole"
        batch.run_batch(manifest, sources, whole, workers=2, tests=tests, stream=io.StringIO(), budget=300.0, key=key)
        parts = []
        for k in (1, 2, 3):
            shard = Shard(k, 3)
            part = tmp / f"part{k}"
            batch.run_batch(manifest, shard.select(sources), part, workers=2, tests=tests, stream=io.StringIO(),
                            budget=300.0, key=key, shard=shard)
            parts.append(part)
    return {"manifest": manifest, "sources": sources, "whole": whole, "parts": parts, "key": key}


@pytest.fixture
def graded(graded_once: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """A copy of the graded slices the test may spoil."""
    parts = []
    for part in graded_once["parts"]:
        shutil.copytree(part, tmp_path / part.name)
        parts.append(tmp_path / part.name)
    return {**graded_once, "parts": parts, "tmp": tmp_path}


def test_merged_slices_equal_the_class_graded_whole(graded: dict[str, Any]) -> None:
    """The merge of three slices has the same records (but when each was graded), the same grades.csv byte for
    byte and the same summary.json (but when it was written) as one batch of the whole class."""
    merged = graded["tmp"] / "merged"
    count = merge_results(graded["manifest"], graded["sources"], graded["parts"], merged, graded["key"])
    assert count == len(NAMES)
    assert all(json.loads((part / "summary.json").read_text())["shard"] == f"{k}/3"
               for k, part in enumerate(graded["parts"], start=1))
    assert all(json.loads((p / "summary.json").read_text())["students"] for p in graded["parts"])  # none empty
    whole, parts = batch_records(graded["whole"]), batch_records(merged)
    assert {n: _without_times(r) for n, r in parts.items()} == {n: _without_times(r) for n, r in whole.items()}
    assert {r["status"] for r in whole.values()} == {"graded", "partial", "error"}
    assert (merged / "grades.csv").read_bytes() == (graded["whole"] / "grades.csv").read_bytes()
    assert _summary(merged) == _summary(graded["whole"]) and "shard" not in _summary(merged)
    # The merged folder holds each slice's sealed file as it was: a later batch or the dashboard trusts it.
    for name in NAMES:
        [part] = [p for p in graded["parts"] if (p / "students" / f"{name}.json").exists()]
        assert (merged / "students" / f"{name}.json").read_bytes() == (part / "students" / f"{name}.json").read_bytes()


def test_a_slice_keeps_the_unchanged_results_of_the_last_merged_run(graded: dict[str, Any],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`batch --previous MERGED` (a shard job, with the last run's merged folder from the cache): a student whose
    sealed record there is complete and for this very submission is kept, copied as it was; an error or partial
    record, a forged one, or a changed submission is graded again; whatever the slices were last time."""
    merged = graded["tmp"] / "merged"
    merge_results(graded["manifest"], graded["sources"], graded["parts"], merged, graded["key"])
    forged = json.loads((merged / "students" / "alice.json").read_text())
    forged["result"]["assignments"][0]["score"] = 100.0
    (merged / "students" / "alice.json").write_text(json.dumps(forged))
    write_module(Path(next(s.location for s in graded["sources"] if s.student == "bob")), SOLUTION + "# changed\n")
    graded_now: list[str] = []

    def counting(manifest: object, submission: Path, tests: CourseTests, **kwargs: Any) -> Any:
        graded_now.append(submission.name)
        return _fake_grade(manifest, submission, tests, **kwargs)

    monkeypatch.setattr(batch, "grade_within", counting)
    monkeypatch.setattr(batch, "identity", lambda manifest, tests: "0123456789abcdef")
    out = graded["tmp"] / "again"
    shard = Shard(1, 1)  # another number of slices than last time: one
    summary = batch.run_batch(graded["manifest"], graded["sources"], out, workers=2, tests=course_tests(
        graded["manifest"], None), stream=io.StringIO(), budget=300.0, key=graded["key"], shard=shard,
        previous=merged)
    assert sorted(graded_now) == ["alice", "bob", "frank", "grace"]  # forged, changed, error, partial
    assert summary.skipped == len(NAMES) - 4
    for name in set(NAMES) - set(graded_now):
        assert (out / "students" / f"{name}.json").read_bytes() == (merged / "students" / f"{name}.json").read_bytes()
    assert batch_records(out)["alice"]["result"]["score"] == batch_records(graded["whole"])["alice"]["result"]["score"]


def _forge(parts: list[Path]) -> None:
    path = next(p for part in parts for p in (part / "students").glob("*.json"))
    record = json.loads(path.read_text())
    record["result"]["score"] = 100  # the seal is left as it was
    path.write_text(json.dumps(record))


def _stale_copy(parts: list[Path]) -> None:
    """A student's record also in another slice's summary: two slices claim one student."""
    source = json.loads((parts[0] / "summary.json").read_text())
    target = json.loads((parts[1] / "summary.json").read_text())
    target["students"].append(source["students"][0])
    (parts[1] / "summary.json").write_text(json.dumps(target))


@pytest.mark.parametrize(("case", "reason"), [
    ("a forged record", "sealed with another key than"),
    ("a missing slice", "shard(s) 3/3 missing: give the results of every shard"),
    ("a slice twice", "a results folder is given twice"),
    ("a student in two slices", "is in two results folders"),
    ("another course", "holds results of 'Another course'"),
    ("an unfinished slice", "did that shard fail?"),
    ("a folder that is not empty", "is not an empty or new folder"),
    ("a student not on the roster", "1 student(s) of the roster in no results folder"),
])
def test_a_merge_that_would_not_be_the_class_is_refused(graded: dict[str, Any], case: str, reason: str) -> None:
    """Merge writes nothing unless every student of the roster is in exactly one slice with a record whose seal
    verifies, the slices are the N of one N, and all grade this course."""
    parts, merged, sources = list(graded["parts"]), graded["tmp"] / "merged", graded["sources"]
    if case == "a forged record":
        _forge(parts)
    elif case == "a missing slice":
        parts = parts[:2]
    elif case == "a slice twice":
        parts = [*parts, parts[0]]
    elif case == "a student in two slices":
        _stale_copy(parts)
    elif case == "another course":
        data = json.loads((parts[2] / "summary.json").read_text())
        (parts[2] / "summary.json").write_text(json.dumps({**data, "course": "Another course"}))
    elif case == "an unfinished slice":
        (parts[1] / "summary.json").unlink()
    elif case == "a folder that is not empty":
        merged.mkdir()
        (merged / "stale.json").write_text("{}")
    elif case == "a student not on the roster":
        sources = [*sources, Source("zed", "/nowhere")]
    with pytest.raises(UsageError) as refused:
        merge_results(graded["manifest"], sources, parts, merged, graded["key"])
    assert reason in str(refused.value)
    assert not (merged / "summary.json").exists() and not (merged / "students").exists()


def _git(repository: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.org", *args],
                          cwd=repository, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_shards_plans_a_matrix_for_the_roster(tmp_path: Path) -> None:
    """`shards` prints the matrix a workflow runs: slices from the roster's size, or as many as asked."""
    roster = tmp_path / "roster.txt"
    roster.write_text("".join(f"{n} https://example.org/{n}.git\n" for n in NAMES), encoding="utf-8")
    by_size = run_grader("shards", str(roster), "--per-shard", "5")
    assert by_size.returncode == 0, by_size.stderr
    assert json.loads(by_size.stdout) == [{"shard": f"{k}/3", "slug": f"{k}of3"} for k in (1, 2, 3)]
    assert by_size.stderr == "12 student(s) in 3 shard(s)\n"
    assert json.loads(run_grader("shards", str(roster), "--shards", "2").stdout)[1] == {"shard": "2/2", "slug": "2of2"}
    assert len(json.loads(run_grader("shards", str(roster), "--per-shard", "1", "--max-shards", "4").stdout)) == 4


@pytest.mark.slow
def test_a_roster_cloned_graded_and_merged_in_slices_equals_one_batch(tmp_path: Path) -> None:
    """Through the command line, as grade-class.yml runs it: each slice clones only its students (`clone --shard`),
    grades them (`batch --cloned --shard`), then `merge` joins the slices; the result is one plain batch's, and the
    dashboard reads it. A slice the hash leaves empty is a finished slice, not an error. The next run, in another
    number of slices with the merged folder as `--previous`, grades nobody and merges to the same files."""
    repos = tmp_path / "repos"
    lines = []
    for i, name in enumerate(NAMES[:6]):
        write_module(repos / name, SOLUTION if i % 2 else STUB)
        _git(repos / name, "init", "-q")
        _git(repos / name, "add", "-A")
        _git(repos / name, "commit", "-q", "-m", "submission")
        lines.append(f"{name} {(repos / name).as_uri()}\n")
    roster = tmp_path / "roster.txt"
    roster.write_text("".join(lines), encoding="utf-8")
    whole = tmp_path / "whole"
    batch_01(roster, whole)
    count = 5
    assert any(not any(shard_of(n, count) == k for n in NAMES[:6]) for k in range(1, count + 1)), \
        "the test wants an empty slice: pick another count"
    parts = []
    for k in range(1, count + 1):
        part = tmp_path / f"part{k}"
        cloned = run_grader("clone", str(roster), "--out", str(part), "--shard", f"{k}/{count}")
        assert cloned.returncode == 0, cloned.stderr
        mine = [n for n in NAMES[:6] if shard_of(n, count) == k]
        assert sorted(line.split()[0] for line in cloned.stdout.splitlines()) == sorted(mine)
        graded = batch_01(roster, part, "--cloned", "--shard", f"{k}/{count}")
        assert graded.stderr.splitlines()[0] == f"shard {k}/{count}: {len(mine)} of the 6 student(s)"
        parts.append(part)
    merged = tmp_path / "merged"
    done = run_grader("merge", str(roster), *map(str, parts), "--out", str(merged), "--assignment", "01")
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"merged 6 student(s) from {count} results folder(s) into {merged}\n"
    # Keys end with the grader's identity, a hash of its source: compared apart, so that an edit to grader/ made
    # while this test runs (a developer's) fails nothing here.
    merged_records, whole_records = batch_records(merged), batch_records(whole)
    assert {n: {**_without_times(r), "key": r["key"].split("+")[0]} for n, r in merged_records.items()} == \
        {n: {**_without_times(r), "key": r["key"].split("+")[0]} for n, r in whole_records.items()}
    assert (merged / "grades.csv").read_bytes() == (whole / "grades.csv").read_bytes()
    assert _summary(merged) == _summary(whole)
    site = run_grader("dashboard", str(merged), "--out", str(tmp_path / "site"))
    assert site.returncode == 0, site.stderr

    # The next run, in two slices this time, each given the merged folder (the workflow's cache): nobody changed,
    # so nobody is graded, and the new merge is the old one.
    again = []
    for k in (1, 2):
        part = tmp_path / f"again{k}"
        assert run_grader("clone", str(roster), "--out", str(part), "--shard", f"{k}/2").returncode == 0
        done = batch_01(roster, part, "--cloned", "--shard", f"{k}/2", "--previous", str(merged))
        assert done.stderr.strip().splitlines()[-1].startswith("graded 0, skipped "), done.stderr
        again.append(part)
    merged_again = tmp_path / "merged-again"
    done = run_grader("merge", str(roster), *map(str, again), "--out", str(merged_again), "--assignment", "01")
    assert done.returncode == 0, done.stderr
    assert {p.name: p.read_bytes() for p in (merged_again / "students").iterdir()} == \
        {p.name: p.read_bytes() for p in (merged / "students").iterdir()}
    assert (merged_again / "grades.csv").read_bytes() == (merged / "grades.csv").read_bytes()
