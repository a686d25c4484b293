"""The corpus of hostile and broken submissions: each earns exactly what it earned, with a clear message.

Every case is assignment 01's reference solution with one thing changed,
graded in one grading session (the way ``batch`` grades a class), and every
result is then rendered in every output format and checked for hidden test
text. The whole corpus runs twice with the same checks: without the OS
sandbox, and inside it (``slow``; skipped where bubblewrap cannot run). One
case is told something else inside (SANDBOXED_CHECKS) and earns the same.
The cases that need a whole submission or the command line are in
test_hostile_submissions.py.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from repo_support import (
    CLASSROOM50_ENV,
    ROOT,
    assert_no_hidden_test_text,
    solution_source,
)

from grader import sandbox
from grader.manifest import load_manifest
from grader.pipeline import Session, course_tests
from grader.redact import WITHHELD, secret_lines
from grader.report import FORMATS, render

SOLUTION = solution_source("01")
SOLUTION_FILE = ROOT / "solutions" / "01" / "why_async.py"
STUB = (ROOT / "assignments" / "01" / "why_async.py").read_text()
SLEEP_BODY = "    await asyncio.sleep(delay)\n    return label\n"
FORGED = Path("/tmp/forged-grade-result.json")


def _body(code: str) -> str:
    """The solution with ``code`` run first in fetch_async (used by most tests of 01)."""
    assert SLEEP_BODY in SOLUTION
    return SOLUTION.replace(SLEEP_BODY, "".join(f"    {line}\n" for line in code.splitlines()) + SLEEP_BODY, 1)


def _on_import(code: str) -> str:
    """The solution with ``code`` run at the end of its import."""
    return SOLUTION + "\n" + code + "\n"


def _secret_of_01() -> str:
    sources = [p.read_text() for p in (ROOT / "tests" / "01").glob("*.py")]
    return sorted(secret_lines(sources, (ROOT / "assignments" / "01" / "test_why_async.py").read_text()))[0]


# name -> (module source, check of the assignment's result as a dict)
Check = Callable[[dict[str, Any]], None]


def _consistent(a: dict[str, Any]) -> None:
    """The status agrees with the integrity findings: a refusal is always flagged for a person to review, and
    ``flagged`` or ``void`` never stands without its findings."""
    if "the grader does not allow" in a["message"]:
        assert a["flags"], a["message"]
    if a["status"] in ("flagged", "void"):
        assert a["flags"], a["status"]
    if a["flags"] and a["status"] not in ("void", "error"):
        assert a["status"] == "flagged", a["status"]


def _full(a: dict[str, Any]) -> None:
    assert a["score"] == 100 and a["status"] == "graded" and not a["flags"], a["message"]


def _broken(*words: str) -> Check:
    """A module that cannot be imported: every test lost, status error (the student's code, a grade of 0)."""
    def check(a: dict[str, Any]) -> None:
        assert a["score"] == 0 and a["status"] == "error", a["message"]
        assert all(t["outcome"] != "passed" for t in a["tests"])
        for word in words:
            assert word in a["message"], a["message"]
    return check


def _void(*words: str) -> Check:
    """What graded the code was tampered with: nothing earned, status void, the finding in its flags."""
    def check(a: dict[str, Any]) -> None:
        assert a["score"] == 0 and a["status"] == "void", a["message"]
        assert all(t["outcome"] != "passed" for t in a["tests"])
        for word in words:
            assert word in a["message"] and any(word in flag for flag in a["flags"]), a["message"]
    return check


def _nothing(*words: str) -> Check:
    def check(a: dict[str, Any]) -> None:
        assert a["score"] == 0 and all(t["outcome"] != "passed" for t in a["tests"]), a["message"]
        for word in words:
            assert word in a["message"], a["message"]
    return check


def _partial(*words: str, full_message: bool = False) -> Check:
    """Some tests lost, some kept, and ``words`` in the failed tests' feedback (or the assignment's message)."""
    def check(a: dict[str, Any]) -> None:
        assert 0 < a["score"] < 100 and a["status"] in ("graded", "flagged"), a["message"]
        text = a["message"] if full_message else "\n".join(t["feedback"] for t in a["tests"] if t["outcome"] != "passed")
        for word in words:
            assert word in text, text[:2000]
    return check


def _full_with_note(*words: str) -> Check:
    """Every test passed, and what the code tried was refused: flagged for review, the refusal in its flags."""
    def check(a: dict[str, Any]) -> None:
        assert a["score"] == 100 and a["status"] == "flagged", a["message"]
        for word in words:
            assert word in a["message"] and any(word in flag for flag in a["flags"]), a["message"]
    return check


CORPUS: dict[str, tuple[str | bytes, Check]] = {
    # Broken code.
    "import_error": (_on_import("raise RuntimeError('broken at import')"), _broken("RuntimeError", "broken at import", "why_async.py:")),
    "sys_exit_in_a_coroutine": (_body("import sys\nsys.exit(0)"), _partial("SystemExit")),
    "os_exit_at_import": (_on_import("import os\nos._exit(3)"), _nothing("exited early with status 3", "os._exit")),
    "wrong_signature": (SOLUTION.replace("async def fetch_async(label: str, delay: float)",
                                         "async def fetch_async(delay: float, label: str)"), _partial("Expected")),
    "sync_not_coroutine": (SOLUTION.replace("async def fetch_async(", "def fetch_async(").replace(
        SLEEP_BODY, "    return label\n"), _partial("await")),
    "non_utf8_source": (SOLUTION.encode() + b'NAME = "caf\xe9"\n', _broken("SyntaxError", "utf-8")),
    "utf8_bom": (b"\xef\xbb\xbf" + SOLUTION.encode(), _full),
    "crlf_line_ends": (SOLUTION.replace("\n", "\r\n"), _full),
    "deep_recursion": (_body("def down(n):\n    return down(n + 1)\ndown(0)"), _partial("RecursionError")),
    # Resource abuse.
    "memory_hog": (_body("hog = bytearray(8 * 1024 ** 3)"), _partial("MemoryError")),
    "output_flood": (_body("for _ in range(20):\n    print('x' * 100_000)"), _partial("output_kb = 1024 in course.toml")),
    "file_flood": (_body("import tempfile\nwith tempfile.TemporaryFile() as f:\n    f.seek(65 * 1024 * 1024)\n"
                         "    f.write(b'x')\n    f.flush()"), _partial("disk_mb = 64 in course.toml")),
    # Monkeypatching what the tests rely on. 01 is judged: the patches stay in the student process, but the probes
    # there are what the judge's verdict reads, so the worker compares the watched libraries after each scenario
    # (everything after the import, the hot parts after each call): any replacement voids the assignment, as the
    # guard's comparison does in a process that is not judged.
    "instant_sleep": (_on_import("import asyncio\nasync def _now(delay, result=None):\n    return result\n"
                              "asyncio.sleep = _now"), _void("asyncio.sleep", "in the process that runs it")),
    "patched_test_helper": (_on_import("import coursekit.testing\ncoursekit.testing.within = lambda *a, **k: None"),
                            _void("coursekit.testing.within")),
    "patched_probe": (_on_import("import coursekit.probes.kit as kit\n_real = kit.within\n"
                                 "async def _forged(*a, **k):\n    return await _real(*a, **k)\nkit.within = _forged"),
                      _void("coursekit.probes.kit.within")),
    "patched_aioresponses": (_on_import("import aioresponses\naioresponses.aioresponses.get = lambda *a, **k: None"),
                             _void("aioresponses")),
    "patched_pytest_internals": (_on_import("import _pytest.runner\n_pytest.runner.call_and_report = print"),
                                 _void("_pytest.runner.call_and_report")),
    "replaced_module": (_on_import("import sys, types\nsys.modules['asyncio'] = types.ModuleType('asyncio')"),
                        _void("asyncio (the whole module)")),
    "patched_while_tested": (_body("import asyncio\nasyncio.gather = asyncio.wait"), _void("asyncio.gather")),
    # Forging results, reading or changing the tests.
    "forged_result_file": (_body(f"open({str(FORGED)!r}, 'w').write('{{\"score\": 100}}')"),
                           _partial("the grader does not allow writing")),
    "overwrite_tests": (_on_import("import glob\nfor name in glob.glob('test_*.py'):\n    try:\n"
                                "        open(name, 'w').write('')\n    except OSError:\n        pass"),
                        _full_with_note("does not allow writing a test file")),
    "read_hidden_tests": (_body("import glob\nraise RuntimeError(open(glob.glob('test_hidden*.py')[0]).read())"),
                          _partial("does not allow reading the course's own files")),
    # The stub, made to take the reference solution's code from the course (that would score 100).
    "copy_the_solution": (f"{STUB}\ntry:\n    exec(open({str(SOLUTION_FILE)!r}).read())\nexcept OSError:\n    pass\n",
                          _nothing("does not allow reading the course's own files")),
    "copy_the_solution_through_pytest": (
        f"{STUB}\nimport _pytest.pathlib, pathlib\ntry:\n    globals().update(vars(_pytest.pathlib.import_path("
        f"pathlib.Path({str(SOLUTION_FILE)!r}), mode='importlib', root=pathlib.Path('/'), "
        "consider_namespace_packages=False)))\nexcept OSError:\n    pass\n", _nothing("does not allow reading")),
    # Judged: the student process never imports a test module, so there is none to inspect.
    "inspect_hidden_tests": (_body("import inspect, sys\n"
                                   "tests = [m for n, m in list(sys.modules.items()) if n.startswith('test_') and m]\n"
                                   "raise RuntimeError(inspect.getsource(tests[0]) if tests else 'no test here')"),
                             _partial("no test here")),
    "quote_hidden_line": (_body(f"raise RuntimeError({_secret_of_01()!r})"), _partial(WITHHELD)),
    # Reaching out of the process.
    "network_remote": (_body("import socket\nsocket.create_connection(('10.255.255.1', 80), timeout=1)"),
                       _partial("network access to 10.255.255.1")),
    "network_loopback_unneeded": (_body("import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)"),
                                  _partial("network connections in this assignment")),
    "dns_lookup": (_body("import socket\nsocket.getaddrinfo('example.com', 80)"), _partial("looking up example.com")),
    "start_program": (_body("import os\nos.system('true')"), _partial("starting a program")),
    "kill_the_grader": (_on_import("import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGKILL)\n"
                                "except OSError:\n    pass"), _full_with_note("signalling another process")),
    "ctypes": (_on_import("try:\n    import ctypes\nexcept OSError:\n    pass"), _full_with_note("importing ctypes")),
}


def _full_without(*words: str) -> Check:
    def check(a: dict[str, Any]) -> None:
        _full(a)
        for word in words:
            assert word not in a["message"], a["message"]
    return check


# Every resolver function has its own audit event: each is refused for a name or an address other than loopback.
_REMOTE = "93.184.216.34"
CORPUS |= {
    "dns_gethostbyname": (_body("import socket\nsocket.gethostbyname('example.com')"),
                          _partial("looking up example.com")),
    "dns_gethostbyname_ex": (_body("import socket\nsocket.gethostbyname_ex('example.com')"),
                             _partial("looking up example.com")),
    "dns_gethostbyaddr_name": (_body("import socket\nsocket.gethostbyaddr('example.com')"),
                               _partial("looking up example.com")),
    "dns_gethostbyaddr_address": (_body(f"import socket\nsocket.gethostbyaddr({_REMOTE!r})"),
                                  _partial(f"looking up {_REMOTE}")),
    "dns_getnameinfo": (_body(f"import socket\nsocket.getnameinfo(({_REMOTE!r}, 80), 0)"),
                        _partial(f"looking up {_REMOTE}")),
    # getfqdn swallows the refusal (an OSError) and answers the name itself: the refusal is still named.
    "dns_getfqdn": (_body("import socket\nsocket.getfqdn('example.com')"), _full_with_note("looking up example.com")),
    # Loopback stays reachable by every function (a failed lookup is the resolver's answer, not a refusal).
    "dns_loopback_lookups": (_on_import("import socket\nfor lookup in (lambda: socket.gethostbyname('localhost'), "
                                        "lambda: socket.gethostbyname_ex('localhost'), "
                                        "lambda: socket.gethostbyaddr('127.0.0.1'), "
                                        "lambda: socket.getnameinfo(('127.0.0.1', 80), 0), "
                                        "lambda: socket.getaddrinfo('localhost', 80)):\n"
                                        "    try:\n        lookup()\n    except (socket.herror, socket.gaierror):\n"
                                        "        pass"), _full_without("does not allow")),
    # A path relative to an open folder is judged where it lands: out of the scratch folder here.
    "remove_relative_to_a_folder": (_body("import os, tempfile\nfolder = os.open(tempfile.gettempdir(), os.O_RDONLY)\n"
                                          "os.remove('../forged-grade-result.json', dir_fd=folder)"),
                                    _partial("does not allow changing ../forged-grade-result.json")),
}


def _nothing_found(*words: str) -> Check:
    """Score 0, and ``words`` in the feedback of the tests that failed (what the code found)."""
    def check(a: dict[str, Any]) -> None:
        _nothing()(a)
        text = "\n".join(t["feedback"] for t in a["tests"])
        for word in words:
            assert word in text, text[:2000]
    return check


def _stub_with(code: str) -> str:
    """The untouched stub (honest score 0) with ``code`` run at the end of its import."""
    return STUB + "\n" + code + "\n"


# Forging the verdict from the student's code (issue 12): each starts from the stub, so its honest score is 0.
# 01 is judged: the verdict is made in another process, which none of these can reach.
CORPUS |= {
    "forge_the_report_writer": (_stub_with(
        "import grader_child\n_emit = grader_child._emit\n"
        "grader_child._emit = lambda r: _emit({**r, 'outcome': 'passed'} if r.get('kind') == 'phase' else r)"),
        _nothing()),
    "forge_a_pyfunc_call_plugin": (_stub_with(
        "import gc, pytest\nclass _Pass:\n    @pytest.hookimpl(tryfirst=True)\n"
        "    def pytest_pyfunc_call(self, pyfuncitem):\n        return True\n"
        "for found in gc.get_objects():\n    if type(found).__name__ == 'PytestPluginManager':\n"
        "        found.register(_Pass())"), _nothing()),
    "forge_with_a_tracer": (_stub_with(
        "import sys\ndef _skip(frame, event, arg):\n    if frame.f_code.co_name.startswith('test_'):\n"
        "        raise SystemExit\n    return None\nsys.settrace(_skip)"), _nothing()),
    "forge_always_equal_values": (STUB.replace(
        "raise NotImplementedError()", "return _Same()") + "\nclass _Same(list):\n    def __eq__(self, other):\n"
        "        return True\n    __hash__ = object.__hash__\n", _nothing()),
    "forge_the_loop_clock": (_stub_with(
        "import asyncio\nasyncio.BaseEventLoop.time = lambda self: 3.0"), _nothing()),
    "steal_tests_through_an_audit_hook": (_stub_with(
        "import sys\n_seen = []\ndef _hook(event, args):\n    if event == 'compile' and args and 'def test_' in str(args[0]):\n"
        "        _seen.append(str(args[0])[:80])\nsys.addaudithook(_hook)\n"
        "def fetch_sync(label, delay):\n    raise RuntimeError(repr(_seen))"), _nothing_found("in fetch_sync: []")),
    "run_the_solution_found_through_argv": (_stub_with(
        "import os, sys\n_roots = [a for a in sys.argv if os.path.isdir(os.path.join(str(a), 'solutions'))]\n"
        "def fetch_sync(label, delay):\n    raise RuntimeError(repr(_roots))"), _nothing_found("in fetch_sync: []")),
    "steal_tests_from_memory": (_stub_with(
        "import gc, types\n_found = sorted({f.__code__.co_filename for f in gc.get_objects()\n"
        "                  if isinstance(f, types.FunctionType) and f.__name__.startswith('test_')})\n"
        "def fetch_sync(label, delay):\n    raise RuntimeError(repr(_found) or 'nothing')"),
        _nothing_found("in fetch_sync: []")),
}


_NO_SANDBOX = sandbox.unavailable()
# Where the sandbox changes what a case is told, never what it earns unfairly: the reference solution does not
# exist inside, so pytest's import_path fails (ImportError, status "error") before anything opens the file for the
# guard to refuse.
SANDBOXED_CHECKS: dict[str, Check] = {
    "copy_the_solution_through_pytest": _broken("your module could not be imported", "ImportError"),
    # 01 is judged: inside the sandbox the student process's folder holds its module alone, so there is no test
    # file to overwrite (nothing to refuse) or to read (the glob finds nothing).
    "overwrite_tests": _full,
    "read_hidden_tests": _partial("IndexError"),
}


# The same corpus, the same checks, without and inside the OS sandbox: what the guard and the limits report must
# not change when bubblewrap runs around them. Sandboxed, every submission starts a fork server of its own (about
# a second each), so that run is slow; the unsandboxed one takes 20 s too. dev.py check runs both, on every Python
# it finds.
@pytest.fixture(scope="module", params=[
    pytest.param(False, id="unsandboxed", marks=pytest.mark.slow),  # 20 s of grading: dev.py check runs it
    pytest.param(True, id="sandboxed", marks=[pytest.mark.slow, pytest.mark.skipif(
        _NO_SANDBOX is not None, reason=f"no sandbox here: {_NO_SANDBOX}")]),
])
def corpus_results(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case graded in one session, unsandboxed or sandboxed: the GradeResult of each."""
    sandboxed: bool = request.param
    manifest = load_manifest(ROOT).only(["01"])
    results = {}
    FORGED.unlink(missing_ok=True)
    with Session(manifest, course_tests(manifest, None), sandboxed=sandboxed) as session:
        for name, (source, _) in CORPUS.items():
            root = tmp_path_factory.mktemp(name)
            module = root / "assignments" / "01" / "why_async.py"
            module.parent.mkdir(parents=True)
            module.write_bytes(source.encode() if isinstance(source, str) else source)
            results[name] = session.grade(root)
    assert {result.sandboxed for result in results.values()} == {sandboxed}
    return results


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_each_case_earns_what_it_earned(corpus_results: dict[str, Any], case: str) -> None:
    """The case's score, status and message are what its check expects."""
    result = corpus_results[case]
    [assignment] = result.to_dict()["assignments"]
    check = SANDBOXED_CHECKS.get(case, CORPUS[case][1]) if result.sandboxed else CORPUS[case][1]
    check(assignment)
    _consistent(assignment)


def test_no_forged_file_was_written(corpus_results: dict[str, Any]) -> None:
    """The forged result file was refused, not written."""
    assert not FORGED.exists()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_no_hidden_test_text_in_any_format_for_any_case(corpus_results: dict[str, Any], fmt: str) -> None:
    """Across the whole corpus, no output format carries a hidden test's source, name or path."""
    for case, result in corpus_results.items():
        text = render(result, fmt, CLASSROOM50_ENV)
        try:
            assert_no_hidden_test_text(text, fmt)
        except AssertionError as error:
            raise AssertionError(f"{case}: {error}") from None


HANGS_AT_IMPORT = {
    "sleeps": _on_import("import time\ntime.sleep(10 ** 6)"),
    "spins": _on_import("while True:\n    pass"),
}


@pytest.mark.slow
def test_a_module_that_hangs_at_import_costs_one_tests_limit(tmp_path: Path) -> None:
    """A module that sleeps or spins at import is ended by the watchdog (armed before the import), not the budget.

    With 1 s a test the watchdog fires after 2 x 1 s + 1 s: the feedback says
    the import took too long, where without it the process would hold its
    worker for the whole 30 s budget and be reported as stopped at the end of
    it. The other assignment of the same submission earns its full marks.
    """
    course = load_manifest(ROOT).only(["01", "02"])
    strict = replace(course, limits=replace(course.limits, test_timeout=1, assignment_timeout=30))
    with Session(strict, course_tests(strict, None)) as session:
        for name, source in HANGS_AT_IMPORT.items():
            root = tmp_path / name
            module = root / "assignments" / "01" / "why_async.py"
            module.parent.mkdir(parents=True)
            module.write_text(source)
            (root / "assignments" / "02").mkdir()
            (root / "assignments" / "02" / "coroutines.py").write_text(solution_source("02"))
            a01, a02 = session.grade(root).to_dict()["assignments"]
            assert a01["score"] == 0, (name, a01["message"])
            assert "importing your module ran past 3 s of real time" in a01["message"], (name, a01["message"])
            assert "stopped after" not in a01["message"] and "new process" not in a01["message"], a01["message"]
            assert all("importing your module ran past 3 s" in t["feedback"] for t in a01["tests"]), a01["tests"][0]
            assert a02["score"] == 100, (name, a02["message"])
