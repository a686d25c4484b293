"""Alternative 04: asyncio.wait everywhere, a sliding window, done callbacks, self-stopping workers."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

CoroFn = Callable[[], Coroutine[Any, Any, Any]]


async def _cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    pending = [t for t in tasks if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.wait(pending)


async def run_all(coro_fns: Iterable[CoroFn]) -> list[Any]:
    """Hand-made TaskGroup semantics with asyncio.wait(FIRST_EXCEPTION)."""
    tasks = [asyncio.ensure_future(fn()) for fn in coro_fns]
    if not tasks:
        return []
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        await _cancel_and_wait(tasks)
    failures = [t.exception() for t in tasks if not t.cancelled() and t.exception() is not None]
    if failures:
        raise ExceptionGroup("run_all: some jobs failed", failures)
    return [t.result() for t in tasks]


async def first_completed(coro_fns: Iterable[CoroFn], *, timeout: float | None = None) -> Any:
    """asyncio.as_completed under one asyncio.timeout for the whole call."""
    fns = list(coro_fns)
    if not fns:
        raise ValueError("first_completed needs at least one coro_fn")
    tasks = [asyncio.create_task(fn()) for fn in fns]
    errors: list[Exception] = []
    try:
        async with asyncio.timeout(timeout):
            for fut in asyncio.as_completed(tasks):
                try:
                    return await fut
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if current is not None and current.cancelling():
                        raise
                except Exception as exc:  # noqa: BLE001 - a failure is skipped
                    errors.append(exc)
        raise ExceptionGroup("first_completed: every job failed", errors)
    finally:
        await _cancel_and_wait(tasks)


async def bounded_map(fn: Callable[[T], Awaitable[R]], items: Iterable[T], *, limit: int) -> list[R]:
    """A sliding window of at most ``limit`` tasks, refilled as each ends."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    source = iter(enumerate(items))
    results: dict[int, R] = {}
    running: dict[asyncio.Task[R], int] = {}

    async def call(item: T) -> R:
        return await fn(item)

    def refill() -> None:
        while len(running) < limit:
            nxt = next(source, None)
            if nxt is None:
                return
            index, item = nxt
            running[asyncio.ensure_future(call(item))] = index

    try:
        refill()
        while running:
            done, _ = await asyncio.wait(running.keys(), return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                index = running.pop(task)
                results[index] = task.result()  # re-raises the call's own exception
            refill()
    finally:
        await _cancel_and_wait(list(running))
    return [results[i] for i in range(len(results))]


async def as_completed_indexed(coro_fns: Iterable[CoroFn]) -> AsyncGenerator[tuple[int, Any], None]:
    """Tasks report into a queue via done callbacks; pairs come out as they finish."""
    finished: asyncio.Queue[tuple[int, asyncio.Task[Any]]] = asyncio.Queue()
    tasks: list[asyncio.Task[Any]] = []
    for index, fn in enumerate(coro_fns):
        task = asyncio.ensure_future(fn())
        task.add_done_callback(lambda t, i=index: finished.put_nowait((i, t)))
        tasks.append(task)
    try:
        for _ in range(len(tasks)):
            index, task = await finished.get()
            yield (index, task.result())
    finally:
        await _cancel_and_wait(tasks)


class TaskSet:
    """Background tasks, strongly referenced until they finish."""

    def __init__(self) -> None:
        """Empty."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self.errors: list[BaseException] = []

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.errors.append(exc)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Start and keep."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def __len__(self) -> int:
        """Unfinished tasks."""
        count = 0
        for t in self._tasks:
            if not t.done():
                count += 1
        return count

    async def aclose(self, timeout: float = 1.0) -> None:
        """Cancel all; wait up to timeout."""
        live = [t for t in self._tasks if not t.done()]
        for t in live:
            t.cancel()
        if live:
            await asyncio.wait(live, timeout=timeout)


async def map_with_workers(fn: Callable[[T], Awaitable[R]], items: Iterable[T], *, workers: int) -> list[R]:
    """Workers in a TaskGroup that stop when the queue is empty."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    queue: asyncio.Queue[tuple[int, T]] = asyncio.Queue()
    count = 0
    for pair in enumerate(items):
        queue.put_nowait(pair)
        count += 1
    results: list[Any] = [None] * count

    async def worker() -> None:
        while True:
            try:
                index, item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                results[index] = await fn(item)
            finally:
                queue.task_done()

    async with asyncio.TaskGroup() as tg:
        for _ in range(workers):
            tg.create_task(worker())
    return results
