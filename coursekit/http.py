"""HTTP probes shared by the aiohttp assignments (06 to 09).

- ``Traffic`` answers mocked requests through aioresponses callbacks and
  counts requests in flight on the loop clock, which measures concurrency
  exactly whatever the student used to start the requests.
- ``SessionSpy`` records every ``aiohttp.ClientSession`` created, to check
  that sessions are reused and closed.
- ``serve`` runs an aiohttp application on a real loopback server.
- ``sent_json``, ``request_times`` and ``paged_api`` read and script mocked
  traffic; ``closed_port`` gives a loopback port that refuses connections;
  ``must_not_raise`` awaits code that reports a failed URL instead of raising.
"""
from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aioresponses import CallbackResult, aioresponses
from yarl import URL

from coursekit import hints
from coursekit.testing import within

T = TypeVar("T")

LOOPBACK = ("http://127.0.0.1", "http://localhost", "http://[::1]")


def reason_for(status: int) -> str:
    """The standard reason phrase; aioresponses needs it or raise_for_status misbehaves."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


@dataclass
class Request:
    """One request seen by a mocked endpoint."""

    method: str
    url: str
    kwargs: dict[str, Any]
    at: float


@dataclass
class Traffic:
    """Mocked endpoints that record requests and the peak number in flight."""

    in_flight: int = 0
    peak: int = 0
    requests: list[Request] = field(default_factory=list)

    def reply(
        self,
        *,
        status: int = 200,
        payload: Any = None,
        body: str | bytes | None = None,
        headers: dict[str, str] | None = None,
        content_type: str | None = None,
        delay: float = 0.0,
        error: BaseException | None = None,
    ) -> Callable[..., Any]:
        """An aioresponses callback: wait ``delay`` loop seconds, then answer or raise ``error``.

        aioresponses does not consume a match whose callback raises, so a
        ``reply(error=...)`` keeps failing every later request to that URL; for
        "fail once, then succeed" sequences use ``fail``. Callbacks do not see
        the request method: register the mock per method instead.
        """
        if payload is None and body is None:
            body = ""  # aioresponses needs one of the two

        async def callback(url: Any, **kwargs: Any) -> CallbackResult:
            loop = asyncio.get_running_loop()
            self.requests.append(Request(kwargs.get("method", "GET"), str(url), kwargs, loop.time()))
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                await asyncio.sleep(delay)
            finally:
                self.in_flight -= 1
            if error is not None:
                raise error
            return CallbackResult(
                status=status,
                payload=payload,
                body=body if body is not None else "",
                headers=headers,
                content_type=content_type or ("application/json" if payload is not None else "text/plain"),
                reason=reason_for(status),
            )

        return callback

    def fail(self, error: BaseException, *, delay: float = 0.0) -> dict[str, Any]:
        """Keyword arguments for one mocked request that is recorded, then fails with ``error``.

        ``mock_http.get(url, **traffic.fail(aiohttp.ClientConnectionError()))``
        is consumed like any other match, so the next request gets the next mock.
        """
        return {"callback": self.reply(delay=delay), "exception": error}

    def urls(self) -> list[str]:
        """The URLs requested, in order."""
        return [r.url for r in self.requests]


@contextmanager
def mocked_http() -> Iterator[aioresponses]:
    """aioresponses on (the ``mock_http`` fixture): loopback stays real, any other unmatched URL fails."""
    with aioresponses(passthrough=list(LOOPBACK)) as mocked:
        yield mocked


class SessionSpy:
    """Records every ``aiohttp.ClientSession`` created while installed."""

    def __init__(self) -> None:
        self.sessions: list[aiohttp.ClientSession] = []

    def assert_all_closed(self, *, what: str) -> None:
        """Fail if a session created by the code under test is still open."""
        still_open = [s for s in self.sessions if not s.closed]
        assert not still_open, (
            f"{what} left {len(still_open)} aiohttp.ClientSession(s) open. {hints.SESSION_LEFT_OPEN}"
        )

    def close_leftovers(self) -> None:
        """Close what the code under test left open, so one failure does not spill into the next test."""
        for session in self.sessions:
            if not session.closed and session.connector is not None:
                session.connector._close()  # sync close: the test's loop may already be gone
                session._connector = None


@contextmanager
def spying_sessions() -> Iterator[SessionSpy]:
    """Record the sessions created meanwhile (the ``session_spy`` fixture; see ``SessionSpy``)."""
    spy = SessionSpy()
    original_init = aiohttp.ClientSession.__init__

    def recording_init(session: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        original_init(session, *args, **kwargs)
        spy.sessions.append(session)

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(aiohttp.ClientSession, "__init__", recording_init)
        try:
            yield spy
        finally:
            spy.close_leftovers()


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run ``app`` on a real loopback server; yields its base URL (no trailing slash)."""
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def sent_json(request: Request) -> Any:
    """The JSON body a recorded request carried, whether sent with json= or as encoded data=."""
    if request.kwargs.get("json") is not None:
        return request.kwargs["json"]
    data = request.kwargs.get("data")
    if isinstance(data, (bytes, bytearray)):
        data = data.decode()
    if isinstance(data, str):
        return json.loads(data)
    return data


def request_times(traffic: Traffic) -> list[float]:
    """Loop times at which the mocked server saw each request."""
    return [r.at for r in traffic.requests]


def paged_api(
    mock_http: aioresponses,
    url: str,
    pages: Mapping[str | None, tuple[Sequence[Any], str | None]],
) -> list[dict[str, str]]:
    """Serve a cursor-paginated endpoint at ``url``; returns the list of query dicts it saw.

    ``pages`` maps a cursor (None for the first page) to ``(items, next)``:
    a request answers ``{"items": items, "next": next}``, and a cursor not in
    ``pages`` answers 400. Any query string matches ``url``, so the test
    asserts the parameters sent from the returned list.
    """
    seen: list[dict[str, str]] = []

    async def callback(request_url: Any, **kwargs: Any) -> CallbackResult:
        query = dict(URL(str(request_url)).query)
        seen.append(query)
        if query.get("cursor") not in pages:
            return CallbackResult(status=400, payload={"error": "unknown cursor"}, reason="Bad Request")
        items, nxt = pages[query.get("cursor")]
        return CallbackResult(status=200, payload={"items": items, "next": nxt}, reason="OK")

    mock_http.get(re.compile("^" + re.escape(url) + r"(\?.*)?$"), callback=callback, repeat=True)
    return seen


def closed_port() -> int:
    """A loopback port with nothing listening on it: connecting to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def must_not_raise(aw: Awaitable[T], seconds: float, *, what: str) -> T:
    """Await ``aw`` (bounded by ``within``) for code that reports a failed URL in its result instead of raising.

    ``NotImplementedError`` propagates, so a stub gets the "not implemented"
    hint. Any other ``Exception`` (a failure of ``within`` included) fails the
    test: "``what`` must never raise for one URL, it raised ...".
    """
    try:
        return await within(aw, seconds, what=what)
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - report whatever came instead
        pytest.fail(f"{what} must never raise for one URL, it raised {hints.describe(exc)}")
