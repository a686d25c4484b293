"""Hidden tests for assignment 08, part 2: the upstream call, error handling and the timing header.

Each test has the scenario `p08.serve_app` serve the app made by `create_app`
on a loopback port of the student process, and is itself the app's client
(`p08.serve`): it sends its requests from its own loop and reads the answers.
The weather API is served by the test too (`p08.weather_api`): it counts every
request (path, query, arrival and leave times, how many in flight, whether the
app gave up on it) and answers as scripted (statuses, bodies, delays, a dropped
or reset connection, a body cut short), or its port refuses connections. Both
loops share one virtual clock unless a test says otherwise; what only the
student process can see (its ClientSessions, the tasks left running) comes
from the scenario. Cities, payloads, delays, statuses within their class,
counts, faults, paths, error texts and test-only routes are drawn per run from
`student.rng`; the edge cases stay.
"""
from __future__ import annotations

import random
from typing import Any
from urllib.parse import quote

import pytest
from yarl import URL

from coursekit import hints
from coursekit.probes.p08 import Exchange, described, refusing, request, serve, together, weather_api
from coursekit.web import Reply, assert_timing_header

STUDENT_MODULE = "web_service"

UPSTREAM_DOWN = {"error": "upstream unavailable"}

BOUND = (
    "Bound the upstream call to 2 s: asyncio.timeout(2), asyncio.wait_for(..., 2) or "
    "aiohttp.ClientTimeout(total=2), and answer 502 when it expires"
)

CITIES = ["Paris", "Rome", "Lima", "Oslo", "Kyiv", "Pune", "Nice", "Riga", "Bergen", "Tromso", "Quito", "Hanoi",
          "Dakar", "Perth", "Turku", "Cork"]
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"]


# Broken answers of the judge's weather API, each a network error for the app's client.
FAULTS = {
    "disconnect": "the upstream closed the connection without answering",
    "reset": "the upstream reset the connection",
    "truncated": "the upstream's answer broke off in the middle of its body",
}


def weather(city: str) -> dict[str, Any]:
    """The scripted request GET /weather/{city}, the city percent-encoded in the path."""
    return request("GET", f"/weather/{quote(city)}")


def cities(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct city names."""
    return rng.sample(CITIES, count)


def forecast(rng: random.Random, city: str) -> dict[str, Any]:
    """An upstream payload for ``city``."""
    return {"city": city, "temperature": rng.randint(-30, 45), "sky": rng.choice(["clear", "rain", "fog", "snow"])}


def assert_upstream_down(reply: Reply, *, why: str) -> None:
    """The reply is 502 {"error": "upstream unavailable"}."""
    assert reply.status == 502, f"{why}: expected 502, got {reply.status} {reply.text[:200]!r}"
    assert reply.json() == UPSTREAM_DOWN, f"{why}: expected the body {UPSTREAM_DOWN!r}, got {reply.text!r}"


def upstream_seen(run: Exchange) -> list[str]:
    """The requests the judge's weather API received, as ``path?query`` strings, in order."""
    return [described(seen) for seen in run.upstream_requests]


@pytest.mark.points(4)
def test_upstream_session_opened_at_startup_and_closed_at_cleanup(student):
    """The app opens its upstream ClientSession when it starts (before any request) and closes it at clean-up."""
    city = cities(student.rng, 1)[0]
    run = serve(student, [weather(city)], upstream=weather_api({"payload": forecast(student.rng, city)}, repeat=True))
    opened = run.sessions["at_start"]
    assert opened, (
        "right after start-up, before any request, the app should have opened its aiohttp.ClientSession: "
        "open it in a cleanup_ctx (or on_startup), not lazily in the handler"
    )
    assert not any(opened), "the app's ClientSession was closed while the app runs"
    reply = run.reply(0)
    assert reply.status == 200, f"GET /weather/{city}: expected 200, got {reply.status} {reply.text[:200]!r}"
    run.stopped()
    still_open = run.sessions["open_after_shutdown"]
    assert not still_open, (
        f"after the app was shut down, {still_open} ClientSession(s) it opened were still open: "
        f"close it at clean-up (the code after `yield` in a cleanup_ctx, or on_cleanup). {hints.LEFT_RUNNING}"
    )
    left = run.left_running
    assert not left, (
        f"the app, once shut down, returned while {len(left)} task(s) it started were still running. "
        f"{hints.LEFT_RUNNING}"
    )


@pytest.mark.points(3)
def test_one_upstream_session_reused_for_every_request(student):
    """Every /weather request goes through the same single ClientSession the app opened at start-up."""
    rng = student.rng
    one_by_one, at_once = rng.randint(1, 3), rng.randint(2, 4)
    names = cities(rng, one_by_one + at_once)
    delay = round(rng.uniform(0.1, 1.5), 2)
    script = [weather(city) for city in names[:one_by_one]] + [together(*(weather(c) for c in names[one_by_one:]))]
    run = serve(student, script, upstream=weather_api({"payload": {"temp": 3}, "delay": delay}, repeat=True))
    for index, city in enumerate(names[:one_by_one]):
        reply = run.reply(index)
        assert reply.status == 200, f"GET /weather/{city}: expected 200, got {reply.status}"
    statuses = [reply.status for reply in run.replies(range(one_by_one, len(names)))]
    assert statuses == [200] * at_once, (
        f"{at_once} concurrent /weather requests: expected 200 each, got {statuses!r}"
    )
    opened = run.sessions["before_shutdown"]
    run.stopped()
    total = len(names)
    seen = len(run.upstream_requests)
    assert seen == total, f"expected {total} upstream requests, saw {seen}"
    assert opened == 1, (
        f"the app created {opened} aiohttp.ClientSession(s) for {total} weather requests; it should open one "
        "at start-up, keep it in the app's state and reuse it (a session per request wastes connections)"
    )


@pytest.mark.points(2)
def test_city_is_sent_as_query_parameter(student):
    """The city goes to GET {weather_url}?city={city}, the weather_url given to create_app, spaces and accents included."""
    rng = student.rng
    # The judge's weather API on a port of its own, at a path drawn per run: create_app's weather_url.
    path = rng.choice(["/v2/now", "/api/current", "/now", "/v1/weather"])
    spaced = rng.choice(["New York", "Rio de Janeiro", "Buenos Aires", "Los Angeles", "Hong Kong"])
    accented = rng.choice(["Zürich", "São Paulo", "Kraków", "Malmö", "Besançon", "Reykjavík"])
    run = serve(student, [weather(spaced), weather(accented)],
                upstream=weather_api({"payload": {"ok": True}}, repeat=True, path=path))
    first, second = run.reply(0), run.reply(1)
    run.stopped()
    assert first.status == 200 and second.status == 200, (
        f"expected 200 for both cities, got {first.status} and {second.status}"
    )
    urls = upstream_seen(run)
    where = [seen.path for seen in run.upstream_requests]
    assert where == [path] * 2, (
        f"the upstream requests should go to the weather_url given to create_app (path {path}), went to {urls!r}"
    )
    got = [seen.query.get("city") for seen in run.upstream_requests]
    assert got == [spaced, accented], (
        f"expected the query parameter city={spaced!r} then city={accented!r}, got {got!r} "
        "(pass it as params={'city': city})"
    )


@pytest.mark.points(3)
def test_upstream_error_statuses_give_502(student):
    """An upstream 404 or 503 makes /weather answer 502 {"error": "upstream unavailable"}."""
    rng = student.rng
    client_errors = [404, rng.choice([400, 401, 403, 405, 409, 410, 418, 422, 429])]
    server_errors = [503, rng.choice([500, 501, 502, 504])]
    answers = [{"status": status, "payload": {"error": "unknown city"}} for status in client_errors]
    answers += [{"status": status, "body": rng.choice(["maintenance", "down", "try later"])}
                for status in server_errors]
    rng.shuffle(answers)
    names = cities(rng, len(answers))
    run = serve(student, [weather(city) for city in names], upstream=weather_api(*answers))
    replies = run.replies()
    run.stopped()
    seen = upstream_seen(run)
    assert len(seen) == len(answers), f"expected {len(answers)} upstream requests, saw {seen!r}"
    for answer, reply in zip(answers, replies):
        status = answer["status"]
        why = (f"the upstream answered {status} (any error status counts, not only 5xx)" if status < 500
               else f"the upstream answered {status}")
        assert_upstream_down(reply, why=why)


@pytest.mark.points(3)
def test_upstream_network_errors_give_502(student):
    """A network error (connection error, connection refused) makes /weather answer 502, not 500."""
    rng = student.rng
    fault = rng.choice(sorted(FAULTS))
    city = cities(rng, 1)[0]
    run = serve(student, [weather(city)], upstream=weather_api({"fault": fault}))
    broken = run.reply(0)
    run.stopped()
    assert_upstream_down(broken, why=FAULTS[fault])
    run = serve(student, [weather(city)], upstream=refusing(rng.choice(["/api", "/v2/now"])))
    refused = run.reply(0)
    run.stopped()
    assert_upstream_down(refused, why="the upstream refused the connection (nothing listens on its port)")


@pytest.mark.points(3)
def test_upstream_timeout_gives_502_after_2s(student):
    """An upstream that would answer only after 3 s: /weather answers 502 after 2 s of loop time."""
    rng = student.rng
    delay = round(rng.uniform(2.5, 8), 2)
    # The judge waits past the upstream's delay before the app shuts down: a request left running would be seen.
    run = serve(student, [weather(cities(rng, 1)[0])], linger=delay,
                upstream=weather_api({"payload": {"late": True}, "delay": delay}, repeat=True))
    reply = run.reply(0)
    elapsed = run.elapsed(0)
    run.stopped()
    assert run.upstream_requests, "the app never asked the upstream"
    assert_upstream_down(reply, why=f"the upstream did not answer within 2 s. {BOUND}")
    assert elapsed == pytest.approx(2, abs=0.2), (
        f"expected the 502 after 2 s of loop time (the upstream limit), got it after {elapsed:g} s. {BOUND}"
    )
    # Seen by the judge's weather API: the app gave up on the request (closed its connection) at the limit.
    asked = run.upstream_requests[0]
    kept = (asked.left if asked.left is not None else asked.arrived + delay) - asked.arrived
    assert asked.abandoned and kept == pytest.approx(2, abs=0.2), (
        f"the app answered 502 but its upstream request went on: the weather API "
        f"{'saw it given up' if asked.abandoned else 'answered it'} after {kept:g} s, not at the 2 s limit. "
        f"Give the request up when the limit expires (asyncio.timeout, wait_for and ClientTimeout cancel it); "
        f"do not leave it running in a task of its own"
    )


@pytest.mark.points(4)
def test_upstream_timeout_on_a_real_slow_server_gives_502_after_2s(student):
    """A real upstream server that takes 3 s: /weather answers 502 after 2 s of loop time, not after 3."""
    rng = student.rng
    delay = round(rng.uniform(2.5, 8), 2)
    city = cities(rng, 1)[0]
    run = serve(student, [weather(city)], upstream=weather_api({"delay": delay, "payload": {"late": True}}))
    reply = run.reply(0)
    elapsed = run.elapsed(0)
    run.stopped()
    seen = [entry.query for entry in run.upstream_requests]
    assert seen == [{"city": city}], f"expected one upstream request with city={city}, the server saw {seen!r}"
    assert_upstream_down(reply, why=f"the upstream did not answer within 2 s. {BOUND}")
    assert elapsed == pytest.approx(2, abs=0.2), (
        f"expected the 502 after 2 s of loop time, got it after {elapsed:g} s. {BOUND}"
    )


@pytest.mark.points(2)
def test_upstream_answering_within_2s_is_200(student):
    """A real upstream server that takes 1.5 s is still in time: /weather answers 200 with its JSON."""
    rng = student.rng
    delay = round(rng.uniform(1.0, 1.8), 2)
    city = cities(rng, 1)[0]
    payload = forecast(rng, city)
    run = serve(student, [weather(city)], upstream=weather_api({"delay": delay, "payload": payload}))
    reply = run.reply(0)
    elapsed = run.elapsed(0)
    run.stopped()
    assert reply.status == 200, (
        f"the upstream answered after {delay:g} s, within the 2 s limit: expected 200, got {reply.status} "
        f"after {elapsed:g} s (is the limit shorter than 2 s?)"
    )
    assert reply.json() == payload, f"expected the upstream JSON {payload!r}, got {reply.text!r}"


@pytest.mark.points(1)
def test_any_upstream_2xx_is_200(student):
    """An upstream 203 or 299 (2xx statuses other than 200) is a success too; a 300 with JSON is not: 502."""
    rng = student.rng
    statuses = [203, 299, 300]
    rng.shuffle(statuses)
    names = cities(rng, len(statuses))
    payloads = [{"temp": rng.randint(-30, 45), "city": city} for city in names]
    answers = [{"status": status, "payload": payload} for status, payload in zip(statuses, payloads)]
    run = serve(student, [weather(city) for city in names], upstream=weather_api(*answers))
    replies = run.replies()
    run.stopped()
    for upstream, reply, sent in zip(statuses, replies, payloads):
        if upstream < 300:
            assert reply.status == 200 and reply.json() == sent, (
                f"upstream answered {upstream} {sent!r}: expected 200 with that JSON (a 2xx is 200 <= status < 300), "
                f"got {reply.status} {reply.text[:200]!r}"
            )
        else:
            assert reply.status == 502 and reply.json() == UPSTREAM_DOWN, (
                f"upstream answered 300 (not a 2xx, and not a redirect aiohttp follows): expected 502 "
                f"{UPSTREAM_DOWN!r}, got {reply.status} {reply.text[:200]!r}"
            )


@pytest.mark.points(2)
def test_weather_requests_are_handled_concurrently(student):
    """Three /weather requests at once, each upstream call taking 1 s, are all answered after 1 s, not 3."""
    rng = student.rng
    count = rng.randint(3, 5)
    delay = round(rng.uniform(0.5, 1.5), 2)
    run = serve(student, [together(*(weather(city) for city in cities(rng, count)))],
                upstream=weather_api({"payload": {"temp": 1}, "delay": delay}, repeat=True))
    replies = run.replies()
    elapsed = max(run.elapsed(index) for index in range(count))
    run.stopped()
    statuses = [reply.status for reply in replies]
    assert statuses == [200] * count, f"expected {count} 200s, got {statuses!r}"
    peak = run.upstream_peak
    assert peak == count and elapsed == pytest.approx(delay), (
        f"expected the {count} upstream calls in flight together ({delay:g} s in all), saw at most {peak} at once "
        f"and {elapsed:g} s: no lock or blocking call may serialise the handlers. {hints.BLOCKING}"
    )


def failing_routes(rng: random.Random) -> list[dict[str, Any]]:
    """Two test-only routes that raise: one at once, one after a while (secret texts drawn per run)."""
    at_once, later = rng.sample(WORDS, 2)
    return [
        {"path": f"/test-only/{at_once}", "raises": ["KeyError", f"secret-key-{rng.randint(1000, 9999)}"]},
        {"path": f"/test-only/{later}", "after": round(rng.uniform(0.05, 1.0), 2),
         "raises": ["ValueError", f"secret detail {rng.randint(1000, 9999)}"]},
    ]


@pytest.mark.points(3)
def test_unhandled_exceptions_reveal_nothing_and_service_survives(student):
    """Any exception escaping a handler gives 500 {"error": "internal server error"} only; the service keeps working."""
    routes = failing_routes(student.rng)
    run = serve(student, [*(request("GET", route["path"]) for route in routes), request("GET", "/health")],
                extra_routes=routes)
    replies = run.replies(range(len(routes)))
    health = run.reply(len(routes))
    run.stopped()
    for reply, route in zip(replies, routes):
        assert reply.status == 500, f"GET {reply.path} (the handler raised): expected 500, got {reply.status}"
        assert "secret" not in reply.text and route["raises"][1] not in reply.text and "Traceback" not in reply.text, (
            f"GET {reply.path}: the 500 body must not reveal the exception or a traceback, got {reply.text[:300]!r}"
        )
        assert reply.json() == {"error": "internal server error"}, (
            f'GET {reply.path}: expected {{"error": "internal server error"}}, got {reply.text!r}'
        )
    assert health.status == 200, f"after a 500 the service should keep working: GET /health gave {health.status}"


@pytest.mark.points(3)
def test_http_errors_are_not_turned_into_500(student):
    """An unknown path still answers 404 and a wrong method 405: the error middleware must not make them 500."""
    rng = student.rng
    missing = f"/no/such/{rng.choice(WORDS)}"
    method = rng.choice(["POST", "PUT", "PATCH", "DELETE"])
    run = serve(student, [request("GET", missing), request(method, "/health")])
    unknown, wrong_method = run.reply(0), run.reply(1)
    run.stopped()
    assert unknown.status == 404, (
        f"GET {missing}: expected 404, got {unknown.status}. aiohttp signals it by raising "
        "web.HTTPNotFound, an Exception: let web.HTTPException through (or answer its own status) "
        "before catching Exception"
    )
    assert wrong_method.status == 405, (
        f"{method} /health: expected 405 (method not allowed), got {wrong_method.status}; "
        "let web.HTTPException through (or answer its own status) before catching Exception"
    )
    allowed = wrong_method.headers.get("Allow", "")
    assert "GET" in allowed, (
        f"{method} /health: the 405 should keep aiohttp's header Allow: GET (HTTP requires it), got Allow={allowed!r}. "
        "Let web.HTTPException through, or copy its headers into your own answer."
    )


@pytest.mark.points(1)
def test_raised_redirect_keeps_status_location_and_timing(student):
    """A handler that raises web.HTTPFound gives a 302 with its Location and an X-Response-Time header, not a 500."""
    rng = student.rng
    path = f"/test-only/{rng.choice(WORDS)}"
    target = rng.choice(["/health", "/items", "/items/1", "/elsewhere"])
    run = serve(student, [request("GET", path, allow_redirects=False)],
                extra_routes=[{"path": path, "redirect": target}])
    reply = run.reply(0)
    run.stopped()
    assert reply.status == 302, (
        f"a handler raised web.HTTPFound: expected its 302, got {reply.status} {reply.text[:200]!r}. "
        "A web.HTTPException is an answer, not a crash: let it through (or answer its own status)."
    )
    assert URL(reply.headers.get("Location", "")).path == target, (
        f"the 302 should keep its header Location: {target}, got {reply.headers.get('Location')!r}"
    )
    assert_timing_header(reply)


@pytest.mark.points(2)
def test_x_response_time_on_every_kind_of_response(student):
    """201, 204, 400, 404 (item and unknown path), 405, 500 and 502 responses all carry X-Response-Time."""
    rng = student.rng
    routes = failing_routes(rng)
    name = rng.choice(WORDS)
    script = [
        request("POST", "/items", json={"name": name, "price": rng.randint(0, 100)}),
        request("DELETE", "/items/1"),
        request("POST", "/items", json={"name": "", "price": rng.randint(0, 100)}),
        request("GET", "/items/1"),
        request("GET", f"/no/such/{rng.choice(WORDS)}"),
        request(rng.choice(["POST", "PUT", "PATCH", "DELETE"]), "/health"),
        request("GET", routes[0]["path"]),
        weather(cities(rng, 1)[0]),
    ]
    run = serve(student, script, extra_routes=routes,
                upstream=weather_api({"status": rng.choice([500, 503]), "body": "down"}, repeat=True))
    for reply in run.replies():
        assert_timing_header(reply)
    run.stopped()


@pytest.mark.points(2)
def test_x_response_time_is_handling_time_in_milliseconds(student):
    """On real time, a request whose upstream takes 0.2 s reports about 200 (milliseconds) in X-Response-Time."""
    rng = student.rng
    delay = round(rng.uniform(0.2, 0.3), 2)
    run = serve(student, [weather(cities(rng, 1)[0])], real_time=True,
                upstream=weather_api({"payload": {"temp": 4}, "delay": delay}, repeat=True))
    reply = run.reply(0)
    took_ms = run.took_ms(0)
    run.stopped()
    assert reply.status == 200, f"GET {reply.path}: expected 200, got {reply.status} {reply.text[:200]!r}"
    assert_timing_header(reply)
    reported = float(reply.headers["X-Response-Time"])
    assert delay * 1000 - 50 <= reported <= took_ms + 100, (
        f"the upstream took {delay:g} s and the whole request {took_ms:.0f} ms, so X-Response-Time should be "
        f"about {delay * 1000:.0f} (milliseconds, measured around the handler), got "
        f"{reply.headers['X-Response-Time']!r}. Seconds must be multiplied by 1000."
    )


@pytest.mark.points(1)
def test_upstream_2xx_with_a_non_json_body_gives_a_json_error(student):
    """An upstream 200 whose body is not JSON gives 502 "upstream unavailable" or 500 "internal server error", as JSON."""
    rng = student.rng
    body = rng.choice(["<html>oops</html>", "not json", "{broken", "sunny, 21 C"])
    run = serve(student, [weather(cities(rng, 1)[0])],
                upstream=weather_api({"status": 200, "body": body, "content_type": "application/json"}))
    reply = run.reply(0)
    run.stopped()
    expected = {500: {"error": "internal server error"}, 502: UPSTREAM_DOWN}
    assert reply.status in expected, (
        f"the upstream answered 200 with a body that is not JSON: expected 502 (a bad upstream) or 500 "
        f"(an unhandled error), got {reply.status} {reply.text[:200]!r}"
    )
    assert reply.json() == expected[reply.status], (
        f"with status {reply.status} the body should be {expected[reply.status]!r}, got {reply.text[:200]!r}"
    )
    assert_timing_header(reply)
