"""Alternative 04, variant b: TaskGroup, asyncio.wait with a loop-clock deadline, Semaphore, forever-workers."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

CoroFn = Callable[[], Coroutine[Any, Any, Any]]


async def run_all(coro_fns: Iterable[CoroFn]) -> list[Any]:
    """TaskGroup."""
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(fn()) for fn in coro_fns]
    return [t.result() for t in tasks]


async def first_completed(coro_fns: Iterable[CoroFn], *, timeout: float | None = None) -> Any:
    """asyncio.wait(FIRST_COMPLETED) in a loop against a deadline on the loop clock."""
    fns = list(coro_fns)
    if not fns:
        raise ValueError("no coro_fns")
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    index = {}
    for i, fn in enumerate(fns):
        index[asyncio.create_task(fn())] = i
    pending = set(index)
    failures: list[tuple[int, BaseException]] = []
    try:
        while pending:
            left = None if deadline is None else max(0.0, deadline - loop.time())
            done, pending = await asyncio.wait(pending, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            if not done:
                raise TimeoutError(f"nothing succeeded within {timeout} s")
            for task in sorted(done, key=index.__getitem__):
                if task.cancelled():
                    continue
                if task.exception() is None:
                    return task.result()
                failures.append((index[task], task.exception()))
        failures.sort(key=lambda pair: pair[0])
        raise ExceptionGroup("all jobs failed", [exc for _, exc in failures])
    finally:
        for task in index:
            task.cancel()
        await asyncio.gather(*index, return_exceptions=True)


async def bounded_map(fn: Callable[[T], Awaitable[R]], items: Iterable[T], *, limit: int) -> list[R]:
    """Semaphore + TaskGroup; unwrap the call's own exception."""
    if limit < 1:
        raise ValueError("limit must be positive")
    sem = asyncio.Semaphore(limit)

    async def guarded(item: T) -> R:
        async with sem:
            return await fn(item)

    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(guarded(item)) for item in items]
    except BaseExceptionGroup as group:
        raise group.exceptions[0] from None
    return [t.result() for t in tasks]


async def as_completed_indexed(coro_fns: Iterable[CoroFn]) -> AsyncGenerator[tuple[int, Any], None]:
    """asyncio.wait in a loop; tuples as they finish."""
    tasks = {asyncio.create_task(fn()): i for i, fn in enumerate(coro_fns)}
    pending = set(tasks)
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                yield tasks[task], task.result()
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


class TaskSet:
    """A dict of tasks; aclose raises TimeoutError when it gives up (allowed)."""

    def __init__(self) -> None:
        """Empty."""
        self._live: dict[asyncio.Task[Any], None] = {}
        self.errors: list[BaseException] = []

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Start, keep until done."""
        task = asyncio.create_task(coro)
        self._live[task] = None

        def forget(t: asyncio.Task[Any]) -> None:
            self._live.pop(t, None)
            if not t.cancelled() and t.exception() is not None:
                self.errors.append(t.exception())

        task.add_done_callback(forget)
        return task

    def __len__(self) -> int:
        """Tasks not finished."""
        return sum(1 for t in self._live if not t.done())

    async def aclose(self, timeout: float = 1.0) -> None:
        """Cancel and wait up to timeout; TimeoutError if some are still running."""
        tasks = [t for t in self._live if not t.done()]
        if not tasks:
            return
        for t in tasks:
            t.cancel()
        _, still = await asyncio.wait(tasks, timeout=timeout)
        if still:
            raise TimeoutError(f"{len(still)} task(s) still running after {timeout} s")


async def map_with_workers(fn: Callable[[T], Awaitable[R]], items: Iterable[T], *, workers: int) -> list[R]:
    """Forever-workers, queue.join(), then cancel; the first error re-raised."""
    if workers < 1:
        raise ValueError("workers must be >= 1")
    queue: asyncio.Queue[tuple[int, T]] = asyncio.Queue()
    size = 0
    for pair in enumerate(items):
        queue.put_nowait(pair)
        size += 1
    results: dict[int, R] = {}
    errors: list[BaseException] = []

    async def work() -> None:
        while True:
            index, item = await queue.get()
            try:
                if not errors:
                    results[index] = await fn(item)
            except Exception as exc:  # noqa: BLE001 - reported by the caller
                errors.append(exc)
            finally:
                queue.task_done()

    crew = [asyncio.create_task(work()) for _ in range(workers)]
    try:
        await queue.join()
    finally:
        for w in crew:
            w.cancel()
        await asyncio.gather(*crew, return_exceptions=True)
    if errors:
        raise errors[0]
    return [results[i] for i in range(size)]
