"""Alternative 08, variant b: a dataclass store in AppKeys, cleanup_ctx, two middlewares (timing outermost),
asyncio.timeout(2) for the upstream, the loop clock for X-Response-Time, class-based item views."""
from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Store:
    """One app's items and id counter."""

    items: dict[int, dict[str, Any]] = field(default_factory=dict)
    last_id: int = 0


STORE = web.AppKey("store", Store)
CLIENT = web.AppKey("client", aiohttp.ClientSession)
UPSTREAM_URL = web.AppKey("upstream_url", str)


def fail(status: int, message: str) -> web.Response:
    """A JSON error body."""
    return web.json_response({"error": message}, status=status)


@web.middleware
async def timing(request: web.Request, handler: Handler) -> web.StreamResponse:
    """X-Response-Time on every answer, HTTPExceptions included."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["X-Response-Time"] = str(round((loop.time() - began) * 1000, 3))
        raise
    response.headers["X-Response-Time"] = str(round((loop.time() - began) * 1000, 3))
    return response


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unhandled exceptions become a bare 500."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return fail(500, "internal server error")


async def client_ctx(app: web.Application) -> AsyncIterator[None]:
    """One upstream session for the app's lifetime."""
    async with aiohttp.ClientSession() as session:
        app[CLIENT] = session
        yield


def parse_id(request: web.Request) -> int | None:
    """The numeric id, or None."""
    try:
        return int(request.match_info["id"])
    except ValueError:
        return None


async def health(request: web.Request) -> web.Response:
    """Liveness."""
    return web.json_response({"status": "ok"})


class ItemsView(web.View):
    """/items."""

    async def get(self) -> web.Response:
        """All items by id."""
        store = self.request.app[STORE]
        return web.json_response([store.items[i] for i in sorted(store.items)])

    async def post(self) -> web.Response:
        """Create an item."""
        try:
            body = await self.request.json()
        except (ValueError, UnicodeDecodeError):
            return fail(400, "invalid JSON")
        if not isinstance(body, dict):
            return fail(400, "expected a JSON object")
        name, price = body.get("name"), body.get("price")
        if not (isinstance(name, str) and name):
            return fail(400, "name: a non-empty string is required")
        if type(price) not in (int, float) or not math.isfinite(price) or price < 0:
            return fail(400, "price: a number >= 0 is required")
        store = self.request.app[STORE]
        store.last_id += 1
        item = {"id": store.last_id, "name": name, "price": price}
        store.items[store.last_id] = item
        location = self.request.url.join(self.request.app.router["item"].url_for(id=str(store.last_id)))
        return web.json_response(item, status=201, headers={"Location": str(location)})


class ItemView(web.View):
    """/items/{id}."""

    async def get(self) -> web.Response:
        """One item."""
        item_id = parse_id(self.request)
        item = self.request.app[STORE].items.get(item_id) if item_id is not None else None
        return fail(404, "not found") if item is None else web.json_response(item)

    async def delete(self) -> web.Response:
        """Remove one item."""
        item_id = parse_id(self.request)
        items = self.request.app[STORE].items
        if item_id is None or item_id not in items:
            return fail(404, "not found")
        items.pop(item_id)
        return web.Response(status=204)


async def weather(request: web.Request) -> web.Response:
    """Ask upstream within 2 s; 502 otherwise."""
    session = request.app[CLIENT]
    try:
        async with asyncio.timeout(2):
            async with session.get(request.app[UPSTREAM_URL], params={"city": request.match_info["city"]}) as up:
                if up.status // 100 != 2:
                    return fail(502, "upstream unavailable")
                data = await up.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return fail(502, "upstream unavailable")
    return web.json_response(data)


def create_app(*, weather_url: str = "http://weather.invalid/api") -> web.Application:
    """A fresh app with its own store."""
    app = web.Application(middlewares=[timing, errors])
    app[STORE] = Store()
    app[UPSTREAM_URL] = weather_url
    app.cleanup_ctx.append(client_ctx)
    app.router.add_get("/health", health)
    app.router.add_view("/items", ItemsView)
    app.router.add_view("/items/{id}", ItemView, name="item")
    app.router.add_get("/weather/{city}", weather)
    return app
