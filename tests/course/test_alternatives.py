"""Honest code written from the student's material alone earns full marks, with the reference's message.

``tests/course/alternatives/NN/`` holds independent, correct implementations
of assignment NN: ``<module>.py``, ``variant_b.py``, ``variant_c.py`` and, for
03, 04, 06 and 09, ``variant_d.py``. They were written from
``shared/syllabus.md``, the assignment's README, its stub and its public tests
only (not the solution, not the hidden tests), each in a style other than the
obvious one and other than each other's: TaskGroup, gather, ``asyncio.wait``
or ``as_completed``; semaphores, worker pools or sliding windows;
``asyncio.timeout``, ``wait_for`` or ``ClientTimeout``; ``datetime.strptime``,
``time.strptime`` or ``email.utils`` for HTTP dates; direct, ``.part`` or
``mkstemp`` downloads; level-by-level, worker-pool or spawn-on-discovery
crawls; and the options each README's "where the contract leaves a choice"
allows (each file's docstring names its own). An outside reviewer's check
that the tests grade behaviour, not one way of writing it: when one of them
loses a point, either the test is unfair or the implementation is wrong (then
it is fixed here).

Each variant name is one student submission (``variant_d`` has only the
assignments that have one); the submissions and the reference solutions are
graded in one grading session (about a minute on two cores), so the test is
marked slow.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from repo_support import ROOT

from grader.manifest import load_manifest
from grader.pipeline import Session, course_tests

ALTERNATIVES = Path(__file__).resolve().parent / "alternatives"
MANIFEST = load_manifest(ROOT)
IDS = [a.id for a in MANIFEST.assignments]
# Every assignment has at least these; "module" is the file named like the student's module.
REQUIRED = ("module", "variant_b", "variant_c")


def _source(variant: str, assignment_id: str) -> Path:
    module = MANIFEST.get(assignment_id).module
    return ALTERNATIVES / assignment_id / (module if variant == "module" else f"{variant}.py")


def _variants(assignment_id: str) -> list[str]:
    module = MANIFEST.get(assignment_id).module
    return sorted("module" if p.name == module else p.stem for p in (ALTERNATIVES / assignment_id).glob("*.py"))


CASES = [(i, v) for i in IDS for v in _variants(i)]
VARIANTS = sorted({v for _, v in CASES})


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, Any]]]:
    """Submission name ("reference" or a variant) -> assignment id -> that assignment's result as a dict."""
    results = {}
    with Session(MANIFEST, course_tests(MANIFEST, None)) as session:
        results["reference"] = session.grade(ROOT / "solutions").to_dict()["assignments"]
        for variant in VARIANTS:
            root = tmp_path_factory.mktemp(variant)
            for assignment in MANIFEST.assignments:
                if not _source(variant, assignment.id).is_file():
                    continue
                target = root / "assignments" / assignment.id / assignment.module
                target.parent.mkdir(parents=True)
                shutil.copyfile(_source(variant, assignment.id), target)
            results[variant] = session.grade(root).to_dict()["assignments"]
    return {name: {a["id"]: a for a in assignments} for name, assignments in results.items()}


def test_every_assignment_has_three_alternatives() -> None:
    """Each assignment has at least three variants, so none silently drops out of the check below."""
    missing = [str(_source(v, i).relative_to(ROOT)) for i in IDS for v in REQUIRED if not _source(v, i).is_file()]
    assert not missing, missing


@pytest.mark.slow
@pytest.mark.parametrize(("assignment_id", "variant"), CASES)
def test_alternative_earns_full_marks_without_a_message(graded: dict[str, dict[str, dict[str, Any]]],
                                                        assignment_id: str, variant: str) -> None:
    """Full marks, every test passed, and exactly the reference solution's message (no note, no accusation)."""
    reference = graded["reference"][assignment_id]
    result = graded[variant][assignment_id]
    assert reference["score"] == reference["max_score"] == 100, reference["message"]
    failed = {t["name"]: t["feedback"] for t in result["tests"] if t["outcome"] != "passed"}
    assert not failed, f"{_source(variant, assignment_id).relative_to(ROOT)} lost points: {failed}"
    assert result["score"] == result["max_score"] == 100, result["message"]
    assert result["status"] == reference["status"] == "graded", result["message"]
    assert result["message"] == reference["message"], result["message"]
    assert sorted(t["name"] for t in result["tests"]) == sorted(t["name"] for t in reference["tests"]), "other tests ran"
