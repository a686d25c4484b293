"""Scenarios of assignment 08 (an aiohttp web service): the student's app runs in the student process, the judge
drives it from outside.

The judge (the test) serves what the app talks to and is the app's only
client, on its own loop (:class:`coursekit.served.JudgeSide`) and on the
clock it shares with the student's loop:

- a *control* app: the scenario tells it "serving, on these ports" and waits
  for its answer, which the judge holds until its client is done;
- the *weather API* the app calls (:func:`weather_api`), which counts every
  request (path, query, ``Host``, arrival and leave times, requests in flight,
  and whether the app gave up on it) and answers as the test scripted:
  statuses, JSON or other bodies, delays, a dropped or reset connection, a
  truncated body; or a port that refuses connections;
- the client (:class:`_Client`) that sends the test's requests (one by one or
  several at once) and records each answer's status, headers and body, and the
  loop times of sending it and reading it.

:func:`serve_app` (the scenario, in the student process) calls the student's
``create_app``, adds the test-only routes the test described (a handler that
raises, one that redirects), serves each app on a loopback port of its own
with aiohttp's ``AppRunner``/``TCPSite`` (so its start-up and clean-up code
run), tells the judge, waits, then cleans the apps up. It reports only what
the student process alone can see: whether ``create_app``, start-up and
clean-up worked, the app's ``ClientSession`` objects (open right after
start-up, how many, closed at clean-up) and the tasks left running. It never
learns the requests the judge will send. :func:`serve_app_real_time` does the
same on a real clock (``JudgeSide(real_time=True)``).

The second half of this module is the judge's side, which never touches an
object of the student process: :func:`request` and :func:`together` write
the script, :func:`serve` runs it, and :class:`Exchange` reads what the
judge saw, and the scenario's plain data, with the failure messages of
``coursekit.web.running``.
"""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
import warnings
from urllib.parse import urlencode
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

import coursekit
from coursekit import hints
from coursekit.http import SessionSpy
from coursekit.judge import unwrap
from coursekit.probes import Probe, scenario, task_name
from coursekit.probes.kit import attempt, exception_from, within
from coursekit.served import Counter, JudgeSide, Seen, counted, drop
from coursekit.web import Reply

# The kit's frames stay out of the failure a student reads (coursekit.hidden_in_judged_failures).
__tracebackhide__ = coursekit.hidden_in_judged_failures

# Loop seconds allowed for an app's start-up, for each exchange and for its clean-up (as coursekit.web.running).
STEP_LIMIT = 10

# Characters of a reply's body kept (far above any correct answer).
_MAX_TEXT = 65536

STARTING = "starting the app (its start-up / cleanup_ctx code)"
STOPPING = "shutting the app down (its clean-up code)"

# The control app's route: the scenario asks ``GET {control}/serving?stage=K&ports=P1,P2``.
SERVING = "/serving"


# --- the student process's side ----------------------------------------------------------------------------------


def _route_handler(spec: dict[str, Any]) -> Callable[[web.Request], Any]:
    """A test-only handler: after ``after`` loop seconds (none: at once) it raises ``raises`` or redirects."""

    async def handler(request: web.Request) -> web.Response:
        if spec.get("after"):
            await asyncio.sleep(float(spec["after"]))
        if spec.get("redirect") is not None:
            raise web.HTTPFound(spec["redirect"])
        raise exception_from(*spec["raises"])

    return handler


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


class _Served:
    """One app of the scenario on its loopback port."""

    def __init__(self, index: int, app: web.Application) -> None:
        self.index = index
        # As aiohttp's TestServer: a client that gives up cancels the handler.
        self.runner = web.AppRunner(app, handler_cancellation=True)
        self.port = 0

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self.runner.addresses[0][1])


@contextlib.contextmanager
def _sessions_recorded(spy: SessionSpy) -> Iterator[None]:
    """Every ``aiohttp.ClientSession`` made inside the block, in this thread, lands in ``spy.sessions``.

    In this thread only: locally the judge's loop runs in another thread of the
    same process, and its own client's sessions are not the app's.
    """
    original_init = aiohttp.ClientSession.__init__
    here = threading.get_ident()

    def recording_init(session: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        original_init(session, *args, **kwargs)
        if threading.get_ident() == here:
            spy.sessions.append(session)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aiohttp.ClientSession, "__init__", recording_init)
        yield


async def _serve_app(probe: Probe, *, control: str, stages: list[list[int]], weather_url: str | None = None,
                     extra_routes: list[dict[str, Any]] = ()) -> dict[str, Any]:
    report: dict[str, Any] = {"apps": [], "stages": [],
                              "sessions": {"at_start": None, "before_shutdown": None, "open_after_shutdown": None},
                              "left_running": None}
    before = {t for t in asyncio.all_tasks() if not t.done()}
    kwargs = {} if weather_url is None else {"weather_url": weather_url}
    spy = SessionSpy()
    # The scenario's own line to the judge, made before the spy: every session the spy records is the app's.
    to_judge = aiohttp.ClientSession()

    async def start(index: int) -> _Served | None:
        entry: dict[str, Any] = {"created": None, "started": None, "stopped": None}
        report["apps"].append(entry)
        made = attempt(_create, probe, kwargs, list(extra_routes))
        if "raised" in made:
            entry["created"] = made
            return None
        app, kind = made["value"]
        entry["created"] = {"value": {"application": app is not None, "type": kind}}
        if app is None:
            return None
        served = _Served(index, app)
        entry["started"] = await within(served.start(), STEP_LIMIT)
        if "value" not in entry["started"]:
            with contextlib.suppress(BaseException):
                await within(served.runner.cleanup(), STEP_LIMIT)
            return None
        entry["started"] = {"value": None}
        return served

    async def stop(served: _Served) -> None:
        stopped = await within(served.runner.cleanup(), STEP_LIMIT)
        report["apps"][served.index]["stopped"] = {"value": None} if "value" in stopped else stopped

    async def tell_judge(stage: int, ports: list[int]) -> dict[str, Any]:
        """Serving: the judge's answer comes once its client is done with these apps."""
        query = {"stage": str(stage), "ports": ",".join(map(str, ports))}
        async with to_judge.get(control + SERVING, params=query) as answer:
            return {"status": answer.status}

    try:
        with warnings.catch_warnings(), _sessions_recorded(spy):
            # aiohttp's own deprecation notices (returning, not raising, a web.HTTPException) are not graded here.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="aiohttp")
            for number, stage in enumerate(stages):
                running: list[_Served] = []
                try:
                    for index in stage:
                        served = await start(index)
                        if served is None:
                            break
                        running.append(served)
                    else:
                        if report["sessions"]["at_start"] is None:
                            report["sessions"]["at_start"] = [bool(s.closed) for s in spy.sessions]
                        report["stages"].append(await tell_judge(number, [served.port for served in running]))
                        report["sessions"]["before_shutdown"] = len(spy.sessions)
                finally:
                    for served in reversed(running):
                        await stop(served)
                if len(running) < len(stage):
                    break
            report["sessions"]["open_after_shutdown"] = sum(not s.closed for s in spy.sessions)
            current = asyncio.current_task()
            report["left_running"] = [task_name(t) for t in asyncio.all_tasks()
                                      if not t.done() and t not in before and t is not current]
    finally:
        await to_judge.close()
        spy.close_leftovers()
    return report


@scenario
async def serve_app(probe: Probe, **params: Any) -> dict[str, Any]:
    """Serve the student's app(s) on loopback ports while the judge's client talks to them, on the shared clock.

    Parameters (plain data): ``control`` (the judge's control app, a base
    URL); ``stages`` (lists of app indexes: each stage's apps are created,
    started side by side, announced with ``GET {control}/serving?stage=K&
    ports=P1,...`` and shut down once the judge answers, before the next stage
    starts); ``weather_url`` (passed to ``create_app``; none: its default);
    ``extra_routes`` (test-only GET routes: ``{"path", "after"?, "raises":
    [name, *args]}`` or ``{"path", "redirect": location}``).

    Returns ``apps`` (per app the outcomes ``created``: ``{"application",
    "type"}``, ``started``, ``stopped``), ``stages`` (the judge's answer to
    each announcement: ``{"status"}``), ``sessions`` (``at_start``: the
    closed flag of each ClientSession the app made, right after start-up;
    ``before_shutdown``: how many it made; ``open_after_shutdown``) and
    ``left_running`` (tasks pending once the apps shut down).
    """
    return await _serve_app(probe, **params)


@scenario
def serve_app_real_time(probe: Probe, **params: Any) -> dict[str, Any]:
    """:func:`serve_app` on a real clock (an event loop of its own, no virtual time)."""
    return asyncio.run(_serve_app(probe, **params))


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


def _waves(requests: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The script as waves: a request alone, or the requests of a ``together`` group sent at once."""
    return [list(step["together"]) if "together" in step else [step] for step in requests]


def described(seen: Seen) -> str:
    """A request a judge's server saw, as ``path?query``."""
    return seen.path + ("?" + urlencode(seen.query) if seen.query else "")


@dataclass
class WeatherApi:
    """The weather API the judge serves, as the test scripted it; what it saw."""

    replies: list[dict[str, Any]]
    repeat: bool = False
    path: str = "/api"
    counter: Counter = field(default_factory=Counter)
    answered: int = 0

    def app(self) -> web.Application:
        """The judge-side app: the i-th request gets ``replies[i]`` (the last again if ``repeat``; none: dropped)."""

        async def answer(request: web.Request) -> web.StreamResponse:
            index, self.answered = self.answered, self.answered + 1
            if index >= len(self.replies) and not self.repeat:
                return await _fault(request, "disconnect")
            reply = self.replies[min(index, len(self.replies) - 1)]
            if reply.get("delay"):
                await asyncio.sleep(float(reply["delay"]))
            if reply.get("fault") is not None:
                return await _fault(request, reply["fault"])
            status = int(reply.get("status", 200))
            if "payload" in reply:
                return web.json_response(reply["payload"], status=status)
            return web.Response(status=status, text=reply.get("body", ""),
                                content_type=reply.get("content_type") or "text/plain")

        async def elsewhere(request: web.Request) -> web.StreamResponse:
            return web.json_response({"error": f"no weather API at {request.path}"}, status=404)

        app = web.Application()
        app.router.add_get(self.path, counted(self.counter, answer))
        # Requests to another path are counted too (and answered 404): the test shows where they went.
        app.router.add_route("*", "/{anywhere:.*}", counted(self.counter, elsewhere))
        return app


async def _fault(request: web.Request, kind: str) -> web.StreamResponse:
    """A broken answer: ``disconnect`` (closed, no answer), ``reset`` (a TCP reset) or ``truncated`` (half a body)."""
    transport = request.transport
    assert transport is not None
    if kind == "truncated":
        response = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "4096"})
        await response.prepare(request)
        await response.write(b'{"temperature": ')
        transport.close()
        return response
    if kind not in ("reset", "disconnect"):
        raise ValueError(f"unknown fault {kind!r}")
    return await drop(request, "reset" if kind == "reset" else "close")


def weather_api(*replies: dict[str, Any], repeat: bool = False, path: str = "/api") -> dict[str, Any]:
    """The weather API the judge serves: each reply ``{"status"?, "payload"? (JSON), "body"?, "content_type"?,
    "delay"? (loop seconds before answering), "fault"?: "disconnect" | "reset" | "truncated"}``."""
    return {"kind": "served", "replies": list(replies), "repeat": repeat, "path": path}


def refusing(path: str = "/api") -> dict[str, Any]:
    """A weather_url whose port refuses every connection."""
    return {"kind": "refusing", "path": path}


class _Control:
    """The judge's control app: where the scenario says it is serving, and waits until the judge's client is done."""

    def __init__(self, stages: list[list[int]], forbidden: Callable[[], frozenset[int]]) -> None:
        self.stages = stages
        self.forbidden = forbidden
        self.ready = [asyncio.Event() for _ in stages]
        self.done = [asyncio.Event() for _ in stages]
        self.ports: list[dict[int, int] | None] = [None] * len(stages)
        self.malformed: str | None = None

    def _ports(self, stage: int, text: str) -> dict[int, int] | None:
        parts = text.split(",")
        if len(parts) != len(self.stages[stage]) or not all(p.isascii() and p.isdigit() and len(p) <= 5 for p in parts):
            return None
        ports = [int(p) for p in parts]
        if not all(0 < p < 65536 for p in ports) or set(ports) & self.forbidden() or len(set(ports)) != len(ports):
            return None
        return dict(zip(self.stages[stage], ports))

    def app(self) -> web.Application:
        async def serving(request: web.Request) -> web.Response:
            raw = request.query.get("stage", "")
            stage = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 4 else -1
            if not 0 <= stage < len(self.stages) or self.ready[stage].is_set():
                self.malformed = "an announcement of a stage out of turn"
                return web.Response(status=409)
            if any(not self.done[earlier].is_set() for earlier in range(stage)):
                self.malformed = "an announcement of a stage out of turn"
                return web.Response(status=409)
            ports = self._ports(stage, request.query.get("ports", ""))
            if ports is None:
                self.malformed = "the ports it serves on"
                self.ready[stage].set()
                self.done[stage].set()
                return web.Response(status=400)
            self.ports[stage] = ports
            self.ready[stage].set()
            await self.done[stage].wait()
            return web.Response(status=204)

        app = web.Application()
        app.router.add_get(SERVING, serving)
        return app


@dataclass
class Answer:
    """One exchange as the judge's client saw it (``failure``: why there is no answer)."""

    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""
    sent_at: float = 0.0
    answered_at: float = 0.0
    took_ms: float = 0.0
    failure: str | None = None


class _Client:
    """The judge's client: sends the script to the apps the control app announced, stage by stage."""

    def __init__(self, requests: list[dict[str, Any]], control: _Control, linger: float = 0.0) -> None:
        self.control = control
        self.linger = linger
        self.steps: list[dict[str, Any]] = []
        self.waves: list[list[int]] = []
        for wave in _waves(requests):
            self.waves.append(list(range(len(self.steps), len(self.steps) + len(wave))))
            self.steps.extend(wave)
        self.answers: list[Answer | None] = [None] * len(self.steps)
        self.future: Any = None
        self.stage_of_wave = []
        for wave in self.waves:
            apps = {int(self.steps[i].get("app", 0)) for i in wave}
            stage = next((k for k, members in enumerate(control.stages) if apps <= set(members)), None)
            if stage is None:
                raise ValueError(f"requests to apps {sorted(apps)} at once, but they never run together")
            self.stage_of_wave.append(stage)

    async def run(self) -> None:
        for stage in range(len(self.control.stages)):
            await self.control.ready[stage].wait()
            try:
                ports = self.control.ports[stage]
                if ports is None:
                    return
                async with aiohttp.ClientSession() as http:
                    for wave, at in zip(self.waves, self.stage_of_wave):
                        if at == stage:
                            await asyncio.gather(*(self._exchange(http, ports, i) for i in wave))
                if self.linger:
                    await asyncio.sleep(self.linger)  # what the apps still do, unasked, the judge's servers see
            finally:
                self.control.done[stage].set()

    async def _exchange(self, http: aiohttp.ClientSession, ports: dict[int, int], index: int) -> None:
        step = self.steps[index]
        options = {name: step[name] for name in ("json", "data", "headers", "allow_redirects") if name in step}
        url = f"http://127.0.0.1:{ports[int(step.get('app', 0))]}{step['path']}"
        loop = asyncio.get_running_loop()
        answer = Answer(sent_at=loop.time())
        self.answers[index] = answer
        clock = time.perf_counter()
        try:
            async with asyncio.timeout(STEP_LIMIT):
                async with http.request(step["method"], url, **options) as reply:
                    answer.text = (await reply.text(errors="replace"))[:_MAX_TEXT]
                    answer.status = reply.status
                    answer.headers = list(reply.headers.items())
        except TimeoutError:
            answer.failure = f"did not finish within {STEP_LIMIT:g} s of loop time. {hints.HANGS}"
        except (aiohttp.ClientError, OSError) as exc:
            answer.failure = f"failed: the connection broke ({type(exc).__name__}: {exc})"
        answer.answered_at = loop.time()
        answer.took_ms = (time.perf_counter() - clock) * 1000


def serve(student: Any, requests: list[dict[str, Any]], *, real_time: bool = False, apps: int = 1,
          one_after_another: bool = False, weather_url: str | None = None, upstream: dict[str, Any] | None = None,
          extra_routes: list[dict[str, Any]] = (), linger: float = 0.0) -> Exchange:
    """Serve the student's app(s) in the student process and send them ``requests`` from the judge's side.

    ``apps``: how many apps to create, started side by side, or
    ``one_after_another`` (each started, sent its requests and shut down before
    the next is created). ``upstream``: :func:`weather_api` (served by the
    judge; ``create_app`` gets its URL as ``weather_url``) or
    :func:`refusing`; none: ``weather_url`` as given (none: create_app's
    default). ``linger``: loop seconds the judge waits after its last answer
    of each stage before it lets the scenario shut the apps down.
    """
    stages = [[index] for index in range(apps)] if one_after_another else [list(range(apps))]
    api: WeatherApi | None = None
    with contextlib.ExitStack() as stack:
        judge = stack.enter_context(JudgeSide(real_time=real_time))
        control = _Control(stages, lambda: judge.ports)
        control_url = judge.serve(control.app())
        if upstream is not None and upstream["kind"] == "served":
            api = WeatherApi(list(upstream["replies"]), bool(upstream.get("repeat")), upstream.get("path", "/api"))
            weather_url = judge.serve(api.app()) + api.path
        elif upstream is not None and upstream["kind"] == "refusing":
            weather_url = judge.refusing() + upstream.get("path", "/api")
        elif upstream is not None:
            raise ValueError(f"unknown upstream kind {upstream['kind']!r}")
        client = _Client(requests, control, linger)
        client.future = judge.start(client.run())
        params: dict[str, Any] = {"control": control_url, "stages": stages, "weather_url": weather_url,
                                  "extra_routes": list(extra_routes)}
        if real_time:
            observation = student.run(serve_app_real_time, **params)
        else:
            observation = student.run(serve_app, clock=judge.clock, **params)
    # Read after the judge's loop has stopped: nothing moves any more.
    return Exchange(observation.value("running your app on a loopback server"), client, control, api, apps=apps)


def _malformed(what: str) -> AssertionError:
    return AssertionError(f"the process running your code sent a malformed report ({what})")


class Exchange:
    """What one :func:`serve` run observed: the judge's own records, and the scenario's plain data."""

    def __init__(self, data: Any, client: _Client, control: _Control, api: WeatherApi | None, *, apps: int) -> None:
        if type(data) is not dict or not {"apps", "stages", "sessions", "left_running"} <= set(data):
            raise _malformed("not a report")
        if type(data["apps"]) is not list or not all(type(a) is dict for a in data["apps"]):
            raise _malformed("apps")
        self.data = data
        self.client = client
        self.control = control
        self.api = api
        self.steps = client.steps
        self.expected_apps = apps

    # -- the apps' lives (the student process's report)
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

    # -- the replies (the judge's client)
    def _answer(self, index: int) -> Answer:
        step = self.steps[index]
        self.started(int(step.get("app", 0)))
        if self.control.malformed is not None:
            raise _malformed(self.control.malformed)
        future = self.client.future
        if future is not None and future.done() and not future.cancelled() and future.exception() is not None:
            raise future.exception()  # the judge's own client failed: a bug of the course, shown as it is
        answer = self.client.answers[index]
        if answer is None:
            raise AssertionError(f"the app never let the judge send {step['method']} {step['path']}: it announced "
                                 "that it was serving, then stopped before the judge's requests")
        if answer.failure is not None:
            raise AssertionError(f"the service answering {step['method']} {step['path']} {answer.failure}")
        return answer

    def reply(self, index: int) -> Reply:
        """The answer to the ``index``-th scripted request (``together`` groups counted request by request)."""
        step, answer = self.steps[index], self._answer(index)
        return Reply(step["method"], step["path"], answer.status, CIMultiDictProxy(CIMultiDict(answer.headers)),
                     answer.text)

    def replies(self, indexes: range | list[int] | None = None) -> list[Reply]:
        """The answers to these scripted requests (all by default), in order."""
        return [self.reply(i) for i in (range(len(self.steps)) if indexes is None else indexes)]

    def elapsed(self, index: int) -> float:
        """Loop seconds between sending the ``index``-th request and reading its whole answer."""
        answer = self._answer(index)
        return answer.answered_at - answer.sent_at

    def took_ms(self, index: int) -> float:
        """Real milliseconds the ``index``-th exchange took, measured by the judge's client."""
        return self._answer(index).took_ms

    # -- what only the student process sees
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

    # -- the weather API (the judge's server)
    @property
    def upstream_requests(self) -> list[Seen]:
        """The requests the judge's weather API saw, in the order they arrived."""
        self.started()
        return [] if self.api is None else list(self.api.counter.requests)

    @property
    def upstream_peak(self) -> int:
        """The most requests in flight at once at the judge's weather API."""
        self.started()
        return 0 if self.api is None else self.api.counter.peak
