"""The grading pipeline: find, stage, run, score, and the result the reports render."""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from grader import score
from grader.catalog import Catalog, Entry, load_catalog
from grader.find import Found, find_submission
from grader.manifest import Manifest
from grader.model import AssignmentResult, GradeResult
from grader.pytest_options import command_args
from grader.redact import HiddenText, hidden_text
from grader.run import Job, Runner, RunOutput, open_runner
from grader.stage import CourseTests, Runtime, Stage, new_runtime, place

MAX_RESUMES = 3  # new processes for the tests after one that ended its process
MIN_RUN_SECONDS = 1.0  # a run given less time than this is not started


class Stopped(Exception):
    """The session was stopped (an interrupted batch): what was under way has no trustworthy result."""


class OutOfTime(Exception):
    """The submission's time budget ran out before this assignment could be graded in full."""


def course_tests(manifest: Manifest, hidden_root: Path | None) -> CourseTests:
    """The course's tests; hidden ones from ``hidden_root``, else the course's own ``tests/`` if present."""
    if hidden_root is None:
        default = manifest.root / "tests"
        if any((default / a.id).is_dir() for a in manifest.assignments):
            hidden_root = default
    return CourseTests(manifest.root, hidden_root)


class Session:
    """Everything submissions share while they are graded: the runtime, the runner and the catalog.

    Open it once to grade many submissions (``check --repeat``, ``batch``):
    the fork server then starts once, not once per submission. Thread-safe:
    several submissions may be graded at once.
    """

    def __init__(self, manifest: Manifest, tests: CourseTests, *, fork: bool | None = None,
                 reuse_identical: bool = False, sandboxed: bool = False) -> None:
        self.manifest = manifest
        self.tests = tests
        # Inside bubblewrap (grader/sandbox.py): the command line decides, from --sandbox and course.toml.
        self.sandboxed = sandboxed
        # With reuse_identical, a module byte-for-byte identical to one already graded in this session
        # (same assignment, same order of tests) gets that result: a class hands in many untouched stubs.
        self._results: dict[tuple[str, str, int | None], AssignmentResult] | None = {} if reuse_identical else None
        self.reused = 0
        # GRADER_FORK=0 spawns every run afresh: slower, for comparison or where fork() misbehaves.
        self._fork = fork if fork is not None else os.environ.get("GRADER_FORK", "1") != "0"
        self._exit = contextlib.ExitStack()
        self._stopping = threading.Event()
        # Graded code may not read the course (reference solutions) nor the hidden tests, wherever they are.
        secrets = [tests.course_root, *([tests.hidden_root] if tests.hidden_root else [])]
        self._secret_args = [arg for folder in secrets for arg in ("--grader-secret", str(folder.resolve()))]

    def __enter__(self) -> Session:
        try:
            folder = Path(self._exit.enter_context(tempfile.TemporaryDirectory(prefix="grader-runtime-")))
            self.runtime: Runtime = new_runtime(folder, self.manifest)
            # Every submission's stage is made in here, and nothing else: in a sandbox one fork server sees this
            # folder, and each run hides every stage but its own.
            self._stages = Path(self._exit.enter_context(tempfile.TemporaryDirectory(prefix="grader-stages-")))
            self.runner: Runner = self._exit.enter_context(open_runner(self.runtime, fork=self._fork,
                                                                         sandboxed=self.sandboxed,
                                                                         stages=self._stages))
            self.catalog: Catalog = load_catalog(self.manifest, self.tests, self.runtime, self.runner)
            self.hidden: HiddenText = hidden_text(self.manifest, self.tests)
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._exit.close()

    def stop(self) -> None:
        """Start no run from now on: grading under way raises Stopped instead of returning a result."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        """Whether stop() was called."""
        return self._stopping.is_set()

    def grade(self, submission: Path, *, shuffle_seed: int | None = None, workers: int | None = None) -> GradeResult:
        """Grade every assignment of the manifest in the submission folder ``submission``."""
        result, _ = self.grade_within(submission, None, shuffle_seed=shuffle_seed, workers=workers)
        return result

    def grade_within(self, submission: Path, deadline: float | None, *, shuffle_seed: int | None = None,
                     workers: int | None = None) -> tuple[GradeResult, dict[str, str]]:
        """Grade ``submission`` until ``deadline`` (``time.monotonic()``; None: no limit).

        Returns the result and, by assignment id, why an assignment was not
        graded: the time ran out before it started, or cut its run short.
        Such an assignment is listed with its maximum, status "error", 0
        points and that reason; the caller must not count it as a score.
        Raises Stopped when the session is stopped meanwhile.
        """
        started = time.monotonic()
        found = find_submission(submission, self.manifest)
        # Longest first (most tests first), so the last process to finish starts early.
        to_run = sorted((f for f in found if f.source is not None),
                        key=lambda f: -len(self.catalog[f.assignment.id]))
        not_graded: dict[str, str] = {}

        def one(f: Found) -> AssignmentResult:
            try:
                return self._grade_or_reuse(stage, f, shuffle_seed, deadline)
            except OutOfTime as exc:
                not_graded[f.assignment.id] = str(exc)
                return score.missing(f.assignment, self.catalog[f.assignment.id], f"not graded: {exc}")

        with tempfile.TemporaryDirectory(prefix="grader-", dir=self._stages) as tmp:
            stage = Stage(Path(tmp), self.runtime)
            pool_size = workers or min(len(to_run), os.cpu_count() or 1) or 1
            with ThreadPoolExecutor(max_workers=pool_size) as pool:
                graded = dict(zip((f.assignment.id for f in to_run), pool.map(one, to_run)))
        if self.stopping:
            raise Stopped("the grading session was stopped")
        results = []
        for f in found:
            entries = self.catalog[f.assignment.id]
            results.append(graded.get(f.assignment.id) or score.missing(f.assignment, entries, f.problem, f.hint))
        hidden = self.tests.hidden_root is not None
        result = GradeResult(tuple(results), hidden_tests_included=hidden, duration=time.monotonic() - started,
                             sandboxed=self.sandboxed)
        return result, not_graded

    def _grade_or_reuse(self, stage: Stage, found: Found, shuffle_seed: int | None,
                        deadline: float | None) -> AssignmentResult:
        assert found.source is not None
        if self._results is None:
            return self._grade_one(stage, found, shuffle_seed, deadline)
        key = (found.assignment.id, hashlib.sha256(found.source).hexdigest(), shuffle_seed)
        earlier = self._results.get(key)
        if earlier is not None:
            self.reused += 1
            return earlier
        result = self._grade_one(stage, found, shuffle_seed, deadline)
        self._results[key] = result
        return result

    def _grade_one(self, stage: Stage, found: Found, shuffle_seed: int | None,
                   deadline: float | None) -> AssignmentResult:
        assignment = found.assignment
        assert found.source is not None
        placed = place(stage, assignment, found.source, self.tests)
        entries = self.catalog[assignment.id]
        args = [*command_args(shuffle_seed=shuffle_seed, judged=assignment.judged),
                "--grader-module", assignment.module_name, "--grader-network", assignment.network, *self._secret_args]
        student = None
        if assignment.judged:
            student = {"module_file": str(placed.folder / assignment.module), "stage_root": str(stage.root),
                       "policy": {"path": str(placed.folder), "tests": [str(p) for p in sorted(placed.folder.glob("test_*.py"))],
                                  "loopback": assignment.network == "loopback",
                                  "secret_dirs": self._secret_args[1::2]}}
        runs = self._run_resuming(stage, assignment.id, placed.folder, args, entries, deadline, assignment.network,
                                  student)
        altered = placed.altered_tests()
        if altered:
            return score.tampered(assignment, entries, altered)
        return score.grade_run(assignment, entries, runs, self.manifest.limits, self.hidden)

    def _run_resuming(self, stage: Stage, name: str, folder: Path, args: list[str], entries: list[Entry],
                      deadline: float | None = None, network: str = "none",
                      student: dict[str, Any] | None = None) -> list[RunOutput]:
        """Run an assignment's tests; when the code ends a process early, the tests it never started again.

        An exit, a crash or a test that would not stop costs only the tests
        that process started: the rest run in a new one, within the same
        wall-time budget, at most MAX_RESUMES more times. Before ``deadline``
        (the submission's budget) leaves the whole budget, OutOfTime: a run
        cut short by the submission's budget, not the assignment's, says
        nothing about the code, so it is not scored.
        """
        runs: list[RunOutput] = []
        reported: set[str] = set()
        limits = self.manifest.limits
        for attempt in range(MAX_RESUMES + 1):
            if self.stopping:
                raise Stopped("the grading session was stopped")
            budget = limits.assignment_timeout - sum(run.duration for run in runs)
            if budget < MIN_RUN_SECONDS:
                break
            capped = False
            if deadline is not None:
                left = deadline - time.monotonic()
                if left < MIN_RUN_SECONDS:
                    raise OutOfTime(_out_of_time(runs))
                capped, budget = left < budget, min(budget, left)
            skip = [arg for nodeid in sorted(reported) for arg in ("--deselect", nodeid)]
            run_name = f"{name}-{attempt}"
            scratch = stage.scratch(run_name)
            run_limits = replace(limits, assignment_timeout=budget)
            student_spec = None if student is None else {**student, "scratch": str(scratch),
                                                         "disk": run_limits.disk_mb * 1024 * 1024}
            runs.append(self.runner.run(Job(stage, [*args, *skip, str(folder)], cwd=folder, scratch=scratch,
                                            report=stage.root / f"{run_name}.jsonl", limits=run_limits,
                                            network=network, student=student_spec)))
            if self.stopping:
                raise Stopped("the grading session was stopped")
            if capped and runs[-1].killed:
                raise OutOfTime(_out_of_time(runs))
            newly_started = score.started_in(runs[-1]) - reported
            reported |= newly_started
            if not newly_started or not score.needs_resume(runs[-1], entries, reported):
                break  # done, or no progress: running it again would end the same way
        return runs


def _out_of_time(runs: list[RunOutput]) -> str:
    if runs:
        return "the submission's time budget ran out while this assignment's tests were running"
    return "the submission's time budget ran out before this assignment's turn"


def grade(manifest: Manifest, submission: Path, tests: CourseTests, *, shuffle_seed: int | None = None,
          workers: int | None = None, session: Session | None = None, sandboxed: bool = False) -> GradeResult:
    """Grade every assignment of ``manifest`` in ``submission``, in ``session`` or a session of its own."""
    if session is not None:
        return session.grade(submission, shuffle_seed=shuffle_seed, workers=workers)
    with Session(manifest, tests, sandboxed=sandboxed) as own:
        return own.grade(submission, shuffle_seed=shuffle_seed, workers=workers)


def grade_within(manifest: Manifest, submission: Path, tests: CourseTests, *, deadline: float | None,
                 workers: int | None = None,
                 session: Session | None = None) -> tuple[GradeResult, dict[str, str]]:
    """Like grade(), until ``deadline``; also, by assignment id, why an assignment was not graded in time."""
    if session is not None:
        return session.grade_within(submission, deadline, workers=workers)
    with Session(manifest, tests) as own:
        return own.grade_within(submission, deadline, workers=workers)
