"""Alternative 01, variant b: gather, create_task lists, sequential timing in speedup."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any


def fetch_sync(label: str, delay: float) -> str:
    """Block, then return label."""
    time.sleep(delay)
    return label


def run_sync(jobs: list[tuple[str, float]]) -> list[str]:
    """Blocking, in order."""
    return [fetch_sync(label, delay) for label, delay in jobs]


async def fetch_async(label: str, delay: float) -> str:
    """Non-blocking wait."""
    await asyncio.sleep(delay)
    return label


async def run_sequential(jobs: list[tuple[str, float]]) -> list[str]:
    """Sleep directly, one after another."""
    labels = []
    for label, delay in jobs:
        await asyncio.sleep(delay)
        labels.append(label)
    return labels


async def run_concurrent(jobs: list[tuple[str, float]]) -> list[str]:
    """Tasks of our own, awaited in input order."""
    tasks = [asyncio.create_task(fetch_async(label, delay)) for label, delay in jobs]
    labels = []
    for task in tasks:
        labels.append(await task)
    return labels


async def timed(aw: Awaitable[Any]) -> tuple[Any, float]:
    """Loop clock before and after."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    value = await aw
    t1 = loop.time()
    return (value, t1 - t0)


async def speedup(jobs: list[tuple[str, float]]) -> float:
    """One run after the other."""
    _, sequential = await timed(run_sequential(jobs))
    _, concurrent = await timed(run_concurrent(jobs))
    return sequential / concurrent if concurrent else 1.0
