"""The judge's side of HTTP: loopback servers and clients the judge runs, on the clock it shares with the student.

A test that observes HTTP from outside the student's code starts a
:class:`JudgeSide` (a :class:`coursekit.clock.LeaderLoop` in a thread of the
test's process), serves its own ``aiohttp.web`` applications there or runs
its own client coroutines, and passes :attr:`JudgeSide.clock` to
``student.run(..., clock=...)``: the scenario's loop then follows that clock
(``coursekit.probes.execute``), locally in the test's thread and, when
graded, in the student process. What the judge's servers count (requests,
their order, how many were in flight, at what loop time each came and went)
is counted by the judge; the student's code can only produce it by making
those requests.

    with JudgeSide() as judge:
        site = judge.serve(app)                      # "http://127.0.0.1:PORT"
        seen = student.run(scenario, clock=judge.clock, urls=[site + "/a", site + "/b"])
    assert counter.peak == 2                         # counted on the judge's side
"""
from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

import coursekit
from coursekit.clock import LeaderLoop
from coursekit.probes import JUDGE_THREAD

# The kit's frames stay out of the failure a student reads (coursekit.hidden_in_judged_failures).
__tracebackhide__ = coursekit.hidden_in_judged_failures

T = TypeVar("T")
# Real seconds the judge waits for its own loop to answer (it never runs the student's code).
CALL_LIMIT = 30.0



class JudgeSide:
    """A leader loop in a thread of the judge, with the servers and clients a test runs on it."""

    def __init__(self, *, real_time: bool = False) -> None:
        # real_time: a plain loop on the real clock, shared with no one (a test that measures real time).
        self.loop: asyncio.AbstractEventLoop = asyncio.new_event_loop() if real_time else LeaderLoop()
        self._runners: list[web.AppRunner] = []
        self._held: list[socket.socket] = []
        self._ports: set[int] = set()
        if isinstance(self.loop, LeaderLoop):
            self._ports.add(int(self.loop.address.rpartition(":")[2]))
        self._thread = threading.Thread(target=self._run, name=JUDGE_THREAD, daemon=True)

    @property
    def clock(self) -> str:
        """The address scenarios follow (``student.run(..., clock=judge.clock)``)."""
        if not isinstance(self.loop, LeaderLoop):
            raise TypeError("a real-time judge shares no clock")
        return self.loop.address

    @property
    def ports(self) -> frozenset[int]:
        """The loopback ports that are the judge's own (its clock, its servers, its refusing ports)."""
        return frozenset(self._ports)

    def refusing(self) -> str:
        """A loopback base URL that refuses every connection: a port bound and never listened on, held until
        the judge closes (a freed port could be taken by another socket meanwhile, a student's server included)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._held.append(sock)
        port = sock.getsockname()[1]
        self._ports.add(port)
        return f"http://127.0.0.1:{port}"

    def __enter__(self) -> JudgeSide:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro: Coroutine[Any, Any, T], limit: float = CALL_LIMIT) -> T:
        """Run ``coro`` on the judge's loop and wait (real time, at most ``limit``) for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(limit)

    def now(self) -> float:
        """The shared clock's time, as the judge's loop reads it.

        Read on that loop: the student's loop moves its clock the moment it
        accepts a move, so its scenario can end before the judge's thread has
        applied the same move; read from the test's thread, the time could
        still be the one before.
        """
        if not self._thread.is_alive():
            return self.loop.time()

        async def read() -> float:
            return asyncio.get_running_loop().time()

        return self.call(read())

    def serve(self, app: web.Application) -> str:
        """Serve ``app`` on a loopback port of the judge's loop; its base URL (no trailing slash)."""

        async def start() -> str:
            # handler_cancellation: a client that gives up cancels the handler, so the judge sees when.
            runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self._runners.append(runner)
            port = runner.addresses[0][1]
            self._ports.add(port)
            return f"http://127.0.0.1:{port}"

        return self.call(start())

    def start(self, coro: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Start ``coro`` on the judge's loop (a client the judge drives); its future, read after the run."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[return-value]

    def close(self) -> None:
        """Stop the servers and the loop; the clock runs on its own from here, so clean-up timers fire."""
        for sock in self._held:
            sock.close()
        self._held.clear()
        if not self._thread.is_alive():
            if not self.loop.is_closed():
                self.loop.close()
            return
        if isinstance(self.loop, LeaderLoop):
            self.loop.solo = True

        async def stop() -> None:
            for runner in reversed(self._runners):
                with contextlib.suppress(Exception):
                    await runner.cleanup()
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1)

        with contextlib.suppress(Exception):
            self.call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(CALL_LIMIT)
        if not self.loop.is_closed() and not self._thread.is_alive():
            self.loop.close()


@dataclass
class Seen:
    """One request as a judge's server saw it, on the shared clock."""

    method: str
    path: str
    query: dict[str, str]
    arrived: float
    left: float | None = None
    abandoned: bool = False


@dataclass
class Counter:
    """Requests in flight at a judge's server: the peak, and every request with its times."""

    in_flight: int = 0
    peak: int = 0
    requests: list[Seen] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def counting(self, request: web.Request) -> Any:
        """Count ``request`` in flight for the duration of the block (a cancelled handler: the client gave up)."""
        loop = asyncio.get_running_loop()
        seen = Seen(request.method, request.path, dict(request.query), round(loop.time(), 6))
        self.requests.append(seen)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            yield seen
        except asyncio.CancelledError:
            seen.abandoned = True
            raise
        finally:
            self.in_flight -= 1
            seen.left = round(loop.time(), 6)

    def paths(self) -> list[str]:
        """The paths requested, in the order the requests arrived."""
        return [seen.path for seen in self.requests]


def counted(counter: Counter, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
            ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """``handler``, with every request it handles counted by ``counter``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        async with counter.counting(request):
            return await handler(request)

    return handle


async def drop(request: web.Request, how: str = "close") -> web.StreamResponse:
    """End ``request``'s connection without an answer: ``close`` (the client reads the end of the stream,
    aiohttp's ``ServerDisconnectedError``) or ``reset`` (a TCP reset, ``ClientOSError``).

    aiohttp's client sends an idempotent request (GET) once more when the
    connection ends before any answer, so such a URL is requested twice.
    """
    transport = request.transport
    if how not in ("close", "reset"):
        raise ValueError(f"not a way to drop a connection: {how!r}")
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if how == "reset" and sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if how == "reset":
            transport.abort()
        else:
            transport.close()
    await asyncio.Event().wait()  # the lost connection cancels this handler (handler_cancellation)
    raise AssertionError("unreachable")  # pragma: no cover


def placed(value: Any, marks: dict[str, str]) -> Any:
    """Plain data ``value`` with each mark (``"{base}"``, ``"{refused}"``...) in its strings replaced by its text:
    a test writes URLs before the judge's ports are known."""
    if type(value) is str:
        for mark, text in marks.items():
            value = value.replace(mark, text)
        return value
    if type(value) in (list, tuple):
        return type(value)(placed(v, marks) for v in value)
    if type(value) is dict:
        return {k: placed(v, marks) for k, v in value.items()}
    return value
