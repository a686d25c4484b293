"""Hidden tests for assignment 04, part 2: as_completed_indexed, TaskSet and map_with_workers.

Each test runs a scenario of ``coursekit/probes/p04.py`` in the student process and asserts on
what it reports (a TaskSet is driven through a list of steps, with a snapshot after each). Where
the contract leaves inputs free (results, labels, positions, error types and messages, item
values, counts, delays the docstring does not pin), they are drawn from ``student.rng`` (seeded
per graded run) and the expected values are computed here.
"""
import pytest

from coursekit import hints
from coursekit.judge import raised, unwrap
from coursekit.probes import p04
from coursekit.probes.p04 import (
    assert_cancelled_and_awaited,
    assert_nothing_left_running,
    expect_raise,
    expected,
    items_of,
    raised_from_generator,
    show,
    taskset_seen,
)
from coursekit.testing import assert_same, same

STUDENT_MODULE = "tasks"

def finishing_order(jobs):
    """The (index, result) pairs of the successful jobs, by delay (the tests never tie two of them)."""
    return [(i, job["result"]) for i, job in sorted(enumerate(jobs), key=lambda pair: pair[1]["delay"])
            if "error" not in job]


# --- as_completed_indexed -----------------------------------------------------------------


@pytest.mark.points(2)
def test_as_completed_indexed_yields_each_pair_as_soon_as_ready(student):
    """Each (index, result) pair arrives when its job finishes (at 1, 2 and 3 s), not all at the end."""
    rng = student.rng
    delays = rng.sample([1, 2, 3], 3)
    jobs = [{"delay": d, "result": name} for d, name in zip(delays, p04.draw_labels(rng, 3))]
    seen = student.run(p04.iterate_jobs, jobs=jobs).value("as_completed_indexed")
    pairs = items_of(seen, what="iterating as_completed_indexed")
    want = finishing_order(jobs)
    assert same(pairs, want), f"expected {', '.join(map(repr, want))} in completion order, got {pairs!r}"
    times = seen["times"]
    assert times == pytest.approx([1, 2, 3]), (
        f"expected the pairs at 1, 2 and 3 s, as each job finished; they came at {times!r}. "
        "Yield each result as soon as its task is done instead of waiting for them all."
    )


@pytest.mark.points(3)
def test_as_completed_indexed_early_exit_cancels_the_rest(student):
    """Breaking out after the first pair and calling aclose() cancels the jobs still running."""
    rng = student.rng
    count = rng.randint(3, 5)
    first = rng.choice([0.5, 1, 2])
    delays = [first] + rng.sample(range(4, 30), count - 1)
    rng.shuffle(delays)
    jobs = [{"delay": d, "result": name} for d, name in zip(delays, p04.draw_labels(rng, count))]
    winner = delays.index(first)
    seen = student.run(p04.iterate_jobs, jobs=jobs, stop_after=1).value("as_completed_indexed")
    got = items_of(seen, what="as_completed_indexed: break, then aclose()")
    assert_same(got, [(winner, jobs[winner]["result"])], what="the pairs before the break")
    assert seen["took"] == first, f"expected aclose() to return at {first:g} s, it returned at {seen['took']:g} s"
    # No extra loop turns here: the README asks for the tasks to have ended when aclose() returns.
    assert_cancelled_and_awaited(seen["states"], [i for i in range(count) if i != winner],
                                 what="the generator's aclose()")
    assert_nothing_left_running(seen, what="as_completed_indexed after aclose()")


@pytest.mark.points(2)
def test_as_completed_indexed_propagates_a_failure(student):
    """A job's exception comes out of the generator itself, after the pairs of the jobs that finished before it."""
    rng = student.rng
    count = rng.randint(3, 5)
    delays = sorted(rng.sample(range(1, 10), count))
    failing_at = delays[rng.randint(1, count - 2)]  # at least one job before it and one after
    problem = p04.draw_error(rng)
    jobs = [{"delay": d, "error": problem} if d == failing_at else {"delay": d, "result": name}
            for d, name in zip(delays, p04.draw_labels(rng, count))]
    rng.shuffle(jobs)
    culprit = next(i for i, job in enumerate(jobs) if "error" in job)
    before = [pair for pair in finishing_order(jobs) if jobs[pair[0]]["delay"] < failing_at]
    seen = student.run(p04.iterate_jobs, jobs=jobs).value("as_completed_indexed")
    raised_here = raised_from_generator(seen, what="iterating as_completed_indexed")
    assert seen["culprit"]["self"] == culprit, (
        f"expected the job's own {expected(problem)} to come out of the generator, got {show(raised_here)}"
    )
    assert_same(list(seen["items"]), before, what="the pairs before the failure")
    assert seen["took"] == failing_at, (
        f"expected the {problem[0]} at {failing_at:g} s, when the job failed; it came at {seen['took']:g} s"
    )


@pytest.mark.points(2)
def test_as_completed_indexed_failure_leaves_nothing_running(student):
    """When a job's exception comes out of the generator, the jobs still running are cancelled."""
    rng = student.rng
    count = rng.randint(3, 5)
    problem = p04.draw_error(rng)
    jobs = [{"delay": rng.choice([0.5, 1, 2]), "error": problem}]
    jobs += [{"delay": d, "result": name} for d, name in zip(rng.sample(range(4, 30), count - 1), p04.draw_labels(rng, count - 1))]
    rng.shuffle(jobs)
    culprit = next(i for i, job in enumerate(jobs) if "error" in job)
    seen = student.run(p04.iterate_jobs, jobs=jobs).value("as_completed_indexed")
    raised_here = raised_from_generator(seen, what="iterating as_completed_indexed")
    assert culprit in seen["culprit"]["leaves"], (
        f"expected {expected(problem)} from the generator, got {show(raised_here)}"
    )
    assert_cancelled_and_awaited(seen["states"], [i for i in range(count) if i != culprit],
                                 what="the failure left the generator (a `finally:` that cancels and awaits covers this case too)")
    assert_nothing_left_running(seen, what="as_completed_indexed after a failure")


@pytest.mark.points(1)
def test_as_completed_indexed_empty(student):
    """as_completed_indexed([]) yields nothing."""
    seen = student.run(p04.iterate_jobs, jobs=[], within=10).value("as_completed_indexed([])")
    pairs = items_of(seen, what="iterating as_completed_indexed([])")
    assert_same(pairs, [], what="the pairs of as_completed_indexed([])")


@pytest.mark.points(1)
def test_as_completed_indexed_jobs_finishing_together(student):
    """Two jobs finishing in the same loop turn both come out (in either order), at 1 s, before the 2 s job."""
    rng = student.rng
    delays = rng.sample([2, 1, 1], 3)
    jobs = [{"delay": d, "result": name} for d, name in zip(delays, p04.draw_labels(rng, 3))]
    together = [(i, jobs[i]["result"]) for i in range(3) if delays[i] == 1]
    last = [(i, jobs[i]["result"]) for i in range(3) if delays[i] == 2]
    seen = student.run(p04.iterate_jobs, jobs=jobs).value("as_completed_indexed")
    pairs = items_of(seen, what="iterating as_completed_indexed")
    orders = (together + last, together[::-1] + last)
    assert any(same(pairs, order) for order in orders), (
        f"expected {together[0]!r} and {together[1]!r} in either order, then {last[0]!r}; got {pairs!r}. Tasks do not "
        "compare with `<`: if you sort the finished tasks, sort them with a key (e.g. their input index)."
    )
    times = seen["times"]
    assert times == pytest.approx([1, 1, 2]), f"expected the pairs at 1, 1 and 2 s, they came at {times!r}"


# --- TaskSet -------------------------------------------------------------------------------


@pytest.mark.points(2)
def test_taskset_keeps_a_strong_reference(student):
    """A spawned task whose Task object the caller drops survives gc.collect() and finishes its work."""
    value = p04.draw_labels(student.rng, 1)[0]
    # The job's coroutine alone holds its future, so only the task holds the coroutine: the loop
    # itself keeps tasks in a weak set. Without a strong reference the whole cycle is garbage.
    steps = [{"do": "spawn", "job": 0, "keep": "none"}, {"do": "sleep", "seconds": 1}, {"do": "gc"},
             {"do": "resolve", "job": 0, "value": value}, {"do": "sleep", "seconds": 1}]
    _, _, collected, _, finished = taskset_seen(
        student.run(p04.taskset_steps, jobs=[{"future": True}], steps=steps).value("TaskSet"))
    assert collected["jobs"][0]["future_alive"], (
        "the spawned task was garbage-collected while it waited: spawn must keep a strong reference to the "
        "task (e.g. in a set) until it finishes. The event loop only keeps a weak one."
    )
    recorded = finished["jobs"][0]["recorded"]
    assert same(recorded, [value]), f"expected the spawned task to finish with {value!r}, it recorded {recorded!r}"
    count = unwrap(finished["len"], what="len(taskset)")
    assert same(count, 0), f"expected len(taskset) == 0 once the task finished, got {count!r}"


@pytest.mark.points(1)
def test_taskset_lets_go_of_finished_tasks(student):
    """The strong reference lasts only until the task finishes: a finished task nobody else holds is freed."""
    steps = [{"do": "spawn", "job": 0, "keep": "weak"}, {"do": "sleep", "seconds": 2}, {"do": "settle"},
             {"do": "gc"}]
    *_, collected = taskset_seen(student.run(p04.taskset_steps, jobs=[{"delay": 1, "result": "done"}],
                                             steps=steps).value("TaskSet"))
    assert not collected["jobs"][0]["alive"], (
        "a spawned task that finished is still kept alive by the TaskSet: remove it from your set when it is done "
        "(e.g. `task.add_done_callback(self._tasks.discard)`), or the set grows forever"
    )
    count = unwrap(collected["len"], what="len(taskset)")
    assert same(count, 0), f"expected len(taskset) == 0 once the task finished, got {count!r}"


@pytest.mark.points(2)
def test_taskset_errors_are_not_logged_as_never_retrieved(student):
    """A failing background task lands in taskset.errors and is never logged as "Task exception was never retrieved"."""
    problem = ["ValueError", f"background failure {student.rng.randrange(10_000)}"]
    steps = [{"do": "spawn", "job": 0, "keep": "none"}, {"do": "sleep", "seconds": 2}, {"do": "drop"}]
    obs = student.run(p04.taskset_steps, jobs=[{"delay": 1, "error": problem}], steps=steps)
    _, slept, _ = taskset_seen(obs.value("TaskSet"))
    errors = unwrap(slept["errors"], what="taskset.errors")
    assert errors["is_list"] and errors["jobs"] == [0], (
        f"expected taskset.errors to be the list [{expected(problem)}], got {errors['shown']}"
    )
    logged = [log.message for log in obs.logs if "never retrieved" in log.message and problem[1] in log.message]
    assert not logged, (
        "asyncio logged 'Task exception was never retrieved' for a spawned task: read the exception in a done "
        "callback (task.exception() marks it retrieved) when you store it in taskset.errors, or catch it in a "
        "wrapper coroutine without re-raising it"
    )


@pytest.mark.points(2)
def test_taskset_aclose_cancels_and_waits_for_cleanup(student):
    """aclose() cancels unfinished tasks and returns once they have ended (a 0.5 s clean-up: it returns at 0.5 s)."""
    jobs = [{"delay": 100}, {"delay": 100, "cleanup": 0.5}]
    steps = [{"do": "spawn", "job": 0, "keep": "task"}, {"do": "spawn", "job": 1, "keep": "task"},
             {"do": "sleep", "seconds": 0}, {"do": "aclose", "kwargs": {"timeout": 5}, "within": 20}]
    *_, closed = taskset_seen(student.run(p04.taskset_steps, jobs=jobs, steps=steps).value("TaskSet"))
    unwrap(closed["outcome"], what="taskset.aclose(timeout=5)")
    plain, careful = closed["jobs"]
    assert careful["cleaned"], (
        "expected aclose() to wait until the cancelled task finished its 0.5 s clean-up; it returned before"
    )
    assert plain["cancelled"] and careful["cancelled"], "expected both unfinished tasks to end cancelled"
    count = unwrap(closed["len"], what="len(taskset)")
    assert same(count, 0), f"expected len(taskset) == 0 after aclose(), got {count!r}"
    assert closed["t"] == pytest.approx(0.5), (
        f"expected aclose() to return as soon as the tasks ended (0.5 s), it returned at {closed['t']:g} s"
    )


def closed_quietly(closed, *, what):
    """aclose's outcome, bounded; a TimeoutError from aclose itself is accepted as a way to give up."""
    error = raised(closed["outcome"])
    if error is None or not error.is_a("TimeoutError"):
        unwrap(closed["outcome"], what=what)


@pytest.mark.points(2)
def test_taskset_aclose_gives_up_after_timeout(student):
    """aclose(timeout=2) returns after 2 s even if a task answers cancellation with a 10 s clean-up."""
    steps = [{"do": "spawn", "job": 0, "keep": "task"}, {"do": "sleep", "seconds": 0},
             {"do": "aclose", "kwargs": {"timeout": 2}, "within": 5}]
    *_, closed = taskset_seen(student.run(p04.taskset_steps, jobs=[{"delay": 100, "cleanup": 10}],
                                          steps=steps).value("TaskSet"))
    closed_quietly(closed, what="taskset.aclose({'timeout': 2})")
    assert closed["t"] == pytest.approx(2), (
        f"expected aclose(timeout=2) to give up after 2 s, it returned at {closed['t']:g} s"
    )


@pytest.mark.points(2)
def test_taskset_aclose_bounded_when_a_task_ignores_cancellation(student):
    """aclose() (default timeout 1 s) returns after 1 s even if a task swallows every cancellation and runs on."""
    steps = [{"do": "spawn", "job": 0, "keep": "task"}, {"do": "sleep", "seconds": 0},
             {"do": "aclose", "kwargs": {}, "within": 5}]
    *_, closed = taskset_seen(student.run(p04.taskset_steps, jobs=[{"stubborn_until": 10}],
                                          steps=steps).value("TaskSet"))
    closed_quietly(closed, what="taskset.aclose()")
    assert closed["t"] == pytest.approx(1), (
        f"expected aclose() to give up after its default 1 s, it returned at {closed['t']:g} s. "
        "Wait with asyncio.wait(tasks, timeout=...): wait_for/asyncio.timeout around gather cancel again and "
        "then wait for the task to end, however long that takes."
    )


@pytest.mark.points(1)
def test_taskset_aclose_with_nothing_running(student):
    """aclose() on an empty TaskSet, or on one whose tasks all finished, returns at once without error."""
    closing = [{"do": "aclose", "kwargs": {}, "within": 10}]
    closed, = taskset_seen(student.run(p04.taskset_steps, jobs=[], steps=closing).value("TaskSet"))
    unwrap(closed["outcome"], what="TaskSet().aclose() with no tasks")
    name = p04.draw_labels(student.rng, 1)[0]
    steps = [{"do": "spawn", "job": 0, "keep": "task"}, {"do": "sleep", "seconds": 2}] + closing
    *_, closed = taskset_seen(student.run(p04.taskset_steps, jobs=[{"delay": 1, "result": name}],
                                          steps=steps).value("TaskSet"))
    unwrap(closed["outcome"], what="aclose() after every task finished")
    assert same(closed["jobs"][0]["result"], {"value": name}), "a finished task should keep its result after aclose()"
    assert closed["t"] == 2, f"expected aclose() to return at once, it took {closed['t'] - 2:g} s"


# --- map_with_workers ------------------------------------------------------------------------


@pytest.mark.points(2)
def test_map_with_workers_ends_its_workers(student):
    """map_with_workers leaves no worker running when it returns, also for an empty list (which gives [])."""
    what = "map_with_workers(fn, [], workers=3)"
    seen = student.run(p04.map_items, function="map_with_workers", items=[], kwargs={"workers": 3},
                       within=10).value(what)
    assert_same(unwrap(seen["outcome"], what=what), [], what=what)
    assert_nothing_left_running(seen, what=what)
    rng = student.rng
    given = p04.draw_items(rng, rng.randint(3, 6))
    seen = student.run(p04.map_items, function="map_with_workers", items=given, kwargs={"workers": rng.randint(2, 3)}
                       ).value("map_with_workers")
    assert_same(unwrap(seen["outcome"], what="map_with_workers"), [i * 10 for i in given],
                what="map_with_workers's results")
    assert_nothing_left_running(seen, what="map_with_workers")
    assert seen["tasks_done"], (
        f"a worker task was still running after map_with_workers returned. Workers blocked on `await queue.get()` "
        f"must be cancelled (and awaited) once the queue is drained. {hints.LEFT_RUNNING}"
    )


@pytest.mark.points(1)
def test_map_with_workers_results_in_input_order(student):
    """map_with_workers returns results in input order, each item processed once, even when later items finish first."""
    rng = student.rng
    given = p04.draw_items(rng, rng.randint(6, 10))
    seen = student.run(p04.map_items, function="map_with_workers", items=given, kwargs={"workers": rng.randint(2, 4)},
                       delays={item: len(given) - i for i, item in enumerate(given)}).value("map_with_workers")
    assert_same(unwrap(seen["outcome"], what="map_with_workers"), [i * 10 for i in given],
                what="map_with_workers's results (input order)")
    assert sorted(seen["calls"]) == sorted(given), (
        f"expected fn called once per item, saw calls for {sorted(seen['calls'])!r}"
    )


@pytest.mark.points(2)
def test_map_with_workers_rejects_workers_below_one(student):
    """map_with_workers raises ValueError for workers=0 and workers=-2, without calling fn."""
    given = p04.draw_items(student.rng, 2)
    for workers in (0, -2):
        what = f"map_with_workers(workers={workers})"
        seen = student.run(p04.map_items, function="map_with_workers", items=given, kwargs={"workers": workers}
                           ).value(what)
        raised_here = expect_raise(seen["outcome"], what=what)
        assert raised_here.is_a("ValueError"), f"expected ValueError for workers={workers}, got {show(raised_here)}"
        assert seen["calls"] == [], f"workers={workers}: fn should not be called, it was called with {seen['calls']!r}"


@pytest.mark.points(1)
def test_map_with_workers_more_workers_than_items(student):
    """With 10 workers and 3 items, map_with_workers returns the 3 results after 1 s and leaves nothing running."""
    given = p04.draw_items(student.rng, 3)
    seen = student.run(p04.map_items, function="map_with_workers", items=given, kwargs={"workers": 10}).value(
        "map_with_workers")
    assert_same(unwrap(seen["outcome"], what="map_with_workers"), [i * 10 for i in given],
                what="map_with_workers's results")
    assert seen["took"] == 1, f"expected 1 s of loop time, took {seen['took']:g} s. {hints.SEQUENTIAL}"
    assert_nothing_left_running(seen, what="map_with_workers")


@pytest.mark.points(2)
def test_map_with_workers_failure_does_not_hang(student):
    """If fn raises, map_with_workers raises it (alone or in an ExceptionGroup) instead of hanging, and ends its workers."""
    rng = student.rng
    given = p04.draw_items(rng, rng.randint(6, 12))
    bad = rng.choice(given)
    problem = p04.draw_error(rng)
    seen = student.run(p04.map_items, function="map_with_workers", items=given, kwargs={"workers": rng.randint(2, 4)},
                       fail={bad: problem}).value("map_with_workers")
    raised_here = expect_raise(seen["outcome"], what="map_with_workers")
    assert bad in seen["culprit"]["leaves"], (
        f"expected {expected(problem)} (alone or in an ExceptionGroup), got {show(raised_here)}"
    )
    assert_nothing_left_running(seen, what="map_with_workers after a failing call")


@pytest.mark.points(1)
def test_map_with_workers_single_worker(student):
    """workers=1 is valid: one worker task handles 3 one-second items one after another (3 s), in input order."""
    given = p04.draw_items(student.rng, 3)
    seen = student.run(p04.map_items, function="map_with_workers", items=given, kwargs={"workers": 1}).value(
        "map_with_workers(workers=1)")
    problem = raised(seen["outcome"])
    if problem is not None and problem.is_a("ValueError"):
        raise AssertionError(
            f"workers=1 is valid (only workers < 1 is rejected), map_with_workers raised {show(problem)}"
        )
    assert_same(unwrap(seen["outcome"], what="map_with_workers(workers=1)"), [i * 10 for i in given],
                what="map_with_workers(workers=1)'s results")
    assert seen["tasks"] == 1, f"expected fn to run in exactly 1 worker task, saw {seen['tasks']}"
    assert seen["took"] == 3, f"expected 3 s of loop time (one worker, three 1 s calls), took {seen['took']:g} s"
    assert_nothing_left_running(seen, what="map_with_workers(workers=1)")
