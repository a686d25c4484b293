"""Probes for tests about the event loop itself: the thread's current loop and fresh processes.

Tests of code that creates, sets and closes loops (``asyncio.run``, ``Runner``,
the explicit ``new_event_loop`` / ``set_event_loop`` flow) must see which loop
is current without disturbing it, start from a known loop state, and sometimes
run the student's module in a fresh Python where a ``DeprecationWarning`` is
an error. Those helpers live here, shared by every assignment that needs them.

``sentinel_loop`` is a pytest fixture: a test module that wants it imports it
by name (``from coursekit.loops import sentinel_loop  # noqa: F401``).
"""
from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from coursekit import hints


def current_loop() -> asyncio.AbstractEventLoop | None:
    """The loop set as current in this thread (running or not), or None. Never creates one.

    On Python 3.12+ this asks the policy through its public ``get_event_loop()``
    with ``DeprecationWarning`` turned into an error: the policy warns *before*
    it would create a loop for a thread that never set one, so the warning
    stops it and the answer is None. Python 3.11's policy creates that loop
    silently instead, so there the policy's thread-local state is read directly.
    """
    policy = asyncio.get_event_loop_policy()
    if sys.version_info < (3, 12):
        return getattr(getattr(policy, "_local", None), "_loop", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            return policy.get_event_loop()
        except (RuntimeError, DeprecationWarning):
            return None


@pytest.fixture
def sentinel_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """Set a loop of the test's own as current, and clean up the thread's loop state afterwards."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


def fresh_program(script: str, name: str, file: str, *, prologue: str = "") -> str:
    """The program a fresh Python runs for :func:`run_fresh`: ``prologue``, the import of module ``name`` from
    ``file``, then ``script`` (dedented), each exception printed as a ``FAILED ...`` line and exit status 1."""
    if not name.isidentifier():
        raise ValueError(f"a fresh run needs a top-level module name, got {name!r}")
    program = textwrap.dedent(
        f"""
        import asyncio, importlib.util, sys
        def _describe(exc):  # coursekit.hints.describe, which this isolated process cannot import
            text = str(exc).strip()
            text = text[:-1] if text.endswith(".") and not text.endswith("..") else text
            return f"{{type(exc).__name__}}: {{text}}" if text else type(exc).__name__
        try:
            spec = importlib.util.spec_from_file_location({name!r}, {file!r})
            {name} = importlib.util.module_from_spec(spec)
            sys.modules[{name!r}] = {name}
            spec.loader.exec_module({name})
        except BaseException as exc:
            print(f"FAILED importing {Path(file).name}: {{_describe(exc)}}", flush=True)
            sys.exit(1)
        try:
            pass  # BODY
        except BaseException as exc:
            print(f"FAILED {{_describe(exc)}}", flush=True)
            sys.exit(1)
        """
    ).replace("    pass  # BODY", textwrap.indent(textwrap.dedent(script).strip(), "    "))
    return prologue + program


def run_fresh_file(script: str, name: str, file: str, *, timeout: float = 8,
                   prologue: str = "") -> subprocess.CompletedProcess[str]:
    """Run :func:`fresh_program` in ``python -I -W error::DeprecationWarning``; its completed process."""
    return subprocess.run(
        [sys.executable, "-I", "-W", "error::DeprecationWarning", "-c",
         fresh_program(script, name, file, prologue=prologue)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_fresh(script: str, module: ModuleType, *, timeout: float = 8) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh Python where DeprecationWarnings are errors and ``module`` is the student's module.

    The fresh process (``python -I -W error::DeprecationWarning``) imports
    ``module`` from its file under its own name, so ``script`` uses it as the
    tests do (``event_loop.run_legacy(...)``); ``asyncio`` is imported too. An
    exception, in the import or in ``script``, is printed as a ``FAILED ...``
    line and ends the process with status 1: read it with :func:`fresh_error`.
    ``script`` may be indented (it is dedented); ``print("OK")`` at its end is
    the usual way to say it got there.
    """
    if module.__file__ is None:
        raise ValueError(f"run_fresh needs a top-level module loaded from a file, got {module!r}")
    # In a graded run the grader's guard (see grader/guard.py) watches the fresh process too.
    guard = sys.modules.get("grader_guard")
    prologue = guard.fresh_process_prologue() if guard is not None else ""
    return run_fresh_file(script, module.__name__, module.__file__, timeout=timeout, prologue=prologue)


def fresh_error(proc: subprocess.CompletedProcess[str]) -> str:
    """What went wrong in a :func:`run_fresh` run: the exception it reported, else the end of its error output."""
    for line in proc.stdout.splitlines():
        if line.startswith("FAILED "):
            return line.removeprefix("FAILED ")
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit status {proc.returncode}, no error output"


def fresh_hint(error: str, otherwise: str) -> str:
    """The hint for a failed :func:`run_fresh` run, given what :func:`fresh_error` found.

    A stub's ``NotImplementedError`` gets ``hints.NOT_IMPLEMENTED``; a
    ``DeprecationWarning`` (an error in the fresh process) or a missing
    current loop gets ``hints.NO_CURRENT_LOOP``; anything else gets
    ``otherwise``, the test's own hint.
    """
    if error.startswith("NotImplementedError"):
        return hints.NOT_IMPLEMENTED
    if "DeprecationWarning" in error or "no current event loop" in error:
        return hints.NO_CURRENT_LOOP
    return otherwise
