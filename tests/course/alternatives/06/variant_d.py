"""Alternative 06, variant d: fetch_users lets the other requests run on after a failure (the README allows it),
download removes the partial file on an error but not on cancellation (not required), a chunked
read loop into a file opened with pathlib."""
from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import aiohttp


class ApiError(Exception):
    """An HTTP error status."""

    def __init__(self, status: int, url: str, body: str) -> None:
        """status, url, body as attributes."""
        super().__init__(f"{status} for {url}")
        self.status = status
        self.url = url
        self.body = body


def make_session(base_url: str, *, timeout: float = 10.0, connect_timeout: float = 3.0, limit: int = 10,
                 headers: Mapping[str, str] | None = None) -> aiohttp.ClientSession:
    """The settings, spelled out."""
    return aiohttp.ClientSession(
        base_url=base_url,
        connector=aiohttp.TCPConnector(limit=limit),
        timeout=aiohttp.ClientTimeout(total=timeout, connect=connect_timeout),
        headers=headers,
    )


async def _json_or_error(response: aiohttp.ClientResponse) -> Any:
    raw = await response.read()
    text = raw.decode(response.get_encoding() if raw else "utf-8", errors="replace")
    if response.status >= 400:
        raise ApiError(response.status, str(response.url), text)
    return json.loads(text) if text else None


async def get_json(session: aiohttp.ClientSession, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
    """GET."""
    async with session.get(path, params=params) as response:
        return await _json_or_error(response)


async def post_json(session: aiohttp.ClientSession, path: str, payload: Any) -> Any:
    """POST."""
    async with session.post(path, json=payload) as response:
        return await _json_or_error(response)


async def check_urls(session: aiohttp.ClientSession, urls: Iterable[str]) -> dict[str, int | str]:
    """as_completed over tagged tasks."""
    async def status(url: str) -> tuple[str, int | str]:
        try:
            async with session.get(url) as response:
                return url, response.status
        except Exception as exc:  # noqa: BLE001
            return url, type(exc).__name__

    report: dict[str, int | str] = {}
    for done in asyncio.as_completed([status(u) for u in set(urls)]):
        url, outcome = await done
        report[url] = outcome
    return report


async def download(session: aiohttp.ClientSession, url: str, dest: str | os.PathLike[str], *,
                   chunk_size: int = 65536) -> int:
    """read(chunk_size) until b''; remove the file on an Exception."""
    path = Path(dest)
    async with session.get(url) as response:
        if response.status >= 400:
            await _json_or_error(response)
        count = 0
        try:
            with path.open("wb") as fh:
                while True:
                    block = await response.content.read(chunk_size)
                    if block == b"":
                        break
                    fh.write(block)
                    count += len(block)
        except Exception:
            if path.exists():
                path.unlink()
            raise
    return count


async def fetch_users(base_url: str, ids: Iterable[int | str]) -> list[dict[str, Any]]:
    """gather: the first ApiError propagates; the session closes in every case."""
    session = aiohttp.ClientSession(base_url=base_url)
    try:
        return list(await asyncio.gather(*(get_json(session, f"/users/{user}") for user in ids)))
    finally:
        await session.close()
