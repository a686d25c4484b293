"""Building blocks of scenarios, and the scenarios every assignment shares.

An *outcome* is how a scenario reports one call of student code, as plain
data: ``{"value": v}``, ``{"raised": exception}`` or ``{"hung": seconds}``
(the call did not finish within that much loop time, so the scenario gave
up on it). The judge turns it back into the value or into a failure with a
hint (:func:`coursekit.judge.unwrap`).
"""
from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import coursekit
from coursekit.probes import Probe, scenario
from coursekit.sleeps import record_sleeps
from coursekit.testing import CourseSignal

# The kit's frames stay out of the failure a student reads (coursekit.hidden_in_judged_failures).
__tracebackhide__ = coursekit.hidden_in_judged_failures

Outcome = dict[str, Any]


def exception_from(name: str, *args: Any) -> Exception:
    """A new exception of the class called ``name``, with ``args``: a built-in exception, one of asyncio's or
    one of aiohttp's client exceptions. Nothing else is ever looked up: the name comes from a test's plain data.
    """
    import builtins

    import aiohttp.client_exceptions

    kind = vars(builtins).get(name)
    if kind is None and name in asyncio.__all__:
        kind = getattr(asyncio, name)
    if kind is None and name in aiohttp.client_exceptions.__all__:
        kind = getattr(aiohttp.client_exceptions, name)
    if not (isinstance(kind, type) and issubclass(kind, Exception)) or issubclass(kind, BaseExceptionGroup):
        raise ValueError(f"not an exception a scenario may raise: {name!r}")
    return kind(*args)


def unfinished_tasks() -> set[asyncio.Task[Any]]:
    """The running loop's tasks that have not finished: a snapshot to compare before and after a call."""
    return {t for t in asyncio.all_tasks() if not t.done()}


def task_names(tasks: Iterable[asyncio.Task[Any]]) -> list[str]:
    """The tasks as a test names them (their coroutines' qualified names), sorted."""
    from coursekit.probes import task_name

    return sorted(task_name(t) for t in tasks)


def ticking(probe: Probe, ticks: int) -> tuple[asyncio.Task[None], list[float]]:
    """A task that ticks every loop second ``ticks`` times, and the loop times of its ticks (filled as it runs).

    Beside a call of student code it shows whether the loop stayed free: a
    blocking call delays every tick.
    """
    times: list[float] = []

    async def ticker() -> None:
        for _ in range(ticks):
            await asyncio.sleep(1)
            times.append(probe.now())

    return asyncio.create_task(ticker()), times


def attempt(function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Outcome:
    """Call ``function`` (synchronous); its value, or the exception it raised, as an outcome."""
    try:
        return {"value": function(*args, **kwargs)}
    except CourseSignal:
        raise
    except BaseException as exc:  # noqa: BLE001 - the student's exception is the observation
        return {"raised": exc}


async def within(aw: Awaitable[Any] | Any, seconds: float) -> Outcome:
    """Await ``aw`` for at most ``seconds`` of loop time; the outcome (``hung`` past the limit).

    ``aw`` may also be a value that is not awaitable (a stub that returned
    instead of being a coroutine): that is reported as it is, under
    ``not_awaitable``. A ``TimeoutError`` raised by the student's code itself
    is an ordinary ``raised``.
    """
    if not inspect.isawaitable(aw):
        return {"not_awaitable": aw}
    try:
        async with asyncio.timeout(seconds) as deadline:
            try:
                return {"value": await aw}
            except asyncio.CancelledError:
                if deadline.expired():
                    return {"hung": seconds}
                raise
    except CourseSignal:
        raise
    except asyncio.CancelledError as exc:
        return {"raised": exc}
    except BaseException as exc:  # noqa: BLE001 - the student's exception is the observation
        return {"raised": exc}


async def call(probe: Probe, function: str, args: list[Any], kwargs: dict[str, Any], seconds: float) -> Outcome:
    """``await module.function(*args, **kwargs)`` within ``seconds`` of loop time; a raise at call time included."""
    made = attempt(probe.function(function), *args, **kwargs)
    if "raised" in made:
        return made
    return await within(made["value"], seconds)


@contextmanager
def sleeps_recorded(probe: Probe) -> Iterator[list[float]]:
    """``time.sleep`` (and the module's own names for it) record their argument instead of sleeping."""
    with pytest.MonkeyPatch.context() as patch:
        yield record_sleeps(patch, probe.module)


@scenario
def call_sync(probe: Probe, *, function: str, args: list[Any] = (), kwargs: dict[str, Any] | None = None,
              record_sleeps: bool = False) -> dict[str, Any]:
    """Call the student's synchronous ``function``: its outcome, and the ``time.sleep`` calls if recorded."""
    if not record_sleeps:
        return {"outcome": attempt(probe.function(function), *args, **(kwargs or {}))}
    with sleeps_recorded(probe) as naps:
        outcome = attempt(probe.function(function), *args, **(kwargs or {}))
    return {"outcome": outcome, "sleeps": list(naps)}


@scenario
async def call_async(probe: Probe, *, function: str, args: list[Any] = (), kwargs: dict[str, Any] | None = None,
                     within: float = 60) -> dict[str, Any]:
    """Await the student's ``function(*args, **kwargs)`` on the virtual clock: its outcome and the loop time it took."""
    outcome = await call(probe, function, list(args), kwargs or {}, within)
    return {"outcome": outcome, "took": probe.now()}


@scenario
def imported(probe: Probe) -> None:
    """Nothing but the import of the student's module (the runtime reports an import error itself)."""
    return None
