"""``coursekit.cancellation``: "cancelled and awaited", told apart from "cancelled only" and "never cancelled"."""
from __future__ import annotations

import asyncio

import pytest

from coursekit.cancellation import SlowCleanup, assert_cancelled_and_awaited, job_state
from coursekit.testing import Work


async def test_cancelled_and_awaited_passes(looptime: object) -> None:
    work = Work()
    task = asyncio.create_task(work.job("x", delay=10)())
    await asyncio.sleep(1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert job_state(work, 0) == "cancelled"
    assert_cancelled_and_awaited(work, [0], what="f")


async def test_cancel_without_await_is_named_as_such(looptime: object) -> None:
    """The old message said "saw cancellation reach []" here, which reads as "never cancelled"."""
    work = Work()
    task = asyncio.create_task(work.job("x", delay=10)())
    await asyncio.sleep(1)
    task.cancel()  # asked, not awaited: the job has not seen it yet
    with pytest.raises(AssertionError, match=r"job 0: cancel\(\) was called, but the task was not awaited") as caught:
        assert_cancelled_and_awaited(work, [0], what="f")
    assert "task.cancel() only asks" in str(caught.value)
    await asyncio.gather(task, return_exceptions=True)


async def test_cancel_seen_through_a_wrapping_coroutine(looptime: object) -> None:
    """A task that runs the job inside a helper coroutine of its own is still found."""
    work = Work()
    job = work.job("x", delay=10)

    async def wrapper() -> object:
        return await job()

    task = asyncio.create_task(wrapper())
    await asyncio.sleep(1)
    task.cancel()
    assert job_state(work, 0).startswith("cancel() was called")
    await asyncio.gather(task, return_exceptions=True)


async def test_never_cancelled_ran_to_its_end_and_never_started(looptime: object) -> None:
    work = Work()
    running = asyncio.create_task(work.job("a", delay=10)())
    finished = asyncio.create_task(work.job("b", delay=1)())
    work.job("c")  # made, never called
    await asyncio.sleep(2)
    assert job_state(work, 0) == "still running: it was never cancelled"
    assert job_state(work, 1) == "ran to its end instead of being cancelled"
    assert job_state(work, 2) == "never started"
    with pytest.raises(AssertionError, match="job 0: still running.*job 1: ran to its end"):
        assert_cancelled_and_awaited(work, [0, 1], what="f")
    running.cancel()
    await asyncio.gather(running, finished, return_exceptions=True)


async def test_slow_cleanup_records_the_end_of_its_clean_up(looptime: object) -> None:
    jobs = SlowCleanup()
    task = asyncio.create_task(jobs.job("a", delay=10, cleanup=2)())
    await asyncio.sleep(1)
    task.cancel()
    await asyncio.sleep(1)
    assert jobs.ended == [], "the clean-up takes 2 s: not over after 1 s"
    await asyncio.gather(task, return_exceptions=True)
    assert jobs.ended == ["a"] and task.cancelled()
    assert jobs.job("b", delay=1) is not None and await jobs.job("b", delay=1)() == "b"
