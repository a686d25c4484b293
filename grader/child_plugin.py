"""The pytest plugin of a graded run, copied into each stage as ``grader_child``.

It runs inside the process that also runs student code, so it reports only
facts the parent cannot see (outcomes and the exceptions behind them) and
the parent trusts nothing else: which tests exist, their points and their
feedback come from the catalog the parent built without student code.

It depends on the standard library and pytest only, so the stage needs no
other part of the grader.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from types import TracebackType
from typing import IO, Any

import pytest

MAX_TEXT = 1500
_report: IO[str] | None = None
_student_file: str | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grader")
    group.addoption("--grader-report", default=None, help="write outcomes here, one JSON object a line")
    group.addoption("--grader-collect", default=None, help="write the collected tests here as JSON")
    group.addoption("--grader-module", default=None, help="the student's module, imported first")


def _emit(record: dict[str, Any]) -> None:
    if _report is not None:
        _report.write(json.dumps(record) + "\n")
        _report.flush()


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _student_location(tb: TracebackType | None) -> str | None:
    """``module.py:LINE in function`` of the innermost frame in the student's file."""
    if _student_file is None:
        return None
    found = None
    for frame, line in traceback.walk_tb(tb):
        if os.path.realpath(frame.f_code.co_filename) == _student_file:
            found = f"{os.path.basename(_student_file)}:{line} in {frame.f_code.co_name}"
    return found


def _describe(exc: BaseException) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "message": _clip(str(exc)),
        "where": _student_location(exc.__traceback__),
    }


def pytest_configure(config: pytest.Config) -> None:
    global _report
    path = config.getoption("grader_report")
    if path:
        _report = open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the run


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    """Import the student's module before the tests do, to report a broken module once, clearly."""
    global _student_file
    name = session.config.getoption("grader_module")
    if not name:
        return
    # The staged folder is the working directory; pytest would put it first on
    # sys.path when importing the tests anyway (rootdir-less "prepend" mode).
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(name)
        _student_file = os.path.realpath(getattr(module, "__file__", "") or "")
    except BaseException as exc:  # noqa: BLE001 - SystemExit at import is a student error too
        record = _describe(exc)
        if isinstance(exc, SyntaxError):
            record["where"] = f"{os.path.basename(exc.filename or name)}:{exc.lineno}"
            record["message"] = _clip(exc.msg or str(exc))
        else:
            record["where"] = record["where"] or _import_location(exc, name)
        _emit({"kind": "module_error", **record})


def _import_location(exc: BaseException, name: str) -> str | None:
    for frame, line in traceback.walk_tb(exc.__traceback__):
        if os.path.basename(frame.f_code.co_filename) == f"{name}.py":
            return f"{name}.py:{line}"
    return None


def pytest_collection_finish(session: pytest.Session) -> None:
    path = session.config.getoption("grader_collect")
    if not path:
        return
    items = []
    for item in session.items:
        marker = item.get_closest_marker("points")
        function = getattr(item, "function", None)
        items.append(
            {
                "nodeid": item.nodeid,
                "points": marker.args[0] if marker and marker.args else None,
                "doc": (getattr(function, "__doc__", None) or "").strip(),
            }
        )
    with open(path, "w", encoding="utf-8") as out:
        json.dump(items, out)


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _emit({"kind": "start", "nodeid": nodeid})


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    record: dict[str, Any] = {"kind": "phase", "nodeid": item.nodeid, "when": call.when, "outcome": report.outcome}
    if call.excinfo is not None and report.outcome != "passed":
        record.update(_describe(call.excinfo.value))
    _emit(record)
    return report
