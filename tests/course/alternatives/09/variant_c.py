"""Alternative 09, variant c: levels run in a TaskGroup under a Semaphore, redirects not followed,
urllib.parse with _replace, a tiny HTMLParser, minidom-free hand-escaped sitemap via html.escape."""
from __future__ import annotations

import argparse
import asyncio
import html
import json
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import SplitResult, urljoin, urlsplit

import aiohttp


def normalize_url(url: str, base: str | None = None) -> str | None:
    """SplitResult._replace with a rebuilt netloc."""
    try:
        parts: SplitResult = urlsplit(urljoin(base, url) if base else url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"} or not parts.hostname:
        return None
    before, sep, after = parts.netloc.rpartition("@")
    if after.startswith("["):
        host = after[: after.index("]") + 1].lower()
    else:
        host = after.split(":", 1)[0].lower()
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        host = f"{host}:{port}"
    return parts._replace(scheme=scheme, netloc=before + sep + host, path=parts.path or "/",
                          fragment="").geturl()


class _A(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base
        self.links: dict[str, None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = next((v for k, v in attrs if k == "href"), None)
            if href is not None:
                url = normalize_url(href, self.base)
                if url:
                    self.links[url] = None

    handle_startendtag = handle_starttag


def extract_links(html_text: str, base: str) -> list[str]:
    """Unique normalized <a href>, document order."""
    parser = _A(base)
    parser.feed(html_text)
    parser.close()
    return list(parser.links)


@dataclass
class CrawlResult:
    """What a crawl found."""

    pages: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    links: dict[str, list[str]] = field(default_factory=dict)


async def crawl(start_url: str, *, max_pages: int = 100, max_depth: int = 3, concurrency: int = 5,
                session: aiohttp.ClientSession | None = None) -> CrawlResult:
    """Breadth-first by levels in TaskGroups; a 3xx Location is one more link."""
    start = normalize_url(start_url)
    if start is None or max_pages < 1 or max_depth < 0 or concurrency < 1:
        raise ValueError("invalid arguments to crawl()")
    host = urlsplit(start).hostname
    out = CrawlResult()
    limit = asyncio.Semaphore(concurrency)

    def local(url: str) -> bool:
        return urlsplit(url).hostname == host

    async def get(http: aiohttp.ClientSession, url: str) -> list[str]:
        async with limit:
            try:
                async with http.get(url, allow_redirects=False) as r:
                    out.pages[url] = r.status
                    if r.status in range(300, 400):
                        target = normalize_url(r.headers.get("Location", ""), url)
                        return [target] if target and local(target) else []
                    if r.status not in range(200, 300) or r.content_type != "text/html":
                        return []
                    page = await r.text(errors="replace")
            except Exception as exc:  # noqa: BLE001
                if url not in out.pages:
                    out.errors[url] = type(exc).__name__
                return []
        found = [u for u in extract_links(page, url) if local(u)]
        out.links[url] = found
        return found

    async def levels(http: aiohttp.ClientSession) -> None:
        seen, frontier, depth, left = {start}, [start], 0, max_pages
        while frontier and left:
            frontier = frontier[:left]
            left -= len(frontier)
            async with asyncio.TaskGroup() as tg:
                jobs = [tg.create_task(get(http, u)) for u in frontier]
            frontier = []
            if depth < max_depth:
                for job in jobs:
                    for u in job.result():
                        if u not in seen:
                            seen.add(u)
                            frontier.append(u)
            depth += 1

    if session:
        await levels(session)
    else:
        async with aiohttp.ClientSession() as mine:
            await levels(mine)
    return out


def to_sitemap(result: CrawlResult) -> str:
    """html.escape(quote=False) escapes &, < and >."""
    body = "".join(f"<url><loc>{html.escape(u, quote=False)}</loc></url>"
                   for u in sorted(u for u, s in result.pages.items() if 200 <= s < 300))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>\n')


def _positive(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not positive")
    return value


def _non_negative(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def main(argv: list[str] | None = None) -> int:
    """exit_on_error=False plus a SystemExit guard for what argparse still exits on."""
    parser = argparse.ArgumentParser(prog="crawler.py", exit_on_error=False)
    parser.add_argument("url")
    parser.add_argument("--max-pages", type=_positive, default=100)
    parser.add_argument("--max-depth", type=_non_negative, default=3)
    parser.add_argument("--concurrency", type=_positive, default=5)
    parser.add_argument("--sitemap", metavar="FILE")
    try:
        args = parser.parse_args(argv)
    except argparse.ArgumentError as exc:
        print(f"crawler.py: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:
        return 0 if exc.code in (0, None) else 2
    if normalize_url(args.url) is None:
        print(f"crawler.py: not an http(s) URL: {args.url}", file=sys.stderr)
        return 2
    result = asyncio.run(crawl(args.url, max_pages=args.max_pages, max_depth=args.max_depth,
                               concurrency=args.concurrency))
    if args.sitemap:
        try:
            with open(args.sitemap, "w", encoding="utf-8") as f:
                f.write(to_sitemap(result))
        except OSError as exc:
            print(f"crawler.py: cannot write {args.sitemap}: {exc.strerror}", file=sys.stderr)
            return 2
    print(json.dumps({"pages": len(result.pages), "errors": len(result.errors)}))
    return 0
