"""The pytest plugin of a graded run, copied into each stage as ``grader_child``.

It runs inside the process that also runs student code, so it reports only
facts the parent cannot see (outcomes and the exceptions behind them) and
the parent trusts nothing else: which tests exist, their points and their
feedback come from the catalog the parent built without student code.

Before the student's module is imported it arms the guard (``grader_guard``,
beside it in the runtime) and the watchdog, and after the import and after
every test it checks that the libraries the tests rely on are still what
they were.

It depends on the standard library, pytest and the guard only, so the
runtime needs no other part of the grader.
"""
from __future__ import annotations

import faulthandler
import importlib
import json
import os
import sys
import time
import traceback
from types import TracebackType
from typing import IO, Any

import grader_guard
import pytest

MAX_TEXT = 1500
REARM_EVERY = 1.0  # seconds
_clock = time.monotonic  # taken before any test can monkeypatch time
_report: IO[str] | None = None
_student_file: str | None = None
_baseline: grader_guard.Baseline | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grader")
    group.addoption("--grader-report", default=None, help="write outcomes here, one JSON object a line")
    group.addoption("--grader-collect", action="store_true", default=False,
                    help="report the collected tests (a record each, then one with their count)")
    group.addoption("--grader-module", default=None, help="the student's module, imported first")
    group.addoption("--grader-network", default="none", choices=("none", "loopback"),
                    help="whether graded code may connect to loopback")
    group.addoption("--grader-watchdog", default=None,
                    help="arm the watchdog; it writes the stack here when it ends the process")
    group.addoption("--grader-secret", action="append", default=[],
                    help="a folder graded code may not read (the course's hidden tests and solutions)")


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
    student_error = getattr(exc, "student_error", None)
    if isinstance(student_error, dict) and all(isinstance(student_error.get(k), str) for k in ("type", "message")):
        # A judged test: the student's exception came over from the student process (coursekit.judge.StudentRaised).
        where = student_error.get("where")
        return {"type": student_error["type"], "message": _clip(student_error["message"]),
                "where": where if isinstance(where, str) else None}
    return {
        "type": type(exc).__name__,
        "message": _clip(str(exc)),
        "where": _student_location(exc.__traceback__),
    }


def pytest_configure(config: pytest.Config) -> None:
    global _report, _watchdog
    path = config.getoption("grader_report")
    if path:
        # The grader's named pipe (it reads as the run writes); append mode also suits a plain file.
        _report = open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the run
    watchdog = config.getoption("grader_watchdog")
    if watchdog:
        # Twice the per-test timeout and a second: pytest-timeout has had its chance by then.
        _watchdog = Watchdog(2 * float(config.getini("timeout") or 5) + 1, watchdog)


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    """Import the student's module before the tests do, to report a broken module once, clearly."""
    global _student_file
    name = session.config.getoption("grader_module")
    if not name:
        _emit({"kind": "imported"})  # nothing to import: a watchdog that fires later ended something else
        return
    if os.environ.get("COURSE_JUDGE_FD"):
        _import_in_student_process(name, float(session.config.getini("timeout") or 5))
        return
    # The staged folder is the working directory; pytest would put it first on
    # sys.path when importing the tests anyway (rootdir-less "prepend" mode).
    global _baseline
    sys.path.insert(0, os.getcwd())
    guard = grader_guard.Guard(
        scratch=os.environ.get("TMPDIR") or os.getcwd(),
        tests=[os.path.join(os.getcwd(), f) for f in os.listdir(".") if f.startswith("test_") and f.endswith(".py")],
        loopback=session.config.getoption("grader_network") == "loopback",
        secret_dirs=session.config.getoption("grader_secret"),
        report=_emit,
    )
    _baseline = grader_guard.Baseline()
    if _watchdog is not None:
        # Armed before the import: a module that sleeps or spins at import costs one test's limit, not the
        # whole assignment's time budget.
        _watchdog.arm()
    guard.arm()
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
    # Without this record, a watchdog that fired before any test started ended the import.
    _emit({"kind": "imported"})
    _check_untouched("while it was imported", full=True)


def _import_in_student_process(name: str, timeout: float) -> None:
    """A judged run: the student process imports the module (reported once, clearly); this process never does."""
    from coursekit import judge, protocol
    from coursekit.probes import kit, reference

    # Not importable here: a test that tried would be the course's bug, and must not run student code.
    sys.modules[name] = None  # type: ignore[assignment]
    judge.refusal_sink = lambda message: _emit({"kind": "refused", "message": _clip(message)})
    judge.tamper_sink = _tampered_in_student_process
    if _watchdog is not None:
        _watchdog.arm()
    limit = 2 * timeout + 1
    try:
        reply = judge.transport().call(reference(kit.imported), protocol.encode({}), name, limit)
        problem = reply.get("import_error")
        error = protocol.decode(problem) if problem is not None else None
        if problem is not None and not isinstance(error, protocol.ErrorInfo):
            raise protocol.Malformed("an import error that is not an exception")
    except judge.CallExited as exc:
        error = protocol.ErrorInfo(type="SystemExit", classes=("SystemExit",),
                                   message=str(exc).replace("your code ended the process", "importing your module "
                                                            "ended the process", 1))
    except judge.CallTimedOut:
        error = protocol.ErrorInfo(type="TimeoutError", classes=("TimeoutError",), message=(
            f"importing your module ran past {limit:g} s of real time; does your module sleep, wait or loop "
            "when it is imported?"))
    except (protocol.Malformed, judge.StudentGone) as exc:
        error = protocol.ErrorInfo(type="RuntimeError", classes=("RuntimeError",),
                                   message=f"the process running your module failed: {exc}")
    if error is not None:
        where = error.where.split(" in ")[0] if error.where else None
        message = error.message
        if error.is_a("SyntaxError") and type(error.attributes.get("lineno")) is int:
            where = f"{os.path.basename(str(error.attributes.get('filename') or name))}:{error.attributes['lineno']}"
            message = str(error.attributes.get("msg") or message)
        _emit({"kind": "module_error", "type": error.name, "message": _clip(message), "where": where})
        global _judged_module_broken
        _judged_module_broken = True
    _emit({"kind": "imported"})


_judged_module_broken = False


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    # A judged run whose module cannot be imported runs no test: each would only fail the same way, slowly
    # where the import hangs. The report's module error is every test's feedback, as when tests cannot import it.
    if _judged_module_broken and not config.getoption("grader_collect"):
        config.hook.pytest_deselected(items=list(items))
        items[:] = []
    if config.getoption("tbstyle", "auto") == "no":
        for item in items:
            item.repr_failure = _unrendered  # type: ignore[method-assign]
            item._repr_failure_py = _unrendered  # type: ignore[method-assign]


def _unrendered(excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
    """A failing test's report text in a graded run: its exception's class, nothing rendered.

    The grader reads the exception itself (``_describe``) and pytest shows no
    traceback (``--tb=no``), yet pytest renders one for every failure anyway:
    a fifth of the judge's time in a stub's run (measured), and seconds where
    code under test recursed without end.
    """
    return type(excinfo.value).__name__


_student_process_tampered = False


def _tampered_in_student_process(message: str) -> None:
    """Report, once, what the student's code replaced in the student process (the probes, asyncio, looptime...)."""
    global _student_process_tampered
    if not _student_process_tampered:
        _student_process_tampered = True
        _emit({"kind": "tampered", "message": _clip(f"in the process that runs it, {message}")})


def _check_untouched(when: str, *, full: bool) -> None:
    """Report what the student's code replaced in the libraries the tests rely on."""
    if _baseline is None:
        return
    changed = _baseline.replaced(full=full)
    if changed:
        _emit({"kind": "tampered", "message": _clip(f"{when}, your code replaced {', '.join(changed[:5])}")})


def _import_location(exc: BaseException, name: str) -> str | None:
    for frame, line in traceback.walk_tb(exc.__traceback__):
        if os.path.basename(frame.f_code.co_filename) == f"{name}.py":
            return f"{name}.py:{line}"
    return None


def pytest_collection_finish(session: pytest.Session) -> None:
    # Into the report, not a file: a sandboxed run cannot write beside its stage.
    if not session.config.getoption("grader_collect"):
        return
    for item in session.items:
        marker = item.get_closest_marker("points")
        function = getattr(item, "function", None)
        _emit({
            "kind": "collected",
            "nodeid": item.nodeid,
            "points": marker.args[0] if marker and marker.args else None,
            "doc": (getattr(function, "__doc__", None) or "").strip(),
        })
    _emit({"kind": "collection_finished", "count": len(session.items)})


class Watchdog:
    """Ends the process when one test (setup, call and teardown), or the import, runs far past the test timeout.

    pytest-timeout's alarm raises inside the test, and code that swallows
    exceptions or ignores the signal outlives it (a task that catches
    CancelledError keeps pytest-asyncio's cleanup waiting for ever). The
    watchdog is faulthandler's: a C thread that needs neither the GIL nor any
    lock the test's code could be holding. It writes the stack to its own
    file, which tells the grader it fired, and exits; the grader runs the
    tests after this one in a new process.
    """

    def __init__(self, limit: float, path: str) -> None:
        self.limit = limit
        self._file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the run
        self._armed_at = -REARM_EVERY

    def arm(self) -> None:
        """Make sure at least ``limit`` seconds are left before the watchdog fires (at most one more).

        Each arming starts a new thread, so it happens at most once every
        REARM_EVERY seconds, not at every one of hundreds of quick tests.
        """
        now = _clock()
        if now - self._armed_at >= REARM_EVERY:
            faulthandler.dump_traceback_later(self.limit + REARM_EVERY, exit=True, file=self._file)
            self._armed_at = now


_watchdog: Watchdog | None = None


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _emit({"kind": "start", "nodeid": nodeid})
    if _watchdog is not None:
        _watchdog.arm()


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    if _watchdog is not None:
        # Re-armed, not disarmed: what the code left behind can hang pytest between tests, or at its end.
        _watchdog.arm()
    # After teardown every fixture has undone its own patches: what is still replaced, the code under test did.
    _check_untouched(f"in {nodeid.rpartition('::')[2]}", full=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _check_untouched("by the end of the run", full=True)
    # pytest got to its end: an exit status without this record is the code's own exit.
    _emit({"kind": "finished", "status": int(exitstatus)})


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    record: dict[str, Any] = {"kind": "phase", "nodeid": item.nodeid, "when": call.when, "outcome": report.outcome}
    if call.excinfo is not None and report.outcome != "passed":
        record.update(_describe(call.excinfo.value))
    _emit(record)
    return report
