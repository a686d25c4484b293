"""Alternative 01: TaskGroup instead of gather, explicit loops, clock via a helper."""
from __future__ import annotations

import asyncio
from time import sleep
from collections.abc import Awaitable
from typing import Any


def _now() -> float:
    return asyncio.get_running_loop().time()


def fetch_sync(label: str, delay: float) -> str:
    """Block for ``delay`` seconds, return ``label``."""
    sleep(delay)
    return label


def run_sync(jobs: list[tuple[str, float]]) -> list[str]:
    """Run each job in order, blocking."""
    out: list[str] = []
    for label, delay in jobs:
        out.append(fetch_sync(label, delay))
    return out


async def fetch_async(label: str, delay: float) -> str:
    """Wait without blocking."""
    await asyncio.sleep(delay)
    return label


async def run_sequential(jobs: list[tuple[str, float]]) -> list[str]:
    """One after another."""
    out: list[str] = []
    for label, delay in jobs:
        out.append(await fetch_async(label, delay))
    return out


async def run_concurrent(jobs: list[tuple[str, float]]) -> list[str]:
    """All at once with a TaskGroup; input order."""
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(fetch_async(label, delay)) for label, delay in jobs]
    return [t.result() for t in tasks]


async def timed(aw: Awaitable[Any]) -> tuple[Any, float]:
    """Await and measure on the loop clock."""
    start = _now()
    result = await aw
    return result, _now() - start


async def speedup(jobs: list[tuple[str, float]]) -> float:
    """Sequential / concurrent loop time, both runs at once."""
    seq, conc = await asyncio.gather(timed(run_sequential(jobs)), timed(run_concurrent(jobs)))
    if conc[1] == 0:
        return 1.0
    return seq[1] / conc[1]
