"""Assignment 01: why asynchronous? Blocking and non-blocking waiting, side by side.

Fill in every function marked "YOUR CODE HERE". Instructions: README.md in this folder.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any


def fetch_sync(label: str, delay: float) -> str:
    """Block the whole thread for ``delay`` seconds with ``time.sleep``, then return ``label``."""
    ### BEGIN SOLUTION
    time.sleep(delay)
    return label
    ### END SOLUTION


def run_sync(jobs: list[tuple[str, float]]) -> list[str]:
    """Run ``fetch_sync`` for each ``(label, delay)`` in order; return the labels."""
    ### BEGIN SOLUTION
    return [fetch_sync(label, delay) for label, delay in jobs]
    ### END SOLUTION


async def fetch_async(label: str, delay: float) -> str:
    """Wait ``delay`` seconds without blocking the event loop, then return ``label``."""
    ### BEGIN SOLUTION
    await asyncio.sleep(delay)
    return label
    ### END SOLUTION


async def run_sequential(jobs: list[tuple[str, float]]) -> list[str]:
    """Await ``fetch_async`` for each job, one after another (total time: the sum of delays)."""
    ### BEGIN SOLUTION
    results = []
    for label, delay in jobs:
        results.append(await fetch_async(label, delay))
    return results
    ### END SOLUTION


async def run_concurrent(jobs: list[tuple[str, float]]) -> list[str]:
    """Run every job at once (total time: the largest delay); results in input order."""
    ### BEGIN SOLUTION
    return await asyncio.gather(*(fetch_async(label, delay) for label, delay in jobs))
    ### END SOLUTION


async def timed(aw: Awaitable[Any]) -> tuple[Any, float]:
    """Await ``aw``; return ``(result, elapsed loop time in seconds)``. Exceptions propagate."""
    ### BEGIN SOLUTION
    loop = asyncio.get_running_loop()
    start = loop.time()
    result = await aw
    return result, loop.time() - start
    ### END SOLUTION


async def speedup(jobs: list[tuple[str, float]]) -> float:
    """Loop time of ``run_sequential(jobs)`` divided by that of ``run_concurrent(jobs)``.

    Returns ``1.0`` when the concurrent run took no time at all.
    """
    ### BEGIN SOLUTION
    _, sequential = await timed(run_sequential(jobs))
    _, concurrent = await timed(run_concurrent(jobs))
    if concurrent == 0:
        return 1.0
    return sequential / concurrent
    ### END SOLUTION
