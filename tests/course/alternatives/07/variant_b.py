"""Alternative 07, variant b: time.strptime + calendar.timegm, response.links, a Lock-based bucket,
Semaphore + asyncio.timeout + TaskGroup."""
from __future__ import annotations

import asyncio
import calendar
import json
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

import aiohttp

_FORMATS = ["%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y"]


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds, or an HTTP-date read with time.strptime (as UTC)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    for fmt in _FORMATS:
        try:
            parsed = time.strptime(value, fmt)
        except ValueError:
            continue
        seconds = calendar.timegm(parsed) - now.timestamp()
        return seconds if seconds > 0 else 0.0
    return None


async def request_with_retry(session: aiohttp.ClientSession, method: str, url: str, *, attempts: int = 4,
                             backoff: float = 0.5, max_backoff: float = 8.0,
                             retry_statuses: Iterable[int] = (429, 500, 502, 503, 504),
                             **kwargs: Any) -> tuple[int, bytes]:
    """A for loop over attempts."""
    statuses = set(retry_statuses)
    for i in range(attempts):
        final = i + 1 == attempts
        try:
            async with session.request(method, url, **kwargs) as response:
                payload = await response.read()
                status = response.status
                header = response.headers.get("Retry-After")
        except (aiohttp.ClientConnectionError, asyncio.TimeoutError):
            if final:
                raise
            await asyncio.sleep(min(backoff * 2 ** i, max_backoff))
            continue
        if final or status not in statuses:
            return status, payload
        after = parse_retry_after(header, now=datetime.now(timezone.utc))
        await asyncio.sleep(min(backoff * 2 ** i if after is None else after, max_backoff))
    raise ValueError("attempts must be >= 1")


async def iter_pages(session: aiohttp.ClientSession, path: str, *, page_size: int = 100) -> AsyncIterator[Any]:
    """Cursor pages, lazily."""
    params: dict[str, Any] = {"limit": page_size}
    while True:
        async with session.get(path, params=params) as response:
            response.raise_for_status()
            page = await response.json(content_type=None)
        for item in page["items"]:
            yield item
        if page.get("next") is None:
            return
        params = {"limit": page_size, "cursor": page["next"]}


async def iter_link_pages(session: aiohttp.ClientSession, url: str) -> AsyncIterator[Any]:
    """response.links (already resolved)."""
    target: str | None = url
    while target:
        async with session.get(target) as response:
            response.raise_for_status()
            data = await response.json(content_type=None)
            nxt = response.links.get("next")
        yield data
        target = str(nxt["url"]) if nxt else None


class RateLimiter:
    """Token bucket guarded by a Lock (FIFO waiters)."""

    def __init__(self, rate: float, burst: int = 1) -> None:
        """Full bucket."""
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp: float | None = None
        self._lock = asyncio.Lock()

    def _refill(self) -> float:
        now = asyncio.get_running_loop().time()
        if self._stamp is not None:
            self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        return now

    async def acquire(self) -> None:
        """Take a token, waiting for one if needed."""
        async with self._lock:
            self._refill()
            if self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) / self.rate)
                self._refill()
            self._tokens -= 1

    async def __aenter__(self) -> RateLimiter:
        """Acquire."""
        await self.acquire()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        """Nothing."""


@dataclass
class FetchResult:
    """The outcome of one GET in ``fetch_many``."""

    url: str
    status: int | None
    data: Any
    error: str | None


async def fetch_many(session: aiohttp.ClientSession, urls: Iterable[str], *, concurrency: int = 5,
                     timeout: float = 5.0, limiter: RateLimiter | None = None) -> list[FetchResult]:
    """Semaphore + TaskGroup; each request under asyncio.timeout."""
    gate = asyncio.Semaphore(concurrency)

    async def get(url: str) -> FetchResult:
        async with gate:
            try:
                if limiter is not None:
                    async with limiter:
                        pass
                async with asyncio.timeout(timeout):
                    async with session.get(url) as response:
                        data = None
                        body = await response.read()
                        if 200 <= response.status <= 299 and response.content_type == "application/json":
                            try:
                                data = json.loads(body.decode("utf-8"))
                            except (UnicodeDecodeError, json.JSONDecodeError):
                                pass
                        return FetchResult(url, response.status, data, None)
            except Exception as exc:  # noqa: BLE001
                return FetchResult(url, None, None, exc.__class__.__name__)

    async with asyncio.TaskGroup() as tg:
        jobs = [tg.create_task(get(u)) for u in urls]
    return [j.result() for j in jobs]
