"""The clock the judge shares with the student's code (coursekit.clock) and the judge's own servers (coursekit.served).

Every time asserted here is a loop time on the shared clock: exact, whatever
the machine's load (the real time a run takes is never asserted).
"""
from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import types
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from coursekit import probes, protocol
from coursekit.clock import FollowerLoop
from coursekit.probes import kit
from coursekit.served import Counter, JudgeSide, counted


def _slow_app(counter: Counter) -> web.Application:
    """``GET /{seconds}`` answers ``seconds`` (as text) after that many loop seconds."""

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.match_info["seconds"]))
        return web.Response(text=request.match_info["seconds"])

    app = web.Application()
    app.router.add_get("/{seconds}", counted(counter, slow))
    return app


@pytest.fixture
def judged() -> Iterator[tuple[JudgeSide, Counter, str]]:
    counter = Counter()
    with JudgeSide() as judge:
        yield judge, counter, judge.serve(_slow_app(counter))


def _follow(address: str, main: Callable[[asyncio.AbstractEventLoop], Coroutine[Any, Any, Any]]) -> Any:
    """Run ``main(loop)`` on a follower loop of the clock at ``address``, as the student process does."""
    loop = FollowerLoop(address)
    try:
        return loop.run_until_complete(main(loop))
    finally:
        loop.close()


async def _get(session: aiohttp.ClientSession, url: str, loop: asyncio.AbstractEventLoop) -> tuple[str, float]:
    async with session.get(url) as response:
        return await response.text(), loop.time()


def test_concurrent_requests_end_at_their_own_delays_on_both_sides(judged: tuple[JudgeSide, Counter, str]) -> None:
    judge, counter, base = judged

    async def main(loop: asyncio.AbstractEventLoop) -> Any:
        async with aiohttp.ClientSession() as session:
            return await asyncio.gather(*(_get(session, f"{base}/{d}", loop) for d in ("1.5", "0.25", "3"))), loop.time()

    answers, ended = _follow(judge.clock, main)
    assert answers == [("1.5", 1.5), ("0.25", 0.25), ("3", 3.0)]
    assert ended == 3.0
    assert counter.peak == 3
    assert [(s.arrived, s.left, s.abandoned) for s in counter.requests] == [(0.0, 1.5, False), (0.0, 0.25, False),
                                                                           (0.0, 3.0, False)]


def test_one_request_after_another_is_seen_so_by_the_judge(judged: tuple[JudgeSide, Counter, str]) -> None:
    judge, counter, base = judged

    async def main(loop: asyncio.AbstractEventLoop) -> float:
        async with aiohttp.ClientSession() as session:
            for d in ("1", "2", "0.5"):
                await _get(session, f"{base}/{d}", loop)
        return loop.time()

    assert _follow(judge.clock, main) == 3.5
    assert counter.peak == 1
    assert [(s.arrived, s.left) for s in counter.requests] == [(0.0, 1.0), (1.0, 3.0), (3.0, 3.5)]


def test_a_client_timeout_is_seen_by_the_judge_as_abandoned_at_that_time(judged: tuple[JudgeSide, Counter, str]) -> None:
    judge, counter, base = judged

    async def main(loop: asyncio.AbstractEventLoop) -> tuple[str, float]:
        timeout = aiohttp.ClientTimeout(total=0.75)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            try:
                await _get(session, f"{base}/2", loop)
            except TimeoutError as exc:
                return type(exc).__name__, loop.time()
        return "answered", loop.time()

    assert _follow(judge.clock, main) == ("TimeoutError", 0.75)
    judge.close()  # the handler's cancellation is the judge's to finish
    assert [(s.left, s.abandoned) for s in counter.requests] == [(0.75, True)]


def test_the_clock_stands_still_while_a_worker_thread_works(judged: tuple[JudgeSide, Counter, str]) -> None:
    judge, _, _ = judged
    started = threading.Event()

    def work() -> str:
        started.wait(5)  # released by the loop's own callback: the thread outlives some loop iterations
        return "done"

    async def main(loop: asyncio.AbstractEventLoop) -> tuple[str, float, float]:
        await asyncio.sleep(0.5)
        loop.call_later(0, started.set)
        result = await asyncio.wait_for(asyncio.to_thread(work), timeout=10)
        return result, loop.time(), (await asyncio.sleep(1, result=loop.time() + 1))

    assert _follow(judge.clock, main) == ("done", 0.5, 1.5)


class _FakeFollower:
    """A follower written by hand: what student code that speaks the protocol itself could send."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.reader = self.sock.makefile("rb")
        self.hello = self.receive()

    def send(self, message: Any) -> None:
        self.sock.sendall(message if isinstance(message, bytes) else json.dumps(message).encode() + b"\n")

    def receive(self) -> dict[str, Any]:
        return json.loads(self.reader.readline())

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def _raw_get(base: str, path: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    return sock


def test_a_follower_cannot_bring_the_judges_timers_forward(judged: tuple[JudgeSide, Counter, str]) -> None:
    """It may claim any next timer and accept every proposal: the judge's own delay still ends at its time."""
    judge, counter, base = judged
    fake = _FakeFollower(judge.clock)
    assert fake.hello == {"hello": 0.0}
    request = _raw_get(base, "/2")
    proposals = []
    for seq, claimed in enumerate([0.25, None, 0.0], start=1):
        fake.send({"idle": seq, "next": claimed})
        proposal = fake.receive()
        proposals.append(proposal["at"])
        fake.send({"accept": seq})
    answer = request.recv(4096)
    fake.close()
    request.close()
    assert proposals == [0.25, 2.0, 2.0]
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"\r\n\r\n2")
    assert [(s.arrived, s.left) for s in counter.requests] == [(0.0, 2.0)]


@pytest.mark.parametrize("garbage", [b"not json\n", b"[1, 2]\n", b'{"idle": 1, "next": "soon"}\n',
                                     b'{"idle": 1, "next": NaN}\n', b"x" * 10_000])
def test_garbage_from_a_follower_drops_it_and_the_next_follower_is_served(
        judged: tuple[JudgeSide, Counter, str], garbage: bytes) -> None:
    judge, counter, base = judged
    fake = _FakeFollower(judge.clock)
    fake.send(garbage)

    async def main(loop: asyncio.AbstractEventLoop) -> Any:
        async with aiohttp.ClientSession() as session:
            return await _get(session, f"{base}/1", loop)

    assert _follow(judge.clock, main) == ("1", 1.0)
    fake.close()
    assert [(s.arrived, s.left) for s in counter.requests] == [(0.0, 1.0)]


def test_a_follower_that_leaves_mid_request_does_not_hold_the_judge(judged: tuple[JudgeSide, Counter, str]) -> None:
    judge, counter, base = judged

    async def main(loop: asyncio.AbstractEventLoop) -> str:
        session = aiohttp.ClientSession()
        task = asyncio.ensure_future(_get(session, f"{base}/5", loop))
        await asyncio.sleep(1)
        task.cancel()
        await session.close()
        return "left"

    assert _follow(judge.clock, main) == "left"
    judge.close()
    assert [(s.arrived, s.abandoned) for s in counter.requests] == [(0.0, True)]


def test_a_scenario_follows_the_clock_given_as_its_clock_parameter(monkeypatch: pytest.MonkeyPatch,
                                                                   judged: tuple[JudgeSide, Counter, str]) -> None:
    """Through the probe runtime, as the student process runs it: the loop time it reports is the shared one."""
    judge, counter, base = judged
    module = types.ModuleType("stand_in_for_a_students_http_module")
    monkeypatch.setitem(sys.modules, module.__name__, module)

    async def fetch_both(first: str, second: str) -> list[str]:
        async with aiohttp.ClientSession() as session:
            async def text(url: str) -> str:
                async with session.get(url) as response:
                    return await response.text()
            return list(await asyncio.gather(text(first), text(second)))

    module.fetch_both = fetch_both
    params = {"function": "fetch_both", "args": [f"{base}/2.5", f"{base}/0.5"], "clock": judge.clock}
    reply = probes.execute(probes.reference(kit.call_async), protocol.encode(params), module.__name__)
    assert protocol.decode(reply["result"]) == {"outcome": {"value": ["2.5", "0.5"]}, "took": 2.5}
    assert reply["loop_time"] == 2.5
    assert counter.peak == 2


def test_the_judges_ports_and_a_refusing_one(judged: tuple[JudgeSide, Counter, str]) -> None:
    """``refusing()``: a port bound and never listened on, the judge's own until it closes."""
    judge, _, base = judged
    refused = judge.refusing()
    port = int(refused.rpartition(":")[2])
    assert {port, int(base.rpartition(":")[2]), int(judge.clock.rpartition(":")[2])} == set(judge.ports)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    with pytest.raises(OSError), socket.socket() as taker:  # held: no other socket gets it meanwhile
        taker.bind(("127.0.0.1", port))


def test_a_real_time_judge_shares_no_clock() -> None:
    with JudgeSide(real_time=True) as judge, pytest.raises(TypeError, match="shares no clock"):
        judge.clock  # noqa: B018


def test_the_judges_own_log_records_are_not_the_students(monkeypatch: pytest.MonkeyPatch) -> None:
    """A local run: the judge's servers log in the test's process while the scenario runs; its capture leaves
    them out."""
    import logging

    async def logs(request: web.Request) -> web.Response:
        logging.getLogger("judge").warning("the judge's own record")
        return web.Response(text="answered")

    app = web.Application()
    app.router.add_get("/", logs)
    module = types.ModuleType("stand_in_for_a_students_logging_module")
    monkeypatch.setitem(sys.modules, module.__name__, module)

    async def logs_and_fetches(url: str) -> str:
        logging.getLogger("student").warning("fetching %s", url.rpartition("/")[2] or "/")
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return await response.text()

    module.logs_and_fetches = logs_and_fetches
    with JudgeSide() as judge:
        params = {"function": "logs_and_fetches", "args": [judge.serve(app) + "/"], "clock": judge.clock}
        reply = probes.execute(probes.reference(kit.call_async), protocol.encode(params), module.__name__)
    assert protocol.decode(reply["result"])["outcome"] == {"value": "answered"}
    assert [(log["logger"], log["message"]) for log in reply["logs"]] == [("student", "fetching /")]


def test_the_judges_time_after_a_run_is_the_time_the_run_ended() -> None:
    """``now()`` reads on the judge's loop: the follower may end before the judge's thread applied its last move."""
    for _ in range(100):
        with JudgeSide() as judge:
            loop = FollowerLoop(judge.clock)
            loop.run_until_complete(asyncio.sleep(1))
            loop.close()
            assert judge.now() == 1.0
