"""Scenarios of assignment 09 (the crawler), and the site the judge serves for them.

``crawl`` meets a site the judge serves (:class:`ServedSite`, judge side): a
real aiohttp server on a loopback port of the judge's loop, on the clock the
judge shares with the student's loop (``coursekit.clock``). A site is plain
data from the test: a list of pages, each a dict with ``url`` (absolute, on
``http://127.0.0.1:PORT`` or ``http://localhost:PORT``: one server, two hosts
for the crawler, told apart by the Host header) and optionally ``links`` (the
hrefs of an HTML page, in order), ``status``, ``delay`` (loop seconds before
the answer), ``content_type``, ``body`` (str or bytes, instead of the HTML
page of ``links``), ``headers`` and ``drop`` (``"close"``: the server closes
the connection without an answer; ``"reset"``: it resets it). A URL the site
does not list is dropped (closed) too. The judge's server counts every request
(URL, method, headers, arrival and leaving time, how many in flight); the
student's code can only produce those counts by making the requests.

The crawl scenarios run in the student process and report only what cannot
be seen from outside: the crawl's outcome (its ``CrawlResult`` arrives as a
record), the loop time it took, the tasks left running, the sessions it
created and left open, and whether a session given to it was closed. Failures
no real server produces on demand (a ``TimeoutError`` at once) are mocked
there with aioresponses (``failing``); every other URL goes to the network.

``main(argv)`` runs its own event loop on real time, so its scenario
(:func:`main_runs`) still mocks the site with aioresponses inside the student
process and counts the requests there. Every expected value stays in the
tests.
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
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aioresponses import aioresponses

import coursekit
from coursekit import served
from coursekit.http import LOOPBACK, SessionSpy, Traffic
from coursekit.probes import Probe, scenario
from coursekit.probes.kit import Outcome, attempt, exception_from, task_names, unfinished_tasks
from coursekit.probes.kit import within as bounded
from coursekit.site import html_page
from coursekit.testing import CourseSignal

# The kit's frames stay out of the failure a student reads (coursekit.hidden_in_judged_failures).
__tracebackhide__ = coursekit.hidden_in_judged_failures

PAGE_KEYS = frozenset({"url", "links", "status", "delay", "content_type", "body", "headers", "error"})
SERVED_KEYS = frozenset({"url", "links", "status", "delay", "content_type", "body", "headers", "drop"})
DROPS = ("close", "reset")
HTML = "text/html; charset=utf-8"


# --- The student process's side: what only a probe beside the code can see. ---

def _serve(mocked: aioresponses, traffic: Traffic, pages: list[dict[str, Any]]) -> None:
    """Register every page of a mocked site (``main``'s) with aioresponses."""
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


@contextlib.contextmanager
def _failing(failing: dict[str, list[str]]) -> Iterator[None]:
    """Mock the URLs of ``failing`` (URL -> ``[exception name, message]``) to raise; every other URL stays real."""
    if not failing:
        yield
        return
    with aioresponses(passthrough_unmatched=True) as mocked:
        for url, error in failing.items():
            mocked.get(url, exception=exception_from(*(a for a in error if a)), repeat=True)
        yield


@contextlib.asynccontextmanager
async def _watched(failing: dict[str, list[str]]) -> AsyncIterator[SessionSpy]:
    """The sessions created meanwhile (all closed at the end), with the URLs of ``failing`` mocked to raise."""
    with _failing(failing), _sessions_recorded() as spy:
        try:
            yield spy
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
async def crawl_site(probe: Probe, *, start: str, options: dict[str, Any] | None = None,
                     given_session: dict[str, str] | None = None, failing: dict[str, list[str]] | None = None,
                     within: float = 120) -> dict[str, Any]:
    """``crawl(start, **options)`` against the site the judge serves (follow its clock: ``clock=``).

    ``given_session``: when not None, crawl is given a session of the
    scenario's, made with these default headers (so the judge's server sees
    which requests it carried). ``failing``: URL -> ``[exception name,
    message]``, mocked here to raise; every other URL goes to the network.
    Reports the outcome, the loop time the call took, the tasks left running,
    the sessions the crawl created and left open, and whether the given
    session was closed. The requests are the judge's to count.
    """
    async with _watched(failing or {}) as spy:
        given = aiohttp.ClientSession(headers=given_session) if given_session is not None else None
        started = probe.now()
        before = unfinished_tasks()
        try:
            outcome = await _crawl(probe, start, options or {}, given, within)
            took = probe.now() - started
            left = await _left_since(before)
            report = {
                "outcome": outcome,
                "took": took,
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
async def crawl_cancelled(probe: Probe, *, start: str, options: dict[str, Any], cancel_after: float, wait: float,
                          settle: float = 1) -> dict[str, Any]:
    """Start ``crawl(start, **options)`` as a task against the judge's site and cancel it after ``cancel_after`` s.

    Reports whether it was already done (and its outcome then), whether it
    ended within ``wait`` s of the cancellation, when (``ended``, loop time)
    and how (``cancelled``, else its outcome), the tasks left running and the
    sessions left open. Then what the crawl left running goes on for
    ``settle`` loop seconds before it is stopped, so that the judge's server
    sees any request that outlives the crawl.
    """
    async with _watched({}) as spy:
        before = unfinished_tasks()
        made = attempt(probe.function("crawl"), start, **options)
        if "raised" in made:
            return {"outcome": made}
        if not inspect.isawaitable(made["value"]):
            return {"outcome": {"not_awaitable": made["value"]}}
        task = asyncio.ensure_future(made["value"])
        await asyncio.sleep(cancel_after)
        report: dict[str, Any] = {"done_early": task.done()}
        if task.done():
            report["outcome"] = _task_outcome(task)
            return report
        task.cancel()
        # asyncio.wait does not pass a cancellation of its own on to the crawl, unlike awaiting the task.
        done, _ = await asyncio.wait({task}, timeout=wait)
        report["finished"] = bool(done)
        report["ended"] = probe.now()
        report["cancelled"] = task.cancelled()
        if done and not task.cancelled():
            report["outcome"] = _task_outcome(task)
        current = asyncio.current_task()
        left = {t for t in unfinished_tasks() - before if t is not current}
        report["left_running"] = task_names(left - {task})
        report["sessions_open"] = _open_count(spy)
        if done:
            await asyncio.sleep(settle)
        await _stop(left | {task})
    return report


def _task_outcome(task: asyncio.Future[Any]) -> Outcome:
    if task.cancelled():
        return {"raised": asyncio.CancelledError()}
    error = task.exception()
    if isinstance(error, CourseSignal):
        raise error
    return {"raised": error} if error is not None else {"value": task.result()}


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



# --- The judge's side: the site it serves, and what its server saw. ---

def page(url: str, *links: str, **answer: Any) -> dict[str, Any]:
    """(Judge side.) One page of a site: an HTML page linking to ``links`` at ``url`` (or another answer)."""
    return {"url": url, "links": list(links), **answer}


@dataclass
class Visit:
    """(Judge side.) One request the judge's site saw, on the shared clock (``left`` None: still in flight)."""

    url: str
    method: str
    headers: dict[str, str]
    arrived: float
    left: float | None
    abandoned: bool


class ServedSite:
    """(Judge side.) A site the judge serves and counts, on its own loop, for one run of the student's code.

    ``with ServedSite() as site:`` starts a :class:`coursekit.served.JudgeSide`
    with one aiohttp server on a loopback port; :meth:`origin` gives its base
    URL under a host name (``127.0.0.1`` and ``localhost`` reach the same
    server, two hosts for a crawler), :meth:`refusing` a base URL where
    connections are refused. :meth:`show` sets the pages (see the module's
    docstring), ``site.clock`` is what the scenario follows. After
    :meth:`close` (the end of the block, or right after the student's run)
    the judge's loop has stopped: :attr:`visits`, :meth:`requested` and
    :attr:`peak` are final, and :attr:`ended` is the shared clock's time
    when it closed (it starts at 0).
    """

    HOSTS = ("127.0.0.1", "localhost")

    def __init__(self) -> None:
        self.judge = served.JudgeSide()
        self.counter = served.Counter()
        self._seen: list[tuple[str, str, dict[str, str], served.Seen]] = []
        self._pages: dict[str, dict[str, Any]] = {}
        self.port = 0
        self.ended: float | None = None

    def __enter__(self) -> ServedSite:
        self.judge.__enter__()
        try:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self.port = int(self.judge.serve(app).rpartition(":")[2])
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the judge's loop (its clock then reads :attr:`ended`) and free its ports (again: nothing)."""
        if self.ended is None:
            self.ended = self.judge.now()
        self.judge.close()

    @property
    def clock(self) -> str:
        """The clock the student's scenario follows (``student.run(..., clock=site.clock)``)."""
        return self.judge.clock

    def now(self) -> float:
        """The shared clock, as the judge reads it."""
        return self.judge.now()

    def origin(self, host: str) -> str:
        """``http://HOST:PORT``: the site's server under the host name ``host`` (one of :attr:`HOSTS`)."""
        return f"http://{host}:{self.port}"

    def refusing(self, host: str) -> str:
        """``http://HOST:PORT`` for a port of the judge's that refuses every connection (``JudgeSide.refusing``)."""
        return f"http://{host}:{self.judge.refusing().rpartition(':')[2]}"

    def show(self, pages: list[dict[str, Any]]) -> None:
        """Serve ``pages`` (plain dicts, see the module's docstring), keyed by their URL as a client requests it."""
        table = {}
        for entry in pages:
            unknown = set(entry) - SERVED_KEYS
            if unknown:
                raise ValueError(f"unknown page keys: {sorted(unknown)}")
            if entry.get("drop") not in (None, *DROPS):
                raise ValueError(f"drop must be one of {DROPS}, not {entry['drop']!r}")
            table[entry["url"]] = entry
        self._pages = table

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        url = f"http://{request.host}{request.raw_path}"
        async with self.counter.counting(request) as seen:
            self._seen.append((url, request.method, {k.lower(): v for k, v in request.headers.items()}, seen))
            entry = self._pages.get(url)
            if entry is None:
                return await served.drop(request, "close")
            if entry.get("delay"):
                await asyncio.sleep(entry["delay"])
            if entry.get("drop"):
                return await served.drop(request, entry["drop"])
            body = entry.get("body")
            if body is None:
                body = html_page(*entry.get("links", ()))
            headers = {"Content-Type": entry.get("content_type", HTML), **(entry.get("headers") or {})}
            return web.Response(status=entry.get("status", 200), headers=headers,
                                body=body.encode() if isinstance(body, str) else body)

    @property
    def visits(self) -> list[Visit]:
        """Every request the server saw, in the order they arrived."""
        return [Visit(url, method, headers, seen.arrived, seen.left, seen.abandoned)
                for url, method, headers, seen in self._seen]

    def requested(self) -> dict[str, int]:
        """How many times each URL was requested (host as the Host header named it, path and query as sent)."""
        return dict(Counter(url for url, *_ in self._seen))

    @property
    def peak(self) -> int:
        """The most requests the server had in flight at once."""
        return self.counter.peak


