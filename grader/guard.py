"""The guard of a graded run, copied into each runtime as ``grader_guard.py``.

Student code runs in the same process as the tests that grade it, so this is
a tripwire, not a sandbox (the README's threat model says what it cannot
stop). Armed just before the student's module is imported, it

- refuses, through an audit hook (PEP 578): writing, removing or renaming any
  file outside the run's scratch folder; reading the staged test files from
  code that is not the test framework's or the tests' own; starting programs;
  signalling other processes; ctypes; making code objects; network
  connections anywhere but loopback (and there only for assignments that
  need it); and name lookups, through any resolver function, of anything but
  localhost;
- watches the libraries the tests rely on (asyncio, aiohttp, aioresponses,
  pytest and its plugins, the course's test kit, this grader): if the
  student's code replaces anything in them, at import or while a test runs,
  the run is reported as tampered with and earns nothing. What the standard
  library rebinds on its own (equal values, the time zone tzset recomputes)
  is not a replacement.

Every refusal is reported to the grader, which names it in the feedback.
Standard library only.
"""
from __future__ import annotations

import ipaddress
import operator
import os
import socket
import sys
import sysconfig
from collections.abc import Callable, Iterator, Sequence
from types import FrameType, ModuleType
from typing import Any

WATCHED_PREFIXES = ("asyncio", "aiohttp", "aioresponses", "pytest", "_pytest", "pytest_asyncio", "looptime",
                    "pytest_timeout", "pytest_randomly", "coursekit", "grader_child", "grader_guard", "pluggy",
                    "builtins", "time", "socket", "selectors", "unittest.mock", "inspect", "signal", "io", "os")
OWN_MODULES = ("coursekit", "grader_child", "grader_guard")
HOT_MODULES = {"asyncio", "aiohttp", "aioresponses", "pytest", "pytest_asyncio", "looptime", "time", "socket",
               "builtins"}
OWN_STATE = {"_report", "_student_file", "_baseline", "_active", "_watchdog"}  # the child plugin's own run state
# State the standard library itself rebinds to new values: time.tzset() recomputes the time zone from TZ (and
# _strptime calls it on its first use). No test reads it: the tests' clocks are the loop's and time.monotonic.
RECOMPUTED = {("time", "tzname"), ("time", "timezone"), ("time", "altzone"), ("time", "daylight")}
# Values that are data and nothing else: equal ones are interchangeable (a rebinding to an equal tuple is none).
_SCALARS = (type(None), bool, int, float, complex, str, bytes)
_PLAIN_DATA = (*_SCALARS, tuple, frozenset)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_PATH_EVENTS = {  # event -> (position of a path the event changes, position of the folder it is relative to)
    "os.remove": ((0, 1),), "os.rename": ((0, 2), (1, 3)), "os.rmdir": ((0, 1),), "os.mkdir": ((0, 2),),
    "os.chmod": ((0, 2),), "os.chown": ((0, 3),), "os.link": ((0, 2), (1, 3)), "os.symlink": ((0, None), (1, 2)),
    "os.truncate": ((0, None),), "os.utime": ((0, 3),), "os.chflags": ((0, None),), "os.lchflags": ((0, None),),
    "os.setxattr": ((0, None),), "os.removexattr": ((0, None),), "shutil.rmtree": ((0, None),),
    "shutil.copyfile": ((1, None),), "shutil.copymode": ((1, None),), "shutil.copystat": ((1, None),),
    "shutil.move": ((1, None),),
}
_PROGRAM_EVENTS = {"os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen", "os.fork",
                   "os.forkpty", "pty.spawn", "os.startfile"}
_DENIED_IMPORTS = {"ctypes", "_ctypes", "cffi", "_testcapi", "_testinternalcapi", "_posixsubprocess",
                   "_xxsubinterpreters", "_interpreters"}
_SOCKET_EVENTS = {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"}
# Every resolver function raises one of these (gethostbyname_ex raises socket.gethostbyname): a name looked up is
# a message to a DNS server.
_NAME_LOOKUPS = {"socket.getaddrinfo", "socket.gethostbyname"}
_ADDRESS_LOOKUPS = {"socket.gethostbyaddr", "socket.getnameinfo"}
_LOCAL_NAMES = {None, "", "localhost", "localhost.", "ip6-localhost"}


_RUNTIME = os.path.dirname(os.path.realpath(__file__))
_GONE = object()
_active: Guard | None = None


def _watched(name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in WATCHED_PREFIXES)


def _checked(module: str, attribute: str) -> bool:
    """Public names everywhere; private ones too in the grader's and the course's own code."""
    if attribute.startswith("__"):
        return False
    if not attribute.startswith("_"):
        return True
    return module.startswith(OWN_MODULES) and attribute not in OWN_STATE


def _same(before: object, now: object) -> bool:
    """Whether ``now`` may stand where ``before`` was: the same object, or equal plain data of the same type.

    Code, classes, modules and every other object must be the very same
    object (a replacement behaves differently whatever it compares equal
    to); immutable plain data (numbers, strings, tuples of them) only needs
    the same type and value, compared element by element with the built-in
    types' own equality, which a student's ``__eq__`` cannot reach.
    """
    if now is before:
        return True
    kind = type(before)
    if kind not in _PLAIN_DATA or type(now) is not kind:
        return False
    if isinstance(before, tuple) and isinstance(now, tuple):
        return len(now) == len(before) and all(_same(b, n) for b, n in zip(before, now))
    if isinstance(now, frozenset):
        # Built-in elements only: a student's element would answer the comparison itself.
        return all(type(item) in _SCALARS for item in now) and now == before
    return now == before or (now != now and before != before)  # NaN stays NaN


class Baseline:
    """What the watched modules (and the classes they define) hold before the student's code runs.

    References, not ``id()``s (``id`` is an audited call), taken once; a check
    then compares each remembered attribute with what is there now (see
    ``_same``). Additions are never checked: modules cache things and the
    import system sets a submodule imported later as an attribute of its
    package. Modules themselves are compared with ``sys.modules``.
    """

    def __init__(self) -> None:
        owners: list[_Owner] = []
        modules: list[tuple[str, ModuleType, bool]] = []
        for name, module in list(sys.modules.items()):
            if not isinstance(module, ModuleType) or not _watched(name):
                continue
            names = vars(module)
            hot = name in HOT_MODULES or name.startswith(OWN_MODULES)
            modules.append((name, module, hot))
            owners.append(_Owner(name, names, [(k, v) for k, v in names.items()
                                               if _checked(name, k) and (name, k) not in RECOMPUTED], hot))
            for key, value in list(names.items()):
                if isinstance(value, type) and value.__module__ == name and _checked(name, key):
                    attributes = vars(value)  # a mappingproxy: live, like a module's __dict__
                    remembered = [(k, v) for k, v in attributes.items() if _checked(name, k)]
                    owners.append(_Owner(f"{name}.{key}", attributes, remembered, False))
        self._modules = modules
        self._hot_modules = [entry for entry in modules if entry[2]]
        self._owners = owners
        self._hot_owners = [owner for owner in owners if owner.hot]

    def replaced(self, *, full: bool = True) -> list[str]:
        """What has been replaced or removed since (additions are fine: modules cache things).

        Not ``full``: only the namespaces tests call through (``asyncio.sleep``,
        ``aiohttp.ClientSession``) and the course's and grader's own modules,
        cheap enough to check after every test.
        """
        present = sys.modules
        changes = [f"{name} (the whole module)" for name, module, _ in (self._modules if full else self._hot_modules)
                   if present.get(name, module) is not module]
        for owner in self._owners if full else self._hot_owners:
            if not owner.unchanged():
                changes += owner.changes()
        return changes


class _Owner:
    """One namespace (a module's or a class's) and the attributes it held when the baseline was taken."""

    __slots__ = ("name", "namespace", "remembered", "hot", "_fetch", "_values")

    def __init__(self, name: str, namespace: Any, remembered: list[tuple[str, object]], hot: bool) -> None:
        self.name, self.namespace, self.remembered, self.hot = name, namespace, remembered, hot
        keys = [key for key, _ in remembered]
        # Fetched and compared in C: the check after every scenario stays well under a millisecond.
        self._fetch: Callable[[Any], Any] | None = operator.itemgetter(*keys) if len(keys) > 1 else None
        self._values = tuple(value for _, value in remembered)

    # The built-ins it relies on are bound when this module is imported: rebinding builtins.all later
    # cannot blind the check (the builtins module is itself one of the namespaces checked).
    def unchanged(self, _all: Any = all, _map: Any = map, _is: Any = operator.is_) -> bool:
        """Whether every remembered attribute is still the very same object (the fast check)."""
        if self._fetch is None:
            return _all(self.namespace.get(key, _GONE) is value for key, value in self.remembered)
        try:
            current = self._fetch(self.namespace)
        except KeyError:
            return False
        return _all(_map(_is, current, self._values))

    def changes(self) -> list[str]:
        """The attributes replaced or removed (plain data rebound to an equal value is not a change)."""
        now = self.namespace
        return [f"{self.name}.{key}" for key, value in self.remembered
                if (current := now.get(key, _GONE)) is not value and not _same(value, current)]


def fresh_process_prologue() -> str:
    """Python source that arms the same guard in a fresh interpreter the tests start; empty when none is armed.

    The course's test kit starts fresh interpreters that import the
    student's module (``coursekit.loops.run_fresh``); they get this first.
    """
    return "" if _active is None else prologue_for(_active.policy)


def prologue_for(policy: dict[str, Any]) -> str:
    """Python source that arms a guard of ``policy`` (``Guard(**policy)``) first thing in a fresh interpreter."""
    # What the tests' own libraries import is imported before the guard is armed, as in the test process.
    return (f"import asyncio, subprocess, sys; sys.path.insert(0, {_RUNTIME!r}); import grader_guard; "
            f"grader_guard.Guard(**{policy!r}).arm()\n")


class Guard:
    """The policy of one graded run, enforced from an audit hook once armed."""

    def __init__(self, *, scratch: str, tests: list[str], loopback: bool, secret_dirs: Sequence[str] = (),
                 report: Callable[[dict[str, Any]], None] = lambda record: None) -> None:
        self.policy = {"scratch": scratch, "tests": list(tests), "loopback": loopback, "secret_dirs": list(secret_dirs)}
        self.scratch = os.path.realpath(scratch) + os.sep
        self.tests = frozenset(os.path.realpath(t) for t in tests)
        self.loopback = loopback
        self.report = report
        paths = sysconfig.get_paths()
        self.trusted = tuple({os.path.realpath(paths[k]) + os.sep for k in ("stdlib", "platstdlib", "purelib",
                                                                             "platlib")} | {_RUNTIME + os.sep})
        self.secret_dirs = tuple(os.path.realpath(d) + os.sep for d in secret_dirs)
        self.armed = False
        self._reported = 0

    def arm(self) -> None:
        """Start enforcing: from now on the hook refuses what the policy forbids."""
        global _active
        if not self.armed:
            self.armed = True
            _active = self
            sys.addaudithook(self._hook)

    # The hook runs on every audited event in the process: the first test is the cheap one.
    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            self._open(args[0], args[2])
        elif event in _PATH_EVENTS:
            for position, folder in _PATH_EVENTS[event]:
                if position < len(args):
                    relative_to = args[folder] if folder is not None and folder < len(args) else None
                    self._must_be_scratch(args[position], "changing", relative_to)
        elif event in _PROGRAM_EVENTS and not self._trusted_stack():
            self._refuse(f"starting a program ({event})")
        elif event.startswith("ctypes."):
            self._refuse("using ctypes")
        elif event == "import" and args[0] in _DENIED_IMPORTS:
            self._refuse(f"importing {args[0]}")
        elif event in ("os.kill", "os.killpg", "signal.pthread_kill"):
            self._signal(event, args)
        elif event in _SOCKET_EVENTS:
            self._socket(event, args)
        elif event in _NAME_LOOKUPS:
            self._lookup(args[0])
        elif event in _ADDRESS_LOOKUPS:
            self._reverse_lookup(args[0])
        elif event == "code.__new__" or (event == "object.__setattr__" and args[1] == "__code__"):
            self._refuse("making or replacing code objects")

    def _refuse(self, what: str, *, quiet: bool = False) -> None:
        message = f"the grader does not allow {what}"
        if self._reported < 20 and not quiet:
            self._reported += 1
            self.report({"kind": "refused", "message": message})
        raise PermissionError(message)  # graded code sees the error an OS would give, with the reason

    def _open(self, path: Any, flags: Any) -> None:
        if isinstance(path, int):
            return  # an open descriptor: it was checked when it was opened
        name = os.fsdecode(path)
        if isinstance(flags, int) and flags & _WRITE_FLAGS:
            if name != os.devnull:
                self._must_be_scratch(name, "writing")
        elif self._is_secret(os.path.realpath(name)) and not self._trusted_stack():
            self._refuse("reading the course's own files (tests, solutions)", quiet=self._through_linecache())

    def _is_secret(self, real: str) -> bool:
        """The staged tests, and the course itself (its hidden tests, its reference solutions).

        The interpreter's own files never are, even when its virtual environment
        lives inside the course's folder (a development checkout): the standard
        library reads installed packages' metadata for anyone who asks.
        """
        return real in self.tests or (real.startswith(self.secret_dirs) and not real.startswith(self.trusted))

    def _must_be_scratch(self, path: Any, verb: str, relative_to: Any = None) -> None:
        if isinstance(path, int):
            return
        name = os.fsdecode(path)
        if isinstance(relative_to, int) and relative_to >= 0 and not os.path.isabs(name):
            # A path relative to an open folder (shutil.rmtree removes a tree's files so, as does
            # TemporaryDirectory's clean-up): judged where that folder is, not in the working directory.
            name = os.path.join(_folder_of(relative_to), name)
        real = os.path.realpath(name)
        if (real + os.sep).startswith(self.scratch):
            return
        # Named by what it is, never by its path: a test file's name is not for the feedback.
        what = "a test file" if real in self.tests else os.fsdecode(path)
        self._refuse(f"{verb} {what}: graded code may write only its own temporary files (tmp_path, tempfile)")

    def _trusted_stack(self) -> bool:
        """Whether every caller is the standard library's, an installed package's, the runtime's or a test's.

        So pytest and the tests may read test files and start programs, while
        nothing called from the student's module may, not even through
        ``inspect``, ``linecache`` or pytest's own functions.
        """
        return all(f.startswith(self.trusted) or f.startswith("<frozen ") or f in self.tests for f in _callers())

    @staticmethod
    def _through_linecache() -> bool:
        """Whether the standard library's line cache is reading (for a traceback, a warning, asyncio's debug mode).

        Refused there, it shows a blank line where the test's source would be,
        which costs the student nothing: no need to report it.
        """
        return any(f.endswith(f"{os.sep}linecache.py") for f in _callers())

    def _signal(self, event: str, args: tuple[Any, ...]) -> None:
        target = args[0]
        own = {0, os.getpid()} if event == "os.kill" else {0, os.getpgid(0)}
        if event == "signal.pthread_kill" or target in own:
            return
        self._refuse(f"signalling another process ({event} {target})")

    def _socket(self, event: str, args: tuple[Any, ...]) -> None:
        sock, address = args[0], args[1] if len(args) > 1 else None
        if event == "socket.sendmsg":
            address = args[-1] if args else None
        family = getattr(sock, "family", None)
        if family == socket.AF_UNIX:
            if event == "socket.bind" or address is None:
                return
            self._refuse("connecting to a local socket")
        if family not in (socket.AF_INET, socket.AF_INET6) or address is None:
            return
        host = address[0] if isinstance(address, tuple) else address
        if not self._is_loopback(host):
            self._refuse(f"network access to {host!s} (only loopback, 127.0.0.1, is reachable)")
        if event != "socket.bind" and not self.loopback:
            self._refuse("network connections in this assignment (its tests need none)")

    def _lookup(self, host: Any) -> None:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in _LOCAL_NAMES and _address(name) is None:  # an address: connecting to it is checked
            self._refuse(f"looking up {name!s} (only localhost is reachable)")

    def _reverse_lookup(self, address: Any) -> None:
        """``gethostbyaddr`` (an address or a name) and ``getnameinfo`` (a socket address): loopback only.

        Asking for the name of any other address is a query to the DNS
        server in charge of that address, which can carry data out.
        """
        host = address[0] if isinstance(address, tuple) and address else address
        host = host.decode() if isinstance(host, bytes) else host
        if not self._is_loopback(host):
            self._refuse(f"looking up {host!s} (only localhost is reachable)")

    @staticmethod
    def _is_loopback(host: Any) -> bool:
        address = _address(host)
        return host in _LOCAL_NAMES or (address is not None and address.is_loopback)


def _address(host: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``host`` as an IP address (an IPv6 zone dropped), or None when it is a name."""
    try:
        return ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return None


def _folder_of(descriptor: int) -> str:
    """The path of an open folder, or a name that is never the scratch folder when it cannot be found."""
    try:
        return os.readlink(f"/proc/self/fd/{descriptor}")
    except OSError:
        return f"/proc/self/fd/{descriptor}"


def _callers() -> Iterator[str]:
    """The file of every frame on the stack, innermost first (the guard's own frames are the runtime's: trusted)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        yield frame.f_code.co_filename
        frame = frame.f_back
