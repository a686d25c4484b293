"""Public tests for assignment 04. Run them with `pytest assignments/04`.

The event loop runs on a virtual clock here: `await asyncio.sleep(30)` costs
no real time, and `looptime` is the loop's time in seconds since the test began.
"""
import asyncio

import pytest

import tasks
from coursekit import hints
from coursekit.cancellation import SlowCleanup, assert_cancelled_and_awaited
from coursekit.iterators import async_iterator
from coursekit.testing import (
    Calls,
    Work,
    assert_nothing_left_running,
    assert_same,
    leaves,
    raised_by,
    tasks_now,
    within,
)


@pytest.mark.points(4)
async def test_run_all_returns_results_in_input_order(looptime):
    """run_all runs every job at once (delays 3, 1, 2 take 3 s) and returns the results in input order."""
    work = Work()
    jobs = [work.job("slow", delay=3), work.job("fast", delay=1), work.job("mid", delay=2)]
    result = await within(tasks.run_all(jobs), 60, what="run_all")
    assert_same(result, ["slow", "fast", "mid"], what="run_all's results (a list, in input order)")
    assert looptime == 3, (
        f"expected 3 s of loop time (the longest job), took {float(looptime):g} s. {hints.SEQUENTIAL}"
    )


@pytest.mark.points(5)
async def test_run_all_cancels_the_others_when_one_fails(looptime):
    """When a job fails, run_all cancels and awaits the others, then raises an ExceptionGroup holding the failure."""
    work = Work()
    boom = KeyError("boom")
    jobs = [work.job("a", delay=10), work.job(error=boom, delay=1), work.job("c", delay=10)]
    before = tasks_now()
    raised = await raised_by(tasks.run_all(jobs), what="run_all")
    assert isinstance(raised, ExceptionGroup), (
        f"expected an ExceptionGroup holding KeyError('boom'), got {raised!r}. "
        "asyncio.TaskGroup raises one for you; with gather, build it yourself."
    )
    assert leaves(raised) == [boom], f"expected the group to hold exactly KeyError('boom'), it holds {leaves(raised)!r}"
    assert looptime == 1, (
        f"expected run_all to raise at 1 s, when the job failed; it raised at {float(looptime):g} s. "
        "The other jobs must be cancelled, not awaited to their end."
    )
    assert_cancelled_and_awaited(work, [0, 2], what="run_all")
    assert_nothing_left_running(before, what="run_all")


@pytest.mark.points(4)
async def test_first_completed_returns_the_fastest_result(looptime):
    """first_completed returns the first result to arrive (delays 3, 1, 2: the 1 s job, at 1 s) and cancels the rest."""
    work = Work()
    jobs = [work.job("slow", delay=3), work.job("fast", delay=1), work.job("mid", delay=2)]
    before = tasks_now()
    result = await within(tasks.first_completed(jobs), 60, what="first_completed")
    assert_same(result, "fast", what="first_completed's result (the 1 s job's)")
    assert looptime == 1, f"expected first_completed to return at 1 s, it returned at {float(looptime):g} s"
    assert_cancelled_and_awaited(work, [0, 2], what="first_completed")
    assert_nothing_left_running(before, what="first_completed")


@pytest.mark.points(4)
async def test_bounded_map_keeps_limit_calls_in_flight(looptime):
    """bounded_map with limit=3 over ten 1-second calls: 3 calls in flight at the peak, 4 s in all, input order."""
    fn = Calls(delay=1)
    before = tasks_now()
    result = await within(tasks.bounded_map(fn, list(range(10)), limit=3), 60, what="bounded_map")
    assert_same(result, [i * 10 for i in range(10)], what="bounded_map's results (a list, in input order)")
    assert fn.peak == 3, (
        f"expected exactly 3 calls in flight at the busiest moment, saw {fn.peak}. "
        + (hints.SEQUENTIAL if fn.peak < 3 else "The limit must never be exceeded (asyncio.Semaphore helps).")
    )
    assert looptime == 4, f"expected 4 s of loop time (3 + 3 + 3 + 1 calls), took {float(looptime):g} s"
    assert_nothing_left_running(before, what="bounded_map")


@pytest.mark.points(3)
async def test_as_completed_indexed_yields_in_completion_order(looptime):
    """as_completed_indexed yields (index, result) as jobs finish: delays 3, 1, 2 give indexes 1, 2, 0."""
    work = Work()
    jobs = [work.job("a", delay=3), work.job("b", delay=1), work.job("c", delay=2)]

    async def consume():
        return [pair async for pair in async_iterator(tasks.as_completed_indexed(jobs), what="as_completed_indexed")]

    pairs = await within(consume(), 60, what="iterating as_completed_indexed")
    assert_same(pairs, [(1, "b"), (2, "c"), (0, "a")], what="the (index, result) pairs, in completion order")
    assert looptime == 3, f"expected 3 s of loop time (jobs run at once), took {float(looptime):g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(4)
async def test_taskset_runs_counts_and_collects_errors(looptime):
    """TaskSet.spawn returns the running task, len() counts unfinished tasks, a failure lands in taskset.errors."""
    boom = KeyError("boom")

    async def fail_after(seconds):
        await asyncio.sleep(seconds)
        raise boom

    taskset = tasks.TaskSet()
    ok = taskset.spawn(asyncio.sleep(1, result="ok"))
    taskset.spawn(fail_after(2))
    assert isinstance(ok, asyncio.Task), f"spawn should return the asyncio.Task it started, got {ok!r}"
    assert len(taskset) == 2, f"expected len(taskset) == 2 right after two spawns, got {len(taskset)}"
    await asyncio.sleep(1.5)
    assert ok.done() and ok.result() == "ok", "the task spawned with sleep(1, result='ok') should be done with 'ok'"
    assert len(taskset) == 1, f"expected len(taskset) == 1 once one task finished, got {len(taskset)}"
    await asyncio.sleep(1)
    assert len(taskset) == 0, f"expected len(taskset) == 0 once both tasks finished, got {len(taskset)}"
    assert isinstance(taskset.errors, list) and len(taskset.errors) == 1 and taskset.errors[0] is boom, (
        f"expected taskset.errors to be the list [KeyError('boom')] (the very exception raised), got {taskset.errors!r}"
    )


@pytest.mark.points(3)
async def test_map_with_workers_uses_exactly_n_workers(looptime):
    """map_with_workers(fn, 10 items, workers=3) runs fn in exactly 3 worker tasks, takes 4 s, keeps input order."""
    fn = Calls(delay=1)
    caller = asyncio.current_task()
    before = tasks_now()
    result = await within(tasks.map_with_workers(fn, list(range(10)), workers=3), 60, what="map_with_workers")
    assert_same(result, [i * 10 for i in range(10)], what="map_with_workers's results (a list, in input order)")
    assert caller not in fn.tasks, "fn should run inside worker tasks, not in the task that called map_with_workers"
    assert len(fn.tasks) == 3, (
        f"expected fn to run in exactly 3 distinct worker tasks, saw {len(fn.tasks)}: "
        "start `workers` tasks that each take items off one asyncio.Queue"
    )
    assert looptime == 4, f"expected 4 s of loop time (3 workers, ten 1 s calls), took {float(looptime):g} s"
    assert_nothing_left_running(before, what="map_with_workers")


@pytest.mark.points(3)
async def test_bounded_map_stops_everything_when_a_call_fails(looptime):
    """bounded_map(limit=2): item 0 raises ValueError at 2 s; that ValueError itself comes out, with no call still in flight."""
    oops = ValueError("item 0 is bad")
    fn = Calls(delays={0: 2, 1: 7, 2: 7, 3: 7}, fail={0: oops})
    before = tasks_now()
    raised = await raised_by(tasks.bounded_map(fn, [0, 1, 2, 3], limit=2), what="bounded_map")
    assert raised is oops, (
        f"expected the call's own ValueError('item 0 is bad'), got {raised!r}"
        + (" (unwrap the ExceptionGroup a TaskGroup raises)" if isinstance(raised, BaseExceptionGroup) else "")
    )
    assert fn.in_flight == 0, (
        f"bounded_map raised while {fn.in_flight} other call(s) were still running. {hints.LEFT_RUNNING}"
    )
    assert_nothing_left_running(before, what="bounded_map")


@pytest.mark.points(3)
async def test_as_completed_indexed_closed_early_cancels_and_awaits(looptime):
    """Closing the generator after its first pair (at 1 s) cancels the two jobs still running and waits for their 1 s clean-up."""
    jobs = SlowCleanup()
    coro_fns = [jobs.job("late", delay=20), jobs.job("first", delay=1), jobs.job("later", delay=30)]
    before = tasks_now()

    async def first_pair_only():
        pairs = async_iterator(tasks.as_completed_indexed(coro_fns), what="as_completed_indexed")
        first = None
        async for pair in pairs:
            first = pair
            break
        await pairs.aclose()  # what `async with contextlib.aclosing(...)` does on the way out
        return first

    pair = await within(first_pair_only(), 60, what="as_completed_indexed: first pair, then aclose()")
    assert_same(pair, (1, "first"), what="the first pair")
    assert sorted(jobs.ended) == ["late", "later"], (
        "expected aclose() to cancel the two unfinished jobs and wait until their 1 s clean-up was over; "
        f"when it returned, {sorted(jobs.ended)!r} had ended. task.cancel() only asks: await the tasks too."
    )
    assert looptime == 2, f"expected aclose() to return at 2 s (1 s + 1 s of clean-up), it returned at {float(looptime):g} s"
    assert_nothing_left_running(before, what="as_completed_indexed after aclose()")
