"""The operating-system sandbox of graded runs: bubblewrap (``bwrap``) around every test process.

Whether graded runs are sandboxed is a grading setting (``mode``):
``--sandbox {auto,required,off}`` on ``grade``, ``check`` and ``batch``, else
``[grading] sandbox`` in course.toml (``grade`` and ``check``; default
"auto"), else "required" for ``batch``, the grade of record. Each staged
submission gets a fork server of its own inside one ``bwrap``, so code in
one submission shares no process, file or namespace with another's. Inside,
everything is read-only: the system's libraries, the interpreter and its
site-packages, the session runtime and the submission's own stage; nothing
of the course repository, other stages, results, caches, or any process
outside (its ``/proc`` is its own PID namespace's); the environment is built
from nothing (``--clearenv``); it dies with the grader
(``--die-with-parent``). Every run the server forks then gets namespaces of
its own (``grader/zygote.py``'s ``isolate``): user, PID, IPC, network (no
interface up, or only ``lo`` where course.toml says "loopback") and mount,
where its scratch folder (HOME, TMPDIR) and ``/dev/shm`` are tmpfs of
``disk_mb``: the only places it can write.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Literal

from grader.errors import EnvironmentFault, UsageError
from grader.manifest import course_setting

# Read-only from the host: the system's programs and libraries, and the few
# files in /etc that the libraries read (dynamic linker cache, certificates,
# time zone, user names).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/passwd",
                "/etc/group", "/etc/nsswitch.conf", "/etc/hosts", "/etc/ssl", "/etc/ca-certificates",
                "/etc/pki", "/etc/mime.types")


class SandboxUnavailable(EnvironmentFault):
    """A sandbox was asked for and cannot be made here: the command line shows why, on one line ("environment
    error: ..."), exits 1 (the machine, not the input, is at fault) and grades nothing."""


Mode = Literal["auto", "required", "off"]
MODES: tuple[Mode, ...] = ("auto", "required", "off")
DEFAULT_MODE: Mode = "auto"  # what course.toml's [grading] sandbox is when it does not say
RECORD_MODE: Mode = "required"  # batch's default: the grade of record is sandboxed or not produced


def course_mode(course_root: Path) -> Mode:
    """course.toml's ``[grading] sandbox`` ("auto" when absent); UsageError when it is not one of MODES."""
    value, path = course_setting(course_root, "grading", "sandbox")
    if value is None:
        value = DEFAULT_MODE
    for mode in MODES:
        if value == mode:
            return mode
    raise UsageError(f"{path}: [grading] sandbox must be one of {', '.join(MODES)}, got {value!r}")


def problems(mode: Mode) -> list[str]:
    """One line when ``mode`` demands a sandbox this machine cannot make; empty otherwise."""
    why = unavailable() if mode == "required" else None
    if why is None:
        return []
    return [f"the sandbox is required (--sandbox required; batch's default) and cannot be made here: {why} "
            f"(or grade without it, no grade of record, with --sandbox off)"]


def decide(mode: Mode) -> tuple[bool, str | None]:
    """Whether runs under ``mode`` are sandboxed here, and when they are not though a sandbox was wanted, why.

    "required" where no sandbox can be made raises SandboxUnavailable (the
    environment check refuses first, with the same reason).
    """
    if mode == "off":
        return False, None
    why = unavailable()
    if why is None:
        return True, None
    if mode == "required":
        raise SandboxUnavailable(problems(mode)[0])
    return False, why


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


def command(*, runtime: Path, stage: Path, env: dict[str, str], cwd: Path | None = None) -> list[str]:
    """The ``bwrap`` command line to put before a graded process's own command line.

    ``runtime`` and ``stage`` are bound read-only, each at its own path, so
    every path the grader passes keeps its meaning inside; ``env`` is the
    whole environment; the process starts in ``cwd`` (default: the stage).
    Nothing inside is writable: the root, ``/tmp`` and ``/dev`` are
    remounted read-only once the binds are in place (the runs' scratch
    tmpfs are mounted by each run, over folders of the stage).
    """
    program = bwrap()
    if program is None:
        raise SandboxUnavailable("cannot sandbox the graded runs: bubblewrap (bwrap) is not installed")
    args = [program, "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--clearenv"]
    for name, value in env.items():
        args += ["--setenv", name, value]
    for path in SYSTEM_DIRS:
        args += ["--ro-bind-try", path, path]
    for path in SYSTEM_FILES:
        args += ["--ro-bind-try", path, path]
    # The tmpfs first: an interpreter, runtime or stage that lives under /tmp (a checkout
    # in a temporary folder, the default place for stages) is bound on top of it, not hidden by it.
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in _python_dirs():
        args += ["--ro-bind", path, path]
    args += ["--ro-bind", str(runtime), str(runtime), "--ro-bind", str(stage), str(stage)]
    # bwrap's root, /tmp and /dev are tmpfs it made writable: writes there would be shared by a
    # submission's runs and bounded by nothing but memory.
    args += ["--remount-ro", "/tmp", "--remount-ro", "/dev", "--remount-ro", "/"]
    args += ["--chdir", str(cwd or stage)]
    return args


@functools.lru_cache(maxsize=1)
def unavailable() -> str | None:
    """Why no sandbox can be made on this machine (one line), or None when it can."""
    program = bwrap()
    if program is None:
        return "bubblewrap (bwrap) is not installed: install the Debian package bubblewrap"
    # The whole chain a run goes through: bwrap's namespaces, then each run's own (grader/zygote.py --probe).
    probe = [program, "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
             "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
             sys.executable, "-I", "-B", str(Path(__file__).resolve().parent / "zygote.py"), "--probe"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap could not run: {error}"
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return f"bubblewrap cannot create namespaces here ({reason}); are user namespaces enabled?"
    return None
