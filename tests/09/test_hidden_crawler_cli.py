"""Hidden tests for assignment 09, part 3: the command line, main(argv).

main is a plain function that runs its own event loop, so these tests are
plain `def` tests. aioresponses patches aiohttp for every loop, so the crawl
inside main still meets the mocked site on http://site.test (on real time:
the mocked pages answer at once, or after a few hundredths of a second).
"""
import asyncio
import inspect
import xml.etree.ElementTree as ET

import pytest

import crawler
from coursekit.site import SITE, SITEMAP_NS, json_summary, site  # noqa: F401  (site is a fixture)
from coursekit.testing import same



def run_main(argv):
    """main(argv), turning a SystemExit (argparse's default) into a readable failure."""
    try:
        return crawler.main(argv)
    except SystemExit as exc:
        raise AssertionError(
            f"main({argv!r}) raised SystemExit({exc.code!r}); it must return the exit code instead "
            "(argparse exits on bad usage: catch SystemExit, or override ArgumentParser.error)"
        ) from None


@pytest.mark.points(2)
def test_main_writes_the_sitemap(site, tmp_path, capsys, session_spy):
    """main(URL --sitemap FILE) writes the sitemap of the 2xx pages, & escaped, and returns 0; an unwritable FILE gives 2."""
    site.page("/", "/a", "/search?a=1&b=2", "/gone")
    site.page("/a")
    site.page("/search?a=1&b=2")
    site.page("/gone", status=404)
    target = tmp_path / "sitemap.xml"
    code = run_main([SITE + "/", "--sitemap", str(target)])
    assert code == 0, f"main should return 0 after a crawl, returned {code!r}"
    assert target.is_file(), f"main should write the sitemap to {target}"
    try:
        root = ET.fromstring(target.read_text(encoding="utf-8"))
    except ET.ParseError as exc:
        raise AssertionError(f"the sitemap file is not well-formed XML: {exc}") from None
    locs = sorted((loc.text or "").strip() for loc in root.iter(f"{SITEMAP_NS}loc"))
    expected = sorted([SITE + "/", SITE + "/a", SITE + "/search?a=1&b=2"])
    assert locs == expected, f"expected the 2xx pages {expected!r} in the sitemap, got {locs!r}"
    session_spy.assert_all_closed(what="main")
    capsys.readouterr()
    unwritable = tmp_path / "no-such-folder" / "sitemap.xml"
    code = run_main([SITE + "/", "--sitemap", str(unwritable)])
    captured = capsys.readouterr()
    assert code == 2, (
        f"main(... --sitemap {unwritable}) cannot write the file (its folder does not exist): expected 2, got {code!r}"
    )
    assert captured.err.strip(), "main should say on stderr that the sitemap could not be written; stderr was empty"


@pytest.mark.points(1)
def test_main_without_sitemap_option_writes_no_file(site, tmp_path, monkeypatch, capsys):
    """Without --sitemap, main only prints the summary: no file is written."""
    monkeypatch.chdir(tmp_path)
    site.page("/", "/a")
    site.page("/a")
    code = run_main([SITE + "/"])
    assert code == 0, f"main should return 0 after a crawl, returned {code!r}"
    summary = json_summary(capsys.readouterr().out)
    assert summary.get("pages") == 2 and summary.get("errors") == 0, (
        f'expected {{"pages": 2, "errors": 0}}, got {summary!r}'
    )
    written = [p.name for p in tmp_path.iterdir()]
    assert not written, f"without --sitemap main should write no file, but wrote {written!r}"


@pytest.mark.points(2)
def test_main_rejects_an_invalid_url(site, capsys):
    """An invalid or non-http(s) URL prints a message on stderr, fetches nothing and returns 2."""
    for url in ["ftp://site.test/", "site.test", "mailto:me@site.test", "not a url"]:
        code = run_main([url])
        captured = capsys.readouterr()
        assert code == 2, f"main([{url!r}]) should return 2 (not an http(s) URL), returned {code!r}"
        assert captured.err.strip(), f"main([{url!r}]) should explain the problem on stderr, stderr was empty"
    assert not site.requested(), f"no request should be made for an invalid URL, saw {dict(site.requested())!r}"


@pytest.mark.points(2)
def test_main_rejects_invalid_options(site, capsys):
    """A bad option (not a number, unknown, missing value, no URL) prints a message on stderr and returns 2."""
    for argv in (
        [SITE + "/", "--max-pages", "many"],
        [SITE + "/", "--frobnicate"],
        [SITE + "/", "--max-depth"],
        [SITE + "/", "--concurrency", "2.5"],
        [SITE + "/", "--max-depth", "-1"],
        [],
    ):
        code = run_main(argv)
        captured = capsys.readouterr()
        assert code == 2, f"main({argv!r}) should return 2 (bad usage), returned {code!r}"
        assert captured.err.strip(), f"main({argv!r}) should explain the problem on stderr, stderr was empty"
    assert not site.requested(), f"no request should be made after bad usage, saw {dict(site.requested())!r}"


@pytest.mark.points(1)
def test_main_defaults_and_smallest_options(site, capsys, monkeypatch):
    """Options left out take crawl's defaults (100 pages, depth 3, 5 at once); 1, 0 and 1 are the smallest valid values."""
    signature = inspect.signature(crawler.crawl)
    calls = []

    async def recording_crawl(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        calls.append({name: bound.arguments[name] for name in ("max_pages", "max_depth", "concurrency")})
        return crawler.CrawlResult()

    monkeypatch.setattr(crawler, "crawl", recording_crawl)
    for argv, expected in (
        ([SITE + "/"], {"max_pages": 100, "max_depth": 3, "concurrency": 5}),
        ([SITE + "/", "--max-pages", "1", "--max-depth", "0", "--concurrency", "1"],
         {"max_pages": 1, "max_depth": 0, "concurrency": 1}),
    ):
        calls.clear()
        code = run_main(argv)
        captured = capsys.readouterr()
        assert code == 0, f"main({argv!r}) should crawl and return 0, returned {code!r}; stderr: {captured.err[-300:]!r}"
        assert len(calls) == 1, f"main({argv!r}) should call crawl once, called it {len(calls)} times"
        assert same(calls[0], expected), f"main({argv!r}) should crawl with {expected!r}, crawl got {calls[0]!r}"


@pytest.mark.points(1)
def test_main_rejects_zero_concurrency(site, capsys, monkeypatch):
    """--concurrency 0 (no request could ever run) is an invalid option: stderr message, return 2."""
    site.page("/")
    real_crawl = crawler.crawl

    async def bounded_crawl(*args, **kwargs):
        async with asyncio.timeout(1):  # real seconds: main runs its own loop
            return await real_crawl(*args, **kwargs)

    monkeypatch.setattr(crawler, "crawl", bounded_crawl)
    try:
        code = run_main([SITE + "/", "--concurrency", "0"])
    except TimeoutError:
        raise AssertionError("with --concurrency 0 the crawl never finished: reject the option (return 2)") from None
    captured = capsys.readouterr()
    assert code == 2, f"main with --concurrency 0 should return 2, returned {code!r}"
    assert captured.err.strip(), "main with --concurrency 0 should explain the problem on stderr"


@pytest.mark.points(2)
def test_main_passes_options_to_crawl(site, traffic, capsys):
    """--max-depth, --concurrency and --max-pages reach the crawl."""
    children = [f"/p{i}" for i in range(6)]
    site.page("/", "/1", *children, delay=0.02)
    site.page("/1", "/2", delay=0.02)
    site.page("/2", delay=0.02)
    for child in children:
        site.page(child, delay=0.02)
    code = run_main([SITE + "/", "--max-depth", "1", "--concurrency", "3"])
    summary = json_summary(capsys.readouterr().out)
    assert code == 0, f"main should return 0 after a crawl, returned {code!r}"
    assert summary.get("pages") == 8, f"--max-depth 1: expected 8 pages (/, /1, /p0-/p5), got {summary!r}"
    assert traffic.peak == 3, f"--concurrency 3: expected 3 requests in flight at most and at once, saw {traffic.peak}"
    code = run_main([SITE + "/", "--max-pages", "2"])
    summary = json_summary(capsys.readouterr().out)
    assert code == 0, f"main should return 0 after a crawl, returned {code!r}"
    assert summary.get("pages") == 2, f"--max-pages 2: expected 2 pages, got {summary!r}"
