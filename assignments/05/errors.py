"""Assignment 05: errors, cancellation and debugging.

Timeouts, retries with backoff, collecting failures, exception groups, a
worker that survives bad items and cleans up when cancelled, the loop's
exception handler and debug mode's slow-step warnings.

Fill in every function marked "YOUR CODE HERE". Instructions: README.md in this folder.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

CoroFn = Callable[[], Awaitable[Any]]


async def with_timeout(aw: Awaitable[T], seconds: float, default: Any = None) -> T | Any:
    """Return ``aw``'s result, or ``default`` if it did not finish within ``seconds``.

    On timeout ``aw`` has been cancelled (and has finished cancelling) when
    this returns. Any other exception raised by ``aw`` propagates, and so does
    a cancellation of the caller.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


async def retry(
    coro_fn: Callable[[], Awaitable[T]],
    *,
    attempts: int = 3,
    base_delay: float = 0.1,
    factor: float = 2.0,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
) -> T:
    """Call ``coro_fn()`` until it succeeds, at most ``attempts`` times.

    Before retry number ``i`` (the first retry is ``i = 0``) wait
    ``base_delay * factor ** i`` seconds. An exception that does not match
    ``retry_on`` propagates at once; ``asyncio.CancelledError`` is never
    retried; after the last attempt the last exception propagates.
    ``attempts < 1`` raises ``ValueError``.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


async def settle(coro_fns: Iterable[CoroFn]) -> tuple[list[Any], list[tuple[int, BaseException]]]:
    """Run every ``coro_fn()`` concurrently and wait for all of them.

    Returns ``(results, failures)``: the results of those that succeeded, in
    input order, and ``(index, exception)`` for those that failed, by
    ascending index. Failures never propagate; a cancellation of the caller
    does (and cancels the work still running).
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def count_leaf_exceptions(group: BaseExceptionGroup) -> dict[str, int]:
    """Count the leaf exceptions of a possibly nested exception group by class name.

    Nested groups are not leaves: their own leaves are counted instead.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


async def worker(
    queue: asyncio.Queue[Any],
    handle: Callable[[Any], Awaitable[Any]],
    cleanup: Callable[[], Awaitable[Any]],
) -> None:
    """Consume ``queue`` forever: ``await handle(item)``, then ``queue.task_done()``.

    An ``Exception`` from ``handle`` is logged with
    ``logging.getLogger("course.worker").exception`` and the worker goes on
    with the next item (``task_done`` is still called). When the worker is
    cancelled it awaits ``cleanup()`` once and re-raises the cancellation.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def collect_loop_errors(loop: asyncio.AbstractEventLoop, sink: list[dict[str, Any]]) -> Callable[[], None]:
    """Make ``loop`` append each exception-handler context dict to ``sink`` instead of logging it.

    Returns a function that puts back the handler that was installed before.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


async def find_slow_steps(coro_fn: CoroFn, *, threshold: float) -> list[str]:
    """Run ``coro_fn()`` as a task in debug mode; return asyncio's slow-step messages.

    While it runs, the loop's debug mode is on and ``slow_callback_duration``
    is ``threshold``; the messages are those asyncio logged about steps that
    took longer ("Executing ... took ... seconds"). The loop's previous debug
    settings are restored afterwards, also when ``coro_fn()`` raises (its
    exception then propagates).
    """
    # YOUR CODE HERE
    raise NotImplementedError()
