"""Hidden tests for assignment 04, part 1: run_all, first_completed and bounded_map.

Each test runs a scenario of ``coursekit/probes/p04.py`` in the student process and asserts on
what it reports. Where the contract leaves inputs free (results, labels, which job fails and
where it stands, error types and messages, item values, counts, delays the docstring does not
pin), they are drawn from ``student.rng`` (seeded per graded run) and the expected values are
computed here.
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
    leaves_of,
    show,
    shown,
)
from coursekit.testing import assert_same, same

STUDENT_MODULE = "tasks"

# --- run_all ---------------------------------------------------------------------------


@pytest.mark.points(1)
def test_run_all_empty(student):
    """run_all([]) returns [] at once."""
    seen = student.run(p04.run_jobs, function="run_all", jobs=[], within=10).value("run_all([])")
    assert_same(unwrap(seen["outcome"], what="run_all([])"), [], what="run_all([])")
    assert seen["took"] == 0, f"expected no loop time to pass, {seen['took']:g} s did"


@pytest.mark.points(1)
def test_run_all_hundred_jobs_take_one_second(student):
    """run_all with 100 one-second jobs takes 1 s, not 100 s, and keeps input order."""
    results = student.rng.sample(range(10_000), 100)
    seen = student.run(p04.run_jobs, function="run_all", jobs=[{"delay": 1, "result": r} for r in results],
                       within=200).value("run_all")
    assert_same(unwrap(seen["outcome"], what="run_all"), results, what="run_all's 100 results (a list, in input order)")
    assert seen["took"] == 1, f"expected 1 s of loop time, took {seen['took']:g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(3)
def test_run_all_waits_for_cancelled_siblings_to_finish(student):
    """When a job fails, run_all raises only after the cancelled siblings have finished their clean-up."""
    rng = student.rng
    names = p04.draw_labels(rng, rng.randint(2, 4))
    cleanup = rng.choice([1, 1.5, 2, 3])
    jobs = [{"delay": rng.randint(5, 20), "result": name, "cleanup": cleanup} for name in names]
    problem = p04.draw_error(rng)
    jobs.insert(rng.randint(0, len(jobs)), {"delay": rng.choice([0.5, 1, 2]), "error": problem})
    seen = student.run(p04.run_jobs, function="run_all", jobs=jobs).value("run_all")
    raised = expect_raise(seen["outcome"], what="run_all")
    assert raised.is_a("ExceptionGroup"), f"expected an ExceptionGroup holding {expected(problem)}, got {show(raised)}"
    ended = sorted(jobs[i]["result"] for i in seen["cleaned"])
    assert ended == sorted(names), (
        f"expected run_all to cancel the {len(names)} other jobs and wait until they ended (their clean-up takes "
        f"{cleanup:g} s) before raising; when it raised, only {ended!r} had ended. {hints.LEFT_RUNNING}"
    )
    assert_nothing_left_running(seen, what="run_all")


@pytest.mark.points(1)
def test_run_all_simultaneous_failures(student):
    """Two jobs failing at the same moment: run_all's ExceptionGroup holds only those failures (one or both), nothing else."""
    rng = student.rng
    moment = rng.choice([0.5, 1, 2, 3])
    one, two = p04.draw_error(rng), p04.draw_error(rng)
    jobs = [{"delay": moment, "error": one}, {"delay": moment + rng.randint(2, 6), "result": p04.draw_labels(rng, 1)[0]},
            {"delay": moment, "error": two}]
    rng.shuffle(jobs)
    failing = [i for i, job in enumerate(jobs) if "error" in job]
    seen = student.run(p04.run_jobs, function="run_all", jobs=jobs).value("run_all")
    raised = expect_raise(seen["outcome"], what="run_all")
    assert raised.is_a("ExceptionGroup"), f"expected an ExceptionGroup, got {show(raised)}"
    found = seen["culprit"]["leaves"]
    assert found and all(key in failing for key in found) and len(found) == len(set(found)), (
        f"expected the group to hold {expected(one)} and/or {expected(two)} (the very objects raised, "
        f"once each, no CancelledError), it holds {shown(leaves_of(raised))}"
    )


# --- first_completed ---------------------------------------------------------------------


@pytest.mark.points(3)
def test_first_completed_awaits_cancelled_losers(student):
    """first_completed returns only after the cancelled losers have finished their clean-up."""
    rng = student.rng
    names = p04.draw_labels(rng, rng.randint(3, 5))
    fast = rng.choice([0.5, 1, 2])
    cleanup = rng.choice([1, 1.5, 2])
    delays = [fast] + rng.sample(range(4, 30), len(names) - 1)
    rng.shuffle(delays)
    jobs = [{"delay": d, "result": name, "cleanup": cleanup} for d, name in zip(delays, names)]
    winner = names[delays.index(fast)]
    losers = sorted(name for name in names if name != winner)
    seen = student.run(p04.run_jobs, function="first_completed", jobs=jobs).value("first_completed")
    assert_same(unwrap(seen["outcome"], what="first_completed"), winner, what="first_completed's result")
    ended = sorted(jobs[i]["result"] for i in seen["cleaned"])
    assert ended == losers, (
        f"expected the {len(losers)} losers to be cancelled and awaited (their clean-up takes {cleanup:g} s) before "
        f"first_completed returned; when it returned, {ended!r} had ended. {hints.LEFT_RUNNING}"
    )
    assert_nothing_left_running(seen, what="first_completed")


@pytest.mark.points(2)
def test_first_completed_ignores_failures(student):
    """Failures are skipped: with a job failing at 1 s and one succeeding at 2 s, first_completed returns at 2 s."""
    rng = student.rng
    ok, late = p04.draw_labels(rng, 2)
    problem = p04.draw_error(rng)
    jobs = [{"delay": 1, "error": problem}, {"delay": 2, "result": ok}, {"delay": 3, "result": late}]
    rng.shuffle(jobs)
    seen = student.run(p04.run_jobs, function="first_completed", jobs=jobs).value("first_completed")
    error_seen = raised(seen["outcome"])
    if error_seen is not None and (error_seen.is_a(problem[0]) or error_seen.is_a("ExceptionGroup")):
        raise AssertionError(
            f"first_completed raised {show(error_seen)} although a job succeeded later: a failure only counts when "
            "every job fails"
        )
    assert_same(unwrap(seen["outcome"], what="first_completed"), ok,
                what="first_completed's result (the first job to succeed)")
    assert seen["took"] == 2, f"expected first_completed to return at 2 s, it returned at {seen['took']:g} s"


@pytest.mark.points(3)
def test_first_completed_all_fail_raises_group_of_every_failure(student):
    """When every job fails, first_completed raises an ExceptionGroup holding all the failures."""
    rng = student.rng
    count = rng.randint(2, 5)
    delays = rng.sample([0.5, 1, 1.5, 2, 3, 4, 5, 7], count)
    jobs = [{"delay": d, "error": p04.draw_error(rng)} for d in delays]
    seen = student.run(p04.run_jobs, function="first_completed", jobs=jobs).value("first_completed")
    raised = expect_raise(seen["outcome"], what="first_completed")
    assert raised.is_a("ExceptionGroup"), f"expected an ExceptionGroup of the {count} failures, got {show(raised)}"
    found = seen["culprit"]["leaves"]
    assert None not in found and sorted(found) == list(range(count)), (
        f"expected the group to hold the {count} exceptions raised (any order), it holds {shown(leaves_of(raised))}"
    )
    last = max(delays)
    assert seen["took"] == last, (
        f"expected first_completed to raise at {last:g} s, when the last job failed; it raised at {seen['took']:g} s"
    )
    assert_nothing_left_running(seen, what="first_completed")


@pytest.mark.points(3)
def test_first_completed_timeout(student):
    """With timeout=2 and jobs of 5 s and 10 s, first_completed raises TimeoutError at 2 s and cancels both."""
    rng = student.rng
    jobs = [{"delay": d, "result": name} for d, name in zip(rng.sample([5, 10], 2), p04.draw_labels(rng, 2))]
    seen = student.run(p04.run_jobs, function="first_completed", jobs=jobs, kwargs={"timeout": 2}).value(
        "first_completed(timeout=2)")
    raised = expect_raise(seen["outcome"], what="first_completed(timeout=2)")
    assert raised.is_a("TimeoutError"), f"expected TimeoutError, got {show(raised)}"
    assert seen["took"] == 2, f"expected TimeoutError at 2 s, got it at {seen['took']:g} s"
    assert_cancelled_and_awaited(seen["states"], [0, 1], what="first_completed(timeout=2)")
    assert_nothing_left_running(seen, what="first_completed")


@pytest.mark.points(2)
def test_first_completed_timeout_counts_from_the_start(student):
    """The timeout covers the whole call: failures at 1.5 s and 3 s with timeout=2 still give TimeoutError at 2 s."""
    rng = student.rng
    jobs = [{"delay": 1.5, "error": p04.draw_error(rng)}, {"delay": 3, "error": p04.draw_error(rng)},
            {"delay": 10, "result": p04.draw_labels(rng, 1)[0]}]
    rng.shuffle(jobs)
    seen = student.run(p04.run_jobs, function="first_completed", jobs=jobs, kwargs={"timeout": 2}).value(
        "first_completed(timeout=2)")
    raised = expect_raise(seen["outcome"], what="first_completed(timeout=2)")
    assert raised.is_a("TimeoutError"), f"expected TimeoutError, got {show(raised)}"
    assert seen["took"] == 2, (
        f"expected TimeoutError at 2 s, got it at {seen['took']:g} s: the timeout must not restart after each failure"
    )


@pytest.mark.points(1)
def test_first_completed_result_before_timeout(student):
    """With timeout=5 and a 1 s job, first_completed returns the result at 1 s."""
    name = p04.draw_labels(student.rng, 1)[0]
    seen = student.run(p04.run_jobs, function="first_completed", jobs=[{"delay": 1, "result": name}],
                       kwargs={"timeout": 5}).value("first_completed")
    assert_same(unwrap(seen["outcome"], what="first_completed"), name, what="first_completed's result")
    assert seen["took"] == 1, f"expected first_completed to return at 1 s, it returned at {seen['took']:g} s"
    assert_nothing_left_running(seen, what="first_completed")


@pytest.mark.points(1)
def test_first_completed_empty_raises_value_error(student):
    """first_completed([]) raises ValueError, with or without a timeout."""
    for kwargs in ({}, {"timeout": 1}):
        what = f"first_completed([], {kwargs})"
        seen = student.run(p04.run_jobs, function="first_completed", jobs=[], kwargs=kwargs).value(what)
        raised = expect_raise(seen["outcome"], what=what)
        assert raised.is_a("ValueError"), f"expected ValueError from first_completed([], {kwargs}), got {show(raised)}"


@pytest.mark.points(1)
def test_first_completed_jobs_finishing_together(student):
    """Two jobs finishing in the same loop turn: first_completed returns either result (or, if both fail, reports both)."""
    rng = student.rng
    moment = rng.choice([0.5, 1, 2])
    left, right, late = p04.draw_labels(rng, 3)
    jobs = [{"delay": moment, "result": left}, {"delay": moment, "result": right},
            {"delay": moment + rng.randint(2, 5), "result": late}]
    rng.shuffle(jobs)
    seen = student.run(p04.run_jobs, function="first_completed", jobs=jobs).value("first_completed")
    result = unwrap(seen["outcome"], what="first_completed")
    assert any(same(result, name) for name in (left, right)), (
        f"expected {left!r} or {right!r} (both jobs finished at {moment:g} s), got {result!r}"
    )
    assert seen["took"] == moment, (
        f"expected first_completed to return at {moment:g} s, it returned at {seen['took']:g} s"
    )
    both = [["KeyError", f"left {rng.randrange(1000)}"], ["KeyError", f"right {rng.randrange(1000)}"]]
    jobs = [{"delay": moment, "error": both[0]}, {"delay": moment, "error": both[1]},
            {"delay": moment + rng.randint(2, 5), "result": late}]
    rng.shuffle(jobs)
    seen = student.run(p04.run_jobs, function="first_completed", jobs=jobs).value("first_completed")
    assert_same(unwrap(seen["outcome"], what="first_completed"), late,
                what="first_completed's result after two failures in the same turn")
    jobs = [{"delay": moment, "error": both[0]}, {"delay": moment, "error": both[1]}]
    seen = student.run(p04.run_jobs, function="first_completed", jobs=jobs).value("first_completed")
    raised = expect_raise(seen["outcome"], what="first_completed")
    found = seen["culprit"]["leaves"]
    assert raised.is_a("ExceptionGroup") and None not in found and sorted(found) == [0, 1], (
        f"two jobs failing in the same turn: expected an ExceptionGroup holding both KeyErrors, got {show(raised)}. "
        "Tasks do not compare with `<`: if you sort the finished tasks, sort them with a key (e.g. their input index)."
    )


# --- bounded_map -------------------------------------------------------------------------


@pytest.mark.points(2)
def test_bounded_map_reuses_a_free_slot_at_once(student):
    """bounded_map starts the next call as soon as one ends: limit 2 and delays 1, 5, 1, 1, 1 take 5 s (batches: 7 s)."""
    given = p04.draw_items(student.rng, 5)
    seen = student.run(p04.map_items, function="bounded_map", items=given, kwargs={"limit": 2},
                       delays=dict(zip(given, [1, 5, 1, 1, 1]))).value("bounded_map")
    assert_same(unwrap(seen["outcome"], what="bounded_map"), [i * 10 for i in given], what="bounded_map's results")
    assert seen["peak"] == 2, f"expected at most (and at the peak exactly) 2 calls in flight, saw {seen['peak']}"
    assert seen["took"] == 5, (
        f"expected 5 s of loop time, took {seen['took']:g} s: when a call ends, start the next item at once "
        "instead of waiting for a whole batch (a Semaphore or a pool of workers does this)"
    )


@pytest.mark.points(2)
def test_bounded_map_limit_one_and_large_limit(student):
    """limit=1 runs calls one at a time (3 calls: 3 s); a limit above the number of items runs them all at once (1 s)."""
    given = p04.draw_items(student.rng, 3)
    seen = student.run(p04.map_items, function="bounded_map", items=given, kwargs={"limit": 1}).value(
        "bounded_map(limit=1)")
    assert_same(unwrap(seen["outcome"], what="bounded_map(limit=1)"), [i * 10 for i in given],
                what="bounded_map(limit=1)'s results")
    assert seen["peak"] == 1, f"limit=1: expected one call at a time, saw {seen['peak']} in flight"
    assert seen["took"] == 3, f"limit=1: expected 3 s, took {seen['took']:g} s"
    big = student.rng.randint(4, 1000)
    seen = student.run(p04.map_items, function="bounded_map", items=given, kwargs={"limit": big}).value(
        f"bounded_map(limit={big})")
    assert_same(unwrap(seen["outcome"], what=f"bounded_map(limit={big})"), [i * 10 for i in given],
                what=f"bounded_map(limit={big})'s results")
    assert seen["peak"] == 3, f"limit={big}: expected the 3 calls at once, saw a peak of {seen['peak']}. {hints.SEQUENTIAL}"
    assert seen["took"] == 1, f"limit={big}: expected 1 s, took {seen['took']:g} s"


@pytest.mark.points(2)
def test_bounded_map_rejects_limit_below_one(student):
    """bounded_map raises ValueError for limit=0 and limit=-1, without calling fn."""
    given = p04.draw_items(student.rng, 2)
    for limit in (0, -1):
        what = f"bounded_map(limit={limit})"
        seen = student.run(p04.map_items, function="bounded_map", items=given, kwargs={"limit": limit}).value(what)
        raised = expect_raise(seen["outcome"], what=what)
        assert raised.is_a("ValueError"), f"expected ValueError for limit={limit}, got {show(raised)}"
        assert seen["calls"] == [], f"limit={limit}: fn should not be called, it was called with {seen['calls']!r}"


@pytest.mark.points(2)
def test_bounded_map_failure_propagates_as_itself(student):
    """When a call raises KeyError, bounded_map raises that very KeyError (not wrapped in an ExceptionGroup)."""
    rng = student.rng
    given = p04.draw_items(rng, rng.randint(4, 8))
    bad = rng.choice(given)
    problem = ["KeyError", f"boom {rng.randrange(1000)}"]
    seen = student.run(p04.map_items, function="bounded_map", items=given, kwargs={"limit": rng.randint(1, 3)},
                       fail={bad: problem}).value("bounded_map")
    raised = expect_raise(seen["outcome"], what="bounded_map")
    assert seen["culprit"]["self"] == bad, (
        f"expected the call's own {expected(problem)} to propagate, got {show(raised)}"
        + (
            ". A TaskGroup wraps failures in an ExceptionGroup: the contract wants the exception itself "
            "(gather raises it as is)."
            if raised.is_a("BaseExceptionGroup")
            else ""
        )
    )


@pytest.mark.points(2)
def test_bounded_map_failure_leaves_nothing_running(student):
    """When a call fails, bounded_map raises with no call in flight, no task left pending, and starts no more calls."""
    rng = student.rng
    limit = rng.randint(2, 4)
    given = p04.draw_items(rng, rng.randint(limit + 3, 12))
    bad = given[rng.randrange(limit)]  # among the first calls, so it starts at once
    fails_at = rng.choice([0.5, 1, 2])
    problem = p04.draw_error(rng)
    delays = {item: rng.randint(6, 20) for item in given} | {bad: fails_at}
    seen = student.run(p04.map_items, function="bounded_map", items=given, kwargs={"limit": limit},
                       delays=delays, fail={bad: problem}, after=100).value("bounded_map")
    raised = expect_raise(seen["outcome"], what="bounded_map")
    assert bad in seen["culprit"]["leaves"], (
        f"expected {expected(problem)} (alone or in an ExceptionGroup), got {show(raised)}"
    )
    assert seen["in_flight"] == 0, (
        f"bounded_map raised while {seen['in_flight']} call(s) were still in flight. gather does not cancel the other "
        f"calls when one fails: cancel them and wait for them. {hints.LEFT_RUNNING}"
    )
    assert_nothing_left_running(seen, what="bounded_map")
    calls_so_far = len(seen["calls"])
    assert seen["calls_after"] == calls_so_far, (
        f"fn was still being called after bounded_map raised ({seen['calls_after'] - calls_so_far} more call(s)). "
        f"{hints.LEFT_RUNNING}"
    )


@pytest.mark.points(1)
def test_bounded_map_failure_starts_nothing_new_and_awaits_clean_up(student):
    """After a call fails (at 1 s), no call starts later, and calls still cleaning up after their cancellation (1 s) have ended when bounded_map raises."""
    rng = student.rng
    limit = rng.randint(2, 4)
    given = p04.draw_items(rng, rng.randint(limit + 3, 10))
    bad = given[rng.randrange(limit)]
    problem = p04.draw_error(rng)
    seen = student.run(p04.map_items, function="bounded_map", items=given, kwargs={"limit": limit},
                       delay=10, delays={bad: 1}, fail={bad: problem}, cleanup=1).value("bounded_map")
    raised = expect_raise(seen["outcome"], what="bounded_map")
    assert bad in seen["culprit"]["leaves"], (
        f"expected {expected(problem)} (alone or in an ExceptionGroup), got {show(raised)}"
    )
    late = [item for item, started_at in seen["starts"] if started_at > 1]
    assert late == [], (
        f"once a call has failed, no new call should start; calls for items {late!r} started after item {bad} "
        "failed at 1 s. Cancel the calls that have not started yet too."
    )
    started, ended = sorted(seen["calls"]), sorted(seen["ended"])
    assert ended == started, (
        f"bounded_map raised while calls were still running or cleaning up after their cancellation: of the "
        f"calls started ({started!r}) only {ended!r} had ended. Cancel the other calls and wait "
        f"for them to end (gather(..., return_exceptions=True) waits; without return_exceptions it returns at "
        f"the first error). {hints.LEFT_RUNNING}"
    )
    assert_nothing_left_running(seen, what="bounded_map")


@pytest.mark.points(1)
def test_bounded_map_results_in_input_order(student):
    """bounded_map returns results in input order even when later items finish first."""
    rng = student.rng
    given = p04.draw_items(rng, rng.randint(5, 9))
    seen = student.run(p04.map_items, function="bounded_map", items=given, kwargs={"limit": rng.randint(2, 4)},
                       delays={item: len(given) - i for i, item in enumerate(given)}).value("bounded_map")
    assert_same(unwrap(seen["outcome"], what="bounded_map"), [i * 10 for i in given],
                what="bounded_map's results (input order)")
    assert sorted(seen["calls"]) == sorted(given), f"expected one call per item, saw calls for {sorted(seen['calls'])!r}"


@pytest.mark.points(1)
def test_bounded_map_empty(student):
    """bounded_map(fn, [], limit=2) returns [] without calling fn."""
    seen = student.run(p04.map_items, function="bounded_map", items=[], kwargs={"limit": 2}, within=10).value(
        "bounded_map(fn, [], limit=2)")
    assert_same(unwrap(seen["outcome"], what="bounded_map(fn, [], limit=2)"), [], what="bounded_map(fn, [], limit=2)")
    assert seen["calls"] == [], f"fn should not be called, it was called with {seen['calls']!r}"
