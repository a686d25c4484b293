"""The course's promises: solutions full marks, stubs zero, stubs in sync, tests complete."""
from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from repo_support import ROOT
from grader import stubs
from grader.catalog import load_catalog
from grader.manifest import load_manifest
from grader.pipeline import course_tests
from grader.pytest_options import FILTERWARNINGS, INI_OPTIONS

MANIFEST = load_manifest(ROOT)


def test_every_assignment_has_its_files():
    """Each assignment folder has the same shape: README, stub, public tests; plus solution and hidden tests."""
    for a in MANIFEST.assignments:
        folder = ROOT / "assignments" / a.id
        assert (folder / "README.md").is_file(), f"{a.id}: README.md missing"
        assert (folder / a.module).is_file(), f"{a.id}: stub missing"
        assert list(folder.glob("test_*.py")), f"{a.id}: no public tests"
        assert (ROOT / "solutions" / a.id / a.module).is_file(), f"{a.id}: solution missing"
        assert list((ROOT / "tests" / a.id).glob("test_hidden_*.py")), f"{a.id}: no hidden tests"
        extra = {p.name for p in folder.iterdir()} - {"README.md", "README.zh-CN.md", a.module, "__pycache__", "locale"}
        assert all(name.startswith("test_") for name in extra), f"{a.id}: unexpected files {extra}"


def test_stubs_are_generated_from_the_solutions():
    """Every committed stub is exactly what its solution's markers generate."""
    assert stubs.stale_stubs(MANIFEST) == []


def test_stubs_carry_no_solution_markers():
    """No stub, public test or README under assignments/ carries a solution marker."""
    for path in (ROOT / "assignments").rglob("*"):
        if path.is_file() and path.suffix in {".py", ".md"}:
            text = path.read_text(encoding="utf-8")
            assert stubs.BEGIN not in text and stubs.END not in text, f"solution marker in {path}"


def test_points_add_up_and_every_test_has_feedback():
    """Each assignment's public and hidden tests add up to its points, and every test has a docstring."""
    catalog = load_catalog(MANIFEST, course_tests(MANIFEST, None))
    for a in MANIFEST.assignments:
        entries = catalog[a.id]
        assert sum(e.points for e in entries) == a.points, f"{a.id}: points add up to {sum(e.points for e in entries)}"
        assert {e.visibility for e in entries} == {"public", "hidden"}, f"{a.id}: needs public and hidden tests"
        assert all(e.doc for e in entries), f"{a.id}: tests without docstrings: {[e.name for e in entries if not e.doc]}"
        public = sum(e.points for e in entries if e.visibility == "public")
        assert 20 <= public <= 45, f"{a.id}: public tests are worth {public} of 100; about a third is the aim"


def test_reference_solutions_get_full_marks(solutions_result):
    """Graded through the command line, every reference solution passes every public and hidden test."""
    for a in solutions_result["assignments"]:
        failing = [(t["name"], t["outcome"], t["feedback"]) for t in a["tests"] if t["outcome"] != "passed"]
        assert not failing, f"{a['id']}: {failing}"
        assert a["status"] == "graded" and a["score"] == a["max_score"] == 100, a
    assert solutions_result["score"] == solutions_result["max_score"] == 100 * len(MANIFEST.assignments)


def test_stubs_get_zero(stubs_result):
    """Every public and hidden test fails on the generated stub."""
    for a in stubs_result["assignments"]:
        passing = [t["name"] for t in a["tests"] if t["outcome"] == "passed"]
        assert not passing, f"{a['id']}: the stub passes {passing}"
        assert a["score"] == 0 and a["max_score"] == 100, a
        assert len(a["tests"]) > 0


def test_grader_and_pyproject_agree_on_pytest_settings():
    """Students' local pytest runs use the settings the grader uses, so results agree."""
    ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    for key, value in INI_OPTIONS.items():
        assert str(ini[key]) == value, f"pyproject.toml's {key} = {ini[key]!r}, the grader uses {value!r}"
    assert tuple(ini["filterwarnings"]) == FILTERWARNINGS
    assert ini["timeout"] == MANIFEST.limits.test_timeout
    assert "--looptime" in ini["addopts"] and "coursekit.pytest_plugin" in ini["addopts"]


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=folder, capture_output=True, text=True,
                          timeout=300)


# Two pytest starts per assignment: 03 runs by default, every assignment in `dev.py check` (slow).
@pytest.mark.parametrize("a", [pytest.param(a, id=a.id, marks=() if a.id == "03" else pytest.mark.slow)
                               for a in MANIFEST.assignments])
def test_student_runs_public_tests_of_one_assignment(student_copy, a):
    """In a student's clone, `pytest assignments/03` runs that assignment's public tests on the student's module."""
    done = _pytest(student_copy, f"assignments/{a.id}", "-p", "no:randomly")
    assert done.returncode == 1, f"{a.id}: the stub should fail its public tests:\n{done.stdout[-2000:]}"
    assert " passed" not in done.stdout.splitlines()[-1], done.stdout.splitlines()[-1]
    solution = ROOT / "solutions" / a.id / a.module
    (student_copy / "assignments" / a.id / a.module).write_bytes(solution.read_bytes())
    done = _pytest(student_copy, f"assignments/{a.id}", "-p", "no:randomly")
    assert done.returncode == 0, f"{a.id}: the solution should pass its public tests:\n{done.stdout[-3000:]}"
    assert "failed" not in done.stdout.splitlines()[-1]


def test_judged_tests_are_synchronous_and_need_no_looptime_fixture():
    """A judged run loads no looptime plugin (grader.pytest_options): its tests are plain functions.

    Their scenarios make their own loops on a virtual clock in the student
    process; a coroutine test or looptime's fixtures would need the plugins
    the graded run leaves out.
    """
    looptime_fixtures = {"looptime", "chronometer", "event_loop"}
    for a in MANIFEST.assignments:
        if not a.judged:
            continue
        files = [*(ROOT / "assignments" / a.id).glob("test_*.py"), *(ROOT / "tests" / a.id).glob("test_*.py")]
        for path in files:
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.AsyncFunctionDef):
                    assert not node.name.startswith("test"), f"{path.name}: {node.name} is a coroutine test"
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    used = {arg.arg for arg in node.args.args} & looptime_fixtures
                    assert not used, f"{path.name}: {node.name} asks for {sorted(used)}"
