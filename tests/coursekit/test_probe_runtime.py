"""The probe runtime (coursekit.probes.execute): what a scenario sees of the student's code, in either mode."""
from __future__ import annotations

import sys
import types

import pytest

from coursekit import probes, protocol
from coursekit.probes import kit


@pytest.fixture
def module(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A stand-in for a student's module, importable by name."""
    made = types.ModuleType("stand_in_for_a_students_module")
    monkeypatch.setitem(sys.modules, made.__name__, made)
    return made


def _outcome(module: types.ModuleType, function: str) -> object:
    reply = probes.execute(probes.reference(kit.call_sync), protocol.encode({"function": function}),
                           module.__name__, guard=True)
    return protocol.decode(reply["result"])["outcome"]


def test_a_log_record_that_does_not_format_fails_where_it_was_logged(module: types.ModuleType,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """As pytest's own log capture does locally: `log.exception("", item)` raises its formatting error in the
    student's code in the student process too (a mutant of 08's error middleware passed unnoticed before)."""
    import logging

    # As in the student process: no handler of pytest's on the root logger, only the runtime's own.
    monkeypatch.setattr(logging.getLogger(), "handlers", [])

    def logs_badly() -> str:
        logging.getLogger("stand_in").error("", "an argument with nowhere to go")
        return "logged"

    def logs_well() -> str:
        logging.getLogger("stand_in").error("item %s", 3)
        return "logged"

    module.logs_badly, module.logs_well = logs_badly, logs_well
    bad = _outcome(module, "logs_badly")
    assert isinstance(bad, dict) and "raised" in bad and bad["raised"].is_a("TypeError"), bad
    assert _outcome(module, "logs_well") == {"value": "logged"}


def test_a_blocking_sleep_in_the_loop_is_the_courses_signal_in_both_modes(module: types.ModuleType) -> None:
    """The runtime guards time.sleep itself (the plugin's fixture leaves judged tests to it)."""
    import asyncio
    import time

    async def naps() -> None:
        time.sleep(0.01)

    module.naps = naps
    reply = probes.execute(probes.reference(kit.call_async), protocol.encode({"function": "naps", "within": 5}),
                           module.__name__, guard=True)
    assert reply["signal"] is not None and "time.sleep(0.01)" in reply["signal"]["message"]
    assert asyncio.iscoroutinefunction(naps)
