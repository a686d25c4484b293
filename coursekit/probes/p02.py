"""Scenarios of assignment 02 (coroutines): what only a probe beside the student's code can see.

Coroutine objects, loops, tasks, async generators and stopwatches stay in
the student process: the scenarios report what they saw of them as plain
data (types, coroutine states, loop times, whether a loop was closed or is
still current, whether the very object came back).
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import io
from collections.abc import Callable
from typing import Any

import coursekit
from coursekit.iterators import async_iterator
from coursekit.loops import current_loop
from coursekit.probes import Probe, scenario
from coursekit.probes.kit import Outcome, attempt, call, exception_from, task_names, ticking, unfinished_tasks, within

# The kit's frames stay out of the failure a student reads (coursekit.hidden_in_judged_failures).
__tracebackhide__ = coursekit.hidden_in_judged_failures

MAX_VALUES = 1000  # an async generator that never stops is cut off after this many values


def _coroutine_facts(value: Any) -> dict[str, Any]:
    """What a returned value is: a coroutine (and its state), a future, its type's name."""
    is_coroutine = inspect.iscoroutine(value)
    return {
        "is_coroutine": is_coroutine,
        "is_future": isinstance(value, asyncio.Future),
        "state": inspect.getcoroutinestate(value) if is_coroutine else None,
        "type": type(value).__name__,
    }


def _close_if_unstarted(value: Any) -> None:
    if inspect.iscoroutine(value) and inspect.getcoroutinestate(value) == inspect.CORO_CREATED:
        value.close()  # no "never awaited" warning for a coroutine the scenario gave up on


async def _await_all(made: list[Outcome], seconds: float) -> Outcome:
    """``gather`` of the awaitables the calls made; the first call that raised or gave no awaitable instead."""
    for outcome in made:
        if "value" not in outcome or not inspect.isawaitable(outcome["value"]):
            for other in made:
                _close_if_unstarted(other.get("value"))
            return outcome if "value" not in outcome else {"not_awaitable": outcome["value"]}
    return await within(asyncio.gather(*(o["value"] for o in made)), seconds)


# --- greet -----------------------------------------------------------------


@scenario
async def greet_beside_ticker(probe: Probe, *, greets: list[list[Any]], ticks: int) -> dict[str, Any]:
    """``gather(greet(name, delay), ...)`` while another task ticks every second: outcome, tick times, loop time."""
    ticker, times = ticking(probe, ticks)
    greet = probe.function("greet")
    made = [attempt(greet, name, delay) for name, delay in greets]
    longest = max([float(delay) for _, delay in greets] + [ticks])
    outcome = await _await_all(made, 10 * (longest + 1))
    finished = probe.now()
    await ticker
    return {"outcome": outcome, "ticks": times, "finished": finished, "took": probe.now()}


# --- make_greeting -----------------------------------------------------------


@scenario
def make_greeting_without_loop(probe: Probe, *, name: str) -> dict[str, Any]:
    """``make_greeting(name)`` from synchronous code with no loop running: what came back, and what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        made = attempt(probe.function("make_greeting"), name)
    facts = _coroutine_facts(made.get("value"))
    _close_if_unstarted(made.get("value"))
    return {"outcome": made, **facts, "printed": printed.getvalue()}


@scenario
async def make_greeting_then_await(probe: Probe, *, name: str, turns: int) -> dict[str, Any]:
    """``make_greeting(name)`` inside a running loop: new tasks, its state now and after ``turns`` loop turns, then awaited.

    The coroutine is awaited only if it is one and has not started.
    """
    before = unfinished_tasks()
    made = attempt(probe.function("make_greeting"), name)
    value = made.get("value")
    new_tasks = len(unfinished_tasks() - before)
    facts = _coroutine_facts(value)
    awaited: Outcome | None = None
    state_after = None
    took = None
    try:
        if facts["is_coroutine"]:
            for _ in range(turns):
                await asyncio.sleep(0)  # a greeting scheduled as a task would start now
            state_after = inspect.getcoroutinestate(value)
            if state_after == inspect.CORO_CREATED:
                started = probe.now()
                awaited = await within(value, 10)
                took = probe.now() - started
    finally:
        _close_if_unstarted(value)
        for task in unfinished_tasks() - before - {asyncio.current_task()}:
            task.cancel()
    return {"outcome": made, **facts, "new_tasks": new_tasks, "state_after_turns": state_after,
            "awaited": awaited, "took": took}


# --- run -------------------------------------------------------------------


def _loop_facts(loop: Any, *, sentinel: Any, earlier: list[Any], used: list[Any]) -> dict[str, Any]:
    return {
        "closed": bool(loop.is_closed()),
        "is_sentinel": loop is sentinel,
        "seen_before": any(loop is other for other in earlier),
        "used_here": any(loop is other for other in used),
    }


@scenario
def run_calls(probe: Probe, *, calls: list[dict[str, Any]], current: bool = True) -> dict[str, Any]:
    """The student's ``run(fn, *args, **kwargs)`` from synchronous code, once per entry of ``calls``, in order.

    ``current``: first set a loop of the scenario's own (never run) as the
    thread's current loop, the state a program may be in when it calls
    ``run``; else no loop is current. An entry is ``{"target", "args",
    "kwargs", "wrap", "count"}``:

    - ``target``: ``"greet"`` (the student's own), or a probe: ``"add"``
      (``async (a, b) -> a + b``), ``"record"`` (``async (*args, **kwargs) ->
      (args, kwargs)``), ``"which_loop"`` (``async () -> the running loop``),
      ``"fail"`` (``async (error, message)`` raising the built-in
      ``error(message)``), ``"upper"`` (``def (text) -> text.upper()``),
      ``"constant"`` (``def (value) -> value``);
    - ``wrap``: ``None`` passes the target itself with ``args`` and ``kwargs``;
      ``"lambda"`` passes ``lambda: target(*args, **kwargs)`` and nothing else;
      ``"partial"`` passes ``functools.partial(target, *args)`` and ``kwargs``;
    - ``count``: pass a plain ``def`` that calls that and counts the calls.

    Per call: the outcome; when counted, ``calls`` (how many times ``run``
    called what it was given) and ``idle`` (coroutines made by those calls
    that never started: closed here); ``loops`` (the loops the probes ran on: closed, the
    scenario's current loop, one an earlier call used), ``returned_loop``
    (whether the value is the loop the probe ran on) and ``current_after``
    (the thread's current loop after the call: none, one this call ran on,
    closed).
    """
    run = probe.function("run")
    saved = current_loop()
    sentinel = asyncio.new_event_loop() if current else None
    asyncio.set_event_loop(sentinel)
    earlier: list[Any] = []
    results = []
    try:
        for entry in calls:
            used: list[Any] = []
            made: list[Any] = []
            target = _run_target(probe, entry["target"], used)
            args, kwargs = list(entry.get("args") or []), dict(entry.get("kwargs") or {})
            wrap = entry.get("wrap")
            if wrap == "lambda":
                bound_args, bound_kwargs = args, kwargs
                inner: Callable[..., Any] = lambda: target(*bound_args, **bound_kwargs)  # noqa: E731
                args, kwargs = [], {}
            elif wrap == "partial":
                inner = functools.partial(target, *args)
                args = []
            elif wrap is None:
                inner = target
            else:
                raise ValueError(f"unknown wrap {wrap!r}")

            if entry.get("count"):
                def counted(*a: Any, _inner: Callable[..., Any] = inner, **k: Any) -> Any:
                    result = _inner(*a, **k)
                    made.append(result)
                    return result

                given: Callable[..., Any] = counted  # a plain def returning what the target returns
            else:
                given = inner
            outcome = attempt(run, given, *args, **kwargs)
            idle = [m for m in made if inspect.iscoroutine(m) and inspect.getcoroutinestate(m) == inspect.CORO_CREATED]
            for coro in idle:
                coro.close()
            now = current_loop()
            value = outcome.get("value")
            results.append({
                "outcome": outcome,
                "calls": len(made) if entry.get("count") else None,
                "idle": len(idle) if entry.get("count") else None,
                "loops": [_loop_facts(loop, sentinel=sentinel, earlier=earlier, used=used) for loop in used],
                "returned_loop": isinstance(value, asyncio.AbstractEventLoop) and any(value is loop for loop in used),
                "current_after": {"none": now is None,
                                  "used_here": now is not None and any(now is loop for loop in used),
                                  "closed": None if now is None else bool(now.is_closed())},
            })
            earlier.extend(used)
    finally:
        asyncio.set_event_loop(saved if saved is not None and not saved.is_closed() else None)
        if sentinel is not None:
            sentinel.close()
    return {"calls": results}


def _run_target(probe: Probe, name: str, used: list[Any]) -> Callable[..., Any]:
    """A callable to give the student's ``run``: the student's ``greet`` or one of the probes; probes note their loop."""

    async def add(a: Any, b: Any) -> Any:
        used.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        return a + b

    async def record(*args: Any, **kwargs: Any) -> Any:
        used.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        return args, kwargs

    async def which_loop() -> Any:
        used.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        return asyncio.get_running_loop()

    async def fail(error: str, message: str) -> Any:
        used.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        raise exception_from(error, message)

    def upper(text: str) -> str:
        return text.upper()

    def constant(value: Any) -> Any:
        return value

    probes = {"add": add, "record": record, "which_loop": which_loop, "fail": fail, "upper": upper,
              "constant": constant}
    if name == "greet":
        return probe.function("greet")
    return probes[name]


# --- maybe_await -----------------------------------------------------------


class Ready:
    """A hand-written awaitable (not a coroutine, not a future): waits ``delay`` s, then gives ``value``."""

    def __init__(self, value: Any, delay: float = 0) -> None:
        self.value = value
        self.delay = delay

    def __await__(self) -> Any:
        yield from asyncio.sleep(self.delay).__await__()
        return self.value


def plain_function() -> str:
    """A plain function, given as a value that is not awaitable."""
    return "called"


@scenario
async def maybe_await_each(probe: Probe, *, cases: list[dict[str, Any]]) -> dict[str, Any]:
    """``await maybe_await(value)`` for each case, one after another on one loop.

    A case is ``{"kind", ...}``: ``"sleep"`` (``asyncio.sleep(delay,
    result=result)``, a coroutine), ``"task"`` (the same in a Task),
    ``"future"`` (a Future given ``result`` after ``delay``), ``"custom"``
    (an object with ``__await__`` giving ``result`` after ``delay``),
    ``"failing"`` (a coroutine raising the built-in ``error(message)`` after
    ``delay``), ``"nested"`` (a coroutine whose result is the unstarted
    coroutine ``greet(name)``), ``"plain"`` (``value`` itself), ``"function"``
    (a plain function), ``"student"`` (the student's function ``name``
    itself).

    Per case: the outcome, the loop time when it ended (``at``), whether the
    very object given came back (``same_object``, for plain values and
    functions), whether the very error came out (``same_error``) and whether
    the inner coroutine itself came back (``returned_inner``).
    """
    results = []
    for case in cases:
        kind = case["kind"]
        delay = case.get("delay", 0)
        problem = None
        inner = None
        given: Any
        if kind == "sleep":
            given = asyncio.sleep(delay, result=case.get("result"))
        elif kind == "task":
            given = asyncio.create_task(asyncio.sleep(delay, result=case.get("result")))
        elif kind == "future":
            given = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(delay, given.set_result, case.get("result"))
        elif kind == "custom":
            given = Ready(case.get("result"), delay)
        elif kind == "failing":
            problem = exception_from(case["error"], case["message"])

            async def failing(error: Exception = problem) -> None:
                await asyncio.sleep(delay)
                raise error

            given = failing()
        elif kind == "nested":
            inner = probe.function("greet")(case["name"])

            async def outer(result: Any = inner) -> Any:
                return result

            given = outer()
        elif kind == "plain":
            given = case.get("value")
        elif kind == "function":
            given = plain_function
        elif kind == "student":
            given = probe.function(case["name"])
        else:
            raise ValueError(f"unknown case {kind!r}")
        try:
            outcome = await call(probe, "maybe_await", [given], {}, 10 * (delay + 1))
        finally:
            _close_if_unstarted(given)  # no "never awaited" warning if maybe_await did not await it
            _close_if_unstarted(inner)
        results.append({
            "outcome": outcome,
            "at": probe.now(),
            "same_object": "value" in outcome and outcome["value"] is given,
            "same_error": problem is not None and outcome.get("raised") is problem,
            "returned_inner": inner is not None and "value" in outcome and outcome["value"] is inner,
        })
    return {"cases": results}


# --- pipeline --------------------------------------------------------------


class _AwaitableGiven(Exception):
    """Raised by a probe step that was given an awaitable instead of a plain value."""


_BUILTIN_STEPS: dict[str, Callable[[Any], Any]] = {"strip": str.strip, "title": str.title, "upper": str.upper}


def _apply(spec: dict[str, Any], value: Any) -> Any:
    op, arg = spec["op"], spec.get("arg")
    if op == "identity":
        return value
    if op == "const":
        return arg
    if op == "add":
        return value + arg
    if op == "mul":
        return value * arg
    if op == "append":
        return value + [arg]
    if op == "title":
        return value.title()
    if op == "fail":
        raise exception_from(spec["error"], f"{spec['message']} {value!r}")
    raise ValueError(f"unknown step operation {op!r}")


@scenario
async def pipeline_of(probe: Probe, *, value: Any = None, fresh_object: bool = False,
                      steps: list[dict[str, Any]] = (), within: float = 60) -> dict[str, Any]:
    """``await pipeline(value, *steps)`` with steps built from their descriptions.

    ``fresh_object``: the value is a new ``object()`` (then ``same_object``
    says whether that very object came back). A step is ``{"call", "op",
    "arg", "delay", "name"}``; ``op`` is what it computes from the value it
    gets (``identity``, ``const`` (``arg``), ``add``, ``mul``, ``append``
    (``value + [arg]``), ``title``, ``fail`` (raises the built-in
    ``error(f"{message} {value!r}")``)), ``call`` how it is called:

    - ``"builtin"``: ``str.strip``/``str.title``/``str.upper`` itself (``op`` names it);
    - ``"student"``: the student's function ``op`` itself (e.g. ``greet``);
    - ``"sync"``: a plain ``def``; ``"async"``: an ``async def`` that sleeps ``delay`` first;
    - ``"lambda"``: a lambda returning that ``async def``'s coroutine;
    - ``"partial"``: ``functools.partial`` of an ``async def``;
    - ``"async_call"``: an instance with ``async def __call__``;
    - ``"task"``: a lambda returning ``ensure_future`` of the coroutine;
    - ``"future"``: a plain ``def`` returning a Future resolved after ``delay``;
    - ``"custom"``: a plain ``def`` returning an object with ``__await__``.

    Each probe step notes ``[time, "step", name, value]`` when it starts (an
    ``async def`` when its body starts), after checking it was given a
    plain value: an awaitable is listed in ``given_awaitable`` (its repr)
    and the step raises.
    """
    given_awaitable: list[str] = []
    start = object() if fresh_object else value
    built = [_make_step(probe, spec, given_awaitable) for spec in steps]
    outcome = await call(probe, "pipeline", [start, *built], {}, within)
    return {"outcome": outcome, "took": probe.now(), "given_awaitable": given_awaitable,
            "same_object": "value" in outcome and outcome["value"] is start}


def _make_step(probe: Probe, spec: dict[str, Any], given_awaitable: list[str]) -> Callable[[Any], Any]:
    how = spec["call"]
    name = spec.get("name", spec["op"])
    delay = spec.get("delay", 0)

    def receive(value: Any) -> None:
        if inspect.isawaitable(value):
            given_awaitable.append(repr(value))
            _close_if_unstarted(value)
            raise _AwaitableGiven(f"step {name!r} was given an awaitable: {value!r}")
        probe.note("step", name, value)

    async def body(value: Any) -> Any:
        receive(value)
        await asyncio.sleep(delay)
        return _apply(spec, value)

    if how == "builtin":
        return _BUILTIN_STEPS[spec["op"]]
    if how == "student":
        return probe.function(spec["op"])
    if how == "sync":
        def sync_step(value: Any) -> Any:
            receive(value)
            return _apply(spec, value)
        return sync_step
    if how == "async":
        return body
    if how == "lambda":
        return lambda value: body(value)
    if how == "partial":
        async def binary(arg: Any, value: Any) -> Any:
            receive(value)
            await asyncio.sleep(delay)
            return _apply({**spec, "arg": arg}, value)
        return functools.partial(binary, spec.get("arg"))
    if how == "async_call":
        class AsyncCallable:
            async def __call__(self, value: Any) -> Any:
                return await body(value)
        return AsyncCallable()
    if how == "task":
        return lambda value: asyncio.ensure_future(body(value))
    if how == "future":
        def to_future(value: Any) -> asyncio.Future[Any]:
            receive(value)
            loop = asyncio.get_running_loop()
            future = loop.create_future()

            def settle() -> None:
                try:
                    future.set_result(_apply(spec, value))
                except Exception as exc:  # noqa: BLE001 - a failing operation fails the future
                    future.set_exception(exc)

            loop.call_later(delay, settle)
            return future
        return to_future
    if how == "custom":
        def to_custom(value: Any) -> Ready:
            receive(value)
            return Ready(_apply(spec, value), delay)
        return to_custom
    raise ValueError(f"unknown step call {how!r}")


# --- countdown -------------------------------------------------------------


@scenario
async def read_countdown(probe: Probe, *, n: int, delay: float | None = None, pause: float = 0,
                         stop_after: int | None = None, how: str = "return", settle: float = 0) -> dict[str, Any]:
    """Read ``countdown(n, delay)`` (``countdown(n)`` when ``delay`` is None): each value and the loop time it came.

    ``pause``: the reader spends that long on each value. ``stop_after``: the
    reader stops after that many values, ``how``: ``"return"`` (returns from
    inside its ``async for``), ``"aclosing"`` (breaks out of an ``async for``
    inside ``contextlib.aclosing``) or ``"aclose"`` (takes values with
    ``anext``, then ``await gen.aclose()`` and asks for one more:
    ``after_close`` is ``"stopped"`` for ``StopAsyncIteration``, else that
    outcome). Then the scenario waits ``settle`` s and lists the tasks started
    since it began that are still running (``left``).
    """
    before = unfinished_tasks()
    args = [n] if delay is None else [n, delay]
    what = f"countdown({', '.join(map(repr, args))})"
    report: dict[str, Any] = {"outcome": None, "seen": [], "stopped_at": None, "after_close": None, "left": []}
    made = attempt(probe.function("countdown"), *args)
    if "raised" in made:
        report["outcome"] = made
        return report
    checked = attempt(async_iterator, made["value"], what=what)
    if "raised" in checked:
        report["outcome"] = checked
        return report
    holder = [checked["value"]]  # the only reference to the generator once the reader is done with it
    made = checked = {}
    seen: list[list[Any]] = report["seen"]
    limit = 10 * (max(abs(n), 1) * (abs(delay or 0) + pause) + 1)

    def enough() -> bool:
        return (stop_after is not None and len(seen) >= stop_after) or len(seen) > MAX_VALUES

    async def read() -> None:
        async for value in holder[0]:
            seen.append([value, probe.now()])
            if enough():
                return
            if pause:
                await asyncio.sleep(pause)

    async def read_closing() -> None:
        async with contextlib.aclosing(holder[0]) as gen:
            async for value in gen:
                seen.append([value, probe.now()])
                if enough():
                    break
                if pause:
                    await asyncio.sleep(pause)

    if how == "aclose":
        gen = holder[0]
        report["outcome"] = {"value": None}
        for _ in range(stop_after or 0):
            step = await within(anext(gen), limit)
            if "value" not in step:
                report["outcome"] = step
                break
            seen.append([step["value"], probe.now()])
        else:
            closed = await within(gen.aclose(), limit)
            report["stopped_at"] = probe.now()
            if "value" not in closed:
                report["outcome"] = closed
            else:
                after = await within(anext(gen), limit)
                stopped = isinstance(after.get("raised"), StopAsyncIteration)
                report["after_close"] = "stopped" if stopped else after
        del gen
    elif how in ("return", "aclosing"):
        report["outcome"] = await within(read() if how == "return" else read_closing(), limit)
        report["stopped_at"] = probe.now()
    else:
        raise ValueError(f"unknown way to stop {how!r}")
    holder.clear()  # a reader that left early drops the generator: the loop's finalizer closes it
    await asyncio.sleep(settle)
    report["left"] = task_names(unfinished_tasks() - before - {asyncio.current_task()})
    return report


# --- Stopwatch -------------------------------------------------------------


def _elapsed(watch: Any) -> Outcome:
    return attempt(getattr, watch, "elapsed")


@scenario
async def stopwatch_uses(probe: Probe, *, uses: list[dict[str, Any]]) -> dict[str, Any]:
    """A Stopwatch made at 0 s (``initial``: its ``elapsed`` then), then each use, one after another.

    A use is ``{"instance", "wait", "length", "error", "message", "cancel_after"}``:
    wait ``wait`` s, then ``async with sw as bound:`` sleep ``length`` s, read
    ``sw.elapsed`` (``inside``), and raise the built-in ``error(message)`` if
    given. ``instance``: ``"shared"`` (the one made at 0 s), ``"new"`` (one
    made just before the block) or ``"bound"`` (``async with Stopwatch() as
    bound``, then read from ``bound``). ``cancel_after``: the block runs in a
    task cancelled that many seconds after it began.

    Per use: ``outcome`` (``"finished"``, or what the block raised),
    ``same_error``, ``cancelled``, ``bound_is_self``, ``bound_is_instance``,
    ``bound`` (what ``as`` bound), ``inside`` and ``elapsed`` (outcomes of
    reading it), ``entered_at``.
    """
    cls = probe.function("Stopwatch")
    made = attempt(cls)
    report: dict[str, Any] = {"made": made, "initial": None, "uses": []}
    if "raised" in made:
        return report
    shared = made["value"]
    report["initial"] = _elapsed(shared)
    for use in uses:
        await asyncio.sleep(use.get("wait", 0))
        instance = use.get("instance", "shared")
        record: dict[str, Any] = {"outcome": None, "same_error": False, "cancelled": False, "bound_is_self": None,
                                  "bound_is_instance": None, "bound": None, "inside": None, "elapsed": None,
                                  "entered_at": None}
        report["uses"].append(record)
        if instance == "shared":
            watch: Any = shared
        elif instance in ("new", "bound"):
            fresh = attempt(cls)
            if "raised" in fresh:
                record["outcome"] = fresh
                break
            watch = fresh["value"]
        else:
            raise ValueError(f"unknown instance {instance!r}")
        problem = exception_from(use["error"], use.get("message", "")) if use.get("error") else None
        measured: list[Any] = [watch]

        async def block(watch: Any = watch, problem: Exception | None = problem, record: dict[str, Any] = record,
                        length: float = use.get("length", 0), instance: str = instance) -> str:
            async with watch as bound:
                record["entered_at"] = probe.now()
                record["bound_is_self"] = bound is watch
                record["bound_is_instance"] = isinstance(bound, cls)
                record["bound"] = bound
                if instance == "bound":
                    measured[0] = bound
                await asyncio.sleep(length)
                record["inside"] = _elapsed(measured[0])
                if problem is not None:
                    raise problem
            return "finished"

        limit = 10 * (use.get("length", 0) + 1)
        if use.get("cancel_after") is None:
            outcome = await within(block(), limit)
        else:
            task = asyncio.create_task(block())
            await asyncio.sleep(use["cancel_after"])
            task.cancel()
            outcome = await within(task, limit)
            record["cancelled"] = task.cancelled()
        record["outcome"] = outcome
        record["same_error"] = problem is not None and outcome.get("raised") is problem
        record["elapsed"] = _elapsed(measured[0])
        if record["bound"] is watch:
            record["bound"] = None  # the stopwatch itself needs no description
    return report


@scenario
async def stopwatch_overlapping(probe: Probe, *, blocks: list[list[float]]) -> dict[str, Any]:
    """Blocks ``[start, length]`` at once, each ``async with Stopwatch() as sw`` from ``start`` s: each ``sw.elapsed``."""

    async def timed(start: float, length: float) -> Any:
        await asyncio.sleep(start)
        async with probe.function("Stopwatch")() as sw:
            await asyncio.sleep(length)
        return sw.elapsed

    longest = max([start + length for start, length in blocks] + [0])
    outcome = await within(asyncio.gather(*(timed(start, length) for start, length in blocks)), 10 * (longest + 1))
    return {"outcome": outcome}


@scenario
async def stopwatch_nested(probe: Probe, *, before: float, inner: float, after: float = 0) -> dict[str, Any]:
    """``async with Stopwatch() as outer``: ``before`` s, an inner ``async with Stopwatch()`` of ``inner`` s, ``after`` s."""
    cls = probe.function("Stopwatch")

    async def nested() -> Any:
        async with cls() as outer:
            await asyncio.sleep(before)
            async with cls() as in_block:
                await asyncio.sleep(inner)
            await asyncio.sleep(after)
        return outer.elapsed, in_block.elapsed

    return {"outcome": await within(nested(), 10 * (before + inner + after + 1))}
