"""Public tests for assignment 07. Run them with `pytest assignments/07`.

Each test asks for a *scenario* (`coursekit/probes/p07.py`) that calls your
functions and reports, as plain data, what only your side sees: what each
call returned or raised and the loop time it returned at. The HTTP is served
by the tests themselves, outside your code, on real loopback servers: each
path answers its requests with the replies the test lists (a status, a body,
headers, a delay), or drops or resets the connection, and the server counts
for itself every request it gets (method, path, query, the loop time it
arrived at) and the most in flight at once. A URL on a port where nothing
listens refuses the connection. Your code and the servers share one virtual
clock: `await asyncio.sleep(30)` costs no real time, and the server sees each
retry at its exact loop time. Locally the scenario runs right here, so your
prints and breakpoints work; when graded it runs in a process of its own,
apart from the tests. A FetchResult comes back as a record of its fields.
"""
import pytest

from coursekit import hints
from coursekit.judge import Record, error_message, raised, unwrap
from coursekit.probes import p07
from coursekit.testing import assert_same

STUDENT_MODULE = "resilience"
API = p07.BASE  # the test's server, http://127.0.0.1:PORT
NOW = "2024-05-01T12:00:00+00:00"


def reply(*, status=200, payload=None, body=None, headers=None, delay=0):
    """One scripted answer of a path on the test's server."""
    return {"status": status, "payload": payload, "body": body, "headers": headers, "delay": delay}


def fail(how):
    """One scripted request whose connection the server drops ("drop") or resets ("reset") instead of answering."""
    return {"fail": how}


def http(student, routes, *calls):
    """Serve ``routes`` (path -> replies, or a route dict) and make ``calls``: (the scenario's report, the server)."""
    table = [r if isinstance(r, dict) else {"url": r[0], "replies": r[1]} for r in routes]
    return p07.judged_http(student, table, list(calls))


def call(function, *args, **kwargs):
    """A call of the student's ``function(session, *args, **kwargs)``, awaited within 60 s of loop time."""
    return {"function": function, "args": list(args), "kwargs": kwargs, "within": 60}


def attempts(server):
    """The requests the server saw, without aiohttp's own resends of a dropped connection."""
    return [r for r in server.requests() if not r["resent"]]


def request_times(server):
    """Loop times at which the server saw each request."""
    return [r["at"] for r in attempts(server)]


def fields(result):
    """A FetchResult's fields as a tuple (url, status, data, error)."""
    assert isinstance(result, Record), f"expected FetchResult objects, got {result!r}"
    return tuple(result.fields.get(name) for name in ("url", "status", "data", "error"))


def parsed(student, value):
    """parse_retry_after(value, now=NOW)."""
    [outcome] = student.run(p07.retry_after_values, cases=[[value, NOW]]).value("parse_retry_after")
    return unwrap(outcome, what=f"parse_retry_after({value!r})")


@pytest.mark.points(2)
def test_parse_retry_after_delta_seconds(student):
    """parse_retry_after("120", now=...) is 120 seconds; a missing header or text that is no wait gives None."""
    result = parsed(student, "120")
    assert_same(result, 120.0, what='parse_retry_after("120")')
    result = parsed(student, None)
    assert result is None, f"expected None for a missing header (None), got {result!r}"
    result = parsed(student, "in a minute")
    assert result is None, (
        f'expected None for "in a minute" (neither digits nor an HTTP-date), got {result!r}. '
        "A value that does not parse is no Retry-After at all: catch the parse error."
    )


@pytest.mark.points(3)
def test_parse_retry_after_http_date(student):
    """An HTTP-date is read relative to `now`; a date in the past gives 0.0, never a negative wait."""
    later = "Wed, 01 May 2024 12:00:30 GMT"
    result = parsed(student, later)
    assert type(result) in (int, float) and result == pytest.approx(30.0), (
        f"expected 30.0 s from {NOW} until {later!r}, got {result!r}. "
        "email.utils.parsedate_to_datetime reads HTTP-dates."
    )
    earlier = "Wed, 01 May 2024 11:59:00 GMT"
    result = parsed(student, earlier)
    assert_same(result, 0.0, what=f"parse_retry_after({earlier!r}), a date already past,")


@pytest.mark.points(5)
def test_request_with_retry_backs_off_on_503(student):
    """Two 503s then a 200: returns (200, body), retrying after 0.5 s then 1 s (backoff * 2 ** i)."""
    seen, server = http(student, [("/flaky", [reply(status=503, body="busy"), reply(status=503, body="busy"),
                                              reply(body="done")])],
                        call("request_with_retry", "GET", f"{API}/flaky"))
    result = unwrap(seen["calls"][0]["outcome"], what="request_with_retry")
    assert_same(result, (200, b"done"), what="the result after two 503s and a 200")
    assert request_times(server) == pytest.approx([0, 0.5, 1.5]), (
        f"expected requests at loop times 0, 0.5, 1.5 (waits of 0.5 then 1.0), "
        f"got {request_times(server)!r}. Wait with `await asyncio.sleep(...)`."
    )


@pytest.mark.points(3)
def test_request_with_retry_honours_retry_after(student):
    """A 429 with `Retry-After: 3` makes the retry wait 3 s instead of the backoff."""
    seen, server = http(student, [("/limited", [reply(status=429, body="slow down", headers={"Retry-After": "3"}),
                                                reply(body="ok")])],
                        call("request_with_retry", "GET", f"{API}/limited"))
    result = unwrap(seen["calls"][0]["outcome"], what="request_with_retry")
    assert_same(result, (200, b"ok"), what="the result after a 429 and a 200")
    assert request_times(server) == pytest.approx([0, 3]), (
        f"expected the retry at loop time 3 (Retry-After: 3), requests came at {request_times(server)!r}"
    )


@pytest.mark.points(2)
def test_request_with_retry_gives_up_with_the_last_error(student):
    """attempts=2 and the connection fails twice: the second ClientConnectionError is raised, after one wait of 0.5 s."""
    seen, server = http(student, [("/unreachable", [fail("reset"), fail("drop")])],
                        call("request_with_retry", "GET", f"{API}/unreachable", attempts=2))
    done = seen["calls"][0]
    error = raised(done["outcome"])
    if error is None:
        unwrap(done["outcome"], what="request_with_retry")  # a hang fails here with its hint
        raise AssertionError(f"expected a ClientConnectionError, request_with_retry returned {done['outcome']['value']!r}")
    if not error.is_a("ClientConnectionError"):
        raise AssertionError(error_message("request_with_retry", error))
    assert error.name == "ServerDisconnectedError", (
        "expected the error of the last attempt (the server closed the connection: ServerDisconnectedError) to be "
        f"raised, got {error!r}; the first attempt's connection was reset (ClientOSError)"
    )
    assert request_times(server) == pytest.approx([0, 0.5]), (
        f"expected two attempts, at loop times 0 and 0.5, got {request_times(server)!r}"
    )
    assert done["ended_at"] == 0.5, (
        f"expected the error at loop time 0.5, right after the last attempt, got it at {done['ended_at']:g} s"
    )


@pytest.mark.points(5)
def test_iter_pages_yields_items_across_pages(student):
    """iter_pages follows the cursor: limit first, then limit + cursor, and stops when next is null."""
    pages = {None: ([1, 2], "c1"), "c1": ([3, 4], "c2"), "c2": ([5], None)}
    seen, server = http(student, [{"url": "/items", "pages": pages}],
                        dict(call("iter_pages", f"{API}/items", page_size=2), iterate=True, within=30))
    items = unwrap(seen["calls"][0]["outcome"], what="iter_pages")
    assert_same(items, [1, 2, 3, 4, 5], what="the items of the three pages")
    queries = [r["query"] for r in server.requests()]
    expected = [{"limit": "2"}, {"limit": "2", "cursor": "c1"}, {"limit": "2", "cursor": "c2"}]
    assert queries == expected, f"expected the query parameters {expected!r}, the server saw {queries!r}"


@pytest.mark.points(1)
def test_iter_pages_closed_early_fetches_no_more_pages(student):
    """A consumer that stops after the first item and closes the generator causes exactly one request."""
    pages = {None: (["a", "b"], "more"), "more": (["c"], None)}
    seen, server = http(student, [{"url": "/big", "pages": pages}],
                        dict(call("iter_pages", f"{API}/big", page_size=2), iterate=True, take=1, within=10))
    done = seen["calls"][0]
    items = unwrap(done["outcome"], what="iter_pages")
    unwrap(done["close"], what="closing iter_pages")
    item = items[0] if items else None
    assert_same(item, "a", what="the first item")
    count = len(server.requests())
    assert count == 1, (
        f"the consumer stopped after one item, yet {count} pages were requested: "
        "fetch the next page only when its items are asked for"
    )


@pytest.mark.points(3)
def test_iter_link_pages_follows_next_links(student):
    """iter_link_pages yields each page's JSON and follows Link rel="next" until there is none."""
    routes = [
        ("/a", [reply(payload={"page": 1}, headers={"Link": f'<{API}/b>; rel="next"'})]),
        ("/b", [reply(payload={"page": 2}, headers={"Link": f'<{API}/c>; rel="next"'})]),
        ("/c", [reply(payload={"page": 3})]),
    ]
    seen, server = http(student, routes, dict(call("iter_link_pages", f"{API}/a"), iterate=True, within=30))
    pages = unwrap(seen["calls"][0]["outcome"], what="iter_link_pages")
    assert_same(pages, [{"page": 1}, {"page": 2}, {"page": 3}], what="the pages' bodies")
    urls = [r["url"] for r in server.requests()]
    assert urls == ["/a", "/b", "/c"], f"expected a, b, c to be fetched, got {urls!r}"


def limiter_times(student, rate, steps, burst=None):
    """The loop times of each step's acquisitions, failing with the hint of a step that went wrong."""
    seen = student.run(p07.limiter_steps, rate=rate, burst=burst, steps=steps).value("RateLimiter")
    unwrap(seen["made"], what=f"RateLimiter({rate})")
    for step, report in zip(steps, seen["steps"]):
        if report["failure"] is not None:
            unwrap(report["failure"], what="limiter.acquire()" if step[0] == "acquire"
                   else f"{step[1]} tasks calling acquire() together")
    return [report["times"] for report in seen["steps"]]


@pytest.mark.points(5)
def test_rate_limiter_burst_then_spaced(student):
    """RateLimiter(rate=2, burst=3): three acquisitions at once, then one every 0.5 s; waiting tasks never share a token."""
    [times] = limiter_times(student, 2, [["acquire", 6]], burst=3)
    assert times == pytest.approx([0, 0, 0, 0.5, 1.0, 1.5], abs=1e-6), (
        f"expected acquisitions at loop times [0, 0, 0, 0.5, 1.0, 1.5], got {times!r}. "
        "Refill the bucket from the loop clock (asyncio.get_running_loop().time())."
    )
    [entered] = limiter_times(student, 1, [["together", 3]])
    assert sorted(entered) == pytest.approx([0, 1, 2], abs=1e-6), (
        f"three tasks acquiring RateLimiter(1) together should get through 0, 1 and 2 s after they start, "
        f"got {sorted(entered)!r}: a waiter that wakes up must check again that a token is left for it"
    )


@pytest.mark.points(4)
def test_fetch_many_caps_concurrency_and_keeps_order(student):
    """fetch_many with concurrency=2 keeps at most 2 requests in flight; results in input order; a failure is a result."""
    urls = [f"{API}/n/{i}" for i in range(5)]
    refused = f"{p07.REFUSED}/refused"  # nothing listens there: the connection is refused
    routes = [(f"/n/{i}", [reply(payload={"n": i}, delay=1)]) for i in range(5)]
    seen, server = http(student, routes, call("fetch_many", urls + [refused], concurrency=2))
    done = seen["calls"][0]
    results = unwrap(done["outcome"], what="fetch_many")
    expected = [(url, 200, {"n": i}, None) for i, url in enumerate(urls)]
    expected.append((refused, None, None, "ClientConnectorError"))
    got = [fields(r) for r in results]
    assert_same(got, server.placed(expected), what="(url, status, data, error) of each result, in input order,")
    peak = server.peak
    assert peak == 2, (
        f"expected at most 2 requests in flight and 2 reached, the server saw a peak of {peak}"
        + (f". {hints.SEQUENTIAL}" if peak < 2 else ". Limit them with an asyncio.Semaphore.")
    )
    assert done["ended_at"] == 3, f"expected 3 s (5 one-second requests, 2 at a time), took {done['ended_at']:g} s"
