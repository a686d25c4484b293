"""Helpers for tests of an ``aiohttp.web`` application under test (assignment 08 on).

The app made by the student's ``create_app`` runs on a real loopback server
(aiohttp's ``TestServer`` on 127.0.0.1, so its start-up and clean-up code
run), and the test talks to it with a plain aiohttp client:

    async with running(app_from(web_service.create_app)) as service:
        reply = await service.call("GET", "/health")

- ``app_from`` calls the factory and checks it made an ``aiohttp.web.Application``.
- ``running`` starts and stops the app; ``Service.call`` sends one request
  and reads the whole answer into a ``Reply``.
- ``assert_timing_header`` checks the X-Response-Time header.
- ``upstream_mocked`` is an autouse pytest fixture keeping aioresponses on for
  every test of a module that imports it by name
  (``from coursekit.web import upstream_mocked  # noqa: F401``): loopback
  stays real, any other URL is mocked.

``coursekit.http.serve`` is the plain counterpart for a server the test
writes itself (a fake upstream, say): no client, no time bounds.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aioresponses import aioresponses
from multidict import CIMultiDictProxy

from coursekit.http import SessionSpy
from coursekit.testing import within


@dataclass
class Reply:
    """One answer of the service under test."""

    method: str
    path: str
    status: int
    headers: CIMultiDictProxy[str]
    text: str

    def json(self) -> Any:
        """The body parsed as JSON, or a failure that shows what came instead."""
        try:
            return json.loads(self.text)
        except ValueError:
            raise AssertionError(
                f"{self.method} {self.path}: expected a JSON body, got {self.text[:300]!r}"
            ) from None


class Service:
    """An app running on a loopback server, with an HTTP client in front of it."""

    def __init__(self, base: str, http: aiohttp.ClientSession, spy: SessionSpy | None = None) -> None:
        self.base = base
        self.http = http
        self.spy = spy

    def app_sessions(self) -> list[aiohttp.ClientSession]:
        """The ClientSessions created so far by the app (the test's own client left out)."""
        assert self.spy is not None, "pass session_spy to running() to see the app's sessions"
        return [session for session in self.spy.sessions if session is not self.http]

    async def call(self, method: str, path: str, **kwargs: Any) -> Reply:
        """Send one request to the service and read the whole answer."""

        async def exchange() -> Reply:
            async with self.http.request(method, self.base + path, **kwargs) as response:
                return Reply(method, path, response.status, response.headers, await response.text())

        return await within(exchange(), 10, what=f"the service answering {method} {path}")


def app_from(create_app: Callable[..., object], /, **kwargs: Any) -> web.Application:
    """``create_app(**kwargs)``, checked to be an aiohttp application.

    Pass the student's factory itself (``web_service.create_app``), looked up
    at each call, so a module without it fails the test, not its collection.
    """
    app = create_app(**kwargs)
    assert isinstance(app, web.Application), (
        f"create_app() should return an aiohttp.web.Application, got {type(app).__name__}"
    )
    return app


@asynccontextmanager
async def running(app: web.Application, spy: SessionSpy | None = None) -> AsyncIterator[Service]:
    """Start ``app`` on 127.0.0.1 (its start-up runs), yield a client, then clean it up.

    Start-up and clean-up are each bounded to 10 s of loop time, failing the
    test with a message naming which one hung. Pass the ``session_spy``
    fixture as ``spy`` to read the app's own sessions with
    ``Service.app_sessions()``.
    """
    server = TestServer(app, host="127.0.0.1")
    await within(server.start_server(), 10, what="starting the app (its start-up / cleanup_ctx code)")
    try:
        async with aiohttp.ClientSession() as http:
            yield Service(str(server.make_url("")).rstrip("/"), http, spy)
    finally:
        await within(server.close(), 10, what="shutting the app down (its clean-up code)")


def assert_timing_header(reply: Reply) -> None:
    """X-Response-Time is present and is a non-negative decimal number (milliseconds)."""
    value = reply.headers.get("X-Response-Time")
    assert value is not None, (
        f"{reply.method} {reply.path} answered {reply.status} without an X-Response-Time header; "
        "every response, errors included, needs it (set it in an outer middleware)"
    )
    assert re.fullmatch(r"\d+(\.\d+)?([eE][-+]?\d+)?", value.strip()) and math.isfinite(float(value)), (
        f"{reply.method} {reply.path}: X-Response-Time should be a non-negative decimal number of "
        f"milliseconds such as '3.25', got {value!r}"
    )


@pytest.fixture(autouse=True)
def upstream_mocked(mock_http: aioresponses) -> aioresponses:
    """Every test runs with aioresponses on: loopback is real, anything else (the upstream API) is mocked."""
    return mock_http
