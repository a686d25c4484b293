"""Assignment 03: the event loop. The explicit loop flow done right, the modern runners,
callbacks scheduled on the loop, and bridges between the loop and other threads.

Fill in every function marked "YOUR CODE HERE". Instructions: README.md in this folder.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_legacy(coro_fn: Callable[..., Coroutine[Any, Any, T]], /, *args: Any) -> T:
    """Run ``coro_fn(*args)`` with the explicit loop flow and return its result.

    Create a new loop, make it the current loop, ``run_until_complete`` the
    coroutine, then in every case (success or exception) shut down the async
    generators, close the loop and unset the current loop. Does not use
    ``asyncio.run`` or ``asyncio.Runner`` and emits no DeprecationWarning.
    """
    ### BEGIN SOLUTION
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coro_fn(*args))
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
    ### END SOLUTION


def run_modern(coro_fn: Callable[..., Coroutine[Any, Any, T]], /, *args: Any, debug: bool = False) -> T:
    """Run ``coro_fn(*args)`` with ``asyncio.run`` and return its result.

    With ``debug=True`` the coroutine runs with the loop's debug mode on.
    """
    ### BEGIN SOLUTION
    return asyncio.run(coro_fn(*args), debug=debug)
    ### END SOLUTION


def run_all_on_one_loop(coro_fns: list[Callable[[], Coroutine[Any, Any, Any]]]) -> list[Any]:
    """Run each ``coro_fn`` in turn, all on one event loop; return their results in order.

    The loop is closed at the end, also when one of them raises (the exception
    propagates).
    """
    ### BEGIN SOLUTION
    with asyncio.Runner() as runner:
        return [runner.run(coro_fn()) for coro_fn in coro_fns]
    ### END SOLUTION


async def schedule(delays: dict[str, float]) -> list[str]:
    """Schedule one plain callback per name with ``loop.call_later``; return the firing order.

    Returns once every callback has fired. Callbacks due at the same moment
    (equal delays) count in the dict's order: asyncio's timer heap does not
    keep insertion order among them. ``{}`` returns ``[]``.
    """
    ### BEGIN SOLUTION
    loop = asyncio.get_running_loop()
    fired: list[str] = []
    if not delays:
        return fired
    all_fired = loop.create_future()

    def fire(name: str) -> None:
        fired.append(name)
        if len(fired) == len(delays):
            all_fired.set_result(None)

    handles = [loop.call_later(delay, fire, name) for name, delay in delays.items()]
    try:
        await all_fired
    finally:
        for handle in handles:
            handle.cancel()  # only matters if we were cancelled before the end
    # The timers fire in the order of their delays, but the heap hands out
    # timers due at the same moment in no set order: put those in dict order.
    position = {name: index for index, name in enumerate(delays)}
    return sorted(fired, key=lambda name: (delays[name], position[name]))
    ### END SOLUTION


async def run_blocking(fn: Callable[..., T], /, *args: Any) -> T:
    """Run the blocking ``fn(*args)`` in a worker thread, keeping the loop responsive.

    Returns its result; its exception propagates.
    """
    ### BEGIN SOLUTION
    return await asyncio.to_thread(fn, *args)
    ### END SOLUTION


async def from_callback(start: Callable[[Callable[[Any], None]], Any], timeout: float | None = None) -> Any:
    """Adapt a callback API: call ``start(callback)`` once and return the value passed to ``callback``.

    ``callback(value)`` may be called from any thread; only its first call
    counts, later calls are ignored. Raises ``TimeoutError`` if it has not been
    called within ``timeout`` seconds (``None``: wait as long as it takes).
    """
    ### BEGIN SOLUTION
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def deliver(value: Any) -> None:  # runs on the loop's thread
        # A second call, or one after the timeout, finds the future done.
        if not future.done():
            future.set_result(value)

    def callback(value: Any) -> None:  # may run on any thread
        try:
            loop.call_soon_threadsafe(deliver, value)
        except RuntimeError:
            pass  # the loop is already closed: nobody is waiting any more

    start(callback)
    async with asyncio.timeout(timeout):
        return await future
    ### END SOLUTION
