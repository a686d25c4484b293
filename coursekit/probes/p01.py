"""Scenarios of assignment 01 (why asynchronous?): what only a probe beside the code can see."""
from __future__ import annotations

import asyncio
from typing import Any

import coursekit
from coursekit.probes import Probe, scenario
from coursekit.probes.kit import call, exception_from, ticking

# The kit's frames stay out of the failure a student reads (coursekit.hidden_in_judged_failures).
__tracebackhide__ = coursekit.hidden_in_judged_failures


@scenario
async def fetch_beside_ticker(probe: Probe, *, label: str, delay: float, ticks: int) -> dict[str, Any]:
    """``fetch_async(label, delay)`` while another task ticks every second: the outcome and the tick times."""
    ticker, times = ticking(probe, ticks)
    outcome = await call(probe, "fetch_async", [label, delay], {}, 10 * (delay + ticks + 1))
    await ticker
    return {"outcome": outcome, "ticks": times}


@scenario
async def timed_sleep(probe: Probe, *, result: Any, delay: float, as_task: bool = False) -> dict[str, Any]:
    """``timed(asyncio.sleep(delay, result=result))``, the awaitable a coroutine or a task."""
    sleeper: Any = asyncio.sleep(delay, result=result)
    if as_task:
        sleeper = asyncio.create_task(sleeper)
    try:
        outcome = await call(probe, "timed", [sleeper], {}, 10 * (delay + 1))
    finally:
        if not as_task:
            sleeper.close()  # no "never awaited" warning when timed did not await it
    return {"outcome": outcome, "took": probe.now()}


@scenario
async def timed_failure(probe: Probe, *, error: str, message: str, after: float) -> dict[str, Any]:
    """``timed`` of work that raises the built-in ``error(message)`` after ``after`` s; whether the very error came out."""
    problem = exception_from(error, message)

    async def failing() -> None:
        await asyncio.sleep(after)
        raise problem

    work = failing()
    try:
        outcome = await call(probe, "timed", [work], {}, 10 * (after + 1))
    finally:
        work.close()
    same_error = "raised" in outcome and outcome["raised"] is problem
    return {"outcome": outcome, "same_error": same_error, "took": probe.now()}
