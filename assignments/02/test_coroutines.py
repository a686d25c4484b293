"""Public tests for assignment 02. Run them with `pytest assignments/02`.

The event loop runs on a virtual clock here: `await asyncio.sleep(30)` costs
no real time, and `looptime` is the loop's time in seconds since the test began.
`run()` is tested from plain (synchronous) test functions, since it starts a
loop of its own.
"""
import asyncio
import inspect

import pytest

import coroutines
from coursekit.testing import within


@pytest.mark.points(5)
async def test_greet_returns_greeting_after_delay(looptime):
    """greet("Ada", 2) returns "Hello, Ada!" after 2 s of loop time."""
    result = await within(coroutines.greet("Ada", 2), 10, what='greet("Ada", 2)')
    assert result == "Hello, Ada!", f"expected 'Hello, Ada!', got {result!r}"
    assert looptime == 2, f"expected 2 s of loop time, took {float(looptime):g} s"


@pytest.mark.points(5)
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
    assert result == "Hello, Bob!", f"awaiting the coroutine should give 'Hello, Bob!', got {result!r}"


@pytest.mark.points(5)
def test_run_returns_result_from_sync_code():
    """run(coro_fn, *args, **kwargs) runs coro_fn(*args, **kwargs) from plain code and returns its result."""

    async def add(a, b):
        await asyncio.sleep(0)
        return a + b

    greeting = coroutines.run(coroutines.greet, "Cy")
    assert greeting == "Hello, Cy!", f"run(greet, 'Cy') should return 'Hello, Cy!', got {greeting!r}"
    total = coroutines.run(add, 2, b=3)
    assert total == 5, f"run(add, 2, b=3) should return 5 (arguments passed through), got {total!r}"


@pytest.mark.points(5)
async def test_maybe_await_awaits_awaitables_and_passes_plain_values(looptime):
    """maybe_await awaits a coroutine and returns its result; a plain value comes back unchanged."""
    result = await within(coroutines.maybe_await(asyncio.sleep(3, result="slept")), 10, what="maybe_await(coroutine)")
    assert result == "slept", f"maybe_await(coroutine) should return the coroutine's result 'slept', got {result!r}"
    assert looptime == 3, f"awaiting asyncio.sleep(3) should take 3 s of loop time, took {float(looptime):g} s"
    for plain in (42, "text", [1, 2]):
        back = await within(coroutines.maybe_await(plain), 10, what=f"maybe_await({plain!r})")
        assert back is plain, f"maybe_await({plain!r}) should return the value itself, got {back!r}"


@pytest.mark.points(5)
async def test_pipeline_mixes_sync_and_async_steps(looptime):
    """pipeline passes the value through sync and async steps in order and returns the last result."""

    async def slow_title(text):
        await asyncio.sleep(1)
        return text.title()

    result = await within(
        coroutines.pipeline("  ada lovelace ", str.strip, slow_title, coroutines.greet),
        10,
        what="pipeline(...)",
    )
    assert result == "Hello, Ada Lovelace!", (
        f"expected strip -> title -> greet to give 'Hello, Ada Lovelace!', got {result!r}. "
        "Await what an async step returns before passing it on."
    )
    assert looptime == 1, f"expected 1 s of loop time (one step sleeps 1 s), took {float(looptime):g} s"


@pytest.mark.points(4)
async def test_countdown_yields_after_each_delay(looptime):
    """countdown(3, 1) yields 3, 2, 1, each after waiting 1 s (at 1, 2 and 3 s)."""

    async def collect():
        seen = []
        async for value in coroutines.countdown(3, 1):
            seen.append((value, float(looptime)))
        return seen

    seen = await within(collect(), 10, what="async for over countdown(3, 1)")
    assert [v for v, _ in seen] == [3, 2, 1], f"expected the values 3, 2, 1, got {[v for v, _ in seen]!r}"
    assert [t for _, t in seen] == pytest.approx([1, 2, 3]), (
        f"expected the values at 1, 2 and 3 s of loop time, got them at {[t for _, t in seen]!r}: "
        "wait `delay` seconds (await asyncio.sleep) before yielding each value, not after."
    )


@pytest.mark.points(4)
async def test_stopwatch_measures_block(looptime):
    """`async with Stopwatch() as sw:` binds the stopwatch; afterwards sw.elapsed is the block's loop time."""

    async def timed_block():
        async with coroutines.Stopwatch() as sw:
            await asyncio.sleep(3)
        return sw

    sw = await within(timed_block(), 10, what="async with Stopwatch()")
    assert isinstance(sw, coroutines.Stopwatch), (
        f"`as sw` should bind the Stopwatch itself (return self from __aenter__), got {sw!r}"
    )
    assert sw.elapsed == pytest.approx(3), (
        f"the block slept 3 s of loop time, sw.elapsed is {sw.elapsed!r}. "
        "Measure with asyncio.get_running_loop().time(), not time.time()."
    )
