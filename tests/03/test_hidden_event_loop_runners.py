"""Hidden tests for assignment 03 (part 1): run_legacy, run_modern, run_all_on_one_loop.

The runners are called from plain synchronous tests, as from a script. Each
test sets a loop of its own as the thread's current loop first, so what the
code under test does to the current loop can be seen and is undone afterwards.
"""
import asyncio

import pytest

import event_loop
from coursekit.loops import current_loop, fresh_error, fresh_hint, run_fresh, sentinel_loop  # noqa: F401  (sentinel_loop: a fixture)
from coursekit.testing import assert_same, same

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


def finish(agens) -> None:
    """Close async generators a wrong solution left suspended, so they cannot disturb later tests."""
    for agen in agens:
        if agen.ag_frame is None:  # already finished
            continue
        closing = agen.aclose()
        try:
            closing.send(None)
        except StopIteration:
            pass
        except BaseException:  # noqa: BLE001 - cleanup only
            closing.close()


def legacy(coro_fn, *args):
    """Call event_loop.run_legacy, turning the usual loop-reuse RuntimeErrors into feedback."""
    try:
        return event_loop.run_legacy(coro_fn, *args)
    except NotImplementedError:
        raise
    except RuntimeError as exc:
        if "loop" not in str(exc):
            raise
        raise AssertionError(f"run_legacy failed with RuntimeError: {exc}. {NEW_LOOP_HINT}") from exc


class Boom(Exception):
    """The error the test coroutines raise."""


async def ok(value="ok"):
    await asyncio.sleep(0)
    return value


# --- run_legacy ----------------------------------------------------------------


@pytest.mark.points(3)
def test_run_legacy_makes_a_new_loop_current(sentinel_loop):
    """While the coroutine runs, run_legacy's new loop is the thread's current loop (set_event_loop)."""
    seen = {}

    async def probe():
        await asyncio.sleep(0)
        seen["running"] = asyncio.get_running_loop()
        seen["current"] = current_loop()
        return "done"

    assert_same(legacy(probe), "done", what="run_legacy(probe), the coroutine's result,")
    assert seen["running"] is not sentinel_loop, (
        f"run_legacy reused the loop that was already current instead of creating a new one. {NEW_LOOP_HINT}"
    )
    assert seen["current"] is seen["running"], (
        "while the coroutine ran, the current loop (what asyncio.get_event_loop() gives to code outside "
        f"coroutines) was not the running one: make the new loop current. {NEW_LOOP_HINT}"
    )


@pytest.mark.points(3)
def test_run_legacy_unsets_the_current_loop(sentinel_loop):
    """After run_legacy returns, its closed loop is no longer the thread's current loop."""

    async def which():
        await asyncio.sleep(0)
        return asyncio.get_running_loop()

    used = legacy(which)
    now = current_loop()
    assert now is not used, (
        "run_legacy left its closed loop set as the current loop, so later code calling "
        f"asyncio.get_event_loop() gets a dead loop. Call asyncio.set_event_loop(None). {NEW_LOOP_HINT}"
    )
    assert now is None or not now.is_closed(), f"after run_legacy the current loop is a closed loop. {NEW_LOOP_HINT}"


@pytest.mark.points(5)
def test_run_legacy_cleans_up_when_the_coroutine_raises(sentinel_loop):
    """When the coroutine raises, the exception propagates, the loop is closed and unset, and run_legacy still works after."""
    seen = []

    async def failing():
        seen.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        raise Boom("boom")

    try:
        event_loop.run_legacy(failing)
    except Boom:
        pass
    else:
        raise AssertionError("the coroutine raised Boom, but run_legacy returned instead of letting it propagate")
    used = seen[0]
    assert used.is_closed(), (
        f"after the coroutine raised, run_legacy left its loop open: close it in a `finally:`. {NEW_LOOP_HINT}"
    )
    assert current_loop() is not used, (
        f"after the coroutine raised, run_legacy left its closed loop set as current. {NEW_LOOP_HINT}"
    )
    again = legacy(ok, "again")
    assert same(again, "again"), f"run_legacy should work again after a failed call, got {again!r}"


class SuspendedGenerators:
    """Async generators that a coroutine leaves suspended; ``events`` records their ``finally`` blocks."""

    def __init__(self):
        self.events = []
        self.agens = []  # kept alive: only the loop's shutdown can finalize them

    async def numbers(self):
        try:
            yield 1
            yield 2
        finally:
            self.events.append("finally")

    async def take_first(self):
        """Start a generator, take its first value and leave it suspended."""
        agen = self.numbers()
        self.agens.append(agen)
        return await agen.__anext__()


@pytest.mark.points(4)
def test_run_legacy_shuts_down_async_generators(sentinel_loop):
    """run_legacy shuts down async generators left suspended, so their `finally` blocks run."""
    gens = SuspendedGenerators()
    try:
        result = legacy(gens.take_first)
        assert_same(result, 1, what="run_legacy(take_first)")
        assert gens.events == ["finally"], (
            "an async generator was left suspended, and its `finally` block did not run by the time "
            "run_legacy returned: run loop.shutdown_asyncgens() on the loop before closing it."
        )
    finally:
        finish(gens.agens)


@pytest.mark.points(2)
def test_run_legacy_shuts_down_async_generators_after_an_error(sentinel_loop):
    """Even when the coroutine raises, run_legacy shuts down async generators left suspended."""
    gens = SuspendedGenerators()

    async def take_first_then_fail():
        await gens.take_first()
        raise Boom("boom")

    try:
        try:
            event_loop.run_legacy(take_first_then_fail)
        except Boom:
            pass
        else:
            raise AssertionError("the coroutine raised Boom, but run_legacy did not let it propagate")
        assert gens.events == ["finally"], (
            "after the coroutine raised, an async generator's `finally` block did not run: shut down "
            "async generators in a `finally:` around run_until_complete."
        )
    finally:
        finish(gens.agens)


@pytest.mark.points(2)
def test_run_legacy_many_times_in_a_row(sentinel_loop):
    """Five run_legacy calls in a row each use a new loop, and each loop ends closed."""
    loops = []

    async def which(i):
        await asyncio.sleep(0)
        loops.append(asyncio.get_running_loop())
        return i

    results = [legacy(which, i) for i in range(5)]
    assert same(results, [0, 1, 2, 3, 4]), f"expected [0, 1, 2, 3, 4], got {results!r}"
    assert len({id(loop) for loop in loops}) == 5, (
        f"five calls should use five new loops; they used {len({id(loop) for loop in loops})}. {NEW_LOOP_HINT}"
    )
    assert all(loop.is_closed() for loop in loops), f"every call should close its loop. {NEW_LOOP_HINT}"


@pytest.mark.points(3)
def test_run_legacy_does_not_use_asyncio_run_or_runner(sentinel_loop, monkeypatch):
    """run_legacy writes the loop flow out itself: no asyncio.run, no asyncio.Runner."""
    real_run, real_runner = asyncio.run, asyncio.Runner
    used = []

    def fake_run(main, *args, **kwargs):
        used.append("asyncio.run")
        if asyncio.iscoroutine(main):
            main.close()
        raise RuntimeError("asyncio.run is not allowed in run_legacy")

    class FakeRunner:
        def __init__(self, *args, **kwargs):
            used.append("asyncio.Runner")
            raise RuntimeError("asyncio.Runner is not allowed in run_legacy")

    with monkeypatch.context() as patch:
        for module in (asyncio, asyncio.runners, event_loop):
            for name, value in list(vars(module).items()):
                if value is real_run:
                    patch.setattr(module, name, fake_run)
                elif value is real_runner:
                    patch.setattr(module, name, FakeRunner)
        try:
            result = event_loop.run_legacy(ok, "legacy")
        except RuntimeError as exc:
            if not used:
                raise
            result = exc
    assert not used, (
        f"run_legacy used {' and '.join(sorted(set(used)))}; this function is about the explicit flow: "
        f"new_event_loop, set_event_loop, run_until_complete, shutdown_asyncgens, close. {NEW_LOOP_HINT}"
    )
    assert_same(result, "legacy", what="run_legacy(ok, 'legacy')")


@pytest.mark.points(2)
def test_run_legacy_no_deprecation_warning_after_an_error():
    """In a fresh Python (DeprecationWarning as error), run_legacy recovers after a failing coroutine and unsets its loop."""
    proc = run_fresh(
        """
        async def boom():
            await asyncio.sleep(0)
            raise KeyError("boom")

        async def double(x):
            await asyncio.sleep(0)
            return 2 * x

        try:
            event_loop.run_legacy(boom)
        except KeyError:
            pass
        else:
            raise SystemExit("run_legacy did not let the coroutine's KeyError propagate")
        assert event_loop.run_legacy(double, 5) == 10, "run_legacy(double, 5) should return 10"
        policy = asyncio.get_event_loop_policy()
        try:
            left = policy.get_event_loop()
        except RuntimeError:
            left = None
        assert left is None or not left.is_closed(), "a closed loop was left set as the current loop"
        print("OK")
        """,
        event_loop,
    )
    error = fresh_error(proc)
    hint = fresh_hint(error, NEW_LOOP_HINT)
    assert proc.returncode == 0 and "OK" in proc.stdout, (
        "in a fresh Python (DeprecationWarning turned into an error), a failing run_legacy call followed by "
        f"a good one failed with: {error}. {hint}"
    )


# --- run_modern ----------------------------------------------------------------


@pytest.mark.points(2)
def test_run_modern_uses_a_fresh_loop_and_propagates_errors(sentinel_loop):
    """run_modern runs each call on a new loop that ends closed, and lets the coroutine's exception through."""
    loops = []

    async def which():
        await asyncio.sleep(0)
        loops.append(asyncio.get_running_loop())
        return "fine"

    async def failing():
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        raise Boom("boom")

    assert_same(event_loop.run_modern(which), "fine", what="run_modern(which)")
    try:
        event_loop.run_modern(failing)
    except Boom:
        pass
    else:
        raise AssertionError("the coroutine raised Boom, but run_modern did not let it propagate")
    assert len(loops) == 2, f"expected both coroutines to run once each, {len(loops)} ran"
    assert loops[0] is not loops[1] and sentinel_loop not in loops, (
        "run_modern should run each call on a fresh loop (asyncio.run does), not reuse one"
    )
    assert all(loop.is_closed() for loop in loops), "run_modern should leave its loop closed, also after an exception"


@pytest.mark.points(1)
def test_run_modern_debug_is_off_by_default(sentinel_loop):
    """run_modern(coro_fn, *args) without debug runs with loop debug mode off."""

    async def probe(x):
        await asyncio.sleep(0)
        return x, asyncio.get_running_loop().get_debug()

    result = event_loop.run_modern(probe, "x")
    assert same(result, ("x", False)), f"expected ('x', False): the result, debug mode off by default; got {result!r}"


# --- run_all_on_one_loop -------------------------------------------------------


@pytest.mark.points(2)
def test_run_all_on_one_loop_closes_the_loop(sentinel_loop):
    """run_all_on_one_loop closes its loop when every coro_fn has run."""
    loops = []

    async def which():
        await asyncio.sleep(0)
        loops.append(asyncio.get_running_loop())
        return len(loops)

    results = event_loop.run_all_on_one_loop([which, which])
    assert_same(results, [1, 2], what="run_all_on_one_loop([which, which])")
    assert loops[0] is not sentinel_loop, "run_all_on_one_loop should make its own loop, not reuse the current one"
    assert loops[0].is_closed(), f"run_all_on_one_loop left its loop open. {RUNNER_HINT}"


@pytest.mark.points(2)
def test_run_all_on_one_loop_runs_one_after_another(sentinel_loop):
    """Each coro_fn starts only after the previous one finished, and a task one of them starts is still there for the next."""
    log = []
    started = []

    def make(name):
        async def job():
            log.append(f"{name} start")
            for _ in range(3):
                await asyncio.sleep(0)
            log.append(f"{name} end")
            return name

        return job

    async def start_background():
        started.append(asyncio.get_running_loop().create_task(ok("background")))
        return "started"

    async def await_background():
        return await started[0]

    try:
        results = event_loop.run_all_on_one_loop([make("a"), make("b"), start_background, await_background])
    except NotImplementedError:
        raise
    except (asyncio.CancelledError, RuntimeError) as exc:
        raise AssertionError(
            f"a coro_fn awaiting a task that the previous coro_fn started failed with {type(exc).__name__}: "
            f"{exc}. On one shared loop that task would still be there. {RUNNER_HINT}"
        ) from exc
    assert log == ["a start", "a end", "b start", "b end"], (
        f"coro_fns should run in turn, each after the previous one ended; saw {log!r}"
    )
    assert same(results, ["a", "b", "started", "background"]), (
        f"expected ['a', 'b', 'started', 'background']: on one loop, a task started by one coro_fn can be "
        f"awaited by the next; got {results!r}. {RUNNER_HINT}"
    )


@pytest.mark.points(3)
def test_run_all_on_one_loop_closes_the_loop_when_one_raises(sentinel_loop):
    """When a coro_fn raises, run_all_on_one_loop lets the exception through and still closes its loop."""
    loops = []

    async def fine():
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        return "fine"

    async def failing():
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        raise Boom("boom")

    try:
        event_loop.run_all_on_one_loop([fine, failing, fine])
    except Boom:
        pass
    else:
        raise AssertionError("the second coro_fn raised Boom, but run_all_on_one_loop did not let it propagate")
    assert len(loops) >= 2, f"expected at least the first two coro_fns to run, {len(loops)} ran"
    assert loops[0] is loops[1], f"the coro_fns should all run on the same loop. {RUNNER_HINT}"
    assert loops[0].is_closed(), f"after a coro_fn raised, the loop was left open. {RUNNER_HINT}"


@pytest.mark.points(1)
def test_run_all_on_one_loop_empty(sentinel_loop):
    """run_all_on_one_loop([]) returns []."""
    assert_same(event_loop.run_all_on_one_loop([]), [], what="run_all_on_one_loop([])")
