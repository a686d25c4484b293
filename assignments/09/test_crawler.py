"""Public tests for assignment 09. Run them with `pytest assignments/09`.

Each test asks for a *scenario* (`coursekit/probes/p09.py`): a probe that
calls your functions and reports what it saw as plain data. Locally the
scenario runs right here, so your prints and breakpoints work; when graded
it runs in a process of its own, apart from the tests.

A crawl runs on a virtual clock (`await asyncio.sleep(30)` costs no real
time) against a site the test describes as plain data (pages with their
links, statuses and delays) and the judge serves itself: a real aiohttp server
on loopback (`p09.ServedSite`), whose clock moves with your loop's.
`http://127.0.0.1:PORT` and `http://localhost:PORT` reach that one server and
are two hosts for your crawler. The server counts the requests (which URLs,
how many times, how many in flight at once) and drops a URL the site does not
list. Your `CrawlResult` comes back as a record: `result.pages`,
`result.errors` and `result.links` are plain dicts. `main` runs its own event
loop, so its tests mock the site on `http://site.test` with aioresponses.
"""
import xml.etree.ElementTree as ET

import pytest

from coursekit import hints
from coursekit.judge import Record, unwrap
from coursekit.probes import p09
from coursekit.probes.p09 import ServedSite
from coursekit.site import json_summary
from coursekit.testing import assert_same

STUDENT_MODULE = "crawler"
SITE = "http://site.test"
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def page(path, *links, **answer):
    """One page of a site: an HTML page linking to `links` at SITE + path, or at path if it is a URL (or another answer)."""
    return {"url": path if path.startswith("http") else SITE + path, "links": list(links), **answer}


def run_crawl(student, served, pages, start, *, given_session=None, **options):
    """crawl(start, **options) against `pages`, served by the judge's `served` site; what your process saw.

    Then the site is closed: its `requested()` (URL -> count), `peak`
    (requests in flight at once) and `ended` (the shared clock when your run
    ended; it starts at 0) are the judge's counts. The report returned says
    what only your process sees (`outcome`, `left_running`, sessions).
    """
    served.show(pages)
    try:
        return student.run(p09.crawl_site, clock=served.clock, start=start, options=options,
                           given_session=given_session, within=60).value("crawl")
    finally:
        served.close()


def crawl_result(outcome, *, what="crawl"):
    """The CrawlResult of a crawl's outcome, as a record with dicts pages, errors and links."""
    result = unwrap(outcome, what=what)
    if not isinstance(result, Record) or not {"pages", "errors", "links"} <= set(result.fields):
        raise AssertionError(f"{what} should return a CrawlResult (pages, errors, links), got {result!r}")
    for name in ("pages", "errors", "links"):
        value = result.fields[name]
        assert type(value) is dict, f"{what}: result.{name} should be a dict, got {value!r}"
    return result


@pytest.mark.points(4)
def test_normalize_url_resolves_drops_fragment_and_lowercases(student):
    """normalize_url resolves relative URLs, drops the fragment, lowercases scheme and host, fills an empty path."""
    cases = [
        (("page.html", "http://site.test/docs/index.html"), "http://site.test/docs/page.html"),
        (("/about#team", "http://site.test/docs/"), "http://site.test/about"),
        (("HTTPS://Site.TEST/Path/To", None), "https://site.test/Path/To"),
        (("http://site.test", None), "http://site.test/"),
    ]
    seen = student.run(p09.call_each, function="normalize_url",
                       calls=[list(args) for args, _ in cases]).value("normalize_url")
    for ((url, base), expected), outcome in zip(cases, seen["outcomes"]):
        what = f"normalize_url({url!r}, {base!r})"
        assert_same(unwrap(outcome, what=what), expected, what=what)


@pytest.mark.points(3)
def test_normalize_url_rejects_non_http(student):
    """normalize_url returns None for mailto:, javascript: and ftp: URLs."""
    urls = ["mailto:someone@site.test", "javascript:void(0)", "ftp://site.test/file.txt"]
    seen = student.run(p09.call_each, function="normalize_url",
                       calls=[[url, "http://site.test/"] for url in urls]).value("normalize_url")
    for url, outcome in zip(urls, seen["outcomes"]):
        got = unwrap(outcome, what=f"normalize_url({url!r}, 'http://site.test/')")
        assert got is None, f"normalize_url({url!r}, 'http://site.test/'): expected None (not http/https), got {got!r}"


@pytest.mark.points(4)
def test_extract_links_in_document_order_without_duplicates(student):
    """extract_links returns each <a href> normalized, once, in document order; <a> without href is ignored."""
    html = (
        '<html><body><a href="/b">B</a> <a name="top">no href</a>'
        '<div><a href="a.html#part">A</a></div><a href="/b#again">B again</a>'
        '<a href="mailto:x@site.test">mail</a><a href="http://other.test/">other</a></body></html>'
    )
    seen = student.run(p09.call_each, function="extract_links", calls=[[html, "http://site.test/dir/"]])
    got = unwrap(seen.value("extract_links")["outcomes"][0], what="extract_links")
    expected = ["http://site.test/b", "http://site.test/dir/a.html", "http://other.test/"]
    assert_same(got, expected, what="extract_links (document order, duplicates and mailto: dropped, off-site links kept)")


@pytest.mark.points(7)
def test_crawl_small_site(student):
    """crawl fetches every page of a small site once, records statuses and in-scope links, never leaves the host."""
    with ServedSite() as served:
        site, other = served.origin("127.0.0.1"), served.origin("localhost")
        pages = [
            page(f"{site}/", "/a", "/b", f"{other}/x", "mailto:me@site.test"),
            page(f"{site}/a", "/", "/b", "/c"),
            page(f"{site}/b"),
            page(f"{site}/c", "/never", status=404),
        ]
        seen = run_crawl(student, served, pages, f"{site}/")
    result = crawl_result(seen["outcome"])
    assert not seen["left_running"], (
        f"crawl returned while {len(seen['left_running'])} task(s) it started were still running. {hints.LEFT_RUNNING}"
    )
    requested = served.requested()
    assert f"{other}/x" not in requested, f"crawl fetched an off-site link ({other}/x): follow only the start URL's host"
    assert f"{site}/never" not in requested, "crawl fetched /never, linked only from a 404 page: follow links only from 2xx pages"
    expected = {f"{site}/": 200, f"{site}/a": 200, f"{site}/b": 200, f"{site}/c": 404}
    assert_same(result.pages, expected, what="result.pages")
    assert_same(result.errors, {}, what="result.errors")
    assert_same(result.links.get(f"{site}/"), [f"{site}/a", f"{site}/b"], what="the in-scope links of the start page")
    twice = {url: n for url, n in requested.items() if n > 1}
    assert not twice, f"each URL must be fetched at most once; fetched more than once: {twice!r}"


@pytest.mark.points(5)
def test_crawl_caps_concurrency(student):
    """crawl(concurrency=4) keeps exactly 4 requests in flight while there is enough work, never more."""
    children = [f"/p{i}" for i in range(12)]
    with ServedSite() as served:
        site = served.origin("127.0.0.1")
        pages = [page(f"{site}/", *children, delay=1), *(page(site + child, delay=1) for child in children)]
        seen = run_crawl(student, served, pages, f"{site}/", concurrency=4, given_session={})
    result = crawl_result(seen["outcome"])
    assert len(result.pages) == 13, f"expected 13 pages fetched, got {len(result.pages)}: {sorted(result.pages)!r}"
    assert served.peak <= 4, f"at most 4 requests may be in flight, saw {served.peak} (the cap must hold with the session you are given)"
    assert served.peak == 4, f"expected 4 requests in flight at once, saw at most {served.peak}. {hints.SEQUENTIAL}"
    assert served.ended == 4, f"expected 1 s for the start page + 3 rounds of 4 pages = 4 s, took {served.ended:g} s"


@pytest.mark.points(3)
def test_to_sitemap_lists_2xx_pages_sorted(student):
    """to_sitemap lists the 2xx pages, sorted, in the sitemaps.org namespace."""
    seen = student.run(p09.sitemap_of, pages={SITE + "/z": 200, SITE + "/a": 200, SITE + "/gone": 404},
                       errors={SITE + "/down": "ClientConnectionError"}, links={}).value("to_sitemap")
    unwrap(seen["built"], what="CrawlResult(pages=..., errors=..., links=...)")
    xml = unwrap(seen["outcome"], what="to_sitemap")
    assert isinstance(xml, str), f"to_sitemap should return a str, got {xml!r}"
    root = ET.fromstring(xml)
    assert root.tag == f"{SITEMAP_NS}urlset", f"expected the root <urlset> in namespace {SITEMAP_NS}, got {root.tag!r}"
    locs = [(loc.text or "").strip() for loc in root.iter(f"{SITEMAP_NS}loc")]
    assert locs == [SITE + "/a", SITE + "/z"], f"expected the 2xx pages sorted ['{SITE}/a', '{SITE}/z'], got {locs!r}"


@pytest.mark.points(5)
def test_main_prints_summary(student):
    """main([URL]) crawls, prints {"pages": n, "errors": n} as JSON on stdout and returns 0."""
    site = [page("/", "/a", "/down"), page("/a")]
    run, = student.run(p09.main_runs, pages=site, runs=[[SITE + "/"]]).value("main")["runs"]
    assert_same(unwrap(run["outcome"], what="main"), 0, what="main's return value after a crawl")
    summary = json_summary(run["stdout"])
    assert summary.get("pages") == 2 and summary.get("errors") == 1, (
        f'expected {{"pages": 2, "errors": 1}} (/ and /a fetched, /down failed), got {summary!r}'
    )


@pytest.mark.points(2)
def test_main_bad_option_returns_2(student):
    """main with an option that is not a number explains it on stderr, crawls nothing and returns 2 (no SystemExit)."""
    run, = student.run(p09.main_runs, pages=[page("/")],
                       runs=[[SITE + "/", "--max-depth", "deep"]]).value("main")["runs"]
    error = run["outcome"].get("raised")
    if error is not None and error.is_a("SystemExit"):
        raise AssertionError(
            f"main raised SystemExit({error.attributes.get('code')!r}) for --max-depth deep; return 2 instead. "
            "argparse calls sys.exit on bad usage: catch SystemExit around parse_args."
        )
    code = unwrap(run["outcome"], what="main")
    assert_same(code, 2, what="main's return value for --max-depth deep")
    assert run["stderr"].strip(), "main should say on stderr what is wrong with --max-depth deep; stderr was empty"
    assert not run["requested"], f"bad usage must not start a crawl, yet these were fetched: {run['requested']!r}"
