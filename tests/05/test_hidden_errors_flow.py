"""Hidden tests for assignment 05, part 1: with_timeout, retry, settle, count_leaf_exceptions."""
import asyncio
import inspect

import pytest

import errors
from coursekit import hints
from coursekit.testing import (
    Work,
    assert_ends_cancelled,
    assert_nothing_left_running,
    assert_same,
    loop_time,
    raised_by,
    same,
    tasks_now,
    within,
)


_made = []


@pytest.fixture(autouse=True)
def _close_unstarted_coroutines():
    """Close coroutines a failing with_timeout never awaited, so no warning leaks into other tests."""
    yield
    while _made:
        coro = _made.pop()
        if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
            coro.close()


def track(coro):
    _made.append(coro)
    return coro


def cancellable(seen: list, delay: float, result=None):
    """A coroutine that sleeps ``delay`` then returns ``result``, recording whether it finished or was cancelled."""

    async def work():
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        seen.append("finished")
        return result

    return track(work())


# --- with_timeout -----------------------------------------------------------


@pytest.mark.points(2)
async def test_with_timeout_default_is_none(looptime):
    """Without a default, with_timeout returns None when the deadline (here 0.5 s) passes first."""
    seen = []
    result = await within(errors.with_timeout(cancellable(seen, 3), 0.5), 60, what="with_timeout(slow, 0.5)")
    assert result is None, f"expected None (the default default), got {result!r}"
    assert looptime == 0.5, f"expected to give up at 0.5 s, took {float(looptime):g} s"
    assert seen == ["cancelled"], f"the slow work should have been cancelled; it saw {seen!r}"


@pytest.mark.points(3)
async def test_with_timeout_cancels_a_task_and_leaves_nothing_running(looptime):
    """Given a Task, with_timeout returns the default at the deadline and the task has finished cancelling."""
    seen = []
    before = tasks_now()
    inner = asyncio.create_task(cancellable(seen, 10, result="late"))
    result = await within(errors.with_timeout(inner, 3, default=0), 60, what="with_timeout(task, 3, default=0)")
    assert_same(result, 0, what="with_timeout's result (the default 0, even though it is falsy)")
    assert looptime == 3, f"expected to give up at the 3 s deadline, took {float(looptime):g} s"
    assert inner.cancelled(), (
        f"the task should be cancelled and finished when with_timeout returns; it is {inner!r}. {hints.LEFT_RUNNING}"
    )
    assert seen == ["cancelled"], f"the task should have seen its cancellation, saw {seen!r}"
    assert_nothing_left_running(before, what="with_timeout")


@pytest.mark.points(3)
async def test_with_timeout_propagates_other_exceptions(looptime):
    """An exception raised by the work before the deadline propagates out of with_timeout at once."""

    async def broken():
        await asyncio.sleep(1)
        raise KeyError("broken")

    exc = await raised_by(
        errors.with_timeout(track(broken()), 5, default="fallback"), KeyError, seconds=60, what="with_timeout(broken, 5)"
    )
    assert exc.args == ("broken",), f"expected the work's own KeyError('broken'), got {exc!r}"
    assert looptime == 1, f"the error should propagate when it happens (1 s), not at the deadline; took {float(looptime):g} s"


@pytest.mark.points(3)
async def test_with_timeout_lets_the_callers_cancellation_through(looptime):
    """Cancelling the caller before the deadline cancels with_timeout (and its work); it must not return the default."""
    seen = []
    task = asyncio.create_task(errors.with_timeout(cancellable(seen, 10), 5, default="fallback"))
    await asyncio.sleep(2)
    if task.done():
        task.result()  # shows the error with_timeout ended with
    assert not task.done(), f"with_timeout ended before its deadline, returning {task.result()!r}"
    task.cancel()
    await assert_ends_cancelled(task, what="with_timeout")
    assert seen == ["cancelled"], f"the work should have been cancelled with the caller, saw {seen!r}"
    assert looptime == 2, f"the cancellation should take effect at once (2 s), ended at {float(looptime):g} s"


@pytest.mark.points(1)
async def test_with_timeout_work_raising_timeout_error_itself(looptime):
    """Work that raises TimeoutError by itself at 1 s (deadline 5 s): with_timeout either lets it through or returns the default, nothing else."""

    async def gives_up():
        await asyncio.sleep(1)
        raise TimeoutError("the work's own timeout")

    try:
        result = await within(errors.with_timeout(track(gives_up()), 5, default="fallback"), 60, what="with_timeout")
    except TimeoutError as exc:
        assert exc.args == ("the work's own timeout",), f"expected the work's own TimeoutError, got {exc!r}"
    else:
        assert_same(result, "fallback", what="with_timeout's result when the work raised TimeoutError itself")
    assert looptime == 1, f"expected with_timeout to end at 1 s, when the work raised; it ended at {float(looptime):g} s"


# --- retry ------------------------------------------------------------------


def failing_after(starts: list, raised: list, *, failures: int, exc_type=ConnectionError, delay: float = 0.0):
    """A coro_fn that records each call's loop time and fails the first ``failures`` calls."""

    async def attempt():
        starts.append(loop_time())
        await asyncio.sleep(delay)
        if len(starts) <= failures:
            exc = exc_type(f"attempt {len(starts)} failed")
            raised.append(exc)
            raise exc
        return f"ok after {len(starts)}"

    return attempt


def gaps_of(starts: list) -> list:
    return [b - a for a, b in zip(starts, starts[1:])]


@pytest.mark.points(2)
async def test_retry_default_parameters(looptime):
    """With the defaults, retry makes 3 attempts, waits 0.1 s then 0.2 s, and does not wait after the last failure."""
    starts, raised = [], []
    fn = failing_after(starts, raised, failures=99)
    exc = await raised_by(errors.retry(fn), ConnectionError, seconds=60, what="retry(always failing)")
    assert len(starts) == 3, f"expected 3 attempts (the default), saw {len(starts)}"
    assert gaps_of(starts) == pytest.approx([0.1, 0.2]), (
        f"expected waits of 0.1 and 0.2 s (base_delay 0.1, factor 2), saw {gaps_of(starts)!r}"
    )
    assert exc is raised[-1], f"expected the exception of the last attempt, got {exc!r}"
    assert float(looptime) == pytest.approx(0.3), (
        f"expected the error at 0.3 s (no wait after the last attempt), it came at {float(looptime):g} s"
    )


@pytest.mark.points(2)
async def test_retry_stops_at_first_success(looptime):
    """retry returns the first successful result and makes no more calls."""
    starts, raised = [], []
    fn = failing_after(starts, raised, failures=1)
    result = await within(errors.retry(fn, attempts=5, base_delay=2), 60, what="retry(fails once)")
    assert_same(result, "ok after 2", what="retry's result (the second attempt's)")
    assert len(starts) == 2, f"expected 2 calls, saw {len(starts)}"
    assert looptime == 2, f"expected one wait of base_delay = 2 s, took {float(looptime):g} s"


@pytest.mark.points(2)
async def test_retry_raises_the_last_exception(looptime):
    """After the last attempt fails, retry raises that attempt's exception (not the first one, not a new one)."""
    starts, raised = [], []
    fn = failing_after(starts, raised, failures=99, exc_type=TimeoutError)
    exc = await raised_by(
        errors.retry(fn, attempts=4, base_delay=0.5, factor=1), TimeoutError, seconds=60, what="retry(attempts=4)"
    )
    assert len(raised) == 4, f"expected 4 attempts, saw {len(raised)}"
    assert exc is raised[-1], f"expected the 4th attempt's exception {raised[-1]!r}, got {exc!r}"
    assert gaps_of(starts) == pytest.approx([0.5, 0.5, 0.5]), (
        f"with factor 1 every wait is base_delay = 0.5 s, saw {gaps_of(starts)!r}"
    )


@pytest.mark.points(3)
async def test_retry_only_retries_matching_exceptions(looptime):
    """An exception outside retry_on propagates at once (no wait, no retry); matching ones (subclasses too) are retried."""
    starts, raised = [], []
    fn = failing_after(starts, raised, failures=99, exc_type=ValueError)
    exc = await raised_by(
        errors.retry(fn, attempts=5, base_delay=1, retry_on=(KeyError,)), ValueError, seconds=600,
        what="retry(raises ValueError, retry_on=(KeyError,))",
    )
    assert len(starts) == 1, f"a ValueError is not in retry_on: expected 1 call, saw {len(starts)}"
    assert exc is raised[0], f"expected the ValueError of the first call, got {exc!r}"
    assert looptime == 0, f"a non-matching error should propagate at once, it took {float(looptime):g} s"

    starts, raised = [], []
    fn = failing_after(starts, raised, failures=2, exc_type=KeyError)
    result = await within(
        errors.retry(fn, attempts=5, base_delay=1, retry_on=(LookupError,)), 600,
        what="retry(raises KeyError twice, retry_on=(LookupError,))",
    )
    assert_same(result, "ok after 3", what="retry's result (KeyError is a LookupError: retried until the 3rd call succeeds)")


@pytest.mark.points(2)
async def test_retry_rejects_attempts_below_one(looptime):
    """attempts=0 or negative raises ValueError without calling coro_fn; attempts=1 is a single call."""
    for attempts in (0, -2):
        calls = []

        async def fn():
            calls.append(1)
            return "called"

        await raised_by(errors.retry(fn, attempts=attempts), ValueError, seconds=10, what=f"retry(attempts={attempts})")
        assert calls == [], f"retry(attempts={attempts}) should not call coro_fn, it did {len(calls)} time(s)"
    starts, raised = [], []
    fn = failing_after(starts, raised, failures=0)
    result = await within(errors.retry(fn, attempts=1), 10, what="retry(attempts=1)")
    assert_same(result, "ok after 1", what="retry(attempts=1)'s result (the single call's)")


@pytest.mark.points(1)
async def test_retry_single_attempt_does_not_wait(looptime):
    """With attempts=1 a failure propagates at once, without any wait or second call."""
    starts, raised = [], []
    fn = failing_after(starts, raised, failures=99)
    exc = await raised_by(errors.retry(fn, attempts=1, base_delay=5), ConnectionError, seconds=60, what="retry(attempts=1)")
    assert exc is raised[0] and len(starts) == 1, f"expected one call and its exception, saw {len(starts)} call(s), got {exc!r}"
    assert looptime == 0, f"expected no wait after the only attempt, took {float(looptime):g} s"


@pytest.mark.points(2)
async def test_retry_waits_after_each_failure(looptime):
    """The backoff wait starts when an attempt fails: attempts of 2 s with base 1, factor 2 start at 0, 3, 7 s."""
    starts, raised = [], []
    fn = failing_after(starts, raised, failures=99, delay=2)
    await raised_by(errors.retry(fn, attempts=3, base_delay=1, factor=2), ConnectionError, seconds=60, what="retry")
    assert starts == pytest.approx([0, 3, 7]), (
        f"expected attempts at 0, 3 (2 + 1) and 7 (3 + 2 + 2) s, saw {starts!r}"
    )
    assert looptime == 9, f"expected the last failure at 9 s, it came at {float(looptime):g} s"


@pytest.mark.points(3)
async def test_retry_cancelled_during_backoff(looptime):
    """Cancelling retry while it waits between attempts ends it cancelled; no further attempt is made."""
    starts, raised = [], []
    fn = failing_after(starts, raised, failures=99)
    task = asyncio.create_task(errors.retry(fn, attempts=5, base_delay=10, factor=1))
    await asyncio.sleep(4)
    if task.done():
        task.result()  # shows the error retry ended with
    assert len(starts) == 1, f"expected one attempt before the 10 s backoff, saw {len(starts)}"
    task.cancel()
    await assert_ends_cancelled(task, what="retry (cancelled during its backoff)")
    await asyncio.sleep(60)
    assert len(starts) == 1, f"no attempt should follow a cancellation, saw {len(starts)} in all. {hints.SWALLOWED_CANCEL}"


@pytest.mark.points(3)
async def test_retry_never_retries_cancellation(looptime):
    """Cancelling retry during an attempt ends it cancelled at once, even with retry_on=(BaseException,)."""
    starts = []

    async def slow_attempt():
        starts.append(loop_time())
        await asyncio.sleep(10)
        return "finished"

    task = asyncio.create_task(errors.retry(slow_attempt, attempts=5, base_delay=1, retry_on=(BaseException,)))
    await asyncio.sleep(3)
    if task.done():
        task.result()
    task.cancel()
    await assert_ends_cancelled(task, what="retry (cancelled during an attempt)")
    assert looptime == 3, f"the cancellation should end retry at once (3 s), it ended at {float(looptime):g} s"
    await asyncio.sleep(60)
    assert len(starts) == 1, (
        f"CancelledError must never be retried, even if retry_on matches it; saw {len(starts)} attempts. "
        f"{hints.SWALLOWED_CANCEL}"
    )


# --- settle -----------------------------------------------------------------


@pytest.mark.points(3)
async def test_settle_runs_everything_concurrently(looptime):
    """settle starts every job at once: five jobs of 5..1 s take 5 s, results in input order."""
    work = Work()
    fns = work.jobs([5, 4, 3, 2, 1])
    outcome = await within(errors.settle(fns), 60, what="settle")
    assert_same(outcome, ([0, 1, 2, 3, 4], []), what="settle's (results, failures) with no failure")
    assert work.peak == 5, f"expected all 5 jobs in flight at once, peak was {work.peak}. {hints.SEQUENTIAL}"
    assert looptime == 5, f"expected 5 s (the longest job), took {float(looptime):g} s. {hints.SEQUENTIAL}"
    work.assert_all_awaited(what="settle")


@pytest.mark.points(3)
async def test_settle_failures_do_not_stop_the_others(looptime):
    """A failing job neither cancels the others nor escapes settle; failures are sorted by index, not finishing time."""
    work = Work()
    errs = [RuntimeError("zero"), OSError("two"), ValueError("three")]
    fns = [
        work.job(delay=3, error=errs[0]),
        work.job("one", delay=4),
        work.job(delay=1, error=errs[1]),
        work.job(delay=2, error=errs[2]),
        work.job("four", delay=0.5),
    ]
    results, failures = await within(errors.settle(fns), 60, what="settle")
    assert_same(results, ["one", "four"], what="the successes")
    assert type(failures) is list and all(type(pair) is tuple and len(pair) == 2 for pair in failures), (
        f"failures should be a list of (index, exception) tuples, got {failures!r}"
    )
    assert_same([i for i, _ in failures], [0, 2, 3], what="the failures' indexes (ascending, not finishing order)")
    assert all(e is want for (_, e), want in zip(failures, errs)), (
        f"each index should carry its own job's exception (the very object raised), got {failures!r}"
    )
    assert work.cancelled == [], f"no job should be cancelled because another failed; cancelled: {work.cancelled!r}"
    assert looptime == 4, f"expected 4 s (the longest job), took {float(looptime):g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(1)
async def test_settle_empty_and_all_failing(looptime):
    """settle([]) returns ([], []); when every job fails the results list is empty."""
    result = await within(errors.settle([]), 10, what="settle([])")
    assert_same(result, ([], []), what="settle([])")
    work = Work()
    results, failures = await within(
        errors.settle([work.job(delay=1, error=KeyError("a")), work.job(error=KeyError("b"))]), 10, what="settle"
    )
    assert same(results, []) and same([i for i, _ in failures], [0, 1]), (
        f"expected ([], [(0, KeyError('a')), (1, KeyError('b'))]), got {(results, failures)!r}"
    )


@pytest.mark.points(3)
async def test_settle_propagates_cancellation_of_the_caller(looptime):
    """Cancelling settle's caller ends settle cancelled at once, cancels every job and leaves nothing running."""
    work = Work()
    fns = work.jobs([10, 10, 10])
    before = tasks_now()
    task = asyncio.create_task(errors.settle(fns))
    await asyncio.sleep(2)
    if task.done():
        task.result()
    assert sorted(work.started) == [0, 1, 2], f"expected all 3 jobs running after 2 s, started: {work.started!r}"
    task.cancel()
    await assert_ends_cancelled(task, what="settle")
    assert looptime == 2, f"the cancellation should take effect at once (2 s), settle ended at {float(looptime):g} s"
    assert sorted(work.cancelled) == [0, 1, 2], (
        f"every running job should be cancelled with settle, cancelled: {work.cancelled!r}. {hints.LEFT_RUNNING}"
    )
    assert_nothing_left_running(before, what="settle (cancelled)")


# --- count_leaf_exceptions --------------------------------------------------


class QuotaExceeded(Exception):
    pass


@pytest.mark.points(2)
def test_count_leaf_exceptions_deep_nesting():
    """Leaves are counted at any depth and summed across branches; group classes are never counted."""
    group = ExceptionGroup(
        "level 1",
        [
            ExceptionGroup("level 2", [ExceptionGroup("level 3", [QuotaExceeded(), OSError()]), QuotaExceeded()]),
            ExceptionGroup("level 2b", [OSError(), OSError()]),
        ],
    )
    counts = errors.count_leaf_exceptions(group)
    expected = {"QuotaExceeded": 2, "OSError": 3}
    assert isinstance(counts, dict), f"count_leaf_exceptions should return a dict, got {type(counts).__name__}: {counts!r}"
    assert same(dict(counts), expected), (
        f"expected {expected!r}, got {counts!r}. Nested groups are not leaves: count the exceptions inside them (recursively)."
    )


@pytest.mark.points(2)
def test_count_leaf_exceptions_base_groups_and_single_leaf():
    """BaseExceptionGroup leaves such as CancelledError and KeyboardInterrupt count too; a flat group with one leaf works."""
    group = BaseExceptionGroup(
        "mixed",
        [asyncio.CancelledError(), ExceptionGroup("errors", [ValueError()]), KeyboardInterrupt(), asyncio.CancelledError()],
    )
    counts = errors.count_leaf_exceptions(group)
    expected = {"CancelledError": 2, "ValueError": 1, "KeyboardInterrupt": 1}
    assert isinstance(counts, dict) and same(dict(counts), expected), (
        f"expected {expected!r}, got {counts!r}. BaseExceptionGroup holds BaseExceptions too: "
        "check isinstance(exc, BaseExceptionGroup), which covers ExceptionGroup as well."
    )
    single = errors.count_leaf_exceptions(ExceptionGroup("one", [TimeoutError()]))
    assert isinstance(single, dict) and same(dict(single), {"TimeoutError": 1}), f"expected {{'TimeoutError': 1}}, got {single!r}"
