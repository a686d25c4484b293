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
    ### BEGIN SOLUTION
    await asyncio.sleep(delay)
    return f"Hello, {name}!"
    ### END SOLUTION


def make_greeting(name: str) -> Coroutine[Any, Any, str]:
    """Return a coroutine object that gives ``greet(name)``'s result when awaited.

    Nothing runs yet: no Task is created, nothing is scheduled on a loop, and
    this function works without any running event loop.
    """
    ### BEGIN SOLUTION
    return greet(name)
    ### END SOLUTION


def run(coro_fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run ``coro_fn(*args, **kwargs)`` to completion on a fresh event loop; return its result.

    Called from synchronous code. Raises ``TypeError`` naming what it got when
    ``coro_fn(...)`` does not return a coroutine. Exceptions of the coroutine
    propagate.
    """
    ### BEGIN SOLUTION
    coro = coro_fn(*args, **kwargs)
    if not inspect.iscoroutine(coro):
        raise TypeError(
            f"run() needs a function that returns a coroutine; "
            f"{coro_fn!r} returned {type(coro).__name__} {coro!r}"
        )
    return asyncio.run(coro)
    ### END SOLUTION


async def maybe_await(value: Any) -> Any:
    """Await ``value`` and return its result if it is awaitable; else return ``value`` unchanged."""
    ### BEGIN SOLUTION
    if inspect.isawaitable(value):
        return await value
    return value
    ### END SOLUTION


async def pipeline(value: Any, *steps: Callable[[Any], Any]) -> Any:
    """Pass ``value`` through each step in order and return the final value.

    A step is called with the previous value; if what it returns is awaitable
    (an ``async def`` step, or a plain callable returning a coroutine, task or
    future), that is awaited before the next step runs.
    """
    ### BEGIN SOLUTION
    for step in steps:
        value = await maybe_await(step(value))
    return value
    ### END SOLUTION


async def countdown(n: int, delay: float = 0.0) -> AsyncIterator[int]:
    """Async generator: wait ``delay`` seconds before each of ``n, n-1, ..., 1``.

    ``n <= 0`` yields nothing.
    """
    ### BEGIN SOLUTION
    for i in range(n, 0, -1):
        await asyncio.sleep(delay)
        yield i
    ### END SOLUTION


class Stopwatch:
    """Async context manager measuring the loop time spent inside its block.

    ``async with Stopwatch() as sw:`` binds the stopwatch itself. ``sw.elapsed``
    is ``None`` until the block ends, then the loop time the block took, also
    when the block raised (the exception propagates).
    """

    elapsed: float | None

    def __init__(self) -> None:
        """A stopwatch that has not measured anything yet."""
        ### BEGIN SOLUTION
        self.elapsed = None
        ### END SOLUTION

    async def __aenter__(self) -> Self:
        """Start timing on the loop clock; return the stopwatch itself."""
        ### BEGIN SOLUTION
        self.elapsed = None  # a stopwatch used again reads None until this block ends
        self._started = asyncio.get_running_loop().time()
        return self
        ### END SOLUTION

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Record the elapsed loop time; never suppress an exception."""
        ### BEGIN SOLUTION
        self.elapsed = asyncio.get_running_loop().time() - self._started
        ### END SOLUTION
