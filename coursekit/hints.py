"""Hints for the usual asyncio mistakes, keyed on what a failing test saw.

Both the local pytest run (through the plugin) and the grader's feedback use
these, so a student reads the same advice wherever a test fails.
"""
from __future__ import annotations

import re

NOT_IMPLEMENTED = (
    "This function still raises NotImplementedError: replace the stub's body "
    "with your implementation."
)
BLOCKING = (
    "A blocking call (time.sleep, requests, a busy loop) inside a coroutine "
    "stops the whole event loop: nothing else runs until it returns. Use "
    "`await asyncio.sleep(...)`, aiohttp, or `await asyncio.to_thread(fn)` "
    "for blocking work."
)
NOT_AWAITED = (
    "Calling an `async def` function only creates a coroutine object; its body "
    "runs when you `await` it or wrap it in a task. Check for a missing `await`."
)
AWAITED_NON_AWAITABLE = (
    "`await` works only on awaitables (coroutines, tasks, futures). Did you "
    "await the result of a plain function, or call a coroutine function twice?"
)
SEQUENTIAL = (
    "Awaiting coroutines one after another runs them sequentially. To run them "
    "at the same time, start them together: `asyncio.gather(...)`, "
    "`asyncio.TaskGroup` or `asyncio.create_task`."
)
HANGS = (
    "The call never finished. Something awaits forever: a future nobody "
    "completes, a queue nobody fills, or a task waiting for itself."
)
TIMED_OUT = (
    "Your code ran past the time limit. Is a blocking call (time.sleep, a busy "
    "loop) holding the event loop, or does something await forever?"
)
LEFT_RUNNING = (
    "Something your code started was still running after it returned. Cancel "
    "and await the tasks you start (a TaskGroup does it for you) and close "
    "every aiohttp.ClientSession (`async with` does it for you)."
)
SWALLOWED_CANCEL = (
    "`asyncio.CancelledError` must propagate: if you catch it to clean up, "
    "re-raise it (`raise`). `except Exception` does not catch it, but "
    "`except BaseException` and a bare `except:` do."
)
RUN_IN_LOOP = (
    "`asyncio.run()` and `loop.run_until_complete()` start a loop; they cannot "
    "be called while a loop is already running in this thread. Inside a "
    "coroutine, `await` the work instead."
)
NO_CURRENT_LOOP = (
    "There is no current event loop here. Since Python 3.10 "
    "`asyncio.get_event_loop()` no longer creates one: use `asyncio.run()`, "
    "`asyncio.Runner`, or `asyncio.new_event_loop()` with "
    "`asyncio.set_event_loop()`; inside a coroutine use "
    "`asyncio.get_running_loop()`."
)

# Order matters: the first pattern that matches the exception text wins.
_PATTERNS: list[tuple[str, re.Pattern[str], str]] = [
    ("NotImplementedError", re.compile(""), NOT_IMPLEMENTED),
    ("TypeError", re.compile(r"can't be used in 'await' expression|object is not awaitable"), AWAITED_NON_AWAITABLE),
    ("RuntimeError", re.compile(r"cannot be called from a running event loop|This event loop is already running"), RUN_IN_LOOP),
    ("RuntimeError", re.compile(r"no (current|running) event loop"), NO_CURRENT_LOOP),
    ("DeprecationWarning", re.compile(r"no current event loop"), NO_CURRENT_LOOP),
    ("RuntimeWarning", re.compile(r"was never awaited"), NOT_AWAITED),
    ("BlockingCallError", re.compile(""), BLOCKING),
]


def hint_for(exc_type: str, message: str) -> str | None:
    """Return the hint for an exception a test saw, or None when none applies."""
    for name, pattern, hint in _PATTERNS:
        if exc_type == name and pattern.search(message):
            return hint
    if "never awaited" in message:
        return NOT_AWAITED
    return None
