"""The fork server, copied into each runtime as ``grader_zygote.py``.

Starting Python and importing pytest, aiohttp and the test kit costs most of
a second; running an assignment's tests on virtual time costs a tenth of
that. So one process (this one) imports everything once and then forks one
child per graded run: each child still runs alone in its own session, with
its own limits, environment, working directory and output files, and only
the child ever runs student code. This process never runs a test itself, so
every child starts from the same clean state.

Protocol (JSON lines): the grader writes requests to stdin
(``{"id", "argv", "cwd", "env", "output", "memory", "disk", "isolate"}``:
``output`` is the named pipe the grader reads the child's standard output and
error from, ``memory`` and ``disk`` are limits in bytes, ``isolate`` is null
or, in a sandbox, what ``isolate()`` takes); this
process answers ``{"ready": true}`` once, then ``{"id", "pid"}`` after each
fork and ``{"id", "status"}`` when that child ended (a negative status is the
signal that ended it, as with ``subprocess``); its session is killed before
it is reaped, so nothing it started outlives it. ``{"kill": pid}`` kills the
session of a running child (in a sandbox the grader cannot: its pids are
the sandbox's). End of stdin ends it, and every child still running with it.

In a sandbox every run also gets namespaces of its own (``isolate``): a
user namespace, a PID namespace whose init ends everything the run started,
a network namespace (only ``lo``, and up only for "loopback" assignments), an
IPC namespace, and a mount namespace where its scratch folder and
``/dev/shm`` are tmpfs of ``disk`` bytes. The boot script of a spawned run
does the same, so both ways isolate alike.

Standard library and pytest only, like the child plugin.
"""
from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import resource
import selectors
import signal
import sys
import time
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
PR_SET_DUMPABLE = 4
JUDGE_FD_VARIABLE = "COURSE_JUDGE_FD"  # coursekit.judge reads it: the judge's end of the student socket
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1

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
    for package in ("coursekit", "coursekit.probes"):
        importlib.import_module(package)
        for file in sorted(os.listdir(os.path.join(runtime, *package.split(".")))):
            if file.endswith(".py") and file != "__init__.py":
                importlib.import_module(f"{package}.{file[:-3]}")
    student_server = importlib.import_module("grader_student")
    plugins: dict[str, Any] = {name: importlib.import_module(name)
                               for name in ("coursekit.pytest_plugin", "grader_child")}
    # Imported here, not at the top: the sandbox's probe (``--probe``) runs this file without preloading anything.
    from importlib.metadata import entry_points

    for point in entry_points(group="pytest11"):
        if point.name in plugin_names:
            plugins[point.name] = point.load()
    student_server.take_baseline()  # last: everything a student process holds is imported by now
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


class _Libc:
    """unshare(2) and mount(2), which the standard library lacks (os.unshare only from 3.12 on), through ctypes.

    ctypes is imported in the run's own process only, and forgotten again
    before the tests import anything (``forget_ctypes``): the guard refuses
    an import of it by graded code, and a module already imported would not
    ask.
    """

    def __init__(self) -> None:
        import ctypes

        self._ctypes = ctypes
        self._libc = ctypes.CDLL(None, use_errno=True)

    def _check(self, result: int, what: str) -> None:
        if result != 0:
            number = self._ctypes.get_errno()
            raise OSError(number, f"{what}: {os.strerror(number)}")

    def unshare(self, flags: int) -> None:
        self._check(self._libc.unshare(self._ctypes.c_int(flags)), "unshare")

    def mount(self, source: str, target: str, kind: str, flags: int, data: str | None) -> None:
        self._check(self._libc.mount(source.encode(), target.encode(), kind.encode(), self._ctypes.c_ulong(flags),
                                     data.encode() if data is not None else None), f"mount {kind} on {target}")

    def prctl(self, option: int, value: int) -> None:
        self._check(self._libc.prctl(self._ctypes.c_int(option), self._ctypes.c_ulong(value), 0, 0, 0), "prctl")


def forget_ctypes() -> None:
    """Drop ctypes from the imported modules, so that graded code importing it is seen doing so."""
    for name in [m for m in sys.modules if m in ("ctypes", "_ctypes") or m.startswith("ctypes.")]:
        del sys.modules[name]


def _map_ids(uid: int, gid: int) -> None:
    """In a new user namespace: keep the same uid and gid (the only mapping an unprivileged process may write)."""
    for name, text in (("uid_map", f"{uid} {uid} 1\n"), ("setgroups", "deny"), ("gid_map", f"{gid} {gid} 1\n")):
        with open(f"/proc/self/{name}", "w", encoding="ascii") as file:
            file.write(text)


def _loopback_up() -> None:
    """Bring ``lo`` up in this (new) network namespace: 127.0.0.1 and ::1 then answer, nothing else exists."""
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)  # struct ifreq: a name, then a 24-byte union
        flags = struct.unpack_from("16sH", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def isolate(spec: dict[str, Any]) -> None:
    """Give this run namespaces of its own; returns only in the process that is to run the tests.

    ``spec``: ``scratch`` (a folder that becomes a tmpfs of ``disk`` bytes:
    the run's HOME and TMPDIR), ``disk``, ``network`` ("none" or
    "loopback"), ``report`` (the grader's named pipe for the run's records)
    and, from a fork server that sees every submission's stage, ``stages``
    (their folder) and ``stage`` (this run's). This process (A) enters new
    user, mount, network, IPC and PID namespaces, hides every stage but its
    own, mounts the tmpfs (and one on ``/dev/shm``) and, for
    "loopback", brings ``lo`` up; it forks the PID namespace's init (B),
    which mounts a ``/proc`` of that namespace where the kernel allows it
    (not where the sandbox's own /proc has parts covered, as bubblewrap does
    when the grader runs as root) and forks the test process (C). C enters
    one more user namespace, so that graded code, though it holds every
    capability there, owns none of the namespaces above: it can neither
    unmount nor remount the tmpfs or the read-only binds, nor bring ``lo``
    up. Then C writes ``{"kind": "isolated"}`` as the report's first record:
    graded code runs only after it, so a run whose report does not start
    with it was not isolated. When C ends, B ends, and the kernel kills
    whatever else the run started; A relays C's status (its exit code, or
    the signal that killed it).
    """
    libc = _Libc()
    uid, gid = os.getuid(), os.getgid()
    libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWPID)
    _map_ids(uid, gid)
    if spec.get("stages"):
        _show_only(libc, str(spec["stages"]), str(spec["stage"]))
    size = f"size={int(spec['disk'])}"
    libc.mount("tmpfs", str(spec["scratch"]), "tmpfs", MS_NOSUID | MS_NODEV, f"{size},mode=0700")
    libc.mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"{size},mode=1777")
    if spec["network"] == "loopback":
        _loopback_up()
    status_read, status_write = os.pipe()
    init = os.fork()
    if init == 0:
        os.close(status_read)
        if _init(libc, status_write):
            _seal(libc, uid, gid, str(spec["report"]))
            return
    os.close(status_write)
    _relay(init, status_read)


def _show_only(libc: _Libc, stages: str, stage: str) -> None:
    """Over ``stages`` (every submission's stage), a read-only tmpfs that holds this run's ``stage`` only."""
    handle = os.open(stage, os.O_PATH | os.O_DIRECTORY)
    try:
        libc.mount("tmpfs", stages, "tmpfs", MS_NOSUID | MS_NODEV, "size=65536,mode=0755")
        os.mkdir(stage)
        # The stage as it was before the tmpfs hid it; read-only like the bind it comes from.
        libc.mount(f"/proc/self/fd/{handle}", stage, "none", MS_BIND, None)
    finally:
        os.close(handle)
    libc.mount("none", stage, "none", MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    libc.mount("none", stages, "none", MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)


def _init(libc: _Libc, status_write: int) -> bool:
    """PID 1 of the run's namespace (B): fork the test process, reap until it ends, report its status, end.

    Returns True in the test process (C) only.
    """
    code = 70
    try:
        with contextlib.suppress(OSError):
            libc.mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
        tests = os.fork()
        if tests == 0:
            os.close(status_write)
            return True
        # A PID 1 receives from inside its namespace only the signals it handles: graded code cannot end it early.
        while True:
            pid, status = os.waitpid(-1, 0)
            if pid == tests:
                os.write(status_write, str(status).encode())
                break
        code = 0
    except BaseException:  # noqa: BLE001, S110 - the init must never return into the caller's code
        pass
    os._exit(code)


def _seal(libc: _Libc, uid: int, gid: int, report: str) -> None:
    """In C: one more user namespace (no capability over the run's namespaces), then the report's first record."""
    libc.unshare(CLONE_NEWUSER)
    _map_ids(uid, gid)
    forget_ctypes()
    handle = os.open(report, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(handle, b'{"kind": "isolated"}\n')
    finally:
        os.close(handle)


def _relay(init: int, status_read: int) -> None:
    """In A: wait for the namespace's init, then end as the test process ended (same exit code or signal)."""
    code = 70
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        # The grader's output pipe is the test process's: A holds nothing of the run's.
        for fd in (0, 1, 2):
            with contextlib.suppress(OSError):
                os.close(fd)
        chunks = []
        while chunk := os.read(status_read, 64):
            chunks.append(chunk)
        os.waitpid(init, 0)
        status = int(b"".join(chunks) or b"-1")
        if status >= 0 and os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            signal.signal(number, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [number])
            os.kill(os.getpid(), number)
        elif status >= 0:
            code = os.waitstatus_to_exitcode(status)
    except BaseException:  # noqa: BLE001, S110 - whatever happens, A ends here
        pass
    os._exit(code)


def start_student(spec: dict[str, Any], *, isolated: bool) -> int:
    """Fork the student process of a judged run; in this process (the judge), return its socket's descriptor.

    Called before pytest starts, so the student process's memory holds the
    preloaded libraries and the probe runtime but no test. ``spec``:
    ``module_file`` (the staged module), ``stage_root`` (the submission's
    stage), ``scratch`` (its HOME and TMPDIR), ``disk`` and ``policy`` (the
    guard's). In a sandbox (``isolated``) the student process gets user,
    mount, PID and IPC namespaces of its own, where the stage shows its
    module and nothing else (no test file, no report pipe) and ``/proc``
    shows its own processes only; the judge is made non-dumpable, so no
    process of its user can read its memory or attach to it.
    """
    import socket

    judge_end, student_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            judge_end.close()
            os.environ.pop(JUDGE_FD_VARIABLE, None)
            os.environ.pop("COURSE_SEED", None)  # the judge's: the student process learns inputs only when asked
            if isolated:
                _isolate_student(spec, student_end)
            import grader_student

            grader_student.serve(student_end, spec.get("policy") or {})
            code = 0
        except BaseException as error:  # noqa: BLE001 - the student process never returns into the judge's code
            with contextlib.suppress(OSError):
                os.write(2, f"grader: the student process ended with {error!r}\n".encode())
        os._exit(code)
    student_end.close()
    libc = _Libc()
    libc.prctl(PR_SET_DUMPABLE, 0)
    forget_ctypes()
    _student["pid"] = pid
    return judge_end.detach()


_student: dict[str, int | None] = {"pid": None}


def end_student(grace: float = 1.0) -> None:
    """In the judge, at its end: close its end of the socket, give the student process ``grace`` seconds to
    finish (it ends its worker and exits when the judge is gone), then kill it, and reap it either way.

    Reaped here, its time counts with the run's (resource usage of children), and it never outlives the run.
    """
    pid = _student["pid"]
    if pid is None:
        return
    _student["pid"] = None
    descriptor = os.environ.get(JUDGE_FD_VARIABLE)
    if descriptor:
        with contextlib.suppress(OSError, ValueError):
            os.close(int(descriptor))
    deadline = time.monotonic() + grace
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.005)


def _isolate_student(spec: dict[str, Any], student_end: Any) -> None:
    """In the student process: namespaces of its own and a stage showing only the module; returns in the server."""
    libc = _Libc()
    uid, gid = os.getuid(), os.getgid()
    libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC)
    _map_ids(uid, gid)
    _stage_of_module_only(libc, spec)
    init = os.fork()
    if init == 0:
        # PID 1 of the student's namespace: its own /proc, then the server; when the server ends, everything does.
        code = 70
        try:
            with contextlib.suppress(OSError):
                libc.mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
            server = os.fork()
            if server == 0:
                # One more user namespace: graded code owns none of the mounts above, so it cannot uncover the stage.
                libc.unshare(CLONE_NEWUSER)
                _map_ids(uid, gid)
                forget_ctypes()
                return
            student_end.close()
            while True:
                ended, _ = os.waitpid(-1, 0)
                if ended == server:
                    break
            code = 0
        except BaseException:  # noqa: BLE001, S110 - the init must never return into the caller's code
            pass
        os._exit(code)
    student_end.close()
    with contextlib.suppress(BaseException):
        os.waitpid(init, 0)
    os._exit(0)


def _stage_of_module_only(libc: _Libc, spec: dict[str, Any]) -> None:
    """Over the submission's stage, a read-only tmpfs holding the student's module (read-only) and a fresh scratch."""
    module_file, stage_root, scratch = str(spec["module_file"]), str(spec["stage_root"]), str(spec["scratch"])
    handle = os.open(module_file, os.O_PATH)
    try:
        libc.mount("tmpfs", stage_root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1048576,mode=0755")
        os.makedirs(os.path.dirname(module_file), exist_ok=True)
        os.close(os.open(module_file, os.O_CREAT | os.O_WRONLY, 0o644))
        libc.mount(f"/proc/self/fd/{handle}", module_file, "none", MS_BIND, None)
    finally:
        os.close(handle)
    libc.mount("none", module_file, "none", MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    os.makedirs(scratch, exist_ok=True)
    libc.mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV, f"size={int(spec['disk'])},mode=0700")
    libc.mount("none", stage_root, "none", MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    # The old working directory is the hidden stage folder, tests and all: leave it for the one now shown.
    os.chdir(os.path.dirname(module_file))


def enter_run(isolation: dict[str, Any] | None, student: dict[str, Any] | None) -> None:
    """A run's namespaces (sandboxed) and, for a judged assignment, its student process: forked and spawned alike."""
    if isolation:
        isolate(isolation)
    if student:
        os.environ[JUDGE_FD_VARIABLE] = str(start_student(student, isolated=bool(isolation)))
        import atexit

        atexit.register(end_student)


def become_child(request: dict[str, Any], plugins: dict[str, Any]) -> None:
    """In the forked child: take on the run's session, namespaces, limits, files and environment, then run pytest."""
    code = 70
    try:
        os.setsid()
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
            signal.signal(number, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        # Non-blocking open: fails at once, rather than waiting for ever, if the grader's end is gone.
        output = os.open(request["output"], os.O_WRONLY | os.O_NONBLOCK)
        os.set_blocking(output, True)
        os.dup2(devnull, 0)
        os.dup2(output, 1)
        os.dup2(output, 2)
        # The control pipe and every other child's handle stay with the server.
        os.closerange(3, 1 << 16)
        if request.get("isolate"):
            isolate(request["isolate"])
        limit_resources(request["memory"], request["disk"])
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - lives as long as the child
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        if request.get("student"):
            os.environ[JUDGE_FD_VARIABLE] = str(start_student(request["student"],
                                                              isolated=bool(request.get("isolate"))))
        sys.argv = ["pytest", *request["argv"]]
        import pytest

        code = int(pytest.main(request["argv"], plugins=[Preregistered(plugins, request["argv"])]))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException as error:  # noqa: BLE001 - whatever happens, the child must never return into the server
        code = 70
        with contextlib.suppress(OSError):
            os.write(2, f"grader: the run ended with {error!r}\n".encode())
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001, S110 - a closed or broken stream must not stop the exit
                pass
        with contextlib.suppress(BaseException):
            end_student()
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


def probe() -> int:
    """Whether a run can be isolated here (``--probe``, run by the grader inside bubblewrap): 0 if so."""
    try:
        isolate({"scratch": "/tmp", "disk": 1 << 20, "network": "loopback", "report": os.devnull})
    except OSError as error:
        print(f"a graded run cannot get namespaces of its own: {error}", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    """Preload, then serve; the plugin names to preload are the arguments (``--probe``: see probe())."""
    if sys.argv[1:] == ["--probe"]:
        sys.exit(probe())
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
