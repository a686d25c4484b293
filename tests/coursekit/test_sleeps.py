"""``coursekit.sleeps.record_sleeps``: blocking sleeps are recorded, whichever way the student's module imported them."""
from __future__ import annotations

import time
import types

import pytest

from coursekit.sleeps import record_sleeps


def student_module(source: str) -> types.ModuleType:
    """A module built from ``source``, the way a student's file would be imported."""
    module = types.ModuleType("student")
    exec(compile(source, "student.py", "exec"), module.__dict__)  # noqa: S102 - the test's own source
    return module


@pytest.mark.parametrize(
    "source",
    [
        "import time\ndef nap(s):\n    time.sleep(s)\n",
        "from time import sleep\ndef nap(s):\n    sleep(s)\n",
        "from time import sleep as pause\ndef nap(s):\n    pause(s)\n",
    ],
    ids=["import time", "from time import sleep", "from time import sleep as pause"],
)
def test_every_way_of_importing_sleep_is_recorded(monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    """The sleep is recorded and not taken, also through a name the module bound at import time."""
    module = student_module(source)
    naps = record_sleeps(monkeypatch, module)
    module.nap(30)  # unrecorded, this would really sleep, and the 5 s test timeout would fail the test
    assert naps == [30]


def test_the_module_is_restored_after_the_test() -> None:
    """monkeypatch undoes the recorder: the module's alias is the real time.sleep again."""
    real = time.sleep
    module = student_module("from time import sleep\n")
    with pytest.MonkeyPatch.context() as patch:
        naps = record_sleeps(patch, module)
        module.sleep(7)
        assert module.sleep is not real and naps == [7]
    assert module.sleep is real
