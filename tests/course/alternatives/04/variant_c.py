"""Alternative 04, variant c: gather with manual clean-up, asyncio.as_completed, a bounded worker pool,
sentinel-stopped workers."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

CoroFn = Callable[[], Coroutine[Any, Any, Any]]
_STOP = object()


async def _stop_all(tasks: Iterable[asyncio.Future[Any]]) -> None:
    tasks = list(tasks)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def run_all(coro_fns: Iterable[CoroFn]) -> list[Any]:
    """gather; on the first failure cancel and await the others, then raise an ExceptionGroup of it."""
    tasks = [asyncio.ensure_future(fn()) for fn in coro_fns]
    try:
        return list(await asyncio.gather(*tasks))
    except Exception as exc:
        await _stop_all(tasks)
        raise ExceptionGroup("run_all failed", [exc]) from None
    finally:
        await _stop_all(tasks)


async def first_completed(coro_fns: Iterable[CoroFn], *, timeout: float | None = None) -> Any:
    """An inner coroutine under wait_for; a finally that cancels and awaits."""
    tasks = [asyncio.ensure_future(fn()) for fn in coro_fns]
    if not tasks:
        raise ValueError("first_completed() of nothing")

    async def first_success() -> Any:
        errors = []
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            ordered = sorted(done, key=tasks.index)
            for t in ordered:
                if not t.cancelled() and t.exception() is None:
                    return t.result()
            errors.extend(t.exception() for t in ordered if not t.cancelled())
        raise ExceptionGroup("no job succeeded", errors)

    try:
        return await asyncio.wait_for(first_success(), timeout)
    finally:
        await _stop_all(tasks)


async def bounded_map(fn: Callable[[T], Awaitable[R]], items: Iterable[T], *, limit: int) -> list[R]:
    """``limit`` workers pull (index, item) from a shared iterator; the first failure stops everything."""
    if limit < 1:
        raise ValueError("limit < 1")
    todo = iter(enumerate(items))
    out: dict[int, R] = {}

    async def puller() -> None:
        for index, item in todo:
            out[index] = await fn(item)

    pullers = [asyncio.create_task(puller()) for _ in range(limit)]
    try:
        done, _ = await asyncio.wait(pullers, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            if not t.cancelled() and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]
    finally:
        await _stop_all(pullers)
    return [out[i] for i in sorted(out)]


async def as_completed_indexed(coro_fns: Iterable[CoroFn]) -> AsyncGenerator[tuple[int, Any], None]:
    """asyncio.as_completed over tasks that return their own index."""
    async def tagged(i: int, fn: CoroFn) -> tuple[int, Any]:
        return i, await fn()

    tasks = [asyncio.ensure_future(tagged(i, fn)) for i, fn in enumerate(coro_fns)]
    try:
        for next_done in asyncio.as_completed(tasks):
            index, value = await next_done
            yield (index, value)
    finally:
        await _stop_all(tasks)


class TaskSet:
    """Background tasks with a done callback that files errors."""

    def __init__(self) -> None:
        """Nothing yet."""
        self.tasks: set[asyncio.Task[Any]] = set()
        self.errors: list[BaseException] = []

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """ensure_future + done callback."""
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled():
            err = task.exception()
            if err is not None:
                self.errors.append(err)

    def __len__(self) -> int:
        """Unfinished tasks."""
        return len([t for t in self.tasks if not t.done()])

    async def aclose(self, timeout: float = 1.0) -> None:
        """Cancel, then wait with a timeout on asyncio.wait."""
        if not self.tasks:
            return
        for t in self.tasks:
            t.cancel()
        await asyncio.wait(list(self.tasks), timeout=timeout)


async def map_with_workers(fn: Callable[[T], Awaitable[R]], items: Iterable[T], *, workers: int) -> list[R]:
    """Sentinel per worker; TaskGroup ends them on error."""
    if workers < 1:
        raise ValueError("need at least one worker")
    queue: asyncio.Queue[Any] = asyncio.Queue()
    n = 0
    for n, item in enumerate(items, start=1):
        queue.put_nowait((n - 1, item))
    for _ in range(workers):
        queue.put_nowait(_STOP)
    results: list[Any] = [None] * n

    async def work() -> None:
        while (job := await queue.get()) is not _STOP:
            index, item = job
            results[index] = await fn(item)

    async with asyncio.TaskGroup() as tg:
        for _ in range(workers):
            tg.create_task(work())
    return results
