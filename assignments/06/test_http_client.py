"""Public tests for assignment 06. Run them with `pytest assignments/06`.

The test serves the HTTP itself: a real aiohttp server on loopback whose
routes it describes (`coursekit/probes/p06.py`, `Backend`), which sees every
request your code makes (path, query, headers, JSON body), how many were in
flight at once, and when each arrived and left or was given up. Your
functions are called by a *scenario* (`p06.served_calls`) with that server's
URLs and an aiohttp session; it reports what only your process can see, as
plain data: each call's result or exception, the sessions your code opened
and whether they were closed, make_session's settings, the files `download`
left. The server and your code share one virtual clock, so an answer that
takes 3 s costs no real time. Locally the scenario runs right here, so your
prints and breakpoints work; when graded it runs in a process of its own,
apart from the tests.
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


def serve(student, *, routes, calls, session=None, what):
    """The test's server serves ``routes``; your code makes ``calls`` against it (``{base}``: the server's URL).

    Returns the scenario's report (``calls``: one report per call) and the
    judged run (``.backend``: the server, with every request it heard;
    ``.url(template)``: a URL with ``{base}`` filled in).
    """
    judged = p06.against_judge(student, routes=routes, calls=calls, session=session)
    return judged.value(what), judged


def lasted(judged):
    """The loop time a run of one call lasted, on the judge's own clock (a fresh judge's clock starts at 0)."""
    return judged.judge_end


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


def requested(server):
    """The paths the server saw, sorted (each once per request)."""
    return sorted(server.paths())


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
    held = [f"/held?n={n}" for n in range(5)]
    seen, judged = serve(student, what="make_session",
                         routes=[{"path": "/ping", "json": {"pong": True}}, {"path": "/held", "delay": 1, "text": "ok"},
                                 {"path": "/slow", "delay": 60, "text": "late"}],
                         session={"make_session": {"args": ["{base}"],
                                                   "kwargs": {"timeout": 4.0, "connect_timeout": 1.5, "limit": 3,
                                                              "headers": {"X-Token": "secret"}}}},
                         calls=[{"get": "/ping"},  # a relative path: the session adds base_url
                                {"get": held},  # 5 requests at once: the connector lets 3 through at a time
                                {"get": "/slow", "within": 10}])  # answered after 60 s: the timeout gives up first
    unwrap(seen["made"], what="make_session(base, timeout=4.0, connect_timeout=1.5, limit=3, headers=...)")
    session = seen["settings"]
    assert session["is_session"], f"expected an aiohttp.ClientSession, got a {session['type']}"
    assert session["connect"] == 1.5, f"expected session.timeout.connect == 1.5, got {session['connect']!r}"
    ping, _, _ = seen["calls"]
    status = unwrap(ping["outcome"], what="session.get('/ping') on the session make_session returned")
    assert status == 200, f"the server should answer 200, got {status}"
    server = judged.backend
    pings = server.requests("/ping")
    assert len(pings) == 1, (
        f"a request for '/ping' should go to {judged.base}/ping through base_url, the server saw {server.paths()!r}"
    )
    assert pings[0].header("X-Token") == "secret", (
        f"expected the default header X-Token: secret, the server received {dict(pings[0].headers)!r}"
    )
    assert len(server.requests("/held")) == 5 and server.peak == 3, (
        "expected a connector with limit=3 (aiohttp.TCPConnector(limit=...)): of 5 requests sent at once, the "
        f"server should have 3 in flight at a time, it had at most {server.peak} "
        f"(and saw {len(server.requests('/held'))} of the 5)"
    )
    slow = server.requests("/slow")
    waited = slow[0].left - slow[0].arrived if slow and slow[0].left is not None else None
    assert slow and slow[0].abandoned and waited == 4.0, (
        "expected session.timeout.total == 4.0 (ClientTimeout(total=...)): a request to a server that answers "
        "after 60 s should be given up after 4 s, "
        + ("it never reached the server" if not slow else
           f"it was still waiting after {waited:g} s" if waited is not None and waited >= 10 else
           f"the server saw it given up after {waited:g} s" if slow[0].abandoned else
           f"it was answered after {waited:g} s")
    )


@pytest.mark.points(3)
def test_get_json_returns_parsed_body(student):
    """get_json(session, path) GETs the path and returns the parsed JSON body."""
    seen, judged = serve(student, routes=[{"path": "/users/1", "json": {"id": 1, "name": "Ada"}}],
                         session={"base_url": "{base}"},
                         calls=[{"function": "get_json", "args": ["/users/1"], "within": 10}], what="get_json")
    result = unwrap(seen["calls"][0]["outcome"], what="get_json")
    assert_same(result, {"id": 1, "name": "Ada"}, what="get_json's result")
    asked = [(r.method, r.path) for r in judged.backend.heard]
    assert asked == [("GET", "/users/1")], f"get_json should GET /users/1 once, the server saw {asked!r}"


def _raise_for_status(error):
    if error.is_a("ClientResponseError"):
        return (f"get_json raised {error.name} ({error.message}): raise_for_status() is not enough, "
                "check response.status yourself and raise ApiError(status, url, text)")
    return None


@pytest.mark.points(4)
def test_get_json_raises_api_error_on_404(student):
    """get_json raises ApiError with the status, the URL and the body text on a 404."""
    seen, _ = serve(student, routes=[{"path": "/users/9", "status": 404, "text": "no such user"}],
                    session={"base_url": "{base}"},
                    calls=[{"function": "get_json", "args": ["/users/9"], "within": 10}], what="get_json")
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
    seen, judged = serve(student, session={"base_url": "{base}"}, calls=[post, post], what="post_json",
                         routes=[{"path": "/users", "method": "POST",
                                  "answers": [{"status": 201, "json": {"id": 7, "name": "Ada"}},
                                              {"status": 409, "text": "Ada exists"}]}])
    first, again = seen["calls"]
    assert_same(unwrap(first["outcome"], what="post_json"), {"id": 7, "name": "Ada"}, what="post_json's result")
    exc = api_error(again, what="post_json", returned="post_json should raise ApiError on a 409 answer, it returned {result}")
    assert_same((exc.status, exc.body), (409, "Ada exists"), what="the ApiError's (.status, .body)")
    posts = judged.backend.requests("/users")
    assert len(posts) == 2, f"expected two POST requests, the server saw {len(posts)}"
    body = posts[0].sent_json()
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
    urls = ["{base}/a", "{base}/b", "{base}/c", "{base}/down"]
    seen, judged = serve(student, session={}, what="check_urls",
                         routes=[{"path": "/a", "status": 200, "text": "", "delay": 1},
                                 {"path": "/b", "status": 404, "text": "", "delay": 2},
                                 {"path": "/c", "status": 500, "text": "", "delay": 3},
                                 {"path": "/down", "disconnect": True, "delay": 1}],  # closes without an answer
                         calls=[{"function": "check_urls", "args": [urls], "within": 30}])
    call = seen["calls"][0]
    result = must_not_raise(call["outcome"], what="check_urls")
    urls = [judged.url(url) for url in urls]
    expected = {urls[0]: 200, urls[1]: 404, urls[2]: 500, urls[3]: "ServerDisconnectedError"}
    assert_same(result, expected, what="check_urls' result (a status code, or type(exc).__name__ for a failure)")
    peak = judged.backend.peak
    assert peak == 4, f"expected all 4 requests in flight at once, the server saw at most {peak}. {hints.SEQUENTIAL}"
    assert lasted(judged) == 3, (
        f"expected 3 s of loop time (the slowest URL), took {lasted(judged):g} s. {hints.SEQUENTIAL}"
    )


@pytest.mark.points(3)
def test_download_writes_the_body_to_a_file(student):
    """download streams the body into dest and returns the number of bytes written."""
    body = {"repeat": bytes(range(256)), "times": 400}  # 102400 bytes
    size, digest = body_digest(body)
    seen, judged = serve(student, session={},
                         routes=[{"path": "/file.bin", "body": body, "content_type": "application/octet-stream"}],
                         calls=[{"function": "download", "args": ["{base}/file.bin"], "dest": "file.bin",
                                             "kwargs": {"chunk_size": 1000}, "within": 10}], what="download")
    call = seen["calls"][0]
    written = unwrap(call["outcome"], what="download")
    assert "file.bin" in call["files"], "download should create the file dest (file.bin)"
    content = call["files"]["file.bin"]
    assert content["sha256"] == digest, (
        f"the file should hold the {size}-byte body, it holds {content['size']} bytes that differ"
    )
    assert_same(written, size, what="download's return value (the number of bytes written)")
    assert requested(judged.backend) == ["/file.bin"], (
        f"download should GET the URL once, the server saw {requested(judged.backend)!r}"
    )


@pytest.mark.points(4)
def test_fetch_users_uses_one_session_and_keeps_order(student):
    """fetch_users GETs /users/{id} concurrently through ONE session, results in input order, session closed."""
    routes = [{"path": f"/users/{user_id}", "json": {"id": user_id}, "delay": delay}
              for user_id, delay in [(3, 3), (1, 1), (2, 2)]]
    seen, judged = serve(student, routes=routes, what="fetch_users",
                         calls=[{"function": "fetch_users", "args": ["{base}", [3, 1, 2]], "within": 30}])
    call = seen["calls"][0]
    assert_same(unwrap(call["outcome"], what="fetch_users"), [{"id": 3}, {"id": 1}, {"id": 2}],
                what="fetch_users' result (input order)")
    assert call["sessions_created"] == 1, (
        f"fetch_users should open exactly one ClientSession for all requests, it opened {call['sessions_created']}"
    )
    left_open(call, what="fetch_users")
    server = judged.backend
    assert requested(server) == ["/users/1", "/users/2", "/users/3"], (
        f"fetch_users should GET /users/{{id}} once for each id, the server saw {server.paths()!r}"
    )
    assert server.peak == 3, (
        f"expected all 3 requests in flight at once, the server saw at most {server.peak}. {hints.SEQUENTIAL}"
    )
    assert lasted(judged) == 3, (
        f"expected 3 s of loop time (the slowest request), took {lasted(judged):g} s. {hints.SEQUENTIAL}"
    )


@pytest.mark.points(2)
def test_download_of_a_missing_file_raises_and_writes_nothing(student):
    """download of a URL answering 403 raises ApiError(403, ...) and leaves the destination folder empty."""
    seen, _ = serve(student, routes=[{"path": "/secret.bin", "status": 403, "text": "forbidden"}], session={},
                    calls=[{"function": "download", "args": ["{base}/secret.bin"], "dest": "secret.bin", "within": 10}],
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
    seen, _ = serve(student, routes=[{"path": "/users/4", "json": {"id": 4}, "delay": 1},
                                     {"path": "/users/5", "status": 500, "text": "database down", "delay": 1}],
                    calls=[{"function": "fetch_users", "args": ["{base}", [4, 5]], "within": 30}], what="fetch_users")
    call = seen["calls"][0]
    exc = api_error(call, what="fetch_users", extra=_exception_group,
                    returned="fetch_users should raise ApiError when a user answers 500, it returned {result}")
    assert_same((exc.status, exc.body), (500, "database down"), what="the ApiError's (.status, .body)")
    left_open(call, what="fetch_users (after an error status)")
