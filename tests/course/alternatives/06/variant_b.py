"""Alternative 06, variant b: response.json(content_type=None), gather(return_exceptions), direct write with iter_chunked."""
from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import aiohttp


class ApiError(Exception):
    """An error status, with the body kept."""

    def __init__(self, status: int, url: str, body: str) -> None:
        """status, url, body."""
        super().__init__(status, url, body)
        self.status, self.url, self.body = status, url, body


def make_session(base_url: str, *, timeout: float = 10.0, connect_timeout: float = 3.0, limit: int = 10,
                 headers: Mapping[str, str] | None = None) -> aiohttp.ClientSession:
    """ClientSession with the given settings."""
    return aiohttp.ClientSession(base_url, headers=headers,
                                 timeout=aiohttp.ClientTimeout(total=timeout, connect=connect_timeout),
                                 connector=aiohttp.TCPConnector(limit=limit))


async def _raise_for(response: aiohttp.ClientResponse) -> None:
    if response.status >= 400:
        raise ApiError(response.status, str(response.url), await response.text(errors="replace"))


async def get_json(session: aiohttp.ClientSession, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
    """GET JSON."""
    async with session.get(path, params=params) as response:
        await _raise_for(response)
        return await response.json(content_type=None)


async def post_json(session: aiohttp.ClientSession, path: str, payload: Any) -> Any:
    """POST JSON."""
    async with session.post(path, json=payload) as response:
        await _raise_for(response)
        return await response.json(content_type=None)


async def check_urls(session: aiohttp.ClientSession, urls: Iterable[str]) -> dict[str, int | str]:
    """gather(return_exceptions=True)."""
    url_list = list(urls)

    async def status_of(url: str) -> int:
        async with session.get(url) as response:
            return response.status

    outcomes = await asyncio.gather(*(status_of(u) for u in url_list), return_exceptions=True)
    report: dict[str, int | str] = {}
    for url, outcome in zip(url_list, outcomes):
        report[url] = type(outcome).__name__ if isinstance(outcome, BaseException) else outcome
    return report


async def download(session: aiohttp.ClientSession, url: str, dest: str | os.PathLike[str], *,
                   chunk_size: int = 65536) -> int:
    """Straight into dest with iter_chunked; unlink on failure."""
    path = Path(dest)
    async with session.get(url) as response:
        await _raise_for(response)
        total = 0
        try:
            with path.open("wb") as out:
                async for chunk in response.content.iter_chunked(chunk_size):
                    out.write(chunk)
                    total += len(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return total


async def fetch_users(base_url: str, ids: Iterable[int | str]) -> list[dict[str, Any]]:
    """gather; on error cancel the rest; session closed by async with."""
    async with aiohttp.ClientSession(base_url) as session:
        tasks = [asyncio.ensure_future(get_json(session, f"/users/{i}")) for i in ids]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
