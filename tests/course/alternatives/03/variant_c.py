"""Alternative 03, variant c: a concurrent.futures.Future bridged with asyncio.wrap_future in from_callback,
a Runner used as a context manager, schedule sorted with a heap."""
from __future__ import annotations

import asyncio
import concurrent.futures
import heapq
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_legacy(coro_fn: Callable[..., Coroutine[Any, Any, T]], /, *args: Any) -> T:
    """Explicit flow; nested finally blocks so every step runs."""
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        result = loop.run_until_complete(coro_fn(*args))
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            try:
                loop.close()
            finally:
                asyncio.set_event_loop(None)
    return result


def run_modern(coro_fn: Callable[..., Coroutine[Any, Any, T]], /, *args: Any, debug: bool = False) -> T:
    """asyncio.run with debug passed through."""
    return asyncio.run(coro_fn(*args), debug=debug)


def run_all_on_one_loop(coro_fns: list[Callable[[], Coroutine[Any, Any, Any]]]) -> list[Any]:
    """Runner as a context manager."""
    with asyncio.Runner() as runner:
        return [runner.run(fn()) for fn in coro_fns]


async def schedule(delays: dict[str, float]) -> list[str]:
    """Callbacks push (delay, position, name) on a heap; popped in order at the end."""
    loop = asyncio.get_running_loop()
    heap: list[tuple[float, int, str]] = []
    remaining = len(delays)
    all_fired = loop.create_future()
    if remaining == 0:
        return []

    def fired(entry: tuple[float, int, str]) -> None:
        nonlocal remaining
        heapq.heappush(heap, entry)
        remaining -= 1
        if remaining == 0 and not all_fired.done():
            all_fired.set_result(None)

    handles = [loop.call_later(delay, fired, (delay, pos, name)) for pos, (name, delay) in enumerate(delays.items())]
    try:
        await all_fired
    except BaseException:
        for handle in handles:
            handle.cancel()
        raise
    return [heapq.heappop(heap)[2] for _ in range(len(heap))]


async def run_blocking(fn: Callable[..., T], /, *args: Any) -> T:
    """Default executor via a lambda."""
    return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args))


async def from_callback(start: Callable[[Callable[[Any], None]], Any], timeout: float | None = None) -> Any:
    """A thread-safe concurrent future, wrapped for the loop."""
    bridge: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def callback(value: Any) -> None:
        try:
            bridge.set_result(value)
        except concurrent.futures.InvalidStateError:
            pass  # second call, or the wait was cancelled or timed out

    start(callback)
    return await asyncio.wait_for(asyncio.wrap_future(bridge), timeout)
