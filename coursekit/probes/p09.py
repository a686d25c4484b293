"""Scenarios of assignment 09 (the crawler): what only a probe beside the code can see.

A site is plain data from the test: a list of pages, each a dict with
``url`` (absolute) and optionally ``links`` (the hrefs of an HTML page, in
order), ``status``, ``delay`` (loop seconds before the answer),
``content_type``, ``body`` (str or bytes, instead of the HTML page of
``links``), ``headers`` and ``error`` (``[name, message]``: the request
raises that exception instead of answering). It is served with aioresponses
through a :class:`coursekit.http.Traffic` recorder, so a URL the site does not
list fails with ``ClientConnectionError`` and shows up among the requests.

The scenarios report what they saw as plain data: the crawl's outcome (its
``CrawlResult`` arrives as a record), the requests made (URL -> count), the
peak number in flight, the loop time taken, the tasks left running and the
sessions left open. Every expected value stays in the tests.
"""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import os
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aioresponses import aioresponses

from coursekit.http import LOOPBACK, SessionSpy, Traffic
from coursekit.probes import Probe, scenario
from coursekit.probes.kit import Outcome, attempt, exception_from, task_names, unfinished_tasks
from coursekit.probes.kit import within as bounded
from coursekit.site import html_page
from coursekit.testing import CourseSignal

PAGE_KEYS = frozenset({"url", "links", "status", "delay", "content_type", "body", "headers", "error"})
ROUTE_KEYS = frozenset({"path", "links", "status", "content_type", "body", "redirect"})
HTML = "text/html; charset=utf-8"


def _serve(mocked: aioresponses, traffic: Traffic, pages: list[dict[str, Any]]) -> None:
    """Register every page of the site with aioresponses."""
    for page in pages:
        unknown = set(page) - PAGE_KEYS
        if unknown:
            raise ValueError(f"unknown page keys: {sorted(unknown)}")
        body = page.get("body")
        reply = traffic.reply(
            status=page.get("status", 200),
            body=html_page(*page.get("links", ())) if body is None else body,
            content_type=page.get("content_type", HTML),
            delay=page.get("delay", 0),
            headers=page.get("headers"),
            error=exception_from(*(a for a in page["error"] if a)) if page.get("error") else None,
        )
        mocked.get(page["url"], callback=reply, repeat=True)


def _requested(mocked: aioresponses) -> dict[str, int]:
    """How many times each URL was requested, served or not."""
    counts: Counter[str] = Counter()
    for (_method, url), calls in mocked.requests.items():
        counts[str(url)] += len(calls)
    return dict(counts)


@contextlib.contextmanager
def _sessions_recorded() -> Iterator[SessionSpy]:
    """Every ``aiohttp.ClientSession`` created meanwhile, in ``spy.sessions`` (the ``session_spy`` fixture's work)."""
    spy = SessionSpy()
    original_init = aiohttp.ClientSession.__init__

    def recording_init(session: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        original_init(session, *args, **kwargs)
        spy.sessions.append(session)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aiohttp.ClientSession, "__init__", recording_init)
        yield spy


@contextlib.asynccontextmanager
async def _mocked_site(pages: list[dict[str, Any]]) -> AsyncIterator[tuple[aioresponses, Traffic, SessionSpy]]:
    """The site served by aioresponses (loopback stays real) with its traffic and the sessions created."""
    traffic = Traffic()
    with aioresponses(passthrough=list(LOOPBACK)) as mocked, _sessions_recorded() as spy:
        _serve(mocked, traffic, pages)
        try:
            yield mocked, traffic, spy
        finally:
            await _close_sessions(spy)


async def _stop(tasks: set[asyncio.Task[Any]]) -> None:
    """Cancel what a faulty crawl left running, several times over (a task may swallow one cancellation)."""
    for _ in range(50):
        left = [t for t in tasks if not t.done()]
        if not left:
            return
        for task in left:
            task.cancel()
        await asyncio.sleep(0)


async def _close_sessions(spy: SessionSpy) -> None:
    for session in spy.sessions:
        if not session.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(session.close(), 5)


def _open_count(spy: SessionSpy, *, besides: Any = None) -> int:
    return sum(1 for s in spy.sessions if s is not besides and not s.closed)


async def _crawl(probe: Probe, start: str, options: dict[str, Any], session: Any, seconds: float) -> Outcome:
    """``await crawl(start, **options)`` (with ``session`` when given) within ``seconds`` of loop time: its outcome."""
    kwargs = dict(options)
    if session is not None:
        kwargs["session"] = session
    made = attempt(probe.function("crawl"), start, **kwargs)
    return made if "raised" in made else await bounded(made["value"], seconds)


async def _left_since(before: set[asyncio.Task[Any]]) -> list[str]:
    """The names of the tasks started since ``before`` and still pending (then stopped)."""
    current = asyncio.current_task()
    left = {t for t in unfinished_tasks() - before if t is not current}
    names = task_names(left)
    await _stop(left)
    return names


@scenario
async def crawl_mocked_site(probe: Probe, *, pages: list[dict[str, Any]], start: str,
                            options: dict[str, Any] | None = None, given_session: bool = False,
                            within: float = 120) -> dict[str, Any]:
    """``crawl(start, **options)`` on a mocked site, with a session of the scenario's when ``given_session``.

    Reports the outcome, the requests (URL -> count), the requests served in
    order (``[url, loop time]``), the peak in flight, the loop time taken,
    the tasks left running, the sessions the crawl created and left open,
    and whether the given session was closed.
    """
    async with _mocked_site(pages) as (mocked, traffic, spy):
        given = aiohttp.ClientSession() if given_session else None
        started = probe.now()
        before = unfinished_tasks()
        try:
            outcome = await _crawl(probe, start, options or {}, given, within)
            took = probe.now() - started
            left = await _left_since(before)
            report = {
                "outcome": outcome,
                "took": took,
                "requested": _requested(mocked),
                "served": [[r.url, r.at - started] for r in traffic.requests],
                "peak": traffic.peak,
                "in_flight": traffic.in_flight,
                "left_running": left,
                "sessions_created": sum(1 for s in spy.sessions if s is not given),
                "sessions_open": _open_count(spy, besides=given),
                "given_closed": given.closed if given is not None else None,
            }
        finally:
            if given is not None:
                await given.close()
    return report


@scenario
async def crawl_cancelled(probe: Probe, *, pages: list[dict[str, Any]], start: str, options: dict[str, Any],
                          cancel_after: float, wait: float) -> dict[str, Any]:
    """Start ``crawl(start, **options)`` as a task on a mocked site and cancel it after ``cancel_after`` s.

    Reports whether it was already done (and its outcome then), the requests
    in flight when it was cancelled, whether it ended within ``wait`` s of
    the cancellation and how (``cancelled``, else its outcome), and then the
    tasks left running, the requests still in flight and the sessions left open.
    """
    async with _mocked_site(pages) as (_mocked, traffic, spy):
        before = unfinished_tasks()
        made = attempt(probe.function("crawl"), start, **options)
        if "raised" in made:
            return {"outcome": made}
        if not inspect.isawaitable(made["value"]):
            return {"outcome": {"not_awaitable": made["value"]}}
        task = asyncio.ensure_future(made["value"])
        await asyncio.sleep(cancel_after)
        report: dict[str, Any] = {"done_early": task.done(), "in_flight_at_cancel": traffic.in_flight}
        if task.done():
            report["outcome"] = _task_outcome(task)
            return report
        task.cancel()
        # asyncio.wait does not pass a cancellation of its own on to the crawl, unlike awaiting the task.
        done, _ = await asyncio.wait({task}, timeout=wait)
        report["finished"] = bool(done)
        report["cancelled"] = task.cancelled()
        if done and not task.cancelled():
            report["outcome"] = _task_outcome(task)
        current = asyncio.current_task()
        left = {t for t in unfinished_tasks() - before if t is not current}
        report["left_running"] = task_names(left - {task})
        report["in_flight"] = traffic.in_flight
        report["sessions_open"] = _open_count(spy)
        await _stop(left | {task})
    return report


def _task_outcome(task: asyncio.Future[Any]) -> Outcome:
    if task.cancelled():
        return {"raised": asyncio.CancelledError()}
    error = task.exception()
    if isinstance(error, CourseSignal):
        raise error
    return {"raised": error} if error is not None else {"value": task.result()}


def _route_handler(route: dict[str, Any]) -> Any:
    unknown = set(route) - ROUTE_KEYS
    if unknown:
        raise ValueError(f"unknown route keys: {sorted(unknown)}")

    async def handler(request: web.Request) -> web.StreamResponse:
        port = str(request.url.port)
        status = route.get("status", 302 if "redirect" in route else 200)
        if "redirect" in route:
            return web.Response(status=status, headers={"Location": route["redirect"].replace("{port}", port)})
        body = route.get("body")
        if body is None:
            body = html_page(*(link.replace("{port}", port) for link in route.get("links", ())))
        content_type = route.get("content_type", "text/html")
        if isinstance(body, bytes):
            return web.Response(body=body, content_type=content_type, status=status)
        return web.Response(text=body, content_type=content_type, status=status)

    return handler


@scenario
async def crawl_served_site(probe: Probe, *, routes: list[dict[str, Any]], start_path: str,
                            options: dict[str, Any] | None = None, answer_after: float = 0.05,
                            within: float = 120) -> dict[str, Any]:
    """``crawl(base + start_path, **options)`` against a real aiohttp server on 127.0.0.1.

    ``routes``: ``{"path", "links", "status", "content_type", "body",
    "redirect"}`` each (``{port}`` in a link or a redirect becomes the
    server's port); every request waits ``answer_after`` loop seconds.
    Reports the outcome, the base URL, the requests the server saw
    (path and query -> count), the peak it saw in flight, the tasks left
    running and the sessions left open.
    """
    hits: Counter[str] = Counter()
    load = {"in_flight": 0, "peak": 0}

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        hits[request.path_qs] += 1
        load["in_flight"] += 1
        load["peak"] = max(load["peak"], load["in_flight"])
        try:
            await asyncio.sleep(answer_after)
            return await handler(request)
        finally:
            load["in_flight"] -= 1

    app = web.Application(middlewares=[record])
    for route in routes:
        app.router.add_get(route["path"], _route_handler(route))
    before = unfinished_tasks()
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        with _sessions_recorded() as spy:
            try:
                outcome = await _crawl(probe, base + start_path, options or {}, None, within)
                open_sessions = _open_count(spy)
            finally:
                await _close_sessions(spy)
    finally:
        await server.close()
    left = await _left_since(before)  # the server's own tasks end with it
    return {"outcome": outcome, "base": base, "hits": dict(hits), "peak": load["peak"], "left_running": left,
            "sessions_open": open_sessions}


@scenario
def call_each(probe: Probe, *, function: str, calls: list[list[Any]]) -> dict[str, Any]:
    """The student's synchronous ``function`` called once per ``args`` in ``calls``: the outcomes, in order."""
    target = probe.function(function)
    return {"outcomes": [attempt(target, *args) for args in calls]}


@scenario
def sitemap_of(probe: Probe, *, pages: dict[str, int], errors: dict[str, str],
               links: dict[str, list[str]]) -> dict[str, Any]:
    """``to_sitemap(CrawlResult(pages=pages, errors=errors, links=links))``, the result built with the student's class."""
    built = attempt(probe.function("CrawlResult"), pages=pages, errors=errors, links=links)
    if "raised" in built:
        return {"built": built}
    return {"built": {"value": True}, "outcome": attempt(probe.function("to_sitemap"), built["value"])}


def _files(folder: str) -> dict[str, str]:
    """The files under ``folder``: relative path -> text (clipped)."""
    found = {}
    for root, _dirs, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, encoding="utf-8", errors="replace") as handle:
                found[os.path.relpath(path, folder)] = handle.read(200_000)
    return found


@scenario
def main_runs(probe: Probe, *, pages: list[dict[str, Any]], runs: list[list[str]],
              crawl: str | None = None, crawl_bound: float = 1.0) -> dict[str, Any]:
    """``main(argv)`` for each ``argv`` of ``runs``, in a fresh temporary folder (the working directory meanwhile).

    ``{tmp}`` in an argument becomes that folder. The site of ``pages`` is
    mocked on real time (main runs its own loop). ``crawl="record"`` puts a
    stand-in for the module's ``crawl`` that records the arguments it was
    given (defaults applied; ``session`` left out) and returns an empty
    ``CrawlResult``; ``crawl="bounded"`` runs the real crawl under
    ``asyncio.timeout(crawl_bound)`` (real seconds). For each run: the outcome
    (a ``SystemExit`` is a ``raised``), stdout, stderr, the files in the
    folder afterwards, the requests made (URL -> count), the peak in flight,
    the sessions left open and the recorded crawl calls.
    """
    module = probe.module
    calls: list[dict[str, Any]] = []
    traffic = Traffic()
    reports = []
    with contextlib.ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="crawler-main-"))
        mocked = stack.enter_context(aioresponses(passthrough=list(LOOPBACK)))
        spy = stack.enter_context(_sessions_recorded())
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        _serve(mocked, traffic, pages)
        real_crawl = module.crawl
        if crawl == "record":
            signature = inspect.signature(real_crawl)

            async def recording_crawl(*args: Any, **kwargs: Any) -> Any:
                bound = signature.bind(*args, **kwargs)
                bound.apply_defaults()
                calls.append({name: value for name, value in bound.arguments.items() if name != "session"})
                return module.CrawlResult()

            patch.setattr(module, "crawl", recording_crawl)
        elif crawl == "bounded":
            async def bounded_crawl(*args: Any, **kwargs: Any) -> Any:
                async with asyncio.timeout(crawl_bound):
                    return await real_crawl(*args, **kwargs)

            patch.setattr(module, "crawl", bounded_crawl)
        elif crawl is not None:
            raise ValueError(f"crawl must be None, 'record' or 'bounded', not {crawl!r}")
        for argv in runs:
            argv = [arg.replace("{tmp}", folder) for arg in argv]
            before = _requested(mocked)
            traffic.peak = traffic.in_flight
            del calls[:]
            out, err = io.StringIO(), io.StringIO()
            with contextlib.chdir(folder), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                outcome = attempt(module.main, argv)
            after = _requested(mocked)
            reports.append({
                "outcome": outcome,
                "stdout": out.getvalue(),
                "stderr": err.getvalue(),
                "files": _files(folder),
                "requested": {url: n - before.get(url, 0) for url, n in after.items() if n > before.get(url, 0)},
                "peak": traffic.peak,
                "sessions_open": _open_count(spy),
                "crawl_calls": list(calls),
            })
        for session in spy.sessions:  # main's loop is gone: close what it left open without one
            if not session.closed and session.connector is not None:
                session.connector._close()
                session._connector = None
    return {"runs": reports, "folder": folder}


def page(url: str, *links: str, **answer: Any) -> dict[str, Any]:
    """(Judge side.) One page of a mocked site: an HTML page linking to ``links`` at ``url`` (or another answer)."""
    return {"url": url, "links": list(links), **answer}
