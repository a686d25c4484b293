"""Record the blocking sleeps a student's module makes, instead of sleeping.

Tests of deliberately blocking code (``time.sleep``) must see which sleeps
were asked for without spending real time. Patching ``time.sleep`` alone
misses a module that did ``from time import sleep`` (its own name still
points at the real function), so the module's aliases are patched too.
"""
from __future__ import annotations

import time
from types import ModuleType

import pytest


def record_sleeps(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> list[float]:
    """Replace ``time.sleep``, and every name in ``module`` bound to it, by a recorder; return the record.

    Each call appends its argument to the returned list and returns at once.
    ``monkeypatch`` undoes the replacement when the test ends.
    """
    recorded: list[float] = []
    for name, value in list(vars(module).items()):
        if value is _REAL_SLEEP or value is time.sleep:
            monkeypatch.setattr(module, name, recorded.append)
    monkeypatch.setattr(time, "sleep", recorded.append)
    return recorded


# Bound when this module is first imported (when the tests are collected),
# before any test's fixtures wrap time.sleep: a student's `from time import
# sleep` at import time holds this very function.
_REAL_SLEEP = time.sleep
