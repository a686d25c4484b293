"""The per-test machinery stays cheap, and cheap does not mean weaker (issue 14).

Each check is about what the machinery does, never how long it takes (the
bench measures that): a judged test sets nothing up that it does not use, a
failing test's garbage collection walks only what the tests made, a scenario's
virtual clock moves after a few idle iterations, aiohttp is imported only by
the tests that use HTTP, and a judged failure shows the test's line rather
than the kit's frames.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from coursekit import probes
from coursekit.clock import NOOP_CYCLES
from grader.pytest_options import NOT_FOR_JUDGED, PLUGINS, UNUSED_WHEN_JUDGED, command_args

ROOT = Path(__file__).resolve().parents[2]


def _pytest(cwd: Path, *args: str) -> str:
    """pytest in ``cwd`` (the course's kit importable, as it is from the course root); its output."""
    env = {**os.environ, "PYTHONPATH": str(cwd if (cwd / "coursekit").is_dir() else ROOT)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=300)
    return done.stdout + done.stderr


def test_a_scenario_loop_moves_its_clock_after_a_few_idle_iterations():
    """looptime's default waits 42 idle iterations before each move; a scenario's loop waits NOOP_CYCLES."""
    loop = probes._virtual_loop()
    iterations = 0
    run_once = loop._run_once  # type: ignore[attr-defined]

    def counted() -> None:
        nonlocal iterations
        iterations += 1
        run_once()

    loop._run_once = counted  # type: ignore[attr-defined]
    try:
        async def three_sleeps() -> float:
            for _ in range(3):
                await asyncio.sleep(1)
            return asyncio.get_running_loop().time()

        assert loop.run_until_complete(three_sleeps()) == 3.0
    finally:
        loop.close()
    assert iterations <= 3 * (NOOP_CYCLES + 6), iterations  # looptime's default: 3 * 45


def test_judged_runs_load_neither_looptime_nor_pytests_unused_plugins():
    """A judged assignment's graded run: no looptime plugin, no --looptime, pytest's unused plugins off."""
    judged = command_args(shuffle_seed=None, judged=True)
    plain = command_args(shuffle_seed=None)
    for plugin in NOT_FOR_JUDGED:
        assert plugin not in judged and plugin in plain
    assert "--looptime" not in judged and "--looptime" in plain
    for plugin in UNUSED_WHEN_JUDGED:
        assert f"no:{plugin}" in judged and f"no:{plugin}" not in plain
    assert {"asyncio", "timeout"} <= set(judged) and set(PLUGINS) <= set(plain)


def test_a_judged_test_sets_up_no_monkeypatch_and_a_plain_test_still_guards_sleep(tmp_path):
    """The blocking-sleep guard sets nothing up for a judged test (its scenarios guard sleep themselves)."""
    out = _pytest(ROOT, "--setup-plan", "-q", "assignments/01/test_why_async.py")
    assert "SETUP    F student" in out, out[-2000:]
    assert "monkeypatch" not in out, out[-2000:]
    (tmp_path / "test_plain.py").write_text(textwrap.dedent("""
        import time

        async def test_sleeps():
            time.sleep(0.01)
    """))
    out = _pytest(tmp_path, "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), "-q", "test_plain.py")
    assert "1 failed" in out and "BlockingCallError" in out, out[-2000:]


def test_what_exists_once_tests_are_collected_is_kept_out_of_garbage_collections(tmp_path):
    """After collection the plugin freezes what exists: a failing test's collection walks only its own garbage."""
    (tmp_path / "test_frozen.py").write_text("import gc\n\ndef test_frozen():\n    assert gc.get_freeze_count() > 0\n")
    out = _pytest(tmp_path, "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), "-q", "test_frozen.py")
    assert "1 passed" in out, out[-2000:]


def test_http_fixtures_import_aiohttp_only_when_a_test_asks_for_them(tmp_path):
    """The plugin's mock_http, traffic and session_spy work; a test that asks for none has no aiohttp loaded."""
    (tmp_path / "test_lazy.py").write_text(textwrap.dedent("""
        import sys

        def test_no_http():
            assert "aiohttp" not in sys.modules

        async def test_http(mock_http, traffic, session_spy):
            import aiohttp
            mock_http.get("http://example.com/x", body="hi")
            async with aiohttp.ClientSession() as session, session.get("http://example.com/x") as response:
                assert await response.text() == "hi"
            assert len(session_spy.sessions) == 1 and traffic.requests == []
    """))
    out = _pytest(tmp_path, "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), "-q", "test_lazy.py")
    assert "2 passed" in out, out[-2000:]


@pytest.mark.parametrize("full", [False, True], ids=["default", "full-trace"])
def test_a_judged_failure_shows_the_tests_line_not_the_kits_frames(student_copy, full):
    """A stub's failure reads: the test's line, the student's exception and the hint; --full-trace shows the kit."""
    out = _pytest(student_copy, "assignments/08/test_web_service.py::test_health_returns_status_ok",
                  *(["--full-trace"] if full else []))
    assert "create_app() raised NotImplementedError at web_service.py" in out, out[-3000:]
    assert "replace the stub's body" in out, out[-3000:]
    assert ("coursekit/probes/p08.py" in out) is full, out[-3000:]
    assert ("coursekit/judge.py" in out) is full, out[-3000:]


def test_a_graded_run_renders_no_failure_pytest_would_not_show(monkeypatch):
    """With --tb=no (graded runs) a failing test's report text is its exception's class, never a rendering."""
    from grader import guard

    monkeypatch.setitem(sys.modules, "grader_guard", guard)  # the child plugin's name for it in a runtime
    from grader import child_plugin

    class Config:
        def __init__(self, style: str) -> None:
            self.style = style

        def getoption(self, name: str, default: object = None) -> object:
            return self.style if name == "tbstyle" else default

    class Item:
        def repr_failure(self, excinfo: object) -> str:
            return "a full rendering"

    try:
        raise ValueError("boom")
    except ValueError:
        excinfo = pytest.ExceptionInfo.from_current()
    graded, local = [Item()], [Item()]
    child_plugin.pytest_collection_modifyitems(None, Config("no"), graded)
    child_plugin.pytest_collection_modifyitems(None, Config("auto"), local)
    assert graded[0].repr_failure(excinfo) == "ValueError"
    assert graded[0]._repr_failure_py(excinfo, style="short") == "ValueError"
    assert local[0].repr_failure(excinfo) == "a full rendering"
