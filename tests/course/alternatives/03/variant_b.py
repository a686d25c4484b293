"""Alternative 03, variant b: manual loop for run_all_on_one_loop, batch-ordered schedule, to_thread, wait_for."""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_legacy(coro_fn: Callable[..., Coroutine[Any, Any, T]], /, *args: Any) -> T:
    """The explicit flow, cleanup in finally."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(coro_fn(*args))
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
            asyncio.set_event_loop(None)


def run_modern(coro_fn: Callable[..., Coroutine[Any, Any, T]], /, *args: Any, debug: bool = False) -> T:
    """asyncio.run."""
    return asyncio.run(coro_fn(*args), debug=debug)


def run_all_on_one_loop(coro_fns: list[Callable[[], Coroutine[Any, Any, Any]]]) -> list[Any]:
    """One loop made by hand, closed in finally."""
    loop = asyncio.new_event_loop()
    try:
        return [loop.run_until_complete(fn()) for fn in coro_fns]
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


async def schedule(delays: dict[str, float]) -> list[str]:
    """Names firing in one loop iteration are put back in dict order (flushed by call_soon)."""
    loop = asyncio.get_running_loop()
    position = {name: i for i, name in enumerate(delays)}
    order: list[str] = []
    batch: list[str] = []
    finished = asyncio.Event()

    def flush() -> None:
        batch.sort(key=position.__getitem__)
        order.extend(batch)
        batch.clear()
        if len(order) == len(delays):
            finished.set()

    def fire(name: str) -> None:
        if not batch:
            loop.call_soon(flush)
        batch.append(name)

    if not delays:
        return []
    timers = [loop.call_later(d, fire, name) for name, d in delays.items()]
    try:
        await finished.wait()
    except asyncio.CancelledError:
        for t in timers:
            t.cancel()
        raise
    return order


async def run_blocking(fn: Callable[..., T], /, *args: Any) -> T:
    """to_thread."""
    return await asyncio.to_thread(fn, *args)


async def from_callback(start: Callable[[Callable[[Any], None]], Any], timeout: float | None = None) -> Any:
    """A future completed via call_soon_threadsafe, awaited under wait_for."""
    loop = asyncio.get_running_loop()
    box: asyncio.Future[Any] = loop.create_future()

    def settle(value: Any) -> None:
        if not box.done():
            box.set_result(value)

    def callback(value: Any) -> None:
        if loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(settle, value)
        except RuntimeError:
            pass

    start(callback)
    return await asyncio.wait_for(box, timeout)
