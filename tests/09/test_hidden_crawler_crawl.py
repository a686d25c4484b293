"""Hidden tests for assignment 09, part 2: crawl on a mocked site, and end to end on a real loopback server.

The mocked site lives on http://site.test (aioresponses, through the `traffic`
recorder); a URL it does not serve fails with ClientConnectionError, so any
request off the site, or to a page nobody should visit, shows up.
"""
import asyncio
from collections import Counter

import aiohttp
import pytest
from aiohttp import web

import crawler
from coursekit import hints
from coursekit.http import Traffic, serve
from coursekit.site import SITE, Site, html_page, site  # noqa: F401  (site is a fixture)
from coursekit.testing import assert_nothing_left_running, same, tasks_now, within



def u(path: str) -> str:
    """The absolute URL of `path` on the mocked site."""
    return SITE + path


@pytest.fixture(autouse=True)
async def _stop_leftover_tasks():
    """After each test, cancel what a faulty crawl left running, several times over.

    A task that swallows one cancellation would otherwise keep the loop's
    final clean-up waiting forever, and one mistake would cost every later test.
    """
    yield
    current = asyncio.current_task()
    for _ in range(50):
        left = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        if not left:
            return
        for task in left:
            task.cancel()
        await asyncio.sleep(0)


async def run_crawl(start, *, seconds=120, **options):
    """crawl(start, **options), failing with a readable message if it raises or hangs."""
    try:
        return await within(crawler.crawl(start, **options), seconds, what="crawl")
    except AssertionError:
        raise
    except Exception as exc:
        raise AssertionError(
            f"crawl raised {hints.describe(exc)}. A failed fetch belongs in result.errors; the crawl goes on"
        ) from None


@pytest.mark.points(2)
async def test_crawl_fetches_each_url_once_across_spellings_and_cycles(site, looptime):
    """Links that normalize to the same URL (fragment, case, default port, relative form) and cycles are fetched once."""
    site.page("/", "/a", "a#x", "HTTP://SITE.TEST:80/a", "http://site.test/b?x=1", "/b?x=1#frag")
    site.page("/a", "/", "/#top", "/b?x=1", "http://site.test")
    site.page("/b?x=1", "/a", "/")
    result = await run_crawl(u("/"), max_depth=5)
    expected = {u("/"): 200, u("/a"): 200, u("/b?x=1"): 200}
    assert same(result.pages, expected), f"expected pages {expected!r}, got {result.pages!r}"
    site.assert_each_fetched_once(what="a site with cycles and many spellings of one URL")


@pytest.mark.points(2)
async def test_crawl_fetches_a_url_found_by_many_pages_at_once_only_once(site, looptime):
    """A URL that several pages in flight find at the same moment is still fetched once (mark it seen when queued)."""
    children = [f"/p{i}" for i in range(5)]
    site.page("/", *children, delay=1)
    for i, child in enumerate(children):
        site.page(child, "/shared", children[(i + 1) % 5], delay=1)
    site.page("/shared", delay=1)
    result = await run_crawl(u("/"), concurrency=5)
    assert len(result.pages) == 7, f"expected 7 pages (/, /p0-/p4, /shared), got {sorted(result.pages)!r}"
    count = site.requested()[u("/shared")]
    assert count == 1, (
        f"/shared was linked from 5 pages fetched together and was requested {count} times; expected once. "
        "Record a URL as seen when you queue it, not when its fetch ends."
    )
    site.assert_each_fetched_once(what="pages fetched together")


@pytest.mark.points(2)
async def test_crawl_max_depth_is_exact(site, looptime):
    """With max_depth=D, pages up to D links from the start are fetched, and none deeper; max_depth=0 fetches only the start."""
    site.page("/", "/1")
    site.page("/1", "/2")
    site.page("/2", "/3")
    site.page("/3", "/4")
    site.page("/4")
    result = await run_crawl(u("/"), max_depth=2)
    assert set(result.pages) == {u("/"), u("/1"), u("/2")}, (
        f"max_depth=2 on the chain / -> /1 -> /2 -> /3: expected /, /1, /2; got {sorted(result.pages)!r}"
    )
    site.assert_never_fetched(u("/3"), why="it is at depth 3, beyond max_depth=2")
    result = await run_crawl(u("/"), max_depth=0)
    assert set(result.pages) == {u("/")}, f"max_depth=0: expected only the start page, got {sorted(result.pages)!r}"
    result = await run_crawl(u("/"), max_depth=10)
    assert len(result.pages) == 5, f"max_depth=10: expected the whole chain of 5 pages, got {sorted(result.pages)!r}"


@pytest.mark.points(1)
async def test_crawl_depth_limit_holds_whatever_the_page_times(site, looptime):
    """Uneven page times: no page more than max_depth links from the start is fetched, and every page found at a depth below it is.

    /x is 2 links away through the slow page, 3 through the fast ones. Level by level finds it at depth 2
    and fetches /y (depth 3); a worker pool finds it first at depth 3 and stops there. The README allows
    both, so /y is optional; /z (4 links away at best) is never fetched.
    """
    site.page("/", "/slow", "/fast")
    site.page("/slow", "/x", delay=5)
    site.page("/fast", "/mid")
    site.page("/mid", "/x")
    site.page("/x", "/y")
    site.page("/y", "/z")
    site.page("/z")
    result = await run_crawl(u("/"), max_depth=3, concurrency=2)
    required = {u(p) for p in ("/", "/slow", "/fast", "/mid", "/x")}
    missing = required - set(result.pages)
    assert not missing, (
        f"expected /, /slow, /fast, /mid and /x (each at most 3 links from the start, whichever page finds it first), "
        f"missing {sorted(missing)!r}; got {sorted(result.pages)!r}"
    )
    site.assert_never_fetched(u("/z"), why="it is 4 links from the start at best, beyond max_depth=3")
    extra = set(result.pages) - required - {u("/y")}
    assert not extra, f"unexpected pages {sorted(extra)!r}"
    site.assert_each_fetched_once(what="a site whose pages answer at different speeds")


@pytest.mark.points(2)
async def test_crawl_max_pages_takes_the_shallowest_pages_first(site, looptime):
    """Breadth-first: with max_pages=4, the start page and its 3 links are fetched, no page of depth 2."""
    site.page("/", "/a", "/b", "/c")
    site.page("/a", "/a1", "/a2", delay=1)
    site.page("/b", "/b1", delay=3)
    site.page("/c", "/c1", delay=1)
    for deep in ("/a1", "/a2", "/b1", "/c1"):
        site.page(deep)
    result = await run_crawl(u("/"), max_pages=4, concurrency=2)
    assert set(result.pages) == {u("/"), u("/a"), u("/b"), u("/c")}, (
        f"expected the depth-0 and depth-1 pages /, /a, /b, /c (breadth-first order), got {sorted(result.pages)!r}. "
        "Use a FIFO queue (or go level by level): a page's links come after the pages already waiting."
    )
    total = sum(site.requested().values())
    assert total == 4, f"max_pages=4: expected exactly 4 requests, saw {total}"


@pytest.mark.points(2)
async def test_crawl_max_pages_is_exact_on_a_wide_site(site, looptime):
    """With many pages in flight, exactly max_pages URLs are fetched: never more, and no fewer while pages remain."""
    children = [f"/p{i}" for i in range(30)]
    site.page("/", *children)
    for i, child in enumerate(children):
        grandchildren = [f"{child}/g{j}" for j in range(5)]
        site.page(child, *grandchildren, delay=1 + i % 3)
        for grandchild in grandchildren:
            site.page(grandchild, delay=1)
    result = await run_crawl(u("/"), max_pages=10, concurrency=5)
    total = sum(site.requested().values())
    assert total == 10, (
        f"max_pages=10: expected exactly 10 requests, saw {total}. Count a fetch when it starts, not when it ends, "
        "or requests already in flight overshoot the limit"
    )
    assert len(result.pages) + len(result.errors) == 10, (
        f"expected 10 URLs in pages and errors together, got {len(result.pages)} + {len(result.errors)}"
    )
    result = await run_crawl(u("/"), max_pages=1)
    assert set(result.pages) == {u("/")}, f"max_pages=1: expected only the start page, got {sorted(result.pages)!r}"


@pytest.mark.points(2)
async def test_crawl_concurrency_limit_holds_at_every_level(mock_http, looptime):
    """At most `concurrency` requests are in flight at any time, at every depth; concurrency=1 fetches one page at a time."""
    for concurrency, host in ((3, "http://three.test"), (1, "http://one.test")):
        traffic = Traffic()
        site = Site(mock_http, traffic)
        children = [f"{host}/p{i}" for i in range(5)]
        site.page(host + "/", *children, delay=1)
        for child in children:
            grandchildren = [f"{child}/g{j}" for j in range(2)]
            site.page(child, *grandchildren, delay=1)
            for grandchild in grandchildren:
                site.page(grandchild, delay=1)
        start = asyncio.get_running_loop().time()
        async with aiohttp.ClientSession() as session:
            result = await run_crawl(host + "/", concurrency=concurrency, session=session)
        elapsed = asyncio.get_running_loop().time() - start
        assert len(result.pages) == 16, f"expected all 16 pages of {host}, got {len(result.pages)}"
        assert traffic.peak <= concurrency, (
            f"concurrency={concurrency}: saw {traffic.peak} requests in flight at once "
            "(the cap must hold with the session you are given, whatever its connector allows)"
        )
        assert traffic.peak == concurrency, (
            f"concurrency={concurrency}: expected {concurrency} requests in flight while pages wait, saw at most "
            f"{traffic.peak}. {hints.SEQUENTIAL}"
        )
        if concurrency == 1:
            assert elapsed == pytest.approx(16), f"concurrency=1: 16 one-second pages should take 16 s, took {elapsed:g} s"


@pytest.mark.points(2)
async def test_crawl_parses_only_html_pages(site, looptime):
    """Links are read only from text/html pages: JSON, images and plain text are fetched but never parsed."""
    trap = '<html><body><a href="/{}">looks like a link</a></body></html>'
    site.page("/", "/data.json", "/logo.png", "/notes.txt", "/page")
    site.page("/data.json", body=trap.format("json-trap"), content_type="application/json")
    site.page("/logo.png", body=b"\x89PNG\r\n\x1a\n" + trap.format("img-trap").encode(), content_type="image/png")
    site.page("/notes.txt", body=trap.format("txt-trap"), content_type="text/plain; charset=utf-8")
    site.page("/page", "/deeper")
    site.page("/deeper")
    result = await run_crawl(u("/"))
    for path in ("/", "/data.json", "/logo.png", "/notes.txt", "/page", "/deeper"):
        assert same(result.pages.get(u(path)), 200), f"expected {path} fetched with status 200, got pages {result.pages!r}"
    site.assert_never_fetched(u("/json-trap"), u("/img-trap"), u("/txt-trap"),
                              why="it is only linked from a page that is not text/html")
    for path in ("/data.json", "/logo.png", "/notes.txt"):
        assert same(result.links.get(u(path), []), []), (
            f"links of {path} (not HTML) should be absent or empty, got {result.links[u(path)]!r}"
        )
    assert same(result.errors, {}), f"expected no errors, got {result.errors!r}"


@pytest.mark.points(2)
async def test_crawl_records_error_statuses_without_following_them(site, looptime):
    """4xx and 5xx pages are recorded with their status, and the links on them are not followed."""
    site.page("/", "/missing", "/broken", "/forbidden", "/ok")
    site.page("/missing", "/trap404", status=404)
    site.page("/broken", "/trap500", status=500)
    site.page("/forbidden", "/trap403", status=403)
    site.page("/ok")
    result = await run_crawl(u("/"))
    site.assert_never_fetched(u("/trap404"), u("/trap500"), u("/trap403"),
                              why="links are followed only from 2xx pages")
    expected = {u("/"): 200, u("/missing"): 404, u("/broken"): 500, u("/forbidden"): 403, u("/ok"): 200}
    assert same(result.pages, expected), f"expected pages {expected!r}, got {result.pages!r}"
    assert same(result.errors, {}), f"an error status is not an exception: errors should be empty, got {result.errors!r}"


@pytest.mark.points(1)
async def test_crawl_follows_links_of_2xx_pages_only_up_to_299(site, looptime):
    """An HTML page answering 299 is a 2xx page whose links are followed; 300 and 399 pages are not."""
    site.page("/", "/s299", "/s300", "/s399")
    site.page("/s299", "/from299", status=299)
    site.page("/s300", "/from300", status=300)
    site.page("/s399", "/from399", status=399)
    site.page("/from299")
    result = await run_crawl(u("/"))
    site.assert_never_fetched(u("/from300"), u("/from399"), why="links are followed only from 2xx pages (200 to 299)")
    expected = {u("/"): 200, u("/s299"): 299, u("/s300"): 300, u("/s399"): 399, u("/from299"): 200}
    assert same(result.pages, expected), (
        f"expected pages {expected!r}, got {result.pages!r}: 299 is a 2xx status (200 <= status < 300)"
    )


@pytest.mark.points(2)
async def test_crawl_follows_redirects_and_reads_the_final_page(site, looptime):
    """A redirect leads to its target, whose relative links resolve against the target's URL; nothing is fetched twice.

    A redirect to another host is never crawled as a page of its own.
    """
    site.page("/", "/old", "/temp", "/away")
    site.page("/away", status=302, headers={"Location": "http://other.test/x"})
    site.page("http://other.test/x", "http://other.test/y")
    site.page("/old", status=301, headers={"Location": "/docs/"})
    site.page("/temp", status=302, headers={"Location": "http://site.test/b"})
    site.page("/docs/", "intro")
    site.page("/docs/intro")
    site.page("/b")
    result = await run_crawl(u("/"), max_depth=3)
    assert result.pages.get(u("/old")) in (301, 200), (
        f"/old should be recorded with its redirect status (301) or the final page's status (200), "
        f"got {result.pages.get(u('/old'))!r}"
    )
    assert result.pages.get(u("/temp")) in (302, 200), (
        f"/temp should be recorded with 302 or 200, got {result.pages.get(u('/temp'))!r}"
    )
    assert same(result.pages.get(u("/docs/intro")), 200), (
        f"the page behind the redirect (/docs/) links to 'intro', i.e. {u('/docs/intro')}; expected it fetched "
        f"with 200, got pages {result.pages!r}"
    )
    site.assert_never_fetched(u("/intro"), why="'intro' on the page at /docs/ means /docs/intro: "
                              "resolve links against the URL the page came from (response.url), not the one requested")
    off_site = [url for url in (*result.pages, *result.errors) if "other.test" in url]
    assert not off_site, (
        f"/away redirects to http://other.test/x, another host, yet the crawl recorded {off_site!r} as pages of its own: "
        "a redirect target obeys the same host rule as a link"
    )
    site.assert_never_fetched("http://other.test/y", why="it is on another host")
    assert same(result.errors, {}), f"expected no errors, got {result.errors!r}"
    site.assert_each_fetched_once(what="a site with redirects")


@pytest.mark.points(2)
async def test_crawl_records_exceptions_and_goes_on(site, looptime):
    """A fetch that raises is recorded in errors by exception class name (not in pages), and the crawl goes on."""
    site.page("/", "/down", "/timeout", "/unserved", "/ok")
    site.page("/down", error=aiohttp.ClientConnectionError("connection refused"))
    site.page("/timeout", error=TimeoutError())
    site.page("/ok", "/after")
    site.page("/after")
    before = tasks_now()
    result = await run_crawl(u("/"))
    assert_nothing_left_running(before, what="crawl with failing fetches")
    expected_errors = {
        u("/down"): "ClientConnectionError",
        u("/timeout"): "TimeoutError",
        u("/unserved"): "ClientConnectionError",
    }
    assert same(result.errors, expected_errors), f"expected errors {expected_errors!r}, got {result.errors!r}"
    expected_pages = {u("/"): 200, u("/ok"): 200, u("/after"): 200}
    assert same(result.pages, expected_pages), (
        f"expected pages {expected_pages!r} (failed fetches have no status), got {result.pages!r}"
    )


@pytest.mark.points(2)
async def test_crawl_uses_the_given_session_and_leaves_it_open(site, session_spy, looptime):
    """crawl(session=s) makes its requests with s, opens no session of its own and does not close s."""
    site.page("/", "/a")
    site.page("/a")
    async with aiohttp.ClientSession() as session:
        result = await run_crawl(u("/"), session=session)
        assert not session.closed, "crawl closed the session it was given: the caller owns it and closes it"
        assert len(result.pages) == 2, f"expected 2 pages, got {result.pages!r}"
        created = len(session_spy.sessions) - 1
        assert created == 0, f"crawl was given a session but created {created} more; use the one given"


@pytest.mark.points(2)
async def test_crawl_opens_and_closes_its_own_session(site, session_spy, looptime):
    """Without a session, crawl opens exactly one ClientSession for the whole crawl and closes it."""
    site.page("/", "/a", "/b")
    site.page("/a")
    site.page("/b")
    result = await run_crawl(u("/"))
    assert len(result.pages) == 3, f"expected 3 pages, got {result.pages!r}"
    assert len(session_spy.sessions) == 1, (
        f"expected one session for the whole crawl, {len(session_spy.sessions)} were created "
        "(one per request throws away the connection pool)"
    )
    session_spy.assert_all_closed(what="crawl")


@pytest.mark.points(2)
async def test_crawl_leaves_nothing_running(site, session_spy, looptime):
    """When crawl returns, no task it started is pending and its session is closed, failures or not."""
    children = [f"/p{i}" for i in range(8)]
    site.page("/", *children)
    for i, child in enumerate(children):
        if i % 3 == 0:
            site.page(child, error=aiohttp.ServerDisconnectedError())
        else:
            site.page(child, delay=i)
    before = tasks_now()
    result = await run_crawl(u("/"), concurrency=3)
    assert_nothing_left_running(before, what="crawl")
    session_spy.assert_all_closed(what="crawl")
    assert len(result.errors) == 3 and len(result.pages) == 6, (
        f"expected 6 pages and 3 errors, got pages {result.pages!r} and errors {result.errors!r}"
    )


@pytest.mark.points(2)
async def test_crawl_cancelled_stops_everything(site, traffic, session_spy, looptime):
    """Cancelling crawl mid-way raises CancelledError, stops every request and closes its session."""
    children = [f"/p{i}" for i in range(6)]
    site.page("/", *children)
    for child in children:
        site.page(child, delay=10)
    before = tasks_now()
    task = asyncio.create_task(crawler.crawl(u("/"), concurrency=3))
    await asyncio.sleep(5)
    if task.done():
        result = task.result()  # raises what crawl raised
        raise AssertionError(f"crawl returned {result!r} after 5 s, while every page takes 10 s")
    assert traffic.in_flight > 0, "expected requests in flight 5 s into the crawl (each page takes 10 s)"
    task.cancel()
    # asyncio.wait does not pass a cancellation of its own on to the crawl, unlike awaiting the task.
    done, _ = await asyncio.wait({task}, timeout=30)
    if not done:
        raise AssertionError(f"crawl was still running 30 s after it was cancelled. {hints.SWALLOWED_CANCEL}")
    if not task.cancelled():
        error = task.exception()
        outcome = f"raised {error!r}" if error is not None else f"returned {task.result()!r}"
        raise AssertionError(f"a cancelled crawl must raise CancelledError, it {outcome}. {hints.SWALLOWED_CANCEL}")
    assert_nothing_left_running(before, what="the cancelled crawl")
    assert traffic.in_flight == 0, f"{traffic.in_flight} request(s) still in flight after crawl was cancelled. {hints.LEFT_RUNNING}"
    session_spy.assert_all_closed(what="the cancelled crawl")


@pytest.mark.points(1)
async def test_crawl_slow_page_does_not_hold_up_the_others(site, looptime):
    """A slow page is waited for, while the other pages are fetched meanwhile."""
    site.page("/", "/slow", "/a", "/b", "/c", delay=1)
    site.page("/slow", delay=5)
    site.page("/a", "/d", delay=1)
    site.page("/b", delay=1)
    site.page("/c", delay=1)
    site.page("/d", delay=1)
    result = await run_crawl(u("/"), concurrency=5)
    assert same(result.pages.get(u("/slow")), 200), f"expected the slow page fetched with 200, got {result.pages!r}"
    assert len(result.pages) == 6, f"expected 6 pages, got {sorted(result.pages)!r}"
    assert looptime <= 7, (
        f"expected at most 7 s (1 s start page, then the 5 s page alongside the others), took {float(looptime):g} s. "
        f"{hints.SEQUENTIAL}"
    )


@pytest.mark.points(2)
async def test_crawl_links_lists_in_scope_links_of_each_page(site, looptime):
    """result.links maps each HTML page to its links on the start host, in document order, already-seen ones included."""
    site.page("/", "/a", "http://other.test/", "/b", "mailto:x@site.test", "/a#again", "http://sub.site.test/x")
    site.page("/a", "/", "/b", "http://other.test/y")
    site.page("/b")
    result = await run_crawl(u("/"), max_depth=3)
    assert set(result.pages) == {u("/"), u("/a"), u("/b")}, (
        f"expected only /, /a and /b fetched (other hosts, subdomains included, are out of scope), got {sorted(result.pages)!r}"
    )
    assert same(result.links.get(u("/")), [u("/a"), u("/b")]), (
        f"links of /: expected [{u('/a')!r}, {u('/b')!r}] (in scope, once, in document order), got {result.links.get(u('/'))!r}"
    )
    assert same(result.links.get(u("/a")), [u("/"), u("/b")]), (
        f"links of /a: expected [{u('/')!r}, {u('/b')!r}] (every in-scope link on the page, also those already seen), "
        f"got {result.links.get(u('/a'))!r}"
    )


@pytest.mark.points(1)
async def test_crawl_normalizes_the_start_url(site, looptime):
    """The start URL is normalized like any link: HTTP://Site.TEST:80#intro is http://site.test/, fetched once."""
    site.page("/", "/a", "/")
    site.page("/a", "http://site.test/")
    result = await run_crawl("HTTP://Site.TEST:80#intro")
    expected = {u("/"): 200, u("/a"): 200}
    assert same(result.pages, expected), (
        f"expected pages {expected!r} (keys are normalized URLs), got {result.pages!r} and errors {result.errors!r}"
    )
    site.assert_each_fetched_once(what="a start URL written in another form")


@pytest.mark.points(2)
async def test_crawl_real_site_on_loopback(session_spy, looptime):
    """End to end against a real aiohttp server: statuses, redirects, non-HTML pages, off-host links and the cap hold."""
    hits: Counter = Counter()
    load = {"in_flight": 0, "peak": 0}

    @web.middleware
    async def record(request, handler):
        hits[request.path_qs] += 1
        load["in_flight"] += 1
        load["peak"] = max(load["peak"], load["in_flight"])
        try:
            await asyncio.sleep(0.05)
            return await handler(request)
        finally:
            load["in_flight"] -= 1

    def page(*hrefs, status=200):
        async def handler(request):
            return web.Response(text=html_page(*hrefs), content_type="text/html", status=status)
        return handler

    async def root(request):
        off_host = f"http://localhost:{request.url.port}/trap"  # same server, another host name
        return web.Response(
            text=html_page("/a", "/b", "/old", "/data.json", "/logo.png", "/missing", off_host, "mailto:x@y.test"),
            content_type="text/html",
        )

    async def old(request):
        raise web.HTTPFound("/docs/")

    async def data(request):
        return web.Response(text='<a href="/json-trap">x</a>', content_type="application/json")

    async def logo(request):
        return web.Response(body=b'\x89PNG\r\n<a href="/img-trap">x</a>', content_type="image/png")

    app = web.Application(middlewares=[record])
    app.router.add_get("/", root)
    app.router.add_get("/a", page("/", "/c", "/c?x=1"))
    app.router.add_get("/b", page("/a#frag", "/c"))
    app.router.add_get("/c", page())
    app.router.add_get("/old", old)
    app.router.add_get("/docs/", page("intro"))
    app.router.add_get("/docs/intro", page())
    app.router.add_get("/data.json", data)
    app.router.add_get("/logo.png", logo)
    app.router.add_get("/missing", page("/trap404", status=404))

    before = tasks_now()
    async with serve(app) as base:
        result = await run_crawl(base + "/", max_depth=3, concurrency=2)
    assert_nothing_left_running(before, what="crawl")
    session_spy.assert_all_closed(what="crawl")

    assert same(result.errors, {}), f"expected no errors from the loopback site, got {result.errors!r}"
    for path in ("/", "/a", "/b", "/c", "/c?x=1", "/docs/intro", "/data.json", "/logo.png"):
        assert same(result.pages.get(base + path), 200), f"expected {base}{path} with status 200, got pages {result.pages!r}"
    assert same(result.pages.get(base + "/missing"), 404), f"expected /missing with 404, got {result.pages!r}"
    assert result.pages.get(base + "/old") in (302, 200), f"expected /old with 302 or 200, got {result.pages!r}"
    traps = {path: n for path, n in hits.items() if "trap" in path}
    assert not traps, f"crawl requested {traps!r}: off-host links, links in non-HTML pages and on 404 pages must not be followed"
    off_site = [url for url in [*result.pages, *result.errors] if "localhost" in url]
    assert not off_site, f"crawl fetched {off_site!r}: localhost is another host than 127.0.0.1"
    twice = {path: n for path, n in hits.items() if n > 1}
    assert not twice, f"the server saw these paths requested more than once: {twice!r}"
    assert load["peak"] <= 2, f"concurrency=2, but the server saw {load['peak']} requests at once"
