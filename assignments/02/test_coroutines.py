"""Public tests for assignment 02. Run them with `pytest assignments/02`.

Each test asks for a *scenario* (`coursekit/probes`): a probe that calls your
functions on a virtual clock, where `await asyncio.sleep(30)` costs no real
time, and reports what it saw (the result, its type, a coroutine's state, the
loop time) as plain data. Locally the scenario runs right here, so your
prints and breakpoints work; when graded it runs in a process of its own,
apart from the tests. `run()` is called from plain synchronous code, since it
starts a loop of its own. Results are compared by value and by type: where a
`str` is expected, a `str` must come back.
"""
import pytest

from coursekit import hints
from coursekit.hints import describe_parts
from coursekit.judge import raised, unwrap
from coursekit.probes import kit, p02
from coursekit.testing import assert_same, same

STUDENT_MODULE = "coroutines"


@pytest.mark.points(4)
def test_greet_returns_greeting_after_delay(student):
    """greet("Ada", 2) returns "Hello, Ada!" after 2 s of loop time."""
    seen = student.run(kit.call_async, function="greet", args=["Ada", 2], within=10).value('greet("Ada", 2)')
    assert_same(unwrap(seen["outcome"], what='greet("Ada", 2)'), "Hello, Ada!", what='greet("Ada", 2)')
    assert seen["took"] == 2, f"expected 2 s of loop time, took {seen['took']:g} s"


@pytest.mark.points(4)
def test_make_greeting_returns_unstarted_coroutine(student):
    """make_greeting("Bob") returns a coroutine that has not started; awaiting it gives "Hello, Bob!"."""
    seen = student.run(p02.make_greeting_then_await, name="Bob", turns=0).value('make_greeting("Bob")')
    made = unwrap(seen["outcome"], what='make_greeting("Bob")')
    assert seen["is_coroutine"], (
        f"expected a coroutine object (what calling an async def function gives), got {seen['type']}: {made!r}"
    )
    assert seen["state"] == "CORO_CREATED", (
        f"the coroutine should not have started yet (state CORO_CREATED), its state is {seen['state']}"
    )
    result = unwrap(seen["awaited"], what='awaiting make_greeting("Bob")')
    assert_same(result, "Hello, Bob!", what="awaiting the coroutine")


@pytest.mark.points(6)
def test_run_returns_result_from_sync_code(student):
    """run(coro_fn, *args, **kwargs) returns coro_fn's result; a coro_fn that gives no coroutine gets a TypeError."""
    seen = student.run(p02.run_calls, calls=[
        {"target": "greet", "args": ["Cy"]},
        {"target": "add", "args": [2], "kwargs": {"b": 3}},
        {"target": "upper", "args": ["hey"]},
    ]).value("run(...)")
    greeting, total, shout = (call["outcome"] for call in seen["calls"])
    assert_same(unwrap(greeting, what="run(greet, 'Cy')"), "Hello, Cy!", what="run(greet, 'Cy')")
    assert_same(unwrap(total, what="run(add, 2, b=3)"), 5, what="run(add, 2, b=3) (arguments passed through)")

    error = raised(shout)
    if error is None:
        raise AssertionError(f"run(sync_shout, 'hey') should raise TypeError, it returned {shout.get('value')!r}")
    if not error.is_a("TypeError"):
        if error.is_a("NotImplementedError"):
            unwrap(shout, what="run(sync_shout, 'hey')")
        raise AssertionError(
            f"run(sync_shout, 'hey') should raise TypeError (sync_shout returns a str, not a coroutine); "
            f"it raised {describe_parts(error.name, error.message)}"
        )
    assert "str" in error.message or "HEY" in error.message, (
        f"the TypeError should say what sync_shout returned (a str, 'HEY'); its message is {error.message!r}"
    )


@pytest.mark.points(5)
def test_maybe_await_awaits_awaitables_and_passes_plain_values(student):
    """maybe_await awaits a coroutine and returns its result or raises its error; a plain value comes back unchanged."""
    plains = (42, "text", [1, 2])
    seen = student.run(p02.maybe_await_each, cases=[
        {"kind": "sleep", "delay": 3, "result": "slept"},
        *({"kind": "plain", "value": plain} for plain in plains),
        {"kind": "failing", "error": "PermissionError", "message": "not today"},
    ]).value("maybe_await")
    slept, *backs, failing = seen["cases"]
    result = unwrap(slept["outcome"], what="maybe_await(coroutine)")
    assert_same(result, "slept", what="maybe_await(coroutine), the coroutine's result,")
    assert slept["at"] == 3, f"awaiting asyncio.sleep(3) should take 3 s of loop time, took {slept['at']:g} s"
    for plain, back in zip(plains, backs):
        got = unwrap(back["outcome"], what=f"maybe_await({plain!r})")
        assert back["same_object"], f"maybe_await({plain!r}) should return the value itself, got {got!r}"

    error = raised(failing["outcome"])
    if error is None:
        raise AssertionError(
            f"the awaited coroutine raised PermissionError, but maybe_await returned {failing['outcome'].get('value')!r}"
        )
    if not error.is_a("PermissionError"):
        unwrap(failing["outcome"], what="maybe_await(refuses())")
    assert failing["same_error"] and error.message == "not today", (
        f"expected the coroutine's own PermissionError, got {error!r}"
    )


@pytest.mark.points(5)
def test_pipeline_mixes_sync_and_async_steps(student):
    """pipeline passes the value through sync and async steps in order; a step that raises stops it."""
    slow_title = {"call": "async", "op": "title", "delay": 1, "name": "slow_title"}
    seen = student.run(p02.pipeline_of, value="  ada lovelace ", within=10, steps=[
        {"call": "builtin", "op": "strip"}, slow_title, {"call": "student", "op": "greet"},
    ]).value("pipeline(...)")
    result = unwrap(seen["outcome"], what="pipeline(...)")
    assert same(result, "Hello, Ada Lovelace!"), (
        f"expected strip -> title -> greet to give 'Hello, Ada Lovelace!', got {result!r}. "
        "Await what an async step returns before passing it on."
    )
    assert seen["took"] == 1, f"expected 1 s of loop time (one step sleeps 1 s), took {seen['took']:g} s"

    observed = student.run(p02.pipeline_of, value="", within=10, steps=[
        slow_title,
        {"call": "sync", "op": "fail", "error": "ValueError", "message": "cannot greet", "name": "reject"},
        {"call": "sync", "op": "identity", "name": "reached"},
    ])
    failing = observed.value("pipeline with a failing step")
    error = raised(failing["outcome"])
    if error is None:
        got = unwrap(failing["outcome"], what="pipeline with a failing step")
        raise AssertionError(f"a step raised ValueError, but pipeline returned {got!r} instead of raising it")
    if not error.is_a("ValueError"):
        unwrap(failing["outcome"], what="pipeline with a failing step")
    assert "cannot greet" in error.message, f"expected the step's own ValueError, got {error!r}"
    reached = [event[3] for event in observed.events_of("step") if event[2] == "reached"]
    assert reached == [], f"after a step raised, the next step should not run; it got {reached!r}"


@pytest.mark.points(5)
def test_countdown_yields_after_each_delay(student):
    """countdown(3, 1) yields 3, 2, 1 at 1, 2 and 3 s; a reader that stops early leaves nothing running."""
    seen = student.run(p02.read_countdown, n=3, delay=1).value("async for over countdown(3, 1)")
    unwrap(seen["outcome"], what="async for over countdown(3, 1)")
    values, times = [v for v, _ in seen["seen"]], [t for _, t in seen["seen"]]
    assert values == [3, 2, 1], f"expected the values 3, 2, 1, got {values!r}"
    assert times == pytest.approx([1, 2, 3]), (
        f"expected the values at 1, 2 and 3 s of loop time, got them at {times!r}: "
        "wait `delay` seconds (await asyncio.sleep) before yielding each value, not after."
    )

    early = student.run(p02.read_countdown, n=100, delay=2, stop_after=3, how="aclosing",
                        settle=60).value("countdown(100, 2)")
    unwrap(early["outcome"], what="async for over countdown(100, 2)")
    assert [v for v, _ in early["seen"]] == [100, 99, 98], (
        f"the reader stops at 98 (after 100, 99, 98), it got the values {[v for v, _ in early['seen']]!r}"
    )
    assert early["stopped_at"] == 6, (
        f"three values at 2 s each: expected the reader to stop at 6 s, it stopped at {early['stopped_at']:g} s"
    )
    assert not early["left"], (
        f"countdown, after its reader stopped at 98, returned while {len(early['left'])} task(s) it started were "
        f"still running ({', '.join(early['left'])}). {hints.LEFT_RUNNING}"
    )


@pytest.mark.points(4)
def test_stopwatch_measures_block(student):
    """`async with Stopwatch() as sw:` binds the stopwatch; afterwards sw.elapsed is the block's time, also after an error."""
    seen = student.run(p02.stopwatch_uses, uses=[
        {"instance": "bound", "length": 3},
        {"instance": "new", "length": 4, "error": "KeyError", "message": "missing"},
    ]).value("async with Stopwatch()")
    unwrap(seen["made"], what="Stopwatch()")
    timed, failing = seen["uses"]
    unwrap(timed["outcome"], what="async with Stopwatch()")
    assert timed["bound_is_instance"], (
        f"`as sw` should bind the Stopwatch itself (return self from __aenter__), got {timed['bound']!r}"
    )
    elapsed = unwrap(timed["elapsed"], what="sw.elapsed")
    assert same(elapsed, 3.0), (
        f"the block slept 3 s of loop time, sw.elapsed is {elapsed!r}. "
        "Measure with asyncio.get_running_loop().time(), not time.time()."
    )

    error = raised(failing["outcome"])
    if error is None:
        raise AssertionError("the block raised KeyError, but `async with Stopwatch()` swallowed it")
    if not failing["same_error"]:
        unwrap(failing["outcome"], what="async with Stopwatch()")
    elapsed = unwrap(failing["elapsed"], what="watch.elapsed")
    assert same(elapsed, 4.0), (
        f"the block ran 4 s before it raised, watch.elapsed is {elapsed!r}: measure also when the block fails"
    )
