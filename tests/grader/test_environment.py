"""The grader checks its own environment before grading: a grader that cannot run the tests grades nobody."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from repo_support import ROOT, batch_records, git_submission, run_grader, solution_source

from grader import environment, sandbox
from grader.instructor import keys
from grader.manifest import load_manifest
from grader.pipeline import course_tests


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An interpreter of the course's Python with none of its packages: a virtual environment left empty."""
    folder = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    assert subprocess.run([str(python), "-c", "import pytest"], capture_output=True).returncode != 0
    return python


def _run_bare(python: Path, *args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH makes the grader importable, as a user running it from the wrong interpreter would.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADER_KEY_FILE": str(tmp / "key" / "results.key")}
    return subprocess.run([str(python), "-m", "grader", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=600)


def test_a_bare_interpreter_grades_nothing_and_says_why_in_one_line(bare_python: Path, tmp_path: Path) -> None:
    """grade: exit 1, one line naming a missing package, and no result written (it used to write 0/100, exit 0)."""
    output = tmp_path / "result.json"
    done = _run_bare(bare_python, "grade", "--assignment", "01", "--format", "json", "--output", str(output),
                     tmp=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("environment error: "), done.stderr
    assert "is not installed for" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
    assert not output.exists()


def test_a_bare_interpreter_records_no_student(bare_python: Path, tmp_path: Path) -> None:
    """batch: exit 1 with one line, and no student file, summary or grades.csv (later runs find nothing to keep)."""
    student = tmp_path / "class" / "alice" / "assignments" / "01" / "why_async.py"
    student.parent.mkdir(parents=True)
    student.write_text(solution_source("01"), encoding="utf-8")
    out = tmp_path / "results"
    done = _run_bare(bare_python, "batch", str(tmp_path / "class"), "--out", str(out), "--assignment", "01",
                     tmp=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("environment error: "), done.stderr
    assert not out.exists()


@pytest.mark.slow  # several seconds: dev.py check runs it
def test_a_bare_interpreter_leaves_earlier_results_and_the_next_plain_run_keeps_them(bare_python: Path,
                                                                                    tmp_path: Path) -> None:
    """A roster graded once, then batch from a bare interpreter over the same results: exit 1, every file as it
    was (nobody below the true score), nothing cloned; the next plain run keeps every student at the true score."""
    true = {"alice": 100.0, "bob": 0.0}
    stub = (ROOT / "assignments" / "01" / "why_async.py").read_text(encoding="utf-8")
    lines = [f"{name} {git_submission(tmp_path / name, {'01': solution_source('01') if score else stub})}"
             for name, score in true.items()]
    roster = tmp_path / "roster.txt"
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "results"
    env = {"GRADER_KEY_FILE": str(tmp_path / "key" / "results.key")}
    args = ["batch", str(roster), "--out", str(out), "--assignment", "01"]
    assert run_grader(*args, env=env).returncode == 0
    before = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file() and ".git" not in p.parts}

    done = _run_bare(bare_python, *args, tmp=tmp_path)
    assert done.returncode == 1 and done.stderr.startswith("environment error: "), done.stderr
    assert {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*")
            if p.is_file() and ".git" not in p.parts} == before

    again = run_grader(*args, env=env)
    assert again.returncode == 0, again.stderr
    assert {name: record["result"]["score"] for name, record in batch_records(out).items()} == true
    assert (out / "grades.csv").read_text(encoding="utf-8") == "student,01,total,status,not_started,attempted,flagged\n" \
                                                                "alice,100,100,graded,,,\nbob,,0,graded,01,,\n"


def test_a_version_other_than_the_pin_is_a_problem(tmp_path: Path) -> None:
    """A package at another version than pyproject.toml pins is named with both versions."""
    (tmp_path / "pyproject.toml").write_text('[project]\ndependencies = ["aiohttp==0.0.1", "pytest==9.0.3"]\n')
    problems = environment.package_problems(tmp_path)
    installed = environment._probe(sys.executable)["packages"]
    assert isinstance(installed, dict)
    assert problems == [f"aiohttp is {installed['aiohttp']}, pyproject.toml pins 0.0.1"]
    assert environment.pins(tmp_path) == {"aiohttp": "0.0.1", "pytest": "9.0.3"}


def test_the_course_environment_has_no_problem() -> None:
    """This repository's own environment (the one its tests run in) passes the check."""
    assert environment.problems(ROOT) == []


def test_the_sandbox_check_stops_grading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no sandbox can be made, --sandbox required makes the check refuse, with the sandbox's reason in its
    line; auto and off grade (unsandboxed, and the results say so)."""
    reason = "bubblewrap cannot create namespaces here (setting up uid map: Permission denied)"
    monkeypatch.setattr(sandbox, "unavailable", lambda: reason)
    with pytest.raises(environment.EnvironmentFault, match=r"^the sandbox is required .*: bubblewrap cannot create "
                                                           r"namespaces here \(setting up uid map"):
        environment.require_usable(ROOT, sandbox="required")
    for mode in ("auto", "off"):
        environment.require_usable(ROOT, sandbox=mode)
        assert environment.problems(ROOT, sandbox=mode) == []
    assert environment.problems(ROOT, sandbox="required") == sandbox.problems("required")


def test_a_changed_environment_changes_what_batch_keys_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The skip key covers the grader and its environment: another package version regrades everyone."""
    manifest = load_manifest(ROOT).only(["01"])
    tests = course_tests(manifest, None)
    before = keys.identity(manifest, tests)
    real = environment._probe(sys.executable)
    changed = {**real, "packages": {**real["packages"], "aiohttp": "3.13.4"}}  # type: ignore[dict-item]
    monkeypatch.setattr(environment, "_probe", lambda executable: changed)
    assert keys.identity(manifest, tests) != before
