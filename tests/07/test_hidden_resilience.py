"""Hidden tests for assignment 07: every clause of the contract and the usual mistakes.

The HTTP is served by the judge, outside the student's process
(``coursekit/probes/p07.py``: ``JudgeRoutes``, ``judged_http``): the judge's
loopback server answers each path from the route table the test writes
(statuses, bodies, headers, delays, cursor pages, a connection dropped or
reset; a port where nothing listens refuses) and counts for itself every
request, its query, JSON body and headers, the loop time it arrived and
left at, whether the client gave up on it, and the most in flight at once. The student's process shares the judge's virtual clock, so
retry waits, timeouts and a limiter's pacing are arrival times at the judge,
exact in loop seconds. The scenario reports what only the student's side
sees: each call's outcome, the loop time it ended at, tasks left running,
whether the session was closed. What no real server can give (an exception
raised by the request itself, a final 1xx status) is mocked in the student's
process with aioresponses. URLs, bodies, payloads, cursors, the order of
replies, failures and links, dates, timezones and, where the contract leaves
them free, delays, timeouts, counts and limits are drawn per run from
``student.rng``; the expected values are computed here. The end-to-end tests
of a client against a real paginated, slow or picky server live in
test_hidden_resilience_e2e.py.
"""
import json
import math
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from coursekit import hints
from coursekit.hints import describe_parts
from coursekit.judge import Record, error_message, raised, unwrap
from coursekit.probes import p07
from coursekit.testing import same

STUDENT_MODULE = "resilience"
API = p07.BASE  # the judge's server, http://127.0.0.1:PORT
REFUSED = p07.REFUSED  # a loopback port where nothing listens
MOCKED = "http://mocked.test"  # answered in the student's process (aioresponses): what no real server gives
WORDS = ("alpha", "bravo", "delta", "echo", "kilo", "lima", "oscar", "romeo", "sierra", "tango", "zulu")
RETRY_STATUSES = (429, 500, 502, 503, 504)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# How an attempt fails at the judge's server, and what aiohttp raises for it in the client.
RAISES = {"reset": "ClientOSError", "drop": "ServerDisconnectedError", "timeout": "TimeoutError"}
SAYS = {"reset": "reset the connection", "drop": "closed the connection without answering",
        "timeout": "did not answer within the session's timeout"}


def seconds_equal(got, want):
    """Whether ``got`` is a plain int or float within a microsecond of ``want`` (a number type, not a look-alike)."""
    return type(got) in (int, float) and abs(got - want) <= 1e-6


def word(rng):
    """A per-run name."""
    return f"{rng.choice(WORDS)}{rng.randrange(100)}"


def words(rng, count):
    """``count`` distinct per-run names."""
    return [f"{name}{rng.randrange(100)}" for name in rng.sample(WORDS, count)]


def moment(rng):
    """A per-run instant (whole seconds, GMT) in 2024-2030."""
    return datetime(rng.randint(2024, 2030), rng.randint(1, 12), rng.randint(1, 28), rng.randrange(24),
                    rng.randrange(60), rng.randrange(60), tzinfo=timezone.utc)


def http_date(when):
    """``when`` (GMT) as an IMF-fixdate: ``Wed, 01 May 2024 12:00:30 GMT``."""
    return format_datetime(when, usegmt=True)


# --- what the judge's server and the scenario report -------------------------------------------------


def reply(*, status=200, payload=None, body=None, headers=None, content_type=None, delay=0):
    """One scripted answer of a path on the judge's server (or of a mocked URL)."""
    return {"status": status, "payload": payload, "body": body, "headers": headers, "content_type": content_type,
            "delay": delay}


def fail(how):
    """One scripted request that the judge's server fails: "drop" or "reset"."""
    return {"fail": how}


def raising(name, *args):
    """One mocked request that fails in the student's process with the exception ``name(*args)``."""
    return {"fail": [name, *args]}


def failing(kind, rng):
    """A reply that fails an attempt the way ``kind`` (a key of RAISES) says; a timeout is a slow answer."""
    return reply(body="too late", delay=rng.randint(20, 60)) if kind == "timeout" else fail(kind)


def call(function, *args, within=120, **kwargs):
    """A call of the student's ``function(session, *args, **kwargs)``, awaited within ``within`` s of loop time."""
    return {"function": function, "args": list(args), "kwargs": kwargs, "within": within}


def http(student, routes, *calls, mocked=None, session=None, pace=None):
    """Serve ``routes`` (``(path, replies)`` or a route dict) and make ``calls``: (the scenario's report, the server).

    ``mocked``: ``(url, replies)`` answered in the student's process instead. ``session``: the ClientSession's
    ``timeout`` (seconds) or ``base_url``.
    """
    table = [r if isinstance(r, dict) else {"url": r[0], "replies": list(r[1])} for r in routes]
    fakes = [{"url": url, "replies": list(replies)} for url, replies in mocked or ()]
    return p07.judged_http(student, table, list(calls), mocked=fakes, session=session, pace=pace)


def retry(url, method="GET", **kwargs):
    """A request_with_retry call under a generous loop-time bound."""
    return call("request_with_retry", method, url, **kwargs)


def attempts(server):
    """The requests the judge's server saw, without aiohttp's own resends of a dropped connection."""
    return [r for r in server.requests() if not r["resent"]]


def request_times(server):
    """Loop times at which the judge's server saw each request."""
    return [r["at"] for r in attempts(server)]


def urls_seen(server):
    """The path and query of each request, in the order the server saw them."""
    return [r["url"] for r in attempts(server)]


def queries(server):
    return [r["query"] for r in attempts(server)]


def arrivals(kinds, limit, backoff=0.5):
    """Loop times of the attempts when the failures ``kinds`` come first: a timeout lasts ``limit`` s, then the backoff."""
    times = [0.0]
    for i, kind in enumerate(kinds):
        times.append(times[-1] + (limit if kind == "timeout" else 0) + backoff * 2 ** i)
    return times


def outcome(result):
    """A FetchResult's fields as a tuple, for comparison with exact types (``same``)."""
    assert isinstance(result, Record) and result.name == "FetchResult", f"expected FetchResult objects, got {result!r}"
    return tuple(result.fields.get(name) for name in ("url", "status", "data", "error"))


def show(result):
    """A FetchResult as the student would print it."""
    return f"FetchResult(url={result[0]!r}, status={result[1]!r}, data={result[2]!r}, error={result[3]!r})"


def expect_error(done, name, *, what, returned):
    """The exception a call raised, which must be a ``name``; else a failure (``returned`` for a value)."""
    error = raised(done["outcome"])
    if error is None:
        value = unwrap(done["outcome"], what=what)  # a hang fails here with its hint
        raise AssertionError(returned.format(result=repr(value)))
    if error.is_a("NotImplementedError") or not error.is_a(name):
        raise AssertionError(error_message(what, error))
    return error


def retried(done, *, what="request_with_retry"):
    return unwrap(done["outcome"], what=what)


def pages_of(done, what):
    """All bodies an iterating call yielded; a request to a wrongly resolved URL becomes a clear failure."""
    error = raised(done["outcome"])
    if error is not None and error.is_a("ClientError") and not error.is_a("NotImplementedError"):
        raise AssertionError(
            f"{what} failed with {describe_parts(error.name, error.message)}. Follow the rel=\"next\" target, "
            "resolved against the URL of the page that named it (response.links does it for you)."
        )
    return unwrap(done["outcome"], what=what)


def fetched(done):
    """fetch_many's results; raising at all is a failure."""
    error = raised(done["outcome"])
    if error is not None and not error.is_a("NotImplementedError"):
        raise AssertionError(
            f"fetch_many raised {describe_parts(error.name, error.message)}; it must never raise for one URL: a failed "
            "request is recorded by its class name in FetchResult.error, and a body that does not parse as JSON is "
            "data=None"
        )
    results = unwrap(done["outcome"], what="fetch_many")
    assert type(results) is list, f"expected a list of FetchResult objects, got {results!r}"
    return results


# --- parse_retry_after ---------------------------------------------------------------------------


def parse_all(student, cases):
    """parse_retry_after for each ``(value, now)``: the outcomes."""
    return student.run(p07.retry_after_values,
                       cases=[[value, now.isoformat()] for value, now in cases]).value("parse_retry_after")


def parsed(student, cases):
    """parse_retry_after's value for each ``(value, now)``; a raise fails with its hint."""
    return [unwrap(o, what="parse_retry_after") for o in parse_all(student, cases)]


@pytest.mark.points(2)
def test_parse_retry_after_none_empty_or_garbage_gives_none(student):
    """parse_retry_after gives None for None, an empty value and anything that is neither seconds nor a date."""
    rng = student.rng
    values = [None, "", "   ", "soon", "12 seconds", "Mon, 99 Foo 2024 00:00:00 GMT",
              word(rng), f"{rng.randint(2, 90)} {rng.choice(['seconds', 'minutes', 's'])}",
              f"{rng.choice(DAYS)[:3]}, {rng.randint(1, 99):02d} {rng.choice(['Foo', 'Bar', 'Qux', 'Zed'])} "
              f"{rng.randint(2024, 2030)} {rng.randrange(24):02d}:00:00 GMT"]
    rng.shuffle(values)
    now = moment(rng)
    wrong = {}
    for value, got in zip(values, parse_all(student, [(v, now) for v in values])):
        error = raised(got)
        if error is not None and error.is_a("NotImplementedError"):
            unwrap(got, what="parse_retry_after")
        result = f"raised {describe_parts(error.name, error.message)}" if error is not None else unwrap(
            got, what="parse_retry_after")
        if result is not None:
            wrong[value] = result
    assert not wrong, (
        f"expected None for each of these values, got {wrong!r}. Catch the parse error and return None."
    )


@pytest.mark.points(2)
def test_parse_retry_after_date_relative_to_aware_now(student):
    """An HTTP-date (always GMT) is compared with `now` as an instant, whatever `now`'s timezone."""
    rng = student.rng
    offset = timedelta(hours=rng.choice([h for h in range(-11, 14) if h]), minutes=rng.choice([0, 30]))
    zone = timezone(offset)
    gmt = moment(rng)
    ahead = rng.randint(30, 7200)
    target = gmt + timedelta(seconds=ahead)
    fraction = rng.choice([125000, 250000, 500000, 750000])
    start = moment(rng).replace(microsecond=fraction)
    later = rng.randint(5, 600)
    end = start.replace(microsecond=0) + timedelta(seconds=later)
    first, second = parsed(student, [(http_date(target), gmt.astimezone(zone)), (http_date(end), start)])
    assert seconds_equal(first, float(ahead)), (
        f"now is {gmt.astimezone(zone):%H:%M:%S} at UTC{gmt.astimezone(zone):%z}, i.e. {gmt:%H:%M:%S} GMT, "
        f"so {target:%H:%M:%S} GMT is {ahead} s away; got {first!r}. "
        "Subtract two timezone-aware datetimes; do not drop the timezone."
    )
    want = later - fraction / 1e6
    assert seconds_equal(second, want), (
        f"expected {want:g} s from {start:%H:%M:%S.%f} to {end:%H:%M:%S} GMT, got {second!r}"
    )


@pytest.mark.points(1)
def test_parse_retry_after_obsolete_date_formats(student):
    """The two obsolete HTTP-date forms (RFC 850 and asctime) are read too, as GMT."""
    rng = student.rng
    now = moment(rng).replace(day=rng.randint(1, 8))  # asctime pads a one-digit day with a space: "May  1"
    rfc850, asctime = (now + timedelta(seconds=rng.randint(1, 3600)) for _ in range(2))
    cases = {
        f"{DAYS[rfc850.weekday()]}, {rfc850.day:02d}-{MONTHS[rfc850.month - 1]}-{rfc850.year % 100:02d} "
        f"{rfc850:%H:%M:%S} GMT": (rfc850 - now).total_seconds(),
        f"{DAYS[asctime.weekday()][:3]} {MONTHS[asctime.month - 1]} {asctime.day:2d} {asctime:%H:%M:%S} "
        f"{asctime.year}": (asctime - now).total_seconds(),
    }
    got = dict(zip(cases, parse_all(student, [(value, now) for value in cases])))
    for value, result in got.items():
        if raised(result) is not None and raised(result).is_a("NotImplementedError"):
            unwrap(result, what="parse_retry_after")
    got = {value: result.get("value", result) for value, result in got.items()}
    assert all(seconds_equal(got[value], want) for value, want in cases.items()), (
        f"expected {cases!r} (now is {http_date(now)}), got {got!r}. HTTP recipients must accept all three date "
        "forms; email.utils.parsedate_to_datetime reads them, and a date without a zone (asctime) is GMT."
    )


@pytest.mark.points(1)
def test_parse_retry_after_is_never_negative(student):
    """"0" and a date equal to or before `now` give 0.0; no value ever gives a negative wait."""
    rng = student.rng
    now = moment(rng)
    past = http_date(now - timedelta(seconds=rng.randint(1, 86400)))
    zeros = ["0", http_date(now), "Thu, 01 Jan 1970 00:00:00 GMT", past]
    negative = f"-{rng.randint(1, 600)}"
    *results, last = parsed(student, [(value, now) for value in zeros + [negative]])
    for value, result in zip(zeros, results):
        assert seconds_equal(result, 0.0), f"expected 0.0 for {value!r} (now is {http_date(now)}), got {result!r}"
    assert last is None or seconds_equal(last, 0.0), (
        f'expected None (not delta-seconds) or 0.0 for "{negative}", never a negative wait; got {last!r}'
    )


# --- request_with_retry --------------------------------------------------------------------------


@pytest.mark.points(2)
def test_request_with_retry_returns_last_response_after_all_attempts(student):
    """Four 503s: four requests 0.5, 1 and 2 s apart, then the last (503, body) is returned without a further wait."""
    rng = student.rng
    path = f"/{word(rng)}"
    bodies = [f"busy {name}" for name in words(rng, 4)]
    seen, server = http(student, [(path, [reply(status=503, body=b) for b in bodies])], retry(f"{API}{path}"))
    done = seen["calls"][0]
    result = retried(done)
    last = (503, bodies[-1].encode())
    assert same(result, last), f"expected the last response {last!r}, got {result!r}"
    assert isinstance(result[1], bytes), f"the body should be bytes (await response.read()), got {type(result[1])}"
    assert request_times(server) == pytest.approx([0, 0.5, 1.5, 3.5]), (
        f"expected 4 requests at loop times 0, 0.5, 1.5, 3.5, got {request_times(server)!r}"
    )
    assert done["ended_at"] == 3.5, (
        f"expected to return at 3.5 s, right after the last attempt, returned at {done['ended_at']:g} s: "
        "do not sleep after the last attempt"
    )


@pytest.mark.points(2)
def test_request_with_retry_caps_backoff_at_max_backoff(student):
    """backoff=1, max_backoff=3: waits of 1, 2, 3, 3, 3 s, never more than max_backoff."""
    rng = student.rng
    path = f"/{word(rng)}"
    final = f"fine {word(rng)}"
    replies = [reply(status=rng.choice(RETRY_STATUSES), body="oops") for _ in range(5)] + [reply(body=final)]
    seen, server = http(student, [(path, replies)], retry(f"{API}{path}", attempts=6, backoff=1, max_backoff=3))
    result = retried(seen["calls"][0])
    assert same(result, (200, final.encode())), f"expected (200, {final.encode()!r}) on the sixth attempt, got {result!r}"
    assert request_times(server) == pytest.approx([0, 1, 3, 6, 9, 12]), (
        f"expected requests at 0, 1, 3, 6, 9, 12 (waits 1, 2, 3, 3, 3), got {request_times(server)!r}. "
        "Wait min(backoff * 2 ** i, max_backoff)."
    )


@pytest.mark.points(2)
def test_request_with_retry_retries_connection_errors_and_timeouts(student):
    """ClientConnectionError, TimeoutError and ServerDisconnectedError are retried with backoff."""
    rng = student.rng
    path = f"/{word(rng)}"
    kinds = list(RAISES)  # a reset connection (ClientOSError), a closed one, a slow answer
    rng.shuffle(kinds)
    limit = rng.choice([1, 1.5, 2, 2.5])
    final = f"made it {word(rng)}"
    seen, server = http(student, [(path, [failing(kind, rng) for kind in kinds] + [reply(body=final)])],
                        retry(f"{API}{path}"), session={"timeout": limit})
    result = retried(seen["calls"][0])
    assert same(result, (200, final.encode())), (
        f"expected (200, {final.encode()!r}) after three failures, got {result!r}"
    )
    want = arrivals(kinds, limit)
    assert request_times(server) == pytest.approx(want), (
        f"expected requests at {want!r} (the server {', then '.join(SAYS[k] for k in kinds)}; the session's timeout "
        f"is {limit:g} s), got {request_times(server)!r}"
    )


@pytest.mark.points(2)
def test_request_with_retry_reraises_the_last_exception(student):
    """When every attempt fails with an exception, the last one is raised after the last attempt."""
    rng = student.rng
    path = f"/{word(rng)}"
    last = rng.choice(["reset", "drop"])
    kinds = [rng.choice([k for k in RAISES if k != last]) for _ in range(2)] + [last]
    limit = rng.choice([1, 1.5, 2])
    seen, server = http(student, [(path, [failing(kind, rng) for kind in kinds])], retry(f"{API}{path}", attempts=3),
                        session={"timeout": limit})
    done = seen["calls"][0]
    error = raised(done["outcome"])
    if error is None:
        unwrap(done["outcome"], what="request_with_retry")
        raise AssertionError(
            f"expected ClientConnectionError after 3 failed attempts, returned {done['outcome']['value']!r}"
        )
    if error.is_a("NotImplementedError"):
        unwrap(done["outcome"], what="request_with_retry")
    if not error.is_a("ClientConnectionError") or error.name != RAISES[last]:
        raise AssertionError(
            f"expected the last exception ({RAISES[last]}: the server {SAYS[last]} on the last attempt, after "
            f"{' and '.join(RAISES[k] for k in kinds[:-1])}) to be re-raised, got "
            f"{describe_parts(error.name, error.message)}"
        )
    want = arrivals(kinds[:-1], limit)
    assert request_times(server) == pytest.approx(want), (
        f"expected 3 attempts at {want!r} (the session's timeout is {limit:g} s), got {request_times(server)!r}"
    )
    assert done["ended_at"] == want[-1], (
        f"expected to give up at {want[-1]:g} s, right after the last attempt, gave up at {done['ended_at']:g} s"
    )


@pytest.mark.points(2)
def test_request_with_retry_returns_other_statuses_at_once(student):
    """200, 404, 400 and 501 (not in retry_statuses) are returned after one request, with no wait."""
    rng = student.rng
    statuses = [200, 404, 400, 501]
    rng.shuffle(statuses)
    answers = {status: f"answer {status} {word(rng)}" for status in statuses}
    routes = [(f"/status/{status}", [reply(status=status, body=answers[status])]) for status in statuses]
    seen, server = http(student, routes, *(retry(f"{API}/status/{status}") for status in statuses))
    for status, done in zip(statuses, seen["calls"]):
        result = retried(done)
        want = (status, answers[status].encode())
        assert same(result, want), f"expected {want!r} at once, got {result!r}"
    made = attempts(server)
    assert len(made) == 4, f"expected one request per status, the server saw {len(made)}"
    waited = seen["calls"][-1]["ended_at"]
    assert waited == 0, f"expected no waiting for statuses that are not retried, waited {waited:g} s"


@pytest.mark.points(1)
def test_request_with_retry_uses_the_given_retry_statuses(student):
    """retry_statuses=(418,) retries a 418 and returns a 503 at once."""
    rng = student.rng
    teapot, busy = (f"/{name}" for name in words(rng, 2))
    tea, coffee, still = (f"{kind} {word(rng)}" for kind in ("tea", "coffee", "busy"))
    seen, server = http(student, [(teapot, [reply(status=418, body=tea), reply(body=coffee)]),
                                  (busy, [reply(status=503, body=still)])],
                        retry(f"{API}{teapot}", retry_statuses=(418,)), retry(f"{API}{busy}", retry_statuses=(418,)))
    first, second = (retried(done) for done in seen["calls"])
    assert same(first, (200, coffee.encode())), (
        f"expected the 418 to be retried, giving (200, {coffee.encode()!r}), got {first!r}"
    )
    assert same(second, (503, still.encode())), f"expected 503 returned at once when retry_statuses=(418,), got {second!r}"
    made = attempts(server)
    assert len(made) == 3, f"expected 3 requests (2 + 1), the server saw {len(made)}"


@pytest.mark.points(2)
def test_request_with_retry_prefers_retry_after_over_backoff(student):
    """Retry-After: 2, then no header, then Retry-After: 1: waits of 2, 1 (backoff * 2 ** 1) and 1 s."""
    rng = student.rng
    path = f"/{word(rng)}"
    bodies = words(rng, 4)
    replies = [
        reply(status=rng.choice([429, 503]), body=bodies[0], headers={"Retry-After": "2"}),
        reply(status=rng.choice([500, 502, 503, 504]), body=bodies[1]),
        reply(status=rng.choice([429, 503]), body=bodies[2], headers={"Retry-After": "1"}),
        reply(body=bodies[3]),
    ]
    seen, server = http(student, [(path, replies)], retry(f"{API}{path}"))
    result = retried(seen["calls"][0])
    assert same(result, (200, bodies[3].encode())), f"expected (200, {bodies[3].encode()!r}), got {result!r}"
    assert request_times(server) == pytest.approx([0, 2, 3, 4]), (
        f"expected requests at 0, 2, 3, 4, got {request_times(server)!r}: each retry waits its own "
        "response's Retry-After, or backoff * 2 ** i (i counts the retries) when there is none"
    )


@pytest.mark.points(2)
def test_request_with_retry_caps_and_reads_retry_after(student):
    """Retry-After is capped at max_backoff, "0" means retry at once, and an HTTP-date is understood."""
    rng = student.rng
    path = f"/{word(rng)}"
    cap = rng.choice([3, 4, 5, 6, 7])
    much = rng.randint(50, 500)
    future = datetime(rng.randint(2100, 2199), rng.randint(1, 12), rng.randint(1, 28), tzinfo=timezone.utc)
    past = datetime(rng.randint(1970, 1999), rng.randint(1, 12), rng.randint(1, 28), tzinfo=timezone.utc)
    bodies = words(rng, 5)
    replies = [
        reply(status=429, body=bodies[0], headers={"Retry-After": str(much)}),
        reply(status=429, body=bodies[1], headers={"Retry-After": "0"}),
        reply(status=rng.choice([429, 503]), body=bodies[2], headers={"Retry-After": http_date(future)}),
        reply(status=rng.choice([429, 503]), body=bodies[3], headers={"Retry-After": http_date(past)}),
        reply(body=bodies[4]),
    ]
    seen, server = http(student, [(path, replies)], retry(f"{API}{path}", attempts=5, max_backoff=cap))
    times = request_times(server)
    done = seen["calls"][0]
    try:
        result = retried(done)
    except AssertionError as exc:
        if "hung" not in done["outcome"]:
            raise
        raise AssertionError(
            f"{exc} Requests came at {times!r}: a Retry-After of {much} s or a date in "
            f"{future.year} must still be capped at max_backoff={cap}."
        ) from None
    assert same(result, (200, bodies[4].encode())), f"expected (200, {bodies[4].encode()!r}), got {result!r}"
    assert len(times) == 5, f"expected 5 requests, the server saw {len(times)}"
    assert times[1] == pytest.approx(cap), (
        f"Retry-After: {much} with max_backoff={cap} should wait {cap} s, the retry came at {times[1]:g} s"
    )
    assert times[2] == pytest.approx(cap), (
        f'Retry-After: 0 should retry at once ({cap} s), it came at {times[2]:g} s. 0.0 is falsy: test "is None", '
        "not truth."
    )
    assert times[3] == pytest.approx(2 * cap), (
        f"a Retry-After date far in the future should wait max_backoff ({cap} s, retry at {2 * cap} s), "
        f"it came at {times[3]:g} s"
    )
    assert times[4] == pytest.approx(2 * cap), (
        f"a Retry-After date in the past should retry at once ({2 * cap} s), it came at {times[4]:g} s"
    )


@pytest.mark.points(2)
def test_request_with_retry_passes_kwargs_to_request(student):
    """Extra keyword arguments (json=, headers=) reach session.request, with the given method."""
    rng = student.rng
    path = f"/{word(rng)}"
    method = rng.choice(["POST", "PUT", "PATCH"])
    status = rng.choice([200, 201, 202])
    payload = {"id": rng.randint(1, 999)}
    order = {"item": word(rng), "count": rng.randint(1, 9)}
    trace = f"t-{rng.randint(1, 999)}"
    seen, server = http(student, [{"url": path, "method": "*", "replies": [reply(status=status, payload=payload)]}],
                        retry(f"{API}{path}", method, json=order, headers={"X-Trace": trace}))
    result = retried(seen["calls"][0])
    want = (status, json.dumps(payload).encode())
    assert same(result, want), f"expected {want!r} from the {method}, got {result!r}"
    sent = attempts(server)[0]
    assert sent["method"] == method, f"expected a {method} request, the server received a {sent['method']}"
    assert sent["json"] == order, f"expected json={order!r} to reach the request, the server received {sent!r}"
    assert sent["headers"].get("x-trace") == trace, (
        f"expected the header X-Trace: {trace} to reach the request, the server received {sent!r}"
    )


@pytest.mark.points(1)
def test_request_with_retry_single_attempt(student):
    """attempts=1: one request; a 503 is returned and a connection error raised, with no wait."""
    rng = student.rng
    once, never = (f"/{name}" for name in words(rng, 2))
    body = f"no {word(rng)}"
    seen, server = http(student, [(once, [reply(status=503, body=body)]), (never, [fail("drop"), reply(body="late")])],
                        retry(f"{API}{once}", attempts=1), retry(f"{API}{never}", attempts=1))
    first, second = seen["calls"]
    result = retried(first)
    assert same(result, (503, body.encode())), f"expected (503, {body.encode()!r}) with attempts=1, got {result!r}"
    expect_error(second, "ClientConnectionError", what="request_with_retry",
                 returned="expected the ClientConnectionError to be raised with attempts=1, got {result}")
    made = attempts(server)
    assert len(made) == 2, f"expected exactly one request per call, the server saw {len(made)}"
    waited = second["ended_at"]
    assert waited == 0, f"expected no wait with a single attempt, waited {waited:g} s"


@pytest.mark.points(1)
def test_request_with_retry_lets_other_exceptions_through(student):
    """An exception that is not a connection error or timeout (here ValueError) propagates at once, unretried."""
    rng = student.rng
    path = f"/{word(rng)}"
    nowhere = f"http://[{word(rng)}"  # a redirect to this raises InvalidUrlRedirectClientError, a ValueError
    seen, server = http(student, [(path, [reply(status=rng.choice([301, 302, 307]), headers={"Location": nowhere}),
                                          reply(body="never")])], retry(f"{API}{path}"))
    expect_error(seen["calls"][0], "ValueError", what="request_with_retry",
                 returned="expected the ValueError to propagate, got {result}")
    count = len(attempts(server))
    assert count == 1, (
        f"expected one request: only ClientConnectionError and TimeoutError are retried, made {count}. "
        "Catching Exception retries bugs too."
    )


# --- iter_pages and iter_link_pages --------------------------------------------------------------


def paged(path, pages):
    """A cursor-paginated route: ``pages`` maps a cursor (None for the first page) to ``(items, next)``."""
    return {"url": path, "pages": {cursor: list(page) for cursor, page in pages.items()}}


def iterate(function, *args, take=None, within=30, **kwargs):
    """A call that pulls the items of ``function``'s async generator (``take`` of them, or all)."""
    return dict(call(function, *args, within=within, **kwargs), iterate=True, take=take)


@pytest.mark.points(2)
def test_iter_pages_fetches_a_page_only_when_needed(student):
    """iter_pages is lazy: nothing is fetched before iteration, one page for its items, the next only after them."""
    rng = student.rng
    path = f"/{word(rng)}"
    values = rng.sample(range(1, 1000), 7)
    first_page, second_page = values[:rng.randint(2, 4)], values[4:4 + rng.randint(1, 3)]
    cursor = word(rng)
    size = rng.randint(2, 9)
    pace = rng.choice([0.5, 1, 2])  # the consumer holds each item this long before it asks for the next
    seen, server = http(student, [paged(path, {None: (first_page, cursor), cursor: (second_page, None)})],
                        iterate("iter_pages", f"{API}{path}", take=len(first_page) + 1, within=10, page_size=size),
                        pace=pace)
    done = seen["calls"][0]
    times = request_times(server)

    def requested_by(moment):
        """How many pages the judge's server had been asked for before loop time ``moment``."""
        return sum(1 for at in times if at < moment)

    if "made_at" in done:
        before = requested_by(done["made_at"] + pace / 2)
        assert before == 0, (
            f"calling iter_pages should fetch nothing until iteration starts, it made {before} request(s)"
        )
    steps = done.get("steps", [])
    for index, step in enumerate(steps):
        position = ("first", "second", "third", "fourth", "fifth")[index]
        item = unwrap(step["item"], what=f"the {position} item of iter_pages")
        want = first_page[index] if index < len(first_page) else second_page[0]
        origin = "" if index < len(first_page) else " (from the second page)"
        assert same(item, want), f"expected the {position} item {want!r}{origin}, got {item!r}"
        requests = requested_by(step["got"] + pace / 2)  # up to the moment the consumer asks for the next item
        if index == 0:
            assert requests == 1, (
                f"after one item, exactly one page should have been fetched, {requests} were: "
                "fetch the next page only when the consumer needs it"
            )
        elif index < len(first_page):
            assert requests == 1, (
                f"after the first page's items, still one request expected, {requests} were made"
            )
        else:
            assert requests == 2, (
                f"the second page should be fetched once its first item is needed, {requests} requests"
            )
    items = unwrap(done["outcome"], what="iter_pages")
    assert len(items) == len(first_page) + 1, (
        f"expected {len(first_page) + 1} items from the two pages {first_page!r} and {second_page!r}, "
        f"iter_pages stopped after {items!r}"
    )
    unwrap(done["close"], what="closing iter_pages")


@pytest.mark.points(2)
def test_iter_pages_sends_exactly_limit_and_cursor(student):
    """The default page_size is 100; the cursor is sent as given (URL-encoded), with no other parameters."""
    rng = student.rng
    path = f"/{word(rng)}"
    specials = [" ", "/", "=", "&", "+"]
    rng.shuffle(specials)
    letters = "abcdefghijkmnpqrstuvwxyz"
    cursor = "".join(rng.choice(letters) + special for special in specials) + rng.choice(letters)
    first, second = words(rng, 2)
    seen, server = http(student, [paged(path, {None: ([first], cursor), cursor: ([second], None)})],
                        iterate("iter_pages", f"{API}{path}"))
    items = unwrap(seen["calls"][0]["outcome"], what="iter_pages")
    expected = [{"limit": "100"}, {"limit": "100", "cursor": cursor}]
    assert queries(server) == expected, (
        f"expected the query parameters {expected!r}, the server saw {queries(server)!r}. "
        'Pass params={"limit": page_size, "cursor": next} and let aiohttp encode them.'
    )
    assert same(items, [first, second]), f"expected {[first, second]!r}, got {items!r}"


@pytest.mark.points(2)
def test_iter_pages_stops_only_when_next_is_null(student):
    """An empty page with a next cursor does not end the iteration; a null next does, with no extra request."""
    rng = student.rng
    path = f"/{word(rng)}"
    one, two, item = words(rng, 3)
    seen, server = http(student, [paged(path, {None: ([], one), one: ([item], two), two: ([], None)})],
                        iterate("iter_pages", f"{API}{path}", page_size=rng.randint(1, 9)))
    items = unwrap(seen["calls"][0]["outcome"], what="iter_pages")
    assert same(items, [item]), (
        f"expected [{item!r}] (pages: [], [{item!r}], []), got {items!r}: only next == null ends the iteration"
    )
    count = len(attempts(server))
    assert count == 3, f"expected exactly 3 requests (stop when next is null), made {count}: {queries(server)!r}"


@pytest.mark.points(2)
def test_iter_link_pages_resolves_relative_links(student):
    """Relative Link targets ("/v1/items?page=2", "items?page=3") are resolved against the current page's URL."""
    rng = student.rng
    version, name = f"v{rng.randint(1, 9)}", word(rng)
    key = rng.choice(["page", "p", "offset"])
    second, third = rng.sample(range(2, 100), 2)
    start = f"/{version}/{name}"
    bodies = [[n] for n in rng.sample(range(1000), 3)]
    routes = [
        (start, [reply(payload=bodies[0], headers={"Link": f'</{version}/{name}?{key}={second}>; rel="next"'})]),
        (f"{start}?{key}={second}", [reply(payload=bodies[1], headers={"Link": f'<{name}?{key}={third}>; rel="next"'})]),
        (f"{start}?{key}={third}", [reply(payload=bodies[2])]),
    ]
    seen, server = http(student, routes, iterate("iter_link_pages", f"{API}{start}"))
    pages = pages_of(seen["calls"][0], "iter_link_pages")
    assert same(pages, bodies), (
        f"expected the bodies {bodies!r}, got {pages!r}. Resolve a relative target with "
        "response.url.join(URL(target)) or urllib.parse.urljoin, or use response.links."
    )
    expected = [start, f"{start}?{key}={second}", f"{start}?{key}={third}"]
    assert urls_seen(server) == expected, f"expected requests to {expected!r}, got {urls_seen(server)!r}"


@pytest.mark.points(2)
def test_iter_link_pages_picks_next_among_several_links(student):
    """Among first/next/last links the rel="next" one is followed; a page with only rel="prev" (or none) ends it."""
    rng = student.rng
    section, solo = words(rng, 2)
    first, following, final = sorted(rng.sample(range(1, 100), 3))
    links = [f'<{API}/{section}/{first}>; rel="first"', f'<{API}/{section}/{following}>; rel="next"',
             f'<{API}/{section}/{final}>; rel="last"']
    rng.shuffle(links)
    start, after = f"/{section}/{first}", f"/{section}/{following}"
    routes = [
        (start, [reply(payload={"p": first}, headers={"Link": ", ".join(links)})]),
        (after, [reply(payload={"p": following}, headers={"Link": f'<{API}{start}>; rel="prev"'})]),
        (f"/{solo}", [reply(payload={"alone": solo})]),
    ]
    seen, server = http(student, routes, iterate("iter_link_pages", f"{API}{start}"),
                        iterate("iter_link_pages", f"{API}/{solo}"))
    pages = pages_of(seen["calls"][0], "iter_link_pages")
    alone = pages_of(seen["calls"][1], "iter_link_pages")
    want = [{"p": first}, {"p": following}]
    assert same(pages, want), f'expected {want!r} (follow rel="next" only), got {pages!r}'
    assert same(alone, [{"alone": solo}]), (
        f"a page without a Link header is the only page: expected [{{'alone': {solo!r}}}], got {alone!r}"
    )
    assert urls_seen(server) == [start, after, f"/{solo}"], f"unexpected requests: {urls_seen(server)!r}"


# --- RateLimiter -------------------------------------------------------------------------------


def limiter(student, rate, steps, burst=None):
    """The limiter's report for ``steps``, failing with the hint of a step that went wrong."""
    name = f"RateLimiter({rate})" if burst is None else f"RateLimiter({rate}, burst={burst})"
    seen = student.run(p07.limiter_steps, rate=rate, burst=burst, steps=steps).value(name)
    unwrap(seen["made"], what=name)
    for step, report in zip(steps, seen["steps"]):
        if report["failure"] is not None:
            what = {"acquire": "limiter.acquire()", "together": f"{step[-1]} concurrent limiter.acquire() calls",
                    "enter": "`async with limiter`", "raise_inside": "`async with limiter`"}[step[0]]
            unwrap(report["failure"], what=what)
    return seen["steps"]


def acquire_times(student, rate, counts, burst=None, pause=None):
    """Acquisition times: ``counts[0]`` in a row, then (after ``pause`` loop seconds) ``counts[1]`` more."""
    steps = [["acquire", counts[0]]]
    if pause is not None:
        steps += [["sleep", pause], ["acquire", counts[1]]]
    reports = limiter(student, rate, steps, burst)
    return [reports[0]["times"]] + ([reports[2]["times"]] if pause is not None else [])


@pytest.mark.points(1)
def test_rate_limiter_default_burst_is_one(student):
    """RateLimiter(4): one acquisition at once, then one every 0.25 s."""
    [times] = acquire_times(student, 4, [5])
    assert times == pytest.approx([0, 0.25, 0.5, 0.75, 1.0], abs=1e-6), (
        f"expected acquisitions at [0, 0.25, 0.5, 0.75, 1.0], got {times!r}"
    )
    rate, count = student.rng.choice([2, 5, 8, 10]), student.rng.randint(3, 6)
    [times] = acquire_times(student, rate, [count])
    expected = [k / rate for k in range(count)]
    assert times == pytest.approx(expected, abs=1e-6), (
        f"expected RateLimiter({rate}) to allow acquisitions at {expected!r}, got {times!r}"
    )


@pytest.mark.points(2)
def test_rate_limiter_refill_is_capped_at_burst(student):
    """After a long idle stretch the bucket holds only `burst` tokens: RateLimiter(1, burst=2) then allows 2 at once, not 10."""
    first, later = acquire_times(student, 1, [2, 3], burst=2, pause=10)
    assert first == pytest.approx([0, 0], abs=1e-6), f"expected the first burst of 2 at 0, got {first!r}"
    assert later == pytest.approx([10, 10, 11], abs=1e-6), (
        f"after 10 idle seconds expected acquisitions at [10, 10, 11], got {later!r}: "
        "the bucket never holds more than burst tokens"
    )
    rng = student.rng
    rate, burst, idle = rng.choice([1, 2, 4]), rng.randint(2, 4), rng.randint(12, 40)
    first, later = acquire_times(student, rate, [burst, burst + 1], burst=burst, pause=idle)
    want = [idle] * burst + [idle + 1 / rate]
    assert first == pytest.approx([0] * burst, abs=1e-6) and later == pytest.approx(want, abs=1e-6), (
        f"RateLimiter({rate}, burst={burst}): expected a burst of {burst} at 0, then after {idle} idle seconds "
        f"acquisitions at {want!r}; got {first!r} then {later!r}: the bucket never holds more than burst tokens"
    )


@pytest.mark.points(1)
def test_rate_limiter_counts_partial_refill(student):
    """RateLimiter(1): after an acquisition at 0 and a 0.4 s pause, the next one waits only until 1.0 s."""
    for pause in (0.4, student.rng.choice([0.1, 0.25, 0.6, 0.75, 0.9])):
        _, [second] = acquire_times(student, 1, [1, 1], pause=pause)
        assert second == pytest.approx(1.0, abs=1e-6), (
            f"expected the second acquisition at 1.0 s (the token refilled while paused {pause} s), got {second:g} s. "
            "Wait only for the missing part of a token: (1 - tokens) / rate."
        )


@pytest.mark.points(2)
def test_rate_limiter_async_with_acquires(student):
    """`async with limiter as entered:` acquires a token each time, gives the limiter itself, and lets exceptions through."""
    rng = student.rng
    rate, count = rng.choice([1, 2, 4]), rng.randint(3, 5)
    entered, inside = limiter(student, rate, [["enter", count], ["raise_inside"]])
    for same_one, what in zip(entered["is_limiter"], entered["entered"]):
        assert same_one, (
            f"`async with limiter as entered:` gave {what!r}: __aenter__ returns the limiter (`return self`), "
            "as its annotation `-> RateLimiter` says"
        )
    expected = [k / rate for k in range(count)]
    assert entered["times"] == pytest.approx(expected, abs=1e-6), (
        f"expected `async with` entries at {expected!r} (RateLimiter({rate})), got {entered['times']!r}"
    )
    if not inside["propagated"]:
        raise AssertionError("an exception raised inside `async with limiter:` was swallowed: __aexit__ must return None/False")


@pytest.mark.points(2)
def test_rate_limiter_with_many_concurrent_acquirers(student):
    """20 tasks acquiring at once from RateLimiter(2, burst=3): 3 at once, then one every 0.5 s; never more."""
    [report] = limiter(student, 2, [["together", 20]], burst=3)
    times = report["times"]
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


def fetch(urls, **kwargs):
    """A fetch_many call under a generous loop-time bound."""
    return call("fetch_many", list(urls), **kwargs)


@pytest.mark.points(2)
def test_fetch_many_bounds_concurrency(student):
    """10 one-second requests with concurrency=3: at most 3 in flight, done in 4 s."""
    rng = student.rng
    paths = [f"/{word(rng)}/{i}" for i in range(10)]
    seen, server = http(student, [(path, [reply(payload={"ok": i}, delay=1)]) for i, path in enumerate(paths)],
                        fetch([f"{API}{path}" for path in paths], concurrency=3))
    done = seen["calls"][0]
    results = fetched(done)
    statuses = [outcome(r)[1] for r in results]
    assert statuses == [200] * 10, f"expected ten 200s, got {statuses!r}"
    peak = server.peak
    assert peak <= 3, (
        f"expected at most 3 requests in flight, the server saw {peak}. Use an asyncio.Semaphore(concurrency)."
    )
    assert peak == 3, f"expected 3 requests in flight at once, the server saw at most {peak}. {hints.SEQUENTIAL}"
    assert done["ended_at"] == 4, f"expected 4 s (ceil(10 / 3) rounds of 1 s), took {done['ended_at']:g} s"


@pytest.mark.points(1)
def test_fetch_many_default_concurrency_is_five(student):
    """Without concurrency=, at most 5 requests are in flight."""
    rng = student.rng
    count, delay = rng.randint(6, 14), rng.choice([1, 1.5, 2])
    paths = [f"/{word(rng)}/{i}" for i in range(count)]
    seen, server = http(student, [(path, [reply(payload=i, delay=delay)]) for i, path in enumerate(paths)],
                        fetch(f"{API}{path}" for path in paths))
    done = seen["calls"][0]
    fetched(done)
    assert server.peak == 5, (
        f"expected a peak of 5 requests in flight (the default concurrency), the server saw {server.peak}"
    )
    rounds = math.ceil(count / 5)
    assert done["ended_at"] == pytest.approx(rounds * delay, abs=1e-6), (
        f"expected {rounds * delay:g} s ({count} requests of {delay:g} s, 5 at a time), took {done['ended_at']:g} s"
    )


@pytest.mark.points(2)
def test_fetch_many_results_in_input_order(student):
    """Results come back in input order even when later URLs answer first."""
    rng = student.rng
    count = rng.randint(4, 6)
    delays = rng.sample([0.5 * k for k in range(1, 9)], count)
    if delays[0] != max(delays):
        top = delays.index(max(delays))
        delays[0], delays[top] = delays[top], delays[0]  # the first URL answers last
    paths = [f"/{word(rng)}/{i}" for i in range(count)]
    seen, server = http(student, [(path, [reply(payload={"i": i}, delay=d)])
                                  for i, (path, d) in enumerate(zip(paths, delays))],
                        fetch([f"{API}{path}" for path in paths], concurrency=count))
    done = seen["calls"][0]
    got = [outcome(r)[::2] for r in fetched(done)]
    expected = server.placed([(f"{API}{path}", {"i": i}) for i, path in enumerate(paths)])
    assert same(got, expected), f"expected {expected!r} (input order), got {got!r}"
    assert server.peak == count, (
        f"expected all {count} requests in flight at once (concurrency={count}), the server saw at most "
        f"{server.peak}. {hints.SEQUENTIAL}"
    )
    assert done["ended_at"] == pytest.approx(max(delays), abs=1e-6), (
        f"expected {max(delays):g} s (all at once), took {done['ended_at']:g} s. {hints.SEQUENTIAL}"
    )


@pytest.mark.points(2)
def test_fetch_many_parses_json_only_for_2xx(student):
    """data is the parsed JSON for a 2xx JSON response, else None; HTTP error statuses are results, not errors."""
    rng = student.rng
    ok, listed = rng.choice([200, 201, 202, 203]), rng.choice([200, 201, 202])
    missing, broken = rng.choice([400, 403, 404, 410]), rng.choice([500, 502, 503])
    a, b = rng.randint(1, 99), [rng.randint(1, 99) for _ in range(rng.randint(1, 4))]
    text, html = word(rng), word(rng)
    kinds = [
        ("json", reply(status=ok, payload={"a": a}), (ok, {"a": a})),
        ("list", reply(status=listed, payload=b), (listed, b)),
        ("text", reply(body=text, content_type="text/plain"), (200, None)),
        ("html", reply(body=f"<p>{html}</p>", content_type="text/html"), (200, None)),
        ("missing", reply(status=missing, payload={"error": "nope"}), (missing, None)),
        ("broken", reply(status=broken, payload={"error": "boom"}), (broken, None)),
        ("empty", reply(status=204, body=""), (204, None)),
    ]
    rng.shuffle(kinds)
    paths = [f"/kind/{name}/{word(rng)}" for name, _, _ in kinds]
    seen, server = http(student, [(path, [r]) for path, (_, r, _) in zip(paths, kinds)],
                        fetch(f"{API}{path}" for path in paths))
    results = fetched(seen["calls"][0])
    names = list(results[0].fields) if results and isinstance(results[0], Record) else None
    assert names == ["url", "status", "data", "error"], f"FetchResult fields should be url, status, data, error; got {names!r}"
    assert all(isinstance(r, Record) and r.name == "FetchResult" for r in results), (
        f"expected FetchResult objects, got {results!r}"
    )
    expected = server.placed([(f"{API}{path}", status, data, None)
                              for path, (_, _, (status, data)) in zip(paths, kinds)])
    assert len(results) == len(expected), f"expected a list of {len(expected)} results, got {results!r}"
    for want, got in zip(expected, results):
        assert same(outcome(got), want), (
            f"expected {show(want)}, got {got!r}. A non-2xx status or a non-JSON body is a normal result "
            "with data=None (no raise_for_status, no response.json() on text)."
        )


@pytest.mark.points(2)
def test_fetch_many_records_failures_without_raising(student):
    """A failed request gives status=None, data=None and error=<exception class name>; the others still succeed."""
    rng = student.rng
    fine = word(rng)
    # A port where nothing listens refuses the connection; the judge's server drops one; the last one is mocked in
    # the student's process: no real server makes the request itself raise ClientPayloadError.
    cases = [
        ("ok", f"{API}/f/ok/{word(rng)}", reply(payload={"fine": fine}), (200, {"fine": fine}, None)),
        ("refused", f"{REFUSED}/f/refused/{word(rng)}", None, (None, None, "ClientConnectorError")),
        ("dropped", f"{API}/f/dropped/{word(rng)}", fail("drop"), (None, None, "ServerDisconnectedError")),
        ("payload", f"{MOCKED}/f/payload/{word(rng)}", raising("ClientPayloadError", f"cut {word(rng)}"),
         (None, None, "ClientPayloadError")),
    ]
    rng.shuffle(cases)
    routes = [(url.removeprefix(API), [r]) for _, url, r, _ in cases if url.startswith(API)]
    mocked = [(url, [r]) for _, url, r, _ in cases if url.startswith(MOCKED)]
    seen, server = http(student, routes, fetch(url for _, url, _, _ in cases), mocked=mocked)
    results = fetched(seen["calls"][0])
    expected = server.placed([(url, *want) for _, url, _, want in cases])
    got = [outcome(r) for r in results]
    assert same(got, expected), (
        f"expected {[show(e) for e in expected]!r}, got {results!r}. error is type(exc).__name__."
    )


@pytest.mark.points(2)
def test_fetch_many_times_out_a_slow_request(student):
    """A request slower than timeout gives error "TimeoutError" at `timeout` seconds; the others are kept."""
    rng = student.rng
    timeout = rng.choice([1.5, 2, 2.5, 3])
    plan = [("fast", rng.choice([0.25, 0.5, 0.75])), ("slow", rng.randint(10, 60)), ("medium", timeout - 0.5)]
    rng.shuffle(plan)
    paths = [f"/t/{name}/{word(rng)}" for name, _ in plan]
    seen, server = http(student, [(path, [reply(payload=name, delay=d)]) for path, (name, d) in zip(paths, plan)],
                        fetch((f"{API}{path}" for path in paths), timeout=timeout))
    done = seen["calls"][0]
    results = dict(zip([name for name, _ in plan], (outcome(r) for r in fetched(done))))
    fast, slow, medium = results["fast"], results["slow"], results["medium"]
    assert same((fast[1], fast[2], medium[1], medium[2]), (200, "fast", 200, "medium")), (
        f"expected the fast and medium requests to succeed, got {show(fast)} and {show(medium)}"
    )
    assert slow[1] is None and slow[2] is None and "Timeout" in (slow[3] or ""), (
        f"expected the {dict(plan)['slow']} s request to fail with error 'TimeoutError' after timeout={timeout:g}, "
        f"got {show(slow)}. Bound each request with asyncio.timeout(timeout) or asyncio.wait_for."
    )
    slow_path = paths[[name for name, _ in plan].index("slow")]
    [given_up] = [r for r in attempts(server) if r["path"] == slow_path]
    assert given_up["abandoned"] and given_up["left"] == pytest.approx(timeout, abs=1e-6), (
        f"expected the slow request to be given up at {timeout:g} s (the timeout); the server saw it "
        + (f"given up at {given_up['left']:g} s" if given_up["abandoned"] else "never given up")
    )
    assert done["ended_at"] == pytest.approx(timeout, abs=1e-6), (
        f"expected fetch_many to return at {timeout:g} s (the timeout), returned at {done['ended_at']:g} s"
    )


@pytest.mark.points(2)
def test_fetch_many_acquires_the_limiter_before_each_request(student):
    """With limiter=RateLimiter(2), five requests start 0.5 s apart, however high the concurrency."""
    rng = student.rng
    paths = [f"/{word(rng)}/{i}" for i in range(5)]
    seen, server = http(student, [(path, [reply(payload="ok")]) for path in paths],
                        dict(fetch((f"{API}{path}" for path in paths), concurrency=5), limiter=[2]))
    done = seen["calls"][0]
    unwrap(done.get("limiter", {"value": None}), what="RateLimiter(2)")
    results = fetched(done)
    assert [outcome(r)[1] for r in results] == [200] * 5, f"expected five 200s, got {results!r}"
    times = sorted(request_times(server))
    assert times == pytest.approx([0, 0.5, 1.0, 1.5, 2.0], abs=1e-6), (
        f"expected requests at loop times [0, 0.5, 1.0, 1.5, 2.0], the server saw {times!r}: "
        "await limiter.acquire() before every single request, and never let two waiting tasks share one token"
    )


@pytest.mark.points(1)
def test_fetch_many_empty_and_leaves_session_open(student):
    """fetch_many([]) returns []; fetch_many leaves nothing running and the caller's session open."""
    rng = student.rng
    good, bad = words(rng, 2)
    seen, _ = http(student, [(f"/e/{good}", [reply(payload=rng.randint(1, 9))])],
                   fetch([]), fetch([f"{API}/e/{good}", f"{REFUSED}/e/{bad}"]))
    empty, both = seen["calls"]
    nothing = fetched(empty)
    assert same(nothing, []), f"expected [] for no URLs, got {nothing!r}"
    statuses = [outcome(r)[1] for r in fetched(both)]
    assert statuses == [200, None], f"expected statuses [200, None], got {statuses!r}"
    left = empty["left_running"] + both["left_running"]
    assert not left, (
        f"fetch_many returned while {len(left)} task(s) it started were still running. {hints.LEFT_RUNNING}"
    )
    assert not (empty["session_closed"] or both["session_closed"]), (
        "fetch_many closed the session it was given: the caller owns it"
    )


@pytest.mark.points(2)
def test_fetch_many_bad_json_and_status_boundaries(student):
    """A 2xx JSON body that does not parse, or JSON text not labelled as JSON, is data=None; 299 is 2xx, 300 and 399 are not."""
    rng = student.rng
    key = word(rng)
    whole = json.dumps({key: rng.randint(1, 99)})
    # A final 1xx status comes from no real server (a client waits for the final answer after one): mocked.
    cases = [
        ("labelled-text", reply(body=whole, content_type="text/plain"), (200, None)),
        ("truncated", reply(body=whole[:rng.randint(1, len(whole) - 1)], content_type="application/json"), (200, None)),
        ("not-utf8", reply(body=rng.choice([b"\xff\xfe\x00", b"\xc3\x28", b'{"a": "\xff"}']),
                           content_type="application/json"), (200, None)),
        ("s299", reply(status=299, payload={"edge": 299, key: 1}), (299, {"edge": 299, key: 1})),
        ("s300", reply(status=300, payload={"edge": 300}), (300, None)),
        ("s399", reply(status=399, payload={"edge": 399}), (399, None)),
        ("s199", reply(status=199, payload={"edge": 199}), (199, None)),
    ]
    rng.shuffle(cases)
    urls = [f"{MOCKED if name == 's199' else API}/b/{name}/{word(rng)}" for name, _, _ in cases]
    routes = [(url.removeprefix(API), [r]) for url, (_, r, _) in zip(urls, cases) if url.startswith(API)]
    mocked = [(url, [r]) for url, (_, r, _) in zip(urls, cases) if url.startswith(MOCKED)]
    seen, server = http(student, routes, fetch(urls), mocked=mocked)
    results = fetched(seen["calls"][0])
    expected = server.placed([(url, status, data, None) for url, (_, _, (status, data)) in zip(urls, cases)])
    assert len(results) == len(expected), f"expected a list of {len(expected)} results, got {results!r}"
    for want, got in zip(expected, results):
        have = outcome(got)
        assert same(have, want), (
            f"expected {want!r}, got {have!r}. data is the parsed JSON only for 200 <= status < 300, a "
            "Content-Type that says JSON and a body that parses; a body that does not parse is data=None "
            "(catch the ValueError), not a failure."
        )
