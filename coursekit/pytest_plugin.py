"""The course's pytest plugin: the points marker, the blocking-call guard and hints.

Loaded with ``-p coursekit.pytest_plugin`` by the repository's pytest
configuration (for students) and by the grader's isolated runs.
"""
from __future__ import annotations

import asyncio
import gc
import inspect
import os
import sys
import time
from collections.abc import Generator, Iterator
from typing import Any

import pytest
from looptime import LoopTimeProxy

import coursekit
from coursekit import hints, i18n, testing
from coursekit.judge import student  # noqa: F401  (the judged tests' one way to the student's code)
from coursekit.testing import BlockingCallError, leaves

_FAILED = pytest.StashKey[bool]()
_PREVIOUS_LANGUAGE = pytest.StashKey[str]()
HINT_TITLE = i18n.N_("Hint")  # the title of the section pytest prints under a failing test
# The title of the section that says, in the student's language, what the failing test expected and its message
# (pytest's own report above it quotes the test's English).
SAYS_TITLE = i18n.N_("What the test says")
# Set when the test's call itself ended with a BlockingCallError: the student already sees it there.
_REPORTED_BLOCKING = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    # The student's language for the hints and the guard's messages: COURSE_LANG, LANG, then course.toml.
    # The grader's child runs with COURSE_LANG=en: the grader words what it shows itself.
    language = i18n.choose(env=os.environ, course=i18n.course_language(config.rootpath))
    config.stash[_PREVIOUS_LANGUAGE] = i18n.activate(language)
    if language != i18n.DEFAULT:  # the tests' own texts too: each assignment's catalog, and the hidden ones if here
        from coursekit.test_texts import locale_folders  # not in graded runs, which are English

        i18n.use_test_catalogs(locale_folders(config.rootpath, config.rootpath / "tests"))
    config.addinivalue_line("markers", "points(n): points this test is worth when graded")
    config.addinivalue_line(
        "markers",
        "allow_blocking: the test deliberately makes blocking calls inside coroutines",
    )


# The HTTP fixtures of coursekit.http, for every test; aiohttp is imported only when a test asks for one
# (its import, 0.15 s, is most of a local run of assignments 01 to 05 otherwise).
@pytest.fixture
def mock_http() -> Iterator[Any]:
    """aioresponses for the test; loopback stays real, any other unmatched URL fails."""
    from coursekit.http import mocked_http

    with mocked_http() as mocked:
        yield mocked


@pytest.fixture
def traffic() -> Any:
    """A fresh ``coursekit.http.Traffic`` recorder."""
    from coursekit.http import Traffic

    return Traffic()


@pytest.fixture
def session_spy() -> Iterator[Any]:
    """Record the aiohttp sessions created during the test (``coursekit.http.SessionSpy``)."""
    from coursekit.http import spying_sessions

    with spying_sessions() as spy:
        yield spy


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Keep what exists once the tests are collected (libraries, test modules) out of every later collection.

    The garbage collector then walks only what the tests themselves make: the
    full collection after a failing test (below) and pytest's own at the end
    of the session cost a millisecond instead of tens. Nothing frozen is
    garbage: it is the session's code and the tests' modules.
    """
    gc.freeze()


def pytest_unconfigure(config: pytest.Config) -> None:
    i18n.activate(config.stash.get(_PREVIOUS_LANGUAGE, i18n.DEFAULT))


@pytest.fixture(autouse=True)
def _forbid_blocking_sleep(request: pytest.FixtureRequest) -> Iterator[None]:
    """Make ``time.sleep`` fail loudly when called while an event loop runs in this thread.

    A real ``time.sleep`` in a coroutine would both stall the test and leave
    the virtual clock unmoved, giving a confusing failure far from the cause.
    Sleeping in a worker thread (``asyncio.to_thread``) stays allowed.
    """
    # A judged test's scenarios guard time.sleep themselves, in this process or the student's (coursekit.probes);
    # it sets nothing up here, not even a monkeypatch (a fixture less in each of hundreds of tests).
    if request.node.get_closest_marker("allow_blocking") is not None or "student" in request.fixturenames:
        yield
        return
    with pytest.MonkeyPatch.context() as monkeypatch:
        real_sleep = time.sleep
        seen: list[str] = []

        def guarded_sleep(seconds: float) -> None:
            if asyncio._get_running_loop() is not None:
                seen.append(f"time.sleep({seconds!r})")
                raise BlockingCallError(i18n._(hints.BLOCKED_CALL).format(call=f"time.sleep({seconds!r})"))
            real_sleep(seconds)

        monkeypatch.setattr(time, "sleep", guarded_sleep)
        # A module that did `from time import sleep` holds the real function under its own name:
        # guard those names too in the modules beside the test (the student's module).
        folder = str(request.node.path.parent)
        for module in list(sys.modules.values()):
            if os.path.dirname(getattr(module, "__file__", None) or "") == folder:
                for name, value in list(vars(module).items()):
                    if value is real_sleep:
                        monkeypatch.setattr(module, name, guarded_sleep)
        yield
        # The error is not an Exception, yet `except BaseException`, gather(return_exceptions=True),
        # a callback or a task nobody awaits can still hide it: the test must not pass (or fail
        # for another reason) without saying so.
        if seen and not request.node.stash.get(_REPORTED_BLOCKING, False):
            raise BlockingCallError(i18n._(hints.BLOCKED_CALL_HIDDEN).format(call=seen[0], count=len(seen)))


class _LoopClock(LoopTimeProxy):
    """looptime's ``looptime`` value, with a ``repr`` that works after the loop stopped.

    pytest prints a failing test's arguments under its traceback, after the
    test's loop has stopped; looptime's own ``repr`` reads the running loop
    and shows "RuntimeError('no running event loop') raised in repr()",
    which reads like the student's error.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        if asyncio._get_running_loop() is None:
            return "<looptime: the loop's virtual clock>"
        return super().__repr__()


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Generator[None, Any, Any]:
    """Give the ``looptime`` value a repr that is safe in tracebacks (the same object, only its class changes)."""
    value = yield
    if fixturedef.argname == "looptime" and type(value) is LoopTimeProxy:
        value.__class__ = _LoopClock
    return value


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    """Collect garbage once the test's loop is closed.

    Tasks and coroutines a failing test left behind become garbage here. If
    the collector instead ran them down at a random later moment, inside
    pytest's report building, Python 3.11 can stop the whole session with an
    internal error ("AST constructor recursion depth mismatch"), losing every
    result after it. Only after a failure: a full collection costs tens of
    milliseconds, and passing code leaves nothing behind.
    """
    try:
        return (yield)
    finally:
        testing.close_owned()
        _close_leftover_loop(item)
        if item.stash.get(_FAILED, False):
            gc.collect()


def _close_leftover_loop(item: pytest.Item) -> None:
    """Close the loop looptime's plugin sets up around a synchronous test (it asks for one, and nothing closes it).

    A judged test is synchronous (its scenario runs a loop of its own); left
    open, that loop would be reported as unclosed under some later test when
    the garbage collector finds it.
    """
    function = getattr(item, "function", None)
    if function is None or inspect.iscoroutinefunction(function):
        return
    from coursekit.loops import current_loop

    loop = current_loop()
    if loop is not None and not loop.is_running() and not loop.is_closed():
        loop.close()
        asyncio.set_event_loop(None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, Any]:
    """Attach a hint for the usual asyncio mistakes to a failing test's report.

    A judged test's failure is shown from the test's line down without the
    kit's frames (``coursekit.hidden_in_judged_failures``): the scenarios and
    the judge's calls are how the test reaches the student's code, not what
    the student needs to read; the test's line, the message and the hint say
    it. Rendering them also cost most of a failing local run (pytest parses
    each frame's whole file). ``--full-trace`` shows them.
    """
    coursekit.rendering_judged_failure = call.excinfo is not None and "student" in getattr(item, "fixturenames", ())
    if call.excinfo is not None and call.when == "call" and i18n.active() != i18n.DEFAULT:
        _reword(call.excinfo.value)  # before pytest renders the report: its "E  AssertionError: ..." line too
    try:
        report = yield
    finally:
        coursekit.rendering_judged_failure = False
    if report.failed:
        item.stash[_FAILED] = True
    if report.failed and call.excinfo is not None:
        exc = call.excinfo.value
        if call.when == "call" and isinstance(exc, BlockingCallError):
            item.stash[_REPORTED_BLOCKING] = True
        if call.when == "call" and i18n.active() != i18n.DEFAULT:
            says = _test_says(item, exc)
            if says:
                report.sections.append((i18n._(SAYS_TITLE), says))
        hint = _hint(exc)
        if hint:
            report.sections.append((i18n._(HINT_TITLE), i18n._(hint)))
    return report


def _reword(exc: BaseException) -> None:
    """The test's own message of a failure (an assertion's, ``pytest.fail``'s), in the active language, in place.

    pytest's assertion rewriting appends its explanation ("assert ...") to the message: the test's words come
    before it, and the explanation (code) stays as it is.
    """
    if isinstance(exc, AssertionError) and exc.args and isinstance(exc.args[0], str):
        head, sep, rest = exc.args[0].partition("\nassert ")
        shown = i18n.localize(head)
        if shown != head:
            exc.args = (shown + sep + rest, *exc.args[1:])
    elif isinstance(exc, pytest.fail.Exception) and isinstance(exc.msg, str):
        exc.msg = i18n.localize(exc.msg)


def _test_says(item: pytest.Item, exc: BaseException) -> str:
    """What the test expected (its docstring), in the active language; "" when there is nothing translated to
    add (its message is reworded where pytest shows it, by ``_reword``)."""
    doc = (getattr(getattr(item, "function", None), "__doc__", None) or "").strip()
    english = f"Expected: {doc}" if doc else ""
    shown = i18n.localize(english)
    return shown if shown != english else ""


def _hint(exc: BaseException) -> str | None:
    """The hint for ``exc`` or, for an exception group (a TaskGroup's), for the first exception in it that has one."""
    text = str(exc)
    if "Timeout" in text and "pytest-timeout" in text:
        return hints.TIMED_OUT
    student_error = getattr(exc, "student_error", None)
    if isinstance(student_error, dict):  # a judged call of the student's code raised (coursekit.judge)
        return hints.hint_for(str(student_error.get("type")), str(student_error.get("message")))
    for leaf in [exc, *leaves(exc)] if isinstance(exc, BaseExceptionGroup) else [exc]:
        hint = hints.hint_for(type(leaf).__name__, str(leaf))
        if hint:
            return hint
    return None
