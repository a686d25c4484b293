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
    ### BEGIN SOLUTION
    try:
        async with asyncio.timeout(seconds) as deadline:
            return await aw
    except TimeoutError:
        # Only our own deadline means "use the default"; a TimeoutError that
        # ``aw`` raised by itself before the deadline is one of its errors.
        if deadline.expired():
            return default
        raise
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts!r}")
    for i in range(attempts):
        try:
            return await coro_fn()
        except asyncio.CancelledError:
            raise
        except retry_on:
            if i == attempts - 1:
                raise
        await asyncio.sleep(base_delay * factor**i)
    raise AssertionError("unreachable")  # the loop always returns or raises
    ### END SOLUTION


async def settle(coro_fns: Iterable[CoroFn]) -> tuple[list[Any], list[tuple[int, BaseException]]]:
    """Run every ``coro_fn()`` concurrently and wait for all of them.

    Returns ``(results, failures)``: the results of those that succeeded, in
    input order, and ``(index, exception)`` for those that failed, by
    ascending index. Failures never propagate; a cancellation of the caller
    does (and cancels the work still running).
    """
    ### BEGIN SOLUTION
    outcomes = await asyncio.gather(*(fn() for fn in coro_fns), return_exceptions=True)
    results: list[Any] = []
    failures: list[tuple[int, BaseException]] = []
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, BaseException):
            failures.append((index, outcome))
        else:
            results.append(outcome)
    return results, failures
    ### END SOLUTION


def count_leaf_exceptions(group: BaseExceptionGroup) -> dict[str, int]:
    """Count the leaf exceptions of a possibly nested exception group by class name.

    Nested groups are not leaves: their own leaves are counted instead.
    """
    ### BEGIN SOLUTION
    counts: dict[str, int] = {}
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            for name, n in count_leaf_exceptions(exc).items():
                counts[name] = counts.get(name, 0) + n
        else:
            name = type(exc).__name__
            counts[name] = counts.get(name, 0) + 1
    return counts
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    log = logging.getLogger("course.worker")
    try:
        while True:
            item = await queue.get()
            try:
                await handle(item)
            except Exception:
                log.exception("handling %r failed", item)
            finally:
                queue.task_done()
    except asyncio.CancelledError:
        await cleanup()
        raise
    ### END SOLUTION


def collect_loop_errors(loop: asyncio.AbstractEventLoop, sink: list[dict[str, Any]]) -> Callable[[], None]:
    """Make ``loop`` append each exception-handler context dict to ``sink`` instead of logging it.

    Returns a function that puts back the handler that was installed before.
    """
    ### BEGIN SOLUTION
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        sink.append(context)

    loop.set_exception_handler(handler)

    def restore() -> None:
        loop.set_exception_handler(previous)

    return restore
    ### END SOLUTION


async def find_slow_steps(coro_fn: CoroFn, *, threshold: float) -> list[str]:
    """Run ``coro_fn()`` as a task in debug mode; return asyncio's slow-step messages.

    While it runs, the loop's debug mode is on and ``slow_callback_duration``
    is ``threshold``; the messages are those asyncio logged about steps that
    took longer ("Executing ... took ... seconds"). The loop's previous debug
    settings are restored afterwards, also when ``coro_fn()`` raises (its
    exception then propagates).
    """
    ### BEGIN SOLUTION
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if message.startswith("Executing"):
                messages.append(message)

    loop = asyncio.get_running_loop()
    old_debug, old_duration = loop.get_debug(), loop.slow_callback_duration
    collector = Collect(logging.WARNING)
    asyncio_logger = logging.getLogger("asyncio")
    asyncio_logger.addHandler(collector)
    loop.set_debug(True)
    loop.slow_callback_duration = threshold
    try:
        await asyncio.ensure_future(coro_fn())
    finally:
        loop.set_debug(old_debug)
        loop.slow_callback_duration = old_duration
        asyncio_logger.removeHandler(collector)
    return messages
    ### END SOLUTION
