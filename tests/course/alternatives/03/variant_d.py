"""Alternative 03, variant d: schedule leaves its timers alone when cancelled (the README allows it: a late callback
does no harm), run_legacy also cancels leftover tasks and shuts the default executor down, a threading.Event-free
from_callback whose callback checks the future on the loop thread."""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    leftovers = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))


def run_legacy(coro_fn: Callable[..., Coroutine[Any, Any, T]], /, *args: Any) -> T:
    """What asyncio.run does, written out."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(coro_fn(*args))
    finally:
        try:
            _cancel_leftovers(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def run_modern(coro_fn: Callable[..., Coroutine[Any, Any, T]], /, *args: Any, debug: bool = False) -> T:
    """asyncio.run; debug only when asked."""
    if debug:
        return asyncio.run(coro_fn(*args), debug=True)
    return asyncio.run(coro_fn(*args))


def run_all_on_one_loop(coro_fns: list[Callable[[], Coroutine[Any, Any, Any]]]) -> list[Any]:
    """Runner, results appended one by one."""
    out: list[Any] = []
    with asyncio.Runner() as runner:
        for fn in coro_fns:
            out.append(runner.run(fn()))
    return out


async def schedule(delays: dict[str, float]) -> list[str]:
    """Timers are not cancelled on cancellation; a late callback only appends to a list nobody reads."""
    loop = asyncio.get_running_loop()
    order = {name: i for i, name in enumerate(delays)}
    fired: list[str] = []
    everything = loop.create_future()

    def on_timer(name: str) -> None:
        fired.append(name)
        if len(fired) == len(delays) and not everything.done():
            everything.set_result(None)

    for name, delay in delays.items():
        loop.call_later(delay, on_timer, name)
    if delays:
        await everything
    return sorted(fired, key=lambda n: (delays[n], order[n]))


async def run_blocking(fn: Callable[..., T], /, *args: Any) -> T:
    """to_thread."""
    return await asyncio.to_thread(fn, *args)


async def from_callback(start: Callable[[Callable[[Any], None]], Any], timeout: float | None = None) -> Any:
    """call_soon_threadsafe; the done() check happens on the loop thread."""
    loop = asyncio.get_running_loop()
    result: asyncio.Future[Any] = loop.create_future()

    def on_loop(value: Any) -> None:
        if not result.done():
            result.set_result(value)

    def callback(value: Any) -> None:
        try:
            loop.call_soon_threadsafe(on_loop, value)
        except RuntimeError:  # the loop has closed: a late call is ignored
            pass

    start(callback)
    async with asyncio.timeout(timeout):
        return await result
