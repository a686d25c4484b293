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
