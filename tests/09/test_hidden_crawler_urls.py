"""Hidden tests for assignment 09, part 1: normalize_url, extract_links and to_sitemap."""
import xml.etree.ElementTree as ET

import pytest

import crawler
from coursekit.testing import same

SITE = "http://site.test"
NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
SITEMAP_NS = "{" + NS + "}"


def check_cases(cases):
    """Compare normalize_url against (url, base) -> expected pairs, naming the first mismatch."""
    for (url, base), expected in cases:
        got = crawler.normalize_url(url, base)
        assert same(got, expected), f"normalize_url({url!r}, {base!r}): expected {expected!r}, got {got!r}"


def sitemap_locs(xml: str) -> list[str]:
    """Parse a sitemap (it must be well-formed XML) and return its <loc> texts in order."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise AssertionError(f"to_sitemap must return well-formed XML; parsing failed: {exc}. Escape & as &amp;") from None
    assert root.tag == f"{SITEMAP_NS}urlset", (
        f'expected the root element <urlset xmlns="{NS}">, got {root.tag!r}'
    )
    urls = root.findall(f"{SITEMAP_NS}url")
    locs = [(url.findtext(f"{SITEMAP_NS}loc") or "").strip() for url in urls]
    assert len(urls) == len(list(root)), "every child of <urlset> should be a <url> element"
    return locs


@pytest.mark.points(2)
def test_normalize_url_drops_default_ports_only():
    """normalize_url drops :80 for http and :443 for https, and keeps every other port; IPv6 hosts keep their brackets."""
    check_cases([
        (("http://site.test:80/a", None), "http://site.test/a"),
        (("https://site.test:443/a", None), "https://site.test/a"),
        (("http://site.test:8080/a", None), "http://site.test:8080/a"),
        (("http://site.test:443/a", None), "http://site.test:443/a"),
        (("https://site.test:80/a", None), "https://site.test:80/a"),
        (("HTTP://SITE.test:80", None), "http://site.test/"),
        (("http://[::1]:80/a", None), "http://[::1]/a"),
        (("HTTP://[FE80::1]:8080/", None), "http://[fe80::1]:8080/"),
    ])


@pytest.mark.points(2)
def test_normalize_url_keeps_query_and_fills_empty_path():
    """normalize_url keeps the query unchanged and turns an empty path into "/"."""
    check_cases([
        (("http://site.test?page=2", None), "http://site.test/?page=2"),
        (("http://site.test/search?q=Async&lang=en#results", None), "http://site.test/search?q=Async&lang=en"),
        (("https://site.test", None), "https://site.test/"),
        (("?page=3", "http://site.test/list?page=2"), "http://site.test/list?page=3"),
    ])


@pytest.mark.points(1)
def test_normalize_url_relative_forms():
    """normalize_url resolves ../, ./, protocol-relative //host and absolute URLs against the base."""
    base = "https://site.test/docs/guide/intro.html"
    check_cases([
        (("../api/", base), "https://site.test/docs/api/"),
        (("./setup.html", base), "https://site.test/docs/guide/setup.html"),
        (("//CDN.site.test/lib.js", base), "https://cdn.site.test/lib.js"),
        (("http://Other.test/x#y", base), "http://other.test/x"),
        (("#top", base), base),
    ])


@pytest.mark.points(1)
def test_normalize_url_keeps_user_info_as_written():
    """user:password@ is kept exactly as written (case too); only the host after it is lowercased and loses :80."""
    check_cases([
        (("http://Ann:S3cret@Site.TEST:80/a#part", None), "http://Ann:S3cret@site.test/a"),
        (("https://Bob@site.test", None), "https://Bob@site.test/"),
        (("/next", "http://ann:pw@site.test:8080/dir/"), "http://ann:pw@site.test:8080/next"),
    ])


@pytest.mark.points(1)
def test_normalize_url_without_base():
    """Without a base, an absolute URL is normalized; a relative one, or an http URL with no host, gives None."""
    check_cases([
        (("http://", None), None),
        (("http:///just/a/path", None), None),
        (("HTTP://Site.Test/A#b", None), "http://site.test/A"),
        (("/relative/path", None), None),
        (("page.html", None), None),
    ])


@pytest.mark.points(1)
def test_normalize_url_rejects_other_schemes():
    """normalize_url returns None for every scheme but http and https, whatever its case."""
    for url in ["JavaScript:alert(1)", "MAILTO:a@site.test", "FTP://site.test/", "file:///etc/passwd",
                "data:text/html,<p>x</p>", "tel:+123456"]:
        got = crawler.normalize_url(url, "http://site.test/")
        assert got is None, f"normalize_url({url!r}, 'http://site.test/'): expected None (not http/https), got {got!r}"


@pytest.mark.points(2)
def test_extract_links_drops_duplicates_after_normalization():
    """extract_links keeps one entry per normalized URL, at the place of its first occurrence."""
    html = (
        '<a href="/a">1</a><a href="/b">2</a><a href="/a#frag">3</a>'
        '<a href="HTTP://SITE.TEST:80/a">4</a><a href="a">5</a><a href="http://site.test/b?x=1">6</a>'
        '<a href="/b">7</a>'
    )
    got = crawler.extract_links(html, SITE + "/")
    expected = [SITE + "/a", SITE + "/b", SITE + "/b?x=1"]
    assert same(got, expected), (
        f"expected {expected!r}: /a#frag, HTTP://SITE.TEST:80/a and a are all {SITE}/a once normalized; got {got!r}"
    )


@pytest.mark.points(2)
def test_extract_links_drops_invalid_and_non_http():
    """extract_links drops mailto:, javascript:, ftp:, tel: and malformed hrefs, and keeps the rest."""
    html = (
        '<a href="mailto:x@site.test">m</a><a href="javascript:void(0)">j</a>'
        '<a href="/ok">ok</a><a href="ftp://site.test/f">f</a><a href="http://[::1">broken</a>'
        '<a href="tel:+1">t</a><a href="https://site.test/secure">s</a>'
    )
    try:
        got = crawler.extract_links(html, SITE + "/")
    except ValueError as exc:
        raise AssertionError(
            f"extract_links raised {exc!r} on a malformed href (http://[::1): drop invalid links instead"
        ) from None
    expected = [SITE + "/ok", "https://site.test/secure"]
    assert same(got, expected), f"expected only the http(s) links {expected!r}, got {got!r}"


@pytest.mark.points(2)
def test_extract_links_only_a_tags_with_href():
    """extract_links reads only <a href> (any case): not <link>, <img>, <script>, nor <a> without a value."""
    html = (
        '<html><head><link rel="stylesheet" href="/style.css"><script src="/app.js"></script></head>'
        '<body><img src="/logo.png"><a name="anchor">a</a><a href>empty</a>'
        '<A HREF="/Upper">u</A><a class="x" href="/second" id="y">s</a><a href="/self-closing"/></body></html>'
    )
    got = crawler.extract_links(html, SITE + "/")
    expected = [SITE + "/Upper", SITE + "/second", SITE + "/self-closing"]
    assert same(got, expected), f"expected only the <a href> links {expected!r}, got {got!r}"
    got = crawler.extract_links('<a href="/first" href="/again">twice</a>', SITE + "/")
    assert same(got, [SITE + "/first"]) or same(got, [SITE + "/again"]), (
        f"an <a> with two href attributes is one link (the first, as browsers read it, or the last), got {got!r}"
    )


@pytest.mark.points(1)
def test_extract_links_resolves_against_page_url():
    """extract_links resolves relative hrefs against the page URL and unescapes &amp; in attributes."""
    html = '<a href="setup.html">1</a><a href="../img/">2</a><a href="?page=2&amp;sort=new">3</a>'
    got = crawler.extract_links(html, "http://site.test/docs/guide.html")
    expected = [
        "http://site.test/docs/setup.html",
        "http://site.test/img/",
        "http://site.test/docs/guide.html?page=2&sort=new",
    ]
    assert same(got, expected), f"expected {expected!r}, got {got!r}"


@pytest.mark.points(1)
def test_extract_links_empty_and_broken_html():
    """extract_links returns [] for no links and copes with unclosed tags."""
    assert same(crawler.extract_links("", SITE + "/"), []), "extract_links('') should be []"
    assert same(crawler.extract_links("<p>no links here</p>", SITE + "/"), []), "a page without <a> has no links"
    got = crawler.extract_links('<div><a href="/x">unclosed<p><a href="/y">', SITE + "/")
    assert same(got, [SITE + "/x", SITE + "/y"]), f"expected the links of unclosed <a> tags too, got {got!r}"


@pytest.mark.points(2)
def test_to_sitemap_only_2xx_sorted_once():
    """to_sitemap lists exactly the 2xx pages, 200 to 299 (no 1xx, 3xx up to 399, 4xx, 5xx, errors), each once, sorted."""
    result = crawler.CrawlResult(
        pages={
            SITE + "/b": 200, SITE + "/moved": 301, SITE + "/a": 203, SITE + "/gone": 404,
            SITE + "/": 200, SITE + "/broken": 500, SITE + "/c?x=1": 204, SITE + "/c": 206,
            SITE + "/edge": 299, SITE + "/choices": 300, SITE + "/odd": 399, SITE + "/early": 199,
        },
        errors={SITE + "/down": "ClientConnectionError"},
        links={SITE + "/": [SITE + "/a", SITE + "/b", SITE + "/elsewhere"]},
    )
    locs = sitemap_locs(crawler.to_sitemap(result))
    expected = sorted([SITE + "/", SITE + "/a", SITE + "/b", SITE + "/c", SITE + "/c?x=1", SITE + "/edge"])
    assert locs == expected, f"expected the 2xx pages, sorted, each once: {expected!r}; got {locs!r}"


@pytest.mark.points(1)
def test_to_sitemap_escapes_ampersand():
    """to_sitemap escapes & in URLs (as &amp;), so the XML parses back to the original URL."""
    url = SITE + "/search?q=a&page=2"
    xml = crawler.to_sitemap(crawler.CrawlResult(pages={url: 200}, errors={}, links={}))
    assert "&amp;" in xml, f"expected & written as &amp; in the XML, got {xml!r}"
    locs = sitemap_locs(xml)
    assert locs == [url], f"expected the URL {url!r} back after parsing, got {locs!r}"


@pytest.mark.points(1)
def test_to_sitemap_empty():
    """to_sitemap of a result with no 2xx page is a valid, empty <urlset>."""
    xml = crawler.to_sitemap(crawler.CrawlResult(pages={SITE + "/": 500}, errors={}, links={}))
    assert isinstance(xml, str), f"to_sitemap should return a str, got {type(xml).__name__}"
    assert sitemap_locs(xml) == [], "expected no <url> entries when no page answered 2xx"
