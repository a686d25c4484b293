"""Assignment 08: an aiohttp web service with app state, start-up/clean-up and middlewares.

Fill in every function marked "YOUR CODE HERE". Instructions: README.md in this folder.

The service keeps a small in-memory catalogue of items and forwards weather
questions to an upstream HTTP API through one shared ``aiohttp.ClientSession``.
Everything an application needs (its items, its session) lives in that
application's state, never in module globals, so two applications never share
anything. The names below (``ItemStore``, the ``AppKey`` constants, the helper
functions) are a suggested layout: the tests only call ``create_app`` and talk
to the application over HTTP.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

#: Seconds the service waits for the upstream weather API before answering 502.
UPSTREAM_TIMEOUT = 2.0

#: The header that carries the handling time in milliseconds.
RESPONSE_TIME_HEADER = "X-Response-Time"

log = logging.getLogger("course.web_service")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class ItemStore:
    """The items of ONE application: ``id -> {"id", "name", "price"}`` and the next id to hand out."""

    items: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 1


# Typed keys into the application's state: ``app[STORE]``, ``request.app[UPSTREAM]``.
STORE = web.AppKey("store", ItemStore)
UPSTREAM = web.AppKey("upstream", aiohttp.ClientSession)
WEATHER_URL = web.AppKey("weather_url", str)


def json_error(status: int, message: str) -> web.Response:
    """A JSON error response ``{"error": message}`` with the given status."""
    # YOUR CODE HERE
    raise NotImplementedError()


@web.middleware
async def timing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost middleware: put the handling time, in milliseconds, in ``X-Response-Time``.

    It must also stamp responses that reach it as a raised ``web.HTTPException``.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn any unhandled exception into 500 ``{"error": "internal server error"}``.

    aiohttp's own HTTP errors (an unknown route's 404, a wrong method's 405)
    keep their own status, never 500 (the reference answers them in JSON;
    their body is free). It may log the traceback, but never puts it into
    the response body.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


async def upstream_session(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: open the upstream ``ClientSession`` at start-up, close it at clean-up."""
    # YOUR CODE HERE
    raise NotImplementedError()


def validate_item(data: Any) -> str | None:
    """Return what is wrong with a posted item, or ``None`` when it is valid.

    Valid: a JSON object with ``name`` a non-empty string and ``price`` a
    finite number (int or float, not a bool) that is ``>= 0``.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def requested_id(request: web.Request) -> int | None:
    """The ``{id}`` of the URL as an int, or ``None`` when it is not a plain number."""
    # YOUR CODE HERE
    raise NotImplementedError()


async def health(request: web.Request) -> web.Response:
    """``GET /health`` -> 200 ``{"status": "ok"}``."""
    # YOUR CODE HERE
    raise NotImplementedError()


async def create_item(request: web.Request) -> web.Response:
    """``POST /items`` -> 201 with the stored item and a ``Location`` header, or 400."""
    # YOUR CODE HERE
    raise NotImplementedError()


async def list_items(request: web.Request) -> web.Response:
    """``GET /items`` -> 200 with every item, sorted by id."""
    # YOUR CODE HERE
    raise NotImplementedError()


async def get_item(request: web.Request) -> web.Response:
    """``GET /items/{id}`` -> 200 with the item, or 404 ``{"error": "not found"}``."""
    # YOUR CODE HERE
    raise NotImplementedError()


async def delete_item(request: web.Request) -> web.Response:
    """``DELETE /items/{id}`` -> 204 with no body, or 404 ``{"error": "not found"}``."""
    # YOUR CODE HERE
    raise NotImplementedError()


async def weather(request: web.Request) -> web.Response:
    """``GET /weather/{city}`` -> the upstream's JSON (200), or 502 ``{"error": "upstream unavailable"}``.

    Asks ``GET {weather_url}?city={city}`` through the app's shared session
    and gives the upstream at most ``UPSTREAM_TIMEOUT`` seconds.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def create_app(*, weather_url: str = "http://weather.invalid/api") -> web.Application:
    """A fresh application with its own items, its routes, its middlewares and its upstream session."""
    # YOUR CODE HERE
    raise NotImplementedError()
