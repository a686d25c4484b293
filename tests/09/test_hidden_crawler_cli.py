"""Hidden tests for assignment 09, part 3: the command line, main(argv).

main is a plain function that runs its own event loop, so its scenario
(``p09.main_runs``) calls it outside any loop, with stdout and stderr
captured and a fresh temporary folder as the working directory. The mocked
site (aioresponses patches aiohttp for every loop) answers on real time: at
once, or after a few hundredths of a second. Host names, paths, page counts
and option values are drawn per run from ``student.rng``.
"""
import xml.etree.ElementTree as ET

import pytest

from coursekit import hints
from coursekit.judge import Names, unwrap
from coursekit.probes import p09
from coursekit.probes.p09 import page
from coursekit.site import json_summary
from coursekit.testing import same

STUDENT_MODULE = "crawler"
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
def run_main(student, pages, *runs, crawl=None):
    """main(argv) for each argv of ``runs`` on the mocked site ``pages``: what each run printed, wrote and fetched."""
    seen = student.run(p09.main_runs, pages=pages, runs=[list(argv) for argv in runs], crawl=crawl).value("main")
    return seen["runs"]


def exit_code(run, argv):
    """main(argv)'s return value, turning a SystemExit (argparse's default) into a readable failure."""
    argv = [arg.replace("{tmp}/", "") for arg in argv]  # the scenario's temporary folder
    error = run["outcome"].get("raised")
    if error is not None and error.is_a("SystemExit"):
        raise AssertionError(
            f"main({argv!r}) raised SystemExit({error.attributes.get('code')!r}); it must return the exit code instead "
            "(argparse exits on bad usage: catch SystemExit, or override ArgumentParser.error)"
        )
    return unwrap(run["outcome"], what=f"main({argv!r})")


@pytest.mark.points(2)
def test_main_writes_the_sitemap(student):
    """main(URL --sitemap FILE) writes the sitemap of the 2xx pages, & escaped, and returns 0; an unwritable FILE gives 2."""
    rng = student.rng
    names = Names(rng)
    site = names.host()
    a, search, gone = names.paths(3)
    query = f"{search}?{names.word()}=1&{names.word()}=2"
    name = f"{names.word()}.xml"
    pages = [page(f"{site}/", a, query, gone), page(site + a), page(site + query),
             page(site + gone, status=rng.choice([404, 410, 500]))]
    argv = [f"{site}/", "--sitemap", "{tmp}/" + name]
    unwritable = [f"{site}/", "--sitemap", "{tmp}/" + f"no-such-folder/{name}"]
    wrote, refused = run_main(student, pages, argv, unwritable)
    code = exit_code(wrote, argv)
    assert code == 0, f"main should return 0 after a crawl, returned {code!r}"
    assert name in wrote["files"], f"main should write the sitemap to the FILE given ({name}), wrote {sorted(wrote['files'])!r}"
    try:
        root = ET.fromstring(wrote["files"][name])
    except ET.ParseError as exc:
        raise AssertionError(f"the sitemap file is not well-formed XML: {exc}") from None
    locs = sorted((loc.text or "").strip() for loc in root.iter(f"{SITEMAP_NS}loc"))
    expected = sorted([f"{site}/", site + a, site + query])
    assert locs == expected, f"expected the 2xx pages {expected!r} in the sitemap, got {locs!r}"
    assert not wrote["sessions_open"], (
        f"main left {wrote['sessions_open']} aiohttp.ClientSession(s) open. {hints.SESSION_LEFT_OPEN}"
    )
    code = exit_code(refused, unwritable)
    assert code == 2, (
        f"main(... --sitemap no-such-folder/{name}) cannot write the file (its folder does not exist): "
        f"expected 2, got {code!r}"
    )
    assert refused["stderr"].strip(), "main should say on stderr that the sitemap could not be written; stderr was empty"


@pytest.mark.points(1)
def test_main_without_sitemap_option_writes_no_file(student):
    """Without --sitemap, main only prints the summary: no file is written."""
    rng = student.rng
    names = Names(rng)
    site = names.host()
    children = names.paths(rng.randint(1, 4))
    pages = [page(f"{site}/", *children), *(page(site + c) for c in children)]
    run, = run_main(student, pages, [f"{site}/"])
    code = exit_code(run, [f"{site}/"])
    assert code == 0, f"main should return 0 after a crawl, returned {code!r}"
    summary = json_summary(run["stdout"])
    assert summary.get("pages") == len(pages) and summary.get("errors") == 0, (
        f'expected {{"pages": {len(pages)}, "errors": 0}}, got {summary!r}'
    )
    written = sorted(run["files"])
    assert not written, f"without --sitemap main should write no file, but wrote {written!r}"


@pytest.mark.points(2)
def test_main_rejects_an_invalid_url(student):
    """An invalid or non-http(s) URL prints a message on stderr, fetches nothing and returns 2."""
    rng = student.rng
    names = Names(rng)
    site = names.host()
    host = site[len("http://"):]
    urls = [f"ftp://{host}/", host, f"mailto:{names.word()}@{host}", f"not a {names.word()}"]
    rng.shuffle(urls)
    runs = run_main(student, [page(f"{site}/")], *([url] for url in urls))
    for url, run in zip(urls, runs):
        code = exit_code(run, [url])
        assert code == 2, f"main([{url!r}]) should return 2 (not an http(s) URL), returned {code!r}"
        assert run["stderr"].strip(), f"main([{url!r}]) should explain the problem on stderr, stderr was empty"
    fetched = {url: n for run in runs for url, n in run["requested"].items()}
    assert not fetched, f"no request should be made for an invalid URL, saw {fetched!r}"


@pytest.mark.points(2)
def test_main_rejects_invalid_options(student):
    """A bad option (not a number, unknown, missing value, no URL) prints a message on stderr and returns 2."""
    rng = student.rng
    names = Names(rng)
    site = names.host()
    start = f"{site}/"
    argvs = [
        [start, "--max-pages", names.word()],
        [start, f"--{names.word()}"],
        [start, "--max-depth"],
        [start, "--concurrency", f"{rng.randint(1, 5)}.5"],
        [start, "--max-depth", f"-{rng.randint(1, 3)}"],
        [],
    ]
    rng.shuffle(argvs)
    runs = run_main(student, [page(start)], *argvs)
    for argv, run in zip(argvs, runs):
        code = exit_code(run, argv)
        assert code == 2, f"main({argv!r}) should return 2 (bad usage), returned {code!r}"
        assert run["stderr"].strip(), f"main({argv!r}) should explain the problem on stderr, stderr was empty"
    fetched = {url: n for run in runs for url, n in run["requested"].items()}
    assert not fetched, f"no request should be made after bad usage, saw {fetched!r}"


@pytest.mark.points(1)
def test_main_defaults_and_smallest_options(student):
    """Options left out take crawl's defaults (100 pages, depth 3, 5 at once); 1, 0 and 1 are the smallest valid values."""
    site = Names(student.rng).host()
    cases = (
        ([f"{site}/"], {"max_pages": 100, "max_depth": 3, "concurrency": 5}),
        ([f"{site}/", "--max-pages", "1", "--max-depth", "0", "--concurrency", "1"],
         {"max_pages": 1, "max_depth": 0, "concurrency": 1}),
    )
    runs = run_main(student, [], *(argv for argv, _ in cases), crawl="record")
    for (argv, expected), run in zip(cases, runs):
        code = exit_code(run, argv)
        assert code == 0, f"main({argv!r}) should crawl and return 0, returned {code!r}; stderr: {run['stderr'][-300:]!r}"
        calls = run["crawl_calls"]
        assert len(calls) == 1, f"main({argv!r}) should call crawl once, called it {len(calls)} times"
        got = {name: calls[0].get(name) for name in expected}
        assert same(got, expected), f"main({argv!r}) should crawl with {expected!r}, crawl got {got!r}"


@pytest.mark.points(1)
def test_main_rejects_zero_concurrency(student):
    """--concurrency 0 (no request could ever run) is an invalid option: stderr message, return 2."""
    site = Names(student.rng).host()
    argv = [f"{site}/", "--concurrency", "0"]
    run, = run_main(student, [page(f"{site}/")], argv, crawl="bounded")
    error = run["outcome"].get("raised")
    if error is not None and error.is_a("TimeoutError"):
        raise AssertionError("with --concurrency 0 the crawl never finished: reject the option (return 2)")
    code = exit_code(run, argv)
    assert code == 2, f"main with --concurrency 0 should return 2, returned {code!r}"
    assert run["stderr"].strip(), "main with --concurrency 0 should explain the problem on stderr"


@pytest.mark.points(2)
def test_main_passes_options_to_crawl(student):
    """--max-depth, --concurrency and --max-pages reach the crawl."""
    rng = student.rng
    names = Names(rng)
    site = names.host()
    one, two = names.paths(2)
    children = names.paths(rng.randint(4, 7))
    concurrency = rng.randint(2, 4)
    limit = rng.randint(2, 4)
    pages = [page(f"{site}/", one, *children, delay=0.02), page(site + one, two, delay=0.02),
             page(site + two, delay=0.02), *(page(site + c, delay=0.02) for c in children)]
    by_depth = [f"{site}/", "--max-depth", "1", "--concurrency", str(concurrency)]
    by_pages = [f"{site}/", "--max-pages", str(limit)]
    depth_run, pages_run = run_main(student, pages, by_depth, by_pages)
    code = exit_code(depth_run, by_depth)
    summary = json_summary(depth_run["stdout"])
    assert code == 0, f"main should return 0 after a crawl, returned {code!r}"
    fetched = len(children) + 2
    assert summary.get("pages") == fetched, (
        f"--max-depth 1: expected {fetched} pages (/, {one}, and the {len(children)} other links of /), got {summary!r}"
    )
    assert depth_run["peak"] == concurrency, (
        f"--concurrency {concurrency}: expected {concurrency} requests in flight at most and at once, "
        f"saw {depth_run['peak']}"
    )
    code = exit_code(pages_run, by_pages)
    summary = json_summary(pages_run["stdout"])
    assert code == 0, f"main should return 0 after a crawl, returned {code!r}"
    assert summary.get("pages") == limit, f"--max-pages {limit}: expected {limit} pages, got {summary!r}"
