"""Hidden tests for assignment 06, on mocked HTTP: every clause of the contract and the usual mistakes.

The loopback (real server) half is in test_hidden_http_client_live.py.
"""
import asyncio
import gc
import json
import warnings

import aiohttp
import pytest

import http_client
from coursekit import hints
from coursekit.http import must_not_raise, sent_json
from coursekit.testing import assert_same, same, within

API = "http://api.test"


async def expect_api_error(aw, *, what):
    """Await ``aw`` and return the ApiError it raises; fail with a readable message otherwise."""
    try:
        result = await within(aw, 30, what=what)
    except http_client.ApiError as err:
        return err
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - report whatever came instead
        extra = ""
        if isinstance(exc, BaseExceptionGroup):
            extra = (
                " A TaskGroup wraps failures in an ExceptionGroup: catch it with "
                "`except* ApiError` and re-raise the ApiError itself."
            )
        elif isinstance(exc, aiohttp.ClientResponseError):
            extra = " raise_for_status() raises ClientResponseError: check response.status yourself and raise ApiError."
        elif isinstance(exc, UnicodeDecodeError):
            extra = (
                " The error body is not valid text in its declared encoding: decode it leniently, "
                "e.g. `await response.text(errors=\"replace\")`."
            )
        pytest.fail(f"{what} should raise ApiError, it raised {hints.describe(exc)}.{extra}")
    pytest.fail(f"{what} should raise ApiError on an error status, it returned {result!r}")


# --- ApiError and make_session ------------------------------------------------------------


@pytest.mark.points(1)
def test_api_error_can_be_raised_and_caught():
    """ApiError(status, url, body) can be raised and caught as an Exception, keeping its attributes."""
    try:
        raise http_client.ApiError(500, "http://api.test/x", '{"error": "boom"}')
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - the point: it is caught as an Exception
        err = exc
    assert isinstance(err, http_client.ApiError), f"expected an ApiError, got {hints.describe(err)}"
    assert_same((err.status, err.url, err.body), (500, "http://api.test/x", '{"error": "boom"}'),
                what="(.status, .url, .body)")


@pytest.mark.points(2)
async def test_make_session_default_settings():
    """make_session(base_url) defaults to ClientTimeout(total=10, connect=3) and a connector limit of 10."""
    session = http_client.make_session(API)
    try:
        assert isinstance(session, aiohttp.ClientSession), f"expected an aiohttp.ClientSession, got {session!r}"
        got = (session.timeout.total, session.timeout.connect)
        assert got == (10.0, 3.0), f"expected timeout total=10, connect=3 by default, got total={got[0]!r}, connect={got[1]!r}"
        limit = getattr(session.connector, "limit", None)
        assert limit == 10, f"expected a connector limit of 10 by default, got {limit!r}"
    finally:
        await session.close()


@pytest.mark.points(3)
async def test_make_session_base_url_and_default_headers_reach_requests(mock_http, traffic):
    """A session from make_session sends relative paths under base_url and adds the default headers."""
    base = f"{API}/v2/"
    headers = {"X-Token": "t0k3n", "Accept": "application/json"}
    mock_http.get(f"{API}/v2/items", callback=traffic.reply(payload=[]))
    session = http_client.make_session(base, headers=headers, limit=4)
    try:
        recorded_base = getattr(session, "_base_url", None)
        if recorded_base is not None:
            assert str(recorded_base) == base, f"expected the session's base_url {base!r}, got {str(recorded_base)!r}"
        assert getattr(session.connector, "limit", None) == 4, (
            f"expected connector limit 4, got {getattr(session.connector, 'limit', None)!r}"
        )
        async with session.get("items") as response:
            assert response.status == 200, f"the mocked endpoint should answer 200, got {response.status}"
    finally:
        await session.close()
    assert traffic.urls() == [f"{API}/v2/items"], (
        f"'items' on a session with base_url {base!r} should request {API}/v2/items, requested {traffic.urls()!r}"
    )
    sent = traffic.requests[0].kwargs.get("headers") or {}
    for name, value in headers.items():
        assert sent.get(name) == value, (
            f"the default header {name}: {value} should be sent with every request, sent headers {dict(sent)!r}"
        )


# --- get_json ------------------------------------------------------------------------------


@pytest.mark.points(3)
async def test_get_json_parses_json_whatever_the_content_type(mock_http, traffic):
    """get_json parses a JSON body even when the server labels it text/plain or text/html."""
    mock_http.get(f"{API}/plain", callback=traffic.reply(body='{"kind": "plain"}', content_type="text/plain"))
    mock_http.get(f"{API}/html", callback=traffic.reply(body='[1, 2, 3]', content_type="text/html"))
    async with aiohttp.ClientSession(base_url=API) as session:
        try:
            plain = await within(http_client.get_json(session, "/plain"), 10, what="get_json")
            html = await within(http_client.get_json(session, "/html"), 10, what="get_json")
        except aiohttp.ContentTypeError as exc:
            pytest.fail(
                f"get_json refused a JSON body served as text ({exc}): use `await response.json(content_type=None)` "
                "or parse `await response.text()` with json.loads"
            )
    assert_same(plain, {"kind": "plain"}, what="get_json's result for a text/plain body")
    assert_same(html, [1, 2, 3], what="get_json's result for a text/html body")


@pytest.mark.points(2)
async def test_get_json_sends_params(mock_http, traffic):
    """get_json passes params as the query string."""
    mock_http.get(f"{API}/search?q=ada&page=2", callback=traffic.reply(payload={"hits": 1}))
    async with aiohttp.ClientSession(base_url=API) as session:
        result = await within(
            http_client.get_json(session, "/search", params={"q": "ada", "page": 2}), 10, what="get_json"
        )
    assert_same(result, {"hits": 1}, what="get_json's result from /search?q=ada&page=2")


@pytest.mark.points(3)
async def test_get_json_raises_api_error_from_400_up_and_parses_2xx(mock_http, traffic):
    """get_json raises ApiError(status, url, text) for 400 and 500 but parses a 202 answer."""
    mock_http.get(f"{API}/bad", callback=traffic.reply(status=400, payload={"error": "bad page"}))
    mock_http.get(f"{API}/broken", callback=traffic.reply(status=500, body="internal trouble"))
    mock_http.get(f"{API}/accepted", callback=traffic.reply(status=202, payload={"queued": True}))
    async with aiohttp.ClientSession(base_url=API) as session:
        bad = await expect_api_error(http_client.get_json(session, "/bad"), what="get_json on a 400")
        broken = await expect_api_error(http_client.get_json(session, "/broken"), what="get_json on a 500")
        accepted = await within(http_client.get_json(session, "/accepted"), 10, what="get_json on a 202")
    assert same((bad.status, broken.status), (400, 500)), (
        f"expected ApiError.status 400 and 500, got {bad.status!r} and {broken.status!r}"
    )
    assert json.loads(bad.body) == {"error": "bad page"} and isinstance(bad.body, str), (
        f"expected ApiError.body to be the response text '{{\"error\": \"bad page\"}}', got {bad.body!r}"
    )
    assert_same(broken.body, "internal trouble", what="ApiError.body")
    assert isinstance(broken.url, str) and "/broken" in broken.url, (
        f"expected ApiError.url to be the requested URL as a str, got {broken.url!r}"
    )
    assert_same(accepted, {"queued": True}, what="get_json's result for a 202 (a success)")


@pytest.mark.points(2)
async def test_get_json_status_boundaries(mock_http, traffic):
    """Only a status >= 400 is an error: get_json parses the JSON of a 299 and of a 399 answer, and raises ApiError on a 400."""
    mock_http.get(f"{API}/s299", callback=traffic.reply(status=299, payload={"status": 299}))
    mock_http.get(f"{API}/s399", callback=traffic.reply(status=399, payload={"status": 399}))
    mock_http.get(f"{API}/s400", callback=traffic.reply(status=400, body="first error status"))
    async with aiohttp.ClientSession(base_url=API) as session:
        for status in (299, 399):
            try:
                got = await within(http_client.get_json(session, f"/s{status}"), 10, what=f"get_json on a {status}")
            except http_client.ApiError as err:
                pytest.fail(f"a {status} answer is not an error (only >= 400 is), get_json raised {err!r}")
            assert_same(got, {"status": status}, what=f"get_json's result for a {status} answer")
        err = await expect_api_error(http_client.get_json(session, "/s400"), what="get_json on a 400")
    assert_same((err.status, err.body), (400, "first error status"), what="the 400 ApiError's (.status, .body)")


@pytest.mark.points(1)
async def test_get_json_error_body_that_is_not_utf8(mock_http, traffic):
    """An error answer whose body is not valid UTF-8 still raises ApiError (never UnicodeDecodeError), with the body as a str."""
    mock_http.get(f"{API}/latin", callback=traffic.reply(status=502, body=b"bad \xff\xfe gateway", content_type="text/plain"))
    async with aiohttp.ClientSession(base_url=API) as session:
        err = await expect_api_error(http_client.get_json(session, "/latin"), what="get_json on a 502 with a non-UTF-8 body")
    assert_same(err.status, 502, what="ApiError.status")
    assert isinstance(err.body, str) and err.body.startswith("bad ") and err.body.endswith(" gateway"), (
        f"expected ApiError.body to be the body as text, undecodable bytes replaced, got {err.body!r}"
    )


# --- post_json -----------------------------------------------------------------------------


@pytest.mark.points(3)
async def test_post_json_raises_api_error_on_error_status(mock_http, traffic):
    """post_json raises ApiError with the status and body text on a 422 answer, on a 400 (the first error status) and on a 500 whose body is not UTF-8."""
    mock_http.post(f"{API}/users", callback=traffic.reply(status=422, body="name is required"))
    mock_http.post(f"{API}/lowest", callback=traffic.reply(status=400, payload={"detail": "malformed"}))
    mock_http.post(f"{API}/binary", callback=traffic.reply(status=500, body=b"crash \xc3\x28 dump", content_type="text/plain"))
    async with aiohttp.ClientSession(base_url=API) as session:
        err = await expect_api_error(http_client.post_json(session, "/users", {"name": ""}), what="post_json on a 422")
        lowest = await expect_api_error(http_client.post_json(session, "/lowest", [1]), what="post_json on a 400")
        binary = await expect_api_error(http_client.post_json(session, "/binary", {}), what="post_json on a 500 with a non-UTF-8 body")
    assert isinstance(binary.body, str) and binary.body.startswith("crash ") and binary.body.endswith(" dump"), (
        f"expected the 500 ApiError's .body to be the body as text, undecodable bytes replaced, got {binary.body!r}"
    )
    assert_same((err.status, err.body), (422, "name is required"), what="the 422 ApiError's (.status, .body)")
    assert_same(lowest.status, 400, what="the 400 ApiError's .status")
    assert isinstance(lowest.body, str) and json.loads(lowest.body) == {"detail": "malformed"}, (
        f"expected the 400 ApiError's .body to be the response text, got {lowest.body!r}"
    )
    assert sent_json(traffic.requests[0]) == {"name": ""}, "post_json should still send the payload as a JSON body"


@pytest.mark.points(2)
async def test_post_json_returns_none_for_an_empty_answer(mock_http, traffic):
    """post_json returns None for a 204 or an empty 201, and parses a JSON answer served as text/plain."""
    mock_http.post(f"{API}/ping", callback=traffic.reply(status=204, body=""))
    mock_http.post(f"{API}/made", callback=traffic.reply(status=201, body=""))
    mock_http.post(f"{API}/plain", callback=traffic.reply(status=200, body='{"ok": 1}', content_type="text/plain"))
    async with aiohttp.ClientSession(base_url=API) as session:
        try:
            no_content = await within(http_client.post_json(session, "/ping", {"a": 1}), 10, what="post_json")
            empty = await within(http_client.post_json(session, "/made", [1, 2]), 10, what="post_json")
            plain = await within(http_client.post_json(session, "/plain", {}), 10, what="post_json")
        except (json.JSONDecodeError, aiohttp.ContentTypeError) as exc:
            pytest.fail(f"post_json failed to handle an empty or text/plain answer: {hints.describe(exc)}")
    assert no_content is None, f"expected None for a 204 answer, got {no_content!r}"
    assert empty is None, f"expected None for an empty 201 answer, got {empty!r}"
    assert_same(plain, {"ok": 1}, what="post_json's result for a text/plain JSON answer")
    bodies = [sent_json(r) for r in traffic.requests]
    assert bodies == [{"a": 1}, [1, 2], {}], f"expected the JSON bodies {{'a': 1}}, [1, 2], {{}}, sent {bodies!r}"


# --- check_urls ----------------------------------------------------------------------------


@pytest.mark.points(3)
async def test_check_urls_maps_failures_to_exception_class_names(mock_http, traffic):
    """check_urls maps a failed request to its exception's class name and never raises."""
    urls = {
        f"{API}/ok": traffic.reply(status=200, body="fine"),
        f"{API}/refused": traffic.reply(error=aiohttp.ClientConnectionError("refused")),
        f"{API}/dropped": traffic.reply(error=aiohttp.ServerDisconnectedError()),
        f"{API}/slow": traffic.reply(error=TimeoutError()),
        f"{API}/gone": traffic.reply(status=410, body="gone"),
    }
    for url, callback in urls.items():
        mock_http.get(url, callback=callback)
    async with aiohttp.ClientSession() as session:
        result = await must_not_raise(http_client.check_urls(session, list(urls)), 30, what="check_urls")
    expected = {
        f"{API}/ok": 200,
        f"{API}/refused": "ClientConnectionError",
        f"{API}/dropped": "ServerDisconnectedError",
        f"{API}/slow": "TimeoutError",
        f"{API}/gone": 410,
    }
    assert_same(result, expected, what="check_urls' result (a status code, or type(exc).__name__ for a failure)")


@pytest.mark.points(2)
async def test_check_urls_one_failure_does_not_stop_the_others(mock_http, traffic, looptime):
    """A URL failing early does not cancel or fail the requests still in flight."""
    urls = [f"{API}/fails", f"{API}/slow1", f"{API}/slow2"]
    mock_http.get(urls[0], callback=traffic.reply(error=aiohttp.ClientConnectionError("down"), delay=0.5))
    mock_http.get(urls[1], callback=traffic.reply(status=200, body="", delay=2))
    mock_http.get(urls[2], callback=traffic.reply(status=201, body="", delay=2))
    async with aiohttp.ClientSession() as session:
        result = await must_not_raise(http_client.check_urls(session, urls), 30, what="check_urls")
    expected = {urls[0]: "ClientConnectionError", urls[1]: 200, urls[2]: 201}
    assert_same(result, expected, what="check_urls' result")
    assert looptime == 2, f"expected 2 s of loop time, took {float(looptime):g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(2)
async def test_check_urls_many_at_once(mock_http, traffic, looptime):
    """check_urls with 20 one-second URLs takes 1 s with all 20 in flight."""
    urls = [f"{API}/page/{i}" for i in range(20)]
    for url in urls:
        mock_http.get(url, callback=traffic.reply(status=200, body="", delay=1))
    async with aiohttp.ClientSession() as session:
        result = await within(http_client.check_urls(session, urls), 60, what="check_urls")
    assert same(result, {url: 200 for url in urls}), f"expected status 200 for all 20 URLs, got {result!r}"
    assert traffic.peak == 20, f"expected 20 requests in flight at once, at most {traffic.peak} were. {hints.SEQUENTIAL}"
    assert looptime == 1, f"expected 1 s of loop time, took {float(looptime):g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(1)
async def test_check_urls_empty(mock_http):
    """check_urls(session, []) returns {}."""
    async with aiohttp.ClientSession() as session:
        result = await within(http_client.check_urls(session, []), 10, what="check_urls([])")
    assert_same(result, {}, what="check_urls(session, [])")


@pytest.mark.points(1)
async def test_check_urls_accepts_any_iterable(mock_http, traffic):
    """check_urls takes any iterable of URLs, such as a generator that can be read only once."""
    paths = ["one", "two", "three"]
    for path in paths:
        mock_http.get(f"{API}/{path}", callback=traffic.reply(status=200, body=""))
    async with aiohttp.ClientSession() as session:
        result = await must_not_raise(http_client.check_urls(session, (f"{API}/{p}" for p in paths)), 30, what="check_urls")
    assert_same(result, {f"{API}/{p}": 200 for p in paths}, what="check_urls' result for a generator of 3 URLs")


# --- download ------------------------------------------------------------------------------


@pytest.mark.points(3)
async def test_download_error_status_raises_and_creates_no_file(mock_http, traffic, tmp_path):
    """download raises ApiError on a 404 or 500 and creates no file; a good URL still downloads."""
    mock_http.get(f"{API}/missing.bin", callback=traffic.reply(status=404, body="not here"))
    mock_http.get(f"{API}/broken.bin", callback=traffic.reply(status=500, body="oops"))
    mock_http.get(f"{API}/good.bin", callback=traffic.reply(body=b"\x00\x01" * 5000, content_type="application/octet-stream"))
    async with aiohttp.ClientSession() as session:
        for name, status in [("missing.bin", 404), ("broken.bin", 500)]:
            dest = tmp_path / name
            err = await expect_api_error(
                http_client.download(session, f"{API}/{name}", dest), what=f"download of a {status} answer"
            )
            assert_same(err.status, status, what="ApiError.status")
            left = sorted(p.name for p in tmp_path.iterdir())
            assert left == [], f"download should create no file on a {status} answer (no dest, no temporary file), found {left!r}"
        good = tmp_path / "good.bin"
        written = await within(http_client.download(session, f"{API}/good.bin", str(good)), 10, what="download")
    assert good.is_file() and good.read_bytes() == b"\x00\x01" * 5000, "a 200 answer should be written to dest (a str path)"
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["good.bin"], f"after a complete download only dest should be left, found {left!r}"
    assert_same(written, 10000, what="download's return value (bytes written)")


@pytest.mark.points(2)
async def test_download_chunk_size_one_and_status_boundaries(mock_http, traffic, tmp_path):
    """chunk_size=1 is valid (a 600-byte body arrives whole); a 399 answer is downloaded; a 400 (body not UTF-8) raises ApiError and writes nothing."""
    body = bytes(range(200)) * 3
    mock_http.get(f"{API}/tiny.bin", callback=traffic.reply(body=body, content_type="application/octet-stream"))
    mock_http.get(f"{API}/odd.bin", callback=traffic.reply(status=399, body=b"399 body", content_type="application/octet-stream"))
    mock_http.get(f"{API}/bad.bin", callback=traffic.reply(status=400, body=b"bad \xff request", content_type="text/plain"))
    async with aiohttp.ClientSession() as session:
        tiny = tmp_path / "tiny.bin"
        try:
            written = await within(http_client.download(session, f"{API}/tiny.bin", tiny, chunk_size=1), 30,
                                   what="download(chunk_size=1)")
        except ValueError as exc:
            pytest.fail(f"chunk_size=1 is a valid chunk size, download raised {exc!r}")
        assert_same(written, len(body), what="download(chunk_size=1)'s return value")
        assert tiny.read_bytes() == body, "download(chunk_size=1) should write the whole body, byte for byte"
        odd = tmp_path / "odd.bin"
        written = await within(http_client.download(session, f"{API}/odd.bin", odd), 10, what="download of a 399")
        assert_same(written, 8, what="download's return value for a 399 answer (not an error status)")
        assert odd.read_bytes() == b"399 body", "a 399 answer is not an error: its body should be written to dest"
        err = await expect_api_error(http_client.download(session, f"{API}/bad.bin", tmp_path / "bad.bin"),
                                     what="download of a 400 answer")
    assert_same(err.status, 400, what="ApiError.status")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["odd.bin", "tiny.bin"], f"a 400 answer should leave no file behind; the folder holds {left!r}"


@pytest.mark.points(1)
async def test_download_closes_the_file_it_writes(mock_http, traffic, tmp_path):
    """download closes the file it writes (no "unclosed file" ResourceWarning) before it returns."""
    mock_http.get(f"{API}/a.bin", callback=traffic.reply(body=b"abc" * 1000, content_type="application/octet-stream"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        async with aiohttp.ClientSession() as session:
            await within(http_client.download(session, f"{API}/a.bin", tmp_path / "a.bin"), 10, what="download")
        gc.collect()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning) and "unclosed file" in str(w.message)]
    assert not unclosed, (
        f"download left the file it wrote open ({unclosed[0]}): open it with `with open(dest, 'wb') as file:` "
        "so it is closed (and flushed) before download returns or raises"
    )


# --- fetch_users ---------------------------------------------------------------------------


@pytest.mark.points(3)
async def test_fetch_users_many_concurrently_in_input_order(mock_http, traffic, session_spy, looptime):
    """fetch_users for 8 ids runs all 8 requests at once and returns the bodies in input order."""
    ids = [5, 3, 8, 1, 7, 2, 6, 4]
    for user_id in ids:
        mock_http.get(f"{API}/users/{user_id}", callback=traffic.reply(payload={"id": user_id}, delay=user_id))
    result = await within(http_client.fetch_users(API, ids), 60, what="fetch_users")
    assert same(result, [{"id": i} for i in ids]), f"expected the bodies in input order {ids!r}, got {result!r}"
    assert traffic.peak == 8, f"expected 8 requests in flight at once, at most {traffic.peak} were. {hints.SEQUENTIAL}"
    assert looptime == 8, f"expected 8 s of loop time (the slowest request), took {float(looptime):g} s. {hints.SEQUENTIAL}"
    assert len(session_spy.sessions) == 1, f"expected exactly one ClientSession, fetch_users opened {len(session_spy.sessions)}"
    session_spy.assert_all_closed(what="fetch_users")


@pytest.mark.points(3)
async def test_fetch_users_error_raises_api_error_and_closes_the_session(mock_http, traffic, session_spy):
    """fetch_users raises ApiError when one user answers 404, through one session that ends up closed."""
    mock_http.get(f"{API}/users/1", callback=traffic.reply(payload={"id": 1}, delay=2))
    mock_http.get(f"{API}/users/2", callback=traffic.reply(status=404, body="no user 2", delay=1))
    mock_http.get(f"{API}/users/3", callback=traffic.reply(payload={"id": 3}, delay=2))
    err = await expect_api_error(http_client.fetch_users(API, [1, 2, 3]), what="fetch_users with a 404")
    assert_same(err.status, 404, what="ApiError.status")
    assert len(session_spy.sessions) == 1, f"expected exactly one ClientSession, fetch_users opened {len(session_spy.sessions)}"
    session_spy.assert_all_closed(what="fetch_users (after an error status)")


@pytest.mark.points(2)
async def test_fetch_users_closes_the_session_when_cancelled(mock_http, traffic, session_spy):
    """Cancelling fetch_users mid-flight propagates CancelledError and still closes its session."""
    for user_id in (1, 2):
        mock_http.get(f"{API}/users/{user_id}", callback=traffic.reply(payload={"id": user_id}, delay=10))
    task = asyncio.create_task(http_client.fetch_users(API, [1, 2]))
    await asyncio.sleep(1)
    if task.done():
        result = task.result()  # re-raises fetch_users' own exception, if any
        pytest.fail(f"fetch_users returned {result!r} before its 10-second requests could finish")
    assert traffic.in_flight == 2, (
        f"after 1 s both requests should be in flight, {traffic.in_flight} were. {hints.SEQUENTIAL}"
    )
    task.cancel()
    try:
        await within(task, 10, what="fetch_users after cancel()")
    except asyncio.CancelledError:
        pass
    else:
        pytest.fail(f"fetch_users should propagate the cancellation, it returned instead. {hints.SWALLOWED_CANCEL}")
    session_spy.assert_all_closed(what="fetch_users (when cancelled)")


@pytest.mark.points(1)
async def test_fetch_users_no_ids(mock_http, session_spy):
    """fetch_users(base_url, []) returns [] and leaves no session open."""
    result = await within(http_client.fetch_users(API, []), 10, what="fetch_users([])")
    assert_same(result, [], what="fetch_users(base_url, [])")
    session_spy.assert_all_closed(what="fetch_users([])")
