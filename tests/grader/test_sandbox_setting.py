"""The sandbox as a grading setting: ``--sandbox {auto,required,off}``, course.toml's ``[grading] sandbox``, and
every output of an unsandboxed run saying so.

Unlike tests/grader/test_sandbox.py these need no bubblewrap, except the one
that grades inside it (skipped where it cannot run).
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest
from repo_support import ROOT

from grader import cli, sandbox
from grader.instructor import batch
from grader.instructor.roster import read_sources
from grader.errors import UsageError
from grader.manifest import load_manifest
from grader.model import AssignmentResult, GradeResult
from grader.pipeline import course_tests
from grader.records import Key
from grader.report import render

RESULT = (AssignmentResult("01", "Why asynchronous?", 100.0, 100.0, "graded", "5/5 tests passed"),)


def _args(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(list(argv))


@pytest.mark.parametrize("command", [["grade"], ["check"], ["batch", "class", "--out", "results"]])
def test_every_grading_command_takes_the_sandbox_setting(command: list[str]) -> None:
    """grade, check and batch take --sandbox auto|required|off, and --no-sandbox as the spelling of off."""
    for mode in sandbox.MODES:
        assert _args(*command, "--sandbox", mode).sandbox == mode
    assert _args(*command, "--no-sandbox").sandbox == "off"
    assert _args(*command).sandbox is None  # then the command's default decides (next test)
    with pytest.raises(UsageError, match="invalid choice: 'sometimes'"):
        _args(*command, "--sandbox", "sometimes")
    with pytest.raises(UsageError, match="not allowed with"):
        _args(*command, "--sandbox", "required", "--no-sandbox")


def test_batch_requires_the_sandbox_and_grade_follows_course_toml(tmp_path: Path) -> None:
    """Without the option, batch (the grade of record) requires the sandbox; grade and check take course.toml's
    [grading] sandbox, "auto" when it does not say; the option wins over both."""
    assert cli.sandbox_mode(_args("batch", "class", "--out", "results"), ROOT) == "required"
    assert cli.sandbox_mode(_args("batch", "class", "--out", "results", "--sandbox", "auto"), ROOT) == "auto"
    assert cli.sandbox_mode(_args("grade"), ROOT) == sandbox.course_mode(ROOT) == "auto"
    (tmp_path / "course.toml").write_text('[grading]\nsandbox = "required"\n')
    assert cli.sandbox_mode(_args("check"), tmp_path) == "required"
    assert cli.sandbox_mode(_args("check", "--no-sandbox"), tmp_path) == "off"
    (tmp_path / "course.toml").write_text("[course]\ntitle = 'no grading table'\n")
    assert sandbox.course_mode(tmp_path) == "auto"
    (tmp_path / "course.toml").write_text('[grading]\nsandbox = true\n')
    with pytest.raises(UsageError, match=r"\[grading\] sandbox must be one of auto, required, off, got True"):
        sandbox.course_mode(tmp_path)


def test_auto_grades_unsandboxed_where_no_sandbox_can_be_made(monkeypatch: pytest.MonkeyPatch) -> None:
    """auto: sandboxed where bubblewrap runs, else not, with the reason; required refuses; off never asks."""
    monkeypatch.setattr(sandbox, "unavailable", lambda: "bubblewrap (bwrap) is not installed")
    assert sandbox.decide("auto") == (False, "bubblewrap (bwrap) is not installed")
    assert sandbox.decide("off") == (False, None)
    with pytest.raises(sandbox.SandboxUnavailable, match="bubblewrap \\(bwrap\\) is not installed"):
        sandbox.decide("required")
    monkeypatch.setattr(sandbox, "unavailable", lambda: None)
    assert sandbox.decide("auto") == sandbox.decide("required") == (True, None)
    assert sandbox.decide("off") == (False, None)


def test_an_unsandboxed_result_says_so_in_json_text_and_markdown() -> None:
    """JSON has "sandboxed" at the top; text and markdown carry a "Not sandboxed" line only when it is false."""
    unsandboxed = GradeResult(RESULT, hidden_tests_included=True, sandboxed=False)
    sandboxed = GradeResult(RESULT, hidden_tests_included=True, sandboxed=True)
    assert json.loads(render(unsandboxed, "json", {}))["sandboxed"] is False
    assert json.loads(render(sandboxed, "json", {}))["sandboxed"] is True
    line = "the graded code ran without the operating-system sandbox (bubblewrap), so this result is no grade of record"
    assert f"\nNot sandboxed: {line}.\n" in render(unsandboxed, "text", {})
    assert f"\n> **Not sandboxed:** {line}.\n" in render(unsandboxed, "markdown", {})
    for fmt in ("text", "markdown"):
        assert "sandbox" not in render(sandboxed, fmt, {}).lower(), fmt


def test_json_results_keep_the_field_and_older_files_read_as_unsandboxed() -> None:
    """A saved result keeps "sandboxed" through `grader report`; a file from before the field read as not
    sandboxed (nothing was, then); a non-boolean value is no result."""
    data = GradeResult(RESULT, hidden_tests_included=True, sandboxed=True).to_dict()
    assert GradeResult.from_dict(data).sandboxed is True
    older = {key: value for key, value in data.items() if key != "sandboxed"}
    assert GradeResult.from_dict(older).sandboxed is False
    with pytest.raises(TypeError, match="sandboxed is str"):
        GradeResult.from_dict({**data, "sandboxed": "yes"})


def _one_student(tmp_path: Path) -> Path:
    folder = tmp_path / "class" / "alice" / "assignments" / "01"
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / "01" / "why_async.py", folder / "why_async.py")
    return tmp_path / "class"


@pytest.mark.skipif(sandbox.unavailable() is not None, reason=str(sandbox.unavailable()))
@pytest.mark.slow  # several seconds: dev.py check runs it
def test_a_sandboxed_batch_regrades_what_an_unsandboxed_one_recorded(tmp_path: Path) -> None:
    """The student record says whether it was sandboxed, and a sandboxed run does not keep an unchanged
    submission's unsandboxed result: it grades it again (and keeps its own the next time)."""
    manifest = load_manifest(ROOT).only(["01"])
    tests = course_tests(manifest, None)
    key = Key(b"k" * 32, tmp_path / "results.key")
    out = tmp_path / "out"
    sources = read_sources(_one_student(tmp_path), out)
    record = out / "students" / "alice.json"

    def run(sandboxed: bool) -> tuple[str, bool]:
        with (tmp_path / "log").open("a") as log:
            summary = batch.run_batch(manifest, sources, out, workers=1, tests=tests, key=key, sandboxed=sandboxed,
                                      stream=log)
        saved = json.loads(record.read_text())
        assert saved["result"]["sandboxed"] is saved["sandboxed"]
        assert summary.students[0].score == 100
        return summary.students[0].action, saved["sandboxed"]

    assert run(False) == ("graded", False)
    assert run(False) == ("skipped", False)
    assert run(True) == ("graded", True)  # the earlier result was not sandboxed
    assert run(True) == ("skipped", True)
    assert run(False) == ("skipped", True)  # a sandboxed result stands for an unsandboxed run too


def test_an_interpreter_or_stage_under_tmp_is_bound_on_top_of_the_tmpfs(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    """bwrap mounts in order: the /tmp tmpfs must come before the binds, or it hides a checkout under /tmp.

    A clone of the course in a temporary folder (as CI makes) has its .venv
    under /tmp; mounted after the interpreter's bind, the tmpfs hid it and every
    sandboxed run failed to start (all scores 0).
    """
    monkeypatch.setattr(sandbox, "bwrap", lambda: "/usr/bin/bwrap")
    monkeypatch.setattr(sandbox, "_python_dirs", lambda: ["/tmp/checkout/.venv", "/usr/lib/python3"])
    args = sandbox.command(runtime=tmp_path / "runtime", stage=tmp_path / "stage", env={})
    tmpfs = args.index("--tmpfs")
    binds = [i for i, arg in enumerate(args) if arg in ("--ro-bind", "--bind") and args[i + 1].startswith("/tmp")]
    assert binds and all(i > tmpfs for i in binds), args
