"""The probe runtime: what runs beside the student's code, in the student process.

A test (the judge) never calls student code itself. It asks for a
*scenario*: a function of this package, registered with :func:`scenario`,
that builds the probes (jobs on the virtual clock, failing callables, queues,
mocked or loopback HTTP), calls the student's functions and returns what it
observed as plain data. The scenarios hold mechanics only: the inputs come
from the test as parameters (drawn per run from a seed when graded) and the
expected values stay in the test, on the judge's side.

:func:`execute` runs one scenario: it imports the student's module, runs the
scenario (a coroutine on a fresh event loop with a virtual clock), and
returns the reply the judge decodes: the result, the loop time, the
warnings, the log records, and an error the scenario itself let through.
Locally it runs in the test's own process; when graded, in the student
process (a fresh fork per call, see ``grader/student_server.py``).
"""
from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import logging
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import coursekit
from coursekit import protocol

# The kit's frames stay out of the failure a student reads (coursekit.hidden_in_judged_failures).
__tracebackhide__ = coursekit.hidden_in_judged_failures

SCENARIO_PACKAGE = "coursekit.probes"
# The thread of the judge's side (coursekit.served): a local run's log capture leaves its records out.
JUDGE_THREAD = "judge-side loop"
_ATTRIBUTE = "__course_scenario__"

# The warnings a test run turns into errors (pyproject.toml and grader/pytest_options.py say the same).
WARNING_FILTERS: tuple[tuple[str, str, type[Warning], str], ...] = (
    ("error", "", DeprecationWarning, ""),
    ("ignore", "There is no current event loop", DeprecationWarning, "looptime"),
    ("ignore", "", DeprecationWarning, "pytest_asyncio"),
)


def scenario(function: Callable[..., Any]) -> Callable[..., Any]:
    """Register ``function`` as a scenario the judge may ask for.

    It is called as ``function(probe, **params)``: ``probe`` is the
    :class:`Probe` of this call, ``params`` the test's plain-data inputs. It
    returns plain data (what :func:`coursekit.protocol.encode` carries). A
    coroutine function runs on a fresh event loop with a virtual clock.
    """
    setattr(function, _ATTRIBUTE, True)
    return function


def reference(function: Callable[..., Any]) -> str:
    """The name by which the judge asks for a scenario: ``module:function``."""
    if not getattr(function, _ATTRIBUTE, False):
        raise TypeError(f"{function!r} is not a registered scenario")
    return f"{function.__module__}:{function.__qualname__}"


def resolve(ref: str) -> Callable[..., Any]:
    """The scenario named ``ref``; only registered functions of this package are ever resolved."""
    module_name, _, name = ref.partition(":")
    if not module_name.startswith(SCENARIO_PACKAGE + ".") or not name.isidentifier():
        raise LookupError(f"not a scenario: {ref!r}")
    module = importlib.import_module(module_name)
    function = vars(module).get(name)
    if function is None or not getattr(function, _ATTRIBUTE, False):
        raise LookupError(f"not a scenario: {ref!r}")
    return function


@dataclass
class Probe:
    """What a scenario gets: the student's module and an event log stamped with the loop's clock."""

    module: ModuleType
    events: list[list[Any]] = field(default_factory=list)

    def function(self, name: str) -> Any:
        """The student's ``name`` (an ``AttributeError`` the judge reports if it is missing)."""
        return getattr(self.module, name)

    def now(self) -> float:
        """The running loop's time (0.0 when no loop runs)."""
        loop = asyncio._get_running_loop()
        return float(loop.time()) if loop is not None else 0.0

    def note(self, kind: str, *detail: Any) -> None:
        """Add ``[time, kind, *detail]`` to the event log the judge receives."""
        self.events.append([round(self.now(), 6), kind, *detail])


@dataclass
class _Captured:
    warnings: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)


class _LogSink(logging.Handler):
    """Every log record of a scenario, as plain data.

    A record whose arguments do not fit its message (``log.exception("",
    item)``) raises its formatting error in the code that logged it, as
    pytest's own log capture does in a local run: the same mistake fails the
    same way in both modes, instead of passing unnoticed in the student process.
    """

    def __init__(self, into: list[dict[str, Any]]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        if record.threadName == JUDGE_THREAD:
            return  # a local run: the judge's own servers log in this process too, and they are not the student's
        message = record.getMessage()
        if len(self.into) >= 500:
            return
        self.into.append({"logger": record.name, "level": record.levelname, "message": message[:2000],
                          "exc_type": record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else None})


@contextlib.contextmanager
def _capture() -> Iterator[_Captured]:
    captured = _Captured()
    root = logging.getLogger()
    sink = _LogSink(captured.logs)
    level = root.level
    root.addHandler(sink)
    root.setLevel(logging.DEBUG)
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            for action, message, category, module in reversed(WARNING_FILTERS):
                warnings.filterwarnings(action, message=message, category=category, module=module)
            try:
                yield captured
            finally:
                for item in seen[:100]:
                    captured.warnings.append({"category": item.category.__name__, "message": str(item.message)[:2000],
                                              "filename": str(item.filename), "lineno": int(item.lineno or 0)})
    finally:
        root.removeHandler(sink)
        root.setLevel(level)


# The parameter through which a test hands a scenario the judge's clock (``coursekit.served.JudgeSide.clock``).
CLOCK_PARAM = "clock"


def _virtual_loop(clock: Any = None) -> asyncio.AbstractEventLoop:
    """A fresh loop on a virtual clock: its own (looptime), or the one the judge leads at address ``clock``."""
    if clock is not None:
        from coursekit.clock import FollowerLoop

        if type(clock) is not str:
            raise protocol.Malformed("a scenario's clock is not an address")
        return FollowerLoop(clock)
    import looptime

    from coursekit.clock import NOOP_CYCLES

    # looptime's default is 42 idle iterations before each move of the clock: most of a scenario's loop
    # iterations were those. The shared clock moves after as few (coursekit.clock), measured deterministic.
    return looptime.new_event_loop(start=0.0, noop_cycles=NOOP_CYCLES)


def _run_async(loop: asyncio.AbstractEventLoop, coro: Any) -> tuple[Any, float, list[str]]:
    """Run ``coro`` on ``loop`` (fresh, virtual time); its result, the loop time at its end, and tasks left running."""
    previous = asyncio._get_running_loop()
    asyncio.set_event_loop(loop)
    try:
        task = loop.create_task(coro)
        try:
            result = loop.run_until_complete(task)
        finally:
            ended_at = float(loop.time())
            left = [t for t in asyncio.all_tasks(loop) if not t.done()]
            names = [task_name(t) for t in left]
            for t in left:
                t.cancel()
            if left:
                with contextlib.suppress(BaseException):
                    loop.run_until_complete(asyncio.wait(left, timeout=1))
            with contextlib.suppress(BaseException):
                loop.run_until_complete(loop.shutdown_asyncgens())
        return result, ended_at, names
    finally:
        asyncio.set_event_loop(None)
        loop.close()
        if previous is not None:  # pragma: no cover - scenarios never run inside a running loop
            asyncio.set_event_loop(previous)


def _run_sync(function: Callable[..., Any], probe: Probe, arguments: dict[str, Any]) -> Any:
    """A synchronous scenario, started with no current loop in both modes, and the thread's loop put back after.

    In the student process no loop is current; a local run's test may have one
    (pytest's plugins set it): without this a scenario about loops would see
    different states locally and when graded.
    """
    from coursekit.loops import current_loop

    previous = current_loop()
    asyncio.set_event_loop(None)
    try:
        return function(probe, **arguments)
    finally:
        asyncio.set_event_loop(previous)


def task_name(task: asyncio.Task[Any]) -> str:
    """A task as a test names it: its coroutine's qualified name, else the task's own name."""
    coro = task.get_coro()
    return getattr(coro, "__qualname__", None) or task.get_name()


@contextlib.contextmanager
def guard_sleep(module: ModuleType, seen: list[str]) -> Iterator[None]:
    """``time.sleep`` (and the module's own names for it) raise the course's blocking-call signal while a loop runs.

    The student process's version of the plugin's ``_forbid_blocking_sleep``
    fixture: the calls stopped are listed in ``seen``, so a signal the
    student's code swallowed is still reported.
    """
    from coursekit import hints, i18n
    from coursekit.testing import BlockingCallError

    def guarded_sleep(seconds: float) -> None:
        if asyncio._get_running_loop() is not None:
            seen.append(f"time.sleep({seconds!r})")
            raise BlockingCallError(i18n._(hints.BLOCKED_CALL).format(call=f"time.sleep({seconds!r})"))
        _REAL_SLEEP(seconds)

    import pytest

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "sleep", guarded_sleep)
        for name, value in list(vars(module).items()):
            if value is _REAL_SLEEP:
                patch.setattr(module, name, guarded_sleep)
        yield


def execute(ref: str, params: Any, module_name: str, *, guard: bool = False) -> dict[str, Any]:
    """Run scenario ``ref`` with encoded ``params`` against the module ``module_name``: the reply to send.

    The reply is ``{"result", "error", "signal", "loop_time", "left_running",
    "events", "warnings", "logs", "import_error"}``; values are encoded.
    ``guard``: stop ``time.sleep`` inside the loop (both modes do: the
    plugin's fixture leaves judged tests to this). An
    exception that escapes the scenario is the ``error`` (the scenarios catch
    what they expect of the student's code themselves); a course signal (a
    blocking call the guard stopped) is the ``signal``.
    """
    reply: dict[str, Any] = {"result": None, "error": None, "signal": None, "loop_time": None,
                             "left_running": [], "events": [], "warnings": [], "logs": [], "import_error": None}
    function = resolve(ref)
    arguments = protocol.decode(params)
    if type(arguments) is not dict:
        raise protocol.Malformed("a scenario's parameters are not a dict")
    import sys

    # Known before the import: an error raised while importing names its line too. Looked up once per
    # module: a scenario runs hundreds of times against the same one.
    if module_name not in sys.modules or module_name not in _module_files:
        _module_files[module_name] = _module_file(module_name)
    protocol.student["file"] = _module_files[module_name]
    try:
        module = importlib.import_module(module_name)
    except BaseException as exc:  # noqa: BLE001 - SystemExit at import is the student's error too
        reply["import_error"] = protocol.encode(exc)
        return reply
    probe = Probe(module=module)
    blocked: list[str] = []
    guarding = guard_sleep(module, blocked) if guard else contextlib.nullcontext()
    # Made before the capture starts: asyncio's own "Using selector" debug record is not the student's.
    clock = arguments.pop(CLOCK_PARAM, None)
    loop = _virtual_loop(clock) if inspect.iscoroutinefunction(function) else None
    with _capture() as captured, guarding:
        try:
            if loop is not None:
                result, ended_at, left = _run_async(loop, function(probe, **arguments))
                reply["loop_time"] = ended_at
                reply["left_running"] = left
            else:
                result = _run_sync(function, probe, arguments)
            reply["result"] = protocol.encode(result)
        except BaseException as exc:  # noqa: BLE001 - whatever escapes is reported, never raised here
            if _is_course_signal(exc):
                reply["signal"] = {"type": type(exc).__name__, "message": protocol._safe_str(exc)}
            elif isinstance(exc, (KeyboardInterrupt,)):
                raise
            else:
                reply["error"] = protocol.encode(exc)
    if blocked and reply["signal"] is None:
        # Swallowed by the student's code (except BaseException, gather(return_exceptions=True)): still a failure.
        from coursekit import hints, i18n

        reply["signal"] = {"type": "BlockingCallError",
                           "message": i18n._(hints.BLOCKED_CALL_HIDDEN).format(call=blocked[0], count=len(blocked))}
    reply["events"] = protocol.encode(probe.events)
    reply["warnings"] = captured.warnings
    reply["logs"] = captured.logs
    return reply


_module_files: dict[str, str | None] = {}


def _module_file(module_name: str) -> str | None:
    """The real path of the file module ``module_name`` would be imported from, or None."""
    import importlib.util
    import os

    try:
        found = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        found = None
    return os.path.realpath(found.origin) if found is not None and found.origin else None


def _is_course_signal(exc: BaseException) -> bool:
    try:
        from coursekit.testing import CourseSignal
    except ImportError:  # pragma: no cover - coursekit.testing needs pytest, which the runtime has
        return False
    return isinstance(exc, CourseSignal)


def real_sleep() -> Callable[[float], None]:
    """``time.sleep`` as it was before any scenario patched it."""
    return _REAL_SLEEP


_REAL_SLEEP = time.sleep
