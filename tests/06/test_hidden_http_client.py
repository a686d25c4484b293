"""Hidden tests for assignment 06 against the judge's server: every clause of the contract and the usual mistakes.

The judge serves the HTTP (``p06.against_judge``: a real aiohttp server on
loopback, on the clock it shares with the student's loop) and sees every
request: its path, query, headers and JSON body, how many were in flight at
once, and when each arrived and left or was given up. The student process
reports what only it can see: return values, exceptions, sessions opened and
closed, settings read back, files. aioresponses mocks stay only for the
failures no real server produces (a bare ``ClientConnectionError``, a
``TimeoutError`` without a session timeout). The streaming, timeout and
dropped-connection half is in test_hidden_http_client_live.py. Paths, bodies,
payloads, headers, ids and delays are drawn per run from ``student.rng``
where the contract leaves them free; the statuses at the edges of the
contract (299, 399, 400...) stay fixed. The expected values are computed
here, on the judge's side.
"""
import hashlib
import json
from types import SimpleNamespace

import pytest

from coursekit import hints
from coursekit.hints import describe_parts
from coursekit.judge import raised, unwrap
from coursekit.probes import p06
from coursekit.testing import assert_same, same

STUDENT_MODULE = "http_client"
API = "http://api.test"
WORDS = ("alpha", "bravo", "delta", "echo", "kilo", "lima", "oscar", "romeo", "sierra", "tango", "zulu")


def word(rng):
    """A short word with a per-run number."""
    return f"{rng.choice(WORDS)}{rng.randrange(100)}"


def words(rng, count):
    """``count`` distinct words, in a per-run order."""
    return [f"{w}{rng.randrange(100)}" for w in rng.sample(WORDS, count)]


def serve(student, *, routes, calls, session=None, what, mocks=None):
    """The judge serves ``routes``; the student's code makes ``calls`` against it (``{base}``: the server's URL).

    Returns the scenario's report (``calls``: one report per call) and the
    judged run (``.backend``: the server, with every request it heard;
    ``.url(template)``: ``{base}`` filled in). ``mocks``: URLs mocked in the
    student process (aioresponses) beside the judge's.
    """
    judged = p06.against_judge(student, routes=routes, calls=calls, session=session, mocks=mocks)
    return judged.value(what), judged


def lasted(judged):
    """The loop time a run of one call lasted, on the judge's own clock (a fresh judge's clock starts at 0)."""
    return judged.judge_end


def digest(data):
    return hashlib.sha256(data).hexdigest()


def requested(server):
    """The paths the server saw, sorted (each once per request)."""
    return sorted(server.paths())


def expect_api_error(call, *, what):
    """The ``.status``, ``.url`` and ``.body`` of the ApiError a call raised; fail with a readable message otherwise."""
    if call["api_error"] is not None:
        return SimpleNamespace(**unwrap(call["api_error"], what="reading the ApiError's .status, .url and .body"))
    outcome = call["outcome"]
    error = raised(outcome)
    if error is not None and not error.is_a("NotImplementedError"):
        extra = ""
        if error.is_a("BaseExceptionGroup"):
            extra = (
                " A TaskGroup wraps failures in an ExceptionGroup: catch it with "
                "`except* ApiError` and re-raise the ApiError itself."
            )
        elif error.is_a("ClientResponseError"):
            extra = " raise_for_status() raises ClientResponseError: check response.status yourself and raise ApiError."
        elif error.is_a("UnicodeDecodeError"):
            extra = (
                " The error body is not valid text in its declared encoding: decode it leniently, "
                "e.g. `await response.text(errors=\"replace\")`."
            )
        pytest.fail(f"{what} should raise ApiError, it raised {describe_parts(error.name, error.message)}.{extra}")
    if "value" in outcome:
        pytest.fail(f"{what} should raise ApiError on an error status, it returned {outcome['value']!r}")
    unwrap(outcome, what=what)  # the stub's NotImplementedError, a hang
    raise AssertionError(f"{what}: unexpected outcome {outcome!r}")  # pragma: no cover - unwrap always raises here


def must_not_raise(outcome, *, what):
    """The value of a call that reports a failed URL instead of raising; "must never raise" otherwise."""
    error = raised(outcome)
    if error is not None and not error.is_a("NotImplementedError"):
        pytest.fail(f"{what} must never raise for one URL, it raised {describe_parts(error.name, error.message)}")
    return unwrap(outcome, what=what)


def assert_all_closed(call, *, what):
    """Fail if a session the call opened is still open."""
    assert call["sessions_open"] == 0, (
        f"{what} left {call['sessions_open']} aiohttp.ClientSession(s) open. {hints.SESSION_LEFT_OPEN}"
    )


def given_up_after(server, path, seconds, *, setting):
    """Fail unless the one request for ``path`` was given up by the client ``seconds`` after it arrived (a timeout)."""
    heard = server.requests(path)
    waited = heard[0].left - heard[0].arrived if heard and heard[0].left is not None else None
    if heard and heard[0].abandoned and waited == seconds:
        return
    if not heard:
        what = "it never reached the server"
    elif waited is None or not heard[0].abandoned:
        what = "it was answered" if waited is None else f"it was answered after {waited:g} s"
    else:
        what = f"the server saw it given up after {waited:g} s"
    pytest.fail(f"expected {setting}: a request to a server that answers after a minute should be given up after "
                f"{seconds:g} s, {what}")


# --- ApiError and make_session ------------------------------------------------------------


@pytest.mark.points(1)
def test_api_error_can_be_raised_and_caught(student):
    """ApiError(status, url, body) can be raised and caught as an Exception, keeping its attributes."""
    rng = student.rng
    status, url, body = rng.randint(400, 599), f"{API}/{word(rng)}", json.dumps({"error": word(rng)})
    seen = student.run(p06.api_error_made, status=status, url=url, body=body).value("ApiError")
    unwrap(seen["made"], what="ApiError(status, url, body)")
    caught = seen["caught"]
    if "escaped" in caught:
        pytest.fail(f"ApiError should be caught by `except Exception`; {caught['escaped']} is not an Exception")
    assert caught["is_api_error"], f"expected an ApiError, got {caught['type']}"
    assert_same(unwrap(caught["fields"], what="reading .status, .url and .body"), (status, url, body),
                what="(.status, .url, .body)")


def made_session(student, routes=(), calls=(), **kwargs):
    """A session made by the student's make_session (settings read back), ``calls`` made on it against the judge's
    server: the report and the judged run.
    """
    args = kwargs.pop("args")
    seen, judged = serve(student, routes=list(routes), calls=list(calls),
                         session={"make_session": {"args": args, "kwargs": kwargs}}, what="make_session")
    unwrap(seen["made"], what="make_session")
    assert seen["settings"]["is_session"], f"expected an aiohttp.ClientSession, got a {seen['settings']['type']}"
    return seen, judged


def held(rng, count, prefix="/"):
    """``count`` paths of the ``held`` route (each with its own per-run query), and that route: answered after 1 s."""
    return [f"{prefix}held?n={n}" for n in rng.sample(range(1000), count)]


@pytest.mark.points(2)
def test_make_session_default_settings(student):
    """make_session(base_url) defaults to ClientTimeout(total=10, connect=3) and a connector limit of 10."""
    rng = student.rng
    count = rng.randint(11, 14)
    seen, judged = made_session(student, args=["{base}"],
                                routes=[{"path": "/held", "delay": 1, "text": "ok"},
                                        {"path": "/slow", "delay": 60, "text": "late"}],
                                calls=[{"get": held(rng, count)}, {"get": "/slow", "within": 20}])
    session = seen["settings"]
    assert same(session["connect"], 3.0), f"expected timeout connect=3 by default, got connect={session['connect']!r}"
    server = judged.backend
    assert len(server.requests("/held")) == count and server.peak == 10, (
        f"expected a connector limit of 10 by default: of {count} requests sent at once, the server should have 10 "
        f"in flight at a time, it had at most {server.peak} (and saw {len(server.requests('/held'))} of the {count})"
    )
    given_up_after(server, "/slow", 10.0, setting="timeout total=10 by default")


@pytest.mark.points(3)
def test_make_session_base_url_and_default_headers_reach_requests(student):
    """A session from make_session sends relative paths under base_url and adds the default headers."""
    rng = student.rng
    version, path, limit = f"v{rng.randint(2, 9)}", word(rng), rng.randint(2, 9)
    count = limit + rng.randint(1, 3)
    base = "{base}" + f"/{version}/"
    headers = {"X-Token": f"t0k3n{rng.randrange(10**6)}", "Accept": "application/json"}
    seen, judged = made_session(student, routes=[{"path": f"/{version}/{path}", "json": []},
                                                 {"path": f"/{version}/held", "delay": 1, "text": "ok"}],
                                calls=[{"get": path}, {"get": held(rng, count, prefix="")}],
                                args=[base], headers=headers, limit=limit)
    status = unwrap(seen["calls"][0]["outcome"], what=f"session.get({path!r}) on the session make_session returned")
    assert status == 200, f"the server should answer 200, got {status}"
    server, base = judged.backend, judged.url(base)
    assert len(server.requests(f"/{version}/{path}")) == 1, (
        f"{path!r} on a session with base_url {base!r} should request {base}{path}, the server saw {server.paths()!r}"
    )
    for request in server.heard:
        for name, value in headers.items():
            assert request.header(name) == value, (
                f"the default header {name}: {value} should be sent with every request, the server received "
                f"{dict(request.headers)!r} for {request.path}"
            )
    assert len(server.requests(f"/{version}/held")) == count and server.peak == limit, (
        f"expected connector limit {limit}: of {count} requests sent at once, the server should have {limit} in "
        f"flight at a time, it had at most {server.peak} (and saw {len(server.requests(f'/{version}/held'))} "
        f"of the {count})"
    )


# --- get_json ------------------------------------------------------------------------------


@pytest.mark.points(3)
def test_get_json_parses_json_whatever_the_content_type(student):
    """get_json parses a JSON body even when the server labels it text/plain or text/html."""
    rng = student.rng
    plain_body, html_body = {"kind": word(rng)}, [rng.randrange(1000) for _ in range(rng.randint(1, 5))]
    seen, _ = serve(student, session={"base_url": "{base}"},
                    routes=[{"path": "/plain", "text": json.dumps(plain_body), "content_type": "text/plain"},
                            {"path": "/html", "text": json.dumps(html_body), "content_type": "text/html"}],
                    calls=[{"function": "get_json", "args": ["/plain"], "within": 10},
                           {"function": "get_json", "args": ["/html"], "within": 10}], what="get_json")
    plain, html = (call["outcome"] for call in seen["calls"])
    for outcome in (plain, html):
        error = raised(outcome)
        if error is not None and error.is_a("ContentTypeError"):
            pytest.fail(
                f"get_json refused a JSON body served as text ({error.message}): use "
                "`await response.json(content_type=None)` or parse `await response.text()` with json.loads"
            )
    assert_same(unwrap(plain, what="get_json"), plain_body, what="get_json's result for a text/plain body")
    assert_same(unwrap(html, what="get_json"), html_body, what="get_json's result for a text/html body")


@pytest.mark.points(2)
def test_get_json_sends_params(student):
    """get_json passes params as the query string."""
    rng = student.rng
    query, page, hits = word(rng), rng.randint(2, 99), rng.randint(1, 50)
    seen, judged = serve(student, session={"base_url": "{base}"}, routes=[{"path": "/search", "json": {"hits": hits}}],
                         calls=[{"function": "get_json", "args": ["/search"],
                                 "kwargs": {"params": {"q": query, "page": page}}, "within": 10}], what="get_json")
    result = unwrap(seen["calls"][0]["outcome"], what="get_json")
    asked = [request.query for request in judged.backend.requests("/search")]
    assert asked == [{"q": query, "page": str(page)}], (
        f"get_json should pass params as the query string: expected one request for /search?q={query}&page={page}, "
        f"the server saw the queries {asked!r}"
    )
    assert_same(result, {"hits": hits}, what=f"get_json's result from /search?q={query}&page={page}")


@pytest.mark.points(3)
def test_get_json_raises_api_error_from_400_up_and_parses_2xx(student):
    """get_json raises ApiError(status, url, text) for 400 and 500 but parses a 202 answer."""
    rng = student.rng
    bad_body, trouble, queued = {"error": f"bad {word(rng)}"}, f"internal {word(rng)}", {"queued": word(rng)}
    broken = word(rng)
    seen, _ = serve(student, session={"base_url": "{base}"},
                    routes=[{"path": "/bad", "status": 400, "json": bad_body},
                            {"path": f"/{broken}", "status": 500, "text": trouble},
                            {"path": "/accepted", "status": 202, "json": queued}],
                    calls=[{"function": "get_json", "args": [path], "within": 30}
                           for path in ("/bad", f"/{broken}", "/accepted")], what="get_json")
    bad_call, broken_call, accepted_call = seen["calls"]
    bad = expect_api_error(bad_call, what="get_json on a 400")
    broken_err = expect_api_error(broken_call, what="get_json on a 500")
    accepted = unwrap(accepted_call["outcome"], what="get_json on a 202")
    assert same((bad.status, broken_err.status), (400, 500)), (
        f"expected ApiError.status 400 and 500, got {bad.status!r} and {broken_err.status!r}"
    )
    assert isinstance(bad.body, str) and json.loads(bad.body) == bad_body, (
        f"expected ApiError.body to be the response text {json.dumps(bad_body)!r}, got {bad.body!r}"
    )
    assert_same(broken_err.body, trouble, what="ApiError.body")
    assert isinstance(broken_err.url, str) and f"/{broken}" in broken_err.url, (
        f"expected ApiError.url to be the requested URL as a str, got {broken_err.url!r}"
    )
    assert_same(accepted, queued, what="get_json's result for a 202 (a success)")


@pytest.mark.points(2)
def test_get_json_status_boundaries(student):
    """Only a status >= 400 is an error: get_json parses the JSON of a 299 and of a 399 answer, and raises ApiError on a 400."""
    rng = student.rng
    successes = (299, 300, 399)  # 300 too: the first status past 2xx is still no error
    payloads = {status: {"status": status, "note": word(rng)} for status in successes}
    first_error = f"first error {word(rng)}"
    seen, _ = serve(student, session={"base_url": "{base}"},
                    routes=[*({"path": f"/s{status}", "status": status, "json": payload}
                              for status, payload in payloads.items()),
                            {"path": "/s400", "status": 400, "text": first_error}],
                    calls=[{"function": "get_json", "args": [f"/s{status}"], "within": 30}
                           for status in (*successes, 400)], what="get_json")
    for status, call in zip(successes, seen["calls"]):
        if call["api_error"] is not None:
            pytest.fail(f"a {status} answer is not an error (only >= 400 is), get_json raised {call['outcome']['raised']!r}")
        got = unwrap(call["outcome"], what=f"get_json on a {status}")
        assert_same(got, payloads[status], what=f"get_json's result for a {status} answer")
    err = expect_api_error(seen["calls"][-1], what="get_json on a 400")
    assert_same((err.status, err.body), (400, first_error), what="the 400 ApiError's (.status, .body)")


@pytest.mark.points(1)
def test_get_json_error_body_that_is_not_utf8(student):
    """An error answer whose body is not valid UTF-8 still raises ApiError (never UnicodeDecodeError), with the body as a str."""
    rng = student.rng
    head, tail = word(rng), word(rng)
    body = f"{head} ".encode() + bytes([0xFF, 0xFE][: rng.randint(1, 2)]) + f" {tail}".encode()
    seen, _ = serve(student, session={"base_url": "{base}"},
                    routes=[{"path": "/latin", "status": 502, "body": body, "content_type": "text/plain"}],
                    calls=[{"function": "get_json", "args": ["/latin"], "within": 30}], what="get_json")
    err = expect_api_error(seen["calls"][0], what="get_json on a 502 with a non-UTF-8 body")
    assert_same(err.status, 502, what="ApiError.status")
    assert isinstance(err.body, str) and err.body.startswith(f"{head} ") and err.body.endswith(f" {tail}"), (
        f"expected ApiError.body to be the body as text, undecodable bytes replaced, got {err.body!r}"
    )


# --- post_json -----------------------------------------------------------------------------


@pytest.mark.points(3)
def test_post_json_raises_api_error_on_error_status(student):
    """post_json raises ApiError with the status and body text on a 422 answer, on a 400 (the first error status) and on a 500 whose body is not UTF-8."""
    rng = student.rng
    required, malformed, head, tail = f"name is required ({word(rng)})", {"detail": word(rng)}, word(rng), word(rng)
    lowest_payload = [rng.randrange(100) for _ in range(rng.randint(1, 4))]
    seen, judged = serve(student, session={"base_url": "{base}"},
                         routes=[{"path": "/users", "method": "POST", "status": 422, "text": required},
                                 {"path": "/lowest", "method": "POST", "status": 400, "json": malformed},
                                 {"path": "/binary", "method": "POST", "status": 500,
                                  "body": f"{head} ".encode() + b"\xc3\x28" + f" {tail}".encode(),
                                  "content_type": "text/plain"}],
                         calls=[{"function": "post_json", "args": ["/users", {"name": ""}], "within": 30},
                                {"function": "post_json", "args": ["/lowest", lowest_payload], "within": 30},
                                {"function": "post_json", "args": ["/binary", {}], "within": 30}], what="post_json")
    err = expect_api_error(seen["calls"][0], what="post_json on a 422")
    lowest = expect_api_error(seen["calls"][1], what="post_json on a 400")
    binary = expect_api_error(seen["calls"][2], what="post_json on a 500 with a non-UTF-8 body")
    assert isinstance(binary.body, str) and binary.body.startswith(f"{head} ") and binary.body.endswith(f" {tail}"), (
        f"expected the 500 ApiError's .body to be the body as text, undecodable bytes replaced, got {binary.body!r}"
    )
    assert_same((err.status, err.body), (422, required), what="the 422 ApiError's (.status, .body)")
    assert_same(lowest.status, 400, what="the 400 ApiError's .status")
    assert isinstance(lowest.body, str) and json.loads(lowest.body) == malformed, (
        f"expected the 400 ApiError's .body to be the response text, got {lowest.body!r}"
    )
    posted = [request.sent_json() for request in judged.backend.requests("/users")]
    assert posted == [{"name": ""}], (
        f"post_json should still send the payload as a JSON body, the server got {posted!r}"
    )


@pytest.mark.points(2)
def test_post_json_returns_none_for_an_empty_answer(student):
    """post_json returns None for a 204 or an empty 201, and parses a JSON answer served as text/plain."""
    rng = student.rng
    payloads = [{"a": rng.randrange(100)}, [rng.randrange(100) for _ in range(rng.randint(1, 4))], {}]
    answer = {"ok": rng.randint(1, 99)}
    seen, judged = serve(student, session={"base_url": "{base}"},
                         routes=[{"path": "/ping", "method": "POST", "status": 204, "text": ""},
                                 {"path": "/made", "method": "POST", "status": 201, "text": ""},
                                 {"path": "/plain", "method": "POST", "status": 200, "text": json.dumps(answer),
                                  "content_type": "text/plain"}],
                         calls=[{"function": "post_json", "args": [path, payload], "within": 10}
                                for path, payload in zip(("/ping", "/made", "/plain"), payloads)], what="post_json")
    for call in seen["calls"]:
        error = raised(call["outcome"])
        if error is not None and error.is_a("JSONDecodeError", "ContentTypeError"):
            pytest.fail(
                f"post_json failed to handle an empty or text/plain answer: {describe_parts(error.name, error.message)}"
            )
    no_content, empty, plain = (unwrap(call["outcome"], what="post_json") for call in seen["calls"])
    assert no_content is None, f"expected None for a 204 answer, got {no_content!r}"
    assert empty is None, f"expected None for an empty 201 answer, got {empty!r}"
    assert_same(plain, answer, what="post_json's result for a text/plain JSON answer")
    bodies = [request.sent_json() for request in judged.backend.heard]
    assert bodies == payloads, f"expected the JSON bodies {payloads!r}, the server got {bodies!r}"


# --- check_urls ----------------------------------------------------------------------------


@pytest.mark.points(3)
def test_check_urls_maps_failures_to_exception_class_names(student):
    """check_urls maps a failed request to its exception's class name and never raises."""
    rng = student.rng
    ok, refused, dropped, slow, gone = words(rng, 5)
    # The judge's server answers or drops the connection; the two failures no server produces as such (a bare
    # ClientConnectionError, a TimeoutError on a session without a timeout) are mocked in the student process.
    served = {
        ok: ({"status": 200, "text": "fine"}, 200),
        dropped: ({"disconnect": True}, "ServerDisconnectedError"),
        gone: ({"status": 410, "text": "gone"}, 410),
    }
    mocked = {
        refused: ({"error": ["ClientConnectionError", "refused"]}, "ClientConnectionError"),
        slow: ({"error": "TimeoutError"}, "TimeoutError"),
    }
    urls = {**{"{base}/" + name: answer for name, answer in served.items()},
            **{f"{API}/{name}": answer for name, answer in mocked.items()}}
    order = list(urls)
    rng.shuffle(order)
    seen, judged = serve(student, session={}, what="check_urls",
                         routes=[{"path": f"/{name}", **spec} for name, (spec, _) in served.items()],
                         mocks=[{"url": f"{API}/{name}", **spec} for name, (spec, _) in mocked.items()],
                         calls=[{"function": "check_urls", "args": [order], "within": 30}])
    result = must_not_raise(seen["calls"][0]["outcome"], what="check_urls")
    expected = {judged.url(url): urls[url][1] for url in order}
    assert_same(result, expected, what="check_urls' result (a status code, or type(exc).__name__ for a failure)")


@pytest.mark.points(2)
def test_check_urls_one_failure_does_not_stop_the_others(student):
    """A URL failing early does not cancel or fail the requests still in flight."""
    rng = student.rng
    names = words(rng, 3)
    # The first URL's server closes the connection after fails_after, twice (aiohttp retries a GET once): it has
    # failed by 2 * fails_after <= 1.5 s, while the other two still wait for their answers.
    fails_after, slow = rng.choice([0.25, 0.5, 0.75]), rng.randint(2, 6)
    urls = ["{base}/" + name for name in names]
    seen, judged = serve(student, session={}, what="check_urls",
                         routes=[{"path": f"/{names[0]}", "disconnect": True, "delay": fails_after},
                                 {"path": f"/{names[1]}", "status": 200, "text": "", "delay": slow},
                                 {"path": f"/{names[2]}", "status": 201, "text": "", "delay": slow}],
                         calls=[{"function": "check_urls", "args": [urls], "within": 30}])
    call = seen["calls"][0]
    result = must_not_raise(call["outcome"], what="check_urls")
    urls = [judged.url(url) for url in urls]
    expected = {urls[0]: "ServerDisconnectedError", urls[1]: 200, urls[2]: 201}
    assert_same(result, expected, what="check_urls' result")
    server = judged.backend
    for name in names[1:]:
        for request in server.requests(f"/{name}"):
            assert not request.abandoned, (
                f"when {urls[0]} failed, the request for /{name} still in flight was given up at "
                f"{request.left:g} s: one failing URL must not cancel the others"
            )
    assert lasted(judged) == slow, f"expected {slow} s of loop time, took {lasted(judged):g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(2)
def test_check_urls_many_at_once(student):
    """check_urls with 20 one-second URLs takes 1 s with all 20 in flight."""
    prefix = word(student.rng)
    paths = [f"/{prefix}/{i}" for i in student.rng.sample(range(1000), 20)]
    urls = ["{base}" + path for path in paths]
    seen, judged = serve(student, session={}, what="check_urls",
                         routes=[{"path": path, "status": 200, "text": "", "delay": 1} for path in paths],
                         calls=[{"function": "check_urls", "args": [urls], "within": 60}])
    call = seen["calls"][0]
    result = unwrap(call["outcome"], what="check_urls")
    urls = [judged.url(url) for url in urls]
    assert same(result, {url: 200 for url in urls}), f"expected status 200 for all 20 URLs, got {result!r}"
    peak = judged.backend.peak
    assert peak == 20, f"expected 20 requests in flight at once, the server saw at most {peak}. {hints.SEQUENTIAL}"
    assert lasted(judged) == 1, f"expected 1 s of loop time, took {lasted(judged):g} s. {hints.SEQUENTIAL}"


@pytest.mark.points(1)
def test_check_urls_empty(student):
    """check_urls(session, []) returns {}."""
    seen, judged = serve(student, session={}, routes=[], calls=[{"function": "check_urls", "args": [[]], "within": 10}],
                         what="check_urls([])")
    assert_same(unwrap(seen["calls"][0]["outcome"], what="check_urls([])"), {}, what="check_urls(session, [])")
    assert judged.backend.heard == [], (
        f"check_urls(session, []) should request nothing, the server saw {judged.backend.paths()!r}"
    )


@pytest.mark.points(1)
def test_check_urls_accepts_any_iterable(student):
    """check_urls takes any iterable of URLs, such as a generator that can be read only once."""
    paths = words(student.rng, student.rng.randint(3, 5))
    urls = ["{base}/" + p for p in paths]
    seen, judged = serve(student, session={}, routes=[{"path": f"/{p}", "status": 200, "text": ""} for p in paths],
                         calls=[{"function": "check_urls", "args": [urls], "generator_arg": 0, "within": 30}],
                         what="check_urls")
    result = must_not_raise(seen["calls"][0]["outcome"], what="check_urls")
    urls = [judged.url(url) for url in urls]
    assert_same(result, {url: 200 for url in urls}, what=f"check_urls' result for a generator of {len(urls)} URLs")


# --- download ------------------------------------------------------------------------------


@pytest.mark.points(3)
def test_download_error_status_raises_and_creates_no_file(student):
    """download raises ApiError on a 404 or 500 and creates no file; a good URL still downloads."""
    rng = student.rng
    unit, times = rng.randbytes(rng.randint(2, 8)), rng.randint(1000, 3000)
    good_body = unit * times
    seen, _ = serve(student, session={},
                    routes=[{"path": "/missing.bin", "status": 404, "text": f"not here ({word(rng)})"},
                            {"path": "/broken.bin", "status": 500, "text": f"oops {word(rng)}"},
                            {"path": "/good.bin", "body": good_body, "content_type": "application/octet-stream"}],
                    calls=[{"function": "download", "args": ["{base}/missing.bin"], "dest": "missing.bin", "within": 30},
                           {"function": "download", "args": ["{base}/broken.bin"], "dest": "broken.bin", "within": 30},
                           {"function": "download", "args": ["{base}/good.bin"], "dest": "good.bin", "dest_as": "str",
                            "within": 10}], what="download")
    for call, status in zip(seen["calls"], (404, 500)):
        err = expect_api_error(call, what=f"download of a {status} answer")
        assert_same(err.status, status, what="ApiError.status")
        left = sorted(call["files"])
        assert left == [], f"download should create no file on a {status} answer (no dest, no temporary file), found {left!r}"
    good = seen["calls"][2]
    written = unwrap(good["outcome"], what="download")
    assert good["files"].get("good.bin", {}).get("sha256") == digest(good_body), (
        "a 200 answer should be written to dest (a str path)"
    )
    left = sorted(good["files"])
    assert left == ["good.bin"], f"after a complete download only dest should be left, found {left!r}"
    assert_same(written, len(good_body), what="download's return value (bytes written)")


@pytest.mark.points(2)
def test_download_chunk_size_one_and_status_boundaries(student):
    """chunk_size=1 is valid (a 600-byte body arrives whole); a 399 answer is downloaded; a 400 (body not UTF-8) raises ApiError and writes nothing."""
    rng = student.rng
    body, odd_body = rng.randbytes(600), f"399 {word(rng)}".encode()
    seen, _ = serve(student, session={},
                    routes=[{"path": "/tiny.bin", "body": body, "content_type": "application/octet-stream"},
                            {"path": "/odd.bin", "status": 399, "body": odd_body,
                             "content_type": "application/octet-stream"},
                            {"path": "/bad.bin", "status": 400, "body": b"bad \xff request", "content_type": "text/plain"}],
                    calls=[{"function": "download", "args": ["{base}/tiny.bin"], "dest": "tiny.bin",
                            "kwargs": {"chunk_size": 1}, "within": 30},
                           {"function": "download", "args": ["{base}/odd.bin"], "dest": "odd.bin", "within": 10},
                           {"function": "download", "args": ["{base}/bad.bin"], "dest": "bad.bin", "within": 30}],
                    what="download")
    tiny, odd, bad = seen["calls"]
    error = raised(tiny["outcome"])
    if error is not None and error.is_a("ValueError"):
        pytest.fail(f"chunk_size=1 is a valid chunk size, download raised {error!r}")
    written = unwrap(tiny["outcome"], what="download(chunk_size=1)")
    assert_same(written, len(body), what="download(chunk_size=1)'s return value")
    assert tiny["files"].get("tiny.bin", {}).get("sha256") == digest(body), (
        "download(chunk_size=1) should write the whole body, byte for byte"
    )
    written = unwrap(odd["outcome"], what="download of a 399")
    assert_same(written, len(odd_body), what="download's return value for a 399 answer (not an error status)")
    assert odd["files"].get("odd.bin", {}).get("sha256") == digest(odd_body), (
        "a 399 answer is not an error: its body should be written to dest"
    )
    err = expect_api_error(bad, what="download of a 400 answer")
    assert_same(err.status, 400, what="ApiError.status")
    left = sorted(bad["files"])
    assert left == ["odd.bin", "tiny.bin"], f"a 400 answer should leave no file behind; the folder holds {left!r}"


@pytest.mark.points(1)
def test_download_closes_the_file_it_writes(student):
    """download closes the file it writes (no "unclosed file" ResourceWarning) before it returns."""
    rng = student.rng
    seen, _ = serve(student, session={},
                    routes=[{"path": "/a.bin", "body": rng.randbytes(3) * rng.randint(500, 2000),
                             "content_type": "application/octet-stream"}],
                    calls=[{"function": "download", "args": ["{base}/a.bin"], "dest": "a.bin", "within": 10,
                            "resource_warnings": True}], what="download")
    call = seen["calls"][0]
    unwrap(call["outcome"], what="download")
    unclosed = [message for message in call["resource_warnings"] if "unclosed file" in message]
    assert not unclosed, (
        f"download left the file it wrote open ({unclosed[0]}): open it with `with open(dest, 'wb') as file:` "
        "so it is closed (and flushed) before download returns or raises"
    )


# --- fetch_users ---------------------------------------------------------------------------


@pytest.mark.points(3)
def test_fetch_users_many_concurrently_in_input_order(student):
    """fetch_users for 8 ids runs all 8 requests at once and returns the bodies in input order."""
    rng = student.rng
    ids = rng.sample(range(1, 100), 8)
    delays = rng.sample(range(1, 10), 8)  # distinct, and under the 10 s a session of make_session allows by default
    seen, judged = serve(student, routes=[{"path": f"/users/{user_id}", "json": {"id": user_id}, "delay": delay}
                                          for user_id, delay in zip(ids, delays)],
                         calls=[{"function": "fetch_users", "args": ["{base}", ids], "within": 60}], what="fetch_users")
    call = seen["calls"][0]
    result = unwrap(call["outcome"], what="fetch_users")
    assert same(result, [{"id": i} for i in ids]), f"expected the bodies in input order {ids!r}, got {result!r}"
    server = judged.backend
    assert requested(server) == sorted(f"/users/{i}" for i in ids), (
        f"fetch_users should GET /users/{{id}} once for each id, the server saw {server.paths()!r}"
    )
    assert server.peak == 8, (
        f"expected 8 requests in flight at once, the server saw at most {server.peak}. {hints.SEQUENTIAL}"
    )
    assert lasted(judged) == max(delays), (
        f"expected {max(delays)} s of loop time (the slowest request), took {lasted(judged):g} s. {hints.SEQUENTIAL}"
    )
    assert call["sessions_created"] == 1, f"expected exactly one ClientSession, fetch_users opened {call['sessions_created']}"
    assert_all_closed(call, what="fetch_users")


@pytest.mark.points(3)
def test_fetch_users_error_raises_api_error_and_closes_the_session(student):
    """fetch_users raises ApiError when one user answers 404, through one session that ends up closed."""
    rng = student.rng
    ids = rng.sample(range(1, 100), 3)
    missing = ids[rng.randint(1, 2)]  # not the first: the user before it is still loading when it fails
    slow = rng.randint(2, 5)
    routes = [{"path": f"/users/{i}", "json": {"id": i}, "delay": slow} for i in ids if i != missing]
    routes.append({"path": f"/users/{missing}", "status": 404, "text": f"no user {missing}",
                   "delay": rng.randint(1, slow - 1)})
    seen, _ = serve(student, routes=routes, calls=[{"function": "fetch_users", "args": ["{base}", ids], "within": 30}],
                    what="fetch_users")
    call = seen["calls"][0]
    err = expect_api_error(call, what="fetch_users with a 404")
    assert_same(err.status, 404, what="ApiError.status")
    assert call["sessions_created"] == 1, f"expected exactly one ClientSession, fetch_users opened {call['sessions_created']}"
    assert_all_closed(call, what="fetch_users (after an error status)")


@pytest.mark.points(2)
def test_fetch_users_closes_the_session_when_cancelled(student):
    """Cancelling fetch_users mid-flight propagates CancelledError and still closes its session."""
    rng = student.rng
    ids, delay = rng.sample(range(1, 100), 2), rng.randint(8, 15)
    cancel_after = rng.randint(1, 3)
    seen, judged = serve(student, routes=[{"path": f"/users/{i}", "json": {"id": i}, "delay": delay} for i in ids],
                         calls=[{"function": "fetch_users", "args": ["{base}", ids], "cancel_after": cancel_after,
                                 "within": 10}], what="fetch_users")
    call = seen["calls"][0]
    outcome = call["outcome"]
    if call.get("done_before_cancel", True):
        if "value" in outcome:
            pytest.fail(f"fetch_users returned {outcome['value']!r} before its {delay}-second requests could finish")
        unwrap(outcome, what="fetch_users")  # fetch_users' own exception, if any
    cancelled_at = call["start"] + cancel_after
    in_flight = [r for r in judged.backend.heard
                 if r.arrived <= cancelled_at and (r.left is None or r.left >= cancelled_at)]
    assert len(in_flight) == 2, (
        f"after {cancel_after} s both requests should be in flight, the server had {len(in_flight)}. {hints.SEQUENTIAL}"
    )
    error = raised(outcome)
    if error is None or not error.is_a("CancelledError"):
        if "value" in outcome:
            pytest.fail(f"fetch_users should propagate the cancellation, it returned instead. {hints.SWALLOWED_CANCEL}")
        unwrap(outcome, what="fetch_users after cancel()")
    assert_all_closed(call, what="fetch_users (when cancelled)")


@pytest.mark.points(1)
def test_fetch_users_no_ids(student):
    """fetch_users(base_url, []) returns [] and leaves no session open."""
    seen, judged = serve(student, routes=[], calls=[{"function": "fetch_users", "args": ["{base}", []], "within": 10}],
                         what="fetch_users([])")
    call = seen["calls"][0]
    assert_same(unwrap(call["outcome"], what="fetch_users([])"), [], what="fetch_users(base_url, [])")
    assert_all_closed(call, what="fetch_users([])")
    assert judged.backend.heard == [], (
        f"fetch_users(base_url, []) should request nothing, the server saw {judged.backend.paths()!r}"
    )
