"""Fresh interpreters the judge starts (``Student.fresh``) and the strict reading of what they print."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from coursekit.judge import CallTimedOut, LocalTransport, Student
from coursekit.probes import p03

GOOD = '''
import asyncio

def run_legacy(coro_fn, /, *args):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(coro_fn(*args))
    finally:
        asyncio.set_event_loop(None)
        loop.close()
'''


@pytest.fixture
def student(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Student:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fresh_stand_in", raising=False)
    return Student(module="fresh_stand_in", seed=1, via=LocalTransport())


def _submit(tmp_path: Path, source: str) -> None:
    (tmp_path / "fresh_stand_in.py").write_text(source)


def test_a_correct_module_reports_each_call(student: Student, tmp_path: Path) -> None:
    _submit(tmp_path, GOOD)
    seen = p03.fresh_legacy_runs(student, calls=[{"double": 4}, {"error": ["KeyError", "k"]}])
    assert seen == {"outcomes": [{"returned": ["int", "8"]}, {"raised": ["KeyError", "KeyError: 'k'"]}],
                    "left": "none", "failed": None}


@pytest.mark.parametrize("printed", [
    'RESULT {"outcomes": [{"returned": ["int", "8"]}], "left": "none"}',            # one call short
    'RESULT {"outcomes": [{"returned": ["int", 8]}, {"raised": ["E", "m"]}], "left": "none"}',  # not text
    'RESULT {"outcomes": [{"returned": ["int", "8"]}, {"raised": ["E", "m"]}], "left": "gone"}',
    'RESULT {"outcomes": [{"returned": ["int", "8"], "raised": ["E", "m"]}, {}], "left": "none"}',
    'RESULT [1, 2]',
    'RESULT not json',
])
def test_a_report_of_another_shape_is_a_failure_never_a_result(student: Student, tmp_path: Path, printed: str) -> None:
    """The fresh process holds student code: what it prints is read strictly."""
    _submit(tmp_path, f"import os, sys\ndef run_legacy(coro_fn, /, *args):\n    print({printed!r}); sys.stdout.flush(); os._exit(0)\n")
    seen = p03.fresh_legacy_runs(student, calls=[{"double": 4}, {"error": ["KeyError", "k"]}])
    assert seen["outcomes"] is None and seen["failed"], seen


def test_a_missing_module_and_an_endless_one_fail_clearly(student: Student, tmp_path: Path) -> None:
    assert "ModuleNotFoundError" in p03.fresh_legacy_runs(student, calls=[{"double": 1}])["failed"]
    _submit(tmp_path, "import time\ndef run_legacy(coro_fn, /, *args):\n    time.sleep(60)\n")
    student.time_limit = 0.5
    with pytest.raises(CallTimedOut, match="still running after 0.5 s"):
        p03.fresh_legacy_runs(student, calls=[{"double": 1}])
