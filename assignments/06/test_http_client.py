"""Public tests for assignment 06. Run them with `pytest assignments/06`.

Each test asks for a *scenario* (`coursekit/probes/p06.py`): it mocks HTTP
with aioresponses (a request to a URL the test did not list fails with a
ClientConnectionError), calls your functions with an aiohttp session, and
reports what it saw as plain data: each call's result or exception, the
requests the mocks received (URL, JSON body, headers), the most requests in
flight at once, the loop time, the sessions your code opened and whether they
were closed, the files `download` left. The event loop runs on a virtual
clock, so a mocked answer that takes 3 s costs no real time. Locally the
scenario runs right here, so your prints and breakpoints work; when graded it
runs in a process of its own, apart from the tests.
"""
import hashlib
from types import SimpleNamespace

import pytest

from coursekit import hints
from coursekit.hints import describe_parts
from coursekit.judge import raised, unwrap
from coursekit.probes import p06
from coursekit.testing import assert_same

STUDENT_MODULE = "http_client"
API = "http://api.test"


def run(student, *, routes, calls, session=None, what):
    """The mocked scenario's report: ``calls`` (one report per call), ``requests`` and ``peak``."""
    return student.run(p06.mocked_calls, routes=routes, calls=calls, session=session).value(what)


def took(call):
    """The loop time a call took."""
    return call["end"] - call["start"]


def api_error(call, *, what, returned, extra=None):
    """The ``.status``, ``.url`` and ``.body`` of the ApiError a call raised; a failure naming what came instead.

    ``returned`` is the failure when the call returned (``{result}`` is its
    value); ``extra(error)`` may give a failure for a particular exception.
    """
    if call["api_error"] is not None:
        return SimpleNamespace(**unwrap(call["api_error"], what="reading the ApiError's .status, .url and .body"))
    outcome = call["outcome"]
    if "value" in outcome:
        pytest.fail(returned.format(result=repr(outcome["value"])))
    error = raised(outcome)
    if error is not None and extra is not None and extra(error):
        pytest.fail(extra(error))
    unwrap(outcome, what=what)  # the stub's NotImplementedError, a hang, or the exception that came instead
    raise AssertionError(f"{what}: unexpected outcome {outcome!r}")  # pragma: no cover - unwrap always raises here


def header(pairs, name):
    """A header's value among ``(name, value)`` pairs, the name's case ignored (``None`` if absent)."""
    return next((value for key, value in pairs or () if key.lower() == name.lower()), None)


def sent_json(request):
    """The JSON body a mocked request carried (or the error reading it as JSON)."""
    return request["json"]["value"] if "value" in request["json"] else request["json"].get("raised")


def left_open(call, *, what):
    """Fail if a session the call opened is still open."""
    assert call["sessions_open"] == 0, (
        f"{what} left {call['sessions_open']} aiohttp.ClientSession(s) open. {hints.SESSION_LEFT_OPEN}"
    )


@pytest.mark.points(2)
def test_api_error_keeps_status_url_and_body(student):
    """ApiError(404, url, body) is an Exception with .status, .url and .body."""
    seen = student.run(p06.api_error_made, status=404, url="http://api.test/users/9",
                       body="no such user").value("ApiError")
    unwrap(seen["made"], what="ApiError(404, 'http://api.test/users/9', 'no such user')")
    assert seen["is_exception"], "ApiError should subclass Exception"
    assert_same(unwrap(seen["fields"], what="reading .status, .url and .body"),
                (404, "http://api.test/users/9", "no such user"), what="(.status, .url, .body)")


@pytest.mark.points(4)
def test_make_session_applies_its_settings(student):
    """make_session sets base_url, ClientTimeout(total, connect), the connector limit and default headers."""
    seen = run(student, routes=[{"url": f"{API}/ping", "json": {"pong": True}}],
               session={"make_session": {"args": [API], "kwargs": {"timeout": 4.0, "connect_timeout": 1.5, "limit": 3,
                                                                   "headers": {"X-Token": "secret"}}}},
               calls=[{"get": "/ping"}],  # a relative path: the session adds base_url
               what="make_session")
    unwrap(seen["made"], what="make_session(API, timeout=4.0, connect_timeout=1.5, limit=3, headers=...)")
    session = seen["settings"]
    assert session["is_session"], f"expected an aiohttp.ClientSession, got a {session['type']}"
    assert session["total"] == 4.0, f"expected session.timeout.total == 4.0, got {session['total']!r}"
    assert session["connect"] == 1.5, f"expected session.timeout.connect == 1.5, got {session['connect']!r}"
    assert session["has_connector"] and session["limit"] == 3, (
        f"expected a connector with limit=3 (aiohttp.TCPConnector(limit=...)), got limit {session['limit']!r}"
    )
    assert header(session["headers"], "X-Token") == "secret", (
        f"expected the default header X-Token: secret, session.headers is {dict(session['headers'] or ())!r}"
    )
    [ping] = seen["calls"]
    status = unwrap(ping["outcome"], what="session.get('/ping') on the session make_session returned")
    assert status == 200, f"the mocked endpoint should answer 200, got {status}"
    urls = [r["url"] for r in seen["requests"]]
    assert urls == [f"{API}/ping"], (
        f"a request for '/ping' should go to {API}/ping through base_url, went to {urls!r}"
    )


@pytest.mark.points(3)
def test_get_json_returns_parsed_body(student):
    """get_json(session, path) GETs the path and returns the parsed JSON body."""
    seen = run(student, routes=[{"url": f"{API}/users/1", "json": {"id": 1, "name": "Ada"}}], session={"base_url": API},
               calls=[{"function": "get_json", "args": ["/users/1"], "within": 10}], what="get_json")
    result = unwrap(seen["calls"][0]["outcome"], what="get_json")
    assert_same(result, {"id": 1, "name": "Ada"}, what="get_json's result")


def _raise_for_status(error):
    if error.is_a("ClientResponseError"):
        return (f"get_json raised {error.name} ({error.message}): raise_for_status() is not enough, "
                "check response.status yourself and raise ApiError(status, url, text)")
    return None


@pytest.mark.points(4)
def test_get_json_raises_api_error_on_404(student):
    """get_json raises ApiError with the status, the URL and the body text on a 404."""
    seen = run(student, routes=[{"url": f"{API}/users/9", "status": 404, "body": "no such user"}],
               session={"base_url": API}, calls=[{"function": "get_json", "args": ["/users/9"], "within": 10}],
               what="get_json")
    err = api_error(seen["calls"][0], what="get_json", returned="get_json should raise ApiError on a 404, it returned {result}",
                    extra=_raise_for_status)
    assert_same(err.status, 404, what="ApiError.status")
    assert_same(err.body, "no such user", what="ApiError.body")
    assert isinstance(err.url, str) and "/users/9" in err.url, (
        f"expected ApiError.url to be the requested URL as a str, got {err.url!r}"
    )


@pytest.mark.points(4)
def test_post_json_sends_payload_and_returns_answer(student):
    """post_json POSTs the payload as a JSON body and returns the parsed answer; a 409 answer raises ApiError."""
    post = {"function": "post_json", "args": ["/users", {"name": "Ada"}], "within": 10}
    seen = run(student, routes=[{"url": f"{API}/users", "method": "POST", "status": 201, "json": {"id": 7, "name": "Ada"}},
                                {"url": f"{API}/users", "method": "POST", "status": 409, "body": "Ada exists"}],
               session={"base_url": API}, calls=[post, post], what="post_json")
    first, again = seen["calls"]
    assert_same(unwrap(first["outcome"], what="post_json"), {"id": 7, "name": "Ada"}, what="post_json's result")
    exc = api_error(again, what="post_json", returned="post_json should raise ApiError on a 409 answer, it returned {result}")
    assert_same((exc.status, exc.body), (409, "Ada exists"), what="the ApiError's (.status, .body) for a 409")
    assert len(seen["requests"]) == 2, f"expected two POST requests, saw {len(seen['requests'])}"
    body = sent_json(seen["requests"][0])
    assert body == {"name": "Ada"}, f"expected the JSON body {{'name': 'Ada'}} (use json=payload), sent {body!r}"


def body_digest(spec):
    """The size and SHA-256 of a body described as ``{"repeat": bytes, "times": n}``."""
    body = spec["repeat"] * spec["times"]
    return len(body), hashlib.sha256(body).hexdigest()


def must_not_raise(outcome, *, what):
    """The value of a call that reports a failed URL instead of raising; "must never raise" otherwise."""
    error = raised(outcome)
    if error is not None and not error.is_a("NotImplementedError"):
        pytest.fail(f"{what} must never raise for one URL, it raised {describe_parts(error.name, error.message)}")
    return unwrap(outcome, what=what)


@pytest.mark.points(5)
def test_check_urls_reports_statuses_concurrently(student):
    """check_urls requests every URL at the same time and maps each to its status code, or a failed one to its error's class name."""
    urls = [f"{API}/a", f"{API}/b", f"{API}/c", f"{API}/down"]
    seen = run(student, routes=[{"url": urls[0], "status": 200, "body": "", "delay": 1},
                                {"url": urls[1], "status": 404, "body": "", "delay": 2},
                                {"url": urls[2], "status": 500, "body": "", "delay": 3},
                                {"url": urls[3], "error": "ServerDisconnectedError", "delay": 1}],
               session={}, calls=[{"function": "check_urls", "args": [urls], "within": 30}], what="check_urls")
    call = seen["calls"][0]
    result = must_not_raise(call["outcome"], what="check_urls")
    expected = {urls[0]: 200, urls[1]: 404, urls[2]: 500, urls[3]: "ServerDisconnectedError"}
    assert_same(result, expected, what="check_urls' result (a status code, or type(exc).__name__ for a failure)")
    assert call["peak"] == 4, f"expected all 4 requests in flight at once, at most {call['peak']} were. {hints.SEQUENTIAL}"
    assert took(call) == 3, f"expected 3 s of loop time (the slowest URL), took {took(call):g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(3)
def test_download_writes_the_body_to_a_file(student):
    """download streams the body into dest and returns the number of bytes written."""
    body = {"repeat": bytes(range(256)), "times": 400}  # 102400 bytes
    size, digest = body_digest(body)
    seen = run(student, routes=[{"url": f"{API}/file.bin", "body": body, "content_type": "application/octet-stream"}],
               session={}, calls=[{"function": "download", "args": [f"{API}/file.bin"], "dest": "file.bin",
                                   "kwargs": {"chunk_size": 1000}, "within": 10}], what="download")
    call = seen["calls"][0]
    written = unwrap(call["outcome"], what="download")
    assert "file.bin" in call["files"], "download should create the file dest (file.bin)"
    content = call["files"]["file.bin"]
    assert content["sha256"] == digest, (
        f"the file should hold the {size}-byte body, it holds {content['size']} bytes that differ"
    )
    assert_same(written, size, what="download's return value (the number of bytes written)")


@pytest.mark.points(4)
def test_fetch_users_uses_one_session_and_keeps_order(student):
    """fetch_users GETs /users/{id} concurrently through ONE session, results in input order, session closed."""
    routes = [{"url": f"{API}/users/{user_id}", "json": {"id": user_id}, "delay": delay}
              for user_id, delay in [(3, 3), (1, 1), (2, 2)]]
    seen = run(student, routes=routes, calls=[{"function": "fetch_users", "args": [API, [3, 1, 2]], "within": 30}],
               what="fetch_users")
    call = seen["calls"][0]
    assert_same(unwrap(call["outcome"], what="fetch_users"), [{"id": 3}, {"id": 1}, {"id": 2}],
                what="fetch_users' result (input order)")
    assert call["sessions_created"] == 1, (
        f"fetch_users should open exactly one ClientSession for all requests, it opened {call['sessions_created']}"
    )
    left_open(call, what="fetch_users")
    assert call["peak"] == 3, f"expected all 3 requests in flight at once, at most {call['peak']} were. {hints.SEQUENTIAL}"
    assert took(call) == 3, f"expected 3 s of loop time (the slowest request), took {took(call):g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(2)
def test_download_of_a_missing_file_raises_and_writes_nothing(student):
    """download of a URL answering 403 raises ApiError(403, ...) and leaves the destination folder empty."""
    seen = run(student, routes=[{"url": f"{API}/secret.bin", "status": 403, "body": "forbidden"}], session={},
               calls=[{"function": "download", "args": [f"{API}/secret.bin"], "dest": "secret.bin", "within": 10}],
               what="download")
    call = seen["calls"][0]
    exc = api_error(call, what="download", returned="download should raise ApiError on a 403 answer, it returned {result}")
    assert_same(exc.status, 403, what="ApiError.status")
    left = sorted(call["files"])
    assert left == [], f"download should create no file on an error status, it left {left!r}: check the status first"


def _exception_group(error):
    if error.is_a("BaseExceptionGroup"):
        return f"fetch_users should raise the ApiError itself, it raised {error!r}: unwrap it (`except* ApiError`)"
    return None


@pytest.mark.points(2)
def test_fetch_users_error_status_closes_the_session(student):
    """When /users/5 answers 500, fetch_users raises that ApiError itself (not an ExceptionGroup) and its session is closed."""
    seen = run(student, routes=[{"url": f"{API}/users/4", "json": {"id": 4}, "delay": 1},
                                {"url": f"{API}/users/5", "status": 500, "body": "database down", "delay": 1}],
               calls=[{"function": "fetch_users", "args": [API, [4, 5]], "within": 30}], what="fetch_users")
    call = seen["calls"][0]
    exc = api_error(call, what="fetch_users", extra=_exception_group,
                    returned="fetch_users should raise ApiError when a user answers 500, it returned {result}")
    assert_same((exc.status, exc.body), (500, "database down"), what="the ApiError's (.status, .body)")
    left_open(call, what="fetch_users (after an error status)")
