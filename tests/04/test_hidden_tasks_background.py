"""Hidden tests for assignment 04, part 2: as_completed_indexed, TaskSet and map_with_workers."""
import asyncio
import gc
import logging
import weakref

import pytest

import tasks
from coursekit import hints
from coursekit.cancellation import assert_cancelled_and_awaited
from coursekit.iterators import async_iterator, collect
from coursekit.testing import (
    Calls,
    Work,
    assert_nothing_left_running,
    assert_same,
    leaves,
    loop_time,
    raised_by,
    same,
    tasks_now,
    within,
)


async def settle():
    """Give the loop a few turns, so tasks cancelled without being awaited get to end."""
    for _ in range(5):
        await asyncio.sleep(0)


# --- as_completed_indexed -----------------------------------------------------------------


@pytest.mark.points(2)
async def test_as_completed_indexed_yields_each_pair_as_soon_as_ready(looptime):
    """Each (index, result) pair arrives when its job finishes (at 1, 2 and 3 s), not all at the end."""
    work = Work()
    jobs = [work.job("a", delay=2), work.job("b", delay=3), work.job("c", delay=1)]
    seen = []

    async def consume():
        async for index, result in async_iterator(tasks.as_completed_indexed(jobs), what="as_completed_indexed"):
            seen.append((index, result, loop_time()))

    await within(consume(), 60, what="iterating as_completed_indexed")
    assert same([(i, r) for i, r, _ in seen], [(2, "c"), (0, "a"), (1, "b")]), (
        f"expected (2, 'c'), (0, 'a'), (1, 'b') in completion order, got {[(i, r) for i, r, _ in seen]!r}"
    )
    times = [t for _, _, t in seen]
    assert times == pytest.approx([1, 2, 3]), (
        f"expected the pairs at 1, 2 and 3 s, as each job finished; they came at {times!r}. "
        "Yield each result as soon as its task is done instead of waiting for them all."
    )


@pytest.mark.points(3)
async def test_as_completed_indexed_early_exit_cancels_the_rest(looptime):
    """Breaking out after the first pair and calling aclose() cancels the jobs still running."""
    work = Work()
    jobs = [work.job("a", delay=1), work.job("b", delay=5), work.job("c", delay=10)]
    before = tasks_now()
    agen = async_iterator(tasks.as_completed_indexed(jobs), what="as_completed_indexed")
    got = []

    async def consume():
        async for pair in agen:
            got.append(pair)
            break
        await agen.aclose()

    await within(consume(), 60, what="as_completed_indexed: break, then aclose()")
    assert_same(got, [(0, "a")], what="the pairs before the break")
    assert looptime == 1, f"expected aclose() to return at 1 s, it returned at {float(looptime):g} s"
    # No extra loop turns here: the README asks for the tasks to have ended when aclose() returns.
    assert_cancelled_and_awaited(work, [1, 2], what="the generator's aclose()")
    assert_nothing_left_running(before, what="as_completed_indexed after aclose()")


@pytest.mark.points(2)
async def test_as_completed_indexed_propagates_a_failure(looptime):
    """A job's exception comes out of the generator itself, after the pairs of the jobs that finished before it."""
    work = Work()
    boom = KeyError("boom")
    jobs = [work.job("a", delay=1), work.job(error=boom, delay=2), work.job("c", delay=3)]
    got = []

    async def consume():
        async for pair in async_iterator(tasks.as_completed_indexed(jobs), what="as_completed_indexed"):
            got.append(pair)

    raised = await raised_by(consume(), what="iterating as_completed_indexed")
    assert raised is boom, f"expected the job's own KeyError('boom') to come out of the generator, got {raised!r}"
    assert_same(got, [(0, "a")], what="the pairs before the failure")
    assert looptime == 2, f"expected the KeyError at 2 s, when the job failed; it came at {float(looptime):g} s"


@pytest.mark.points(2)
async def test_as_completed_indexed_failure_leaves_nothing_running(looptime):
    """When a job's exception comes out of the generator, the jobs still running are cancelled."""
    work = Work()
    boom = KeyError("boom")
    jobs = [work.job(error=boom, delay=1), work.job("b", delay=5), work.job("c", delay=10)]
    before = tasks_now()

    async def consume():
        async for _ in async_iterator(tasks.as_completed_indexed(jobs), what="as_completed_indexed"):
            pass

    raised = await raised_by(consume(), what="iterating as_completed_indexed")
    assert boom in leaves(raised), f"expected KeyError('boom') from the generator, got {raised!r}"
    assert_cancelled_and_awaited(work, [1, 2], what="the failure left the generator (a `finally:` that cancels and awaits covers this case too)")
    assert_nothing_left_running(before, what="as_completed_indexed after a failure")


@pytest.mark.points(1)
async def test_as_completed_indexed_empty(looptime):
    """as_completed_indexed([]) yields nothing."""

    async def consume():
        return await collect(tasks.as_completed_indexed([]), what="as_completed_indexed([])")

    pairs = await within(consume(), 10, what="iterating as_completed_indexed([])")
    assert_same(pairs, [], what="the pairs of as_completed_indexed([])")


@pytest.mark.points(1)
async def test_as_completed_indexed_jobs_finishing_together(looptime):
    """Two jobs finishing in the same loop turn both come out (in either order), at 1 s, before the 2 s job."""
    work = Work()
    jobs = [work.job("a", delay=2), work.job("b", delay=1), work.job("c", delay=1)]
    seen = []

    async def consume():
        async for index, result in async_iterator(tasks.as_completed_indexed(jobs), what="as_completed_indexed"):
            seen.append(((index, result), loop_time()))

    await within(consume(), 60, what="iterating as_completed_indexed")
    pairs = [pair for pair, _ in seen]
    assert any(same(pairs, order) for order in ([(1, "b"), (2, "c"), (0, "a")], [(2, "c"), (1, "b"), (0, "a")])), (
        f"expected (1, 'b') and (2, 'c') in either order, then (0, 'a'); got {pairs!r}. Tasks do not compare "
        "with `<`: if you sort the finished tasks, sort them with a key (e.g. their input index)."
    )
    times = [t for _, t in seen]
    assert times == pytest.approx([1, 1, 2]), f"expected the pairs at 1, 1 and 2 s, they came at {times!r}"


# --- TaskSet -------------------------------------------------------------------------------


@pytest.mark.points(2)
async def test_taskset_keeps_a_strong_reference(looptime):
    """A spawned task whose Task object the caller drops survives gc.collect() and finishes its work."""
    taskset = tasks.TaskSet()
    future_ref = []
    results = []

    async def waits_for_its_future():
        # Only this coroutine holds the future, so only the task holds the coroutine: the loop
        # itself keeps tasks in a weak set. Without a strong reference the whole cycle is garbage.
        future = asyncio.get_running_loop().create_future()
        future_ref.append(weakref.ref(future))
        results.append(await future)

    taskset.spawn(waits_for_its_future())  # the returned Task is dropped on purpose
    await asyncio.sleep(1)
    gc.collect()
    future = future_ref[0]() if future_ref else None
    assert future is not None, (
        "the spawned task was garbage-collected while it waited: spawn must keep a strong reference to the "
        "task (e.g. in a set) until it finishes. The event loop only keeps a weak one."
    )
    future.set_result("done")
    del future
    await asyncio.sleep(1)
    assert results == ["done"], f"expected the spawned task to finish with 'done', it recorded {results!r}"
    assert len(taskset) == 0, f"expected len(taskset) == 0 once the task finished, got {len(taskset)}"


@pytest.mark.points(1)
async def test_taskset_lets_go_of_finished_tasks(looptime):
    """The strong reference lasts only until the task finishes: a finished task nobody else holds is freed."""
    taskset = tasks.TaskSet()

    async def short_job():
        await asyncio.sleep(1)
        return "done"

    task = taskset.spawn(short_job())
    ref = weakref.ref(task)
    del task
    await asyncio.sleep(2)
    await settle()
    gc.collect()
    assert ref() is None, (
        "a spawned task that finished is still kept alive by the TaskSet: remove it from your set when it is done "
        "(e.g. `task.add_done_callback(self._tasks.discard)`), or the set grows forever"
    )
    assert len(taskset) == 0, f"expected len(taskset) == 0 once the task finished, got {len(taskset)}"


@pytest.mark.points(2)
async def test_taskset_errors_are_not_logged_as_never_retrieved(looptime, caplog):
    """A failing background task lands in taskset.errors and is never logged as "Task exception was never retrieved"."""
    boom = ValueError("background failure")

    async def fails():
        await asyncio.sleep(1)
        raise boom

    taskset = tasks.TaskSet()
    gc.collect()  # what earlier tests left behind is not this test's business
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        taskset.spawn(fails())  # the returned Task is dropped on purpose
        await asyncio.sleep(2)
        assert isinstance(taskset.errors, list) and len(taskset.errors) == 1 and taskset.errors[0] is boom, (
            f"expected taskset.errors to be the list [ValueError('background failure')], got {taskset.errors!r}"
        )
        del taskset
        gc.collect()
        await settle()
    logged = [
        r.getMessage()
        for r in caplog.records
        if "never retrieved" in r.getMessage() and "background failure" in r.getMessage()
    ]
    assert not logged, (
        "asyncio logged 'Task exception was never retrieved' for a spawned task: read the exception in a done "
        "callback (task.exception() marks it retrieved) when you store it in taskset.errors, or catch it in a "
        "wrapper coroutine without re-raising it"
    )


@pytest.mark.points(2)
async def test_taskset_aclose_cancels_and_waits_for_cleanup(looptime):
    """aclose() cancels unfinished tasks and returns once they have ended (a 0.5 s clean-up: it returns at 0.5 s)."""
    ended = []

    async def slow_to_stop():
        try:
            await asyncio.sleep(100)
        except asyncio.CancelledError:
            await asyncio.sleep(0.5)
            ended.append("cleaned up")
            raise

    taskset = tasks.TaskSet()
    plain = taskset.spawn(asyncio.sleep(100))
    careful = taskset.spawn(slow_to_stop())
    await asyncio.sleep(0)
    await within(taskset.aclose(timeout=5), 20, what="taskset.aclose(timeout=5)")
    assert ended == ["cleaned up"], (
        "expected aclose() to wait until the cancelled task finished its 0.5 s clean-up; it returned before"
    )
    assert plain.cancelled() and careful.cancelled(), "expected both unfinished tasks to end cancelled"
    assert len(taskset) == 0, f"expected len(taskset) == 0 after aclose(), got {len(taskset)}"
    assert looptime == pytest.approx(0.5), (
        f"expected aclose() to return as soon as the tasks ended (0.5 s), it returned at {float(looptime):g} s"
    )


async def close_quietly(taskset, seconds, **kwargs):
    """aclose(**kwargs), bounded; a TimeoutError from aclose itself is accepted as a way to give up."""
    try:
        await within(taskset.aclose(**kwargs), seconds, what=f"taskset.aclose({kwargs or ''})")
    except TimeoutError:
        pass


@pytest.mark.points(2)
async def test_taskset_aclose_gives_up_after_timeout(looptime):
    """aclose(timeout=2) returns after 2 s even if a task answers cancellation with a 10 s clean-up."""

    async def long_cleanup():
        try:
            await asyncio.sleep(100)
        except asyncio.CancelledError:
            await asyncio.sleep(10)
            raise

    taskset = tasks.TaskSet()
    task = taskset.spawn(long_cleanup())
    await asyncio.sleep(0)
    try:
        await close_quietly(taskset, 5, timeout=2)
        assert looptime == pytest.approx(2), (
            f"expected aclose(timeout=2) to give up after 2 s, it returned at {float(looptime):g} s"
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.points(2)
async def test_taskset_aclose_bounded_when_a_task_ignores_cancellation(looptime):
    """aclose() (default timeout 1 s) returns after 1 s even if a task swallows every cancellation and runs on."""
    loop = asyncio.get_running_loop()
    end = loop.time() + 10

    async def stubborn():
        while loop.time() < end:
            try:
                await asyncio.sleep(end - loop.time())
            except asyncio.CancelledError:
                pass  # deliberately rude: the point of aclose's timeout

    taskset = tasks.TaskSet()
    task = taskset.spawn(stubborn())
    await asyncio.sleep(0)
    try:
        await close_quietly(taskset, 5)
        assert looptime == pytest.approx(1), (
            f"expected aclose() to give up after its default 1 s, it returned at {float(looptime):g} s. "
            "Wait with asyncio.wait(tasks, timeout=...): wait_for/asyncio.timeout around gather cancel again and "
            "then wait for the task to end, however long that takes."
        )
    finally:
        await within(task, 20, what="the stubborn task")


@pytest.mark.points(1)
async def test_taskset_aclose_with_nothing_running(looptime):
    """aclose() on an empty TaskSet, or on one whose tasks all finished, returns at once without error."""
    await within(tasks.TaskSet().aclose(), 10, what="TaskSet().aclose() with no tasks")
    taskset = tasks.TaskSet()
    done = taskset.spawn(asyncio.sleep(1, result="ok"))
    await asyncio.sleep(2)
    await within(taskset.aclose(), 10, what="aclose() after every task finished")
    assert done.result() == "ok", "a finished task should keep its result after aclose()"
    assert looptime == 2, f"expected aclose() to return at once, it took {float(looptime) - 2:g} s"


# --- map_with_workers ------------------------------------------------------------------------


@pytest.mark.points(2)
async def test_map_with_workers_ends_its_workers(looptime):
    """map_with_workers leaves no worker running when it returns, also for an empty list (which gives [])."""
    before = tasks_now()
    result = await within(tasks.map_with_workers(Calls(), [], workers=3), 10, what="map_with_workers(fn, [], workers=3)")
    assert_same(result, [], what="map_with_workers(fn, [], workers=3)")
    assert_nothing_left_running(before, what="map_with_workers(fn, [], workers=3)")
    fn = Calls()
    result = await within(tasks.map_with_workers(fn, [1, 2, 3, 4], workers=2), 60, what="map_with_workers")
    assert_same(result, [10, 20, 30, 40], what="map_with_workers's results")
    assert_nothing_left_running(before, what="map_with_workers")
    assert all(task.done() for task in fn.tasks), (
        f"a worker task was still running after map_with_workers returned. Workers blocked on `await queue.get()` "
        f"must be cancelled (and awaited) once the queue is drained. {hints.LEFT_RUNNING}"
    )


@pytest.mark.points(1)
async def test_map_with_workers_results_in_input_order(looptime):
    """map_with_workers returns results in input order, each item processed once, even when later items finish first."""
    fn = Calls(delays={i: 8 - i for i in range(8)})
    result = await within(tasks.map_with_workers(fn, list(range(8)), workers=3), 60, what="map_with_workers")
    assert_same(result, [i * 10 for i in range(8)], what="map_with_workers's results (input order)")
    assert sorted(fn.calls) == list(range(8)), f"expected fn called once per item, saw calls for {sorted(fn.calls)!r}"


@pytest.mark.points(2)
async def test_map_with_workers_rejects_workers_below_one(looptime):
    """map_with_workers raises ValueError for workers=0 and workers=-2, without calling fn."""
    for workers in (0, -2):
        fn = Calls()
        raised = await raised_by(
            tasks.map_with_workers(fn, [1, 2], workers=workers), what=f"map_with_workers(workers={workers})"
        )
        assert isinstance(raised, ValueError), f"expected ValueError for workers={workers}, got {raised!r}"
        assert fn.calls == [], f"workers={workers}: fn should not be called, it was called with {fn.calls!r}"


@pytest.mark.points(1)
async def test_map_with_workers_more_workers_than_items(looptime):
    """With 10 workers and 3 items, map_with_workers returns the 3 results after 1 s and leaves nothing running."""
    fn = Calls()
    before = tasks_now()
    result = await within(tasks.map_with_workers(fn, [1, 2, 3], workers=10), 60, what="map_with_workers")
    assert_same(result, [10, 20, 30], what="map_with_workers's results")
    assert looptime == 1, f"expected 1 s of loop time, took {float(looptime):g} s. {hints.SEQUENTIAL}"
    assert_nothing_left_running(before, what="map_with_workers")


@pytest.mark.points(2)
async def test_map_with_workers_failure_does_not_hang(looptime):
    """If fn raises, map_with_workers raises it (alone or in an ExceptionGroup) instead of hanging, and ends its workers."""
    boom = KeyError("boom")
    fn = Calls(fail={3: boom})
    before = tasks_now()
    raised = await raised_by(tasks.map_with_workers(fn, list(range(10)), workers=3), what="map_with_workers")
    assert boom in leaves(raised), f"expected KeyError('boom') (alone or in an ExceptionGroup), got {raised!r}"
    assert_nothing_left_running(before, what="map_with_workers after a failing call")


@pytest.mark.points(1)
async def test_map_with_workers_single_worker(looptime):
    """workers=1 is valid: one worker task handles 3 one-second items one after another (3 s), in input order."""
    fn = Calls()
    before = tasks_now()
    try:
        result = await within(tasks.map_with_workers(fn, [1, 2, 3], workers=1), 60, what="map_with_workers(workers=1)")
    except ValueError as exc:
        raise AssertionError(f"workers=1 is valid (only workers < 1 is rejected), map_with_workers raised {exc!r}") from None
    assert_same(result, [10, 20, 30], what="map_with_workers(workers=1)'s results")
    assert len(fn.tasks) == 1, f"expected fn to run in exactly 1 worker task, saw {len(fn.tasks)}"
    assert looptime == 3, f"expected 3 s of loop time (one worker, three 1 s calls), took {float(looptime):g} s"
    assert_nothing_left_running(before, what="map_with_workers(workers=1)")
