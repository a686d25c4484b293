"""Hidden tests for assignment 01: every clause of the contract and the usual mistakes.

Labels and delays are drawn per run from ``student.rng`` where the contract
leaves them free; the expected values are computed here, on the judge's side.
"""
import pytest

from coursekit import hints
from coursekit.judge import StudentRaised, raised, unwrap
from coursekit.probes import kit, p01
from coursekit.testing import assert_same, same

STUDENT_MODULE = "why_async"
WORDS = ("alpha", "bravo", "delta", "echo", "kilo", "lima", "oscar", "romeo", "sierra", "tango", "zulu")


def labels(rng, count):
    """``count`` distinct labels, in a per-run order."""
    return [f"{word}{rng.randrange(100)}" for word in rng.sample(WORDS, count)]


def call(student, function, *args, within=60, what=None):
    """Await the student's ``function(*args)``: (its value, the loop time it took)."""
    what = what or function
    seen = student.run(kit.call_async, function=function, args=list(args), within=within).value(what)
    return unwrap(seen["outcome"], what=what), seen["took"]


def blocking(student, function, *args):
    """Call the student's synchronous ``function(*args)`` with time.sleep recorded: (value, sleeps)."""
    seen = student.run(kit.call_sync, function=function, args=list(args), record_sleeps=True).value(function)
    return unwrap(seen["outcome"], what=function), seen["sleeps"]


@pytest.mark.points(5)
def test_fetch_sync_blocks_with_time_sleep(student):
    """fetch_sync("x", 1.5) calls time.sleep(1.5) and returns "x"."""
    label, delay = labels(student.rng, 1)[0], student.rng.choice([0.5, 1.5, 2.25])
    value, sleeps = blocking(student, "fetch_sync", label, delay)
    assert_same(value, label, what=f"fetch_sync({label!r}, {delay})")
    assert sleeps == [delay], f"expected one time.sleep({delay}) call, saw {sleeps!r}"


@pytest.mark.points(5)
def test_run_sync_runs_jobs_in_order(student):
    """run_sync calls fetch_sync for each job in order and returns the labels."""
    names = labels(student.rng, 4)
    delays = [student.rng.randint(1, 5) for _ in names]
    value, sleeps = blocking(student, "run_sync", list(zip(names, delays)))
    assert_same(value, names, what="run_sync's labels")
    assert sleeps == delays, f"expected time.sleep with {delays!r} in that order, saw {sleeps!r}"


@pytest.mark.points(2)
def test_run_sync_empty(student):
    """run_sync([]) returns [] without sleeping."""
    value, sleeps = blocking(student, "run_sync", [])
    assert_same(value, [], what="run_sync([])")
    assert sleeps == [], f"run_sync([]) should not sleep, saw {sleeps!r}"


@pytest.mark.points(5)
def test_fetch_async_lets_other_tasks_run(student):
    """While fetch_async waits, other tasks keep running (it must not block the loop)."""
    delay = student.rng.randint(3, 6)
    seen = student.run(p01.fetch_beside_ticker, label="slow", delay=delay, ticks=delay).value("fetch_async")
    assert_same(unwrap(seen["outcome"], what=f"fetch_async('slow', {delay})"), "slow",
                what=f"fetch_async('slow', {delay})")
    expected = [float(t) for t in range(1, delay + 1)]
    assert seen["ticks"] == pytest.approx(expected), (
        f"another task should tick at {expected!r} s while fetch_async waits; ticked at {seen['ticks']!r}. "
        f"{hints.BLOCKING}"
    )


@pytest.mark.points(3)
def test_fetch_async_zero_delay(student):
    """fetch_async with delay 0 returns at once."""
    value, took = call(student, "fetch_async", "now", 0, within=10, what="fetch_async('now', 0)")
    assert_same(value, "now", what="fetch_async('now', 0)")
    assert took == 0, f"expected no loop time to pass, {took:g} s did"


@pytest.mark.points(6)
def test_run_sequential_starts_each_job_after_the_previous(student):
    """run_sequential runs jobs one after another: a short job after a long one still waits for it."""
    slow, fast = student.rng.randint(4, 9), student.rng.randint(1, 3)
    value, took = call(student, "run_sequential", [("slow", slow), ("fast", fast)])
    assert_same(value, ["slow", "fast"], what="run_sequential's labels")
    assert took == slow + fast, (
        f"expected {slow + fast} s ({slow} then {fast}), took {took:g} s: the jobs must not overlap"
    )


@pytest.mark.points(3)
def test_run_sequential_empty(student):
    """run_sequential([]) returns []."""
    value, _ = call(student, "run_sequential", [], within=10, what="run_sequential([])")
    assert_same(value, [], what="run_sequential([])")


@pytest.mark.points(8)
def test_run_concurrent_keeps_input_order(student):
    """run_concurrent returns results in input order, not in the order jobs finished."""
    names = labels(student.rng, 4)
    delays = student.rng.sample(range(1, 9), 4)  # distinct, so the finishing order differs from the input order
    while delays == sorted(delays):
        student.rng.shuffle(delays)
    value, took = call(student, "run_concurrent", list(zip(names, delays)))
    assert same(value, names), (
        f"expected {names!r} (input order), got {value!r}. "
        "as_completed yields in finishing order; gather and TaskGroup keep your order."
    )
    assert took == max(delays), f"expected {max(delays)} s (the longest job), took {took:g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(4)
def test_run_concurrent_many_jobs(student):
    """run_concurrent with 100 one-second jobs takes 1 s, not 100 s."""
    count = student.rng.randint(80, 120)
    names = [f"job{i}" for i in range(count)]
    value, took = call(student, "run_concurrent", [(name, 1) for name in names], within=200)
    assert same(value, names), f"expected a list of all {count} labels in input order"
    assert took == 1, f"expected 1 s of loop time, took {took:g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(3)
def test_run_concurrent_empty(student):
    """run_concurrent([]) returns []."""
    value, _ = call(student, "run_concurrent", [], within=10, what="run_concurrent([])")
    assert_same(value, [], what="run_concurrent([])")


@pytest.mark.points(4)
def test_timed_accepts_a_task(student):
    """timed works with any awaitable, a Task included."""
    result, delay = student.rng.randint(1, 1000), student.rng.randint(1, 5)
    seen = student.run(p01.timed_sleep, result=result, delay=delay, as_task=True).value("timed(task)")
    assert_same(unwrap(seen["outcome"], what="timed(task)"), (result, float(delay)),
                what="timed(task) as (result, elapsed)")


@pytest.mark.points(6)
def test_timed_propagates_exceptions(student):
    """An exception raised by the awaited work propagates out of timed unchanged."""
    message = f"boom{student.rng.randrange(1000)}"
    seen = student.run(p01.timed_failure, error="KeyError", message=message, after=1).value("timed(failing())")
    error = raised(seen["outcome"])
    if error is None:
        raise AssertionError(f"the work raised KeyError({message!r}); timed returned {seen['outcome'].get('value')!r}")
    if not error.is_a("KeyError"):
        raise StudentRaised("timed(failing())", error)
    assert message in error.message, f"expected the work's KeyError({message!r}) itself, got {error!r}"


@pytest.mark.points(6)
def test_speedup_is_sequential_over_concurrent(student):
    """speedup([1, 2, 3]) is 6 / 3 = 2.0."""
    value, took = call(student, "speedup", [("a", 1), ("b", 2), ("c", 3)])
    assert_same(value, 2.0, what="speedup (6 s / 3 s)")
    assert 6 <= took <= 9, (
        f"speedup should really run both versions: 6 s for the sequential run (plus 3 s for the concurrent one "
        f"unless both are timed at once), but it took {took:g} s of loop time"
    )


@pytest.mark.points(4)
def test_speedup_many_equal_jobs(student):
    """speedup of ten 1-second jobs is 10.0."""
    count = student.rng.randint(5, 12)
    value, _ = call(student, "speedup", [(str(i), 1) for i in range(count)])
    assert_same(value, float(count), what=f"speedup ({count} s / 1 s)")


@pytest.mark.points(3)
def test_speedup_of_instant_jobs_is_one(student):
    """speedup returns 1.0 when the concurrent run takes no time (no division by zero)."""
    value, _ = call(student, "speedup", [("a", 0), ("b", 0)], within=10)
    assert_same(value, 1.0, what="speedup of instant jobs")
    value, _ = call(student, "speedup", [], within=10, what="speedup([])")
    assert_same(value, 1.0, what="speedup([])")
