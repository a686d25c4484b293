"""Hidden tests for assignment 05, part 2: worker, collect_loop_errors, find_slow_steps.

The queues, loops, loggers and work are built in the student process by the scenarios of
coursekit/probes/p05.py; delays, items, error classes, messages and settings are drawn per run from
``student.rng`` and the expected values are computed here. find_slow_steps runs on a loop with the real clock.
"""
import pytest

from coursekit import hints
from coursekit.judge import raised, unwrap
from coursekit.probes import p05
from coursekit.testing import assert_same

STUDENT_MODULE = "errors"


def approx(value):
    return pytest.approx(value, abs=1e-6)


def tenths(rng, low, high):
    """A delay in [low, high] s, in tenths of a second."""
    return rng.randint(round(low * 10), round(high * 10)) / 10


# --- worker -----------------------------------------------------------------


@pytest.mark.points(2)
def test_worker_calls_task_done_after_handling(student):
    """The worker handles items one at a time, in queue order, and calls task_done only when handle(item) has finished."""
    rng = student.rng
    delays = rng.sample(range(1, 10), rng.randint(3, 5))
    seen = student.run(p05.worker_run, items=[{"item": d, "delay": d} for d in delays]).value("worker")
    drained = p05.drained_at(seen, what="worker")
    total = sum(delays)
    assert drained == approx(total), (
        f"queue.join() should finish when the last handle() has finished ({' + '.join(map(str, delays))} = {total} s), "
        f"it finished at {drained:g} s: call task_done() after `await handle(item)`, one item at a time"
    )
    assert seen["handled"] == delays, f"expected the items handled in queue order {delays!r}, got {seen['handled']!r}"
    assert seen["running_after_drain"], "the worker should keep waiting for more items after the queue is drained"


@pytest.mark.points(3)
def test_worker_cancelled_while_idle_awaits_cleanup_once(student):
    """A worker cancelled while it waits for items awaits cleanup() exactly once, then ends cancelled."""
    rng = student.rng
    cleanup = tenths(rng, 0.5, 3)
    seen = student.run(p05.worker_run, items=[{"item": "item", "delay": tenths(rng, 0.5, 3)}], cleanup_delay=cleanup,
                       then_wait=tenths(rng, 1, 10)).value("worker")
    p05.drained_at(seen, what="worker")
    assert seen["cleanup_before_cancel"] == 0, (
        f"cleanup() should run only when the worker is cancelled, it ran {seen['cleanup_before_cancel']} time(s) before"
    )
    p05.ends_cancelled(seen, what="the worker")
    started, finished = seen["cleanup"]
    assert (started, finished) == (1, 1), (
        f"expected cleanup() started and awaited to its end once, saw {started} start(s) and "
        f"{finished} end(s). {hints.NOT_AWAITED}"
    )
    took = seen["ended_at"] - seen["cancelled_at"]
    assert took == approx(cleanup), (
        f"the worker should end right after the {cleanup:g} s cleanup, it took {took:g} s"
    )


@pytest.mark.points(2)
def test_worker_cancelled_while_handling_awaits_cleanup(student):
    """A worker cancelled in the middle of handle(item) stops handling, awaits cleanup() once and ends cancelled."""
    rng = student.rng
    length = rng.randint(5, 20)
    items = [{"item": "slow item", "delay": length}, {"item": "next item", "delay": tenths(rng, 0.5, 3)}]
    seen = student.run(p05.worker_run, items=items, drain=False, then_wait=tenths(rng, 1, length - 1)).value("worker")
    if seen.get("early") is not None and "cancelled" not in seen["early"]:
        unwrap(seen["early"], what="the worker")  # shows how it ended before it was cancelled
    p05.ends_cancelled(seen, what="the worker (cancelled inside handle)")
    assert seen["seen"] == ["cancelled"], (
        f"the running handle() should be cancelled and no other item started, saw {seen['seen']!r}"
    )
    started, finished = seen["cleanup"]
    assert (started, finished) == (1, 1), (
        f"expected cleanup() awaited once, saw {started} start(s) and {finished} end(s)"
    )


PROBLEMS = ["KeyError", "RuntimeError", "OSError", "ValueError", "LookupError", "ConnectionError", "TypeError"]


@pytest.mark.points(2)
def test_worker_survives_many_failures(student):
    """Each failing item is logged on "course.worker" with its own exception, and the worker goes on to the next."""
    rng = student.rng
    names = rng.sample(PROBLEMS, rng.randint(3, 5))
    items = [{"item": f"bad {i}", "delay": 0, "error": [name, name[0].lower()]} for i, name in enumerate(names)]
    fine = [{"item": f"fine {i}", "delay": 0} for i in range(rng.randint(1, 2))]
    rest = items[1:] + fine[:-1]
    rng.shuffle(rest)
    items = [items[0], *rest, fine[-1]]  # a failure first, and a good item after the last failure
    seen = student.run(p05.worker_run, items=items).value("worker")
    p05.drained_at(seen, what="worker")
    assert seen["running_after_drain"], "the worker should still be running after failures"
    expected_handled = [spec["item"] for spec in items if "error" not in spec]
    assert seen["handled"] == expected_handled, (
        f"expected {expected_handled!r} handled around the failures, got {seen['handled']!r}"
    )
    failing = [index for index, spec in enumerate(items) if "error" in spec]
    records = [r for r in seen["records"] if r["logger"] == "course.worker" and r["level"] >= 40]
    logged = [r["exc_of"] for r in records]
    problems = "[" + ", ".join(f"{items[i]['error'][0]}({items[i]['error'][1]!r})" for i in failing) + "]"
    unformatted = [r["format_error"] for r in records if r["format_error"] is not None]
    if unformatted:
        raise AssertionError(
            f"{len(unformatted)} record(s) on 'course.worker' had a message that could not be formatted "
            f"({unformatted[0]}): give .exception(...) a message whose %-placeholders match its arguments"
        )
    assert logged == failing, (
        f"expected one ERROR record with exc_info per failure on 'course.worker', in order {problems}; "
        f"got {[r['exc_type'] for r in records]!r}. Use logging.getLogger('course.worker').exception(...)"
    )


# --- collect_loop_errors ----------------------------------------------------


def message(rng, what):
    return f"{what} #{rng.randint(1, 9999)}"


@pytest.mark.points(2)
def test_collect_loop_errors_catches_unretrieved_task_exception(student):
    """A task whose exception nobody retrieved is reported to the sink, and asyncio logs nothing about it."""
    rng = student.rng
    problem = [rng.choice(["ValueError", "KeyError", "RuntimeError"]), message(rng, "nobody looked at me")]
    obs = student.run(p05.loop_errors, reports=[], unretrieved=problem)
    seen = obs.value("collect_loop_errors")
    unwrap(seen["setup"], what="collect_loop_errors")
    reported = seen["unretrieved_entries"]
    assert len(reported) == 1, (
        f"expected the 'Task exception was never retrieved' context of the task in the sink, sink is {seen['sink']!r}"
    )
    assert reported[0], f"the context dict should be kept as asyncio gave it, got {seen['sink']!r}"
    logged = [r.message for r in obs.logs if r.logger == "asyncio" and r.level in ("ERROR", "CRITICAL")]
    assert not logged, (
        f"the error should go to the sink instead of the log, asyncio still logged: {logged!r}"
    )


@pytest.mark.points(2)
def test_collect_loop_errors_restore_stops_collecting(student):
    """After restore, the loop has no custom handler again (the previous None) and reports stop reaching the sink."""
    rng = student.rng
    reports = [{"message": message(rng, "first")}, {"message": message(rng, "second"), "error": ["KeyError", "k"]}]
    reports += [{"message": message(rng, "more")} for _ in range(rng.randint(0, 2))]
    seen = student.run(p05.loop_errors, reports=reports, previous="none",
                       after_restore=[{"message": message(rng, "third")}]).value("collect_loop_errors")
    unwrap(seen["setup"], what="collect_loop_errors")
    assert seen["matches"] == list(range(len(reports))), (
        f"expected all {len(reports)} context dicts, in order, in the sink; sink is {seen['sink']!r}"
    )
    assert seen["setup"]["value"] == "a function", f"collect_loop_errors should return a function, got {seen['setup']['value']!r}"
    unwrap(seen["restore"], what="the function collect_loop_errors returned")
    assert seen["handler_after"] == "previous", (
        f"no handler was installed before, so none should be left after restore; found {seen['handler_after']}"
    )
    assert seen["sink_at_end"] == len(reports), (
        f"after restore nothing more should reach the sink; it holds {seen['sink_at_end']} entries"
        f" for {len(reports)} reports"
    )


@pytest.mark.points(1)
def test_collect_loop_errors_uses_the_given_loop(student):
    """collect_loop_errors installs its handler on the loop it is given, which need not be the running one."""
    reports = [{"message": message(student.rng, "on the other loop")}]
    seen = student.run(p05.loop_errors, reports=reports, on="other").value("collect_loop_errors")
    unwrap(seen["setup"], what="collect_loop_errors")
    assert seen["matches"] == [0], f"a report on the given loop should reach the sink, sink is {seen['sink']!r}"
    assert seen["running_untouched"], "the running loop's handler should not be touched"
    unwrap(seen.get("restore", {"value": None}), what="the function collect_loop_errors returned")
    assert seen.get("handler_after") == "previous", (
        "restore should put back the given loop's previous handler (None)"
    )


# --- find_slow_steps (real time) -------------------------------------------


@pytest.mark.points(2)
def test_find_slow_steps_turns_debug_on_then_restores(student):
    """While coro_fn runs, debug mode is on and slow_callback_duration is the threshold; both are restored afterwards."""
    rng = student.rng
    threshold = rng.choice([0.5, 0.6, 0.75, 0.8, 0.9])
    befores = [[False, rng.choice([0.05, 0.1, 0.2])], [True, rng.choice([0.25, 0.3, 0.4])]]
    rng.shuffle(befores)
    calls = [{"steps": ["yield", "record"], "threshold": threshold, "settings": before} for before in befores]
    seen = student.run(p05.slow_steps, calls=calls).value("find_slow_steps")
    for before, call in zip(befores, seen["calls"]):
        unwrap(call["outcome"], what="find_slow_steps")
        assert call["saw"] == [[True, threshold]], (
            f"while coro_fn runs, expected (debug, slow_callback_duration) == (True, {threshold}), saw "
            f"{[tuple(s) for s in call['saw']]!r}"
        )
        assert call["after"] == before, (
            f"expected the settings {tuple(before)!r} restored afterwards, found {tuple(call['after'])!r}"
        )


@pytest.mark.points(1)
@pytest.mark.allow_blocking
def test_find_slow_steps_reports_each_slow_step(student):
    """Two separate 50 ms blocking steps give at least two "Executing ... took ... seconds" messages, as strings."""
    calls = [{"steps": [["block", 0.05], "yield", ["block", 0.05]], "threshold": 0.01}]
    seen = student.run(p05.slow_steps, calls=calls).value("find_slow_steps")
    call, = seen["calls"]
    messages = unwrap(call["outcome"], what="find_slow_steps")
    assert isinstance(messages, list) and all(isinstance(m, str) for m in messages), (
        f"expected a list of message strings, got {messages!r}"
    )
    slow = [m for m in messages if "Executing" in m and "took" in m and "seconds" in m]
    assert len(slow) >= 2, f"expected at least two 'Executing ... took ... seconds' messages, got {messages!r}"


@pytest.mark.points(1)
def test_find_slow_steps_fast_work_gives_no_messages(student):
    """Work whose steps are all far below the threshold (1 s) gives an empty list."""
    calls = [{"steps": ["yield"] * student.rng.randint(1, 5), "threshold": 1.0}]
    seen = student.run(p05.slow_steps, calls=calls).value("find_slow_steps")
    call, = seen["calls"]
    messages = unwrap(call["outcome"], what="find_slow_steps")
    assert_same(messages, [], what="find_slow_steps' messages for quick work (an empty list)")
    assert call["after"] == call["before"], (
        f"expected the settings {tuple(call['before'])!r} restored afterwards, found {tuple(call['after'])!r}"
    )


def ended_or_valueerror(outcome, *, what):
    """Returning or letting coro_fn's ValueError through are both fine; anything else fails."""
    error = raised(outcome)
    if error is None or not error.is_a("ValueError"):
        unwrap(outcome, what=what)


@pytest.mark.points(1)
def test_find_slow_steps_restores_settings_when_work_fails(student):
    """If coro_fn raises, the loop's debug settings are restored all the same."""
    rng = student.rng
    before = [False, rng.choice([0.2, 0.3, 0.4])]
    calls = [{"steps": ["yield", ["raise", "ValueError", "broken step"]], "threshold": rng.choice([0.5, 0.6, 0.7]),
              "settings": before}]
    seen = student.run(p05.slow_steps, calls=calls).value("find_slow_steps")
    call, = seen["calls"]
    ended_or_valueerror(call["outcome"], what="find_slow_steps")
    assert call["after"] == before, (
        f"expected {tuple(before)!r} restored after coro_fn raised, found {tuple(call['after'])!r}. Use try/finally."
    )


@pytest.mark.points(1)
@pytest.mark.allow_blocking
def test_find_slow_steps_leaves_logging_as_it_found_it(student):
    """find_slow_steps removes whatever it attached to logging (also when coro_fn raises): later slow steps no longer reach its list."""
    calls = [
        {"steps": ["yield", ["block", 0.05]], "threshold": 0.01, "slow_step_after": [0.05, 0.01]},
        {"steps": ["yield", ["raise", "ValueError", "broken step"]], "threshold": 0.5},
    ]
    seen = student.run(p05.slow_steps, calls=calls).value("find_slow_steps")
    first, second = seen["calls"]
    messages = unwrap(first["outcome"], what="find_slow_steps")
    assert first["as_found"], (
        "find_slow_steps left the 'asyncio' (or root) logger changed: remove the handler or filter you added "
        "(and restore any level) in a `finally:`, or every call leaves one more behind"
    )
    assert isinstance(messages, list), f"expected a list of messages, got {messages!r}"
    assert not first["later"], (
        f"a slow step logged after find_slow_steps returned still reached its list ({first['later']!r}): "
        "stop collecting when it returns"
    )
    ended_or_valueerror(second["outcome"], what="find_slow_steps")
    assert second["as_found"], (
        "find_slow_steps left the 'asyncio' (or root) logger changed after coro_fn raised: undo it in a `finally:`"
    )


@pytest.mark.points(1)
@pytest.mark.allow_blocking
def test_find_slow_steps_returns_only_slow_step_messages(student):
    """Other things asyncio logs while the work runs (here an error report) are not slow steps and stay out of the list."""
    report = f"an unrelated error report #{student.rng.randint(1, 9999)}"
    calls = [{"steps": ["yield", ["report", report], ["block", 0.05]], "threshold": 0.01}]
    seen = student.run(p05.slow_steps, calls=calls).value("find_slow_steps")
    call, = seen["calls"]
    messages = unwrap(call["outcome"], what="find_slow_steps")
    assert isinstance(messages, list) and all(isinstance(m, str) for m in messages), (
        f"expected a list of message strings, got {messages!r}"
    )
    assert any("Executing" in m and "took" in m for m in messages), f"expected the 50 ms step reported, got {messages!r}"
    others = [m.splitlines()[0][:80] if m else m for m in messages if not m.startswith("Executing")]
    assert not others, (
        f"only the slow-step messages ('Executing ... took ... seconds') belong in the list, it also holds {others!r}: "
        "keep only the records whose message starts with 'Executing'"
    )
