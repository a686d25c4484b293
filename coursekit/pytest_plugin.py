"""The course's pytest plugin: the points marker, the blocking-call guard and hints.

Loaded with ``-p coursekit.pytest_plugin`` by the repository's pytest
configuration (for students) and by the grader's isolated runs.
"""
from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from coursekit import hints
from coursekit.http import mock_http, session_spy, traffic  # noqa: F401  (fixtures for every test)
from coursekit.testing import BlockingCallError


_FAILED = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): points this test is worth when graded")
    config.addinivalue_line(
        "markers",
        "allow_blocking: the test deliberately makes blocking calls inside coroutines",
    )


@pytest.fixture(autouse=True)
def _forbid_blocking_sleep(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make ``time.sleep`` fail loudly when called while an event loop runs in this thread.

    A real ``time.sleep`` in a coroutine would both stall the test and leave
    the virtual clock unmoved, giving a confusing failure far from the cause.
    Sleeping in a worker thread (``asyncio.to_thread``) stays allowed.
    """
    if request.node.get_closest_marker("allow_blocking") is None:
        real_sleep = time.sleep

        def guarded_sleep(seconds: float) -> None:
            if asyncio._get_running_loop() is not None:
                raise BlockingCallError(
                    f"time.sleep({seconds!r}) was called inside a coroutine, "
                    "while the event loop was running."
                )
            real_sleep(seconds)

        monkeypatch.setattr(time, "sleep", guarded_sleep)
    yield


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
        if item.stash.get(_FAILED, False):
            gc.collect()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, Any]:
    """Attach a hint for the usual asyncio mistakes to a failing test's report."""
    report = yield
    if report.failed:
        item.stash[_FAILED] = True
    if report.failed and call.excinfo is not None:
        exc = call.excinfo.value
        text = str(exc)
        hint = hints.hint_for(type(exc).__name__, text)
        if hint is None and "Timeout" in text and "pytest-timeout" in text:
            hint = hints.TIMED_OUT
        if hint:
            report.sections.append(("Hint", hint))
    return report
