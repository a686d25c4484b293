"""Probes and assertions shared by every assignment's tests.

Tests measure behaviour, not one way of writing it: concurrency is counted
inside the work itself (calls in flight), time is read from the loop clock,
and leftovers are found by looking at the loop's tasks. Every assertion here
carries a message a student can act on.
"""
from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from coursekit import hints

T = TypeVar("T")


class BlockingCallError(AssertionError):
    """Raised when a test sees a blocking call made while the event loop runs."""


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
            return coro

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
