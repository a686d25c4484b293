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
    # YOUR CODE HERE
    raise NotImplementedError()


class _LinkParser(HTMLParser):
    """Collects the ``href`` of every ``<a>`` start tag, in document order."""

    def __init__(self) -> None:
        # YOUR CODE HERE
        raise NotImplementedError()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Remember the href of an ``<a>`` tag (html.parser gives lowercase names, unescaped values)."""
        # YOUR CODE HERE
        raise NotImplementedError()


def extract_links(html: str, base: str) -> list[str]:
    """The ``href`` of every ``<a>`` tag in ``html``, normalized against ``base``.

    Invalid and non-http(s) links are dropped, and so are duplicates (after
    normalization); the rest stay in document order.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


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
    # YOUR CODE HERE
    raise NotImplementedError()


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
    # YOUR CODE HERE
    raise NotImplementedError()


def to_sitemap(result: CrawlResult) -> str:
    """A sitemap XML document listing every 2xx page URL of ``result`` once, sorted and escaped."""
    # YOUR CODE HERE
    raise NotImplementedError()


def _positive(text: str) -> int:
    """argparse type: an integer >= 1."""
    # YOUR CODE HERE
    raise NotImplementedError()


def _non_negative(text: str) -> int:
    """argparse type: an integer >= 0."""
    # YOUR CODE HERE
    raise NotImplementedError()


def main(argv: list[str] | None = None) -> int:
    """``python crawler.py URL [--max-pages N] [--max-depth D] [--concurrency C] [--sitemap FILE]``.

    Crawls, prints ``{"pages": n, "errors": n}`` as JSON to stdout, writes the
    sitemap to FILE when asked and returns 0. An invalid URL or option prints
    a message to stderr and returns 2 (it never raises ``SystemExit``).
    """
    # YOUR CODE HERE
    raise NotImplementedError()


if __name__ == "__main__":
    sys.exit(main())
