"""Hidden tests for assignment 08, part 1: the items API (state, validation, status codes).

Each test has the scenario `p08.serve_app` serve the app(s) made by
`create_app` on loopback ports of the student process, and is itself the
client (`p08.serve`): it sends its script of requests from its own event loop,
on the clock it shares with the student's, and decodes and compares the
answers here. Names, prices, how many items and which ids are drawn per run
from `student.rng`; the edge cases stay.
"""
from __future__ import annotations

import json
import random
from typing import Any

import pytest

from coursekit.i18n import N_
from coursekit.probes.p08 import Exchange, request, serve
from coursekit.web import Reply

STUDENT_MODULE = "web_service"

WORDS = [
    "apple", "banana", "teapot", "mug", "fork", "spoon", "knife", "lamp", "chair", "kettle", "plate", "bowl",
    "cup", "jar", "vase", "candle", "towel", "basket", "clock", "pen", "crème brûlée", "Zürich mug", "茶碗",
]
# Ids that are not plain numbers: letters only, so none can be read as an int or a float.
NOT_NUMBERS = ["abc", "mug", "xyz", "first", "one", "id", "last", "item", "null", "none"]


def names(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct item names."""
    return rng.sample(WORDS, count)


def a_price(rng: random.Random) -> int | float:
    """A valid price: an int or a float with cents, >= 0."""
    return rng.randint(0, 500) if rng.random() < 0.5 else round(rng.uniform(0.01, 500), 2)


def post(name: Any, price: Any, *, app: int = 0) -> dict[str, Any]:
    """The scripted request POST /items {"name": name, "price": price}."""
    return request("POST", "/items", json={"name": name, "price": price}, app=app)


def post_raw(raw: bytes) -> dict[str, Any]:
    """The scripted request POST /items with these bytes as a JSON body."""
    return request("POST", "/items", data=raw, headers={"Content-Type": "application/json"})


def posted(run: Exchange, index: int, name: Any, price: Any) -> dict[str, Any]:
    """The stored item a POST answered, failing clearly if it was refused."""
    reply = run.reply(index)
    assert reply.status == 201, (
        f"POST /items {{'name': {name!r}, 'price': {price!r}}}: expected 201, got {reply.status} {reply.text[:200]!r}"
    )
    item = reply.json()
    assert isinstance(item, dict) and "id" in item, f"POST /items should answer the stored item, got {reply.text!r}"
    return item


def assert_rejected(run: Exchange, index: int, body: Any, *, why: str, raw: bytes | None = None) -> None:
    """The POST /items of ``body`` (or the raw bytes) answered 400 {"error": "<non-empty text>"}."""
    reply = run.reply(index)
    shown = raw if raw is not None else json.dumps(body)
    assert reply.status == 400, (
        f"POST /items with {shown!r} ({why}): expected 400, got {reply.status} {reply.text[:200]!r}"
    )
    error = reply.json()
    assert isinstance(error, dict) and isinstance(error.get("error"), str) and error["error"], (
        f'POST /items with {shown!r}: expected a body {{"error": "<what is wrong>"}}, got {reply.text!r}'
    )


def listing(reply: Reply) -> list[Any]:
    """A GET /items answer, checked to be 200 with a JSON list."""
    assert reply.status == 200, f"GET /items: expected 200, got {reply.status} {reply.text[:200]!r}"
    items = reply.json()
    assert isinstance(items, list), f"GET /items should answer a JSON list, got {reply.text!r}"
    return items


@pytest.mark.points(4)
def test_two_apps_never_share_items(student):
    """Two apps running side by side keep separate items, and each numbers its own from 1."""
    rng = student.rng
    counts = [rng.randint(1, 3), rng.randint(1, 3)]
    chosen = names(rng, sum(counts))
    goods = [[(name, a_price(rng)) for name in chosen[:counts[0]]],
             [(name, a_price(rng)) for name in chosen[counts[0]:]]]
    order = [0] * counts[0] + [1] * counts[1]
    rng.shuffle(order)  # the posts to the two apps interleaved
    script, posts, taken = [], [], [0, 0]
    for app in order:
        name, price = goods[app][taken[app]]
        taken[app] += 1
        script.append(post(name, price, app=app))
        posts.append((app, name, price))
    script += [request("GET", "/items", app=0), request("GET", "/items", app=1)]
    run = serve(student, script, apps=2)
    stored: list[list[dict[str, Any]]] = [[], []]
    for index, (app, name, price) in enumerate(posts):
        stored[app].append(posted(run, index, name, price))
    first_ids, second_ids = [item["id"] for item in stored[0]], [item["id"] for item in stored[1]]
    assert first_ids == list(range(1, counts[0] + 1)) and second_ids == list(range(1, counts[1] + 1)), (
        f"each app numbers its own items from 1: got ids {first_ids!r} in the first app and "
        f"{second_ids!r} in the second. Keep the items in the app's state (app[key] = ...), "
        "not in a module global or a class attribute."
    )
    in_first, in_second = listing(run.reply(len(posts))), listing(run.reply(len(posts) + 1))
    run.stopped()
    assert in_first == stored[0] and in_second == stored[1], (
        f"the apps must not share items: the first lists {in_first!r}, the second {in_second!r}. "
        "Create the store inside create_app and keep it in the app's state."
    )


@pytest.mark.points(2)
def test_fresh_app_starts_empty_with_id_1(student):
    """An app created after another one was used starts with no items, and its first id is 1."""
    rng = student.rng
    count = rng.randint(2, 4)
    *used, first = names(rng, count + 1)
    goods = [(name, a_price(rng)) for name in used]
    price = a_price(rng)
    script = [post(name, cost, app=0) for name, cost in goods]
    script += [request("GET", "/items", app=1), post(first, price, app=1)]
    run = serve(student, script, apps=2, one_after_another=True)
    for index, (name, cost) in enumerate(goods):
        posted(run, index, name, cost)
    run.stopped(0)
    before = listing(run.reply(count))
    item = posted(run, count + 1, first, price)
    run.stopped(1)
    assert before == [], f"a fresh app should list no items, got {before!r} (state left over from another app)"
    assert item["id"] == 1, f"the first item of a fresh app should get id 1, got {item['id']!r}"


@pytest.mark.points(2)
def test_get_item_by_id_returns_that_item(student):
    """GET /items/{id} answers 200 with exactly the item stored under that id."""
    rng = student.rng
    count = rng.randint(3, 5)
    goods = [(name, a_price(rng)) for name in names(rng, count)]
    wanted = rng.randint(2, count - 1)  # neither the first nor the last
    run = serve(student, [*(post(name, price) for name, price in goods), request("GET", f"/items/{wanted}")])
    answered = [posted(run, index, name, price) for index, (name, price) in enumerate(goods)]
    reply = run.reply(count)
    run.stopped()
    name, price = goods[wanted - 1]
    expected = {"id": wanted, "name": name, "price": price}
    assert answered[wanted - 1] == expected, (
        f"POST number {wanted} should store {expected!r}, answered {answered[wanted - 1]!r}"
    )
    assert reply.status == 200 and reply.json() == expected, (
        f"GET /items/{wanted}: expected 200 with {expected!r}, got {reply.status} {reply.text[:200]!r}"
    )


@pytest.mark.points(2)
def test_ids_increase_and_are_not_reused_after_delete(student):
    """Ids go 1, 2, 3; after deleting item 1 the next item gets a new, larger id and nothing is overwritten."""
    rng = student.rng
    count = rng.randint(3, 5)
    *chosen, last = names(rng, count + 1)
    gone = 1  # then len(items) + 1 is an id still in use
    script = [post(name, 1) for name in chosen]
    script += [request("DELETE", f"/items/{gone}"), post(last, 1), request("GET", "/items")]
    run = serve(student, script)
    ids = [posted(run, index, name, 1)["id"] for index, name in enumerate(chosen)]
    assert ids == list(range(1, count + 1)), (
        f"ids should start at 1 and increase: expected {list(range(1, count + 1))!r}, got {ids!r}"
    )
    deleted = run.reply(count)
    assert deleted.status == 204, f"DELETE /items/{gone}: expected 204, got {deleted.status}"
    new = posted(run, count + 1, last, 1)
    items = listing(run.reply(count + 2))
    run.stopped()
    assert isinstance(new["id"], int) and new["id"] > count, (
        f"after items 1-{count} (item {gone} deleted), the next id should be larger than {count}, got {new['id']!r}: "
        "count ids with a counter, not with len(items)"
    )
    remaining = [name for number, name in enumerate(chosen, start=1) if number != gone] + [last]
    found = [item.get("name") if isinstance(item, dict) else item for item in items]
    assert found == remaining, f"expected items {', '.join(remaining)} to remain, GET /items gave {items!r}"


@pytest.mark.points(3)
def test_post_rejects_missing_empty_or_non_string_name(student):
    """POST /items answers 400 when name is missing, empty, or not a string, and stores nothing."""
    rng = student.rng
    cases = [
        ({"price": a_price(rng)}, N_("no name")),
        ({"name": "", "price": a_price(rng)}, N_("empty name")),
        ({"name": rng.randint(1, 999), "price": a_price(rng)}, N_("name is a number")),
        ({"name": None, "price": a_price(rng)}, N_("name is null")),
        ({"name": names(rng, 1), "price": a_price(rng)}, N_("name is a list")),
    ]
    rng.shuffle(cases)
    run = serve(student, [*(request("POST", "/items", json=body) for body, _ in cases), request("GET", "/items")])
    for index, (body, why) in enumerate(cases):
        assert_rejected(run, index, body, why=why)
    items = listing(run.reply(len(cases)))
    run.stopped()
    assert items == [], f"rejected POSTs must store nothing, GET /items gave {items!r}"


@pytest.mark.points(3)
def test_post_rejects_negative_or_non_number_price(student):
    """POST /items answers 400 when price is missing, negative, a string, null or a list, and stores nothing."""
    rng = student.rng
    name = names(rng, 1)[0]
    cases = [
        ({"name": name}, N_("no price")),
        ({"name": name, "price": -rng.randint(1, 1000)}, N_("negative price")),
        ({"name": name, "price": -0.01}, N_("negative price")),
        ({"name": name, "price": str(rng.randint(0, 100))}, N_("price is a string, not a number")),
        ({"name": name, "price": None}, N_("price is null")),
        ({"name": name, "price": [rng.randint(0, 100)]}, N_("price is a list")),
    ]
    rng.shuffle(cases)
    run = serve(student, [*(request("POST", "/items", json=body) for body, _ in cases), request("GET", "/items")])
    for index, (body, why) in enumerate(cases):
        assert_rejected(run, index, body, why=why)
    items = listing(run.reply(len(cases)))
    run.stopped()
    assert items == [], f"rejected POSTs must store nothing, GET /items gave {items!r}"


@pytest.mark.points(1)
def test_post_rejects_boolean_price(student):
    """POST /items answers 400 for "price": true or false: a JSON boolean is not a number."""
    name = names(student.rng, 1)[0]
    bodies = [{"name": name, "price": flag} for flag in (True, False)]
    run = serve(student, [request("POST", "/items", json=body) for body in bodies])
    for index, body in enumerate(bodies):
        assert_rejected(
            run,
            index,
            body,
            why="a boolean is not a number; in Python bool is a subclass of int, so check for it first",
        )
    run.stopped()


@pytest.mark.points(2)
def test_post_accepts_zero_integer_and_float_prices(student):
    """Prices 0, 7 and 0.5 are all valid (a number >= 0), stored and answered unchanged."""
    rng = student.rng
    prices = [0, rng.randint(1, 1000), round(rng.uniform(0.01, 0.99), 2)]  # zero, an int, a float below 1
    rng.shuffle(prices)
    goods = list(zip(names(rng, 3), prices))
    run = serve(student, [post(name, price) for name, price in goods])
    stored = [posted(run, index, name, price) for index, (name, price) in enumerate(goods)]
    run.stopped()
    got = [item.get("price") for item in stored]
    assert got == prices, f"expected the prices {', '.join(map(str, prices))} back unchanged, got {got!r}"
    got_names = [item.get("name") for item in stored]
    assert got_names == [name for name, _ in goods], f"expected the names back unchanged, got {got_names!r}"


@pytest.mark.points(1)
def test_post_rejects_json_that_is_not_an_object(student):
    """POST /items with valid JSON that is not an object (a list, a string, a number) answers 400."""
    rng = student.rng
    name = names(rng, 1)[0]
    cases = [
        ([{"name": name, "price": a_price(rng)}], N_("a list, not an object")),
        (name, N_("a string, not an object")),
        (rng.randint(1, 999), N_("a number, not an object")),
    ]
    run = serve(student, [*(request("POST", "/items", json=body) for body, _ in cases), request("GET", "/items")])
    for index, (body, why) in enumerate(cases):
        assert_rejected(run, index, body, why=why)
    items = listing(run.reply(len(cases)))
    run.stopped()
    assert items == [], f"rejected POSTs must store nothing, GET /items gave {items!r}"


@pytest.mark.points(1)
def test_post_other_invalid_bodies_are_400(student):
    """POST /items with an empty body, plain text, single-quoted pseudo-JSON or non-UTF-8 bytes answers 400."""
    rng = student.rng
    name = rng.choice(NOT_NUMBERS)
    price = rng.randint(0, 100)
    cases = [
        (b"", N_("an empty body")),
        (f"name={name}&price={price}".encode(), N_("not JSON")),
        (f"{{'name': '{name}', 'price': {price}}}".encode(), N_("single quotes are not JSON")),
        (b'{"name": "\xff\xfe", "price": ' + str(price).encode() + b"}", N_("bytes that are not UTF-8 are not JSON")),
    ]
    run = serve(student, [*(post_raw(raw) for raw, _ in cases), request("GET", "/items")])
    for index, (raw, why) in enumerate(cases):
        assert_rejected(run, index, None, raw=raw, why=why)
    items = listing(run.reply(len(cases)))
    run.stopped()
    assert items == [], f"rejected POSTs must store nothing, GET /items gave {items!r}"


@pytest.mark.points(1)
def test_get_non_numeric_id_is_404(student):
    """GET /items/abc (and /items/1.5) answers 404 {"error": "not found"}, not 400 or 500."""
    rng = student.rng
    count = rng.randint(1, 3)
    # "<n>.5" with item n stored: int(float(...)) would find it.
    paths = [f"/items/{rng.choice(NOT_NUMBERS)}", f"/items/{rng.randint(1, count)}.5"]
    chosen = names(rng, count)
    run = serve(student, [*(post(name, 1) for name in chosen), *(request("GET", path) for path in paths)])
    for index, name in enumerate(chosen):
        posted(run, index, name, 1)
    for index, path in enumerate(paths, start=count):
        reply = run.reply(index)
        assert reply.status == 404, f"GET {path}: expected 404, got {reply.status} {reply.text[:200]!r}"
        assert reply.json() == {"error": "not found"}, (
            f'GET {path}: expected {{"error": "not found"}}, got {reply.text!r}'
        )
    run.stopped()


@pytest.mark.points(3)
def test_delete_answers_204_then_the_item_is_gone(student):
    """DELETE /items/{id} answers 204 with no body; then GET and DELETE of that id answer 404."""
    rng = student.rng
    count = rng.randint(2, 4)
    goods = [(name, a_price(rng)) for name in names(rng, count)]
    gone = rng.randint(1, count)
    script = [post(name, price) for name, price in goods]
    script += [request("DELETE", f"/items/{gone}"), request("GET", f"/items/{gone}"),
               request("DELETE", f"/items/{gone}"), request("GET", "/items")]
    run = serve(student, script)
    for index, (name, price) in enumerate(goods):
        posted(run, index, name, price)
    deleted = run.reply(count)
    assert deleted.status == 204, f"DELETE /items/{gone}: expected 204, got {deleted.status} {deleted.text[:200]!r}"
    assert deleted.text == "", f"a 204 answer has no body, got {deleted.text[:200]!r}"
    fetched, again = run.reply(count + 1), run.reply(count + 2)
    items = listing(run.reply(count + 3))
    run.stopped()
    assert fetched.status == 404 and fetched.json() == {"error": "not found"}, (
        f'GET /items/{gone} after deleting it: expected 404 {{"error": "not found"}}, '
        f"got {fetched.status} {fetched.text!r}"
    )
    assert again.status == 404 and again.json() == {"error": "not found"}, (
        f'a second DELETE /items/{gone}: expected 404 {{"error": "not found"}}, got {again.status} {again.text!r}'
    )
    expected = [{"id": number, "name": name, "price": price}
                for number, (name, price) in enumerate(goods, start=1) if number != gone]
    assert items == expected, (
        f"only items {[item['id'] for item in expected]!r} should remain, GET /items gave {items!r}"
    )


@pytest.mark.points(1)
def test_delete_missing_or_non_numeric_id_is_404(student):
    """DELETE /items/99 (no such item) and DELETE /items/abc answer 404 {"error": "not found"}."""
    rng = student.rng
    count = rng.randint(1, 3)
    paths = [f"/items/{rng.randint(count + 1, 999)}", f"/items/{rng.choice(NOT_NUMBERS)}"]
    chosen = names(rng, count)
    run = serve(student, [*(post(name, 1) for name in chosen), *(request("DELETE", path) for path in paths),
                          request("GET", "/items")])
    for index, name in enumerate(chosen):
        posted(run, index, name, 1)
    for index, path in enumerate(paths, start=count):
        reply = run.reply(index)
        assert reply.status == 404, f"DELETE {path}: expected 404, got {reply.status} {reply.text[:200]!r}"
        assert reply.json() == {"error": "not found"}, (
            f'DELETE {path}: expected {{"error": "not found"}}, got {reply.text!r}'
        )
    items = listing(run.reply(count + len(paths)))
    run.stopped()
    assert len(items) == count, f"a failed DELETE must not remove anything, GET /items gave {items!r}"
