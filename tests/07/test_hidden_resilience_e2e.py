"""Hidden end-to-end tests for assignment 07: a real aiohttp server on loopback, no mocks.

The judge serves the route table on a real socket in its own process
(``coursekit/probes/p07.py``: ``JudgeRoutes``, ``judged_http``) and counts what
reaches it; the student's code runs in the student's process. Both loops
share one virtual clock: the server's waits and the client's cost no real
time, while the bytes really cross a socket. Here a timeout acts whichever
way it is written (ClientTimeout, asyncio.timeout or wait_for), and the
server sees the request given up at that loop time. Paths, bodies, payloads,
page sizes, methods and timeouts are drawn per run from ``student.rng``.
"""
import json

import pytest

from coursekit.hints import describe_parts
from coursekit.judge import Record, raised, unwrap
from coursekit.probes import p07
from coursekit.testing import same

STUDENT_MODULE = "resilience"
BASE = p07.BASE
WORDS = ("alpha", "bravo", "delta", "echo", "kilo", "lima", "oscar", "romeo", "sierra", "tango", "zulu")


def words(rng, count):
    """``count`` distinct per-run names."""
    return [f"{name}{rng.randrange(100)}" for name in rng.sample(WORDS, count)]


def reply(*, status=200, payload=None, body=None, headers=None, content_type=None, delay=0):
    """One answer of the judge's loopback server."""
    return {"status": status, "payload": payload, "body": body, "headers": headers, "content_type": content_type,
            "delay": delay}


def call(function, *args, within=60, iterate=False, **kwargs):
    """A call of the student's ``function(session, *args, **kwargs)``; ``{base}`` in a string is the server's URL."""
    return {"function": function, "args": list(args), "kwargs": kwargs, "within": within, "iterate": iterate}


def served(student, routes, *calls, session=None):
    """Serve ``routes`` (paths) on the judge's loopback server and make ``calls``: (the scenario's report, the server)."""
    return p07.judged_http(student, routes, list(calls), session=session)


def fields(result):
    """A FetchResult's (status, data, error)."""
    assert isinstance(result, Record) and result.name == "FetchResult", f"expected FetchResult objects, got {result!r}"
    return tuple(result.fields.get(name) for name in ("status", "data", "error"))


@pytest.mark.points(2)
def test_e2e_request_with_retry_waits_retry_after_from_a_real_server(student):
    """Against a real server answering 503 with Retry-After: 1, then 200: returns (200, body) after waiting 1 s."""
    name, warming, ready = words(student.rng, 3)
    path = f"/{name}"
    routes = [{"url": path, "replies": [reply(status=503, body=warming, headers={"Retry-After": "1"}),
                                        reply(body=ready)]}]
    seen, server = served(student, routes, call("request_with_retry", "GET", f"{BASE}{path}", backoff=5))
    result = unwrap(seen["calls"][0]["outcome"], what="request_with_retry")
    assert same(result, (200, ready.encode())), (
        f"expected (200, {ready.encode()!r}) from the second attempt, got {result!r}"
    )
    times = [r["at"] for r in server.requests() if not r["resent"]]
    assert times == pytest.approx([0, 1], abs=1e-6), (
        f"expected the server to see requests at 0 and 1 s (Retry-After: 1, not backoff=5), saw {times!r}"
    )


@pytest.mark.points(1)
def test_e2e_request_with_retry_sends_json_and_headers(student):
    """json= and headers= given to request_with_retry reach a real server, with the given method."""
    rng = student.rng
    name, item, trace = words(rng, 3)
    method = rng.choice(["PUT", "POST", "PATCH"])
    sent = {"n": rng.randint(1, 99), "item": item}
    answer = {"stored": rng.randint(1, 999)}
    routes = [{"url": f"/{name}", "method": "*", "replies": [reply(payload=answer)]}]
    seen, server = served(student, routes,
                          call("request_with_retry", method, f"{BASE}/{name}", json=sent, headers={"X-Trace": trace}))
    status, body = unwrap(seen["calls"][0]["outcome"], what="request_with_retry")
    assert same(status, 200), f"expected status 200 from the server, got {status!r} with body {body!r}"
    assert same(body, json.dumps(answer).encode()), f"expected the server's body {json.dumps(answer)!r}, got {body!r}"
    [request] = server.requests()
    got = {"method": request["method"], "json": request["json"], "trace": request["headers"].get("x-trace")}
    want = {"method": method, "json": sent, "trace": trace}
    assert got == want, (
        f"the server should receive {method} with JSON {sent!r} and X-Trace: {trace}; it received {got!r}"
    )


@pytest.mark.points(2)
def test_e2e_iter_pages_against_a_real_paginated_server(student):
    """iter_pages over a real cursor-paginated endpoint, through a session with base_url and a relative path."""
    rng = student.rng
    data = rng.sample(range(1000), rng.randint(5, 10))
    size = rng.randint(2, 4)
    pages = {}
    for start in range(0, len(data), size):
        end = start + size
        pages[str(start) if start else None] = [data[start:end], str(end) if end < len(data) else None]
    [name] = words(rng, 1)
    seen, server = served(student, [{"url": f"/{name}", "pages": pages}],
                          call("iter_pages", f"/{name}", within=30, iterate=True, page_size=size),
                          session={"base_url": BASE})
    got = unwrap(seen["calls"][0]["outcome"], what="iter_pages")
    assert same(got, data), f"expected the items {data!r}, got {got!r}"
    expected = [{"limit": str(size)}] + [{"limit": str(size), "cursor": c} for c in pages if c is not None]
    queries = [r["query"] for r in server.requests()]
    assert queries == expected, f"expected the server to see the queries {expected!r}, it saw {queries!r}"


@pytest.mark.points(1)
def test_e2e_iter_link_pages_against_a_real_server(student):
    """iter_link_pages follows a real server's relative Link headers to the last page."""
    rng = student.rng
    [prefix] = words(rng, 1)
    one, two, three = rng.sample(range(1, 100), 3)
    links = [f"<{three}>; rel=\"next\"", f"</{prefix}/{one}>; rel=\"first\""]
    rng.shuffle(links)
    routes = [
        {"url": f"/{prefix}/{one}", "replies": [reply(payload={"page": one},
                                                      headers={"Link": f'</{prefix}/{two}>; rel="next"'})]},
        {"url": f"/{prefix}/{two}", "replies": [reply(payload={"page": two}, headers={"Link": ", ".join(links)})]},
        {"url": f"/{prefix}/{three}", "replies": [reply(payload={"page": three})]},
    ]
    seen, server = served(student, routes, call("iter_link_pages", f"{BASE}/{prefix}/{one}", within=30, iterate=True))
    done = seen["calls"][0]
    error = raised(done["outcome"])
    if error is not None and error.is_a("ClientError"):
        raise AssertionError(
            f"iter_link_pages failed with {describe_parts(error.name, error.message)}. The server sends relative "
            f"targets (</{prefix}/{two}>, <{three}>): resolve them against the URL of the page that named them."
        )
    got = unwrap(done["outcome"], what="iter_link_pages")
    want = [{"page": one}, {"page": two}, {"page": three}]
    assert same(got, want), f"expected pages {one}, {two}, {three}, got {got!r}"
    paths = [r["path"] for r in server.requests()]
    expected = [f"/{prefix}/{one}", f"/{prefix}/{two}", f"/{prefix}/{three}"]
    assert paths == expected, f"expected the server to be asked for {expected!r}, it was asked for {paths!r}"


@pytest.mark.points(2)
def test_e2e_fetch_many_times_out_a_slow_real_server(student):
    """fetch_many against a real server: a handler slower than timeout gives a timeout error; the rest succeed."""
    rng = student.rng
    fast, slow, text = words(rng, 3)
    timeout = rng.choice([1, 1.5, 2])
    plain = " ".join(words(rng, 2))
    routes = [
        {"url": f"/{fast}", "replies": [reply(payload={"fast": True})]},
        {"url": f"/{slow}", "replies": [reply(payload={"slow": True}, delay=rng.randint(20, 40))]},
        {"url": f"/{text}", "replies": [reply(body=plain)]},
    ]
    seen, server = served(student, routes,
                          call("fetch_many", [f"{BASE}/{fast}", f"{BASE}/{slow}", f"{BASE}/{text}"], timeout=timeout))
    done = seen["calls"][0]
    results = unwrap(done["outcome"], what="fetch_many")
    assert type(results) is list and len(results) == 3, f"expected a list of 3 results, got {results!r}"
    fast_r, slow_r, text_r = (fields(r) for r in results)
    assert same(fast_r, (200, {"fast": True}, None)), f"unexpected result for /{fast}: {results[0]!r}"
    assert same(text_r, (200, None, None)), (
        f"expected /{text} to give status 200 with data None (not JSON), got {results[2]!r}"
    )
    assert slow_r[0] is None and "Timeout" in (slow_r[2] or ""), (
        f"expected /{slow} (slower than the timeout) to fail with a timeout error after timeout={timeout:g}, "
        f"got {results[1]!r}"
    )
    [given_up] = [r for r in server.requests() if r["path"] == f"/{slow}"]
    assert given_up["abandoned"] and given_up["left"] == pytest.approx(timeout, abs=1e-6), (
        f"expected the client to give up on /{slow} at {timeout:g} s (the timeout); the server saw it "
        + (f"given up at {given_up['left']:g} s" if given_up["abandoned"] else "never given up")
    )
    elapsed = done["ended_at"]
    assert elapsed == pytest.approx(timeout, abs=1e-6), (
        f"expected fetch_many to return at about {timeout:g} s (the timeout), took {elapsed:g} s"
    )
