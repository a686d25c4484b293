"""The tests' one way to reach student code: ask the student process to run a scenario.

``student.run(p01.call_jobs, function="run_concurrent", jobs=jobs)`` runs the
scenario ``call_jobs`` (``coursekit/probes/p01.py``) against the student's
module and returns an :class:`Observation` of plain data. The same call works
in two modes:

- **local** (``pytest assignments/NN``): in the test's own process, so the
  student's prints, breakpoints and pdb work, and nothing is slower;
- **judged** (the grader): over a socket to the student process, a separate,
  sandboxed process that never sees the tests, which never import the
  student's module. Its reply is untrusted input, decoded strictly
  (:mod:`coursekit.protocol`); a malformed one fails that test only.

Both modes encode and decode every value the same way, so a test sees
exactly the same data either way.

Inputs that a scenario's contract leaves free (delays, sizes, names, orders)
are drawn from :attr:`Student.rng`, seeded per graded run, so answers
recorded in one run are worthless in the next. Locally the seed is fixed per
test (``COURSE_SEED`` changes it) so a failure can be reproduced.
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import os
import random
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest

import coursekit
from coursekit import hints, i18n, probes, protocol
from coursekit.hints import describe_parts
from coursekit.i18n import N_
from coursekit.loops import fresh_error, run_fresh_file
from coursekit.protocol import ErrorInfo, Malformed, Opaque, Record
from coursekit.testing import BlockingCallError, CourseSignal

# The kit's frames stay out of the failure a student reads (coursekit.hidden_in_judged_failures).
__tracebackhide__ = coursekit.hidden_in_judged_failures

JUDGE_FD_VARIABLE = "COURSE_JUDGE_FD"  # set by the grader in the judge process only
SEED_VARIABLE = "COURSE_SEED"

__all__ = ["ErrorInfo", "Names", "Observation", "Opaque", "Record", "Student", "StudentRaised", "WarningSeen", "LogSeen",
           "StudentGone"]


@dataclass(frozen=True)
class WarningSeen:
    """A warning the student's code raised during the scenario."""

    category: str
    message: str
    filename: str
    lineno: int


@dataclass(frozen=True)
class LogSeen:
    """A log record emitted during the scenario (any logger, any level)."""

    logger: str
    level: str
    message: str
    exc_type: str | None = None


@dataclass(frozen=True)
class Observation:
    """What one scenario observed: its result, the loop time, events, warnings and logs, as plain data."""

    result: Any
    error: ErrorInfo | None
    loop_time: float | None
    left_running: tuple[str, ...] = ()
    events: tuple[tuple[Any, ...], ...] = ()
    warnings: tuple[WarningSeen, ...] = ()
    logs: tuple[LogSeen, ...] = ()

    def value(self, what: str) -> Any:
        """The scenario's result; a failure naming ``what`` if the scenario let an exception through."""
        if self.error is not None:
            raise StudentRaised(what, self.error)
        return self.result

    def events_of(self, kind: str) -> list[tuple[Any, ...]]:
        """The events of one kind, each ``(time, kind, *detail)``."""
        return [e for e in self.events if len(e) > 1 and e[1] == kind]


def error_message(what: str, error: ErrorInfo) -> str:
    """``"<what> raised NotImplementedError at m.py:12 in f. <hint>"`` for an exception that reached the test."""
    hint = hints.hint_for(error.name, error.message)
    text = f"{what} raised {_described(error)}"
    return f"{text}. {hint}" if hint else text


def _described(error: ErrorInfo) -> str:
    """``"ValueError at m.py:12 in f: bad port"``: the class, the student's line if known, the message."""
    where = f" at {error.where}" if error.where else ""
    described = f"{error.name}{where}: {error.message}" if error.message else f"{error.name}{where}"
    return described.rstrip(".")


class StudentRaised(AssertionError):
    """A call of the student's code raised: the test fails with that exception's class, message and line.

    The message says which call raised what (``"fetch raised ValueError: bad
    port"``); ``student_error`` carries the exception's own class name,
    message and line, so the course's plugin and the grader report it as the
    student's exception, with the hint for that exception's usual mistake.
    """

    def __init__(self, what: str, error: ErrorInfo) -> None:
        super().__init__(f"{what} raised {_described(error)}")
        self.student_error = {"type": error.name, "message": error.message, "where": error.where}


def unwrap(outcome: Any, *, what: str) -> Any:
    """The value of a scenario's outcome (``coursekit.probes.kit``); a failure with a hint otherwise."""
    if type(outcome) is not dict or len(outcome) != 1:
        raise AssertionError(f"the process running your code sent a malformed outcome for {what}")
    (kind, detail), = outcome.items()
    if kind == "value":
        return detail
    if kind == "raised" and isinstance(detail, ErrorInfo):
        raise StudentRaised(what, detail)
    if kind == "hung" and type(detail) in (int, float):
        raise AssertionError(f"{what} did not finish within {detail:g} s of loop time. {hints.HANGS}")
    if kind == "not_awaitable":
        raise AssertionError(f"{what} returned {detail!r} instead of an awaitable. {hints.AWAITED_NON_AWAITABLE}")
    raise AssertionError(f"the process running your code sent a malformed outcome for {what}")


def expect_raised(outcome: Any, *names: str, what: str) -> ErrorInfo:
    """The exception of ``outcome`` if it is an instance of a class named in ``names`` (any ``Exception``
    when none is named); otherwise a failure that says what came instead.

    A stub's NotImplementedError (and a course signal or ``CancelledError``
    where an ``Exception`` was expected) fails as :func:`unwrap` fails, with
    its hint; a returned value or another exception fails naming what was
    expected.
    """
    expected = names or ("Exception",)
    error = raised(outcome)
    if error is None:
        value = unwrap(outcome, what=what)  # a hang or a non-awaitable fails here
        if not names:
            raise AssertionError(f"expected {what} to raise, but it returned {value!r}")
        raise AssertionError(f"{what} should raise {' or '.join(names)}; it returned {value!r}")
    if error.is_a("NotImplementedError", "AssertionError"):
        unwrap(outcome, what=what)
    if error.is_a(*expected):
        return error
    if not error.is_a("Exception"):
        unwrap(outcome, what=what)  # CancelledError, KeyboardInterrupt: reported as they are
    raise AssertionError(f"{what} should raise {' or '.join(expected)}; it raised "
                         f"{describe_parts(error.name, error.message)}")


def raised(outcome: Any) -> ErrorInfo | None:
    """The exception of a ``raised`` outcome, else None."""
    if type(outcome) is dict and isinstance(outcome.get("raised"), ErrorInfo):
        return outcome["raised"]
    return None


# The judge's own messages, in English where they are made; the report re-words them (coursekit.i18n.localize).
TIMED_OUT = N_("Timeout: your code was still running after {limit} s of real time, so it was ended. {hint}")
EXITED = N_("your code ended the process it ran in: {how}: does your code call sys.exit or os._exit?")
# How the worker ended, as grader/student_server.py words it (Worker.end).
KILLED_BY = N_("it was killed by signal {signal}")
EXITED_WITH = N_("it exited early with status {code}")
GONE = N_("the student process stopped answering ({why}); later tests cannot reach your code")
STUDENT_REPR = N_("<your module {module}, reached through scenarios>")  # the student fixture, as pytest shows it
MALFORMED_REPLY = N_("the process running your code sent a malformed reply ({why})")
# What the student's code replaced in a library the tests rely on, and when it was found (grader/child_plugin.py).
REPLACED = (N_("while it was imported, your code replaced {names}"), N_("in {test}, your code replaced {names}"),
            N_("by the end of the run, your code replaced {names}"),
            N_("in the process that runs it, your code replaced {names}"))


class StudentGone(CourseSignal):
    """The student process stopped answering (it crashed, or an earlier call hung it)."""


class CallTimedOut(AssertionError):
    """The student's code ran past the call's real-time limit, so the student process ended that call."""


class CallExited(AssertionError):
    """The worker running the call ended without a reply (an exit, a crash, a signal)."""


@dataclass(frozen=True)
class FreshRun:
    """How a fresh interpreter running a script of the judge's ended: exit status (None: no module) and output."""

    returncode: int | None
    stdout: str
    stderr: str

    def error(self) -> str:
        """What went wrong: the exception the script reported, else the end of its error output."""
        return fresh_error(self)  # type: ignore[arg-type]


class Transport(Protocol):
    """How a request reaches the student's code: in this process, or over the judge's socket."""

    def call(self, ref: str, params: Any, module: str, limit: float) -> dict[str, Any]: ...

    def fresh(self, script: str, module: str, limit: float) -> dict[str, Any]: ...


class LocalTransport:
    """Runs the scenario in this process (``pytest assignments/NN``)."""

    def call(self, ref: str, params: Any, module: str, limit: float) -> dict[str, Any]:
        # Guarded as in the student process: a time.sleep inside the scenario's loop is the course's signal.
        reply = probes.execute(ref, params, module, guard=True)
        # Through the wire format and back, so a local run sees what a graded run sees.
        return protocol.loads(protocol.dumps(reply)[protocol.HEADER_SIZE:])

    def fresh(self, script: str, module: str, limit: float) -> dict[str, Any]:
        # Found without importing it (the judge never imports the student's module), unless this process
        # already holds it (an instructor's ``pytest --against solutions`` imports each module first).
        loaded = sys.modules.get(module)
        found = importlib.machinery.PathFinder.find_spec(module)
        file = getattr(loaded, "__file__", None) or (found.origin if found is not None else None)
        if not file:
            return {"returncode": None, "stdout": "", "stderr": f"ModuleNotFoundError: no module named {module!r}"}
        try:
            proc = run_fresh_file(script, module, str(file), timeout=limit)
        except subprocess.TimeoutExpired:
            raise CallTimedOut(_timed_out(limit)) from None
        return {"returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}


class SocketTransport:
    """Sends requests to the student process over the socket the grader gave the judge.

    Replies are read into a buffer that outlives a call
    (:class:`coursekit.protocol.Frames`): when the test's own timeout
    interrupts a call halfway through a reply, the next call first finishes
    reading that stale reply and drops it (its id is not the one awaited).
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.next_id = 1
        self.gone: str | None = None
        self.frames = protocol.Frames()

    def call(self, ref: str, params: Any, module: str, limit: float) -> dict[str, Any]:
        return self._exchange({"scenario": ref, "params": params, "module": module, "limit": limit})

    def fresh(self, script: str, module: str, limit: float) -> dict[str, Any]:
        return self._exchange({"fresh": script, "module": module, "limit": limit})

    def _exchange(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.gone:
            raise StudentGone(self.gone)
        request_id = self.next_id
        self.next_id += 1
        limit = float(request["limit"])
        # The student process ends a call that runs past ``limit`` itself; this is the backstop.
        deadline = time.monotonic() + limit + 5.0
        try:
            self.sock.sendall(protocol.dumps({"id": request_id, **request}))
            while True:
                envelope = self._receive(deadline)
                if envelope.get("id") == request_id:
                    break
                if type(envelope.get("id")) is not int or envelope["id"] > request_id:
                    raise Malformed("a reply to a request never made")
        except (Malformed, OSError, TimeoutError) as exc:
            self.gone = GONE.format(why=exc)
            raise StudentGone(self.gone) from None
        status = envelope.get("status")
        tampered = envelope.get("tampered")
        if tamper_sink is not None and type(tampered) is str:
            tamper_sink(tampered)
        refused = envelope.get("refused")
        if refusal_sink is not None and type(refused) is list:
            for message in refused[:3]:
                refusal_sink(str(message))
        if status == "ok":
            body = envelope.get("body")
            if type(body) is not dict:
                raise Malformed("a reply without a body")
            return body
        if status == "timeout":
            raise CallTimedOut(_timed_out(limit))
        if status == "exited":
            raise CallExited(EXITED.format(how=str(envelope.get("detail"))[:200]))
        raise Malformed(f"a reply of status {str(status)[:40]!r}")

    def _receive(self, deadline: float) -> dict[str, Any]:
        while (message := self.frames.next()) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply in time")
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                continue
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise OSError("the connection closed")
            self.frames.feed(chunk)
        return message


def _timed_out(limit: float) -> str:
    return TIMED_OUT.format(limit=f"{limit:g}", hint=hints.TIMED_OUT)


_socket_transport: SocketTransport | None = None
# Where the guard's refusals in the student process go (the grader's child plugin sets it): flags for review.
refusal_sink: Callable[[str], None] | None = None
# Where a replacement found in the student process goes (the child plugin sets it): the assignment is void, as
# when the guard finds one in a process that is not judged.
tamper_sink: Callable[[str], None] | None = None


def transport() -> Transport:
    """The judged socket when the grader gave one, else this process."""
    global _socket_transport
    descriptor = os.environ.get(JUDGE_FD_VARIABLE)
    if not descriptor:
        return LocalTransport()
    if _socket_transport is None:
        _socket_transport = SocketTransport(socket.socket(fileno=int(descriptor)))
    return _socket_transport


def judged() -> bool:
    """Whether this process is a judge whose student code runs in another process."""
    return bool(os.environ.get(JUDGE_FD_VARIABLE))


@dataclass(repr=False)
class Student:
    """The student's module as a test reaches it: through scenarios, never by import."""

    module: str
    seed: int
    via: Transport
    time_limit: float = 4.0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def __repr__(self) -> str:
        # pytest shows this beside a failing test's arguments: in the student's language.
        return i18n._(STUDENT_REPR).format(module=self.module)

    def run(self, scenario: Callable[..., Any], /, **params: Any) -> Observation:
        """Run ``scenario`` with ``params`` against the student's module; what it observed.

        Fails the test (never returns) when the module cannot be imported,
        when the guard stopped a blocking call, or when the student process
        sent something the protocol does not allow.
        """
        ref = probes.reference(scenario)
        try:
            reply = self.via.call(ref, protocol.encode(params), self.module, self.time_limit)
            return _observation(reply)
        except Malformed as exc:
            raise AssertionError(MALFORMED_REPLY.format(why=exc)) from None


    def fresh(self, script: str) -> FreshRun:
        """Run ``script`` (see :func:`coursekit.loops.fresh_program`) in a fresh Python that imports the module.

        The judge's own script, started for the judge outside the process
        that runs scenarios (by the student process's server when graded):
        what the probes there hold plays no part.
        """
        reply = self.via.fresh(script, self.module, self.time_limit)
        returncode, stdout, stderr = reply.get("returncode"), reply.get("stdout"), reply.get("stderr")
        if (set(reply) != {"returncode", "stdout", "stderr"} or type(stdout) is not str or type(stderr) is not str
                or not (returncode is None or type(returncode) is int)):
            raise AssertionError(MALFORMED_REPLY.format(why="a fresh run"))
        return FreshRun(returncode, stdout, stderr)


def _observation(reply: dict[str, Any]) -> Observation:
    expected = {"result", "error", "signal", "loop_time", "left_running", "events", "warnings", "logs",
                "import_error"}
    if set(reply) != expected:
        raise Malformed("a reply with unexpected fields")
    if reply["import_error"] is not None:
        error = protocol.decode(reply["import_error"])
        if not isinstance(error, ErrorInfo):
            raise Malformed("an import error that is not an exception")
        raise AssertionError(f"your module could not be imported: {describe_parts(error.name, error.message)}")
    signal = reply["signal"]
    if signal is not None:
        if type(signal) is not dict or type(signal.get("message")) is not str:
            raise Malformed("a malformed signal")
        raise BlockingCallError(signal["message"][:2000])
    loop_time = reply["loop_time"]
    if loop_time is not None and type(loop_time) not in (int, float):
        raise Malformed("a loop time that is not a number")
    error = protocol.decode(reply["error"]) if reply["error"] is not None else None
    if error is not None and not isinstance(error, ErrorInfo):
        raise Malformed("an error that is not an exception")
    events = protocol.decode(reply["events"])
    if type(events) is not list or not all(type(e) is list for e in events):
        raise Malformed("events that are not a list of lists")
    left = reply["left_running"]
    if type(left) is not list or not all(type(n) is str for n in left):
        raise Malformed("left-running tasks that are not names")
    return Observation(
        result=protocol.decode(reply["result"]),
        error=error,
        loop_time=None if loop_time is None else float(loop_time),
        left_running=tuple(n[:200] for n in left),
        events=tuple(tuple(e) for e in events),
        warnings=tuple(_warning(w) for w in _list(reply["warnings"])),
        logs=tuple(_log(entry) for entry in _list(reply["logs"])),
    )


def _list(value: Any) -> list[Any]:
    if type(value) is not list or len(value) > 1000:
        raise Malformed("expected a list")
    return value


def _text(value: Any) -> str:
    if type(value) is not str:
        raise Malformed("expected text")
    return value[:2000]


def _warning(data: Any) -> WarningSeen:
    if type(data) is not dict or type(data.get("lineno")) is not int:
        raise Malformed("a malformed warning")
    return WarningSeen(_text(data.get("category")), _text(data.get("message")), _text(data.get("filename")),
                       data["lineno"])


def _log(data: Any) -> LogSeen:
    if type(data) is not dict:
        raise Malformed("a malformed log record")
    exc_type = data.get("exc_type")
    return LogSeen(_text(data.get("logger")), _text(data.get("level")), _text(data.get("message")),
                   None if exc_type is None else _text(exc_type))


class Names:
    """Distinct made-up words for one test, drawn from its seeded ``rng``, and paths and host names made of them.

    Consonant-vowel syllables: pronounceable in feedback, never an English
    word a test looks for by name (a crawler's "trap" page), never a keyword.
    """

    CONSONANTS = "bdfgklmnprstvz"
    VOWELS = "aeiou"

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def word(self) -> str:
        """A word no earlier call of this object returned."""
        while True:
            candidate = "".join(self.rng.choice(self.CONSONANTS) + self.rng.choice(self.VOWELS)
                                for _ in range(self.rng.randint(2, 3)))
            if candidate not in self.used:
                self.used.add(candidate)
                return candidate

    def paths(self, count: int) -> list[str]:
        """``count`` distinct paths, ``/word``."""
        return [f"/{self.word()}" for _ in range(count)]

    def host(self) -> str:
        """An ``http://`` origin under the reserved ``.test`` domain."""
        return f"http://{self.word()}{self.rng.randint(1, 99)}.test"


def seed_for(nodeid: str) -> int:
    """The test's seed: ``COURSE_SEED`` (the grader draws one per run) mixed with the test's id."""
    base = os.environ.get(SEED_VARIABLE, "0")
    return int.from_bytes(hashlib.sha256(f"{base}/{nodeid}".encode()).digest()[:8], "big")


@pytest.fixture
def student(request: pytest.FixtureRequest) -> Iterator[Student]:
    """The student's module, reached through scenarios; the test module names it in ``STUDENT_MODULE``."""
    module = getattr(request.module, "STUDENT_MODULE", None)
    if not isinstance(module, str):
        raise pytest.UsageError(f"{request.module.__name__} uses `student` but sets no STUDENT_MODULE")
    timeout = float(request.config.getini("timeout") or 5)
    # Below the test's own timeout, so that the student process ends a stuck call and the test says so.
    yield Student(module=module, seed=seed_for(request.node.nodeid), via=transport(), time_limit=0.8 * timeout)
