"""Alternative 03: explicit loops everywhere, asyncio.timeout, run_in_executor."""
from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_legacy(coro_fn: Callable[..., Coroutine[Any, Any, T]], /, *args: Any) -> T:
    """New loop, current, run_until_complete; always shut down generators, close, unset."""
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coro_fn(*args))
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def run_modern(coro_fn: Callable[..., Coroutine[Any, Any, T]], /, *args: Any, debug: bool = False) -> T:
    """Through asyncio.run."""
    return asyncio.run(coro_fn(*args), debug=debug)


def run_all_on_one_loop(coro_fns: list[Callable[[], Coroutine[Any, Any, Any]]]) -> list[Any]:
    """One Runner, each coro_fn in turn."""
    results = []
    runner = asyncio.Runner()
    try:
        for fn in coro_fns:
            results.append(runner.run(fn()))
    finally:
        runner.close()
    return results


async def schedule(delays: dict[str, float]) -> list[str]:
    """call_later per name; names in firing order, ties in dict order."""
    loop = asyncio.get_running_loop()
    fired: list[tuple[float, int, str]] = []
    done = loop.create_future()
    if not delays:
        return []

    def on_fire(delay: float, pos: int, name: str) -> None:
        fired.append((delay, pos, name))
        if len(fired) == len(delays) and not done.done():
            done.set_result(None)

    handles = []
    for pos, (name, delay) in enumerate(delays.items()):
        handles.append(loop.call_later(delay, on_fire, delay, pos, name))
    try:
        await done
    finally:
        for h in handles:
            h.cancel()
    fired.sort()
    return [name for _, _, name in fired]


async def run_blocking(fn: Callable[..., T], /, *args: Any) -> T:
    """run_in_executor on the default pool."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args))


async def from_callback(start: Callable[[Callable[[Any], None]], Any], timeout: float | None = None) -> Any:
    """Bridge a callback from any thread into a future."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()
    lock = threading.Lock()
    called = False

    def deliver(value: Any) -> None:
        if not fut.done():
            fut.set_result(value)

    def callback(value: Any) -> None:
        nonlocal called
        with lock:
            if called:
                return
            called = True
        try:
            loop.call_soon_threadsafe(deliver, value)
        except RuntimeError:
            pass  # loop already closed: late call ignored

    start(callback)
    async with asyncio.timeout(timeout):
        return await fut
