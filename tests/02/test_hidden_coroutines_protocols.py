"""Hidden tests for assignment 02 (part 2): the async generator countdown and the Stopwatch context manager.

Counts, delays, block lengths and error types are drawn per run from
``student.rng`` where the contract leaves them free; the expected values are
computed here. The scenarios (``coursekit/probes/p02.py``) read the student's
generator and time the student's blocks on the virtual clock.
"""
import pytest

from coursekit import hints
from coursekit.judge import raised, unwrap
from coursekit.probes import p02
from coursekit.testing import same

STUDENT_MODULE = "coroutines"


def countdown(student, what, **params):
    """Read the student's countdown with ``p02.read_countdown``: its report, after the reading itself succeeded."""
    seen = student.run(p02.read_countdown, **params).value(what)
    unwrap(seen["outcome"], what=what)
    return seen


def values(seen):
    return [value for value, _ in seen["seen"]]


def left_running(seen, *, what):
    assert not seen["left"], (
        f"{what} returned while {len(seen['left'])} task(s) it started were still running "
        f"({', '.join(seen['left'])}). {hints.LEFT_RUNNING}"
    )


# --- countdown -------------------------------------------------------------


@pytest.mark.points(2)
def test_countdown_yields_nothing_for_non_positive_n(student):
    """countdown(0, 5) and countdown(-3, 5) yield nothing and wait for nothing; countdown(1, 5) yields 1."""
    rng = student.rng
    delay = rng.randint(2, 6)
    for n in (0, -rng.randint(1, 5)):
        seen = countdown(student, f"countdown({n}, {delay})", n=n, delay=delay)
        assert seen["seen"] == [], f"countdown({n}, {delay}) should yield nothing, it yielded {values(seen)!r}"
        assert seen["stopped_at"] == 0, (
            f"with nothing to yield there is nothing to wait for, yet {seen['stopped_at']:g} s passed"
        )
    seen = countdown(student, f"countdown(1, {delay})", n=1, delay=delay)
    assert seen["seen"] == [[1, pytest.approx(delay)]], (
        f"countdown(1, {delay}) should yield 1 at {delay} s, got (value, time) {seen['seen']!r}"
    )


@pytest.mark.points(1)
def test_countdown_default_delay_is_instant(student):
    """countdown(4) (default delay 0) yields 4, 3, 2, 1 without loop time passing."""
    n = student.rng.randint(3, 7)
    seen = countdown(student, f"countdown({n})", n=n)
    expected = list(range(n, 0, -1))
    assert same(values(seen), expected), f"expected {', '.join(map(str, expected))}, got {values(seen)!r}"
    assert seen["stopped_at"] == 0, f"with the default delay no loop time should pass, {seen['stopped_at']:g} s did"


@pytest.mark.points(2)
def test_countdown_waits_only_when_asked(student):
    """countdown waits `delay` after each request for a value: with a slow reader, 1 s after each request."""
    rng = student.rng
    n, delay = rng.randint(3, 4), rng.randint(1, 2)
    pause = delay + rng.randint(1, 3)
    seen = countdown(student, f"a slow reader of countdown({n}, {delay})", n=n, delay=delay, pause=pause)
    expected = list(range(n, 0, -1))
    assert same(values(seen), expected), f"expected {', '.join(map(str, expected))}, got {values(seen)!r}"
    times = [t for _, t in seen["seen"]]
    due = [delay + i * (pause + delay) for i in range(n)]
    assert times == pytest.approx(due), (
        f"the reader spends {pause} s on each value, so the values should come at "
        f"{', '.join(map(str, due))} s (a {delay} s wait after each request), they came at {times!r}. An async "
        "generator should do its waiting between the reader's requests, not ahead of time in the background."
    )


@pytest.mark.points(3)
def test_countdown_stops_cleanly_when_closed_early(student):
    """A reader may stop after two values: aclose() ends countdown at once, leaving nothing running."""
    rng = student.rng
    n, delay = rng.randint(4, 7), rng.randint(1, 2)
    seen = countdown(student, f"countdown({n}, {delay})", n=n, delay=delay, stop_after=2, how="aclose")
    assert same(values(seen), [n, n - 1]), f"expected {n} then {n - 1}, got {values(seen)!r}"
    assert seen["stopped_at"] == 2 * delay, (
        f"two values at {delay} s each, then aclose(): expected {2 * delay} s, took {seen['stopped_at']:g} s"
    )
    left_running(seen, what="countdown, closed after two values,")
    if seen["after_close"] != "stopped":
        after = unwrap(seen["after_close"], what="a value after aclose()")
        raise AssertionError(f"after aclose(), asking for a value should raise StopAsyncIteration, it gave {after!r}")

    n = rng.randint(8, 12)
    stop = n - 2
    seen = countdown(student, f"breaking out of async for over countdown({n}, {delay})", n=n, delay=delay,
                     stop_after=3, how="return", settle=20)
    assert same(values(seen)[-1:], [stop]), f"the reader breaks out at the value {stop}, it got {values(seen)!r}"
    assert seen["stopped_at"] == 3 * delay, (
        f"three values at {delay} s each: expected {3 * delay} s, took {seen['stopped_at']:g} s"
    )
    left_running(seen, what="countdown, left after a break,")


# --- Stopwatch -------------------------------------------------------------


def stopwatch(student, *uses, what="async with Stopwatch()"):
    """The uses' reports of ``p02.stopwatch_uses``, after ``Stopwatch()`` itself worked."""
    seen = student.run(p02.stopwatch_uses, uses=list(uses)).value(what)
    unwrap(seen["made"], what="Stopwatch()")
    return seen


def finished(use, *, what):
    """The block ran to its end (the stub's NotImplementedError, or any error, is reported)."""
    unwrap(use["outcome"], what=what)


def elapsed(use, *, what="sw.elapsed"):
    return unwrap(use["elapsed"], what=what)


@pytest.mark.points(2)
def test_stopwatch_elapsed_is_none_until_the_block_ends(student):
    """sw.elapsed is None before and inside the block, and the block's loop time after it; the same for a second block."""
    first, second = student.rng.sample([1, 2, 3, 4, 5], 2)
    seen = stopwatch(student, {"length": first}, {"length": second})
    initial = unwrap(seen["initial"], what="Stopwatch().elapsed")
    assert initial is None, f"a new Stopwatch should have elapsed None, it has {initial!r}"
    one, two = seen["uses"]
    finished(one, what="async with sw")
    assert one["bound_is_self"], f"`async with sw as bound` should bind sw itself, bound {one['bound']!r}"
    inside = unwrap(one["inside"], what="sw.elapsed inside the block")
    assert inside is None, f"inside the block sw.elapsed should still be None, it was {inside!r}"
    assert same(elapsed(one), float(first)), (
        f"after a {first} s block sw.elapsed should be {first}, it is {elapsed(one)!r}"
    )
    finished(two, what="a second async with sw")
    inside_again = unwrap(two["inside"], what="sw.elapsed inside the second block")
    assert inside_again is None, (
        f"used for a second block, the stopwatch should read None again until that block ends; inside it "
        f"sw.elapsed was {inside_again!r} (the first block's time). Reset elapsed in __aenter__."
    )
    assert same(elapsed(two), float(second)), (
        f"after a second block of {second} s sw.elapsed should be {second}, it is {elapsed(two)!r}"
    )


@pytest.mark.points(3)
def test_stopwatch_measures_when_block_raises(student):
    """When the block raises, the exception propagates unchanged and sw.elapsed is still set."""
    rng = student.rng
    kind = rng.choice(["LookupError", "KeyError", "IndexError", "ValueError", "OSError"])
    length = rng.randint(1, 5)
    (use,) = stopwatch(student, {"length": length, "error": kind, "message": "boom"})["uses"]
    error = raised(use["outcome"])
    if error is None:
        raise AssertionError(
            f"the block raised {kind} but `async with Stopwatch()` swallowed it: "
            "__aexit__ must return None/False, not True"
        )
    if not use["same_error"]:
        if error.is_a("NotImplementedError"):
            unwrap(use["outcome"], what="async with Stopwatch()")
        raise AssertionError(f"the block's own exception should propagate, got {error!r}")
    assert same(elapsed(use), float(length)), (
        f"the block ran {length} s before raising, sw.elapsed is {elapsed(use)!r}. "
        "Record the time in __aexit__ whatever exc_type is."
    )


@pytest.mark.points(2)
def test_stopwatch_starts_timing_at_enter(student):
    """Timing starts when the block is entered, not when the Stopwatch is made; an empty block takes 0."""
    rng = student.rng
    wait, length = rng.randint(2, 6), rng.randint(1, 4)
    late, empty = stopwatch(student, {"wait": wait, "length": length}, {"instance": "bound", "length": 0})["uses"]
    finished(late, what="async with sw")
    assert same(elapsed(late), float(length)), (
        f"made at 0 s, block from {wait} s to {wait + length} s: sw.elapsed should be {length}, "
        f"it is {elapsed(late)!r}. Read the loop clock in __aenter__."
    )
    finished(empty, what="async with Stopwatch() as empty")
    assert same(elapsed(empty, what="empty.elapsed"), 0.0), (
        f"an empty block takes 0 s, elapsed is {elapsed(empty, what='empty.elapsed')!r}"
    )


@pytest.mark.points(2)
def test_stopwatch_instances_are_independent(student):
    """Stopwatches used at once (concurrently or nested) each measure their own block."""
    rng = student.rng
    second_start = rng.randint(1, 2)
    third_start = second_start + rng.randint(1, 2)
    blocks = [[0, third_start + rng.randint(1, 3)], [second_start, rng.randint(1, 3)], [third_start, rng.randint(1, 6)]]
    seen = student.run(p02.stopwatch_overlapping, blocks=blocks).value("three Stopwatches at once")
    got = unwrap(seen["outcome"], what="three Stopwatches at once")
    lengths = [float(length) for _, length in blocks]
    assert same(got, lengths), (
        f"three overlapping blocks of {', '.join(f'{x:g}' for x in lengths)} s should measure "
        f"{[int(x) for x in lengths]}, got {got!r}. "
        "Keep the start time on the instance (self), not on the class or in a global, "
        "and read it from the loop clock (asyncio.get_running_loop().time())."
    )
    before, inner = rng.randint(1, 3), rng.randint(1, 3)
    seen = student.run(p02.stopwatch_nested, before=before, inner=inner).value("nested Stopwatches")
    outer_elapsed, inner_elapsed = unwrap(seen["outcome"], what="nested Stopwatches")
    assert same((outer_elapsed, inner_elapsed), (float(before + inner), float(inner))), (
        f"nested blocks of {before + inner} s (outer) and {inner} s (inner) measured {outer_elapsed!r} and "
        f"{inner_elapsed!r}"
    )


@pytest.mark.points(1)
def test_stopwatch_lets_cancellation_through(student):
    """A block cancelled after 3 s is still cancelled (not swallowed) and sw.elapsed is 3."""
    rng = student.rng
    cancel_after = rng.randint(1, 5)
    (use,) = stopwatch(student, {"length": cancel_after + rng.randint(3, 8), "cancel_after": cancel_after},
                       what="the cancelled Stopwatch block")["uses"]
    error = raised(use["outcome"])
    if error is not None and error.is_a("NotImplementedError"):
        unwrap(use["outcome"], what="the cancelled Stopwatch block")
    ended = "cancelled" if error is not None and error.is_a("CancelledError") else (
        use["outcome"].get("value") if error is None else error)
    assert ended == "cancelled" and use["cancelled"], (
        f"the cancelled block should end cancelled, it ended with {ended!r}. {hints.SWALLOWED_CANCEL}"
    )
    assert same(elapsed(use), float(cancel_after)), (
        f"the block ran {cancel_after} s before it was cancelled, sw.elapsed is {elapsed(use)!r}"
    )
