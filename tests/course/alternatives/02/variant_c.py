"""Alternative 02, variant c: asyncio.run, collections.abc.Awaitable checks, an asynccontextmanager-free class
with a start stack, a while-loop countdown."""
from __future__ import annotations

import asyncio
import collections.abc
import types
from collections.abc import AsyncIterator, Callable, Coroutine
from types import TracebackType
from typing import Any, Self


async def greet(name: str, delay: float = 0.0) -> str:
    """%-formatting, for a change."""
    await asyncio.sleep(delay)
    return "Hello, %s!" % (name,)


def make_greeting(name: str) -> Coroutine[Any, Any, str]:
    """greet(name), not awaited."""
    coro = greet(name)
    return coro


def run(coro_fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """asyncio.run after an isinstance check against types.CoroutineType."""
    candidate = coro_fn(*args, **kwargs)
    if not isinstance(candidate, types.CoroutineType):
        raise TypeError("run() expected coro_fn to return a coroutine, but it returned %r (%s)"
                        % (candidate, type(candidate).__name__))
    return asyncio.run(candidate)


async def maybe_await(value: Any) -> Any:
    """collections.abc.Awaitable (coroutines, futures, anything with __await__)."""
    if isinstance(value, collections.abc.Awaitable):
        return await value
    return value


async def pipeline(value: Any, *steps: Callable[[Any], Any]) -> Any:
    """Index loop."""
    result = value
    i = 0
    while i < len(steps):
        result = await maybe_await(steps[i](result))
        i += 1
    return result


async def countdown(n: int, delay: float = 0.0) -> AsyncIterator[int]:
    """while n > 0."""
    while n > 0:
        await asyncio.sleep(delay)
        yield n
        n -= 1


class Stopwatch:
    """Loop clock captured on enter, elapsed on exit."""

    def __init__(self) -> None:
        """No measurement yet."""
        self.elapsed: float | None = None
        self._clock: Callable[[], float] | None = None
        self._t0 = 0.0

    async def __aenter__(self) -> Self:
        """Start."""
        self._clock = asyncio.get_running_loop().time
        self.elapsed = None
        self._t0 = self._clock()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> bool:
        """Stop; False: the exception goes on."""
        assert self._clock is not None
        self.elapsed = self._clock() - self._t0
        return False
