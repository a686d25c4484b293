"""Public tests for assignment 08. Run them with `pytest assignments/08`.

Each test asks for a *scenario* (`coursekit/probes/p08.py`): it builds an app
with your `create_app(...)` and serves it on a real loopback port (aiohttp's
AppRunner and TCPSite on 127.0.0.1, so your start-up and clean-up code run).
The test itself is the app's client: it sends its requests over HTTP from its
own event loop and reads the answers (status, headers, body) as any client
would. It also serves the weather API your app calls (create_app gets its URL
as `weather_url`) and counts the requests it receives. Both event loops share
one virtual clock, so sleeps cost nothing and "after 2 s" is exact. Locally
the scenario runs right here, so your prints and breakpoints work; when graded
it runs in a process of its own, apart from the tests.
"""
from __future__ import annotations

import pytest
from yarl import URL

from coursekit.probes.p08 import described, request, serve, weather_api
from coursekit.web import assert_timing_header

STUDENT_MODULE = "web_service"

UPSTREAM_DOWN = {"error": "upstream unavailable"}


@pytest.mark.points(3)
def test_health_returns_status_ok(student):
    """GET /health answers 200 with the JSON {"status": "ok"}."""
    run = serve(student, [request("GET", "/health")])
    reply = run.reply(0)
    run.stopped()
    assert reply.status == 200, f"GET /health: expected status 200, got {reply.status} {reply.text[:200]!r}"
    assert reply.json() == {"status": "ok"}, f'GET /health: expected {{"status": "ok"}}, got {reply.text!r}'


@pytest.mark.points(6)
def test_post_item_returns_201_location_and_item(student):
    """POST /items with a valid item answers 201, the stored item with id 1, and Location: /items/1."""
    run = serve(student, [request("POST", "/items", json={"name": "teapot", "price": 12.5}),
                          request("GET", "/items/1")])
    reply = run.reply(0)
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
    fetched = run.reply(1)
    run.stopped()
    assert fetched.status == 200 and fetched.json() == item, (
        f"GET /items/1 after the POST should answer 200 with the stored item {item!r}, "
        f"got {fetched.status} {fetched.text[:200]!r}"
    )


@pytest.mark.points(4)
def test_list_items_returns_all_sorted_by_id(student):
    """GET /items answers 200 with every item, sorted by id; [] when there are none."""
    goods = [("cup", 3), ("plate", 4.5), ("bowl", 0)]
    run = serve(student, [request("GET", "/items"),
                          *(request("POST", "/items", json={"name": name, "price": price}) for name, price in goods),
                          request("GET", "/items")])
    empty = run.reply(0)
    assert empty.status == 200 and empty.json() == [], (
        f"GET /items on a fresh app: expected 200 and [], got {empty.status} {empty.text[:200]!r}"
    )
    for index, (name, _price) in enumerate(goods, start=1):
        created = run.reply(index)
        assert created.status == 201, f"POST /items {name!r}: expected 201, got {created.status}"
    reply = run.reply(len(goods) + 1)
    run.stopped()
    expected = [
        {"id": 1, "name": "cup", "price": 3},
        {"id": 2, "name": "plate", "price": 4.5},
        {"id": 3, "name": "bowl", "price": 0},
    ]
    assert reply.status == 200, f"GET /items: expected 200, got {reply.status}"
    assert reply.json() == expected, f"GET /items: expected {expected!r} (sorted by id), got {reply.text!r}"


@pytest.mark.points(3)
def test_get_missing_item_is_404(student):
    """GET /items/42 when there is no item 42 answers 404 {"error": "not found"}."""
    run = serve(student, [request("GET", "/items/42")])
    reply = run.reply(0)
    run.stopped()
    assert reply.status == 404, f"GET /items/42 (no such item): expected 404, got {reply.status} {reply.text[:200]!r}"
    assert reply.json() == {"error": "not found"}, f'expected {{"error": "not found"}}, got {reply.text!r}'


@pytest.mark.points(3)
def test_post_invalid_json_is_400(student):
    """POST /items with a body that is not JSON answers 400 {"error": ...} and stores nothing."""
    run = serve(student, [
        request("POST", "/items", data=b'{"name": "lamp", "price": ', headers={"Content-Type": "application/json"}),
        request("GET", "/items"),
    ])
    reply, listing = run.reply(0), run.reply(1)
    run.stopped()
    assert reply.status == 400, f"POST /items with broken JSON: expected 400, got {reply.status} {reply.text[:200]!r}"
    body = reply.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], (
        f'expected a body {{"error": "<what is wrong>"}}, got {reply.text!r}'
    )
    assert listing.json() == [], f"a rejected POST must store nothing, GET /items gave {listing.text!r}"


@pytest.mark.points(5)
def test_weather_returns_upstream_json(student):
    """GET /weather/Paris asks GET {weather_url}?city=Paris and answers 200 with the upstream's JSON."""
    forecast = {"city": "Paris", "temperature": 21.5, "sky": "clear"}
    run = serve(student, [request("GET", "/weather/Paris")], upstream=weather_api({"payload": forecast}, repeat=True))
    reply = run.reply(0)
    run.stopped()
    seen = [described(sent) for sent in run.upstream_requests]
    assert len(seen) == 1, f"expected one upstream request to the weather_url given to create_app, saw {seen!r}"
    sent = run.upstream_requests[0]
    assert sent.path == "/api" and sent.query.get("city") == "Paris", (
        f"expected the upstream request GET {{weather_url}}?city=Paris (path /api), got {seen[0]!r}"
    )
    assert reply.status == 200, f"GET /weather/Paris: expected 200, got {reply.status} {reply.text[:200]!r}"
    assert reply.json() == forecast, f"expected the upstream JSON {forecast!r}, got {reply.text!r}"


@pytest.mark.points(4)
def test_weather_upstream_error_status_is_502(student):
    """An upstream 500 makes GET /weather/{city} answer 502 {"error": "upstream unavailable"}."""
    run = serve(student, [request("GET", "/weather/Oslo")],
                upstream=weather_api({"status": 500, "body": "boom"}, repeat=True))
    reply = run.reply(0)
    run.stopped()
    seen = [described(sent) for sent in run.upstream_requests]
    assert len(seen) == 1, f"expected one upstream request, saw {seen!r}"
    assert reply.status == 502, f"upstream answered 500: expected 502, got {reply.status} {reply.text[:200]!r}"
    assert reply.json() == UPSTREAM_DOWN, f"expected {UPSTREAM_DOWN!r}, got {reply.text!r}"


@pytest.mark.points(4)
def test_unhandled_exception_is_500_without_traceback(student):
    """A handler that raises gives 500 {"error": "internal server error"}, no traceback (a test-only route is added)."""
    # The scenario adds its own failing route to the app create_app returned: handle errors in a middleware.
    explode = {"path": "/test-only/explode", "raises": ["RuntimeError", "secret detail 8731"]}
    run = serve(student, [request("GET", "/test-only/explode")], extra_routes=[explode])
    reply = run.reply(0)
    run.stopped()
    assert reply.status == 500, f"a handler raised RuntimeError: expected 500, got {reply.status} {reply.text[:200]!r}"
    assert "Traceback" not in reply.text and "secret detail" not in reply.text, (
        f"the 500 body must not reveal the traceback or the exception text, got {reply.text[:300]!r}"
    )
    assert reply.json() == {"error": "internal server error"}, (
        f'expected {{"error": "internal server error"}}, got {reply.text!r}'
    )


@pytest.mark.points(3)
def test_x_response_time_header_on_ok_and_404(student):
    """Responses carry X-Response-Time (milliseconds as a decimal number), a 404 included."""
    paths = ["/health", "/items", "/items/7"]
    run = serve(student, [request("GET", path) for path in paths])
    for index in range(len(paths)):
        assert_timing_header(run.reply(index))
    run.stopped()
