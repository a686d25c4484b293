"""The project's one atomic writer and one grades.csv writer."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from grader.files import write_atomic
from grader.instructor.grades_csv import GradeRow, grades_csv


def test_write_atomic_replaces_the_whole_file_and_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "grades.csv"
    target.write_text("old\n", encoding="utf-8")
    write_atomic(target, "new\n")
    assert target.read_text(encoding="utf-8") == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grades.csv"]


def test_write_atomic_never_writes_through_a_link_left_at_its_temporary_name(tmp_path: Path) -> None:
    """A link planted where the temporary file goes is removed, not followed: the file it points to is untouched."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    target = tmp_path / "summary.json"
    partial = target.with_name(f".{target.name}.{os.getpid()}-{threading.get_ident()}.partial")
    partial.symlink_to(victim)
    write_atomic(target, "{}\n")
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert target.read_text(encoding="utf-8") == "{}\n" and not target.is_symlink()


def test_write_atomic_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "grades.csv"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "half \udcff")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grades.csv"]


def test_grades_csv_guards_every_text_cell_against_spreadsheet_formulas() -> None:
    """A student name, a status or a date a spreadsheet would run as a formula is quoted; numbers stay numbers."""
    row = GradeRow(student="=HYPERLINK(\"http://x\")", status="graded", scores={"01": 80.0}, total=80.0,
                   dated=True, late={"01": (1, 10.0)}, first_seen_at="@now", committed_at="+1", as_of="-1")
    lines = grades_csv(["01"], [row]).splitlines()
    assert lines[0] == "student,01,total,status,not_started,attempted,flagged,01 late_days,01 final,final_total,first_seen_at," \
                       "committed_at,as_of"
    assert lines[1] == "\"'=HYPERLINK(\"\"http://x\"\")\",80,80,graded,,,,1,72,72,'@now,'+1,'-1"


def test_grades_csv_leaves_what_is_no_grade_empty() -> None:
    rows = [GradeRow("alice", "graded", {"01": 100.0, "02": 50.0}, 150.0),
            GradeRow("bob", "partial", {"01": 90.0}, None),
            GradeRow("carol", "graded", {"02": 30.0}, 30.0, not_started=frozenset({"01"})),
            GradeRow("dave", "error", {}, None)]
    assert grades_csv(["01", "02"], rows) == ("student,01,02,total,status,not_started,attempted,flagged\n"
                                              "alice,100,50,150,graded,,,\nbob,90,,,partial,,,\n"
                                              "carol,,30,30,graded,01,,\ndave,,,,error,,,\n")
