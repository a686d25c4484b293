"""Helpers of the course's own test suite: run the grader as a user would, build submissions."""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from coursekit.test_texts import english_left  # noqa: F401  (the tests of the Chinese use it)
from grader import redact


ROOT = Path(__file__).resolve().parent.parent


GRADING_COMMANDS = ("grade", "check", "batch")


def run_grader(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None,
               sandbox: str | None = "off") -> subprocess.CompletedProcess[str]:
    """``python -m grader ARGS`` as a user would run it.

    A grading command without a sandbox option gets ``--sandbox SANDBOX``
    ("off": the suite's tests are about grading, not the sandbox, which
    tests/grader/test_sandbox*.py cover, and they must pass where bubblewrap
    cannot run); ``sandbox=None`` leaves the command's own default.
    """
    chosen = any(arg == "--no-sandbox" or arg.startswith("--sandbox") for arg in args)
    if sandbox is not None and args and args[0] in GRADING_COMMANDS and not chosen:
        args = (args[0], "--sandbox", sandbox, *args[1:])
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
    "OWNER": "alice",
    "ASSIGNMENT_TYPE": "individual",
}
# Classroom 50's result-v1 rules, kept in the project (written from the published schema's).
CLASSROOM50_SCHEMA = ROOT / "grader" / "platforms" / "schemas" / "result-v1.json"


def assert_classroom50_rules(document: dict[str, Any]) -> None:
    """Classroom 50's rules for result.json: its result-v1 schema, and the cross-field rules its runner
    and collector check in code (score <= max-score, for the whole and for every test)."""
    import jsonschema

    schema = json.loads(CLASSROOM50_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(document, schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert type(document["score"]) is int and type(document["max-score"]) is int
    assert 0 <= document["score"] <= document["max-score"]
    for test in document["tests"]:
        assert type(test["passed"]) is bool
        assert type(test["score"]) is int and type(test["max-score"]) is int
        assert 0 <= test["score"] <= test["max-score"]


def public_text() -> str:
    """Everything a student already sees: the assignments' READMEs, stubs and public tests, and coursekit."""
    return redact.public_text(ROOT)


@functools.cache
def hidden_source_lines() -> frozenset[str]:
    """Lines of hidden test code that are secret and long enough to recognise (the grader's own rule).

    Worked out once per test session: the hidden tests do not change while it runs.
    """
    sources = [path.read_text(encoding="utf-8") for path in (ROOT / "tests").glob("[0-9][0-9]/*.py")]
    return redact.secret_lines(sources, public_text())


def assert_no_hidden_test_text(text: str, fmt: str) -> None:
    """No line of hidden test code, and no hidden test file name or path, in ``text`` rendered as ``fmt``."""
    import base64
    import re

    if fmt == "classroom":
        text = base64.b64decode(text.strip()).decode()
    if fmt in ("json", "classroom", "classroom50", "gradescope"):
        text = json.dumps(json.loads(text), ensure_ascii=False, indent=0).replace("\\n", "\n").replace('\\"', '"')
    assert "test_hidden_" not in text, fmt
    assert not re.search(r"tests/\d\d", text), fmt
    leaked = [line for line in hidden_source_lines() if line in text]
    assert not leaked, f"hidden test source in {fmt}: {leaked[:3]}"


def batch_01(submissions: Path, out: Path, *extra: str, workers: int = 2) -> subprocess.CompletedProcess[str]:
    """``grader batch`` of assignment 01 over ``submissions`` into ``out``; fails the test unless it exits 0."""
    done = run_grader("batch", str(submissions), "--out", str(out), "--assignment", "01", "--workers", str(workers),
                      *extra)
    assert done.returncode == 0, done.stderr
    return done


def batch_records(out: Path) -> dict[str, dict[str, Any]]:
    """The per-student records a batch wrote into ``out``, by student."""
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in (out / "students").glob("*.json")}


def batch_files(out: Path) -> dict[str, bytes]:
    """The bytes of every per-student record in ``out``, to show which a run rewrote."""
    return {p.name: p.read_bytes() for p in (out / "students").glob("*.json")}


def git_commit(folder: Path, modules: dict[str, str], *, date: str | None = None) -> str:
    """Commit ``modules`` (assignment id: source of its module) in the git repository at ``folder`` (made if
    new), with committer and author dates ``date`` when given (a student sets them as they like); the new sha."""
    from grader.manifest import load_manifest

    manifest = load_manifest(ROOT)
    for assignment_id, source in modules.items():
        path = folder / "assignments" / assignment_id / manifest.get(assignment_id).module
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    env = {**os.environ, **({"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date} if date else {})}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "submission"], ["rev-parse", "HEAD"]):
        done = subprocess.run(["git", "-c", "user.name=Student", "-c", "user.email=student@example.org", *args],
                              cwd=folder, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def git_submission(folder: Path, modules: dict[str, str]) -> Path:
    """A student's git repository at ``folder``: ``modules`` (assignment id: source of its module), one commit."""
    git_commit(folder, modules)
    return folder


@pytest.fixture(autouse=True)
def own_key(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test that imports this seals with a key of its own, outside its results, never the instructor's."""
    path = tmp_path_factory.mktemp("key") / "results.key"
    monkeypatch.setenv("GRADER_KEY_FILE", str(path))
    return path


def write_module(student: Path, source: str, assignment: str = "01", module: str = "why_async.py") -> None:
    """Write ``source`` as a student's ``assignments/<assignment>/<module>``."""
    path = student / "assignments" / assignment / module
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")


def publish_course(factory: pytest.TempPathFactory) -> Path:
    """``python -m grader publish --out OUT`` as an instructor runs it, into a new temporary folder; OUT."""
    out = factory.mktemp("published") / "out"
    done = run_grader("publish", "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out

