"""A mocked web site for the crawler's tests (assignment 09).

Pages live on ``http://site.test`` and answer through aioresponses and a
``Traffic`` recorder; a URL nobody registered fails with
``ClientConnectionError``, so a request off the site shows up in the test.
"""
from __future__ import annotations

import html

import json
from collections import Counter
from typing import Any

import pytest
from aioresponses import aioresponses

from coursekit.http import Traffic

SITE = "http://site.test"
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def html_page(*hrefs: str) -> str:
    """An HTML page with one <a> per href, in that order.

    Each href is escaped as HTML requires (``&`` as ``&amp;``): left bare, a
    query such as ``?a=1&degree=2`` would read as the entity ``&deg`` (°) to
    any HTML parser, which is the page's fault, not the crawler's.
    """
    anchors = "".join(f'<p><a href="{html.escape(href, quote=True)}">link {i}</a></p>' for i, href in enumerate(hrefs))
    return f"<!doctype html><html><head><title>t</title></head><body>{anchors}</body></html>"


class Site:
    """A mocked web site on ``SITE``; every page answers through a ``Traffic`` recorder."""

    def __init__(self, mock_http: aioresponses, traffic: Traffic) -> None:
        self.mock = mock_http
        self.traffic = traffic

    def page(self, path: str, *hrefs: str, status: int = 200, delay: float = 0.0,
             content_type: str = "text/html; charset=utf-8", body: str | None = None,
             headers: dict[str, str] | None = None, error: BaseException | None = None) -> str:
        """Serve an HTML page linking to ``hrefs`` at ``path`` (or any other answer); returns its URL."""
        url = path if path.startswith("http") else SITE + path
        reply = self.traffic.reply(
            status=status,
            body=html_page(*hrefs) if body is None else body,
            content_type=content_type,
            delay=delay,
            headers=headers,
            error=error,
        )
        self.mock.get(url, callback=reply, repeat=True)
        return url

    def requested(self) -> Counter[str]:
        """How many times each URL was requested, served or not."""
        counts: Counter[str] = Counter()
        for (_method, url), calls in self.mock.requests.items():
            counts[str(url)] += len(calls)
        return counts

    def assert_each_fetched_once(self, *, what: str) -> None:
        """Fail if some URL was requested more than once."""
        twice = {url: n for url, n in self.requested().items() if n > 1}
        assert not twice, f"{what}: each normalized URL must be fetched at most once; fetched more than once: {twice!r}"

    def assert_never_fetched(self, *urls: str, why: str) -> None:
        """Fail if one of ``urls`` was requested."""
        requested = self.requested()
        hit = [url for url in urls if requested[url]]
        assert not hit, f"crawl fetched {hit!r}, which it should never request: {why}"


@pytest.fixture
def site(mock_http: aioresponses, traffic: Traffic) -> Site:
    """The mocked site of a test (see ``Site``)."""
    return Site(mock_http, traffic)


def json_summary(out: str) -> dict[str, Any]:
    """The JSON object a command printed: all of stdout, or else its last line."""
    lines = out.strip().splitlines() or [""]
    for text in (out, lines[-1]):
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    raise AssertionError(f'stdout should end with a JSON object like {{"pages": 2, "errors": 0}}, got {out!r}')
