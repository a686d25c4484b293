"""Probes for "the other tasks were cancelled and awaited": what each job went through, in words.

``Work.cancelled`` lists the jobs that a cancellation *reached*. A job whose
task was cancelled with ``task.cancel()`` but never awaited is not in it yet:
``cancel()`` only asks, and the job sees the ``CancelledError`` at the task's
next turn. A bare "cancellation reached []" then reads as "you never
cancelled", which is wrong; the messages here tell the cases apart.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from coursekit import hints
from coursekit.i18n import N_
from coursekit.testing import Work


def _awaits(outer: Any, target: Any) -> bool:
    """Whether the coroutine ``outer`` is ``target`` or is suspended (maybe deep down) awaiting it."""
    seen = 0
    while outer is not None and seen < 100:
        if outer is target:
            return True
        outer = getattr(outer, "cr_await", None) or getattr(outer, "gi_yieldfrom", None) or getattr(outer, "ag_await", None)
        seen += 1
    return False


def task_running(coro: Any) -> asyncio.Task[Any] | None:
    """The unfinished task of the running loop that runs ``coro`` (directly or through awaits), if any."""
    for task in asyncio.all_tasks():
        if not task.done() and _awaits(task.get_coro(), coro):
            return task
    return None


def job_state(work: Work, index: int) -> str:
    """What job ``index`` of ``work`` went through, in words: "cancelled", or why it was not."""
    if index in work.cancelled:
        return "cancelled"
    if index not in work.started:
        return N_("never started")
    if index in work.finished:
        return N_("ran to its end instead of being cancelled")
    coro = work.coroutines[index] if index < len(work.coroutines) else None
    task = task_running(coro) if coro is not None else None
    if task is not None and task.cancelling():
        return N_("cancel() was called, but the task was not awaited: it had not ended yet")
    return N_("still running: it was never cancelled")


def assert_cancelled_and_awaited(work: Work, indexes: Iterable[int], *, what: str) -> None:
    """Fail unless every job in ``indexes`` was cancelled and had ended when ``what`` returned or raised.

    The message says, per job, what happened instead: never cancelled, ran to
    its end, or cancelled but not awaited (``task.cancel()`` alone only asks).
    """
    wrong = {index: job_state(work, index) for index in sorted(indexes)}
    wrong = {index: state for index, state in wrong.items() if state != "cancelled"}
    if not wrong:
        return
    details = "; ".join(N_("job {index}: {state}").format(index=index, state=state) for index, state in wrong.items())
    advice = hints.LEFT_RUNNING
    if any(state.startswith("cancel() was called") for state in wrong.values()):
        advice = N_(
            "task.cancel() only asks: the task ends at its next turn. Await the cancelled tasks "
            "(e.g. `await asyncio.gather(*tasks, return_exceptions=True)`) before returning or raising."
        )
    raise AssertionError(
        f"expected jobs {sorted(indexes)!r} to be cancelled and awaited before {what} returned or raised; "
        f"{details}. {advice}"
    )


class SlowCleanup:
    """Jobs that, once cancelled, need ``cleanup`` more loop seconds to end.

    ``ended`` lists the names of the jobs that finished that clean-up, so a
    test can tell "cancelled and awaited" (all there when the call returned)
    from "cancelled and left to end later" (missing).
    """

    def __init__(self) -> None:
        self.ended: list[str] = []

    def job(self, name: str, *, delay: float, cleanup: float = 1.0) -> Callable[[], Any]:
        """A coro_fn that returns ``name`` after ``delay`` s, or, when cancelled, cleans up for ``cleanup`` s."""

        async def run() -> str:
            try:
                await asyncio.sleep(delay)
                return name
            except asyncio.CancelledError:
                try:
                    await asyncio.sleep(cleanup)
                finally:
                    self.ended.append(name)
                raise

        return run
