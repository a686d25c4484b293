"""The fork server, copied into each runtime as ``grader_zygote.py``.

Starting Python and importing pytest, aiohttp and the test kit costs most of
a second; running an assignment's tests on virtual time costs a tenth of
that. So one process (this one) imports everything once and then forks one
child per graded run: each child still runs alone in its own session, with
its own limits, environment, working directory and output files, and only
the child ever runs student code. This process never runs a test itself, so
every child starts from the same clean state.

Protocol (JSON lines): the grader writes requests to stdin
(``{"id", "argv", "cwd", "env", "output", "memory", "disk"}``: ``output`` is
the named pipe the grader reads the child's standard output and error from,
``memory`` and ``disk`` are limits in bytes); this
process answers ``{"ready": true}`` once, then ``{"id", "pid"}`` after each
fork and ``{"id", "status"}`` when that child ended (a negative status is the
signal that ended it, as with ``subprocess``); its session is killed before
it is reaped, so nothing it started outlives it. ``{"kill": pid}`` kills the
session of a running child (in a sandbox the grader cannot: its pids are
the sandbox's). End of stdin ends it, and every child still running with it.

Standard library and pytest only, like the child plugin.
"""
from __future__ import annotations

import gc
import importlib
import json
import os
import resource
import selectors
import signal
import sys
from importlib.metadata import entry_points
from typing import Any

# What the children import anyway: importing it here once is the whole point.
PRELOAD = (
    "pytest", "_pytest.config", "pdb", "faulthandler", "tomllib", "html.parser",
    "concurrent.futures.thread", "queue",
    "aiohttp", "aiohttp.web", "aiohttp.test_utils", "aioresponses",
)


def preload(plugin_names: list[str]) -> dict[str, Any]:
    """Import the libraries, pytest's own plugins and the named plugins; the plugins by name."""
    for name in PRELOAD:
        importlib.import_module(name)
    from _pytest.config import default_plugins

    for name in default_plugins:
        importlib.import_module(f"_pytest.{name}")
    runtime = sys.path[0]
    for file in sorted(os.listdir(os.path.join(runtime, "coursekit"))):
        if file.endswith(".py") and file != "__init__.py":
            importlib.import_module(f"coursekit.{file[:-3]}")
    plugins: dict[str, Any] = {name: importlib.import_module(name)
                               for name in ("coursekit.pytest_plugin", "grader_child")}
    for point in entry_points(group="pytest11"):
        if point.name in plugin_names:
            plugins[point.name] = point.load()
    return plugins


class Preregistered:
    """Registers the preloaded plugins that ``argv`` names with ``-p``, under those names.

    pytest then finds each already registered and never scans entry points.
    Only the named ones: a plugin registered unasked would act unasked
    (pytest-randomly would shuffle every run).
    """

    def __init__(self, plugins: dict[str, Any], argv: list[str]) -> None:
        named = {value for option, value in zip(argv, argv[1:]) if option == "-p"}
        self.plugins = {name: module for name, module in plugins.items() if name in named}

    def pytest_addhooks(self, pluginmanager: Any) -> None:
        for name, module in self.plugins.items():
            if pluginmanager.get_plugin(name) is None and not pluginmanager.is_blocked(name):
                pluginmanager.register(module, name)


def limit_resources(memory: int, disk: int) -> None:
    """A graded run's limits: address space, the size of any one file it writes (disk_mb), no core dumps.

    Also what the grader gives a spawned child, so both ways start alike.
    Output is not a file: it goes into the grader's pipe, bounded there.
    """
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (disk, disk))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def become_child(request: dict[str, Any], plugins: dict[str, Any]) -> None:
    """In the forked child: take on the run's session, limits, files and environment, then run pytest."""
    code = 70
    try:
        os.setsid()
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
            signal.signal(number, signal.SIG_DFL)
        limit_resources(request["memory"], request["disk"])
        devnull = os.open(os.devnull, os.O_RDONLY)
        # Non-blocking open: fails at once, rather than waiting for ever, if the grader's end is gone.
        output = os.open(request["output"], os.O_WRONLY | os.O_NONBLOCK)
        os.set_blocking(output, True)
        os.dup2(devnull, 0)
        os.dup2(output, 1)
        os.dup2(output, 2)
        # The control pipe and every other child's handle stay with the server.
        os.closerange(3, 1 << 16)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - lives as long as the child
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["pytest", *request["argv"]]
        import pytest

        code = int(pytest.main(request["argv"], plugins=[Preregistered(plugins, request["argv"])]))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - whatever happens, the child must never return into the server
        code = 70
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001, S110 - a closed or broken stream must not stop the exit
                pass
        os._exit(code)


def serve(plugins: dict[str, Any]) -> None:
    """Answer requests until stdin ends."""
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ, None)
    running: dict[int, tuple[int, int]] = {}  # pidfd -> (request id, pid)
    pending = b""

    def reply(message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[os.write(1, data):]

    reply({"ready": True})
    while True:
        for key, _ in selector.select():
            if key.data is None:
                chunk = os.read(0, 1 << 16)
                if not chunk:
                    for _, pid in running.values():
                        _kill_group(pid)
                    return
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    request = json.loads(line)
                    if "kill" in request:
                        if any(pid == request["kill"] for _, pid in running.values()):
                            _kill_group(request["kill"])
                        continue
                    pid = os.fork()
                    if pid == 0:
                        become_child(request, plugins)
                    handle = os.pidfd_open(pid)
                    running[handle] = (request["id"], pid)
                    selector.register(handle, selectors.EVENT_READ, "child")
                    reply({"id": request["id"], "pid": pid})
            else:
                request_id, pid = running.pop(key.fd)
                selector.unregister(key.fd)
                os.close(key.fd)
                _kill_group(pid)  # not reaped yet, so its pid, and with it the group's, cannot be reused
                _, status = os.waitpid(pid, 0)
                reply({"id": request_id, "status": os.waitstatus_to_exitcode(status)})


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def main() -> None:
    """Preload, then serve; the plugin names to preload are the arguments."""
    os.close(os.pidfd_open(os.getpid()))  # fail now, not at the first request, where pidfds are missing
    # ``python -I`` leaves the script's folder off the path; the runtime is that folder.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    plugins = preload(sys.argv[1:])
    # Nothing imported so far is garbage; keeping it out of every collection
    # makes the children's collections (pytest runs several) cheap.
    gc.freeze()
    sys.stdout.flush()
    serve(plugins)


if __name__ == "__main__":
    main()
