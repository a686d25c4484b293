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
    # YOUR CODE HERE
    raise NotImplementedError()


async def first_completed(coro_fns: Iterable[CoroFn], *, timeout: float | None = None) -> Any:
    """Run every ``coro_fn()`` concurrently; return the result of the first to succeed.

    Failures are ignored unless every one fails: then an ``ExceptionGroup`` of
    all the failures is raised. ``TimeoutError`` is raised if ``timeout``
    seconds pass first. Before returning or raising, every other task has been
    cancelled and awaited. An empty input raises ``ValueError``.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


async def bounded_map(fn: Callable[[T], Awaitable[R]], items: Iterable[T], *, limit: int) -> list[R]:
    """Await ``fn(item)`` for every item, at most ``limit`` calls in flight at once.

    Results come back in input order. ``limit < 1`` raises ``ValueError``. If a
    call fails, its exception propagates and no other call is left running.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


async def as_completed_indexed(coro_fns: Iterable[CoroFn]) -> AsyncGenerator[tuple[int, Any], None]:
    """Run every ``coro_fn()`` concurrently; yield ``(index, result)`` as each one finishes.

    ``index`` is the position of the coro_fn in the input. If the consumer stops
    early (``break``, then ``aclose()``), the unfinished tasks are cancelled. An
    exception from a task propagates out of the generator (and the rest are
    cancelled).
    """
    # YOUR CODE HERE
    raise NotImplementedError()


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
        # YOUR CODE HERE
        raise NotImplementedError()

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Start ``coro`` as a task, keep it until it finishes, and return the task."""
        # YOUR CODE HERE
        raise NotImplementedError()

    def __len__(self) -> int:
        """The number of spawned tasks that have not finished yet."""
        # YOUR CODE HERE
        raise NotImplementedError()

    async def aclose(self, timeout: float = 1.0) -> None:
        """Cancel every unfinished task and wait up to ``timeout`` seconds for them to end."""
        # YOUR CODE HERE
        raise NotImplementedError()


async def map_with_workers(fn: Callable[[T], Awaitable[R]], items: Iterable[T], *, workers: int) -> list[R]:
    """Feed ``items`` through an ``asyncio.Queue`` to exactly ``workers`` worker tasks.

    Each worker takes items off the queue and awaits ``fn(item)``. Returns the
    results in input order; every worker has ended when it returns.
    ``workers < 1`` raises ``ValueError``.
    """
    # YOUR CODE HERE
    raise NotImplementedError()
