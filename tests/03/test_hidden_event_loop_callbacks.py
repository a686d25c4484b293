"""Hidden tests for assignment 03 (part 2): schedule, run_blocking, from_callback.

Tests with other threads run on real time (`looptime(False)`): on the virtual
clock a thread's callback never moves time, so every timeout would fire at once.
They only use short waits with wide margins.
"""
import asyncio
import threading

import pytest

import event_loop
from coursekit import hints
from coursekit.loops import sentinel_loop  # noqa: F401  (a fixture)
from coursekit.testing import assert_nothing_left_running, assert_same, same, tasks_now, within

THREADSAFE_HINT = (
    "A thread that is not the loop's may not touch a future directly: hand the value over with "
    "loop.call_soon_threadsafe(...), which also wakes the sleeping loop up."
)
ONCE_HINT = (
    "Only the first callback call counts: ignore later ones (check future.done() before "
    "future.set_result(...), on the loop's thread), or a second call raises InvalidStateError."
)


class LoopErrors:
    """Collect what the running loop reports to its exception handler during a test."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.seen: list[str] = []

    def __enter__(self) -> "LoopErrors":
        self.saved = self.loop.get_exception_handler()
        self.loop.set_exception_handler(self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.set_exception_handler(self.saved)

    def _record(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        error = context.get("exception")
        self.seen.append(f"{type(error).__name__}: {error}" if error else context.get("message", "?"))


# --- schedule ------------------------------------------------------------------


@pytest.mark.points(4)
async def test_schedule_equal_delays_fire_in_dict_order(looptime):
    """Twelve names with the same delay come back in the dict's order (the timer heap alone does not keep it)."""
    names = [f"n{i:02d}" for i in range(12)]
    fired = await within(event_loop.schedule({name: 1 for name in names}), 30, what="schedule")
    assert isinstance(fired, list) and sorted(fired) == names, (
        f"schedule should return a list of the twelve names, each once; got {fired!r}"
    )
    assert fired == names, (
        f"all delays are equal, so the names should come back in the dict's order {names!r}; got {fired!r}. "
        "asyncio keeps timers in a heap, which does not keep insertion order for timers due at the "
        "same moment: the callbacks ran in heap order. Put names with equal delays back in dict order, "
        "e.g. sort the fired names by (delay, position in the dict)."
    )
    assert float(looptime) == pytest.approx(1, abs=1e-3), (
        f"schedule should return after 1 s of loop time, returned at {float(looptime):g} s"
    )


@pytest.mark.points(3)
async def test_schedule_mixed_delays(looptime):
    """Thirty names with delays 0.5, 1 and 1.5 fire by delay, and in dict order within a delay."""
    delays = {f"job{i}": 0.5 * ((i * 7) % 3 + 1) for i in range(30)}
    expected = sorted(delays, key=delays.__getitem__)  # stable: dict order within a delay
    fired = await within(event_loop.schedule(delays), 30, what="schedule")
    assert same(fired, expected), (
        f"expected the names by delay, and in dict order among equal delays: {expected!r}; got {fired!r}"
    )
    assert float(looptime) == pytest.approx(1.5, abs=1e-3), (
        f"schedule should return when the last callback fired (1.5 s), returned at {float(looptime):g} s"
    )


@pytest.mark.points(2)
async def test_schedule_empty_and_zero_delays(looptime):
    """schedule({}) returns [] at once; zero delays fire in dict order; nothing is left running."""
    before = tasks_now()
    empty = await within(event_loop.schedule({}), 10, what="schedule({})")
    assert_same(empty, [], what="schedule({})")
    zero = await within(event_loop.schedule({"x": 0, "y": 0, "z": 0}), 10, what="schedule with zero delays")
    assert same(zero, ["x", "y", "z"]), (
        f"expected ['x', 'y', 'z'], got {zero!r}: schedule must return only once every callback has fired "
        "(even call_later(0, ...) fires on a later loop iteration, not at once)"
    )
    assert float(looptime) == pytest.approx(0, abs=1e-3), f"no loop time should pass, {float(looptime):g} s did"
    assert_nothing_left_running(before, what="schedule")


# --- run_blocking --------------------------------------------------------------


@pytest.mark.points(5)
@pytest.mark.looptime(False)
async def test_run_blocking_keeps_the_loop_responsive():
    """While fn blocks its thread (waiting on a threading.Event), other tasks on the loop keep running."""
    release = threading.Event()

    async def ticker():
        for _ in range(3):
            await asyncio.sleep(0.01)
        release.set()

    def wait_for_ticker():
        return release.wait(timeout=2)

    ticking = asyncio.create_task(ticker())
    try:
        released = await within(event_loop.run_blocking(wait_for_ticker), 5, what="run_blocking(fn)")
    finally:
        await ticking
    assert released is True, (
        "fn waited (up to 2 s) for a task on the loop to set a threading.Event, but the task never got to "
        "run while fn blocked: the loop was frozen. Run fn in a worker thread "
        f"(asyncio.to_thread or loop.run_in_executor). {hints.BLOCKING}"
    )


@pytest.mark.points(1)
@pytest.mark.looptime(False)
async def test_run_blocking_propagates_the_exception():
    """An exception raised by fn in its worker thread propagates out of run_blocking."""

    def broken(text):
        raise ValueError(f"bad input: {text}")

    try:
        await within(event_loop.run_blocking(broken, "x"), 5, what="run_blocking(broken, 'x')")
    except ValueError as exc:
        assert "bad input: x" in str(exc), f"expected fn's own ValueError('bad input: x'), got {exc!r}"
    else:
        raise AssertionError("fn raised ValueError, but run_blocking returned instead of letting it propagate")


# --- from_callback -------------------------------------------------------------


@pytest.mark.points(4)
@pytest.mark.looptime(False)
async def test_from_callback_from_another_thread(monkeypatch):
    """A callback called from another thread hands its value over thread-safely, and from_callback returns it."""
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    thread_errors = []
    timers = []
    foreign = []
    real_call_soon = loop.call_soon

    def watched_call_soon(callback, *args, **kwargs):
        # loop.call_soon_threadsafe does not come through here; a future
        # completed from another thread (future.set_result) does.
        if threading.get_ident() != loop_thread:
            foreign.append(getattr(callback, "__qualname__", repr(callback)))
        return real_call_soon(callback, *args, **kwargs)

    def start(callback):
        def call():
            try:
                callback("from a thread")
            except BaseException as exc:  # noqa: BLE001 - reported below
                thread_errors.append(exc)

        timer = threading.Timer(0.02, call)
        timers.append(timer)
        timer.start()

    try:
        with monkeypatch.context() as patch:
            patch.setattr(loop, "call_soon", watched_call_soon)
            value = await within(event_loop.from_callback(start), 4, what="from_callback(start)")
    finally:
        for timer in timers:
            await asyncio.to_thread(timer.join, 2)
    assert not thread_errors, f"calling the callback from another thread raised {thread_errors[0]!r}. {THREADSAFE_HINT}"
    assert not foreign, (
        "the callback, running in another thread, touched the loop directly (it scheduled "
        f"{foreign[0]} with loop.call_soon, e.g. through future.set_result): the loop may sleep on, "
        f"unaware of the value. {THREADSAFE_HINT}"
    )
    assert_same(value, "from a thread", what="the value from the other thread")


@pytest.mark.points(2)
@pytest.mark.looptime(False)
async def test_from_callback_ignores_a_second_call_from_another_thread():
    """A thread calling the callback twice: the first value is returned, the second call is ignored without errors."""
    loop = asyncio.get_running_loop()
    thread_errors = []
    done = threading.Event()

    def start(callback):
        def call():
            try:
                callback("first")
                callback("second")
            except BaseException as exc:  # noqa: BLE001 - reported below
                thread_errors.append(exc)
            finally:
                done.set()

        threading.Thread(target=call).start()

    with LoopErrors(loop) as errors:
        value = await within(event_loop.from_callback(start, timeout=2), 5, what="from_callback(start)")
        await asyncio.to_thread(done.wait, 2)
        for _ in range(3):
            await asyncio.sleep(0.01)  # let anything the second call scheduled run
    assert same(value, "first"), f"expected the first value, 'first', got {value!r}. {ONCE_HINT}"
    assert not thread_errors, f"the second callback call raised {thread_errors[0]!r} in its thread. {ONCE_HINT}"
    assert not errors.seen, f"the second callback call caused an error on the loop: {errors.seen[0]}. {ONCE_HINT}"


@pytest.mark.points(2)
async def test_from_callback_called_inside_start(looptime):
    """start may call the callback at once, even twice, on the loop's thread: the first value wins, no errors."""
    loop = asyncio.get_running_loop()

    def start(callback):
        callback("one")
        callback("two")

    with LoopErrors(loop) as errors:
        try:
            value = await within(event_loop.from_callback(start), 10, what="from_callback(start)")
        except asyncio.InvalidStateError as exc:
            raise AssertionError(f"calling the callback a second time raised {exc!r}. {ONCE_HINT}") from exc
        for _ in range(3):
            await asyncio.sleep(0)
    assert same(value, "one"), f"expected the first value, 'one', got {value!r}. {ONCE_HINT}"
    assert not errors.seen, f"the second callback call caused an error on the loop: {errors.seen[0]}. {ONCE_HINT}"
    assert looptime == 0, f"the value was there at once, yet {float(looptime):g} s of loop time passed"


@pytest.mark.points(2)
async def test_from_callback_times_out(looptime):
    """Not called within timeout=5: TimeoutError after exactly 5 s; called at 3 s with timeout=5: the value at 3 s."""
    loop = asyncio.get_running_loop()
    kept = []

    value = await within(
        event_loop.from_callback(lambda cb: loop.call_later(3, cb, "in time"), timeout=5), 60, what="from_callback"
    )
    assert same(value, "in time"), f"the callback came at 3 s, before the 5 s timeout; expected 'in time', got {value!r}"
    assert looptime == 3, f"from_callback should return as soon as the callback is called (3 s), returned at {float(looptime):g} s"

    try:
        await within(event_loop.from_callback(kept.append, timeout=5), 60, what="from_callback(never called)")
    except TimeoutError:
        pass
    else:
        raise AssertionError("the callback was never called, but from_callback did not raise TimeoutError")
    assert looptime == 8, (
        f"with timeout=5 the TimeoutError should come 5 s after the call (at 8 s), it came at {float(looptime):g} s"
    )


@pytest.mark.points(2)
async def test_from_callback_without_timeout_waits_as_long_as_needed(looptime):
    """With timeout=None, from_callback waits as long as it takes (here 1000 s) and calls start exactly once."""
    loop = asyncio.get_running_loop()
    starts = []

    def start(callback):
        starts.append(callback)
        loop.call_later(1000, callback, 42)

    value = await within(event_loop.from_callback(start, timeout=None), 5000, what="from_callback(start)")
    assert_same(value, 42, what="from_callback's value")
    assert looptime == 1000, f"expected the value at 1000 s of loop time, got it at {float(looptime):g} s"
    assert len(starts) == 1 and callable(starts[0]), (
        f"start should be called exactly once, with a callable; it was called {len(starts)} time(s)"
    )


@pytest.mark.points(2)
async def test_from_callback_ignores_a_call_after_the_timeout(looptime):
    """A callback that comes after the timeout is ignored: no error in the caller, none on the loop, later calls work."""
    loop = asyncio.get_running_loop()
    kept = []
    with LoopErrors(loop) as errors:
        try:
            got = await within(event_loop.from_callback(kept.append, timeout=2), 30, what="from_callback(timeout=2)")
        except TimeoutError:
            pass
        else:
            raise AssertionError(f"nobody called the callback within timeout=2, yet from_callback returned {got!r}")
        assert len(kept) == 1, f"start should be called exactly once, it was called {len(kept)} times"
        try:
            kept[0]("too late")
        except Exception as exc:  # noqa: BLE001 - the feedback
            raise AssertionError(
                f"calling the callback after the timeout raised {exc!r}: a late call must be ignored. {ONCE_HINT}"
            ) from exc
        for _ in range(3):
            await asyncio.sleep(0)  # let anything the late call scheduled run
        again = await within(
            event_loop.from_callback(lambda cb: loop.call_later(1, cb, "next")), 30, what="from_callback after a timeout"
        )
    assert not errors.seen, f"the callback called after the timeout caused an error on the loop: {errors.seen[0]}. {ONCE_HINT}"
    assert same(again, "next"), f"a later from_callback call should work as usual; expected 'next', got {again!r}"


@pytest.mark.points(1)
def test_from_callback_ignores_a_call_after_the_loop_closed(sentinel_loop):
    """A callback that comes once the loop is gone (timed out, asyncio.run returned) is ignored without an error."""
    kept = []

    async def wait_briefly():
        return await event_loop.from_callback(kept.append, timeout=0)

    try:
        got = asyncio.run(wait_briefly())
    except TimeoutError:
        pass
    else:
        raise AssertionError(f"nobody called the callback within timeout=0, yet from_callback returned {got!r}")
    assert len(kept) == 1, f"start should be called exactly once, it was called {len(kept)} times"
    try:
        kept[0]("after the loop closed")
    except Exception as exc:  # noqa: BLE001 - the feedback
        raise AssertionError(
            f"calling the callback after its loop had closed raised {exc!r}: the value has nobody to go to, so "
            "ignore it (loop.call_soon_threadsafe raises RuntimeError on a closed loop: catch that, or check "
            "loop.is_closed() first)."
        ) from exc
