"""Hidden tests for assignment 02 (part 1): greet, make_greeting, run, maybe_await, pipeline.

Names, delays, numbers and error types are drawn per run from ``student.rng``
where the contract leaves them free; the expected values are computed here,
on the judge's side. The scenarios (``coursekit/probes/p02.py``) run the
student's code and report types, coroutine states, loop facts and times.
"""
import pytest

from coursekit import hints
from coursekit.hints import describe_parts
from coursekit.judge import raised, unwrap
from coursekit.probes import kit, p02
from coursekit.testing import same

STUDENT_MODULE = "coroutines"
NAMES = ("Ada", "Bea", "Cy", "Dan", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jo", "Kim", "Lou", "Mia", "Ned", "Ola", "Pia")
WORDS = ("apple", "birch", "cedar", "delta", "ember", "fjord", "grove", "haze", "inlet", "juniper", "kelp")

FRESH_LOOP_HINT = (
    "Start a new loop for every call and close it afterwards: asyncio.run(coro) or "
    "`with asyncio.Runner() as runner: runner.run(coro)` do both. The old "
    "get_event_loop() / run_until_complete() / close() flow reuses (and then closes) "
    "whatever loop is current."
)


def run_value(outcome, *, what):
    """The value of one ``run(...)`` call, turning the usual loop-reuse RuntimeErrors into feedback."""
    error = raised(outcome)
    if error is not None and error.is_a("RuntimeError") and not error.is_a("NotImplementedError") \
            and "loop" in error.message:
        raise AssertionError(f"run() failed with RuntimeError: {error.message.rstrip('.')}. {FRESH_LOOP_HINT}")
    return unwrap(outcome, what=what)


def run_calls(student, *calls, current=True, what="run(...)"):
    """The per-call reports of ``p02.run_calls`` (the student's run called from synchronous code)."""
    return student.run(p02.run_calls, calls=list(calls), current=current).value(what)["calls"]


def loop_of(call, *, what):
    """What the probe saw of the loop it ran on during one ``run`` call."""
    assert call["loops"], f"{what} never ran the coroutine it was given on a loop"
    return call["loops"][0]


def names(rng, count):
    return rng.sample(NAMES, count)


# --- greet -----------------------------------------------------------------


@pytest.mark.points(1)
def test_greet_default_delay_is_instant(student):
    """greet("Eve") (default delay 0) returns "Hello, Eve!" without any loop time passing."""
    name = names(student.rng, 1)[0]
    seen = student.run(kit.call_async, function="greet", args=[name], within=10).value(f"greet({name!r})")
    result = unwrap(seen["outcome"], what=f"greet({name!r})")
    assert same(result, f"Hello, {name}!"), f"expected {f'Hello, {name}!'!r}, got {result!r}"
    assert seen["took"] == 0, f"with the default delay no loop time should pass, {seen['took']:g} s did"


@pytest.mark.points(3)
def test_greet_does_not_block_the_loop(student):
    """While greet waits, other tasks keep running; two greets together take the longer delay."""
    rng = student.rng
    longer = rng.randint(2, 4)
    delays = [longer, rng.randint(1, longer - 1)]
    rng.shuffle(delays)
    who = names(rng, 2)
    seen = student.run(p02.greet_beside_ticker, greets=[[n, d] for n, d in zip(who, delays)],
                       ticks=longer).value("two greets at once")
    results = unwrap(seen["outcome"], what="two greets at once")
    expected = [f"Hello, {n}!" for n in who]
    assert same(results, expected), f"expected {expected!r}, got {results!r}"
    ticks = list(range(1, longer + 1))
    assert seen["ticks"] == pytest.approx(ticks), (
        f"another task should tick at {', '.join(map(str, ticks))} s while greet waits; it ticked at "
        f"{seen['ticks']!r}. {hints.BLOCKING}"
    )
    assert seen["finished"] == longer, (
        f"greet({delays[0]}) and greet({delays[1]}) together should take {longer} s, took {seen['finished']:g} s"
    )


# --- make_greeting ---------------------------------------------------------


@pytest.mark.points(2)
def test_make_greeting_needs_no_running_loop(student):
    """make_greeting works from plain code with no loop running: it only builds the coroutine, prints nothing."""
    name = names(student.rng, 1)[0]
    seen = student.run(p02.make_greeting_without_loop, name=name).value(f"make_greeting({name!r})")
    error = raised(seen["outcome"])
    if error is not None and error.is_a("RuntimeError") and not error.is_a("NotImplementedError"):
        raise AssertionError(
            f"make_greeting raised RuntimeError outside a running loop: {error.message.rstrip('.')}. It must not create a Task "
            "or schedule anything: just return the coroutine object, e.g. `return greet(name)`."
        )
    made = unwrap(seen["outcome"], what=f"make_greeting({name!r})")
    assert seen["is_coroutine"], f"expected a coroutine object, got {seen['type']}: {made!r}"
    assert seen["state"] == "CORO_CREATED", f"the coroutine should not have started, its state is {seen['state']}"
    assert seen["printed"] == "", (
        f"make_greeting should print nothing (nothing runs yet), it printed {seen['printed']!r}"
    )


@pytest.mark.points(4)
def test_make_greeting_is_not_scheduled(student):
    """make_greeting returns a bare coroutine, not a Task: it stays unstarted until awaited, then greets."""
    name = names(student.rng, 1)[0]
    seen = student.run(p02.make_greeting_then_await, name=name, turns=5).value(f"make_greeting({name!r})")
    made = unwrap(seen["outcome"], what=f"make_greeting({name!r})")
    assert not seen["is_future"] and not seen["new_tasks"], (
        f"make_greeting returned {made!r} and started {seen['new_tasks']} new task(s): it should only "
        "return the coroutine object, not schedule it with create_task/ensure_future."
    )
    assert seen["is_coroutine"], f"expected a coroutine object, got {seen['type']}: {made!r}"
    assert seen["state_after_turns"] == "CORO_CREATED", (
        "after a few loop turns the coroutine should still be unstarted (CORO_CREATED), its state is "
        f"{seen['state_after_turns']}"
    )
    result = unwrap(seen["awaited"], what=f"awaiting make_greeting({name!r})")
    assert same(result, f"Hello, {name}!"), f"awaiting it should give {f'Hello, {name}!'!r}, got {result!r}"
    assert seen["took"] == 0, f"greet(name) has no delay, yet {seen['took']:g} s of loop time passed"


# --- run -------------------------------------------------------------------


@pytest.mark.points(3)
def test_run_uses_a_fresh_loop_each_call(student):
    """Each run() call makes a new event loop, runs the coroutine on it, and closes it."""
    first, second = run_calls(student, {"target": "which_loop"}, {"target": "which_loop"}, what="run(which_loop)")
    got = run_value(first["outcome"], what="run(which_loop)")
    run_value(second["outcome"], what="run(which_loop), called again,")
    assert first["returned_loop"], f"run(which_loop) should return the loop, got {got!r}"
    first_loop, second_loop = loop_of(first, what="run(which_loop)"), loop_of(second, what="run(which_loop)")
    assert not second_loop["seen_before"], f"two run() calls used the same loop {got!r}. {FRESH_LOOP_HINT}"
    assert not first_loop["is_sentinel"] and not second_loop["is_sentinel"], (
        f"run() reused the thread's current loop instead of a fresh one. {FRESH_LOOP_HINT}"
    )
    assert first_loop["closed"] and second_loop["closed"], (
        f"run() should close its loop when done; closed: {first_loop['closed']}, {second_loop['closed']}. "
        f"{FRESH_LOOP_HINT}"
    )


@pytest.mark.points(3)
def test_run_leaves_no_loop_set(student):
    """After run(), no loop of its own (closed or not) is left set as the thread's current loop."""
    states = [True, False]
    student.rng.shuffle(states)
    for current in states:  # with a loop of the caller's set as current, and with none
        (call,) = run_calls(student, {"target": "which_loop"}, current=current, what="run(which_loop)")
        run_value(call["outcome"], what="run(which_loop)")
        now = call["current_after"]
        assert not now["used_here"], (
            "run() left its loop set as the current event loop. Later code calling "
            f"asyncio.get_event_loop() would get a closed loop. {FRESH_LOOP_HINT}"
        )
        assert now["none"] or not now["closed"], (
            f"after run() the current event loop is a closed loop. {FRESH_LOOP_HINT}"
        )


@pytest.mark.points(2)
def test_run_passes_every_argument(student):
    """run passes positional and keyword arguments through, even a keyword named coro_fn."""
    rng = student.rng
    first, second = rng.randint(1, 99), rng.choice(WORDS)
    keyword, keyword_value = rng.choice(["three", "size", "label", "count"]), rng.randint(0, 9)
    coro_fn_value = rng.choice(WORDS)
    kwargs = {keyword: keyword_value, "coro_fn": coro_fn_value}
    (call,) = run_calls(student, {"target": "record", "args": [first, second], "kwargs": kwargs},
                        what="run(record, ...)")
    shown = f"{first!r}, {second!r}, {keyword}={keyword_value!r}, coro_fn={coro_fn_value!r}"
    got = run_value(call["outcome"], what=f"run(record, {shown})")
    assert same(got, ((first, second), kwargs)), (
        f"run(record, {shown}) should call record({shown}), "
        f"it got args and kwargs {got!r}. coro_fn is positional-only (`def run(coro_fn, /, *args, **kwargs)`)."
    )


@pytest.mark.points(2)
def test_run_accepts_any_callable_returning_a_coroutine(student):
    """run accepts a lambda or partial that returns a coroutine, not only an `async def` function."""
    lambda_name, partial_name = names(student.rng, 2)
    cases = [
        (f"lambda: greet({lambda_name!r})", {"target": "greet", "args": [lambda_name], "wrap": "lambda"},
         f"Hello, {lambda_name}!"),
        (f"functools.partial(greet, {partial_name!r})", {"target": "greet", "args": [partial_name], "wrap": "partial"},
         f"Hello, {partial_name}!"),
    ]
    calls = run_calls(student, *(entry for _, entry, _ in cases))
    for (label, _, expected), call in zip(cases, calls):
        error = raised(call["outcome"])
        if error is not None and error.is_a("TypeError"):
            raise AssertionError(
                f"run({label}) raised TypeError ({error.message}), but the callable does return a coroutine. "
                "Check what coro_fn(...) returned (inspect.iscoroutine), not whether coro_fn is an async def."
            )
        got = run_value(call["outcome"], what=f"run({label})")
        assert same(got, expected), f"run({label}) should return {expected!r}, got {got!r}"


@pytest.mark.points(4)
def test_run_rejects_a_non_coroutine_with_type_error(student):
    """run raises TypeError naming what it got when coro_fn(...) returns something that is not a coroutine."""
    rng = student.rng
    name, number = names(rng, 1)[0], rng.randint(10, 999)
    greeting, *rejected = run_calls(student, {"target": "greet", "args": [name]},
                                    {"target": "constant", "args": [number]}, {"target": "constant", "args": [None]})
    assert same(run_value(greeting["outcome"], what=f"run(greet, {name!r})"), f"Hello, {name}!"), (
        f"run(greet, {name!r}) should return {f'Hello, {name}!'!r}"
    )
    for (label, words), call in zip((("returns_number", ("int", str(number))), ("forgot_async", ("None",))),
                                    rejected):
        error = raised(call["outcome"])
        if error is None:
            raise AssertionError(f"run({label}) returned instead of raising TypeError")
        if error.is_a("NotImplementedError"):
            unwrap(call["outcome"], what=f"run({label})")
        if not error.is_a("TypeError"):
            raise AssertionError(
                f"run({label}) should raise TypeError, it raised {describe_parts(error.name, error.message)}. "
                "(asyncio.run itself raises ValueError here: check with inspect.iscoroutine first.)"
            )
        assert any(word in error.message for word in words), (
            f"the TypeError should name what {label}() returned (e.g. {words[0]!r}), "
            f"its message is {error.message!r}"
        )


@pytest.mark.points(2)
def test_run_calls_coro_fn_once_and_awaits_what_it_made(student):
    """run calls coro_fn exactly once and runs the very coroutine it returned (none is left unawaited)."""
    rng = student.rng
    name, plain = names(rng, 1)[0], rng.choice(WORDS)
    counted, counted_plain = run_calls(student, {"target": "greet", "args": [name], "count": True},
                                       {"target": "constant", "args": [plain], "count": True})
    got = run_value(counted["outcome"], what=f"run(counted, {name!r})")
    assert same(got, f"Hello, {name}!"), f"run(counted, {name!r}) should return {f'Hello, {name}!'!r}, got {got!r}"
    assert counted["calls"] == 1, f"run should call coro_fn once, it called it {counted['calls']} times"
    if raised(counted_plain["outcome"]) is None:
        raise AssertionError("run(counted_plain) returned instead of raising TypeError")
    assert counted_plain["calls"] == 1, (
        f"run should call coro_fn once even when it returns a non-coroutine, it was called "
        f"{counted_plain['calls']} times"
    )
    idle = counted["idle"] + counted_plain["idle"]
    assert not idle, f"run created {idle} coroutine(s) it never awaited. {hints.NOT_AWAITED}"


@pytest.mark.points(2)
def test_run_propagates_exceptions(student):
    """An exception raised by the coroutine propagates out of run, and the loop is still closed."""
    rng = student.rng
    kind, message = rng.choice(["KeyError", "ValueError", "LookupError", "PermissionError"]), rng.choice(WORDS)
    (call,) = run_calls(student, {"target": "fail", "args": [kind, message]}, what="run(failing)")
    error = raised(call["outcome"])
    if error is None or not error.is_a(kind):
        run_value(call["outcome"], what="run(failing)")  # a RuntimeError about the loop, the stub: their own feedback
        raise AssertionError(
            f"the coroutine raised {kind}({message!r}); run(failing) should let it through, it "
            + ("returned " + repr(call["outcome"].get("value")) if error is None
               else "raised " + describe_parts(error.name, error.message))
        )
    assert message in error.message, f"expected the coroutine's own {kind}({message!r}), got {error!r}"
    loop = loop_of(call, what="run(failing)")
    assert loop["closed"], (
        "run() should close its loop also when the coroutine raised (asyncio.run does: use it or try/finally)"
    )
    assert not call["current_after"]["used_here"], f"run() left its loop set as current after an error. {FRESH_LOOP_HINT}"


# --- maybe_await -----------------------------------------------------------


def maybe_await_each(student, *cases, what="maybe_await"):
    return student.run(p02.maybe_await_each, cases=list(cases)).value(what)["cases"]


@pytest.mark.points(2)
def test_maybe_await_task_and_future(student):
    """maybe_await awaits a Task and a Future (not only coroutines) and returns their results."""
    rng = student.rng
    task_delay, future_delay = rng.randint(1, 4), rng.randint(1, 4)
    task_result, future_result = (f"from {word}" for word in rng.sample(WORDS, 2))
    task, future = maybe_await_each(student, {"kind": "task", "delay": task_delay, "result": task_result},
                                    {"kind": "future", "delay": future_delay, "result": future_result})
    got = unwrap(task["outcome"], what="maybe_await(task)")
    assert same(got, task_result), (
        f"maybe_await(task) should return the task's result {task_result!r}, got {got!r}"
    )
    assert task["at"] == task_delay, f"the task finishes at {task_delay} s, maybe_await returned at {task['at']:g} s"

    got = unwrap(future["outcome"], what="maybe_await(future)")
    assert same(got, future_result), (
        f"maybe_await(future) should wait for and return {future_result!r}, got {got!r}. "
        "A Future is awaitable too: test with inspect.isawaitable, not only for coroutines."
    )
    resolved = task_delay + future_delay
    assert future["at"] == resolved, (
        f"the future is resolved at {resolved} s, maybe_await returned at {future['at']:g} s"
    )


@pytest.mark.points(3)
def test_maybe_await_custom_awaitable(student):
    """maybe_await awaits any object with __await__, not only coroutines, tasks and futures."""
    rng = student.rng
    result, delay = rng.choice(WORDS), rng.randint(1, 6)
    (custom,) = maybe_await_each(student, {"kind": "custom", "delay": delay, "result": result})
    got = unwrap(custom["outcome"], what="maybe_await(custom awaitable)")
    assert same(got, result), (
        f"an object with __await__ is awaitable: maybe_await should return its result {result!r}, got {got!r}. "
        "Use inspect.isawaitable(value)."
    )
    assert custom["at"] == delay, f"the awaitable waits {delay} s, maybe_await returned after {custom['at']:g} s"


@pytest.mark.points(2)
def test_maybe_await_returns_plain_values_unchanged(student):
    """maybe_await returns None, falsy values, functions and async functions themselves, untouched."""
    rng = student.rng
    cases = [(repr(value), {"kind": "plain", "value": value})
             for value in (None, 0, "", [], {"k": 1}, rng.randint(1, 99), [rng.choice(WORDS)])]
    cases += [("plain_fn", {"kind": "function"}), ("greet", {"kind": "student", "name": "greet"})]
    rng.shuffle(cases)
    seen = maybe_await_each(student, *(case for _, case in cases))
    for (label, _), back in zip(cases, seen):
        error = raised(back["outcome"])
        if error is not None and error.is_a("TypeError"):
            raise AssertionError(
                f"maybe_await({label}) raised TypeError ({error.message}): a value that is not awaitable must not be "
                "awaited. Check inspect.isawaitable(value) first."
            )
        got = unwrap(back["outcome"], what=f"maybe_await({label})")
        assert back["same_object"], (
            f"maybe_await({label}) should return the value itself, got {got!r}. "
            "A value that is not awaitable is returned as is: not called, not converted."
        )
    assert seen[-1]["at"] == 0, f"plain values need no waiting, yet {seen[-1]['at']:g} s of loop time passed"


@pytest.mark.points(2)
def test_maybe_await_lets_errors_from_the_awaitable_through(student):
    """An error raised while awaiting (even a TypeError) propagates out of maybe_await."""
    rng = student.rng
    number, message = rng.randint(1, 99), f"inner {rng.choice(WORDS)} failure"
    sleeper, failing = maybe_await_each(student, {"kind": "sleep", "delay": 0, "result": number},
                                        {"kind": "failing", "delay": 1, "error": "TypeError", "message": message})
    got = unwrap(sleeper["outcome"], what="maybe_await(coroutine)")
    assert same(got, number), f"maybe_await(asyncio.sleep(0, result={number})) should return {number}, got {got!r}"

    error = raised(failing["outcome"])
    if error is None:
        raise AssertionError(
            f"the awaited coroutine raised TypeError({message!r}), but maybe_await returned "
            f"{failing['outcome'].get('value')!r}. "
            "Do not detect awaitables with try/except TypeError around `await`: "
            "test inspect.isawaitable(value) instead."
        )
    if not error.is_a("TypeError"):
        unwrap(failing["outcome"], what="maybe_await(failing coroutine)")
    assert message in error.message, f"expected the coroutine's own TypeError, got {error!r}"


@pytest.mark.points(1)
def test_maybe_await_awaits_only_once(student):
    """maybe_await awaits its argument once: if the result is itself a coroutine, that is returned as is."""
    name = names(student.rng, 1)[0]
    (nested,) = maybe_await_each(student, {"kind": "nested", "name": name}, what="maybe_await(outer())")
    got = unwrap(nested["outcome"], what="maybe_await(outer())")
    assert nested["returned_inner"], (
        f"maybe_await(outer()) should return outer's result (a coroutine object) without awaiting it, "
        f"got {got!r}"
    )


# --- pipeline --------------------------------------------------------------


def pipeline(student, *, what="pipeline(...)", **params):
    """(the scenario's report, the observation) of ``p02.pipeline_of``."""
    observed = student.run(p02.pipeline_of, **params)
    seen = observed.value(what)
    assert not seen["given_awaitable"], (
        f"a step was given {seen['given_awaitable'][0]}: the previous step returned an awaitable and pipeline "
        "passed it on without awaiting it. Await what a step returns when inspect.isawaitable(result) is true, "
        "whether or not the step is an async def."
    )
    return seen, observed


@pytest.mark.points(1)
def test_pipeline_without_steps_returns_value(student):
    """pipeline(value) with no steps returns value itself."""
    seen, _ = pipeline(student, fresh_object=True, within=10, what="pipeline(value)")
    got = unwrap(seen["outcome"], what="pipeline(value)")
    assert seen["same_object"], f"pipeline(value) with no steps should return value itself, got {got!r}"


@pytest.mark.points(4)
def test_pipeline_steps_returning_awaitables(student):
    """A step may be any callable returning an awaitable: lambda, partial, async __call__, task, future, custom."""
    rng = student.rng
    start = rng.randint(1, 9)
    steps = [
        ("lambda", "add", rng.randint(1, 9)),  # a lambda returning a coroutine
        ("partial", "add", rng.randint(10, 99)),  # functools.partial of an async def
        ("async_call", "add", rng.randint(1, 9)),  # an instance with async __call__
        ("task", "add", rng.randint(100, 999)),  # a lambda returning a Task
        ("future", "mul", rng.randint(2, 3)),  # a Future
        ("custom", "add", -rng.randint(1, 9)),  # a custom awaitable
    ]
    delays = [rng.choice([1, 1, 2]) for _ in steps]
    chain = [start]
    for _, op, arg in steps:
        chain.append(chain[-1] + arg if op == "add" else chain[-1] * arg)
    seen, _ = pipeline(student, value=start, within=60, steps=[
        {"call": how, "op": op, "arg": arg, "delay": delay} for (how, op, arg), delay in zip(steps, delays)
    ], what=f"pipeline({start}, ...)")
    got = unwrap(seen["outcome"], what=f"pipeline({start}, ...)")
    assert same(got, chain[-1]), (
        f"expected {' -> '.join(map(str, chain))}, got {got!r}. Whatever a step returns, "
        "await it if it is awaitable (inspect.isawaitable), whether or not the step is an async def."
    )
    total = sum(delays)
    assert seen["took"] == total, (
        f"six steps of {', '.join(map(str, delays))} s, one after another, take {total} s; took {seen['took']:g} s"
    )


@pytest.mark.points(3)
def test_pipeline_runs_steps_in_order_one_at_a_time(student):
    """Each step is called once, in order, with the previous step's result, after that step finished."""
    rng = student.rng
    a, b, c = rng.sample("abcdefghkmnpqrstuvwxyz", 3)
    delays = {a: rng.randint(1, 4), b: rng.randint(1, 4), c: rng.randint(1, 4)}
    steps = [{"call": "async", "op": "append", "arg": a, "delay": delays[a], "name": a},
             {"call": "sync", "op": "append", "arg": "sync", "name": "sync"},
             {"call": "async", "op": "append", "arg": b, "delay": delays[b], "name": b},
             {"call": "async", "op": "append", "arg": c, "delay": delays[c], "name": c}]
    seen, observed = pipeline(student, value=[], steps=steps, within=60, what="pipeline([], ...)")
    got = unwrap(seen["outcome"], what="pipeline([], ...)")
    assert same(got, [a, "sync", b, c]), f"expected {[a, 'sync', b, c]!r}, got {got!r}"
    expected, value, now = [], [], 0
    for step in steps:
        expected.append((step["name"], "start", list(value), now))
        now += step.get("delay", 0)
        value = value + [step["arg"]]
    log = [(name, "start", given, at) for at, _, name, given in observed.events_of("step")]
    assert log == expected, (
        f"steps should start one after another, each with the previous result: expected calls {expected!r}, "
        f"saw {log!r}"
    )
    assert seen["took"] == now, (
        f"steps of {delays[a]}, 0, {delays[b]} and {delays[c]} s one after another take {now} s, "
        f"took {seen['took']:g} s"
    )


@pytest.mark.points(1)
def test_pipeline_keeps_none_and_falsy_results(student):
    """A step returning None, 0 or "" passes that value on like any other."""
    falsy = [None, 0, ""]
    student.rng.shuffle(falsy)
    steps = []
    for value in falsy:
        steps += [{"call": "sync", "op": "const", "arg": value, "name": "const"},
                  {"call": "async", "op": "identity", "name": "record"}]
    seen, observed = pipeline(student, value="x", steps=steps, within=10, what="pipeline with falsy results")
    got = unwrap(seen["outcome"], what="pipeline with falsy results")
    recorded = [event[3] for event in observed.events_of("step") if event[2] == "record"]
    assert same(recorded, falsy), (
        f"the steps after {', '.join(map(repr, falsy))} should receive them, they got {recorded!r}"
    )
    assert same(got, falsy[-1]), f"pipeline should return the last step's result {falsy[-1]!r}, got {got!r}"


@pytest.mark.points(2)
def test_pipeline_stops_at_failing_step(student):
    """An exception in a step propagates out of pipeline, and the later steps do not run."""
    rng = student.rng
    start, factor = rng.randint(2, 9), rng.randint(2, 5)
    word = rng.choice(WORDS)
    seen, _ = pipeline(student, value=start, steps=[{"call": "sync", "op": "mul", "arg": factor}], within=10,
                       what=f"pipeline({start}, lambda v: v * {factor})")
    assert same(unwrap(seen["outcome"], what=f"pipeline({start}, lambda v: v * {factor})"), start * factor), (
        f"pipeline({start}, lambda v: v * {factor}) should return {start * factor}"
    )
    seen, observed = pipeline(student, value=start, within=10, what="pipeline with a failing step", steps=[
        {"call": "sync", "op": "add", "arg": 1, "name": "plus_one"},
        {"call": "async", "op": "fail", "delay": 1, "error": "ValueError", "message": word, "name": "fail"},
        {"call": "sync", "op": "identity", "name": "later"},
    ])
    error = raised(seen["outcome"])
    if error is None or not error.is_a("ValueError"):
        got = unwrap(seen["outcome"], what="pipeline with a failing step")
        raise AssertionError(f"a step raised ValueError, but pipeline returned {got!r} instead of raising it")
    assert f"{word} {start + 1}" in error.message, (
        f"expected the step's own ValueError({f'{word} {start + 1}'!r}), got {error!r}"
    )
    later = [event[3] for event in observed.events_of("step") if event[2] == "later"]
    assert later == [], f"the step after the failing one should not run, it was called with {later!r}"
