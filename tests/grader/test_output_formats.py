"""Every output format is rendered from the one result model and meets its platform's rules."""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from repo_support import ROOT, run_grader

FORMATS = ("text", "json", "markdown", "classroom", "classroom50", "gradescope")
CLASSROOM50_ENV = {
    "CLASSROOM": "async-python-2026",
    "ASSIGNMENT": "asyncio-course",
    "SUBMISSION_TAG": "submit/alice/1",
    "COMMIT_URL": "https://example.test/commit/1",
    "RELEASE_URL": "https://example.test/release/1",
    "REVIEW_URL": "https://example.test/review/1",
}


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


def _valid_classroom50(document: dict) -> None:
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


@pytest.mark.parametrize("which", ["solutions", "stubs"])
def test_classroom50_result_passes_the_platform_rules(saved_results, which):
    """--format classroom50 is a valid result.json: the required strings, whole-number scores, the tests."""
    document = json.loads(_render(saved_results[which], "classroom50"))
    _valid_classroom50(document)
    assert document["score"] == (document["max-score"] if which == "solutions" else 0)


def test_classroom50_grade_writes_result_and_release_body(tmp_path):
    """grade --format classroom50 --output writes result.json and the student-facing release-body.md."""
    out = tmp_path / "result.json"
    done = run_grader("grade", "--submission", str(ROOT / "solutions"), "--assignment", "01",
                      "--format", "classroom50", "--output", str(out), env=CLASSROOM50_ENV)
    assert done.returncode == 0, done.stderr
    _valid_classroom50(json.loads(out.read_text()))
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


def _public_text() -> str:
    """Everything a student already sees: the assignments' READMEs, stubs and public tests, and coursekit."""
    files = [*(ROOT / "assignments").rglob("*.py"), *(ROOT / "assignments").rglob("*.md"),
             *(ROOT / "coursekit").glob("*.py")]
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


def _hidden_source_lines() -> set[str]:
    """Lines of hidden test code that are secret and long enough to recognise.

    Docstrings are feedback by design, and a line the student copy already
    shows (advice such as ``asyncio.set_event_loop(None)``) is no secret.
    """
    public = _public_text()
    lines = set()
    for path in (ROOT / "tests").glob("[0-9][0-9]/*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if len(stripped) >= 25 and not stripped.startswith(('"""', "#", "'", '"', "f\"", "f'")):
                if stripped not in public:
                    lines.add(stripped)
    return lines


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_hidden_test_source_or_path_in_any_format(saved_results, fmt):
    """No line of hidden test code, and no hidden test file name or path, reaches any output format."""
    text = _render(saved_results["stubs"], fmt)
    if fmt == "classroom":
        text = base64.b64decode(text.strip()).decode()
    if fmt in ("json", "classroom", "classroom50", "gradescope"):
        text = json.dumps(json.loads(text), ensure_ascii=False, indent=0).replace("\\n", "\n").replace('\\"', '"')
    assert "test_hidden_" not in text
    assert not re.search(r"tests/\d\d", text)
    leaked = [line for line in _hidden_source_lines() if line in text]
    assert not leaked, f"hidden test source in {fmt}: {leaked[:3]}"
