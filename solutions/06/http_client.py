"""Assignment 06: the aiohttp client. Sessions, timeouts, JSON, status errors and streaming.

Fill in every function marked "YOUR CODE HERE". Instructions: README.md in this folder.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp


class ApiError(Exception):
    """The server answered with an error status (400 or more)."""

    def __init__(self, status: int, url: str, body: str) -> None:
        """Keep ``status``, ``url`` and ``body`` as attributes of the same names."""
        ### BEGIN SOLUTION
        super().__init__(f"HTTP {status} from {url}: {body[:200]}")
        self.status = status
        self.url = url
        self.body = body
        ### END SOLUTION


def make_session(
    base_url: str,
    *,
    timeout: float = 10.0,
    connect_timeout: float = 3.0,
    limit: int = 10,
    headers: Mapping[str, str] | None = None,
) -> aiohttp.ClientSession:
    """A session for ``base_url`` with a total and a connect timeout, a connection limit and default headers.

    Call it from a running event loop (inside a coroutine); the caller owns the
    session and must close it, best with ``async with make_session(...) as session:``.
    """
    ### BEGIN SOLUTION
    return aiohttp.ClientSession(
        base_url=base_url,
        timeout=aiohttp.ClientTimeout(total=timeout, connect=connect_timeout),
        connector=aiohttp.TCPConnector(limit=limit),
        headers=headers,
    )
    ### END SOLUTION


async def get_json(session: aiohttp.ClientSession, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
    """GET ``path``; return the parsed JSON body whatever its content type.

    A status of 400 or more raises ``ApiError(status, str(url), text)``.
    """
    ### BEGIN SOLUTION
    async with session.get(path, params=params) as response:
        if response.status >= 400:
            raise ApiError(response.status, str(response.url), await response.text(errors="replace"))
        return await response.json(content_type=None)
    ### END SOLUTION


async def post_json(session: aiohttp.ClientSession, path: str, payload: Any) -> Any:
    """POST ``payload`` as a JSON body to ``path``; return the parsed JSON answer, or ``None`` if it is empty.

    A status of 400 or more raises ``ApiError(status, str(url), text)``.
    """
    ### BEGIN SOLUTION
    async with session.post(path, json=payload) as response:
        if response.status >= 400:
            raise ApiError(response.status, str(response.url), await response.text(errors="replace"))
        body = await response.read()
        if not body.strip():
            return None
        return await response.json(content_type=None)
    ### END SOLUTION


async def check_urls(session: aiohttp.ClientSession, urls: Iterable[str]) -> dict[str, int | str]:
    """GET every URL at once; map each to its status code, or to the class name of the exception it raised.

    One failing URL never makes the whole call raise.
    """
    ### BEGIN SOLUTION
    urls = list(urls)

    async def check(url: str) -> int | str:
        try:
            async with session.get(url) as response:
                return response.status
        except Exception as exc:  # a CancelledError is not an Exception: it still propagates
            return type(exc).__name__

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(check(url)) for url in urls]
    return {url: task.result() for url, task in zip(urls, tasks)}
    ### END SOLUTION


async def download(
    session: aiohttp.ClientSession,
    url: str,
    dest: str | os.PathLike[str],
    *,
    chunk_size: int = 65536,
) -> int:
    """Stream the body of ``url`` into the file ``dest``, ``chunk_size`` bytes at most at a time.

    Returns the number of bytes written. A status of 400 or more raises
    ``ApiError`` before any file is created. If the transfer fails midway (or
    is cancelled), the partial file is removed and the exception propagates.
    """
    ### BEGIN SOLUTION
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    async with session.get(url) as response:
        if response.status >= 400:
            raise ApiError(response.status, str(response.url), await response.text(errors="replace"))
        written = 0
        try:
            with open(dest, "wb") as file:
                async for chunk in response.content.iter_chunked(chunk_size):
                    file.write(chunk)
                    written += len(chunk)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.remove(dest)
            raise
        return written
    ### END SOLUTION


async def fetch_users(base_url: str, ids: Iterable[int | str]) -> list[dict[str, Any]]:
    """GET ``/users/{id}`` for every id at once through one session; the JSON bodies in input order.

    An error status raises ``ApiError``; the session is closed in every case.
    """
    ### BEGIN SOLUTION
    async with make_session(base_url) as session:
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(get_json(session, f"/users/{user_id}")) for user_id in ids]
        except* ApiError as failures:
            raise failures.exceptions[0] from None
        return [task.result() for task in tasks]
    ### END SOLUTION
