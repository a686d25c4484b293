"""One virtual clock for two event loops: the judge's (the leader) and the student's (the follower).

Why: a test observes HTTP from the judge's side (a loopback server the judge
runs counts requests in flight and times them; the judge drives 08's
application as a client), while the student's code runs in another process
on a virtual clock. Each loop alone would jump its clock to its next timer
whenever it has nothing to do, without waiting for the other: a request held
by the judge's server for one virtual second would meet the client's
timeout at once. Here neither clock moves until both loops are idle and
nothing is on its way between them; then both move together to the earlier
of their next timers. What the judge measures is then exactly what a
correct program produces on a virtual clock, whatever the machine's load.

The protocol, newline-delimited JSON over one loopback TCP connection:

- leader -> follower ``{"hello": now}`` once: the follower's clock starts there;
- follower -> leader ``{"idle": n, "next": t | null}``: nothing to do until
  loop time ``t`` (``null``: until some I/O); ``{"busy": n}`` withdraws it;
- leader -> follower ``{"propose": n, "at": t}`` when it is idle too;
- follower -> leader ``{"accept": n}`` (both clocks now read ``t``) or
  ``{"reject": n}`` (I/O arrived meanwhile: the follower is busy again).

"Nothing on its way": a loop calls itself idle only when no socket it
watches holds bytes the kernel has not yet sent (Linux's ``SIOCOUTQNSQ``:
Nagle's algorithm or a full window can hold them back). On loopback, bytes
sent are delivered in the sending call itself, so what a loop wrote before
its ``idle`` is readable on the other side before the leader proposes, and
the follower answers a proposal only after looking for it. While a thread of ``run_in_executor`` (or
``asyncio.to_thread``) works, its loop is not idle: time stands still for
it, as it does for code between two awaits.

The follower never decides anything: whatever the student's code does to
its side of the protocol, it cannot make the leader's clock reach a timer
before its time, so the judge's measurements stay its own.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import select
import socket
import struct
from collections.abc import Iterator
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no ioctl; loopback sends there are not held back either
    fcntl = None  # type: ignore[assignment]

# Loop iterations that find nothing to do before a loop calls itself idle:
# callbacks scheduled by other callbacks (call_soon chains) get to run first.
NOOP_CYCLES = 8
# A real-time step while bytes are still travelling or a worker thread runs.
REAL_STEP = 0.0005
# Linux's ioctl for bytes queued on a socket and not yet sent (bytes sent but not yet acknowledged are
# already in the peer's queue on loopback; counting them would wait out delayed acknowledgements).
_SIOCOUTQNSQ = 0x894B
_MAX_LINE = 4096


class ClockLost(ConnectionError):
    """The other side of the shared clock went away."""


class _Link:
    """One end of the clock's connection: newline-delimited JSON messages, blocking."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(True)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self._buffer = b""

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message: dict[str, Any]) -> None:
        try:
            self.sock.sendall(json.dumps(message).encode() + b"\n")
        except OSError as exc:
            raise ClockLost(str(exc)) from exc

    def pending(self) -> bool:
        """Whether a whole message is already buffered."""
        return b"\n" in self._buffer

    def receive(self) -> dict[str, Any]:
        """The next message, blocking until it arrives (``ClockLost`` at the end of the stream)."""
        while b"\n" not in self._buffer:
            try:
                chunk = self.sock.recv(_MAX_LINE)
            except OSError as exc:
                raise ClockLost(str(exc)) from exc
            if not chunk:
                raise ClockLost("the other side closed the clock's connection")
            self._buffer += chunk
            if len(self._buffer) > _MAX_LINE and b"\n" not in self._buffer:
                raise ClockLost("a clock message too long")
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            message = json.loads(line)
        except ValueError as exc:
            raise ClockLost("a clock message that is not JSON") from exc
        if type(message) is not dict:
            raise ClockLost("a clock message that is not an object")
        return message

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if type(value) not in (int, float) or value != value or value in (float("inf"), float("-inf")):
        raise ClockLost("a clock message with a time that is not a finite number")
    return float(value)


class _SharedLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose clock is virtual and moves only when :meth:`_when_idle` says so."""

    def __init__(self, start: float = 0.0) -> None:
        super().__init__()
        self._now = float(start)
        self._noop = 0
        self._threads: set[asyncio.Future[Any]] = set()
        self._poll = self._selector.select
        self._selector.select = self._select  # type: ignore[method-assign]

    def time(self) -> float:
        return self._now

    def run_in_executor(self, executor: Any, func: Any, *args: Any) -> asyncio.Future[Any]:
        future = super().run_in_executor(executor, func, *args)
        self._threads.add(future)
        future.add_done_callback(self._threads.discard)
        return future

    def _next_timer(self) -> float | None:
        """The exact time of the earliest timer (asyncio dropped cancelled ones from the heap's head)."""
        scheduled = [handle for handle in self._scheduled if not handle.cancelled()]
        return min(handle.when() for handle in scheduled) if scheduled else None

    def _in_transit(self) -> bool:
        """Whether a socket this loop watches still holds bytes the kernel has not sent."""
        if fcntl is None:  # pragma: no cover - Windows
            return False
        for key in list(self._selector.get_map().values()):
            with contextlib.suppress(OSError, ValueError, TypeError):
                queued = fcntl.ioctl(key.fd, _SIOCOUTQNSQ, b"\0\0\0\0")
                if struct.unpack("i", queued)[0] > 0:
                    return True
        return False

    def _busy(self) -> bool:
        return bool(self._threads) or self._in_transit()

    def _wait(self, *others: Any) -> tuple[bool, list[Any]]:
        """Block until this loop's own I/O or one of ``others`` is ready: (own I/O ready, the others ready)."""
        own = getattr(self._selector, "fileno", None)
        if own is None:  # pragma: no cover - a selector without a descriptor (Windows): poll in small steps
            ready = [other for other in others if select.select([other], [], [], 0)[0]]
            return bool(self._poll(REAL_STEP)) if not ready else False, ready
        readable, _, _ = select.select([own(), *others], [], [])
        return own() in readable, [other for other in others if other in readable]

    def _select(self, timeout: float | None) -> list[Any]:
        ready = self._poll(0)
        if ready or timeout == 0:
            self._noop = 0
            return ready
        if self._noop < NOOP_CYCLES:
            self._noop += 1
            return []
        self._noop = 0
        if self._busy():
            return self._poll(REAL_STEP)
        return self._when_idle(self._next_timer())

    def _when_idle(self, next_timer: float | None) -> list[Any]:
        raise NotImplementedError

    def _move_to(self, at: float) -> None:
        self._now = max(self._now, at)


class FollowerLoop(_SharedLoop):
    """The student's side: reports when it is idle and moves its clock when the leader proposes."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self._link = _Link(socket.create_connection((host, int(port))))
        hello = self._link.receive()
        start = _number(hello.get("hello"))
        super().__init__(start=start or 0.0)
        self._seq = 0

    def _when_idle(self, next_timer: float | None) -> list[Any]:
        if self._link is None:
            # The leader is gone (the judge ended the test): a plain virtual clock from here on.
            if next_timer is not None:
                self._move_to(next_timer)
            return self._poll(None if next_timer is None else 0)
        self._seq += 1
        try:
            self._link.send({"idle": self._seq, "next": next_timer})
            while True:
                own, _ = (False, [self._link]) if self._link.pending() else self._wait(self._link)
                if own:
                    self._link.send({"busy": self._seq})
                    return self._poll(0)
                message = self._link.receive()
                if message.get("propose") != self._seq:
                    continue  # an answer to an idle already withdrawn
                at = _number(message.get("at"))
                ready = self._poll(0)
                if ready or at is None:
                    self._link.send({"reject": self._seq})
                    return ready
                self._link.send({"accept": self._seq})
                self._move_to(at)
                return []
        except ClockLost:
            self._detach()
            return []

    def _detach(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None  # type: ignore[assignment]

    def close(self) -> None:
        self._detach()
        super().close()


class LeaderLoop(_SharedLoop):
    """The judge's side: it owns the clock, and moves it when it and its follower (if any) are idle.

    Followers connect to :attr:`address` one at a time (one per scenario the
    judge runs); with none connected the leader's clock waits, so a server's
    delays never run out before the student's code has even started.
    """

    def __init__(self) -> None:
        super().__init__(start=0.0)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.address = "{}:{}".format(*self._listener.getsockname()[:2])
        self._follower: _Link | None = None
        self._follower_idle: tuple[int, float | None] | None = None
        # Set at the end of a test: with no follower the clock then moves alone, so clean-up timers fire.
        self.solo = False

    def _accept(self) -> None:
        with contextlib.suppress(BlockingIOError):
            sock, _ = self._listener.accept()
            self._drop_follower()
            link = _Link(sock)
            try:
                link.send({"hello": self._now})
            except ClockLost:
                link.close()
                return
            self._follower = link

    def _drop_follower(self) -> None:
        if self._follower is not None:
            self._follower.close()
        self._follower, self._follower_idle = None, None

    def _read_follower(self) -> None:
        """Take in one message from the follower."""
        assert self._follower is not None
        try:
            message = self._follower.receive()
        except ClockLost:
            self._drop_follower()
            return
        if "idle" in message and type(message["idle"]) is int:
            try:
                self._follower_idle = (message["idle"], _number(message.get("next")))
            except ClockLost:
                self._drop_follower()
        elif "busy" in message:
            self._follower_idle = None

    def _propose(self, at: float) -> bool:
        """Ask the idle follower to move to ``at``; whether it accepted."""
        assert self._follower is not None and self._follower_idle is not None
        seq = self._follower_idle[0]
        try:
            self._follower.send({"propose": seq, "at": at})
            while True:
                message = self._follower.receive()
                if message.get("accept") == seq:
                    self._follower_idle = None
                    return True
                if message.get("reject") == seq or message.get("busy") == seq:
                    self._follower_idle = None
                    return False
                if "idle" in message:  # pragma: no cover - a confused follower: take its latest word
                    self._follower_idle = None
                    return False
        except ClockLost:
            self._drop_follower()
            return False

    def _when_idle(self, next_timer: float | None) -> list[Any]:
        while True:
            if self.solo and self._follower is None and next_timer is not None:
                self._move_to(next_timer)
                return []
            if self._follower is not None and self._follower.pending():
                self._read_follower()
                continue
            if self._follower is not None and self._follower_idle is not None:
                ready = self._poll(0)  # what the follower sent before it went idle
                if ready:
                    return ready
                times = [t for t in (next_timer, self._follower_idle[1]) if t is not None]
                if times:
                    at = max(self._now, min(times))  # a follower's past "next" never turns the clock back
                    if self._propose(at):
                        self._move_to(at)
                        return []
                    continue
            others: list[Any] = [self._listener] + ([self._follower] if self._follower is not None else [])
            own, ready_others = self._wait(*others)
            if own:
                return self._poll(0)
            if self._listener in ready_others:
                self._accept()
            if self._follower is not None and self._follower in ready_others:
                self._read_follower()

    def close(self) -> None:
        self._drop_follower()
        with contextlib.suppress(OSError):
            self._listener.close()
        super().close()


@contextlib.contextmanager
def following(address: str | None) -> Iterator[asyncio.AbstractEventLoop | None]:
    """A follower loop on the clock at ``address`` (none when ``address`` is None); closed after."""
    if address is None:
        yield None
        return
    loop = FollowerLoop(address)
    try:
        yield loop
    finally:
        if not loop.is_closed():
            loop.close()
