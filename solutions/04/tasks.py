"""Assignment 04: tasks. Start work concurrently, collect it, bound it, and clean up after it.

Fill in every function marked "YOUR CODE HERE". Instructions: README.md in this folder.

A *coro_fn* is a zero-argument callable that returns a coroutine, for example
``lambda: fetch(url)``: the function you write decides when the work starts.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

CoroFn = Callable[[], Coroutine[Any, Any, Any]]


async def run_all(coro_fns: Iterable[CoroFn]) -> list[Any]:
    """Run every ``coro_fn()`` concurrently and return their results in input order.

    If one fails, the others still running are cancelled (and awaited) and an
    ``ExceptionGroup`` holding the failure(s) is raised, as ``asyncio.TaskGroup``
    does. Nothing is left running when this returns or raises.
    """
    ### BEGIN SOLUTION
    async with asyncio.TaskGroup() as group:
        started = [group.create_task(coro_fn()) for coro_fn in coro_fns]
    return [task.result() for task in started]
    ### END SOLUTION


async def first_completed(coro_fns: Iterable[CoroFn], *, timeout: float | None = None) -> Any:
    """Run every ``coro_fn()`` concurrently; return the result of the first to succeed.

    Failures are ignored unless every one fails: then an ``ExceptionGroup`` of
    all the failures is raised. ``TimeoutError`` is raised if ``timeout``
    seconds pass first. Before returning or raising, every other task has been
    cancelled and awaited. An empty input raises ``ValueError``.
    """
    ### BEGIN SOLUTION
    coro_fns = list(coro_fns)
    if not coro_fns:
        raise ValueError("first_completed() needs at least one coro_fn")
    started = [asyncio.create_task(coro_fn()) for coro_fn in coro_fns]
    try:
        failures: list[Exception] = []
        pending = set(started)
        async with asyncio.timeout(timeout):
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in sorted(done, key=started.index):
                    if task.cancelled():
                        continue
                    error = task.exception()
                    if error is None:
                        return task.result()
                    failures.append(error)  # type: ignore[arg-type]
        raise ExceptionGroup("every coroutine failed", failures)
    finally:
        for task in started:
            task.cancel()
        await asyncio.gather(*started, return_exceptions=True)
    ### END SOLUTION


async def bounded_map(fn: Callable[[T], Awaitable[R]], items: Iterable[T], *, limit: int) -> list[R]:
    """Await ``fn(item)`` for every item, at most ``limit`` calls in flight at once.

    Results come back in input order. ``limit < 1`` raises ``ValueError``. If a
    call fails, its exception propagates and no other call is left running.
    """
    ### BEGIN SOLUTION
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit!r}")
    slots = asyncio.Semaphore(limit)

    async def one(item: T) -> R:
        async with slots:
            return await fn(item)

    started = [asyncio.create_task(one(item)) for item in items]
    try:
        return list(await asyncio.gather(*started))
    finally:
        # gather does not cancel the others when one fails: do it, and wait for them.
        for task in started:
            task.cancel()
        await asyncio.gather(*started, return_exceptions=True)
    ### END SOLUTION


async def as_completed_indexed(coro_fns: Iterable[CoroFn]) -> AsyncGenerator[tuple[int, Any], None]:
    """Run every ``coro_fn()`` concurrently; yield ``(index, result)`` as each one finishes.

    ``index`` is the position of the coro_fn in the input. If the consumer stops
    early (``break``, then ``aclose()``), the unfinished tasks are cancelled. An
    exception from a task propagates out of the generator (and the rest are
    cancelled).
    """
    ### BEGIN SOLUTION
    started = [asyncio.create_task(coro_fn()) for coro_fn in coro_fns]
    position = {task: index for index, task in enumerate(started)}
    pending = set(started)
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=position.__getitem__):
                yield position[task], task.result()
    finally:
        for task in started:
            task.cancel()
        await asyncio.gather(*started, return_exceptions=True)
    ### END SOLUTION


class TaskSet:
    """Owns background tasks ("fire and forget", done safely).

    - ``spawn(coro)`` starts ``coro`` as a task and keeps a strong reference to
      it until it finishes (the event loop itself keeps only a weak one);
    - ``len(taskset)`` is the number of tasks not finished yet;
    - ``taskset.errors`` is the list of exceptions raised by the tasks (a
      cancelled task is not an error);
    - ``await taskset.aclose(timeout)`` cancels the unfinished tasks and waits
      up to ``timeout`` seconds for them to end.
    """

    def __init__(self) -> None:
        """An empty set of tasks, with an empty ``errors`` list."""
        ### BEGIN SOLUTION
        self.errors: list[BaseException] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        ### END SOLUTION

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Start ``coro`` as a task, keep it until it finishes, and return the task."""
        ### BEGIN SOLUTION
        task = asyncio.create_task(coro)
        self._tasks.add(task)

        def finished(done: asyncio.Task[Any]) -> None:
            self._tasks.discard(done)
            if not done.cancelled() and done.exception() is not None:
                # Reading exception() marks it retrieved: no "never retrieved" log.
                self.errors.append(done.exception())  # type: ignore[arg-type]

        task.add_done_callback(finished)
        return task
        ### END SOLUTION

    def __len__(self) -> int:
        """The number of spawned tasks that have not finished yet."""
        ### BEGIN SOLUTION
        return sum(1 for task in self._tasks if not task.done())
        ### END SOLUTION

    async def aclose(self, timeout: float = 1.0) -> None:
        """Cancel every unfinished task and wait up to ``timeout`` seconds for them to end."""
        ### BEGIN SOLUTION
        unfinished = [task for task in self._tasks if not task.done()]
        for task in unfinished:
            task.cancel()
        if unfinished:  # asyncio.wait() refuses an empty collection
            await asyncio.wait(unfinished, timeout=timeout)
        ### END SOLUTION


async def map_with_workers(fn: Callable[[T], Awaitable[R]], items: Iterable[T], *, workers: int) -> list[R]:
    """Feed ``items`` through an ``asyncio.Queue`` to exactly ``workers`` worker tasks.

    Each worker takes items off the queue and awaits ``fn(item)``. Returns the
    results in input order; every worker has ended when it returns.
    ``workers < 1`` raises ``ValueError``.
    """
    ### BEGIN SOLUTION
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers!r}")
    queue: asyncio.Queue[tuple[int, T]] = asyncio.Queue()
    for pair in enumerate(items):
        queue.put_nowait(pair)
    results: list[Any] = [None] * queue.qsize()

    async def worker() -> None:
        # The queue is filled before the workers start, so "empty" means "all taken".
        while True:
            try:
                index, item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            results[index] = await fn(item)

    async with asyncio.TaskGroup() as group:
        for _ in range(workers):
            group.create_task(worker())
    return results
    ### END SOLUTION
