"""The student process, copied into each runtime as ``grader_student.py``.

A graded run of a judged assignment is two processes. The judge runs pytest
with the course's tests and never imports the student's module; this process
holds the student's module and the probe runtime (``coursekit.probes``), and
answers the judge's requests over a socket pair, and starts the fresh
interpreters the judge asks for. It is forked from the fork
server before any test is imported, so its memory holds no test, and in a
sandbox it sees no test file either (``hide_all_but``).

The requests run in a fork of this process (the *worker*, see
:class:`Worker`): it arms the guard, imports the student's module and runs
one scenario per request, answering through a pipe. This process never runs
student code itself: it relays at most one size-limited reply per request, ends a
worker that runs past the request's time limit, dies or breaks the protocol
(the next request gets a fresh worker), and says so. What the worker sends
is untrusted; the judge decodes it strictly.

Protocol (``coursekit.protocol`` framing): request ``{"id", "scenario",
"params", "module", "limit"}``, or ``{"id", "fresh", "module", "limit"}``
for a script of the judge run in a fresh interpreter (:func:`fresh`); reply ``{"id", "status", "body",
"refused", "detail"}`` with status ``ok``, ``timeout``, ``exited`` (the
worker ended without a reply) or ``malformed``.

Standard library, pytest (through coursekit) and the guard only.
"""
from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sys
import time
from typing import Any

from coursekit import protocol

SECRET_ENV = ("COURSE_JUDGE_FD",)
# Characters of a fresh interpreter's output relayed (its end: where a report and an error are).
FRESH_OUTPUT = 64 * 1024


def _read_exact(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def _request(sock: socket.socket) -> dict[str, Any] | None:
    header = _read_exact(sock, protocol.HEADER_SIZE)
    if header is None:
        return None
    body = _read_exact(sock, protocol.frame_length(header))
    return None if body is None else protocol.loads(body)


def preload() -> None:
    """Import the probe runtime and every scenario module now, before any guard is armed.

    A forked run has them from the fork server already; a spawned one (no
    fork server) imports them here, once, instead of in each worker, where
    the armed guard would refuse what they import (asyncio's subprocess
    support, for one).
    """
    import importlib
    import pkgutil

    import grader_guard  # noqa: F401
    import looptime  # noqa: F401

    from coursekit import clock, probes, testing  # noqa: F401

    for module in pkgutil.iter_modules(probes.__path__):
        importlib.import_module(f"{probes.__name__}.{module.name}")


# What the watched libraries hold before any student code runs, taken once in the fork server (take_baseline):
# every worker forked from it inherits it, instead of spending tens of milliseconds on its own.
_baseline: Any = None


def take_baseline() -> None:
    """Remember what the watched libraries hold now; called by the fork server once it has preloaded them."""
    global _baseline
    import grader_guard

    _baseline = grader_guard.Baseline()


class Worker:
    """The process that runs student code: forked from this one, reused call after call until it fails.

    Forking a process of this size costs about as much as a whole call
    (page tables, tens of milliseconds), so one worker serves every call of
    the run, like the single test process before it; the student's module is
    imported once, and its state lives on between tests as it does in any
    program. A worker that runs past a call's limit, dies or breaks the
    protocol is killed, and the next call gets a fresh one.
    """

    def __init__(self, policy: dict[str, Any]) -> None:
        requests_read, self.requests = os.pipe()
        self.replies, replies_write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.requests)
            os.close(self.replies)
            _work(requests_read, replies_write, policy)  # never returns
        os.close(requests_read)
        os.close(replies_write)
        self.frames = protocol.Frames()

    def ask(self, request: dict[str, Any], deadline: float) -> dict[str, Any]:
        """Send one request; the envelope to relay (its ``status`` says whether this worker may be used again)."""
        data = json.dumps(request, separators=(",", ":")).encode()
        try:
            _write_all(self.requests, protocol._HEADER.pack(len(data)) + data)
            body = self._reply(deadline)
        except TimeoutError:
            return {"status": "timeout", "body": None, "refused": [], "detail": None}
        except EOFError:
            return {"status": "exited", "body": None, "refused": [], "detail": self.end()}
        except (OSError, protocol.Malformed) as exc:
            return {"status": "malformed", "body": None, "refused": [], "detail": str(exc)[:200]}
        refused = body.get("refused")
        refused = [str(r)[:2000] for r in refused[:3]] if type(refused) is list else []
        tampered = body.get("tampered")
        tampered = str(tampered)[:2000] if tampered is not None else None
        return {"status": "ok", "body": body.get("body"), "refused": refused, "detail": None, "tampered": tampered}

    def _reply(self, deadline: float) -> dict[str, Any]:
        while (message := self.frames.next()) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self.replies], [], [], left)
            if ready:
                chunk = os.read(self.replies, 1 << 16)
                if not chunk:
                    raise EOFError
                self.frames.feed(chunk)
        return message

    def end(self) -> str:
        """Kill the worker and everything it started; how it ended, in words."""
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(self.pid, signal.SIGKILL)
        _, status = os.waitpid(self.pid, 0)
        for fd in (self.requests, self.replies):
            with contextlib.suppress(OSError):
                os.close(fd)
        code = os.waitstatus_to_exitcode(status)
        # Worded as coursekit.judge.KILLED_BY and EXITED_WITH, the templates the report re-words.
        return f"it was killed by signal {-code}" if code < 0 else f"it exited early with status {code}"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def serve(sock: socket.socket, policy: dict[str, Any]) -> None:
    """Answer the judge's requests until it closes its end."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    preload()
    worker: Worker | None = None
    while True:
        try:
            request = _request(sock)
        except (protocol.Malformed, OSError):
            request = None
        if request is None:
            if worker is not None:
                worker.end()
            return
        request_id = request.get("id")
        limit = request.get("limit")
        if type(request_id) is not int or type(limit) not in (int, float) or not 0 < limit <= 600:
            return  # the judge is trusted: a broken request means the run is over
        if "fresh" in request:
            envelope = fresh(request, policy)
            sock.sendall(protocol.dumps({"id": request_id, **envelope}))
            continue
        if worker is None:
            worker = Worker(policy)
        envelope = worker.ask(request, time.monotonic() + float(limit))
        if envelope["status"] != "ok":
            if envelope["status"] != "exited":
                worker.end()
            worker = None
        sock.sendall(protocol.dumps({"id": request_id, **envelope}))


def _guard_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """The guard's settings for student code in this process's children (the worker, a fresh interpreter)."""
    return {"scratch": os.environ.get("TMPDIR") or os.getcwd(), "tests": list(policy.get("tests", [])),
            "loopback": bool(policy.get("loopback")), "secret_dirs": list(policy.get("secret_dirs", []))}


def fresh(request: dict[str, Any], policy: dict[str, Any]) -> dict[str, Any]:
    """Run the judge's ``script`` in a fresh Python that imports the student's module: its envelope.

    Started here, not in the worker: the probes and whatever the student's
    code did to them in the worker play no part; the fresh process holds the
    judge's script, the student's module and the guard, armed first.
    """
    import subprocess

    from coursekit.loops import run_fresh_file

    script, module, limit = request.get("fresh"), request.get("module"), float(request["limit"])
    if type(script) is not str or type(module) is not str or not module.isidentifier():
        return {"status": "malformed", "body": None, "refused": [], "detail": "a fresh run without a script"}
    file = os.path.join(str(policy.get("path") or os.getcwd()), f"{module}.py")
    if not os.path.isfile(file):
        body = {"returncode": None, "stdout": "", "stderr": f"ModuleNotFoundError: no {module}.py was submitted"}
        return {"status": "ok", "body": body, "refused": [], "detail": None}
    import grader_guard

    try:
        proc = run_fresh_file(script, module, file, timeout=limit,
                              prologue=grader_guard.prologue_for(_guard_policy(policy)))
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "body": None, "refused": [], "detail": None}
    body = {"returncode": proc.returncode, "stdout": proc.stdout[-FRESH_OUTPUT:], "stderr": proc.stderr[-FRESH_OUTPUT:]}
    return {"status": "ok", "body": body, "refused": [], "detail": None}


def _work(requests: int, replies: int, policy: dict[str, Any]) -> None:
    """In the worker: arm the guard once, then run one scenario per request until the pipe closes."""
    code = 0
    try:
        os.setpgid(0, 0)
        sys.path.insert(0, str(policy.get("path") or os.getcwd()))
        refused: list[str] = []
        import grader_guard

        guard = grader_guard.Guard(**_guard_policy(policy),
                                   report=lambda record: refused.append(str(record.get("message", ""))))
        from coursekit import probes

        incoming = os.fdopen(requests, "rb", buffering=0)
        # What the probes and the libraries they rely on hold before the student's module is imported: a
        # replacement found after a scenario means what the probes report here can no longer be trusted.
        baseline = _baseline if _baseline is not None else grader_guard.Baseline()
        tampered: str | None = None
        full = True  # the first request imports the module: everything is compared once, the hot parts after each
        guard.arm()
        while True:
            header = _read_exact_fd(incoming, protocol.HEADER_SIZE)
            if header is None:
                break
            request = json.loads(_read_exact_fd(incoming, protocol.frame_length(header)) or b"{}")
            try:
                body = probes.execute(str(request.get("scenario")), request.get("params"),
                                      str(request.get("module")), guard=True)
            except (LookupError, protocol.Malformed) as exc:
                body = {"protocol_error": str(exc)}
            if tampered is None and (changed := baseline.replaced(full=full)):
                tampered = f"your code replaced {', '.join(changed[:5])}"
            full = False
            data = json.dumps({"body": body, "refused": refused[:3], "tampered": tampered}, separators=(",", ":"),
                              allow_nan=False).encode()
            refused.clear()
            _write_all(replies, protocol._HEADER.pack(len(data)) + data)
    except BaseException as exc:  # noqa: BLE001 - the worker must never return into the server
        code = 70
        with contextlib.suppress(BaseException):
            import traceback

            # For the maintainers (the run's stderr tail), never shown to students.
            os.write(2, f"grader: the student's worker ended with {type(exc).__name__}: "
                        f"{''.join(traceback.format_exception(exc))[-1500:]}\n".encode())
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(code)


def _read_exact_fd(stream: Any, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = stream.read(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)
