"""Hidden tests for assignment 05, part 1: with_timeout, retry, settle, count_leaf_exceptions.

The work is built in the student process by the scenarios of coursekit/probes/p05.py; delays, deadlines, error
classes and messages, counts and orders are drawn per run from ``student.rng`` and the expected values are
computed here.
"""
import pytest

from coursekit import hints
from coursekit.judge import expect_raised, raised, unwrap
from coursekit.probes import p05
from coursekit.testing import assert_same, same

STUDENT_MODULE = "errors"


def approx(value):
    return pytest.approx(value, abs=1e-6)


def still_running_before_cancel(seen, *, what):
    """Fail, showing how, if the call ended before the scenario cancelled it."""
    early = seen.get("early")
    if early is None:
        return
    if "cancelled" in early:
        raise AssertionError(f"{what} ended cancelled before it was cancelled")
    value = unwrap(early, what=what)  # shows the error it ended with
    raise AssertionError(f"{what} ended before its deadline, returning {value!r}")


def pick_error(rng):
    """An ordinary exception a job may raise, with a message of its own."""
    name = rng.choice(["KeyError", "ValueError", "OSError", "RuntimeError", "LookupError", "ZeroDivisionError"])
    return [name, f"{name.lower()} #{rng.randint(1, 999)}"]


def tenths(rng, low, high):
    """A delay in [low, high] s, in tenths of a second."""
    return rng.randint(round(low * 10), round(high * 10)) / 10


# --- with_timeout -----------------------------------------------------------


@pytest.mark.points(2)
def test_with_timeout_default_is_none(student):
    """Without a default, with_timeout returns None when the deadline (here 0.5 s) passes first."""
    work = tenths(student.rng, 1, 9)
    seen = student.run(p05.with_timeout_on, work={"delay": work, "result": "late"}, seconds=0.5).value("with_timeout")
    result = unwrap(seen["outcome"], what="with_timeout(slow, 0.5)")
    assert result is None, f"expected None (the default default), got {result!r}"
    assert seen["took"] == approx(0.5), f"expected to give up at 0.5 s, took {seen['took']:g} s"
    assert seen["seen"] == ["cancelled"], f"the slow work should have been cancelled; it saw {seen['seen']!r}"


@pytest.mark.points(3)
def test_with_timeout_cancels_a_task_and_leaves_nothing_running(student):
    """Given a Task, with_timeout returns the default at the deadline and the task has finished cancelling."""
    deadline = tenths(student.rng, 0.5, 5)
    work = deadline + tenths(student.rng, 1, 8)
    seen = student.run(p05.with_timeout_on, work={"delay": work, "result": "late"}, seconds=deadline,
                       options={"default": 0}, as_task=True).value("with_timeout")
    result = unwrap(seen["outcome"], what=f"with_timeout(task, {deadline:g}, default=0)")
    assert_same(result, 0, what="with_timeout's result (the default 0, even though it is falsy)")
    assert seen["took"] == approx(deadline), (
        f"expected to give up at the {deadline:g} s deadline, took {seen['took']:g} s"
    )
    assert seen["task_cancelled"], (
        f"the task should be cancelled and finished when with_timeout returns; it saw {seen['seen']!r}. "
        f"{hints.LEFT_RUNNING}"
    )
    assert seen["seen"] == ["cancelled"], f"the task should have seen its cancellation, saw {seen['seen']!r}"
    assert not seen["left_running"], (
        f"with_timeout returned while {len(seen['left_running'])} task(s) it started were still running. "
        f"{hints.LEFT_RUNNING}"
    )


@pytest.mark.points(3)
def test_with_timeout_propagates_other_exceptions(student):
    """An exception raised by the work before the deadline propagates out of with_timeout at once."""
    rng = student.rng
    fails_at = tenths(rng, 0.2, 4)
    deadline = fails_at + tenths(rng, 1, 5)
    name, message = pick_error(rng)
    seen = student.run(p05.with_timeout_on, work={"delay": fails_at, "error": [name, message]}, seconds=deadline,
                       options={"default": "fallback"}).value("with_timeout")
    exc = expect_raised(seen["outcome"], name, what=f"with_timeout(broken, {deadline:g})")
    assert exc.name == name and exc.args == (message,), f"expected the work's own {name}({message!r}), got {exc!r}"
    assert seen["took"] == approx(fails_at), (
        f"the error should propagate when it happens ({fails_at:g} s), not at the deadline; took {seen['took']:g} s"
    )


@pytest.mark.points(3)
def test_with_timeout_lets_the_callers_cancellation_through(student):
    """Cancelling the caller before the deadline cancels with_timeout (and its work); it must not return the default."""
    rng = student.rng
    cancel_at = tenths(rng, 0.5, 4)
    deadline = cancel_at + tenths(rng, 1, 4)
    seen = student.run(p05.with_timeout_on, work={"delay": deadline + tenths(rng, 1, 5)}, seconds=deadline,
                       options={"default": "fallback"}, cancel_at=cancel_at).value("with_timeout")
    still_running_before_cancel(seen, what="with_timeout")
    p05.ends_cancelled(seen, what="with_timeout")
    assert seen["seen"] == ["cancelled"], f"the work should have been cancelled with the caller, saw {seen['seen']!r}"
    assert seen["took"] == approx(cancel_at), (
        f"the cancellation should take effect at once ({cancel_at:g} s), ended at {seen['took']:g} s"
    )


@pytest.mark.points(1)
def test_with_timeout_work_raising_timeout_error_itself(student):
    """Work that raises TimeoutError by itself at 1 s (deadline 5 s): with_timeout either lets it through or returns the default, nothing else."""
    message = f"the work's own timeout #{student.rng.randint(1, 999)}"
    seen = student.run(p05.with_timeout_on, work={"delay": 1, "error": ["TimeoutError", message]}, seconds=5,
                       options={"default": "fallback"}).value("with_timeout")
    exc = raised(seen["outcome"])
    if exc is not None and exc.is_a("TimeoutError"):
        assert exc.args == (message,), f"expected the work's own TimeoutError, got {exc!r}"
    else:
        result = unwrap(seen["outcome"], what="with_timeout")
        assert_same(result, "fallback", what="with_timeout's result when the work raised TimeoutError itself")
    assert seen["took"] == 1, f"expected with_timeout to end at 1 s, when the work raised; it ended at {seen['took']:g} s"


# --- retry ------------------------------------------------------------------


def gaps_of(starts: list) -> list:
    return [b - a for a, b in zip(starts, starts[1:])]


CONNECTION_ERRORS = ["ConnectionError", "ConnectionResetError", "ConnectionRefusedError", "BrokenPipeError"]


@pytest.mark.points(2)
def test_retry_default_parameters(student):
    """With the defaults, retry makes 3 attempts, waits 0.1 s then 0.2 s, and does not wait after the last failure."""
    name = student.rng.choice(CONNECTION_ERRORS)
    seen = student.run(p05.retry_attempts, fails=99, error=[name, "attempt {n} failed"],
                       within_seconds=60).value("retry")
    expect_raised(seen["outcome"], name, what="retry(always failing)")
    starts = seen["starts"]
    assert len(starts) == 3, f"expected 3 attempts (the default), saw {len(starts)}"
    assert gaps_of(starts) == pytest.approx([0.1, 0.2]), (
        f"expected waits of 0.1 and 0.2 s (base_delay 0.1, factor 2), saw {gaps_of(starts)!r}"
    )
    assert seen["which"] == 2, f"expected the exception of the last attempt, got {raised(seen['outcome'])!r}"
    assert seen["took"] == pytest.approx(0.3), (
        f"expected the error at 0.3 s (no wait after the last attempt), it came at {seen['took']:g} s"
    )


@pytest.mark.points(2)
def test_retry_stops_at_first_success(student):
    """retry returns the first successful result and makes no more calls."""
    rng = student.rng
    failures = rng.randint(1, 3)
    attempts = failures + rng.randint(1, 3)
    base = tenths(rng, 0.5, 3)
    seen = student.run(p05.retry_attempts, fails=failures, error=["ConnectionError", "attempt {n} failed"],
                       options={"attempts": attempts, "base_delay": base}, within_seconds=60).value("retry")
    calls = failures + 1
    result = unwrap(seen["outcome"], what=f"retry(fails {failures} time(s))")
    assert_same(result, f"ok after {calls}", what=f"retry's result (attempt {calls}'s)")
    assert len(seen["starts"]) == calls, f"expected {calls} calls, saw {len(seen['starts'])}"
    waited = sum(base * 2 ** i for i in range(failures))
    assert seen["took"] == approx(waited), (
        f"expected {failures} wait(s) of base_delay * 2 ** i = {waited:g} s in all, took {seen['took']:g} s"
    )


@pytest.mark.points(2)
def test_retry_raises_the_last_exception(student):
    """After the last attempt fails, retry raises that attempt's exception (not the first one, not a new one)."""
    rng = student.rng
    attempts = rng.randint(2, 6)
    base = tenths(rng, 0.1, 2)
    seen = student.run(p05.retry_attempts, fails=99, error=["TimeoutError", "attempt {n} failed"],
                       options={"attempts": attempts, "base_delay": base, "factor": 1}, within_seconds=60).value("retry")
    exc = expect_raised(seen["outcome"], "TimeoutError", what=f"retry(attempts={attempts})")
    assert seen["raised"] == attempts, f"expected {attempts} attempts, saw {seen['raised']}"
    assert seen["which"] == attempts - 1, (
        f"expected the last attempt's exception TimeoutError('attempt {attempts} failed'), got {exc!r}"
    )
    assert gaps_of(seen["starts"]) == pytest.approx([base] * (attempts - 1)), (
        f"with factor 1 every wait is base_delay = {base:g} s, saw {gaps_of(seen['starts'])!r}"
    )


# Exceptions retried through a base class in retry_on, and ones that match neither.
SUBCLASSES = [("KeyError", "LookupError"), ("IndexError", "LookupError"), ("ConnectionResetError", "OSError"),
              ("FileNotFoundError", "OSError"), ("ZeroDivisionError", "ArithmeticError")]
UNRELATED = {"LookupError": ["ValueError", "TypeError", "OSError"], "OSError": ["ValueError", "KeyError", "TypeError"],
             "ArithmeticError": ["ValueError", "KeyError", "OSError"]}


@pytest.mark.points(3)
def test_retry_only_retries_matching_exceptions(student):
    """An exception outside retry_on propagates at once (no wait, no retry); matching ones (subclasses too) are retried."""
    rng = student.rng
    leaf, base_class = rng.choice(SUBCLASSES)
    other = rng.choice(UNRELATED[base_class])
    attempts = rng.randint(3, 6)
    seen = student.run(p05.retry_attempts, fails=99, error=[other, "attempt {n} failed"],
                       options={"attempts": attempts, "base_delay": 1}, retry_on=[leaf]).value("retry")
    exc = expect_raised(seen["outcome"], other, what=f"retry(raises {other}, retry_on=({leaf},))")
    assert len(seen["starts"]) == 1, f"a {other} is not in retry_on: expected 1 call, saw {len(seen['starts'])}"
    assert seen["which"] == 0, f"expected the {other} of the first call, got {exc!r}"
    assert seen["took"] == 0, f"a non-matching error should propagate at once, it took {seen['took']:g} s"

    failures = rng.randint(1, attempts - 1)
    seen = student.run(p05.retry_attempts, fails=failures, error=[leaf, "attempt {n} failed"],
                       options={"attempts": attempts, "base_delay": 1}, retry_on=[base_class]).value("retry")
    result = unwrap(seen["outcome"], what=f"retry(raises {leaf} {failures} time(s), retry_on=({base_class},))")
    assert_same(result, f"ok after {failures + 1}",
                what=f"retry's result ({leaf} is a {base_class}: retried until call {failures + 1} succeeds)")


@pytest.mark.points(2)
def test_retry_rejects_attempts_below_one(student):
    """attempts=0 or negative raises ValueError without calling coro_fn; attempts=1 is a single call."""
    for attempts in (0, -student.rng.randint(1, 5)):
        seen = student.run(p05.retry_attempts, fails=0, error=["ValueError"], result="called",
                           options={"attempts": attempts}, within_seconds=10).value("retry")
        expect_raised(seen["outcome"], "ValueError", what=f"retry(attempts={attempts})")
        calls = len(seen["starts"])
        assert calls == 0, f"retry(attempts={attempts}) should not call coro_fn, it did {calls} time(s)"
    seen = student.run(p05.retry_attempts, fails=0, error=["ValueError"], options={"attempts": 1},
                       within_seconds=10).value("retry")
    result = unwrap(seen["outcome"], what="retry(attempts=1)")
    assert_same(result, "ok after 1", what="retry(attempts=1)'s result (the single call's)")


@pytest.mark.points(1)
def test_retry_single_attempt_does_not_wait(student):
    """With attempts=1 a failure propagates at once, without any wait or second call."""
    base = tenths(student.rng, 0.5, 9)
    seen = student.run(p05.retry_attempts, fails=99, error=["ConnectionError", "attempt {n} failed"],
                       options={"attempts": 1, "base_delay": base}, within_seconds=60).value("retry")
    exc = expect_raised(seen["outcome"], "ConnectionError", what="retry(attempts=1)")
    calls = len(seen["starts"])
    assert seen["which"] == 0 and calls == 1, f"expected one call and its exception, saw {calls} call(s), got {exc!r}"
    assert seen["took"] == 0, f"expected no wait after the only attempt, took {seen['took']:g} s"


@pytest.mark.points(2)
def test_retry_waits_after_each_failure(student):
    """The backoff wait starts when an attempt fails: attempts of 2 s with base 1, factor 2 start at 0, 3, 7 s."""
    name = student.rng.choice(CONNECTION_ERRORS)
    seen = student.run(p05.retry_attempts, fails=99, error=[name, "attempt {n} failed"], delay=2,
                       options={"attempts": 3, "base_delay": 1, "factor": 2}, within_seconds=60).value("retry")
    expect_raised(seen["outcome"], name, what="retry")
    assert seen["starts"] == pytest.approx([0, 3, 7]), (
        f"expected attempts at 0, 3 (2 + 1) and 7 (3 + 2 + 2) s, saw {seen['starts']!r}"
    )
    assert seen["took"] == 9, f"expected the last failure at 9 s, it came at {seen['took']:g} s"


@pytest.mark.points(3)
def test_retry_cancelled_during_backoff(student):
    """Cancelling retry while it waits between attempts ends it cancelled; no further attempt is made."""
    rng = student.rng
    base = rng.randint(5, 20)
    cancel_at = tenths(rng, 1, base - 1)
    seen = student.run(p05.retry_attempts, fails=99, error=["ConnectionError", "attempt {n} failed"],
                       options={"attempts": 5, "base_delay": base, "factor": 1}, cancel_at=cancel_at).value("retry")
    if seen.get("early") is not None and "cancelled" not in seen["early"]:
        unwrap(seen["early"], what="retry")  # shows the error retry ended with
    assert seen.get("calls_at_cancel") == 1, (
        f"expected one attempt before the {base:g} s backoff, saw {seen.get('calls_at_cancel')}"
    )
    p05.ends_cancelled(seen, what="retry (cancelled during its backoff)")
    calls = len(seen["starts"])
    assert calls == 1, f"no attempt should follow a cancellation, saw {calls} in all. {hints.SWALLOWED_CANCEL}"


@pytest.mark.points(3)
def test_retry_never_retries_cancellation(student):
    """Cancelling retry during an attempt ends it cancelled at once, even with retry_on=(BaseException,)."""
    rng = student.rng
    length = rng.randint(5, 20)
    cancel_at = tenths(rng, 1, length - 1)
    seen = student.run(p05.retry_attempts, fails=0, error=["ValueError"], result="finished", delay=length,
                       options={"attempts": 5, "base_delay": 1}, retry_on=["BaseException"],
                       cancel_at=cancel_at).value("retry")
    if seen.get("early") is not None and "cancelled" not in seen["early"]:
        unwrap(seen["early"], what="retry")
    p05.ends_cancelled(seen, what="retry (cancelled during an attempt)")
    assert seen["took"] == approx(cancel_at), (
        f"the cancellation should end retry at once ({cancel_at:g} s), it ended at {seen['took']:g} s"
    )
    calls = len(seen["starts"])
    assert calls == 1, (
        f"CancelledError must never be retried, even if retry_on matches it; saw {calls} attempts. "
        f"{hints.SWALLOWED_CANCEL}"
    )


# --- settle -----------------------------------------------------------------


@pytest.mark.points(3)
def test_settle_runs_everything_concurrently(student):
    """settle starts every job at once: five jobs of 5..1 s take 5 s, results in input order."""
    delays = [5, 4, 3, 2, 1]
    student.rng.shuffle(delays)
    jobs = [{"delay": delay, "result": index} for index, delay in enumerate(delays)]
    seen = student.run(p05.settle_jobs, jobs=jobs).value("settle")
    outcome = unwrap(seen["outcome"], what="settle")
    assert_same(outcome, ([0, 1, 2, 3, 4], []), what="settle's (results, failures) with no failure")
    assert seen["peak"] == 5, f"expected all 5 jobs in flight at once, peak was {seen['peak']}. {hints.SEQUENTIAL}"
    assert seen["took"] == 5, f"expected 5 s (the longest job), took {seen['took']:g} s. {hints.SEQUENTIAL}"
    assert seen["never_awaited"] == 0, (
        f"settle created {seen['never_awaited']} coroutine(s) but never awaited them. {hints.NOT_AWAITED}"
    )


def mixed_jobs(rng):
    """Jobs, some failing, whose failures finish in another order than their indexes (delays all distinct)."""
    while True:
        count = rng.randint(5, 7)
        delays = rng.sample(range(1, 21), count)
        failing = sorted(rng.sample(range(count), rng.randint(2, count - 2)))
        finishing = sorted(failing, key=lambda index: delays[index])
        if finishing != failing:
            break
    jobs = []
    for index, delay in enumerate(delays):
        if index in failing:
            jobs.append({"delay": delay / 4, "error": pick_error(rng)})
        else:
            jobs.append({"delay": delay / 4, "result": f"job {index}"})
    return jobs, failing


@pytest.mark.points(3)
def test_settle_failures_do_not_stop_the_others(student):
    """A failing job neither cancels the others nor escapes settle; failures are sorted by index, not finishing time."""
    jobs, failing = mixed_jobs(student.rng)
    seen = student.run(p05.settle_jobs, jobs=jobs).value("settle")
    outcome = unwrap(seen["outcome"], what="settle")
    assert type(outcome) is tuple and len(outcome) == 2, (
        f"settle should return a tuple (results, failures), got {type(outcome).__name__}: {outcome!r}"
    )
    results, failures = outcome
    assert_same(results, [job["result"] for job in jobs if "result" in job], what="the successes")
    assert type(failures) is list and all(type(pair) is tuple and len(pair) == 2 for pair in failures), (
        f"failures should be a list of (index, exception) tuples, got {failures!r}"
    )
    assert_same([i for i, _ in failures], failing, what="the failures' indexes (ascending, not finishing order)")
    assert seen["sources"] == failing, (
        f"each index should carry its own job's exception (the very object raised), got {failures!r}"
    )
    assert seen["cancelled"] == [], f"no job should be cancelled because another failed; cancelled: {seen['cancelled']!r}"
    longest = max(job["delay"] for job in jobs)
    assert seen["took"] == approx(longest), (
        f"expected {longest:g} s (the longest job), took {seen['took']:g} s. {hints.SEQUENTIAL}"
    )


@pytest.mark.points(1)
def test_settle_empty_and_all_failing(student):
    """settle([]) returns ([], []); when every job fails the results list is empty."""
    seen = student.run(p05.settle_jobs, jobs=[]).value("settle")
    assert_same(unwrap(seen["outcome"], what="settle([])"), ([], []), what="settle([])")
    rng = student.rng
    jobs = [{"delay": 1, "error": ["KeyError", f"a{rng.randint(1, 99)}"]}, {"delay": 0, "error": ["KeyError", "b"]}]
    seen = student.run(p05.settle_jobs, jobs=jobs).value("settle")
    outcome = unwrap(seen["outcome"], what="settle")
    results, failures = outcome
    assert same(results, []) and same([i for i, _ in failures], [0, 1]), (
        f"expected ([], [(0, KeyError({jobs[0]['error'][1]!r})), (1, KeyError('b'))]), got {(results, failures)!r}"
    )


@pytest.mark.points(3)
def test_settle_propagates_cancellation_of_the_caller(student):
    """Cancelling settle's caller ends settle cancelled at once, cancels every job and leaves nothing running."""
    rng = student.rng
    count = rng.randint(3, 5)
    cancel_at = tenths(rng, 0.5, 4)
    jobs = [{"delay": cancel_at + tenths(rng, 1, 10), "result": index} for index in range(count)]
    seen = student.run(p05.settle_jobs, jobs=jobs, cancel_at=cancel_at).value("settle")
    if seen.get("early") is not None and "cancelled" not in seen["early"]:
        unwrap(seen["early"], what="settle")
    everyone = list(range(count))
    assert seen.get("started_at_cancel") == everyone, (
        f"expected all {count} jobs running after {cancel_at:g} s, started: {seen.get('started_at_cancel')!r}"
    )
    p05.ends_cancelled(seen, what="settle")
    assert seen["took"] == approx(cancel_at), (
        f"the cancellation should take effect at once ({cancel_at:g} s), settle ended at {seen['took']:g} s"
    )
    assert sorted(seen["cancelled"]) == everyone, (
        f"every running job should be cancelled with settle, cancelled: {seen['cancelled']!r}. {hints.LEFT_RUNNING}"
    )
    assert not seen["left_running"], (
        f"settle (cancelled) returned while {len(seen['left_running'])} task(s) it started were still running. "
        f"{hints.LEFT_RUNNING}"
    )


# --- count_leaf_exceptions --------------------------------------------------

PLAIN = ["ValueError", "KeyError", "OSError", "TypeError", "RuntimeError", "TimeoutError", "ConnectionError"]
BASE_ONLY = ["CancelledError", "KeyboardInterrupt"]


def program_error(name):
    """A leaf of a class the program defines (not a built-in), e.g. QuotaExceeded(Exception)."""
    return {"class": name, "base": "Exception"}


def leaf_name(leaf):
    return leaf["class"] if isinstance(leaf, dict) else leaf[0]


def random_group(rng, depth, kinds, *, base=False):
    """A group nested ``depth`` levels deep (at least one branch that deep) of leaves drawn from ``kinds``."""
    members = []
    if depth > 1:
        members.append(random_group(rng, depth - 1, kinds, base=base))
    for _ in range(rng.randint(1, 3)):
        if depth > 1 and rng.random() < 0.35:
            members.append(random_group(rng, rng.randint(1, depth - 1), kinds, base=base))
        else:
            members.append(rng.choice(kinds))
    rng.shuffle(members)
    has_base = any(not isinstance(m, dict) and m[0] in BASE_ONLY for m in members) or any(
        isinstance(m, dict) and m.get("group") == "BaseExceptionGroup" for m in members)
    kind = "BaseExceptionGroup" if base and has_base else "ExceptionGroup"
    return {"group": kind, "message": f"level {depth}", "members": members}


def leaf_counts(group):
    counts = {}
    for member in group["members"]:
        inner = leaf_counts(member) if isinstance(member, dict) and "group" in member else {leaf_name(member): 1}
        for name, n in inner.items():
            counts[name] = counts.get(name, 0) + n
    return counts


@pytest.mark.points(2)
def test_count_leaf_exceptions_deep_nesting(student):
    """Leaves are counted at any depth and summed across branches; group classes are never counted."""
    rng = student.rng
    custom = program_error(rng.choice(["QuotaExceeded", "PaymentDeclined", "StaleCache", "ShardMissing"]))
    kinds = [[name, f"{name} {rng.randint(1, 99)}"] for name in rng.sample(PLAIN, 2)] + [custom]
    group = random_group(rng, rng.randint(3, 4), kinds)
    group["members"].append(custom)  # the program's own class is always among the leaves
    seen = student.run(p05.count_leaves, group=group).value("count_leaf_exceptions")
    counts = unwrap(seen["outcome"], what="count_leaf_exceptions")
    expected = leaf_counts(group)
    assert seen["is_dict"], f"count_leaf_exceptions should return a dict, got {seen['type']}: {counts!r}"
    assert same(counts, expected), (
        f"expected {expected!r}, got {counts!r}. Nested groups are not leaves: count the exceptions inside them (recursively)."
    )


@pytest.mark.points(2)
def test_count_leaf_exceptions_base_groups_and_single_leaf(student):
    """BaseExceptionGroup leaves such as CancelledError and KeyboardInterrupt count too; a flat group with one leaf works."""
    rng = student.rng
    members = [["CancelledError"], ["KeyboardInterrupt"], ["CancelledError"],
               {"group": "ExceptionGroup", "message": "errors", "members": [[rng.choice(PLAIN)]]}]
    members += [[rng.choice(BASE_ONLY)] for _ in range(rng.randint(0, 2))]
    rng.shuffle(members)
    group = {"group": "BaseExceptionGroup", "message": "mixed", "members": members}
    seen = student.run(p05.count_leaves, group=group).value("count_leaf_exceptions")
    counts = unwrap(seen["outcome"], what="count_leaf_exceptions")
    expected = leaf_counts(group)
    assert seen["is_dict"] and same(counts, expected), (
        f"expected {expected!r}, got {counts!r}. BaseExceptionGroup holds BaseExceptions too: "
        "check isinstance(exc, BaseExceptionGroup), which covers ExceptionGroup as well."
    )
    name = rng.choice(PLAIN)
    seen = student.run(p05.count_leaves, group={"group": "ExceptionGroup", "message": "one", "members": [[name]]}
                       ).value("count_leaf_exceptions")
    single = unwrap(seen["outcome"], what="count_leaf_exceptions")
    assert seen["is_dict"] and same(single, {name: 1}), f"expected {{{name!r}: 1}}, got {single!r}"
