"""Hidden tests for assignment 08, part 2: the upstream call, error handling and the timing header.

Each test runs the app made by `create_app` on a real loopback server and
talks to it with a plain aiohttp client. The weather API is either mocked with
aioresponses or, where a timeout must act whichever way it is written
(asyncio.timeout, wait_for or aiohttp's ClientTimeout), a second real loopback
server. All on the virtual clock unless a test says otherwise.
"""
from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aioresponses import CallbackResult
from yarl import URL

import web_service
from coursekit import hints
from coursekit.http import closed_port, serve
from coursekit.testing import assert_nothing_left_running, tasks_now
from coursekit.web import Reply, Service, app_from, assert_timing_header, running
from coursekit.web import upstream_mocked  # noqa: F401  (an autouse fixture)

# aiohttp's own deprecation notices (e.g. returning, not raising, a web.HTTPException) are
# not mistakes this assignment grades: the app still answers correctly on this aiohttp.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:aiohttp")

# The default weather_url of create_app, with or without a query string.
WEATHER_API = re.compile(r"^http://weather\.invalid/api(\?.*)?$")
UPSTREAM_DOWN = {"error": "upstream unavailable"}

BOUND = (
    "Bound the upstream call to 2 s: asyncio.timeout(2), asyncio.wait_for(..., 2) or "
    "aiohttp.ClientTimeout(total=2), and answer 502 when it expires"
)


@asynccontextmanager
async def upstream_server(*, delay: float, payload: Any) -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """A real weather API on loopback that answers ``payload`` after ``delay`` loop seconds.

    Yields its URL and the list of query strings it received.
    """
    seen: list[dict[str, str]] = []

    async def forecast(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        await asyncio.sleep(delay)
        return web.json_response(payload)

    upstream = web.Application()
    upstream.router.add_get("/api", forecast)
    async with serve(upstream) as base:
        yield f"{base}/api", seen


def client_timeout_limit(
    kwargs: dict[str, Any], sessions: list[aiohttp.ClientSession]
) -> tuple[float, BaseException] | None:
    """When aiohttp's own ClientTimeout would end a request that never answers, and with what.

    aioresponses answers mocked requests without applying ClientTimeout, so a
    mocked slow upstream plays that part itself: a solution bounded by
    ClientTimeout (per request or on its session) sees the exception real
    aiohttp raises (TimeoutError for ``total``, ServerTimeoutError for
    ``sock_read``), at the moment real aiohttp would raise it.
    """
    if "timeout" in kwargs:
        timeout = kwargs["timeout"]
    elif sessions:
        timeout = sessions[-1].timeout
    else:
        return None
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        return (float(timeout), asyncio.TimeoutError()) if timeout > 0 else None
    limits: list[tuple[float, BaseException]] = []
    total = getattr(timeout, "total", None)
    sock_read = getattr(timeout, "sock_read", None)
    if isinstance(total, (int, float)) and total > 0:
        limits.append((float(total), asyncio.TimeoutError()))
    if isinstance(sock_read, (int, float)) and sock_read > 0:
        limits.append((float(sock_read), aiohttp.ServerTimeoutError("Timeout on reading data from socket")))
    return min(limits, key=lambda limit: limit[0]) if limits else None


def slow_mocked_upstream(service_box: list[Service], seen: list[str], *, delay: float) -> Any:
    """An aioresponses callback answering after ``delay`` loop seconds (or timing out as ClientTimeout would)."""

    async def callback(url: Any, **kwargs: Any) -> CallbackResult:
        seen.append(str(url))
        limit = client_timeout_limit(kwargs, service_box[0].app_sessions())
        if limit is not None and limit[0] < delay:
            await asyncio.sleep(limit[0])
            raise limit[1]
        await asyncio.sleep(delay)
        return CallbackResult(status=200, payload={"late": True}, reason="OK")

    return callback


def assert_upstream_down(reply: Reply, *, why: str) -> None:
    """The reply is 502 {"error": "upstream unavailable"}."""
    assert reply.status == 502, f"{why}: expected 502, got {reply.status} {reply.text[:200]!r}"
    assert reply.json() == UPSTREAM_DOWN, f"{why}: expected the body {UPSTREAM_DOWN!r}, got {reply.text!r}"


@pytest.mark.points(4)
async def test_upstream_session_opened_at_startup_and_closed_at_cleanup(looptime, mock_http, traffic, session_spy):
    """The app opens its upstream ClientSession when it starts (before any request) and closes it at clean-up."""
    mock_http.get(WEATHER_API, callback=traffic.reply(payload={"temp": 3}), repeat=True)
    before = tasks_now()
    async with running(app_from(web_service.create_app), session_spy) as service:
        opened = service.app_sessions()
        assert opened, (
            "right after start-up, before any request, the app should have opened its aiohttp.ClientSession: "
            "open it in a cleanup_ctx (or on_startup), not lazily in the handler"
        )
        assert not any(session.closed for session in opened), "the app's ClientSession was closed while the app runs"
        reply = await service.call("GET", "/weather/Rome")
        assert reply.status == 200, f"GET /weather/Rome: expected 200, got {reply.status} {reply.text[:200]!r}"
    still_open = [session for session in service.app_sessions() if not session.closed]
    assert not still_open, (
        f"after the app was shut down, {len(still_open)} ClientSession(s) it opened were still open: "
        f"close it at clean-up (the code after `yield` in a cleanup_ctx, or on_cleanup). {hints.LEFT_RUNNING}"
    )
    assert_nothing_left_running(before, what="the app, once shut down,")


@pytest.mark.points(3)
async def test_one_upstream_session_reused_for_every_request(looptime, mock_http, traffic, session_spy):
    """Every /weather request goes through the same single ClientSession the app opened at start-up."""
    mock_http.get(WEATHER_API, callback=traffic.reply(payload={"temp": 3}, delay=0.5), repeat=True)
    async with running(app_from(web_service.create_app), session_spy) as service:
        for city in ["Rome", "Lima"]:
            reply = await service.call("GET", f"/weather/{city}")
            assert reply.status == 200, f"GET /weather/{city}: expected 200, got {reply.status}"
        replies = await asyncio.gather(*(service.call("GET", f"/weather/{city}") for city in ["Kyiv", "Pune", "Nice"]))
        assert [r.status for r in replies] == [200, 200, 200], (
            f"three concurrent /weather requests: expected 200 each, got {[r.status for r in replies]!r}"
        )
        opened = service.app_sessions()
    assert len(traffic.requests) == 5, f"expected 5 upstream requests, saw {len(traffic.requests)}"
    assert len(opened) == 1, (
        f"the app created {len(opened)} aiohttp.ClientSession(s) for 5 weather requests; it should open one "
        "at start-up, keep it in the app's state and reuse it (a session per request wastes connections)"
    )


@pytest.mark.points(2)
async def test_city_is_sent_as_query_parameter(looptime, mock_http, traffic):
    """The city goes to GET {weather_url}?city={city}, the weather_url given to create_app, spaces and accents included."""
    pattern = re.compile(r"^http://weather\.test/v2/now(\?.*)?$")
    mock_http.get(pattern, callback=traffic.reply(payload={"ok": True}), repeat=True)
    async with running(app_from(web_service.create_app, weather_url="http://weather.test/v2/now")) as service:
        first = await service.call("GET", "/weather/New%20York")
        second = await service.call("GET", "/weather/Z%C3%BCrich")
    assert first.status == 200 and second.status == 200, (
        f"expected 200 for both cities, got {first.status} and {second.status}"
    )
    sent = [URL(url) for url in traffic.urls()]
    where = [(url.host, url.path) for url in sent]
    assert where == [("weather.test", "/v2/now")] * 2, (
        f"the upstream requests should go to the weather_url given to create_app, went to {traffic.urls()!r}"
    )
    cities = [url.query.get("city") for url in sent]
    assert cities == ["New York", "Zürich"], (
        f"expected the query parameter city='New York' then city='Zürich', got {cities!r} "
        "(pass it as params={'city': city})"
    )


@pytest.mark.points(3)
async def test_upstream_error_statuses_give_502(looptime, mock_http, traffic):
    """An upstream 404 or 503 makes /weather answer 502 {"error": "upstream unavailable"}."""
    mock_http.get(WEATHER_API, callback=traffic.reply(status=404, payload={"error": "unknown city"}))
    mock_http.get(WEATHER_API, callback=traffic.reply(status=503, body="maintenance"))
    async with running(app_from(web_service.create_app)) as service:
        not_found = await service.call("GET", "/weather/Atlantis")
        unavailable = await service.call("GET", "/weather/Paris")
    assert len(traffic.requests) == 2, f"expected two upstream requests, saw {traffic.urls()!r}"
    assert_upstream_down(not_found, why="the upstream answered 404 (any error status counts, not only 5xx)")
    assert_upstream_down(unavailable, why="the upstream answered 503")


@pytest.mark.points(3)
async def test_upstream_network_errors_give_502(looptime, mock_http):
    """A network error (connection error, connection refused) makes /weather answer 502, not 500."""
    mock_http.get(WEATHER_API, exception=aiohttp.ClientConnectionError("connection reset"))
    async with running(app_from(web_service.create_app)) as service:
        mocked = await service.call("GET", "/weather/Paris")
    assert_upstream_down(mocked, why="the upstream request raised aiohttp.ClientConnectionError")
    async with running(
        app_from(web_service.create_app, weather_url=f"http://127.0.0.1:{closed_port()}/api")
    ) as service:
        refused = await service.call("GET", "/weather/Paris")
    assert_upstream_down(refused, why="the upstream refused the connection (nothing listens on its port)")


@pytest.mark.points(3)
async def test_upstream_timeout_gives_502_after_2s(looptime, mock_http, session_spy):
    """An upstream that would answer only after 3 s: /weather answers 502 after 2 s of loop time."""
    box: list[Service] = []
    seen: list[str] = []
    mock_http.get(WEATHER_API, callback=slow_mocked_upstream(box, seen, delay=3), repeat=True)
    async with running(app_from(web_service.create_app), session_spy) as service:
        box.append(service)
        start = asyncio.get_running_loop().time()
        reply = await service.call("GET", "/weather/Paris")
        elapsed = asyncio.get_running_loop().time() - start
    assert seen, "the app never asked the upstream"
    assert_upstream_down(reply, why=f"the upstream did not answer within 2 s. {BOUND}")
    assert elapsed == pytest.approx(2, abs=0.2), (
        f"expected the 502 after 2 s of loop time (the upstream limit), got it after {elapsed:g} s. {BOUND}"
    )


@pytest.mark.points(4)
async def test_upstream_timeout_on_a_real_slow_server_gives_502_after_2s(looptime):
    """A real upstream server that takes 3 s: /weather answers 502 after 2 s of loop time, not after 3."""
    async with upstream_server(delay=3, payload={"late": True}) as (url, seen):
        async with running(app_from(web_service.create_app, weather_url=url)) as service:
            start = asyncio.get_running_loop().time()
            reply = await service.call("GET", "/weather/Paris")
            elapsed = asyncio.get_running_loop().time() - start
    assert seen == [{"city": "Paris"}], f"expected one upstream request with city=Paris, the server saw {seen!r}"
    assert_upstream_down(reply, why=f"the upstream did not answer within 2 s. {BOUND}")
    assert elapsed == pytest.approx(2, abs=0.2), (
        f"expected the 502 after 2 s of loop time, got it after {elapsed:g} s. {BOUND}"
    )


@pytest.mark.points(2)
async def test_upstream_answering_within_2s_is_200(looptime):
    """A real upstream server that takes 1.5 s is still in time: /weather answers 200 with its JSON."""
    forecast = {"city": "Paris", "temperature": 18}
    async with upstream_server(delay=1.5, payload=forecast) as (url, seen):
        async with running(app_from(web_service.create_app, weather_url=url)) as service:
            start = asyncio.get_running_loop().time()
            reply = await service.call("GET", "/weather/Paris")
            elapsed = asyncio.get_running_loop().time() - start
    assert reply.status == 200, (
        f"the upstream answered after 1.5 s, within the 2 s limit: expected 200, got {reply.status} "
        f"after {elapsed:g} s (is the limit shorter than 2 s?)"
    )
    assert reply.json() == forecast, f"expected the upstream JSON {forecast!r}, got {reply.text!r}"


@pytest.mark.points(1)
async def test_any_upstream_2xx_is_200(looptime, mock_http, traffic):
    """An upstream 203 or 299 (2xx statuses other than 200) is a success too; a 300 with JSON is not: 502."""
    mock_http.get(WEATHER_API, callback=traffic.reply(status=203, payload={"temp": 9}))
    mock_http.get(WEATHER_API, callback=traffic.reply(status=299, payload={"temp": 10}))
    mock_http.get(WEATHER_API, callback=traffic.reply(status=300, payload={"temp": 11}))
    async with running(app_from(web_service.create_app)) as service:
        replies = [await service.call("GET", f"/weather/{city}") for city in ("Oslo", "Bergen", "Tromso")]
    for upstream, reply, forecast in zip((203, 299), replies, ({"temp": 9}, {"temp": 10})):
        assert reply.status == 200 and reply.json() == forecast, (
            f"upstream answered {upstream} {forecast!r}: expected 200 with that JSON (a 2xx is 200 <= status < 300), "
            f"got {reply.status} {reply.text[:200]!r}"
        )
    assert replies[2].status == 502 and replies[2].json() == UPSTREAM_DOWN, (
        f"upstream answered 300 (not a 2xx, and not a redirect aiohttp follows): expected 502 {UPSTREAM_DOWN!r}, "
        f"got {replies[2].status} {replies[2].text[:200]!r}"
    )


@pytest.mark.points(2)
async def test_weather_requests_are_handled_concurrently(looptime, mock_http, traffic):
    """Three /weather requests at once, each upstream call taking 1 s, are all answered after 1 s, not 3."""
    mock_http.get(WEATHER_API, callback=traffic.reply(payload={"temp": 1}, delay=1), repeat=True)
    async with running(app_from(web_service.create_app)) as service:
        start = asyncio.get_running_loop().time()
        replies = await asyncio.gather(*(service.call("GET", f"/weather/{c}") for c in ["Rome", "Riga", "Oslo"]))
        elapsed = asyncio.get_running_loop().time() - start
    assert [r.status for r in replies] == [200, 200, 200], f"expected three 200s, got {[r.status for r in replies]!r}"
    assert traffic.peak == 3 and elapsed == pytest.approx(1), (
        f"expected the three upstream calls in flight together (1 s in all), saw at most {traffic.peak} at once "
        f"and {elapsed:g} s: no lock or blocking call may serialise the handlers. {hints.BLOCKING}"
    )


def app_with_failing_routes() -> web.Application:
    """The student's app plus two test-only routes that raise."""

    async def fails_at_once(request: web.Request) -> web.Response:
        raise KeyError("secret-key-4410")

    async def fails_later(request: web.Request) -> web.Response:
        await asyncio.sleep(0.1)
        raise ValueError("secret detail 9921")

    app = app_from(web_service.create_app)
    app.router.add_get("/test-only/at-once", fails_at_once)
    app.router.add_get("/test-only/later", fails_later)
    return app


@pytest.mark.points(3)
async def test_unhandled_exceptions_reveal_nothing_and_service_survives(looptime):
    """Any exception escaping a handler gives 500 {"error": "internal server error"} only; the service keeps working."""
    async with running(app_with_failing_routes()) as service:
        replies = [await service.call("GET", path) for path in ["/test-only/at-once", "/test-only/later"]]
        health = await service.call("GET", "/health")
    for reply in replies:
        assert reply.status == 500, f"GET {reply.path} (the handler raised): expected 500, got {reply.status}"
        assert "secret" not in reply.text and "Traceback" not in reply.text, (
            f"GET {reply.path}: the 500 body must not reveal the exception or a traceback, got {reply.text[:300]!r}"
        )
        assert reply.json() == {"error": "internal server error"}, (
            f'GET {reply.path}: expected {{"error": "internal server error"}}, got {reply.text!r}'
        )
    assert health.status == 200, f"after a 500 the service should keep working: GET /health gave {health.status}"


@pytest.mark.points(3)
async def test_http_errors_are_not_turned_into_500(looptime):
    """An unknown path still answers 404 and a wrong method 405: the error middleware must not make them 500."""
    async with running(app_from(web_service.create_app)) as service:
        unknown = await service.call("GET", "/no/such/page")
        wrong_method = await service.call("POST", "/health")
    assert unknown.status == 404, (
        f"GET /no/such/page: expected 404, got {unknown.status}. aiohttp signals it by raising "
        "web.HTTPNotFound, an Exception: let web.HTTPException through (or answer its own status) "
        "before catching Exception"
    )
    assert wrong_method.status == 405, (
        f"POST /health: expected 405 (method not allowed), got {wrong_method.status}; "
        "let web.HTTPException through (or answer its own status) before catching Exception"
    )
    allowed = wrong_method.headers.get("Allow", "")
    assert "GET" in allowed, (
        f"POST /health: the 405 should keep aiohttp's header Allow: GET (HTTP requires it), got Allow={allowed!r}. "
        "Let web.HTTPException through, or copy its headers into your own answer."
    )


@pytest.mark.points(1)
async def test_raised_redirect_keeps_status_location_and_timing(looptime):
    """A handler that raises web.HTTPFound gives a 302 with its Location and an X-Response-Time header, not a 500."""

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/health")

    app = app_from(web_service.create_app)
    app.router.add_get("/test-only/moved", moved)
    async with running(app) as service:
        reply = await service.call("GET", "/test-only/moved", allow_redirects=False)
    assert reply.status == 302, (
        f"a handler raised web.HTTPFound: expected its 302, got {reply.status} {reply.text[:200]!r}. "
        "A web.HTTPException is an answer, not a crash: let it through (or answer its own status)."
    )
    assert URL(reply.headers.get("Location", "")).path == "/health", (
        f"the 302 should keep its header Location: /health, got {reply.headers.get('Location')!r}"
    )
    assert_timing_header(reply)


@pytest.mark.points(2)
async def test_x_response_time_on_every_kind_of_response(looptime, mock_http, traffic):
    """201, 204, 400, 404 (item and unknown path), 405, 500 and 502 responses all carry X-Response-Time."""
    mock_http.get(WEATHER_API, callback=traffic.reply(status=500, body="down"), repeat=True)
    async with running(app_with_failing_routes()) as service:
        replies = [
            await service.call("POST", "/items", json={"name": "mug", "price": 1}),
            await service.call("DELETE", "/items/1"),
            await service.call("POST", "/items", json={"name": "", "price": 1}),
            await service.call("GET", "/items/1"),
            await service.call("GET", "/no/such/page"),
            await service.call("POST", "/health"),
            await service.call("GET", "/test-only/at-once"),
            await service.call("GET", "/weather/Paris"),
        ]
    for reply in replies:
        assert_timing_header(reply)


@pytest.mark.points(2)
@pytest.mark.looptime(False)
async def test_x_response_time_is_handling_time_in_milliseconds(mock_http, traffic):
    """On real time, a request whose upstream takes 0.2 s reports about 200 (milliseconds) in X-Response-Time."""
    mock_http.get(WEATHER_API, callback=traffic.reply(payload={"temp": 4}, delay=0.2), repeat=True)
    async with running(app_from(web_service.create_app)) as service:
        started = time.perf_counter()
        reply = await service.call("GET", "/weather/Paris")
        took_ms = (time.perf_counter() - started) * 1000
    assert reply.status == 200, f"GET /weather/Paris: expected 200, got {reply.status} {reply.text[:200]!r}"
    assert_timing_header(reply)
    reported = float(reply.headers["X-Response-Time"])
    assert 150 <= reported <= took_ms + 100, (
        f"the upstream took 0.2 s and the whole request {took_ms:.0f} ms, so X-Response-Time should be "
        f"about 200 (milliseconds, measured around the handler), got {reply.headers['X-Response-Time']!r}. "
        "Seconds must be multiplied by 1000."
    )


@pytest.mark.points(1)
async def test_upstream_2xx_with_a_non_json_body_gives_a_json_error(looptime, mock_http, traffic):
    """An upstream 200 whose body is not JSON gives 502 "upstream unavailable" or 500 "internal server error", as JSON."""
    mock_http.get(
        WEATHER_API,
        callback=traffic.reply(status=200, body="<html>oops</html>", content_type="application/json"),
    )
    async with running(app_from(web_service.create_app)) as service:
        reply = await service.call("GET", "/weather/Paris")
    expected = {500: {"error": "internal server error"}, 502: UPSTREAM_DOWN}
    assert reply.status in expected, (
        f"the upstream answered 200 with a body that is not JSON: expected 502 (a bad upstream) or 500 "
        f"(an unhandled error), got {reply.status} {reply.text[:200]!r}"
    )
    assert reply.json() == expected[reply.status], (
        f"with status {reply.status} the body should be {expected[reply.status]!r}, got {reply.text[:200]!r}"
    )
    assert_timing_header(reply)
