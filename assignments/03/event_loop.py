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
    # YOUR CODE HERE
    raise NotImplementedError()


def run_modern(coro_fn: Callable[..., Coroutine[Any, Any, T]], /, *args: Any, debug: bool = False) -> T:
    """Run ``coro_fn(*args)`` with ``asyncio.run`` and return its result.

    With ``debug=True`` the coroutine runs with the loop's debug mode on.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def run_all_on_one_loop(coro_fns: list[Callable[[], Coroutine[Any, Any, Any]]]) -> list[Any]:
    """Run each ``coro_fn`` in turn, all on one event loop; return their results in order.

    The loop is closed at the end, also when one of them raises (the exception
    propagates).
    """
    # YOUR CODE HERE
    raise NotImplementedError()


async def schedule(delays: dict[str, float]) -> list[str]:
    """Schedule one plain callback per name with ``loop.call_later``; return the firing order.

    Returns once every callback has fired. Callbacks due at the same moment
    (equal delays) count in the dict's order: asyncio's timer heap does not
    keep insertion order among them. ``{}`` returns ``[]``.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


async def run_blocking(fn: Callable[..., T], /, *args: Any) -> T:
    """Run the blocking ``fn(*args)`` in a worker thread, keeping the loop responsive.

    Returns its result; its exception propagates.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


async def from_callback(start: Callable[[Callable[[Any], None]], Any], timeout: float | None = None) -> Any:
    """Adapt a callback API: call ``start(callback)`` once and return the value passed to ``callback``.

    ``callback(value)`` may be called from any thread; only its first call
    counts, later calls are ignored. Raises ``TimeoutError`` if it has not been
    called within ``timeout`` seconds (``None``: wait as long as it takes).
    """
    # YOUR CODE HERE
    raise NotImplementedError()
