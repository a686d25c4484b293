"""Classroom 50: result.json valid against the result-v1 schema, a commit-status summary GitHub accepts,
and an autograder that grades on the Python its runner starts, with nothing installed.

Classroom 50's runner (runner.py) starts ``autograder.py`` with its own interpreter
(``actions/setup-python``'s 3.14 unless the assignment's runtime names one),
with the student's checkout as working directory and the bundle in
``CLASSROOM50_BUNDLE_DIR``; its runtime block installs no Python packages.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest

from grader.errors import UsageError
from grader.model import AssignmentResult, GradeResult
from grader.model import TestResult as Run
from grader.report import classroom50
from repo_support import (
    CLASSROOM50_ENV,
    CLASSROOM50_SCHEMA,
    ROOT,
    assert_classroom50_rules,
    make_submission,
    solution_source,
)

AUTOGRADER = ROOT / "grader" / "platforms" / "classroom50_autograder.py"
FIRST = ("01", "why-async", "why_async.py")


def _document(result: dict[str, Any], **env: str) -> dict[str, Any]:
    return classroom50.payload(GradeResult.from_dict(result), {**CLASSROOM50_ENV, **env})


# --- result.json against the schema --------------------------------------------------------------


@pytest.mark.parametrize("which", ["solutions", "stubs"])
def test_result_json_is_valid_against_the_published_schema(which, solutions_result, stubs_result):
    """A full submission graded with hidden tests, reference and stubs: valid result-v1 as written
    (owner, assignment_type, a UTC datetime ending in Z, no field the schema does not know)."""
    document = _document(solutions_result if which == "solutions" else stubs_result)
    assert_classroom50_rules(document)
    assert document["owner"] == "alice" and document["assignment_type"] == "individual"
    assert document["datetime"].endswith("Z")


def test_the_schema_file_holds_the_published_rules():
    """The schema the project keeps refuses what the published one refuses: a +00:00 timestamp, a missing
    owner or assignment_type, a top-level field it does not know, a submission outside submit/."""
    schema = json.loads(CLASSROOM50_SCHEMA.read_text(encoding="utf-8"))
    good = {"schema": "classroom50/result/v1", "classroom": "c", "assignment": "a", "assignment_type": "group",
            "owner": "o", "submission": "submit/x", "commit": "c", "release": "r", "review": "v",
            "datetime": "2026-12-02T20:15:00Z", "score": 1, "max-score": 2,
            "tests": [{"test-name": "t", "passed": False, "score": 0, "max-score": 2, "extra": "kept"}]}
    jsonschema.validate(good, schema)
    bad = [{"datetime": "2026-12-02T20:15:00+00:00"}, {"owner": None}, {"assignment_type": None},
           {"assignment_type": "pairs"}, {"feedback": "x"}, {"submission": "tags/x"}, {"score": 1.5}]
    for change in bad:
        document = {k: v for k, v in {**good, **change}.items() if v is not None}
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(document, schema)


def test_graded_at_is_written_as_the_schema_writes_timestamps(solutions_result):
    """A GRADED_AT with an offset is written in UTC with a Z; one that is not a date is refused."""
    document = _document(solutions_result, GRADED_AT="2026-12-02T21:15:00+01:00")
    assert document["datetime"] == "2026-12-02T20:15:00Z"
    with pytest.raises(UsageError, match="GRADED_AT"):
        _document(solutions_result, GRADED_AT="yesterday")


def test_the_owner_is_required(solutions_result):
    """Without OWNER or USERNAME, --format classroom50 is a usage error naming them."""
    env = {k: v for k, v in CLASSROOM50_ENV.items() if k != "OWNER"}
    with pytest.raises(UsageError, match="OWNER or USERNAME"):
        classroom50.payload(GradeResult.from_dict(solutions_result), env)
    assert classroom50.payload(GradeResult.from_dict(solutions_result), {**env, "USERNAME": "bob"})["owner"] == "bob"


# --- the commit-status summary -------------------------------------------------------------------


def test_the_summary_fits_a_commit_status():
    """GitHub rejects a commit-status description over 140 characters; ours never is, on one line."""
    tests = tuple(Run(f"t{k}", "public", "failed", 0.0, 1.0, "x") for k in range(12345))
    result = GradeResult((AssignmentResult("01", "T", 0.0, 12345.0, "graded", "m", tests),), True)
    state, summary = classroom50.status_and_summary(result)
    assert state == "failure" and "0/12345" in summary and "not sandboxed" in summary
    assert len(summary) <= classroom50.SUMMARY_LIMIT
    long = classroom50.summary_line("grading failed: " + "why\n" * 100)
    assert len(long) <= classroom50.SUMMARY_LIMIT and "\n" not in long


def test_a_sandboxed_run_does_not_say_it_was_not():
    """The "not sandboxed" note appears only when the run was not sandboxed."""
    tests = (Run("t", "public", "passed", 1.0, 1.0, ""),)
    result = GradeResult((AssignmentResult("01", "T", 1.0, 1.0, "graded", "m", tests),), True, sandboxed=True)
    assert classroom50.status_and_summary(result) == ("success", "1/1 (1/1 tests passed)")


# --- which Python provisions the environment (the autograder's decision, without building one) ----


@contextlib.contextmanager
def _autograder_module(bundle: Path) -> Iterator[ModuleType]:
    """The autograder loaded as a module; it rewrites sys.path and sys.meta_path, which are restored."""
    saved_path, saved_meta = list(sys.path), list(sys.meta_path)
    saved_env = os.environ.get("CLASSROOM50_BUNDLE_DIR")
    os.environ["CLASSROOM50_BUNDLE_DIR"] = str(bundle)
    try:
        spec = importlib.util.spec_from_file_location("c50_autograder_under_test", AUTOGRADER)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path[:], sys.meta_path[:] = saved_path, saved_meta
        if saved_env is None:
            os.environ.pop("CLASSROOM50_BUNDLE_DIR", None)
        else:
            os.environ["CLASSROOM50_BUNDLE_DIR"] = saved_env


def test_the_interpreter_choice(tmp_path):
    """Python 3.14 (Classroom 50's default) builds with the newest 3.11-3.13 the runner has; a supported
    one builds with itself; an explicit choice wins; none at all is None (a one-line error upstream)."""
    with _autograder_module(tmp_path) as module:
        choose = module.choose_interpreter
        found = [("/usr/bin/python3.12", (3, 12)), ("/tool/3.13/python3", (3, 13)), ("/old/python3.10", (3, 10))]
        assert choose(("/py314", (3, 14)), found, None) == "/tool/3.13/python3"
        assert choose(("/py312", (3, 12)), found, None) == "/py312"
        assert choose(("/py314", (3, 14)), found, "/chosen") == "/chosen"
        assert choose(("/py314", (3, 14)), [("/old/python3.10", (3, 10))], None) is None
        assert module.supported((3, 11)) and module.supported((3, 13, 1)) and not module.supported((3, 14))


def test_no_supported_python_is_a_one_line_error_naming_the_fix(tmp_path, monkeypatch):
    """On a Python the course does not support, with no other one to be found, provisioning says in one
    line what the instructor must set."""
    with _autograder_module(tmp_path) as module:
        monkeypatch.setattr(module, "supported", lambda version: False)
        monkeypatch.setattr(module, "_candidates", lambda: [])
        monkeypatch.delenv(module.PYTHON_VAR, raising=False)
        with pytest.raises(module.ProvisionError, match='runtime python to "3.13"') as caught:
            module.provision({"aiohttp": "3.13.5"})
        assert "\n" not in str(caught.value)


def test_the_supported_range_is_pyproject_s():
    """The autograder's range is pyproject.toml's requires-python (it cannot read it: it runs before any
    package is installed)."""
    import tomllib

    text = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    assert text == ">=3.11,<3.14"
    assert "SUPPORTED = ((3, 11), (3, 13))" in AUTOGRADER.read_text(encoding="utf-8")


# --- the autograder as the runner starts it ------------------------------------------------------


@pytest.fixture(scope="module")
def bundle(published_out: Path) -> Path:
    """The published Classroom 50 autograder of assignment 01."""
    return published_out / "classroom50" / "autograders" / FIRST[1]


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh interpreter with no packages at all: a virtual environment without even pip."""
    folder = tmp_path_factory.mktemp("bare") / "venv"
    venv.EnvBuilder(with_pip=False).create(folder)
    python = str(folder / "bin" / "python")
    assert subprocess.run([python, "-c", "import aiohttp"], capture_output=True, check=False).returncode != 0
    return python


@pytest.fixture(params=["python3.11", "python3.12", "python3.13"])
def bare_runtime_python(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A bare interpreter (no packages, no pip) of each Python the course supports that this machine has:
    the runtime's ``python`` setting of a Classroom 50 assignment."""
    import dev

    found = dev._interpreter(request.param)
    if found is None:
        pytest.skip(f"{request.param} is not installed here")
    folder = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([found, "-m", "venv", "--without-pip", str(folder)], check=True)
    return str(folder / "bin" / "python")


def _runner_env(bundle: Path, tmp: Path, **extra: str) -> dict[str, str]:
    """The environment runner.py gives the autograder, with a cache of our own and nothing of this venv."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "CLASSROOM50_BUNDLE_DIR": str(bundle),
           "GITHUB_OUTPUT": str(tmp / "github_output"), "USERNAME": "alice", **CLASSROOM50_ENV,
           "SUBMISSION_TAG": "submit/2026-12-02T20-15-00Z-abc1234"}
    return {**env, **extra}


def _run(python: str, bundle: Path, checkout: Path, env: dict[str, str]) -> tuple[dict[str, Any], str, str]:
    Path(env["GITHUB_OUTPUT"]).write_text("", encoding="utf-8")
    done = subprocess.run([python, str(bundle / "autograder.py")], cwd=checkout, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads((checkout / "result.json").read_text(encoding="utf-8"))
    assert_classroom50_rules(document)
    return document, Path(env["GITHUB_OUTPUT"]).read_text(encoding="utf-8"), done.stdout + done.stderr


def _outputs(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


@pytest.mark.slow
def test_a_bare_interpreter_provisions_and_grades(bundle, bare_runtime_python, tmp_path_factory):
    """Run as the runner runs it, by an interpreter with no packages: the autograder builds its cached
    environment from PyPI, grades the reference solution 100/100 and the stub 0/100 (the second run
    reusing the cache), each result valid and each summary a commit status GitHub accepts."""
    tmp = tmp_path_factory.mktemp("c50")
    env = _runner_env(bundle, tmp, ASYNCIO_COURSE_VENV_CACHE=str(tmp / "cache"))
    solved = make_submission(tmp / "solved", {FIRST[0]: solution_source(FIRST[0])})
    document, outputs, log = _run(bare_runtime_python, bundle, solved, env)
    assert document["score"] == document["max-score"] == 100 and document["tests"]
    assert _outputs(outputs)["status"] == "success" and len(_outputs(outputs)["summary"]) <= 140
    assert "building a Python environment" in log

    stub = (ROOT / "assignments" / FIRST[0] / FIRST[2]).read_text(encoding="utf-8")
    unsolved = make_submission(tmp / "stub", {FIRST[0]: stub})
    document, outputs, log = _run(bare_runtime_python, bundle, unsolved, env)
    assert document["score"] == 0 and document["max-score"] == 100 and document["tests"]
    assert _outputs(outputs)["status"] == "failure"
    assert "using the cached environment" in log


@pytest.mark.slow
def test_packages_that_cannot_be_installed_are_an_error_without_a_score(bundle, bare_python, tmp_path_factory):
    """No package index (here: a closed port): status error with one line under 140 characters, and a
    result.json that is valid and scores nothing (0 of 0, no tests), so no release or score is made."""
    tmp = tmp_path_factory.mktemp("c50-offline")
    env = _runner_env(bundle, tmp, ASYNCIO_COURSE_VENV_CACHE=str(tmp / "cache"),
                      PIP_INDEX_URL="http://127.0.0.1:9/simple", PIP_RETRIES="0", PIP_TIMEOUT="2",
                      PIP_NO_CACHE_DIR="1", PIP_FIND_LINKS="")
    checkout = make_submission(tmp / "solved", {FIRST[0]: solution_source(FIRST[0])})
    document, outputs, _ = _run(bare_python, bundle, checkout, env)
    assert (document["score"], document["max-score"], document["tests"]) == (0, 0, [])
    fields = _outputs(outputs)
    assert fields["status"] == "error" and fields["summary"].startswith("grading failed: installing")
    assert len(fields["summary"]) <= 140
    assert "Grading failed" in (checkout / "release-body.md").read_text(encoding="utf-8")


def test_a_broken_bundle_is_an_error_without_a_score(bundle, tmp_path):
    """A bundle that cannot grade (its pipeline removed), on this Python that has the packages: status error,
    a summary under 140 characters, a valid result.json with no score."""
    broken = tmp_path / "bundle"
    shutil.copytree(bundle, broken)
    (broken / "grader" / "pipeline.py").unlink()
    env = _runner_env(broken, tmp_path)
    checkout = make_submission(tmp_path / "solved", {FIRST[0]: solution_source(FIRST[0])})
    document, outputs, _ = _run(sys.executable, broken, checkout, env)
    assert (document["score"], document["max-score"], document["tests"]) == (0, 0, [])
    fields = _outputs(outputs)
    assert fields["status"] == "error" and len(fields["summary"]) <= 140
