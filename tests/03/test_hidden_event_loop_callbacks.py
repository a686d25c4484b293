"""Hidden tests for assignment 03 (part 2): schedule, run_blocking, from_callback.

Each test asks for a scenario of ``coursekit/probes/p03.py``. Scenarios with
other threads run on a real loop and real time: on the virtual clock a
thread's callback never moves time, so every timeout would fire at once. They
only use short waits with wide margins. Names, values, the equal delay and
the order of names are drawn per run from ``student.rng``; the expected
values are computed here.
"""
import pytest

from coursekit import hints
from coursekit.judge import raised, unwrap
from coursekit.probes import kit, p03
from coursekit.testing import assert_same, same

STUDENT_MODULE = "event_loop"
WORDS = ("alpha", "bravo", "delta", "echo", "kilo", "lima", "oscar", "romeo", "sierra", "tango", "zulu")

THREADSAFE_HINT = (
    "A thread that is not the loop's may not touch a future directly: hand the value over with "
    "loop.call_soon_threadsafe(...), which also wakes the sleeping loop up."
)
ONCE_HINT = (
    "Only the first callback call counts: ignore later ones (check future.done() before "
    "future.set_result(...), on the loop's thread), or a second call raises InvalidStateError."
)


def names(rng, count):
    """``count`` distinct names in a per-run order (not sorted, so sorting by name gives nothing away)."""
    chosen = [f"{rng.choice(WORDS)}{number}" for number in rng.sample(range(1000), count)]
    rng.shuffle(chosen)
    return chosen


def token(rng):
    """A per-run string value."""
    return f"{rng.choice(WORDS)}{rng.randrange(1000)}"


def schedule(student, delays, *, within, what="schedule"):
    """Await the student's schedule(delays): (its value, the loop time it took, tasks left running)."""
    obs = student.run(kit.call_async, function="schedule", args=[delays], within=within)
    seen = obs.value(what)
    return unwrap(seen["outcome"], what=what), seen["took"], obs.left_running


def timed_out(outcome, *, returned, what):
    """The call must have raised TimeoutError; a value fails with ``returned``, another error with its own message."""
    error = raised(outcome)
    if error is not None and error.is_a("TimeoutError"):
        return
    if "value" in outcome:
        raise AssertionError(returned.format(got=outcome["value"]))
    unwrap(outcome, what=what)


# --- schedule ------------------------------------------------------------------


@pytest.mark.points(4)
def test_schedule_equal_delays_fire_in_dict_order(student):
    """Twelve names with the same delay come back in the dict's order (the timer heap alone does not keep it)."""
    order = names(student.rng, 12)
    delay = student.rng.choice([0.5, 1, 1.5, 2, 3])
    fired, took, _ = schedule(student, {name: delay for name in order}, within=30)
    assert isinstance(fired, list) and sorted(fired) == sorted(order), (
        f"schedule should return a list of the twelve names, each once; got {fired!r}"
    )
    assert fired == order, (
        f"all delays are equal, so the names should come back in the dict's order {order!r}; got {fired!r}. "
        "asyncio keeps timers in a heap, which does not keep insertion order for timers due at the "
        "same moment: the callbacks ran in heap order. Put names with equal delays back in dict order, "
        "e.g. sort the fired names by (delay, position in the dict)."
    )
    assert took == pytest.approx(delay, abs=1e-3), (
        f"schedule should return after {delay:g} s of loop time, returned at {took:g} s"
    )


@pytest.mark.points(3)
def test_schedule_mixed_delays(student):
    """Thirty names with delays 0.5, 1 and 1.5 fire by delay, and in dict order within a delay."""
    order = names(student.rng, 30)
    choices = [0.5, 1, 1.5] * 10  # each delay used ten times, in a per-run order
    student.rng.shuffle(choices)
    delays = dict(zip(order, choices))
    expected = sorted(delays, key=delays.__getitem__)  # stable: dict order within a delay
    fired, took, _ = schedule(student, delays, within=30)
    assert same(fired, expected), (
        f"expected the names by delay, and in dict order among equal delays: {expected!r}; got {fired!r}"
    )
    assert took == pytest.approx(1.5, abs=1e-3), (
        f"schedule should return when the last callback fired (1.5 s), returned at {took:g} s"
    )


@pytest.mark.points(2)
def test_schedule_empty_and_zero_delays(student):
    """schedule({}) returns [] at once; zero delays fire in dict order; nothing is left running."""
    empty, took_empty, left_empty = schedule(student, {}, within=10, what="schedule({})")
    assert_same(empty, [], what="schedule({})")
    order = names(student.rng, 3)
    zero, took_zero, left_zero = schedule(student, {name: 0 for name in order}, within=10,
                                          what="schedule with zero delays")
    assert same(zero, order), (
        f"expected {order!r}, got {zero!r}: schedule must return only once every callback has fired "
        "(even call_later(0, ...) fires on a later loop iteration, not at once)"
    )
    took = max(took_empty, took_zero)
    assert took == pytest.approx(0, abs=1e-3), f"no loop time should pass, {took:g} s did"
    left = left_empty + left_zero
    assert not left, (
        f"schedule returned while {len(left)} task(s) it started were still running. {hints.LEFT_RUNNING}"
    )


# --- run_blocking --------------------------------------------------------------


@pytest.mark.points(5)
def test_run_blocking_keeps_the_loop_responsive(student):
    """While fn blocks its thread (waiting on a threading.Event), other tasks on the loop keep running."""
    ticks = student.rng.randint(2, 4)
    seen = student.run(p03.blocking_beside_ticker, ticks=ticks, tick=0.01, wait=2).value("run_blocking(fn)")
    released = unwrap(seen["outcome"], what="run_blocking(fn)")
    assert released is True, (
        "fn waited (up to 2 s) for a task on the loop to set a threading.Event, but the task never got to "
        "run while fn blocked: the loop was frozen. Run fn in a worker thread "
        f"(asyncio.to_thread or loop.run_in_executor). {hints.BLOCKING}"
    )


@pytest.mark.points(1)
def test_run_blocking_propagates_the_exception(student):
    """An exception raised by fn in its worker thread propagates out of run_blocking."""
    text = token(student.rng)
    seen = student.run(p03.blocking_calls, calls=[
        {"fn": {"kind": "raise", "error": "ValueError", "message": "bad input: {}"}, "args": [text]},
    ]).value("run_blocking")
    outcome = seen["calls"][0]["outcome"]
    error = raised(outcome)
    if error is None or not error.is_a("ValueError"):
        if "value" in outcome:
            raise AssertionError("fn raised ValueError, but run_blocking returned instead of letting it propagate")
        unwrap(outcome, what=f"run_blocking(broken, {text!r})")
    assert f"bad input: {text}" in error.message, (
        f"expected fn's own ValueError('bad input: {text}'), got {error!r}"
    )


# --- from_callback -------------------------------------------------------------


@pytest.mark.points(4)
def test_from_callback_from_another_thread(student):
    """A callback called from another thread hands its value over thread-safely, and from_callback returns it."""
    value = token(student.rng)
    seen = student.run(p03.from_callback_in_thread, values=[value], delay=0.02, watch=True).value("from_callback")
    assert not seen["thread_errors"], (
        f"calling the callback from another thread raised {seen['thread_errors'][0]!r}. {THREADSAFE_HINT}"
    )
    assert not seen["foreign"], (
        "the callback, running in another thread, touched the loop directly (it scheduled "
        f"{seen['foreign'][0]} with loop.call_soon, e.g. through future.set_result): the loop may sleep on, "
        f"unaware of the value. {THREADSAFE_HINT}"
    )
    assert_same(unwrap(seen["outcome"], what="from_callback(start)"), value, what="the value from the other thread")


@pytest.mark.points(2)
def test_from_callback_ignores_a_second_call_from_another_thread(student):
    """A thread calling the callback twice: the first value is returned, the second call is ignored without errors."""
    first, second = token(student.rng), token(student.rng)
    while second == first:
        second = token(student.rng)
    seen = student.run(p03.from_callback_in_thread, values=[first, second], timeout=2,
                       pass_timeout=True).value("from_callback")
    value = unwrap(seen["outcome"], what="from_callback(start)")
    assert same(value, first), f"expected the first value, {first!r}, got {value!r}. {ONCE_HINT}"
    assert not seen["thread_errors"], (
        f"the second callback call raised {seen['thread_errors'][0]!r} in its thread. {ONCE_HINT}"
    )
    assert not seen["loop_errors"], (
        f"the second callback call caused an error on the loop: {seen['loop_errors'][0]}. {ONCE_HINT}"
    )


@pytest.mark.points(2)
def test_from_callback_called_inside_start(student):
    """start may call the callback at once, even twice, on the loop's thread: the first value wins, no errors."""
    one, two = token(student.rng), token(student.rng)
    while two == one:
        two = token(student.rng)
    seen = student.run(p03.from_callback_calls,
                       calls=[{"answers": [[None, one], [None, two]], "within": 10}]).value("from_callback")
    outcome = seen["calls"][0]["outcome"]
    error = raised(outcome)
    if error is not None and error.is_a("InvalidStateError"):
        raise AssertionError(f"calling the callback a second time raised {error!r}. {ONCE_HINT}")
    value = unwrap(outcome, what="from_callback(start)")
    assert same(value, one), f"expected the first value, {one!r}, got {value!r}. {ONCE_HINT}"
    assert not seen["loop_errors"], (
        f"the second callback call caused an error on the loop: {seen['loop_errors'][0]}. {ONCE_HINT}"
    )
    at = seen["calls"][0]["at"]
    assert at == pytest.approx(0, abs=1e-3), f"the value was there at once, yet {at:g} s of loop time passed"


@pytest.mark.points(2)
def test_from_callback_times_out(student):
    """Not called within timeout=5: TimeoutError after exactly 5 s; called at 3 s with timeout=5: the value at 3 s."""
    value = token(student.rng)
    seen = student.run(p03.from_callback_calls, calls=[
        {"answers": [[3, value]], "timeout": 5, "within": 60},
        {"answers": [], "timeout": 5, "within": 60},
    ]).value("from_callback")
    in_time, never = seen["calls"]
    got = unwrap(in_time["outcome"], what="from_callback")
    assert same(got, value), (
        f"the callback came at 3 s, before the 5 s timeout; expected {value!r}, got {got!r}"
    )
    assert in_time["at"] == pytest.approx(3, abs=1e-3), (
        f"from_callback should return as soon as the callback is called (3 s), returned at {in_time['at']:g} s"
    )
    timed_out(never["outcome"], returned="the callback was never called, but from_callback did not raise TimeoutError",
              what="from_callback(never called)")
    assert never["at"] == pytest.approx(8, abs=1e-3), (
        f"with timeout=5 the TimeoutError should come 5 s after the call (at 8 s), it came at {never['at']:g} s"
    )


@pytest.mark.points(2)
def test_from_callback_without_timeout_waits_as_long_as_needed(student):
    """With timeout=None, from_callback waits as long as it takes (here 1000 s) and calls start exactly once."""
    value = student.rng.randrange(1, 10_000)
    seen = student.run(p03.from_callback_calls,
                       calls=[{"answers": [[1000, value]], "timeout": None, "within": 5000}]).value("from_callback")
    call = seen["calls"][0]
    assert_same(unwrap(call["outcome"], what="from_callback(start)"), value, what="from_callback's value")
    assert call["at"] == pytest.approx(1000, abs=1e-3), (
        f"expected the value at 1000 s of loop time, got it at {call['at']:g} s"
    )
    assert call["starts"] == 1 and call["callable"], (
        f"start should be called exactly once, with a callable; it was called {call['starts']} time(s)"
    )


@pytest.mark.points(2)
def test_from_callback_ignores_a_call_after_the_timeout(student):
    """A callback that comes after the timeout is ignored: no error in the caller, none on the loop, later calls work."""
    timeout, delay = student.rng.randint(1, 5), student.rng.randint(1, 3)
    late, following = token(student.rng), token(student.rng)
    seen = student.run(p03.from_callback_calls, calls=[
        {"answers": [], "timeout": timeout, "late": [late], "within": 30},
        {"answers": [[delay, following]], "within": 30},
    ]).value("from_callback")
    expired, again = seen["calls"]
    timed_out(expired["outcome"],
              returned=f"nobody called the callback within timeout={timeout}, yet from_callback returned {{got!r}}",
              what=f"from_callback(timeout={timeout})")
    assert expired["starts"] == 1, f"start should be called exactly once, it was called {expired['starts']} times"
    error = raised(expired["late"][0])
    if error is not None:
        raise AssertionError(
            f"calling the callback after the timeout raised {error!r}: a late call must be ignored. {ONCE_HINT}"
        )
    got = unwrap(again["outcome"], what="from_callback after a timeout")
    assert not seen["loop_errors"], (
        f"the callback called after the timeout caused an error on the loop: {seen['loop_errors'][0]}. {ONCE_HINT}"
    )
    assert same(got, following), (
        f"a later from_callback call should work as usual; expected {following!r}, got {got!r}"
    )


@pytest.mark.points(1)
def test_from_callback_ignores_a_call_after_the_loop_closed(student):
    """A callback that comes once the loop is gone (timed out, asyncio.run returned) is ignored without an error."""
    seen = student.run(p03.from_callback_after_loop_closed, timeout=0,
                       late=[token(student.rng)]).value("from_callback")
    timed_out(seen["outcome"],
              returned="nobody called the callback within timeout=0, yet from_callback returned {got!r}",
              what="asyncio.run(from_callback(start, timeout=0))")
    assert seen["starts"] == 1, f"start should be called exactly once, it was called {seen['starts']} times"
    error = raised(seen["late"][0])
    if error is not None:
        raise AssertionError(
            f"calling the callback after its loop had closed raised {error!r}: the value has nobody to go to, so "
            "ignore it (loop.call_soon_threadsafe raises RuntimeError on a closed loop: catch that, or check "
            "loop.is_closed() first)."
        )
