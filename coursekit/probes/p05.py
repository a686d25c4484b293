"""Scenarios of assignment 05 (errors, cancellation and debugging): the probes beside the student's code.

The judge describes the work as plain data and these scenarios build it:

- an *error* is ``[name, *args]``, ``name`` a built-in exception class or one
  of asyncio's (``["OSError", "disk full"]``, ``["CancelledError"]``), or
  ``{"class": "AppError", "base": "Exception", "args": [...]}`` for a
  class of that name made on the spot (a class of the program, not the
  standard library's);
- a *job* is ``{"delay": 2, "result": "a"}`` or ``{"delay": 1, "error": [...]}``:
  it sleeps ``delay`` seconds of loop time, then returns or raises.

What needs the objects themselves (is this the very exception my job raised?
is the task I passed cancelled? did the logged record carry my exception?) is
decided here and reported as plain data: indexes, booleans, loop times.
Calls that end a task report how it ended: ``{"cancelled": True}``,
``{"value": v}``, ``{"raised": exc}``, or ``{"running": seconds}`` when it
was still running that long after it was cancelled.

``find_slow_steps`` measures real time, so its scenario runs its own event
loop on the real clock; the others run on the virtual clock.
"""
from __future__ import annotations

import asyncio
import builtins
import gc
import inspect
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import coursekit
from coursekit import hints
from coursekit.hints import describe_parts
from coursekit.judge import raised, unwrap
from coursekit.probes import Probe, scenario
from coursekit.probes.kit import attempt, within

# The kit's frames stay out of the failure a student reads (coursekit.hidden_in_judged_failures).
__tracebackhide__ = coursekit.hidden_in_judged_failures

Outcome = dict[str, Any]


# --- building blocks ----------------------------------------------------------


class _Errors:
    """Exceptions built from their plain-data description; made classes are shared by name within one scenario."""

    def __init__(self) -> None:
        self.made: dict[str, type[BaseException]] = {}

    def kind(self, name: str) -> type[BaseException]:
        """A built-in exception class or one of asyncio's, by name; nothing else."""
        if type(name) is not str or not name.isidentifier():
            raise ValueError(f"not an exception's name: {name!r}")
        found = getattr(builtins, name, None)
        if not (isinstance(found, type) and issubclass(found, BaseException)):
            found = getattr(asyncio, name, None) if name in asyncio.exceptions.__all__ else None
        if not (isinstance(found, type) and issubclass(found, BaseException)):
            raise ValueError(f"not a built-in or asyncio exception: {name}")
        return found

    def build(self, spec: Any) -> BaseException:
        """The exception ``spec`` describes (see the module's docstring)."""
        if type(spec) is dict:
            name, base = spec.get("class"), self.kind(spec.get("base", "Exception"))
            if type(name) is not str or not name.isidentifier() or hasattr(builtins, name):
                raise ValueError(f"not a new class name: {name!r}")
            cls = self.made.get(name)
            if cls is None:
                cls = self.made[name] = type(name, (base,), {"__module__": "program"})
            return cls(*spec.get("args", ()))
        if type(spec) in (list, tuple) and spec:
            return self.kind(spec[0])(*spec[1:])
        raise ValueError(f"not an exception's description: {spec!r}")

    def group(self, spec: Any) -> BaseException:
        """A (possibly nested) exception group: ``{"group": "ExceptionGroup", "message": m, "members": [...]}``."""
        if type(spec) is dict and "group" in spec:
            cls = {"ExceptionGroup": ExceptionGroup, "BaseExceptionGroup": BaseExceptionGroup}[spec["group"]]
            return cls(str(spec.get("message", "")), [self.group(member) for member in spec["members"]])
        return self.build(spec)


def _index_of(value: Any, candidates: list[Any]) -> int | None:
    """The index of the candidate that *is* ``value`` (identity, never ``==``), else None."""
    for index, candidate in enumerate(candidates):
        if candidate is value:
            return index
    return None


def _start(probe: Probe, function: str, *args: Any, **kwargs: Any) -> tuple[asyncio.Task[Any] | None, Outcome | None]:
    """The student's ``function(*args, **kwargs)`` started as a task; or, when it could not be, the outcome why."""
    made = attempt(probe.function(function), *args, **kwargs)
    if "raised" in made:
        return None, made
    if not inspect.isawaitable(made["value"]):
        return None, {"not_awaitable": made["value"]}
    return asyncio.ensure_future(made["value"]), None


def _ended(task: asyncio.Task[Any]) -> Outcome:
    """How a finished task ended."""
    if task.cancelled():
        return {"cancelled": True}
    error = task.exception()
    if error is not None:
        return {"raised": error}
    return {"value": task.result()}


def _early(task: asyncio.Task[Any]) -> Outcome | None:
    """How ``task`` ended if it already has, else None."""
    return _ended(task) if task.done() else None


async def _cancel_and_wait(task: asyncio.Task[Any], seconds: float) -> Outcome:
    """Cancel ``task`` and wait up to ``seconds`` of loop time for it; how it ended."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        return {"running": seconds}
    return _ended(task)


def _others_running(before: set[asyncio.Task[Any]]) -> list[str]:
    """The names of tasks started since ``before`` that have not finished (the current one aside)."""
    current = asyncio.current_task()
    return [t.get_name() for t in asyncio.all_tasks() if not t.done() and t is not current and t not in before]


def _close_unstarted(*coros: Any) -> None:
    """Close coroutines nothing ever started (no "never awaited" warning for a stub's sake)."""
    for coro in coros:
        if inspect.iscoroutine(coro) and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
            coro.close()


def _watched_job(probe: Probe, errors: _Errors, job: dict[str, Any], seen: list[str]) -> Awaitable[Any]:
    """A coroutine doing ``job``; it appends "finished", "failed" or "cancelled" to ``seen``."""
    delay = job.get("delay", 0)
    problem = errors.build(job["error"]) if "error" in job else None

    async def work() -> Any:
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        if problem is not None:
            seen.append("failed")
            raise problem
        seen.append("finished")
        return job.get("result")

    return work()


# --- with_timeout ---------------------------------------------------------------


@scenario
async def with_timeout_on(probe: Probe, *, work: dict[str, Any], seconds: float, options: dict[str, Any] | None = None,
                          as_task: bool = False, cancel_at: float | None = None,
                          within_seconds: float = 60) -> dict[str, Any]:
    """``with_timeout(job, seconds, **options)``, the job a coroutine or a task; its outcome, and what the job saw.

    ``cancel_at``: the call runs as a task that is cancelled at that loop
    time; then ``early`` is how it ended before (None if it was still
    running) and ``ended`` how it ended after the cancellation.
    ``seen`` lists what the job did: "finished", "failed" or "cancelled".
    """
    errors, seen = _Errors(), []
    before = set(asyncio.all_tasks())
    coro = _watched_job(probe, errors, work, seen)
    aw: Any = asyncio.create_task(coro) if as_task else coro
    report: dict[str, Any] = {}
    try:
        if cancel_at is None:
            made = attempt(probe.function("with_timeout"), aw, seconds, **(options or {}))
            report["outcome"] = made if "raised" in made else await within(made["value"], within_seconds)
            report["took"] = probe.now()
        else:
            task, failed = _start(probe, "with_timeout", aw, seconds, **(options or {}))
            if task is None:
                report["early"] = failed
            else:
                await asyncio.sleep(cancel_at)
                report["early"] = _early(task)
                report["ended"] = await _cancel_and_wait(task, within_seconds)
            report["took"] = probe.now()
    finally:
        if not as_task:
            _close_unstarted(coro)
    report["seen"] = list(seen)
    report["task_cancelled"] = aw.cancelled() if as_task else None
    report["left_running"] = _others_running(before)
    if as_task and not aw.done():
        aw.cancel()
    return report


# --- retry ----------------------------------------------------------------------


@scenario
async def retry_attempts(probe: Probe, *, fails: int, error: list[Any], result: str = "ok after {n}",
                         delay: float = 0, options: dict[str, Any] | None = None, retry_on: list[str] | None = None,
                         cancel_at: float | None = None, then_wait: float = 60,
                         within_seconds: float = 600) -> dict[str, Any]:
    """``retry(attempt, **options)``: each attempt sleeps ``delay`` s, then the first ``fails`` raise, the next returns.

    Attempt ``n`` (from 1) raises ``error`` built with its arguments formatted
    with ``n`` (``["OSError", "try {n}"]``) or returns
    ``result.format(n=n)``. ``retry_on`` names the classes of the parameter.
    Reports each attempt's start time, and ``which``: the index of the attempt
    whose exception came out of retry (identity), if one did.
    ``cancel_at``: retry runs as a task cancelled at that loop time; then
    ``calls_at_cancel`` is the number of attempts made by then and ``starts``
    counts those made up to ``then_wait`` s after it ended.
    """
    errors = _Errors()
    starts: list[float] = []
    raised: list[BaseException] = []

    async def attempt_once() -> Any:
        starts.append(probe.now())
        n = len(starts)
        await asyncio.sleep(delay)
        if n <= fails:
            problem = errors.build([error[0], *(str(a).format(n=n) for a in error[1:])])
            raised.append(problem)
            raise problem
        return result.format(n=n)

    kwargs = dict(options or {})
    if retry_on is not None:
        kwargs["retry_on"] = tuple(errors.kind(name) for name in retry_on)
    report: dict[str, Any] = {}
    if cancel_at is None:
        made = attempt(probe.function("retry"), attempt_once, **kwargs)
        outcome = made if "raised" in made else await within(made["value"], within_seconds)
        report["outcome"] = outcome
        report["took"] = probe.now()
        report["which"] = _index_of(outcome.get("raised"), raised) if "raised" in outcome else None
    else:
        task, failed = _start(probe, "retry", attempt_once, **kwargs)
        if task is None:
            report["early"] = failed
        else:
            await asyncio.sleep(cancel_at)
            report["early"] = _early(task)
            report["calls_at_cancel"] = len(starts)
            report["ended"] = await _cancel_and_wait(task, within_seconds)
            report["took"] = probe.now()
            await asyncio.sleep(then_wait)
    report["starts"] = list(starts)
    report["raised"] = len(raised)
    return report


# --- settle ---------------------------------------------------------------------


@scenario
async def settle_jobs(probe: Probe, *, jobs: list[dict[str, Any]], cancel_at: float | None = None,
                      within_seconds: float = 60) -> dict[str, Any]:
    """``settle(coro_fns)`` over tracked jobs: its outcome, the peak in flight, and each job's fate.

    ``sources``: for each failure pair the outcome holds, the index of the job
    whose very exception it carries (None if it is not one of them).
    ``started`` / ``cancelled`` list job indexes; ``never_awaited`` counts the
    coroutines created but never started. ``cancel_at``: settle runs as a task
    cancelled at that loop time (``early``, ``started_at_cancel``, ``ended``).
    """
    errors = _Errors()
    problems = [errors.build(job["error"]) if "error" in job else None for job in jobs]
    state = {"in_flight": 0, "peak": 0}
    started: list[int] = []
    cancelled: list[int] = []
    coroutines: list[Any] = []

    def tracked(index: int) -> Callable[[], Awaitable[Any]]:
        job = jobs[index]

        async def run() -> Any:
            started.append(index)
            state["in_flight"] += 1
            state["peak"] = max(state["peak"], state["in_flight"])
            try:
                await asyncio.sleep(job.get("delay", 0))
                if problems[index] is not None:
                    raise problems[index]
                return job.get("result")
            except asyncio.CancelledError:
                cancelled.append(index)
                raise
            finally:
                state["in_flight"] -= 1

        def coro_fn() -> Awaitable[Any]:
            coro = run()
            coroutines.append(coro)
            return coro

        return coro_fn

    fns = [tracked(i) for i in range(len(jobs))]
    before = set(asyncio.all_tasks())
    report: dict[str, Any] = {}
    try:
        if cancel_at is None:
            made = attempt(probe.function("settle"), fns)
            outcome = made if "raised" in made else await within(made["value"], within_seconds)
            report["outcome"] = outcome
            report["took"] = probe.now()
            report["sources"] = _failure_sources(outcome.get("value"), problems)
        else:
            task, failed = _start(probe, "settle", fns)
            if task is None:
                report["early"] = failed
            else:
                await asyncio.sleep(cancel_at)
                report["early"] = _early(task)
                report["started_at_cancel"] = sorted(started)
                report["ended"] = await _cancel_and_wait(task, within_seconds)
                report["took"] = probe.now()
        report["left_running"] = _others_running(before)
    finally:
        idle = [c for c in coroutines if inspect.getcoroutinestate(c) == inspect.CORO_CREATED]
        _close_unstarted(*idle)
    report.update(peak=state["peak"], started=list(started), cancelled=list(cancelled), never_awaited=len(idle))
    return report


def _failure_sources(value: Any, problems: list[BaseException | None]) -> list[int | None] | None:
    """For each ``(index, exception)`` in settle's failures, the job whose exception it is (by identity)."""
    try:
        failures = value[1]
        return [_index_of(pair[1], problems) if isinstance(pair, tuple) and len(pair) == 2 else None
                for pair in list(failures)[:100]]
    except Exception:  # noqa: BLE001 - a result of the wrong shape has no sources; the judge says why
        return None


# --- count_leaf_exceptions ------------------------------------------------------


@scenario
def count_leaves(probe: Probe, *, group: dict[str, Any]) -> dict[str, Any]:
    """``count_leaf_exceptions`` of the group ``group`` describes; a ``dict`` subclass's counts as a plain dict.

    ``is_dict`` says whether the value was a ``dict`` (a subclass such as
    ``Counter`` included) and ``type`` names its class.
    """
    built = _Errors().group(group)
    outcome = attempt(probe.function("count_leaf_exceptions"), built)
    if "value" not in outcome:
        return {"outcome": outcome, "is_dict": False, "type": None}
    value = outcome["value"]
    is_dict = isinstance(value, dict)
    return {"outcome": {"value": dict(value) if is_dict else value}, "is_dict": is_dict, "type": type(value).__name__}


# --- worker ---------------------------------------------------------------------


class _Records(logging.Handler):
    """Every record that reaches the root logger: its message (or why it does not format), and the index of the
    item whose very exception it carries."""

    def __init__(self, problems: list[BaseException | None]) -> None:
        super().__init__(logging.DEBUG)
        self.problems = problems
        self.seen: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        try:
            message, problem = record.getMessage(), None
        except Exception as error:  # noqa: BLE001 - a message that does not format is what the judge is told
            message, problem = str(record.msg), f"{type(error).__name__}: {error}"
        self.seen.append({"logger": record.name, "level": record.levelno, "level_name": record.levelname,
                          "message": message[:500], "format_error": problem,
                          "exc_of": _index_of(exc, self.problems) if exc is not None else None,
                          "exc_type": type(exc).__name__ if exc is not None else None})


@scenario
async def worker_run(probe: Probe, *, items: list[dict[str, Any]], cleanup_delay: float = 1, drain: bool = True,
                     drain_within: float = 60, then_wait: float = 0, logger: str = "course.worker",
                     level: str = "ERROR", within_seconds: float = 60) -> dict[str, Any]:
    """``worker(queue, handle, cleanup)`` as a task over a queue of items, then cancelled.

    Each item is ``{"item": label, "delay": d}`` (plus ``"error"``): the label
    is put in the queue; ``handle(label)`` sleeps ``d`` s, then raises the
    error or notes the label as handled. ``cleanup()`` takes
    ``cleanup_delay`` s. With ``drain`` the scenario waits for
    ``queue.join()`` (``drain``: ``{"joined": time}``, ``{"worker_ended":
    outcome}`` or ``{"stuck": seconds}``); then it waits ``then_wait`` s and
    cancels the worker (``cancelled_at``, ``ended``, ``ended_at``).
    While the worker runs ``logger``'s level is ``level`` (as pytest's
    ``caplog.at_level``); ``records`` lists every log record, ``exc_of``
    being the index of the item whose very exception it carries and
    ``format_error`` why its message could not be formatted (else None).
    """
    errors = _Errors()
    problems = [errors.build(spec["error"]) if "error" in spec else None for spec in items]
    by_label = {spec["item"]: index for index, spec in enumerate(items)}
    handled: list[Any] = []
    seen: list[str] = []
    cleanup_counts = {"started": 0, "finished": 0}

    async def handle(item: Any) -> None:
        try:
            index = by_label.get(item)
        except TypeError:  # an unhashable item the worker made up
            index = None
        if index is None:
            seen.append("unknown item")
            return
        probe.note("handling", item)
        try:
            await asyncio.sleep(items[index].get("delay", 0))
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        if problems[index] is not None:
            seen.append("failed")
            raise problems[index]
        seen.append("finished")
        handled.append(item)

    async def cleanup() -> None:
        cleanup_counts["started"] += 1
        await asyncio.sleep(cleanup_delay)
        cleanup_counts["finished"] += 1

    queue: asyncio.Queue[Any] = asyncio.Queue()
    for spec in items:
        queue.put_nowait(spec["item"])
    records = _Records(problems)
    root, watched = logging.getLogger(), logging.getLogger(logger)
    level_before = watched.level
    root.addHandler(records)
    watched.setLevel(level)
    report: dict[str, Any] = {}
    try:
        task, failed = _start(probe, "worker", queue, handle, cleanup)
        if task is None:
            report["early"] = failed
        else:
            if drain:
                joiner = asyncio.ensure_future(queue.join())
                done, _ = await asyncio.wait({joiner, task}, timeout=drain_within, return_when=asyncio.FIRST_COMPLETED)
                if joiner in done:
                    report["drain"] = {"joined": probe.now()}
                else:
                    joiner.cancel()
                    report["drain"] = {"worker_ended": _ended(task)} if task.done() else {"stuck": drain_within}
                report["running_after_drain"] = not task.done()
            await asyncio.sleep(then_wait)
            report["early"] = _early(task)
            report["cleanup_before_cancel"] = cleanup_counts["started"]
            report["cancelled_at"] = probe.now()
            report["ended"] = await _cancel_and_wait(task, within_seconds)
            report["ended_at"] = probe.now()
    finally:
        root.removeHandler(records)
        watched.setLevel(level_before)
    report.update(handled=handled, seen=seen, records=records.seen,
                  cleanup=[cleanup_counts["started"], cleanup_counts["finished"]])
    return report


# --- collect_loop_errors --------------------------------------------------------


@scenario
async def loop_errors(probe: Probe, *, reports: list[dict[str, Any]], previous: str = "none", on: str = "running",
                      unretrieved: list[Any] | None = None,
                      after_restore: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``collect_loop_errors(loop, sink)``, reports sent to the loop's exception handler, then ``restore()``.

    ``previous``: the handler installed before ("none" or "custom", a function
    of the scenario's). ``on``: the running loop or "other", a loop that is
    not running. ``reports``: context dicts ``{"message": m}`` (plus
    ``"error"``) given to ``loop.call_exception_handler``. ``unretrieved``: an
    error a task raises that nobody retrieves (the loop reports it when the
    task is collected). ``after_restore``: reports made after ``restore()``,
    with a recorder of the scenario's installed.
    Reports ``sink`` (what it holds), ``matches`` (for each sink entry, the
    index of the report it equals, or None), ``unretrieved_entries`` (for each
    sink entry whose ``"exception"`` is the task's very error, whether it has
    a ``"message"``), and ``handler_after`` ("previous" when restore put back
    what was there).
    """
    errors = _Errors()
    running = asyncio.get_running_loop()
    loop = running if on == "running" else asyncio.new_event_loop()

    def custom(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        probe.note("custom handler", context.get("message"))

    before = custom if previous == "custom" else None
    running.set_exception_handler(None)
    loop.set_exception_handler(before)
    sink: list[Any] = []
    contexts = [{"message": r["message"], **({"exception": errors.build(r["error"])} if "error" in r else {})}
                for r in reports]
    report: dict[str, Any] = {}
    try:
        made = attempt(probe.function("collect_loop_errors"), loop, sink)
        if "raised" in made:
            report["setup"] = made
            return report
        restore = made["value"]
        report["setup"] = {"value": "a function" if callable(restore) else restore}
        for context in contexts:
            loop.call_exception_handler(context)
        problem = errors.build(unretrieved) if unretrieved is not None else None
        if problem is not None:
            await _lose_a_task(problem)
        report["sink"] = list(sink)
        report["matches"] = [_equal_index(entry, contexts) for entry in sink]
        report["unretrieved_entries"] = [isinstance(entry, dict) and "message" in entry for entry in sink
                                         if problem is not None and isinstance(entry, dict)
                                         and entry.get("exception") is problem]
        report["running_untouched"] = loop is running or running.get_exception_handler() is None
        if callable(restore):
            report["restore"] = attempt(restore)
            handler = loop.get_exception_handler()
            report["handler_after"] = "previous" if handler is before else repr(handler)
            if after_restore:
                recorded: list[Any] = []
                loop.set_exception_handler(lambda loop, context: recorded.append(context))
                for extra in after_restore:
                    loop.call_exception_handler({"message": extra["message"]})
                report["recorded_after_restore"] = len(recorded)
        report["sink_at_end"] = len(sink)
        return report
    finally:
        running.set_exception_handler(None)
        if loop is not running:
            loop.close()


async def _lose_a_task(problem: BaseException) -> None:
    """A task raises ``problem`` and is dropped unretrieved; collected, it reports the error to its loop."""

    async def explode() -> None:
        raise problem

    task = asyncio.create_task(explode())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    alive = weakref.ref(task)
    del task
    left = alive()  # freed at once, unless a reference cycle (or the handler, keeping its context) holds it
    if left is not None and getattr(left, "_log_traceback", False):
        del left
        gc.collect()  # not reported yet: only a collection frees it


def _equal_index(entry: Any, contexts: list[dict[str, Any]]) -> int | None:
    for index, context in enumerate(contexts):
        try:
            if entry == context:
                return index
        except Exception:  # noqa: BLE001 - an entry that cannot be compared matches nothing
            return None
    return None


# --- find_slow_steps (real time) -------------------------------------------------


def _logging_setup() -> list[tuple[Any, ...]]:
    """What a handler, filter or level left behind would change on the loggers find_slow_steps may touch."""
    loggers = [logging.getLogger("asyncio"), logging.getLogger()]
    return [(lg.name, list(lg.handlers), list(lg.filters), lg.level, lg.propagate, lg.disabled) for lg in loggers]


def _steps(loop: asyncio.AbstractEventLoop, errors: _Errors, steps: list[Any],
           seen: list[list[Any]]) -> Callable[[], Awaitable[Any]]:
    """A coro_fn whose coroutine does ``steps``: "yield" (sleep(0)), ["block", s] (blocks the loop s real seconds),
    "record" (notes the loop's debug settings), ["report", message] (to the loop's exception handler),
    ["raise", *error]."""

    async def work() -> str:
        for step in steps:
            if step == "yield":
                await asyncio.sleep(0)
            elif step == "record":
                seen.append([loop.get_debug(), loop.slow_callback_duration])
            elif step[0] == "block":
                threading.Event().wait(float(step[1]))  # blocks the whole loop, on purpose
            elif step[0] == "report":
                loop.call_exception_handler({"message": str(step[1])})
            elif step[0] == "raise":
                raise errors.build(list(step[1:]))
        return "done"

    return work


@scenario
def slow_steps(probe: Probe, *, calls: list[dict[str, Any]], within_seconds: float = 5) -> dict[str, Any]:
    """``find_slow_steps`` called in turn on a loop that runs on the real clock.

    Each call is ``{"steps": [...], "threshold": t}`` (see :func:`_steps`),
    with ``"settings": [debug, slow_callback_duration]`` to set on the loop
    before it, and ``"slow_step_after": [seconds, threshold]`` to run, once it
    returned, a step blocking that long with debug on and that threshold.
    For each call: its ``outcome``, the settings the work ``saw``, the settings
    ``before`` and ``after`` it, whether logging was left ``as_found`` (handlers, filters,
    levels of the "asyncio" and root loggers) and the messages that reached
    the returned list ``later`` (after the slow step that followed it).
    """
    errors = _Errors()

    async def main() -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(None)  # the default one: it logs reports on the "asyncio" logger
        original = (loop.get_debug(), loop.slow_callback_duration)
        results = []
        try:
            for call in calls:
                if call.get("settings") is not None:
                    loop.set_debug(bool(call["settings"][0]))
                    loop.slow_callback_duration = float(call["settings"][1])
                seen: list[list[Any]] = []
                before = [loop.get_debug(), loop.slow_callback_duration]
                logging_before = _logging_setup()
                made = attempt(probe.function("find_slow_steps"), _steps(loop, errors, call["steps"], seen),
                               threshold=call["threshold"])
                outcome = made if "raised" in made else await within(made["value"], within_seconds)
                after = [loop.get_debug(), loop.slow_callback_duration]
                entry: dict[str, Any] = {"outcome": _copied(outcome), "saw": seen, "before": before, "after": after,
                                         "as_found": _logging_setup() == logging_before}
                if call.get("slow_step_after") is not None and "value" in outcome:
                    kept = _copied(outcome)["value"]
                    block, threshold = call["slow_step_after"]
                    loop.set_debug(True)
                    loop.slow_callback_duration = float(threshold)
                    await asyncio.ensure_future(_steps(loop, errors, ["yield", ["block", block]], [])())
                    loop.set_debug(after[0])
                    loop.slow_callback_duration = after[1]
                    value = outcome["value"]
                    entry["later"] = list(value[len(kept):]) if isinstance(value, list) else []
                results.append(entry)
        finally:
            loop.set_debug(original[0])
            loop.slow_callback_duration = original[1]
        return results

    with asyncio.Runner() as runner:
        return {"calls": runner.run(main())}


def _copied(outcome: Outcome) -> Outcome:
    """The outcome with a list value copied (later appends to the student's list do not change it)."""
    if "value" in outcome and type(outcome["value"]) is list:
        return {"value": list(outcome["value"])}
    return outcome


# Judge side: the readers of these scenarios' reports, shared by the public and hidden tests.


def ends_cancelled(seen, *, what, seconds=60):
    """(Judge side.) Fail unless the task the scenario cancelled ended cancelled (``seen["ended"]``)."""
    if seen.get("ended") is None:
        unwrap(seen["early"], what=what)  # it could not even start
    ended = seen["ended"]
    if "running" in ended:
        raise AssertionError(f"{what} was still running {seconds:g} s after it was cancelled. {hints.SWALLOWED_CANCEL}")
    if "cancelled" in ended:
        return
    error = raised(ended)
    if error is not None and error.is_a("NotImplementedError"):
        unwrap(ended, what=what)  # the stub's own message says more than "should end cancelled"
    how = f"raised {describe_parts(error.name, error.message)}" if error is not None else f"returned {ended.get('value')!r}"
    raise AssertionError(f"{what} should end cancelled when it is cancelled; it {how}. {hints.SWALLOWED_CANCEL}")


def drained_at(seen, *, what):
    """(Judge side.) The loop time when queue.join() finished while the worker ran; a failure saying why it did not."""
    if seen.get("drain") is None:
        unwrap(seen["early"], what=what)  # the worker could not even start
    drain = seen["drain"]
    if "joined" in drain:
        return drain["joined"]
    if "worker_ended" in drain:
        unwrap(drain["worker_ended"], what=what)  # the worker's own error, if any
        raise AssertionError(f"{what}: the worker returned before the queue was drained; it should run forever")
    raise AssertionError(
        f"{what}: queue.join() did not finish within {drain['stuck']:g} s. Call queue.task_done() "
        "once for every item taken with get(), also when handle(item) raised."
    )
