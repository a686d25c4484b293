"""Public tests for assignment 09. Run them with `pytest assignments/09`.

The event loop runs on a virtual clock here: `await asyncio.sleep(30)` costs
no real time, and `looptime` is the loop's time in seconds since the test began.
HTTP is mocked with aioresponses (the `mock_http` fixture): a URL the test did
not register fails with ClientConnectionError, so an off-site request shows up.
`traffic` answers the mocked pages and counts the requests in flight.
"""
import xml.etree.ElementTree as ET

import aiohttp
import pytest

import crawler
from coursekit import hints
from coursekit.site import SITE, SITEMAP_NS, Site, json_summary, site  # noqa: F401  (site is a fixture)
from coursekit.testing import assert_nothing_left_running, assert_same, tasks_now, within



@pytest.mark.points(4)
def test_normalize_url_resolves_drops_fragment_and_lowercases():
    """normalize_url resolves relative URLs, drops the fragment, lowercases scheme and host, fills an empty path."""
    cases = [
        (("page.html", "http://site.test/docs/index.html"), "http://site.test/docs/page.html"),
        (("/about#team", "http://site.test/docs/"), "http://site.test/about"),
        (("HTTPS://Site.TEST/Path/To", None), "https://site.test/Path/To"),
        (("http://site.test", None), "http://site.test/"),
    ]
    for (url, base), expected in cases:
        assert_same(crawler.normalize_url(url, base), expected, what=f"normalize_url({url!r}, {base!r})")


@pytest.mark.points(3)
def test_normalize_url_rejects_non_http():
    """normalize_url returns None for mailto:, javascript: and ftp: URLs."""
    for url in ["mailto:someone@site.test", "javascript:void(0)", "ftp://site.test/file.txt"]:
        got = crawler.normalize_url(url, "http://site.test/")
        assert got is None, f"normalize_url({url!r}, 'http://site.test/'): expected None (not http/https), got {got!r}"


@pytest.mark.points(4)
def test_extract_links_in_document_order_without_duplicates():
    """extract_links returns each <a href> normalized, once, in document order; <a> without href is ignored."""
    html = (
        '<html><body><a href="/b">B</a> <a name="top">no href</a>'
        '<div><a href="a.html#part">A</a></div><a href="/b#again">B again</a>'
        '<a href="mailto:x@site.test">mail</a><a href="http://other.test/">other</a></body></html>'
    )
    got = crawler.extract_links(html, "http://site.test/dir/")
    expected = ["http://site.test/b", "http://site.test/dir/a.html", "http://other.test/"]
    assert_same(got, expected, what="extract_links (document order, duplicates and mailto: dropped, off-site links kept)")


@pytest.mark.points(7)
async def test_crawl_small_site(site, looptime):
    """crawl fetches every page of a small site once, records statuses and in-scope links, never leaves the host."""
    site.page("/", "/a", "/b", "http://other.test/x", "mailto:me@site.test")
    site.page("/a", "/", "/b", "/c")
    site.page("/b")
    site.page("/c", "/never", status=404)
    before = tasks_now()
    result = await within(crawler.crawl(SITE + "/"), 60, what="crawl")
    assert_nothing_left_running(before, what="crawl")
    requested = site.requested()
    assert "http://other.test/x" not in requested, "crawl fetched an off-site link (http://other.test/x): follow only the start URL's host"
    assert SITE + "/never" not in requested, "crawl fetched /never, linked only from a 404 page: follow links only from 2xx pages"
    expected = {SITE + "/": 200, SITE + "/a": 200, SITE + "/b": 200, SITE + "/c": 404}
    assert_same(result.pages, expected, what="result.pages")
    assert_same(result.errors, {}, what="result.errors")
    assert_same(result.links.get(SITE + "/"), [SITE + "/a", SITE + "/b"], what="the in-scope links of the start page")
    twice = {url: n for url, n in requested.items() if n > 1}
    assert not twice, f"each URL must be fetched at most once; fetched more than once: {twice!r}"


@pytest.mark.points(5)
async def test_crawl_caps_concurrency(site, traffic, looptime):
    """crawl(concurrency=4) keeps exactly 4 requests in flight while there is enough work, never more."""
    children = [f"/p{i}" for i in range(12)]
    site.page("/", *children, delay=1)
    for child in children:
        site.page(child, delay=1)
    async with aiohttp.ClientSession() as session:
        result = await within(crawler.crawl(SITE + "/", concurrency=4, session=session), 60, what="crawl")
    assert len(result.pages) == 13, f"expected 13 pages fetched, got {len(result.pages)}: {sorted(result.pages)!r}"
    assert traffic.peak <= 4, f"at most 4 requests may be in flight, saw {traffic.peak} (the cap must hold with the session you are given)"
    assert traffic.peak == 4, f"expected 4 requests in flight at once, saw at most {traffic.peak}. {hints.SEQUENTIAL}"
    assert looptime == 4, f"expected 1 s for the start page + 3 rounds of 4 pages = 4 s, took {float(looptime):g} s"


@pytest.mark.points(3)
def test_to_sitemap_lists_2xx_pages_sorted():
    """to_sitemap lists the 2xx pages, sorted, in the sitemaps.org namespace."""
    result = crawler.CrawlResult(
        pages={SITE + "/z": 200, SITE + "/a": 200, SITE + "/gone": 404},
        errors={SITE + "/down": "ClientConnectionError"},
        links={},
    )
    xml = crawler.to_sitemap(result)
    root = ET.fromstring(xml)
    assert root.tag == f"{SITEMAP_NS}urlset", f"expected the root <urlset> in namespace {SITEMAP_NS}, got {root.tag!r}"
    locs = [(loc.text or "").strip() for loc in root.iter(f"{SITEMAP_NS}loc")]
    assert locs == [SITE + "/a", SITE + "/z"], f"expected the 2xx pages sorted ['{SITE}/a', '{SITE}/z'], got {locs!r}"


@pytest.mark.points(5)
def test_main_prints_summary(mock_http, traffic, capsys):
    """main([URL]) crawls, prints {"pages": n, "errors": n} as JSON on stdout and returns 0."""
    site = Site(mock_http, traffic)
    site.page("/", "/a", "/down")
    site.page("/a")
    code = crawler.main([SITE + "/"])
    out = capsys.readouterr().out
    assert_same(code, 0, what="main's return value after a crawl")
    summary = json_summary(out)
    assert summary.get("pages") == 2 and summary.get("errors") == 1, (
        f'expected {{"pages": 2, "errors": 1}} (/ and /a fetched, /down failed), got {summary!r}'
    )


@pytest.mark.points(2)
def test_main_bad_option_returns_2(mock_http, traffic, capsys):
    """main with an option that is not a number explains it on stderr, crawls nothing and returns 2 (no SystemExit)."""
    site = Site(mock_http, traffic)
    site.page("/")
    try:
        code = crawler.main([SITE + "/", "--max-depth", "deep"])
    except SystemExit as exc:
        raise AssertionError(
            f"main raised SystemExit({exc.code!r}) for --max-depth deep; return 2 instead. "
            "argparse calls sys.exit on bad usage: catch SystemExit around parse_args."
        ) from None
    captured = capsys.readouterr()
    assert_same(code, 2, what="main's return value for --max-depth deep")
    assert captured.err.strip(), "main should say on stderr what is wrong with --max-depth deep; stderr was empty"
    assert not site.requested(), f"bad usage must not start a crawl, yet these were fetched: {dict(site.requested())!r}"
