"""Scenarios of assignment 06 (the aiohttp client), and the judge's server they meet.

Most HTTP a test describes is served by the judge itself (:class:`Backend`,
served with :class:`coursekit.served.JudgeSide` on the clock it shares with
the student's loop): the judge's server sees every request the student's code
makes (method, path, query, headers, body), how many were in flight at once,
and at what loop time each arrived and left, or was given up by the client
(a timeout, a cancellation). The scenario, in the process that holds the
student's module, only calls the student's functions with the URLs it is
given and reports what the judge cannot see: each call's value or exception,
the sessions the code opened and whether they were closed, ``make_session``'s
settings read back, the files ``download`` left, memory and warnings.

- **judge's routes** (:class:`Backend`, built in the test's process)
  ``{"path", "method", "status", "json" | "text" | "body", "content_type",
  "delay"}``, successive answers ``{"path", "answers": [...]}``, or one of the
  behaviours ``echo_json``, ``echo_request``, ``stream``, ``stall``, ``drop``
  and ``disconnect``;
- **mocked routes** (aioresponses, in the student process: only for
  exceptions no real server produces) ``{"url", "method", "status", "json" |
  "body", "content_type", "delay", "error", "repeat"}``; ``error`` names an
  exception of :data:`ERRORS`, ``["ClientConnectionError", "some text"]``
  with its arguments; loopback URLs pass through to the judge's server;
- a body is ``str``, ``bytes`` or ``{"repeat": bytes, "times": n}`` (large
  bodies stay small on the wire);
- **the session** the calls get as first argument: ``{"base_url", "total",
  "limit"}`` for a plain ``aiohttp.ClientSession``, or ``{"make_session":
  {"args", "kwargs"}}`` for one made by the student's ``make_session``, whose
  settings are read back (:func:`_settings`); none for ``fetch_users``;
- **calls** ``{"function", "args", "kwargs", "within"}``, run one after the
  other, with options: ``dest`` (a file name in a temporary folder, passed
  after ``args`` as a ``pathlib.Path`` or, with ``"dest_as": "str"``, a
  ``str``), ``generator_arg`` (that argument passed as a generator),
  ``cancel_after`` (started as a task and cancelled after so many seconds),
  ``gc_off``, ``trace_memory``, ``resource_warnings``; or ``{"get": url,
  "read": bool}``: a plain ``session.get`` (the status, or what aiohttp itself
  raised), ``{"get": [url, ...]}``: all of them at once (a list of those).

:func:`against_judge` (judge side) serves a :class:`Backend`, replaces
``{base}`` (the server's URL) and ``{refused}`` (a loopback URL nobody
listens on) in the calls and the session, and runs the scenario on the
judge's clock.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import hashlib
import inspect
import json
import tempfile
import tracemalloc
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aioresponses import aioresponses

import coursekit
from coursekit.http import LOOPBACK, Request, Traffic, closed_port, sent_json, serve
from coursekit.probes import Probe, scenario
from coursekit.probes.kit import Outcome, attempt, within
from coursekit.served import Counter, JudgeSide, Seen, placed
from coursekit.testing import CourseSignal

# The kit's frames stay out of the failure a student reads (coursekit.hidden_in_judged_failures).
__tracebackhide__ = coursekit.hidden_in_judged_failures

# The exceptions a mocked route may raise, by name (nothing else is ever built from a name).
ERRORS: dict[str, type[BaseException]] = {
    cls.__name__: cls
    for cls in (
        aiohttp.ClientConnectionError, aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError,
        aiohttp.ClientOSError, aiohttp.ServerTimeoutError, TimeoutError, ConnectionResetError, OSError,
    )
}
SERVER_CHUNK = 64 * 1024


def body_of(spec: Any) -> Any:
    """A body from its description: ``str``, ``bytes``, ``None``, or ``{"repeat": bytes, "times": n}``."""
    if spec is None or type(spec) in (str, bytes):
        return spec
    if type(spec) is dict and type(spec.get("repeat")) is bytes and type(spec.get("times")) is int:
        return spec["repeat"] * spec["times"]
    raise ValueError(f"not a body: {spec!r}")


def error_of(spec: Any) -> BaseException:
    """An exception of :data:`ERRORS` from ``"Name"`` or ``["Name", *args]``."""
    name, *args = [spec] if type(spec) is str else list(spec)
    if name not in ERRORS:
        raise ValueError(f"not an exception a route may raise: {name!r}")
    return ERRORS[name](*args)


# --- what a request carried, what a session holds, what a folder holds -------------------------


def _pairs(headers: Any) -> list[tuple[str, str]]:
    if not headers:
        return []
    items = headers.items() if hasattr(headers, "items") else headers
    return [(str(k), str(v)) for k, v in items]


def _request(request: Request) -> dict[str, Any]:
    return {"method": request.method, "url": request.url, "at": request.at,
            "json": attempt(sent_json, request), "headers": _pairs(request.kwargs.get("headers"))}


def _read(read: Any) -> Any:
    try:
        return read()
    except Exception:  # noqa: BLE001 - a setting that cannot be read is reported as missing
        return None


def _settings(session: Any) -> dict[str, Any]:
    """What a session holds, read back: its class, timeouts, connection limit, default headers and base_url."""
    connector = _read(lambda: session.connector)
    base = _read(lambda: session._base_url)
    return {
        "type": f"{type(session).__module__}.{type(session).__qualname__}",
        "is_session": isinstance(session, aiohttp.ClientSession),
        "total": _read(lambda: session.timeout.total),
        "connect": _read(lambda: session.timeout.connect),
        "has_connector": connector is not None,
        "limit": _read(lambda: connector.limit),
        "headers": _read(lambda: _pairs(session.headers)),
        "base_url": None if base is None else str(base),
        "closed": _read(lambda: bool(session.closed)),
    }


def _files(folder: Path) -> dict[str, dict[str, Any]]:
    """Each entry of ``folder``: its size and the SHA-256 of its content (``None`` for what is not a file)."""
    seen = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_file():
            digest = hashlib.sha256()
            with entry.open("rb") as file:
                for block in iter(lambda: file.read(1 << 20), b""):
                    digest.update(block)
            seen[entry.name] = {"size": entry.stat().st_size, "sha256": digest.hexdigest()}
        else:
            seen[entry.name] = {"size": None, "sha256": None}
    return seen


# --- the mocked and the real server ------------------------------------------------------------


def _mock(mocked: aioresponses, traffic: Traffic, spec: dict[str, Any]) -> None:
    payload = spec.get("json")
    body = body_of(spec.get("body"))
    callback = traffic.reply(status=spec.get("status", 200), payload=payload, body=body,
                             content_type=spec.get("content_type"), delay=spec.get("delay", 0.0),
                             error=error_of(spec["error"]) if spec.get("error") is not None else None)
    mocked.add(spec["url"], method=spec.get("method", "GET"), callback=callback, repeat=spec.get("repeat", False))


# --- the judge's side: its server, the failures aiohttp raises, a run on its clock ----------------


@dataclass
class Heard:
    """One request as the judge's server received it: :class:`coursekit.served.Seen` and what it carried."""

    seen: Seen
    headers: list[tuple[str, str]]
    body: bytes = b""

    @property
    def method(self) -> str:
        return self.seen.method

    @property
    def path(self) -> str:
        return self.seen.path

    @property
    def query(self) -> dict[str, str]:
        return self.seen.query

    @property
    def arrived(self) -> float:
        return self.seen.arrived

    @property
    def left(self) -> float | None:
        return self.seen.left

    @property
    def abandoned(self) -> bool:
        return self.seen.abandoned

    def header(self, name: str) -> str | None:
        """A header's value, the name's case ignored (``None`` if absent)."""
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def sent_json(self) -> Any:
        """The body parsed as JSON; the body itself (as text) when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return self.body.decode(errors="replace")


class Backend:
    """A real aiohttp application whose routes a test describes, served by the judge; it hears every request.

    A route answers ``status`` with ``json``, ``text`` or ``body`` after
    ``delay`` seconds; with ``answers`` (a list of such answers) the n-th
    request gets the n-th (the last one repeats). Or it behaves as one of:

    - ``echo_json: {"status": s}``: a JSON request body comes back as
      ``{"got": body}`` with status ``s``; another content type gets a 415;
    - ``echo_request: {"headers": [...], "query": [...]}``: answers, as
      ``text/plain``, the JSON ``{"headers": {name: value}, "query": {name:
      value}}`` of what the request carried (``null`` when absent);
    - ``stream: {"body": body, "chunk": n}``: the body written ``n`` bytes at
      a time, its length announced;
    - ``stall: {"head": bytes, "tail": bytes, "after": s}``: the head at once,
      the tail ``s`` seconds later, the whole length announced;
    - ``drop: {"length": n, "sent": k}``: ``k`` bytes of an announced ``n``,
      then the connection closes;
    - ``disconnect: True``: the connection closes after ``delay`` without an
      answer (aiohttp retries such a GET once, on a new connection).

    :attr:`counter` counts the requests in flight (its ``peak``) and
    :attr:`heard` keeps every request in arrival order, with its times on the
    shared clock.
    """

    def __init__(self, routes: list[dict[str, Any]]) -> None:
        self.routes = routes
        self.bodies = [body_of(spec["stream"]["body"]) if "stream" in spec else body_of(spec.get("body"))
                       for spec in routes]
        self.counter = Counter()
        self.heard: list[Heard] = []

    @property
    def peak(self) -> int:
        """The most requests the server had in flight at once."""
        return self.counter.peak

    def requests(self, path: str | None = None) -> list[Heard]:
        """The requests heard (for ``path`` only, if given), in arrival order."""
        return [h for h in self.heard if path is None or h.path == path]

    def paths(self) -> list[str]:
        """The paths requested, in arrival order."""
        return [h.path for h in self.heard]

    def app(self) -> web.Application:
        app = web.Application()
        for spec, body in zip(self.routes, self.bodies):
            app.router.add_route(spec.get("method", "GET"), spec["path"], self._handler(spec, body))
        return app

    def _handler(self, spec: dict[str, Any], body: Any) -> Any:
        answered = [0]

        async def handle(request: web.Request) -> web.StreamResponse:
            async with self.counter.counting(request) as seen:
                heard = Heard(seen, [(str(k), str(v)) for k, v in request.headers.items()])
                self.heard.append(heard)
                heard.body = await request.read()
                answer, answer_body = spec, body
                if "answers" in spec:
                    answer = spec["answers"][min(answered[0], len(spec["answers"]) - 1)]
                    answer_body = body_of(answer.get("body"))
                answered[0] += 1
                await asyncio.sleep(answer.get("delay", spec.get("delay", 0)))
                return await self._answer(answer, answer_body, request)

        return handle

    async def _answer(self, spec: dict[str, Any], body: Any, request: web.Request) -> web.StreamResponse:
        if "echo_json" in spec:
            if request.content_type != "application/json":
                return web.Response(status=415, text=f"expected application/json, got {request.content_type}")
            return web.json_response({"got": await request.json()}, status=spec["echo_json"].get("status", 200))
        if "echo_request" in spec:
            asked = spec["echo_request"]
            seen = {"headers": {h: request.headers.get(h) for h in asked.get("headers", [])},
                    "query": {q: request.query.get(q) for q in asked.get("query", [])}}
            return web.Response(text=json.dumps(seen), content_type="text/plain")
        if "stream" in spec:
            return await self._stream(request, body, spec["stream"].get("chunk", SERVER_CHUNK))
        if "stall" in spec:
            stall = spec["stall"]
            response = web.StreamResponse(headers={"Content-Type": spec.get("content_type", "application/json")})
            response.content_length = len(stall["head"]) + len(stall["tail"])
            await response.prepare(request)
            await response.write(stall["head"])
            await asyncio.sleep(stall["after"])
            await response.write(stall["tail"])
            return response
        if "drop" in spec:
            drop = spec["drop"]
            response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
            response.content_length = drop["length"]
            await response.prepare(request)
            await response.write(b"x" * drop["sent"])
            await asyncio.sleep(0.1)
            if request.transport is not None:
                request.transport.close()
            return response
        if spec.get("disconnect"):
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)  # never sent: the connection is closed
        status = spec.get("status", 200)
        if "json" in spec:
            return web.json_response(spec["json"], status=status)
        if "text" in spec:
            return web.Response(status=status, text=spec["text"], content_type=spec.get("content_type", "text/plain"))
        return web.Response(status=status, body=body, content_type=spec.get("content_type"))

    @staticmethod
    async def _stream(request: web.Request, body: bytes, chunk: int) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = len(body)
        await response.prepare(request)
        view = memoryview(body)
        for start in range(0, len(body), chunk):
            await response.write(view[start:start + chunk])
        await response.write_eof()
        return response


@functools.cache
def failure_names() -> dict[str, str]:
    """Judge side: the class names of what aiohttp raises for a refused connection (``refused``) and for a
    request past the session's ``ClientTimeout(total=...)`` (``timeout``), found by making both here.
    """
    import looptime

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(60)
        return web.Response()

    async def find() -> dict[str, str]:
        app = web.Application()
        app.router.add_get("/", slow)
        names = {}
        async with serve(app) as base, aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session:
            for name, url in (("timeout", f"{base}/"), ("refused", f"http://127.0.0.1:{closed_port()}/")):
                try:
                    async with session.get(url) as response:
                        await response.read()
                except Exception as exc:  # noqa: BLE001 - its class is what we look for
                    names[name] = type(exc).__name__
        return names

    loop = looptime.new_event_loop(start=0.0)
    try:
        return loop.run_until_complete(find())
    finally:
        loop.close()


@dataclass
class Judged:
    """A run against the judge's server: the scenario's observation, the server, its URL and a refused one."""

    observation: Any
    backend: Backend
    base: str
    refused: str
    judge_end: float = 0.0
    marks: dict[str, str] = field(default_factory=dict)

    def value(self, what: str) -> Any:
        """The scenario's report (a failure naming ``what`` if the scenario itself failed)."""
        return self.observation.value(what)

    def url(self, template: str) -> str:
        """``template`` with ``{base}`` and ``{refused}`` filled in."""
        return placed(template, self.marks)


def against_judge(student: Any, *, routes: list[dict[str, Any]], calls: list[dict[str, Any]],
                  session: dict[str, Any] | None = None, mocks: list[dict[str, Any]] | None = None) -> Judged:
    """Judge side: serve ``routes`` (a :class:`Backend`) and run the calls on the judge's clock.

    ``{base}`` and ``{refused}`` in ``calls``, ``session`` and ``mocks`` are
    filled in here; with ``mocks`` the calls run with those URLs mocked in
    the student process (:func:`mocked_calls`; loopback URLs still reach the
    judge's server), else with none (:func:`served_calls`). ``judge_end`` is
    the shared clock's time when the scenario had ended, as the judge reads it.
    """
    backend = Backend(routes)
    with JudgeSide() as judge:
        base = judge.serve(backend.app())
        marks = {"{base}": base, "{refused}": judge.refusing()}
        params = {"calls": placed(calls, marks), "session": placed(session, marks)}
        if mocks is None:
            observation = student.run(served_calls, clock=judge.clock, **params)
        else:
            observation = student.run(mocked_calls, clock=judge.clock, routes=placed(mocks, marks), **params)
        judge_end = judge.now()
    return Judged(observation, backend, base, marks["{refused}"], judge_end, marks)


# --- running the calls -------------------------------------------------------------------------


class _Spy:
    """Every ``aiohttp.ClientSession`` created while installed (the student's and the scenario's)."""

    def __init__(self) -> None:
        self.sessions: list[aiohttp.ClientSession] = []

    @contextlib.contextmanager
    def installed(self) -> Any:
        original_init = aiohttp.ClientSession.__init__
        spy = self

        def recording_init(session: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
            original_init(session, *args, **kwargs)
            spy.sessions.append(session)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(aiohttp.ClientSession, "__init__", recording_init)
            yield self

    async def close_leftovers(self) -> None:
        for session in self.sessions:
            if not session.closed:
                with contextlib.suppress(Exception):
                    await session.close()


class _Run:
    """The state one scenario's calls share: the session, the counters, the folder, the student's ApiError."""

    def __init__(self, probe: Probe, traffic: Traffic | None, spy: _Spy, folder: Path) -> None:
        self.probe = probe
        self.traffic = traffic  # the mocks' requests in flight and peak (None: only the judge's server counts)
        self.spy = spy
        self.folder = folder
        self.session: Any = None
        kind = getattr(probe.module, "ApiError", None)
        self.api_error = kind if isinstance(kind, type) and issubclass(kind, BaseException) else None

    async def open_session(self, spec: dict[str, Any] | None) -> dict[str, Any]:
        """Open the calls' session; what the student's ``make_session`` gave, if it made it."""
        if spec is None:
            return {}
        if "make_session" in spec:
            made = attempt(self.probe.function("make_session"), *spec["make_session"].get("args", []),
                           **spec["make_session"].get("kwargs", {}))
            if "value" not in made:
                return {"made": made}
            self.session = made["value"]
            return {"made": {"value": None}, "settings": _settings(self.session)}
        options: dict[str, Any] = {}
        if spec.get("base_url") is not None:
            options["base_url"] = spec["base_url"]
        if spec.get("total") is not None:
            options["timeout"] = aiohttp.ClientTimeout(total=spec["total"])
        if spec.get("limit") is not None:
            options["connector"] = aiohttp.TCPConnector(limit=spec["limit"])
        self.session = aiohttp.ClientSession(**options)
        return {}

    async def close_session(self) -> bool | None:
        if self.session is None:
            return None
        close = getattr(self.session, "close", None)
        if callable(close):
            closing = attempt(close)
            if "value" in closing:
                await within(closing["value"], 10)
        return _read(lambda: bool(self.session.closed))

    async def call(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Run one call; its outcome and what was seen around it."""
        seconds = spec.get("within", 30)
        report: dict[str, Any] = {"start": self.probe.now()}
        if self.traffic is not None:
            self.traffic.peak = self.traffic.in_flight
        created = len(self.spy.sessions)
        collecting = gc.isenabled()
        if spec.get("gc_off"):
            gc.disable()
        tracing = spec.get("trace_memory") and not tracemalloc.is_tracing()
        if spec.get("trace_memory"):
            if tracing:
                tracemalloc.start()
            else:
                tracemalloc.reset_peak()
        try:
            with warnings.catch_warnings(record=True) if spec.get("resource_warnings") else contextlib.nullcontext() as caught:
                if caught is not None:
                    warnings.simplefilter("always", ResourceWarning)
                if "get" in spec:
                    outcome = await within(self._plain_gets(spec["get"], spec.get("read", False)), seconds)
                else:
                    outcome = await self._student_call(spec, seconds, report)
                if spec.get("trace_memory"):
                    report["memory_peak"] = tracemalloc.get_traced_memory()[1]
                if spec.get("resource_warnings"):
                    gc.collect()
            if caught is not None:
                report["resource_warnings"] = [str(w.message)[:500] for w in caught
                                               if issubclass(w.category, ResourceWarning)]
        finally:
            if tracing:
                tracemalloc.stop()
            if collecting and not gc.isenabled():
                gc.enable()
        report["end"] = self.probe.now()
        report["outcome"] = outcome
        report["api_error"] = self._api_error_fields(outcome)
        if self.traffic is not None:
            report["peak"] = self.traffic.peak
        new = self.spy.sessions[created:]
        report["sessions_created"] = len(new)
        report["sessions_open"] = sum(1 for s in new if not s.closed)
        if "dest" in spec:
            report["files"] = _files(self.folder)
        return report

    async def _student_call(self, spec: dict[str, Any], seconds: float, report: dict[str, Any]) -> Outcome:
        args = list(spec.get("args", []))
        if "generator_arg" in spec:
            items = args[spec["generator_arg"]]
            args[spec["generator_arg"]] = (item for item in items)
        if spec.get("with_session", True) and self.session is not None:
            args.insert(0, self.session)
        if "dest" in spec:
            dest = self.folder / spec["dest"]
            args.append(str(dest) if spec.get("dest_as") == "str" else dest)
        made = attempt(self.probe.function(spec["function"]), *args, **spec.get("kwargs", {}))
        if "cancel_after" not in spec or "raised" in made:
            return made if "raised" in made else await within(made["value"], seconds)
        if not inspect.isawaitable(made["value"]):
            return {"not_awaitable": made["value"]}
        task = asyncio.ensure_future(made["value"])
        await asyncio.sleep(spec["cancel_after"])
        report["done_before_cancel"] = task.done()
        if self.traffic is not None:
            report["in_flight_at_cancel"] = self.traffic.in_flight
        if task.done():
            if task.cancelled():
                return {"raised": asyncio.CancelledError()}
            return {"raised": task.exception()} if task.exception() is not None else {"value": task.result()}
        task.cancel()
        return await within(task, seconds)

    async def _plain_gets(self, urls: str | list[str], read: bool) -> int | list[int | str]:
        """``session.get`` of one URL (its status), or of a list of URLs all at once (each status or failure's class name)."""

        async def get(url: str) -> int:
            async with self.session.get(url) as response:
                if read:
                    await response.read()
                return response.status

        if type(urls) is str:
            return await get(urls)

        async def named(url: str) -> int | str:
            try:
                return await get(url)
            except Exception as exc:  # noqa: BLE001 - aiohttp's failure is reported by its class name
                return type(exc).__name__

        return list(await asyncio.gather(*(named(url) for url in urls)))

    def _api_error_fields(self, outcome: Outcome) -> Outcome | None:
        """For an ``ApiError`` of the student's module: its ``.status``, ``.url`` and ``.body``, read from it."""
        problem = outcome.get("raised")
        if problem is None or self.api_error is None or not isinstance(problem, self.api_error):
            return None
        return attempt(lambda: {"status": problem.status, "url": problem.url, "body": problem.body})


async def _run_calls(probe: Probe, traffic: Traffic | None, session: dict[str, Any] | None,
                     calls: list[dict[str, Any]]) -> dict[str, Any]:
    spy = _Spy()
    report: dict[str, Any] = {"calls": []}
    with spy.installed(), tempfile.TemporaryDirectory(prefix="course06-") as folder:
        run = _Run(probe, traffic, spy, Path(folder))
        try:
            report |= await run.open_session(session)
            if "made" not in report or "value" in report["made"]:
                for spec in calls:
                    report["calls"].append(await run.call(spec))
        finally:
            report["closed"] = await run.close_session()
            report["sessions_left_open"] = sum(1 for s in spy.sessions if not s.closed)
            await spy.close_leftovers()
    return report


@scenario
async def mocked_calls(probe: Probe, *, routes: list[dict[str, Any]], calls: list[dict[str, Any]],
                       session: dict[str, Any] | None = None) -> dict[str, Any]:
    """The calls, one after the other, with HTTP mocked by aioresponses (a URL not in ``routes`` fails).

    Loopback URLs are not mocked: on the judge's clock (``clock``) they reach
    the judge's server. Reported: each call (``calls``, with the mocks' most
    requests in flight during it, ``peak``), every request the mocks saw
    (``requests``: method, url, JSON body sent, headers, loop time) and the
    most requests in flight at once (``peak``).
    """
    traffic = Traffic()
    with aioresponses(passthrough=list(LOOPBACK)) as mocked:
        for spec in routes:
            _mock(mocked, traffic, spec)
        report = await _run_calls(probe, traffic, session, calls)
    report["requests"] = [_request(r) for r in traffic.requests]
    report["peak"] = traffic.peak if not report["calls"] else max(c["peak"] for c in report["calls"])
    return report


@scenario
async def served_calls(probe: Probe, *, calls: list[dict[str, Any]], session: dict[str, Any] | None = None
                       ) -> dict[str, Any]:
    """The calls, one after the other, with real HTTP: the URLs they get are the judge's server's (:func:`against_judge`).

    Nothing is served or counted here: the judge's server sees the requests.
    Reported: each call (``calls``), ``make_session``'s outcome and settings
    if it made the session, whether the session was closed (``closed``) and
    the sessions left open (``sessions_left_open``).
    """
    return await _run_calls(probe, None, session, calls)


@scenario
def api_error_made(probe: Probe, *, status: int, url: str, body: str) -> dict[str, Any]:
    """``ApiError(status, url, body)``: whether it is an Exception, its attributes, and what ``except Exception`` caught of it."""
    kind = probe.function("ApiError")
    made = attempt(kind, status, url, body)
    if "value" not in made:
        return {"made": made}
    err = made["value"]
    report: dict[str, Any] = {
        "made": {"value": None},
        "type": type(err).__name__,
        "is_exception": isinstance(err, Exception),
        "fields": attempt(lambda: (err.status, err.url, err.body)),
    }
    try:
        raise err
    except CourseSignal:
        raise
    except Exception as caught:  # noqa: BLE001 - what `except Exception` catches is the observation
        report["caught"] = {
            "type": type(caught).__name__,
            "is_api_error": isinstance(kind, type) and isinstance(caught, kind),
            "fields": attempt(lambda: (caught.status, caught.url, caught.body)),
        }
    except BaseException as escaped:  # noqa: BLE001 - not an Exception: `except Exception` let it through
        report["caught"] = {"escaped": type(escaped).__name__}
    return report

