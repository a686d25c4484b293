"""Alternative 09: level by level under a Semaphore with gather, aiohttp following redirects,
a hand-built netloc, ElementTree for the sitemap, an ArgumentParser whose error() raises."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit

import aiohttp

_DEFAULT_PORTS = {"http": "80", "https": "443"}


def normalize_url(url: str, base: str | None = None) -> str | None:
    """Resolve, drop fragment, lowercase scheme/host, drop default port, '/' for an empty path."""
    try:
        absolute = urljoin(base, url) if base is not None else url
        parts = urlsplit(absolute)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return None
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            return None
        host, port = hostport[: close + 1], hostport[close + 1:]
        if port and not port.startswith(":"):
            return None
        port = port[1:]
    else:
        host, _, port = hostport.partition(":")
    if not host or host == "[]":
        return None
    netloc = userinfo + at + host.lower()
    if port and port != _DEFAULT_PORTS[scheme]:
        netloc += ":" + port
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        for name, value in attrs:
            if name == "href":
                if value is not None:
                    self.hrefs.append(value)
                return  # the first href counts, as in browsers


def extract_links(html: str, base: str) -> list[str]:
    """Normalized hrefs of <a> tags, once each, in document order."""
    parser = _Anchors()
    parser.feed(html)
    parser.close()
    seen: dict[str, None] = {}
    for href in parser.hrefs:
        link = normalize_url(href.strip(), base)
        if link is not None:
            seen.setdefault(link, None)
    return list(seen)


@dataclass
class CrawlResult:
    """pages: URL -> status; errors: URL -> exception class name; links: page URL -> in-scope links."""

    pages: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    links: dict[str, list[str]] = field(default_factory=dict)


def _host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


async def crawl(
    start_url: str,
    *,
    max_pages: int = 100,
    max_depth: int = 3,
    concurrency: int = 5,
    session: aiohttp.ClientSession | None = None,
) -> CrawlResult:
    """Level by level: each depth fetched under a Semaphore, then the next."""
    start = normalize_url(start_url)
    if start is None or max_pages < 1 or concurrency < 1 or max_depth < 0:
        raise ValueError("invalid crawl arguments")
    host = _host_of(start)
    result = CrawlResult()
    gate = asyncio.Semaphore(concurrency)

    async def visit(http: aiohttp.ClientSession, url: str, follow: bool) -> list[str]:
        async with gate:
            try:
                async with http.get(url) as response:
                    result.pages[url] = response.status
                    if not (200 <= response.status < 300 and response.content_type == "text/html"):
                        return []
                    text = await response.text(errors="replace")
                    found = [u for u in extract_links(text, str(response.url)) if _host_of(u) == host]
                    result.links[url] = found
                    return found if follow else []
            except Exception as exc:  # noqa: BLE001 - one page never stops the crawl
                if url not in result.pages:
                    result.errors[url] = type(exc).__name__
                return []

    async def run(http: aiohttp.ClientSession) -> None:
        seen = {start}
        level = [start]
        depth = 0
        budget = max_pages
        while level and budget > 0:
            batch = level[:budget]
            budget -= len(batch)
            found = await asyncio.gather(*(visit(http, u, depth < max_depth) for u in batch))
            level = []
            for links in found:
                for link in links:
                    if link not in seen:
                        seen.add(link)
                        level.append(link)
            depth += 1

    if session is not None:
        await run(session)
    else:
        async with aiohttp.ClientSession() as own:
            await run(own)
    return result


def to_sitemap(result: CrawlResult) -> str:
    """Sitemap XML built with ElementTree (which escapes)."""
    root = ET.Element("urlset", {"xmlns": "http://www.sitemaps.org/schemas/sitemap/0.9"})
    for url in sorted(u for u, status in result.pages.items() if 200 <= status < 300):
        ET.SubElement(ET.SubElement(root, "url"), "loc").text = url
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def _int_at_least(low: int):
    def convert(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value
    return convert


def _positive(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _int_at_least(1)(text)


def _non_negative(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int_at_least(0)(text)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = _Parser(prog="crawler.py", description="crawl one site")
    parser.add_argument("url")
    parser.add_argument("--max-pages", type=_positive, default=100)
    parser.add_argument("--max-depth", type=_non_negative, default=3)
    parser.add_argument("--concurrency", type=_positive, default=5)
    parser.add_argument("--sitemap", default=None)
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(f"crawler.py: error: {exc}", file=sys.stderr)
        return 2
    start = normalize_url(args.url)
    if start is None:
        print(f"crawler.py: error: not an http(s) URL: {args.url!r}", file=sys.stderr)
        return 2
    result = asyncio.run(crawl(start, max_pages=args.max_pages, max_depth=args.max_depth,
                               concurrency=args.concurrency))
    if args.sitemap:
        try:
            with open(args.sitemap, "w", encoding="utf-8") as out:
                out.write(to_sitemap(result))
        except OSError as exc:
            print(f"crawler.py: error: cannot write sitemap: {exc}", file=sys.stderr)
            return 2
    print(json.dumps({"pages": len(result.pages), "errors": len(result.errors)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
