"""Every output format is rendered from the one result model and meets its platform's rules."""
from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

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
    assert set(stubs_result) == {"score", "max_score", "ungraded_points", "sandboxed", "assignments"}
    assert stubs_result["ungraded_points"] == 0  # the hidden tests were run: nothing left to grade
    for a in stubs_result["assignments"]:
        assert set(a) == {"id", "title", "score", "max_score", "status", "message", "tests", "ungraded_points",
                          "flags"}
        assert a["flags"] == []  # the stubs give the integrity screen nothing to report
        assert a["ungraded_points"] == 0
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
    """--format gradescope has Gradescope's field names; hidden tests are released after the due date."""
    document = json.loads(_render(saved_results["stubs"], "gradescope"))
    assert set(document) >= {"score", "execution_time", "output", "tests"}
    visibilities = set()
    for test in document["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in {"passed", "failed"}
        visibilities.add(test["visibility"])
    assert visibilities == {"visible", "after_due_date"}


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


@pytest.fixture(scope="module")
def public_only(tmp_path_factory) -> tuple[dict[str, Any], Path]:
    """A student's copy (no hidden tests) with 01 solved and 02 untouched, graded: the JSON result and its file."""
    copy = tmp_path_factory.mktemp("public") / "student"
    ignore = shutil.ignore_patterns(".git", ".venv*", "__pycache__", ".grader-cache", "solutions", "results")
    shutil.copytree(ROOT, copy, ignore=ignore)
    for hidden in (copy / "tests").glob("[0-9][0-9]"):
        shutil.rmtree(hidden)
    shutil.copy(ROOT / "solutions" / "01" / "why_async.py", copy / "assignments" / "01" / "why_async.py")
    done = run_grader("grade", "--assignment", "01", "--assignment", "02", "--format", "json", cwd=copy)
    assert done.returncode == 0, done.stderr
    saved = copy / "public.json"
    saved.write_text(done.stdout)
    return json.loads(done.stdout), saved


def test_public_only_json_says_what_is_left_to_grade(public_only):
    """Graded without hidden tests, each assignment says how many of its points the run could not grade."""
    result, _ = public_only
    for a in result["assignments"]:
        assert all(t["visibility"] == "public" for t in a["tests"])
        assert 0 < a["max_score"] < 100
        assert a["ungraded_points"] == 100 - a["max_score"], a
    assert result["ungraded_points"] == 200 - result["max_score"]


@pytest.mark.parametrize("fmt", ["text", "markdown", "gradescope"])
def test_public_only_score_never_reads_as_full_marks(public_only, fmt):
    """Full marks on the public tests read as such, with the hidden tests' points and the full total beside them."""
    result, saved = public_only
    solved = next(a for a in result["assignments"] if a["id"] == "01")
    assert solved["score"] == solved["max_score"]
    out = _render(saved, fmt)
    if fmt == "gradescope":
        out = json.loads(out)["output"]
    hidden, public = result["ungraded_points"], result["max_score"]
    assert f"The hidden tests, worth {hidden:g} more points, were not run here" in out, out
    assert f"the full score is out of {public + hidden:g} and this is not your grade" in out, out
    if fmt == "text":
        assert f"{solved['score']:g}/{solved['max_score']:g} (+{solved['ungraded_points']:g} hidden)" in out, out
    if fmt == "markdown":
        assert not out.startswith("## Score:"), out
        assert f"| {solved['score']:g} / {solved['max_score']:g} public (+{solved['ungraded_points']:g} hidden, " \
               f"not run) |" in out, out


def test_public_only_legacy_reporter_counts_the_full_points(public_only):
    """The legacy reporter prints "Points X/Y": Y is the full points, so public tests alone never make X equal Y."""
    result, saved = public_only
    payload = json.loads(base64.b64decode(_render(saved, "classroom").strip()))
    assert payload["max_score"] == 200
    assert sum(t["score"] for t in payload["tests"]) == result["score"] < 200


def test_the_grade_commands_score_line_says_what_is_left():
    """`grade --output` prints a one-line score: from public tests alone it names the hidden points not run."""
    from grader.model import AssignmentResult, GradeResult

    public = AssignmentResult("01", "One", 33.0, 33.0, "graded", "7/7 tests passed", ungraded_points=67.0)
    text = GradeResult((public,), hidden_tests_included=False).score_text()
    assert text == ("33/33 on the public tests; hidden tests worth 67 more points were not run "
                    "(the full score is out of 100)")
    graded = AssignmentResult("01", "One", 90.0, 100.0, "graded", "20/21 tests passed")
    assert GradeResult((graded,), hidden_tests_included=True).score_text() == "90/100"


def test_every_line_of_a_hidden_tests_docstring_is_feedback_not_secret():
    """A hidden test's docstring is its "Expected:" feedback: its later lines are no more secret than its first."""
    from grader.redact import secret_lines

    source = (
        "async def test_depth(site):\n"
        '    """No page more than max_depth links from the start is fetched.\n'
        "\n"
        "    /x is 2 links away through the slow page, 3 through the fast ones, so /y is optional.\n"
        '    """\n'
        "    result = await run_crawl(site.url('/'), max_depth=2)  # a secret line of code\n"
        "\n"
        "async def test_limiter(limiter):\n"
        '    """`async with limiter as entered:` gives the limiter itself."""\n'
        "    async with limiter as entered:\n"
        "        pass\n"
    )
    secret = secret_lines([source], public="")
    assert "result = await run_crawl(site.url('/'), max_depth=2)  # a secret line of code" in secret
    assert not [line for line in secret if "links away" in line or "is fetched" in line], secret
    assert "async with limiter as entered:" not in secret, "the docstring shows it to every student who fails"
