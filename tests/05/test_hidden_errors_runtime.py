"""Hidden tests for assignment 05, part 2: worker, collect_loop_errors, find_slow_steps."""
import asyncio
import gc
import logging
import threading

import pytest

import errors
from coursekit import hints
from coursekit.testing import assert_ends_cancelled, assert_same, drain, stop, within


class Cleanup:
    """An async cleanup callable that takes 1 s and counts its starts and ends."""

    def __init__(self) -> None:
        self.started = 0
        self.finished = 0

    async def __call__(self) -> None:
        self.started += 1
        await asyncio.sleep(1)
        self.finished += 1


# --- worker -----------------------------------------------------------------


@pytest.mark.points(2)
async def test_worker_calls_task_done_after_handling(looptime):
    """The worker handles items one at a time, in queue order, and calls task_done only when handle(item) has finished."""
    queue = asyncio.Queue()
    handled = []

    async def handle(item):
        await asyncio.sleep(item)
        handled.append(item)

    for item in [3, 1, 2]:
        queue.put_nowait(item)
    task = asyncio.create_task(errors.worker(queue, handle, Cleanup()))
    try:
        await drain(queue, task, seconds=60, what="worker")
        assert looptime == 6, (
            f"queue.join() should finish when the last handle() has finished (3 + 1 + 2 = 6 s), it finished at "
            f"{float(looptime):g} s: call task_done() after `await handle(item)`, one item at a time"
        )
        assert handled == [3, 1, 2], f"expected the items handled in queue order [3, 1, 2], got {handled!r}"
        assert not task.done(), "the worker should keep waiting for more items after the queue is drained"
    finally:
        await stop(task)


@pytest.mark.points(3)
async def test_worker_cancelled_while_idle_awaits_cleanup_once(looptime):
    """A worker cancelled while it waits for items awaits cleanup() exactly once, then ends cancelled."""
    queue = asyncio.Queue()
    cleanup = Cleanup()

    async def handle(item):
        await asyncio.sleep(1)

    queue.put_nowait("item")
    task = asyncio.create_task(errors.worker(queue, handle, cleanup))
    try:
        await drain(queue, task, seconds=60, what="worker")
        await asyncio.sleep(5)
        assert cleanup.started == 0, f"cleanup() should run only when the worker is cancelled, it ran {cleanup.started} time(s) before"
    except BaseException:
        await stop(task)
        raise
    cancelled_at = float(looptime)
    task.cancel()
    await assert_ends_cancelled(task, what="the worker")
    assert (cleanup.started, cleanup.finished) == (1, 1), (
        f"expected cleanup() started and awaited to its end once, saw {cleanup.started} start(s) and "
        f"{cleanup.finished} end(s). {hints.NOT_AWAITED}"
    )
    assert float(looptime) == pytest.approx(cancelled_at + 1), (
        f"the worker should end right after the 1 s cleanup, it took {float(looptime) - cancelled_at:g} s"
    )


@pytest.mark.points(2)
async def test_worker_cancelled_while_handling_awaits_cleanup(looptime):
    """A worker cancelled in the middle of handle(item) stops handling, awaits cleanup() once and ends cancelled."""
    queue = asyncio.Queue()
    cleanup = Cleanup()
    seen = []

    async def handle(item):
        try:
            await asyncio.sleep(10)
            seen.append("finished")
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    queue.put_nowait("slow item")
    queue.put_nowait("next item")
    task = asyncio.create_task(errors.worker(queue, handle, cleanup))
    await asyncio.sleep(2)
    if task.done():
        task.result()
    task.cancel()
    await assert_ends_cancelled(task, what="the worker (cancelled inside handle)")
    assert seen == ["cancelled"], f"the running handle() should be cancelled and no other item started, saw {seen!r}"
    assert (cleanup.started, cleanup.finished) == (1, 1), (
        f"expected cleanup() awaited once, saw {cleanup.started} start(s) and {cleanup.finished} end(s)"
    )


@pytest.mark.points(2)
async def test_worker_survives_many_failures(looptime, caplog):
    """Each failing item is logged on "course.worker" with its own exception, and the worker goes on to the next."""
    queue = asyncio.Queue()
    problems = [KeyError("k"), RuntimeError("r"), OSError("o")]
    handled = []

    async def handle(item):
        await asyncio.sleep(0)
        if isinstance(item, Exception):
            raise item
        handled.append(item)

    for item in [*problems, "fine"]:
        queue.put_nowait(item)
    with caplog.at_level(logging.ERROR, logger="course.worker"):
        task = asyncio.create_task(errors.worker(queue, handle, Cleanup()))
        try:
            await drain(queue, task, seconds=60, what="worker")
            assert not task.done(), "the worker should still be running after failures"
        finally:
            await stop(task)
    assert handled == ["fine"], f"expected the last item handled after three failures, got {handled!r}"
    records = [r for r in caplog.records if r.name == "course.worker" and r.levelno >= logging.ERROR]
    logged = [r.exc_info[1] if r.exc_info else None for r in records]
    assert logged == problems, (
        f"expected one ERROR record with exc_info per failure on 'course.worker', in order {problems!r}; "
        f"got {logged!r}. Use logging.getLogger('course.worker').exception(...)"
    )


# --- collect_loop_errors ----------------------------------------------------


@pytest.mark.points(2)
async def test_collect_loop_errors_catches_unretrieved_task_exception(looptime, caplog):
    """A task whose exception nobody retrieved is reported to the sink, and asyncio logs nothing about it."""
    loop = asyncio.get_running_loop()
    sink = []
    restore = errors.collect_loop_errors(loop, sink)
    try:
        problem = ValueError("nobody looked at me")

        async def explode():
            raise problem

        with caplog.at_level(logging.ERROR, logger="asyncio"):
            task = asyncio.create_task(explode())
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            assert task.done(), "the failing task should be done by now"
            del task
            gc.collect()
        reported = [c for c in sink if isinstance(c, dict) and c.get("exception") is problem]
        assert len(reported) == 1, (
            f"expected the 'Task exception was never retrieved' context of the task in the sink, sink is {sink!r}"
        )
        assert "message" in reported[0], f"the context dict should be kept as asyncio gave it, got {reported[0]!r}"
        logged = [r for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR]
        assert not logged, (
            f"the error should go to the sink instead of the log, asyncio still logged: {[r.getMessage() for r in logged]!r}"
        )
    finally:
        restore()
        loop.set_exception_handler(None)


@pytest.mark.points(2)
async def test_collect_loop_errors_restore_stops_collecting(looptime):
    """After restore, the loop has no custom handler again (the previous None) and reports stop reaching the sink."""
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(None)
    sink = []
    first = {"message": "first"}
    second = {"message": "second", "exception": KeyError("k")}
    restore = errors.collect_loop_errors(loop, sink)
    try:
        loop.call_exception_handler(first)
        loop.call_exception_handler(second)
        assert sink == [first, second], f"expected both context dicts, in order, in the sink; sink is {sink!r}"
        assert callable(restore), f"collect_loop_errors should return a function, got {restore!r}"
        restore()
        assert loop.get_exception_handler() is None, (
            f"no handler was installed before, so none should be left after restore; found {loop.get_exception_handler()!r}"
        )
        recorded = []
        loop.set_exception_handler(lambda loop, context: recorded.append(context))
        loop.call_exception_handler({"message": "third"})
        assert sink == [first, second], f"after restore nothing more should reach the sink; sink is {sink!r}"
    finally:
        loop.set_exception_handler(None)


@pytest.mark.points(1)
async def test_collect_loop_errors_uses_the_given_loop(looptime):
    """collect_loop_errors installs its handler on the loop it is given, which need not be the running one."""
    running = asyncio.get_running_loop()
    running.set_exception_handler(None)
    other = asyncio.new_event_loop()
    try:
        sink = []
        restore = errors.collect_loop_errors(other, sink)
        context = {"message": "on the other loop"}
        other.call_exception_handler(context)
        assert sink == [context], f"a report on the given loop should reach the sink, sink is {sink!r}"
        assert running.get_exception_handler() is None, "the running loop's handler should not be touched"
        restore()
        assert other.get_exception_handler() is None, "restore should put back the given loop's previous handler (None)"
    finally:
        other.close()
        running.set_exception_handler(None)


# --- find_slow_steps (real time) -------------------------------------------


@pytest.mark.points(2)
@pytest.mark.looptime(False)
async def test_find_slow_steps_turns_debug_on_then_restores():
    """While coro_fn runs, debug mode is on and slow_callback_duration is the threshold; both are restored afterwards."""
    loop = asyncio.get_running_loop()
    seen = []

    async def probe():
        await asyncio.sleep(0)
        seen.append((loop.get_debug(), loop.slow_callback_duration))

    original = (loop.get_debug(), loop.slow_callback_duration)
    try:
        for before in [(False, 0.1), (True, 0.25)]:
            loop.set_debug(before[0])
            loop.slow_callback_duration = before[1]
            seen.clear()
            await within(errors.find_slow_steps(probe, threshold=0.75), 5, what="find_slow_steps")
            assert seen == [(True, 0.75)], (
                f"while coro_fn runs, expected (debug, slow_callback_duration) == (True, 0.75), saw {seen!r}"
            )
            after = (loop.get_debug(), loop.slow_callback_duration)
            assert after == before, f"expected the settings {before!r} restored afterwards, found {after!r}"
    finally:
        loop.set_debug(original[0])
        loop.slow_callback_duration = original[1]


@pytest.mark.points(1)
@pytest.mark.looptime(False)
@pytest.mark.allow_blocking
async def test_find_slow_steps_reports_each_slow_step():
    """Two separate 50 ms blocking steps give at least two "Executing ... took ... seconds" messages, as strings."""

    async def two_blocking_steps():
        threading.Event().wait(0.05)
        await asyncio.sleep(0)
        threading.Event().wait(0.05)

    messages = await within(errors.find_slow_steps(two_blocking_steps, threshold=0.01), 5, what="find_slow_steps")
    assert isinstance(messages, list) and all(isinstance(m, str) for m in messages), (
        f"expected a list of message strings, got {messages!r}"
    )
    slow = [m for m in messages if "Executing" in m and "took" in m and "seconds" in m]
    assert len(slow) >= 2, f"expected at least two 'Executing ... took ... seconds' messages, got {messages!r}"


@pytest.mark.points(1)
@pytest.mark.looptime(False)
async def test_find_slow_steps_fast_work_gives_no_messages():
    """Work whose steps are all far below the threshold (1 s) gives an empty list."""
    loop = asyncio.get_running_loop()

    async def quick():
        for _ in range(3):
            await asyncio.sleep(0)
        return "done"

    before = (loop.get_debug(), loop.slow_callback_duration)
    messages = await within(errors.find_slow_steps(quick, threshold=1.0), 5, what="find_slow_steps")
    assert_same(messages, [], what="find_slow_steps' messages for quick work (an empty list)")
    after = (loop.get_debug(), loop.slow_callback_duration)
    assert after == before, f"expected the settings {before!r} restored afterwards, found {after!r}"


@pytest.mark.points(1)
@pytest.mark.looptime(False)
async def test_find_slow_steps_restores_settings_when_work_fails():
    """If coro_fn raises, the loop's debug settings are restored all the same."""
    loop = asyncio.get_running_loop()

    async def failing():
        await asyncio.sleep(0)
        raise ValueError("broken step")

    original = (loop.get_debug(), loop.slow_callback_duration)
    loop.set_debug(False)
    loop.slow_callback_duration = 0.3
    try:
        try:
            await within(errors.find_slow_steps(failing, threshold=0.5), 5, what="find_slow_steps")
        except ValueError:
            pass  # letting coro_fn's exception propagate is the natural choice; returning is accepted
        after = (loop.get_debug(), loop.slow_callback_duration)
        assert after == (False, 0.3), f"expected (False, 0.3) restored after coro_fn raised, found {after!r}. Use try/finally."
    finally:
        loop.set_debug(original[0])
        loop.slow_callback_duration = original[1]


def logging_setup() -> list:
    """What a handler, filter or level change left behind would alter on the loggers find_slow_steps may touch."""
    loggers = [logging.getLogger("asyncio"), logging.getLogger()]
    return [(lg.name, list(lg.handlers), list(lg.filters), lg.level, lg.propagate, lg.disabled) for lg in loggers]


@pytest.mark.points(1)
@pytest.mark.looptime(False)
@pytest.mark.allow_blocking
async def test_find_slow_steps_leaves_logging_as_it_found_it():
    """find_slow_steps removes whatever it attached to logging (also when coro_fn raises): later slow steps no longer reach its list."""
    loop = asyncio.get_running_loop()
    original = (loop.get_debug(), loop.slow_callback_duration)

    async def blocking_step():
        await asyncio.sleep(0)
        threading.Event().wait(0.05)

    async def failing_step():
        await asyncio.sleep(0)
        raise ValueError("broken step")

    before = logging_setup()
    try:
        messages = await within(errors.find_slow_steps(blocking_step, threshold=0.01), 5, what="find_slow_steps")
        assert logging_setup() == before, (
            "find_slow_steps left the 'asyncio' (or root) logger changed: remove the handler or filter you added "
            "(and restore any level) in a `finally:`, or every call leaves one more behind"
        )
        assert isinstance(messages, list), f"expected a list of messages, got {messages!r}"
        kept = list(messages)
        loop.set_debug(True)
        loop.slow_callback_duration = 0.01
        await asyncio.create_task(blocking_step())  # a slow step after find_slow_steps returned
        loop.set_debug(original[0])
        loop.slow_callback_duration = original[1]
        assert messages == kept, (
            f"a slow step logged after find_slow_steps returned still reached its list ({messages[len(kept):]!r}): "
            "stop collecting when it returns"
        )
        try:
            await within(errors.find_slow_steps(failing_step, threshold=0.5), 5, what="find_slow_steps")
        except ValueError:
            pass  # propagating coro_fn's exception is the natural choice; returning is accepted
        assert logging_setup() == before, (
            "find_slow_steps left the 'asyncio' (or root) logger changed after coro_fn raised: undo it in a `finally:`"
        )
    finally:
        loop.set_debug(original[0])
        loop.slow_callback_duration = original[1]


@pytest.mark.points(1)
@pytest.mark.looptime(False)
@pytest.mark.allow_blocking
async def test_find_slow_steps_returns_only_slow_step_messages():
    """Other things asyncio logs while the work runs (here an error report) are not slow steps and stay out of the list."""
    loop = asyncio.get_running_loop()
    handler_before = loop.get_exception_handler()

    async def slow_and_noisy():
        await asyncio.sleep(0)
        loop.call_exception_handler({"message": "an unrelated error report"})
        threading.Event().wait(0.05)

    loop.set_exception_handler(None)  # the default handler: it logs the report on the "asyncio" logger
    try:
        messages = await within(errors.find_slow_steps(slow_and_noisy, threshold=0.01), 5, what="find_slow_steps")
    finally:
        loop.set_exception_handler(handler_before)
    assert isinstance(messages, list) and all(isinstance(m, str) for m in messages), (
        f"expected a list of message strings, got {messages!r}"
    )
    assert any("Executing" in m and "took" in m for m in messages), f"expected the 50 ms step reported, got {messages!r}"
    others = [m.splitlines()[0][:80] if m else m for m in messages if not m.startswith("Executing")]
    assert not others, (
        f"only the slow-step messages ('Executing ... took ... seconds') belong in the list, it also holds {others!r}: "
        "keep only the records whose message starts with 'Executing'"
    )
