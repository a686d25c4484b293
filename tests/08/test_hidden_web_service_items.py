"""Hidden tests for assignment 08, part 1: the items API (state, validation, status codes).

Each test runs the app made by `create_app` on a real loopback server and
talks to it with a plain aiohttp client; aioresponses is on, loopback is real.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

import web_service
from coursekit.web import Service, app_from, running
from coursekit.web import upstream_mocked  # noqa: F401  (an autouse fixture)

# aiohttp's own deprecation notices (e.g. returning, not raising, a web.HTTPException) are
# not mistakes this assignment grades: the app still answers correctly on this aiohttp.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:aiohttp")


async def post_item(service: Service, name: Any, price: Any) -> dict[str, Any]:
    """POST a valid item and return the stored item, failing clearly if it was refused."""
    reply = await service.call("POST", "/items", json={"name": name, "price": price})
    assert reply.status == 201, (
        f"POST /items {{'name': {name!r}, 'price': {price!r}}}: expected 201, got {reply.status} {reply.text[:200]!r}"
    )
    item = reply.json()
    assert isinstance(item, dict) and "id" in item, f"POST /items should answer the stored item, got {reply.text!r}"
    return item


async def assert_rejected(service: Service, body: Any, *, why: str, raw: bytes | None = None) -> None:
    """POST /items with ``body`` (or the raw bytes) must answer 400 {"error": "<non-empty text>"}."""
    if raw is not None:
        reply = await service.call("POST", "/items", data=raw, headers={"Content-Type": "application/json"})
        shown = raw
    else:
        reply = await service.call("POST", "/items", json=body)
        shown = json.dumps(body)
    assert reply.status == 400, (
        f"POST /items with {shown!r} ({why}): expected 400, got {reply.status} {reply.text[:200]!r}"
    )
    error = reply.json()
    assert isinstance(error, dict) and isinstance(error.get("error"), str) and error["error"], (
        f'POST /items with {shown!r}: expected a body {{"error": "<what is wrong>"}}, got {reply.text!r}'
    )


async def listing(service: Service) -> list[Any]:
    """GET /items, checked to answer 200 with a JSON list."""
    reply = await service.call("GET", "/items")
    assert reply.status == 200, f"GET /items: expected 200, got {reply.status} {reply.text[:200]!r}"
    items = reply.json()
    assert isinstance(items, list), f"GET /items should answer a JSON list, got {reply.text!r}"
    return items


@pytest.mark.points(4)
async def test_two_apps_never_share_items(looptime):
    """Two apps running side by side keep separate items, and each numbers its own from 1."""
    async with running(app_from(web_service.create_app)) as first, running(app_from(web_service.create_app)) as second:
        apple = await post_item(first, "apple", 1)
        banana = await post_item(second, "banana", 2)
        assert apple["id"] == 1 and banana["id"] == 1, (
            f"each app numbers its own items from 1: got id {apple['id']!r} in the first app and "
            f"{banana['id']!r} in the second. Keep the items in the app's state (app[key] = ...), "
            "not in a module global or a class attribute."
        )
        in_first, in_second = await listing(first), await listing(second)
    assert in_first == [apple] and in_second == [banana], (
        f"the apps must not share items: the first lists {in_first!r}, the second {in_second!r}. "
        "Create the store inside create_app and keep it in the app's state."
    )


@pytest.mark.points(2)
async def test_fresh_app_starts_empty_with_id_1(looptime):
    """An app created after another one was used starts with no items, and its first id is 1."""
    async with running(app_from(web_service.create_app)) as used:
        for name in ["a", "b", "c"]:
            await post_item(used, name, 1)
    async with running(app_from(web_service.create_app)) as fresh:
        before = await listing(fresh)
        item = await post_item(fresh, "first", 5)
    assert before == [], f"a fresh app should list no items, got {before!r} (state left over from another app)"
    assert item["id"] == 1, f"the first item of a fresh app should get id 1, got {item['id']!r}"


@pytest.mark.points(2)
async def test_get_item_by_id_returns_that_item(looptime):
    """GET /items/{id} answers 200 with exactly the item stored under that id."""
    async with running(app_from(web_service.create_app)) as service:
        await post_item(service, "fork", 2)
        spoon = await post_item(service, "spoon", 2.25)
        await post_item(service, "knife", 3)
        reply = await service.call("GET", "/items/2")
    expected = {"id": 2, "name": "spoon", "price": 2.25}
    assert spoon == expected, f"the second POST should store {expected!r}, answered {spoon!r}"
    assert reply.status == 200 and reply.json() == expected, (
        f"GET /items/2: expected 200 with {expected!r}, got {reply.status} {reply.text[:200]!r}"
    )


@pytest.mark.points(2)
async def test_ids_increase_and_are_not_reused_after_delete(looptime):
    """Ids go 1, 2, 3; after deleting item 1 the next item gets a new, larger id and nothing is overwritten."""
    async with running(app_from(web_service.create_app)) as service:
        ids = [(await post_item(service, name, 1))["id"] for name in ["a", "b", "c"]]
        assert ids == [1, 2, 3], f"ids should start at 1 and increase: expected [1, 2, 3], got {ids!r}"
        deleted = await service.call("DELETE", "/items/1")
        assert deleted.status == 204, f"DELETE /items/1: expected 204, got {deleted.status}"
        new = await post_item(service, "d", 1)
        items = await listing(service)
    assert isinstance(new["id"], int) and new["id"] > 3, (
        f"after items 1-3 (item 1 deleted), the next id should be larger than 3, got {new['id']!r}: "
        "count ids with a counter, not with len(items)"
    )
    names = [item.get("name") for item in items]
    assert names == ["b", "c", "d"], f"expected items b, c, d to remain, GET /items gave {items!r}"


@pytest.mark.points(3)
async def test_post_rejects_missing_empty_or_non_string_name(looptime):
    """POST /items answers 400 when name is missing, empty, or not a string, and stores nothing."""
    async with running(app_from(web_service.create_app)) as service:
        await assert_rejected(service, {"price": 1}, why="no name")
        await assert_rejected(service, {"name": "", "price": 1}, why="empty name")
        await assert_rejected(service, {"name": 123, "price": 1}, why="name is a number")
        await assert_rejected(service, {"name": None, "price": 1}, why="name is null")
        await assert_rejected(service, {"name": ["mug"], "price": 1}, why="name is a list")
        items = await listing(service)
    assert items == [], f"rejected POSTs must store nothing, GET /items gave {items!r}"


@pytest.mark.points(3)
async def test_post_rejects_negative_or_non_number_price(looptime):
    """POST /items answers 400 when price is missing, negative, a string, null or a list, and stores nothing."""
    async with running(app_from(web_service.create_app)) as service:
        await assert_rejected(service, {"name": "mug"}, why="no price")
        await assert_rejected(service, {"name": "mug", "price": -1}, why="negative price")
        await assert_rejected(service, {"name": "mug", "price": -0.01}, why="negative price")
        await assert_rejected(service, {"name": "mug", "price": "5"}, why="price is a string, not a number")
        await assert_rejected(service, {"name": "mug", "price": None}, why="price is null")
        await assert_rejected(service, {"name": "mug", "price": [5]}, why="price is a list")
        items = await listing(service)
    assert items == [], f"rejected POSTs must store nothing, GET /items gave {items!r}"


@pytest.mark.points(1)
async def test_post_rejects_boolean_price(looptime):
    """POST /items answers 400 for "price": true or false: a JSON boolean is not a number."""
    async with running(app_from(web_service.create_app)) as service:
        for flag in (True, False):
            await assert_rejected(
                service,
                {"name": "mug", "price": flag},
                why="a boolean is not a number; in Python bool is a subclass of int, so check for it first",
            )


@pytest.mark.points(2)
async def test_post_accepts_zero_integer_and_float_prices(looptime):
    """Prices 0, 7 and 0.5 are all valid (a number >= 0), stored and answered unchanged."""
    async with running(app_from(web_service.create_app)) as service:
        stored = [await post_item(service, name, price) for name, price in [("free", 0), ("int", 7), ("half", 0.5)]]
    prices = [item.get("price") for item in stored]
    assert prices == [0, 7, 0.5], f"expected the prices 0, 7, 0.5 back unchanged, got {prices!r}"
    names = [item.get("name") for item in stored]
    assert names == ["free", "int", "half"], f"expected the names back unchanged, got {names!r}"


@pytest.mark.points(1)
async def test_post_rejects_json_that_is_not_an_object(looptime):
    """POST /items with valid JSON that is not an object (a list, a string, a number) answers 400."""
    async with running(app_from(web_service.create_app)) as service:
        await assert_rejected(service, [{"name": "mug", "price": 1}], why="a list, not an object")
        await assert_rejected(service, "mug", why="a string, not an object")
        await assert_rejected(service, 12, why="a number, not an object")
        items = await listing(service)
    assert items == [], f"rejected POSTs must store nothing, GET /items gave {items!r}"


@pytest.mark.points(1)
async def test_post_other_invalid_bodies_are_400(looptime):
    """POST /items with an empty body, plain text, single-quoted pseudo-JSON or non-UTF-8 bytes answers 400."""
    async with running(app_from(web_service.create_app)) as service:
        await assert_rejected(service, None, raw=b"", why="an empty body")
        await assert_rejected(service, None, raw=b"name=mug&price=1", why="not JSON")
        await assert_rejected(service, None, raw=b"{'name': 'mug', 'price': 1}", why="single quotes are not JSON")
        await assert_rejected(
            service, None, raw=b'{"name": "\xff\xfe", "price": 1}', why="bytes that are not UTF-8 are not JSON"
        )
        items = await listing(service)
    assert items == [], f"rejected POSTs must store nothing, GET /items gave {items!r}"


@pytest.mark.points(1)
async def test_get_non_numeric_id_is_404(looptime):
    """GET /items/abc (and /items/1.5) answers 404 {"error": "not found"}, not 400 or 500."""
    async with running(app_from(web_service.create_app)) as service:
        await post_item(service, "mug", 1)
        for path in ["/items/abc", "/items/1.5"]:
            reply = await service.call("GET", path)
            assert reply.status == 404, f"GET {path}: expected 404, got {reply.status} {reply.text[:200]!r}"
            assert reply.json() == {"error": "not found"}, (
                f'GET {path}: expected {{"error": "not found"}}, got {reply.text!r}'
            )


@pytest.mark.points(3)
async def test_delete_answers_204_then_the_item_is_gone(looptime):
    """DELETE /items/{id} answers 204 with no body; then GET and DELETE of that id answer 404."""
    async with running(app_from(web_service.create_app)) as service:
        await post_item(service, "keep", 1)
        await post_item(service, "drop", 2)
        deleted = await service.call("DELETE", "/items/2")
        assert deleted.status == 204, f"DELETE /items/2: expected 204, got {deleted.status} {deleted.text[:200]!r}"
        assert deleted.text == "", f"a 204 answer has no body, got {deleted.text[:200]!r}"
        fetched = await service.call("GET", "/items/2")
        again = await service.call("DELETE", "/items/2")
        items = await listing(service)
    assert fetched.status == 404 and fetched.json() == {"error": "not found"}, (
        f'GET /items/2 after deleting it: expected 404 {{"error": "not found"}}, got {fetched.status} {fetched.text!r}'
    )
    assert again.status == 404 and again.json() == {"error": "not found"}, (
        f'a second DELETE /items/2: expected 404 {{"error": "not found"}}, got {again.status} {again.text!r}'
    )
    assert items == [{"id": 1, "name": "keep", "price": 1}], (
        f"only item 1 should remain, GET /items gave {items!r}"
    )


@pytest.mark.points(1)
async def test_delete_missing_or_non_numeric_id_is_404(looptime):
    """DELETE /items/99 (no such item) and DELETE /items/abc answer 404 {"error": "not found"}."""
    async with running(app_from(web_service.create_app)) as service:
        await post_item(service, "mug", 1)
        for path in ["/items/99", "/items/abc"]:
            reply = await service.call("DELETE", path)
            assert reply.status == 404, f"DELETE {path}: expected 404, got {reply.status} {reply.text[:200]!r}"
            assert reply.json() == {"error": "not found"}, (
                f'DELETE {path}: expected {{"error": "not found"}}, got {reply.text!r}'
            )
        items = await listing(service)
    assert len(items) == 1, f"a failed DELETE must not remove anything, GET /items gave {items!r}"
