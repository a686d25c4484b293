"""Run: one isolated process per assignment, under the manifest's limits.

Every graded run is a process of its own, in its own session (so the outer
kill takes whatever it started too), with a minimal environment (no
GITHUB_* files it could write forged results to), resource limits on memory,
file size (``disk_mb``) and core dumps, and a scratch folder as its HOME and
TMPDIR (in a sandbox, a tmpfs of ``disk_mb`` mounted over that folder, so
nothing it writes reaches the disk). What it tells the grader goes into named
pipes the grader reads (``OutputTap``), never into files: its standard output
and error (past ``output_kb`` the run is ended, so a flood of prints costs
neither disk nor memory), its report (past MAX_REPORT_BYTES likewise) and its
watchdog's last words.

Two ways to start that process, with the same result: forking it from the
fork server (``grader/zygote.py``), which has pytest and aiohttp imported
already, or spawning ``python -I`` afresh. The fork server is the default;
where it cannot start, or dies, runs fall back to spawning.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from grader import sandbox
from grader.errors import EnvironmentFault
from grader.manifest import Limits
from grader.pytest_options import PLUGINS
from grader.stage import Runtime, Stage
from grader.zygote import limit_resources

MAX_RECORDS = 20_000
MAX_RECORD_BYTES = 64 * 1024  # one report line; the child clips its messages far below this
# A run's own records take a few KB (a record per test phase, messages clipped to 1500 characters):
# a report past this was padded by the code under test, and ends the run.
MAX_REPORT_BYTES = 16 * 1024 * 1024
WATCHDOG_BYTES = 64 * 1024  # of the watchdog's stack dump, kept; that it wrote at all is what counts
TAIL_BYTES = 4000  # of the child's output, kept for maintainers
ISOLATED = {"kind": "isolated"}  # a sandboxed run's first record: written before any graded code runs
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
    output_exceeded: bool = False  # it wrote more than output_kb to stdout and stderr, so it was ended
    report_exceeded: bool = False  # its report grew past MAX_REPORT_BYTES, so it was ended


class RunNotIsolated(EnvironmentFault):
    """A sandboxed run did not confirm its namespaces: the grader's failure, never the student's score."""


@dataclass(frozen=True)
class Job:
    """One pytest run in a stage: its arguments, where it runs, what it may write, where it reports.

    ``network`` is the assignment's course.toml setting: in a sandbox, "none"
    leaves the run no interface up at all, "loopback" brings up ``lo``.
    """

    stage: Stage
    args: list[str]
    cwd: Path
    scratch: Path
    report: Path
    limits: Limits
    network: str = "none"
    # A judged assignment's student process (``grader/zygote.py``'s ``start_student``), or None.
    student: dict[str, Any] | None = None
    # The scenarios' inputs are drawn from it (coursekit.judge): new for every run, so answers recorded in
    # one run are worthless in the next.
    seed: int = field(default_factory=lambda: secrets.randbits(63))

    @property
    def argv(self) -> list[str]:
        """pytest's whole command line: the grader's configuration, then the run's own arguments.

        ``--capture=no``: what the code prints goes straight into the output
        pipe, where output_kb is counted, not into pytest's capture files on
        disk (the ``capsys`` and ``caplog`` fixtures capture as usual).
        """
        return ["-c", str(self.stage.runtime.ini), "--rootdir", str(self.stage.root), "--capture=no",
                "--grader-report", str(self.report), "--grader-watchdog", str(self.watchdog), *self.args]

    @property
    def output(self) -> Path:
        """The named pipe the child's standard output and error go into (read by an ``OutputTap``)."""
        return self.report.with_suffix(".output")

    @property
    def watchdog(self) -> Path:
        """The named pipe the child's watchdog writes into when it ends the process."""
        return self.report.with_suffix(".watchdog")

    def isolation(self) -> dict[str, Any]:
        """What a sandboxed run's own namespaces are made of (``grader/zygote.py``'s ``isolate``)."""
        return {"scratch": str(self.scratch), "disk": _disk_bytes(self.limits), "network": self.network,
                "report": str(self.report)}

    def discard_outputs(self) -> None:
        """Remove what a lost run wrote (report, output, watchdog), before the job runs again."""
        for leftover in (self.report, self.output, self.watchdog):
            leftover.unlink(missing_ok=True)

    def env(self) -> dict[str, str]:
        """The whole environment of the child: nothing inherited but PATH; the run's seed."""
        return {**child_env(self.scratch), "COURSE_SEED": str(self.seed)}


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
        "COURSE_LANG": "en",  # records stay English: the grader words what it shows in the student's language
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        # Each glibc malloc arena reserves 64 MB of address space; without a cap,
        # a thread pool alone would run into the memory limit.
        "MALLOC_ARENA_MAX": "2",
    }


def _memory_bytes(limits: Limits) -> int:
    return limits.memory_mb * 1024 * 1024


def _output_bytes(limits: Limits) -> int:
    # pytest's own lines (progress, the collected test ids) need a few KB of it.
    return max(limits.output_kb * 1024, 64 * 1024)


def _disk_bytes(limits: Limits) -> int:
    return limits.disk_mb * 1024 * 1024


def parse_records(lines: IO[bytes]) -> list[dict[str, Any]]:
    """The child's JSON lines; malformed or overlong lines (a crash mid-write, forgery) are dropped.

    Read a line at a time with a bound, so a report the code padded costs
    the grader no more memory than one legitimate line.
    """
    records: list[dict[str, Any]] = []
    while len(records) < MAX_RECORDS:
        line = lines.readline(MAX_RECORD_BYTES)
        if not line:
            break
        if not line.endswith(b"\n") and len(line) == MAX_RECORD_BYTES:
            while line and not line.endswith(b"\n"):  # the rest of an overlong line
                line = lines.readline(MAX_RECORD_BYTES)
            continue
        try:
            record = json.loads(line.decode("utf-8", "replace"))
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


class OutputTap:
    """The read end of a named pipe a child writes into: its standard output and error, its report, its watchdog.

    A thread reads it as the child writes, counts the bytes and keeps the
    last ``keep`` of them. Past ``limit`` (None: no limit) it kills the
    child's session (once the run has started): nothing reaches the disk,
    and a flood ends the run instead of filling anything. A named pipe can
    be opened for writing on a read-only mount, so the sandbox binds the
    stage that holds it read-only. The pipe is removed when the tap closes.
    """

    def __init__(self, path: Path, limit: int | None, *, keep: int = TAIL_BYTES) -> None:
        self.path = path
        self.limit = limit
        self.keep = keep
        self.total = 0
        self.exceeded = False
        self._tail = bytearray()
        self._lock = threading.Lock()
        self._kill: Callable[[], None] | None = None
        self._tail_text: str | None = None
        os.mkfifo(path, 0o600)
        self._read_end = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        # Held until the run ended, so the reader sees no end of file before the child opened its end.
        self._held = os.open(path, os.O_WRONLY)
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def writer(self) -> int:
        """A new write end for a spawned child (the caller closes it once the child has it)."""
        return os.open(self.path, os.O_WRONLY)

    def started(self, kill: Callable[[], None]) -> None:
        """How to end the run's session, now that it exists: called at once if the output already ran past the limit."""
        with self._lock:
            self._kill = kill
            over = self.exceeded
        if over:
            kill()

    def _take(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self._tail += chunk
        del self._tail[:-self.keep]
        if self.limit is not None and self.total > self.limit:
            with self._lock:
                first = not self.exceeded
                self.exceeded = True
                kill = self._kill
            if first and kill is not None:
                kill()

    def _pump(self) -> None:
        # A selector, not select(): a batch's descriptors can number past select()'s 1024.
        with selectors.DefaultSelector() as selector:
            selector.register(self._read_end, selectors.EVENT_READ)
            selector.register(self._wake_read, selectors.EVENT_READ)
            stopping = False
            while True:
                if not stopping:
                    stopping = any(key.fd == self._wake_read for key, _ in selector.select())
                try:
                    chunk = os.read(self._read_end, 1 << 16)
                except BlockingIOError:
                    if stopping:
                        return  # drained; a writer the kill missed keeps only its own pipe open
                    continue
                if not chunk:
                    return
                self._take(chunk)

    def close(self) -> str:
        """Stop reading (after the child ended) and return the tail of what it wrote; later calls return it again."""
        if self._tail_text is None:
            os.close(self._held)
            os.write(self._wake_write, b"x")
            self._thread.join()
            for fd in (self._read_end, self._wake_read, self._wake_write):
                os.close(fd)
            self._tail_text = bytes(self._tail).decode("utf-8", "replace")
            self.path.unlink(missing_ok=True)
        return self._tail_text

    def kept(self) -> bytes:
        """The last ``keep`` bytes read (all of them, for a tap whose ``keep`` is its limit); after close()."""
        return bytes(self._tail)


class _Taps:
    """The three pipes of one run, opened before it starts and closed once it ended."""

    def __init__(self, job: Job) -> None:
        self.output = OutputTap(job.output, _output_bytes(job.limits))
        try:
            self.report = OutputTap(job.report, MAX_REPORT_BYTES, keep=MAX_REPORT_BYTES)
            try:
                self.watchdog = OutputTap(job.watchdog, None, keep=WATCHDOG_BYTES)
            except BaseException:
                self.report.close()
                raise
        except BaseException:
            self.output.close()
            raise

    def started(self, kill: Callable[[], None]) -> None:
        """How to end the run, for a tap whose limit is passed."""
        for tap in (self.output, self.report, self.watchdog):
            tap.started(kill)

    def close(self) -> None:
        """Stop reading (idempotent)."""
        for tap in (self.output, self.report, self.watchdog):
            tap.close()


def _output(taps: _Taps, returncode: int | None, killed: bool, started: float, *, isolated: bool) -> RunOutput:
    """What the run left in its pipes; for a sandboxed run (``isolated``), RunNotIsolated if it did not confirm."""
    duration = time.monotonic() - started
    tail = taps.output.close()
    taps.close()
    records = parse_records(io.BytesIO(taps.report.kept()))
    if isolated:
        if not records or records[0] != ISOLATED:
            raise RunNotIsolated(f"a sandboxed run could not get namespaces of its own: {tail.strip()[-300:]}")
        records = records[1:]
    return RunOutput(records, returncode, killed, duration, tail, taps.watchdog.total > 0, taps.output.exceeded,
                     taps.report.exceeded)


def kill_group(pid: int) -> None:
    """Kill the session a child leads, with everything it started."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class SpawnRunner:
    """Starts every run as a fresh ``python -I -B`` process (inside bubblewrap when ``sandboxed``)."""

    def __init__(self, *, sandboxed: bool = False) -> None:
        self.sandboxed = sandboxed

    def run(self, job: Job) -> RunOutput:
        """Spawn the child, wait for it up to the assignment timeout, then kill its session."""
        runtime = job.stage.runtime
        isolation = job.isolation() if self.sandboxed else None
        setup = {"isolate": isolation, "student": job.student}
        command = [sys.executable, "-I", "-B", str(runtime.boot), str(runtime.root), json.dumps(setup), *job.argv]
        if self.sandboxed:
            command = [*sandbox.command(runtime=runtime.root, stage=job.stage.root, env=job.env(), cwd=job.cwd),
                       *command]
        started = time.monotonic()
        killed = False
        taps = _Taps(job)
        try:
            writer = taps.output.writer()
            try:
                child = subprocess.Popen(
                    command, cwd=job.cwd, env=job.env(), stdin=subprocess.DEVNULL, stdout=writer, stderr=writer,
                    start_new_session=True,
                    preexec_fn=lambda: limit_resources(_memory_bytes(job.limits), _disk_bytes(job.limits)),
                )
            finally:
                os.close(writer)
            taps.started(lambda: kill_group(child.pid))
            try:
                child.wait(timeout=job.limits.assignment_timeout)
            except subprocess.TimeoutExpired:
                killed = True
                kill_group(child.pid)
            kill_group(child.pid)  # whatever it left behind in its session goes too
            child.wait()
            code = child.returncode
            if self.sandboxed and code is not None and code > 128:
                code = 128 - code  # bwrap exits 128 + N for a child that signal N ended
            return _output(taps, code, killed, started, isolated=self.sandboxed)
        finally:
            taps.close()


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

    def __init__(self, runtime: Runtime, log: Path, *, stage: Path | None = None) -> None:
        """Start the server; with ``stage``, inside a sandbox of its own that sees that folder only.

        ``stage`` is one stage, or the folder of every stage of a session: then each run hides every stage
        but its own (``grader/zygote.py``'s ``isolate``).
        """
        self._sandboxed = stage is not None
        self._bound = stage
        self._requests: dict[int, _Request] = {}
        self._lock = threading.Lock()
        self._next_id = 0
        self._ready = threading.Event()
        self._gone = False
        command = [sys.executable, "-I", "-B", str(runtime.zygote), *PLUGINS, "randomly"]
        env = child_env(runtime.root)
        if stage is not None:
            command = [*sandbox.command(runtime=runtime.root, stage=stage, env=env), *command]
        with log.open("wb") as stderr:
            self._process = subprocess.Popen(
                command, cwd=runtime.root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
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
                       "output": str(job.output), "memory": _memory_bytes(job.limits),
                       "disk": _disk_bytes(job.limits), "isolate": self._isolation(job), "student": job.student}
            started = time.monotonic()
            taps = _Taps(job)
            try:
                self._control.write((json.dumps(message) + "\n").encode())
                self._control.flush()
            except OSError as error:
                taps.close()
                raise ForkServerGone(f"the fork server has stopped: {error}") from error
        try:
            request.started.wait(START_TIMEOUT)
            if request.pid is None:
                raise ForkServerGone("the fork server stopped before the run started")
            pid = request.pid
            taps.started(lambda: self._kill(pid))
            killed = not request.ended.wait(job.limits.assignment_timeout)
            if killed:
                self._kill(pid)
                request.ended.wait(REAP_TIMEOUT)
            # Whatever it left behind in its session goes too (the server kills it as well, before reaping).
            self._kill(pid)
            if request.status is None and not killed:
                raise ForkServerGone("the fork server stopped during a run")
            return _output(taps, request.status, killed, started, isolated=self._sandboxed)
        finally:
            taps.close()
            with self._lock:
                self._requests.pop(request_id, None)

    def _isolation(self, job: Job) -> dict[str, Any] | None:
        if not self._sandboxed:
            return None
        spec = job.isolation()
        if job.stage.root != self._bound:
            spec |= {"stages": str(self._bound), "stage": str(job.stage.root)}
        return spec

    def _kill(self, pid: int) -> None:
        """Kill the session of the child ``pid``: directly, or through the server when its pids are a sandbox's."""
        if not self._sandboxed:
            kill_group(pid)
            return
        with self._lock, contextlib.suppress(OSError, ValueError):
            self._control.write((json.dumps({"kill": pid}) + "\n").encode())
            self._control.flush()

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
        self.sandboxed = False

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
                job.discard_outputs()
        return self._spawn.run(job)


class SandboxedRunner:
    """Runs every job inside bubblewrap: one sandboxed fork server for the session's stages, or one per stage.

    With ``stages`` (the folder a session makes its stages in), one server
    sees that folder read-only and each run it forks hides every stage but
    its own; a stage elsewhere (the catalog's) gets a server of its own that
    sees that stage only. Each run gets user, PID, IPC, network and mount
    namespaces of its own (``grader/zygote.py``), so runs share no process,
    file, scratch or loopback, whether they are one student's or two. A
    server whose folder is gone is closed when the next one starts, and
    every server at the end of the session. Where a server cannot start or
    dies, that folder's runs are spawned, each in a sandbox of its own.
    """

    sandboxed = True

    def __init__(self, runtime: Runtime, *, fork: bool = True, stages: Path | None = None) -> None:
        self._runtime = runtime
        self._fork = fork
        self._stages = stages
        self._servers: dict[Path, ForkServer | None] = {}
        self._lock = threading.Lock()
        self._spawn = SpawnRunner(sandboxed=True)
        self._started = 0
        if fork and stages is not None:
            # Started now, by the thread that opens the session and outlives it: --die-with-parent ends the
            # sandbox with the thread that started it, and a submission's worker threads end with the submission.
            # It imports while the grader loads the catalog and stages the first submission, too.
            self._servers[stages] = self._start(stages)

    def _start(self, folder: Path) -> ForkServer | None:
        self._started += 1
        try:
            return ForkServer(self._runtime, self._runtime.root / f"zygote-{self._started}.log", stage=folder)
        except OSError:
            return None

    @property
    def mode(self) -> str:
        """How runs start: "fork" (a sandboxed fork server) or "spawn"."""
        return "fork" if self._fork else "spawn"

    def _folder(self, job: Job) -> Path:
        """What the server for ``job`` binds: the session's stages, or the job's stage alone."""
        return self._stages if self._stages is not None and job.stage.root.parent == self._stages else job.stage.root

    def _server_for(self, job: Job) -> ForkServer | None:
        if not self._fork:
            return None
        folder = self._folder(job)
        with self._lock:
            if folder in self._servers:
                return self._servers[folder]
            gone = [root for root in self._servers if not root.exists()]
            closing = [self._servers.pop(root) for root in gone]
            server = self._servers[folder] = self._start(folder)
        for old in closing:
            if old is not None:
                old.close()
        return server

    def run(self, job: Job) -> RunOutput:
        """Run ``job`` on its stage's sandboxed fork server, or spawned in a sandbox when there is none."""
        server = self._server_for(job)
        if server is not None:
            try:
                return server.run(job)
            except ForkServerGone:
                with self._lock:
                    self._servers[self._folder(job)] = None
                server.close()
                job.discard_outputs()
        return self._spawn.run(job)

    def close(self) -> None:
        """Close every server still running."""
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            if server is not None:
                server.close()


@contextlib.contextmanager
def open_runner(runtime: Runtime, *, fork: bool = True, sandboxed: bool = False,
                stages: Path | None = None) -> Iterator[Runner]:
    """A runner for the session of ``runtime``: the fork server if ``fork`` and it starts, else spawning.

    ``sandboxed`` runs everything inside bubblewrap (the caller decides, with
    ``sandbox.decide``); ``sandbox.SandboxUnavailable`` says why it cannot, before anything runs.
    ``stages`` is the folder the session makes its stages in (nothing else): sandboxed, one fork server
    serves them all.
    """
    if sandboxed:
        problem = sandbox.unavailable()
        if problem is not None:
            raise sandbox.SandboxUnavailable(f"cannot sandbox the graded runs: {problem}")
        runner = SandboxedRunner(runtime, fork=fork, stages=stages)
        try:
            yield runner
        finally:
            runner.close()
        return
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
