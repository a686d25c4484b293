"""Hidden tests for assignment 02 (part 2): the async generator countdown and the Stopwatch context manager."""
import asyncio

import pytest

import coroutines
from coursekit import hints
from coursekit.iterators import async_iterator
from coursekit.testing import assert_nothing_left_running, same, tasks_now, within


async def collect(agen, *, pause=0.0):
    """Drain an async iterator; (value, loop time) per value, sleeping ``pause`` after each one."""
    seen = []
    async for value in async_iterator(agen, what="countdown"):
        seen.append((value, asyncio.get_running_loop().time()))
        if pause:
            await asyncio.sleep(pause)
    return seen


# --- countdown -------------------------------------------------------------


@pytest.mark.points(2)
async def test_countdown_yields_nothing_for_non_positive_n(looptime):
    """countdown(0, 5) and countdown(-3, 5) yield nothing and wait for nothing; countdown(1, 5) yields 1."""
    for n in (0, -3):
        seen = await within(collect(coroutines.countdown(n, 5)), 30, what=f"countdown({n}, 5)")
        assert seen == [], f"countdown({n}, 5) should yield nothing, it yielded {[v for v, _ in seen]!r}"
    assert looptime == 0, f"with nothing to yield there is nothing to wait for, yet {float(looptime):g} s passed"
    seen = await within(collect(coroutines.countdown(1, 5)), 30, what="countdown(1, 5)")
    assert seen == [(1, pytest.approx(5))], f"countdown(1, 5) should yield 1 at 5 s, got (value, time) {seen!r}"


@pytest.mark.points(1)
async def test_countdown_default_delay_is_instant(looptime):
    """countdown(4) (default delay 0) yields 4, 3, 2, 1 without loop time passing."""
    seen = await within(collect(coroutines.countdown(4)), 10, what="countdown(4)")
    assert same([v for v, _ in seen], [4, 3, 2, 1]), f"expected 4, 3, 2, 1, got {[v for v, _ in seen]!r}"
    assert looptime == 0, f"with the default delay no loop time should pass, {float(looptime):g} s did"


@pytest.mark.points(2)
async def test_countdown_waits_only_when_asked(looptime):
    """countdown waits `delay` after each request for a value: with a slow reader, 1 s after each request."""
    seen = await within(collect(coroutines.countdown(3, 1), pause=3), 30, what="a slow reader of countdown(3, 1)")
    assert same([v for v, _ in seen], [3, 2, 1]), f"expected 3, 2, 1, got {[v for v, _ in seen]!r}"
    times = [t for _, t in seen]
    assert times == pytest.approx([1, 5, 9]), (
        "the reader spends 3 s on each value, so the values should come at 1, 5 and 9 s "
        f"(a 1 s wait after each request), they came at {times!r}. An async generator "
        "should do its waiting between the reader's requests, not ahead of time in the background."
    )


@pytest.mark.points(3)
async def test_countdown_stops_cleanly_when_closed_early(looptime):
    """A reader may stop after two values: aclose() ends countdown at once, leaving nothing running."""
    before = tasks_now()
    gen = async_iterator(coroutines.countdown(5, 1), what="countdown(5, 1)")
    first = await within(anext(gen), 10, what="the first value of countdown(5, 1)")
    second = await within(anext(gen), 10, what="the second value of countdown(5, 1)")
    assert same((first, second), (5, 4)), f"expected 5 then 4, got {first!r} then {second!r}"
    await within(gen.aclose(), 10, what="aclose() of countdown")
    assert looptime == 2, f"two values at 1 s each, then aclose(): expected 2 s, took {float(looptime):g} s"
    assert_nothing_left_running(before, what="countdown, closed after two values,")
    with pytest.raises(StopAsyncIteration):
        await within(anext(gen), 10, what="a value after aclose()")

    async def break_early():
        async for value in async_iterator(coroutines.countdown(10, 1), what="countdown(10, 1)"):
            if value == 8:
                return value
        return None

    stopped_at = await within(break_early(), 30, what="breaking out of async for over countdown(10, 1)")
    assert same(stopped_at, 8), f"the reader breaks out at the value 8, it got {stopped_at!r}"
    assert looptime == 5, f"three more values at 1 s each: expected 5 s in all, took {float(looptime):g} s"
    await asyncio.sleep(20)
    assert_nothing_left_running(before, what="countdown, left after a break,")


# --- Stopwatch -------------------------------------------------------------


@pytest.mark.points(2)
async def test_stopwatch_elapsed_is_none_until_the_block_ends(looptime):
    """sw.elapsed is None before and inside the block, and the block's loop time after it; the same for a second block."""
    sw = coroutines.Stopwatch()
    assert sw.elapsed is None, f"a new Stopwatch should have elapsed None, it has {sw.elapsed!r}"
    async with sw as bound:
        assert bound is sw, f"`async with sw as bound` should bind sw itself, bound {bound!r}"
        await asyncio.sleep(1)
        inside = sw.elapsed
    assert inside is None, f"inside the block sw.elapsed should still be None, it was {inside!r}"
    assert same(sw.elapsed, 1.0), f"after a 1 s block sw.elapsed should be 1, it is {sw.elapsed!r}"
    async with sw:
        await asyncio.sleep(2)
        inside_again = sw.elapsed
    assert inside_again is None, (
        f"used for a second block, the stopwatch should read None again until that block ends; inside it "
        f"sw.elapsed was {inside_again!r} (the first block's time). Reset elapsed in __aenter__."
    )
    assert same(sw.elapsed, 2.0), f"after a second block of 2 s sw.elapsed should be 2, it is {sw.elapsed!r}"


@pytest.mark.points(3)
async def test_stopwatch_measures_when_block_raises(looptime):
    """When the block raises, the exception propagates unchanged and sw.elapsed is still set."""
    boom = LookupError("boom")
    sw = coroutines.Stopwatch()
    try:
        async with sw:
            await asyncio.sleep(2)
            raise boom
    except LookupError as exc:
        assert exc is boom, f"the block's own exception should propagate, got {exc!r}"
    else:
        raise AssertionError(
            "the block raised LookupError but `async with Stopwatch()` swallowed it: "
            "__aexit__ must return None/False, not True"
        )
    assert same(sw.elapsed, 2.0), (
        f"the block ran 2 s before raising, sw.elapsed is {sw.elapsed!r}. "
        "Record the time in __aexit__ whatever exc_type is."
    )


@pytest.mark.points(2)
async def test_stopwatch_starts_timing_at_enter(looptime):
    """Timing starts when the block is entered, not when the Stopwatch is made; an empty block takes 0."""
    sw = coroutines.Stopwatch()
    await asyncio.sleep(5)
    async with sw:
        await asyncio.sleep(2)
    assert same(sw.elapsed, 2.0), (
        f"made at 0 s, block from 5 s to 7 s: sw.elapsed should be 2, it is {sw.elapsed!r}. "
        "Read the loop clock in __aenter__."
    )
    async with coroutines.Stopwatch() as empty:
        pass
    assert same(empty.elapsed, 0.0), f"an empty block takes 0 s, elapsed is {empty.elapsed!r}"


@pytest.mark.points(2)
async def test_stopwatch_instances_are_independent(looptime):
    """Stopwatches used at once (concurrently or nested) each measure their own block."""

    async def timed(start, length):
        await asyncio.sleep(start)
        async with coroutines.Stopwatch() as sw:
            await asyncio.sleep(length)
        return sw.elapsed

    got = await within(asyncio.gather(timed(0, 4), timed(1, 1), timed(2, 5)), 30, what="three Stopwatches at once")
    assert same(got, [4.0, 1.0, 5.0]), (
        f"three overlapping blocks of 4, 1 and 5 s should measure [4, 1, 5], got {got!r}. "
        "Keep the start time on the instance (self), not on the class or in a global, "
        "and read it from the loop clock (asyncio.get_running_loop().time())."
    )
    async with coroutines.Stopwatch() as outer:
        await asyncio.sleep(1)
        async with coroutines.Stopwatch() as inner:
            await asyncio.sleep(2)
    assert same((outer.elapsed, inner.elapsed), (3.0, 2.0)), (
        f"nested blocks of 3 s (outer) and 2 s (inner) measured {outer.elapsed!r} and {inner.elapsed!r}"
    )


@pytest.mark.points(1)
async def test_stopwatch_lets_cancellation_through(looptime):
    """A block cancelled after 3 s is still cancelled (not swallowed) and sw.elapsed is 3."""
    sw = coroutines.Stopwatch()

    async def long_block():
        async with sw:
            await asyncio.sleep(10)
        return "finished"

    task = asyncio.create_task(long_block())
    await asyncio.sleep(3)
    task.cancel()
    try:
        outcome = await within(task, 10, what="the cancelled Stopwatch block")
    except asyncio.CancelledError:
        outcome = "cancelled"
    assert outcome == "cancelled" and task.cancelled(), (
        f"the cancelled block should end cancelled, it ended with {outcome!r}. {hints.SWALLOWED_CANCEL}"
    )
    assert same(sw.elapsed, 3.0), f"the block ran 3 s before it was cancelled, sw.elapsed is {sw.elapsed!r}"
