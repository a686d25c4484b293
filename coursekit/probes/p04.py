"""Scenarios of assignment 04 (tasks): tracked jobs, tracked calls and a TaskSet driven step by step.

Each scenario runs in the student process on a virtual clock. It builds its
probes from plain descriptions the test passes in, calls the student's
function, and reports what the probes saw *at the moment the call returned*
(before any further loop turn): each job's state ("cancelled", "ran to its
end instead of being cancelled", ...), the clean-ups that had finished, the
calls in flight, the tasks still pending, which probe's exception came out.
Only then does it cancel and await whatever a wrong implementation left
behind.

Descriptions (plain data):

- a *job* (a coro_fn): ``{"delay": 2, "result": "a"}``, or
  ``{"delay": 1, "error": ["KeyError", "boom"]}`` (a built-in exception,
  raised after the delay), optionally ``"cleanup": 1.5`` (once cancelled,
  it takes that long to end);
- a *mapped call* ``fn(item)`` (:func:`map_items`): sleeps ``delays[item]``
  (else ``delay``), raises ``fail[item]`` if given, else returns
  ``item * scale``;
- a *TaskSet step* (:func:`taskset_steps`): see there.

The functions after the scenarios are the judge's side: they read the data
the scenarios send back (decoded values only) and fail with the course's
messages.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import coursekit
from coursekit import hints
from coursekit.cancellation import job_state
from coursekit.probes import Probe, kit, scenario
from coursekit.probes.kit import Outcome, attempt, call, exception_from
from coursekit.protocol import ErrorInfo, _safe_repr
from coursekit.testing import Work, leaves, tasks_now

# The kit's frames stay out of the failure a student reads (coursekit.hidden_in_judged_failures).
__tracebackhide__ = coursekit.hidden_in_judged_failures

# --- building the probes ---------------------------------------------------------------------


def _key(found: BaseException, errors: Mapping[Any, BaseException]) -> Any:
    """The key of the probe's exception that ``found`` is (the very object), else None."""
    return next((key for key, error in errors.items() if error is found), None)


def culprit(outcome: Outcome, errors: Mapping[Any, BaseException]) -> dict[str, Any] | None:
    """For a ``raised`` outcome: which probe's exception it is, and which each member of a group is (None: another)."""
    exc = outcome.get("raised") if type(outcome) is dict else None
    if not isinstance(exc, BaseException):
        return None
    return {"self": _key(exc, errors), "leaves": [_key(leaf, errors) for leaf in leaves(exc)]}


def _left_since(before: set[asyncio.Task[Any]]) -> list[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return [t for t in tasks_now() - before if t is not current]


async def reap(before: set[asyncio.Task[Any]], seconds: float = 60) -> None:
    """Cancel and await, on the virtual clock, what the call left running (after the observation)."""
    left = _left_since(before)
    for task in left:
        task.cancel()
    if left:
        await asyncio.wait(left, timeout=seconds)


class Jobs:
    """coro_fns made from job descriptions, tracked in a :class:`coursekit.testing.Work` (plus their clean-ups)."""

    def __init__(self, specs: Iterable[Mapping[str, Any]]) -> None:
        self.specs = [dict(spec) for spec in specs]
        self.work = Work()
        self.work.coroutines = [None] * len(self.specs)  # by index, for cancellation.job_state
        self.errors = {i: exception_from(*s["error"]) for i, s in enumerate(self.specs) if s.get("error") is not None}
        self.cleaned: list[int] = []
        self.made: list[Any] = []

    def coro_fns(self) -> list[Callable[[], Any]]:
        return [self._coro_fn(i) for i in range(len(self.specs))]

    def _coro_fn(self, index: int) -> Callable[[], Any]:
        spec, work, cleaned = self.specs[index], self.work, self.cleaned
        delay, cleanup, result = spec.get("delay", 0), spec.get("cleanup", 0), spec.get("result")
        error = self.errors.get(index)

        async def run() -> Any:
            loop = asyncio.get_running_loop()
            work.started.append(index)
            work.start_times[index] = loop.time()
            work.in_flight += 1
            work.peak = max(work.peak, work.in_flight)
            try:
                await asyncio.sleep(delay)
                if error is not None:
                    raise error
                return result
            except asyncio.CancelledError:
                work.cancelled.append(index)
                if cleanup:
                    try:
                        await asyncio.sleep(cleanup)
                    finally:
                        cleaned.append(index)
                raise
            finally:
                work.in_flight -= 1
                work.end_times[index] = loop.time()
                work.finished.append(index)

        def coro_fn() -> Any:
            coro = run()
            work.coroutines[index] = coro
            self.made.append(coro)
            return coro

        return coro_fn

    def observe(self, probe: Probe, outcome: Outcome, before: set[asyncio.Task[Any]]) -> dict[str, Any]:
        """What the jobs went through when the call returned or raised (no loop turn in between)."""
        return {
            "outcome": outcome,
            "took": probe.now(),
            "states": [job_state(self.work, i) for i in range(len(self.specs))],
            "cleaned": list(self.cleaned),
            "peak": self.work.peak,
            "left": len(_left_since(before)),
            "culprit": culprit(outcome, self.errors),
        }

    def close_unstarted(self) -> None:
        """Close the coroutines made but never run (no "never awaited" warning later)."""
        for coro in self.made:
            if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
                coro.close()


class Mapper:
    """A tracked async ``fn(item)``: in flight now and at the peak, calls with their start times, tasks, ends."""

    def __init__(self, *, delay: float, delays: Mapping[Any, float] | None, fail: Mapping[Any, Any] | None,
                 cleanup: float, scale: int) -> None:
        self.delay, self.delays, self.cleanup, self.scale = delay, dict(delays or {}), cleanup, scale
        self.fail = {item: exception_from(*spec) for item, spec in (fail or {}).items()}
        self.in_flight = 0
        self.peak = 0
        self.calls: list[Any] = []
        self.starts: list[list[Any]] = []
        self.ended: list[Any] = []
        self.cancelled: list[Any] = []
        self.tasks: set[asyncio.Task[Any]] = set()

    async def __call__(self, item: Any) -> Any:
        loop = asyncio.get_running_loop()
        self.calls.append(item)
        self.starts.append([item, loop.time()])
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delays.get(item, self.delay))
            if item in self.fail:
                raise self.fail[item]
            return item * self.scale
        except asyncio.CancelledError:
            self.cancelled.append(item)
            if self.cleanup:
                await asyncio.sleep(self.cleanup)  # a clean-up that takes a while
            raise
        finally:
            self.in_flight -= 1
            self.ended.append(item)


# --- scenarios -------------------------------------------------------------------------------


@scenario
async def run_jobs(probe: Probe, *, function: str, jobs: list[dict[str, Any]], kwargs: dict[str, Any] | None = None,
                   within: float = 60) -> dict[str, Any]:
    """``await function(coro_fns, **kwargs)`` over tracked jobs: the outcome and what each job went through by then."""
    made = Jobs(jobs)
    before = tasks_now()
    try:
        outcome = await call(probe, function, [made.coro_fns()], kwargs or {}, within)
        seen = made.observe(probe, outcome, before)
        await reap(before)
        return seen
    finally:
        made.close_unstarted()


@scenario
async def iterate_jobs(probe: Probe, *, jobs: list[dict[str, Any]], stop_after: int | None = None,
                       within: float = 60) -> dict[str, Any]:
    """``async for`` over ``as_completed_indexed(coro_fns)``: each item with its loop time, and the jobs' states.

    With ``stop_after``, the consumer breaks after that many items and then
    awaits the generator's ``aclose()``; the states are read when that returns.
    """
    made = Jobs(jobs)
    before = tasks_now()
    items: list[Any] = []
    times: list[float] = []
    try:
        started = attempt(probe.function("as_completed_indexed"), made.coro_fns())
        if "raised" in started:
            return made.observe(probe, started, before) | {"items": items, "times": times}
        agen = started.pop("value")
        if not hasattr(agen, "__anext__"):
            if inspect.iscoroutine(agen):
                stub = getattr(agen, "cr_code", None) is not None and agen.cr_code.co_names == ("NotImplementedError",)
                agen.close()
                if stub:
                    problem = NotImplementedError("as_completed_indexed is still the stub: its body only raises "
                                                  "NotImplementedError")
                    return made.observe(probe, {"raised": problem}, before) | {"items": items, "times": times}
            return made.observe(probe, {"not_async_iterator": _safe_repr(agen)}, before) | {"items": items,
                                                                                            "times": times}

        async def consume() -> None:
            async for item in agen:
                items.append(item)
                times.append(probe.now())
                if stop_after is not None and len(items) >= stop_after:
                    break
            if stop_after is not None:
                await agen.aclose()

        outcome = await kit.within(consume(), within)
        seen = made.observe(probe, outcome, before) | {"items": items, "times": times}
        with contextlib.suppress(BaseException):
            async with asyncio.timeout(60):
                await agen.aclose()
        await reap(before)
        return seen
    finally:
        made.close_unstarted()


@scenario
async def map_items(probe: Probe, *, function: str, items: list[Any], kwargs: dict[str, Any],
                    delay: float = 1.0, delays: dict[Any, float] | None = None, fail: dict[Any, Any] | None = None,
                    cleanup: float = 0, scale: int = 10, within: float = 60, after: float = 0) -> dict[str, Any]:
    """``await function(fn, items, **kwargs)`` with a tracked ``fn``: the outcome and what the calls went through.

    ``after``: then wait that long and count the calls again (a call started
    after the function returned shows up there).
    """
    fn = Mapper(delay=delay, delays=delays, fail=fail, cleanup=cleanup, scale=scale)
    before = tasks_now()
    caller = asyncio.current_task()
    outcome = await call(probe, function, [fn, list(items)], kwargs, within)
    seen = {
        "outcome": outcome,
        "took": probe.now(),
        "peak": fn.peak,
        "in_flight": fn.in_flight,
        "calls": list(fn.calls),
        "starts": [list(s) for s in fn.starts],
        "ended": list(fn.ended),
        "cancelled": list(fn.cancelled),
        "tasks": len(fn.tasks),
        "in_caller": caller in fn.tasks,
        "tasks_done": all(task.done() for task in fn.tasks),
        "left": len(_left_since(before)),
        "culprit": culprit(outcome, fn.fail),
    }
    if after:
        await asyncio.sleep(after)
        seen["calls_after"] = len(fn.calls)
    await reap(before)
    return seen


@scenario
async def taskset_steps(probe: Probe, *, jobs: list[dict[str, Any]], steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Make a ``TaskSet()``, run ``steps`` on it, and report what was seen after each one.

    Jobs (coroutines to spawn): a job description (``delay``, ``result`` or
    ``error``, ``cleanup``); ``{"future": True}``, a coroutine that waits for
    a future only it holds and records the value it gets;
    ``{"stubborn_until": t}``, one that swallows every cancellation until
    loop time ``t``.

    Steps, each ``{"do": ...}``:
    ``spawn`` (``job``: its index; ``keep``: ``"task"`` to hold the returned
    task, ``"weak"`` for a weak reference only, ``"none"`` to drop it),
    ``sleep`` (``seconds``), ``settle`` (a few loop turns), ``gc``
    (``gc.collect()``), ``resolve`` (``job``, ``value``: set the result of
    that job's future, if it still exists), ``aclose`` (``kwargs``,
    ``within``), ``drop`` (let go of the TaskSet itself, then collect).

    After each step: the loop time, ``len(taskset)``, ``taskset.errors``
    (which job's exception each entry is), and per spawned job: done,
    cancelled, its result (a held task), alive (a weak reference), whether
    its future still exists, what it recorded, whether its clean-up ended.
    """
    gc.collect()  # what earlier scenarios left behind is not this one's business
    before = tasks_now()
    errors = {i: exception_from(*s["error"]) for i, s in enumerate(jobs) if s.get("error") is not None}
    held: dict[int, Any] = {}
    weak: dict[int, weakref.ref[Any]] = {}
    futures: dict[int, weakref.ref[asyncio.Future[Any]]] = {}
    recorded: dict[int, list[Any]] = {}
    cleaned: list[int] = []
    spawned: list[int] = []
    made: list[Any] = []

    def coroutine(index: int) -> Any:
        spec = jobs[index]
        if spec.get("future"):
            async def waits_for_its_future() -> None:
                # Only this coroutine holds the future, so only the task holds the coroutine: the loop
                # itself keeps tasks in a weak set. Without a strong reference the whole cycle is garbage.
                future = asyncio.get_running_loop().create_future()
                futures[index] = weakref.ref(future)
                recorded.setdefault(index, []).append(await future)

            return waits_for_its_future()
        if "stubborn_until" in spec:
            end = spec["stubborn_until"]

            async def stubborn() -> None:
                loop = asyncio.get_running_loop()
                while loop.time() < end:
                    try:
                        await asyncio.sleep(end - loop.time())
                    except asyncio.CancelledError:
                        pass  # deliberately rude: the point of aclose's timeout

            return stubborn()
        delay, cleanup, result = spec.get("delay", 0), spec.get("cleanup", 0), spec.get("result")
        error = errors.get(index)

        async def job() -> Any:
            try:
                await asyncio.sleep(delay)
                if error is not None:
                    raise error
                return result
            except asyncio.CancelledError:
                if cleanup:
                    await asyncio.sleep(cleanup)
                    cleaned.append(index)
                raise

        return job()

    def view(index: int) -> dict[str, Any]:
        seen: dict[str, Any] = {"job": index, "cleaned": index in cleaned, "recorded": list(recorded.get(index, []))}
        if index in held and isinstance(held[index], asyncio.Task):
            task = held[index]
            seen["done"] = task.done()
            seen["cancelled"] = task.cancelled()
            seen["result"] = attempt(task.result) if task.done() and not task.cancelled() else None
        if index in weak:
            seen["alive"] = weak[index]() is not None
        if jobs[index].get("future"):
            seen["future_alive"] = index in futures and futures[index]() is not None
        return seen

    created = attempt(probe.function("TaskSet"))
    taskset = created.pop("value", None)
    report: dict[str, Any] = {"created": created or {"value": None}, "seen": []}
    if "raised" in created:
        return report
    try:
        for step in steps:
            action = step["do"]
            seen: dict[str, Any] = {"do": action}
            if action == "spawn":
                index = step["job"]
                coro = coroutine(index)
                made.append(weakref.ref(coro))  # never a strong one: a coroutine holds its task's future
                spawning = attempt(taskset.spawn, coro)
                if "raised" in spawning:
                    seen["spawned"] = spawning
                    report["seen"].append(seen)
                    break
                returned = spawning.pop("value")
                spawned.append(index)
                is_task = isinstance(returned, asyncio.Task)
                seen["spawned"] = {"value": {"is_task": is_task, "repr": None if is_task else _safe_repr(returned)}}
                if step.get("keep") == "task":
                    held[index] = returned
                elif step.get("keep") == "weak":
                    with contextlib.suppress(TypeError):
                        weak[index] = weakref.ref(returned)
                del returned, spawning, coro
            elif action == "sleep":
                await asyncio.sleep(step["seconds"])
            elif action == "settle":
                for _ in range(5):
                    await asyncio.sleep(0)
            elif action == "gc":
                gc.collect()
            elif action == "resolve":
                future = futures[step["job"]]() if step["job"] in futures else None
                if future is not None and not future.done():
                    future.set_result(step["value"])
                del future
            elif action == "aclose":
                closing = attempt(taskset.aclose, **step.get("kwargs", {}))
                seen["outcome"] = closing if "raised" in closing else await kit.within(closing["value"], step["within"])
                del closing
            elif action == "drop":
                taskset = None
                gc.collect()
                for _ in range(5):
                    await asyncio.sleep(0)
            else:
                raise ValueError(f"unknown step {action!r}")
            seen["t"] = probe.now()
            if taskset is not None:
                seen["len"] = attempt(len, taskset)
                seen["errors"] = _errors_seen(taskset, errors)
            seen["jobs"] = [view(i) for i in spawned]
            report["seen"].append(seen)
        return report
    finally:
        taskset = None
        held.clear()
        await reap(before)
        for ref in made:
            coro = ref()
            if coro is not None and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
                coro.close()


def _errors_seen(taskset: Any, errors: Mapping[int, BaseException]) -> Outcome:
    try:
        entries = taskset.errors
    except Exception as exc:  # noqa: BLE001 - a missing attribute is the observation
        return {"raised": exc}
    if type(entries) is not list:
        return {"value": {"is_list": False, "jobs": [], "shown": _safe_repr(entries)}}
    return {"value": {"is_list": True, "jobs": [_key(e, errors) for e in entries],
                      "shown": "[" + ", ".join(_safe_repr(e) for e in entries) + "]"}}


# --- the judge's side: reading what the scenarios sent (decoded data only) --------------------


ERRORS = ["KeyError", "ValueError", "OSError", "LookupError", "RuntimeError", "ArithmeticError", "ConnectionError"]


def draw_labels(rng: Any, count: int) -> list[str]:
    """``count`` distinct labels, new in every run."""
    return [f"{word}-{number}" for word, number in zip(
        rng.choices(["alpha", "bravo", "delta", "echo", "kilo", "lima", "oscar", "sierra"], k=count),
        rng.sample(range(100, 1000), count))]


def draw_error(rng: Any) -> list[str]:
    """A built-in exception's description ``[name, message]``, new in every run."""
    return [rng.choice(ERRORS), f"failure {rng.randrange(10_000)}"]


def draw_items(rng: Any, count: int) -> list[int]:
    """``count`` distinct item values."""
    return rng.sample(range(1, 1000), count)



def show(error: Any) -> str:
    """An exception as Python's repr writes it (``KeyError('boom')``), from its decoded form."""
    if not isinstance(error, ErrorInfo):
        return repr(error)
    if error.exceptions:
        return f"{error.name}({error.args[0]!r}, [{', '.join(show(e) for e in error.exceptions)}])" if error.args \
            else f"{error.name}([{', '.join(show(e) for e in error.exceptions)}])"
    return f"{error.name}({', '.join(repr(a) for a in error.args)})"


def expected(spec: list[Any]) -> str:
    """``["KeyError", "boom"]`` as the test writes the exception it expects: ``KeyError('boom')``."""
    return f"{spec[0]}({spec[1]!r})"


def shown(errors: Iterable[Any]) -> str:
    """A list of exceptions as Python's repr writes it: ``[KeyError('boom')]``."""
    return "[" + ", ".join(show(e) for e in errors) + "]"


def leaves_of(error: ErrorInfo) -> list[ErrorInfo]:
    """The plain exceptions inside a (possibly nested) group; ``[error]`` for a plain one."""
    if error.exceptions or error.is_a("BaseExceptionGroup"):
        return [leaf for inner in error.exceptions for leaf in leaves_of(inner)]
    return [error]


def expect_raise(outcome: Any, *, what: str) -> ErrorInfo:
    """The exception of a call that should raise; a failure if it returned, hung, or raised NotImplementedError.

    As ``coursekit.testing.raised_by``: ``NotImplementedError`` (the stub),
    ``AssertionError`` and what is not an ``Exception`` (``CancelledError``)
    fail the test with their own message and hint.
    """
    from coursekit import judge

    error = judge.raised(outcome)
    if error is None:
        if type(outcome) is dict and "value" in outcome:
            raise AssertionError(f"expected {what} to raise, but it returned {outcome['value']!r}")
        judge.unwrap(outcome, what=what)
        raise AssertionError(f"the process running your code sent a malformed outcome for {what}")
    if error.is_a("NotImplementedError", "AssertionError") or not error.is_a("Exception"):
        judge.unwrap(outcome, what=what)
    return error


def assert_cancelled_and_awaited(states: list[str], indexes: Iterable[int], *, what: str) -> None:
    """``coursekit.cancellation.assert_cancelled_and_awaited`` on the states a scenario reported."""
    wanted = sorted(indexes)
    wrong = {i: (states[i] if i < len(states) else "never started") for i in wanted}
    wrong = {i: state for i, state in wrong.items() if state != "cancelled"}
    if not wrong:
        return
    details = "; ".join(f"job {i}: {state}" for i, state in wrong.items())
    advice = hints.LEFT_RUNNING
    if any(str(state).startswith("cancel() was called") for state in wrong.values()):
        advice = (
            "task.cancel() only asks: the task ends at its next turn. Await the cancelled tasks "
            "(e.g. `await asyncio.gather(*tasks, return_exceptions=True)`) before returning or raising."
        )
    raise AssertionError(
        f"expected jobs {wanted!r} to be cancelled and awaited before {what} returned or raised; "
        f"{details}. {advice}"
    )


def assert_nothing_left_running(seen: Mapping[str, Any], *, what: str) -> None:
    """Fail if the scenario counted tasks still pending when the call returned."""
    left = seen["left"]
    assert left == 0, (
        f"{what} returned while {left} task(s) it started were still running. {hints.LEFT_RUNNING}"
    )


def items_of(seen: Mapping[str, Any], *, what: str) -> list[Any]:
    """The items :func:`iterate_jobs` got; a failure if the call was no async generator or did not end well."""
    from coursekit import judge

    outcome = seen["outcome"]
    if type(outcome) is dict and "not_async_iterator" in outcome:
        raise AssertionError(
            "as_completed_indexed should be an async generator (an `async def` with `yield`), "
            f"got {outcome['not_async_iterator']}"
        )
    judge.unwrap(outcome, what=what)
    return list(seen["items"])


def taskset_seen(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The snapshots of :func:`taskset_steps`; a failure if ``TaskSet()`` or a ``spawn`` raised."""
    from coursekit import judge

    judge.unwrap(report["created"], what="TaskSet()")
    for seen in report["seen"]:
        if "spawned" in seen:
            judge.unwrap(seen["spawned"], what="taskset.spawn(coro)")
    return list(report["seen"])


def raised_from_generator(seen: Mapping[str, Any], *, what: str) -> ErrorInfo:
    """The exception that came out of the ``async for`` of :func:`iterate_jobs`."""
    outcome = seen["outcome"]
    if type(outcome) is dict and "not_async_iterator" in outcome:
        items_of(seen, what=what)
    if type(outcome) is dict and "value" in outcome:
        raise AssertionError(f"expected {what} to raise, but it returned {outcome['value']!r}")
    return expect_raise(outcome, what=what)
