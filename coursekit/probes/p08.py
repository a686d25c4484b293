"""Scenarios of assignment 08 (an aiohttp web service): the app runs on a loopback server beside the probes.

:func:`serve_requests` calls the student's ``create_app``, adds the test-only
routes the judge described, runs each app on a real loopback server
(aiohttp's ``TestServer`` on 127.0.0.1, so its start-up and clean-up code
run) and sends the scripted requests with a plain aiohttp client. The
upstream weather API is described as plain data: mocked with aioresponses
(loopback stays real, any other URL not mocked fails with a
``ClientConnectionError``), a real loopback server that answers after a
delay, or a port that refuses connections. It returns every answer (status,
headers, text, when it was sent and answered), the upstream requests seen,
the app's ``ClientSession`` objects (open right after start-up, how many,
closed at clean-up) and the tasks left running once the apps shut down.
:func:`serve_requests_real_time` does the same on a real clock.

The second half of this module is the judge's side, which never touches an
object of the student process: :func:`request` and :func:`together` write
the script, :func:`serve` runs it, and :class:`Exchange` reads the plain data
back as :class:`coursekit.web.Reply` objects, with the failure messages of
``coursekit.web.running``.
"""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import re
import time
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aioresponses import CallbackResult, aioresponses
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from coursekit.http import LOOPBACK, SessionSpy, closed_port, reason_for
from coursekit.http import serve as serve_app
from coursekit.judge import unwrap
from coursekit.probes import Probe, scenario, task_name
from coursekit.probes.kit import attempt, exception_from, within
from coursekit.web import Reply

# Loop seconds allowed for an app's start-up, for each exchange and for its clean-up (as coursekit.web.running).
STEP_LIMIT = 10

# Characters of a reply's body reported (far above any correct answer; keeps a report under the protocol's limit).
_MAX_TEXT = 65536

STARTING = "starting the app (its start-up / cleanup_ctx code)"
STOPPING = "shutting the app down (its clean-up code)"


# --- the student process's side ----------------------------------------------------------------------------------


def _client_timeout_limit(kwargs: dict[str, Any],
                          sessions: list[aiohttp.ClientSession]) -> tuple[float, Exception] | None:
    """When aiohttp's own ClientTimeout would end a request that never answers, and with what.

    aioresponses answers mocked requests without applying ClientTimeout, so a
    mocked slow upstream plays that part itself: code bounded by ClientTimeout
    (per request or on its session) sees the exception real aiohttp raises
    (TimeoutError for ``total``, ServerTimeoutError for ``sock_read``), at the
    moment real aiohttp would raise it.
    """
    if "timeout" in kwargs:
        timeout = kwargs["timeout"]
    elif sessions:
        timeout = sessions[-1].timeout
    else:
        return None
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        return (float(timeout), asyncio.TimeoutError()) if timeout > 0 else None
    limits: list[tuple[float, Exception]] = []
    total = getattr(timeout, "total", None)
    sock_read = getattr(timeout, "sock_read", None)
    if isinstance(total, (int, float)) and total > 0:
        limits.append((float(total), asyncio.TimeoutError()))
    if isinstance(sock_read, (int, float)) and sock_read > 0:
        limits.append((float(sock_read), aiohttp.ServerTimeoutError("Timeout on reading data from socket")))
    return min(limits, key=lambda limit: limit[0]) if limits else None


class _Upstream:
    """The weather API as the judge described it; records what it was asked and how many requests were in flight."""

    def __init__(self, probe: Probe, spec: dict[str, Any] | None, app_sessions: Callable[[], list[Any]]) -> None:
        self.probe = probe
        self.spec = spec or {"kind": "none"}
        self.app_sessions = app_sessions
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.peak = 0

    def _seen(self, method: str, url: str) -> None:
        self.requests.append({"method": method, "url": url, "at": self.probe.now(),
                              "query": {str(k): str(v) for k, v in URL(url).query.items()}})

    async def _wait(self, delay: float, kwargs: dict[str, Any]) -> None:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            limit = _client_timeout_limit(kwargs, self.app_sessions())
            if limit is not None and limit[0] < delay:
                await asyncio.sleep(limit[0])
                raise limit[1]
            await asyncio.sleep(delay)
        finally:
            self.in_flight -= 1

    def mock(self, mocked: aioresponses) -> None:
        """Register the scripted answers: the i-th request gets ``replies[i]`` (the last one again if ``repeat``)."""
        replies = list(self.spec["replies"])
        repeat = bool(self.spec.get("repeat", False))

        async def callback(url: Any, **kwargs: Any) -> CallbackResult:
            index = len(self.requests)
            self._seen(kwargs.get("method", "GET"), str(url))
            if index >= len(replies) and not repeat:
                raise aiohttp.ClientConnectionError(f"Connection refused: GET {url}")
            answer = replies[min(index, len(replies) - 1)]
            await self._wait(float(answer.get("delay", 0)), kwargs)
            if answer.get("error") is not None:
                raise exception_from(*answer["error"])
            payload, body = answer.get("payload"), answer.get("body")
            status = int(answer.get("status", 200))
            return CallbackResult(
                status=status,
                payload=payload,
                body=body if body is not None else "",
                content_type=answer.get("content_type") or ("text/plain" if payload is None else "application/json"),
                reason=reason_for(status),
            )

        pattern = re.compile("^" + re.escape(self.spec["url"]) + r"(\?.*)?$")
        mocked.get(pattern, callback=callback, repeat=True)

    @contextlib.asynccontextmanager
    async def running(self, mocked: aioresponses) -> AsyncIterator[str | None]:
        """Bring the upstream up; yields the weather_url it imposes (a server's or a refusing port's), else None."""
        kind = self.spec["kind"]
        if kind == "mocked":
            self.mock(mocked)
            yield None
        elif kind == "refusing":
            yield f"http://127.0.0.1:{closed_port()}{self.spec.get('path', '/api')}"
        elif kind == "server":
            delay, payload, path = float(self.spec["delay"]), self.spec.get("payload"), self.spec.get("path", "/api")

            async def forecast(request: web.Request) -> web.Response:
                self._seen(request.method, str(request.url))
                self.in_flight += 1
                self.peak = max(self.peak, self.in_flight)
                try:
                    await asyncio.sleep(delay)
                finally:
                    self.in_flight -= 1
                return web.json_response(payload)

            upstream = web.Application()
            upstream.router.add_get(path, forecast)
            async with serve_app(upstream) as base:
                yield base + path
        elif kind == "none":
            yield None
        else:
            raise ValueError(f"unknown upstream kind {kind!r}")


def _route_handler(spec: dict[str, Any]) -> Callable[[web.Request], Any]:
    """A test-only handler: after ``after`` loop seconds (none: at once) it raises ``raises`` or redirects."""

    async def handler(request: web.Request) -> web.Response:
        if spec.get("after"):
            await asyncio.sleep(float(spec["after"]))
        if spec.get("redirect") is not None:
            raise web.HTTPFound(spec["redirect"])
        raise exception_from(*spec["raises"])

    return handler


def _steps(requests: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The script as waves: a request alone, or the requests of a ``together`` group sent at once."""
    return [list(step["together"]) if "together" in step else [step] for step in requests]


class _Service:
    """One app of the scenario: its server and the scenario's own client in front of it."""

    def __init__(self, index: int, app: web.Application) -> None:
        self.index = index
        self.app = app
        self.server = TestServer(app, host="127.0.0.1")
        self.http: aiohttp.ClientSession | None = None
        self.base = ""


async def _serve(probe: Probe, *, requests: list[dict[str, Any]], apps: int = 1, one_after_another: bool = False,
                 weather_url: str | None = None, upstream: dict[str, Any] | None = None,
                 extra_routes: list[dict[str, Any]] = ()) -> dict[str, Any]:
    report: dict[str, Any] = {"apps": [], "replies": [],
                              "sessions": {"at_start": None, "before_shutdown": None, "open_after_shutdown": None},
                              "left_running": None, "upstream": {"requests": [], "peak": 0}}
    before = {t for t in asyncio.all_tasks() if not t.done()}
    spy = SessionSpy()
    own: list[aiohttp.ClientSession] = []

    def app_sessions() -> list[aiohttp.ClientSession]:
        return [s for s in spy.sessions if not any(s is mine for mine in own)]

    waves, counted = [], 0
    for wave in _steps(requests):  # each request with its place in the script
        waves.append(list(enumerate(wave, start=counted)))
        counted += len(wave)
    report["replies"] = [None] * counted
    original_init = aiohttp.ClientSession.__init__

    def recording_init(session: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        original_init(session, *args, **kwargs)
        spy.sessions.append(session)

    fake = _Upstream(probe, upstream, app_sessions)
    with warnings.catch_warnings(), pytest.MonkeyPatch.context() as patch, \
            aioresponses(passthrough=list(LOOPBACK)) as mocked:
        # aiohttp's own deprecation notices (returning, not raising, a web.HTTPException) are not graded here.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="aiohttp")
        patch.setattr(aiohttp.ClientSession, "__init__", recording_init)
        try:
            async with fake.running(mocked) as imposed_url:
                url = imposed_url if imposed_url is not None else weather_url
                kwargs = {} if url is None else {"weather_url": url}

                async def start(index: int) -> _Service | None:
                    entry: dict[str, Any] = {"created": None, "started": None, "stopped": None}
                    report["apps"].append(entry)
                    made = attempt(_create, probe, kwargs, extra_routes)
                    if "raised" in made:
                        entry["created"] = made
                        return None
                    app, kind = made["value"]
                    entry["created"] = {"value": {"application": app is not None, "type": kind}}
                    if app is None:
                        return None
                    service = _Service(index, app)
                    entry["started"] = await within(service.server.start_server(), STEP_LIMIT)
                    if "value" not in entry["started"]:
                        with contextlib.suppress(BaseException):
                            await within(service.server.close(), STEP_LIMIT)
                        return None
                    entry["started"] = {"value": None}
                    service.http = aiohttp.ClientSession()
                    own.append(service.http)
                    service.base = str(service.server.make_url("")).rstrip("/")
                    return service

                async def stop(service: _Service) -> None:
                    if service.http is not None:
                        await service.http.close()
                    stopped = await within(service.server.close(), STEP_LIMIT)
                    report["apps"][service.index]["stopped"] = {"value": None} if "value" in stopped else stopped

                async def exchange(service: _Service, step: dict[str, Any]) -> dict[str, Any]:
                    options: dict[str, Any] = {}
                    for name in ("json", "data", "headers", "allow_redirects"):
                        if name in step:
                            options[name] = step[name]
                    sent_at, clock = probe.now(), time.perf_counter()
                    assert service.http is not None
                    async with service.http.request(step["method"], service.base + step["path"], **options) as reply:
                        text = (await reply.text())[:_MAX_TEXT]
                        return {"status": reply.status, "text": text,
                                "headers": [[str(k), str(v)] for k, v in reply.headers.items()],
                                "sent_at": sent_at, "answered_at": probe.now(),
                                "took_ms": (time.perf_counter() - clock) * 1000}

                async def play(services: dict[int, _Service], wave: list[tuple[int, dict[str, Any]]]) -> None:
                    outcomes = await asyncio.gather(
                        *(within(exchange(services[int(step.get("app", 0))], step), STEP_LIMIT) for _, step in wave)
                    )
                    for (index, _), outcome in zip(wave, outcomes):
                        report["replies"][index] = outcome

                def snapshot_start() -> None:
                    if report["sessions"]["at_start"] is None:
                        report["sessions"]["at_start"] = [bool(s.closed) for s in app_sessions()]

                if one_after_another:
                    for index in range(apps):
                        service = await start(index)
                        if service is None:
                            break
                        try:
                            snapshot_start()
                            for wave in waves:
                                if all(int(step.get("app", 0)) == index for _, step in wave):
                                    await play({index: service}, wave)
                            report["sessions"]["before_shutdown"] = len(app_sessions())
                        finally:
                            await stop(service)
                else:
                    services: dict[int, _Service] = {}
                    try:
                        for index in range(apps):
                            service = await start(index)
                            if service is None:
                                break
                            services[index] = service
                        else:
                            snapshot_start()
                            for wave in waves:
                                await play(services, wave)
                            report["sessions"]["before_shutdown"] = len(app_sessions())
                    finally:
                        for service in reversed(list(services.values())):
                            await stop(service)
                report["sessions"]["open_after_shutdown"] = sum(not s.closed for s in app_sessions())
                current = asyncio.current_task()
                report["left_running"] = [task_name(t) for t in asyncio.all_tasks()
                                          if not t.done() and t not in before and t is not current]
        finally:
            spy.close_leftovers()
    report["upstream"] = {"requests": fake.requests, "peak": fake.peak}
    return report


def _create(probe: Probe, kwargs: dict[str, Any], extra_routes: list[dict[str, Any]]) -> tuple[Any, str]:
    """``create_app(**kwargs)`` with the test-only routes added: (the app or None, the type's name)."""
    app = probe.function("create_app")(**kwargs)
    kind = type(app).__name__
    if not isinstance(app, web.Application):
        if inspect.iscoroutine(app):
            app.close()  # an `async def create_app`: no "never awaited" warning on top of the failure
        return None, kind
    for route in extra_routes:
        app.router.add_route(route.get("method", "GET"), route["path"], _route_handler(route))
    return app, kind


@scenario
async def serve_requests(probe: Probe, **params: Any) -> dict[str, Any]:
    """Run the student's app(s) on loopback and send the scripted requests, on the virtual clock.

    Parameters (plain data): ``requests`` (each ``{"method", "path", "app"?,
    "json"?, "data"?, "headers"?, "allow_redirects"?}``, or ``{"together":
    [...]}`` for requests sent at once); ``apps`` (how many apps to create,
    started side by side, or ``one_after_another``: each started, sent its
    requests, and shut down before the next is created); ``weather_url``
    (passed to ``create_app``; none: its default); ``upstream`` (``{"kind":
    "mocked", "url", "replies": [{"status"?, "payload"?, "body"?,
    "content_type"?, "delay"?, "error"?: [name, *args]}], "repeat"?}``,
    ``{"kind": "server", "delay", "payload", "path"?}``, ``{"kind":
    "refusing"}``; the last two impose the weather_url); ``extra_routes``
    (test-only GET routes: ``{"path", "after"?, "raises": [name, *args]}`` or
    ``{"path", "redirect": location}``).

    Returns ``apps`` (per app the outcomes ``created``: ``{"application",
    "type"}``, ``started``, ``stopped``), ``replies`` (one outcome per
    request, in script order: ``{"status", "headers", "text", "sent_at",
    "answered_at", "took_ms"}``; None for a request never sent because its
    app did not start), ``sessions`` (``at_start``: the closed flag
    of each ClientSession the app made, right after start-up;
    ``before_shutdown``: how many it made; ``open_after_shutdown``),
    ``left_running`` (tasks pending once the apps shut down) and ``upstream``
    (``requests``: ``{"method", "url", "at", "query"}``, ``peak`` in flight).
    """
    return await _serve(probe, **params)


@scenario
def serve_requests_real_time(probe: Probe, **params: Any) -> dict[str, Any]:
    """:func:`serve_requests` on a real clock (an event loop of its own, no virtual time)."""
    return asyncio.run(_serve(probe, **params))


# --- the judge's side ----------------------------------------------------------------------------------------------


def request(method: str, path: str, *, app: int = 0, **options: Any) -> dict[str, Any]:
    """One scripted request: ``json=``, ``data=`` (bytes), ``headers=``, ``allow_redirects=`` as for aiohttp."""
    unknown = set(options) - {"json", "data", "headers", "allow_redirects"}
    if unknown:
        raise TypeError(f"unknown request options {sorted(unknown)}")
    return {"method": method, "path": path, "app": app, **options}


def together(*requests: dict[str, Any]) -> dict[str, Any]:
    """Requests sent at once (``asyncio.gather``); their replies come in this order."""
    return {"together": list(requests)}


def serve(student: Any, requests: list[dict[str, Any]], *, real_time: bool = False, **options: Any) -> Exchange:
    """Run ``requests`` against the student's app(s) (see :func:`serve_requests`); what came back."""
    chosen = serve_requests_real_time if real_time else serve_requests
    observation = student.run(chosen, requests=requests, **options)
    return Exchange(observation.value("running your app on a loopback server"), requests,
                    apps=int(options.get("apps", 1)))


def _malformed(what: str) -> AssertionError:
    return AssertionError(f"the process running your code sent a malformed report ({what})")


def _number(value: Any, what: str) -> float:
    if type(value) not in (int, float):
        raise _malformed(what)
    return float(value)


class Exchange:
    """What one :func:`serve` run observed, read on the judge's side with the failure messages of a local run."""

    def __init__(self, data: Any, requests: list[dict[str, Any]], *, apps: int) -> None:
        if type(data) is not dict or not {"apps", "replies", "sessions", "left_running", "upstream"} <= set(data):
            raise _malformed("not a report")
        self.data = data
        self.steps = [step for wave in _steps(requests) for step in wave]
        self.expected_apps = apps
        if type(data["apps"]) is not list or not all(type(a) is dict for a in data["apps"]):
            raise _malformed("apps")
        if type(data["replies"]) is not list or len(data["replies"]) != len(self.steps):
            raise _malformed("replies")

    # -- the apps' lives
    def started(self, app: int | None = None) -> None:
        """Fail as a local run would if ``create_app`` or the start-up of the app(s) (all, or up to ``app``) failed."""
        last = self.expected_apps - 1 if app is None else app
        entries = self.data["apps"]
        for index in range(last + 1):
            if index >= len(entries):
                raise _malformed(f"app {index} was never started")
            made = unwrap(entries[index].get("created"), what="create_app()")
            if type(made) is not dict or type(made.get("application")) is not bool:
                raise _malformed("created")
            assert made["application"], (
                f"create_app() should return an aiohttp.web.Application, got {str(made.get('type'))[:100]}"
            )
            unwrap(entries[index].get("started"), what=STARTING)

    def stopped(self, app: int | None = None) -> None:
        """Fail as a local run would if the clean-up of the app(s) (all, or ``app``) failed or hung."""
        self.started(app)
        indexes = range(self.expected_apps) if app is None else [app]
        for index in indexes:
            unwrap(self.data["apps"][index].get("stopped"), what=STOPPING)

    # -- the replies
    def _answer(self, index: int) -> dict[str, Any]:
        step = self.steps[index]
        self.started(int(step.get("app", 0)))
        if self.data["replies"][index] is None:
            raise _malformed(f"no reply to request {index}")
        answer = unwrap(self.data["replies"][index], what=f"the service answering {step['method']} {step['path']}")
        if (type(answer) is not dict or type(answer.get("status")) is not int or type(answer.get("text")) is not str
                or type(answer.get("headers")) is not list):
            raise _malformed("a reply")
        for pair in answer["headers"]:
            if type(pair) is not list or len(pair) != 2 or not all(type(part) is str for part in pair):
                raise _malformed("a reply's headers")
        return answer

    def reply(self, index: int) -> Reply:
        """The answer to the ``index``-th scripted request (``together`` groups counted request by request)."""
        step, answer = self.steps[index], self._answer(index)
        return Reply(step["method"], step["path"], answer["status"],
                     CIMultiDictProxy(CIMultiDict(answer["headers"])), answer["text"])

    def replies(self, indexes: range | list[int] | None = None) -> list[Reply]:
        """The answers to these scripted requests (all by default), in order."""
        return [self.reply(i) for i in (range(len(self.steps)) if indexes is None else indexes)]

    def elapsed(self, index: int) -> float:
        """Loop seconds between sending the ``index``-th request and reading its whole answer."""
        answer = self._answer(index)
        return _number(answer.get("answered_at"), "a reply's time") - _number(answer.get("sent_at"), "a reply's time")

    def took_ms(self, index: int) -> float:
        """Real milliseconds the ``index``-th exchange took, measured by the client."""
        return _number(self._answer(index).get("took_ms"), "a reply's duration")

    # -- what the probes saw
    @property
    def sessions(self) -> dict[str, Any]:
        """``at_start`` (closed flags), ``before_shutdown`` (count) and ``open_after_shutdown`` (count)."""
        self.started()
        sessions = self.data["sessions"]
        if type(sessions) is not dict:
            raise _malformed("sessions")
        at_start = sessions.get("at_start")
        if type(at_start) is not list or not all(type(flag) is bool for flag in at_start):
            raise _malformed("sessions at start")
        for key in ("before_shutdown", "open_after_shutdown"):
            if type(sessions.get(key)) is not int:
                raise _malformed(f"sessions {key}")
        return sessions

    @property
    def left_running(self) -> list[str]:
        """The names of the tasks still pending once every app shut down."""
        self.started()
        left = self.data["left_running"]
        if type(left) is not list or not all(type(name) is str for name in left):
            raise _malformed("tasks left running")
        return left

    @property
    def upstream_requests(self) -> list[dict[str, Any]]:
        """The requests the upstream saw, in order: ``{"method", "url", "at", "query"}``."""
        self.started()
        upstream = self.data["upstream"]
        seen = upstream.get("requests") if type(upstream) is dict else None
        if type(seen) is not list:
            raise _malformed("upstream requests")
        for entry in seen:
            if (type(entry) is not dict or type(entry.get("url")) is not str or type(entry.get("query")) is not dict
                    or not all(type(k) is str and type(v) is str for k, v in entry["query"].items())):
                raise _malformed("an upstream request")
        return seen

    def upstream_urls(self) -> list[str]:
        """The URLs the upstream was asked, in order."""
        return [entry["url"] for entry in self.upstream_requests]

    @property
    def upstream_peak(self) -> int:
        """The most upstream requests in flight at once."""
        self.started()
        upstream = self.data["upstream"]
        peak = upstream.get("peak") if type(upstream) is dict else None
        if type(peak) is not int:
            raise _malformed("upstream peak")
        return peak
