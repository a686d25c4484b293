"""The two ways a graded run starts (forked from the fork server, or spawned) give the same results."""
from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from repo_support import ROOT

from grader import sandbox, score
from grader.manifest import load_manifest
from grader.pipeline import Session, course_tests
from grader.pytest_options import command_args
from grader.run import MAX_REPORT_BYTES, Job, RunOutput, open_runner
from grader.stage import CourseTests, Placed, Runtime, Stage, new_runtime, place

# 03 starts fresh interpreters from its tests; 08 runs a real server on loopback.
MANIFEST = load_manifest(ROOT).only(["03", "08"])


def _scores(session: Session, submission: Path) -> dict[str, tuple[float, str]]:
    return {a.id: (a.score, a.status) for a in session.grade(submission).assignments}


@pytest.mark.parametrize("sandboxed", [False, pytest.param(True, marks=pytest.mark.skipif(
    sandbox.unavailable() is not None, reason=str(sandbox.unavailable())))], ids=["", "sandboxed"])
@pytest.mark.parametrize("fork", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["forked", "spawned"])
def test_both_ways_grade_alike(fork: bool, sandboxed: bool) -> None:
    """Forked and spawned runs, in the sandbox or not, score the reference solutions 100 and the stubs 0."""
    with Session(MANIFEST, course_tests(MANIFEST, None), fork=fork, sandboxed=sandboxed) as session:
        assert session.runner.mode == ("fork" if fork else "spawn")  # type: ignore[attr-defined]
        assert session.runner.sandboxed == sandboxed  # type: ignore[attr-defined]
        assert _scores(session, ROOT / "solutions") == {"03": (100, "graded"), "08": (100, "graded")}
        assert _scores(session, ROOT / "assignments") == {"03": (0, "graded"), "08": (0, "graded")}


@pytest.mark.slow
def test_without_a_seed_both_ways_run_the_tests_in_one_order() -> None:
    """No plugin acts unasked: without a shuffle seed, every run, forked or spawned, starts the tests in one order.

    With a seed, both shuffle.
    """
    manifest = load_manifest(ROOT).only(["01"])
    orders = []
    sizes = set()
    for fork in (True, False):
        with Session(manifest, course_tests(manifest, None), fork=fork) as session:
            run = session.runner.run

            def recording(job: Job, run: Callable[[Job], RunOutput] = run) -> RunOutput:
                output = run(job)
                orders.append([r["nodeid"] for r in output.records if r.get("kind") == "start"])
                return output

            session.runner.run = recording  # type: ignore[method-assign]
            sizes.add(len(session.catalog["01"]))
            for _ in range(3):
                session.grade(ROOT / "solutions")
            session.grade(ROOT / "solutions", shuffle_seed=7)  # asked for: pytest-randomly shuffles
    unseeded = [order for index, order in enumerate(orders) if index % 4 != 3]
    assert len(unseeded) == 6 and {len(unseeded[0])} == sizes
    assert all(order == unseeded[0] for order in unseeded)
    assert orders[3] != unseeded[0] and orders[7] != unseeded[0] and sorted(orders[3]) == sorted(unseeded[0])


@pytest.mark.slow  # several seconds: dev.py check runs it
def test_a_dead_fork_server_falls_back_to_spawning() -> None:
    """If the fork server dies, the session goes on by spawning, and no result is lost."""
    with Session(MANIFEST, course_tests(MANIFEST, None)) as session:
        server = session.runner._server  # type: ignore[attr-defined]
        assert server is not None
        os.kill(server._process.pid, signal.SIGKILL)
        server._process.wait()
        assert _scores(session, ROOT / "solutions") == {"03": (100, "graded"), "08": (100, "graded")}
        assert session.runner.mode == "spawn"  # type: ignore[attr-defined]


def test_changed_removed_or_added_test_files_are_noticed(tmp_path: Path) -> None:
    """The parent's own check of the staged tests: any change to them after staging is reported."""
    manifest = load_manifest(ROOT).only(["01"])
    [assignment] = manifest.assignments
    stage = Stage(tmp_path / "stage", new_runtime(tmp_path / "runtime", manifest))
    stage.root.mkdir()
    placed: Placed = place(stage, assignment, b"", CourseTests(ROOT, ROOT / "tests"))
    assert placed.altered_tests() == []
    hidden = placed.folder / "test_hidden_why_async.py"
    hidden.chmod(0o644)
    hidden.write_text("def test_nothing(): pass\n")
    (placed.folder / "test_why_async.py").unlink()
    (placed.folder / "test_extra.py").write_text("")
    assert placed.altered_tests() == ["test_extra.py", "test_hidden_why_async.py", "test_why_async.py"]
    assert isinstance(stage.runtime, Runtime)


def _earned(result: Any) -> list[tuple[str, float, list[tuple[str, str]]]]:
    return [(a.id, a.score, [(t.name, t.outcome) for t in a.tests]) for a in result.assignments]


@pytest.mark.slow  # several seconds: dev.py check runs it
def test_identical_files_are_graded_once_when_asked(tmp_path: Path) -> None:
    """With reuse_identical (batch's default), a byte-identical module gets the earlier result; without, it runs."""
    manifest = load_manifest(ROOT).only(["01", "02"])
    for student in ("ann", "bob"):
        for a in manifest.assignments:
            module = tmp_path / student / "assignments" / a.id / a.module
            module.parent.mkdir(parents=True)
            source = ROOT / ("solutions" if a.id == "01" else "assignments") / a.id / a.module
            module.write_bytes(source.read_bytes())
    for reuse, expected in ((True, 2), (False, 0)):
        with Session(manifest, course_tests(manifest, None), reuse_identical=reuse) as session:
            ann, bob = session.grade(tmp_path / "ann"), session.grade(tmp_path / "bob")
            assert session.reused == expected
        # Each run draws its own inputs (judged tests vary them per run), so feedback may quote other values;
        # what was earned is the same.
        assert _earned(ann) == _earned(bob)
        assert [a.score for a in bob.assignments] == [100, 0]


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "spawned"])
def test_a_report_padded_past_its_cap_ends_the_run(tmp_path: Path, fork: bool) -> None:
    """The report is a pipe the grader reads, not a file: code that writes into it without end is stopped at
    MAX_REPORT_BYTES, and the student reads why."""
    manifest = load_manifest(ROOT).only(["01"])
    stage = Stage(tmp_path / "stage", new_runtime(tmp_path / "runtime", manifest))
    stage.root.mkdir()
    folder = stage.root / "01"
    folder.mkdir()
    (folder / "test_flood.py").write_text(
        "def test_flood(pytestconfig):\n"
        "    with open(pytestconfig.getoption('grader_report'), 'a') as report:\n"
        "        while True:\n"
        "            report.write('{\"kind\": \"padding\"}\\n' * 4096)\n")
    job = Job(stage, [*command_args(shuffle_seed=None), str(folder)], cwd=folder, scratch=stage.scratch("flood"),
              report=stage.root / "flood.jsonl", limits=manifest.limits)
    with open_runner(stage.runtime, fork=fork) as runner:
        output = runner.run(job)
    assert output.report_exceeded and not output.killed and output.returncode == -9
    end = score.process_end(output, manifest.limits, complete=False)
    assert end is not None and end.message.startswith(
        f"your code wrote more than {MAX_REPORT_BYTES // 2**20} MB into the grader's record of this run's outcomes")
    assert sorted(p.name for p in stage.root.iterdir()) == ["01", "scratch-flood"]  # no report file, no pipe
