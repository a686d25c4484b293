"""The grading pipeline: find, stage, run, score, and the result the reports render."""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from grader import score
from grader.catalog import Catalog, load_catalog
from grader.find import Found, find_submission
from grader.manifest import Manifest
from grader.model import AssignmentResult, GradeResult
from grader.pytest_options import command_args
from grader.redact import HiddenText, hidden_text
from grader.run import Job, Runner, open_runner
from grader.stage import CourseTests, Runtime, Stage, new_runtime, place


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

    def __init__(self, manifest: Manifest, tests: CourseTests, *, fork: bool = True) -> None:
        self.manifest = manifest
        self.tests = tests
        self._fork = fork
        self._exit = contextlib.ExitStack()

    def __enter__(self) -> Session:
        try:
            folder = Path(self._exit.enter_context(tempfile.TemporaryDirectory(prefix="grader-runtime-")))
            self.runtime: Runtime = new_runtime(folder, self.manifest)
            self.runner: Runner = self._exit.enter_context(open_runner(self.runtime, fork=self._fork))
            self.catalog: Catalog = load_catalog(self.manifest, self.tests, self.runtime, self.runner)
            self.hidden: HiddenText = hidden_text(self.manifest, self.tests)
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._exit.close()

    def grade(self, submission: Path, *, shuffle_seed: int | None = None, workers: int | None = None) -> GradeResult:
        """Grade every assignment of the manifest in the submission folder ``submission``."""
        started = time.monotonic()
        found = find_submission(submission, self.manifest)
        # Longest first (most tests first), so the last process to finish starts early.
        to_run = sorted((f for f in found if f.source is not None),
                        key=lambda f: -len(self.catalog[f.assignment.id]))
        with tempfile.TemporaryDirectory(prefix="grader-") as tmp:
            stage = Stage(Path(tmp), self.runtime)
            pool_size = workers or min(len(to_run), os.cpu_count() or 1) or 1
            with ThreadPoolExecutor(max_workers=pool_size) as pool:
                graded = dict(zip((f.assignment.id for f in to_run),
                                  pool.map(lambda f: self._grade_one(stage, f, shuffle_seed), to_run)))
        results = []
        for f in found:
            entries = self.catalog[f.assignment.id]
            results.append(graded.get(f.assignment.id) or score.missing(f.assignment, entries, f.problem))
        hidden = self.tests.hidden_root is not None
        return GradeResult(tuple(results), hidden_tests_included=hidden, duration=time.monotonic() - started)

    def _grade_one(self, stage: Stage, found: Found, shuffle_seed: int | None) -> AssignmentResult:
        assignment = found.assignment
        assert found.source is not None
        placed = place(stage, assignment, found.source, self.tests)
        args = [*command_args(shuffle_seed=shuffle_seed), "--grader-module", assignment.module_name,
                "--grader-network", assignment.network, str(placed.folder)]
        job = Job(stage, args, cwd=placed.folder, scratch=stage.scratch(assignment.id),
                  report=stage.root / f"{assignment.id}.jsonl", limits=self.manifest.limits)
        run = self.runner.run(job)
        entries = self.catalog[assignment.id]
        altered = placed.altered_tests()
        if altered:
            return score.tampered(assignment, entries, altered)
        return score.grade_run(assignment, entries, run, self.manifest.limits, self.hidden)


def grade(manifest: Manifest, submission: Path, tests: CourseTests, *, shuffle_seed: int | None = None,
          workers: int | None = None, session: Session | None = None) -> GradeResult:
    """Grade every assignment of ``manifest`` in ``submission``, in ``session`` or a session of its own."""
    if session is not None:
        return session.grade(submission, shuffle_seed=shuffle_seed, workers=workers)
    with Session(manifest, tests) as own:
        return own.grade(submission, shuffle_seed=shuffle_seed, workers=workers)
