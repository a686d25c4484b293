"""Public tests for assignment 01. Run them with `pytest assignments/01`.

The event loop runs on a virtual clock here: `await asyncio.sleep(30)` costs
no real time, and `looptime` is the loop's time in seconds since the test began.
Results are compared by value and by type: where a list of labels is
expected, a list of `str` must come back.
"""
import asyncio

import pytest

import why_async
from coursekit import hints
from coursekit.sleeps import record_sleeps
from coursekit.testing import assert_same, within


@pytest.mark.points(4)
def test_run_sync_blocks_once_per_job(monkeypatch):
    """run_sync blocks with time.sleep once per job, in job order, and returns the labels."""
    naps = record_sleeps(monkeypatch, why_async)  # the naps are noted, not taken
    labels = why_async.run_sync([("one", 0.5), ("two", 2), ("three", 0.25)])
    assert_same(labels, ["one", "two", "three"], what="run_sync's labels")
    assert naps == [0.5, 2, 0.25], (
        f"expected time.sleep(0.5), time.sleep(2), time.sleep(0.25), one per job in order; saw {naps!r}"
    )


@pytest.mark.points(4)
async def test_fetch_async_returns_label_after_delay(looptime):
    """fetch_async("a", 2) returns "a" after 2 s of loop time."""
    result = await within(why_async.fetch_async("a", 2), 10, what="fetch_async('a', 2)")
    assert_same(result, "a", what="fetch_async('a', 2)")
    assert looptime == 2, f"expected 2 s of loop time, took {float(looptime):g} s"


@pytest.mark.points(6)
async def test_run_sequential_takes_sum_of_delays(looptime):
    """run_sequential waits for each job in turn: delays 1, 2, 3 take 6 s."""
    jobs = [("a", 1), ("b", 2), ("c", 3)]
    result = await within(why_async.run_sequential(jobs), 60, what="run_sequential")
    assert_same(result, ["a", "b", "c"], what="run_sequential's labels")
    assert looptime == 6, f"expected 6 s of loop time (1 + 2 + 3), took {float(looptime):g} s"


@pytest.mark.points(8)
async def test_run_concurrent_takes_largest_delay(looptime):
    """run_concurrent runs all jobs at once: delays 2, 3, 1 take 3 s, labels in input order; no jobs give []."""
    jobs = [("x", 2), ("y", 3), ("z", 1)]
    result = await within(why_async.run_concurrent(jobs), 60, what="run_concurrent")
    assert_same(result, ["x", "y", "z"], what="run_concurrent's labels (in the order of the jobs)")
    assert looptime == 3, (
        f"expected 3 s of loop time (the longest job), took {float(looptime):g} s. {hints.SEQUENTIAL}"
    )
    nothing = await within(why_async.run_concurrent([]), 10, what="run_concurrent([])")
    assert_same(nothing, [], what="run_concurrent([])")


@pytest.mark.points(4)
async def test_timed_measures_loop_time(looptime):
    """timed(aw) returns a tuple: aw's result and the loop time it took."""
    sleeper = asyncio.sleep(5, result="done")
    try:
        measured = await within(why_async.timed(sleeper), 60, what="timed")
    finally:
        sleeper.close()  # no "never awaited" warning if timed did not await it
    assert isinstance(measured, tuple) and len(measured) == 2, f"expected a (result, elapsed) tuple, got {measured!r}"
    assert_same(measured[0], "done", what="the result timed passed on")
    assert_same(measured[1], 5.0, what="the elapsed loop time")


@pytest.mark.points(3)
async def test_timed_lets_the_error_through(looptime):
    """When the awaited work fails, timed raises that very error instead of returning."""
    problem = ConnectionResetError("peer went away")

    async def flaky():
        await asyncio.sleep(2)
        raise problem

    work = flaky()
    try:
        measured = await within(why_async.timed(work), 60, what="timed(flaky())")
    except ConnectionResetError as exc:
        assert exc is problem, f"timed should let the work's own error through, it raised {exc!r}"
    else:
        raise AssertionError(f"the work raised ConnectionResetError, but timed returned {measured!r}")
    finally:
        work.close()
    assert looptime == 2, f"the work failed after 2 s, timed gave up at {float(looptime):g} s"


@pytest.mark.points(4)
async def test_speedup_ratio_and_instant_jobs(looptime):
    """speedup of delays 2 and 2 is 4 s / 2 s = 2.0; for jobs that take no time it is 1.0, not a ZeroDivisionError."""
    ratio = await within(why_async.speedup([("p", 2), ("q", 2)]), 60, what="speedup")
    assert_same(ratio, 2.0, what="speedup of two 2-second jobs (4 s / 2 s)")
    try:
        instant = await within(why_async.speedup([("now", 0)]), 10, what="speedup of an instant job")
    except ZeroDivisionError as exc:
        raise AssertionError(
            "speedup divided by a concurrent time of zero; return 1.0 when the concurrent run took no time"
        ) from exc
    assert_same(instant, 1.0, what="speedup when the concurrent run took no time")
