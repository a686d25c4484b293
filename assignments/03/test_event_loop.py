"""Public tests for assignment 03. Run them with `pytest assignments/03`.

The async tests run on a virtual clock: `await asyncio.sleep(30)` costs no
real time, and `looptime` is the loop's time in seconds since the test began.
Tests marked `looptime(False)` involve other threads and run on real time.
The runners (run_legacy, run_modern, run_all_on_one_loop) are called from
plain synchronous tests, as you would call them from a script.
"""
import asyncio
import threading

import pytest

import event_loop
from coursekit import hints
from coursekit.loops import current_loop, fresh_error, fresh_hint, run_fresh, sentinel_loop  # noqa: F401  (sentinel_loop: a fixture)
from coursekit.testing import assert_nothing_left_running, assert_same, tasks_now, within

NEW_LOOP_HINT = (
    "Create the loop yourself with asyncio.new_event_loop(), make it current with "
    "asyncio.set_event_loop(loop), and in a `finally:` shut down async generators, "
    "close the loop and call asyncio.set_event_loop(None). Do not ask asyncio.get_event_loop() "
    "for one: with no loop set it warns (DeprecationWarning) on Python 3.12 and 3.13 and fails on 3.14."
)


# --- run_legacy ----------------------------------------------------------------


@pytest.mark.points(5)
def test_run_legacy_returns_result_and_closes_its_loop(sentinel_loop):
    """run_legacy(coro_fn, *args) returns coro_fn(*args)'s result, run on a new loop it closes afterwards."""
    seen = []

    async def add(a, b):
        seen.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        return a + b

    result = event_loop.run_legacy(add, 2, 3)
    assert_same(result, 5, what="run_legacy(add, 2, 3)")
    assert seen, "run_legacy never ran the coroutine"
    used = seen[0]
    assert used is not sentinel_loop, (
        f"run_legacy ran the coroutine on the loop that was already current instead of a new one. {NEW_LOOP_HINT}"
    )
    assert used.is_closed(), f"run_legacy should close its loop when done; it is still open. {NEW_LOOP_HINT}"
    assert current_loop() is not used, (
        f"run_legacy left its closed loop set as the current loop: unset it with "
        f"asyncio.set_event_loop(None). {NEW_LOOP_HINT}"
    )


@pytest.mark.points(5)
def test_run_legacy_emits_no_deprecation_warning():
    """In a fresh Python with DeprecationWarning as an error, run_legacy works three times in a row."""
    proc = run_fresh(
        """
        async def double(x):
            await asyncio.sleep(0)
            return 2 * x

        results = [event_loop.run_legacy(double, i) for i in range(3)]
        assert results == [0, 2, 4], f"expected [0, 2, 4], got {results!r}"
        print("OK")
        """,
        event_loop,
    )
    error = fresh_error(proc)
    hint = fresh_hint(error, NEW_LOOP_HINT)
    assert proc.returncode == 0 and "OK" in proc.stdout, (
        "calling run_legacy three times in a fresh Python (DeprecationWarning turned into an error) "
        f"failed with: {error}. {hint}"
    )


# --- run_modern ----------------------------------------------------------------


@pytest.mark.points(5)
def test_run_modern_returns_result_and_honours_debug(sentinel_loop):
    """run_modern(coro_fn, *args, debug=True) returns the result, the loop runs in debug mode and ends closed."""
    loops = []

    async def probe(a, b):
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        return a * b, asyncio.get_running_loop().get_debug()

    result = event_loop.run_modern(probe, 6, 7, debug=True)
    assert isinstance(result, tuple) and len(result) == 2, f"run_modern(probe, 6, 7) should return probe's result, got {result!r}"
    assert_same(result[0], 42, what="the product run_modern(probe, 6, 7) computed")
    assert result[1] is True, (
        "with debug=True the coroutine should run with loop debug mode on (loop.get_debug() is True); "
        "it was off. asyncio.run accepts debug=..."
    )
    assert loops[0] is not sentinel_loop and loops[0].is_closed(), (
        "run_modern should run the coroutine on a loop of its own and leave that loop closed (asyncio.run does both)"
    )


# --- run_all_on_one_loop -------------------------------------------------------


@pytest.mark.points(5)
def test_run_all_on_one_loop_shares_one_loop(sentinel_loop):
    """run_all_on_one_loop runs every coro_fn on the same loop, returns their results in order, then closes it."""
    loops = []

    def make(i):
        async def job():
            loops.append(asyncio.get_running_loop())
            await asyncio.sleep(0)
            return i * 10

        return job

    results = event_loop.run_all_on_one_loop([make(i) for i in range(3)])
    assert_same(results, [0, 10, 20], what="run_all_on_one_loop's results (one per coro_fn, in order)")
    assert len(loops) == 3, f"expected each of the 3 coro_fns to run once, {len(loops)} ran"
    ids = [hex(id(loop)) for loop in loops]
    assert all(loop is loops[0] for loop in loops), (
        f"every coro_fn should run on the same loop, they ran on loops {ids}. "
        "asyncio.run() makes a new loop each time; one asyncio.Runner runs many coroutines on one loop."
    )
    assert loops[0].is_closed(), (
        "after the last coro_fn, the shared loop should be closed; it is still open. "
        "`with asyncio.Runner() as runner:` closes it when the block ends."
    )


# --- schedule ------------------------------------------------------------------


@pytest.mark.points(4)
async def test_schedule_fires_in_delay_order(looptime):
    """schedule({"c": 3, "a": 1, "b": 2}) returns ["a", "b", "c"] after 3 s of loop time."""
    fired = await within(event_loop.schedule({"c": 3, "a": 1, "b": 2}), 30, what="schedule")
    assert_same(fired, ["a", "b", "c"], what="the order the callbacks fired")
    assert float(looptime) == pytest.approx(3, abs=1e-3), (
        f"schedule should return as soon as the last callback (at 3 s) fired, returned at {float(looptime):g} s"
    )


@pytest.mark.points(3)
async def test_schedule_can_be_cancelled(looptime):
    """Cancelled at 2 s, before its last callback (due at 5 s), schedule ends cancelled and the loop stays clean."""
    loop = asyncio.get_running_loop()
    reported = []
    saved = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context.get("exception") or context["message"]))
    before = tasks_now()
    try:
        task = asyncio.create_task(event_loop.schedule({"early": 1, "late": 5}))
        await asyncio.sleep(2)
        task.cancel()
        try:
            outcome = await within(task, 10, what="the cancelled schedule")
        except asyncio.CancelledError:
            outcome = "cancelled"
        assert outcome == "cancelled" and task.cancelled(), (
            f"schedule was cancelled while waiting for its timers, but it ended with {outcome!r}. "
            f"{hints.SWALLOWED_CANCEL}"
        )
        await asyncio.sleep(10)  # past every delay: a timer left behind fires now
    finally:
        loop.set_exception_handler(saved)
    assert not reported, (
        f"after schedule was cancelled, a timer it left behind failed when it fired: {reported[0]!r}. "
        "Cancel your timers (handle.cancel()) when schedule is cancelled, or make their callbacks "
        "harmless once nobody waits for them."
    )
    assert_nothing_left_running(before, what="schedule, once cancelled,")


# --- run_blocking --------------------------------------------------------------


@pytest.mark.points(4)
@pytest.mark.looptime(False)
async def test_run_blocking_runs_fn_in_a_worker_thread():
    """run_blocking(fn, *args) returns fn(*args), computed in another thread than the loop's; fn's error comes through."""
    loop_thread = threading.get_ident()

    def power(base, exp):
        return base**exp, threading.get_ident()

    result = await within(event_loop.run_blocking(power, 2, 10), 5, what="run_blocking(power, 2, 10)")
    assert isinstance(result, tuple) and len(result) == 2, f"expected what power(2, 10) returned, got {result!r}"
    assert_same(result[0], 1024, what="power(2, 10) as returned by run_blocking")
    assert result[1] != loop_thread, f"fn ran in the event loop's own thread, not a worker thread. {hints.BLOCKING}"

    def refuse(path):
        raise PermissionError(f"no access to {path}")

    try:
        await within(event_loop.run_blocking(refuse, "/etc"), 5, what="run_blocking(refuse, '/etc')")
    except PermissionError as exc:
        assert str(exc) == "no access to /etc", f"expected fn's own PermissionError, got {exc!r}"
    else:
        raise AssertionError("fn raised PermissionError, but run_blocking returned instead of raising it")


# --- from_callback -------------------------------------------------------------


@pytest.mark.points(4)
async def test_from_callback_returns_the_value_given_to_the_callback(looptime):
    """from_callback(start) returns the value the callback gets 2 s later; with no call, TimeoutError at the timeout."""
    loop = asyncio.get_running_loop()
    starts = []

    def start(callback):
        starts.append(callback)
        loop.call_later(2, callback, "done")

    value = await within(event_loop.from_callback(start), 30, what="from_callback(start)")
    assert len(starts) == 1, f"start should be called exactly once, it was called {len(starts)} times"
    assert_same(value, "done", what="the value passed to the callback")
    assert looptime == 2, f"from_callback should return when the callback is called (2 s), returned at {float(looptime):g} s"

    silent = []
    try:
        got = await within(event_loop.from_callback(silent.append, timeout=4), 30, what="from_callback(timeout=4)")
    except TimeoutError:
        pass
    else:
        raise AssertionError(f"nobody called the callback within timeout=4, yet from_callback returned {got!r}")
    assert looptime == 6, (
        f"with timeout=4 and no callback, TimeoutError should come 4 s after the call (at 6 s), "
        f"it came at {float(looptime):g} s"
    )
