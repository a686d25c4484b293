"""Hidden tests for assignment 09, part 2: crawl against a site the judge serves.

Each site is plain data (pages with their links, statuses, content types,
delays, redirects and failures) that the judge serves itself
(``p09.ServedSite``: a loopback aiohttp server on the judge's loop, on the
clock it shares with the student's loop). ``http://127.0.0.1:PORT`` and
``http://localhost:PORT`` reach that one server and are two hosts for the
crawler; the server tells them apart by the Host header. The judge counts
every request itself: which URLs and how many times, how many were in flight
at once, and when each came and went on the shared clock. A URL the site does
not list is dropped, so a request to a page nobody should visit shows up in
the judge's counts. Only what cannot be seen from outside comes from the
student process (``p09.crawl_site``): the returned CrawlResult, the tasks left
running and the sessions created or left open. A ``TimeoutError`` at once is
the one failure mocked there.
Paths, page counts, limits, delays and which host is the site are drawn per
run from ``student.rng`` where the contract leaves them free; the expected
values are computed here.
"""
import pytest

from coursekit import hints
from coursekit.hints import describe_parts
from coursekit.judge import Names, Record, raised, unwrap
from coursekit.probes import p09
from coursekit.probes.p09 import ServedSite, page
from coursekit.testing import same

STUDENT_MODULE = "crawler"
HOSTS = ServedSite.HOSTS
SESSION_HEADER = "x-given-session"


def crawl_result(outcome):
    """The CrawlResult of a crawl's outcome; a readable failure if crawl raised or hung."""
    error = raised(outcome)
    if error is not None and not error.is_a("NotImplementedError"):
        raise AssertionError(
            f"crawl raised {describe_parts(error.name, error.message)}. A failed fetch belongs in result.errors; "
            "the crawl goes on"
        )
    result = unwrap(outcome, what="crawl")
    if not isinstance(result, Record) or not {"pages", "errors", "links"} <= set(result.fields):
        raise AssertionError(f"crawl should return a CrawlResult (pages, errors, links), got {result!r}")
    for name in ("pages", "errors", "links"):
        value = result.fields[name]
        assert type(value) is dict, f"crawl: result.{name} should be a dict, got {value!r}"
    return result


def two_hosts(rng):
    """The site's host and another one (both reach the judge's server), in an order drawn per run."""
    site, other = rng.sample(HOSTS, 2)
    return site, other


def run_crawl(student, served, pages, start, *, seconds=120, given_session=None, failing=None, **options):
    """crawl(start, **options) against ``pages`` served by the judge's ``served`` site: (its result, what was seen).

    Ends the judge's side of the run. From the judge's server: ``requested``
    (URL -> count), ``peak`` (requests in flight at once), ``took`` (the
    shared clock when the student's run ended; it started at 0) and
    ``visits``. From the student process: ``left_running``,
    ``sessions_created``, ``sessions_open`` and ``given_closed``.
    ``given_session``: default headers of a session given to crawl;
    ``failing``: URLs mocked in the student process to raise.
    """
    served.show(pages)
    try:
        seen = student.run(p09.crawl_site, clock=served.clock, start=start, options=options,
                           given_session=given_session, failing=failing, within=seconds).value("crawl")
    finally:
        served.close()
    judged = {"requested": served.requested(), "peak": served.peak, "took": served.ended, "visits": served.visits}
    return crawl_result(seen["outcome"]), {**seen, **judged}


def assert_each_fetched_once(seen, *, what):
    """Fail if the judge's server saw some URL requested more than once."""
    twice = {url: n for url, n in seen["requested"].items() if n > 1}
    assert not twice, f"{what}: each normalized URL must be fetched at most once; fetched more than once: {twice!r}"


def assert_never_fetched(seen, *urls, why):
    """Fail if the judge's server saw one of ``urls`` requested."""
    hit = [url for url in urls if seen["requested"].get(url)]
    assert not hit, f"crawl fetched {hit!r}, which it should never request: {why}"


def assert_nothing_left_running(seen, *, what):
    left = seen["left_running"]
    assert not left, (
        f"{what} returned while {len(left)} task(s) it started were still running. {hints.LEFT_RUNNING}"
    )


def assert_sessions_closed(seen, *, what):
    assert not seen["sessions_open"], (
        f"{what} left {seen['sessions_open']} aiohttp.ClientSession(s) open. {hints.SESSION_LEFT_OPEN}"
    )


@pytest.mark.points(2)
def test_crawl_fetches_each_url_once_across_spellings_and_cycles(student):
    """Links that normalize to the same URL (fragment, case, default port, relative form) and cycles are fetched once."""
    names = Names(student.rng)
    a, b, key = names.word(), names.word(), names.word()
    with ServedSite() as served:
        site = served.origin("localhost")
        upper = site.upper()
        pages = [
            page(f"{site}/", f"/{a}", f"{a}#x", f"{upper}/{a}", f"{site}/{b}?{key}=1", f"/{b}?{key}=1#frag"),
            page(f"{site}/{a}", "/", "/#top", f"/{b}?{key}=1", site),
            page(f"{site}/{b}?{key}=1", f"/{a}", "/"),
        ]
        result, seen = run_crawl(student, served, pages, f"{site}/", max_depth=5)
    expected = {f"{site}/": 200, f"{site}/{a}": 200, f"{site}/{b}?{key}=1": 200}
    assert same(result.pages, expected), f"expected pages {expected!r}, got {result.pages!r}"
    assert_each_fetched_once(seen, what="a site with cycles and many spellings of one URL")


@pytest.mark.points(2)
def test_crawl_fetches_a_url_found_by_many_pages_at_once_only_once(student):
    """A URL that several pages in flight find at the same moment is still fetched once (mark it seen when queued)."""
    rng = student.rng
    names = Names(rng)
    count = rng.randint(4, 8)
    children = names.paths(count)
    shared = "/" + names.word()
    with ServedSite() as served:
        site = served.origin(rng.choice(HOSTS))
        pages = [page(f"{site}/", *children, delay=1), page(site + shared, delay=1)]
        for i, child in enumerate(children):
            pages.append(page(site + child, shared, children[(i + 1) % count], delay=1))
        result, seen = run_crawl(student, served, pages, f"{site}/", concurrency=count)
    assert len(result.pages) == count + 2, (
        f"expected {count + 2} pages (/, the {count} pages it links to, {shared}), got {sorted(result.pages)!r}"
    )
    times = seen["requested"].get(site + shared, 0)
    assert times == 1, (
        f"{shared} was linked from {count} pages fetched together and was requested {times} times; expected once. "
        "Record a URL as seen when you queue it, not when its fetch ends."
    )
    assert_each_fetched_once(seen, what="pages fetched together")


@pytest.mark.points(2)
def test_crawl_max_depth_is_exact(student):
    """With max_depth=D, pages up to D links from the start are fetched, and none deeper; max_depth=0 fetches only the start."""
    rng = student.rng
    names = Names(rng)
    host = rng.choice(HOSTS)
    chain = ["/", *names.paths(rng.randint(4, 6))]
    depth = rng.randint(1, len(chain) - 3)
    deep = len(chain) + rng.randint(1, 5)

    def crawl_chain(max_depth):
        with ServedSite() as served:
            site = served.origin(host)
            pages = [page(site + path, *chain[i + 1:i + 2]) for i, path in enumerate(chain)]
            result, seen = run_crawl(student, served, pages, f"{site}/", max_depth=max_depth)
        return site, result, seen

    site, result, seen = crawl_chain(depth)
    kept = [site + path for path in chain[:depth + 1]]
    assert set(result.pages) == set(kept), (
        f"max_depth={depth} on the chain {' -> '.join(chain)}: expected {', '.join(chain[:depth + 1])}; "
        f"got {sorted(result.pages)!r}"
    )
    assert_never_fetched(seen, site + chain[depth + 1], why=f"it is at depth {depth + 1}, beyond max_depth={depth}")
    site, result, seen = crawl_chain(0)
    assert set(result.pages) == {f"{site}/"}, f"max_depth=0: expected only the start page, got {sorted(result.pages)!r}"
    assert_never_fetched(seen, site + chain[1], why="it is at depth 1, beyond max_depth=0")
    site, result, _ = crawl_chain(deep)
    assert len(result.pages) == len(chain), (
        f"max_depth={deep}: expected the whole chain of {len(chain)} pages, got {sorted(result.pages)!r}"
    )


@pytest.mark.points(1)
def test_crawl_depth_limit_holds_whatever_the_page_times(student):
    """Uneven page times: no page more than max_depth links from the start is fetched, and every page found at a depth below it is.

    /x is 2 links away through the slow page, 3 through the fast ones. Level by level finds it at depth 2
    and fetches /y (depth 3); a worker pool finds it first at depth 3 and stops there. The README allows
    both, so /y is optional; /z (4 links away at best) is never fetched.
    """
    rng = student.rng
    names = Names(rng)
    slow, fast, mid, x, y, z = names.paths(6)
    with ServedSite() as served:
        site = served.origin(rng.choice(HOSTS))
        pages = [
            page(f"{site}/", slow, fast),
            page(site + slow, x, delay=rng.randint(2, 9)),
            page(site + fast, mid),
            page(site + mid, x),
            page(site + x, y),
            page(site + y, z),
            page(site + z),
        ]
        result, seen = run_crawl(student, served, pages, f"{site}/", max_depth=3, concurrency=2)
    required = {site + p for p in ("/", slow, fast, mid, x)}
    missing = required - set(result.pages)
    assert not missing, (
        f"expected /, {slow}, {fast}, {mid} and {x} (each at most 3 links from the start, whichever page finds it "
        f"first), missing {sorted(missing)!r}; got {sorted(result.pages)!r}"
    )
    assert_never_fetched(seen, site + z, why="it is 4 links from the start at best, beyond max_depth=3")
    extra = set(result.pages) - required - {site + y}
    assert not extra, f"unexpected pages {sorted(extra)!r}"
    assert_each_fetched_once(seen, what="a site whose pages answer at different speeds")


@pytest.mark.points(2)
def test_crawl_max_pages_takes_the_shallowest_pages_first(student):
    """Breadth-first: with max_pages=4, the start page and its 3 links are fetched, no page of depth 2."""
    rng = student.rng
    names = Names(rng)
    children = names.paths(rng.randint(3, 5))
    with ServedSite() as served:
        site = served.origin(rng.choice(HOSTS))
        pages = [page(f"{site}/", *children)]
        for child in children:
            grandchildren = [f"{child}{p}" for p in names.paths(rng.randint(1, 2))]
            pages.append(page(site + child, *grandchildren, delay=rng.randint(1, 3)))
            pages.extend(page(site + g) for g in grandchildren)
        limit = len(children) + 1
        result, seen = run_crawl(student, served, pages, f"{site}/", max_pages=limit,
                                 concurrency=rng.randint(2, len(children) - 1))
    expected = {f"{site}/", *(site + c for c in children)}
    assert set(result.pages) == expected, (
        f"expected the depth-0 and depth-1 pages /, {', '.join(children)} (breadth-first order), "
        f"got {sorted(result.pages)!r}. "
        "Use a FIFO queue (or go level by level): a page's links come after the pages already waiting."
    )
    total = sum(seen["requested"].values())
    assert total == limit, f"max_pages={limit}: expected exactly {limit} requests, saw {total}"
    deeper = sorted(url for url in seen["requested"] if url not in expected)
    assert not deeper, f"max_pages={limit}: the judge's server saw pages of depth 2 requested: {deeper!r}"


@pytest.mark.points(2)
def test_crawl_max_pages_is_exact_on_a_wide_site(student):
    """With many pages in flight, exactly max_pages URLs are fetched: never more, and no fewer while pages remain."""
    rng = student.rng
    names = Names(rng)
    host = rng.choice(HOSTS)
    children = names.paths(rng.randint(20, 35))
    concurrency = rng.randint(3, 6)
    limit = rng.randint(concurrency + 2, 15)

    def wide_site(site):
        pages = [page(f"{site}/", *children)]
        for i, child in enumerate(children):
            grandchildren = [f"{child}/g{j}" for j in range(5)]
            pages.append(page(site + child, *grandchildren, delay=1 + i % 3))
            pages.extend(page(site + g, delay=1) for g in grandchildren)
        return pages

    with ServedSite() as served:
        site = served.origin(host)
        result, seen = run_crawl(student, served, wide_site(site), f"{site}/", max_pages=limit,
                                 concurrency=concurrency)
    total = sum(seen["requested"].values())
    assert total == limit, (
        f"max_pages={limit}: expected exactly {limit} requests, saw {total}. Count a fetch when it starts, not when "
        "it ends, or requests already in flight overshoot the limit"
    )
    assert len(result.pages) + len(result.errors) == limit, (
        f"expected {limit} URLs in pages and errors together, got {len(result.pages)} + {len(result.errors)}"
    )
    with ServedSite() as served:
        site = served.origin(host)
        result, seen = run_crawl(student, served, wide_site(site), f"{site}/", max_pages=1)
    assert set(result.pages) == {f"{site}/"}, f"max_pages=1: expected only the start page, got {sorted(result.pages)!r}"
    total = sum(seen["requested"].values())
    assert total == 1, f"max_pages=1: expected exactly 1 request, saw {total}"


@pytest.mark.points(2)
def test_crawl_concurrency_limit_holds_at_every_level(student):
    """At most `concurrency` requests are in flight at any time, at every depth; concurrency=1 fetches one page at a time."""
    rng = student.rng
    names = Names(rng)
    width = rng.randint(4, 6)
    for concurrency in (rng.randint(2, width - 1), 1):
        with ServedSite() as served:
            host = served.origin(rng.choice(HOSTS))
            children = [host + p for p in names.paths(width)]
            pages = [page(host + "/", *children, delay=1)]
            for child in children:
                grandchildren = [f"{child}/g{j}" for j in range(2)]
                pages.append(page(child, *grandchildren, delay=1))
                pages.extend(page(g, delay=1) for g in grandchildren)
            result, seen = run_crawl(student, served, pages, host + "/", concurrency=concurrency, given_session={})
        assert len(result.pages) == len(pages), f"expected all {len(pages)} pages of {host}, got {len(result.pages)}"
        assert seen["peak"] <= concurrency, (
            f"concurrency={concurrency}: saw {seen['peak']} requests in flight at once "
            "(the cap must hold with the session you are given, whatever its connector allows)"
        )
        assert seen["peak"] == concurrency, (
            f"concurrency={concurrency}: expected {concurrency} requests in flight while pages wait, saw at most "
            f"{seen['peak']}. {hints.SEQUENTIAL}"
        )
        if concurrency == 1:
            assert seen["took"] == pytest.approx(len(pages)), (
                f"concurrency=1: {len(pages)} one-second pages should take {len(pages)} s, took {seen['took']:g} s"
            )


@pytest.mark.points(2)
def test_crawl_parses_only_html_pages(student):
    """Links are read only from text/html pages: JSON, images and plain text are fetched but never parsed."""
    rng = student.rng
    names = Names(rng)
    data, logo, notes, html, deeper = names.paths(5)
    data, logo, notes = data + ".json", logo + ".png", notes + ".txt"
    traps = [f"/trap{names.word()}" for _ in range(3)]
    trap = '<html><body><a href="{}">looks like a link</a></body></html>'
    with ServedSite() as served:
        site = served.origin(rng.choice(HOSTS))
        pages = [
            page(f"{site}/", data, logo, notes, html),
            page(site + data, body=trap.format(traps[0]), content_type="application/json"),
            page(site + logo, body=b"\x89PNG\r\n\x1a\n" + trap.format(traps[1]).encode(), content_type="image/png"),
            page(site + notes, body=trap.format(traps[2]), content_type="text/plain; charset=utf-8"),
            page(site + html, deeper),
            page(site + deeper),
        ]
        result, seen = run_crawl(student, served, pages, f"{site}/")
    for path in ("/", data, logo, notes, html, deeper):
        assert same(result.pages.get(site + path), 200), (
            f"expected {path} fetched with status 200, got pages {result.pages!r}"
        )
    assert_never_fetched(seen, *(site + t for t in traps), why="it is only linked from a page that is not text/html")
    for path in (data, logo, notes):
        assert same(result.links.get(site + path, []), []), (
            f"links of {path} (not HTML) should be absent or empty, got {result.links[site + path]!r}"
        )
    assert same(result.errors, {}), f"expected no errors, got {result.errors!r}"


@pytest.mark.points(2)
def test_crawl_records_error_statuses_without_following_them(student):
    """4xx and 5xx pages are recorded with their status, and the links on them are not followed."""
    rng = student.rng
    names = Names(rng)
    statuses = [404, 500, 403, rng.choice([400, 401, 410, 429, 502, 503])]
    failing = names.paths(len(statuses))
    ok = "/" + names.word()
    links = [*failing, ok]
    rng.shuffle(links)
    traps = {path: f"/trap{status}{names.word()}" for path, status in zip(failing, statuses)}
    with ServedSite() as served:
        site = served.origin(rng.choice(HOSTS))
        pages = [page(f"{site}/", *links), page(site + ok)]
        pages.extend(page(site + path, traps[path], status=status) for path, status in zip(failing, statuses))
        result, seen = run_crawl(student, served, pages, f"{site}/")
    assert_never_fetched(seen, *(site + t for t in traps.values()), why="links are followed only from 2xx pages")
    expected = {f"{site}/": 200, site + ok: 200, **{site + p: s for p, s in zip(failing, statuses)}}
    assert same(result.pages, expected), f"expected pages {expected!r}, got {result.pages!r}"
    assert same(result.errors, {}), f"an error status is not an exception: errors should be empty, got {result.errors!r}"


@pytest.mark.points(1)
def test_crawl_follows_links_of_2xx_pages_only_up_to_299(student):
    """An HTML page answering 299 is a 2xx page whose links are followed; 300 and 399 pages are not."""
    rng = student.rng
    names = Names(rng)
    # A real server sends no body with 204 and 205: those pages could hold no links.
    statuses = [299, 300, 399, rng.choice([s for s in range(201, 299) if s not in (204, 205)])]
    sources = names.paths(len(statuses))
    targets = names.paths(len(statuses))
    order = list(range(len(statuses)))
    rng.shuffle(order)
    with ServedSite() as served:
        site = served.origin(rng.choice(HOSTS))
        pages = [page(f"{site}/", *(sources[i] for i in order))]
        for source, target, status in zip(sources, targets, statuses):
            pages.append(page(site + source, target, status=status))
        pages.extend(page(site + targets[i]) for i, status in enumerate(statuses) if status < 300)
        result, seen = run_crawl(student, served, pages, f"{site}/")
    assert_never_fetched(seen, *(site + targets[i] for i, s in enumerate(statuses) if s >= 300),
                         why="links are followed only from 2xx pages (200 to 299)")
    expected = {f"{site}/": 200, **{site + s: status for s, status in zip(sources, statuses)},
                **{site + targets[i]: 200 for i, s in enumerate(statuses) if s < 300}}
    assert same(result.pages, expected), (
        f"expected pages {expected!r}, got {result.pages!r}: 299 is a 2xx status (200 <= status < 300)"
    )


@pytest.mark.points(2)
def test_crawl_follows_redirects_and_reads_the_final_page(student):
    """A redirect leads to its target, whose relative links resolve against the target's URL; nothing is fetched twice.

    A redirect to another host is never crawled as a page of its own.
    """
    rng = student.rng
    names = Names(rng)
    old, temp, away, b, intro = names.paths(5)
    docs = f"/{names.word()}/"
    old_status, temp_status, away_status = (rng.choice([301, 302, 303, 307, 308]) for _ in range(3))
    x, y = names.paths(2)
    with ServedSite() as served:
        site, other = (served.origin(host) for host in two_hosts(rng))
        pages = [
            page(f"{site}/", old, temp, away),
            page(site + away, status=away_status, headers={"Location": other + x}),
            page(other + x, other + y),
            page(site + old, status=old_status, headers={"Location": docs}),
            page(site + temp, status=temp_status, headers={"Location": site + b}),
            page(site + docs, intro[1:]),
            page(site + docs + intro[1:]),
            page(site + b),
        ]
        result, seen = run_crawl(student, served, pages, f"{site}/", max_depth=3)
    assert result.pages.get(site + old) in (old_status, 200), (
        f"{old} should be recorded with its redirect status ({old_status}) or the final page's status (200), "
        f"got {result.pages.get(site + old)!r}"
    )
    assert result.pages.get(site + temp) in (temp_status, 200), (
        f"{temp} should be recorded with {temp_status} or 200, got {result.pages.get(site + temp)!r}"
    )
    assert same(result.pages.get(site + docs + intro[1:]), 200), (
        f"the page behind the redirect ({docs}) links to {intro[1:]!r}, i.e. {site + docs + intro[1:]}; expected it "
        f"fetched with 200, got pages {result.pages!r}"
    )
    assert_never_fetched(seen, site + intro, why=f"{intro[1:]!r} on the page at {docs} means {docs}{intro[1:]}: "
                         "resolve links against the URL the page came from (response.url), not the one requested")
    off_site = [url for url in (*result.pages, *result.errors) if url.startswith(other)]
    assert not off_site, (
        f"{away} redirects to {other + x}, another host, yet the crawl recorded {off_site!r} as pages of its own: "
        "a redirect target obeys the same host rule as a link"
    )
    assert_never_fetched(seen, other + y, why="it is on another host")
    assert same(result.errors, {}), f"expected no errors, got {result.errors!r}"
    assert_each_fetched_once(seen, what="a site with redirects")


@pytest.mark.points(2)
def test_crawl_records_exceptions_and_goes_on(student):
    """A fetch that raises is recorded in errors by exception class name (not in pages), and the crawl goes on."""
    rng = student.rng
    names = Names(rng)
    down, timeout, unserved, extra, ok, after = names.paths(6)
    # Real failures, made by the judge: a refused connection (a loopback port nobody listens on), a connection
    # closed or reset before any answer (aiohttp retries a GET once when that happens: two requests, one error),
    # a URL the site does not list (closed too). A TimeoutError at once is mocked in the student process.
    extra_error, extra_drop = rng.choice([("ServerDisconnectedError", "close"), ("ClientOSError", "reset")])
    links = [down, timeout, unserved, extra, ok]
    rng.shuffle(links)
    with ServedSite() as served:
        host = rng.choice(HOSTS)
        site, refusing = served.origin(host), served.refusing(host)
        links[links.index(down)] = refusing + down
        pages = [
            page(f"{site}/", *links),
            page(site + extra, drop=extra_drop),
            page(site + ok, after),
            page(site + after),
        ]
        result, seen = run_crawl(student, served, pages, f"{site}/", failing={site + timeout: ["TimeoutError", ""]})
    assert_nothing_left_running(seen, what="crawl with failing fetches")
    expected_errors = {
        refusing + down: "ClientConnectorError",
        site + timeout: "TimeoutError",
        site + unserved: "ServerDisconnectedError",
        site + extra: extra_error,
    }
    assert same(result.errors, expected_errors), f"expected errors {expected_errors!r}, got {result.errors!r}"
    expected_pages = {f"{site}/": 200, site + ok: 200, site + after: 200}
    assert same(result.pages, expected_pages), (
        f"expected pages {expected_pages!r} (failed fetches have no status), got {result.pages!r}"
    )
    assert seen["requested"].get(site + after), (
        f"the judge's server never saw {after} requested: after a failed fetch the crawl goes on"
    )


@pytest.mark.points(2)
def test_crawl_uses_the_given_session_and_leaves_it_open(student):
    """crawl(session=s) makes its requests with s, opens no session of its own and does not close s."""
    rng = student.rng
    names = Names(rng)
    children = names.paths(rng.randint(1, 3))
    mark = names.word()
    with ServedSite() as served:
        site = served.origin(rng.choice(HOSTS))
        pages = [page(f"{site}/", *children), *(page(site + c) for c in children)]
        result, seen = run_crawl(student, served, pages, f"{site}/", given_session={SESSION_HEADER: mark})
    assert not seen["given_closed"], "crawl closed the session it was given: the caller owns it and closes it"
    assert len(result.pages) == len(pages), f"expected {len(pages)} pages, got {result.pages!r}"
    created = seen["sessions_created"]
    assert created == 0, f"crawl was given a session but created {created} more; use the one given"
    without = [visit.url for visit in seen["visits"] if visit.headers.get(SESSION_HEADER) != mark]
    assert not without, (
        f"crawl was given a session, yet the judge's server saw requests made without it: {without!r}; use the one given"
    )


@pytest.mark.points(2)
def test_crawl_opens_and_closes_its_own_session(student):
    """Without a session, crawl opens exactly one ClientSession for the whole crawl and closes it."""
    rng = student.rng
    names = Names(rng)
    children = names.paths(rng.randint(2, 4))
    with ServedSite() as served:
        site = served.origin(rng.choice(HOSTS))
        pages = [page(f"{site}/", *children), *(page(site + c) for c in children)]
        result, seen = run_crawl(student, served, pages, f"{site}/")
    assert len(result.pages) == len(pages), f"expected {len(pages)} pages, got {result.pages!r}"
    assert seen["sessions_created"] == 1, (
        f"expected one session for the whole crawl, {seen['sessions_created']} were created "
        "(one per request throws away the connection pool)"
    )
    assert_sessions_closed(seen, what="crawl")


@pytest.mark.points(2)
def test_crawl_leaves_nothing_running(student):
    """When crawl returns, no task it started is pending and its session is closed, failures or not."""
    rng = student.rng
    names = Names(rng)
    children = names.paths(rng.randint(6, 10))
    failing = set(rng.sample(range(len(children)), rng.randint(2, 4)))
    with ServedSite() as served:
        site = served.origin(rng.choice(HOSTS))
        pages = [page(f"{site}/", *children)]
        for i, child in enumerate(children):
            if i in failing:  # the judge's server closes the connection: ServerDisconnectedError
                pages.append(page(site + child, drop="close"))
            else:
                pages.append(page(site + child, delay=rng.randint(0, 9)))
        result, seen = run_crawl(student, served, pages, f"{site}/", concurrency=3)
    assert_nothing_left_running(seen, what="crawl")
    assert_sessions_closed(seen, what="crawl")
    errors, fetched = len(failing), len(children) - len(failing) + 1
    assert len(result.errors) == errors and len(result.pages) == fetched, (
        f"expected {fetched} pages and {errors} errors, got pages {result.pages!r} and errors {result.errors!r}"
    )


@pytest.mark.points(2)
def test_crawl_cancelled_stops_everything(student):
    """Cancelling crawl mid-way raises CancelledError, stops every request and closes its session."""
    rng = student.rng
    names = Names(rng)
    children = names.paths(rng.randint(4, 8))
    delay = rng.randint(6, 15)
    cancel_after = rng.randint(1, delay - 1)
    with ServedSite() as served:
        site = served.origin(rng.choice(HOSTS))
        served.show([page(f"{site}/", *children), *(page(site + c, delay=delay) for c in children)])
        try:
            seen = student.run(p09.crawl_cancelled, clock=served.clock, start=f"{site}/",
                               options={"concurrency": 3}, cancel_after=cancel_after, wait=30).value("crawl")
        finally:
            served.close()
    if "done_early" not in seen:
        unwrap(seen["outcome"], what="crawl")
    if seen["done_early"]:
        result = unwrap(seen["outcome"], what="crawl")  # raises what crawl raised
        raise AssertionError(f"crawl returned {result!r} after {cancel_after} s, while every page takes {delay} s")
    # Counted by the judge's server: requests that came before the cancellation and had not been answered.
    at_cancel = [v for v in served.visits if v.arrived < cancel_after and (v.left is None or v.left >= cancel_after)]
    assert at_cancel, (
        f"expected requests in flight {cancel_after} s into the crawl (each page takes {delay} s)"
    )
    if not seen["finished"]:
        raise AssertionError(f"crawl was still running 30 s after it was cancelled. {hints.SWALLOWED_CANCEL}")
    if not seen["cancelled"]:
        error = raised(seen["outcome"])
        outcome = f"raised {error!r}" if error is not None else f"returned {seen['outcome'].get('value')!r}"
        raise AssertionError(f"a cancelled crawl must raise CancelledError, it {outcome}. {hints.SWALLOWED_CANCEL}")
    assert_nothing_left_running(seen, what="the cancelled crawl")
    # The scenario let whatever the crawl left behind run on for a while: the judge's server saw if requests did.
    ended = seen["ended"]
    after = [v for v in served.visits if v.arrived > ended or v.left is None or v.left > ended]
    assert not after, (
        f"{len(after)} request(s) still in flight after crawl was cancelled. {hints.LEFT_RUNNING}"
    )
    assert_sessions_closed(seen, what="the cancelled crawl")


@pytest.mark.points(1)
def test_crawl_slow_page_does_not_hold_up_the_others(student):
    """A slow page is waited for, while the other pages are fetched meanwhile."""
    rng = student.rng
    names = Names(rng)
    slow, a, b, c, d = names.paths(5)
    slowness = rng.randint(4, 8)
    links = [slow, a, b, c]
    rng.shuffle(links)
    with ServedSite() as served:
        site = served.origin(rng.choice(HOSTS))
        pages = [
            page(f"{site}/", *links, delay=1),
            page(site + slow, delay=slowness),
            page(site + a, d, delay=1),
            page(site + b, delay=1),
            page(site + c, delay=1),
            page(site + d, delay=1),
        ]
        result, seen = run_crawl(student, served, pages, f"{site}/", concurrency=5)
    assert same(result.pages.get(site + slow), 200), f"expected the slow page fetched with 200, got {result.pages!r}"
    assert len(result.pages) == 6, f"expected 6 pages, got {sorted(result.pages)!r}"
    bound = slowness + 2
    assert seen["took"] <= bound, (
        f"expected at most {bound} s (1 s start page, then the {slowness} s page alongside the others), "
        f"took {seen['took']:g} s. {hints.SEQUENTIAL}"
    )


@pytest.mark.points(2)
def test_crawl_links_lists_in_scope_links_of_each_page(student):
    """result.links maps each HTML page to its links on the start host, in document order, already-seen ones included."""
    rng = student.rng
    names = Names(rng)
    a, b = names.paths(2)
    with ServedSite() as served:
        site, other = served.origin("localhost"), served.origin("127.0.0.1")
        sub = site.replace("http://", f"http://{names.word()}.")
        pages = [
            page(f"{site}/", a, other + "/", b, f"mailto:x@{site[7:]}", f"{a}#again", sub + "/x"),
            page(site + a, "/", b, other + "/y"),
            page(site + b),
        ]
        result, seen = run_crawl(student, served, pages, f"{site}/", max_depth=3)
    assert set(result.pages) == {f"{site}/", site + a, site + b}, (
        f"expected only /, {a} and {b} fetched (other hosts, subdomains included, are out of scope), "
        f"got {sorted(result.pages)!r}"
    )
    assert_never_fetched(seen, other + "/", other + "/y", sub + "/x", why="it is on another host")
    assert same(result.links.get(f"{site}/"), [site + a, site + b]), (
        f"links of /: expected [{site + a!r}, {site + b!r}] (in scope, once, in document order), "
        f"got {result.links.get(f'{site}/')!r}"
    )
    assert same(result.links.get(site + a), [f"{site}/", site + b]), (
        f"links of {a}: expected [{site + '/'!r}, {site + b!r}] (every in-scope link on the page, also those already "
        f"seen), got {result.links.get(site + a)!r}"
    )


@pytest.mark.points(1)
def test_crawl_normalizes_the_start_url(student):
    """The start URL is normalized like any link: HTTP://Site.TEST:80#intro is http://site.test/, fetched once."""
    rng = student.rng
    names = Names(rng)
    a = "/" + names.word()
    with ServedSite() as served:
        site = served.origin("localhost")
        pages = [page(f"{site}/", a, "/"), page(site + a, site + "/")]
        host = site[len("http://"):]
        written = "".join(ch.upper() if rng.random() < 0.5 else ch for ch in host)
        start = f"HTTP://{written}#{names.word()}"
        result, seen = run_crawl(student, served, pages, start)
    expected = {f"{site}/": 200, site + a: 200}
    assert same(result.pages, expected), (
        f"expected pages {expected!r} (keys are normalized URLs), got {result.pages!r} and errors {result.errors!r}"
    )
    assert_each_fetched_once(seen, what="a start URL written in another form")


@pytest.mark.points(2)
def test_crawl_real_site_on_loopback(student):
    """End to end against a real aiohttp server: statuses, redirects, non-HTML pages, off-host links and the cap hold."""
    rng = student.rng
    names = Names(rng)
    a, b, c, old, intro, missing = names.paths(6)
    docs = f"/{names.word()}/"
    data, logo = f"/{names.word()}.json", f"/{names.word()}.png"
    key = names.word()
    concurrency = rng.randint(1, 3)
    with ServedSite() as served:
        base, other = served.origin("127.0.0.1"), served.origin("localhost")
        answer_after = rng.choice([0.05, 0.25, 1])
        pages = [
            page(f"{base}/", a, b, old, data, logo, missing, f"{other}/trap", "mailto:x@y.test"),
            page(base + a, "/", c, f"{c}?{key}=1"),
            page(base + b, f"{a}#frag", c),
            page(base + c),
            page(f"{base}{c}?{key}=1"),
            page(base + old, status=302, headers={"Location": docs}),
            page(base + docs, intro[1:]),
            page(base + docs + intro[1:]),
            page(base + data, body='<a href="/json-trap">x</a>', content_type="application/json"),
            page(base + logo, body=b'\x89PNG\r\n<a href="/img-trap">x</a>', content_type="image/png"),
            page(base + missing, "/trap404", status=404),
        ]
        for entry in pages:
            entry["delay"] = answer_after
        result, seen = run_crawl(student, served, pages, f"{base}/", max_depth=3, concurrency=concurrency)
    hits = seen["requested"]
    assert_nothing_left_running(seen, what="crawl")
    assert_sessions_closed(seen, what="crawl")

    assert same(result.errors, {}), f"expected no errors from the loopback site, got {result.errors!r}"
    for path in ("/", a, b, c, f"{c}?{key}=1", docs + intro[1:], data, logo):
        assert same(result.pages.get(base + path), 200), f"expected {base}{path} with status 200, got pages {result.pages!r}"
    assert same(result.pages.get(base + missing), 404), f"expected {missing} with 404, got {result.pages!r}"
    assert result.pages.get(base + old) in (302, 200), f"expected {old} with 302 or 200, got {result.pages!r}"
    traps = {url: n for url, n in hits.items() if "trap" in url}
    assert not traps, f"crawl requested {traps!r}: off-host links, links in non-HTML pages and on 404 pages must not be followed"
    off_site = [url for url in [*result.pages, *result.errors] if url.startswith(other)]
    assert not off_site, f"crawl fetched {off_site!r}: localhost is another host than 127.0.0.1"
    twice = {url: n for url, n in hits.items() if n > 1}
    assert not twice, f"the server saw these paths requested more than once: {twice!r}"
    assert seen["peak"] <= concurrency, f"concurrency={concurrency}, but the server saw {seen['peak']} requests at once"
