"""Gradescope's results.json, held to its autograder specification.

- ``visibility``: ``hidden`` means never shown to students and hides their
  total score; ``after_due_date`` / ``after_published`` release later;
  ``visible`` at once.
- ``output_format`` / ``test_output_format``: ``md`` renders Markdown.
- No results.json (or an invalid one) is "The autograder failed to execute
  correctly": the submission has no score and the instructor sees the output.
"""
from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.errors import UsageError
from grader.model import AssignmentResult, GradeResult
from grader.model import TestResult as Run
from grader.report import gradescope
from repo_support import ROOT

SPEC_VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
SPEC_FORMATS = {"text", "html", "simple_format", "md", "ansi"}


def _result(*, sandboxed: bool = True) -> GradeResult:
    runs = [Run(f"test_hidden_{k}", "hidden", "failed", 0.0, 2.0, "`await` it") for k in range(4)]
    runs += [Run(f"test_public_{k}", "public", "passed", 1.0, 1.0, "") for k in range(3)]
    return GradeResult((AssignmentResult("04", "Tasks", 3.0, 11.0, "graded", "3/7 tests passed", tuple(runs)),),
                       hidden_tests_included=True, sandboxed=sandboxed)


def _spec_valid(document: dict) -> None:
    """The fields Gradescope reads, with values its specification allows."""
    assert isinstance(document["score"], (int, float)) and document["output_format"] in SPEC_FORMATS
    assert document["test_output_format"] in SPEC_FORMATS
    for test in document["tests"]:
        assert test["visibility"] in SPEC_VISIBILITY and test["status"] in {"passed", "failed"}
        assert test["output_format"] in SPEC_FORMATS and isinstance(test["number"], str)
        assert 0 <= test["score"] <= test["max_score"]


def test_hidden_tests_are_released_after_the_due_date_by_default():
    """Hidden tests are after_due_date (not hidden, which would hide them and the total forever); public visible."""
    document = gradescope.payload(_result())
    _spec_valid(document)
    assert {t["visibility"] for t in document["tests"] if "hidden" in t["name"]} == {"after_due_date"}
    assert {t["visibility"] for t in document["tests"] if "public" in t["name"]} == {"visible"}


@pytest.mark.parametrize("choice", ["after_due_date", "after_published", "hidden"])
def test_the_hidden_visibility_comes_from_course_toml(choice, tmp_path):
    """course.toml's [gradescope] hidden_visibility picks the release; anything else is refused in one line."""
    (tmp_path / "course.toml").write_text(f'[gradescope]\nhidden_visibility = "{choice}"\n', encoding="utf-8")
    assert gradescope.hidden_visibility(tmp_path) == choice
    document = gradescope.payload(_result(), gradescope.hidden_visibility(tmp_path))
    assert {t["visibility"] for t in document["tests"] if "hidden" in t["name"]} == {choice}


def test_an_unknown_visibility_is_refused(tmp_path):
    """A typo in course.toml is a usage error naming the choices, not a silently visible hidden test."""
    (tmp_path / "course.toml").write_text('[gradescope]\nhidden_visibility = "visible"\n', encoding="utf-8")
    with pytest.raises(UsageError, match="after_due_date, after_published, hidden"):
        gradescope.hidden_visibility(tmp_path)
    (tmp_path / "course.toml").write_text("[course]\n", encoding="utf-8")
    assert gradescope.hidden_visibility(tmp_path) == "after_due_date"


def test_the_course_says_after_due_date():
    """The course's own setting is the default, written out where instructors look for it."""
    assert gradescope.hidden_visibility(ROOT) == "after_due_date"


def test_outputs_are_markdown():
    """Top-level and per-test outputs are rendered as Markdown, so a hint's `code` is code."""
    document = gradescope.payload(_result())
    assert document["output_format"] == document["test_output_format"] == "md"
    assert {t["output_format"] for t in document["tests"]} == {"md"}


def test_public_tests_come_first_with_stable_numbers():
    """Public tests first, then hidden, each in name order, numbered NN.k: the same whatever order the run
    produced them in."""
    result = _result()
    document = gradescope.payload(result)
    names = [t["name"].split(" ", 1)[1] for t in document["tests"]]
    assert names == [f"test_public_{k}" for k in range(3)] + [f"test_hidden_{k}" for k in range(4)]
    assert [t["number"] for t in document["tests"]] == [f"04.{k}" for k in range(1, 8)]
    shuffled = list(result.assignments[0].tests)
    random.Random(4).shuffle(shuffled)
    again = GradeResult((AssignmentResult("04", "Tasks", 3.0, 11.0, "graded", "m", tuple(shuffled)),), True)
    assert [(t["number"], t["name"]) for t in gradescope.payload(again)["tests"]] == \
        [(t["number"], t["name"]) for t in document["tests"]]


def test_an_unsandboxed_run_says_so():
    """The output says when the graded code ran without the sandbox, and only then."""
    assert "Not sandboxed" in gradescope.payload(_result(sandboxed=False))["output"]
    assert "Not sandboxed" not in gradescope.payload(_result(sandboxed=True))["output"]


def test_a_full_submission_is_valid(solutions_result, stubs_result):
    """The reference solutions and the stubs, graded with hidden tests: every field within the specification."""
    for saved in (solutions_result, stubs_result):
        document = gradescope.payload(GradeResult.from_dict(saved))
        _spec_valid(document)
        assert len({t["number"] for t in document["tests"]}) == len(document["tests"])


@pytest.fixture(scope="module")
def gradescope_source(published_out: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The published single-assignment autograder of 01, unzipped as Gradescope does into source/."""
    import zipfile

    out = published_out
    source = tmp_path_factory.mktemp("gradescope-source") / "source"
    with zipfile.ZipFile(out / "gradescope" / "why-async" / "autograder.zip") as archive:
        archive.extractall(source)
    return source


def test_a_grading_failure_is_an_error_the_instructor_sees(gradescope_source, tmp_path):
    """A bundle that cannot grade: no results.json (a stale one removed), so Gradescope reports that the
    autograder failed instead of recording 0; the reason is in the output the instructor reads; exit 1."""
    root = tmp_path / "autograder"
    shutil.copytree(gradescope_source, root / "source")
    (root / "source" / "grader" / "pipeline.py").unlink()
    (root / "submission").mkdir()
    (root / "submission" / "why_async.py").write_text("", encoding="utf-8")
    (root / "results").mkdir()
    (root / "results" / "results.json").write_text('{"score": 0}', encoding="utf-8")
    done = subprocess.run([sys.executable, "-I", str(root / "source" / "gradescope_autograder.py"), str(root)],
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 1
    assert not (root / "results" / "results.json").exists()
    assert "grading failed" in done.stdout and "pipeline" in done.stdout


def test_a_graded_upload_writes_results(gradescope_source, tmp_path):
    """The control: the same autograder, intact, writes a valid results.json with after_due_date hidden tests."""
    root = tmp_path / "autograder"
    shutil.copytree(gradescope_source, root / "source")
    (root / "submission").mkdir()
    (root / "submission" / "why_async.py").write_text(
        (ROOT / "solutions" / "01" / "why_async.py").read_text(encoding="utf-8"), encoding="utf-8")
    done = subprocess.run([sys.executable, "-I", str(root / "source" / "gradescope_autograder.py"), str(root)],
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    _spec_valid(document)
    assert document["score"] == 100
    assert {t["visibility"] for t in document["tests"]} == {"visible", "after_due_date"}
