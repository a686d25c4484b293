"""Alternative 05, variant b: asyncio.timeout, gather(return_exceptions), recursion, a Handler, messages returned on error."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
CoroFn = Callable[[], Awaitable[Any]]


async def with_timeout(aw: Awaitable[T], seconds: float, default: Any = None) -> T | Any:
    """asyncio.timeout around a task; the task is cancelled and finished on expiry."""
    task = asyncio.ensure_future(aw)
    try:
        async with asyncio.timeout(seconds) as scope:
            return await task
    except TimeoutError:
        if scope.expired():
            return default
        raise


async def retry(
    coro_fn: CoroFn,
    *,
    attempts: int = 3,
    base_delay: float = 0.1,
    factor: float = 2.0,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
) -> Any:
    """A for loop over attempts."""
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, not {attempts}")
    for i in range(attempts):
        if i:
            await asyncio.sleep(base_delay * factor ** (i - 1))
        try:
            return await coro_fn()
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError) or not isinstance(exc, retry_on) or i == attempts - 1:
                raise
    raise AssertionError("unreachable")


async def settle(coro_fns: Iterable[CoroFn]) -> tuple[list[Any], list[tuple[int, BaseException]]]:
    """gather(return_exceptions=True)."""
    outcomes = await asyncio.gather(*(fn() for fn in coro_fns), return_exceptions=True)
    ok = [o for o in outcomes if not isinstance(o, BaseException)]
    bad = [(i, o) for i, o in enumerate(outcomes) if isinstance(o, BaseException)]
    return (ok, bad)


def count_leaf_exceptions(group: BaseExceptionGroup) -> dict[str, int]:
    """Recursive walk."""
    counts: dict[str, int] = {}

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            name = exc.__class__.__name__
            counts[name] = counts.get(name, 0) + 1

    walk(group)
    return counts


async def worker(queue: asyncio.Queue[Any], handle: Callable[[Any], Awaitable[Any]],
                 cleanup: Callable[[], Awaitable[Any]]) -> None:
    """Loop forever; clean up in an except CancelledError."""
    logger = logging.getLogger("course.worker")
    while True:
        try:
            item = await queue.get()
        except asyncio.CancelledError:
            await cleanup()
            raise
        try:
            await handle(item)
        except asyncio.CancelledError:
            queue.task_done()
            await cleanup()
            raise
        except Exception:
            logger.exception("item %r failed", item)
        queue.task_done()


def collect_loop_errors(loop: asyncio.AbstractEventLoop, sink: list[dict[str, Any]]) -> Callable[[], None]:
    """Bound method handler."""
    before = loop.get_exception_handler()

    def handler(_: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        sink.append(context)

    loop.set_exception_handler(handler)
    return lambda: loop.set_exception_handler(before)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Executing"):
            self.lines.append(message)


async def find_slow_steps(coro_fn: CoroFn, *, threshold: float) -> list[str]:
    """Handler on 'asyncio'; the work's own exception is swallowed and the messages returned (accepted)."""
    loop = asyncio.get_running_loop()
    saved = (loop.get_debug(), loop.slow_callback_duration)
    handler = _Collect()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        loop.set_debug(True)
        loop.slow_callback_duration = threshold
        try:
            await asyncio.ensure_future(coro_fn())
        except Exception:  # noqa: BLE001 - README: returning the messages instead is accepted
            pass
    finally:
        loop.set_debug(saved[0])
        loop.slow_callback_duration = saved[1]
        logger.removeHandler(handler)
    return handler.lines
