"""Hints for the usual asyncio mistakes, keyed on what a failing test saw.

Both the local pytest run (through the plugin) and the grader's feedback use
these, so a student reads the same advice wherever a test fails. Every hint
must be true on each Python the course supports (3.11 to 3.13).

Each constant is its English text, marked with ``N_``: code compares and
stores it as it is, and the place that shows it translates it
(``coursekit.i18n``), from coursekit/locale's catalogs.
"""
from __future__ import annotations

import re

from coursekit.i18n import N_

NOT_IMPLEMENTED = N_(
    "This function still raises NotImplementedError: replace the stub's body "
    "with your implementation."
)
BLOCKING = N_(
    "A blocking call (time.sleep, requests, a busy loop) inside a coroutine "
    "stops the whole event loop: nothing else runs until it returns. Use "
    "`await asyncio.sleep(...)`, aiohttp, or `await asyncio.to_thread(fn)` "
    "for blocking work."
)
NOT_AWAITED = N_(
    "Calling an `async def` function only creates a coroutine object; its body "
    "runs when you `await` it or wrap it in a task. Check for a missing `await`."
)
AWAITED_NON_AWAITABLE = N_(
    "`await` works only on awaitables (coroutines, tasks, futures). Did you "
    "await the result of a plain `def` function, or a value that an earlier "
    "`await` already returned?"
)
AWAITED_TWICE = N_(
    "A coroutine object runs once: awaiting it (or wrapping it in a task) a "
    "second time fails. Keep its result, or call the `async def` function "
    "again for a new coroutine."
)
NOT_AN_ASYNC_GENERATOR = N_(
    "`async for` needs an async iterator, and it got a coroutine: the function "
    "is an `async def` without `yield`, so calling it returns a coroutine "
    "instead of an async generator. An untouched stub is one (its body only "
    "raises NotImplementedError): write the body, with `yield` for each item."
)
SEQUENTIAL = N_(
    "Awaiting coroutines one after another runs them sequentially. To run them "
    "at the same time, start them together: `asyncio.gather(...)`, "
    "`asyncio.TaskGroup` or `asyncio.create_task`."
)
HANGS = N_(
    "Something awaits far longer than asked, usually forever: a future nobody "
    "completes, a queue nobody fills, an event nobody sets, or a task that is "
    "never cancelled."
)
TIMED_OUT = N_(
    "Your code ran past the time limit. Is a blocking call (time.sleep, a busy "
    "loop) holding the event loop, or does something await forever?"
)
LEFT_RUNNING = N_(
    "Something your code started was still running after it returned. Cancel "
    "and await the tasks you start (a TaskGroup does both for you)."
)
SESSION_LEFT_OPEN = N_(
    "Close every aiohttp.ClientSession you open, also when a request fails "
    "(`async with aiohttp.ClientSession() as session:` does it for you)."
)
SWALLOWED_CANCEL = N_(
    "`asyncio.CancelledError` must propagate: if you catch it to clean up, "
    "re-raise it (`raise`). `except Exception` does not catch it, but "
    "`except BaseException` and a bare `except:` do."
)
RUN_IN_LOOP = N_(
    "`asyncio.run()` and `loop.run_until_complete()` start a loop; they cannot "
    "be called while a loop is already running in this thread. Inside a "
    "coroutine, `await` the work instead."
)
NO_RUNNING_LOOP = N_(
    "No event loop is running here. `asyncio.get_running_loop()`, "
    "`asyncio.create_task()` and the like work only in code the loop runs (a "
    "coroutine or a callback): start the loop with `asyncio.run()` or "
    "`asyncio.Runner` and call them from there."
)
NO_CURRENT_LOOP = N_(
    "`asyncio.get_event_loop()` found no current event loop for this thread. "
    "It creates one only in the main thread, and only while no loop was ever "
    "set there (`asyncio.run()` sets and clears one): on Python 3.12 and 3.13 "
    "with a DeprecationWarning (\"There is no current event loop\"), which the "
    "course's tests treat as an error. Otherwise it raises RuntimeError, and "
    "Python 3.14 no longer creates one at all. Inside a coroutine use "
    "`asyncio.get_running_loop()`; elsewhere use `asyncio.run()` or "
    "`asyncio.Runner`, or create a loop with `asyncio.new_event_loop()` and "
    "make it current with `asyncio.set_event_loop()`."
)

# What the blocking-call guard (coursekit.pytest_plugin) raises: here, so that the grader, which localizes the
# messages its child recorded in English, knows them too.
BLOCKED_CALL = N_("{call} was called inside a coroutine, while the event loop was running.")
BLOCKED_CALL_HIDDEN = N_(
    "{call} was called inside a coroutine, while the event loop was running ({count} blocking call(s) in this "
    "test). Each raised a BlockingCallError that did not reach the test: something caught it (`except "
    "BaseException`, a bare `except:`, `gather(..., return_exceptions=True)`) or it ended in a task or callback "
    "nobody awaited."
)

# Order matters: the first pattern that matches the exception text wins.
_PATTERNS: list[tuple[str, re.Pattern[str], str]] = [
    ("NotImplementedError", re.compile(""), NOT_IMPLEMENTED),
    ("TypeError", re.compile(r"'async for' requires an object with __aiter__ method, got coroutine"),
     NOT_AN_ASYNC_GENERATOR),
    ("TypeError", re.compile(r"can't be used in 'await' expression|object is not awaitable"), AWAITED_NON_AWAITABLE),
    ("RuntimeError", re.compile(r"cannot reuse already awaited coroutine"), AWAITED_TWICE),
    ("RuntimeError", re.compile(r"cannot be called from a running event loop|This event loop is already running"), RUN_IN_LOOP),
    ("RuntimeError", re.compile(r"no running event loop"), NO_RUNNING_LOOP),
    ("RuntimeError", re.compile(r"no current event loop"), NO_CURRENT_LOOP),
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


def describe_parts(type_name: str, message: str) -> str:
    """``"ValueError: bad port"``, or only ``"NotImplementedError"`` when the message is empty.

    An empty message never leaves a dangling colon ("NotImplementedError: ."),
    and a message's own final period is dropped, so the text can end a
    sentence of its own: ``f"it failed with {describe(exc)}. {hint}"``.
    """
    message = message.strip()
    if message.endswith(".") and not message.endswith(".."):
        message = message[:-1]
    return f"{type_name}: {message}" if message else type_name


def describe(exc: BaseException) -> str:
    """An exception as a student should read it: its class name, then its message if it has one.

    Use it after "raised" or "failed with": ``f"fetch raised {describe(exc)}"``
    reads "fetch raised NotImplementedError" for a stub and "fetch raised
    ValueError: bad port" otherwise.
    """
    return describe_parts(type(exc).__name__, str(exc))
