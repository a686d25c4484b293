"""The platform formats (gradescope, classroom, classroom50) in the student's language.

What a student reads there (each test's feedback, the summary and its notes, the
legacy reporter's names and messages) follows the active language; the machine
fields (keys, statuses, scores, test names) are the same in every language, and
the English output is what it always was.
"""
from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from repo_support import CLASSROOM50_ENV, ROOT, english_left

from coursekit import i18n
from coursekit.test_texts import locale_folders
from grader.model import AssignmentResult, GradeResult
from grader.model import TestResult as Result  # not a test class
from grader.report import classroom, classroom50, gradescope

CJK = re.compile(r"[\u3400-\u9fff]")
RAISED = "Your code raised KeyError at why_async.py:3: 'x'"


@pytest.fixture(autouse=True)
def _test_catalogs() -> None:
    """The assignments' own catalogs (their titles), as `grade` and `report` read them (each test starts
    with none: tests/conftest.py)."""
    i18n.use_test_catalogs(locale_folders(ROOT, ROOT / "tests"))


def _result(*, sandboxed: bool = True, ungraded: float = 0.0) -> GradeResult:
    tests = (Result("test_a", "public", "passed", 2.0, 2.0, ""),
             Result("test_b", "hidden", "error", 0.0, 3.0, RAISED),
             Result("test_c", "public", "timeout", 0.0, 1.0, "your code ran past 5 s in this test."))
    first = AssignmentResult("01", "Why asynchronous?", 2.0, 6.0, "graded", "1/3 tests passed", tests,
                             ungraded_points=ungraded)
    second = AssignmentResult("02", "Why asynchronous?", 0.0, 4.0, "missing",
                              "not submitted: expected assignments/02/coroutines.py")
    return GradeResult((first, second), not ungraded, sandboxed=sandboxed)


def _render_all(result: GradeResult) -> dict[str, Any]:
    return {"gradescope": gradescope.payload(result),
            "classroom": json.loads(base64.b64decode(classroom.render(result, {})).decode()),
            "classroom50": classroom50.payload(result, CLASSROOM50_ENV),
            "summary": classroom50.status_and_summary(result)}


def _by_name(tests: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(t for t in tests if t["name"] == name)


def _read(documents: dict[str, Any]) -> list[str]:
    """Every text a student reads in the three formats."""
    texts = [documents["gradescope"]["output"], *(t["output"] for t in documents["gradescope"]["tests"] if t["output"])]
    texts += [f"{t['name']} {t['message']}" for t in documents["classroom"]["tests"] if t["message"]]
    texts += [t["feedback"] for t in documents["classroom50"]["tests"] if t["feedback"]]
    texts.append(documents["summary"][1])
    return texts


def test_the_formats_read_chinese_in_chinese() -> None:
    result = _result(sandboxed=False, ungraded=10.0)
    with i18n.language("zh_CN"):
        documents = _render_all(result)
    summary = documents["gradescope"]["output"]
    assert "**仅公开测试：**" in summary and "**未在沙箱中运行：**" in summary
    assert "你的代码" in _by_name(documents["gradescope"]["tests"], "01 test_b")["output"]
    pointer = "（完整反馈见本次运行的摘要）"
    assert any(t["message"].endswith(pointer) for t in documents["classroom"]["tests"])
    assert documents["classroom"]["tests"][-1]["name"] == "02 为什么要异步？"  # a missing assignment: its title
    state, line = documents["summary"]
    assert state == "failure" and "个测试通过" in line and "未在沙箱中运行" in line
    assert len(line) <= classroom50.SUMMARY_LIMIT
    for text in _read(documents):
        assert not english_left(text.replace(RAISED.split(": ", 1)[1], "")), text
        assert CJK.search(text) or not text.strip(), text


def test_machine_fields_are_the_same_in_every_language() -> None:
    result = _result(sandboxed=False)
    english = _render_all(result)
    with i18n.language("zh_CN"):
        chinese = _render_all(result)
    for fields in (("number", "name", "score", "max_score", "status", "visibility"),):
        assert [{k: t[k] for k in fields} for t in chinese["gradescope"]["tests"]] == \
            [{k: t[k] for k in fields} for t in english["gradescope"]["tests"]]
    assert [(t["status"], t["score"]) for t in chinese["classroom"]["tests"]] == \
        [(t["status"], t["score"]) for t in english["classroom"]["tests"]]
    drop = ("feedback",)
    assert [{k: v for k, v in t.items() if k not in drop} for t in chinese["classroom50"]["tests"]] == \
        [{k: v for k, v in t.items() if k not in drop} for t in english["classroom50"]["tests"]]
    assert chinese["summary"][0] == english["summary"][0]


def test_english_output_is_unchanged() -> None:
    result = _result(sandboxed=False, ungraded=10.0)
    documents = _render_all(result)
    summary = documents["gradescope"]["output"]
    assert summary.startswith("**Public tests only:** 2/10 is the score of the public tests alone.")
    assert "01: 2/6 (1/3 tests passed)" in summary
    assert summary.endswith("\n\n**Not sandboxed:** the graded code ran without the operating-system sandbox "
                            "(bubblewrap), so this result is no grade of record.")
    assert _by_name(documents["gradescope"]["tests"], "01 test_b")["output"] == RAISED
    names = [t["name"] for t in documents["classroom"]["tests"]]
    assert names == ["01 test_a", "01 test_b", "01 test_c", "02 Why asynchronous?"]
    assert documents["classroom"]["tests"][1]["message"] == RAISED + " (full feedback: the run's summary)"
    assert documents["summary"] == ("failure", "2/10 (1/3 tests passed); not sandboxed: no grade of record")
    assert [t["feedback"] for t in documents["classroom50"]["tests"]] == [t.feedback for t in result.assignments[0].tests]


def test_the_legacy_reporter_names_assignments_in_chinese_within_its_budget() -> None:
    """Per assignment (the fallback when per-test entries do not fit): "01 为什么要异步？: 1/3 个测试通过"."""
    with i18n.language("zh_CN"):
        entry = classroom._assignment_entry(_result().assignments[0])
    assert entry["name"] == "01 为什么要异步？: 1/3 个测试通过"
    assert entry["message"].endswith("（完整反馈见本次运行的摘要）")
    assert not english_left(entry["message"])


def test_a_long_chinese_summary_keeps_the_commit_status_limit() -> None:
    tests = tuple(Result(f"t{i}", "public", "failed", 0.0, 1.0, "") for i in range(100000))
    result = GradeResult((AssignmentResult("01", "Why asynchronous?", 0.0, 1e9, "graded", "", tests),), True, sandboxed=False)
    with i18n.language("zh_CN"):
        _state, line = classroom50.status_and_summary(result)
    assert len(line) <= classroom50.SUMMARY_LIMIT and "未在沙箱中运行" in line
