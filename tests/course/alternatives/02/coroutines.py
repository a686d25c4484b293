"""Alternative 02: Runner instead of asyncio.run, a wrapper coroutine, explicit loops."""
from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable, Coroutine
from types import TracebackType
from typing import Any, Self


async def greet(name: str, delay: float = 0.0) -> str:
    """Return the greeting after ``delay``."""
    await asyncio.sleep(delay)
    return "Hello, " + name + "!"


def make_greeting(name: str) -> Coroutine[Any, Any, str]:
    """A coroutine of our own wrapping greet, not started."""
    async def _wrapped() -> str:
        return await greet(name)
    return _wrapped()


def run(coro_fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run on a fresh loop using asyncio.Runner."""
    coro = coro_fn(*args, **kwargs)
    if not asyncio.iscoroutine(coro):
        raise TypeError(f"expected a coroutine, got {type(coro).__name__}: {coro!r}")
    with asyncio.Runner() as runner:
        return runner.run(coro)


async def maybe_await(value: Any) -> Any:
    """Await once if awaitable."""
    if inspect.isawaitable(value):
        return await value
    return value


async def pipeline(value: Any, *steps: Callable[[Any], Any]) -> Any:
    """Thread value through steps."""
    current = value
    for step in steps:
        current = step(current)
        if inspect.isawaitable(current):
            current = await current
    return current


async def countdown(n: int, delay: float = 0.0) -> AsyncIterator[int]:
    """Yield n..1, sleeping before each."""
    i = n
    while i > 0:
        await asyncio.sleep(delay)
        yield i
        i -= 1


class Stopwatch:
    """Loop-time stopwatch."""

    elapsed: float | None

    def __init__(self) -> None:
        """Not measured yet."""
        self.elapsed = None
        self._t0: float | None = None

    async def __aenter__(self) -> Self:
        """Start."""
        self.elapsed = None
        self._t0 = asyncio.get_running_loop().time()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        """Stop; never suppress."""
        assert self._t0 is not None
        self.elapsed = asyncio.get_running_loop().time() - self._t0
        return None
