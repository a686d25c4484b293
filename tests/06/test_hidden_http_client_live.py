"""Hidden tests for assignment 06 on real sockets: the judge's server, no mocks.

These show that the client works with real sockets: timeouts that really fire,
a large body that really streams, a connection that really drops midway. The
server is the judge's (``p06.against_judge``: a loopback aiohttp server the
test describes, on the clock it shares with the student's loop, so its
`asyncio.sleep` is virtual too); it sees every request, its headers, query
and body, and when each arrived and left or was given up. ``{base}`` in a URL
stands for the server's address, ``{refused}`` for a loopback address nobody
listens on. The student process reports what only it can see: return
values, exceptions, sessions, files and memory. Ids, names, tokens,
payloads, bodies and chunk sizes are drawn per run from ``student.rng``; the
expected values are computed here.
"""
import hashlib
from types import SimpleNamespace

import pytest

from coursekit import hints
from coursekit.hints import describe_parts
from coursekit.judge import raised, unwrap
from coursekit.probes import p06
from coursekit.testing import assert_same, same

STUDENT_MODULE = "http_client"
WORDS = ("alpha", "bravo", "delta", "echo", "kilo", "lima", "oscar", "romeo", "sierra", "tango", "zulu")
# Files are real files, so both ways of writing them count: straight into
# dest, or into a temporary file beside it (dest + ".part") renamed into place
# at the end. The grader's disk limit (disk_mb) leaves room for the 8 MiB body
# twice over.
MEDIUM_TIMES = 3 * 1024  # a 256-byte unit this many times: 768 KiB
BIG_TIMES = 32 * 1024  # 8 MiB, built by the judge's server (another process when graded)
SERVER_CHUNK = 64 * 1024


def word(rng):
    """A short word with a per-run number."""
    return f"{rng.choice(WORDS)}{rng.randrange(100)}"


def serve(student, *, routes, calls, session=None, what):
    """The judge serves ``routes``; the student's code makes ``calls`` against it.

    Returns the scenario's report (``calls``: one report per call) and the
    judged run (``.backend``: the server, with every request it heard;
    ``.url(template)``: ``{base}`` and ``{refused}`` filled in).
    """
    judged = p06.against_judge(student, routes=routes, calls=calls, session=session)
    return judged.value(what), judged


def took(call):
    """The loop time a call took."""
    return call["end"] - call["start"]


def lasted(judged):
    """The loop time a run of one call lasted, on the judge's own clock (a fresh judge's clock starts at 0)."""
    return judged.judge_end


def body(rng, times):
    """A streamed body: a per-run 256-byte unit ``times`` times (its description, its bytes)."""
    unit = rng.randbytes(256)
    return {"repeat": unit, "times": times}, unit * times


def spaced(number):
    """``30 000`` for 30000."""
    return f"{number:,}".replace(",", " ")


def digest(data):
    return hashlib.sha256(data).hexdigest()


def stream(path, described):
    """A route streaming ``described`` in the server's chunks, its length announced."""
    return {"path": path, "stream": {"body": described, "chunk": SERVER_CHUNK}}


def whoami(path="/whoami"):
    """A route answering, as text/plain JSON, the X-Token header and the q parameter it received."""
    return {"path": path, "echo_request": {"headers": ["X-Token"], "query": ["q"]}}


def echoed(token=None, q=None):
    """What ``whoami`` answers for that token and query."""
    return {"headers": {"X-Token": token}, "query": {"q": q}}


def api_error_of(call):
    """The ApiError's ``.status``, ``.url`` and ``.body``, or None if the call raised none."""
    if call["api_error"] is None:
        return None
    return SimpleNamespace(**unwrap(call["api_error"], what="reading the ApiError's .status, .url and .body"))


def assert_all_closed(call, *, what):
    """Fail if a session the call opened is still open."""
    assert call["sessions_open"] == 0, (
        f"{what} left {call['sessions_open']} aiohttp.ClientSession(s) open. {hints.SESSION_LEFT_OPEN}"
    )


@pytest.mark.points(3)
def test_live_fetch_users_end_to_end(student):
    """Against a real server, fetch_users gets 5 users at once through one session and closes it."""
    rng = student.rng
    ids = rng.sample(range(1, 100), 5)
    missing = rng.choice([i for i in range(100) if i not in ids])
    names = {i: f"{word(rng)}-{i}" for i in ids}
    routes = [{"path": f"/users/{i}", "json": {"id": i, "name": names[i]}, "delay": 1} for i in ids]
    routes.append({"path": f"/users/{missing}", "status": 404, "text": f"no user {missing}", "delay": 1})
    seen, judged = serve(student, routes=routes, what="fetch_users",
                         calls=[{"function": "fetch_users", "args": ["{base}", ids], "within": 30},
                                {"function": "fetch_users", "args": ["{base}", [ids[0], missing]], "within": 30}])
    first, failing = seen["calls"]
    result = unwrap(first["outcome"], what="fetch_users")
    expected = [{"id": i, "name": names[i]} for i in ids]
    assert same(result, expected), f"expected {expected!r} (input order), got {result!r}"
    server = judged.backend
    first_requests = [r for r in server.heard if r.arrived < first["end"]]
    assert sorted(r.path for r in first_requests) == sorted(f"/users/{i}" for i in ids), (
        f"fetch_users should GET /users/{{id}} once for each of the 5 ids, the server saw "
        f"{[r.path for r in first_requests]!r}"
    )
    assert server.peak == 5, (
        f"the server should see all 5 requests at once, it saw at most {server.peak}. {hints.SEQUENTIAL}"
    )
    assert took(first) == pytest.approx(1, abs=0.5), (
        f"5 one-second requests at once should take about 1 s, took {took(first):g} s. {hints.SEQUENTIAL}"
    )
    assert first["sessions_created"] == 1, f"expected exactly one ClientSession, got {first['sessions_created']}"
    assert_all_closed(first, what="fetch_users")

    err = api_error_of(failing)
    if err is None:
        outcome = failing["outcome"]
        error = raised(outcome)
        if error is not None and not error.is_a("NotImplementedError"):
            extra = ""
            if error.is_a("BaseExceptionGroup"):
                extra = " (a TaskGroup wraps failures in an ExceptionGroup: catch it with `except* ApiError` and re-raise the ApiError)"
            pytest.fail(f"fetch_users should raise ApiError for a 404, it raised {describe_parts(error.name, error.message)}{extra}")
        unwrap(outcome, what="fetch_users")
    assert err is not None and same((err.status, err.body), (404, f"no user {missing}")), (
        f"expected ApiError(404, ..., 'no user {missing}') for user {missing}, got {failing['outcome']!r}"
    )
    assert_all_closed(failing, what="fetch_users (after an error status)")


@pytest.mark.points(4)
def test_live_make_session_get_json_and_post_json(student):
    """Against a real server: make_session's base_url and headers, get_json, post_json, 204 and 404."""
    rng = student.rng
    token, q = f"tok{rng.randrange(10**6)}", word(rng)
    payload = {"name": word(rng), "tags": [rng.randrange(100) for _ in range(rng.randint(1, 3))]}
    nothing_here = f"nothing here ({word(rng)})"
    seen, judged = serve(student, what="make_session",
                         routes=[whoami(), {"path": "/echo", "method": "POST", "echo_json": {"status": 201}},
                                 {"path": "/nothing", "method": "POST", "status": 204},
                                 {"path": "/missing", "status": 404, "text": nothing_here}],
                         session={"make_session": {"args": ["{base}"], "kwargs": {"headers": {"X-Token": token}}}},
                         calls=[{"function": "get_json", "args": ["/whoami"], "kwargs": {"params": {"q": q}},
                                 "within": 10},
                                {"function": "post_json", "args": ["/echo", payload], "within": 10},
                                {"function": "post_json", "args": ["/nothing", {"x": 1}], "within": 10},
                                {"function": "get_json", "args": ["/missing"], "within": 10}])
    unwrap(seen["made"], what="make_session")
    who_call, echo_call, nothing_call, missing_call = seen["calls"]
    who = unwrap(who_call["outcome"], what="get_json")
    server = judged.backend
    carried = [(r.header("X-Token"), r.query.get("q")) for r in server.requests("/whoami")]
    assert carried == [(token, q)], (
        f"the server should see the default header X-Token: {token} and the query q={q} on one request for "
        f"/whoami, it saw (X-Token, q) = {carried!r}"
    )
    assert same(who, echoed(token, q)), (
        f"get_json should return the server's answer (served as text/plain), it returned {who!r}"
    )
    got = unwrap(echo_call["outcome"], what="post_json")
    posted = [(r.header("Content-Type"), r.sent_json()) for r in server.requests("/echo")]
    assert len(posted) == 1 and posted[0][1] == payload and (posted[0][0] or "").startswith("application/json"), (
        f"the server should receive the payload as an application/json body, it received (Content-Type, body) "
        f"= {posted!r}"
    )
    assert same(got, {"got": payload}), (
        f"the server should receive the payload as an application/json body and echo it, got {got!r}"
    )
    nothing = unwrap(nothing_call["outcome"], what="post_json")
    assert nothing is None, f"expected None for a 204 answer, got {nothing!r}"
    err = api_error_of(missing_call)
    if err is None:
        if "value" in missing_call["outcome"]:
            pytest.fail("get_json should raise ApiError for a 404 answer")
        unwrap(missing_call["outcome"], what="get_json")
    assert same((err.status, err.body), (404, nothing_here)), (
        f"expected ApiError status 404 and body {nothing_here!r}, got {err.status!r}, {err.body!r}"
    )
    assert isinstance(err.url, str) and "/missing" in err.url, f"expected ApiError.url for /missing, got {err.url!r}"
    assert seen["sessions_left_open"] == 0, (
        f"the test's session left {seen['sessions_left_open']} aiohttp.ClientSession(s) open. {hints.SESSION_LEFT_OPEN}"
    )


@pytest.mark.points(3)
def test_live_check_urls_timeout_refused_and_statuses(student):
    """Against a real server: statuses, a real timeout and a refused connection, all at once, never raising."""
    rng = student.rng
    slow = f"/{word(rng)}"
    urls = ["{base}/whoami", "{base}/missing", "{base}" + slow, "{base}" + slow + f"?again={rng.randint(1, 9)}",
            "{refused}/"]
    seen, judged = serve(student, session={"total": 1}, what="check_urls",
                         routes=[whoami(), {"path": "/missing", "status": 404, "text": "nothing here"},
                                 {"path": slow, "delay": 30, "text": "late"}],
                         calls=[{"function": "check_urls", "args": [urls], "within": 30}])
    call = seen["calls"][0]
    urls = [judged.url(url) for url in urls]
    failures = p06.failure_names()  # what aiohttp raises for a timeout and a refused connection, found here
    outcome = call["outcome"]
    error = raised(outcome)
    if error is not None and not error.is_a("NotImplementedError"):
        pytest.fail(f"check_urls must never raise for one URL, it raised {describe_parts(error.name, error.message)}")
    result = unwrap(outcome, what="check_urls")
    expected = {urls[0]: 200, urls[1]: 404, urls[2]: failures["timeout"], urls[3]: failures["timeout"],
                urls[4]: failures["refused"]}
    assert same(result, expected), (
        f"expected {expected!r}: the status, or the class name of the exception aiohttp raised, got {result!r}"
    )
    timed = [(r.arrived - call["start"], r.left - r.arrived if r.left is not None else None, r.abandoned)
             for r in judged.backend.requests(slow)]
    assert timed == [(0, 1, True), (0, 1, True)], (
        "the server should see both slow requests arrive at once and be given up 1 s later (the session's timeout), "
        f"it saw (arrived, given up after, given up) = {timed!r}. {hints.SEQUENTIAL}"
    )
    assert lasted(judged) == pytest.approx(1, abs=0.5), (
        f"two requests timing out after 1 s at the same time should take about 1 s, took {lasted(judged):g} s. "
        f"{hints.SEQUENTIAL}"
    )


@pytest.mark.points(1)
def test_live_check_urls_gives_each_connection_back(student):
    """On a session allowing 2 connections, check_urls of 5 URLs with large bodies finishes: each response is released once its status is read."""
    described, _ = body(student.rng, MEDIUM_TIMES)
    urls = [f"{{base}}/medium?copy={i}" for i in student.rng.sample(range(100), 5)]
    # A response left open holds its connection until the garbage collector finds it: the scenario keeps
    # the collector out of the way (gc_off), so the outcome does not depend on when it happens to run.
    seen, judged = serve(student, session={"limit": 2}, routes=[stream("/medium", described)], what="check_urls",
                         calls=[{"function": "check_urls", "args": [urls], "within": 30, "gc_off": True}])
    outcome = seen["calls"][0]["outcome"]
    if "hung" in outcome:
        pytest.fail(
            "check_urls never finished: with at most 2 connections, the first 2 responses were never "
            "released, so the other requests waited for a free connection forever. Use "
            "`async with session.get(url) as response:` (it releases the connection), or call "
            "response.release()."
        )
    result = unwrap(outcome, what="check_urls")
    urls = [judged.url(url) for url in urls]
    assert same(result, {url: 200 for url in urls}), f"expected status 200 for the 5 URLs, got {result!r}"
    heard = len(judged.backend.requests("/medium"))
    assert heard == 5, f"the server should see the 5 requests, it saw {heard}"


@pytest.mark.points(1)
def test_live_cancelled_requests_give_their_connection_back(student):
    """Cancelled while a body is still arriving, get_json, post_json and download each release their connection: on a 1-connection session the next request goes through."""
    stall = {"head": b'{"pad": "', "tail": b"x" * 989 + b'"}', "after": 60}
    calls = {
        "get_json": {"function": "get_json", "args": ["/stalls"]},
        "post_json": {"function": "post_json", "args": ["/stalls", {"x": 1}]},
        "download": {"function": "download", "args": ["/stalls"], "dest": "stalls.bin"},
    }
    steps = []
    for call in calls.values():
        # headers are in after 1 s, the body is stalled: cancel then
        steps.append({**call, "cancel_after": 1, "within": 10, "gc_off": True})
        steps.append({"function": "get_json", "args": ["/whoami"], "within": 10, "gc_off": True})
    # A response left open holds its connection until the garbage collector finds it: gc_off keeps the
    # collector out of the way, so the outcome does not depend on when it happens to run.
    seen, judged = serve(student, session={"base_url": "{base}", "limit": 1}, what="the cancelled requests",
                         routes=[{"path": "/stalls", "stall": stall},
                                 {"path": "/stalls", "method": "POST", "stall": stall}, whoami()],
                         calls=steps)
    reports = iter(seen["calls"])
    stalled = iter(judged.backend.requests("/stalls"))
    for name in calls:
        cancelled, following = next(reports), next(reports)
        if cancelled.get("done_before_cancel", True):
            unwrap(cancelled["outcome"], what=name)  # shows what the function ended with
            pytest.fail(f"{name} returned before the body was complete")
        if "hung" in following["outcome"]:
            pytest.fail(
                f"after {name} was cancelled mid-body, the session's only connection was never given back, "
                "so the next request waited forever: use `async with session.get(...) as response:` "
                "(it releases the connection on the way out, also on cancellation)"
            )
        request = next(stalled, None)
        assert request is not None and request.abandoned and request.left <= following["start"], (
            f"after {name} was cancelled mid-body, the server should see its request given up before the next "
            "request: use `async with session.get(...) as response:` (it releases the connection on the way out, "
            "also on cancellation)"
        )
        who = unwrap(following["outcome"], what="get_json")
        assert same(who, echoed()), f"the next request should work, it returned {who!r}"


@pytest.mark.points(3)
def test_live_download_streams_a_large_body(student):
    """download writes a 768 KiB streamed body to dest byte for byte and returns its length."""
    described, medium = body(student.rng, MEDIUM_TIMES)
    chunk_size = student.rng.randint(1000, 20000)
    seen, judged = serve(student, routes=[stream("/medium", described)], session={}, what="download",
                         calls=[{"function": "download", "args": ["{base}/medium"], "dest": "medium.bin",
                                 "dest_as": "str", "kwargs": {"chunk_size": chunk_size}, "within": 60}])
    call = seen["calls"][0]
    written = unwrap(call["outcome"], what="download")
    assert "medium.bin" in call["files"], "download should create the file dest"
    content = call["files"]["medium.bin"]
    assert content["sha256"] == digest(medium), (
        f"the file should hold the {len(medium)}-byte body unchanged, it holds {content['size']} bytes"
        + ("" if content["size"] != len(medium) else " that differ")
    )
    assert_same(written, len(medium), what="download's return value (bytes written)")
    left = sorted(call["files"])
    assert left == ["medium.bin"], f"after a complete download only dest should be left, found {left!r}"
    asked = judged.backend.paths()
    assert asked == ["/medium"], f"download should GET the URL once, the server saw {asked!r}"


@pytest.mark.points(2)
def test_live_download_does_not_hold_the_body_in_memory(student):
    """download of an 8 MiB body with chunk_size=4096 never holds the whole body in memory, and writes it all to dest."""
    described, big = body(student.rng, BIG_TIMES)
    seen, _ = serve(student, routes=[stream("/big", described)], session={}, what="download",
                    calls=[{"function": "download", "args": ["{base}/big"], "dest": "big.bin",
                            "kwargs": {"chunk_size": 4096}, "within": 60, "trace_memory": True}])
    call = seen["calls"][0]
    unwrap(call["outcome"], what="download")
    found = call["files"].get("big.bin")
    size = found["size"] if found else None
    assert size == len(big), f"expected all {len(big)} bytes in dest, found {size if size is not None else 'no file'}"
    assert found["sha256"] == digest(big), f"dest holds {len(big)} bytes, but not the body sent"
    left = sorted(call["files"])
    assert left == ["big.bin"], f"after a complete download only dest should be left, found {left!r}"
    limit, peak = len(big) // 2, call["memory_peak"]
    assert peak < limit, (
        f"downloading {len(big) // 2**20} MiB used {peak / 2**20:.1f} MiB of memory at its peak (limit "
        f"{limit / 2**20:.0f} MiB): write each chunk as it arrives (`async for chunk in "
        "response.content.iter_chunked(chunk_size)`) instead of reading the whole body first"
    )


@pytest.mark.points(4)
def test_live_download_removes_the_partial_file_when_the_connection_drops(student):
    """When the server drops the connection mid-body, download removes the partial file and re-raises."""
    rng = student.rng
    described, medium = body(rng, MEDIUM_TIMES)
    length, sent = 100_000, rng.randint(20, 40) * 1000
    seen, _ = serve(student, session={}, what="download",
                    routes=[stream("/medium", described),
                            {"path": "/truncated", "drop": {"length": length, "sent": sent}}],
                    calls=[{"function": "download", "args": ["{base}/medium"], "dest": "good.bin", "within": 60},
                           {"function": "download", "args": ["{base}/truncated"], "dest": "partial.bin",
                            "kwargs": {"chunk_size": 1000}, "within": 30}])
    good, partial = seen["calls"]
    unwrap(good["outcome"], what="download")
    assert good["files"].get("good.bin", {}).get("sha256") == digest(medium), (
        "a complete download should leave the whole file"
    )
    outcome = partial["outcome"]
    error = raised(outcome)
    if "value" in outcome:
        pytest.fail(
            f"the server sent {spaced(sent)} of {spaced(length)} bytes and closed: download should re-raise the "
            f"error, it returned {outcome['value']!r}"
        )
    if error is None or error.is_a("NotImplementedError"):
        unwrap(outcome, what="download")
    if not error.is_a("ClientError"):
        pytest.fail(
            "download should re-raise the transfer's own error (an aiohttp.ClientError such as "
            f"ClientPayloadError) when the connection drops, it raised {describe_parts(error.name, error.message)}"
        )
    left = sorted(partial["files"])
    assert left == ["good.bin"], (
        "download should remove the partial file (dest, or the temporary file it was writing) when the transfer "
        f"fails midway; expected only good.bin (the earlier complete download) in the folder, found {left!r}"
    )
