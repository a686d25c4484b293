"""A pytest plugin (``-p bench.looptime_probe``) recording, per test, wall time and loop time.

For every test's call phase it writes one JSON line to the file named by the
environment variable ``BENCH_LOOPTIME_OUT`` (nothing is written without it)::

    {"nodeid": ..., "kind": "virtual" | "real" | "uncompacted" | "other", "wall": s, "loop": s}

Method: a ``pytest_pyfunc_call`` wrapper marked ``trylast``, so it runs *inside*
looptime's own wrapper, i.e. after looptime has switched the test's loop to
virtual time. It finds the test's loop the way looptime does (the
``event_loop_policy`` fixture's current loop), reads ``loop.time()`` before and
after the test function runs, and ``time.perf_counter()`` around the same span.

* ``virtual``: the loop is a looptime loop with time compaction on for this
  test; ``loop`` is how far its virtual clock advanced during the call.
* ``real``: the test is marked ``looptime(False)``: it needs real time;
  ``loop`` is its loop's (real) clock advance.
* ``uncompacted``: a loop exists but looptime did not compact it (not
  expected with ``--looptime``; reported so nothing is silently dropped).
* ``other``: no pytest-asyncio loop for the test (a plain sync test).

Fixture setup and teardown are not counted (only the call phase).
"""
from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest


def _loop_of(item: pytest.Function) -> Any:
    policy = item.funcargs.get("event_loop_policy")
    if policy is None:
        return None
    try:
        return policy.get_event_loop()  # type: ignore[attr-defined]
    except RuntimeError:
        return None


def _kind(item: pytest.Function, loop: Any) -> str:
    marked_off = any(m.args and not m.args[0] for m in item.iter_markers("looptime"))
    if marked_off:
        return "real"
    if loop is None:
        return "other"
    try:
        from looptime._internal.loops import LoopTimeEventLoop
    except ImportError:  # pragma: no cover - looptime moved its internals
        return "other"
    if isinstance(loop, LoopTimeEventLoop) and getattr(loop, "looptime_on", False):
        return "virtual"
    return "uncompacted"


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Any:
    out = os.environ.get("BENCH_LOOPTIME_OUT")
    if not out:
        return (yield)
    loop = _loop_of(pyfuncitem)
    kind = _kind(pyfuncitem, loop)
    loop_before = loop.time() if loop is not None else None
    wall_before = time.perf_counter()
    try:
        return (yield)
    finally:
        wall = time.perf_counter() - wall_before
        advance = (loop.time() - loop_before) if loop is not None and loop_before is not None else 0.0
        record = {"nodeid": pyfuncitem.nodeid, "kind": kind, "wall": wall, "loop": advance}
        with open(out, "a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")
