"""Assignment 09: a concurrent web crawler, the capstone of the course.

Crawling one site, shallow pages first, with a bounded number of requests in
flight, URL normalization, link extraction with ``html.parser``, a sitemap
and a small command line.

Fill in every function marked "YOUR CODE HERE". Instructions: README.md in this folder.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit
from xml.sax.saxutils import escape

import aiohttp

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
REQUEST_TIMEOUT = 30.0  # seconds, for the session crawl opens itself


def normalize_url(url: str, base: str | None = None) -> str | None:
    """Resolve ``url`` against ``base`` and put it in one canonical form.

    Drops the fragment, lowercases scheme and host, drops the default port
    (80 for http, 443 for https), turns an empty path into ``/`` and keeps the
    query and any ``user:password@`` as written. Returns ``None`` for anything that is not an http(s) URL with a
    host (``mailto:``, ``javascript:``, ``ftp:``, a relative URL without a
    base, a malformed URL).
    """
    ### BEGIN SOLUTION
    try:
        joined = urljoin(base, url.strip()) if base else url.strip()
        parts = urlsplit(joined)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            return None
        host = parts.hostname  # already lowercased, IPv6 without brackets
        if not host:
            return None
        port = parts.port  # ValueError for a port that is not a number in range
    except ValueError:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    ### END SOLUTION


class _LinkParser(HTMLParser):
    """Collects the ``href`` of every ``<a>`` start tag, in document order."""

    def __init__(self) -> None:
        ### BEGIN SOLUTION
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        ### END SOLUTION

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Remember the href of an ``<a>`` tag (html.parser gives lowercase names, unescaped values)."""
        ### BEGIN SOLUTION
        if tag != "a":
            return
        for name, value in attrs:
            if name == "href":
                if value is not None:
                    self.hrefs.append(value)
                return
        ### END SOLUTION


def extract_links(html: str, base: str) -> list[str]:
    """The ``href`` of every ``<a>`` tag in ``html``, normalized against ``base``.

    Invalid and non-http(s) links are dropped, and so are duplicates (after
    normalization); the rest stay in document order.
    """
    ### BEGIN SOLUTION
    parser = _LinkParser()
    parser.feed(html)
    parser.close()
    links: dict[str, None] = {}  # a dict keeps insertion order and drops duplicates
    for href in parser.hrefs:
        url = normalize_url(href, base)
        if url is not None:
            links.setdefault(url)
    return list(links)
    ### END SOLUTION


@dataclass
class CrawlResult:
    """What a crawl found.

    - ``pages``: URL -> HTTP status, for every URL fetched that answered;
    - ``errors``: URL -> exception class name, for fetches that failed without a status;
    - ``links``: page URL -> the in-scope links found on that page, in document order.
    """

    pages: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    links: dict[str, list[str]] = field(default_factory=dict)


def _host(url: str) -> str | None:
    """The host name of a normalized URL (what decides whether a link is in scope)."""
    return urlsplit(url).hostname


async def _fetch(session: aiohttp.ClientSession, url: str, result: CrawlResult) -> list[str]:
    """GET ``url`` once and record it in ``result``; return the in-scope URLs it leads to.

    A 2xx ``text/html`` page leads to its in-scope links. A redirect leads to
    its ``Location`` (the crawler follows redirects itself, so that the
    target is deduplicated, counted and scoped like any other URL). Anything
    else leads nowhere. A failure without a status is recorded by the
    exception's class name; the crawl goes on.
    """
    ### BEGIN SOLUTION
    host = _host(url)
    try:
        async with session.get(url, allow_redirects=False) as response:
            result.pages[url] = response.status
            if response.status in REDIRECT_STATUSES:
                location = response.headers.get("Location")
                target = normalize_url(location, url) if location else None
                return [target] if target is not None and _host(target) == host else []
            if not (200 <= response.status < 300) or response.content_type != "text/html":
                return []
            html = await response.text(errors="replace")
    except Exception as exc:  # CancelledError is not an Exception: cancellation still propagates
        if url not in result.pages:
            result.errors[url] = type(exc).__name__
        return []
    links = [link for link in extract_links(html, url) if _host(link) == host]
    result.links[url] = links
    return links
    ### END SOLUTION


async def crawl(
    start_url: str,
    *,
    max_pages: int = 100,
    max_depth: int = 3,
    concurrency: int = 5,
    session: aiohttp.ClientSession | None = None,
) -> CrawlResult:
    """Crawl the site of ``start_url``, shallow pages first, and return what was found.

    ``start_url`` is depth 0; a URL's depth is one more than that of the page
    where it was first found. Only links to the start URL's host are followed,
    each normalized URL is fetched at most once, links are followed only from
    2xx ``text/html`` pages at a depth below ``max_depth``, at most
    ``concurrency`` requests are in flight and at most ``max_pages`` URLs are
    fetched in all. Uses ``session`` when given (and leaves it open), else
    opens and closes its own. Leaves nothing running, also when cancelled.
    """
    ### BEGIN SOLUTION
    start = normalize_url(start_url)
    if start is None:
        raise ValueError(f"not an http(s) URL: {start_url!r}")
    if max_pages < 1 or max_depth < 0 or concurrency < 1:
        raise ValueError("max_pages and concurrency must be >= 1, max_depth >= 0")

    result = CrawlResult()
    seen = {start}
    queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    queue.put_nowait((start, 0))
    budget = max_pages  # fetches we may still start

    async def worker(client: aiohttp.ClientSession) -> None:
        nonlocal budget
        while True:
            url, depth = await queue.get()
            try:
                if budget <= 0:
                    continue  # the limit is reached: drain the queue without fetching
                budget -= 1
                found = await _fetch(client, url, result)
                if depth < max_depth:
                    for link in found:
                        if link not in seen:  # marked when queued, so found twice is fetched once
                            seen.add(link)
                            queue.put_nowait((link, depth + 1))
            finally:
                queue.task_done()

    async def run(client: aiohttp.ClientSession) -> None:
        async with asyncio.TaskGroup() as group:
            workers = [group.create_task(worker(client)) for _ in range(concurrency)]
            await queue.join()
            for task in workers:
                task.cancel()

    if session is not None:
        await run(session)
    else:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as own:
            await run(own)
    return result
    ### END SOLUTION


def to_sitemap(result: CrawlResult) -> str:
    """A sitemap XML document listing every 2xx page URL of ``result`` once, sorted and escaped."""
    ### BEGIN SOLUTION
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<urlset xmlns="{SITEMAP_NS}">']
    for url in sorted({url for url, status in result.pages.items() if 200 <= status < 300}):
        lines.append(f"  <url><loc>{escape(url)}</loc></url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"
    ### END SOLUTION


def _positive(text: str) -> int:
    """argparse type: an integer >= 1."""
    ### BEGIN SOLUTION
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
    ### END SOLUTION


def _non_negative(text: str) -> int:
    """argparse type: an integer >= 0."""
    ### BEGIN SOLUTION
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value
    ### END SOLUTION


def main(argv: list[str] | None = None) -> int:
    """``python crawler.py URL [--max-pages N] [--max-depth D] [--concurrency C] [--sitemap FILE]``.

    Crawls, prints ``{"pages": n, "errors": n}`` as JSON to stdout, writes the
    sitemap to FILE when asked and returns 0. An invalid URL or option prints
    a message to stderr and returns 2 (it never raises ``SystemExit``).
    """
    ### BEGIN SOLUTION
    parser = argparse.ArgumentParser(prog="crawler.py", description="Crawl one web site breadth-first.")
    parser.add_argument("url", help="the start URL (http or https)")
    parser.add_argument("--max-pages", type=_positive, default=100, help="fetch at most N URLs (default 100)")
    parser.add_argument("--max-depth", type=_non_negative, default=3, help="follow links up to depth D (default 3)")
    parser.add_argument("--concurrency", type=_positive, default=5, help="at most C requests in flight (default 5)")
    parser.add_argument("--sitemap", type=Path, help="write a sitemap XML to FILE")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on bad usage (2) and on --help (0)
        return exc.code if isinstance(exc.code, int) else 2
    if normalize_url(args.url) is None:
        print(f"crawler.py: error: not an http(s) URL: {args.url!r}", file=sys.stderr)
        return 2
    result = asyncio.run(
        crawl(args.url, max_pages=args.max_pages, max_depth=args.max_depth, concurrency=args.concurrency)
    )
    if args.sitemap is not None:
        try:
            args.sitemap.write_text(to_sitemap(result), encoding="utf-8")
        except OSError as exc:
            print(f"crawler.py: error: cannot write {args.sitemap}: {exc.strerror}", file=sys.stderr)
            return 2
    print(json.dumps({"pages": len(result.pages), "errors": len(result.errors)}))
    return 0
    ### END SOLUTION


if __name__ == "__main__":
    sys.exit(main())
