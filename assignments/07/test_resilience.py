"""Public tests for assignment 07. Run them with `pytest assignments/07`.

HTTP is mocked with aioresponses (the `mock_http` fixture): a request to a URL
the test did not register fails with a ClientConnectionError. `traffic.reply`
answers one request (after an optional delay on the virtual clock) and
records when it arrived, so `traffic.requests[i].at` is the loop time of the
i-th request and `traffic.peak` the most requests in flight at once. The event
loop runs on a virtual clock: `looptime` is the loop's time in seconds and
`await asyncio.sleep(30)` costs no real time.
"""
import asyncio
from datetime import datetime, timezone

import aiohttp
import pytest

import resilience
from coursekit import hints
from coursekit.http import paged_api, request_times
from coursekit.iterators import collect
from coursekit.testing import assert_same, loop_time, within

API = "http://api.test"
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.points(2)
def test_parse_retry_after_delta_seconds():
    """parse_retry_after("120", now=...) is 120 seconds; a missing header or text that is no wait gives None."""
    result = resilience.parse_retry_after("120", now=NOW)
    assert_same(result, 120.0, what='parse_retry_after("120")')
    result = resilience.parse_retry_after(None, now=NOW)
    assert result is None, f"expected None for a missing header (None), got {result!r}"
    result = resilience.parse_retry_after("in a minute", now=NOW)
    assert result is None, (
        f'expected None for "in a minute" (neither digits nor an HTTP-date), got {result!r}. '
        "A value that does not parse is no Retry-After at all: catch the parse error."
    )


@pytest.mark.points(3)
def test_parse_retry_after_http_date():
    """An HTTP-date is read relative to `now`; a date in the past gives 0.0, never a negative wait."""
    later = "Wed, 01 May 2024 12:00:30 GMT"
    result = resilience.parse_retry_after(later, now=NOW)
    assert type(result) in (int, float) and result == pytest.approx(30.0), (
        f"expected 30.0 s from {NOW.isoformat()} until {later!r}, got {result!r}. "
        "email.utils.parsedate_to_datetime reads HTTP-dates."
    )
    earlier = "Wed, 01 May 2024 11:59:00 GMT"
    result = resilience.parse_retry_after(earlier, now=NOW)
    assert_same(result, 0.0, what=f"parse_retry_after({earlier!r}), a date already past,")


@pytest.mark.points(5)
async def test_request_with_retry_backs_off_on_503(mock_http, traffic, looptime):
    """Two 503s then a 200: returns (200, body), retrying after 0.5 s then 1 s (backoff * 2 ** i)."""
    url = f"{API}/flaky"
    mock_http.get(url, callback=traffic.reply(status=503, body="busy"))
    mock_http.get(url, callback=traffic.reply(status=503, body="busy"))
    mock_http.get(url, callback=traffic.reply(status=200, body="done"))
    async with aiohttp.ClientSession() as session:
        result = await within(resilience.request_with_retry(session, "GET", url), 60, what="request_with_retry")
    assert_same(result, (200, b"done"), what="the result after two 503s and a 200")
    assert request_times(traffic) == pytest.approx([0, 0.5, 1.5]), (
        f"expected requests at loop times 0, 0.5, 1.5 (waits of 0.5 then 1.0), "
        f"got {request_times(traffic)!r}. Wait with `await asyncio.sleep(...)`."
    )


@pytest.mark.points(3)
async def test_request_with_retry_honours_retry_after(mock_http, traffic, looptime):
    """A 429 with `Retry-After: 3` makes the retry wait 3 s instead of the backoff."""
    url = f"{API}/limited"
    mock_http.get(url, callback=traffic.reply(status=429, body="slow down", headers={"Retry-After": "3"}))
    mock_http.get(url, callback=traffic.reply(status=200, body="ok"))
    async with aiohttp.ClientSession() as session:
        result = await within(resilience.request_with_retry(session, "GET", url), 60, what="request_with_retry")
    assert_same(result, (200, b"ok"), what="the result after a 429 and a 200")
    assert request_times(traffic) == pytest.approx([0, 3]), (
        f"expected the retry at loop time 3 (Retry-After: 3), requests came at {request_times(traffic)!r}"
    )


@pytest.mark.points(2)
async def test_request_with_retry_gives_up_with_the_last_error(mock_http, traffic, looptime):
    """attempts=2 and the connection fails twice: the second ClientConnectionError is raised, after one wait of 0.5 s."""
    url = f"{API}/unreachable"
    mock_http.get(url, **traffic.fail(aiohttp.ClientConnectionError("first")))
    mock_http.get(url, **traffic.fail(aiohttp.ClientConnectionError("second")))
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError) as caught:
            await within(resilience.request_with_retry(session, "GET", url, attempts=2), 60, what="request_with_retry")
    assert str(caught.value) == "second", (
        f"expected the error of the last attempt (\"second\") to be raised, got {caught.value!r}"
    )
    assert request_times(traffic) == pytest.approx([0, 0.5]), (
        f"expected two attempts, at loop times 0 and 0.5, got {request_times(traffic)!r}"
    )
    assert looptime == 0.5, (
        f"expected the error at loop time 0.5, right after the last attempt, got it at {float(looptime):g} s"
    )


@pytest.mark.points(5)
async def test_iter_pages_yields_items_across_pages(mock_http, looptime):
    """iter_pages follows the cursor: limit first, then limit + cursor, and stops when next is null."""
    url = f"{API}/items"
    seen = paged_api(mock_http, url, {None: ([1, 2], "c1"), "c1": ([3, 4], "c2"), "c2": ([5], None)})
    async with aiohttp.ClientSession() as session:
        items = await within(
            collect(resilience.iter_pages(session, url, page_size=2), what="iter_pages"), 30, what="iter_pages"
        )
    assert_same(items, [1, 2, 3, 4, 5], what="the items of the three pages")
    expected = [{"limit": "2"}, {"limit": "2", "cursor": "c1"}, {"limit": "2", "cursor": "c2"}]
    assert seen == expected, f"expected the query parameters {expected!r}, the server saw {seen!r}"


@pytest.mark.points(1)
async def test_iter_pages_closed_early_fetches_no_more_pages(mock_http, looptime):
    """A consumer that stops after the first item and closes the generator causes exactly one request."""
    url = f"{API}/big"
    seen = paged_api(mock_http, url, {None: (["a", "b"], "more"), "more": (["c"], None)})
    async with aiohttp.ClientSession() as session:
        pages = resilience.iter_pages(session, url, page_size=2)
        async for item in pages:
            break
        await within(pages.aclose(), 10, what="closing iter_pages")
    assert_same(item, "a", what="the first item")
    assert len(seen) == 1, (
        f"the consumer stopped after one item, yet {len(seen)} pages were requested: "
        "fetch the next page only when its items are asked for"
    )


@pytest.mark.points(3)
async def test_iter_link_pages_follows_next_links(mock_http, traffic, looptime):
    """iter_link_pages yields each page's JSON and follows Link rel="next" until there is none."""
    mock_http.get(
        f"{API}/a", callback=traffic.reply(payload={"page": 1}, headers={"Link": f'<{API}/b>; rel="next"'})
    )
    mock_http.get(
        f"{API}/b", callback=traffic.reply(payload={"page": 2}, headers={"Link": f'<{API}/c>; rel="next"'})
    )
    mock_http.get(f"{API}/c", callback=traffic.reply(payload={"page": 3}))
    async with aiohttp.ClientSession() as session:
        pages = await within(
            collect(resilience.iter_link_pages(session, f"{API}/a"), what="iter_link_pages"),
            30,
            what="iter_link_pages",
        )
    assert_same(pages, [{"page": 1}, {"page": 2}, {"page": 3}], what="the pages' bodies")
    assert traffic.urls() == [f"{API}/a", f"{API}/b", f"{API}/c"], f"expected a, b, c to be fetched, got {traffic.urls()!r}"


@pytest.mark.points(5)
async def test_rate_limiter_burst_then_spaced(looptime):
    """RateLimiter(rate=2, burst=3): three acquisitions at once, then one every 0.5 s; waiting tasks never share a token."""
    limiter = resilience.RateLimiter(2, burst=3)
    times = []
    for _ in range(6):
        await within(limiter.acquire(), 10, what="limiter.acquire()")
        times.append(loop_time())
    assert times == pytest.approx([0, 0, 0, 0.5, 1.0, 1.5], abs=1e-6), (
        f"expected acquisitions at loop times [0, 0, 0, 0.5, 1.0, 1.5], got {times!r}. "
        "Refill the bucket from the loop clock (asyncio.get_running_loop().time())."
    )
    slow = resilience.RateLimiter(1)
    start = loop_time()
    entered = []

    async def take() -> None:
        await slow.acquire()
        entered.append(loop_time() - start)

    await within(asyncio.gather(take(), take(), take()), 10, what="three tasks calling acquire() together")
    assert sorted(entered) == pytest.approx([0, 1, 2], abs=1e-6), (
        f"three tasks acquiring RateLimiter(1) together should get through 0, 1 and 2 s after they start, "
        f"got {sorted(entered)!r}: a waiter that wakes up must check again that a token is left for it"
    )


@pytest.mark.points(4)
async def test_fetch_many_caps_concurrency_and_keeps_order(mock_http, traffic, looptime):
    """fetch_many with concurrency=2 keeps at most 2 requests in flight; results in input order; a failure is a result."""
    urls = [f"{API}/n/{i}" for i in range(5)]
    for i, url in enumerate(urls):
        mock_http.get(url, callback=traffic.reply(payload={"n": i}, delay=1))
    refused = f"{API}/refused"
    mock_http.get(refused, **traffic.fail(aiohttp.ClientConnectionError("refused")))
    async with aiohttp.ClientSession() as session:
        results = await within(resilience.fetch_many(session, urls + [refused], concurrency=2), 60, what="fetch_many")
    expected = [(url, 200, {"n": i}, None) for i, url in enumerate(urls)]
    expected.append((refused, None, None, "ClientConnectionError"))
    got = [(r.url, r.status, r.data, r.error) for r in results]
    assert_same(got, expected, what="(url, status, data, error) of each result, in input order,")
    assert traffic.peak == 2, (
        f"expected at most 2 requests in flight and 2 reached, saw a peak of {traffic.peak}"
        + (f". {hints.SEQUENTIAL}" if traffic.peak < 2 else ". Limit them with an asyncio.Semaphore.")
    )
    assert looptime == 3, f"expected 3 s (5 one-second requests, 2 at a time), took {float(looptime):g} s"
