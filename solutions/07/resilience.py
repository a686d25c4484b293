"""Assignment 07: resilient HTTP clients with aiohttp.

Production patterns for talking to real services: retries with capped
exponential backoff that honour ``Retry-After``, lazy pagination (cursors and
``Link`` headers), a token-bucket rate limiter on the loop clock, and a bounded
fan-out that never lets one failing URL sink the whole batch.

Fill in every function marked "YOUR CODE HERE". Instructions: README.md in this folder.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import aiohttp


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Turn a ``Retry-After`` header value into seconds to wait.

    ``value`` is either delta-seconds (``"120"``) or an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``), which is read relative to the
    timezone-aware ``now``. The result is never negative: a date in the past
    gives ``0.0``. ``None``, an empty string or anything unparsable gives ``None``.
    """
    ### BEGIN SOLUTION
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # HTTP-dates are always GMT
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())
    ### END SOLUTION


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
    """Send a request, retrying transient failures; return ``(status, body)`` of the final response.

    A response whose status is in ``retry_statuses``, an
    ``aiohttp.ClientConnectionError`` and a ``TimeoutError`` are retried, up to
    ``attempts`` requests in all. Before retry ``i`` (the first is ``i = 0``)
    it waits the response's ``Retry-After`` when it has one, else
    ``backoff * 2 ** i``; both are capped at ``max_backoff``. Any other status
    is returned at once. After the last attempt, the last response is returned
    or the last exception re-raised. Extra ``kwargs`` go to ``session.request``.
    """
    ### BEGIN SOLUTION
    retry_on = set(retry_statuses)
    for i in range(attempts):
        last_attempt = i == attempts - 1
        try:
            async with session.request(method, url, **kwargs) as response:
                status = response.status
                body = await response.read()
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientConnectionError, TimeoutError):
            if last_attempt:
                raise
            delay = backoff * 2**i
        else:
            if status not in retry_on or last_attempt:
                return status, body
            wait = parse_retry_after(retry_after, now=datetime.now(timezone.utc))
            delay = backoff * 2**i if wait is None else wait
        await asyncio.sleep(min(delay, max_backoff))
    raise ValueError(f"attempts must be at least 1, got {attempts}")
    ### END SOLUTION


async def iter_pages(
    session: aiohttp.ClientSession, path: str, *, page_size: int = 100
) -> AsyncIterator[Any]:
    """Yield the items of a cursor-paginated endpoint, one at a time.

    The first request is ``GET path`` with ``params={"limit": page_size}``,
    the next ones add ``"cursor": next``. Each page is JSON
    ``{"items": [...], "next": str | None}``; iteration stops when ``next``
    is null. A page is fetched only when the consumer asks for an item past
    the ones already fetched.
    """
    ### BEGIN SOLUTION
    params: dict[str, Any] = {"limit": page_size}
    while True:
        async with session.get(path, params=params) as response:
            response.raise_for_status()
            page = await response.json(content_type=None)
        for item in page["items"]:
            yield item
        cursor = page.get("next")
        if cursor is None:
            return
        params = {"limit": page_size, "cursor": cursor}
    ### END SOLUTION


async def iter_link_pages(session: aiohttp.ClientSession, url: str) -> AsyncIterator[Any]:
    """Yield each page's parsed JSON body, following ``Link: <...>; rel="next"`` headers.

    A relative target is resolved against the URL of the page that named it.
    Iteration stops at the first page without a ``rel="next"`` link.
    """
    ### BEGIN SOLUTION
    next_url: Any = url
    while next_url is not None:
        async with session.get(next_url) as response:
            response.raise_for_status()
            body = await response.json(content_type=None)
            link = response.links.get("next")
            # aiohttp resolves the target against the response URL for us.
            next_url = link.get("url") if link is not None else None
        yield body
    ### END SOLUTION


class RateLimiter:
    """A token bucket on the loop clock: at most ``rate`` acquisitions per second, plus ``burst``.

    The bucket starts full with ``burst`` tokens and refills continuously at
    ``rate`` tokens per second, never holding more than ``burst``. Each
    acquisition takes one token, waiting for it when the bucket is empty.
    Waiters are served one at a time, in arrival order.
    """

    def __init__(self, rate: float, burst: int = 1) -> None:
        """A limiter allowing ``rate`` acquisitions per second and bursts of ``burst``."""
        ### BEGIN SOLUTION
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._updated: float | None = None
        self._lock = asyncio.Lock()  # one waiter at a time: first come, first served
        ### END SOLUTION

    async def acquire(self) -> None:
        """Take one token: return at once if one is left, otherwise wait until one has refilled."""
        ### BEGIN SOLUTION
        async with self._lock:
            loop = asyncio.get_running_loop()
            while True:
                now = loop.time()
                if self._updated is not None:
                    self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1 - 1e-9:  # tolerate floating-point dust
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)
        ### END SOLUTION

    async def __aenter__(self) -> RateLimiter:
        """``async with limiter:`` acquires one token."""
        ### BEGIN SOLUTION
        await self.acquire()
        return self
        ### END SOLUTION

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Nothing to give back: a token is spent once acquired."""
        ### BEGIN SOLUTION
        return None
        ### END SOLUTION


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
    """GET every URL with at most ``concurrency`` requests in flight; results in input order.

    Each request is bounded by ``timeout`` seconds; ``limiter`` (when given) is
    acquired before each request. ``data`` is the parsed JSON of a 2xx
    response with a JSON body, else ``None``. A failure gives
    ``status=None`` and ``error`` set to the exception's class name. Never
    raises for one URL.
    """
    ### BEGIN SOLUTION
    slots = asyncio.Semaphore(concurrency)

    async def fetch_one(url: str) -> FetchResult:
        async with slots:
            if limiter is not None:
                await limiter.acquire()
            try:
                async with asyncio.timeout(timeout):
                    async with session.get(url) as response:
                        status = response.status
                        content_type = response.content_type
                        body = await response.read()
            except Exception as exc:  # one URL must never sink the batch
                return FetchResult(url, None, None, type(exc).__name__)
        data = None
        if 200 <= status < 300 and body and "json" in content_type:
            try:
                data = json.loads(body)
            except ValueError:
                data = None
        return FetchResult(url, status, data, None)

    return list(await asyncio.gather(*(fetch_one(url) for url in urls)))
    ### END SOLUTION
