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
    ### BEGIN SOLUTION
    return web.json_response({"error": message}, status=status)
    ### END SOLUTION


@web.middleware
async def timing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost middleware: put the handling time, in milliseconds, in ``X-Response-Time``.

    It must also stamp responses that reach it as a raised ``web.HTTPException``.
    """
    ### BEGIN SOLUTION
    started = time.perf_counter()

    def stamp(response: web.StreamResponse) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        response.headers[RESPONSE_TIME_HEADER] = f"{elapsed_ms:.3f}"

    try:
        response = await handler(request)
    except web.HTTPException as exc:
        stamp(exc)
        raise
    stamp(response)
    return response
    ### END SOLUTION


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn any unhandled exception into 500 ``{"error": "internal server error"}``.

    aiohttp's own HTTP errors (an unknown route's 404, a wrong method's 405)
    keep their own status, never 500 (the reference answers them in JSON;
    their body is free). It may log the traceback, but never puts it into
    the response body.
    """
    ### BEGIN SOLUTION
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = json_error(exc.status, (exc.reason or "error").lower())
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return json_error(500, "internal server error")
    ### END SOLUTION


async def upstream_session(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: open the upstream ``ClientSession`` at start-up, close it at clean-up."""
    ### BEGIN SOLUTION
    async with aiohttp.ClientSession() as session:
        app[UPSTREAM] = session
        yield
    ### END SOLUTION


def validate_item(data: Any) -> str | None:
    """Return what is wrong with a posted item, or ``None`` when it is valid.

    Valid: a JSON object with ``name`` a non-empty string and ``price`` a
    finite number (int or float, not a bool) that is ``>= 0``.
    """
    ### BEGIN SOLUTION
    if not isinstance(data, dict):
        return "the body must be a JSON object"
    name = data.get("name")
    if not isinstance(name, str) or not name:
        return "name must be a non-empty string"
    price = data.get("price")
    if isinstance(price, bool) or not isinstance(price, (int, float)):
        return "price must be a number"
    if not math.isfinite(price):
        return "price must be a finite number"
    if price < 0:
        return "price must be >= 0"
    return None
    ### END SOLUTION


def requested_id(request: web.Request) -> int | None:
    """The ``{id}`` of the URL as an int, or ``None`` when it is not a plain number."""
    ### BEGIN SOLUTION
    raw = request.match_info["id"]
    if raw.isascii() and raw.isdigit():
        return int(raw)
    return None
    ### END SOLUTION


async def health(request: web.Request) -> web.Response:
    """``GET /health`` -> 200 ``{"status": "ok"}``."""
    ### BEGIN SOLUTION
    return web.json_response({"status": "ok"})
    ### END SOLUTION


async def create_item(request: web.Request) -> web.Response:
    """``POST /items`` -> 201 with the stored item and a ``Location`` header, or 400."""
    ### BEGIN SOLUTION
    try:
        data = await request.json()
    except ValueError:  # json.JSONDecodeError and UnicodeDecodeError are both ValueErrors
        return json_error(400, "the body is not valid JSON")
    problem = validate_item(data)
    if problem is not None:
        return json_error(400, problem)
    store = request.app[STORE]
    item = {"id": store.next_id, "name": data["name"], "price": data["price"]}
    store.items[item["id"]] = item
    store.next_id += 1
    return web.json_response(item, status=201, headers={"Location": f"/items/{item['id']}"})
    ### END SOLUTION


async def list_items(request: web.Request) -> web.Response:
    """``GET /items`` -> 200 with every item, sorted by id."""
    ### BEGIN SOLUTION
    store = request.app[STORE]
    return web.json_response([store.items[key] for key in sorted(store.items)])
    ### END SOLUTION


async def get_item(request: web.Request) -> web.Response:
    """``GET /items/{id}`` -> 200 with the item, or 404 ``{"error": "not found"}``."""
    ### BEGIN SOLUTION
    item_id = requested_id(request)
    item = None if item_id is None else request.app[STORE].items.get(item_id)
    if item is None:
        return json_error(404, "not found")
    return web.json_response(item)
    ### END SOLUTION


async def delete_item(request: web.Request) -> web.Response:
    """``DELETE /items/{id}`` -> 204 with no body, or 404 ``{"error": "not found"}``."""
    ### BEGIN SOLUTION
    item_id = requested_id(request)
    if item_id is None or request.app[STORE].items.pop(item_id, None) is None:
        return json_error(404, "not found")
    return web.Response(status=204)
    ### END SOLUTION


async def weather(request: web.Request) -> web.Response:
    """``GET /weather/{city}`` -> the upstream's JSON (200), or 502 ``{"error": "upstream unavailable"}``.

    Asks ``GET {weather_url}?city={city}`` through the app's shared session
    and gives the upstream at most ``UPSTREAM_TIMEOUT`` seconds.
    """
    ### BEGIN SOLUTION
    session = request.app[UPSTREAM]
    city = request.match_info["city"]
    try:
        async with asyncio.timeout(UPSTREAM_TIMEOUT):
            async with session.get(request.app[WEATHER_URL], params={"city": city}) as upstream:
                if not 200 <= upstream.status < 300:
                    return json_error(502, "upstream unavailable")
                data = await upstream.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        # ValueError: a 2xx whose body is not JSON is an unusable upstream too.
        return json_error(502, "upstream unavailable")
    return web.json_response(data)
    ### END SOLUTION


def create_app(*, weather_url: str = "http://weather.invalid/api") -> web.Application:
    """A fresh application with its own items, its routes, its middlewares and its upstream session."""
    ### BEGIN SOLUTION
    app = web.Application(middlewares=[timing_middleware, error_middleware])
    app[STORE] = ItemStore()
    app[WEATHER_URL] = weather_url
    app.cleanup_ctx.append(upstream_session)
    app.add_routes(
        [
            web.get("/health", health),
            web.post("/items", create_item),
            web.get("/items", list_items),
            web.get("/items/{id}", get_item),
            web.delete("/items/{id}", delete_item),
            web.get("/weather/{city}", weather),
        ]
    )
    return app
    ### END SOLUTION
