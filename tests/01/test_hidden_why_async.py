"""Hidden tests for assignment 01: every clause of the contract and the usual mistakes."""
import asyncio

import pytest

import why_async
from coursekit import hints
from coursekit.sleeps import record_sleeps
from coursekit.testing import assert_same, same, within


@pytest.fixture
def sleeps(monkeypatch):
    """Record time.sleep calls (also through `from time import sleep`) instead of sleeping."""
    return record_sleeps(monkeypatch, why_async)


@pytest.mark.points(5)
def test_fetch_sync_blocks_with_time_sleep(sleeps):
    """fetch_sync("x", 1.5) calls time.sleep(1.5) and returns "x"."""
    assert_same(why_async.fetch_sync("x", 1.5), "x", what='fetch_sync("x", 1.5)')
    assert sleeps == [1.5], f"expected one time.sleep(1.5) call, saw {sleeps!r}"


@pytest.mark.points(5)
def test_run_sync_runs_jobs_in_order(sleeps):
    """run_sync calls fetch_sync for each job in order and returns the labels."""
    result = why_async.run_sync([("a", 3), ("b", 1), ("c", 2)])
    assert_same(result, ["a", "b", "c"], what="run_sync's labels")
    assert sleeps == [3, 1, 2], f"expected time.sleep(3), (1), (2) in that order, saw {sleeps!r}"


@pytest.mark.points(2)
def test_run_sync_empty(sleeps):
    """run_sync([]) returns [] without sleeping."""
    assert_same(why_async.run_sync([]), [], what="run_sync([])")
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
    assert_same(result, "slow", what="fetch_async('slow', 4)")
    assert ticks == pytest.approx([1, 2, 3, 4]), (
        f"another task should tick at 1, 2, 3, 4 s while fetch_async waits; ticked at {ticks!r}. {hints.BLOCKING}"
    )


@pytest.mark.points(3)
async def test_fetch_async_zero_delay(looptime):
    """fetch_async with delay 0 returns at once."""
    assert_same(await within(why_async.fetch_async("now", 0), 10, what="fetch_async('now', 0)"), "now", what="fetch_async('now', 0)")
    assert looptime == 0, f"expected no loop time to pass, {float(looptime):g} s did"


@pytest.mark.points(6)
async def test_run_sequential_starts_each_job_after_the_previous(looptime):
    """run_sequential runs jobs one after another: a short job after a long one still waits for it."""
    jobs = [("slow", 5), ("fast", 1)]
    result = await within(why_async.run_sequential(jobs), 60, what="run_sequential")
    assert_same(result, ["slow", "fast"], what="run_sequential's labels")
    assert looptime == 6, f"expected 6 s (5 then 1), took {float(looptime):g} s: the jobs must not overlap"


@pytest.mark.points(3)
async def test_run_sequential_empty(looptime):
    """run_sequential([]) returns []."""
    assert_same(await within(why_async.run_sequential([]), 10, what="run_sequential([])"), [], what="run_sequential([])")


@pytest.mark.points(8)
async def test_run_concurrent_keeps_input_order(looptime):
    """run_concurrent returns results in input order, not in the order jobs finished."""
    jobs = [("last", 3), ("first", 1), ("middle", 2)]
    result = await within(why_async.run_concurrent(jobs), 60, what="run_concurrent")
    assert same(result, ["last", "first", "middle"]), (
        f"expected ['last', 'first', 'middle'] (input order), got {result!r}. "
        "as_completed yields in finishing order; gather and TaskGroup keep your order."
    )
    assert looptime == 3, f"expected 3 s (the longest job), took {float(looptime):g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(4)
async def test_run_concurrent_many_jobs(looptime):
    """run_concurrent with 100 one-second jobs takes 1 s, not 100 s."""
    jobs = [(f"job{i}", 1) for i in range(100)]
    result = await within(why_async.run_concurrent(jobs), 200, what="run_concurrent")
    assert same(result, [f"job{i}" for i in range(100)]), "expected a list of all 100 labels in input order"
    assert looptime == 1, f"expected 1 s of loop time, took {float(looptime):g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(3)
async def test_run_concurrent_empty(looptime):
    """run_concurrent([]) returns []."""
    assert_same(await within(why_async.run_concurrent([]), 10, what="run_concurrent([])"), [], what="run_concurrent([])")


@pytest.mark.points(4)
async def test_timed_accepts_a_task(looptime):
    """timed works with any awaitable, a Task included."""
    task = asyncio.create_task(asyncio.sleep(2, result=42))
    measured = await within(why_async.timed(task), 10, what="timed(task)")
    assert_same(measured, (42, 2.0), what="timed(task) as (result, elapsed)")


@pytest.mark.points(6)
async def test_timed_propagates_exceptions(looptime):
    """An exception raised by the awaited work propagates out of timed unchanged."""

    async def failing():
        await asyncio.sleep(1)
        raise KeyError("boom")

    work = failing()
    try:
        with pytest.raises(KeyError, match="boom"):
            await within(why_async.timed(work), 10, what="timed(failing())")
    finally:
        work.close()  # no "never awaited" warning if timed did not await it


@pytest.mark.points(6)
async def test_speedup_is_sequential_over_concurrent(looptime):
    """speedup([1, 2, 3]) is 6 / 3 = 2.0."""
    value = await within(why_async.speedup([("a", 1), ("b", 2), ("c", 3)]), 60, what="speedup")
    assert_same(value, 2.0, what="speedup (6 s / 3 s)")
    assert 6 <= looptime <= 9, (
        f"speedup should really run both versions: 6 s for the sequential run (plus 3 s for the concurrent one "
        f"unless both are timed at once), but it took {float(looptime):g} s of loop time"
    )


@pytest.mark.points(4)
async def test_speedup_many_equal_jobs(looptime):
    """speedup of ten 1-second jobs is 10.0."""
    value = await within(why_async.speedup([(str(i), 1) for i in range(10)]), 60, what="speedup")
    assert_same(value, 10.0, what="speedup (10 s / 1 s)")


@pytest.mark.points(3)
async def test_speedup_of_instant_jobs_is_one(looptime):
    """speedup returns 1.0 when the concurrent run takes no time (no division by zero)."""
    assert_same(await within(why_async.speedup([("a", 0), ("b", 0)]), 10, what="speedup"), 1.0, what="speedup of instant jobs")
    assert_same(await within(why_async.speedup([]), 10, what="speedup([])"), 1.0, what="speedup([])")
