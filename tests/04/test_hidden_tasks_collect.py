"""Hidden tests for assignment 04, part 1: run_all, first_completed and bounded_map."""
import asyncio

import pytest

import tasks
from coursekit import hints
from coursekit.cancellation import SlowCleanup, assert_cancelled_and_awaited
from coursekit.testing import (
    Calls,
    Work,
    assert_nothing_left_running,
    assert_same,
    same,
    leaves,
    loop_time,
    raised_by,
    tasks_now,
    within,
)


async def reap(before):
    """Cancel and await what a wrong implementation left running, on the virtual clock (not in teardown)."""
    left = [t for t in tasks_now() - before if t is not asyncio.current_task()]
    for task in left:
        task.cancel()
    if left:
        await asyncio.wait(left, timeout=60)


# --- run_all ---------------------------------------------------------------------------


@pytest.mark.points(1)
async def test_run_all_empty(looptime):
    """run_all([]) returns [] at once."""
    result = await within(tasks.run_all([]), 10, what="run_all([])")
    assert_same(result, [], what="run_all([])")
    assert looptime == 0, f"expected no loop time to pass, {float(looptime):g} s did"


@pytest.mark.points(1)
async def test_run_all_hundred_jobs_take_one_second(looptime):
    """run_all with 100 one-second jobs takes 1 s, not 100 s, and keeps input order."""
    work = Work()
    jobs = work.jobs([1] * 100)
    result = await within(tasks.run_all(jobs), 200, what="run_all")
    assert_same(result, list(range(100)), what="run_all's 100 results (a list, in input order)")
    assert looptime == 1, f"expected 1 s of loop time, took {float(looptime):g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(3)
async def test_run_all_waits_for_cancelled_siblings_to_finish(looptime):
    """When a job fails, run_all raises only after the cancelled siblings have finished their clean-up."""
    cleanup = SlowCleanup()
    boom = KeyError("boom")
    work = Work()
    jobs = [cleanup.job("a", delay=10, cleanup=2), work.job(error=boom, delay=1), cleanup.job("c", delay=10, cleanup=2)]
    before = tasks_now()
    try:
        raised = await raised_by(tasks.run_all(jobs), what="run_all")
        assert isinstance(raised, ExceptionGroup), f"expected an ExceptionGroup holding KeyError('boom'), got {raised!r}"
        assert sorted(cleanup.ended) == ["a", "c"], (
            "expected run_all to cancel the two other jobs and wait until they ended (their clean-up takes 2 s) "
            f"before raising; when it raised, only {sorted(cleanup.ended)!r} had ended. {hints.LEFT_RUNNING}"
        )
        assert_nothing_left_running(before, what="run_all")
    finally:
        await reap(before)


@pytest.mark.points(1)
async def test_run_all_simultaneous_failures(looptime):
    """Two jobs failing at the same moment: run_all's ExceptionGroup holds only those failures (one or both), nothing else."""
    work = Work()
    one, two = KeyError("one"), ValueError("two")
    jobs = [work.job(error=one, delay=1), work.job("ok", delay=5), work.job(error=two, delay=1)]
    raised = await raised_by(tasks.run_all(jobs), what="run_all")
    assert isinstance(raised, ExceptionGroup), f"expected an ExceptionGroup, got {raised!r}"
    found = leaves(raised)
    assert found and all(exc is one or exc is two for exc in found) and len(found) == len({id(e) for e in found}), (
        f"expected the group to hold KeyError('one') and/or ValueError('two') (the very objects raised, "
        f"once each, no CancelledError), it holds {found!r}"
    )


# --- first_completed ---------------------------------------------------------------------


@pytest.mark.points(3)
async def test_first_completed_awaits_cancelled_losers(looptime):
    """first_completed returns only after the cancelled losers have finished their clean-up."""
    cleanup = SlowCleanup()
    jobs = [cleanup.job("slow", delay=10), cleanup.job("fast", delay=1), cleanup.job("slower", delay=20)]
    before = tasks_now()
    try:
        result = await within(tasks.first_completed(jobs), 60, what="first_completed")
        assert_same(result, "fast", what="first_completed's result")
        assert sorted(cleanup.ended) == ["slow", "slower"], (
            "expected the two losers to be cancelled and awaited (their clean-up takes 1 s) before first_completed "
            f"returned; when it returned, {sorted(cleanup.ended)!r} had ended. {hints.LEFT_RUNNING}"
        )
        assert_nothing_left_running(before, what="first_completed")
    finally:
        await reap(before)


@pytest.mark.points(2)
async def test_first_completed_ignores_failures(looptime):
    """Failures are skipped: with a job failing at 1 s and one succeeding at 2 s, first_completed returns at 2 s."""
    work = Work()
    jobs = [work.job(error=KeyError("early"), delay=1), work.job("ok", delay=2), work.job("late", delay=3)]
    try:
        result = await within(tasks.first_completed(jobs), 60, what="first_completed")
    except (KeyError, ExceptionGroup) as exc:
        raise AssertionError(
            f"first_completed raised {exc!r} although a job succeeded later: a failure only counts when every job fails"
        ) from None
    assert_same(result, "ok", what="first_completed's result (the first job to succeed)")
    assert looptime == 2, f"expected first_completed to return at 2 s, it returned at {float(looptime):g} s"


@pytest.mark.points(3)
async def test_first_completed_all_fail_raises_group_of_every_failure(looptime):
    """When every job fails, first_completed raises an ExceptionGroup holding all the failures."""
    work = Work()
    errors = [KeyError("a"), ValueError("b"), OSError("c")]
    jobs = [work.job(error=errors[0], delay=3), work.job(error=errors[1], delay=1), work.job(error=errors[2], delay=2)]
    before = tasks_now()
    raised = await raised_by(tasks.first_completed(jobs), what="first_completed")
    assert isinstance(raised, ExceptionGroup), f"expected an ExceptionGroup of the 3 failures, got {raised!r}"
    found = leaves(raised)
    assert sorted(map(id, found)) == sorted(map(id, errors)), (
        f"expected the group to hold the 3 exceptions raised (any order), it holds {found!r}"
    )
    assert looptime == 3, f"expected first_completed to raise at 3 s, when the last job failed; it raised at {float(looptime):g} s"
    assert_nothing_left_running(before, what="first_completed")


@pytest.mark.points(3)
async def test_first_completed_timeout(looptime):
    """With timeout=2 and jobs of 5 s and 10 s, first_completed raises TimeoutError at 2 s and cancels both."""
    work = Work()
    jobs = [work.job("a", delay=5), work.job("b", delay=10)]
    before = tasks_now()
    raised = await raised_by(tasks.first_completed(jobs, timeout=2), what="first_completed(timeout=2)")
    assert isinstance(raised, TimeoutError), f"expected TimeoutError, got {raised!r}"
    assert looptime == 2, f"expected TimeoutError at 2 s, got it at {float(looptime):g} s"
    assert_cancelled_and_awaited(work, [0, 1], what="first_completed(timeout=2)")
    assert_nothing_left_running(before, what="first_completed")


@pytest.mark.points(2)
async def test_first_completed_timeout_counts_from_the_start(looptime):
    """The timeout covers the whole call: failures at 1.5 s and 3 s with timeout=2 still give TimeoutError at 2 s."""
    work = Work()
    jobs = [work.job(error=KeyError("x"), delay=1.5), work.job(error=KeyError("y"), delay=3), work.job("z", delay=10)]
    raised = await raised_by(tasks.first_completed(jobs, timeout=2), what="first_completed(timeout=2)")
    assert isinstance(raised, TimeoutError), f"expected TimeoutError, got {raised!r}"
    assert looptime == 2, (
        f"expected TimeoutError at 2 s, got it at {float(looptime):g} s: the timeout must not restart after each failure"
    )


@pytest.mark.points(1)
async def test_first_completed_result_before_timeout(looptime):
    """With timeout=5 and a 1 s job, first_completed returns the result at 1 s."""
    work = Work()
    before = tasks_now()
    result = await within(tasks.first_completed([work.job("quick", delay=1)], timeout=5), 60, what="first_completed")
    assert_same(result, "quick", what="first_completed's result")
    assert looptime == 1, f"expected first_completed to return at 1 s, it returned at {float(looptime):g} s"
    assert_nothing_left_running(before, what="first_completed")


@pytest.mark.points(1)
async def test_first_completed_empty_raises_value_error(looptime):
    """first_completed([]) raises ValueError, with or without a timeout."""
    for kwargs in ({}, {"timeout": 1}):
        raised = await raised_by(tasks.first_completed([], **kwargs), what=f"first_completed([], {kwargs})")
        assert isinstance(raised, ValueError), f"expected ValueError from first_completed([], {kwargs}), got {raised!r}"


@pytest.mark.points(1)
async def test_first_completed_jobs_finishing_together(looptime):
    """Two jobs finishing in the same loop turn: first_completed returns either result (or, if both fail, reports both)."""
    work = Work()
    jobs = [work.job("left", delay=1), work.job("right", delay=1), work.job("late", delay=5)]
    result = await within(tasks.first_completed(jobs), 60, what="first_completed")
    assert any(same(result, name) for name in ("left", "right")), (
        f"expected 'left' or 'right' (both jobs finished at 1 s), got {result!r}"
    )
    assert looptime == 1, f"expected first_completed to return at 1 s, it returned at {float(looptime):g} s"
    work = Work()
    both = [KeyError("left"), KeyError("right")]
    jobs = [work.job(error=both[0], delay=1), work.job(error=both[1], delay=1), work.job("late", delay=3)]
    result = await within(tasks.first_completed(jobs), 60, what="first_completed")
    assert_same(result, "late", what="first_completed's result after two failures in the same turn")
    work = Work()
    jobs = [work.job(error=both[0], delay=1), work.job(error=both[1], delay=1)]
    raised = await raised_by(tasks.first_completed(jobs), what="first_completed")
    assert isinstance(raised, ExceptionGroup) and sorted(map(id, leaves(raised))) == sorted(map(id, both)), (
        f"two jobs failing in the same turn: expected an ExceptionGroup holding both KeyErrors, got {raised!r}. "
        "Tasks do not compare with `<`: if you sort the finished tasks, sort them with a key (e.g. their input index)."
    )


# --- bounded_map -------------------------------------------------------------------------


@pytest.mark.points(2)
async def test_bounded_map_reuses_a_free_slot_at_once(looptime):
    """bounded_map starts the next call as soon as one ends: limit 2 and delays 1, 5, 1, 1, 1 take 5 s (batches: 7 s)."""
    fn = Calls(delays={0: 1, 1: 5, 2: 1, 3: 1, 4: 1})
    result = await within(tasks.bounded_map(fn, [0, 1, 2, 3, 4], limit=2), 60, what="bounded_map")
    assert_same(result, [0, 10, 20, 30, 40], what="bounded_map's results")
    assert fn.peak == 2, f"expected at most (and at the peak exactly) 2 calls in flight, saw {fn.peak}"
    assert looptime == 5, (
        f"expected 5 s of loop time, took {float(looptime):g} s: when a call ends, start the next item at once "
        "instead of waiting for a whole batch (a Semaphore or a pool of workers does this)"
    )


@pytest.mark.points(2)
async def test_bounded_map_limit_one_and_large_limit(looptime):
    """limit=1 runs calls one at a time (3 calls: 3 s); a limit above the number of items runs them all at once (1 s)."""
    fn = Calls()
    result = await within(tasks.bounded_map(fn, [1, 2, 3], limit=1), 60, what="bounded_map(limit=1)")
    assert_same(result, [10, 20, 30], what="bounded_map(limit=1)'s results")
    assert fn.peak == 1, f"limit=1: expected one call at a time, saw {fn.peak} in flight"
    assert looptime == 3, f"limit=1: expected 3 s, took {float(looptime):g} s"
    fn = Calls()
    result = await within(tasks.bounded_map(fn, [1, 2, 3], limit=100), 60, what="bounded_map(limit=100)")
    assert_same(result, [10, 20, 30], what="bounded_map(limit=100)'s results")
    assert fn.peak == 3, f"limit=100: expected the 3 calls at once, saw a peak of {fn.peak}. {hints.SEQUENTIAL}"
    assert looptime == 4, f"limit=100: expected 1 s more (4 s in all), took {float(looptime) - 3:g} s"


@pytest.mark.points(2)
async def test_bounded_map_rejects_limit_below_one(looptime):
    """bounded_map raises ValueError for limit=0 and limit=-1, without calling fn."""
    for limit in (0, -1):
        fn = Calls()
        raised = await raised_by(tasks.bounded_map(fn, [1, 2], limit=limit), what=f"bounded_map(limit={limit})")
        assert isinstance(raised, ValueError), f"expected ValueError for limit={limit}, got {raised!r}"
        assert fn.calls == [], f"limit={limit}: fn should not be called, it was called with {fn.calls!r}"


@pytest.mark.points(2)
async def test_bounded_map_failure_propagates_as_itself(looptime):
    """When a call raises KeyError, bounded_map raises that very KeyError (not wrapped in an ExceptionGroup)."""
    boom = KeyError("boom")
    fn = Calls(fail={2: boom})
    raised = await raised_by(tasks.bounded_map(fn, list(range(6)), limit=2), what="bounded_map")
    assert raised is boom, (
        f"expected the call's own KeyError('boom') to propagate, got {raised!r}"
        + (
            ". A TaskGroup wraps failures in an ExceptionGroup: the contract wants the exception itself "
            "(gather raises it as is)."
            if isinstance(raised, BaseExceptionGroup)
            else ""
        )
    )


@pytest.mark.points(2)
async def test_bounded_map_failure_leaves_nothing_running(looptime):
    """When a call fails, bounded_map raises with no call in flight, no task left pending, and starts no more calls."""
    boom = KeyError("boom")
    fn = Calls(delays={i: 10 for i in range(10)} | {1: 1}, fail={1: boom})
    before = tasks_now()
    raised = await raised_by(tasks.bounded_map(fn, list(range(10)), limit=3), what="bounded_map")
    assert boom in leaves(raised), f"expected KeyError('boom') (alone or in an ExceptionGroup), got {raised!r}"
    assert fn.in_flight == 0, (
        f"bounded_map raised while {fn.in_flight} call(s) were still in flight. gather does not cancel the other "
        f"calls when one fails: cancel them and wait for them. {hints.LEFT_RUNNING}"
    )
    assert_nothing_left_running(before, what="bounded_map")
    calls_so_far = len(fn.calls)
    await asyncio.sleep(100)
    assert len(fn.calls) == calls_so_far, (
        f"fn was still being called after bounded_map raised ({len(fn.calls) - calls_so_far} more call(s)). "
        f"{hints.LEFT_RUNNING}"
    )


@pytest.mark.points(1)
async def test_bounded_map_failure_starts_nothing_new_and_awaits_clean_up(looptime):
    """After a call fails (at 1 s), no call starts later, and calls still cleaning up after their cancellation (1 s) have ended when bounded_map raises."""
    boom = KeyError("boom")
    started, ended, late = [], [], []

    async def fn(item):
        started.append(item)
        if loop_time() > 1:
            late.append(item)
        try:
            await asyncio.sleep(1 if item == 1 else 10)
            if item == 1:
                raise boom
            return item
        except asyncio.CancelledError:
            await asyncio.sleep(1)  # a clean-up that takes a while
            raise
        finally:
            ended.append(item)

    before = tasks_now()
    try:
        raised = await raised_by(tasks.bounded_map(fn, list(range(8)), limit=3), what="bounded_map")
        assert boom in leaves(raised), f"expected KeyError('boom') (alone or in an ExceptionGroup), got {raised!r}"
        assert late == [], (
            f"once a call has failed, no new call should start; calls for items {late!r} started after item 1 "
            "failed at 1 s. Cancel the calls that have not started yet too."
        )
        assert sorted(ended) == sorted(started), (
            f"bounded_map raised while calls were still running or cleaning up after their cancellation: of the "
            f"calls started ({sorted(started)!r}) only {sorted(ended)!r} had ended. Cancel the other calls and wait "
            f"for them to end (gather(..., return_exceptions=True) waits; without return_exceptions it returns at "
            f"the first error). {hints.LEFT_RUNNING}"
        )
        assert_nothing_left_running(before, what="bounded_map")
    finally:
        await reap(before)


@pytest.mark.points(1)
async def test_bounded_map_results_in_input_order(looptime):
    """bounded_map returns results in input order even when later items finish first."""
    fn = Calls(delays={i: 6 - i for i in range(6)})
    result = await within(tasks.bounded_map(fn, list(range(6)), limit=3), 60, what="bounded_map")
    assert_same(result, [0, 10, 20, 30, 40, 50], what="bounded_map's results (input order)")
    assert sorted(fn.calls) == list(range(6)), f"expected one call per item, saw calls for {sorted(fn.calls)!r}"


@pytest.mark.points(1)
async def test_bounded_map_empty(looptime):
    """bounded_map(fn, [], limit=2) returns [] without calling fn."""
    fn = Calls()
    result = await within(tasks.bounded_map(fn, [], limit=2), 10, what="bounded_map(fn, [], limit=2)")
    assert_same(result, [], what="bounded_map(fn, [], limit=2)")
    assert fn.calls == [], f"fn should not be called, it was called with {fn.calls!r}"
