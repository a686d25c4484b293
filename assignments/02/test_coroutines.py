"""Public tests for assignment 02. Run them with `pytest assignments/02`.

The event loop runs on a virtual clock here: `await asyncio.sleep(30)` costs
no real time, and `looptime` is the loop's time in seconds since the test began.
`run()` is tested from plain (synchronous) test functions, since it starts a
loop of its own. Results are compared by value and by type: where a `str` is
expected, a `str` must come back.
"""
import asyncio
import contextlib
import inspect

import pytest

import coroutines
from coursekit.iterators import async_iterator
from coursekit.testing import assert_nothing_left_running, assert_same, same, tasks_now, within


@pytest.mark.points(4)
async def test_greet_returns_greeting_after_delay(looptime):
    """greet("Ada", 2) returns "Hello, Ada!" after 2 s of loop time."""
    result = await within(coroutines.greet("Ada", 2), 10, what='greet("Ada", 2)')
    assert_same(result, "Hello, Ada!", what='greet("Ada", 2)')
    assert looptime == 2, f"expected 2 s of loop time, took {float(looptime):g} s"


@pytest.mark.points(4)
async def test_make_greeting_returns_unstarted_coroutine(looptime):
    """make_greeting("Bob") returns a coroutine that has not started; awaiting it gives "Hello, Bob!"."""
    coro = coroutines.make_greeting("Bob")
    try:
        assert inspect.iscoroutine(coro), (
            f"expected a coroutine object (what calling an async def function gives), "
            f"got {type(coro).__name__}: {coro!r}"
        )
        state = inspect.getcoroutinestate(coro)
        assert state == inspect.CORO_CREATED, (
            f"the coroutine should not have started yet (state CORO_CREATED), its state is {state}"
        )
        result = await within(coro, 10, what='awaiting make_greeting("Bob")')
    finally:
        if inspect.iscoroutine(coro):
            coro.close()  # no "never awaited" warning when an assert failed first
    assert_same(result, "Hello, Bob!", what="awaiting the coroutine")


@pytest.mark.points(6)
def test_run_returns_result_from_sync_code():
    """run(coro_fn, *args, **kwargs) returns coro_fn's result; a coro_fn that gives no coroutine gets a TypeError."""

    async def add(a, b):
        await asyncio.sleep(0)
        return a + b

    greeting = coroutines.run(coroutines.greet, "Cy")
    assert_same(greeting, "Hello, Cy!", what="run(greet, 'Cy')")
    total = coroutines.run(add, 2, b=3)
    assert_same(total, 5, what="run(add, 2, b=3) (arguments passed through)")

    def sync_shout(text):
        return text.upper()

    try:
        got = coroutines.run(sync_shout, "hey")
    except TypeError as exc:
        assert "str" in str(exc) or "HEY" in str(exc), (
            f"the TypeError should say what sync_shout returned (a str, 'HEY'); its message is {str(exc)!r}"
        )
    except Exception as exc:  # noqa: BLE001 - the feedback
        raise AssertionError(
            f"run(sync_shout, 'hey') should raise TypeError (sync_shout returns a str, not a coroutine); "
            f"it raised {type(exc).__name__}: {exc}"
        ) from exc
    else:
        raise AssertionError(f"run(sync_shout, 'hey') should raise TypeError, it returned {got!r}")


@pytest.mark.points(5)
async def test_maybe_await_awaits_awaitables_and_passes_plain_values(looptime):
    """maybe_await awaits a coroutine and returns its result or raises its error; a plain value comes back unchanged."""
    sleeper = asyncio.sleep(3, result="slept")
    try:
        result = await within(coroutines.maybe_await(sleeper), 10, what="maybe_await(coroutine)")
    finally:
        sleeper.close()  # no "never awaited" warning if maybe_await did not await it
    assert_same(result, "slept", what="maybe_await(coroutine), the coroutine's result,")
    assert looptime == 3, f"awaiting asyncio.sleep(3) should take 3 s of loop time, took {float(looptime):g} s"
    for plain in (42, "text", [1, 2]):
        back = await within(coroutines.maybe_await(plain), 10, what=f"maybe_await({plain!r})")
        assert back is plain, f"maybe_await({plain!r}) should return the value itself, got {back!r}"

    async def refuses():
        raise PermissionError("not today")

    failing = refuses()
    try:
        got = await within(coroutines.maybe_await(failing), 10, what="maybe_await(refuses())")
    except PermissionError as exc:
        assert str(exc) == "not today", f"expected the coroutine's own PermissionError, got {exc!r}"
    else:
        raise AssertionError(f"the awaited coroutine raised PermissionError, but maybe_await returned {got!r}")
    finally:
        failing.close()


@pytest.mark.points(5)
async def test_pipeline_mixes_sync_and_async_steps(looptime):
    """pipeline passes the value through sync and async steps in order; a step that raises stops it."""

    async def slow_title(text):
        await asyncio.sleep(1)
        return text.title()

    result = await within(
        coroutines.pipeline("  ada lovelace ", str.strip, slow_title, coroutines.greet),
        10,
        what="pipeline(...)",
    )
    assert same(result, "Hello, Ada Lovelace!"), (
        f"expected strip -> title -> greet to give 'Hello, Ada Lovelace!', got {result!r}. "
        "Await what an async step returns before passing it on."
    )
    assert looptime == 1, f"expected 1 s of loop time (one step sleeps 1 s), took {float(looptime):g} s"

    reached = []

    def reject(text):
        raise ValueError(f"cannot greet {text!r}")

    try:
        got = await within(coroutines.pipeline("", slow_title, reject, reached.append), 10, what="pipeline with a failing step")
    except ValueError as exc:
        assert "cannot greet" in str(exc), f"expected the step's own ValueError, got {exc!r}"
    else:
        raise AssertionError(f"a step raised ValueError, but pipeline returned {got!r} instead of raising it")
    assert reached == [], f"after a step raised, the next step should not run; it got {reached!r}"


@pytest.mark.points(5)
async def test_countdown_yields_after_each_delay(looptime):
    """countdown(3, 1) yields 3, 2, 1 at 1, 2 and 3 s; a reader that stops early leaves nothing running."""

    async def collect():
        seen = []
        async for value in async_iterator(coroutines.countdown(3, 1), what="countdown(3, 1)"):
            seen.append((value, float(looptime)))
        return seen

    seen = await within(collect(), 10, what="async for over countdown(3, 1)")
    assert [v for v, _ in seen] == [3, 2, 1], f"expected the values 3, 2, 1, got {[v for v, _ in seen]!r}"
    assert [t for _, t in seen] == pytest.approx([1, 2, 3]), (
        f"expected the values at 1, 2 and 3 s of loop time, got them at {[t for _, t in seen]!r}: "
        "wait `delay` seconds (await asyncio.sleep) before yielding each value, not after."
    )

    before = tasks_now()
    values = async_iterator(coroutines.countdown(100, 2), what="countdown(100, 2)")
    async with contextlib.aclosing(values):  # closes the generator when the reader leaves early
        async for value in values:
            if value == 98:
                break
    assert looptime == 9, f"three values at 2 s each after the first countdown: expected 9 s, took {float(looptime):g} s"
    await asyncio.sleep(60)
    assert_nothing_left_running(before, what="countdown, after its reader stopped at 98,")


@pytest.mark.points(4)
async def test_stopwatch_measures_block(looptime):
    """`async with Stopwatch() as sw:` binds the stopwatch; afterwards sw.elapsed is the block's time, also after an error."""

    async def timed_block():
        async with coroutines.Stopwatch() as sw:
            await asyncio.sleep(3)
        return sw

    sw = await within(timed_block(), 10, what="async with Stopwatch()")
    assert isinstance(sw, coroutines.Stopwatch), (
        f"`as sw` should bind the Stopwatch itself (return self from __aenter__), got {sw!r}"
    )
    assert same(sw.elapsed, 3.0), (
        f"the block slept 3 s of loop time, sw.elapsed is {sw.elapsed!r}. "
        "Measure with asyncio.get_running_loop().time(), not time.time()."
    )

    watch = coroutines.Stopwatch()
    try:
        async with watch:
            await asyncio.sleep(4)
            {}["missing"]
    except KeyError:
        pass
    else:
        raise AssertionError("the block raised KeyError, but `async with Stopwatch()` swallowed it")
    assert same(watch.elapsed, 4.0), (
        f"the block ran 4 s before it raised, watch.elapsed is {watch.elapsed!r}: measure also when the block fails"
    )
