"""Wall and CPU seconds of a command, its whole process tree included.

CPU seconds are ``getrusage(RUSAGE_CHILDREN)`` (user + system) after the
command less before it: the kernel adds a process's CPU, and that of every
descendant it waited for, to its parent's when the parent reaps it. A process
that outlives its parent is reparented and reaped elsewhere, and its CPU is
lost to that count. bubblewrap does this: its outer process exits as soon as
the sandboxed command has, without reaping the namespace's init, so a
sandboxed grader's test processes would not be counted at all (measured: 0.35
CPU seconds for a full submission instead of about 6). Hence, on Linux, the
measuring process makes itself a child subreaper
(``prctl(PR_SET_CHILD_SUBREAPER)``): orphans of everything it starts are
reparented to it, it reaps them, and their CPU counts. Elsewhere the count is
only what the command's own process waited for.
"""
from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
STRAGGLERS_TIMEOUT = 10.0  # seconds to wait for orphans still running after the command ended


def become_subreaper() -> bool:
    """Make this process the reaper of its descendants' orphans (Linux); whether it is."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def children_cpu() -> float:
    """User + system CPU seconds of every reaped descendant so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_cpu() -> float:
    """User + system CPU seconds of this process (all its threads) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def reap(timeout: float = 0.0) -> int:
    """Reap every child that has ended (reparented orphans included), waiting up to ``timeout`` seconds for
    those still running; how many were reaped. Only for a process with no child it means to wait for itself."""
    deadline = time.monotonic() + timeout
    reaped = 0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid:
            reaped += 1
        elif time.monotonic() >= deadline:
            return reaped
        else:
            time.sleep(0.005)


@dataclass
class Timing:
    """One command's (or several commands', added up) wall and CPU seconds and exit status."""

    wall: float
    cpu: float
    status: int
    orphans: int = 0  # processes it left behind, reaped here
    output: str = ""
    statuses: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.statuses:
            self.statuses = [self.status]

    def __add__(self, other: Timing) -> Timing:
        statuses = self.statuses + other.statuses
        return Timing(self.wall + other.wall, self.cpu + other.cpu, next((s for s in statuses if s), 0),
                      self.orphans + other.orphans, self.output + other.output, statuses)


def run(cmd: list[str], *, cwd: Path, env: dict[str, str], capture: bool = False) -> Timing:
    """Run ``cmd`` (standard error discarded; standard output kept with ``capture``): wall seconds until it
    exits, CPU seconds of it and every process it started, and its exit status. Single-threaded callers only:
    every child of this process is reaped here."""
    reap()  # what earlier commands left is not this one's
    with tempfile.TemporaryFile() as out:
        before = children_cpu()
        started = time.perf_counter()
        child = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                 stdout=out if capture else subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        orphans = 0
        while True:
            pid, status = os.waitpid(-1, 0)
            if pid == child.pid:
                break
            orphans += 1
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        orphans += reap(STRAGGLERS_TIMEOUT)
        cpu = children_cpu() - before
        text = ""
        if capture:
            out.seek(0)
            text = out.read().decode("utf-8", "replace")
    return Timing(wall, cpu, child.returncode, orphans, text)
