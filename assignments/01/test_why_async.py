"""Public tests for assignment 01. Run them with `pytest assignments/01`.

The event loop runs on a virtual clock here: `await asyncio.sleep(30)` costs
no real time, and `looptime` is the loop's time in seconds since the test began.
"""
import asyncio

import pytest

import why_async
from coursekit import hints
from coursekit.testing import within


@pytest.mark.points(6)
async def test_fetch_async_returns_label_after_delay(looptime):
    """fetch_async("a", 2) returns "a" after 2 s of loop time."""
    result = await within(why_async.fetch_async("a", 2), 10, what="fetch_async('a', 2)")
    assert result == "a", f"expected 'a', got {result!r}"
    assert looptime == 2, f"expected 2 s of loop time, took {float(looptime):g} s"


@pytest.mark.points(9)
async def test_run_sequential_takes_sum_of_delays(looptime):
    """run_sequential waits for each job in turn: delays 1, 2, 3 take 6 s."""
    jobs = [("a", 1), ("b", 2), ("c", 3)]
    result = await within(why_async.run_sequential(jobs), 60, what="run_sequential")
    assert result == ["a", "b", "c"], f"expected ['a', 'b', 'c'], got {result!r}"
    assert looptime == 6, f"expected 6 s of loop time (1 + 2 + 3), took {float(looptime):g} s"


@pytest.mark.points(10)
async def test_run_concurrent_takes_largest_delay(looptime):
    """run_concurrent runs all jobs at once: delays 1, 2, 3 take 3 s."""
    jobs = [("a", 1), ("b", 2), ("c", 3)]
    result = await within(why_async.run_concurrent(jobs), 60, what="run_concurrent")
    assert result == ["a", "b", "c"], f"expected ['a', 'b', 'c'], got {result!r}"
    assert looptime == 3, (
        f"expected 3 s of loop time (the longest job), took {float(looptime):g} s. {hints.SEQUENTIAL}"
    )


@pytest.mark.points(8)
async def test_timed_measures_loop_time(looptime):
    """timed(aw) returns aw's result and the loop time it took."""
    result, elapsed = await within(why_async.timed(asyncio.sleep(5, result="done")), 60, what="timed")
    assert result == "done", f"expected the awaited result 'done', got {result!r}"
    assert elapsed == pytest.approx(5), f"expected 5 s elapsed, got {elapsed!r}"
