"""Probes and assertions shared by every assignment's tests.

Tests measure behaviour, not one way of writing it: concurrency is counted
inside the work itself (calls in flight), time is read from the loop clock,
and leftovers are found by looking at the loop's tasks. Every assertion here
carries a message a student can act on.
"""
from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

import coursekit
from coursekit import hints
from coursekit.i18n import N_
from coursekit.hints import describe

# The kit's frames stay out of the failure a student reads (coursekit.hidden_in_judged_failures).
__tracebackhide__ = coursekit.hidden_in_judged_failures

T = TypeVar("T")


class CourseSignal(pytest.fail.Exception):
    """Base of the course's own signals to the student: raised by the tests' probes, never by their code.

    A ``BaseException`` that is not an ``Exception``, like ``CancelledError``:
    an ordinary ``except Exception`` in the code under test (per URL, per job)
    does not catch it, so the signal reaches the test's report with its hint
    instead of turning into a wrong result further on. It is pytest's own
    failure outcome (``pytest.fail.Exception``), because pytest stops tearing
    a test down at any other non-``Exception``: raised from a fixture's
    clean-up (student code run there), it would leave the test's patches in
    place for every later test.
    """


class BlockingCallError(CourseSignal):
    """Raised when a test sees a blocking call made while the event loop runs."""


_owned: list[Any] = []


def owned(coro: Any) -> Any:
    """``coro`` itself, closed at the end of the test if nothing ever started it.

    For a coroutine a test hands to the code under test (``timed(asyncio.sleep(5))``):
    a stub that raises before awaiting it would otherwise leave a "coroutine
    ... was never awaited" warning in the output, which reads like the
    student's own mistake. Closing a coroutine that never ran warns nothing.
    """
    _owned.append(coro)
    return coro


def close_owned() -> None:
    """Close the coroutines registered with :func:`owned` that never started (the plugin calls it after each test)."""
    while _owned:
        coro = _owned.pop()
        if inspect.iscoroutine(coro) and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
            coro.close()


_NUMBERS = (int, float)


def same(actual: Any, expected: Any) -> bool:
    """Whether ``actual`` equals ``expected`` with exactly the same types, all the way down.

    ``==`` alone trusts ``actual``: an object whose ``__eq__`` always returns
    True equals anything. Here every value must have the very type of the
    expected one (a ``list`` for a list, a ``str`` for a str), so the
    comparison that decides is always a built-in type's own. The one
    latitude: where a ``float`` is expected, an ``int`` of the same value is
    accepted (``2`` for ``2.0``); ``bool`` never stands in for a number.
    """
    if isinstance(expected, float) and type(expected) is float:
        return type(actual) in _NUMBERS and actual == expected
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, (list, tuple)):
        return len(actual) == len(expected) and all(same(a, e) for a, e in zip(actual, expected))
    if isinstance(expected, dict):
        return (len(actual) == len(expected) and all(type(k) is type(k2) for k, k2 in zip(actual, expected))
                and set(actual) == set(expected) and all(same(actual[k], expected[k]) for k in expected))
    if isinstance(expected, (set, frozenset)):
        return {(type(x), x) for x in actual} == {(type(x), x) for x in expected}
    return bool(actual == expected)


def assert_same(actual: Any, expected: Any, *, what: str) -> None:
    """Fail unless :func:`same`; the message shows both values, and both types when they differ."""
    if same(actual, expected):
        return
    if type(actual) is type(expected):
        raise AssertionError(N_("{what} should be {expected}, got {actual}").format(
            what=what, expected=repr(expected), actual=repr(actual)))
    raise AssertionError(N_("{what} should be {expected}, got {actual} (type {type}, where {wanted} was expected)").format(
        what=what, expected=repr(expected), actual=repr(actual), type=type(actual).__name__,
        wanted=type(expected).__name__))


def loop_time() -> float:
    """The running loop's clock: virtual under looptime, so sleeps cost nothing."""
    return asyncio.get_running_loop().time()


async def within(aw: Awaitable[T], seconds: float, *, what: str) -> T:
    """Await ``aw`` but fail the test, with a hint, if it takes over ``seconds`` of loop time.

    On the virtual clock a coroutine that awaits forever fails at once instead
    of hanging the test run. A ``TimeoutError`` raised by the code itself is
    passed through unchanged: only our own deadline becomes a failure.
    """
    async with asyncio.timeout(seconds) as deadline:
        try:
            return await aw
        except asyncio.CancelledError:
            if deadline.expired():
                raise AssertionError(
                    f"{what} did not finish within {seconds:g} s of loop time. {hints.HANGS}"
                ) from None
            raise
    raise AssertionError("unreachable")  # pragma: no cover - keeps type checkers content


def tasks_now() -> set[asyncio.Task[Any]]:
    """Snapshot of the loop's unfinished tasks, to compare before and after a call."""
    return {t for t in asyncio.all_tasks() if not t.done()}


def assert_nothing_left_running(before: set[asyncio.Task[Any]], *, what: str) -> None:
    """Fail if tasks started since ``before`` are still unfinished."""
    current = asyncio.current_task()
    left = [t for t in tasks_now() - before if t is not current]
    assert not left, (
        f"{what} returned while {len(left)} task(s) it started were still running. "
        f"{hints.LEFT_RUNNING}"
    )


@dataclass
class Work:
    """A factory of tracked jobs (zero-argument coroutine functions).

    Each job records when it started and ended on the loop clock, how many jobs
    were in flight at once, and whether it was cancelled. It never checks how
    the jobs were scheduled: gather, TaskGroup, wait and create_task all count.
    """

    in_flight: int = 0
    peak: int = 0
    started: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    start_times: dict[int, float] = field(default_factory=dict)
    end_times: dict[int, float] = field(default_factory=dict)
    coroutines: list[Any] = field(default_factory=list)
    _count: int = 0

    def job(
        self,
        result: Any = None,
        *,
        delay: float = 0.0,
        error: BaseException | None = None,
    ) -> Callable[[], Awaitable[Any]]:
        """A job that sleeps ``delay`` loop seconds, then raises ``error`` or returns ``result``."""
        index = self._count
        self._count += 1

        async def run() -> Any:
            self.started.append(index)
            self.start_times[index] = loop_time()
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                await asyncio.sleep(delay)
                if error is not None:
                    raise error
                return result
            except asyncio.CancelledError:
                self.cancelled.append(index)
                raise
            finally:
                self.in_flight -= 1
                self.end_times[index] = loop_time()
                self.finished.append(index)

        def coro_fn() -> Awaitable[Any]:
            coro = run()
            self.coroutines.append(coro)
            return owned(coro)

        return coro_fn

    def jobs(self, delays: Iterable[float]) -> list[Callable[[], Awaitable[Any]]]:
        """One job per delay, each returning its own index."""
        made = []
        for delay in delays:
            made.append(self.job(self._count, delay=delay))
        return made

    def assert_all_awaited(self, *, what: str) -> None:
        """Fail if a coroutine made by a job was created but never run to its end."""
        idle = [c for c in self.coroutines if inspect.getcoroutinestate(c) == inspect.CORO_CREATED]
        for coro in idle:
            coro.close()  # keeps the "never awaited" warning out of later tests
        assert not idle, f"{what} created {len(idle)} coroutine(s) but never awaited them. {hints.NOT_AWAITED}"


async def raised_by(
    aw: Awaitable[Any],
    expected: type[BaseException] | tuple[type[BaseException], ...] = Exception,
    *,
    what: str,
    seconds: float = 60.0,
) -> BaseException:
    """Await ``aw`` (bounded by :func:`within`) and return the exception it raised, for the test to inspect.

    - ``NotImplementedError`` and ``AssertionError`` propagate unchanged, so a
      stub still gets the "not implemented" hint and a failure of ``within``
      (or of a probe) stays that failure. So does a :class:`CourseSignal`
      (a blocking call seen), which is not an ``Exception``.
    - An exception matching ``expected`` (a class or a tuple of classes; by
      default any ``Exception``) is returned.
    - Any other ``Exception``, or a return, fails the test with a message
      naming what was expected. A ``BaseException`` that is not an
      ``Exception`` (``CancelledError``, ``KeyboardInterrupt``) propagates
      unless ``expected`` names it.
    """
    try:
        value = await within(aw, seconds, what=what)
    except (NotImplementedError, AssertionError, CourseSignal):
        raise
    except expected as exc:
        return exc
    except Exception as exc:
        raise AssertionError(f"{what} should raise {_class_names(expected)}; it raised {describe(exc)}") from exc
    if expected is Exception:
        raise AssertionError(f"expected {what} to raise, but it returned {value!r}")
    raise AssertionError(f"{what} should raise {_class_names(expected)}; it returned {value!r}")


def _class_names(classes: type[BaseException] | tuple[type[BaseException], ...]) -> str:
    if isinstance(classes, tuple):
        return " or ".join(cls.__name__ for cls in classes)
    return classes.__name__


def leaves(exc: BaseException) -> list[BaseException]:
    """The plain exceptions inside a (possibly nested) exception group; ``[exc]`` for a plain one."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]


class Calls:
    """A tracked async ``fn(item)`` for functions that map over items (``bounded_map(fn, items)`` and the like).

    A call sleeps ``delays[item]`` loop seconds (``delay`` for items not in
    ``delays``), then raises ``fail[item]`` if there is one, else returns
    ``item * 10``. It records the items called (``calls``), the items whose
    call was cancelled (``cancelled``), the tasks the calls ran in (``tasks``),
    and the calls in flight now and at the busiest moment (``in_flight``,
    ``peak``): a limit is measured inside the work itself, however the code
    under test schedules the calls.
    """

    def __init__(
        self,
        delay: float = 1.0,
        *,
        delays: Mapping[Any, float] | None = None,
        fail: Mapping[Any, BaseException] | None = None,
    ) -> None:
        self.delay = delay
        self.delays = dict(delays or {})
        self.fail = dict(fail or {})
        self.in_flight = 0
        self.peak = 0
        self.calls: list[Any] = []
        self.cancelled: list[Any] = []
        self.tasks: set[asyncio.Task[Any]] = set()

    async def __call__(self, item: Any) -> Any:
        self.calls.append(item)
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delays.get(item, self.delay))
            if item in self.fail:
                raise self.fail[item]
            return item * 10
        except asyncio.CancelledError:
            self.cancelled.append(item)
            raise
        finally:
            self.in_flight -= 1


async def assert_ends_cancelled(task: asyncio.Task[Any], *, what: str, seconds: float = 60) -> None:
    """Wait for ``task`` after it was cancelled; fail unless it ended cancelled.

    A task that ran on for ``seconds`` of loop time, returned, or raised fails
    the test with the hint on swallowed cancellation; a ``NotImplementedError``
    it raised is re-raised as is, so a stub gets the "not implemented" hint.
    """
    done, _ = await asyncio.wait({task}, timeout=seconds)
    assert done, f"{what} was still running {seconds:g} s after it was cancelled. {hints.SWALLOWED_CANCEL}"
    if task.cancelled():
        return
    exc = task.exception()
    if isinstance(exc, (NotImplementedError, CourseSignal)):
        raise exc  # the stub's or the probe's own message says more than "should end cancelled"
    ended = (N_("raised {error}").format(error=describe(exc)) if exc is not None
             else N_("returned {value}").format(value=repr(task.result())))
    raise AssertionError(f"{what} should end cancelled when it is cancelled; it {ended}. {hints.SWALLOWED_CANCEL}")


async def drain(queue: asyncio.Queue[Any], worker_task: asyncio.Task[Any], *, seconds: float, what: str) -> None:
    """Wait for ``queue.join()`` while a worker task consumes ``queue``; if the worker ends first, show why.

    Fails if the worker returned (a worker should run until cancelled) or if
    the queue was not drained within ``seconds`` of loop time (a missing
    ``queue.task_done()``); an exception the worker ended with is re-raised.
    """
    joiner = asyncio.create_task(queue.join())
    done, _ = await asyncio.wait({joiner, worker_task}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    if joiner in done:
        return
    joiner.cancel()
    if worker_task.done():
        worker_task.result()  # re-raises the worker's own error, if any
        raise AssertionError(f"{what}: the worker returned before the queue was drained; it should run forever")
    raise AssertionError(
        f"{what}: queue.join() did not finish within {seconds:g} s. Call queue.task_done() "
        "once for every item taken with get(), also when handle(item) raised."
    )


async def stop(task: asyncio.Task[Any]) -> None:
    """Cancel a task left over by a failed test (a worker, say) and wait up to 60 s of loop time for it, whatever it does."""
    task.cancel()
    await asyncio.wait({task}, timeout=60)
