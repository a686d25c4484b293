"""Alternative 06: bytes + json.loads, asyncio.wait, atomic .part download via to_thread, TaskGroup."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp


class ApiError(Exception):
    """The server answered with an error status (400 or more)."""

    def __init__(self, status: int, url: str, body: str) -> None:
        """Keep status, url, body."""
        super().__init__(f"HTTP {status} from {url}")
        self.status = status
        self.url = url
        self.body = body


def make_session(
    base_url: str,
    *,
    timeout: float = 10.0,
    connect_timeout: float = 3.0,
    limit: int = 10,
    headers: Mapping[str, str] | None = None,
) -> aiohttp.ClientSession:
    """Session with base_url, timeouts, limit and default headers."""
    connector = aiohttp.TCPConnector(limit=limit)
    return aiohttp.ClientSession(
        base_url=base_url,
        timeout=aiohttp.ClientTimeout(total=timeout, connect=connect_timeout),
        connector=connector,
        headers=dict(headers) if headers else None,
    )


def _decode(raw: bytes, charset: str | None) -> str:
    try:
        return raw.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")


async def _answer(response: aiohttp.ClientResponse) -> Any:
    raw = await response.read()
    if response.status >= 400:
        raise ApiError(response.status, str(response.url), _decode(raw, response.charset))
    if not raw.strip():
        return None
    return json.loads(raw)


async def get_json(session: aiohttp.ClientSession, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
    """GET and parse JSON whatever the content type."""
    async with session.get(path, params=params) as response:
        return await _answer(response)


async def post_json(session: aiohttp.ClientSession, path: str, payload: Any) -> Any:
    """POST JSON; parse the answer; None for an empty body."""
    async with session.post(path, json=payload) as response:
        return await _answer(response)


async def check_urls(session: aiohttp.ClientSession, urls: Iterable[str]) -> dict[str, int | str]:
    """All at once with asyncio.wait; status or exception class name."""
    unique = list(dict.fromkeys(urls))
    if not unique:
        return {}

    async def probe(url: str) -> int:
        async with session.get(url) as response:
            return response.status

    tasks = {asyncio.ensure_future(probe(u)): u for u in unique}
    try:
        await asyncio.wait(tasks)
    finally:
        for t in tasks:
            t.cancel()
    out: dict[str, int | str] = {}
    for task, url in tasks.items():
        exc = task.exception()
        out[url] = task.result() if exc is None else type(exc).__name__
    return {u: out[u] for u in unique}


async def download(
    session: aiohttp.ClientSession,
    url: str,
    dest: str | os.PathLike[str],
    *,
    chunk_size: int = 65536,
) -> int:
    """Stream into dest + '.part', then os.replace into place."""
    final = os.fspath(dest)
    part = final + ".part"
    async with session.get(url) as response:
        if response.status >= 400:
            body = _decode(await response.read(), response.charset)
            raise ApiError(response.status, str(response.url), body)
        written = 0
        handle = await asyncio.to_thread(open, part, "wb")
        try:
            try:
                while True:
                    chunk = await response.content.read(chunk_size)
                    if not chunk:
                        break
                    await asyncio.to_thread(handle.write, chunk)
                    written += len(chunk)
            finally:
                await asyncio.to_thread(handle.close)
            os.replace(part, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.remove(part)
            raise
    return written


async def fetch_users(base_url: str, ids: Iterable[int | str]) -> list[dict[str, Any]]:
    """One session, TaskGroup, unwrap the first ApiError."""
    async with aiohttp.ClientSession(base_url=base_url) as session:
        try:
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(get_json(session, f"/users/{uid}")) for uid in ids]
        except ExceptionGroup as group:
            for exc in group.exceptions:
                if isinstance(exc, ApiError):
                    raise exc from None
            raise
        return [t.result() for t in tasks]
