"""Run: one isolated process per assignment, under the manifest's limits.

Every graded run is a process of its own, in its own session (so the outer
kill takes whatever it started too), with a minimal environment (no
GITHUB_* files it could write forged results to), resource limits on memory,
file size and core dumps, and a scratch folder as its HOME and TMPDIR.

Two ways to start that process, with the same result: forking it from the
fork server (``grader/zygote.py``), which has pytest and aiohttp imported
already, or spawning ``python -I`` afresh. The fork server is the default;
where it cannot start, or dies, runs fall back to spawning.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from grader.manifest import Limits
from grader.pytest_options import PLUGINS
from grader.stage import Runtime, Stage
from grader.zygote import limit_resources

MAX_RECORDS = 20_000
START_TIMEOUT = 60.0  # seconds the fork server may take to import everything
REAP_TIMEOUT = 30.0  # seconds to wait for a killed child to be reaped


@dataclass(frozen=True)
class RunOutput:
    """What a child process left behind: its records, how it ended, how long it took."""

    records: list[dict[str, Any]]
    returncode: int | None
    killed: bool
    duration: float
    stderr_tail: str = field(default="", repr=False)  # for maintainers' diagnosis, never shown to students
    watchdog_fired: bool = False  # the child's watchdog ended it: a test ran far past its timeout


@dataclass(frozen=True)
class Job:
    """One pytest run in a stage: its arguments, where it runs, what it may write, where it reports."""

    stage: Stage
    args: list[str]
    cwd: Path
    scratch: Path
    report: Path
    limits: Limits

    @property
    def argv(self) -> list[str]:
        """pytest's whole command line: the grader's configuration, then the run's own arguments."""
        return ["-c", str(self.stage.runtime.ini), "--rootdir", str(self.stage.root),
                "--grader-report", str(self.report), "--grader-watchdog", str(self.watchdog), *self.args]

    @property
    def stderr(self) -> Path:
        """Where the child's standard error goes (for maintainers only)."""
        return self.report.with_suffix(".stderr")

    @property
    def watchdog(self) -> Path:
        """Where the child's watchdog writes when it ends the process (empty while it has not)."""
        return self.report.with_suffix(".watchdog")

    def env(self) -> dict[str, str]:
        """The whole environment of the child: nothing inherited but PATH."""
        return child_env(self.scratch)


class Runner(Protocol):
    """Something that runs a job to its end (or kills it at its time limit)."""

    def run(self, job: Job) -> RunOutput:
        """Run ``job`` and collect what it reported."""
        ...


def child_env(home: Path) -> dict[str, str]:
    """The environment of a child process whose HOME and TMPDIR are ``home``."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        # Each glibc malloc arena reserves 64 MB of address space; without a cap,
        # a thread pool alone would run into the memory limit.
        "MALLOC_ARENA_MAX": "2",
    }


def _memory_bytes(limits: Limits) -> int:
    return limits.memory_mb * 1024 * 1024


def _output_bytes(limits: Limits) -> int:
    return max(limits.output_kb * 1024, 64 * 1024)


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


def _output(job: Job, returncode: int | None, killed: bool, started: float) -> RunOutput:
    duration = time.monotonic() - started
    tail = job.stderr.read_bytes()[-4000:].decode("utf-8", "replace") if job.stderr.exists() else ""
    fired = job.watchdog.is_file() and job.watchdog.stat().st_size > 0
    return RunOutput(read_records(job.report), returncode, killed, duration, tail, fired)


def kill_group(pid: int) -> None:
    """Kill the session a child leads, with everything it started."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class SpawnRunner:
    """Starts every run as a fresh ``python -I -B`` process."""

    def run(self, job: Job) -> RunOutput:
        """Spawn the child, wait for it up to the assignment timeout, then kill its session."""
        runtime = job.stage.runtime
        command = [sys.executable, "-I", "-B", str(runtime.boot), str(runtime.root), *job.argv]
        started = time.monotonic()
        killed = False
        with open(os.devnull, "wb") as devnull, job.stderr.open("wb") as stderr:
            child = subprocess.Popen(
                command, cwd=job.cwd, env=job.env(), stdin=subprocess.DEVNULL, stdout=devnull, stderr=stderr,
                start_new_session=True,
                preexec_fn=lambda: limit_resources(_memory_bytes(job.limits), _output_bytes(job.limits)),
            )
            try:
                child.wait(timeout=job.limits.assignment_timeout)
            except subprocess.TimeoutExpired:
                killed = True
                kill_group(child.pid)
            kill_group(child.pid)  # whatever it left behind in its session goes too
            child.wait()
        return _output(job, child.returncode, killed, started)


class ForkServerGone(Exception):
    """The fork server did not start, or stopped answering."""


@dataclass
class _Request:
    started: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    pid: int | None = None
    status: int | None = None


class ForkServer:
    """Forks every run from one process that has imported pytest, aiohttp and the test kit already."""

    def __init__(self, runtime: Runtime, log: Path) -> None:
        self._requests: dict[int, _Request] = {}
        self._lock = threading.Lock()
        self._next_id = 0
        self._ready = threading.Event()
        self._gone = False
        with log.open("wb") as stderr:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-B", str(runtime.zygote), *PLUGINS, "randomly"],
                cwd=runtime.root, env=child_env(runtime.root), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=stderr, start_new_session=True,
            )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._control: IO[bytes] = self._process.stdin
        self._reader = threading.Thread(target=self._read, args=(self._process.stdout,), daemon=True)
        self._reader.start()
        # Not waiting for it to be ready here: it imports while the grader stages the submission.

    def _read(self, answers: IO[bytes]) -> None:
        for line in answers:
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            if answer.get("ready"):
                self._ready.set()
                continue
            with self._lock:
                request = self._requests.get(answer.get("id"))
            if request is None:
                continue
            if "pid" in answer:
                request.pid = int(answer["pid"])
                request.started.set()
            elif "status" in answer:
                request.status = int(answer["status"])
                request.ended.set()
        with self._lock:
            self._gone = True
            waiting = list(self._requests.values())
        self._ready.set()
        for request in waiting:
            request.started.set()
            request.ended.set()

    def run(self, job: Job) -> RunOutput:
        """Have the server fork the child, wait for it up to the assignment timeout, then kill its session."""
        if not self._ready.wait(START_TIMEOUT):
            raise ForkServerGone("the fork server did not start in time")
        request = _Request()
        with self._lock:
            if self._gone:
                raise ForkServerGone("the fork server has stopped")
            self._next_id += 1
            request_id = self._next_id
            self._requests[request_id] = request
            message = {"id": request_id, "argv": job.argv, "cwd": str(job.cwd), "env": job.env(),
                       "stderr": str(job.stderr), "memory": _memory_bytes(job.limits),
                       "fsize": _output_bytes(job.limits)}
            started = time.monotonic()
            try:
                self._control.write((json.dumps(message) + "\n").encode())
                self._control.flush()
            except OSError as error:
                raise ForkServerGone(f"the fork server has stopped: {error}") from error
        try:
            request.started.wait(START_TIMEOUT)
            if request.pid is None:
                raise ForkServerGone("the fork server stopped before the run started")
            killed = not request.ended.wait(job.limits.assignment_timeout)
            if killed:
                kill_group(request.pid)
                request.ended.wait(REAP_TIMEOUT)
            kill_group(request.pid)  # whatever it left behind in its session goes too
            if request.status is None and not killed:
                raise ForkServerGone("the fork server stopped during a run")
            return _output(job, request.status, killed, started)
        finally:
            with self._lock:
                self._requests.pop(request_id, None)

    def close(self) -> None:
        """End the server: closing its stdin ends it, and every child it still runs."""
        with contextlib.suppress(OSError):
            self._control.close()
        try:
            self._process.wait(timeout=REAP_TIMEOUT)
        except subprocess.TimeoutExpired:
            kill_group(self._process.pid)
            self._process.wait()


class PreferForks:
    """Runs jobs on the fork server while it works; spawns them once it cannot."""

    def __init__(self, server: ForkServer | None) -> None:
        self._server = server
        self._spawn = SpawnRunner()

    @property
    def mode(self) -> str:
        """How the next run starts: "fork" or "spawn"."""
        return "fork" if self._server is not None else "spawn"

    def run(self, job: Job) -> RunOutput:
        """Run ``job`` forked, or spawned when the fork server is gone (a run it lost is run again)."""
        server = self._server
        if server is not None:
            try:
                return server.run(job)
            except ForkServerGone:
                self._server = None
                for leftover in (job.report, job.stderr, job.watchdog):
                    leftover.unlink(missing_ok=True)
        return self._spawn.run(job)


@contextlib.contextmanager
def open_runner(runtime: Runtime, *, fork: bool = True) -> Iterator[Runner]:
    """A runner for the session of ``runtime``: the fork server if ``fork`` and it starts, else spawning."""
    server = None
    if fork:
        try:
            server = ForkServer(runtime, runtime.root / "zygote.log")
        except OSError:
            server = None
    try:
        yield PreferForks(server)
    finally:
        if server is not None:
            server.close()
