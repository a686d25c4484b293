"""Public tests for assignment 05. Run them with `pytest assignments/05`.

The event loop runs on a virtual clock here: `await asyncio.sleep(30)` costs
no real time, and `looptime` is the loop's time in seconds since the test
began. The find_slow_steps test is the exception: slow steps are measured in
real time, so it runs on the real clock and blocks the loop for 50 ms on purpose.
"""
import asyncio
import logging
import threading

import pytest

import errors
from coursekit import hints
from coursekit.testing import Work, assert_same, drain, loop_time, raised_by, stop, within


@pytest.mark.points(3)
async def test_with_timeout_returns_result_in_time(looptime):
    """with_timeout returns the result of work that finishes before the deadline, as soon as it finishes."""
    aw = asyncio.sleep(1, result="done")
    try:
        result = await within(errors.with_timeout(aw, 5, default="late"), 60, what="with_timeout(sleep 1 s, 5)")
    finally:
        aw.close()  # no-op once awaited; keeps a "never awaited" warning out of other tests
    assert_same(result, "done", what="with_timeout's result (the work's own)")
    assert looptime == 1, f"expected to return after 1 s (when the work finished), took {float(looptime):g} s"


@pytest.mark.points(4)
async def test_with_timeout_returns_default_and_cancels_work(looptime):
    """When the deadline passes first, with_timeout returns the default at the deadline, and the work was cancelled."""
    seen = []

    async def slow():
        try:
            await asyncio.sleep(10)
            seen.append("finished")
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    aw = slow()
    try:
        result = await within(errors.with_timeout(aw, 2, default="fallback"), 60, what="with_timeout(slow, 2)")
    finally:
        aw.close()
    assert_same(result, "fallback", what="with_timeout's result after the timeout (the default)")
    assert looptime == 2, f"expected to give up at the 2 s deadline, took {float(looptime):g} s"
    assert seen == ["cancelled"], (
        f"the slow work should have been cancelled by the time with_timeout returned; it saw {seen!r}"
    )


@pytest.mark.points(5)
async def test_retry_backs_off_exponentially(looptime):
    """retry waits base_delay * factor ** i before retry i: with base 1 and factor 2 the attempts start at 0, 1, 3, 7 s."""
    starts = []

    async def flaky():
        starts.append(loop_time())
        if len(starts) < 4:
            raise ConnectionError(f"attempt {len(starts)} failed")
        return "ok"

    result = await within(
        errors.retry(flaky, attempts=4, base_delay=1, factor=2), 60, what="retry(flaky, attempts=4)"
    )
    assert_same(result, "ok", what="retry's result (the successful 4th attempt's)")
    assert len(starts) == 4, f"expected 4 calls (3 failures, then success), saw {len(starts)}"
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert gaps == pytest.approx([1, 2, 4]), (
        f"expected waits of 1, 2, 4 s between attempts (base_delay * factor ** i), saw {gaps!r}"
    )


@pytest.mark.points(3)
async def test_retry_gives_up_with_the_last_error(looptime):
    """retry(attempts=3, base_delay=2, factor=3) on work that always fails: waits 2 s and 6 s, then raises the 3rd attempt's error."""
    errors_raised = []

    async def always_down():
        errors_raised.append(ConnectionResetError(f"try {len(errors_raised) + 1}"))
        raise errors_raised[-1]

    raised = await raised_by(
        errors.retry(always_down, attempts=3, base_delay=2, factor=3), ConnectionResetError,
        what="retry(always failing, attempts=3)",
    )
    assert len(errors_raised) == 3, f"expected exactly 3 attempts, saw {len(errors_raised)}"
    assert raised is errors_raised[-1], (
        f"expected the exception of the last attempt ({errors_raised[-1]!r}), got {raised!r}"
    )
    assert looptime == 8, (
        f"expected the error at 8 s (waits of 2 and 6 s, none after the last attempt), it came at {float(looptime):g} s"
    )


@pytest.mark.points(4)
async def test_settle_splits_results_and_failures(looptime):
    """settle runs everything at once; successes come back in input order, failures as (index, exception) by index."""
    work = Work()
    first_error, second_error = ValueError("job 1 failed"), KeyError("job 3 failed")
    fns = [
        work.job("a", delay=3),
        work.job(delay=2, error=first_error),
        work.job("c", delay=1),
        work.job(delay=0.5, error=second_error),
    ]
    outcome = await within(errors.settle(fns), 60, what="settle")
    assert type(outcome) is tuple and len(outcome) == 2, (
        f"settle should return a tuple (results, failures), got {type(outcome).__name__}: {outcome!r}"
    )
    results, failures = outcome
    assert_same(results, ["a", "c"], what="the successes (input order)")
    assert type(failures) is list and [type(pair) for pair in failures] == [tuple, tuple], (
        f"failures should be a list of (index, exception) tuples, got {failures!r}"
    )
    assert_same([index for index, _ in failures], [1, 3], what="the failures' indexes (ascending)")
    assert failures[0][1] is first_error and failures[1][1] is second_error, (
        f"each failure should carry the exception its job raised, got {failures!r}"
    )
    assert looptime == 3, f"expected 3 s (the longest job), took {float(looptime):g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(2)
def test_count_leaf_exceptions_in_nested_groups():
    """count_leaf_exceptions counts the exceptions inside nested groups by class name, not the groups."""
    group = ExceptionGroup(
        "outer",
        [
            ValueError("a"),
            ExceptionGroup("inner", [ValueError("b"), KeyError("c")]),
            TypeError("d"),
        ],
    )
    counts = errors.count_leaf_exceptions(group)
    expected = {"ValueError": 2, "KeyError": 1, "TypeError": 1}
    assert isinstance(counts, dict), f"count_leaf_exceptions should return a dict, got {type(counts).__name__}: {counts!r}"
    assert_same(dict(counts), expected, what="the counts (nested groups are not leaves: count what is inside them)")


@pytest.mark.points(4)
async def test_worker_logs_failures_and_keeps_going(looptime, caplog):
    """A failing item is logged on "course.worker" at ERROR level with its traceback; the worker goes on and task_done is called for every item."""
    queue = asyncio.Queue()
    handled = []
    bad = ValueError("bad item")

    async def handle(item):
        await asyncio.sleep(1)
        if item == "bad":
            raise bad
        handled.append(item)

    async def cleanup():
        pass

    for item in ["a", "bad", "c"]:
        queue.put_nowait(item)
    with caplog.at_level(logging.ERROR, logger="course.worker"):
        task = asyncio.create_task(errors.worker(queue, handle, cleanup))
        try:
            await drain(queue, task, seconds=60, what="worker")
        finally:
            await stop(task)
    assert looptime == 3, (
        f"queue.join() should finish when handle() has finished all 3 items (3 s), it finished at "
        f"{float(looptime):g} s: call queue.task_done() after `await handle(item)`, not before"
    )
    assert handled == ["a", "c"], f"expected 'a' and 'c' handled after the failure of 'bad', got {handled!r}"
    records = [r for r in caplog.records if r.name == "course.worker"]
    assert len(records) == 1, (
        f"expected one log record on the 'course.worker' logger for the failed item, got {len(records)}"
    )
    assert records[0].levelno == logging.ERROR, f"expected level ERROR, got {records[0].levelname}"
    exc_info = records[0].exc_info
    assert exc_info and exc_info[1] is bad, (
        "the record should carry the exception and its traceback: use "
        "logging.getLogger('course.worker').exception(...) inside the except block"
    )


@pytest.mark.points(4)
async def test_collect_loop_errors_collects_and_restores(looptime):
    """collect_loop_errors sends the loop's error reports to the sink; the returned function puts the previous handler back."""
    loop = asyncio.get_running_loop()

    def custom(loop, context):
        pass

    loop.set_exception_handler(custom)
    sink = []
    try:
        restore = errors.collect_loop_errors(loop, sink)
        context = {"message": "something broke", "exception": ValueError("x")}
        loop.call_exception_handler(context)
        assert sink == [context], f"expected the context dict in the sink, sink is {sink!r}"
        restore()
        assert loop.get_exception_handler() is custom, (
            "after calling the returned function, the handler installed before should be back, "
            f"found {loop.get_exception_handler()!r}"
        )
    finally:
        loop.set_exception_handler(None)


@pytest.mark.points(4)
@pytest.mark.looptime(False)
@pytest.mark.allow_blocking
async def test_find_slow_steps_reports_a_blocking_step():
    """A step that blocks the loop for 50 ms is reported ("Executing ... took ... seconds") with a 10 ms threshold."""
    loop = asyncio.get_running_loop()
    debug_before, duration_before = loop.get_debug(), loop.slow_callback_duration

    async def blocking_step():
        await asyncio.sleep(0)
        threading.Event().wait(0.05)  # blocks the whole loop for 50 ms, on purpose

    messages = await within(errors.find_slow_steps(blocking_step, threshold=0.01), 5, what="find_slow_steps")
    assert isinstance(messages, list), f"expected a list of messages, got {messages!r}"
    assert any(isinstance(m, str) and "Executing" in m and "took" in m for m in messages), (
        f"expected a message like 'Executing <Task ...> took 0.050 seconds', got {messages!r}. "
        "Turn on the loop's debug mode and set slow_callback_duration, and collect what the "
        "'asyncio' logger says while the task runs."
    )
    assert (loop.get_debug(), loop.slow_callback_duration) == (debug_before, duration_before), (
        f"the loop's debug settings should be restored to {(debug_before, duration_before)!r}, "
        f"found {(loop.get_debug(), loop.slow_callback_duration)!r}"
    )
