"""Public tests for assignment 06. Run them with `pytest assignments/06`.

HTTP is mocked with aioresponses (the `mock_http` fixture): a request to a URL
the test did not register fails with a ClientConnectionError. `traffic.reply`
answers a request after a delay on the virtual clock and counts the requests
in flight, so `traffic.peak` shows how many ran at the same time. The event
loop runs on a virtual clock: `looptime` is the loop's time in seconds.
"""
import aiohttp
import pytest

import http_client
from coursekit import hints
from coursekit.http import must_not_raise, sent_json
from coursekit.testing import assert_same, within

API = "http://api.test"


@pytest.mark.points(2)
def test_api_error_keeps_status_url_and_body():
    """ApiError(404, url, body) is an Exception with .status, .url and .body."""
    err = http_client.ApiError(404, "http://api.test/users/9", "no such user")
    assert isinstance(err, Exception), "ApiError should subclass Exception"
    assert_same((err.status, err.url, err.body), (404, "http://api.test/users/9", "no such user"),
                what="(.status, .url, .body)")


@pytest.mark.points(4)
async def test_make_session_applies_its_settings(mock_http, traffic):
    """make_session sets base_url, ClientTimeout(total, connect), the connector limit and default headers."""
    session = http_client.make_session(
        API, timeout=4.0, connect_timeout=1.5, limit=3, headers={"X-Token": "secret"}
    )
    try:
        assert isinstance(session, aiohttp.ClientSession), f"expected an aiohttp.ClientSession, got {session!r}"
        assert session.timeout.total == 4.0, f"expected session.timeout.total == 4.0, got {session.timeout.total!r}"
        assert session.timeout.connect == 1.5, (
            f"expected session.timeout.connect == 1.5, got {session.timeout.connect!r}"
        )
        assert session.connector is not None and session.connector.limit == 3, (
            "expected a connector with limit=3 (aiohttp.TCPConnector(limit=...)), "
            f"got limit {getattr(session.connector, 'limit', None)!r}"
        )
        assert session.headers.get("X-Token") == "secret", (
            f"expected the default header X-Token: secret, session.headers is {dict(session.headers)!r}"
        )
        mock_http.get(f"{API}/ping", callback=traffic.reply(payload={"pong": True}))
        async with session.get("/ping") as response:  # a relative path: the session adds base_url
            assert response.status == 200, f"the mocked endpoint should answer 200, got {response.status}"
        assert traffic.urls() == [f"{API}/ping"], (
            f"a request for '/ping' should go to {API}/ping through base_url, went to {traffic.urls()!r}"
        )
    finally:
        await session.close()


@pytest.mark.points(3)
async def test_get_json_returns_parsed_body(mock_http, traffic):
    """get_json(session, path) GETs the path and returns the parsed JSON body."""
    mock_http.get(f"{API}/users/1", callback=traffic.reply(payload={"id": 1, "name": "Ada"}))
    async with aiohttp.ClientSession(base_url=API) as session:
        result = await within(http_client.get_json(session, "/users/1"), 10, what="get_json")
    assert_same(result, {"id": 1, "name": "Ada"}, what="get_json's result")


@pytest.mark.points(4)
async def test_get_json_raises_api_error_on_404(mock_http, traffic):
    """get_json raises ApiError with the status, the URL and the body text on a 404."""
    mock_http.get(f"{API}/users/9", callback=traffic.reply(status=404, body="no such user"))
    async with aiohttp.ClientSession(base_url=API) as session:
        try:
            result = await within(http_client.get_json(session, "/users/9"), 10, what="get_json")
        except http_client.ApiError as exc:
            err = exc
        except aiohttp.ClientResponseError as exc:
            pytest.fail(
                f"get_json raised {type(exc).__name__} ({exc}): raise_for_status() is not enough, "
                "check response.status yourself and raise ApiError(status, url, text)"
            )
        else:
            pytest.fail(f"get_json should raise ApiError on a 404, it returned {result!r}")
    assert_same(err.status, 404, what="ApiError.status")
    assert_same(err.body, "no such user", what="ApiError.body")
    assert isinstance(err.url, str) and "/users/9" in err.url, (
        f"expected ApiError.url to be the requested URL as a str, got {err.url!r}"
    )


@pytest.mark.points(4)
async def test_post_json_sends_payload_and_returns_answer(mock_http, traffic):
    """post_json POSTs the payload as a JSON body and returns the parsed answer; a 409 answer raises ApiError."""
    mock_http.post(f"{API}/users", callback=traffic.reply(status=201, payload={"id": 7, "name": "Ada"}))
    mock_http.post(f"{API}/users", callback=traffic.reply(status=409, body="Ada exists"))
    async with aiohttp.ClientSession(base_url=API) as session:
        result = await within(http_client.post_json(session, "/users", {"name": "Ada"}), 10, what="post_json")
        assert_same(result, {"id": 7, "name": "Ada"}, what="post_json's result")
        try:
            again = await within(http_client.post_json(session, "/users", {"name": "Ada"}), 10, what="post_json")
        except http_client.ApiError as exc:
            assert_same((exc.status, exc.body), (409, "Ada exists"), what="the ApiError's (.status, .body) for a 409")
        else:
            pytest.fail(f"post_json should raise ApiError on a 409 answer, it returned {again!r}")
    assert len(traffic.requests) == 2, f"expected two POST requests, saw {len(traffic.requests)}"
    body = sent_json(traffic.requests[0])
    assert body == {"name": "Ada"}, f"expected the JSON body {{'name': 'Ada'}} (use json=payload), sent {body!r}"


@pytest.mark.points(5)
async def test_check_urls_reports_statuses_concurrently(mock_http, traffic, looptime):
    """check_urls requests every URL at the same time and maps each to its status code, or a failed one to its error's class name."""
    urls = [f"{API}/a", f"{API}/b", f"{API}/c", f"{API}/down"]
    mock_http.get(urls[0], callback=traffic.reply(status=200, body="", delay=1))
    mock_http.get(urls[1], callback=traffic.reply(status=404, body="", delay=2))
    mock_http.get(urls[2], callback=traffic.reply(status=500, body="", delay=3))
    mock_http.get(urls[3], callback=traffic.reply(error=aiohttp.ServerDisconnectedError(), delay=1))
    async with aiohttp.ClientSession() as session:
        result = await must_not_raise(http_client.check_urls(session, urls), 30, what="check_urls")
    expected = {urls[0]: 200, urls[1]: 404, urls[2]: 500, urls[3]: "ServerDisconnectedError"}
    assert_same(result, expected, what="check_urls' result (a status code, or type(exc).__name__ for a failure)")
    assert traffic.peak == 4, f"expected all 4 requests in flight at once, at most {traffic.peak} were. {hints.SEQUENTIAL}"
    assert looptime == 3, f"expected 3 s of loop time (the slowest URL), took {float(looptime):g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(3)
async def test_download_writes_the_body_to_a_file(mock_http, traffic, tmp_path):
    """download streams the body into dest and returns the number of bytes written."""
    body = bytes(range(256)) * 400  # 102400 bytes
    mock_http.get(f"{API}/file.bin", callback=traffic.reply(body=body, content_type="application/octet-stream"))
    dest = tmp_path / "file.bin"
    async with aiohttp.ClientSession() as session:
        written = await within(
            http_client.download(session, f"{API}/file.bin", dest, chunk_size=1000), 10, what="download"
        )
    assert dest.is_file(), f"download should create the file {dest}"
    content = dest.read_bytes()
    assert content == body, f"the file should hold the {len(body)}-byte body, it holds {len(content)} bytes that differ"
    assert_same(written, len(body), what="download's return value (the number of bytes written)")


@pytest.mark.points(4)
async def test_fetch_users_uses_one_session_and_keeps_order(mock_http, traffic, session_spy, looptime):
    """fetch_users GETs /users/{id} concurrently through ONE session, results in input order, session closed."""
    for user_id, delay in [(3, 3), (1, 1), (2, 2)]:
        mock_http.get(f"{API}/users/{user_id}", callback=traffic.reply(payload={"id": user_id}, delay=delay))
    result = await within(http_client.fetch_users(API, [3, 1, 2]), 30, what="fetch_users")
    assert_same(result, [{"id": 3}, {"id": 1}, {"id": 2}], what="fetch_users' result (input order)")
    assert len(session_spy.sessions) == 1, (
        f"fetch_users should open exactly one ClientSession for all requests, it opened {len(session_spy.sessions)}"
    )
    session_spy.assert_all_closed(what="fetch_users")
    assert traffic.peak == 3, f"expected all 3 requests in flight at once, at most {traffic.peak} were. {hints.SEQUENTIAL}"
    assert looptime == 3, f"expected 3 s of loop time (the slowest request), took {float(looptime):g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(2)
async def test_download_of_a_missing_file_raises_and_writes_nothing(mock_http, traffic, tmp_path):
    """download of a URL answering 403 raises ApiError(403, ...) and leaves the destination folder empty."""
    mock_http.get(f"{API}/secret.bin", callback=traffic.reply(status=403, body="forbidden"))
    async with aiohttp.ClientSession() as session:
        try:
            written = await within(http_client.download(session, f"{API}/secret.bin", tmp_path / "secret.bin"), 10,
                                   what="download")
        except http_client.ApiError as exc:
            assert_same(exc.status, 403, what="ApiError.status")
        else:
            pytest.fail(f"download should raise ApiError on a 403 answer, it returned {written!r}")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [], f"download should create no file on an error status, it left {left!r}: check the status first"


@pytest.mark.points(2)
async def test_fetch_users_error_status_closes_the_session(mock_http, traffic, session_spy):
    """When /users/5 answers 500, fetch_users raises that ApiError itself (not an ExceptionGroup) and its session is closed."""
    mock_http.get(f"{API}/users/4", callback=traffic.reply(payload={"id": 4}, delay=1))
    mock_http.get(f"{API}/users/5", callback=traffic.reply(status=500, body="database down", delay=1))
    try:
        result = await within(http_client.fetch_users(API, [4, 5]), 30, what="fetch_users")
    except http_client.ApiError as exc:
        assert_same((exc.status, exc.body), (500, "database down"), what="the ApiError's (.status, .body)")
    except BaseExceptionGroup as group:
        pytest.fail(f"fetch_users should raise the ApiError itself, it raised {group!r}: unwrap it (`except* ApiError`)")
    else:
        pytest.fail(f"fetch_users should raise ApiError when a user answers 500, it returned {result!r}")
    session_spy.assert_all_closed(what="fetch_users (after an error status)")
