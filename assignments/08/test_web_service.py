"""Public tests for assignment 08. Run them with `pytest assignments/08`.

Each test builds an app with `web_service.create_app(...)`, runs it on a real
loopback server (aiohttp's TestServer on 127.0.0.1) and talks to it with a
plain aiohttp client. The upstream weather API is mocked with aioresponses
(the `mock_http` fixture): loopback requests stay real, any other URL the test
did not register fails with a ClientConnectionError. The event loop runs on a
virtual clock: `looptime` is the loop's time in seconds, sleeps cost nothing.
"""
from __future__ import annotations

import re

import pytest
from aiohttp import web
from yarl import URL

import web_service
from coursekit.web import app_from, assert_timing_header, running
from coursekit.web import upstream_mocked  # noqa: F401  (an autouse fixture)

# aiohttp's own deprecation notices (e.g. returning, not raising, a web.HTTPException) are
# not mistakes this assignment grades: the app still answers correctly on this aiohttp.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:aiohttp")

# The default weather_url of create_app, with or without a query string.
WEATHER_API = re.compile(r"^http://weather\.invalid/api(\?.*)?$")
UPSTREAM_DOWN = {"error": "upstream unavailable"}


@pytest.mark.points(3)
async def test_health_returns_status_ok(looptime):
    """GET /health answers 200 with the JSON {"status": "ok"}."""
    async with running(app_from(web_service.create_app)) as service:
        reply = await service.call("GET", "/health")
    assert reply.status == 200, f"GET /health: expected status 200, got {reply.status} {reply.text[:200]!r}"
    assert reply.json() == {"status": "ok"}, f'GET /health: expected {{"status": "ok"}}, got {reply.text!r}'


@pytest.mark.points(6)
async def test_post_item_returns_201_location_and_item(looptime):
    """POST /items with a valid item answers 201, the stored item with id 1, and Location: /items/1."""
    async with running(app_from(web_service.create_app)) as service:
        reply = await service.call("POST", "/items", json={"name": "teapot", "price": 12.5})
        assert reply.status == 201, f"POST /items: expected status 201, got {reply.status} {reply.text[:200]!r}"
        item = reply.json()
        assert item == {"id": 1, "name": "teapot", "price": 12.5}, (
            f'POST /items: expected the stored item {{"id": 1, "name": "teapot", "price": 12.5}}, got {item!r}'
        )
        assert type(item["id"]) is int, f"the id should be a JSON integer, got {item['id']!r}"
        location = reply.headers.get("Location")
        assert location is not None and URL(location).path == "/items/1", (
            f"POST /items: expected the header Location: /items/1, got {location!r}"
        )
        fetched = await service.call("GET", "/items/1")
    assert fetched.status == 200 and fetched.json() == item, (
        f"GET /items/1 after the POST should answer 200 with the stored item {item!r}, "
        f"got {fetched.status} {fetched.text[:200]!r}"
    )


@pytest.mark.points(4)
async def test_list_items_returns_all_sorted_by_id(looptime):
    """GET /items answers 200 with every item, sorted by id; [] when there are none."""
    async with running(app_from(web_service.create_app)) as service:
        empty = await service.call("GET", "/items")
        assert empty.status == 200 and empty.json() == [], (
            f"GET /items on a fresh app: expected 200 and [], got {empty.status} {empty.text[:200]!r}"
        )
        for name, price in [("cup", 3), ("plate", 4.5), ("bowl", 0)]:
            created = await service.call("POST", "/items", json={"name": name, "price": price})
            assert created.status == 201, f"POST /items {name!r}: expected 201, got {created.status}"
        reply = await service.call("GET", "/items")
    expected = [
        {"id": 1, "name": "cup", "price": 3},
        {"id": 2, "name": "plate", "price": 4.5},
        {"id": 3, "name": "bowl", "price": 0},
    ]
    assert reply.status == 200, f"GET /items: expected 200, got {reply.status}"
    assert reply.json() == expected, f"GET /items: expected {expected!r} (sorted by id), got {reply.text!r}"


@pytest.mark.points(3)
async def test_get_missing_item_is_404(looptime):
    """GET /items/42 when there is no item 42 answers 404 {"error": "not found"}."""
    async with running(app_from(web_service.create_app)) as service:
        reply = await service.call("GET", "/items/42")
    assert reply.status == 404, f"GET /items/42 (no such item): expected 404, got {reply.status} {reply.text[:200]!r}"
    assert reply.json() == {"error": "not found"}, f'expected {{"error": "not found"}}, got {reply.text!r}'


@pytest.mark.points(3)
async def test_post_invalid_json_is_400(looptime):
    """POST /items with a body that is not JSON answers 400 {"error": ...} and stores nothing."""
    async with running(app_from(web_service.create_app)) as service:
        reply = await service.call(
            "POST", "/items", data=b'{"name": "lamp", "price": ', headers={"Content-Type": "application/json"}
        )
        listing = await service.call("GET", "/items")
    assert reply.status == 400, f"POST /items with broken JSON: expected 400, got {reply.status} {reply.text[:200]!r}"
    body = reply.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], (
        f'expected a body {{"error": "<what is wrong>"}}, got {reply.text!r}'
    )
    assert listing.json() == [], f"a rejected POST must store nothing, GET /items gave {listing.text!r}"


@pytest.mark.points(5)
async def test_weather_returns_upstream_json(looptime, mock_http, traffic):
    """GET /weather/Paris asks GET {weather_url}?city=Paris and answers 200 with the upstream's JSON."""
    forecast = {"city": "Paris", "temperature": 21.5, "sky": "clear"}
    mock_http.get(WEATHER_API, callback=traffic.reply(payload=forecast), repeat=True)
    async with running(app_from(web_service.create_app)) as service:
        reply = await service.call("GET", "/weather/Paris")
    assert len(traffic.requests) == 1, (
        f"expected one upstream request to http://weather.invalid/api, saw {traffic.urls()!r}"
    )
    sent = URL(traffic.requests[0].url)
    assert sent.path == "/api" and sent.query.get("city") == "Paris", (
        f"expected the upstream request GET http://weather.invalid/api?city=Paris, got {traffic.urls()[0]!r}"
    )
    assert reply.status == 200, f"GET /weather/Paris: expected 200, got {reply.status} {reply.text[:200]!r}"
    assert reply.json() == forecast, f"expected the upstream JSON {forecast!r}, got {reply.text!r}"


@pytest.mark.points(4)
async def test_weather_upstream_error_status_is_502(looptime, mock_http, traffic):
    """An upstream 500 makes GET /weather/{city} answer 502 {"error": "upstream unavailable"}."""
    mock_http.get(WEATHER_API, callback=traffic.reply(status=500, body="boom"), repeat=True)
    async with running(app_from(web_service.create_app)) as service:
        reply = await service.call("GET", "/weather/Oslo")
    assert len(traffic.requests) == 1, f"expected one upstream request, saw {traffic.urls()!r}"
    assert reply.status == 502, f"upstream answered 500: expected 502, got {reply.status} {reply.text[:200]!r}"
    assert reply.json() == UPSTREAM_DOWN, f"expected {UPSTREAM_DOWN!r}, got {reply.text!r}"


@pytest.mark.points(4)
async def test_unhandled_exception_is_500_without_traceback(looptime):
    """A handler that raises gives 500 {"error": "internal server error"}, no traceback (a test-only route is added)."""

    # The test adds its own failing route to the app create_app returned: handle errors in a middleware.
    async def explode(request: web.Request) -> web.Response:
        raise RuntimeError("secret detail 8731")

    app = app_from(web_service.create_app)
    app.router.add_get("/test-only/explode", explode)
    async with running(app) as service:
        reply = await service.call("GET", "/test-only/explode")
    assert reply.status == 500, f"a handler raised RuntimeError: expected 500, got {reply.status} {reply.text[:200]!r}"
    assert "Traceback" not in reply.text and "secret detail" not in reply.text, (
        f"the 500 body must not reveal the traceback or the exception text, got {reply.text[:300]!r}"
    )
    assert reply.json() == {"error": "internal server error"}, (
        f'expected {{"error": "internal server error"}}, got {reply.text!r}'
    )


@pytest.mark.points(3)
async def test_x_response_time_header_on_ok_and_404(looptime):
    """Responses carry X-Response-Time (milliseconds as a decimal number), a 404 included."""
    async with running(app_from(web_service.create_app)) as service:
        for path in ["/health", "/items", "/items/7"]:
            assert_timing_header(await service.call("GET", path))
