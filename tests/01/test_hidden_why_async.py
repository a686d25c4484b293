"""Hidden tests for assignment 01: every clause of the contract and the usual mistakes."""
import asyncio
import time

import pytest

import why_async
from coursekit import hints
from coursekit.testing import within


@pytest.fixture
def sleeps(monkeypatch):
    """Record time.sleep calls instead of sleeping, so the blocking functions cost no time."""
    recorded = []
    monkeypatch.setattr(time, "sleep", recorded.append)
    return recorded


@pytest.mark.points(5)
def test_fetch_sync_blocks_with_time_sleep(sleeps):
    """fetch_sync("x", 1.5) calls time.sleep(1.5) and returns "x"."""
    assert why_async.fetch_sync("x", 1.5) == "x", "fetch_sync should return its label"
    assert sleeps == [1.5], f"expected one time.sleep(1.5) call, saw {sleeps!r}"


@pytest.mark.points(5)
def test_run_sync_runs_jobs_in_order(sleeps):
    """run_sync calls fetch_sync for each job in order and returns the labels."""
    result = why_async.run_sync([("a", 3), ("b", 1), ("c", 2)])
    assert result == ["a", "b", "c"], f"expected ['a', 'b', 'c'], got {result!r}"
    assert sleeps == [3, 1, 2], f"expected time.sleep(3), (1), (2) in that order, saw {sleeps!r}"


@pytest.mark.points(2)
def test_run_sync_empty(sleeps):
    """run_sync([]) returns [] without sleeping."""
    assert why_async.run_sync([]) == [], "run_sync([]) should return []"
    assert sleeps == [], f"run_sync([]) should not sleep, saw {sleeps!r}"


@pytest.mark.points(5)
async def test_fetch_async_lets_other_tasks_run(looptime):
    """While fetch_async waits, other tasks keep running (it must not block the loop)."""
    ticks = []

    async def ticker():
        for _ in range(4):
            await asyncio.sleep(1)
            ticks.append(asyncio.get_running_loop().time())

    ticking = asyncio.create_task(ticker())
    result = await within(why_async.fetch_async("slow", 4), 10, what="fetch_async('slow', 4)")
    await ticking
    assert result == "slow", f"expected 'slow', got {result!r}"
    assert ticks == pytest.approx([1, 2, 3, 4]), (
        f"another task should tick at 1, 2, 3, 4 s while fetch_async waits; ticked at {ticks!r}. {hints.BLOCKING}"
    )


@pytest.mark.points(3)
async def test_fetch_async_zero_delay(looptime):
    """fetch_async with delay 0 returns at once."""
    assert await within(why_async.fetch_async("now", 0), 10, what="fetch_async('now', 0)") == "now"
    assert looptime == 0, f"expected no loop time to pass, {float(looptime):g} s did"


@pytest.mark.points(6)
async def test_run_sequential_starts_each_job_after_the_previous(looptime):
    """run_sequential runs jobs one after another: a short job after a long one still waits for it."""
    jobs = [("slow", 5), ("fast", 1)]
    result = await within(why_async.run_sequential(jobs), 60, what="run_sequential")
    assert result == ["slow", "fast"], f"expected ['slow', 'fast'], got {result!r}"
    assert looptime == 6, f"expected 6 s (5 then 1), took {float(looptime):g} s: the jobs must not overlap"


@pytest.mark.points(3)
async def test_run_sequential_empty(looptime):
    """run_sequential([]) returns []."""
    assert await within(why_async.run_sequential([]), 10, what="run_sequential([])") == []


@pytest.mark.points(8)
async def test_run_concurrent_keeps_input_order(looptime):
    """run_concurrent returns results in input order, not in the order jobs finished."""
    jobs = [("last", 3), ("first", 1), ("middle", 2)]
    result = await within(why_async.run_concurrent(jobs), 60, what="run_concurrent")
    assert result == ["last", "first", "middle"], (
        f"expected ['last', 'first', 'middle'] (input order), got {result!r}. "
        "as_completed yields in finishing order; gather and TaskGroup keep your order."
    )
    assert looptime == 3, f"expected 3 s (the longest job), took {float(looptime):g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(4)
async def test_run_concurrent_many_jobs(looptime):
    """run_concurrent with 100 one-second jobs takes 1 s, not 100 s."""
    jobs = [(f"job{i}", 1) for i in range(100)]
    result = await within(why_async.run_concurrent(jobs), 200, what="run_concurrent")
    assert result == [f"job{i}" for i in range(100)], "expected all 100 labels in input order"
    assert looptime == 1, f"expected 1 s of loop time, took {float(looptime):g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(3)
async def test_run_concurrent_empty(looptime):
    """run_concurrent([]) returns []."""
    assert await within(why_async.run_concurrent([]), 10, what="run_concurrent([])") == []


@pytest.mark.points(4)
async def test_timed_accepts_a_task(looptime):
    """timed works with any awaitable, a Task included."""
    task = asyncio.create_task(asyncio.sleep(2, result=42))
    result, elapsed = await within(why_async.timed(task), 10, what="timed(task)")
    assert result == 42, f"expected 42, got {result!r}"
    assert elapsed == pytest.approx(2), f"expected 2 s elapsed, got {elapsed!r}"


@pytest.mark.points(6)
async def test_timed_propagates_exceptions(looptime):
    """An exception raised by the awaited work propagates out of timed unchanged."""

    async def failing():
        await asyncio.sleep(1)
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        await within(why_async.timed(failing()), 10, what="timed(failing())")


@pytest.mark.points(6)
async def test_speedup_is_sequential_over_concurrent(looptime):
    """speedup([1, 2, 3]) is 6 / 3 = 2.0."""
    value = await within(why_async.speedup([("a", 1), ("b", 2), ("c", 3)]), 60, what="speedup")
    assert value == pytest.approx(2.0), f"expected 6 s / 3 s = 2.0, got {value!r}"
    assert looptime == 9, f"speedup should run both versions (6 s + 3 s = 9 s of loop time), took {float(looptime):g} s"


@pytest.mark.points(4)
async def test_speedup_many_equal_jobs(looptime):
    """speedup of ten 1-second jobs is 10.0."""
    value = await within(why_async.speedup([(str(i), 1) for i in range(10)]), 60, what="speedup")
    assert value == pytest.approx(10.0), f"expected 10 s / 1 s = 10.0, got {value!r}"


@pytest.mark.points(3)
async def test_speedup_of_instant_jobs_is_one(looptime):
    """speedup returns 1.0 when the concurrent run takes no time (no division by zero)."""
    assert await within(why_async.speedup([("a", 0), ("b", 0)]), 10, what="speedup") == pytest.approx(1.0)
    assert await within(why_async.speedup([]), 10, what="speedup([])") == pytest.approx(1.0)
