"""The output and disk limits: each bounds its own thing, and feedback names the one that was hit.

``output_kb`` bounds what a test process prints (it goes into a pipe the
grader reads, never to disk); ``disk_mb`` bounds the size of any file it
writes. A correct download that writes 8 MiB to a ".part" file and renames
it into place is well inside both.
"""
from __future__ import annotations

import errno
import io
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from repo_support import ROOT, solution_source

from grader.manifest import Manifest, load_manifest
from grader.model import AssignmentResult
from grader.pipeline import Session, course_tests
from grader.run import MAX_RECORD_BYTES, OutputTap, kill_group, parse_records

SOLUTION = solution_source("01")
SLEEP_BODY = "    await asyncio.sleep(delay)\n    return label\n"
MANIFEST = load_manifest(ROOT).only(["01"])


def _body(code: str) -> str:
    """01's reference solution with ``code`` run first in fetch_async (most of 01's tests call it)."""
    assert SLEEP_BODY in SOLUTION
    return SOLUTION.replace(SLEEP_BODY, "".join(f"    {line}\n" for line in code.splitlines()) + SLEEP_BODY, 1)


def _grade(tmp_path: Path, source: str, *, fork: bool = True, manifest: Manifest = MANIFEST) -> AssignmentResult:
    module = tmp_path / "submission" / "assignments" / "01" / "why_async.py"
    module.parent.mkdir(parents=True)
    module.write_text(source, encoding="utf-8")
    with Session(manifest, course_tests(manifest, None), fork=fork) as session:
        [result] = session.grade(tmp_path / "submission").assignments
    return result


def _failed_feedback(result: AssignmentResult) -> str:
    return "\n".join(t.feedback for t in result.tests if t.outcome != "passed")


def test_the_course_declares_both_limits() -> None:
    """course.toml sets output_kb and disk_mb, and disk_mb leaves room for 06's 8 MiB download twice over."""
    limits = load_manifest(ROOT).limits
    assert limits.output_kb == 1024
    assert limits.disk_mb >= 64


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "spawned"])
def test_an_output_flood_ends_the_run_and_names_output_kb(tmp_path: Path, fork: bool) -> None:
    """Printing 2 MB in one test: that test fails naming output_kb; the tests that print nothing keep their points."""
    result = _grade(tmp_path, _body("for _ in range(20):\n    print('x' * 100_000)"), fork=fork)
    assert 0 < result.score < 100 and result.status == "graded", result.message
    feedback = _failed_feedback(result)
    assert "output_kb = 1024 in course.toml" in feedback, feedback[:2000]
    assert "disk_mb" not in feedback


def test_an_output_flood_is_bounded_by_output_kb_not_by_disk_mb(tmp_path: Path) -> None:
    """With a disk limit far below the flood, what ends the run is still the output limit: output is not a file."""
    small = replace(MANIFEST, limits=replace(MANIFEST.limits, output_kb=256, disk_mb=1))
    result = _grade(tmp_path, _body("for _ in range(40):\n    print('x' * 100_000, flush=True)"), manifest=small)
    feedback = _failed_feedback(result)
    assert "output_kb = 256 in course.toml" in feedback, feedback[:2000]
    assert "disk_mb" not in feedback and "File too large" not in feedback


def test_a_file_past_disk_mb_fails_naming_disk_mb(tmp_path: Path) -> None:
    """A write that would make a file larger than disk_mb fails with "File too large", and the feedback names disk_mb."""
    # Seeking past the limit costs no disk: the kernel refuses the write by its end offset alone.
    code = ("import os, tempfile\nwith tempfile.TemporaryFile() as f:\n"
            "    f.seek(65 * 1024 * 1024)\n    f.write(b'x')\n    f.flush()")
    result = _grade(tmp_path, _body(code))
    assert 0 < result.score < 100 and result.status == "graded", result.message
    feedback = _failed_feedback(result)
    assert "a file larger than 64 MB" in feedback and "disk_mb = 64 in course.toml" in feedback, feedback[:2000]
    assert "output_kb" not in feedback


def test_an_atomic_8_mib_download_style_write_passes_under_the_default_limits(tmp_path: Path) -> None:
    """Streaming 8 MiB into "dest.part" in chunks, then os.replace onto dest: full marks, no message."""
    code = ("import os, tempfile\n"
            "_dest = os.path.join(tempfile.gettempdir(), 'download.bin')\n"
            "with open(_dest + '.part', 'wb') as _part:\n"
            "    for _ in range(8 * 16):\n"
            "        _part.write(b'x' * 65536)\n"
            "os.replace(_dest + '.part', _dest)\n"
            "assert os.path.getsize(_dest) == 8 * 1024 * 1024\n")
    result = _grade(tmp_path, SOLUTION + "\n" + code)
    tests = len(result.tests)
    assert (result.score, result.status, result.message) == (100, "graded", f"{tests}/{tests} tests passed")


def _fifo_tap(tmp_path: Path, limit: int) -> tuple[OutputTap, int]:
    tap = OutputTap(tmp_path / "run.output", limit)
    return tap, tap.writer()


def test_the_tap_counts_keeps_the_tail_and_stays_under_the_limit(tmp_path: Path) -> None:
    """What a child writes is counted and its tail kept; under the limit nothing is flagged."""
    tap, writer = _fifo_tap(tmp_path, 1000)
    os.write(writer, b"a" * 500 + b"\nlast words")
    os.close(writer)
    tail = tap.close()
    assert tail.endswith("\nlast words") and tap.total == 511 and not tap.exceeded
    assert tap.close() == tail  # closing twice is harmless


def test_the_tap_kills_the_session_that_writes_past_the_limit(tmp_path: Path) -> None:
    """A process that writes without end is killed with its session as soon as it passes the limit."""
    import subprocess

    tap, writer = _fifo_tap(tmp_path, 64 * 1024)
    child = subprocess.Popen([sys.executable, "-c", "import sys\nwhile True:\n    sys.stdout.write('x' * 4096)"],
                             stdout=writer, start_new_session=True)
    os.close(writer)
    tap.started(lambda: kill_group(child.pid))
    assert child.wait(timeout=60) == -9
    tap.close()
    assert tap.exceeded and tap.total > 64 * 1024


def test_output_past_the_limit_before_the_run_starts_kills_it_when_it_starts(tmp_path: Path) -> None:
    """Output past the limit before the run has started: its session is killed as soon as it starts."""
    import subprocess

    tap, writer = _fifo_tap(tmp_path, 10)
    os.write(writer, b"y" * 100)
    deadline = time.monotonic() + 30
    while not tap.exceeded and time.monotonic() < deadline:
        time.sleep(0.01)  # the tap's thread reads on its own; waiting for a fact, not asserting a time
    child = subprocess.Popen([sys.executable, "-c", "import time\ntime.sleep(60)"], start_new_session=True)
    tap.started(lambda: kill_group(child.pid))
    assert child.wait(timeout=60) == -9
    os.close(writer)
    tap.close()


def test_a_writer_left_behind_does_not_keep_the_tap_open(tmp_path: Path) -> None:
    """A process that escaped the kill and still holds the pipe open cannot stall the grader's close."""
    tap, writer = _fifo_tap(tmp_path, 1000)
    os.write(writer, b"before the end")
    tail = tap.close()  # the writer is still open
    os.close(writer)
    assert tail == "before the end"


def test_overlong_and_malformed_report_lines_are_dropped() -> None:
    """The report is read a bounded line at a time: a padded line is skipped, the records around it kept."""
    good: dict[str, Any] = {"kind": "start", "nodeid": "t"}
    padded = json.dumps({"kind": "phase", "message": "z" * (3 * MAX_RECORD_BYTES)})
    report = ("\n".join([json.dumps(good), padded, "{not json", json.dumps(good)]) + "\n").encode()
    assert parse_records(io.BytesIO(report)) == [good, good]


def test_efbig_is_what_python_sees_past_rlimit_fsize(tmp_path: Path) -> None:
    """The premise of disk_mb's message: Python ignores SIGXFSZ, so a write past RLIMIT_FSIZE raises EFBIG."""
    import subprocess

    code = ("import resource, errno\nresource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))\n"
            "f = open('big', 'wb', buffering=0)\nf.seek(2048)\ntry:\n    f.write(b'x')\nexcept OSError as e:\n"
            "    print(e.errno, e.strerror)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == f"{errno.EFBIG} File too large", done.stdout + done.stderr
