"""Alternative 05: wait_for, TaskGroup with wrappers, an explicit stack, a logging.Filter."""
from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
CoroFn = Callable[[], Awaitable[Any]]

log = logging.getLogger("course.worker")


async def with_timeout(aw: Awaitable[T], seconds: float, default: Any = None) -> T | Any:
    """wait_for cancels and awaits the work on timeout."""
    task = asyncio.ensure_future(aw)
    try:
        return await asyncio.wait_for(task, seconds)
    except TimeoutError:
        if task.cancelled():
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
    """Retry with exponential waits."""
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    attempt = 0
    while True:
        try:
            return await coro_fn()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            if not isinstance(exc, retry_on) or attempt + 1 >= attempts:
                raise
        await asyncio.sleep(base_delay * factor ** attempt)
        attempt += 1


async def settle(coro_fns: Iterable[CoroFn]) -> tuple[list[Any], list[tuple[int, BaseException]]]:
    """A TaskGroup of wrappers that never fail."""
    outcomes: dict[int, tuple[bool, Any]] = {}

    async def guarded(index: int, fn: CoroFn) -> None:
        try:
            outcomes[index] = (True, await fn())
        except Exception as exc:  # noqa: BLE001 - failures are collected
            outcomes[index] = (False, exc)

    async with asyncio.TaskGroup() as tg:
        for index, fn in enumerate(coro_fns):
            tg.create_task(guarded(index, fn))
    results: list[Any] = []
    failures: list[tuple[int, BaseException]] = []
    for index in sorted(outcomes):
        ok, value = outcomes[index]
        if ok:
            results.append(value)
        else:
            failures.append((index, value))
    return results, failures


def count_leaf_exceptions(group: BaseExceptionGroup) -> dict[str, int]:
    """Walk nested groups with an explicit stack."""
    counts: collections.Counter[str] = collections.Counter()
    stack: list[BaseException] = [group]
    while stack:
        exc = stack.pop()
        if isinstance(exc, BaseExceptionGroup):
            stack.extend(exc.exceptions)
        else:
            counts[type(exc).__name__] += 1
    return counts


async def worker(
    queue: asyncio.Queue[Any],
    handle: Callable[[Any], Awaitable[Any]],
    cleanup: Callable[[], Awaitable[Any]],
) -> None:
    """Consume forever; log failures; clean up once on cancellation."""
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


def collect_loop_errors(loop: asyncio.AbstractEventLoop, sink: list[dict[str, Any]]) -> Callable[[], None]:
    """Install a collecting handler; return the undo."""
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: sink.append(context))

    def restore() -> None:
        loop.set_exception_handler(previous)

    return restore


class _SlowStepFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if text.startswith("Executing"):
            self.messages.append(text)
        return True


async def find_slow_steps(coro_fn: CoroFn, *, threshold: float) -> list[str]:
    """Debug mode + a logger filter that records slow-step messages."""
    loop = asyncio.get_running_loop()
    logger = logging.getLogger("asyncio")
    old_debug, old_duration = loop.get_debug(), loop.slow_callback_duration
    recorder = _SlowStepFilter()
    logger.addFilter(recorder)
    loop.set_debug(True)
    loop.slow_callback_duration = threshold
    try:
        await asyncio.create_task(coro_fn())
    finally:
        loop.set_debug(old_debug)
        loop.slow_callback_duration = old_duration
        logger.removeFilter(recorder)
    return list(recorder.messages)
