"""Hidden tests for assignment 02 (part 1): greet, make_greeting, run, maybe_await, pipeline."""
import asyncio
import functools
import inspect

import pytest

import coroutines
from coursekit import hints
from coursekit.loops import current_loop
from coursekit.testing import same, tasks_now, within

FRESH_LOOP_HINT = (
    "Start a new loop for every call and close it afterwards: asyncio.run(coro) or "
    "`with asyncio.Runner() as runner: runner.run(coro)` do both. The old "
    "get_event_loop() / run_until_complete() / close() flow reuses (and then closes) "
    "whatever loop is current."
)


@pytest.fixture
def keep_current_loop():
    """Put the thread's current loop back after the test, so a wrong run() cannot affect other tests."""
    saved = current_loop()
    yield saved
    if current_loop() is not saved:
        asyncio.set_event_loop(saved if saved is not None and not saved.is_closed() else None)
    elif saved is not None and saved.is_closed():
        asyncio.set_event_loop(None)


def call_run(*args, **kwargs):
    """Call coroutines.run, turning the usual loop-reuse RuntimeErrors into feedback."""
    try:
        return coroutines.run(*args, **kwargs)
    except RuntimeError as exc:
        if isinstance(exc, NotImplementedError) or "loop" not in str(exc):
            raise
        raise AssertionError(
            f"run() failed with RuntimeError: {exc}. {FRESH_LOOP_HINT}"
        ) from exc


async def which_loop():
    await asyncio.sleep(0)
    return asyncio.get_running_loop()


# --- greet -----------------------------------------------------------------


@pytest.mark.points(1)
async def test_greet_default_delay_is_instant(looptime):
    """greet("Eve") (default delay 0) returns "Hello, Eve!" without any loop time passing."""
    result = await within(coroutines.greet("Eve"), 10, what='greet("Eve")')
    assert same(result, "Hello, Eve!"), f"expected 'Hello, Eve!', got {result!r}"
    assert looptime == 0, f"with the default delay no loop time should pass, {float(looptime):g} s did"


@pytest.mark.points(3)
async def test_greet_does_not_block_the_loop(looptime):
    """While greet waits, other tasks keep running; two greets together take the longer delay."""
    ticks = []

    async def ticker():
        for _ in range(3):
            await asyncio.sleep(1)
            ticks.append(asyncio.get_running_loop().time())

    ticking = asyncio.create_task(ticker())
    results = await within(
        asyncio.gather(coroutines.greet("a", 3), coroutines.greet("b", 2)), 10, what="two greets at once"
    )
    await ticking
    assert same(results, ["Hello, a!", "Hello, b!"]), f"expected ['Hello, a!', 'Hello, b!'], got {results!r}"
    assert ticks == pytest.approx([1, 2, 3]), (
        f"another task should tick at 1, 2, 3 s while greet waits; it ticked at {ticks!r}. {hints.BLOCKING}"
    )
    assert looptime == 3, f"greet(3) and greet(2) together should take 3 s, took {float(looptime):g} s"


# --- make_greeting ---------------------------------------------------------


@pytest.mark.points(2)
def test_make_greeting_needs_no_running_loop(capsys):
    """make_greeting works from plain code with no loop running: it only builds the coroutine, prints nothing."""
    try:
        coro = coroutines.make_greeting("Dan")
    except RuntimeError as exc:
        if isinstance(exc, NotImplementedError):
            raise
        raise AssertionError(
            f"make_greeting raised RuntimeError outside a running loop: {exc}. It must not create a Task "
            "or schedule anything: just return the coroutine object, e.g. `return greet(name)`."
        ) from exc
    try:
        assert inspect.iscoroutine(coro), f"expected a coroutine object, got {type(coro).__name__}: {coro!r}"
        state = inspect.getcoroutinestate(coro)
        assert state == inspect.CORO_CREATED, f"the coroutine should not have started, its state is {state}"
    finally:
        if inspect.iscoroutine(coro):
            coro.close()
    printed = capsys.readouterr().out
    assert printed == "", f"make_greeting should print nothing (nothing runs yet), it printed {printed!r}"


@pytest.mark.points(4)
async def test_make_greeting_is_not_scheduled(looptime):
    """make_greeting returns a bare coroutine, not a Task: it stays unstarted until awaited, then greets."""
    before = tasks_now()
    made = coroutines.make_greeting("Fay")
    try:
        new_tasks = tasks_now() - before
        assert not isinstance(made, asyncio.Future) and not new_tasks, (
            f"make_greeting returned {made!r} and started {len(new_tasks)} new task(s): it should only "
            "return the coroutine object, not schedule it with create_task/ensure_future."
        )
        assert inspect.iscoroutine(made), f"expected a coroutine object, got {type(made).__name__}: {made!r}"
        for _ in range(5):
            await asyncio.sleep(0)  # give the loop a few turns: a scheduled greeting would start now
        state = inspect.getcoroutinestate(made)
        assert state == inspect.CORO_CREATED, (
            f"after a few loop turns the coroutine should still be unstarted (CORO_CREATED), its state is {state}"
        )
        result = await within(made, 10, what='awaiting make_greeting("Fay")')
        assert same(result, "Hello, Fay!"), f"awaiting it should give 'Hello, Fay!', got {result!r}"
        assert looptime == 0, f"greet(name) has no delay, yet {float(looptime):g} s of loop time passed"
    finally:
        if inspect.iscoroutine(made):
            made.close()
        for task in tasks_now() - before:
            task.cancel()


# --- run -------------------------------------------------------------------


@pytest.mark.points(3)
def test_run_uses_a_fresh_loop_each_call(keep_current_loop):
    """Each run() call makes a new event loop, runs the coroutine on it, and closes it."""
    first = call_run(which_loop)
    second = call_run(which_loop)
    assert isinstance(first, asyncio.AbstractEventLoop), f"run(which_loop) should return the loop, got {first!r}"
    assert first is not second, f"two run() calls used the same loop {first!r}. {FRESH_LOOP_HINT}"
    assert first is not keep_current_loop, (
        f"run() reused the thread's current loop instead of a fresh one. {FRESH_LOOP_HINT}"
    )
    assert first.is_closed() and second.is_closed(), (
        f"run() should close its loop when done; closed: {first.is_closed()}, {second.is_closed()}. "
        f"{FRESH_LOOP_HINT}"
    )


@pytest.mark.points(3)
def test_run_leaves_no_loop_set(keep_current_loop):
    """After run(), no loop of its own (closed or not) is left set as the thread's current loop."""
    used = call_run(which_loop)
    now = current_loop()
    assert now is not used, (
        "run() left its loop set as the current event loop. Later code calling "
        f"asyncio.get_event_loop() would get a closed loop. {FRESH_LOOP_HINT}"
    )
    assert now is None or not now.is_closed(), (
        f"after run() the current event loop is a closed loop. {FRESH_LOOP_HINT}"
    )


@pytest.mark.points(2)
def test_run_passes_every_argument(keep_current_loop):
    """run passes positional and keyword arguments through, even a keyword named coro_fn."""

    async def record(*args, **kwargs):
        await asyncio.sleep(0)
        return args, kwargs

    got = call_run(record, 1, "two", three=3, coro_fn="kw")
    assert same(got, ((1, "two"), {"three": 3, "coro_fn": "kw"})), (
        "run(record, 1, 'two', three=3, coro_fn='kw') should call record(1, 'two', three=3, coro_fn='kw'), "
        f"it got args and kwargs {got!r}. coro_fn is positional-only (`def run(coro_fn, /, *args, **kwargs)`)."
    )


@pytest.mark.points(2)
def test_run_accepts_any_callable_returning_a_coroutine(keep_current_loop):
    """run accepts a lambda or partial that returns a coroutine, not only an `async def` function."""
    cases = [
        ("lambda: greet('Gus')", lambda: coroutines.greet("Gus"), "Hello, Gus!"),
        ("functools.partial(greet, 'Hal')", functools.partial(coroutines.greet, "Hal"), "Hello, Hal!"),
    ]
    for label, fn, expected in cases:
        try:
            got = call_run(fn)
        except TypeError as exc:
            raise AssertionError(
                f"run({label}) raised TypeError ({exc}), but the callable does return a coroutine. "
                "Check what coro_fn(...) returned (inspect.iscoroutine), not whether coro_fn is an async def."
            ) from exc
        assert same(got, expected), f"run({label}) should return {expected!r}, got {got!r}"


@pytest.mark.points(4)
def test_run_rejects_a_non_coroutine_with_type_error(keep_current_loop):
    """run raises TypeError naming what it got when coro_fn(...) returns something that is not a coroutine."""
    assert same(call_run(coroutines.greet, "Ivy"), "Hello, Ivy!"), "run(greet, 'Ivy') should return 'Hello, Ivy!'"

    def returns_number():
        return 42

    def forgot_async():
        return None

    for fn, names in ((returns_number, ("int", "42")), (forgot_async, ("None",))):
        try:
            call_run(fn)
        except TypeError as exc:
            assert any(name in str(exc) for name in names), (
                f"the TypeError should name what {fn.__name__}() returned (e.g. {names[0]!r}), "
                f"its message is {str(exc)!r}"
            )
        except Exception as exc:  # noqa: BLE001 - any other error is the feedback
            raise AssertionError(
                f"run({fn.__name__}) should raise TypeError, it raised {hints.describe(exc)}. "
                "(asyncio.run itself raises ValueError here: check with inspect.iscoroutine first.)"
            ) from exc
        else:
            raise AssertionError(f"run({fn.__name__}) returned instead of raising TypeError")


@pytest.mark.points(2)
def test_run_calls_coro_fn_once_and_awaits_what_it_made(keep_current_loop):
    """run calls coro_fn exactly once and runs the very coroutine it returned (none is left unawaited)."""
    made = []

    def counted(name):
        coro = coroutines.greet(name)
        made.append(coro)
        return coro

    def counted_plain():
        made.append("plain")
        return "plain"

    try:
        got = call_run(counted, "Jo")
        assert same(got, "Hello, Jo!"), f"run(counted, 'Jo') should return 'Hello, Jo!', got {got!r}"
        assert len(made) == 1, f"run should call coro_fn once, it called it {len(made)} times"
        try:
            call_run(counted_plain)
        except Exception:  # noqa: BLE001 - the exception type is checked by another test
            pass
        else:
            raise AssertionError("run(counted_plain) returned instead of raising TypeError")
        assert len(made) == 2, (
            f"run should call coro_fn once even when it returns a non-coroutine, it was called "
            f"{len(made) - 1} times"
        )
    finally:
        idle = [c for c in made if inspect.iscoroutine(c) and inspect.getcoroutinestate(c) == inspect.CORO_CREATED]
        for coro in idle:
            coro.close()
    assert not idle, f"run created {len(idle)} coroutine(s) it never awaited. {hints.NOT_AWAITED}"


@pytest.mark.points(2)
def test_run_propagates_exceptions(keep_current_loop):
    """An exception raised by the coroutine propagates out of run, and the loop is still closed."""
    loops = []

    async def failing():
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        call_run(failing)
    assert loops and loops[0].is_closed(), (
        "run() should close its loop also when the coroutine raised (asyncio.run does: use it or try/finally)"
    )
    assert current_loop() is not loops[0], f"run() left its loop set as current after an error. {FRESH_LOOP_HINT}"


# --- maybe_await -----------------------------------------------------------


class Ready:
    """A hand-written awaitable (not a coroutine, not a future): waits `delay` s, then gives `value`."""

    def __init__(self, value, delay=0):
        self.value = value
        self.delay = delay

    def __await__(self):
        yield from asyncio.sleep(self.delay).__await__()
        return self.value


@pytest.mark.points(2)
async def test_maybe_await_task_and_future(looptime):
    """maybe_await awaits a Task and a Future (not only coroutines) and returns their results."""
    task = asyncio.create_task(asyncio.sleep(2, result="from task"))
    got = await within(coroutines.maybe_await(task), 10, what="maybe_await(task)")
    assert same(got, "from task"), f"maybe_await(task) should return the task's result 'from task', got {got!r}"
    assert looptime == 2, f"the task finishes at 2 s, maybe_await returned at {float(looptime):g} s"

    future = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_later(3, future.set_result, "from future")
    got = await within(coroutines.maybe_await(future), 10, what="maybe_await(future)")
    assert same(got, "from future"), (
        f"maybe_await(future) should wait for and return 'from future', got {got!r}. "
        "A Future is awaitable too: test with inspect.isawaitable, not only for coroutines."
    )
    assert looptime == 5, f"the future is resolved at 5 s, maybe_await returned at {float(looptime):g} s"


@pytest.mark.points(3)
async def test_maybe_await_custom_awaitable(looptime):
    """maybe_await awaits any object with __await__, not only coroutines, tasks and futures."""
    got = await within(coroutines.maybe_await(Ready("custom", delay=4)), 10, what="maybe_await(custom awaitable)")
    assert same(got, "custom"), (
        f"an object with __await__ is awaitable: maybe_await should return its result 'custom', got {got!r}. "
        "Use inspect.isawaitable(value)."
    )
    assert looptime == 4, f"the awaitable waits 4 s, maybe_await returned after {float(looptime):g} s"


@pytest.mark.points(2)
async def test_maybe_await_returns_plain_values_unchanged(looptime):
    """maybe_await returns None, falsy values, functions and async functions themselves, untouched."""

    def plain_fn():
        return "called"

    for value in (None, 0, "", [], {"k": 1}, plain_fn, coroutines.greet):
        try:
            got = await within(coroutines.maybe_await(value), 10, what=f"maybe_await({value!r})")
        except TypeError as exc:
            raise AssertionError(
                f"maybe_await({value!r}) raised TypeError ({exc}): a value that is not awaitable must not be "
                "awaited. Check inspect.isawaitable(value) first."
            ) from exc
        assert got is value, (
            f"maybe_await({value!r}) should return the value itself, got {got!r}. "
            "A value that is not awaitable is returned as is: not called, not converted."
        )
    assert looptime == 0, f"plain values need no waiting, yet {float(looptime):g} s of loop time passed"


@pytest.mark.points(2)
async def test_maybe_await_lets_errors_from_the_awaitable_through(looptime):
    """An error raised while awaiting (even a TypeError) propagates out of maybe_await."""
    sleeper = asyncio.sleep(0, result=7)
    try:
        got = await within(coroutines.maybe_await(sleeper), 10, what="maybe_await(coroutine)")
    finally:
        sleeper.close()  # no "never awaited" warning if maybe_await did not await it
    assert same(got, 7), f"maybe_await(asyncio.sleep(0, result=7)) should return 7, got {got!r}"

    async def wrong_type():
        await asyncio.sleep(1)
        raise TypeError("inner failure")

    failing = wrong_type()
    try:
        got = await within(coroutines.maybe_await(failing), 10, what="maybe_await(failing coroutine)")
    except TypeError as exc:
        assert "inner failure" in str(exc), f"expected the coroutine's own TypeError, got {exc!r}"
    else:
        raise AssertionError(
            f"the awaited coroutine raised TypeError('inner failure'), but maybe_await returned {got!r}. "
            "Do not detect awaitables with try/except TypeError around `await`: "
            "test inspect.isawaitable(value) instead."
        )


@pytest.mark.points(1)
async def test_maybe_await_awaits_only_once(looptime):
    """maybe_await awaits its argument once: if the result is itself a coroutine, that is returned as is."""
    inner = coroutines.greet("Kim")

    async def outer():
        return inner

    wrapper = outer()
    try:
        got = await within(coroutines.maybe_await(wrapper), 10, what="maybe_await(outer())")
        assert got is inner, (
            f"maybe_await(outer()) should return outer's result (a coroutine object) without awaiting it, "
            f"got {got!r}"
        )
    finally:
        wrapper.close()
        inner.close()


# --- pipeline --------------------------------------------------------------


@pytest.mark.points(1)
async def test_pipeline_without_steps_returns_value(looptime):
    """pipeline(value) with no steps returns value itself."""
    marker = object()
    got = await within(coroutines.pipeline(marker), 10, what="pipeline(value)")
    assert got is marker, f"pipeline(value) with no steps should return value itself, got {got!r}"


def plain_input(value):
    """What a step receives must be a plain value, never an awaitable left unawaited."""
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()
        raise AssertionError(
            f"a step was given {value!r}: the previous step returned an awaitable and pipeline passed it on "
            "without awaiting it. Await what a step returns when inspect.isawaitable(result) is true, "
            "whether or not the step is an async def."
        )
    return value


class AsyncCallable:
    """An instance with `async def __call__`: calling it returns a coroutine, yet it is no coroutine function."""

    async def __call__(self, value):
        await asyncio.sleep(1)
        return plain_input(value) + 1


@pytest.mark.points(4)
async def test_pipeline_steps_returning_awaitables(looptime):
    """A step may be any callable returning an awaitable: lambda, partial, async __call__, task, future, custom."""

    async def add(x, y):
        await asyncio.sleep(1)
        return plain_input(x) + plain_input(y)

    def to_future(value):
        future = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(1, future.set_result, plain_input(value) * 2)
        return future

    steps = [
        lambda v: add(v, 1),  # 1 -> 2, a lambda returning a coroutine
        functools.partial(add, 10),  # -> 12
        AsyncCallable(),  # -> 13
        lambda v: asyncio.ensure_future(add(v, 100)),  # -> 113, a Task
        to_future,  # -> 226, a Future
        lambda v: Ready(plain_input(v) - 6, delay=1),  # -> 220, a custom awaitable
    ]
    got = await within(coroutines.pipeline(1, *steps), 30, what="pipeline(1, ...)")
    assert same(got, 220), (
        f"expected 1 -> 2 -> 12 -> 13 -> 113 -> 226 -> 220, got {got!r}. Whatever a step returns, "
        "await it if it is awaitable (inspect.isawaitable), whether or not the step is an async def."
    )
    assert looptime == 6, f"six steps of 1 s each, one after another, take 6 s; took {float(looptime):g} s"


@pytest.mark.points(3)
async def test_pipeline_runs_steps_in_order_one_at_a_time(looptime):
    """Each step is called once, in order, with the previous step's result, after that step finished."""
    log = []

    def step(name, delay):
        async def run(value):
            log.append((name, "start", value, asyncio.get_running_loop().time()))
            await asyncio.sleep(delay)
            return value + [name]

        return run

    def sync_step(value):
        log.append(("sync", "start", value, asyncio.get_running_loop().time()))
        return value + ["sync"]

    got = await within(
        coroutines.pipeline([], step("a", 3), sync_step, step("b", 1), step("c", 2)), 30, what="pipeline([], ...)"
    )
    assert same(got, ["a", "sync", "b", "c"]), f"expected ['a', 'sync', 'b', 'c'], got {got!r}"
    expected = [
        ("a", "start", [], 0),
        ("sync", "start", ["a"], 3),
        ("b", "start", ["a", "sync"], 3),
        ("c", "start", ["a", "sync", "b"], 4),
    ]
    assert log == expected, (
        f"steps should start one after another, each with the previous result: expected calls {expected!r}, "
        f"saw {log!r}"
    )
    assert looptime == 6, f"steps of 3, 0, 1 and 2 s one after another take 6 s, took {float(looptime):g} s"


@pytest.mark.points(1)
async def test_pipeline_keeps_none_and_falsy_results(looptime):
    """A step returning None, 0 or "" passes that value on like any other."""
    seen = []

    async def record(value):
        seen.append(value)
        return value

    got = await within(
        coroutines.pipeline("x", lambda v: None, record, lambda v: 0, record, lambda v: "", record),
        10,
        what="pipeline with falsy results",
    )
    assert seen == [None, 0, ""], f"the steps after None, 0 and '' should receive them, they got {seen!r}"
    assert same(got, ""), f"pipeline should return the last step's result '', got {got!r}"


@pytest.mark.points(2)
async def test_pipeline_stops_at_failing_step(looptime):
    """An exception in a step propagates out of pipeline, and the later steps do not run."""
    later = []

    async def fail(value):
        await asyncio.sleep(1)
        raise ValueError(f"bad {value}")

    assert same(await within(coroutines.pipeline(2, lambda v: v * 3), 10, what="pipeline(2, triple)"), 6), (
        "pipeline(2, lambda v: v * 3) should return 6"
    )
    with pytest.raises(ValueError, match="bad 3"):
        await within(coroutines.pipeline(2, lambda v: v + 1, fail, later.append), 10, what="pipeline with a failing step")
    assert later == [], f"the step after the failing one should not run, it was called with {later!r}"
