"""Alternative 07, variant c: email.utils.parsedate_tz/mktime_tz, negative delta-seconds as 0.0 (accepted),
an async-generator page helper, a limiter of reserved slots with a Condition-free design, gather + wait_for."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import mktime_tz, parsedate_tz
from types import TracebackType
from typing import Any

import aiohttp


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Integers via int() (a negative one clamps to 0.0), dates via parsedate_tz."""
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    try:
        return float(max(0, int(text, 10)))
    except ValueError:
        pass
    parts = parsedate_tz(text)
    if parts is None:
        return None
    try:
        when = mktime_tz(parts)
    except (OverflowError, ValueError):
        return None
    return max(0.0, when - now.timestamp())


async def request_with_retry(session: aiohttp.ClientSession, method: str, url: str, *, attempts: int = 4,
                             backoff: float = 0.5, max_backoff: float = 8.0,
                             retry_statuses: Iterable[int] = (429, 500, 502, 503, 504),
                             **kwargs: Any) -> tuple[int, bytes]:
    """Recursion-free loop; waits computed by a helper."""
    statuses = tuple(retry_statuses)

    def pause(i: int, header: str | None) -> float:
        hinted = parse_retry_after(header, now=datetime.now(timezone.utc))
        return min(backoff * (2 ** i) if hinted is None else hinted, max_backoff)

    attempt = 0
    while True:
        header = None
        try:
            response = await session.request(method, url, **kwargs)
        except (aiohttp.ClientConnectionError, TimeoutError):
            if attempt >= attempts - 1:
                raise
        else:
            async with response:
                body = await response.read()
            if response.status not in statuses or attempt >= attempts - 1:
                return response.status, body
            header = response.headers.get("Retry-After")
        await asyncio.sleep(pause(attempt, header))
        attempt += 1


async def _pages(session: aiohttp.ClientSession, path: str, page_size: int) -> AsyncIterator[dict[str, Any]]:
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": page_size} if cursor is None else {"limit": page_size, "cursor": cursor}
        async with session.get(path, params=params) as response:
            response.raise_for_status()
            page = json.loads(await response.read())
        yield page
        cursor = page["next"]
        if cursor is None:
            break


async def iter_pages(session: aiohttp.ClientSession, path: str, *, page_size: int = 100) -> AsyncIterator[Any]:
    """Items of each page, page by page."""
    async for page in _pages(session, path, page_size):
        for item in page["items"]:
            yield item


async def iter_link_pages(session: aiohttp.ClientSession, url: str) -> AsyncIterator[Any]:
    """response.links; the target resolved with yarl's join against the response URL."""
    current = url
    while True:
        async with session.get(current) as response:
            response.raise_for_status()
            body = await response.json(content_type=None)
            link = response.links.get("next")
            base = response.url
        yield body
        if not link:
            return
        current = str(base.join(link["url"]))


class RateLimiter:
    """Reserved slots: the bucket is a "full again at" time; each caller reserves one step of it."""

    def __init__(self, rate: float, burst: int = 1) -> None:
        """rate per second, burst tokens."""
        self._step = 1.0 / rate
        self._depth = burst * self._step   # how far ahead of now "full again" may run
        self._full_at: float | None = None

    async def acquire(self) -> None:
        """Reserve one step, then sleep until that step fits in the bucket."""
        now = asyncio.get_running_loop().time()
        full_at = now if self._full_at is None or self._full_at < now else self._full_at
        full_at += self._step
        self._full_at = full_at
        due = full_at - self._depth
        if due > now + 1e-9:
            await asyncio.sleep(due - now)

    async def __aenter__(self) -> RateLimiter:
        """Acquire."""
        await self.acquire()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        """Nothing to give back."""


@dataclass
class FetchResult:
    """The outcome of one GET in ``fetch_many``."""

    url: str
    status: int | None
    data: Any
    error: str | None


async def fetch_many(session: aiohttp.ClientSession, urls: Iterable[str], *, concurrency: int = 5,
                     timeout: float = 5.0, limiter: RateLimiter | None = None) -> list[FetchResult]:
    """Semaphore + gather, each request under wait_for; mimetype checked by hand."""
    sem = asyncio.Semaphore(concurrency)

    async def request(url: str) -> FetchResult:
        async with session.get(url) as resp:
            raw = await resp.read()
            mime = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
            data = None
            if 200 <= resp.status < 300 and mime == "application/json":
                try:
                    data = json.loads(raw)
                except ValueError:
                    data = None
            return FetchResult(url=url, status=resp.status, data=data, error=None)

    async def one(url: str) -> FetchResult:
        async with sem:
            try:
                if limiter:
                    await limiter.acquire()
                return await asyncio.wait_for(request(url), timeout=timeout)
            except Exception as exc:  # noqa: BLE001
                return FetchResult(url=url, status=None, data=None, error=type(exc).__name__)

    return list(await asyncio.gather(*map(one, urls)))
