"""Alternative 02, variant b: a hand-managed loop in run, greet(name) returned as is."""
from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable, Coroutine
from types import TracebackType
from typing import Any, Self


async def greet(name: str, delay: float = 0.0) -> str:
    """Greeting after delay."""
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


def make_greeting(name: str) -> Coroutine[Any, Any, str]:
    """The unstarted coroutine itself."""
    return greet(name)


def run(coro_fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """new_event_loop, run_until_complete, close; never set as current."""
    coro = coro_fn(*args, **kwargs)
    if not inspect.iscoroutine(coro):
        raise TypeError(f"run() needs a coroutine, got {coro!r} of type {type(coro).__qualname__}")
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


async def maybe_await(value: Any) -> Any:
    """Await when awaitable."""
    return await value if inspect.isawaitable(value) else value


async def pipeline(value: Any, *steps: Callable[[Any], Any]) -> Any:
    """Each step through maybe_await."""
    for step in steps:
        value = await maybe_await(step(value))
    return value


async def countdown(n: int, delay: float = 0.0) -> AsyncIterator[int]:
    """n .. 1."""
    for i in range(n, 0, -1):
        await asyncio.sleep(delay)
        yield i


class Stopwatch:
    """Loop-time stopwatch."""

    elapsed: float | None = None

    def __init__(self) -> None:
        """Fresh."""
        self.elapsed = None
        self._started = 0.0

    async def __aenter__(self) -> Self:
        """Start timing."""
        self._started = asyncio.get_running_loop().time()
        self.elapsed = None
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        """Record elapsed; no suppression."""
        self.elapsed = asyncio.get_running_loop().time() - self._started
