"""Public tests for assignment 04. Run them with `pytest assignments/04`.

Each test asks for a *scenario* (`coursekit/probes/p04.py`): a probe that
builds the jobs (coro_fns that sleep on a virtual clock, where
`await asyncio.sleep(30)` costs no real time, then return or raise), calls
your function, and reports what it saw the moment your function returned:
the result, the loop time, which jobs were cancelled and had ended, how many
calls were in flight, which tasks were still running. Locally the scenario
runs right here, so your prints and breakpoints work; when graded it runs in
a process of its own, apart from the tests. Each scenario starts its loop
clock at 0.
"""
import pytest

from coursekit import hints
from coursekit.judge import unwrap
from coursekit.probes import p04
from coursekit.probes.p04 import (
    assert_cancelled_and_awaited,
    assert_nothing_left_running,
    expect_raise,
    items_of,
    leaves_of,
    show,
    shown,
    taskset_seen,
)
from coursekit.testing import assert_same, same

STUDENT_MODULE = "tasks"


@pytest.mark.points(4)
def test_run_all_returns_results_in_input_order(student):
    """run_all runs every job at once (delays 3, 1, 2 take 3 s) and returns the results in input order."""
    jobs = [{"delay": 3, "result": "slow"}, {"delay": 1, "result": "fast"}, {"delay": 2, "result": "mid"}]
    seen = student.run(p04.run_jobs, function="run_all", jobs=jobs).value("run_all")
    result = unwrap(seen["outcome"], what="run_all")
    assert_same(result, ["slow", "fast", "mid"], what="run_all's results (a list, in input order)")
    assert seen["took"] == 3, (
        f"expected 3 s of loop time (the longest job), took {seen['took']:g} s. {hints.SEQUENTIAL}"
    )


@pytest.mark.points(5)
def test_run_all_cancels_the_others_when_one_fails(student):
    """When a job fails, run_all cancels and awaits the others, then raises an ExceptionGroup holding the failure."""
    jobs = [{"delay": 10, "result": "a"}, {"delay": 1, "error": ["KeyError", "boom"]}, {"delay": 10, "result": "c"}]
    seen = student.run(p04.run_jobs, function="run_all", jobs=jobs).value("run_all")
    raised = expect_raise(seen["outcome"], what="run_all")
    assert raised.is_a("ExceptionGroup"), (
        f"expected an ExceptionGroup holding KeyError('boom'), got {show(raised)}. "
        "asyncio.TaskGroup raises one for you; with gather, build it yourself."
    )
    assert seen["culprit"]["leaves"] == [1], (
        f"expected the group to hold exactly KeyError('boom'), it holds {shown(leaves_of(raised))}"
    )
    assert seen["took"] == 1, (
        f"expected run_all to raise at 1 s, when the job failed; it raised at {seen['took']:g} s. "
        "The other jobs must be cancelled, not awaited to their end."
    )
    assert_cancelled_and_awaited(seen["states"], [0, 2], what="run_all")
    assert_nothing_left_running(seen, what="run_all")


@pytest.mark.points(4)
def test_first_completed_returns_the_fastest_result(student):
    """first_completed returns the first result to arrive (delays 3, 1, 2: the 1 s job, at 1 s) and cancels the rest."""
    jobs = [{"delay": 3, "result": "slow"}, {"delay": 1, "result": "fast"}, {"delay": 2, "result": "mid"}]
    seen = student.run(p04.run_jobs, function="first_completed", jobs=jobs).value("first_completed")
    result = unwrap(seen["outcome"], what="first_completed")
    assert_same(result, "fast", what="first_completed's result (the 1 s job's)")
    assert seen["took"] == 1, f"expected first_completed to return at 1 s, it returned at {seen['took']:g} s"
    assert_cancelled_and_awaited(seen["states"], [0, 2], what="first_completed")
    assert_nothing_left_running(seen, what="first_completed")


@pytest.mark.points(4)
def test_bounded_map_keeps_limit_calls_in_flight(student):
    """bounded_map with limit=3 over ten 1-second calls: 3 calls in flight at the peak, 4 s in all, input order."""
    seen = student.run(p04.map_items, function="bounded_map", items=list(range(10)), kwargs={"limit": 3},
                       delay=1).value("bounded_map")
    result = unwrap(seen["outcome"], what="bounded_map")
    assert_same(result, [i * 10 for i in range(10)], what="bounded_map's results (a list, in input order)")
    assert seen["peak"] == 3, (
        f"expected exactly 3 calls in flight at the busiest moment, saw {seen['peak']}. "
        + (hints.SEQUENTIAL if seen["peak"] < 3 else "The limit must never be exceeded (asyncio.Semaphore helps).")
    )
    assert seen["took"] == 4, f"expected 4 s of loop time (3 + 3 + 3 + 1 calls), took {seen['took']:g} s"
    assert_nothing_left_running(seen, what="bounded_map")


@pytest.mark.points(3)
def test_as_completed_indexed_yields_in_completion_order(student):
    """as_completed_indexed yields (index, result) as jobs finish: delays 3, 1, 2 give indexes 1, 2, 0."""
    jobs = [{"delay": 3, "result": "a"}, {"delay": 1, "result": "b"}, {"delay": 2, "result": "c"}]
    seen = student.run(p04.iterate_jobs, jobs=jobs).value("as_completed_indexed")
    pairs = items_of(seen, what="iterating as_completed_indexed")
    assert_same(pairs, [(1, "b"), (2, "c"), (0, "a")], what="the (index, result) pairs, in completion order")
    assert seen["took"] == 3, f"expected 3 s of loop time (jobs run at once), took {seen['took']:g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(4)
def test_taskset_runs_counts_and_collects_errors(student):
    """TaskSet.spawn returns the running task, len() counts unfinished tasks, a failure lands in taskset.errors."""
    jobs = [{"delay": 1, "result": "ok"}, {"delay": 2, "error": ["KeyError", "boom"]}]
    steps = [{"do": "spawn", "job": 0, "keep": "task"}, {"do": "spawn", "job": 1, "keep": "none"},
             {"do": "sleep", "seconds": 1.5}, {"do": "sleep", "seconds": 1}]
    first, both, later, last = taskset_seen(student.run(p04.taskset_steps, jobs=jobs, steps=steps).value("TaskSet"))
    spawned = first["spawned"]["value"]
    assert spawned["is_task"], f"spawn should return the asyncio.Task it started, got {spawned['repr']}"
    count = unwrap(both["len"], what="len(taskset)")
    assert same(count, 2), f"expected len(taskset) == 2 right after two spawns, got {count!r}"
    ok = later["jobs"][0]
    assert ok["done"] and same(ok["result"], {"value": "ok"}), (
        "the task spawned with sleep(1, result='ok') should be done with 'ok'"
    )
    count = unwrap(later["len"], what="len(taskset)")
    assert same(count, 1), f"expected len(taskset) == 1 once one task finished, got {count!r}"
    count = unwrap(last["len"], what="len(taskset)")
    assert same(count, 0), f"expected len(taskset) == 0 once both tasks finished, got {count!r}"
    errors = unwrap(last["errors"], what="taskset.errors")
    assert errors["is_list"] and errors["jobs"] == [1], (
        f"expected taskset.errors to be the list [KeyError('boom')] (the very exception raised), got {errors['shown']}"
    )


@pytest.mark.points(3)
def test_map_with_workers_uses_exactly_n_workers(student):
    """map_with_workers(fn, 10 items, workers=3) runs fn in exactly 3 worker tasks, takes 4 s, keeps input order."""
    seen = student.run(p04.map_items, function="map_with_workers", items=list(range(10)), kwargs={"workers": 3},
                       delay=1).value("map_with_workers")
    result = unwrap(seen["outcome"], what="map_with_workers")
    assert_same(result, [i * 10 for i in range(10)], what="map_with_workers's results (a list, in input order)")
    assert not seen["in_caller"], "fn should run inside worker tasks, not in the task that called map_with_workers"
    assert seen["tasks"] == 3, (
        f"expected fn to run in exactly 3 distinct worker tasks, saw {seen['tasks']}: "
        "start `workers` tasks that each take items off one asyncio.Queue"
    )
    assert seen["took"] == 4, f"expected 4 s of loop time (3 workers, ten 1 s calls), took {seen['took']:g} s"
    assert_nothing_left_running(seen, what="map_with_workers")


@pytest.mark.points(3)
def test_bounded_map_stops_everything_when_a_call_fails(student):
    """bounded_map(limit=2): item 0 raises ValueError at 2 s; that ValueError itself comes out, with no call still in flight."""
    seen = student.run(p04.map_items, function="bounded_map", items=[0, 1, 2, 3], kwargs={"limit": 2},
                       delays={0: 2, 1: 7, 2: 7, 3: 7}, fail={0: ["ValueError", "item 0 is bad"]}).value("bounded_map")
    raised = expect_raise(seen["outcome"], what="bounded_map")
    assert seen["culprit"]["self"] == 0, (
        f"expected the call's own ValueError('item 0 is bad'), got {show(raised)}"
        + (" (unwrap the ExceptionGroup a TaskGroup raises)" if raised.is_a("BaseExceptionGroup") else "")
    )
    assert seen["in_flight"] == 0, (
        f"bounded_map raised while {seen['in_flight']} other call(s) were still running. {hints.LEFT_RUNNING}"
    )
    assert_nothing_left_running(seen, what="bounded_map")


@pytest.mark.points(3)
def test_as_completed_indexed_closed_early_cancels_and_awaits(student):
    """Closing the generator after its first pair (at 1 s) cancels the two jobs still running and waits for their 1 s clean-up."""
    jobs = [{"delay": 20, "result": "late", "cleanup": 1}, {"delay": 1, "result": "first", "cleanup": 1},
            {"delay": 30, "result": "later", "cleanup": 1}]
    seen = student.run(p04.iterate_jobs, jobs=jobs, stop_after=1).value("as_completed_indexed")
    pairs = items_of(seen, what="as_completed_indexed: first pair, then aclose()")
    assert_same(pairs[0] if pairs else None, (1, "first"), what="the first pair")
    ended = sorted(jobs[i]["result"] for i in seen["cleaned"])
    assert ended == ["late", "later"], (
        "expected aclose() to cancel the two unfinished jobs and wait until their 1 s clean-up was over; "
        f"when it returned, {ended!r} had ended. task.cancel() only asks: await the tasks too."
    )
    assert seen["took"] == 2, f"expected aclose() to return at 2 s (1 s + 1 s of clean-up), it returned at {seen['took']:g} s"
    assert_nothing_left_running(seen, what="as_completed_indexed after aclose()")
