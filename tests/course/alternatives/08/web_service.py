"""Alternative 08: a RouteTableDef per app, closure state, one combined middleware, on_startup/on_cleanup,
ClientTimeout(total=2) for the upstream bound."""
from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

HTTP = web.AppKey("h9_http", aiohttp.ClientSession)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _problem(data: Any) -> str | None:
    """What is wrong with a POSTed item, or None."""
    if not isinstance(data, dict):
        return "body must be a JSON object"
    name = data.get("name")
    if not isinstance(name, str) or name == "":
        return "name must be a non-empty string"
    price = data.get("price")
    if isinstance(price, bool) or not isinstance(price, (int, float)):
        return "price must be a number"
    if not math.isfinite(price) or price < 0:
        return "price must be a finite number >= 0"
    return None


@web.middleware
async def _stamp_and_guard(request: web.Request,
                           handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    start = time.perf_counter()

    def stamp(resp: web.StreamResponse) -> None:
        resp.headers["X-Response-Time"] = f"{(time.perf_counter() - start) * 1000:.3f}"

    try:
        response = await handler(request)
    except web.HTTPException as exc:
        stamp(exc)
        raise
    except Exception:
        response = _error(500, "internal server error")
    stamp(response)
    return response


def create_app(*, weather_url: str = "http://weather.invalid/api") -> web.Application:
    """A fresh app; its items live in this call's closure."""
    items: dict[int, dict[str, Any]] = {}
    ids = itertools.count(1)
    routes = web.RouteTableDef()

    def lookup(request: web.Request) -> int | None:
        raw = request.match_info["id"]
        return int(raw) if raw.isdigit() and int(raw) in items else None

    @routes.get("/health")
    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    @routes.post("/items")
    async def create(request: web.Request) -> web.Response:
        try:
            data = json.loads(await request.read())
        except ValueError:
            return _error(400, "body is not valid JSON")
        problem = _problem(data)
        if problem is not None:
            return _error(400, problem)
        item = {"id": next(ids), "name": data["name"], "price": data["price"]}
        items[item["id"]] = item
        return web.json_response(item, status=201, headers={"Location": f"/items/{item['id']}"})

    @routes.get("/items")
    async def listing(request: web.Request) -> web.Response:
        return web.json_response([items[k] for k in sorted(items)])

    @routes.get("/items/{id}")
    async def one(request: web.Request) -> web.Response:
        key = lookup(request)
        return _error(404, "not found") if key is None else web.json_response(items[key])

    @routes.delete("/items/{id}")
    async def remove(request: web.Request) -> web.Response:
        key = lookup(request)
        if key is None:
            return _error(404, "not found")
        del items[key]
        return web.Response(status=204)

    @routes.get("/weather/{city}")
    async def weather(request: web.Request) -> web.Response:
        session = request.app[HTTP]
        try:
            async with session.get(weather_url, params={"city": request.match_info["city"]}) as up:
                if not 200 <= up.status < 300:
                    return _error(502, "upstream unavailable")
                payload = await up.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return _error(502, "upstream unavailable")
        return web.json_response(payload)

    async def open_session(app: web.Application) -> None:
        app[HTTP] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))

    async def close_session(app: web.Application) -> None:
        await app[HTTP].close()

    app = web.Application(middlewares=[_stamp_and_guard])
    app.add_routes(routes)
    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    return app
