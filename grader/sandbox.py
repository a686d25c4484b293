"""The operating-system sandbox of graded runs: bubblewrap (``bwrap``) around every test process.

Work in progress, off by default: ``GRADER_SANDBOX=1`` turns it on (see
``enabled``). Each staged submission gets a fork server of its own inside
one ``bwrap``, so code in one submission shares no process, file or
namespace with another's. Inside, the process has its own user, PID, IPC,
UTS, network (loopback only) and mount namespaces; it sees read-only the
system's libraries, the interpreter and its site-packages and the session
runtime, read-write only its own stage and a size-limited ``/tmp`` (tmpfs);
nothing of the course repository, other stages, results, caches, or any
process outside (its ``/proc`` is its own PID namespace's); its
environment is built from nothing (``--clearenv``); it dies with the grader
(``--die-with-parent``).
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

# Read-only from the host: the system's programs and libraries, and the few
# files in /etc that the libraries read (dynamic linker cache, certificates,
# time zone, user names).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/passwd",
                "/etc/group", "/etc/nsswitch.conf", "/etc/hosts", "/etc/ssl", "/etc/ca-certificates",
                "/etc/pki", "/etc/mime.types")


def enabled() -> bool:
    """Whether graded runs are sandboxed: ``GRADER_SANDBOX=1`` (off by default while it is being built)."""
    return os.environ.get("GRADER_SANDBOX", "0") == "1"


def bwrap() -> str | None:
    """The bubblewrap program, or None when it is not installed."""
    return shutil.which("bwrap")


def _python_dirs() -> list[str]:
    """The interpreter's own folders: its prefix (a venv), the base install, and what is on sys.path under them."""
    dirs = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    dirs.add(os.path.dirname(os.path.realpath(sys.executable)))
    return _outermost(d for d in dirs if os.path.isdir(d))


def _outermost(paths: object) -> list[str]:
    """The paths not inside another of them (binding a folder binds what it holds)."""
    kept: list[str] = []
    for path in sorted(set(paths), key=len):  # type: ignore[call-overload]
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def command(*, runtime: Path, stage: Path, tmp_bytes: int, env: dict[str, str]) -> list[str]:
    """The ``bwrap`` command line to put before a graded process's own command line.

    ``runtime`` is bound read-only and ``stage`` read-write, each at its own
    path, so every path the grader passes keeps its meaning inside; ``/tmp``
    is a tmpfs of ``tmp_bytes``; ``env`` is the whole environment.
    """
    program = bwrap()
    if program is None:
        raise OSError("bubblewrap (bwrap) is not installed")
    args = [program, "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--clearenv"]
    for name, value in env.items():
        args += ["--setenv", name, value]
    for path in SYSTEM_DIRS:
        args += ["--ro-bind-try", path, path]
    for path in SYSTEM_FILES:
        args += ["--ro-bind-try", path, path]
    for path in _python_dirs():
        args += ["--ro-bind", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    args += ["--ro-bind", str(runtime), str(runtime), "--bind", str(stage), str(stage)]
    args += ["--chdir", str(stage)]
    return args


@functools.lru_cache(maxsize=1)
def unavailable() -> str | None:
    """Why no sandbox can be made on this machine (one line), or None when it can."""
    program = bwrap()
    if program is None:
        return "bubblewrap (bwrap) is not installed: install the Debian package bubblewrap"
    probe = [program, "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
             "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap could not run: {error}"
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return f"bubblewrap cannot create namespaces here ({reason}); are user namespaces enabled?"
    return None
