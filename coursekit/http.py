"""HTTP probes shared by the aiohttp assignments (06 to 09).

- ``Traffic`` answers mocked requests through aioresponses callbacks and
  counts requests in flight on the loop clock, which measures concurrency
  exactly whatever the student used to start the requests.
- ``SessionSpy`` records every ``aiohttp.ClientSession`` created, to check
  that sessions are reused and closed.
- ``serve`` runs an aiohttp application on a real loopback server.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aioresponses import CallbackResult, aioresponses

from coursekit import hints

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
                body=body,
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


@pytest.fixture
def mock_http() -> Iterator[aioresponses]:
    """aioresponses for the test; loopback stays real, any other unmatched URL fails."""
    with aioresponses(passthrough=list(LOOPBACK)) as mocked:
        yield mocked


@pytest.fixture
def traffic() -> Traffic:
    """A fresh ``Traffic`` recorder."""
    return Traffic()


class SessionSpy:
    """Records every ``aiohttp.ClientSession`` created while installed."""

    def __init__(self) -> None:
        self.sessions: list[aiohttp.ClientSession] = []

    def assert_all_closed(self, *, what: str) -> None:
        """Fail if a session created by the code under test is still open."""
        still_open = [s for s in self.sessions if not s.closed]
        assert not still_open, (
            f"{what} left {len(still_open)} aiohttp.ClientSession(s) open. {hints.LEFT_RUNNING}"
        )

    def close_leftovers(self) -> None:
        """Close what the code under test left open, so one failure does not spill into the next test."""
        for session in self.sessions:
            if not session.closed and session.connector is not None:
                session.connector._close()  # sync close: the test's loop may already be gone
                session._connector = None


@pytest.fixture
def session_spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[SessionSpy]:
    """Record the sessions created during the test (see ``SessionSpy``)."""
    spy = SessionSpy()
    original_init = aiohttp.ClientSession.__init__

    def recording_init(session: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        original_init(session, *args, **kwargs)
        spy.sessions.append(session)

    monkeypatch.setattr(aiohttp.ClientSession, "__init__", recording_init)
    yield spy
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
