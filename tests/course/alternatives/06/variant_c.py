"""Alternative 06, variant c: tempfile.mkstemp beside dest + os.replace, TaskGroup with per-URL try in
check_urls, except* in fetch_users, text() + json.loads."""
from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp


class ApiError(Exception):
    """HTTP error status with its body."""

    def __init__(self, status: int, url: str, body: str) -> None:
        """Keep the three values."""
        self.status = status
        self.url = url
        self.body = body
        super().__init__(f"{status} {url}: {body[:200]}")


def make_session(base_url: str, *, timeout: float = 10.0, connect_timeout: float = 3.0, limit: int = 10,
                 headers: Mapping[str, str] | None = None) -> aiohttp.ClientSession:
    """Keyword-built session."""
    settings: dict[str, Any] = {
        "base_url": base_url,
        "timeout": aiohttp.ClientTimeout(total=timeout, connect=connect_timeout),
        "connector": aiohttp.TCPConnector(limit=limit),
    }
    if headers is not None:
        settings["headers"] = headers
    return aiohttp.ClientSession(**settings)


async def _checked_text(response: aiohttp.ClientResponse) -> str:
    text = await response.text(errors="replace")
    if response.status >= 400:
        raise ApiError(response.status, str(response.url), text)
    return text


async def get_json(session: aiohttp.ClientSession, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
    """text() then json.loads."""
    async with session.get(path, params=params) as response:
        return json.loads(await _checked_text(response))


async def post_json(session: aiohttp.ClientSession, path: str, payload: Any) -> Any:
    """json= body; None when the answer is empty."""
    async with session.post(path, json=payload) as response:
        text = await _checked_text(response)
        return json.loads(text) if text.strip() else None


async def check_urls(session: aiohttp.ClientSession, urls: Iterable[str]) -> dict[str, int | str]:
    """TaskGroup; every task catches its own failure."""
    report: dict[str, int | str] = {}

    async def probe(url: str) -> None:
        try:
            async with session.get(url) as response:
                report[url] = response.status
        except Exception as exc:  # noqa: BLE001 - never raise for one URL
            report[url] = type(exc).__name__

    ordered = list(dict.fromkeys(urls))
    async with asyncio.TaskGroup() as tg:
        for url in ordered:
            tg.create_task(probe(url))
    return {url: report[url] for url in ordered}


async def download(session: aiohttp.ClientSession, url: str, dest: str | os.PathLike[str], *,
                   chunk_size: int = 65536) -> int:
    """A mkstemp file in dest's folder, renamed into place when complete."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    target = os.fspath(dest)
    async with session.get(url) as response:
        if response.status >= 400:
            await _checked_text(response)
        fd, tmp = tempfile.mkstemp(prefix=".dl-", dir=os.path.dirname(os.path.abspath(target)))
        size = 0
        try:
            with os.fdopen(fd, "wb") as sink:
                while chunk := await response.content.read(chunk_size):
                    sink.write(chunk)
                    size += len(chunk)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        return size


async def fetch_users(base_url: str, ids: Iterable[int | str]) -> list[dict[str, Any]]:
    """except* ApiError re-raises the first ApiError by itself."""
    async with aiohttp.ClientSession(base_url=base_url) as session:
        first: ApiError | None = None
        try:
            async with asyncio.TaskGroup() as tg:
                jobs = [tg.create_task(get_json(session, f"/users/{i}")) for i in ids]
        except* ApiError as group:
            first = group.exceptions[0]  # type: ignore[assignment]
        if first is not None:
            raise first
        return [job.result() for job in jobs]
