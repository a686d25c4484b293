"""Scenarios of assignment 03 (the event loop): runners, timers and bridges to other threads.

Three kinds of scenario, because the functions under test need three kinds of surroundings:

- the runners (``run_legacy``, ``run_modern``, ``run_all_on_one_loop``) are
  synchronous and make loops themselves: their scenarios are plain ``def``
  (no loop runs), set a loop of their own as the thread's current loop first
  (as a script's earlier code might have), and report which loop each probe
  coroutine ran on as a *label*: 0 is that pre-set loop, 1, 2... the others
  in the order they were first seen;
- ``schedule`` and ``from_callback`` with callbacks on the loop's thread run
  on the virtual clock (``async def`` scenarios);
- ``run_blocking`` and ``from_callback`` fed from another thread run on a real
  loop and real time (plain ``def`` scenarios that start one): a thread's
  callback never moves the virtual clock, so every timeout would fire at once.

``fresh_legacy_runs`` is the judge's, not a scenario: it has a fresh Python
(DeprecationWarning as an error), started for the judge outside the process
that runs scenarios, call ``run_legacy`` and report what each call gave.
"""
from __future__ import annotations

import asyncio
import builtins
import contextlib
import inspect
import json
import math
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import coursekit
from coursekit.loops import current_loop
from coursekit.probes import Probe, scenario
from coursekit.probes.kit import Outcome, attempt, call, exception_from, within

# The kit's frames stay out of the failure a student reads (coursekit.hidden_in_judged_failures).
__tracebackhide__ = coursekit.hidden_in_judged_failures


class Boom(Exception):
    """The error the probe coroutines raise when a job says ``"kind": "fail"``."""


def _loop_error(context: dict[str, Any]) -> str:
    """What a loop's exception handler was told, as text."""
    error = context.get("exception")
    return f"{type(error).__name__}: {error}" if error is not None else str(context.get("message", "?"))


# --- the runners ------------------------------------------------------------------


@contextlib.contextmanager
def _preset_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A loop of the scenario's own set as current (``coursekit.loops.sentinel_loop``'s work), undone afterwards."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()


class _Loops:
    """Labels for the loops a scenario sees: 0 is the preset loop, then 1, 2... in order of first sight."""

    def __init__(self, preset: asyncio.AbstractEventLoop) -> None:
        self.seen: list[asyncio.AbstractEventLoop] = [preset]

    def label(self, loop: asyncio.AbstractEventLoop | None) -> int | None:
        if loop is None:
            return None
        for index, known in enumerate(self.seen):
            if known is loop:
                return index
        self.seen.append(loop)
        return len(self.seen) - 1

    def closed(self) -> list[bool]:
        return [loop.is_closed() for loop in self.seen]

    def close_leftovers(self) -> None:
        """Close the loops a wrong runner left open (not the preset one, which its context closes)."""
        for loop in self.seen[1:]:
            if not loop.is_closed() and not loop.is_running():
                with contextlib.suppress(Exception):
                    loop.close()


class _Jobs:
    """Probe coroutine functions made from plain job descriptions, and what they saw while they ran.

    A job is a dict: ``kind`` says what the coroutine returns ("value": its
    ``value``; "sum" / "product" / "first": of its arguments; "count": how
    many job runs have started so far; "fail": raises ``Boom(message)``;
    "agen": takes the first of ``values`` from an async generator it leaves
    suspended, and with ``then_fail`` raises ``Boom(message)`` afterwards;
    "start_background": starts a task on the running loop that returns
    ``value`` after one step, and returns ``started``; "await_background":
    awaits that task), ``steps`` how many times it yields to the loop first
    (``asyncio.sleep(0)``, default 1), ``with_debug`` whether it returns
    ``(result, loop.get_debug())`` instead.
    """

    def __init__(self, loops: _Loops) -> None:
        self.loops = loops
        self.runs: list[dict[str, Any]] = []
        self.log: list[list[Any]] = []
        self.finalized: list[int] = []
        self.agens: list[Any] = []  # kept alive: only the loop's shutdown may finalize them
        self.background: list[asyncio.Task[Any]] = []

    def make(self, index: int, job: dict[str, Any]) -> Any:
        kind = job.get("kind", "value")

        async def suspended(values: list[Any]) -> Any:
            try:
                for value in values:
                    yield value
            finally:
                self.finalized.append(index)

        async def later(value: Any) -> Any:
            await asyncio.sleep(0)
            return value

        async def probe_job(*args: Any) -> Any:
            loop = asyncio.get_running_loop()
            record: dict[str, Any] = {"job": index, "loop": self.loops.label(loop)}
            self.runs.append(record)
            self.log.append(["start", index])
            for _ in range(int(job.get("steps", 1))):
                await asyncio.sleep(0)
            record["current_is_running"] = current_loop() is loop
            record["debug"] = loop.get_debug()
            if kind == "value":
                result = job.get("value")
            elif kind == "sum":
                result = sum(args)
            elif kind == "product":
                result = math.prod(args)
            elif kind == "first":
                result = args[0]
            elif kind == "count":
                result = len(self.runs)
            elif kind == "fail":
                raise Boom(job.get("message", "boom"))
            elif kind == "agen":
                agen = suspended(list(job.get("values", [1, 2])))
                self.agens.append(agen)
                result = await agen.__anext__()
                if job.get("then_fail"):
                    raise Boom(job.get("message", "boom"))
            elif kind == "start_background":
                self.background.append(loop.create_task(later(job.get("value"))))
                result = job.get("started")
            elif kind == "await_background":
                result = await self.background[0]
            else:
                raise ValueError(f"unknown job kind {kind!r}")
            self.log.append(["end", index])
            return (result, loop.get_debug()) if job.get("with_debug") else result

        probe_job.__qualname__ = probe_job.__name__ = f"job{index}"
        return probe_job

    def after(self, outcome: Outcome) -> dict[str, Any]:
        """What a runner call left behind: its outcome, the current loop and which loops are closed."""
        now = current_loop()
        return {
            "outcome": outcome,
            "current": self.loops.label(now),
            "current_closed": None if now is None else now.is_closed(),
            "closed": self.loops.closed(),
            "finalized": list(self.finalized),
        }

    def finish(self) -> None:
        """Close async generators a wrong runner left suspended, and the loops it left open."""
        for agen in self.agens:
            if agen.ag_frame is None:  # already finished
                continue
            closing = agen.aclose()
            try:
                closing.send(None)
            except StopIteration:
                pass
            except BaseException:  # noqa: BLE001 - clean-up only
                closing.close()
        for task in self.background:
            if not task.done() and not task.get_loop().is_closed():
                task.cancel()
        self.loops.close_leftovers()


@contextlib.contextmanager
def _runners_trapped(probe: Probe, used: list[str]) -> Iterator[None]:
    """``asyncio.run`` and ``asyncio.Runner`` (also under the module's own names for them) note their use, and refuse."""
    real_run, real_runner = asyncio.run, asyncio.Runner

    def fake_run(main: Any, *args: Any, **kwargs: Any) -> Any:
        used.append("asyncio.run")
        if asyncio.iscoroutine(main):
            main.close()
        raise RuntimeError("asyncio.run is not allowed in run_legacy")

    class FakeRunner:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            used.append("asyncio.Runner")
            raise RuntimeError("asyncio.Runner is not allowed in run_legacy")

    with pytest.MonkeyPatch.context() as patch:
        for module in (asyncio, asyncio.runners, probe.module):
            for name, value in list(vars(module).items()):
                if value is real_run:
                    patch.setattr(module, name, fake_run)
                elif value is real_runner:
                    patch.setattr(module, name, FakeRunner)
        yield


@scenario
def run_coroutines(probe: Probe, *, function: str, calls: list[dict[str, Any]],
                   trap_runners: bool = False) -> dict[str, Any]:
    """Call the runner ``function(job, *args, **kwargs)`` once per call, with a loop of our own set as current.

    Each call is ``{"job": {...}, "args": [...], "kwargs": {...}}`` (a job as
    :class:`_Jobs` describes it). Returns, per call, its outcome and what it
    left behind (``current``: the label of the current loop afterwards, or
    None; ``closed``: per label, whether that loop is closed; ``finalized``:
    the calls whose suspended async generator ran its ``finally``), and per
    job run the label of its loop, whether that loop was the current one while
    it ran, and its debug mode. ``trap_runners``: ``asyncio.run`` and
    ``asyncio.Runner`` refuse to work, and ``trapped`` lists the attempts.
    """
    run = probe.function(function)
    used: list[str] = []
    reports = []
    with _preset_loop() as preset:
        jobs = _Jobs(_Loops(preset))
        try:
            for index, spec in enumerate(calls):
                job = jobs.make(index, spec.get("job", {}))
                trap = _runners_trapped(probe, used) if trap_runners else contextlib.nullcontext()
                with trap:
                    outcome = attempt(run, job, *spec.get("args", []), **spec.get("kwargs", {}))
                reports.append(jobs.after(outcome))
        finally:
            jobs.finish()
    return {"calls": reports, "runs": jobs.runs, "trapped": used}


@scenario
def run_on_one_loop(probe: Probe, *, jobs: list[dict[str, Any]]) -> dict[str, Any]:
    """``run_all_on_one_loop`` of one probe coroutine function per job, with a loop of our own set as current.

    Returns the call's outcome and what it left behind (as in
    :func:`run_coroutines`), each job run's loop label, and the log of job
    starts and ends (``["start", i]``, ``["end", i]``) in the order they came.
    """
    run = probe.function("run_all_on_one_loop")
    with _preset_loop() as preset:
        made = _Jobs(_Loops(preset))
        try:
            outcome = attempt(run, [made.make(index, job) for index, job in enumerate(jobs)])
            report = made.after(outcome)
        finally:
            made.finish()
    return {"call": report, "runs": made.runs, "log": made.log}


_FRESH_SCRIPT = """
import builtins, json

def _failing(name, message):
    async def failing():
        await asyncio.sleep(0)
        raise getattr(builtins, name)(message)
    return failing

async def _double(x):
    await asyncio.sleep(0)
    return 2 * x

def _shown(value):
    try:
        return repr(value)[:500]
    except BaseException:
        return "<unprintable>"

_outcomes = []
for _spec in json.loads({calls!r}):
    try:
        if "error" in _spec:
            _value = {module}.run_legacy(_failing(*_spec["error"]))
        else:
            _value = {module}.run_legacy(_double, _spec["double"])
    except BaseException as _exc:
        _outcomes.append({{"raised": [type(_exc).__name__, _describe(_exc)]}})
    else:
        _outcomes.append({{"returned": [type(_value).__name__, _shown(_value)]}})
_policy = asyncio.get_event_loop_policy()
try:
    _left = _policy.get_event_loop()
except RuntimeError:
    _left = None
_state = "none" if _left is None else ("closed" if _left.is_closed() else "open")
print("RESULT " + json.dumps({{"outcomes": _outcomes, "left": _state}}), flush=True)
"""


def fresh_legacy_runs(student: Any, *, calls: list[dict[str, Any]]) -> dict[str, Any]:
    """On the judge's side: ``run_legacy`` called in turn in a fresh Python where DeprecationWarning is an error.

    ``student`` is the test's ``student`` fixture: the fresh interpreter is
    the judge's (``Student.fresh``), started outside the process that runs
    scenarios. Each call is ``{"double": x}`` (a coroutine returning ``2 *
    x``, given ``x`` as run_legacy's argument) or ``{"error": [name,
    message]}`` (one raising that built-in exception). Returns each call's
    ``{"returned": [type name, repr]}`` or ``{"raised": [type name, "Type:
    message"]}``, and the thread's current loop afterwards (``left``:
    "none", "open" or "closed"); or ``failed``: what stopped the fresh
    process before it could report (its report is read strictly: anything
    else is a failure too).
    """
    for spec in calls:
        if "error" in spec:
            kind = getattr(builtins, spec["error"][0], None)
            if not (isinstance(kind, type) and issubclass(kind, Exception)):
                raise ValueError(f"not a built-in exception: {spec['error'][0]}")
    run = student.fresh(_FRESH_SCRIPT.format(calls=json.dumps(calls), module=student.module))
    for line in reversed(run.stdout.splitlines()):
        if line.startswith("RESULT "):
            report = _fresh_report(line.removeprefix("RESULT "), len(calls))
            if report is None:
                break
            return {**report, "failed": None}
    return {"outcomes": None, "left": None, "failed": run.error()}


def _fresh_report(text: str, calls: int) -> dict[str, Any] | None:
    """The fresh process's report, if it has exactly the expected shape (it comes from a process of student code)."""
    try:
        report = json.loads(text)
    except ValueError:
        return None
    if type(report) is not dict or set(report) != {"outcomes", "left"} or report["left"] not in ("none", "open", "closed"):
        return None
    outcomes = report["outcomes"]
    if type(outcomes) is not list or len(outcomes) != calls:
        return None
    for outcome in outcomes:
        if (type(outcome) is not dict or len(outcome) != 1 or not set(outcome) <= {"returned", "raised"}
                or any(type(v) is not list or len(v) != 2 or not all(type(x) is str for x in v)
                       for v in outcome.values())):
            return None
    return {"outcomes": outcomes, "left": report["left"]}


# --- schedule and from_callback on the virtual clock ---------------------------------


@scenario
async def schedule_cancelled(probe: Probe, *, delays: dict[str, float], cancel_at: float, settle: float,
                             within_seconds: float = 10) -> dict[str, Any]:
    """``schedule(delays)`` as a task, cancelled at ``cancel_at``; then ``settle`` more seconds.

    Returns how the task ended (an outcome: ``raised`` CancelledError when it
    ended cancelled), whether it counts as cancelled, and what the loop's
    exception handler was told meanwhile (a timer left behind that fails).
    """
    loop = asyncio.get_running_loop()
    reported: list[Any] = []
    saved = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context.get("exception") or
                                                                      str(context.get("message"))))
    try:
        made = attempt(probe.function("schedule"), delays)
        if "raised" in made:
            return {"outcome": made, "cancelled": False, "reported": reported}
        if not inspect.isawaitable(made["value"]):
            return {"outcome": {"not_awaitable": made["value"]}, "cancelled": False, "reported": reported}
        task = asyncio.ensure_future(made["value"])
        await asyncio.sleep(cancel_at)
        task.cancel()
        outcome = await within(task, within_seconds)
        cancelled = task.cancelled()
        await asyncio.sleep(settle)  # past every delay: a timer left behind fires now
    finally:
        loop.set_exception_handler(saved)
    return {"outcome": outcome, "cancelled": cancelled, "reported": reported}


@scenario
async def from_callback_calls(probe: Probe, *, calls: list[dict[str, Any]],
                              within_seconds: float = 60) -> dict[str, Any]:
    """``from_callback(start, ...)`` once per call, in turn, with callbacks on the loop's thread.

    A call is ``{"answers": [[when, value], ...], "timeout": t, "late": [value, ...]}``:
    ``start`` calls the callback with each value, at once (``when`` None) or
    ``when`` seconds later (``loop.call_later``); ``timeout`` is passed only
    when given; ``late`` values are given to the callback after from_callback
    ended. Returns per call its outcome, the loop time it ended at (``at``)
    and took, how many times ``start`` was called and whether with a
    callable, and the outcomes of the late calls; and everything the loop's
    exception handler was told during the scenario.
    """
    loop = asyncio.get_running_loop()
    errors: list[str] = []
    saved = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(_loop_error(context)))
    reports = []
    try:
        for spec in calls:
            kept: list[Any] = []

            def start(callback: Any, answers: list[list[Any]] = spec.get("answers", [])) -> None:
                kept.append(callback)
                for when, value in answers:
                    if when is None:
                        callback(value)
                    else:
                        loop.call_later(when, callback, value)

            began = probe.now()
            kwargs = {"timeout": spec["timeout"]} if "timeout" in spec else {}
            outcome = await call(probe, "from_callback", [start], kwargs, spec.get("within", within_seconds))
            report: dict[str, Any] = {"outcome": outcome, "at": probe.now(), "took": probe.now() - began,
                                      "starts": len(kept), "callable": all(callable(c) for c in kept)}
            if "late" in spec:
                report["late"] = [attempt(kept[0], value) for value in spec["late"]] if kept else []
            for _ in range(3):
                await asyncio.sleep(0)  # let anything the calls scheduled run
            reports.append(report)
    finally:
        loop.set_exception_handler(saved)
    return {"calls": reports, "loop_errors": errors}


@scenario
def from_callback_after_loop_closed(probe: Probe, *, timeout: float, late: list[Any]) -> dict[str, Any]:
    """``asyncio.run(from_callback(start, timeout=timeout))``, ``start`` keeping the callback; then late calls of it.

    Returns the outcome of ``asyncio.run``, how many times ``start`` was
    called, and the outcome of each late call of the kept callback, made once
    ``asyncio.run`` returned and its loop is closed.
    """
    from_callback = probe.function("from_callback")
    kept: list[Any] = []

    async def wait_briefly() -> Any:
        return await from_callback(kept.append, timeout=timeout)

    with _preset_loop():
        main = wait_briefly()
        try:
            outcome = attempt(asyncio.run, main)
        finally:
            main.close()
    late_outcomes = [attempt(kept[0], value) for value in late] if kept else []
    return {"outcome": outcome, "starts": len(kept), "late": late_outcomes}


# --- other threads, on real time -------------------------------------------------------


def _on_a_real_loop(main: Any) -> Any:
    """Run ``main`` on a new standard loop (real time), cleaned up as ``asyncio.run`` does."""
    with asyncio.Runner() as runner:
        return runner.run(main)


def _blocking_fn(spec: dict[str, Any], threads: list[int]) -> Any:
    """A blocking function from a description: "power" returns ``args[0] ** args[1]``, "raise" raises."""

    def fn(*args: Any) -> Any:
        threads.append(threading.get_ident())
        if spec["kind"] == "power":
            return args[0] ** args[1]
        if spec["kind"] == "raise":
            raise exception_from(spec["error"], spec["message"].format(*args))
        raise ValueError(f"unknown function kind {spec['kind']!r}")

    return fn


@scenario
def blocking_calls(probe: Probe, *, calls: list[dict[str, Any]], within_seconds: float = 3) -> dict[str, Any]:
    """``await run_blocking(fn, *args)`` per call on a real loop: the outcome, and whether fn ran in the loop's thread.

    A call is ``{"fn": {"kind": "power"} | {"kind": "raise", "error": name,
    "message": template}, "args": [...]}``; a "raise" fn raises the built-in
    exception ``error`` with ``template.format(*args)``.
    """

    async def main() -> list[dict[str, Any]]:
        loop_thread = threading.get_ident()
        reports = []
        for spec in calls:
            threads: list[int] = []
            fn = _blocking_fn(spec["fn"], threads)
            outcome = await call(probe, "run_blocking", [fn, *spec.get("args", [])], {}, within_seconds)
            reports.append({"outcome": outcome, "in_loop_thread": [t == loop_thread for t in threads]})
        return reports

    return {"calls": _on_a_real_loop(main())}


@scenario
def blocking_beside_ticker(probe: Probe, *, ticks: int, tick: float, wait: float,
                           within_seconds: float = 3) -> dict[str, Any]:
    """``run_blocking(fn)`` on a real loop; fn waits (up to ``wait`` s) for a task on the loop to tick ``ticks`` times.

    Returns the outcome (fn returns whether the task released it in time) and
    how many ticks the task made.
    """
    release = threading.Event()
    ticked: list[float] = []

    async def ticker() -> None:
        for _ in range(ticks):
            await asyncio.sleep(tick)
            ticked.append(tick)
        release.set()

    def wait_for_ticker() -> bool:
        return release.wait(timeout=wait)

    async def main() -> Outcome:
        ticking = asyncio.create_task(ticker())
        try:
            return await call(probe, "run_blocking", [wait_for_ticker], {}, within_seconds)
        finally:
            await ticking

    return {"outcome": _on_a_real_loop(main()), "ticks": len(ticked)}


@scenario
def from_callback_in_thread(probe: Probe, *, values: list[Any], delay: float | None = None,
                            timeout: float | None = None, pass_timeout: bool = False, watch: bool = False,
                            within_seconds: float = 3) -> dict[str, Any]:
    """``await from_callback(start)`` on a real loop; ``start`` has another thread call the callback with each value.

    The thread is a ``threading.Timer`` of ``delay`` seconds (a plain thread
    when ``delay`` is None); ``timeout`` is passed when ``pass_timeout``.
    ``watch``: note every ``loop.call_soon`` made from another thread while
    from_callback runs (``call_soon_threadsafe`` does not come through there;
    a future completed from another thread does). Returns the outcome, the
    exceptions the callback raised in the thread, the calls watched, and what
    the loop's exception handler was told.
    """
    thread_errors: list[BaseException] = []
    foreign: list[str] = []
    loop_errors: list[str] = []
    starts: list[Any] = []
    threads: list[threading.Thread] = []

    def start(callback: Any) -> None:
        starts.append(callback)

        def calls() -> None:
            try:
                for value in values:
                    callback(value)
            except BaseException as exc:  # noqa: BLE001 - reported to the judge
                thread_errors.append(exc)

        thread = threading.Timer(delay, calls) if delay is not None else threading.Thread(target=calls)
        threads.append(thread)
        thread.start()

    async def main() -> Outcome:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: loop_errors.append(_loop_error(context)))
        loop_thread = threading.get_ident()
        real_call_soon = loop.call_soon

        def watched_call_soon(callback: Any, *args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != loop_thread:
                foreign.append(getattr(callback, "__qualname__", repr(callback)))
            return real_call_soon(callback, *args, **kwargs)

        kwargs = {"timeout": timeout} if pass_timeout else {}
        try:
            with pytest.MonkeyPatch.context() as patch:
                if watch:
                    patch.setattr(loop, "call_soon", watched_call_soon)
                outcome = await call(probe, "from_callback", [start], kwargs, within_seconds)
        finally:
            for thread in threads:
                await asyncio.to_thread(thread.join, 2)
        for _ in range(3):
            await asyncio.sleep(0.01)  # let anything a later call scheduled run
        return outcome

    outcome = _on_a_real_loop(main())
    return {"outcome": outcome, "starts": len(starts), "thread_errors": thread_errors, "foreign": foreign,
            "loop_errors": loop_errors}
