"""The pytest configuration of graded runs: one place, written into every stage.

pyproject.toml carries the same settings for students' local runs; a course
test checks that the two agree on everything a test's outcome depends on.
"""
from __future__ import annotations

from grader.manifest import Limits

# Plugins loaded by entry-point name; nothing else is auto-loaded in a graded run.
PLUGINS = ("asyncio", "looptime_plugin", "looptime_timeproxies", "looptime_chronometers", "timeout")
# looptime's: a judged assignment's tests are synchronous (its scenarios make their own loops on a virtual
# clock in the student process, coursekit.probes), and its pytest plugin costs a scan of pytest-asyncio's
# fixtures at every fixture set-up, a third of a millisecond each (measured). The course's own tests check
# that no judged test is a coroutine (tests/course/test_course_integrity.py).
NOT_FOR_JUDGED = ("looptime_plugin", "looptime_timeproxies", "looptime_chronometers")
# pytest's own plugins that no judged test uses (no doctests, unittest classes, tmpdir, subtests or
# command-line modes of theirs): each registered plugin costs its registration and a call in every hook of
# every test. The logging, warnings and capture plugins stay: the judge's own logs and warnings go where
# pytest puts them.
UNUSED_WHEN_JUDGED = ("unittest", "legacypath", "tmpdir", "pastebin", "junitxml", "doctest", "setuponly",
                      "setupplan", "stepwise", "subtests")

INI_OPTIONS: dict[str, str] = {
    "asyncio_mode": "auto",
    "asyncio_default_fixture_loop_scope": "function",
    "asyncio_default_test_loop_scope": "function",
    "timeout_method": "signal",
}

FILTERWARNINGS = (
    "error::DeprecationWarning",
    "ignore:There is no current event loop:DeprecationWarning:looptime",
    "ignore::DeprecationWarning:pytest_asyncio",
)


def ini_text(limits: Limits) -> str:
    """The pytest.ini of a stage."""
    lines = ["[pytest]"]
    lines += [f"{key} = {value}" for key, value in INI_OPTIONS.items()]
    lines.append(f"timeout = {limits.test_timeout:g}")
    lines.append("filterwarnings =")
    lines += [f"    {entry}" for entry in FILTERWARNINGS]
    return "\n".join(lines) + "\n"


def require_shuffle_support() -> None:
    """Shuffled runs load pytest-randomly in the child; say so clearly when it is not installed."""
    import importlib.util

    from grader.errors import UsageError

    if importlib.util.find_spec("pytest_randomly") is None:
        raise UsageError("random test order needs pytest-randomly: pip install -e '.[dev]'")


def command_args(*, shuffle_seed: int | None, judged: bool = False) -> list[str]:
    """pytest arguments shared by the catalog and the graded runs (``judged``: of a judged assignment)."""
    args = ["-p", "coursekit.pytest_plugin", "-p", "grader_child"]
    if not judged:
        args.append("--looptime")
    else:
        for plugin in UNUSED_WHEN_JUDGED:
            args += ["-p", f"no:{plugin}"]
    for plugin in PLUGINS:
        if not (judged and plugin in NOT_FOR_JUDGED):
            args += ["-p", plugin]
    # Plain asserts: feedback is the test's own message, never its expression. No tracebacks: output is
    # discarded anyway, and formatting them costs seconds when student code recurses without end.
    args += ["--assert=plain", "-p", "no:cacheprovider", "-q", "--no-header", "-rN", "--tb=no"]
    if shuffle_seed is not None:
        args += ["-p", "randomly", f"--randomly-seed={shuffle_seed}"]
    return args
