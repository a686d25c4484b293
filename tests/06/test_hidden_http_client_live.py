"""Hidden tests for assignment 06 against a real aiohttp server on loopback: no mocks.

These show that the client works with real sockets: timeouts that really fire,
a large body that really streams, a connection that really drops midway.
The server runs in the test's own loop, so its `asyncio.sleep` is virtual too.
"""
import asyncio
import gc
import json
import tracemalloc

import aiohttp
import pytest
from aiohttp import web

import http_client
from coursekit import hints
from coursekit.http import closed_port, must_not_raise, serve
from coursekit.testing import assert_same, same, within

# Files are real files, so both ways of writing them count: straight into
# dest, or into a temporary file beside it (dest + ".part") renamed into place
# at the end. The grader's disk limit (disk_mb) leaves room for the 8 MiB body
# twice over.
MEDIUM = bytes(range(256)) * (3 * 1024)  # 768 KiB
BIG = bytes(range(256)) * (32 * 1024)  # 8 MiB, built once, outside any memory measurement
SERVER_CHUNK = 64 * 1024


class Backend:
    """A small real aiohttp app that counts the requests in flight."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.peak = 0
        self.seen_headers: list[dict[str, str]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/users/{id}", self.user)
        app.router.add_get("/whoami", self.whoami)
        app.router.add_post("/echo", self.echo)
        app.router.add_post("/nothing", self.nothing)
        app.router.add_get("/missing", self.missing)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/big", self.big)
        app.router.add_get("/medium", self.medium)
        app.router.add_get("/truncated", self.truncated)
        app.router.add_get("/stalls", self.stalls)
        app.router.add_post("/stalls", self.stalls)
        return app

    async def user(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(1)
        finally:
            self.in_flight -= 1
        user_id = int(request.match_info["id"])
        if user_id == 0:
            return web.Response(status=404, text="no user 0")
        return web.json_response({"id": user_id, "name": f"user{user_id}"})

    async def whoami(self, request: web.Request) -> web.Response:
        self.seen_headers.append(dict(request.headers))
        body = json.dumps({"token": request.headers.get("X-Token"), "q": request.query.get("q")})
        return web.Response(text=body, content_type="text/plain")

    async def echo(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return web.Response(status=415, text=f"expected application/json, got {request.content_type}")
        return web.json_response({"got": await request.json()}, status=201)

    async def nothing(self, request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=204)

    async def missing(self, request: web.Request) -> web.Response:
        return web.Response(status=404, text="nothing here")

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(text="late")

    async def big(self, request: web.Request) -> web.StreamResponse:
        return await self.stream(request, BIG)

    async def medium(self, request: web.Request) -> web.StreamResponse:
        return await self.stream(request, MEDIUM)

    async def stream(self, request: web.Request, body: bytes) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = len(body)
        await response.prepare(request)
        view = memoryview(body)
        for start in range(0, len(body), SERVER_CHUNK):
            await response.write(view[start:start + SERVER_CHUNK])
        await response.write_eof()
        return response

    async def stalls(self, request: web.Request) -> web.StreamResponse:
        """Headers and the first bytes of a 1000-byte body at once, the rest only 60 s later."""
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 1000
        await response.prepare(request)
        await response.write(b'{"pad": "')
        await asyncio.sleep(60)
        await response.write(b"x" * 989 + b'"}')
        return response

    async def truncated(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = 100_000
        await response.prepare(request)
        await response.write(b"x" * 30_000)
        await asyncio.sleep(0.1)
        assert request.transport is not None, "test server: the connection is already gone"
        request.transport.close()  # the connection drops 30 000 bytes into a 100 000-byte body
        return response


async def failure_name(session: aiohttp.ClientSession, url: str) -> str:
    """The class name of the exception aiohttp itself raises for ``url`` on ``session``."""
    try:
        async with session.get(url) as response:
            await response.read()
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__
    raise AssertionError(f"test setup: {url} was expected to fail")


@pytest.mark.points(3)
async def test_live_fetch_users_end_to_end(session_spy, looptime):
    """Against a real server, fetch_users gets 5 users at once through one session and closes it."""
    backend = Backend()
    async with serve(backend.app()) as base:
        ids = [4, 2, 5, 1, 3]
        result = await within(http_client.fetch_users(base, ids), 30, what="fetch_users")
        expected = [{"id": i, "name": f"user{i}"} for i in ids]
        assert same(result, expected), f"expected {expected!r} (input order), got {result!r}"
        assert backend.peak == 5, (
            f"the server should see all 5 requests at once, it saw at most {backend.peak}. {hints.SEQUENTIAL}"
        )
        assert looptime == pytest.approx(1, abs=0.5), (
            f"5 one-second requests at once should take about 1 s, took {float(looptime):g} s. {hints.SEQUENTIAL}"
        )
        assert len(session_spy.sessions) == 1, f"expected exactly one ClientSession, got {len(session_spy.sessions)}"
        session_spy.assert_all_closed(what="fetch_users")

        err = None
        try:
            await within(http_client.fetch_users(base, [1, 0]), 30, what="fetch_users")
        except http_client.ApiError as exc:
            err = exc
        except NotImplementedError:
            raise
        except Exception as exc:  # noqa: BLE001
            extra = ""
            if isinstance(exc, BaseExceptionGroup):
                extra = " (a TaskGroup wraps failures in an ExceptionGroup: catch it with `except* ApiError` and re-raise the ApiError)"
            pytest.fail(f"fetch_users should raise ApiError for a 404, it raised {hints.describe(exc)}{extra}")
        assert err is not None and same((err.status, err.body), (404, "no user 0")), (
            f"expected ApiError(404, ..., 'no user 0') for user 0, got {err!r}"
        )
        session_spy.assert_all_closed(what="fetch_users (after an error status)")


@pytest.mark.points(4)
async def test_live_make_session_get_json_and_post_json(session_spy):
    """Against a real server: make_session's base_url and headers, get_json, post_json, 204 and 404."""
    backend = Backend()
    async with serve(backend.app()) as base:
        async with http_client.make_session(base, headers={"X-Token": "abc"}) as session:
            who = await within(http_client.get_json(session, "/whoami", params={"q": "x"}), 10, what="get_json")
            assert same(who, {"token": "abc", "q": "x"}), (
                "the server should see the default header X-Token: abc and the query q=x "
                f"(answer served as text/plain), it answered {who!r}"
            )
            echoed = await within(http_client.post_json(session, "/echo", {"name": "Ada", "tags": [1]}), 10, what="post_json")
            assert same(echoed, {"got": {"name": "Ada", "tags": [1]}}), (
                f"the server should receive the payload as an application/json body and echo it, got {echoed!r}"
            )
            nothing = await within(http_client.post_json(session, "/nothing", {"x": 1}), 10, what="post_json")
            assert nothing is None, f"expected None for a 204 answer, got {nothing!r}"
            try:
                await within(http_client.get_json(session, "/missing"), 10, what="get_json")
            except http_client.ApiError as err:
                assert same((err.status, err.body), (404, "nothing here")), (
                    f"expected ApiError status 404 and body 'nothing here', got {err.status!r}, {err.body!r}"
                )
                assert isinstance(err.url, str) and "/missing" in err.url, f"expected ApiError.url for /missing, got {err.url!r}"
            else:
                pytest.fail("get_json should raise ApiError for a 404 answer")
    session_spy.assert_all_closed(what="the test's session")


@pytest.mark.points(3)
async def test_live_check_urls_timeout_refused_and_statuses(looptime):
    """Against a real server: statuses, a real timeout and a refused connection, all at once, never raising."""
    backend = Backend()
    async with serve(backend.app()) as base:
        refused = f"http://127.0.0.1:{closed_port()}/"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session:
            slow_name = await failure_name(session, f"{base}/slow")
            refused_name = await failure_name(session, refused)
            urls = [f"{base}/whoami", f"{base}/missing", f"{base}/slow", f"{base}/slow?again=1", refused]
            start = asyncio.get_running_loop().time()
            result = await must_not_raise(http_client.check_urls(session, urls), 30, what="check_urls")
            elapsed = asyncio.get_running_loop().time() - start
    expected = {urls[0]: 200, urls[1]: 404, urls[2]: slow_name, urls[3]: slow_name, urls[4]: refused_name}
    assert same(result, expected), (
        f"expected {expected!r}: the status, or the class name of the exception aiohttp raised, got {result!r}"
    )
    assert elapsed == pytest.approx(1, abs=0.5), (
        f"two requests timing out after 1 s at the same time should take about 1 s, took {elapsed:g} s. {hints.SEQUENTIAL}"
    )


@pytest.mark.points(1)
async def test_live_check_urls_gives_each_connection_back(looptime):
    """On a session allowing 2 connections, check_urls of 5 URLs with large bodies finishes: each response is released once its status is read."""
    backend = Backend()
    async with serve(backend.app()) as base:
        urls = [f"{base}/medium?copy={i}" for i in range(5)]
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2)) as session:
            # A response left open holds its connection until the garbage collector finds it: keep the
            # collector out of the way, so the outcome does not depend on when it happens to run.
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                async with asyncio.timeout(30):
                    result = await http_client.check_urls(session, urls)
            except TimeoutError:
                pytest.fail(
                    "check_urls never finished: with at most 2 connections, the first 2 responses were never "
                    "released, so the other requests waited for a free connection forever. Use "
                    "`async with session.get(url) as response:` (it releases the connection), or call "
                    "response.release()."
                )
            finally:
                if gc_was_enabled:
                    gc.enable()
    assert same(result, {url: 200 for url in urls}), f"expected status 200 for the 5 URLs, got {result!r}"


@pytest.mark.points(1)
async def test_live_cancelled_requests_give_their_connection_back(tmp_path, looptime):
    """Cancelled while a body is still arriving, get_json, post_json and download each release their connection: on a 1-connection session the next request goes through."""
    backend = Backend()
    async with serve(backend.app()) as base:
        async with aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(limit=1)) as session:
            calls = {
                "get_json": lambda: http_client.get_json(session, "/stalls"),
                "post_json": lambda: http_client.post_json(session, "/stalls", {"x": 1}),
                "download": lambda: http_client.download(session, "/stalls", tmp_path / "stalls.bin"),
            }
            # A response left open holds its connection until the garbage collector finds it: keep the
            # collector out of the way, so the outcome does not depend on when it happens to run.
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                for name, call in calls.items():
                    task = asyncio.create_task(call())
                    await asyncio.sleep(1)  # headers are in, the body is stalled
                    if task.done():
                        task.result()  # shows what the function ended with
                        pytest.fail(f"{name} returned before the body was complete")
                    task.cancel()
                    await asyncio.wait({task}, timeout=10)
                    try:
                        async with asyncio.timeout(10):
                            who = await http_client.get_json(session, "/whoami")
                    except TimeoutError:
                        pytest.fail(
                            f"after {name} was cancelled mid-body, the session's only connection was never given back, "
                            "so the next request waited forever: use `async with session.get(...) as response:` "
                            "(it releases the connection on the way out, also on cancellation)"
                        )
                    assert same(who, {"token": None, "q": None}), f"the next request should work, it returned {who!r}"
            finally:
                if gc_was_enabled:
                    gc.enable()


@pytest.mark.points(3)
async def test_live_download_streams_a_large_body(tmp_path):
    """download writes a 768 KiB streamed body to dest byte for byte and returns its length."""
    backend = Backend()
    dest = tmp_path / "medium.bin"
    async with serve(backend.app()) as base:
        async with aiohttp.ClientSession() as session:
            written = await within(
                http_client.download(session, f"{base}/medium", str(dest), chunk_size=10000), 60, what="download"
            )
    assert dest.is_file(), "download should create the file dest"
    content = dest.read_bytes()
    assert content == MEDIUM, (
        f"the file should hold the {len(MEDIUM)}-byte body unchanged, it holds {len(content)} bytes"
        + ("" if len(content) != len(MEDIUM) else " that differ")
    )
    assert_same(written, len(MEDIUM), what="download's return value (bytes written)")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["medium.bin"], f"after a complete download only dest should be left, found {left!r}"


@pytest.mark.points(2)
async def test_live_download_does_not_hold_the_body_in_memory(tmp_path):
    """download of an 8 MiB body with chunk_size=4096 never holds the whole body in memory, and writes it all to dest."""
    backend = Backend()
    dest = tmp_path / "big.bin"
    async with serve(backend.app()) as base:
        async with aiohttp.ClientSession() as session:
            was_tracing = tracemalloc.is_tracing()
            if was_tracing:
                tracemalloc.reset_peak()
            else:
                tracemalloc.start()
            try:
                await within(
                    http_client.download(session, f"{base}/big", dest, chunk_size=4096), 60, what="download"
                )
                _, peak = tracemalloc.get_traced_memory()
            finally:
                if not was_tracing:
                    tracemalloc.stop()
    size = dest.stat().st_size if dest.is_file() else None
    assert size == len(BIG), f"expected all {len(BIG)} bytes in dest, found {size if size is not None else 'no file'}"
    assert dest.read_bytes() == BIG, f"dest holds {len(BIG)} bytes, but not the body sent"
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["big.bin"], f"after a complete download only dest should be left, found {left!r}"
    limit = len(BIG) // 2
    assert peak < limit, (
        f"downloading {len(BIG) // 2**20} MiB used {peak / 2**20:.1f} MiB of memory at its peak (limit "
        f"{limit / 2**20:.0f} MiB): write each chunk as it arrives (`async for chunk in "
        "response.content.iter_chunked(chunk_size)`) instead of reading the whole body first"
    )


@pytest.mark.points(4)
async def test_live_download_removes_the_partial_file_when_the_connection_drops(tmp_path):
    """When the server drops the connection mid-body, download removes the partial file and re-raises."""
    backend = Backend()
    async with serve(backend.app()) as base:
        async with aiohttp.ClientSession() as session:
            good = tmp_path / "good.bin"
            await within(http_client.download(session, f"{base}/medium", good), 60, what="download")
            assert good.is_file() and good.read_bytes() == MEDIUM, "a complete download should leave the whole file"
            dest = tmp_path / "partial.bin"
            try:
                result = await within(
                    http_client.download(session, f"{base}/truncated", dest, chunk_size=1000), 30, what="download"
                )
            except aiohttp.ClientError:
                pass
            except NotImplementedError:
                raise
            except Exception as exc:  # noqa: BLE001
                pytest.fail(
                    "download should re-raise the transfer's own error (an aiohttp.ClientError such as "
                    f"ClientPayloadError) when the connection drops, it raised {hints.describe(exc)}"
                )
            else:
                pytest.fail(
                    f"the server sent 30 000 of 100 000 bytes and closed: download should re-raise the error, "
                    f"it returned {result!r}"
                )
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["good.bin"], (
        "download should remove the partial file (dest, or the temporary file it was writing) when the transfer "
        f"fails midway; expected only good.bin (the earlier complete download) in the folder, found {left!r}"
    )
