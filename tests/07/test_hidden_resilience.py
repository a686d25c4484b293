"""Hidden tests for assignment 07: every clause of the contract and the usual mistakes.

HTTP is mocked with aioresponses; the loop runs on a virtual clock, so waits
are asserted exactly in loop seconds. The end-to-end tests against a real
loopback server live in test_hidden_resilience_e2e.py.
"""
import asyncio
import dataclasses
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest

import resilience
from coursekit import hints
from coursekit.http import paged_api, request_times
from coursekit.iterators import async_iterator, collect
from coursekit.testing import assert_nothing_left_running, loop_time, same, tasks_now, within

API = "http://api.test"
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def seconds_equal(got, want):
    """Whether ``got`` is a plain int or float within a microsecond of ``want`` (a number type, not a look-alike)."""
    return type(got) in (int, float) and abs(got - want) <= 1e-6


def outcome(result):
    """A FetchResult's fields as a tuple, for comparison with exact types (``same``)."""
    return (result.url, result.status, result.data, result.error)


def script(mock_http, url, replies, *, method="get"):
    """Answer successive requests to ``url`` with ``replies`` (traffic.reply callbacks or failures), in order."""
    register = getattr(mock_http, method)
    for reply in replies:
        register(url, **(reply if isinstance(reply, dict) else {"callback": reply}))


async def link_pages(session, url):
    """All bodies from iter_link_pages; a request to a wrongly resolved URL becomes a clear failure."""
    try:
        return await within(
            collect(resilience.iter_link_pages(session, url), what="iter_link_pages"), 30, what="iter_link_pages"
        )
    except aiohttp.ClientError as exc:
        raise AssertionError(
            f"iter_link_pages failed with {hints.describe(exc)}. Follow the rel=\"next\" target, "
            "resolved against the URL of the page that named it (response.links does it for you)."
        ) from exc


async def retry(session, method, url, **kwargs):
    """request_with_retry under a generous loop-time bound."""
    return await within(
        resilience.request_with_retry(session, method, url, **kwargs), 120, what="request_with_retry"
    )


# --- parse_retry_after ---------------------------------------------------------------------------


@pytest.mark.points(2)
def test_parse_retry_after_none_empty_or_garbage_gives_none():
    """parse_retry_after gives None for None, an empty value and anything that is neither seconds nor a date."""
    values = [None, "", "   ", "soon", "12 seconds", "Mon, 99 Foo 2024 00:00:00 GMT"]
    wrong = {}
    for value in values:
        try:
            got = resilience.parse_retry_after(value, now=NOW)
        except NotImplementedError:
            raise
        except Exception as exc:
            got = f"raised {hints.describe(exc)}"
        if got is not None:
            wrong[value] = got
    assert not wrong, (
        f"expected None for each of these values, got {wrong!r}. Catch the parse error and return None."
    )


@pytest.mark.points(2)
def test_parse_retry_after_date_relative_to_aware_now():
    """An HTTP-date (always GMT) is compared with `now` as an instant, whatever `now`'s timezone."""
    paris = timezone(timedelta(hours=2))
    now = datetime(2024, 5, 1, 14, 0, 0, tzinfo=paris)  # 12:00:00 GMT
    result = resilience.parse_retry_after("Wed, 01 May 2024 12:01:00 GMT", now=now)
    assert seconds_equal(result, 60.0), (
        f"now is 14:00 at UTC+2, i.e. 12:00 GMT, so 12:01:00 GMT is 60 s away; got {result!r}. "
        "Subtract two timezone-aware datetimes; do not drop the timezone."
    )
    now = datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=timezone.utc)
    result = resilience.parse_retry_after("Wed, 01 May 2024 12:00:10 GMT", now=now)
    assert seconds_equal(result, 9.75), f"expected 9.75 s from 12:00:00.25 to 12:00:10 GMT, got {result!r}"


@pytest.mark.points(1)
def test_parse_retry_after_obsolete_date_formats():
    """The two obsolete HTTP-date forms (RFC 850 and asctime) are read too, as GMT."""
    cases = {"Wednesday, 01-May-24 12:00:45 GMT": 45.0, "Wed May  1 12:00:20 2024": 20.0}
    got = {value: resilience.parse_retry_after(value, now=NOW) for value in cases}
    assert all(seconds_equal(got[value], want) for value, want in cases.items()), (
        f"expected {cases!r}, got {got!r}. HTTP recipients must accept all three date forms; "
        "email.utils.parsedate_to_datetime reads them, and a date without a zone (asctime) is GMT."
    )


@pytest.mark.points(1)
def test_parse_retry_after_is_never_negative():
    """"0" and a date equal to or before `now` give 0.0; no value ever gives a negative wait."""
    for value in ["0", "Wed, 01 May 2024 12:00:00 GMT", "Thu, 01 Jan 1970 00:00:00 GMT"]:
        result = resilience.parse_retry_after(value, now=NOW)
        assert seconds_equal(result, 0.0), f"expected 0.0 for {value!r}, got {result!r}"
    result = resilience.parse_retry_after("-5", now=NOW)
    assert result is None or seconds_equal(result, 0.0), (
        f'expected None (not delta-seconds) or 0.0 for "-5", never a negative wait; got {result!r}'
    )


# --- request_with_retry --------------------------------------------------------------------------


@pytest.mark.points(2)
async def test_request_with_retry_returns_last_response_after_all_attempts(mock_http, traffic, looptime):
    """Four 503s: four requests 0.5, 1 and 2 s apart, then the last (503, body) is returned without a further wait."""
    url = f"{API}/down"
    script(mock_http, url, [traffic.reply(status=503, body=f"busy {n}") for n in range(1, 5)])
    async with aiohttp.ClientSession() as session:
        result = await retry(session, "GET", url)
    assert same(result, (503, b"busy 4")), f"expected the last response (503, b'busy 4'), got {result!r}"
    assert isinstance(result[1], bytes), f"the body should be bytes (await response.read()), got {type(result[1])}"
    assert request_times(traffic) == pytest.approx([0, 0.5, 1.5, 3.5]), (
        f"expected 4 requests at loop times 0, 0.5, 1.5, 3.5, got {request_times(traffic)!r}"
    )
    assert looptime == 3.5, (
        f"expected to return at 3.5 s, right after the last attempt, returned at {float(looptime):g} s: "
        "do not sleep after the last attempt"
    )


@pytest.mark.points(2)
async def test_request_with_retry_caps_backoff_at_max_backoff(mock_http, traffic, looptime):
    """backoff=1, max_backoff=3: waits of 1, 2, 3, 3, 3 s, never more than max_backoff."""
    url = f"{API}/slowly"
    script(mock_http, url, [traffic.reply(status=500, body="oops")] * 5 + [traffic.reply(body="fine")])
    async with aiohttp.ClientSession() as session:
        result = await retry(session, "GET", url, attempts=6, backoff=1, max_backoff=3)
    assert same(result, (200, b"fine")), f"expected (200, b'fine') on the sixth attempt, got {result!r}"
    assert request_times(traffic) == pytest.approx([0, 1, 3, 6, 9, 12]), (
        f"expected requests at 0, 1, 3, 6, 9, 12 (waits 1, 2, 3, 3, 3), got {request_times(traffic)!r}. "
        "Wait min(backoff * 2 ** i, max_backoff)."
    )


@pytest.mark.points(2)
async def test_request_with_retry_retries_connection_errors_and_timeouts(mock_http, traffic, looptime):
    """ClientConnectionError, TimeoutError and ServerDisconnectedError are retried with backoff."""
    url = f"{API}/shaky"
    errors = [aiohttp.ClientConnectionError("reset"), TimeoutError(), aiohttp.ServerDisconnectedError()]
    script(mock_http, url, [traffic.fail(e) for e in errors] + [traffic.reply(body="made it")])
    async with aiohttp.ClientSession() as session:
        result = await retry(session, "GET", url)
    assert same(result, (200, b"made it")), f"expected (200, b'made it') after three failures, got {result!r}"
    assert request_times(traffic) == pytest.approx([0, 0.5, 1.5, 3.5]), (
        f"expected requests at 0, 0.5, 1.5, 3.5, got {request_times(traffic)!r}"
    )


@pytest.mark.points(2)
async def test_request_with_retry_reraises_the_last_exception(mock_http, traffic, looptime):
    """When every attempt fails with an exception, the last one is raised after the last attempt."""
    url = f"{API}/gone"
    errors = [TimeoutError(), TimeoutError(), aiohttp.ClientConnectionError("last")]
    script(mock_http, url, [traffic.fail(e) for e in errors])
    async with aiohttp.ClientSession() as session:
        try:
            result = await retry(session, "GET", url, attempts=3)
        except AssertionError:
            raise
        except aiohttp.ClientConnectionError:
            pass
        except BaseException as exc:
            raise AssertionError(
                f"expected the last exception (ClientConnectionError) to be re-raised, got {hints.describe(exc)}"
            ) from exc
        else:
            raise AssertionError(f"expected ClientConnectionError after 3 failed attempts, returned {result!r}")
    assert request_times(traffic) == pytest.approx([0, 0.5, 1.5]), (
        f"expected 3 attempts at 0, 0.5, 1.5, got {request_times(traffic)!r}"
    )
    assert looptime == 1.5, f"expected to give up at 1.5 s, right after the last attempt, gave up at {float(looptime):g} s"


@pytest.mark.points(2)
async def test_request_with_retry_returns_other_statuses_at_once(mock_http, traffic, looptime):
    """200, 404, 400 and 501 (not in retry_statuses) are returned after one request, with no wait."""
    async with aiohttp.ClientSession() as session:
        for status in (200, 404, 400, 501):
            url = f"{API}/status/{status}"
            mock_http.get(url, callback=traffic.reply(status=status, body=f"answer {status}"))
            result = await retry(session, "GET", url)
            assert same(result, (status, f"answer {status}".encode())), (
                f"expected ({status}, b'answer {status}') at once, got {result!r}"
            )
    assert len(traffic.requests) == 4, f"expected one request per status, made {len(traffic.requests)}"
    assert looptime == 0, f"expected no waiting for statuses that are not retried, waited {float(looptime):g} s"


@pytest.mark.points(1)
async def test_request_with_retry_uses_the_given_retry_statuses(mock_http, traffic, looptime):
    """retry_statuses=(418,) retries a 418 and returns a 503 at once."""
    teapot, busy = f"{API}/teapot", f"{API}/busy"
    script(mock_http, teapot, [traffic.reply(status=418, body="tea"), traffic.reply(body="coffee")])
    mock_http.get(busy, callback=traffic.reply(status=503, body="busy"))
    async with aiohttp.ClientSession() as session:
        first = await retry(session, "GET", teapot, retry_statuses=(418,))
        second = await retry(session, "GET", busy, retry_statuses=(418,))
    assert same(first, (200, b"coffee")), f"expected the 418 to be retried, giving (200, b'coffee'), got {first!r}"
    assert same(second, (503, b"busy")), f"expected 503 returned at once when retry_statuses=(418,), got {second!r}"
    assert len(traffic.requests) == 3, f"expected 3 requests (2 + 1), made {len(traffic.requests)}"


@pytest.mark.points(2)
async def test_request_with_retry_prefers_retry_after_over_backoff(mock_http, traffic, looptime):
    """Retry-After: 2, then no header, then Retry-After: 1: waits of 2, 1 (backoff * 2 ** 1) and 1 s."""
    url = f"{API}/mixed"
    script(
        mock_http,
        url,
        [
            traffic.reply(status=503, body="a", headers={"Retry-After": "2"}),
            traffic.reply(status=503, body="b"),
            traffic.reply(status=429, body="c", headers={"Retry-After": "1"}),
            traffic.reply(body="d"),
        ],
    )
    async with aiohttp.ClientSession() as session:
        result = await retry(session, "GET", url)
    assert same(result, (200, b"d")), f"expected (200, b'd'), got {result!r}"
    assert request_times(traffic) == pytest.approx([0, 2, 3, 4]), (
        f"expected requests at 0, 2, 3, 4, got {request_times(traffic)!r}: each retry waits its own "
        "response's Retry-After, or backoff * 2 ** i (i counts the retries) when there is none"
    )


@pytest.mark.points(2)
async def test_request_with_retry_caps_and_reads_retry_after(mock_http, traffic, looptime):
    """Retry-After is capped at max_backoff, "0" means retry at once, and an HTTP-date is understood."""
    url = f"{API}/throttled"
    script(
        mock_http,
        url,
        [
            traffic.reply(status=429, body="a", headers={"Retry-After": "100"}),
            traffic.reply(status=429, body="b", headers={"Retry-After": "0"}),
            traffic.reply(status=503, body="c", headers={"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"}),
            traffic.reply(status=503, body="d", headers={"Retry-After": "Thu, 01 Jan 1970 00:00:00 GMT"}),
            traffic.reply(body="e"),
        ],
    )
    async with aiohttp.ClientSession() as session:
        try:
            result = await retry(session, "GET", url, attempts=5, max_backoff=5)
        except AssertionError as exc:
            raise AssertionError(
                f"{exc} Requests came at {request_times(traffic)!r}: a Retry-After of 100 s or a date in "
                "2100 must still be capped at max_backoff=5."
            ) from None
    assert same(result, (200, b"e")), f"expected (200, b'e'), got {result!r}"
    times = request_times(traffic)
    assert len(times) == 5, f"expected 5 requests, made {len(times)}"
    assert times[1] == pytest.approx(5), (
        f"Retry-After: 100 with max_backoff=5 should wait 5 s, the retry came at {times[1]:g} s"
    )
    assert times[2] == pytest.approx(5), (
        f'Retry-After: 0 should retry at once (5 s), it came at {times[2]:g} s. 0.0 is falsy: test "is None", not truth.'
    )
    assert times[3] == pytest.approx(10), (
        f"a Retry-After date far in the future should wait max_backoff (5 s, retry at 10 s), it came at {times[3]:g} s"
    )
    assert times[4] == pytest.approx(10), (
        f"a Retry-After date in the past should retry at once (10 s), it came at {times[4]:g} s"
    )


@pytest.mark.points(2)
async def test_request_with_retry_passes_kwargs_to_request(mock_http, traffic, looptime):
    """Extra keyword arguments (json=, headers=) reach session.request, with the given method."""
    url = f"{API}/orders"
    mock_http.post(url, callback=traffic.reply(status=201, payload={"id": 7}))
    async with aiohttp.ClientSession() as session:
        result = await retry(session, "POST", url, json={"item": "tea"}, headers={"X-Trace": "t-1"})
    assert same(result, (201, b'{"id": 7}')), f'expected (201, b\'{{"id": 7}}\') from the POST, got {result!r}'
    sent = traffic.requests[0].kwargs
    assert sent.get("json") == {"item": "tea"}, f"expected json={{'item': 'tea'}} to reach the request, it got {sent!r}"
    assert (sent.get("headers") or {}).get("X-Trace") == "t-1", (
        f"expected the header X-Trace: t-1 to reach the request, it got {sent!r}"
    )


@pytest.mark.points(1)
async def test_request_with_retry_single_attempt(mock_http, traffic, looptime):
    """attempts=1: one request; a 503 is returned and a connection error raised, with no wait."""
    mock_http.get(f"{API}/once", callback=traffic.reply(status=503, body="no"))
    script(mock_http, f"{API}/never", [traffic.fail(aiohttp.ClientConnectionError("refused"))])
    async with aiohttp.ClientSession() as session:
        result = await retry(session, "GET", f"{API}/once", attempts=1)
        assert same(result, (503, b"no")), f"expected (503, b'no') with attempts=1, got {result!r}"
        try:
            result = await retry(session, "GET", f"{API}/never", attempts=1)
        except aiohttp.ClientConnectionError:
            pass
        else:
            raise AssertionError(f"expected the ClientConnectionError to be raised with attempts=1, got {result!r}")
    assert len(traffic.requests) == 2, f"expected exactly one request per call, made {len(traffic.requests)}"
    assert looptime == 0, f"expected no wait with a single attempt, waited {float(looptime):g} s"


@pytest.mark.points(1)
async def test_request_with_retry_lets_other_exceptions_through(mock_http, traffic, looptime):
    """An exception that is not a connection error or timeout (here ValueError) propagates at once, unretried."""
    url = f"{API}/broken"
    script(mock_http, url, [traffic.fail(ValueError("bad")), traffic.reply(body="never")])
    async with aiohttp.ClientSession() as session:
        try:
            result = await retry(session, "GET", url)
        except ValueError:
            pass
        else:
            raise AssertionError(f"expected the ValueError to propagate, got {result!r}")
    assert len(traffic.requests) == 1, (
        f"expected one request: only ClientConnectionError and TimeoutError are retried, made {len(traffic.requests)}. "
        "Catching Exception retries bugs too."
    )


# --- iter_pages and iter_link_pages --------------------------------------------------------------


@pytest.mark.points(2)
async def test_iter_pages_fetches_a_page_only_when_needed(mock_http, looptime):
    """iter_pages is lazy: nothing is fetched before iteration, one page for its items, the next only after them."""
    url = f"{API}/lazy"
    seen = paged_api(mock_http, url, {None: ([1, 2], "c1"), "c1": ([3, 4], None)})
    async with aiohttp.ClientSession() as session:
        gen = async_iterator(resilience.iter_pages(session, url, page_size=2), what="iter_pages")
        try:
            await asyncio.sleep(0)
            assert seen == [], f"calling iter_pages should fetch nothing until iteration starts, it made {len(seen)} request(s)"
            first = await within(anext(gen), 10, what="the first item of iter_pages")
            assert same(first, 1), f"expected the first item 1, got {first!r}"
            assert len(seen) == 1, (
                f"after one item, exactly one page should have been fetched, {len(seen)} were: "
                "fetch the next page only when the consumer needs it"
            )
            second = await within(anext(gen), 10, what="the second item of iter_pages")
            assert same(second, 2), f"expected the second item 2, got {second!r}"
            assert len(seen) == 1, f"after the first page's items, still one request expected, {len(seen)} were made"
            third = await within(anext(gen), 10, what="the third item of iter_pages")
            assert same(third, 3), f"expected the third item 3 (from the second page), got {third!r}"
            assert len(seen) == 2, f"the second page should be fetched once its first item is needed, {len(seen)} requests"
        finally:
            await gen.aclose()


@pytest.mark.points(2)
async def test_iter_pages_sends_exactly_limit_and_cursor(mock_http, looptime):
    """The default page_size is 100; the cursor is sent as given (URL-encoded), with no other parameters."""
    url = f"{API}/records"
    cursor = "a b/c=d&e+f"
    seen = paged_api(mock_http, url, {None: (["r1"], cursor), cursor: (["r2"], None)})
    async with aiohttp.ClientSession() as session:
        items = await within(collect(resilience.iter_pages(session, url), what="iter_pages"), 30, what="iter_pages")
    expected = [{"limit": "100"}, {"limit": "100", "cursor": cursor}]
    assert seen == expected, (
        f"expected the query parameters {expected!r}, the server saw {seen!r}. "
        'Pass params={"limit": page_size, "cursor": next} and let aiohttp encode them.'
    )
    assert same(items, ["r1", "r2"]), f"expected ['r1', 'r2'], got {items!r}"


@pytest.mark.points(2)
async def test_iter_pages_stops_only_when_next_is_null(mock_http, looptime):
    """An empty page with a next cursor does not end the iteration; a null next does, with no extra request."""
    url = f"{API}/sparse"
    seen = paged_api(mock_http, url, {None: ([], "c1"), "c1": (["x"], "c2"), "c2": ([], None)})
    async with aiohttp.ClientSession() as session:
        items = await within(
            collect(resilience.iter_pages(session, url, page_size=5), what="iter_pages"), 30, what="iter_pages"
        )
    assert same(items, ["x"]), f"expected ['x'] (pages: [], ['x'], []), got {items!r}: only next == null ends the iteration"
    assert len(seen) == 3, f"expected exactly 3 requests (stop when next is null), made {len(seen)}: {seen!r}"


@pytest.mark.points(2)
async def test_iter_link_pages_resolves_relative_links(mock_http, traffic, looptime):
    """Relative Link targets ("/v1/items?page=2", "items?page=3") are resolved against the current page's URL."""
    start = f"{API}/v1/items"
    mock_http.get(start, callback=traffic.reply(payload=[1], headers={"Link": '</v1/items?page=2>; rel="next"'}))
    mock_http.get(f"{start}?page=2", callback=traffic.reply(payload=[2], headers={"Link": '<items?page=3>; rel="next"'}))
    mock_http.get(f"{start}?page=3", callback=traffic.reply(payload=[3]))
    async with aiohttp.ClientSession() as session:
        pages = await link_pages(session, start)
    assert same(pages, [[1], [2], [3]]), (
        f"expected the bodies [[1], [2], [3]], got {pages!r}. Resolve a relative target with "
        "response.url.join(URL(target)) or urllib.parse.urljoin, or use response.links."
    )
    expected = [start, f"{start}?page=2", f"{start}?page=3"]
    assert traffic.urls() == expected, f"expected requests to {expected!r}, got {traffic.urls()!r}"


@pytest.mark.points(2)
async def test_iter_link_pages_picks_next_among_several_links(mock_http, traffic, looptime):
    """Among first/next/last links the rel="next" one is followed; a page with only rel="prev" (or none) ends it."""
    start = f"{API}/p/1"
    links = f'<{API}/p/1>; rel="first", <{API}/p/3>; rel="next", <{API}/p/9>; rel="last"'
    mock_http.get(start, callback=traffic.reply(payload={"p": 1}, headers={"Link": links}))
    mock_http.get(f"{API}/p/3", callback=traffic.reply(payload={"p": 3}, headers={"Link": f'<{API}/p/1>; rel="prev"'}))
    mock_http.get(f"{API}/solo", callback=traffic.reply(payload={"alone": True}))
    async with aiohttp.ClientSession() as session:
        pages = await link_pages(session, start)
        solo = await link_pages(session, f"{API}/solo")
    assert same(pages, [{"p": 1}, {"p": 3}]), f'expected [{{"p": 1}}, {{"p": 3}}] (follow rel="next" only), got {pages!r}'
    assert same(solo, [{"alone": True}]), f"a page without a Link header is the only page: expected [{{'alone': True}}], got {solo!r}"
    assert traffic.urls() == [start, f"{API}/p/3", f"{API}/solo"], f"unexpected requests: {traffic.urls()!r}"


# --- RateLimiter -------------------------------------------------------------------------------


async def acquire_times(limiter, count):
    """Acquire ``count`` times in a row; the loop time after each acquisition."""
    times = []
    for _ in range(count):
        await within(limiter.acquire(), 30, what="limiter.acquire()")
        times.append(loop_time())
    return times


@pytest.mark.points(1)
async def test_rate_limiter_default_burst_is_one(looptime):
    """RateLimiter(4): one acquisition at once, then one every 0.25 s."""
    times = await acquire_times(resilience.RateLimiter(4), 5)
    assert times == pytest.approx([0, 0.25, 0.5, 0.75, 1.0], abs=1e-6), (
        f"expected acquisitions at [0, 0.25, 0.5, 0.75, 1.0], got {times!r}"
    )


@pytest.mark.points(2)
async def test_rate_limiter_refill_is_capped_at_burst(looptime):
    """After a long idle stretch the bucket holds only `burst` tokens: RateLimiter(1, burst=2) then allows 2 at once, not 10."""
    limiter = resilience.RateLimiter(1, burst=2)
    first = await acquire_times(limiter, 2)
    await asyncio.sleep(10)
    later = await acquire_times(limiter, 3)
    assert first == pytest.approx([0, 0], abs=1e-6), f"expected the first burst of 2 at 0, got {first!r}"
    assert later == pytest.approx([10, 10, 11], abs=1e-6), (
        f"after 10 idle seconds expected acquisitions at [10, 10, 11], got {later!r}: "
        "the bucket never holds more than burst tokens"
    )


@pytest.mark.points(1)
async def test_rate_limiter_counts_partial_refill(looptime):
    """RateLimiter(1): after an acquisition at 0 and a 0.4 s pause, the next one waits only until 1.0 s."""
    limiter = resilience.RateLimiter(1)
    await within(limiter.acquire(), 10, what="limiter.acquire()")
    await asyncio.sleep(0.4)
    await within(limiter.acquire(), 10, what="limiter.acquire()")
    assert loop_time() == pytest.approx(1.0, abs=1e-6), (
        f"expected the second acquisition at 1.0 s (the token refilled while paused), got {loop_time():g} s. "
        "Wait only for the missing part of a token: (1 - tokens) / rate."
    )


@pytest.mark.points(2)
async def test_rate_limiter_async_with_acquires(looptime):
    """`async with limiter as entered:` acquires a token each time, gives the limiter itself, and lets exceptions through."""
    limiter = resilience.RateLimiter(1)
    times = []
    for _ in range(3):
        async with limiter as entered:
            times.append(loop_time())
            assert entered is limiter, (
                f"`async with limiter as entered:` gave {entered!r}: __aenter__ returns the limiter (`return self`), "
                "as its annotation `-> RateLimiter` says"
            )
    assert times == pytest.approx([0, 1, 2], abs=1e-6), f"expected `async with` entries at [0, 1, 2], got {times!r}"
    try:
        async with limiter:
            raise KeyError("from the body")
    except KeyError:
        pass
    else:
        raise AssertionError("an exception raised inside `async with limiter:` was swallowed: __aexit__ must return None/False")


@pytest.mark.points(2)
async def test_rate_limiter_with_many_concurrent_acquirers(looptime):
    """20 tasks acquiring at once from RateLimiter(2, burst=3): 3 at once, then one every 0.5 s; never more."""
    limiter = resilience.RateLimiter(2, burst=3)
    times = []

    async def acquirer():
        await limiter.acquire()
        times.append(loop_time())

    await within(asyncio.gather(*(acquirer() for _ in range(20))), 60, what="20 concurrent limiter.acquire() calls")
    for window in (0, 1, 2, 5):
        allowed = 2 * window + 3
        got = sum(1 for t in times if t <= window + 1e-6)
        assert got <= allowed, (
            f"{got} acquisitions succeeded by {window} s, at most {allowed} (rate * T + burst) may. "
            "Several waiters took the same token: re-check the bucket after waking, or let one waiter in at a time."
        )
    expected = [0, 0, 0] + [0.5 * k for k in range(1, 18)]
    assert sorted(times) == pytest.approx(expected, abs=1e-6), (
        f"expected acquisition times {expected!r}, got {sorted(times)!r}"
    )


# --- fetch_many ----------------------------------------------------------------------------------


async def fetch(session, urls, **kwargs):
    """fetch_many under a generous loop-time bound; raising at all is a failure."""
    try:
        return await within(resilience.fetch_many(session, urls, **kwargs), 120, what="fetch_many")
    except AssertionError:
        raise
    except Exception as exc:
        raise AssertionError(
            f"fetch_many raised {hints.describe(exc)}; it must never raise for one URL: a failed request "
            "is recorded by its class name in FetchResult.error, and a body that does not parse as JSON is data=None"
        ) from exc


@pytest.mark.points(2)
async def test_fetch_many_bounds_concurrency(mock_http, traffic, looptime):
    """10 one-second requests with concurrency=3: at most 3 in flight, done in 4 s."""
    urls = [f"{API}/c/{i}" for i in range(10)]
    for url in urls:
        mock_http.get(url, callback=traffic.reply(payload={"ok": True}, delay=1))
    async with aiohttp.ClientSession() as session:
        results = await fetch(session, urls, concurrency=3)
    assert [r.status for r in results] == [200] * 10, f"expected ten 200s, got {[r.status for r in results]!r}"
    assert traffic.peak <= 3, f"expected at most 3 requests in flight, saw {traffic.peak}. Use an asyncio.Semaphore(concurrency)."
    assert traffic.peak == 3, f"expected 3 requests in flight at once, saw at most {traffic.peak}. {hints.SEQUENTIAL}"
    assert looptime == 4, f"expected 4 s (ceil(10 / 3) rounds of 1 s), took {float(looptime):g} s"


@pytest.mark.points(1)
async def test_fetch_many_default_concurrency_is_five(mock_http, traffic, looptime):
    """Without concurrency=, at most 5 requests are in flight."""
    urls = [f"{API}/d/{i}" for i in range(12)]
    for url in urls:
        mock_http.get(url, callback=traffic.reply(payload=1, delay=1))
    async with aiohttp.ClientSession() as session:
        await fetch(session, urls)
    assert traffic.peak == 5, f"expected a peak of 5 requests in flight (the default concurrency), saw {traffic.peak}"
    assert looptime == 3, f"expected 3 s (12 requests, 5 at a time), took {float(looptime):g} s"


@pytest.mark.points(2)
async def test_fetch_many_results_in_input_order(mock_http, traffic, looptime):
    """Results come back in input order even when later URLs answer first."""
    urls = [f"{API}/o/{i}" for i in range(4)]
    for i, delay in enumerate([3, 1, 2, 0.5]):
        mock_http.get(urls[i], callback=traffic.reply(payload={"i": i}, delay=delay))
    async with aiohttp.ClientSession() as session:
        results = await fetch(session, urls, concurrency=4)
    got = [(r.url, r.data) for r in results]
    expected = [(url, {"i": i}) for i, url in enumerate(urls)]
    assert same(got, expected), f"expected {expected!r} (input order), got {got!r}"
    assert looptime == 3, f"expected 3 s (all at once), took {float(looptime):g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(2)
async def test_fetch_many_parses_json_only_for_2xx(mock_http, traffic, looptime):
    """data is the parsed JSON for a 2xx JSON response, else None; HTTP error statuses are results, not errors."""
    replies = {
        "json": traffic.reply(payload={"a": 1}),
        "list": traffic.reply(status=201, payload=[1, 2]),
        "text": traffic.reply(body="hello", content_type="text/plain"),
        "html": traffic.reply(body="<p>hi</p>", content_type="text/html"),
        "missing": traffic.reply(status=404, payload={"error": "nope"}),
        "broken": traffic.reply(status=500, payload={"error": "boom"}),
        "empty": traffic.reply(status=204, body=""),
    }
    urls = [f"{API}/kind/{name}" for name in replies]
    for url, reply in zip(urls, replies.values()):
        mock_http.get(url, callback=reply)
    async with aiohttp.ClientSession() as session:
        results = await fetch(session, urls)
    names = [f.name for f in dataclasses.fields(resilience.FetchResult)]
    assert names == ["url", "status", "data", "error"], f"FetchResult fields should be url, status, data, error; got {names!r}"
    assert all(isinstance(r, resilience.FetchResult) for r in results), f"expected FetchResult objects, got {results!r}"
    expected = [
        resilience.FetchResult(urls[0], 200, {"a": 1}, None),
        resilience.FetchResult(urls[1], 201, [1, 2], None),
        resilience.FetchResult(urls[2], 200, None, None),
        resilience.FetchResult(urls[3], 200, None, None),
        resilience.FetchResult(urls[4], 404, None, None),
        resilience.FetchResult(urls[5], 500, None, None),
        resilience.FetchResult(urls[6], 204, None, None),
    ]
    assert type(results) is list and len(results) == len(expected), f"expected a list of {len(expected)} results, got {results!r}"
    for want, got in zip(expected, results):
        assert same(outcome(got), outcome(want)), (
            f"expected {want!r}, got {got!r}. A non-2xx status or a non-JSON body is a normal result "
            "with data=None (no raise_for_status, no response.json() on text)."
        )


@pytest.mark.points(2)
async def test_fetch_many_records_failures_without_raising(mock_http, traffic, looptime):
    """A failed request gives status=None, data=None and error=<exception class name>; the others still succeed."""
    urls = [f"{API}/f/ok", f"{API}/f/refused", f"{API}/f/dropped", f"{API}/f/payload"]
    mock_http.get(urls[0], callback=traffic.reply(payload={"fine": True}))
    mock_http.get(urls[1], **traffic.fail(aiohttp.ClientConnectionError("refused")))
    mock_http.get(urls[2], **traffic.fail(aiohttp.ServerDisconnectedError()))
    mock_http.get(urls[3], **traffic.fail(aiohttp.ClientPayloadError("cut")))
    async with aiohttp.ClientSession() as session:
        results = await fetch(session, urls)
    expected = [
        resilience.FetchResult(urls[0], 200, {"fine": True}, None),
        resilience.FetchResult(urls[1], None, None, "ClientConnectionError"),
        resilience.FetchResult(urls[2], None, None, "ServerDisconnectedError"),
        resilience.FetchResult(urls[3], None, None, "ClientPayloadError"),
    ]
    assert same([outcome(r) for r in results], [outcome(r) for r in expected]), (
        f"expected {expected!r}, got {results!r}. error is type(exc).__name__."
    )


@pytest.mark.points(2)
async def test_fetch_many_times_out_a_slow_request(mock_http, traffic, looptime):
    """A request slower than timeout gives error "TimeoutError" at `timeout` seconds; the others are kept."""
    urls = [f"{API}/t/fast", f"{API}/t/slow", f"{API}/t/medium"]
    mock_http.get(urls[0], callback=traffic.reply(payload="fast", delay=0.5))
    mock_http.get(urls[1], callback=traffic.reply(payload="slow", delay=30))
    mock_http.get(urls[2], callback=traffic.reply(payload="medium", delay=1.5))
    async with aiohttp.ClientSession() as session:
        results = await fetch(session, urls, timeout=2)
    fast, slow, medium = results
    assert same((fast.status, fast.data, medium.status, medium.data), (200, "fast", 200, "medium")), (
        f"expected the fast and medium requests to succeed, got {fast!r} and {medium!r}"
    )
    assert slow.status is None and slow.data is None and "Timeout" in (slow.error or ""), (
        f"expected the 30 s request to fail with error 'TimeoutError' after timeout=2, got {slow!r}. "
        "Bound each request with asyncio.timeout(timeout) or asyncio.wait_for."
    )
    assert looptime == 2, f"expected fetch_many to return at 2 s (the timeout), returned at {float(looptime):g} s"


@pytest.mark.points(2)
async def test_fetch_many_acquires_the_limiter_before_each_request(mock_http, traffic, looptime):
    """With limiter=RateLimiter(2), five requests start 0.5 s apart, however high the concurrency."""
    urls = [f"{API}/r/{i}" for i in range(5)]
    for url in urls:
        mock_http.get(url, callback=traffic.reply(payload="ok"))
    async with aiohttp.ClientSession() as session:
        limiter = resilience.RateLimiter(2)
        results = await fetch(session, urls, concurrency=5, limiter=limiter)
    assert [r.status for r in results] == [200] * 5, f"expected five 200s, got {results!r}"
    times = sorted(request_times(traffic))
    assert times == pytest.approx([0, 0.5, 1.0, 1.5, 2.0], abs=1e-6), (
        f"expected requests at loop times [0, 0.5, 1.0, 1.5, 2.0], got {times!r}: "
        "await limiter.acquire() before every single request, and never let two waiting tasks share one token"
    )


@pytest.mark.points(1)
async def test_fetch_many_empty_and_leaves_session_open(mock_http, traffic, looptime):
    """fetch_many([]) returns []; fetch_many leaves nothing running and the caller's session open."""
    mock_http.get(f"{API}/e/1", callback=traffic.reply(payload=1))
    mock_http.get(f"{API}/e/2", **traffic.fail(aiohttp.ClientConnectionError()))
    async with aiohttp.ClientSession() as session:
        before = tasks_now()
        empty = await fetch(session, [])
        assert same(empty, []), f"expected [] for no URLs, got {empty!r}"
        results = await fetch(session, [f"{API}/e/1", f"{API}/e/2"])
        assert [r.status for r in results] == [200, None], f"expected statuses [200, None], got {results!r}"
        assert_nothing_left_running(before, what="fetch_many")
        assert not session.closed, "fetch_many closed the session it was given: the caller owns it"


@pytest.mark.points(2)
async def test_fetch_many_bad_json_and_status_boundaries(mock_http, traffic, looptime):
    """A 2xx JSON body that does not parse, or JSON text not labelled as JSON, is data=None; 299 is 2xx, 300 and 399 are not."""
    replies = {
        "labelled-text": traffic.reply(body='{"looks": "like JSON"}', content_type="text/plain"),
        "truncated": traffic.reply(body='{"a": ', content_type="application/json"),
        "not-utf8": traffic.reply(body=b"\xff\xfe\x00", content_type="application/json"),
        "s299": traffic.reply(status=299, payload={"edge": 299}),
        "s300": traffic.reply(status=300, payload={"edge": 300}),
        "s399": traffic.reply(status=399, payload={"edge": 399}),
        "s199": traffic.reply(status=199, payload={"edge": 199}),
    }
    urls = [f"{API}/b/{name}" for name in replies]
    for url, reply in zip(urls, replies.values()):
        mock_http.get(url, callback=reply)
    async with aiohttp.ClientSession() as session:
        results = await fetch(session, urls)
    expected = [
        (urls[0], 200, None, None),
        (urls[1], 200, None, None),
        (urls[2], 200, None, None),
        (urls[3], 299, {"edge": 299}, None),
        (urls[4], 300, None, None),
        (urls[5], 399, None, None),
        (urls[6], 199, None, None),
    ]
    got = [outcome(r) for r in results]
    for want, have in zip(expected, got):
        assert same(have, want), (
            f"expected {want!r}, got {have!r}. data is the parsed JSON only for 200 <= status < 300, a "
            "Content-Type that says JSON and a body that parses; a body that does not parse is data=None "
            "(catch the ValueError), not a failure."
        )
