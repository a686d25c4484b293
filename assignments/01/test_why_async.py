"""Public tests for assignment 01. Run them with `pytest assignments/01`.

Each test asks for a *scenario* (`coursekit/probes`): a probe that calls your
functions on a virtual clock, where `await asyncio.sleep(30)` costs no real
time, and reports what it saw (the result, the loop time it took) as plain
data. Locally the scenario runs right here, so your prints and breakpoints
work; when graded it runs in a process of its own, apart from the tests.
Results are compared by value and by type: where a list of labels is
expected, a list of `str` must come back.
"""
import pytest

from coursekit import hints
from coursekit.judge import unwrap
from coursekit.probes import kit, p01
from coursekit.testing import assert_same

STUDENT_MODULE = "why_async"


@pytest.mark.points(4)
def test_run_sync_blocks_once_per_job(student):
    """run_sync blocks with time.sleep once per job, in job order, and returns the labels."""
    seen = student.run(kit.call_sync, function="run_sync", args=[[("one", 0.5), ("two", 2), ("three", 0.25)]],
                       record_sleeps=True).value("run_sync")  # the naps are noted, not taken
    assert_same(unwrap(seen["outcome"], what="run_sync"), ["one", "two", "three"], what="run_sync's labels")
    assert seen["sleeps"] == [0.5, 2, 0.25], (
        f"expected time.sleep(0.5), time.sleep(2), time.sleep(0.25), one per job in order; saw {seen['sleeps']!r}"
    )


@pytest.mark.points(4)
def test_fetch_async_returns_label_after_delay(student):
    """fetch_async("a", 2) returns "a" after 2 s of loop time."""
    seen = student.run(kit.call_async, function="fetch_async", args=["a", 2], within=10).value("fetch_async")
    assert_same(unwrap(seen["outcome"], what="fetch_async('a', 2)"), "a", what="fetch_async('a', 2)")
    assert seen["took"] == 2, f"expected 2 s of loop time, took {seen['took']:g} s"


@pytest.mark.points(6)
def test_run_sequential_takes_sum_of_delays(student):
    """run_sequential waits for each job in turn: delays 1, 2, 3 take 6 s."""
    seen = student.run(kit.call_async, function="run_sequential", args=[[("a", 1), ("b", 2), ("c", 3)]],
                       within=60).value("run_sequential")
    assert_same(unwrap(seen["outcome"], what="run_sequential"), ["a", "b", "c"], what="run_sequential's labels")
    assert seen["took"] == 6, f"expected 6 s of loop time (1 + 2 + 3), took {seen['took']:g} s"


@pytest.mark.points(8)
def test_run_concurrent_takes_largest_delay(student):
    """run_concurrent runs all jobs at once: delays 2, 3, 1 take 3 s, labels in input order; no jobs give []."""
    seen = student.run(kit.call_async, function="run_concurrent", args=[[("x", 2), ("y", 3), ("z", 1)]],
                       within=60).value("run_concurrent")
    labels = unwrap(seen["outcome"], what="run_concurrent")
    assert_same(labels, ["x", "y", "z"], what="run_concurrent's labels (in the order of the jobs)")
    assert seen["took"] == 3, f"expected 3 s of loop time (the longest job), took {seen['took']:g} s. {hints.SEQUENTIAL}"
    nothing = student.run(kit.call_async, function="run_concurrent", args=[[]], within=10).value("run_concurrent([])")
    assert_same(unwrap(nothing["outcome"], what="run_concurrent([])"), [], what="run_concurrent([])")


@pytest.mark.points(4)
def test_timed_measures_loop_time(student):
    """timed(aw) returns a tuple: aw's result and the loop time it took."""
    seen = student.run(p01.timed_sleep, result="done", delay=5).value("timed")
    measured = unwrap(seen["outcome"], what="timed")
    assert isinstance(measured, tuple) and len(measured) == 2, f"expected a (result, elapsed) tuple, got {measured!r}"
    assert_same(measured[0], "done", what="the result timed passed on")
    assert_same(measured[1], 5.0, what="the elapsed loop time")


@pytest.mark.points(3)
def test_timed_lets_the_error_through(student):
    """When the awaited work fails, timed raises that very error instead of returning."""
    seen = student.run(p01.timed_failure, error="ConnectionResetError", message="peer went away",
                       after=2).value("timed(flaky())")
    outcome = seen["outcome"]
    if "value" in outcome:
        raise AssertionError(f"the work raised ConnectionResetError, but timed returned {outcome['value']!r}")
    assert seen["same_error"], f"timed should let the work's own error through, it raised {outcome.get('raised')!r}"
    assert seen["took"] == 2, f"the work failed after 2 s, timed gave up at {seen['took']:g} s"


@pytest.mark.points(4)
def test_speedup_ratio_and_instant_jobs(student):
    """speedup of delays 2 and 2 is 4 s / 2 s = 2.0; for jobs that take no time it is 1.0, not a ZeroDivisionError."""
    ratio = student.run(kit.call_async, function="speedup", args=[[("p", 2), ("q", 2)]], within=60).value("speedup")
    assert_same(unwrap(ratio["outcome"], what="speedup"), 2.0, what="speedup of two 2-second jobs (4 s / 2 s)")
    instant = student.run(kit.call_async, function="speedup", args=[[("now", 0)]], within=10).value("speedup")
    error = instant["outcome"].get("raised")
    if error is not None and error.is_a("ZeroDivisionError"):
        raise AssertionError(
            "speedup divided by a concurrent time of zero; return 1.0 when the concurrent run took no time"
        )
    assert_same(unwrap(instant["outcome"], what="speedup of an instant job"), 1.0,
                what="speedup when the concurrent run took no time")
