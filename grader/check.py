"""The course's integrity: what ``python -m grader check`` proves before anything is published."""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from coursekit.test_texts import catalog_problems
from grader import stubs
from grader.manifest import Manifest
from grader.pipeline import Session, course_tests

EXPECTED_POINTS = 100


def check_course(manifest: Manifest, *, hidden_root: Path | None = None, repeat: int = 1,
                 log: Callable[[str], None] = print, sandboxed: bool = False) -> list[str]:
    """Every problem found, as one line each; an empty list means the course is sound.

    The solutions must earn full marks on every run (``repeat`` runs, each in a
    different random order), the stubs nothing, the stubs must match the
    solutions, and every assignment needs public and hidden tests whose points
    add up to the assignment's points, each with feedback text. Every text a
    student reads has its Chinese, in step with the tests
    (coursekit.test_texts.catalog_problems). ``sandboxed``
    grades inside bubblewrap (grader/sandbox.py).
    """
    problems = [f"stale stub: {p.relative_to(manifest.root)}" for p in stubs.stale_stubs(manifest)]
    problems += [f"translation: {line}" for line in catalog_problems(manifest.root)]
    tests = course_tests(manifest, hidden_root)
    with Session(manifest, tests, sandboxed=sandboxed) as session:
        return problems + _check_catalog(manifest, session) + _check_runs(manifest, session, repeat, log)


def _check_catalog(manifest: Manifest, session: Session) -> list[str]:
    problems = []
    catalog = session.catalog
    for a in manifest.assignments:
        entries = catalog[a.id]
        if not any(e.visibility == "public" for e in entries):
            problems.append(f"{a.id}: no public tests")
        if not any(e.visibility == "hidden" for e in entries):
            problems.append(f"{a.id}: no hidden tests")
        total = sum(e.points for e in entries)
        if total != a.points:
            problems.append(f"{a.id}: test points add up to {total}, not {a.points}")
        problems += [f"{a.id}: {e.name} has no docstring (its feedback)" for e in entries if not e.doc]
    return problems


def _check_runs(manifest: Manifest, session: Session, repeat: int, log: Callable[[str], None]) -> list[str]:
    problems = []
    failures: Counter[str] = Counter()
    seeds = [None] + [random.randrange(1, 2**31) for _ in range(repeat - 1)]
    for run, seed in enumerate(seeds, start=1):
        result = session.grade(manifest.root / "solutions", shuffle_seed=seed)
        for a in result.assignments:
            for t in a.tests:
                if t.outcome != "passed":
                    failures[f"{a.id}::{t.name}"] += 1
                    if failures[f"{a.id}::{t.name}"] == 1:
                        log(f"  run {run} (seed {seed}): {a.id} {t.name} {t.outcome}: {t.feedback.splitlines()[-1]}")
            if a.status != "graded":
                problems.append(f"{a.id}: the reference solution was not graded: {a.message}")
        if repeat > 1:
            log(f"run {run}/{repeat}: {result.score:g}/{result.max_score:g}")
    problems += [f"solution fails {name} in {count} of {repeat} run(s)" for name, count in sorted(failures.items())]

    stub_result = session.grade(manifest.root / "assignments")
    for a in stub_result.assignments:
        passing = [t.name for t in a.tests if t.outcome == "passed"]
        problems += [f"{a.id}: the stub passes {name}" for name in passing]
        if a.status == "missing":
            problems.append(f"{a.id}: no stub")
    return problems
