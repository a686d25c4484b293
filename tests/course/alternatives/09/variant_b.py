"""Alternative 09, variant b: a FIFO worker pool on asyncio.Queue, redirects not followed (Location is a link),
saxutils escaping, argparse with SystemExit caught."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit
from xml.sax.saxutils import escape

import aiohttp


def normalize_url(url: str, base: str | None = None) -> str | None:
    """urljoin + urlsplit; hostname rebuilt from the netloc pieces."""
    try:
        joined = urljoin(base or "", url)
        split = urlsplit(joined)
        port = split.port
        host = split.hostname
    except ValueError:
        return None
    if split.scheme.lower() not in ("http", "https") or not host:
        return None
    netloc = split.netloc
    userinfo = netloc.rpartition("@")[0] + "@" if "@" in netloc else ""
    if ":" in host:
        host = f"[{host}]"
    default = 80 if split.scheme.lower() == "http" else 443
    hostport = host if port is None or port == default else f"{host}:{port}"
    return urlunsplit((split.scheme.lower(), userinfo + hostport, split.path or "/", split.query, ""))


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.found.append(href)


def extract_links(html: str, base: str) -> list[str]:
    """The <a href> links, normalized, unique, in order."""
    parser = _Hrefs()
    parser.feed(html)
    parser.close()
    out: list[str] = []
    for href in parser.found:
        url = normalize_url(href, base)
        if url is not None and url not in out:
            out.append(url)
    return out


@dataclass
class CrawlResult:
    """pages, errors and links of one crawl."""

    pages: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    links: dict[str, list[str]] = field(default_factory=dict)


async def crawl(start_url: str, *, max_pages: int = 100, max_depth: int = 3, concurrency: int = 5,
                session: aiohttp.ClientSession | None = None) -> CrawlResult:
    """Worker pool: `concurrency` workers on a FIFO queue, seen-set decided when queued."""
    start = normalize_url(start_url)
    if start is None or max_pages < 1 or max_depth < 0 or concurrency < 1:
        raise ValueError("bad arguments")
    site = urlsplit(start).hostname
    result = CrawlResult()
    queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    seen = {start}
    started = 0

    def offer(url: str, depth: int) -> None:
        nonlocal started
        if depth > max_depth or url in seen or urlsplit(url).hostname != site or started >= max_pages:
            return
        seen.add(url)
        started += 1
        queue.put_nowait((url, depth))

    async def fetch(http: aiohttp.ClientSession, url: str, depth: int) -> None:
        try:
            async with http.get(url, allow_redirects=False) as response:
                result.pages[url] = response.status
                if 300 <= response.status < 400 and "Location" in response.headers:
                    target = normalize_url(response.headers["Location"], url)
                    if target is not None:
                        offer(target, depth + 1)
                    return
                if not 200 <= response.status < 300 or response.content_type != "text/html":
                    return
                if depth >= max_depth:
                    return
                html = await response.text(errors="replace")
        except Exception as exc:  # noqa: BLE001 - recorded, crawl goes on
            if url not in result.pages:
                result.errors[url] = type(exc).__name__
            return
        links = [u for u in extract_links(html, url) if urlsplit(u).hostname == site]
        result.links[url] = links
        for link in links:
            offer(link, depth + 1)

    async def worker(http: aiohttp.ClientSession) -> None:
        while True:
            url, depth = await queue.get()
            try:
                await fetch(http, url, depth)
            finally:
                queue.task_done()

    async def run(http: aiohttp.ClientSession) -> None:
        nonlocal started
        started = 1
        queue.put_nowait((start, 0))
        workers = [asyncio.create_task(worker(http)) for _ in range(concurrency)]
        try:
            await queue.join()
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    if session is None:
        async with aiohttp.ClientSession() as own:
            await run(own)
    else:
        await run(session)
    return result


def to_sitemap(result: CrawlResult) -> str:
    """String building with xml.sax.saxutils.escape."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for url in sorted({u for u, s in result.pages.items() if 200 <= s <= 299}):
        lines.append(f"  <url><loc>{escape(url)}</loc></url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"


def _positive(text: str) -> int:
    """argparse type: an integer >= 1."""
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def _non_negative(text: str) -> int:
    """argparse type: an integer >= 0."""
    n = int(text)
    if n < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return n


def main(argv: list[str] | None = None) -> int:
    """CLI; SystemExit from argparse turned into a return value."""
    parser = argparse.ArgumentParser(prog="crawler.py")
    parser.add_argument("url")
    parser.add_argument("--max-pages", type=_positive, default=100)
    parser.add_argument("--max-depth", type=_non_negative, default=3)
    parser.add_argument("--concurrency", type=_positive, default=5)
    parser.add_argument("--sitemap")
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return 2 if stop.code not in (0, None) else 0
    if normalize_url(args.url) is None:
        parser.print_usage(sys.stderr)
        print(f"error: invalid URL {args.url}", file=sys.stderr)
        return 2
    result = asyncio.run(crawl(args.url, max_pages=args.max_pages, max_depth=args.max_depth,
                               concurrency=args.concurrency))
    print(json.dumps({"pages": len(result.pages), "errors": len(result.errors)}))
    if args.sitemap is not None:
        try:
            with open(args.sitemap, "w", encoding="utf-8") as fh:
                fh.write(to_sitemap(result))
        except OSError as exc:
            print(f"error: cannot write {args.sitemap}: {exc}", file=sys.stderr)
            return 2
    return 0
