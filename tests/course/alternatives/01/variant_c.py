"""Alternative 01, variant c: asyncio.wait for the concurrent run, functools.partial jobs, map()."""
from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable
from time import sleep
from typing import Any


def fetch_sync(label: str, delay: float) -> str:
    """from time import sleep."""
    sleep(delay)
    return label


def run_sync(jobs: list[tuple[str, float]]) -> list[str]:
    """map over the jobs."""
    return list(map(lambda job: fetch_sync(*job), jobs))


async def fetch_async(label: str, delay: float) -> str:
    """sleep with a result."""
    return await asyncio.sleep(delay, result=label)


async def run_sequential(jobs: list[tuple[str, float]]) -> list[str]:
    """partials awaited in turn."""
    calls = [functools.partial(fetch_async, label, delay) for label, delay in jobs]
    return [await call() for call in calls]


async def run_concurrent(jobs: list[tuple[str, float]]) -> list[str]:
    """asyncio.wait on all, then results in input order."""
    if not jobs:
        return []
    tasks = [asyncio.ensure_future(fetch_async(label, delay)) for label, delay in jobs]
    await asyncio.wait(tasks)
    return [task.result() for task in tasks]


async def timed(aw: Awaitable[Any]) -> tuple[Any, float]:
    """Two loop clock readings."""
    clock = asyncio.get_running_loop().time
    begin = clock()
    outcome = await aw
    return outcome, clock() - begin


async def speedup(jobs: list[tuple[str, float]]) -> float:
    """Both runs at once in a TaskGroup."""
    async with asyncio.TaskGroup() as tg:
        seq = tg.create_task(timed(run_sequential(jobs)))
        con = tg.create_task(timed(run_concurrent(jobs)))
    concurrent_time = con.result()[1]
    if concurrent_time <= 0:
        return 1.0
    return seq.result()[1] / concurrent_time
