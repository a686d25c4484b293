"""Hidden tests for assignment 09, part 1: normalize_url, extract_links and to_sitemap.

Host names, paths, ports, queries, user names and the order of the links are
drawn per run from ``student.rng`` where the contract leaves them free; the
edge cases (default ports swapped, IPv6, the status boundaries 199, 299, 300
and 399) stay in every run. The expected values are computed here.
"""
import xml.etree.ElementTree as ET

import pytest

from coursekit.judge import unwrap
from coursekit.probes import p09
from coursekit.testing import same

STUDENT_MODULE = "crawler"
NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
SITEMAP_NS = "{" + NS + "}"
CONSONANTS = "bdfgklmnprstvz"
VOWELS = "aeiou"


def word(rng, syllables=None):
    """A lowercase word of consonant-vowel syllables."""
    count = syllables or rng.randint(2, 3)
    return "".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(count))


def words(rng, count):
    """``count`` distinct words."""
    found = []
    while len(found) < count:
        candidate = word(rng)
        if candidate not in found:
            found.append(candidate)
    return found


def host(rng):
    """A host name on .test, lowercase."""
    return f"{word(rng)}{rng.randint(1, 99)}.test"


def mixed(rng, text):
    """``text`` with the case of its letters drawn at random, at least one of them upper case."""
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    chars = [c.upper() if rng.random() < 0.5 else c for c in text]
    if letters and not any(chars[i].isupper() for i in letters):
        i = rng.choice(letters)
        chars[i] = chars[i].upper()
    return "".join(chars)


def port(rng):
    """A port that is not a default one."""
    return rng.choice([rng.randint(1024, 9999), 8080, 8443])


def outcomes(student, function, calls):
    """The outcomes of ``function(*args)`` for each ``args`` of ``calls``, in one scenario."""
    return student.run(p09.call_each, function=function, calls=[list(args) for args in calls]).value(function)["outcomes"]


def check_cases(student, cases):
    """Compare normalize_url against (url, base) -> expected pairs, naming the first mismatch."""
    for ((url, base), expected), outcome in zip(cases, outcomes(student, "normalize_url", [c for c, _ in cases])):
        got = unwrap(outcome, what=f"normalize_url({url!r}, {base!r})")
        assert same(got, expected), f"normalize_url({url!r}, {base!r}): expected {expected!r}, got {got!r}"


def extract(student, html, base):
    """extract_links(html, base)."""
    outcome, = outcomes(student, "extract_links", [(html, base)])
    return unwrap(outcome, what="extract_links")


def anchors(hrefs):
    """One <a> per href, in order."""
    return "".join(f'<a href="{href}">{i}</a>' for i, href in enumerate(hrefs))


def sitemap(student, pages, errors=None, links=None):
    """to_sitemap(CrawlResult(pages, errors, links)), built with the student's class."""
    seen = student.run(p09.sitemap_of, pages=pages, errors=errors or {}, links=links or {}).value("to_sitemap")
    unwrap(seen["built"], what="CrawlResult(pages=..., errors=..., links=...)")
    return unwrap(seen["outcome"], what="to_sitemap")


def sitemap_locs(xml) -> list[str]:
    """Parse a sitemap (it must be well-formed XML) and return its <loc> texts in order."""
    assert isinstance(xml, str), f"to_sitemap should return a str, got {xml!r}"
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
def test_normalize_url_drops_default_ports_only(student):
    """normalize_url drops :80 for http and :443 for https, and keeps every other port; IPv6 hosts keep their brackets."""
    rng = student.rng
    h, path, other = host(rng), "/" + word(rng), port(rng)
    v6, link_local = rng.randint(1, 0xFFFF), rng.randint(0xA000, 0xFFFF)  # the second has hex letters
    check_cases(student, [
        ((f"http://{h}:80{path}", None), f"http://{h}{path}"),
        ((f"https://{h}:443{path}", None), f"https://{h}{path}"),
        ((f"http://{h}:{other}{path}", None), f"http://{h}:{other}{path}"),
        ((f"http://{h}:443{path}", None), f"http://{h}:443{path}"),
        ((f"https://{h}:80{path}", None), f"https://{h}:80{path}"),
        ((f"HTTP://{h.upper()}:80", None), f"http://{h}/"),
        ((f"http://[::{v6:x}]:80{path}", None), f"http://[::{v6:x}]{path}"),
        ((f"HTTP://[FE80::{link_local:X}]:{other}/", None), f"http://[fe80::{link_local:x}]:{other}/"),
    ])


@pytest.mark.points(2)
def test_normalize_url_keeps_query_and_fills_empty_path(student):
    """normalize_url keeps the query unchanged and turns an empty path into "/"."""
    rng = student.rng
    h, key, page, term = host(rng), word(rng), word(rng), mixed(rng, word(rng))
    n = rng.randint(2, 50)
    check_cases(student, [
        ((f"http://{h}?{key}={n}", None), f"http://{h}/?{key}={n}"),
        ((f"http://{h}/{page}?q={term}&lang=en#results", None), f"http://{h}/{page}?q={term}&lang=en"),
        ((f"https://{h}", None), f"https://{h}/"),
        ((f"?{key}={n + 1}", f"http://{h}/{page}?{key}={n}"), f"http://{h}/{page}?{key}={n + 1}"),
    ])


@pytest.mark.points(1)
def test_normalize_url_relative_forms(student):
    """normalize_url resolves ../, ./, protocol-relative //host and absolute URLs against the base."""
    rng = student.rng
    h, cdn, other = host(rng), host(rng), host(rng)
    top, folder, name, api, setup, lib, x = words(rng, 7)
    base = f"https://{h}/{top}/{folder}/{name}.html"
    check_cases(student, [
        ((f"../{api}/", base), f"https://{h}/{top}/{api}/"),
        ((f"./{setup}.html", base), f"https://{h}/{top}/{folder}/{setup}.html"),
        ((f"//{mixed(rng, cdn)}/{lib}.js", base), f"https://{cdn}/{lib}.js"),
        ((f"http://{mixed(rng, other)}/{x}#y", base), f"http://{other}/{x}"),
        (("#top", base), base),
    ])


@pytest.mark.points(1)
def test_normalize_url_keeps_user_info_as_written(student):
    """user:password@ is kept exactly as written (case too); only the host after it is lowercased and loses :80."""
    rng = student.rng
    h = host(rng)
    user, other_user, pw = mixed(rng, word(rng)), mixed(rng, word(rng)), mixed(rng, word(rng)) + str(rng.randint(0, 99))
    low_user, low_pw, path, folder, nxt = word(rng), word(rng), word(rng), word(rng), word(rng)
    custom = port(rng)
    check_cases(student, [
        ((f"http://{user}:{pw}@{mixed(rng, h)}:80/{path}#part", None), f"http://{user}:{pw}@{h}/{path}"),
        ((f"https://{other_user}@{h}", None), f"https://{other_user}@{h}/"),
        ((f"/{nxt}", f"http://{low_user}:{low_pw}@{h}:{custom}/{folder}/"),
         f"http://{low_user}:{low_pw}@{h}:{custom}/{nxt}"),
    ])


@pytest.mark.points(1)
def test_normalize_url_without_base(student):
    """Without a base, an absolute URL is normalized; a relative one, or an http URL with no host, gives None."""
    rng = student.rng
    h = host(rng)
    a, b, c, d, e = words(rng, 5)
    path = mixed(rng, a)
    check_cases(student, [
        (("http://", None), None),
        ((f"http:///{b}/{c}", None), None),
        ((f"HTTP://{mixed(rng, h)}/{path}#b", None), f"http://{h}/{path}"),
        ((f"/{d}/{c}", None), None),
        ((f"{e}.html", None), None),
    ])


@pytest.mark.points(1)
def test_normalize_url_rejects_other_schemes(student):
    """normalize_url returns None for every scheme but http and https, whatever its case."""
    rng = student.rng
    h, name = host(rng), word(rng)
    urls = [f"{mixed(rng, 'javascript')}:alert({rng.randint(0, 9)})", f"{mixed(rng, 'mailto')}:{name}@{h}",
            f"{mixed(rng, 'ftp')}://{h}/", f"file:///etc/{name}", f"data:text/html,<p>{name}</p>",
            f"tel:+{rng.randint(1000, 99999)}"]
    rng.shuffle(urls)
    base = f"http://{h}/"
    for url, outcome in zip(urls, outcomes(student, "normalize_url", [(url, base) for url in urls])):
        got = unwrap(outcome, what=f"normalize_url({url!r}, {base!r})")
        assert got is None, f"normalize_url({url!r}, {base!r}): expected None (not http/https), got {got!r}"


@pytest.mark.points(2)
def test_extract_links_drops_duplicates_after_normalization(student):
    """extract_links keeps one entry per normalized URL, at the place of its first occurrence."""
    rng = student.rng
    h = host(rng)
    site = f"http://{h}"
    a, b, key = words(rng, 3)
    spellings = {  # normalized URL -> every way the page writes it
        f"{site}/{a}": [f"/{a}", f"/{a}#frag", f"HTTP://{h.upper()}:80/{a}", a],
        f"{site}/{b}": [f"/{b}", f"{site}/{b}", f"/{b}#{word(rng)}"],
        f"{site}/{b}?{key}=1": [f"{site}/{b}?{key}=1", f"/{b}?{key}=1#x"],
    }
    written = [(url, href) for url, hrefs in spellings.items() for href in hrefs]
    rng.shuffle(written)
    expected = list(dict.fromkeys(url for url, _ in written))
    got = extract(student, anchors(href for _, href in written), site + "/")
    assert same(got, expected), (
        f"expected {expected!r}: /{a}#frag, HTTP://{h.upper()}:80/{a} and {a} are all {site}/{a} once normalized; "
        f"got {got!r}"
    )


@pytest.mark.points(2)
def test_extract_links_drops_invalid_and_non_http(student):
    """extract_links drops mailto:, javascript:, ftp:, tel: and malformed hrefs, and keeps the rest."""
    rng = student.rng
    h = host(rng)
    ok, secure, name = words(rng, 3)
    kept = {f"/{ok}": f"http://{h}/{ok}", f"https://{h}/{secure}": f"https://{h}/{secure}"}
    dropped = [f"mailto:{name}@{h}", "javascript:void(0)", f"ftp://{h}/{name}", "http://[::1", f"tel:+{rng.randint(1, 99)}"]
    hrefs = [*kept, *dropped]
    rng.shuffle(hrefs)
    outcome, = outcomes(student, "extract_links", [(anchors(hrefs), f"http://{h}/")])
    error = outcome.get("raised")
    if error is not None and error.is_a("ValueError"):
        raise AssertionError(
            f"extract_links raised {error!r} on a malformed href (http://[::1): drop invalid links instead"
        )
    got = unwrap(outcome, what="extract_links")
    expected = [kept[href] for href in hrefs if href in kept]
    assert same(got, expected), f"expected only the http(s) links {expected!r}, got {got!r}"


@pytest.mark.points(2)
def test_extract_links_only_a_tags_with_href(student):
    """extract_links reads only <a href> (any case): not <link>, <img>, <script>, nor <a> without a value."""
    rng = student.rng
    h = host(rng)
    site = f"http://{h}"
    style, app, logo, upper, second, closing, first, again = words(rng, 8)
    upper = mixed(rng, upper)
    html = (
        f'<html><head><link rel="stylesheet" href="/{style}.css"><script src="/{app}.js"></script></head>'
        f'<body><img src="/{logo}.png"><a name="anchor">a</a><a href>empty</a>'
        f'<A HREF="/{upper}">u</A><a class="x" href="/{second}" id="y">s</a><a href="/{closing}"/></body></html>'
    )
    got = extract(student, html, site + "/")
    expected = [f"{site}/{upper}", f"{site}/{second}", f"{site}/{closing}"]
    assert same(got, expected), f"expected only the <a href> links {expected!r}, got {got!r}"
    got = extract(student, f'<a href="/{first}" href="/{again}">twice</a>', site + "/")
    assert same(got, [f"{site}/{first}"]) or same(got, [f"{site}/{again}"]), (
        f"an <a> with two href attributes is one link (the first, as browsers read it, or the last), got {got!r}"
    )


@pytest.mark.points(1)
def test_extract_links_resolves_against_page_url(student):
    """extract_links resolves relative hrefs against the page URL and unescapes &amp; in attributes."""
    rng = student.rng
    h = host(rng)
    folder, guide, setup, img, key, other = words(rng, 6)
    n = rng.randint(2, 9)
    html = f'<a href="{setup}.html">1</a><a href="../{img}/">2</a><a href="?{key}={n}&amp;{other}=new">3</a>'
    got = extract(student, html, f"http://{h}/{folder}/{guide}.html")
    expected = [
        f"http://{h}/{folder}/{setup}.html",
        f"http://{h}/{img}/",
        f"http://{h}/{folder}/{guide}.html?{key}={n}&{other}=new",
    ]
    assert same(got, expected), f"expected {expected!r}, got {got!r}"


@pytest.mark.points(1)
def test_extract_links_empty_and_broken_html(student):
    """extract_links returns [] for no links and copes with unclosed tags."""
    rng = student.rng
    site = f"http://{host(rng)}"
    x, y = words(rng, 2)
    empty, plain, broken = outcomes(student, "extract_links", [
        ("", site + "/"),
        (f"<p>no links here, {x}</p>", site + "/"),
        (f'<div><a href="/{x}">unclosed<p><a href="/{y}">', site + "/"),
    ])
    assert same(unwrap(empty, what="extract_links('')"), []), "extract_links('') should be []"
    assert same(unwrap(plain, what="extract_links"), []), "a page without <a> has no links"
    got = unwrap(broken, what="extract_links")
    assert same(got, [f"{site}/{x}", f"{site}/{y}"]), f"expected the links of unclosed <a> tags too, got {got!r}"


@pytest.mark.points(2)
def test_to_sitemap_only_2xx_sorted_once(student):
    """to_sitemap lists exactly the 2xx pages, 200 to 299 (no 1xx, 3xx up to 399, 4xx, 5xx, errors), each once, sorted."""
    rng = student.rng
    site = f"http://{host(rng)}"
    names = iter(words(rng, 12))
    c = next(names)
    statuses = {  # the boundaries stay in every run; the other statuses and every name are drawn
        f"{site}/": 200, f"{site}/{c}": rng.randint(200, 298), f"{site}/{c}?x=1": rng.randint(201, 299),
        f"{site}/{next(names)}": 299, f"{site}/{next(names)}": 300, f"{site}/{next(names)}": 399,
        f"{site}/{next(names)}": 199, f"{site}/{next(names)}": rng.choice([301, 302, 308]),
        f"{site}/{next(names)}": rng.choice([404, 410]), f"{site}/{next(names)}": rng.choice([500, 503]),
        f"{site}/{next(names)}": rng.randint(200, 299), f"{site}/{next(names)}": rng.randint(200, 299),
    }
    order = list(statuses)
    rng.shuffle(order)
    pages = {url: statuses[url] for url in order}
    down = f"{site}/{next(names)}"
    locs = sitemap_locs(sitemap(student, pages, {down: "ClientConnectionError"},
                                {f"{site}/": [f"{site}/{c}", down, f"{site}/elsewhere"]}))
    expected = sorted(url for url, status in pages.items() if 200 <= status <= 299)
    assert locs == expected, f"expected the 2xx pages, sorted, each once: {expected!r}; got {locs!r}"


@pytest.mark.points(1)
def test_to_sitemap_escapes_ampersand(student):
    """to_sitemap escapes & in URLs (as &amp;), so the XML parses back to the original URL."""
    rng = student.rng
    search, q, page = words(rng, 3)
    url = f"http://{host(rng)}/{search}?{q}=a&{page}={rng.randint(2, 9)}"
    xml = sitemap(student, {url: 200})
    assert isinstance(xml, str) and "&amp;" in xml, f"expected & written as &amp; in the XML, got {xml!r}"
    locs = sitemap_locs(xml)
    assert locs == [url], f"expected the URL {url!r} back after parsing, got {locs!r}"


@pytest.mark.points(1)
def test_to_sitemap_empty(student):
    """to_sitemap of a result with no 2xx page is a valid, empty <urlset>."""
    rng = student.rng
    xml = sitemap(student, {f"http://{host(rng)}/": rng.choice([500, 404, 301, 199, 300])})
    assert isinstance(xml, str), f"to_sitemap should return a str, got {type(xml).__name__}"
    assert sitemap_locs(xml) == [], "expected no <url> entries when no page answered 2xx"
