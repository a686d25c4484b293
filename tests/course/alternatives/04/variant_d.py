"""Alternative 04, variant d: bounded_map lets the calls in flight finish after a failure (the README allows it) and
starts no new one; TaskSet keeps finished tasks out with a WeakSet-free dict; map_with_workers on a Queue with
get_nowait workers in a gather."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

CoroFn = Callable[[], Coroutine[Any, Any, Any]]


async def run_all(coro_fns: Iterable[CoroFn]) -> list[Any]:
    """TaskGroup, results read after the block."""
    tasks: list[asyncio.Task[Any]] = []
    async with asyncio.TaskGroup() as group:
        for fn in coro_fns:
            tasks.append(group.create_task(fn()))
    return [task.result() for task in tasks]


async def first_completed(coro_fns: Iterable[CoroFn], *, timeout: float | None = None) -> Any:
    """as_completed(timeout=...) raises TimeoutError itself when the whole call runs out of time.

    A TimeoutError out of a job is a failure like any other, so the loop clock tells the two apart.
    """
    tasks = [asyncio.create_task(fn()) for fn in coro_fns]
    if not tasks:
        raise ValueError("empty input")
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    problems: list[Exception] = []
    try:
        for next_one in asyncio.as_completed(tasks, timeout=timeout):
            try:
                return await next_one
            except TimeoutError as exc:
                if deadline is not None and loop.time() >= deadline:
                    raise  # as_completed's own timeout: the whole call ran out of time
                problems.append(exc)  # a job's own TimeoutError is one more failure
            except Exception as exc:  # noqa: BLE001
                problems.append(exc)
        raise ExceptionGroup("every job failed", problems)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def bounded_map(fn: Callable[[T], Awaitable[R]], items: Iterable[T], *, limit: int) -> list[R]:
    """Semaphore; after a failure no new call starts, those in flight are awaited to the end, then it raises."""
    if limit < 1:
        raise ValueError("limit must be >= 1")
    slots = asyncio.Semaphore(limit)
    failure: list[BaseException] = []

    async def call(item: T) -> R | None:
        async with slots:
            if failure:
                return None  # dropped: nothing starts after a failure
            try:
                return await fn(item)
            except Exception as exc:
                failure.append(exc)
                raise

    tasks = [asyncio.ensure_future(call(item)) for item in items]
    try:
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for t in tasks:
            t.cancel()  # only reached unfinished when the caller itself is cancelled
        await asyncio.gather(*tasks, return_exceptions=True)
    if failure:
        raise failure[0]
    return list(outcomes)  # type: ignore[arg-type]


async def as_completed_indexed(coro_fns: Iterable[CoroFn]) -> AsyncGenerator[tuple[int, Any], None]:
    """A Queue fed by done callbacks, drained in completion order."""
    queue: asyncio.Queue[asyncio.Task[tuple[int, Any]]] = asyncio.Queue()

    async def indexed(i: int, fn: CoroFn) -> tuple[int, Any]:
        return (i, await fn())

    tasks = [asyncio.create_task(indexed(i, fn)) for i, fn in enumerate(coro_fns)]
    for task in tasks:
        task.add_done_callback(queue.put_nowait)
    try:
        for _ in tasks:
            yield (await queue.get()).result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class TaskSet:
    """Tasks held in a dict keyed by id()."""

    def __init__(self) -> None:
        """Nothing owned yet."""
        self._owned: dict[int, asyncio.Task[Any]] = {}
        self.errors: list[BaseException] = []

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Own the task until it is done."""
        task = asyncio.get_running_loop().create_task(coro)
        self._owned[id(task)] = task
        task.add_done_callback(self._release)
        return task

    def _release(self, task: asyncio.Task[Any]) -> None:
        self._owned.pop(id(task), None)
        if task.cancelled():
            return
        if (exc := task.exception()) is not None:
            self.errors.append(exc)

    def __len__(self) -> int:
        """Owned tasks not done."""
        return len(self._owned)

    async def aclose(self, timeout: float = 1.0) -> None:
        """Cancel everything, wait at most ``timeout``."""
        running = list(self._owned.values())
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=timeout)


async def map_with_workers(fn: Callable[[T], Awaitable[R]], items: Iterable[T], *, workers: int) -> list[R]:
    """Workers drain the queue with get_nowait; gather; on an error the others are cancelled and awaited."""
    if workers < 1:
        raise ValueError("workers must be >= 1")
    queue: asyncio.Queue[tuple[int, T]] = asyncio.Queue()
    for pair in enumerate(items):
        queue.put_nowait(pair)
    results: dict[int, R] = {}

    async def drain() -> None:
        while not queue.empty():
            index, item = queue.get_nowait()
            results[index] = await fn(item)

    crew = [asyncio.create_task(drain()) for _ in range(workers)]
    try:
        await asyncio.gather(*crew)
    finally:
        for w in crew:
            w.cancel()
        await asyncio.gather(*crew, return_exceptions=True)
    return [results[i] for i in range(len(results))]
