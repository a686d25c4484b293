"""The command line as a new student or instructor meets it (issue 17): help by audience, assignment names,
a misnamed module, one form of error line, ``report`` of a batch student file, and the text report on a
terminal (colour, NO_COLOR, wrapping) and off one."""
from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from repo_support import ROOT, run_grader

from grader import cli
from grader.manifest import load_manifest

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# An exception named with nothing after its colon: "NotImplementedError: ." or "...Error: ;" or at a line's end.
DANGLING = re.compile(r"\b\w+(?:Error|Exception|Warning|Exit|Interrupt)\b: ?(?:[.,;)]|$)", re.M)


def test_help_lists_the_students_commands_first_and_groups_the_rest() -> None:
    """`grader --help`: grade and report under "commands for students", every other command once, under the
    instructors' heading after them, and how to run the grader with the course's environment."""
    done = run_grader("--help")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    students, instructors = text.index("commands for students:"), text.index("commands for instructors")
    listed = re.findall(r"^  (\w[\w-]*) {2,}\S", text, re.M)
    parser_commands = set(cli.build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert sorted(listed) == sorted(parser_commands), listed  # each command exactly once
    assert listed[:2] == ["grade", "report"]
    assert students < text.index("  grade ") < text.index("  report ") < instructors < text.index("  batch ")
    assert ".venv/bin/python -m grader" in text
    assert "{stubs,grade" not in text  # argparse's own unsorted list is gone


@pytest.mark.parametrize("name", ["1", "01", "why-async", "Why-Async"])
def test_an_assignment_by_number_or_name(name: str) -> None:
    """--assignment takes the id, its number without the zero, or the slug, alike."""
    manifest = load_manifest(ROOT)
    assert cli.assignment_id(manifest, name) == "01"
    assert cli.assignment_id(manifest, "tasks") == cli.assignment_id(manifest, "4") == "04"


def test_a_wrong_assignment_lists_the_valid_ones_in_one_line(tmp_path: Path) -> None:
    """A name that is no assignment: exit 2 and one line with every id and name; --assignment 1 grades 01."""
    done = run_grader("grade", "--assignment", "asyncio")
    assert done.returncode == 2
    manifest = load_manifest(ROOT)
    known = ", ".join(f"{a.id} ({a.slug})" for a in manifest.assignments)
    assert done.stderr == f"error: unknown assignment 'asyncio': give a number or a name: {known}\n"
    done = run_grader("grade", "--submission", str(ROOT / "solutions"), "--assignment", "1", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert [a["id"] for a in json.loads(done.stdout)["assignments"]] == ["01"]


def test_a_misnamed_module_is_not_submitted_and_says_which_file_was_found(tmp_path: Path) -> None:
    """whyasync.py where why_async.py is expected: still "missing" (0 points), and the message names the file
    found and the name expected; the public test file beside it is not mistaken for an attempt."""
    folder = tmp_path / "student" / "assignments" / "01"
    folder.mkdir(parents=True)
    (folder / "whyasync.py").write_text((ROOT / "solutions" / "01" / "why_async.py").read_text(encoding="utf-8"))
    (folder / "test_why_async.py").write_text("")
    done = run_grader("grade", "--submission", str(tmp_path / "student"), "--assignment", "01", "--format", "json")
    assert done.returncode == 0, done.stderr
    [result] = json.loads(done.stdout)["assignments"]
    assert (result["status"], result["score"]) == ("missing", 0)
    assert result["message"] == ("not submitted: expected assignments/01/why_async.py; found whyasync.py in "
                                 "assignments/01/ instead: the file must be named why_async.py")
    (folder / "whyasync.py").unlink()
    done = run_grader("grade", "--submission", str(tmp_path / "student"), "--assignment", "01", "--format", "json")
    [result] = json.loads(done.stdout)["assignments"]
    assert result["message"] == "not submitted: expected assignments/01/why_async.py"


@pytest.mark.parametrize("args", [
    ["bogus"],
    ["grade", "--assignment", "42"],
    ["report", "/nonexistent/results.json"],
    ["dashboard", "/nonexistent/results", "--out", "/nonexistent/site"],
    ["batch", "/nonexistent/class", "--out", "/nonexistent/results", "--sandbox", "off"],
    ["publish"],
])
def test_every_error_line_has_one_form(args: list[str]) -> None:
    """Every refusal is one line starting "error: " (argparse's own form), never "Error:"."""
    done = run_grader(*args)
    assert done.returncode == 2, done.stderr
    assert re.fullmatch(r"error: [^\n]+\n", done.stderr), done.stderr


def test_report_renders_a_student_file_written_by_batch(tmp_path: Path) -> None:
    """`report students/<name>.json` (batch's sealed record) renders the result it holds, in any format."""
    result = json.loads(run_grader("grade", "--submission", str(ROOT / "solutions"), "--assignment", "01",
                                   "--format", "json").stdout)
    record = {"student": "alice", "source": "/class/alice", "key": "k", "graded_at": "2026-12-01T00:00:00+00:00",
              "status": "graded", "message": "", "not_graded": {}, "sandboxed": False, "result": result,
              "seal": "0" * 64}
    path = tmp_path / "students" / "alice.json"
    path.parent.mkdir()
    path.write_text(json.dumps(record), encoding="utf-8")
    done = run_grader("report", str(path), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == result
    done = run_grader("report", str(path))
    assert done.returncode == 0 and "01  Why asynchronous?  100/100" in done.stdout


def _on_a_terminal(*args: str, env: dict[str, str]) -> str:
    """``python -m grader ARGS`` with a pseudo-terminal as standard output; what it printed there."""
    leader, follower = pty.openpty()
    try:
        child = subprocess.Popen([sys.executable, "-m", "grader", *args], cwd=ROOT, stdout=follower,
                                 stderr=subprocess.PIPE, env={**os.environ, **env})
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert child.wait(timeout=600) == 0, child.stderr.read() if child.stderr else ""
    finally:
        os.close(leader)
    return b"".join(chunks).decode().replace("\r\n", "\n")


STUB_01 = ("grade", "--assignment", "01", "--no-sandbox")  # the committed stub of 01: failures with long feedback


@pytest.mark.slow  # several seconds: dev.py check runs it
def test_text_report_on_a_terminal_is_coloured_and_wrapped() -> None:
    """On a terminal: colour (the failure marks in red), every line within COLUMNS, and nothing lost to
    the wrapping; with NO_COLOR set the same text without any escape code."""
    width = 60
    shown = _on_a_terminal(*STUB_01, env={"COLUMNS": str(width), "TERM": "xterm", "NO_COLOR": ""})
    assert "[\x1b[31mFAIL\x1b[0m] test_fetch_sync_blocks_with_time_sleep" in shown
    plain = ANSI.sub("", shown)
    assert max(len(line) for line in plain.splitlines()) <= width
    piped = run_grader(*STUB_01).stdout
    assert " ".join(plain.split()) == " ".join(piped.split())  # the same words, only the line breaks differ
    no_colour = _on_a_terminal(*STUB_01, env={"COLUMNS": str(width), "TERM": "xterm", "NO_COLOR": "1"})
    assert "\x1b[" not in no_colour and no_colour == plain


def test_text_report_off_a_terminal_is_plain_and_unwrapped() -> None:
    """To a pipe or a file: no escape code, and each feedback line whole (a CI log wraps it itself)."""
    piped = run_grader(*STUB_01, env={"COLUMNS": "40", "TERM": "xterm"}).stdout
    assert "\x1b[" not in piped
    assert ("      Hint: This function still raises NotImplementedError: replace the stub's body with your "
            "implementation.\n") in piped


@pytest.mark.slow
def test_no_feedback_leaves_a_dangling_colon(stubs_result: dict[str, object]) -> None:
    """Every stub raises NotImplementedError() with no message: no feedback reads "NotImplementedError: ." or
    "...: ;" (each builder uses coursekit.hints.describe)."""
    dangling = [(a["id"], t["name"], m.group(0))
                for a in stubs_result["assignments"] for t in a["tests"]  # type: ignore[index, union-attr]
                if (m := DANGLING.search(t["feedback"]))]
    assert dangling == []
