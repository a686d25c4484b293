"""A pytest plugin (``-p bench.looptime_probe``) recording, per scenario call, wall time and loop time.

The course's tests are judged: each reaches the student's code through
scenarios (``coursekit.probes``) that run on a fresh virtual-time loop of
their own, or synchronously (the few that need a loop of the scenario's own on
the real clock, or none). For every scenario call it writes one JSON line to
the file named by the environment variable ``BENCH_LOOPTIME_OUT`` (nothing is
written without it)::

    {"nodeid": ..., "kind": "virtual" | "real", "wall": s, "loop": s}

Method: the runtime's two entry points (``coursekit.probes._run_async`` and
``_run_sync``) are wrapped for the session. ``virtual``: a coroutine scenario
on looptime's loop; ``loop`` is how far its virtual clock got. ``real``: a
synchronous scenario (its own loops, if any, on the real clock); ``loop`` is 0.
``wall`` is ``time.perf_counter()`` around the call.
"""
from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

_current = {"nodeid": ""}


def _write(kind: str, wall: float, loop: float) -> None:
    out = os.environ.get("BENCH_LOOPTIME_OUT")
    if out:
        with open(out, "a", encoding="utf-8") as file:
            file.write(json.dumps({"nodeid": _current["nodeid"], "kind": kind, "wall": wall, "loop": loop}) + "\n")


def pytest_configure(config: pytest.Config) -> None:
    from coursekit import probes

    run_async, run_sync = probes._run_async, probes._run_sync

    def timed_async(loop: Any, coro: Any) -> Any:
        started = time.perf_counter()
        result = run_async(loop, coro)
        _write("virtual", time.perf_counter() - started, float(result[1]))
        return result

    def timed_sync(function: Any, probe: Any, arguments: Any) -> Any:
        started = time.perf_counter()
        try:
            return run_sync(function, probe, arguments)
        finally:
            _write("real", time.perf_counter() - started, 0.0)

    probes._run_async, probes._run_sync = timed_async, timed_sync  # type: ignore[assignment]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    _current["nodeid"] = item.nodeid
    return (yield)
