"""The test kit's feedback: what a student reads when a test fails is exactly right, and nothing else looks like an error.

Most checks run a small test file through pytest with the course's own
configuration (the plugin, the virtual clock, the warning filters), in a
child process, and read what a student would see.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from coursekit import hints
from coursekit.hints import describe, describe_parts
from coursekit.iterators import async_iterator
from coursekit.loops import fresh_error, fresh_hint, run_fresh
from coursekit.testing import BlockingCallError, CourseSignal, raised_by
from repo_support import grade_json, make_submission, solution_source

ROOT = Path(__file__).resolve().parents[2]


def run_pytest(folder: Path, source: str, *args: str) -> str:
    """Run ``source`` as a test file under the course's pytest configuration; stdout and stderr together."""
    (folder / "test_case.py").write_text(textwrap.dedent(source))
    (folder / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "asyncio_default_test_loop_scope = function\nfilterwarnings =\n    error::DeprecationWarning\n"
        "    ignore:There is no current event loop:DeprecationWarning:looptime\n"
        "    ignore::DeprecationWarning:pytest_asyncio\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "coursekit.pytest_plugin", "--looptime", "-p", "no:cacheprovider",
         "-p", "no:randomly", "-q", *args, "test_case.py"],
        cwd=folder, capture_output=True, text=True, env=env, timeout=120,
    )
    return done.stdout + done.stderr


# --- the course's own signals are not Exceptions ---------------------------------


def test_blocking_call_error_is_not_an_exception():
    """BlockingCallError is a CourseSignal, a BaseException that `except Exception` does not catch."""
    assert issubclass(BlockingCallError, CourseSignal)
    assert issubclass(CourseSignal, BaseException)
    assert not issubclass(CourseSignal, Exception)


def test_blocking_call_error_passes_through_the_usual_asyncio_constructs():
    """Through `except Exception`, a Task, gather, TaskGroup, asyncio.timeout and wait_for it reaches the caller."""

    async def blocks() -> None:
        await asyncio.sleep(0)
        raise BlockingCallError("time.sleep(1) was called inside a coroutine")

    async def per_url() -> str:
        try:
            await blocks()
        except Exception:  # what 09's README recommends per URL
            return "swallowed"
        return "returned"

    async def main() -> list[str]:
        seen = []
        for make in (per_url, lambda: asyncio.create_task(blocks()), lambda: asyncio.gather(blocks(), asyncio.sleep(1)),
                     lambda: asyncio.wait_for(blocks(), 5)):
            try:
                await make()
            except BlockingCallError:
                seen.append("signal")
        try:
            async with asyncio.timeout(5):
                await blocks()
        except BlockingCallError:
            seen.append("signal")
        try:
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(blocks())
            except* Exception:
                seen.append("caught by except* Exception")
        except BaseExceptionGroup as group_error:
            seen.append("signal" if isinstance(group_error.exceptions[0], BlockingCallError) else "other")
        return seen

    assert asyncio.run(main()) == ["signal"] * 6


async def test_raised_by_lets_a_course_signal_through():
    """raised_by(..., expected=BaseException) still re-raises a CourseSignal rather than returning it."""

    async def blocks() -> None:
        raise BlockingCallError("time.sleep(1) was called inside a coroutine")

    with pytest.raises(BlockingCallError):
        await raised_by(blocks(), BaseException, what="blocks()")


def test_a_swallowed_blocking_call_reaches_the_student_with_its_hint(tmp_path):
    """`except Exception` per item no longer hides the blocking call: the test fails with it and the hint."""
    out = run_pytest(tmp_path, """
        import asyncio, time

        async def crawl(urls):
            pages = {}
            for url in urls:
                try:
                    time.sleep(0.01)
                    pages[url] = "ok"
                except Exception:
                    pass
            return pages

        async def test_crawl():
            assert await crawl(["a"]) == {"a": "ok"}, "expected pages"
    """)
    assert "BlockingCallError: time.sleep(0.01) was called inside a coroutine" in out, out
    assert hints.BLOCKING in out.replace("\n", " "), out
    assert "1 failed" in out, out


@pytest.mark.parametrize("hiding", [
    "except BaseException:\n                pass",
    "except BaseException:\n                return {}",
])
def test_a_blocking_call_caught_as_base_exception_still_fails_the_test(tmp_path, hiding):
    """Caught with `except BaseException`, the blocking call still fails the test, in its teardown, with the hint."""
    out = run_pytest(tmp_path, f"""
        import asyncio, time

        async def crawl():
            try:
                time.sleep(0.01)
            {hiding}
            return {{}}

        async def test_crawl():
            assert await crawl() == {{}}
    """)
    assert "1 passed, 1 error" in out, out
    assert "did not reach the test" in out and hints.BLOCKING in out.replace("\n", " "), out


def test_a_blocking_call_inside_a_task_group_gets_the_hint(tmp_path):
    """A TaskGroup wraps the signal in a BaseExceptionGroup: the hint comes from the exception inside it."""
    out = run_pytest(tmp_path, """
        import asyncio, time

        async def work():
            time.sleep(0.01)

        async def test_group():
            async with asyncio.TaskGroup() as group:
                group.create_task(work())
    """)
    assert "BaseExceptionGroup" in out and hints.BLOCKING in out.replace("\n", " "), out


def test_gather_with_return_exceptions_does_not_hide_a_blocking_call(tmp_path):
    """gather(return_exceptions=True) returns the signal as a result; the test still fails, saying why."""
    out = run_pytest(tmp_path, """
        import asyncio, time

        async def work():
            time.sleep(0.01)

        async def test_gather():
            results = await asyncio.gather(work(), return_exceptions=True)
            assert len(results) == 1
    """)
    assert "1 passed, 1 error" in out and "BlockingCallError" in out, out


def test_a_blocking_sleep_imported_by_name_is_caught_too(tmp_path):
    """`from time import sleep` in the module beside the tests does not get around the blocking-call guard."""
    (tmp_path / "student.py").write_text(
        "from time import sleep\nfrom time import sleep as pause\n\n"
        "async def nap():\n    sleep(0.01)\n\nasync def doze():\n    pause(0.01)\n"
    )
    out = run_pytest(tmp_path, """
        import pytest
        import student

        async def test_nap():
            await student.nap()

        async def test_doze():
            await student.doze()

        @pytest.mark.allow_blocking
        def test_names_restored():
            import time
            assert student.sleep is time.sleep and student.pause is time.sleep
    """)
    assert "2 failed, 1 passed" in out, out
    assert out.count("BlockingCallError: time.sleep(0.01) was called inside a coroutine") >= 2, out


def test_a_blocking_call_in_a_fixtures_clean_up_leaves_no_patch_behind(tmp_path):
    """Raised from a fixture's clean-up (code under test run there), the signal still lets pytest undo every patch."""
    out = run_pytest(tmp_path, """
        import time
        import pytest

        ORIGINAL = time.sleep

        @pytest.fixture
        async def service(monkeypatch):
            monkeypatch.setattr(time, "monotonic", lambda: 0.0)
            yield
            time.sleep(0.01)  # the student's clean-up, blocking

        async def test_uses_service(service):
            pass

        @pytest.mark.allow_blocking
        def test_later():
            assert time.sleep is ORIGINAL, "time.sleep is still patched"
            assert time.monotonic() > 0, "time.monotonic is still patched"
    """)
    assert "2 passed, 1 error" in out, out  # test_later passed: nothing was left patched
    assert "BlockingCallError" in out and hints.BLOCKING in out.replace("\n", " "), out


# --- no noise that looks like the student's error --------------------------------


def test_a_failing_async_test_shows_looptime_without_an_error_in_its_repr(tmp_path):
    """pytest prints the test's arguments under a failure: the looptime value prints cleanly."""
    out = run_pytest(tmp_path, """
        import asyncio

        async def test_fails(looptime):
            await asyncio.sleep(3)
            assert looptime == 3
            raise NotImplementedError()
    """)
    assert "1 failed" in out, out
    assert "looptime = <looptime: the loop's virtual clock>" in out, out
    assert "raised in repr()" not in out, out


def test_an_owned_coroutine_the_stub_never_awaited_leaves_no_warning(tmp_path):
    """A coroutine handed to a stub through `owned` is closed after the test: no "never awaited" at exit."""
    out = run_pytest(tmp_path, """
        import asyncio
        from coursekit.testing import owned

        async def timed(aw):
            raise NotImplementedError()

        async def test_timed():
            await timed(owned(asyncio.sleep(5)))
    """)
    assert "1 failed" in out, out
    assert "never awaited" not in out, out


def test_work_jobs_a_stub_never_ran_leave_no_warning(tmp_path):
    """Jobs made by Work and never run (a stub raised first) are closed after the test."""
    out = run_pytest(tmp_path, """
        import gc
        from coursekit.testing import Work

        async def run_all(jobs):
            coros = [job() for job in jobs]
            raise NotImplementedError()

        async def test_run_all():
            await run_all(Work().jobs([1, 2]))

        def test_later():
            gc.collect()
    """, "-W", "error::pytest.PytestUnraisableExceptionWarning")
    assert "1 failed, 1 passed" in out, out
    assert "never awaited" not in out, out


# --- empty messages -------------------------------------------------------------


@pytest.mark.parametrize(("exc", "text"), [
    (NotImplementedError(), "NotImplementedError"),
    (ValueError("bad port"), "ValueError: bad port"),
    (RuntimeError("There is no current event loop in thread 'MainThread'."),
     "RuntimeError: There is no current event loop in thread 'MainThread'"),
    (KeyError(""), "KeyError: ''"),
    (TimeoutError("  "), "TimeoutError"),
])
def test_describe(exc, text):
    """describe() never leaves "X: ." behind: no colon without a message, no period of its own at the end."""
    assert describe(exc) == text
    assert describe_parts(type(exc).__name__, str(exc)) == text


def test_a_fresh_process_reports_an_empty_message_without_a_dangling_colon(tmp_path):
    """run_fresh's report of a bare NotImplementedError reads "NotImplementedError", with the stub's hint."""
    module = tmp_path / "stubbed.py"
    module.write_text("def run():\n    raise NotImplementedError()\n")
    import importlib.util

    spec = importlib.util.spec_from_file_location("stubbed", module)
    assert spec is not None and spec.loader is not None
    stubbed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stubbed)
    proc = run_fresh("stubbed.run()", stubbed)
    assert fresh_error(proc) == "NotImplementedError"
    assert fresh_hint(fresh_error(proc), "the test's own hint") == hints.NOT_IMPLEMENTED


# --- async generators -----------------------------------------------------------


async def _stub_countdown(n: int):  # what nbgrader leaves of an async generator: no `yield`
    """Count down."""
    raise NotImplementedError()


async def _plain_countdown(n: int) -> list[int]:  # an async def without yield, written by a student
    await asyncio.sleep(0)
    return list(range(n, 0, -1))


def test_async_iterator_gives_an_untouched_stub_the_not_implemented_failure():
    """An async generator's untouched stub is reported as not implemented, not as "got coroutine"."""
    with pytest.raises(NotImplementedError, match="still the stub"):
        async_iterator(_stub_countdown(3), what="countdown(3)")


def test_async_iterator_says_an_async_def_without_yield_is_not_an_async_generator():
    """A plain coroutine function that does some work is told it needs `yield`."""
    with pytest.raises(AssertionError, match="should be an async generator"):
        async_iterator(_plain_countdown(3), what="countdown(3)")


@pytest.mark.filterwarnings("ignore:coroutine '_stub_countdown' was never awaited:RuntimeWarning")
def test_async_for_over_a_coroutine_gets_the_async_generator_hint():
    """The TypeError of `async for` over a coroutine (3.11 to 3.13 word it alike) gets its own hint."""

    async def loop_over() -> None:
        async for _ in _stub_countdown(3):  # type: ignore[attr-defined]
            pass

    with pytest.raises(TypeError) as caught:
        asyncio.run(loop_over())
    assert hints.hint_for("TypeError", str(caught.value)) == hints.NOT_AN_ASYNC_GENERATOR
    assert "NotImplementedError" in hints.NOT_AN_ASYNC_GENERATOR and "`yield`" in hints.NOT_AN_ASYNC_GENERATOR


# --- hints are true -------------------------------------------------------------


def test_the_missing_loop_hint_states_what_get_event_loop_does_here():
    """NO_CURRENT_LOOP's claims hold on this Python: a loop is created only in a fresh main thread, else RuntimeError."""
    assert "Since Python 3.10" not in hints.NO_CURRENT_LOOP
    program = textwrap.dedent("""
        import asyncio, sys, threading, warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loop = asyncio.get_event_loop()
        print("fresh main thread: created", [w.category.__name__ for w in caught])
        loop.close()
        asyncio.run(asyncio.sleep(0))
        try:
            asyncio.get_event_loop()
        except RuntimeError as exc:
            print("after asyncio.run: RuntimeError", exc)
        def other():
            try:
                asyncio.get_event_loop()
            except RuntimeError as exc:
                print("other thread: RuntimeError", exc)
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    """)
    done = subprocess.run([sys.executable, "-I", "-c", program], capture_output=True, text=True, timeout=60)
    lines = done.stdout.splitlines()
    warned = ["DeprecationWarning"] if sys.version_info >= (3, 12) else []
    assert lines[0] == f"fresh main thread: created {warned!r}", done
    assert lines[1].startswith("after asyncio.run: RuntimeError There is no current event loop"), done
    assert lines[2].startswith("other thread: RuntimeError There is no current event loop"), done
    assert "on Python 3.12 and 3.13 with a DeprecationWarning" in hints.NO_CURRENT_LOOP
    assert hints.hint_for("RuntimeError", lines[1].partition("RuntimeError ")[2]) == hints.NO_CURRENT_LOOP


def test_no_running_loop_gets_its_own_hint():
    """get_running_loop() outside a loop is not a "no current loop" case: it gets the running-loop hint."""
    with pytest.raises(RuntimeError) as caught:
        asyncio.get_running_loop()
    assert hints.hint_for("RuntimeError", str(caught.value)) == hints.NO_RUNNING_LOOP


def test_awaiting_a_coroutine_twice_gets_its_hint():
    """Re-awaiting a finished coroutine gets the "a coroutine runs once" hint."""

    async def twice() -> None:
        coro = asyncio.sleep(0)
        await coro
        await coro

    with pytest.raises(RuntimeError) as caught:
        asyncio.run(twice())
    assert hints.hint_for("RuntimeError", str(caught.value)) == hints.AWAITED_TWICE


def test_the_left_running_hint_speaks_of_tasks_only():
    """LEFT_RUNNING is about tasks (04 and 05 have no sessions); sessions have their own hint, used by session_spy."""
    assert "aiohttp" not in hints.LEFT_RUNNING and "session" not in hints.LEFT_RUNNING.lower()
    assert "aiohttp.ClientSession" in hints.SESSION_LEFT_OPEN
    from coursekit.http import SessionSpy

    spy = SessionSpy()

    class Open:
        closed = False

    spy.sessions.append(Open())  # type: ignore[arg-type]
    with pytest.raises(AssertionError) as caught:
        spy.assert_all_closed(what="fetch")
    assert hints.SESSION_LEFT_OPEN in str(caught.value)


def test_the_blocking_guard_leaves_worker_threads_alone():
    """time.sleep in a thread (asyncio.to_thread) is allowed while the loop runs: only the loop's thread is guarded."""

    async def main() -> None:
        await asyncio.to_thread(time.sleep, 0)  # the guarded time.sleep: the plugin patched it for this test

    asyncio.run(main())


# --- the grader's feedback ------------------------------------------------------


BLOCKING_VARIANTS = {
    "except Exception": "    try:\n        time.sleep(0)\n    except Exception:\n        pass\n",
    "except BaseException": "    try:\n        time.sleep(0)\n    except BaseException:\n        pass\n",
    "TaskGroup": (
        "    async def nap():\n        time.sleep(0)\n\n"
        "    async with asyncio.TaskGroup() as group:\n        group.create_task(nap())\n"
    ),
}


@pytest.mark.parametrize("variant", sorted(BLOCKING_VARIANTS))
def test_graded_feedback_names_a_hidden_blocking_call(tmp_path, variant):
    """A blocking call behind `except Exception`, `except BaseException` or a TaskGroup costs the test, with the hint."""
    blocking = BLOCKING_VARIANTS[variant] + "    await asyncio.sleep(delay)\n"
    source = solution_source("01").replace("    await asyncio.sleep(delay)\n", blocking, 1)
    assert "import time\n" in source and blocking in source
    result = grade_json(make_submission(tmp_path, {"01": source}), "01")
    [assignment] = result["assignments"]
    failed = [t for t in assignment["tests"] if t["outcome"] != "passed"]
    assert failed, "a blocking call in fetch_async should cost at least one test"
    assert all(hints.BLOCKING in t["feedback"] for t in failed), [t["feedback"] for t in failed]
