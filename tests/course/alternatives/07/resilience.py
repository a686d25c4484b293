"""Alternative 07: datetime.strptime dates, a hand-parsed Link header, a GCRA limiter, a worker pool."""
from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from types import TracebackType
from typing import Any
from urllib.parse import urljoin

import aiohttp

_HTTP_DATE_FORMATS = (
    "%a, %d %b %Y %H:%M:%S GMT",   # IMF-fixdate
    "%A, %d-%b-%y %H:%M:%S GMT",   # RFC 850
    "%a %b %d %H:%M:%S %Y",        # asctime
)


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Delta-seconds or an HTTP-date (parsed with datetime.strptime) as seconds from ``now``."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(int(text))
    for fmt in _HTTP_DATE_FORMATS:
        try:
            when = datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
        return max(0.0, (when - now).total_seconds())
    return None


async def request_with_retry(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    attempts: int = 4,
    backoff: float = 0.5,
    max_backoff: float = 8.0,
    retry_statuses: Iterable[int] = (429, 500, 502, 503, 504),
    **kwargs: Any,
) -> tuple[int, bytes]:
    """Retry transient statuses and connection errors with capped backoff or Retry-After."""
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    retryable = frozenset(retry_statuses)
    i = 0
    while True:
        last = i == attempts - 1
        hint: float | None = None
        try:
            async with session.request(method, url, **kwargs) as response:
                body = await response.read()
                if response.status not in retryable or last:
                    return response.status, body
                hint = parse_retry_after(response.headers.get("Retry-After"), now=datetime.now(timezone.utc))
        except (aiohttp.ClientConnectionError, TimeoutError):
            if last:
                raise
        delay = backoff * 2 ** i if hint is None else hint
        await asyncio.sleep(min(delay, max_backoff))
        i += 1


async def iter_pages(
    session: aiohttp.ClientSession, path: str, *, page_size: int = 100
) -> AsyncIterator[Any]:
    """Lazy cursor pagination."""
    cursor: str | None = None
    first = True
    while first or cursor is not None:
        first = False
        params: dict[str, Any] = {"limit": page_size}
        if cursor is not None:
            params["cursor"] = cursor
        async with session.get(path, params=params) as response:
            response.raise_for_status()
            page = await response.json(content_type=None)
        for item in page["items"]:
            yield item
        cursor = page.get("next")


_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")


def _next_link(header: str | None) -> str | None:
    if not header:
        return None
    for match in _LINK.finditer(header):
        for param in match.group(2).split(";"):
            name, _, val = param.strip().partition("=")
            if name.strip().lower() == "rel" and "next" in val.strip().strip('"').lower().split():
                return match.group(1).strip()
    return None


async def iter_link_pages(session: aiohttp.ClientSession, url: str) -> AsyncIterator[Any]:
    """Follow rel="next", resolving relative targets with urllib.parse.urljoin."""
    current: str | None = url
    while current is not None:
        async with session.get(current) as response:
            response.raise_for_status()
            body = await response.json(content_type=None)
            target = _next_link(response.headers.get("Link"))
            here = str(response.url)
        yield body
        current = urljoin(here, target) if target is not None else None


class RateLimiter:
    """GCRA (virtual scheduling): each acquisition reserves the next slot synchronously, so FIFO."""

    _EPS = 1e-9

    def __init__(self, rate: float, burst: int = 1) -> None:
        """``rate`` per second, bursts of ``burst``."""
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval
        self._tat: float | None = None

    async def acquire(self) -> None:
        """Reserve a slot and sleep until it comes."""
        now = asyncio.get_running_loop().time()
        tat = now if self._tat is None else max(self._tat, now)
        start = tat - self._tolerance
        self._tat = tat + self._interval
        if start > now + self._EPS:
            await asyncio.sleep(start - now)

    async def __aenter__(self) -> RateLimiter:
        """Acquire."""
        await self.acquire()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        """Nothing to release."""


@dataclass
class FetchResult:
    """The outcome of one GET in ``fetch_many``."""

    url: str
    status: int | None
    data: Any
    error: str | None


async def fetch_many(
    session: aiohttp.ClientSession,
    urls: Iterable[str],
    *,
    concurrency: int = 5,
    timeout: float = 5.0,
    limiter: RateLimiter | None = None,
) -> list[FetchResult]:
    """A pool of ``concurrency`` workers; each request under asyncio.wait_for."""
    url_list = list(urls)
    results: list[FetchResult | None] = [None] * len(url_list)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(url_list)):
        queue.put_nowait(index)

    async def one(url: str) -> FetchResult:
        async with session.get(url) as response:
            status = response.status
            body = await response.read()
            data = None
            if 200 <= status < 300 and response.content_type == "application/json":
                try:
                    data = json.loads(body)
                except ValueError:
                    data = None
            return FetchResult(url, status, data, None)

    async def worker() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            url = url_list[index]
            try:
                if limiter is not None:
                    await limiter.acquire()
                results[index] = await asyncio.wait_for(one(url), timeout)
            except Exception as exc:  # noqa: BLE001 - never raise for one URL
                results[index] = FetchResult(url, None, None, type(exc).__name__)

    workers = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, len(url_list))))]
    try:
        await asyncio.gather(*workers)
    finally:
        for w in workers:
            w.cancel()
    return [r for r in results if r is not None]
