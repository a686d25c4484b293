"""Scenarios of assignment 07 (resilient HTTP clients): HTTP the judge serves, a limiter's clock, Retry-After values.

The HTTP of these tests is served by the judge, outside the student's
process: a test writes a *route table* (paths and the replies each gives, in
order: a status, a body or a JSON payload, headers, a delay on the shared
clock, or a connection the server drops or resets; or cursor pages,
``{"items": [...], "next": ...}`` by the request's ``cursor``),
:class:`JudgeRoutes` turns it into the ``aiohttp.web`` application the judge
serves (``coursekit.served.JudgeSide``), and the judge's server counts every
request itself: its method, path, query, JSON body, headers, the loop time it
arrived and left at, whether the client gave up on it, and the most in flight
at once. The scenario (:func:`http_calls`) runs in the student's process on
the clock the judge leads: it calls the student's functions with one session,
one after another, and reports what only it can see: each call's outcome, the
loop time it ended at, the tasks it left running and whether the session was
closed. A few replies no real server can give (an exception raised by the
request itself, a final 1xx status) are mocked there with aioresponses; every
loopback URL still goes to the judge.

A loopback port that refuses connections (``JudgeSide.refusing``) stands for
a server that is down. aiohttp itself resends an idempotent request (GET, PUT,
DELETE...) once, at once, when its connection was dropped or reset: the judge
drops that resend the same way and marks it ``resent``, so one attempt of the
student's code is one request that is not ``resent``.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web
from aioresponses import CallbackResult, aioresponses
from yarl import URL

import coursekit
from coursekit.http import reason_for
from coursekit.iterators import async_iterator
from coursekit.probes import Probe, scenario
from coursekit.probes.kit import Outcome, attempt, exception_from, task_names, unfinished_tasks, within
from coursekit.served import Counter, JudgeSide, drop, placed

# The kit's frames stay out of the failure a student reads (coursekit.hidden_in_judged_failures).
__tracebackhide__ = coursekit.hidden_in_judged_failures

BASE = "{base}"  # in a test's calls and in the judge's replies: the judge's server (``http://127.0.0.1:PORT``)
REFUSED = "{refused}"  # in a test's calls: a loopback base URL where nothing listens (connection refused)
LOOPBACK = ("http://127.0.0.1", "http://localhost")  # never mocked: these requests reach the judge
ITEM_LIMIT = 1000  # an async generator that yields more than this is taken for one that never stops
DROPS = {"drop": "close", "reset": "reset"}  # a reply's "fail" -> how coursekit.served.drop ends the connection
# The methods aiohttp resends once by itself when the connection was dropped or reset (RFC 9112, 9.3.1).
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


# --- the judge's side ------------------------------------------------------------------------------


def _page(route: dict[str, Any], cursor: str | None) -> dict[str, Any]:
    """The reply of a cursor-paged route to ``cursor``: its page, or 400 for an unknown cursor."""
    pages = route["pages"]
    if cursor not in pages:
        return {"status": 400, "payload": {"error": "unknown cursor"}}
    items, following = pages[cursor]
    return {"payload": {"items": items, "next": following}}


def _next_reply(state: dict[str, Any]) -> dict[str, Any] | None:
    """The next scripted reply of a route (the last one again if it repeats), or None when used up."""
    replies = state["replies"]
    if state["used"] < len(replies):
        state["used"] += 1
        return replies[state["used"] - 1]
    return replies[-1] if replies and state.get("repeat") else None


class JudgeRoutes:
    """A route table as the ``aiohttp.web`` application the judge serves, and every request it saw.

    A route: ``{"url": path (with a query: only that query), "method": "GET" | "*", "replies": [reply, ...],
    "repeat": False}`` or ``{"url": path, "pages": {cursor or None: [items, next]}}``. A reply: ``{"status": 200,
    "payload" | "body", "headers", "content_type", "delay": 0}`` or ``{"fail": "drop" | "reset"}``:
    the connection closed with no answer, or reset (RST).
    ``{base}`` in a reply's headers, body or payload is the server's own base URL. A request no route
    matches gets a 404. Read :meth:`requests` and :attr:`peak` after the judge's loop has stopped.
    """

    def __init__(self, routes: list[dict[str, Any]]) -> None:
        self.counter = Counter()
        self.marks: dict[str, str] = {}  # {base} and {refused} as they were for the run (set by judged_http)
        self._states = [dict(route, used=0) for route in routes]
        self._seen: list[tuple[Any, dict[str, Any]]] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    def placed(self, value: Any) -> Any:
        """``value`` with ``{base}`` and ``{refused}`` in its strings as they were for the run."""
        return placed(value, self.marks)

    @property
    def peak(self) -> int:
        """The most requests in flight at once."""
        return self.counter.peak

    def requests(self) -> list[dict[str, Any]]:
        """Every request, in arrival order: method, path, url (path and query), query, json, headers (lower-case
        names), at (arrival), left, abandoned (the client gave up: the handler was cancelled), dropped (the
        server closed or reset it) and resent (aiohttp's own resend of a dropped request)."""
        return [{"method": seen.method, "path": seen.path, "query": dict(seen.query), **extra, "at": seen.arrived,
                 "left": seen.left, "abandoned": seen.abandoned and not extra["dropped"]}
                for seen, extra in self._seen]

    def _route(self, request: web.Request) -> dict[str, Any] | None:
        fits = [s for s in self._states if s.get("method", "GET").upper() in (request.method, "*")]
        exact = [s for s in fits if s["url"] == request.path_qs]
        loose = [s for s in fits if "?" not in s["url"] and s["url"] == request.path]
        return (exact or loose or [None])[0]

    def _reply(self, state: dict[str, Any] | None, method: str, now: float) -> tuple[dict[str, Any] | None, bool]:
        """The reply to a request, and whether it is aiohttp's resend of a request just dropped."""
        if state is None:
            return None, False
        dropped = state.pop("dropped", None)
        if dropped is not None and dropped[0] == now and method in IDEMPOTENT:
            return dropped[1], True
        reply = _next_reply(state)
        if reply is not None and reply.get("fail") in DROPS:
            state["dropped"] = (now, reply)
        return reply, False

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        async with self.counter.counting(request) as seen:
            now = seen.arrived
            extra: dict[str, Any] = {"url": request.path_qs, "json": None, "dropped": False, "resent": False,
                                     "headers": {str(k).lower(): str(v) for k, v in request.headers.items()}}
            self._seen.append((seen, extra))
            sent = await request.read()
            with contextlib.suppress(ValueError):
                extra["json"] = json.loads(sent) if sent else None
            state = self._route(request)
            if state is not None and "pages" in state:
                reply: dict[str, Any] | None = _page(state, request.query.get("cursor"))
            else:
                reply, extra["resent"] = self._reply(state, request.method, now)
            if reply is None:
                return web.Response(status=404, text="no such route")
            if reply.get("fail") is not None:
                extra["dropped"] = True
                return await drop(request, DROPS[reply["fail"]])
            if reply.get("delay"):
                await asyncio.sleep(reply["delay"])
            return self._response(request, reply)

    @staticmethod
    def _response(request: web.Request, reply: dict[str, Any]) -> web.StreamResponse:
        base = f"{request.scheme}://{request.host}"
        status = reply.get("status", 200)
        headers = placed(reply.get("headers"), {BASE: base})
        if reply.get("payload") is not None:
            return web.json_response(placed(reply["payload"], {BASE: base}), status=status, headers=headers,
                                     reason=reason_for(status))
        body = placed(reply.get("body") or "", {BASE: base})
        return web.Response(status=status, body=body.encode() if isinstance(body, str) else body, headers=headers,
                            content_type=reply.get("content_type") or "text/plain", reason=reason_for(status))


def judged_http(student: Any, routes: list[dict[str, Any]], calls: list[dict[str, Any]], *,
                mocked: list[dict[str, Any]] | None = None, session: dict[str, Any] | None = None,
                pace: float | None = None, what: str = "the HTTP scenario") -> tuple[Any, JudgeRoutes]:
    """Judge's side: serve ``routes`` and have the student's process make ``calls`` on the judge's clock.

    ``{base}`` and ``{refused}`` in ``calls`` and ``session`` become the server's base URL and a closed port's.
    Returns the scenario's report and the :class:`JudgeRoutes` (its requests, its peak), read after the run.
    """
    served = JudgeRoutes(routes)
    with JudgeSide() as judge:
        served.marks = marks = {BASE: judge.serve(served.app), REFUSED: judge.refusing()}
        params: dict[str, Any] = {"calls": placed(calls, marks), "session": placed(session, marks), "pace": pace}
        if mocked:
            params["mocked"] = mocked
        report = student.run(http_calls, clock=judge.clock, **params).value(what)
    return report, served


# --- the student's side ----------------------------------------------------------------------------


def _mock(mocked: aioresponses, routes: list[dict[str, Any]], traffic: list[dict[str, Any]]) -> None:
    """Routes answered in this process by aioresponses (absolute URLs; a reply may ``fail`` with an exception)."""
    for route in routes:
        method = route.get("method", "GET").upper()
        replies = route["replies"]
        for index, reply in enumerate(replies):
            repeat = bool(route.get("repeat")) and index == len(replies) - 1
            options: dict[str, Any] = {"callback": _callback(reply, method, traffic), "repeat": repeat}
            if reply.get("fail") is not None:
                options["exception"] = exception_from(*reply["fail"])
            mocked.add(route["url"], method=method, **options)


def _callback(reply: dict[str, Any], method: str, traffic: list[dict[str, Any]]) -> Any:
    async def callback(url: Any, **kwargs: Any) -> CallbackResult:
        traffic.append({"method": method, "url": str(url), "query": dict(URL(str(url)).query)})
        if reply.get("delay"):
            await asyncio.sleep(reply["delay"])
        status = reply.get("status", 200)
        payload, body = reply.get("payload"), reply.get("body")
        content_type = reply.get("content_type") or ("application/json" if payload is not None else "text/plain")
        return CallbackResult(status=status, payload=payload, body=body if body is not None else "",
                              headers=reply.get("headers"), content_type=content_type, reason=reason_for(status))

    return callback


@contextlib.asynccontextmanager
async def _mocked(routes: list[dict[str, Any]] | None, traffic: list[dict[str, Any]]) -> AsyncIterator[None]:
    if not routes:
        yield
        return
    with aioresponses(passthrough=list(LOOPBACK)) as mocked:
        _mock(mocked, routes, traffic)
        yield


def _session_options(session: dict[str, Any] | None) -> dict[str, Any]:
    """The ``ClientSession``'s options: ``timeout`` (seconds: ``ClientTimeout(total=...)``) and ``base_url``."""
    options: dict[str, Any] = {}
    for key, value in (session or {}).items():
        if key == "timeout":
            options["timeout"] = aiohttp.ClientTimeout(total=value)
        elif key == "base_url":
            options["base_url"] = value
        else:
            raise ValueError(f"not a session option of these scenarios: {key!r}")
    return options


async def _iterate(probe: Probe, made: Any, what: str, take: int | None, seconds: float,
                   pace: float | None) -> dict[str, Any]:
    """Pull up to ``take`` items (all when None) from an async generator, then close it.

    With ``pace``, the consumer waits ``pace`` loop seconds after making the generator and after each item, so
    the judge can tell from the arrival times which requests came before which item was asked for.
    """
    got = attempt(async_iterator, made, what=what)
    if "raised" in got:
        return {"outcome": got}
    agen = got["value"]
    report: dict[str, Any] = {"made_at": round(probe.now(), 6), "steps": [], "exhausted": False}
    items: list[Any] = []
    failure: Outcome | None = None
    left = seconds
    if pace:
        await asyncio.sleep(pace)
    while take is None or len(items) < take:
        if len(items) >= ITEM_LIMIT:
            failure = {"raised": AssertionError(f"{what} yielded more than {ITEM_LIMIT} items: does it ever stop?")}
            break
        asked = probe.now()
        step = await within(anext(agen), max(left, 0.001))
        left -= probe.now() - asked
        if isinstance(step.get("raised"), StopAsyncIteration):
            report["exhausted"] = True
            break
        report["steps"].append({"item": step, "asked": round(asked, 6), "got": round(probe.now(), 6)})
        if "value" not in step:
            failure = step
            break
        items.append(step["value"])
        if pace:
            await asyncio.sleep(pace)
    report["close"] = await within(agen.aclose(), seconds)
    report["outcome"] = failure or {"value": items}
    return report


@scenario
async def http_calls(probe: Probe, *, calls: list[dict[str, Any]], mocked: list[dict[str, Any]] | None = None,
                     session: dict[str, Any] | None = None, pace: float | None = None) -> dict[str, Any]:
    """Make ``calls`` of the student's functions with one ``aiohttp.ClientSession`` (``session``: its options).

    The URLs are the judge's (run with ``clock=``, see :func:`judged_http`). ``mocked``: routes answered in this
    process by aioresponses instead, for what no real server gives: ``{"url": absolute URL, "method": "GET",
    "replies": [{"status", "payload" | "body", "headers", "content_type", "delay"} or {"fail": [exception name,
    *args]}], "repeat": False}``; loopback URLs still reach the judge.

    A call: ``{"function", "args": [...], "kwargs": {...}, "within": 120}``, the session passed first;
    ``"limiter": [rate, burst]`` passes ``limiter=RateLimiter(rate, burst)`` (a raise there is reported as
    ``"limiter"``, and the function is not called); ``"iterate": True`` pulls the items of the async
    generator it returns (``"take": n`` only the first n, then closes it; ``pace``: see :func:`_iterate`) and
    reports the loop time each item was asked for and came. Each call reports its outcome, the loop time it
    ended at, the tasks it left running and whether the session was closed.
    """
    traffic: list[dict[str, Any]] = []
    reports = []
    async with _mocked(mocked, traffic):
        async with aiohttp.ClientSession(**_session_options(session)) as client:
            for spec in calls:
                reports.append(await _call(probe, client, spec, pace))
    return {"calls": reports, "mocked_requests": traffic}


async def _call(probe: Probe, client: aiohttp.ClientSession, spec: dict[str, Any], pace: float | None
                ) -> dict[str, Any]:
    name = spec["function"]
    seconds = spec.get("within", 120)
    kwargs = dict(spec.get("kwargs") or {})
    before = unfinished_tasks()
    report: dict[str, Any]
    limiter: Outcome | None = None
    if spec.get("limiter") is not None:
        limiter = attempt(probe.function("RateLimiter"), *spec["limiter"])
        kwargs["limiter"] = limiter.get("value")
    if limiter is not None and "raised" in limiter:
        report = {"outcome": {"value": None}, "limiter": limiter}
    elif "raised" in (made := attempt(probe.function(name), client, *spec.get("args", []), **kwargs)):
        report = {"outcome": made}
    elif spec.get("iterate"):
        report = await _iterate(probe, made["value"], name, spec.get("take"), seconds, pace)
    else:
        report = {"outcome": await within(made["value"], seconds)}
    current = asyncio.current_task()
    report["ended_at"] = round(probe.now(), 6)
    report["left_running"] = task_names(t for t in unfinished_tasks() - before if t is not current)
    report["session_closed"] = client.closed
    return report


@scenario
async def limiter_steps(probe: Probe, *, rate: float, burst: int | None = None, steps: list[list[Any]],
                        within_seconds: float = 60) -> dict[str, Any]:
    """``RateLimiter(rate)`` (or ``(rate, burst=burst)``) taken through ``steps``: the loop time of each entry.

    A step is ``["acquire", n]`` (n acquisitions one after another), ``["together", n]`` (n tasks call
    ``acquire()`` at once), ``["sleep", seconds]``, ``["enter", n]`` (n times ``async with limiter as
    entered:``; whether ``entered`` is the limiter) or ``["raise_inside"]`` (a ``KeyError`` raised in the
    body of ``async with limiter:``; what came out). Each reports ``times`` and a ``failure`` outcome that
    stopped it (or None).
    """
    made = attempt(probe.function("RateLimiter"), rate, **({} if burst is None else {"burst": burst}))
    if "raised" in made:
        return {"made": made, "steps": []}
    limiter = made["value"]
    reports: list[dict[str, Any]] = []
    for kind, *detail in steps:
        report: dict[str, Any] = {"times": [], "failure": None}
        if kind == "sleep":
            await asyncio.sleep(detail[0])
        elif kind == "acquire":
            for _ in range(detail[0]):
                got = await within(limiter.acquire(), within_seconds)
                if "value" not in got:
                    report["failure"] = got
                    break
                report["times"].append(round(probe.now(), 6))
        elif kind == "together":
            async def take() -> None:
                await limiter.acquire()
                report["times"].append(round(probe.now(), 6))

            got = await within(asyncio.gather(*(take() for _ in range(detail[0]))), within_seconds)
            report["failure"] = None if "value" in got else got
        elif kind == "enter":
            report["is_limiter"] = []
            report["entered"] = []

            async def enter() -> None:
                async with limiter as entered:
                    report["times"].append(round(probe.now(), 6))
                    report["is_limiter"].append(entered is limiter)
                    report["entered"].append(None if entered is limiter else entered)

            for _ in range(detail[0]):
                got = await within(enter(), within_seconds)
                if "value" not in got:
                    report["failure"] = got
                    break
        elif kind == "raise_inside":
            problem = KeyError("from the body")

            async def raise_inside() -> None:
                async with limiter:
                    raise problem

            got = await within(raise_inside(), within_seconds)
            report["propagated"] = got.get("raised") is problem
            if "value" not in got and not report["propagated"]:
                report["failure"] = got
        else:
            raise ValueError(f"unknown step {kind!r}")
        reports.append(report)
    return {"made": {"value": None}, "steps": reports}


@scenario
def retry_after_values(probe: Probe, *, cases: list[list[Any]]) -> list[Outcome]:
    """``parse_retry_after(value, now=datetime.fromisoformat(now))`` for each ``[value, now]``: the outcomes."""
    parse = probe.function("parse_retry_after")
    return [attempt(parse, value, now=datetime.fromisoformat(now)) for value, now in cases]
