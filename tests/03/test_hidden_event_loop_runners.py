"""Hidden tests for assignment 03 (part 1): run_legacy, run_modern, run_all_on_one_loop.

The runners are called from plain synchronous scenarios (``coursekit/probes/p03.py``),
as from a script. Each scenario sets a loop of its own as the thread's current
loop first, so what the code under test does to the current loop can be seen
(it is undone afterwards); loops are reported by label, 0 being that loop.
Values, names and the failing coroutine's error are drawn per run from
``student.rng``; the expected values are computed here.
"""
import pytest

from coursekit.judge import error_message, raised, unwrap
from coursekit.loops import fresh_hint
from coursekit.probes import p03
from coursekit.testing import assert_same, same

STUDENT_MODULE = "event_loop"
PRESET = 0  # the scenario's own loop, current when a runner is called
WORDS = ("alpha", "bravo", "delta", "echo", "kilo", "lima", "oscar", "romeo", "sierra", "tango", "zulu")

NEW_LOOP_HINT = (
    "Create the loop yourself with asyncio.new_event_loop(), make it current with "
    "asyncio.set_event_loop(loop), and in a `finally:` shut down async generators "
    "(loop.run_until_complete(loop.shutdown_asyncgens())), close the loop and call "
    "asyncio.set_event_loop(None)."
)
RUNNER_HINT = (
    "`with asyncio.Runner() as runner:` runs many coroutines on one loop "
    "(runner.run(coro) for each) and closes it when the block ends, even on an exception."
)


def token(rng):
    """A per-run string value."""
    return f"{rng.choice(WORDS)}{rng.randrange(1000)}"


def legacy(outcome, what="run_legacy"):
    """The value of a run_legacy call, turning the usual loop-reuse RuntimeErrors into feedback."""
    error = raised(outcome)
    if error is not None and error.is_a("RuntimeError") and not error.is_a("NotImplementedError"):
        if "loop" in error.message:
            raise AssertionError(f"run_legacy failed with RuntimeError: {error.message}. {NEW_LOOP_HINT}")
    return unwrap(outcome, what=what)


def expect_boom(outcome, message, what="run_legacy"):
    """The call must have let the coroutine's Boom through; its other errors fail with their own message."""
    error = raised(outcome)
    if error is not None and error.is_a("Boom"):
        return
    if error is not None:
        raise AssertionError(error_message(what, error))
    if "value" in outcome:
        raise AssertionError(message)
    unwrap(outcome, what=what)


def runs(student, *calls, trap_runners=False, function="run_legacy"):
    """Run ``function`` once per call (``{"job": ..., "args": ...}``) in one scenario; what it saw."""
    return student.run(p03.run_coroutines, function=function, calls=list(calls),
                       trap_runners=trap_runners).value(function)


# --- run_legacy ----------------------------------------------------------------


@pytest.mark.points(3)
def test_run_legacy_makes_a_new_loop_current(student):
    """While the coroutine runs, run_legacy's new loop is the thread's current loop (set_event_loop)."""
    value = token(student.rng)
    seen = runs(student, {"job": {"kind": "value", "value": value}})
    assert_same(legacy(seen["calls"][0]["outcome"], "run_legacy(probe)"), value,
                what="run_legacy(probe), the coroutine's result,")
    run = seen["runs"][0]
    assert run["loop"] != PRESET, (
        f"run_legacy reused the loop that was already current instead of creating a new one. {NEW_LOOP_HINT}"
    )
    assert run["current_is_running"], (
        "while the coroutine ran, the current loop (what asyncio.get_event_loop() gives to code outside "
        f"coroutines) was not the running one: make the new loop current. {NEW_LOOP_HINT}"
    )


@pytest.mark.points(3)
def test_run_legacy_unsets_the_current_loop(student):
    """After run_legacy returns, its closed loop is no longer the thread's current loop."""
    seen = runs(student, {"job": {"kind": "value", "value": token(student.rng)}})
    after = seen["calls"][0]
    legacy(after["outcome"], "run_legacy(which)")
    assert seen["runs"], "run_legacy never ran the coroutine"
    used = seen["runs"][0]["loop"]
    assert after["current"] != used, (
        "run_legacy left its closed loop set as the current loop, so later code calling "
        f"asyncio.get_event_loop() gets a dead loop. Call asyncio.set_event_loop(None). {NEW_LOOP_HINT}"
    )
    assert after["current"] is None or not after["current_closed"], (
        f"after run_legacy the current loop is a closed loop. {NEW_LOOP_HINT}"
    )


@pytest.mark.points(5)
def test_run_legacy_cleans_up_when_the_coroutine_raises(student):
    """When the coroutine raises, the exception propagates, the loop is closed and unset, and run_legacy still works after."""
    again = token(student.rng)
    seen = runs(student, {"job": {"kind": "fail", "message": token(student.rng)}},
                {"job": {"kind": "first"}, "args": [again]})
    failed, second = seen["calls"]
    expect_boom(failed["outcome"], "the coroutine raised Boom, but run_legacy returned instead of letting it propagate",
                what="run_legacy(failing)")
    used = seen["runs"][0]["loop"]
    assert failed["closed"][used], (
        f"after the coroutine raised, run_legacy left its loop open: close it in a `finally:`. {NEW_LOOP_HINT}"
    )
    assert failed["current"] != used, (
        f"after the coroutine raised, run_legacy left its closed loop set as current. {NEW_LOOP_HINT}"
    )
    value = legacy(second["outcome"], f"run_legacy(ok, {again!r})")
    assert same(value, again), f"run_legacy should work again after a failed call, got {value!r}"


@pytest.mark.points(4)
def test_run_legacy_shuts_down_async_generators(student):
    """run_legacy shuts down async generators left suspended, so their `finally` blocks run."""
    first, second = student.rng.sample(range(1, 100), 2)
    seen = runs(student, {"job": {"kind": "agen", "values": [first, second]}})
    after = seen["calls"][0]
    assert_same(legacy(after["outcome"], "run_legacy(take_first)"), first, what="run_legacy(take_first)")
    assert after["finalized"] == [0], (
        "an async generator was left suspended, and its `finally` block did not run by the time "
        "run_legacy returned: run loop.shutdown_asyncgens() on the loop before closing it."
    )


@pytest.mark.points(2)
def test_run_legacy_shuts_down_async_generators_after_an_error(student):
    """Even when the coroutine raises, run_legacy shuts down async generators left suspended."""
    seen = runs(student, {"job": {"kind": "agen", "values": student.rng.sample(range(1, 100), 2), "then_fail": True,
                                  "message": token(student.rng)}})
    after = seen["calls"][0]
    expect_boom(after["outcome"], "the coroutine raised Boom, but run_legacy did not let it propagate",
                what="run_legacy(take_first_then_fail)")
    assert after["finalized"] == [0], (
        "after the coroutine raised, an async generator's `finally` block did not run: shut down "
        "async generators in a `finally:` around run_until_complete."
    )


@pytest.mark.points(2)
def test_run_legacy_many_times_in_a_row(student):
    """Five run_legacy calls in a row each use a new loop, and each loop ends closed."""
    values = student.rng.sample(range(1000), 5)
    seen = runs(student, *({"job": {"kind": "first"}, "args": [value]} for value in values))
    results = [legacy(after["outcome"], f"run_legacy(which, {value})") for after, value in zip(seen["calls"], values)]
    assert same(results, values), f"expected {values!r}, got {results!r}"
    loops = [run["loop"] for run in seen["runs"]]
    assert len(set(loops)) == 5, (
        f"five calls should use five new loops; they used {len(set(loops))}. {NEW_LOOP_HINT}"
    )
    closed = seen["calls"][-1]["closed"]
    assert all(closed[loop] for loop in loops), f"every call should close its loop. {NEW_LOOP_HINT}"


@pytest.mark.points(3)
def test_run_legacy_does_not_use_asyncio_run_or_runner(student):
    """run_legacy writes the loop flow out itself: no asyncio.run, no asyncio.Runner."""
    value = token(student.rng)
    seen = runs(student, {"job": {"kind": "first"}, "args": [value]}, trap_runners=True)
    used = seen["trapped"]
    assert not used, (
        f"run_legacy used {' and '.join(sorted(set(used)))}; this function is about the explicit flow: "
        f"new_event_loop, set_event_loop, run_until_complete, shutdown_asyncgens, close. {NEW_LOOP_HINT}"
    )
    assert_same(unwrap(seen["calls"][0]["outcome"], what=f"run_legacy(ok, {value!r})"), value,
                what=f"run_legacy(ok, {value!r})")


@pytest.mark.points(2)
def test_run_legacy_no_deprecation_warning_after_an_error(student):
    """In a fresh Python (DeprecationWarning as error), run_legacy recovers after a failing coroutine and unsets its loop."""
    name = student.rng.choice(["KeyError", "ValueError", "LookupError"])
    x = student.rng.randrange(1, 500)
    seen = p03.fresh_legacy_runs(student, calls=[{"error": [name, token(student.rng)]}, {"double": x}])
    error = seen["failed"]
    if error is None:
        failing, double = seen["outcomes"]
        if "raised" not in failing:
            error = f"run_legacy did not let the coroutine's {name} propagate"
        elif failing["raised"][0] != name:
            error = failing["raised"][1]
        elif "raised" in double:
            error = double["raised"][1]
        elif double["returned"] != ["int", repr(2 * x)]:
            error = f"AssertionError: run_legacy(double, {x}) should return {2 * x}"
        elif seen["left"] == "closed":
            error = "AssertionError: a closed loop was left set as the current loop"
    hint = fresh_hint(error or "", NEW_LOOP_HINT)
    assert error is None, (
        "in a fresh Python (DeprecationWarning turned into an error), a failing run_legacy call followed by "
        f"a good one failed with: {error}. {hint}"
    )


# --- run_modern ----------------------------------------------------------------


@pytest.mark.points(2)
def test_run_modern_uses_a_fresh_loop_and_propagates_errors(student):
    """run_modern runs each call on a new loop that ends closed, and lets the coroutine's exception through."""
    value = token(student.rng)
    seen = runs(student, {"job": {"kind": "value", "value": value}}, {"job": {"kind": "fail", "steps": 1}},
                function="run_modern")
    fine, failed = seen["calls"]
    assert_same(unwrap(fine["outcome"], what="run_modern(which)"), value, what="run_modern(which)")
    expect_boom(failed["outcome"], "the coroutine raised Boom, but run_modern did not let it propagate",
                what="run_modern(failing)")
    loops = [run["loop"] for run in seen["runs"]]
    assert len(loops) == 2, f"expected both coroutines to run once each, {len(loops)} ran"
    assert loops[0] != loops[1] and PRESET not in loops, (
        "run_modern should run each call on a fresh loop (asyncio.run does), not reuse one"
    )
    assert all(failed["closed"][loop] for loop in loops), (
        "run_modern should leave its loop closed, also after an exception"
    )


@pytest.mark.points(1)
def test_run_modern_debug_is_off_by_default(student):
    """run_modern(coro_fn, *args) without debug runs with loop debug mode off."""
    value = token(student.rng)
    seen = runs(student, {"job": {"kind": "first", "with_debug": True}, "args": [value]}, function="run_modern")
    result = unwrap(seen["calls"][0]["outcome"], what=f"run_modern(probe, {value!r})")
    assert same(result, (value, False)), (
        f"expected ({value!r}, False): the result, debug mode off by default; got {result!r}"
    )


# --- run_all_on_one_loop -------------------------------------------------------


def on_one_loop(student, jobs):
    """run_all_on_one_loop of one probe coroutine function per job: what the scenario saw."""
    return student.run(p03.run_on_one_loop, jobs=jobs).value("run_all_on_one_loop")


@pytest.mark.points(2)
def test_run_all_on_one_loop_closes_the_loop(student):
    """run_all_on_one_loop closes its loop when every coro_fn has run."""
    count = student.rng.randint(2, 4)
    seen = on_one_loop(student, [{"kind": "count"}] * count)
    results = unwrap(seen["call"]["outcome"], what="run_all_on_one_loop([which, ...])")
    assert_same(results, list(range(1, count + 1)), what=f"run_all_on_one_loop([which] * {count})")
    used = seen["runs"][0]["loop"]
    assert used != PRESET, "run_all_on_one_loop should make its own loop, not reuse the current one"
    assert seen["call"]["closed"][used], f"run_all_on_one_loop left its loop open. {RUNNER_HINT}"


@pytest.mark.points(2)
def test_run_all_on_one_loop_runs_one_after_another(student):
    """Each coro_fn starts only after the previous one finished, and a task one of them starts is still there for the next."""
    a, b = student.rng.sample(WORDS, 2)
    started, background = token(student.rng), token(student.rng)
    seen = on_one_loop(student, [
        {"kind": "value", "value": a, "steps": 3},
        {"kind": "value", "value": b, "steps": 3},
        {"kind": "start_background", "value": background, "started": started, "steps": 0},
        {"kind": "await_background", "steps": 0},
    ])
    outcome = seen["call"]["outcome"]
    error = raised(outcome)
    if error is not None and error.is_a("CancelledError", "RuntimeError") and not error.is_a("NotImplementedError"):
        raise AssertionError(
            f"a coro_fn awaiting a task that the previous coro_fn started failed with {error.name}: "
            f"{error.message}. On one shared loop that task would still be there. {RUNNER_HINT}"
        )
    results = unwrap(outcome, what="run_all_on_one_loop")
    names = {0: a, 1: b}
    log = [f"{names[index]} {event}" for event, index in seen["log"] if index in names]
    assert log == [f"{a} start", f"{a} end", f"{b} start", f"{b} end"], (
        f"coro_fns should run in turn, each after the previous one ended; saw {log!r}"
    )
    expected = [a, b, started, background]
    assert same(results, expected), (
        f"expected {expected!r}: on one loop, a task started by one coro_fn can be "
        f"awaited by the next; got {results!r}. {RUNNER_HINT}"
    )


@pytest.mark.points(3)
def test_run_all_on_one_loop_closes_the_loop_when_one_raises(student):
    """When a coro_fn raises, run_all_on_one_loop lets the exception through and still closes its loop."""
    seen = on_one_loop(student, [{"kind": "value", "value": "fine", "steps": 1},
                                 {"kind": "fail", "message": token(student.rng)},
                                 {"kind": "value", "value": "fine", "steps": 1}])
    expect_boom(seen["call"]["outcome"],
                "the second coro_fn raised Boom, but run_all_on_one_loop did not let it propagate",
                what="run_all_on_one_loop([fine, failing, fine])")
    loops = [run["loop"] for run in seen["runs"]]
    assert len(loops) >= 2, f"expected at least the first two coro_fns to run, {len(loops)} ran"
    assert loops[0] == loops[1], f"the coro_fns should all run on the same loop. {RUNNER_HINT}"
    assert seen["call"]["closed"][loops[0]], f"after a coro_fn raised, the loop was left open. {RUNNER_HINT}"


@pytest.mark.points(1)
def test_run_all_on_one_loop_empty(student):
    """run_all_on_one_loop([]) returns []."""
    seen = on_one_loop(student, [])
    assert_same(unwrap(seen["call"]["outcome"], what="run_all_on_one_loop([])"), [], what="run_all_on_one_loop([])")
