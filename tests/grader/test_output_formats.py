"""Every output format is rendered from the one result model and meets its platform's rules."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from repo_support import CLASSROOM50_ENV, ROOT, assert_classroom50_rules, assert_no_hidden_test_text, run_grader

FORMATS = ("text", "json", "markdown", "classroom", "classroom50", "gradescope")


@pytest.fixture(scope="module")
def saved_results(tmp_path_factory, solutions_result, stubs_result) -> dict[str, Path]:
    """The solutions' and the stubs' JSON results, saved for `grader report`."""
    folder = tmp_path_factory.mktemp("results")
    saved = {}
    for name, result in (("solutions", solutions_result), ("stubs", stubs_result)):
        saved[name] = folder / f"{name}.json"
        saved[name].write_text(json.dumps(result))
    return saved


def _render(saved: Path, fmt: str) -> str:
    done = run_grader("report", str(saved), "--format", fmt, env=CLASSROOM50_ENV)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_json_matches_the_contract(stubs_result):
    """--format json has exactly the fields of design.md's command-line contract."""
    assert set(stubs_result) == {"score", "max_score", "assignments"}
    for a in stubs_result["assignments"]:
        assert set(a) == {"id", "title", "score", "max_score", "status", "message", "tests"}
        assert a["status"] in {"graded", "missing", "error"}
        for t in a["tests"]:
            assert set(t) == {"name", "visibility", "outcome", "score", "max_score", "feedback"}
            assert t["visibility"] in {"public", "hidden"}
            assert t["outcome"] in {"passed", "failed", "error", "timeout", "skipped"}


@pytest.mark.parametrize("which", ["solutions", "stubs"])
def test_legacy_classroom_reporter_payload(saved_results, which):
    """--format classroom is base64 JSON the legacy reporter reads, with a tests list and no test code."""
    payload = json.loads(base64.b64decode(_render(saved_results[which], "classroom").strip()))
    assert payload["version"] == 1
    assert payload["status"] == ("pass" if which == "solutions" else "fail")
    assert isinstance(payload["max_score"], int) and payload["max_score"] > 0
    assert isinstance(payload["tests"], list) and payload["tests"]
    for test in payload["tests"]:
        assert set(test) >= {"name", "status", "score", "message", "line_no", "execution_time", "test_code", "filename"}
        assert test["status"] in {"pass", "fail", "error"}
        assert test["test_code"] == "" and test["filename"] == ""
    earned = sum(t["score"] for t in payload["tests"])
    assert earned == (payload["max_score"] if which == "solutions" else 0)


@pytest.mark.parametrize("which", ["solutions", "stubs"])
def test_classroom50_result_passes_the_platform_rules(saved_results, which):
    """--format classroom50 is a valid result.json: the required strings, whole-number scores, the tests."""
    document = json.loads(_render(saved_results[which], "classroom50"))
    assert_classroom50_rules(document)
    assert document["score"] == (document["max-score"] if which == "solutions" else 0)


def test_classroom50_grade_writes_result_and_release_body(tmp_path):
    """grade --format classroom50 --output writes result.json and the student-facing release-body.md."""
    out = tmp_path / "result.json"
    done = run_grader("grade", "--submission", str(ROOT / "solutions"), "--assignment", "01",
                      "--format", "classroom50", "--output", str(out), env=CLASSROOM50_ENV)
    assert done.returncode == 0, done.stderr
    assert_classroom50_rules(json.loads(out.read_text()))
    assert "Score: 100 / 100" in (tmp_path / "release-body.md").read_text()


def test_classroom50_without_its_variables_is_a_usage_error(saved_results):
    """Without Classroom 50's environment variables the command says which are missing, in one line, exit 2."""
    done = run_grader("report", str(saved_results["stubs"]), "--format", "classroom50",
                      env={name: "" for name in CLASSROOM50_ENV})
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "CLASSROOM" in done.stderr and "Traceback" not in done.stderr


def test_gradescope_results(saved_results):
    """--format gradescope has Gradescope's field names; hidden tests are marked hidden."""
    document = json.loads(_render(saved_results["stubs"], "gradescope"))
    assert set(document) >= {"score", "execution_time", "output", "tests"}
    visibilities = set()
    for test in document["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in {"passed", "failed"}
        visibilities.add(test["visibility"])
    assert visibilities == {"visible", "hidden"}


def test_markdown_summary(saved_results):
    """--format markdown has the total, a table row per assignment and the failures' feedback."""
    text = _render(saved_results["stubs"], "markdown")
    assert text.startswith("## Score: 0 / ")
    assert text.count("| 0 / 100 |") >= 3
    assert "<details>" in text and "NotImplementedError" in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_hidden_test_source_or_path_in_any_format(saved_results, fmt):
    """No line of hidden test code, and no hidden test file name or path, reaches any output format."""
    assert_no_hidden_test_text(_render(saved_results["stubs"], fmt), fmt)
