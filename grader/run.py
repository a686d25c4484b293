"""Run: one isolated Python process per assignment, under the manifest's limits.

``python -I`` ignores PYTHON* variables and user site-packages; the child
gets a minimal environment (no GITHUB_* files it could write forged results
to), its own session (so the outer kill takes its children too), and
resource limits on memory, file size and core dumps.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.manifest import Limits
from grader.stage import Stage

MAX_RECORDS = 20_000


@dataclass(frozen=True)
class RunOutput:
    """What a child process left behind: its records, how it ended, how long it took."""

    records: list[dict[str, Any]]
    returncode: int | None
    killed: bool
    duration: float
    stderr_tail: str = field(default="", repr=False)  # for maintainers' diagnosis, never shown to students


def child_env(stage: Stage) -> dict[str, str]:
    """The whole environment of a child: nothing inherited but PATH."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(stage.root),
        "TMPDIR": str(stage.root),
        "LANG": "C.UTF-8",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        # Each glibc malloc arena reserves 64 MB of address space; without a cap,
        # a thread pool alone would run into the memory limit.
        "MALLOC_ARENA_MAX": "2",
    }


def _limit_resources(limits: Limits) -> None:
    memory = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    output = max(limits.output_kb * 1024, 64 * 1024)
    resource.setrlimit(resource.RLIMIT_FSIZE, (output, output))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def read_records(path: Path) -> list[dict[str, Any]]:
    """The child's JSON lines; malformed lines (a crash mid-write, forgery) are dropped."""
    records: list[dict[str, Any]] = []
    try:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if len(records) >= MAX_RECORDS:
                    break
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    records.append(record)
    except OSError:
        pass
    return records


def run_pytest(stage: Stage, args: list[str], *, cwd: Path, limits: Limits, report: Path) -> RunOutput:
    """Run pytest in a child process under ``limits``; kill it after the assignment timeout."""
    command = [sys.executable, "-I", "-B", str(stage.boot), str(stage.runtime), "-c", str(stage.ini),
               "--rootdir", str(stage.root), "--grader-report", str(report), *args]
    stderr_path = report.with_suffix(".stderr")
    started = time.monotonic()
    killed = False
    with open(os.devnull, "wb") as devnull, stderr_path.open("wb") as stderr:
        child = subprocess.Popen(
            command,
            cwd=cwd,
            env=child_env(stage),
            stdin=subprocess.DEVNULL,
            stdout=devnull,
            stderr=stderr,
            start_new_session=True,
            preexec_fn=lambda: _limit_resources(limits),
        )
        try:
            child.wait(timeout=limits.assignment_timeout)
        except subprocess.TimeoutExpired:
            killed = True
            _kill_group(child)
    duration = time.monotonic() - started
    _kill_group(child)  # whatever it left behind in its session goes too
    tail = stderr_path.read_bytes()[-4000:].decode("utf-8", "replace") if stderr_path.exists() else ""
    return RunOutput(read_records(report), child.returncode, killed, duration, tail)


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    child.wait()
