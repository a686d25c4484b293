"""Assignment 02: coroutines, awaitables, async generators and async context managers.

Fill in every function marked "YOUR CODE HERE". Instructions: README.md in this folder.
"""
from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable, Coroutine
from types import TracebackType
from typing import Any, Self


async def greet(name: str, delay: float = 0.0) -> str:
    """Wait ``delay`` seconds without blocking the loop, then return ``"Hello, <name>!"``."""
    # YOUR CODE HERE
    raise NotImplementedError()


def make_greeting(name: str) -> Coroutine[Any, Any, str]:
    """Return a coroutine object that gives ``greet(name)``'s result when awaited.

    Nothing runs yet: no Task is created, nothing is scheduled on a loop, and
    this function works without any running event loop.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def run(coro_fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run ``coro_fn(*args, **kwargs)`` to completion on a fresh event loop; return its result.

    Called from synchronous code. Raises ``TypeError`` naming what it got when
    ``coro_fn(...)`` does not return a coroutine. Exceptions of the coroutine
    propagate.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


async def maybe_await(value: Any) -> Any:
    """Await ``value`` and return its result if it is awaitable; else return ``value`` unchanged."""
    # YOUR CODE HERE
    raise NotImplementedError()


async def pipeline(value: Any, *steps: Callable[[Any], Any]) -> Any:
    """Pass ``value`` through each step in order and return the final value.

    A step is called with the previous value; if what it returns is awaitable
    (an ``async def`` step, or a plain callable returning a coroutine, task or
    future), that is awaited before the next step runs.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


async def countdown(n: int, delay: float = 0.0) -> AsyncIterator[int]:
    """Async generator: wait ``delay`` seconds before each of ``n, n-1, ..., 1``.

    ``n <= 0`` yields nothing.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


class Stopwatch:
    """Async context manager measuring the loop time spent inside its block.

    ``async with Stopwatch() as sw:`` binds the stopwatch itself. ``sw.elapsed``
    is ``None`` until the block ends, then the loop time the block took, also
    when the block raised (the exception propagates).
    """

    elapsed: float | None

    def __init__(self) -> None:
        """A stopwatch that has not measured anything yet."""
        # YOUR CODE HERE
        raise NotImplementedError()

    async def __aenter__(self) -> Self:
        """Start timing on the loop clock; return the stopwatch itself."""
        # YOUR CODE HERE
        raise NotImplementedError()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Record the elapsed loop time; never suppress an exception."""
        # YOUR CODE HERE
        raise NotImplementedError()
