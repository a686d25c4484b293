"""Public tests for assignment 05. Run them with `pytest assignments/05`.

Each test asks for a *scenario* (`coursekit/probes/p05.py`): a probe that
builds the work (jobs that sleep and fail on a virtual clock, queues,
exception groups, loggers), calls your functions and reports what it saw
(results, exceptions, loop times, what the work went through) as plain data.
On the virtual clock `await asyncio.sleep(30)` costs no real time. Locally
the scenario runs right here, so your prints and breakpoints work; when
graded it runs in a process of its own, apart from the tests.
The find_slow_steps scenario is the exception to the virtual clock: slow
steps are measured in real time, so it runs its loop on the real clock and
blocks it for 50 ms on purpose.
"""
import pytest

from coursekit import hints
from coursekit.judge import expect_raised, unwrap
from coursekit.probes import p05
from coursekit.testing import assert_same

STUDENT_MODULE = "errors"


@pytest.mark.points(3)
def test_with_timeout_returns_result_in_time(student):
    """with_timeout returns the result of work that finishes before the deadline, as soon as it finishes."""
    seen = student.run(p05.with_timeout_on, work={"delay": 1, "result": "done"}, seconds=5,
                       options={"default": "late"}).value("with_timeout")
    result = unwrap(seen["outcome"], what="with_timeout(sleep 1 s, 5)")
    assert_same(result, "done", what="with_timeout's result (the work's own)")
    assert seen["took"] == 1, f"expected to return after 1 s (when the work finished), took {seen['took']:g} s"


@pytest.mark.points(4)
def test_with_timeout_returns_default_and_cancels_work(student):
    """When the deadline passes first, with_timeout returns the default at the deadline, and the work was cancelled."""
    seen = student.run(p05.with_timeout_on, work={"delay": 10}, seconds=2,
                       options={"default": "fallback"}).value("with_timeout")
    result = unwrap(seen["outcome"], what="with_timeout(slow, 2)")
    assert_same(result, "fallback", what="with_timeout's result after the timeout (the default)")
    assert seen["took"] == 2, f"expected to give up at the 2 s deadline, took {seen['took']:g} s"
    assert seen["seen"] == ["cancelled"], (
        f"the slow work should have been cancelled by the time with_timeout returned; it saw {seen['seen']!r}"
    )


@pytest.mark.points(5)
def test_retry_backs_off_exponentially(student):
    """retry waits base_delay * factor ** i before retry i: with base 1 and factor 2 the attempts start at 0, 1, 3, 7 s."""
    seen = student.run(p05.retry_attempts, fails=3, error=["ConnectionError", "attempt {n} failed"], result="ok",
                       options={"attempts": 4, "base_delay": 1, "factor": 2}, within_seconds=60).value("retry")
    result = unwrap(seen["outcome"], what="retry(flaky, attempts=4)")
    assert_same(result, "ok", what="retry's result (the successful 4th attempt's)")
    starts = seen["starts"]
    assert len(starts) == 4, f"expected 4 calls (3 failures, then success), saw {len(starts)}"
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert gaps == pytest.approx([1, 2, 4]), (
        f"expected waits of 1, 2, 4 s between attempts (base_delay * factor ** i), saw {gaps!r}"
    )


@pytest.mark.points(3)
def test_retry_gives_up_with_the_last_error(student):
    """retry(attempts=3, base_delay=2, factor=3) on work that always fails: waits 2 s and 6 s, then raises the 3rd attempt's error."""
    seen = student.run(p05.retry_attempts, fails=99, error=["ConnectionResetError", "try {n}"],
                       options={"attempts": 3, "base_delay": 2, "factor": 3}, within_seconds=60).value("retry")
    error = expect_raised(seen["outcome"], "ConnectionResetError", what="retry(always failing, attempts=3)")
    assert seen["raised"] == 3, f"expected exactly 3 attempts, saw {seen['raised']}"
    assert seen["which"] == 2, (
        f"expected the exception of the last attempt (ConnectionResetError('try 3')), got {error!r}"
    )
    assert seen["took"] == 8, (
        f"expected the error at 8 s (waits of 2 and 6 s, none after the last attempt), it came at {seen['took']:g} s"
    )


@pytest.mark.points(4)
def test_settle_splits_results_and_failures(student):
    """settle runs everything at once; successes come back in input order, failures as (index, exception) by index."""
    jobs = [
        {"result": "a", "delay": 3},
        {"delay": 2, "error": ["ValueError", "job 1 failed"]},
        {"result": "c", "delay": 1},
        {"delay": 0.5, "error": ["KeyError", "job 3 failed"]},
    ]
    seen = student.run(p05.settle_jobs, jobs=jobs).value("settle")
    outcome = unwrap(seen["outcome"], what="settle")
    assert type(outcome) is tuple and len(outcome) == 2, (
        f"settle should return a tuple (results, failures), got {type(outcome).__name__}: {outcome!r}"
    )
    results, failures = outcome
    assert_same(results, ["a", "c"], what="the successes (input order)")
    assert type(failures) is list and [type(pair) for pair in failures] == [tuple, tuple], (
        f"failures should be a list of (index, exception) tuples, got {failures!r}"
    )
    assert_same([index for index, _ in failures], [1, 3], what="the failures' indexes (ascending)")
    assert seen["sources"] == [1, 3], (
        f"each failure should carry the exception its job raised, got {failures!r}"
    )
    assert seen["took"] == 3, f"expected 3 s (the longest job), took {seen['took']:g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(2)
def test_count_leaf_exceptions_in_nested_groups(student):
    """count_leaf_exceptions counts the exceptions inside nested groups by class name, not the groups."""
    group = {"group": "ExceptionGroup", "message": "outer", "members": [
        ["ValueError", "a"],
        {"group": "ExceptionGroup", "message": "inner", "members": [["ValueError", "b"], ["KeyError", "c"]]},
        ["TypeError", "d"],
    ]}
    seen = student.run(p05.count_leaves, group=group).value("count_leaf_exceptions")
    counts = unwrap(seen["outcome"], what="count_leaf_exceptions")
    expected = {"ValueError": 2, "KeyError": 1, "TypeError": 1}
    assert seen["is_dict"], f"count_leaf_exceptions should return a dict, got {seen['type']}: {counts!r}"
    assert_same(counts, expected, what="the counts (nested groups are not leaves: count what is inside them)")


@pytest.mark.points(4)
def test_worker_logs_failures_and_keeps_going(student):
    """A failing item is logged on "course.worker" at ERROR level with its traceback; the worker goes on and task_done is called for every item."""
    items = [{"item": "a", "delay": 1}, {"item": "bad", "delay": 1, "error": ["ValueError", "bad item"]},
             {"item": "c", "delay": 1}]
    seen = student.run(p05.worker_run, items=items, cleanup_delay=0).value("worker")
    drained = p05.drained_at(seen, what="worker")
    assert drained == 3, (
        f"queue.join() should finish when handle() has finished all 3 items (3 s), it finished at "
        f"{drained:g} s: call queue.task_done() after `await handle(item)`, not before"
    )
    assert seen["handled"] == ["a", "c"], f"expected 'a' and 'c' handled after the failure of 'bad', got {seen['handled']!r}"
    records = [r for r in seen["records"] if r["logger"] == "course.worker"]
    assert len(records) == 1, (
        f"expected one log record on the 'course.worker' logger for the failed item, got {len(records)}"
    )
    assert records[0]["level_name"] == "ERROR", f"expected level ERROR, got {records[0]['level_name']}"
    assert records[0]["format_error"] is None, (
        f"the record's message could not be formatted ({records[0]['format_error']}): give "
        "logging.getLogger('course.worker').exception(...) a message whose %-placeholders match its arguments"
    )
    assert records[0]["exc_of"] == 1, (
        "the record should carry the exception and its traceback: use "
        "logging.getLogger('course.worker').exception(...) inside the except block"
    )


@pytest.mark.points(4)
def test_collect_loop_errors_collects_and_restores(student):
    """collect_loop_errors sends the loop's error reports to the sink; the returned function puts the previous handler back."""
    seen = student.run(p05.loop_errors, previous="custom",
                       reports=[{"message": "something broke", "error": ["ValueError", "x"]}]).value("collect_loop_errors")
    unwrap(seen["setup"], what="collect_loop_errors")
    assert seen["matches"] == [0], f"expected the context dict in the sink, sink is {seen['sink']!r}"
    unwrap(seen.get("restore", {"value": None}), what="the function collect_loop_errors returned")
    assert seen.get("handler_after") == "previous", (
        "after calling the returned function, the handler installed before should be back, "
        f"found {seen.get('handler_after', 'no function to call')}"
    )


@pytest.mark.points(4)
@pytest.mark.allow_blocking
def test_find_slow_steps_reports_a_blocking_step(student):
    """A step that blocks the loop for 50 ms is reported ("Executing ... took ... seconds") with a 10 ms threshold."""
    calls = [{"steps": ["yield", ["block", 0.05]], "threshold": 0.01}]
    seen = student.run(p05.slow_steps, calls=calls).value("find_slow_steps")
    call, = seen["calls"]
    messages = unwrap(call["outcome"], what="find_slow_steps")
    assert isinstance(messages, list), f"expected a list of messages, got {messages!r}"
    assert any(isinstance(m, str) and "Executing" in m and "took" in m for m in messages), (
        f"expected a message like 'Executing <Task ...> took 0.050 seconds', got {messages!r}. "
        "Turn on the loop's debug mode and set slow_callback_duration, and collect what the "
        "'asyncio' logger says while the task runs."
    )
    before = call["before"]
    assert call["after"] == before, (
        f"the loop's debug settings should be restored to {tuple(before)!r}, found {tuple(call['after'])!r}"
    )
