"""Scenarios of assignment 07 (resilient HTTP clients): scripted HTTP routes, a limiter's clock, Retry-After values.

The HTTP scenarios serve a *route table* the test writes: each route is a URL
(with aioresponses) or a path (with a real aiohttp server on loopback) and the
replies it gives, in order: a status, a body or a JSON payload, headers, a
delay on the loop clock, or an exception the request fails with. A route may
instead serve cursor pages (``{"items": [...], "next": ...}`` by the request's
``cursor`` parameter). The scenario calls the student's functions with one
session, one after another, and reports each call's outcome and the loop time
it ended at, with every request the routes saw: its method, URL, query, JSON
body, headers and loop time, and the most requests in flight at once.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import aiohttp.client_exceptions
from aiohttp import web
from aiohttp.test_utils import TestServer
from aioresponses import CallbackResult, aioresponses
from yarl import URL

from coursekit.http import reason_for
from coursekit.iterators import async_iterator
from coursekit.probes import Probe, scenario
from coursekit.probes.kit import Outcome, attempt, exception_from, task_names, unfinished_tasks, within

BASE = "{base}"  # in a call's arguments: the loopback server's base URL (no trailing slash)
ITEM_LIMIT = 1000  # an async generator that yields more than this is taken for one that never stops


class _Traffic:
    """Every request the routes saw, and the most in flight at once, on the loop clock."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.peak = 0

    async def arrive(self, method: str, url: str, json_body: Any, headers: Any, delay: float) -> None:
        """Record one request, then keep it in flight for ``delay`` loop seconds."""
        self.requests.append({"method": method, "url": url, "query": dict(URL(url).query), "json": json_body,
                              "headers": {str(k).lower(): str(v) for k, v in dict(headers or {}).items()},
                              "at": round(self.probe.now(), 6)})
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(delay)
        finally:
            self.in_flight -= 1


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


def _mock(mocked: aioresponses, routes: list[dict[str, Any]], traffic: _Traffic) -> None:
    for route in routes:
        method = route.get("method", "GET").upper()
        if "pages" in route:
            pattern = re.compile("^" + re.escape(route["url"]) + r"(\?.*)?$")
            mocked.add(pattern, method=method, callback=_paged_callback(route, method, traffic), repeat=True)
            continue
        url = re.compile("^" + re.escape(route["url"]) + r"(\?.*)?$") if route.get("any_query") else route["url"]
        replies = route["replies"]
        for index, reply in enumerate(replies):
            repeat = bool(route.get("repeat")) and index == len(replies) - 1
            options: dict[str, Any] = {"callback": _callback(reply, method, traffic), "repeat": repeat}
            if reply.get("fail") is not None:
                options["exception"] = exception_from(*reply["fail"])
            mocked.add(url, method=method, **options)


def _callback(reply: dict[str, Any], method: str, traffic: _Traffic) -> Any:
    async def callback(url: Any, **kwargs: Any) -> CallbackResult:
        await traffic.arrive(method, str(url), kwargs.get("json"), kwargs.get("headers"), reply.get("delay", 0))
        return _result(reply)

    return callback


def _paged_callback(route: dict[str, Any], method: str, traffic: _Traffic) -> Any:
    async def callback(url: Any, **kwargs: Any) -> CallbackResult:
        await traffic.arrive(method, str(url), kwargs.get("json"), kwargs.get("headers"), 0)
        return _result(_page(route, URL(str(url)).query.get("cursor")))

    return callback


def _result(reply: dict[str, Any]) -> CallbackResult:
    status = reply.get("status", 200)
    payload, body = reply.get("payload"), reply.get("body")
    if payload is None and body is None:
        body = ""
    content_type = reply.get("content_type") or ("application/json" if payload is not None else "text/plain")
    return CallbackResult(status=status, payload=payload, body=body if body is not None else "",
                          headers=reply.get("headers"), content_type=content_type, reason=reason_for(status))


def _application(routes: list[dict[str, Any]], traffic: _Traffic) -> web.Application:
    """An aiohttp application serving the route table (paths) on a real socket."""
    states = [dict(route, used=0) for route in routes]

    async def handle(request: web.Request) -> web.StreamResponse:
        sent = await request.read()
        try:
            body = json.loads(sent) if sent else None
        except ValueError:
            body = None
        state = next((s for s in states if s.get("method", "GET").upper() in (request.method, "*")
                      and s["url"] in (request.path, request.path_qs)), None)
        reply = None
        if state is not None:
            reply = _page(state, request.query.get("cursor")) if "pages" in state else _next_reply(state)
        url = str(request.url.with_scheme("http"))
        await traffic.arrive(request.method, url, body, request.headers, (reply or {}).get("delay", 0))
        if reply is None:
            return web.Response(status=404, text="no such route")
        status = reply.get("status", 200)
        if reply.get("payload") is not None:
            return web.json_response(reply["payload"], status=status, headers=reply.get("headers"),
                                     reason=reason_for(status))
        body_out = reply.get("body") or ""
        return web.Response(status=status, body=body_out.encode() if isinstance(body_out, str) else body_out,
                            headers=reply.get("headers"), content_type=reply.get("content_type") or "text/plain",
                            reason=reason_for(status))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


@contextlib.asynccontextmanager
async def _routes_served(routes: list[dict[str, Any]], traffic: _Traffic, serve: bool) -> AsyncIterator[str | None]:
    """The routes, mocked with aioresponses (yields None) or on a loopback server (yields its base URL)."""
    if not serve:
        with aioresponses() as mocked:
            _mock(mocked, routes, traffic)
            yield None
        return
    server = TestServer(_application(routes, traffic), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def _with_base(value: Any, base: str | None) -> Any:
    """``value`` with ``{base}`` in its strings replaced by the server's base URL."""
    if base is None:
        return value
    if type(value) is str:
        return value.replace(BASE, base)
    if type(value) is list:
        return [_with_base(v, base) for v in value]
    if type(value) is dict:
        return {k: _with_base(v, base) for k, v in value.items()}
    return value


async def _iterate(probe: Probe, made: Any, what: str, take: int | None, traffic: _Traffic,
                   seconds: float) -> dict[str, Any]:
    """Pull up to ``take`` items (all when None) from an async generator, then close it."""
    got = attempt(async_iterator, made, what=what)
    if "raised" in got:
        return {"outcome": got}
    agen = got["value"]
    already = len(traffic.requests)  # the requests of earlier calls
    await asyncio.sleep(0)
    report: dict[str, Any] = {"before": len(traffic.requests) - already, "steps": [], "exhausted": False}
    items: list[Any] = []
    failure: Outcome | None = None
    deadline = probe.now() + seconds
    while take is None or len(items) < take:
        if len(items) >= ITEM_LIMIT:
            failure = {"raised": AssertionError(f"{what} yielded more than {ITEM_LIMIT} items: does it ever stop?")}
            break
        step = await within(anext(agen), max(deadline - probe.now(), 0.001))
        if isinstance(step.get("raised"), StopAsyncIteration):
            report["exhausted"] = True
            break
        report["steps"].append({"item": step, "requests": len(traffic.requests) - already})
        if "value" not in step:
            failure = step
            break
        items.append(step["value"])
    report["close"] = await within(agen.aclose(), seconds)
    report["outcome"] = failure or {"value": items}
    return report


@scenario
async def http_calls(probe: Probe, *, routes: list[dict[str, Any]], calls: list[dict[str, Any]],
                     serve: bool = False, session: dict[str, Any] | None = None) -> dict[str, Any]:
    """Serve ``routes`` and make ``calls`` of the student's functions with one ``aiohttp.ClientSession``.

    A route: ``{"url", "method": "GET", "replies": [reply, ...], "repeat": False, "any_query": False}``, or
    ``{"url", "pages": {cursor or None: [items, next]}}``. A reply: ``{"status": 200, "payload" | "body",
    "headers", "content_type", "delay": 0, "fail": [exception name, *args]}`` (``fail``: mocked routes only).
    ``serve``: a loopback server (route URLs are paths; ``{base}`` in a call's arguments or in ``session``,
    the ``ClientSession``'s keyword arguments, is its base URL) instead of aioresponses.

    A call: ``{"function", "args": [...], "kwargs": {...}, "within": 120}``, the session passed first;
    ``"limiter": [rate, burst]`` passes ``limiter=RateLimiter(rate, burst)`` (a raise there is reported as
    ``"limiter"``, and the function is not called); ``"iterate": True`` pulls the items of the async
    generator it returns (``"take": n`` only the first n, then closes it) and reports how many requests the
    call had made before the first item and after each. Each call reports its outcome, the loop time it
    ended at, the tasks it left running and whether the session was closed.
    """
    traffic = _Traffic(probe)
    reports = []
    async with _routes_served(routes, traffic, serve) as base:
        async with aiohttp.ClientSession(**_with_base(session or {}, base)) as client:
            for spec in calls:
                reports.append(await _call(probe, client, _with_base(spec, base), traffic))
    return {"calls": reports, "requests": traffic.requests, "peak": traffic.peak, "base": base}


async def _call(probe: Probe, client: aiohttp.ClientSession, spec: dict[str, Any], traffic: _Traffic) -> dict[str, Any]:
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
        report = await _iterate(probe, made["value"], name, spec.get("take"), traffic, seconds)
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
