"""Alternative 08, variant c: module-level RouteTableDef with state in app keys, a non-JSON upstream 2xx left
to the 500 middleware (the README allows it), asyncio.wait_for for the 2-second bound, perf_counter_ns timing."""
from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

routes = web.RouteTableDef()
ITEMS = web.AppKey("items", dict)
NEXT_ID = web.AppKey("next_id", list)
SESSION = web.AppKey("session", aiohttp.ClientSession)
WEATHER = web.AppKey("weather", str)


def error(status: int, text: str) -> web.Response:
    """JSON error."""
    return web.Response(status=status, text=json.dumps({"error": text}), content_type="application/json")


@web.middleware
async def response_time(request: web.Request,
                        handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Outermost: stamps every response."""
    t0 = time.perf_counter_ns()

    def stamp(resp: web.StreamResponse) -> web.StreamResponse:
        resp.headers["X-Response-Time"] = "%.3f" % ((time.perf_counter_ns() - t0) / 1e6)
        return resp

    try:
        return stamp(await handler(request))
    except web.HTTPException as http_error:
        stamp(http_error)
        raise


@web.middleware
async def internal_errors(request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Everything not an HTTPException becomes 500."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:  # noqa: BLE001
        return error(500, "internal server error")


@routes.get("/health")
async def health(_: web.Request) -> web.Response:
    """OK."""
    return web.json_response({"status": "ok"})


def _valid_price(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value >= 0


@routes.post("/items")
async def add(request: web.Request) -> web.Response:
    """Validate and store."""
    raw = await request.read()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return error(400, "request body must be JSON")
    if type(data) is not dict:
        return error(400, "request body must be a JSON object")
    if type(data.get("name")) is not str or not data["name"]:
        return error(400, "'name' must be a non-empty string")
    if not _valid_price(data.get("price")):
        return error(400, "'price' must be a number >= 0")
    counter = request.app[NEXT_ID]
    counter[0] += 1
    item = {"id": counter[0], "name": data["name"], "price": data["price"]}
    request.app[ITEMS][item["id"]] = item
    resp = web.json_response(item, status=201)
    resp.headers["Location"] = f"/items/{item['id']}"
    return resp


@routes.get("/items")
async def all_items(request: web.Request) -> web.Response:
    """Sorted by id."""
    return web.json_response(sorted(request.app[ITEMS].values(), key=lambda it: it["id"]))


def _key(request: web.Request) -> int | None:
    text = request.match_info["id"]
    if not text.isdecimal():
        return None
    key = int(text)
    return key if key in request.app[ITEMS] else None


@routes.get("/items/{id}")
async def show(request: web.Request) -> web.Response:
    """One item or 404."""
    key = _key(request)
    if key is None:
        return error(404, "not found")
    return web.json_response(request.app[ITEMS][key])


@routes.delete("/items/{id}")
async def drop(request: web.Request) -> web.Response:
    """Delete or 404."""
    key = _key(request)
    if key is None:
        return error(404, "not found")
    del request.app[ITEMS][key]
    return web.Response(status=204)


@routes.get("/weather/{city}")
async def weather(request: web.Request) -> web.Response:
    """Upstream under wait_for(2); a 2xx that is not JSON raises into the 500 middleware."""
    session = request.app[SESSION]

    async def ask() -> tuple[int, bytes]:
        async with session.get(request.app[WEATHER], params={"city": request.match_info["city"]}) as up:
            return up.status, await up.read()

    try:
        status, body = await asyncio.wait_for(ask(), 2)
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return error(502, "upstream unavailable")
    if status < 200 or status >= 300:
        return error(502, "upstream unavailable")
    return web.json_response(json.loads(body))


async def _session(app: web.Application) -> AsyncIterator[None]:
    session = aiohttp.ClientSession()
    app[SESSION] = session
    try:
        yield
    finally:
        await session.close()


def create_app(*, weather_url: str = "http://weather.invalid/api") -> web.Application:
    """Fresh state per app."""
    app = web.Application(middlewares=[response_time, internal_errors])
    app[ITEMS] = {}
    app[NEXT_ID] = [0]
    app[WEATHER] = weather_url
    app.cleanup_ctx.append(_session)
    app.add_routes(routes)
    return app
