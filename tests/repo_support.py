"""Helpers of the course's own test suite: run the grader as a user would, build submissions."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


ROOT = Path(__file__).resolve().parent.parent


def run_grader(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m grader ARGS`` as a user would run it."""
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


def grade_json(submission: Path, *assignments: str, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Grade ``submission`` through the command line; the parsed ``--format json`` output."""
    args = ["grade", "--submission", str(submission), "--format", "json", *extra]
    for assignment in assignments:
        args += ["--assignment", assignment]
    done = run_grader(*args)
    assert done.returncode == 0, f"grade failed ({done.returncode}): {done.stderr}"
    return json.loads(done.stdout)


def by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The assignments of a JSON result, keyed by id."""
    return {a["id"]: a for a in result["assignments"]}


def make_submission(tmp: Path, modules: dict[str, str | bytes | None]) -> Path:
    """A student-repository-shaped folder: reference solutions, with some modules replaced.

    ``modules`` maps an assignment id to the source to submit instead (None:
    leave the assignment out).
    """
    from grader.manifest import load_manifest

    root = tmp / "submission"
    for assignment in load_manifest(ROOT).assignments:
        source: str | bytes | None = (ROOT / "solutions" / assignment.id / assignment.module).read_bytes()
        if assignment.id in modules:
            source = modules[assignment.id]
        if source is None:
            continue
        target = root / "assignments" / assignment.id / assignment.module
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.encode() if isinstance(source, str) else source)
    return root


def solution_source(assignment_id: str) -> str:
    """The reference solution's source text."""
    from grader.manifest import load_manifest

    assignment = load_manifest(ROOT).get(assignment_id)
    return (ROOT / "solutions" / assignment_id / assignment.module).read_text(encoding="utf-8")


CLASSROOM50_ENV = {
    "CLASSROOM": "async-python-2026",
    "ASSIGNMENT": "asyncio-course",
    "SUBMISSION_TAG": "submit/alice/1",
    "COMMIT_URL": "https://example.test/commit/1",
    "RELEASE_URL": "https://example.test/release/1",
    "REVIEW_URL": "https://example.test/review/1",
}


def assert_classroom50_rules(document: dict[str, Any]) -> None:
    """Classroom 50's rules for result.json: the required strings, whole-number scores, the tests."""
    assert document["schema"] == "classroom50/result/v1"
    for field in ("classroom", "assignment", "submission", "commit", "release", "review", "datetime"):
        assert isinstance(document[field], str) and document[field], field
    assert document["submission"].startswith("submit/")
    assert type(document["score"]) is int and type(document["max-score"]) is int
    assert 0 <= document["score"] <= document["max-score"]
    assert isinstance(document["tests"], list) and document["tests"]
    for test in document["tests"]:
        assert isinstance(test["test-name"], str) and test["test-name"]
        assert type(test["passed"]) is bool
        assert type(test["score"]) is int and type(test["max-score"]) is int
        assert 0 <= test["score"] <= test["max-score"]


def public_text() -> str:
    """Everything a student already sees: the assignments' READMEs, stubs and public tests, and coursekit."""
    files = [*(ROOT / "assignments").rglob("*.py"), *(ROOT / "assignments").rglob("*.md"),
             *(ROOT / "coursekit").glob("*.py")]
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


def hidden_source_lines() -> set[str]:
    """Lines of hidden test code that are secret and long enough to recognise.

    Docstrings are feedback by design, and a line the student copy already
    shows (advice such as ``asyncio.set_event_loop(None)``) is no secret.
    """
    public = public_text()
    lines = set()
    for path in (ROOT / "tests").glob("[0-9][0-9]/*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if len(stripped) >= 25 and not stripped.startswith(('"""', "#", "'", '"', "f\"", "f'")):
                if stripped not in public:
                    lines.add(stripped)
    return lines
