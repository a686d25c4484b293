"""Alternative 05, variant c: asyncio.wait with a timeout in with_timeout (its own TimeoutError gives the default,
which the README allows), settle with asyncio.wait and a clean-up finally, functools.reduce-free counting."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
CoroFn = Callable[[], Awaitable[Any]]


async def with_timeout(aw: Awaitable[T], seconds: float, default: Any = None) -> T | Any:
    """asyncio.wait(timeout=...), then cancel and await the work on expiry."""
    task = asyncio.ensure_future(aw)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise
    if not done:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return default
    try:
        return task.result()
    except TimeoutError:
        return default


async def retry(coro_fn: CoroFn, *, attempts: int = 3, base_delay: float = 0.1, factor: float = 2.0,
                retry_on: tuple[type[BaseException], ...] = (Exception,)) -> Any:
    """Delays precomputed."""
    if attempts < 1:
        raise ValueError("attempts must be positive")
    waits = [base_delay * factor ** i for i in range(attempts - 1)] + [None]
    for wait in waits:
        try:
            return await coro_fn()
        except asyncio.CancelledError:
            raise
        except retry_on:
            if wait is None:
                raise
        await asyncio.sleep(wait)


async def settle(coro_fns: Iterable[CoroFn]) -> tuple[list[Any], list[tuple[int, BaseException]]]:
    """asyncio.wait for all, with a finally that cancels and awaits when the caller is cancelled."""
    tasks = [asyncio.ensure_future(fn()) for fn in coro_fns]
    try:
        if tasks:
            await asyncio.wait(tasks)
    finally:
        unfinished = [t for t in tasks if not t.done()]
        for t in unfinished:
            t.cancel()
        if unfinished:
            await asyncio.wait(unfinished)
    results: list[Any] = []
    failures: list[tuple[int, BaseException]] = []
    for i, t in enumerate(tasks):
        if t.cancelled():
            failures.append((i, asyncio.CancelledError()))
        elif t.exception() is not None:
            failures.append((i, t.exception()))  # type: ignore[arg-type]
        else:
            results.append(t.result())
    return results, failures


def count_leaf_exceptions(group: BaseExceptionGroup) -> dict[str, int]:
    """Leaves via BaseExceptionGroup.split with a predicate that sees every leaf."""
    counts: dict[str, int] = {}

    def leaf(exc: BaseException) -> bool:
        if not isinstance(exc, BaseExceptionGroup):
            counts[type(exc).__name__] = counts.get(type(exc).__name__, 0) + 1
        return False

    group.split(leaf)
    return counts


async def worker(queue: asyncio.Queue[Any], handle: Callable[[Any], Awaitable[Any]],
                 cleanup: Callable[[], Awaitable[Any]]) -> None:
    """try/except around the whole loop."""
    logger = logging.getLogger("course.worker")
    try:
        while True:
            item = await queue.get()
            try:
                await handle(item)
            except Exception as exc:
                logger.exception("handle(%r) raised %s", item, type(exc).__name__)
            queue.task_done()
    except asyncio.CancelledError:
        await cleanup()
        raise


def collect_loop_errors(loop: asyncio.AbstractEventLoop, sink: list[dict[str, Any]]) -> Callable[[], None]:
    """sink.append bound as the handler body."""
    old = loop.get_exception_handler()
    loop.set_exception_handler(lambda lp, ctx: sink.append(ctx))

    def undo() -> None:
        loop.set_exception_handler(old)
    return undo


async def find_slow_steps(coro_fn: CoroFn, *, threshold: float) -> list[str]:
    """A handler class defined inline; TaskGroup to run the work as a task."""
    found: list[str] = []

    class Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            msg = record.getMessage()
            if msg.startswith("Executing"):
                found.append(msg)

    loop = asyncio.get_running_loop()
    asyncio_log = logging.getLogger("asyncio")
    grab = Grab()
    debug, duration = loop.get_debug(), loop.slow_callback_duration
    asyncio_log.addHandler(grab)
    loop.set_debug(True)
    loop.slow_callback_duration = threshold
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(coro_fn())
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    finally:
        loop.slow_callback_duration = duration
        loop.set_debug(debug)
        asyncio_log.removeHandler(grab)
    return found
