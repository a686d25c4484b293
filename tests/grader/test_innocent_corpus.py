"""The corpus of innocent submissions: ordinary uses of the standard library never cost a point.

Each case is a reference solution with one ordinary standard-library use
added, run twice over: once when the module is imported and again inside a
function the tests call (the first use inside a test takes another path
through the guard: the checks after each test, not the one after import).
The uses whose first call does lazy work (``strptime`` calls ``time.tzset``,
which rebinds ``time.tzname``) also have a variant that makes the first call
inside a test. Every case must earn full marks with exactly the message the
reference solution gets: no refusal, no accusation of tampering.

All cases are graded in one grading session (one fork server), as
test_hostile_corpus.py does; most use assignment 01, the quickest to grade,
and the HTTP-date cases use 07, where parsing dates is the task.
"""
from __future__ import annotations

import asyncio
import inspect
import io
import sys
import textwrap
import time
import types
from typing import Any

import aiohttp
import aiohttp.client
import aiohttp.client_exceptions
import pytest
from repo_support import ROOT, solution_source

import coursekit.testing
from grader.guard import Baseline
from grader.manifest import load_manifest
from grader.pipeline import Session, course_tests

# Where the innocent call goes in a function the tests call: the start of its solution region.
HOOKS = {
    "01": "    ### BEGIN SOLUTION\n    await asyncio.sleep(delay)\n",  # fetch_async
    "07": "    ### BEGIN SOLUTION\n    if value is None:\n",  # parse_retry_after
}
MODULES = {"01": "why_async.py", "07": "resilience.py"}
# Changing the time zone at import and again inside a test: tzset then rebinds time.tzname and time.timezone
# to other values (POSIX TZ strings, so no tz database is needed).
TZ_NEW_YORK = "EST+05EDT,M3.2.0,M11.1.0"
TZ_PARIS = "CET-1CEST,M3.5.0,M10.5.0/3"

# name -> Python code using the standard library (imports included), run as the body of a plain function.
USES: dict[str, str] = {
    # The time zone and date parsing: strptime calls time.tzset() on first use.
    "datetime_strptime": "import datetime\n"
                         "datetime.datetime.strptime('Wed, 21 Oct 2015 07:28:00 GMT', '%a, %d %b %Y %H:%M:%S GMT')",
    "time_strptime": "import time\ntime.strptime('2015-10-21 07:28', '%Y-%m-%d %H:%M')",
    "time_tzset": "import time\ntime.tzset()",
    "time_tzset_new_zone": f"import os, time\nos.environ['TZ'] = {TZ_NEW_YORK!r}\ntime.tzset()",
    "time_tzset_zone_changes_in_test": "import os, time\n"
                                       f"os.environ['TZ'] = {TZ_PARIS!r} if 'TZ' in os.environ else {TZ_NEW_YORK!r}\n"
                                       "time.tzset()",
    "time_local_and_strftime": "import time\ntime.mktime(time.localtime())\ntime.strftime('%Y-%m-%d %H:%M', "
                               "time.gmtime(0))\ntime.asctime()",
    "datetime_astimezone": "import datetime\ndatetime.datetime.now(datetime.timezone.utc).astimezone().isoformat()\n"
                           "datetime.datetime.fromtimestamp(0).strftime('%c')",
    "email_utils_dates": "import email.utils\nemail.utils.parsedate_to_datetime('Wed, 21 Oct 2015 07:28:00 GMT')\n"
                         "email.utils.formatdate(usegmt=True)\nemail.utils.format_datetime("
                         "email.utils.parsedate_to_datetime('Wed, 21 Oct 2015 07:28:00 GMT'))",
    "calendar": "import calendar\ncalendar.timegm((2015, 10, 21, 7, 28, 0))\ncalendar.month_name[10]\n"
                "calendar.monthrange(2024, 2)",
    # Logging and warnings configuration.
    "logging_basic_config": "import logging\n"
                            "logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')\n"
                            "logging.getLogger('student').info('hello')",
    "logging_dict_config": "import logging.config\nlogging.config.dictConfig({'version': 1, 'handlers': {'h': "
                           "{'class': 'logging.StreamHandler'}}, 'root': {'handlers': ['h'], 'level': 'INFO'}})",
    "logging_add_handler": "import logging\nlogging.getLogger().addHandler(logging.NullHandler())\n"
                           "logging.getLogger('student').setLevel(logging.DEBUG)",
    "logging_capture_warnings": "import logging\nlogging.captureWarnings(True)",
    "warnings_filterwarnings": "import warnings\nwarnings.filterwarnings('ignore', category=ResourceWarning)",
    "warnings_simplefilter": "import warnings\nwarnings.simplefilter('default', UserWarning)",
    "warnings_catch_warnings": "import warnings\nwith warnings.catch_warnings(record=True):\n"
                               "    warnings.simplefilter('always')\n    warnings.warn('quiet', UserWarning)",
    # Everyday modules.
    "random_seed": "import random\nrandom.seed(42)\nrandom.random()\nrandom.shuffle([1, 2, 3])",
    "functools_caches": "import functools\nfunctools.lru_cache(maxsize=32)(lambda n: n * n)(3)\n"
                        "functools.cache(lambda n: n + 1)(3)\nfunctools.partial(int, base=2)('101')",
    "re_compile": "import re\nre.compile(r'(\\w+)@(\\w+)\\.com').match('a@b.com').groups()\n"
                  "re.sub(r'\\s+', ' ', 'a  b')",
    "json_with_default": "import datetime, json\n"
                         "json.loads(json.dumps({'when': datetime.date(2024, 1, 1)}, default=str, sort_keys=True))",
    "decimal_context": "import decimal\ndecimal.getcontext().prec = 10\ndecimal.Decimal(1) / decimal.Decimal(7)\n"
                       "with decimal.localcontext() as context:\n    context.prec = 3\n"
                       "    decimal.Decimal(2).sqrt()",
    "locale_c": "import locale\nlocale.setlocale(locale.LC_ALL, 'C')\nlocale.getlocale()",
    "urllib_parse": "import urllib.parse\nurllib.parse.urlsplit('https://example.com/a?b=1')\n"
                    "urllib.parse.urljoin('https://example.com/a/', 'b')\nurllib.parse.urlencode({'q': 'a b'})\n"
                    "urllib.parse.quote('a b/c')",
    "collections": "import collections\ncollections.Counter('hello').most_common(1)\n"
                   "collections.defaultdict(list)['x'].append(1)\ncollections.deque([1, 2], maxlen=2).append(3)\n"
                   "collections.namedtuple('Point', 'x y')(1, 2)._asdict()",
    "dataclasses": "import dataclasses\n@dataclasses.dataclass(frozen=True, order=True)\nclass Point:\n"
                   "    x: int\n    y: int = 0\ndataclasses.asdict(Point(1))\ndataclasses.replace(Point(1), y=2)",
    "enum": "import enum\nclass Color(enum.Enum):\n    RED = 1\n    GREEN = 2\nColor['RED']\n"
            "enum.IntEnum('Level', 'LOW HIGH').HIGH + 1\nenum.Flag('Perm', 'R W X')",
    "typing": "import typing\nclass Movie(typing.NamedTuple):\n    title: str\n    year: int = 0\n"
              "class Options(typing.TypedDict, total=False):\n    retries: int\n"
              "typing.get_type_hints(Movie)\ntyping.cast(int, '1')",
    "contextlib": "import contextlib, io\nwith contextlib.suppress(KeyError):\n    {}['x']\n"
                  "with contextlib.ExitStack() as stack:\n    stack.callback(print, end='')\n"
                  "with contextlib.redirect_stdout(io.StringIO()):\n    print('hidden')",
    "itertools": "import itertools\nlist(itertools.islice(itertools.count(), 3))\n"
                 "[(k, list(g)) for k, g in itertools.groupby('aabb')]\nlist(itertools.pairwise([1, 2, 3]))\n"
                 "list(itertools.chain.from_iterable([[1], [2]]))",
    "statistics": "import statistics\nstatistics.mean([1, 2, 3])\nstatistics.median([1, 2, 3, 4])\n"
                  "statistics.stdev([1.0, 2.0, 4.0])\nstatistics.quantiles(range(10), n=4)",
    "uuid": "import uuid\nuuid.uuid4().hex\nuuid.uuid5(uuid.NAMESPACE_URL, 'https://example.com')",
    "hashlib": "import hashlib\nhashlib.sha256(b'x').hexdigest()\nhashlib.md5(b'x', usedforsecurity=False).digest()\n"
               "hashlib.blake2b(b'x', digest_size=8).hexdigest()",
    "base64_and_zlib": "import base64, zlib\nbase64.b64decode(base64.b64encode(b'data'))\n"
                       "base64.urlsafe_b64encode(b'\\xff')\nzlib.decompress(zlib.compress(b'x' * 100))\n"
                       "zlib.crc32(b'x')",
    "textwrap_and_template": "import string, textwrap\ntextwrap.dedent('  a\\n  b')\ntextwrap.fill('word ' * 30, 20)\n"
                             "textwrap.shorten('a b c d e f', 5)\nstring.Template('$who').substitute(who='me')",
    "pathlib_and_tempfile": "import pathlib, tempfile\nwith tempfile.TemporaryDirectory() as folder:\n"
                            "    path = pathlib.Path(folder) / 'notes.txt'\n    path.write_text('hi')\n"
                            "    path.read_text()\n    path.rename(path.with_suffix('.md'))\n"
                            "with tempfile.NamedTemporaryFile('w') as f:\n    f.write('x')\n"
                            "fd, name = tempfile.mkstemp()\nimport os\nos.close(fd)\nos.remove(name)",
    "sys_recursion_limit": "import sys\nsys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))\n"
                           "sys.getsizeof([])\nsys.version_info >= (3, 11)",
    "threading": "import threading\nstate = threading.local()\nstate.x = 1\nlock = threading.Lock()\n"
                 "with lock:\n    pass\n"
                 "worker = threading.Thread(target=lambda: None)\nworker.start()\nworker.join()\n"
                 "threading.Event().set()",
    "concurrent_futures": "import concurrent.futures\n"
                          "with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:\n"
                          "    list(pool.map(abs, [-1, -2]))",
    "fractions_heapq_bisect": "import bisect, fractions, heapq\n"
                              "(fractions.Fraction(1, 3) + fractions.Fraction(1, 6)).limit_denominator(10)\n"
                              "heap = []\nheapq.heappush(heap, 2)\nheapq.heappush(heap, 1)\nheapq.heappop(heap)\n"
                              "heapq.nsmallest(1, [3, 1])\nitems = [1, 3]\nbisect.insort(items, 2)\n"
                              "bisect.bisect_left(items, 2)",
    "shlex_and_csv": "import csv, io, shlex\nshlex.split('a \"b c\"')\nshlex.quote('a b')\nbuffer = io.StringIO()\n"
                     "csv.writer(buffer).writerow(['a', 'b,c'])\nlist(csv.reader(io.StringIO(buffer.getvalue())))\n"
                     "list(csv.DictReader(io.StringIO('a,b\\n1,2\\n')))",
    "inspect": "import inspect\ninspect.iscoroutinefunction(inspect.getmembers)\ninspect.signature(print)\n"
               "inspect.isawaitable(1)\ninspect.isclass(int)\ninspect.getdoc(int)",
    "traceback_and_linecache": "import traceback\ntraceback.format_stack()\ntry:\n    1 / 0\n"
                               "except ZeroDivisionError:\n    traceback.format_exc()",
    "copy_pprint_pickle": "import copy, pickle, pprint\ncopy.deepcopy({'a': [1, 2]})\n"
                          "pprint.pformat({'a': list(range(30))})\n"
                          "pickle.loads(pickle.dumps({'a': (1, 2.0)}))",
    "importlib": "import importlib, importlib.metadata\nimportlib.import_module('json').dumps(1)\n"
                 "importlib.metadata.version('aiohttp')",
    "secrets_and_ipaddress": "import ipaddress, secrets\nsecrets.token_hex(8)\n"
                             "ipaddress.ip_address('127.0.0.1').is_loopback\n"
                             "ipaddress.ip_network('10.0.0.0/8').num_addresses",
    "text_formats": "import configparser, html, tomllib, xml.etree.ElementTree as ET\n"
                    "tomllib.loads('a = 1')\nparser = configparser.ConfigParser()\nparser.read_string('[s]\\nk = v')\n"
                    "html.escape('<a>')\nET.fromstring('<a><b/></a>').find('b')",
    "sqlite_in_memory": "import sqlite3\nwith sqlite3.connect(':memory:') as db:\n"
                        "    db.execute('create table t (x)')\n    db.execute('insert into t values (1)')\n"
                        "    db.execute('select x from t').fetchall()",
    "gc_weakref_abc": "import abc, gc, weakref\nclass Base(abc.ABC):\n    @abc.abstractmethod\n    def f(self): ...\n"
                      "class Thing:\n    pass\nthing = Thing()\nweakref.ref(thing)\n"
                      "weakref.WeakValueDictionary()['k'] = thing\n"
                      "gc.collect()",
    "argparse": "import argparse\nparser = argparse.ArgumentParser(prog='tool')\nparser.add_argument('--n', type=int, "
                "default=1)\nparser.parse_args([])",
    "mimetypes": "import mimetypes\nmimetypes.guess_type('page.html')\nmimetypes.guess_extension('application/json')",
}
# Uses that need a running event loop: inside the tested coroutine only.
IN_A_COROUTINE: dict[str, str] = {
    "loop_debug_and_exception_handler": "import asyncio\nloop = asyncio.get_running_loop()\nloop.set_debug(True)\n"
                                        "loop.set_exception_handler(lambda loop, context: None)\n"
                                        "loop.slow_callback_duration = 1.0",
    "current_task_name": "import asyncio\nasyncio.current_task().set_name('mine')\nasyncio.all_tasks()",
}
# Uses whose first call does lazy work (tzset at a first strptime): a variant that first calls them in a test.
FIRST_IN_A_TEST = ("datetime_strptime", "time_strptime", "time_tzset", "email_utils_dates", "mimetypes",
                   "locale_c")

# The reference solution of 07 with an HTTP-date parsed the way a student may parse it: strptime, tried with each
# of the three forms HTTP allows.
PARSEDATE = "        when = parsedate_to_datetime(text)\n"
HTTP_DATE_FORMS = ("%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y")


def _parser(parse: str, imports: str = "") -> str:
    return textwrap.indent(f"""{imports}when = None
for form in {HTTP_DATE_FORMS!r}:
    try:
        when = {parse}
        break
    except ValueError:
        pass
if when is None:  # no form matched: unparsable
    return None
""", " " * 8)


HTTP_DATE_PARSERS = {
    "07_retry_after_with_datetime_strptime": _parser("datetime.strptime(text, form)"),
    "07_retry_after_with_time_strptime": _parser("datetime(*time.strptime(text, form)[:6])", "import time\n"),
}


def _function(code: str) -> str:
    return "def _innocent() -> None:\n" + textwrap.indent(code, "    ") + "\n"


def _with_use(assignment: str, code: str, *, at_import: bool, in_test: bool) -> str:
    """The reference solution with ``code`` run at import and/or at the start of a function the tests call."""
    source = solution_source(assignment)
    hook = HOOKS[assignment]
    assert hook in source, f"solutions/{assignment} changed: update HOOKS"
    if in_test:
        source = source.replace(hook, "    _innocent()\n" + hook, 1)
    return source + "\n\n" + _function(code) + ("\n_innocent()\n" if at_import else "")


def _cases() -> dict[str, tuple[str, str]]:
    """name -> (assignment, module source)."""
    cases = {name: ("01", _with_use("01", code, at_import=True, in_test=True)) for name, code in USES.items()}
    cases |= {name: ("01", _with_use("01", code, at_import=False, in_test=True))
              for name, code in IN_A_COROUTINE.items()}
    cases |= {f"{name}_first_in_a_test": ("01", _with_use("01", USES[name], at_import=False, in_test=True))
              for name in FIRST_IN_A_TEST}
    solution_07 = solution_source("07")
    assert PARSEDATE in solution_07, "solutions/07 changed: update PARSEDATE"
    cases |= {name: ("07", solution_07.replace(PARSEDATE, parser, 1)) for name, parser in HTTP_DATE_PARSERS.items()}
    return cases


CASES = _cases()
# The default run grades these; the rest are marked slow.
REPRESENTATIVE = {"datetime_strptime", "datetime_strptime_first_in_a_test", "time_tzset_zone_changes_in_test",
                  "logging_dict_config", "warnings_catch_warnings", "loop_debug_and_exception_handler",
                  "07_retry_after_with_datetime_strptime"}


def _grade(cases: dict[str, tuple[str, str]], tmp: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every case graded in one session: the result of its one assignment, as a dict.

    The plain reference solution of each assignment is graded too, under
    ``reference NN``: a case must read exactly as it does.
    """
    ids = sorted({assignment for assignment, _ in cases.values()})
    manifest = load_manifest(ROOT).only(ids)
    results = {}
    references = {f"reference {a}": (a, solution_source(a)) for a in ids}
    with Session(manifest, course_tests(manifest, None)) as session:
        for name, (assignment, source) in (references | cases).items():
            root = tmp.mktemp(name.replace(" ", "_"))
            module = root / "assignments" / assignment / MODULES[assignment]
            module.parent.mkdir(parents=True)
            module.write_text(source, encoding="utf-8")
            graded = session.grade(root).to_dict()["assignments"]
            [results[name]] = [a for a in graded if a["id"] == assignment]
    return results


@pytest.fixture(scope="module")
def representative_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The representative cases, graded in one session."""
    return _grade({name: CASES[name] for name in sorted(REPRESENTATIVE)}, tmp_path_factory)


@pytest.fixture(scope="module")
def other_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every other case, graded in one session."""
    return _grade({name: case for name, case in CASES.items() if name not in REPRESENTATIVE}, tmp_path_factory)


def _assert_graded_like_the_reference(results: dict[str, dict[str, Any]], case: str) -> None:
    result = results[case]
    reference = results[f"reference {CASES[case][0]}"]
    assert reference["score"] == reference["max_score"] == 100, reference["message"]
    failed = [t["feedback"] for t in result["tests"] if t["outcome"] != "passed"]
    assert not failed, failed
    assert result["score"] == 100 and result["status"] == reference["status"], result["message"]
    assert result["message"] == reference["message"], result["message"]  # no refusal, no accusation


@pytest.mark.parametrize("case", sorted(REPRESENTATIVE))
def test_representative_case_earns_full_marks(representative_results: dict[str, dict[str, Any]], case: str) -> None:
    """An ordinary standard-library use costs nothing and adds nothing to the message."""
    _assert_graded_like_the_reference(representative_results, case)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(set(CASES) - REPRESENTATIVE))
def test_every_other_case_earns_full_marks(other_results: dict[str, dict[str, Any]], case: str) -> None:
    """An ordinary standard-library use costs nothing and adds nothing to the message."""
    _assert_graded_like_the_reference(other_results, case)


# --- the baseline itself, in this process: what it lets pass and what it still catches ------------------------------


class _EqualsAnything:
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


class _Str(str):
    pass


async def _instant(delay: float, result: Any = None) -> Any:
    return result


STANDARD_LIBRARY_WORK = {
    # tzset rebinds time.tzname (to an equal tuple when TZ is unchanged, as at _strptime's first use) and, with
    # another TZ, the zone to other values: documented process state that no test reads.
    "new_time_zone": (time, "tzname", lambda: ("EST", "EDT")),
    "new_time_offset": (time, "timezone", lambda: 18000),
    "equal_string": (asyncio, "FIRST_COMPLETED", lambda: "".join(list(asyncio.FIRST_COMPLETED))),
    "equal_float": (asyncio.constants, "SSL_HANDSHAKE_TIMEOUT",
                    lambda: float(str(asyncio.constants.SSL_HANDSHAKE_TIMEOUT))),
    "equal_tuple_of_classes": (aiohttp.client_exceptions, "cert_errors",
                               lambda: tuple(list(aiohttp.client_exceptions.cert_errors))),
    "equal_frozenset": (aiohttp.client, "IDEMPOTENT_METHODS",
                        lambda: frozenset(list(aiohttp.client.IDEMPOTENT_METHODS))),
}
REPLACEMENTS = {
    "asyncio_sleep": (asyncio, "sleep", lambda: _instant),
    "time_monotonic": (time, "monotonic", lambda: lambda: 0.0),
    "a_method": (aiohttp.ClientSession, "get", lambda: lambda *args, **kwargs: None),
    "a_class": (aiohttp, "ClientSession", lambda: type("ClientSession", (), {})),
    "a_submodule": (asyncio, "tasks", lambda: types.ModuleType("asyncio.tasks")),
    "a_number_code_reads": (inspect, "CO_COROUTINE", lambda: inspect.CO_OPTIMIZED),  # every function a coroutine one
    "the_course_own_helper": (coursekit.testing, "within", lambda: lambda *args, **kwargs: None),
    "equal_but_another_type": (asyncio, "FIRST_COMPLETED", lambda: _Str(asyncio.FIRST_COMPLETED)),
    "bool_for_int": (io, "SEEK_SET", lambda: False),
    "a_tuple_with_an_impostor": (aiohttp.client_exceptions, "cert_errors", lambda: (_EqualsAnything(),)),
    "a_frozenset_with_an_impostor": (aiohttp.client, "IDEMPOTENT_METHODS",
                                     lambda: frozenset([*aiohttp.client.IDEMPOTENT_METHODS, _EqualsAnything()])),
    "a_frozenset_with_more": (aiohttp.client, "IDEMPOTENT_METHODS",
                              lambda: aiohttp.client.IDEMPOTENT_METHODS | {"POST"}),
    "removed": (asyncio, "gather", None),
}


# Patches of their own (pytest.MonkeyPatch.context), not the monkeypatch fixture: undoing that one would also undo
# what the course's pytest plugin patched for this test (time.sleep), which the baseline then reports.


def test_baseline_lets_the_standard_library_rebind_its_own_data() -> None:
    """Equal plain data in a new object, the time zone tzset recomputes, and additions are no replacement."""
    baseline = Baseline()  # one for every case: taking one costs a fraction of a second in this process
    with pytest.MonkeyPatch.context() as patch:
        for owner, name, value in STANDARD_LIBRARY_WORK.values():
            patch.setattr(owner, name, value())
        patch.setattr(asyncio, "a_cache_it_fills", {}, raising=False)
        # A submodule imported later: the import system sets it on its package and in sys.modules.
        submodule = types.ModuleType("asyncio.imported_later")
        patch.setitem(sys.modules, "asyncio.imported_later", submodule)
        patch.setattr(asyncio, "imported_later", submodule, raising=False)
        changed = baseline.replaced()
    assert changed == []


def test_baseline_still_catches_replacement() -> None:
    """A function, method, class, module or value swapped for another object (or removed) is named, each alone."""
    baseline = Baseline()
    missed = []
    for case, (owner, name, value) in REPLACEMENTS.items():
        with pytest.MonkeyPatch.context() as patch:
            if value is None:
                patch.delattr(owner, name)
            else:
                patch.setattr(owner, name, value())
            changed = baseline.replaced()
        if not any(entry.endswith(f".{name}") for entry in changed):
            missed.append(f"{case}: {changed}")
    assert baseline.replaced() == []
    assert not missed, missed


def test_baseline_catches_a_replaced_module_in_sys_modules() -> None:
    """A watched module swapped in sys.modules is named as a whole."""
    baseline = Baseline()
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "asyncio.tasks", types.ModuleType("asyncio.tasks"))
        changed = baseline.replaced()
    assert "asyncio.tasks (the whole module)" in changed


def test_the_check_after_each_call_compares_in_c_and_cannot_be_blinded_through_builtins() -> None:
    """The hot check (after every scenario) still names a replacement when all() and map() lie too."""
    import builtins

    baseline = Baseline()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(builtins, "all", lambda _items: True)
        patch.setattr(builtins, "map", lambda *_args: iter(()))
        patch.setattr(asyncio, "sleep", lambda *_args, **_kwargs: None)
        changed = baseline.replaced(full=False)
    assert "builtins.all" in changed and "builtins.map" in changed and "asyncio.sleep" in changed, changed
    with pytest.MonkeyPatch.context() as patch:
        owner, name, value = STANDARD_LIBRARY_WORK[next(iter(STANDARD_LIBRARY_WORK))]
        patch.setattr(owner, name, value())
        assert baseline.replaced(full=False) == []
