"""Public tests for assignment 03. Run them with `pytest assignments/03`.

Each test asks for a *scenario* (`coursekit/probes/p03.py`): a probe that
calls your functions and reports what it saw as plain data. Locally the
scenario runs right here, so your prints and breakpoints work; when graded it
runs in a process of its own, apart from the tests.

The runners (run_legacy, run_modern, run_all_on_one_loop) are called from a
plain function with no loop running, as you would call them from a script,
after a loop of the scenario's own was set as the current loop. The scenario
names each loop it sees by a number: 0 is that loop, 1, 2... the others.
`schedule` and `from_callback` run on a virtual clock: `await asyncio.sleep(30)`
costs no real time. `run_blocking` involves another thread, so its scenario
runs on real time.
"""
import pytest

from coursekit import hints
from coursekit.judge import raised, unwrap
from coursekit.loops import fresh_hint
from coursekit.probes import kit, p03
from coursekit.testing import assert_same

STUDENT_MODULE = "event_loop"
PRESET = 0  # the scenario's own loop, current when a runner is called

NEW_LOOP_HINT = (
    "Create the loop yourself with asyncio.new_event_loop(), make it current with "
    "asyncio.set_event_loop(loop), and in a `finally:` shut down async generators, "
    "close the loop and call asyncio.set_event_loop(None). Do not ask asyncio.get_event_loop() "
    "for one: with no loop set it warns (DeprecationWarning) on Python 3.12 and 3.13 and fails on 3.14."
)


# --- run_legacy ----------------------------------------------------------------


@pytest.mark.points(5)
def test_run_legacy_returns_result_and_closes_its_loop(student):
    """run_legacy(coro_fn, *args) returns coro_fn(*args)'s result, run on a new loop it closes afterwards."""
    seen = student.run(p03.run_coroutines, function="run_legacy",
                       calls=[{"job": {"kind": "sum"}, "args": [2, 3]}]).value("run_legacy")
    after = seen["calls"][0]
    assert_same(unwrap(after["outcome"], what="run_legacy(add, 2, 3)"), 5, what="run_legacy(add, 2, 3)")
    assert seen["runs"], "run_legacy never ran the coroutine"
    used = seen["runs"][0]["loop"]
    assert used != PRESET, (
        f"run_legacy ran the coroutine on the loop that was already current instead of a new one. {NEW_LOOP_HINT}"
    )
    assert after["closed"][used], f"run_legacy should close its loop when done; it is still open. {NEW_LOOP_HINT}"
    assert after["current"] != used, (
        f"run_legacy left its closed loop set as the current loop: unset it with "
        f"asyncio.set_event_loop(None). {NEW_LOOP_HINT}"
    )


@pytest.mark.points(5)
def test_run_legacy_emits_no_deprecation_warning(student):
    """In a fresh Python with DeprecationWarning as an error, run_legacy works three times in a row."""
    seen = p03.fresh_legacy_runs(student, calls=[{"double": i} for i in range(3)])
    error = seen["failed"]
    if error is None:
        for outcome in seen["outcomes"]:
            if "raised" in outcome:
                error = outcome["raised"][1]
                break
        else:
            results = [outcome["returned"][1] for outcome in seen["outcomes"]]
            if [outcome["returned"] for outcome in seen["outcomes"]] != [["int", "0"], ["int", "2"], ["int", "4"]]:
                error = f"expected [0, 2, 4], got [{', '.join(results)}]"
    hint = fresh_hint(error or "", NEW_LOOP_HINT)
    assert error is None, (
        "calling run_legacy three times in a fresh Python (DeprecationWarning turned into an error) "
        f"failed with: {error}. {hint}"
    )


# --- run_modern ----------------------------------------------------------------


@pytest.mark.points(5)
def test_run_modern_returns_result_and_honours_debug(student):
    """run_modern(coro_fn, *args, debug=True) returns the result, the loop runs in debug mode and ends closed."""
    seen = student.run(p03.run_coroutines, function="run_modern",
                       calls=[{"job": {"kind": "product", "with_debug": True}, "args": [6, 7],
                               "kwargs": {"debug": True}}]).value("run_modern")
    after = seen["calls"][0]
    result = unwrap(after["outcome"], what="run_modern(probe, 6, 7, debug=True)")
    assert isinstance(result, tuple) and len(result) == 2, (
        f"run_modern(probe, 6, 7) should return probe's result, got {result!r}"
    )
    assert_same(result[0], 42, what="the product run_modern(probe, 6, 7) computed")
    assert result[1] is True, (
        "with debug=True the coroutine should run with loop debug mode on (loop.get_debug() is True); "
        "it was off. asyncio.run accepts debug=..."
    )
    used = seen["runs"][0]["loop"]
    assert used != PRESET and after["closed"][used], (
        "run_modern should run the coroutine on a loop of its own and leave that loop closed (asyncio.run does both)"
    )


# --- run_all_on_one_loop -------------------------------------------------------


@pytest.mark.points(5)
def test_run_all_on_one_loop_shares_one_loop(student):
    """run_all_on_one_loop runs every coro_fn on the same loop, returns their results in order, then closes it."""
    seen = student.run(p03.run_on_one_loop,
                       jobs=[{"kind": "value", "value": i * 10} for i in range(3)]).value("run_all_on_one_loop")
    after = seen["call"]
    results = unwrap(after["outcome"], what="run_all_on_one_loop")
    assert_same(results, [0, 10, 20], what="run_all_on_one_loop's results (one per coro_fn, in order)")
    loops = [run["loop"] for run in seen["runs"]]
    assert len(loops) == 3, f"expected each of the 3 coro_fns to run once, {len(loops)} ran"
    assert all(loop == loops[0] for loop in loops), (
        f"every coro_fn should run on the same loop, they ran on loops {loops}. "
        "asyncio.run() makes a new loop each time; one asyncio.Runner runs many coroutines on one loop."
    )
    assert after["closed"][loops[0]], (
        "after the last coro_fn, the shared loop should be closed; it is still open. "
        "`with asyncio.Runner() as runner:` closes it when the block ends."
    )


# --- schedule ------------------------------------------------------------------


@pytest.mark.points(4)
def test_schedule_fires_in_delay_order(student):
    """schedule({"c": 3, "a": 1, "b": 2}) returns ["a", "b", "c"] after 3 s of loop time."""
    seen = student.run(kit.call_async, function="schedule", args=[{"c": 3, "a": 1, "b": 2}],
                       within=30).value("schedule")
    fired = unwrap(seen["outcome"], what="schedule")
    assert_same(fired, ["a", "b", "c"], what="the order the callbacks fired")
    assert seen["took"] == pytest.approx(3, abs=1e-3), (
        f"schedule should return as soon as the last callback (at 3 s) fired, returned at {seen['took']:g} s"
    )


@pytest.mark.points(3)
def test_schedule_can_be_cancelled(student):
    """Cancelled at 2 s, before its last callback (due at 5 s), schedule ends cancelled and the loop stays clean."""
    obs = student.run(p03.schedule_cancelled, delays={"early": 1, "late": 5}, cancel_at=2, settle=10)
    seen = obs.value("the cancelled schedule")
    error = raised(seen["outcome"])
    if error is not None and error.is_a("CancelledError"):
        outcome = "cancelled"
    else:
        outcome = unwrap(seen["outcome"], what="the cancelled schedule")  # a value, else the failure it is
    assert outcome == "cancelled" and seen["cancelled"], (
        f"schedule was cancelled while waiting for its timers, but it ended with {outcome!r}. "
        f"{hints.SWALLOWED_CANCEL}"
    )
    assert not seen["reported"], (
        f"after schedule was cancelled, a timer it left behind failed when it fired: {seen['reported'][0]!r}. "
        "Cancel your timers (handle.cancel()) when schedule is cancelled, or make their callbacks "
        "harmless once nobody waits for them."
    )
    assert not obs.left_running, (
        f"schedule, once cancelled, returned while {len(obs.left_running)} task(s) it started were still running. "
        f"{hints.LEFT_RUNNING}"
    )


# --- run_blocking --------------------------------------------------------------


@pytest.mark.points(4)
def test_run_blocking_runs_fn_in_a_worker_thread(student):
    """run_blocking(fn, *args) returns fn(*args), computed in another thread than the loop's; fn's error comes through."""
    seen = student.run(p03.blocking_calls, calls=[
        {"fn": {"kind": "power"}, "args": [2, 10]},
        {"fn": {"kind": "raise", "error": "PermissionError", "message": "no access to {}"}, "args": ["/etc"]},
    ]).value("run_blocking")
    power, refuse = seen["calls"]
    result = unwrap(power["outcome"], what="run_blocking(power, 2, 10)")
    assert_same(result, 1024, what="power(2, 10) as returned by run_blocking")
    assert True not in power["in_loop_thread"], (
        f"fn ran in the event loop's own thread, not a worker thread. {hints.BLOCKING}"
    )

    error = raised(refuse["outcome"])
    if error is None or not error.is_a("PermissionError"):
        if "value" in refuse["outcome"]:
            raise AssertionError("fn raised PermissionError, but run_blocking returned instead of raising it")
        unwrap(refuse["outcome"], what="run_blocking(refuse, '/etc')")
    assert error.message == "no access to /etc", f"expected fn's own PermissionError, got {error!r}"


# --- from_callback -------------------------------------------------------------


@pytest.mark.points(4)
def test_from_callback_returns_the_value_given_to_the_callback(student):
    """from_callback(start) returns the value the callback gets 2 s later; with no call, TimeoutError at the timeout."""
    seen = student.run(p03.from_callback_calls, calls=[
        {"answers": [[2, "done"]], "within": 30},
        {"answers": [], "timeout": 4, "within": 30},
    ]).value("from_callback")
    answered, silent = seen["calls"]
    value = unwrap(answered["outcome"], what="from_callback(start)")
    assert answered["starts"] == 1, f"start should be called exactly once, it was called {answered['starts']} times"
    assert_same(value, "done", what="the value passed to the callback")
    assert answered["at"] == pytest.approx(2, abs=1e-3), (
        f"from_callback should return when the callback is called (2 s), returned at {answered['at']:g} s"
    )

    error = raised(silent["outcome"])
    if error is None or not error.is_a("TimeoutError"):
        if "value" in silent["outcome"]:
            got = silent["outcome"]["value"]
            raise AssertionError(f"nobody called the callback within timeout=4, yet from_callback returned {got!r}")
        unwrap(silent["outcome"], what="from_callback(timeout=4)")
    assert silent["at"] == pytest.approx(6, abs=1e-3), (
        f"with timeout=4 and no callback, TimeoutError should come 4 s after the call (at 6 s), "
        f"it came at {silent['at']:g} s"
    )
