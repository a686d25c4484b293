"""Hidden end-to-end tests for assignment 07: a real aiohttp server on loopback, no mocks.

The loop still runs on the virtual clock: the server's `asyncio.sleep` and the
client's waits cost no real time, while the bytes really cross a socket. Here a
timeout acts whichever way it is written (ClientTimeout, asyncio.timeout or
wait_for), so mocks and reality agree.
"""
import asyncio
import json

import aiohttp
import pytest
from aiohttp import web

import resilience
from coursekit.http import serve
from coursekit.iterators import collect
from coursekit.testing import loop_time, same, within


@pytest.mark.points(2)
async def test_e2e_request_with_retry_waits_retry_after_from_a_real_server(looptime):
    """Against a real server answering 503 with Retry-After: 1, then 200: returns (200, body) after waiting 1 s."""
    seen = []

    async def flaky(request):
        seen.append(loop_time())
        if len(seen) == 1:
            return web.Response(status=503, text="warming up", headers={"Retry-After": "1"})
        return web.Response(text="ready")

    app = web.Application()
    app.router.add_get("/flaky", flaky)
    async with serve(app) as base, aiohttp.ClientSession() as session:
        result = await within(
            resilience.request_with_retry(session, "GET", f"{base}/flaky", backoff=5), 60, what="request_with_retry"
        )
    assert same(result, (200, b"ready")), f"expected (200, b'ready') from the second attempt, got {result!r}"
    assert seen == pytest.approx([0, 1], abs=0.05), (
        f"expected the server to see requests at 0 and 1 s (Retry-After: 1, not backoff=5), saw {seen!r}"
    )


@pytest.mark.points(1)
async def test_e2e_request_with_retry_sends_json_and_headers(looptime):
    """json= and headers= given to request_with_retry reach a real server, with the given method."""

    async def echo(request):
        return web.json_response(
            {"method": request.method, "json": await request.json(), "trace": request.headers.get("X-Trace")}
        )

    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    async with serve(app) as base, aiohttp.ClientSession() as session:
        status, body = await within(
            resilience.request_with_retry(session, "PUT", f"{base}/echo", json={"n": 1}, headers={"X-Trace": "e2e"}),
            30,
            what="request_with_retry",
        )
    assert same(status, 200), f"expected status 200 from the echo server, got {status!r} with body {body!r}"
    got = json.loads(body)
    assert got == {"method": "PUT", "json": {"n": 1}, "trace": "e2e"}, (
        f"the server should receive PUT with JSON {{'n': 1}} and X-Trace: e2e; it received {got!r}"
    )


@pytest.mark.points(2)
async def test_e2e_iter_pages_against_a_real_paginated_server(looptime):
    """iter_pages over a real cursor-paginated endpoint, through a session with base_url and a relative path."""
    queries = []
    data = list(range(7))

    async def items(request):
        queries.append(dict(request.query))
        limit = int(request.query["limit"])
        start = int(request.query.get("cursor", "0"))
        end = start + limit
        return web.json_response({"items": data[start:end], "next": str(end) if end < len(data) else None})

    app = web.Application()
    app.router.add_get("/items", items)
    async with serve(app) as base, aiohttp.ClientSession(base_url=base) as session:
        got = await within(
            collect(resilience.iter_pages(session, "/items", page_size=3), what="iter_pages"), 30, what="iter_pages"
        )
    assert same(got, data), f"expected the items {data!r}, got {got!r}"
    expected = [{"limit": "3"}, {"limit": "3", "cursor": "3"}, {"limit": "3", "cursor": "6"}]
    assert queries == expected, f"expected the server to see the queries {expected!r}, it saw {queries!r}"


@pytest.mark.points(1)
async def test_e2e_iter_link_pages_against_a_real_server(looptime):
    """iter_link_pages follows a real server's relative Link headers to the last page."""

    async def page(request):
        n = int(request.match_info["n"])
        headers = {"Link": f'</pages/{n + 1}>; rel="next"'} if n == 1 else {}
        if n == 2:
            headers = {"Link": '<3>; rel="next", </pages/1>; rel="first"'}
        return web.json_response({"page": n}, headers=headers)

    app = web.Application()
    app.router.add_get("/pages/{n}", page)
    async with serve(app) as base, aiohttp.ClientSession() as session:
        try:
            got = await within(
                collect(resilience.iter_link_pages(session, f"{base}/pages/1"), what="iter_link_pages"),
                30,
                what="iter_link_pages",
            )
        except aiohttp.ClientError as exc:
            raise AssertionError(
                f"iter_link_pages failed with {type(exc).__name__}: {exc}. The server sends relative targets "
                "(</pages/2>, <3>): resolve them against the URL of the page that named them."
            ) from exc
    assert same(got, [{"page": 1}, {"page": 2}, {"page": 3}]), f"expected pages 1, 2, 3, got {got!r}"


@pytest.mark.points(2)
async def test_e2e_fetch_many_times_out_a_slow_real_server(looptime):
    """fetch_many against a real server: a handler slower than timeout gives a timeout error; the rest succeed."""

    async def fast(request):
        return web.json_response({"fast": True})

    async def slow(request):
        await asyncio.sleep(30)
        return web.json_response({"slow": True})

    async def text(request):
        return web.Response(text="plain words")

    app = web.Application()
    app.router.add_get("/fast", fast)
    app.router.add_get("/slow", slow)
    app.router.add_get("/text", text)
    async with serve(app) as base, aiohttp.ClientSession() as session:
        urls = [f"{base}/fast", f"{base}/slow", f"{base}/text"]
        results = await within(resilience.fetch_many(session, urls, timeout=1), 60, what="fetch_many")
        elapsed = loop_time()
    fast_r, slow_r, text_r = results
    assert same((fast_r.status, fast_r.data, fast_r.error), (200, {"fast": True}, None)), f"unexpected result for /fast: {fast_r!r}"
    assert same((text_r.status, text_r.data, text_r.error), (200, None, None)), (
        f"expected /text to give status 200 with data None (not JSON), got {text_r!r}"
    )
    assert slow_r.status is None and "Timeout" in (slow_r.error or ""), (
        f"expected /slow (30 s) to fail with a timeout error after timeout=1, got {slow_r!r}"
    )
    assert elapsed == pytest.approx(1, abs=0.2), f"expected fetch_many to return at about 1 s (the timeout), took {elapsed:g} s"
