"""The grading pipeline: find, stage, run, score, and the result the reports render."""
from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from grader import score
from grader.catalog import Catalog, load_catalog
from grader.find import Found, find_submission
from grader.manifest import Manifest
from grader.model import AssignmentResult, GradeResult
from grader.pytest_options import command_args
from grader.run import run_pytest
from grader.stage import CourseTests, Stage, new_stage, place


def course_tests(manifest: Manifest, hidden_root: Path | None) -> CourseTests:
    """The course's tests; hidden ones from ``hidden_root``, else the course's own ``tests/`` if present."""
    if hidden_root is None:
        default = manifest.root / "tests"
        if any((default / a.id).is_dir() for a in manifest.assignments):
            hidden_root = default
    return CourseTests(manifest.root, hidden_root)


def grade(manifest: Manifest, submission: Path, tests: CourseTests, *,
          shuffle_seed: int | None = None, workers: int | None = None) -> GradeResult:
    """Grade every assignment of ``manifest`` in the submission folder ``submission``."""
    started = time.monotonic()
    found = find_submission(submission, manifest)
    catalog = load_catalog(manifest, tests)
    with tempfile.TemporaryDirectory(prefix="grader-") as tmp:
        stage = new_stage(Path(tmp), manifest)
        to_run = [f for f in found if f.source is not None]
        pool_size = workers or min(len(to_run), os.cpu_count() or 1) or 1
        with ThreadPoolExecutor(max_workers=pool_size) as pool:
            graded = dict(zip((f.assignment.id for f in to_run),
                              pool.map(lambda f: _grade_one(stage, f, catalog, tests, manifest, shuffle_seed), to_run)))
    results = []
    for f in found:
        entries = catalog[f.assignment.id]
        results.append(graded.get(f.assignment.id) or score.missing(f.assignment, entries, f.problem))
    hidden = tests.hidden_root is not None
    return GradeResult(tuple(results), hidden_tests_included=hidden, duration=time.monotonic() - started)


def _grade_one(stage: Stage, found: Found, catalog: Catalog, tests: CourseTests,
               manifest: Manifest, shuffle_seed: int | None) -> AssignmentResult:
    assignment = found.assignment
    assert found.source is not None
    folder = place(stage, assignment, found.source, tests)
    args = [*command_args(shuffle_seed=shuffle_seed), "--grader-module", assignment.module_name, str(folder)]
    run = run_pytest(stage, args, cwd=folder, limits=manifest.limits, report=stage.root / f"{assignment.id}.jsonl")
    return score.grade_run(assignment, catalog[assignment.id], run, manifest.limits)
