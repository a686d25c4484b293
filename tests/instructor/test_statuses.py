"""Honest statuses: what a record says of each assignment, and that only grades count anywhere.

In-process unit tests of grader.instructor.statuses and the results it feeds
(summary.json, grades.csv), and of course.toml's ``released`` setting.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from repo_support import ROOT

from grader.errors import UsageError
from grader.instructor.results import class_statistics, grades_csv, summary_json, total
from grader.instructor.statuses import cell, complete, counted, only
from grader.manifest import load_manifest
from grader.model import AssignmentResult, GradeResult
from grader.model import TestResult as Run
from grader.score import tampered

MANIFEST = load_manifest(ROOT)
IDS = [a.id for a in MANIFEST.assignments]


def _assignment(assignment_id: str, score: float, status: str = "graded",
                flags: tuple[str, ...] = ()) -> AssignmentResult:
    test = Run("test_it", "public", "passed" if score else "failed", score, 100.0, "")
    return AssignmentResult(assignment_id, f"title {assignment_id}", score, 100.0, status,  # type: ignore[arg-type]
                            "", (test,), flags=flags)


def _record(student: str, scores: dict[str, float], *, status: str = "graded", not_started: list[str] | None = None,
            not_graded: dict[str, str] | None = None, held: dict[str, tuple[str, ...]] | None = None,
            voided: tuple[str, ...] = ()) -> dict[str, Any]:
    held = held or {}
    assignments = []
    for i in IDS:
        if i in voided:
            assignments.append(_assignment(i, 0.0, "void", ("your code changed the tests",)))
        elif i in held:
            assignments.append(_assignment(i, scores.get(i, 0.0), "flagged", held[i]))
        else:
            assignments.append(_assignment(i, scores.get(i, 0.0)))
    result = GradeResult(tuple(assignments), hidden_tests_included=True, sandboxed=True)
    return {"student": student, "status": status, "message": "clone failed" if status == "error" else "",
            "not_started": not_started or [], "not_graded": not_graded or {}, "result": result.to_dict()}


FULL = {i: 100.0 for i in IDS}


def test_each_status_is_told_apart() -> None:
    record = _record("ann", {**FULL, "02": 40.0}, status="partial", not_started=["03"],
                     not_graded={"04": "the submission's time budget ran out"},
                     held={"05": ("the grader does not allow starting a program (subprocess.Popen)",)},
                     voided=("06",))
    statuses = {i: cell(record, i).status for i in IDS}
    assert statuses == {"01": "graded", "02": "graded", "03": "not_started", "04": "attempted", "05": "flagged",
                        "06": "flagged", "07": "graded", "08": "graded", "09": "graded"}
    assert cell(record, "02").score == 40.0 and cell(record, "02").counts
    held = cell(record, "05")
    assert held.score == 100.0 and not held.counts and held.flags == (
        "the grader does not allow starting a program (subprocess.Popen)",)
    assert "time budget" in cell(record, "04").why and cell(record, "04").score is None
    assert cell(record, "06").flags == ("your code changed the tests",)
    assert counted(record) == {i: s for i, s in {**FULL, "02": 40.0}.items() if i not in ("03", "04", "05", "06")}


def test_a_record_that_could_not_be_graded_is_an_error_in_every_cell() -> None:
    record = _record("bob", {}, status="error")
    assert {cell(record, i).status for i in IDS} == {"error"}
    assert cell(record, "01").why == "clone failed"
    assert counted(record) == {} and total(record) is None and not complete(record)


def test_a_total_exists_only_when_nothing_is_held_or_ungraded() -> None:
    assert total(_record("a", FULL)) == 900.0
    assert total(_record("b", {**FULL, "09": 0.0}, not_started=["09"])) == 800.0  # what was earned
    assert total(_record("c", FULL, held={"01": ("flag",)})) is None  # the held score would leak into it
    assert total(_record("d", FULL, status="partial", not_graded={"01": "out of time"})) is None


def test_statistics_count_only_grades_never_a_non_grade_as_zero() -> None:
    records = [
        _record("graded", {**FULL, "01": 80.0}),
        _record("held", FULL, held={"01": ("flag",)}),
        _record("voided", FULL, voided=("01",)),
        _record("stub", {**FULL, "01": 0.0}, not_started=["01"]),
        _record("slow", FULL, status="partial", not_graded={"01": "out of time"}),
        _record("clone", {}, status="error"),
    ]
    stats = class_statistics(IDS, records)
    assert stats["assignments"]["01"] == {"students": 1, "mean": 80.0, "median": 80.0}
    assert stats["total"] == {"students": 1, "mean": 880.0, "median": 880.0}
    assert (stats["not_started"]["01"], stats["attempted"]["01"], stats["flagged"]["01"]) == (1, 1, 2)


def test_grades_csv_leaves_every_non_grade_empty_and_says_which() -> None:
    records = [_record("held", {**FULL, "02": 70.0}, held={"02": ("flag",)}),
               _record("slow", FULL, status="partial", not_graded={"03": "out of time"})]
    rows = list(csv.DictReader(io.StringIO(grades_csv(MANIFEST, records))))
    assert [(r["02"], r["total"], r["flagged"], r["attempted"]) for r in rows] == [
        ("", "", "02", ""), ("100", "", "", "03")]
    assert rows[1]["03"] == "" and rows[1]["status"] == "partial"


def test_summary_json_lists_attempted_and_flagged() -> None:
    records = [_record("held", FULL, voided=("07",))]
    [line] = json.loads(summary_json(MANIFEST, records))["students"]
    assert line["flagged"] == ["07"] and line["attempted"] == [] and "07" not in line["assignments"]
    assert line["score"] is None


def test_tampering_voids_the_assignment_and_says_why_in_its_flags() -> None:
    from grader.catalog import Entry

    entries = [Entry("tests/01/test_x.py::test_a", "test_a", "hidden", 10, "doc")]
    voided = tampered(MANIFEST.get("01"), entries, ["tests/01/test_x.py"])
    assert voided.status == "void" and voided.score == 0.0
    assert voided.flags and "changed the tests" in voided.flags[0]
    again = GradeResult.from_dict(GradeResult((voided,), True).to_dict())
    assert again.assignments[0].flags == voided.flags  # the flags survive the JSON round trip


def _course(tmp_path: Path, released: str) -> Path:
    text = (ROOT / "course.toml").read_text(encoding="utf-8")
    marker = 'id = "02"\n'
    assert marker in text
    (tmp_path / "course.toml").write_text(text.replace(marker, marker + f"released = {released}\n"), encoding="utf-8")
    return tmp_path


def test_an_unreleased_assignment_is_out_of_grades_csv_summary_and_totals(tmp_path: Path) -> None:
    manifest = replace(load_manifest(_course(tmp_path, "false")), root=ROOT)
    assert [a.id for a in manifest.released().assignments] == [i for i in IDS if i != "02"]
    records = [_record("ann", {**FULL, "02": 50.0})]
    rows = list(csv.DictReader(io.StringIO(grades_csv(manifest, records))))
    assert "02" not in rows[0] and rows[0]["total"] == "800"
    summary = json.loads(summary_json(manifest, records))
    assert summary["students"][0]["score"] == 800.0 and summary["students"][0]["max_score"] == 800.0
    assert "02" not in summary["statistics"]["assignments"]
    narrowed = only(records[0], ["01"])
    assert [a["id"] for a in narrowed["result"]["assignments"]] == ["01"]


def test_released_must_be_true_or_false(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="released = 'no'; use true or false"):
        load_manifest(_course(tmp_path, '"no"'))


@pytest.mark.parametrize(("lang", "note"), [("en", "Flagged: your code tried something the grader refuses"),
                                            ("zh_CN", "待复核：你的代码尝试了评分程序不允许的操作")])
def test_a_student_is_told_what_flagged_means_in_their_language(lang: str, note: str) -> None:
    from coursekit import i18n
    from grader.report import render

    flagged = _assignment("01", 100.0, "flagged", ("the grader does not allow starting a program (os.system)",))
    result = GradeResult((flagged,), hidden_tests_included=True, sandboxed=True)
    clean = GradeResult((_assignment("01", 100.0),), hidden_tests_included=True, sandboxed=True)
    with i18n.language(lang):
        assert note in render(result, "text", {}) and note.split("：")[-1].split(": ")[-1] in render(result, "markdown", {})
        assert note not in render(clean, "text", {})
