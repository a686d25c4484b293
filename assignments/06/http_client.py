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
        # YOUR CODE HERE
        raise NotImplementedError()


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
    # YOUR CODE HERE
    raise NotImplementedError()


async def get_json(session: aiohttp.ClientSession, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
    """GET ``path``; return the parsed JSON body whatever its content type.

    A status of 400 or more raises ``ApiError(status, str(url), text)``.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


async def post_json(session: aiohttp.ClientSession, path: str, payload: Any) -> Any:
    """POST ``payload`` as a JSON body to ``path``; return the parsed JSON answer, or ``None`` if it is empty.

    A status of 400 or more raises ``ApiError(status, str(url), text)``.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


async def check_urls(session: aiohttp.ClientSession, urls: Iterable[str]) -> dict[str, int | str]:
    """GET every URL at once; map each to its status code, or to the class name of the exception it raised.

    One failing URL never makes the whole call raise.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


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
    # YOUR CODE HERE
    raise NotImplementedError()


async def fetch_users(base_url: str, ids: Iterable[int | str]) -> list[dict[str, Any]]:
    """GET ``/users/{id}`` for every id at once through one session; the JSON bodies in input order.

    An error status raises ``ApiError``; the session is closed in every case.
    """
    # YOUR CODE HERE
    raise NotImplementedError()
