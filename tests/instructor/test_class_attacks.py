"""A class in which one student attacks the others, graded as the grade of record: ``python -m grader batch``.

Issue 11 measured, before the OS sandbox, that code in one submission could
reach its classmates. Here a class of assignment-01 submissions is graded by
the real command line with its default sandbox (``required``), and one
student, eve, tries every cross-student harm the issue lists. Her module is
the stub plus an attack that hides nothing. At import, from a thread-pool
thread (the guard trusts a stack of nothing but the standard library, so it
lets the start through), she starts a fresh interpreter, which has no guard,
so only the operating system can stop what it does:

(a) find the batch process in ``/proc``, read its command line, copy a
    classmate's staged or submitted module and submit it as her own;
(b) read the batch's environment (``ROSTER_TOKEN``) and put it in her output
    and her failure messages;
(c) start a ``setsid`` double-forked daemon that waits for the batch to end
    and then rewrites ``students/*.json``, ``summary.json`` and
    ``grades.csv`` (a classmate to 0, herself to full marks), sealed with the
    results key if it could read that key;
(d) append to the session runtime's ``pytest.ini`` (found from
    ``coursekit.__file__``);
(e) rewrite the catalog cache (``<course>/.grader-cache/catalog-*.json``);
(f) send SIGKILL through ``os.pidfd_open`` and ``signal.pidfd_send_signal``
    (which raise no audit event) to every process it can see but its own
    ancestors; while the batch is visible, only to the batch's children, so
    a run without the sandbox never reaches another process of the machine.
    The daemon repeats this for as long as the batch runs.

The attack puts what it managed (its "attack report") in her failure
messages, so the test knows it ran and was not merely broken. The checks
read only what the batch leaves behind: the result files, the dashboard,
standard output and error, and the course copy's catalog cache.
``Attack.harms`` names each harm that got through. Graded with
``--no-sandbox`` (``attacked_class(..., "--no-sandbox")``, by hand), every
one of them does, each on its own (``attacks="a"`` ...) and all together.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from repo_support import ROOT, run_grader, solution_source, write_module

from grader import sandbox

pytestmark = pytest.mark.skipif(sandbox.unavailable() is not None, reason=str(sandbox.unavailable()))

SOLUTION = solution_source("01")
STUB = (ROOT / "assignments" / "01" / "why_async.py").read_text(encoding="utf-8")
ATTACKER = "eve"  # first in name order: with one worker, every classmate is graded after her attack has run
VICTIM = "grace"  # the classmate whose grade her daemon forges to 0 (she copies whichever solution she finds)
ALL_HARMS = "abcdef"  # the harms of the module docstring
DAEMON_WAIT = 120.0  # seconds to wait for the daemon to be gone: a bound on a hang, never a measurement
# Every process of the attack carries this in its command line (in the JSON of _given), so the test can tell
# whether any of them is still alive, wherever it runs: the host's /proc lists the sandboxes' processes too.
MARKER = f"class-attack-{secrets.token_hex(8)}"

# Run unguarded in a fresh interpreter: argv[1] is what eve's module knows (the JSON of _given()).
HELPER = r'''
import errno, glob, hashlib, hmac, json, os, signal, sys, time

given = json.loads(sys.argv[1])
attacks = given["attacks"]  # the letters of the harms to try (all of them, but for a demonstration of one)
report = {}


def read(path):
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError:
        return None


def pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def cmdline(pid):
    data = read(f"/proc/{pid}/cmdline")
    return data.decode(errors="replace").split("\0") if data else []


def stat(pid):
    data = read(f"/proc/{pid}/stat")
    return data.rsplit(b")", 1)[1].split() if data else None


def parent(pid):
    fields = stat(pid)
    return int(fields[1]) if fields else None


def started(pid):
    fields = stat(pid)
    return fields[19].decode() if fields else None


def chain(pid):
    """The pid and its ancestors."""
    seen = []
    while pid and pid not in seen:
        seen.append(pid)
        pid = parent(pid)
    return seen


def errname(error):
    return errno.errorcode.get(error.errno, str(error.errno))


# (a) The batch process (the one grading the results folder eve was told of, never another batch this machine
# runs) and its command line: the results folder, the submissions, the course.
batch = next((p for p in pids() if p != os.getpid() and {"grader", "batch", given["out"]} <= set(cmdline(p))), None)
out, course, key_path, submissions = given["out"], given["course"], given["key"], None
if batch is not None:
    args = cmdline(batch)
    course = os.readlink(f"/proc/{batch}/cwd")
    rest = iter(args[args.index("batch") + 1:])
    for arg in rest:
        if arg == "--out":
            out = os.path.join(course, next(rest))
        elif arg in ("--workers", "--tests", "--assignment", "--key", "--student-budget", "--sandbox"):
            next(rest)
        elif not arg.startswith("-") and submissions is None:
            submissions = os.path.join(course, arg)
report["batch"] = batch is not None

# (b) Every environment it can read, the batch's first: the roster token, and where the results key is.
environment = {}
for pid in ([batch] if batch else []) + pids():
    data = read(f"/proc/{pid}/environ") or b""
    env = dict(item.split("=", 1) for item in data.decode(errors="replace").split("\0") if "=" in item)
    if "ROSTER_TOKEN" in env:
        environment = env
        break
report["token"] = environment.get("ROSTER_TOKEN") if "b" in attacks else None
key_path = environment.get("GRADER_KEY_FILE", key_path)
key = read(key_path) if key_path else None
report["key"] = key is not None


def seal(purpose, body):
    text = json.dumps([purpose, body], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


# (a) A classmate's module, staged (through another process's working folder, or the stage folders in /tmp)
# or as submitted: the first that is a solution rather than a stub.
source = report["copied"] = None
if "a" in attacks:
    mine = os.path.realpath(os.getcwd())
    candidates = glob.glob("/proc/*/cwd/why_async.py") + glob.glob("/tmp/grader-*/01/why_async.py")
    if submissions:
        candidates += glob.glob(os.path.join(submissions, "*", "assignments", "01", "why_async.py"))
    for path in candidates:
        real = os.path.realpath(path)
        if real.startswith(mine + os.sep) or f"/{given['me']}/" in real:
            continue
        text = (read(path) or b"").decode(errors="replace")
        if "async def fetch_async" in text and "NotImplementedError" not in text:
            source, report["copied"] = text, "submitted" if "/assignments/" in real else "staged"
            break

# (d) The shared runtime's pytest.ini: every later run in the session would select no test.
if "d" in attacks:
    try:
        with open(given["runtime_ini"], "a") as file:
            file.write("\naddopts = -k nothing_matches_this\n")
        report["ini"] = "appended"
    except OSError as error:
        report["ini"] = errname(error)

# (e) The catalog cache: every test worth 1 point, resealed if the key could be read; and a file of its own.
if "e" in attacks:
    rewritten = 0
    for path in glob.glob(os.path.join(course, ".grader-cache", "catalog-*.json")):
        try:
            data = json.loads(read(path))
            for entries in data["catalog"].values():
                for entry in entries:
                    entry["points"] = 1
            if key:
                data["seal"] = seal("catalog-cache", {k: v for k, v in data.items() if k != "seal"})
            with open(path, "w") as file:
                json.dump(data, file)
            rewritten += 1
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
    try:
        with open(os.path.join(course, ".grader-cache", "catalog-forged.json"), "w") as file:
            file.write("{}")
        report["cache"] = f"rewrote {rewritten}, wrote a new one"
    except OSError as error:
        report["cache"] = f"rewrote {rewritten}, {errname(error)}"


# (f) SIGKILL through pidfds to every process in sight but its own line of ancestors (its own grading). While the
# batch is visible, only the batch's children, never another process of this machine; where neither the batch
# nor the process that started it is visible, this is a PID namespace of its own, and all in it is a target.
def targets(spared):
    if batch is not None:
        return [p for p in pids() if p not in spared and batch in chain(p)[1:]]
    if started(given["test_pid"]) == given["test_started"]:
        return []
    return [p for p in pids() if p not in spared]


def kill(pids):
    done = 0
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
            try:
                # pidfd_open counts in this process's PID namespace, /proc in its own: where they differ (a /proc
                # of an outer namespace), the same number is another process, maybe this very one. The pidfd's
                # fdinfo says whom it holds, in /proc's numbering: kill only the process that was aimed at.
                with open(f"/proc/self/fdinfo/{fd}") as info:
                    held = next((line.split()[1] for line in info if line.startswith("Pid:")), None)
                if held == str(pid):
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
                    done += 1
            finally:
                os.close(fd)
        except OSError:
            pass
    return done


def me():
    """This process's pid as /proc numbers it (its own namespace's os.getpid() may differ)."""
    try:
        return int(os.readlink("/proc/self"))
    except (OSError, ValueError):
        return os.getpid()


lineage = set(chain(me()))
report["seen"] = len(pids())
if "f" in attacks:
    report["killed"] = kill(targets(lineage))


# (c) The daemon: it outlives this run, keeps killing the batch's other children for as long as the batch runs
# (f), then gives the attacker full marks and the victim 0 in every file, resealed if the key could be read.
def forge():
    students = os.path.join(out, "students")
    for who, full in ((given["me"], True), (given["victim"], False)):
        path = os.path.join(students, f"{who}.json")
        try:
            record = json.loads(read(path))
            result = record["result"]
            for assignment in result["assignments"]:
                for test in assignment["tests"]:
                    test["outcome"], test["score"] = ("passed", test["max_score"]) if full else ("failed", 0.0)
                assignment["score"] = assignment["max_score"] if full else 0.0
                assignment["status"], assignment["flags"] = "graded", []
            result["score"] = result["max_score"] if full else 0.0
            record["status"], record["message"] = "graded", ""
            if key:
                record["seal"] = seal("batch-student-record", {k: v for k, v in record.items() if k != "seal"})
            with open(path, "w") as file:
                json.dump(record, file, indent=2)
        except (OSError, ValueError, KeyError, TypeError):
            pass
    try:
        summary = json.loads(read(os.path.join(out, "summary.json")))
        for line in summary["students"]:
            if line["student"] in (given["me"], given["victim"]):
                full = line["student"] == given["me"]
                line["score"] = line["max_score"] if full else 0.0
                line["assignments"] = {k: (100.0 if full else 0.0) for k in line["assignments"]}
        with open(os.path.join(out, "summary.json"), "w") as file:
            json.dump(summary, file, indent=2)
        lines = read(os.path.join(out, "grades.csv")).decode().splitlines()
        for number, line in enumerate(lines):
            cells = line.split(",")
            if cells[0] in (given["me"], given["victim"]):
                value = "100" if cells[0] == given["me"] else "0"
                lines[number] = ",".join([cells[0], *(value for _ in cells[1:-1]), "graded"])
        with open(os.path.join(out, "grades.csv"), "w") as file:
            file.write("\n".join(lines) + "\n")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass


def daemon():
    deadline = time.monotonic() + 600
    if batch is not None:
        born = started(batch)
        while time.monotonic() < deadline and started(batch) == born:
            if "f" in attacks:
                kill(targets(lineage | {me()}))
            time.sleep(0.05)
        if "c" in attacks:
            forge()
        return
    while "c" in attacks and time.monotonic() < deadline:  # no batch in sight: forge where it was told, repeatedly
        forge()
        time.sleep(0.2)


report["daemon"] = None
if "c" in attacks or "f" in attacks:
    ready, tell = os.pipe()
    child = os.fork()
    if child == 0:
        os.setsid()
        if os.fork() == 0:
            os.close(ready)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.write(tell, str(os.getpid()).encode())
            os.close(tell)
            try:
                daemon()
            finally:
                os._exit(0)
        os._exit(0)
    os.close(tell)
    os.waitpid(child, 0)
    report["daemon"] = os.read(ready, 32).decode() or None
print(json.dumps({"report": report, "source": source}))
'''

ATTACK = '''

# --- eve's attack on her classmates (tests/instructor/test_class_attacks.py says what each part tries) -----
import json as _json
import os as _os
import subprocess as _subprocess
import sys as _sys
from concurrent.futures import ThreadPoolExecutor as _Pool

import coursekit as _coursekit

_GIVEN = _json.loads({given!r})
_GIVEN["runtime_ini"] = _os.path.join(_os.path.dirname(_os.path.dirname(_coursekit.__file__)), "pytest.ini")
_HELPER = {helper!r}
try:
    with _Pool(1) as _pool:  # a thread-pool thread: only the standard library is on the stack the guard checks
        _done = _pool.submit(_subprocess.run, [_sys.executable, "-I", "-c", _HELPER, _json.dumps(_GIVEN)],
                             capture_output=True, text=True, timeout=60).result()
    _found = _json.loads(_done.stdout.strip().splitlines()[-1])
except Exception as _error:  # the report says why, so a failed attack is never mistaken for a stopped one
    _found = {{"report": {{"failed": f"{{type(_error).__name__}}: {{_error}}"[:300]}}, "source": None}}
_REPORT = "attack report " + _json.dumps(_found["report"], sort_keys=True, separators=(",", ":"))
print(_REPORT)
print(_REPORT, file=_sys.stderr)
if _found["source"]:
    exec(_found["source"], globals())  # (a) a classmate's work, as her own


def fetch_sync(label: str, delay: float) -> str:
    raise RuntimeError(_REPORT)  # (b) whatever was stolen, in the failure message
'''


def _given(out: Path, course: Path, key: Path, attacks: str) -> dict[str, Any]:
    """What eve's module is told: where things are (an attacker may guess paths), who she and her victim are, and
    how to recognise the machine's own PID namespace (so the attack never signals a process outside the batch)."""
    stat = (Path("/proc") / str(os.getpid()) / "stat").read_bytes().rsplit(b")", 1)[1].split()
    return {"out": str(out), "course": str(course), "key": str(key), "me": ATTACKER, "victim": VICTIM,
            "attacks": attacks, "marker": MARKER, "test_pid": os.getpid(), "test_started": stat[19].decode()}


def attacker_source(out: Path, course: Path, key: Path, attacks: str = ALL_HARMS) -> str:
    """The stub of 01 with the attack appended: every harm, or only those of ``attacks`` (letters of ALL_HARMS)."""
    return STUB + ATTACK.format(given=json.dumps(_given(out, course, key, attacks)), helper=HELPER)


def course_copy(folder: Path) -> Path:
    """The course's manifest, packaging, assignments and hidden tests: a catalog cache of its own, which the
    attack may rewrite without touching the repository's."""
    folder.mkdir()
    for name in ("course.toml", "pyproject.toml"):
        shutil.copyfile(ROOT / name, folder / name)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "assignments", folder / "assignments", ignore=ignore)
    for hidden in (ROOT / "tests").glob("[0-9][0-9]"):
        shutil.copytree(hidden, folder / "tests" / hidden.name, ignore=ignore)
    return folder


@dataclass(frozen=True)
class Graded:
    """What one batch left: its exit status, its streams, and the bytes of every file in its results folder."""

    returncode: int
    stdout: str
    stderr: str
    files: dict[str, bytes]

    def record(self, student: str) -> dict[str, Any]:
        """The student's file, parsed."""
        parsed: dict[str, Any] = json.loads(self.files[f"students/{student}.json"])
        return parsed


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def batch(submissions: Path, out: Path, course: Path, env: dict[str, str], *options: str) -> Graded:
    """``python -m grader batch SUBMISSIONS --out OUT --assignment 01 OPTIONS`` in the course copy, with the
    command's own default sandbox (required) unless ``options`` say otherwise."""
    done = run_grader("batch", str(submissions), "--out", str(out), "--assignment", "01", *options, cwd=course,
                      env=env, sandbox=None)
    return Graded(done.returncode, done.stdout, done.stderr, _files(out) if out.is_dir() else {})


def _attack_processes() -> list[int]:
    """Pids of every process of the attack still alive (wherever it runs, the host's /proc lists it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if MARKER.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def wait_for_the_daemon() -> list[int]:
    """Wait until no process of the attack is left (or DAEMON_WAIT passed); the pids still alive then."""
    deadline = time.monotonic() + DAEMON_WAIT
    while (alive := _attack_processes()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def end_the_attack() -> None:
    """Kill whatever process of the attack outlived the wait, so no test leaves one behind."""
    for pid in _attack_processes():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def outcome(record: dict[str, Any]) -> dict[str, Any]:
    """What a student earned: the record's status and score, and per assignment its score, status, flags and
    every test's outcome and points (not the timings, dates and seals that differ between two runs)."""
    result = record["result"]
    return {"status": record["status"], "score": result["score"], "assignments": [
        {"id": a["id"], "score": a["score"], "status": a["status"], "flags": a.get("flags", []),
         "tests": sorted((t["name"], t["outcome"], t["score"]) for t in a["tests"])}
        for a in result["assignments"]]}


def _feedback(record: dict[str, Any]) -> str:
    return "\n".join([a["message"] for a in record["result"]["assignments"]]
                     + [t["feedback"] for a in record["result"]["assignments"] for t in a["tests"]])


def attack_report(record: dict[str, Any]) -> dict[str, Any] | None:
    """What the attack says it managed, from the attacker's failure messages; None if it never reported."""
    found = re.search(r"attack report (\{.*?\})(?:\s|$|\")", _feedback(record))
    if found is None:
        return None
    parsed: dict[str, Any] = json.loads(found.group(1))
    return parsed


@dataclass(frozen=True)
class Attack:
    """What a class with eve in it left behind, and what the checks compare it with."""

    attacked: Graded  # the batch with eve, as it ended
    settled: dict[str, bytes]  # its results folder once no process of the attack was left
    survivors: list[int]  # processes of the attack still alive after DAEMON_WAIT
    again: Graded  # a second plain batch of the same class into the same folder
    site: dict[str, bytes]  # the dashboard built from the results
    cache_before: dict[str, bytes]  # the course's catalog cache before the batch with eve
    cache_after: dict[str, bytes]  # and after the second batch
    secret: str  # ROSTER_TOKEN in the environment of every batch

    def report(self) -> dict[str, Any] | None:
        """What eve's attack says it managed (None: it never reported)."""
        return attack_report(self.attacked.record(ATTACKER))

    def harms(self, true: dict[str, dict[str, Any]], honest: float) -> list[str]:
        """Every harm that got through, in words; empty when the grade of record held.

        ``true``: each classmate's ``outcome`` graded without eve; ``honest``: what eve's module earns without
        its attack.
        """
        found = []
        for name, expected in true.items():
            if outcome(self.attacked.record(name)) != expected:
                found.append(f"{name}'s result changed: {outcome(self.attacked.record(name))} instead of {expected}")
        if self.attacked.record(ATTACKER)["result"]["score"] > honest:
            found.append(f"{ATTACKER} scored {self.attacked.record(ATTACKER)['result']['score']}, more than her "
                         f"honest {honest:g}")
        outputs = [("stdout", self.attacked.stdout), ("stderr", self.attacked.stderr),
                   ("stderr of the second run", self.again.stderr)]
        outputs += [(f"results/{name}", data.decode(errors="replace"))
                    for name, data in [*self.attacked.files.items(), *self.settled.items(), *self.again.files.items()]]
        outputs += [(f"dashboard/{name}", data.decode(errors="replace")) for name, data in self.site.items()]
        found += sorted({f"the roster token is in {where}" for where, text in outputs if self.secret in text})
        changed = sorted(name for name in set(self.attacked.files) | set(self.settled)
                         if self.attacked.files.get(name) != self.settled.get(name))
        if changed:
            found.append(f"rewritten after the batch ended: {', '.join(changed)}")
        scores = {**{name: expected["score"] for name, expected in true.items()}, ATTACKER: honest}
        rows = dict(line.split(",", 1) for line in self.again.files["grades.csv"].decode().splitlines()[1:])
        for name, score in scores.items():
            if self.again.record(name)["result"]["score"] != score:
                found.append(f"after a second plain run {name} has {self.again.record(name)['result']['score']}, "
                             f"not {score:g}")
            if rows.get(name) != f"{score:g},{score:g},graded,,,":  # started, graded, nothing held
                found.append(f"after a second plain run grades.csv says {name},{rows.get(name)}")
        if self.cache_before != self.cache_after:
            found.append(f"the catalog cache changed ({', '.join(sorted(self.cache_after))})")
        return found


def _cache(course: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (course / ".grader-cache").glob("*")}


@contextlib.contextmanager
def attacked_class(tmp_path: Path, course: Path, classmates: dict[str, str], *options: str,
                   attacks: str = ALL_HARMS) -> Iterator[Attack]:
    """Grade ``classmates`` (name: module source) with eve among them in ``course``, wait until no process of her
    attack is left, grade the class again and build the dashboard; ``options`` go to every batch, which runs with
    ROSTER_TOKEN and a results key of its own. Yields what was seen; ends whatever is left of the attack after."""
    key = tmp_path / "key" / "results.key"
    secret = f"ghp_{secrets.token_hex(20)}"
    env = {"ROSTER_TOKEN": secret, "GRADER_KEY_FILE": str(key)}
    submissions, out = tmp_path / "class", tmp_path / "results"
    for name, source in classmates.items():
        write_module(submissions / name, source)
    write_module(submissions / ATTACKER, attacker_source(out, course, key, attacks))
    try:
        cache_before = _cache(course)
        attacked = batch(submissions, out, course, env, *options)
        assert attacked.returncode == 0, attacked.stderr
        survivors = wait_for_the_daemon()
        settled = _files(out)
        again = batch(submissions, out, course, env, *options)
        assert again.returncode == 0, again.stderr
        site = tmp_path / "site"
        shown = run_grader("dashboard", str(out), "--out", str(site), cwd=course, env=env)
        assert shown.returncode == 0, shown.stderr
        yield Attack(attacked, settled, survivors, again, _files(site), cache_before, _cache(course), secret)
    finally:
        end_the_attack()


def grade_alone(tmp_path: Path, course: Path, classmates: dict[str, str], *options: str) -> dict[str, dict[str, Any]]:
    """Each classmate's ``outcome`` in a batch without eve, in the same course copy."""
    for name, source in classmates.items():
        write_module(tmp_path / "alone" / name, source)
    env = {"GRADER_KEY_FILE": str(tmp_path / "key" / "results.key")}
    alone = batch(tmp_path / "alone", tmp_path / "alone-results", course, env, *options)
    assert alone.returncode == 0, alone.stderr
    return {name: outcome(alone.record(name)) for name in classmates}


def assert_stopped(attack: Attack) -> None:
    """The attack ran (it reported) and took nothing: no batch, token, classmate, key, runtime or cache in reach;
    its daemon was started, and no process of it outlived the batch."""
    report = attack.report()
    assert report is not None and "failed" not in report, (report, _feedback(attack.attacked.record(ATTACKER)))
    assert report["batch"] is False and report["token"] is None and report["copied"] is None, report
    assert report["key"] is False and report["ini"] != "appended" and "wrote a new one" not in report["cache"], report
    assert report["daemon"] is not None, report  # started; whatever it kills is in its own sandbox
    assert attack.survivors == [], "a process of the attack outlived the batch"


def assert_kept(attack: Attack) -> None:
    """The second plain run trusted every record the first wrote (all skipped as unchanged) and rewrote none."""
    progress = [line for line in attack.again.stderr.splitlines() if line.startswith("[")]
    assert progress and all(line.endswith("(unchanged, skipped)") for line in progress), attack.again.stderr
    students = {name: data for name, data in attack.attacked.files.items() if name.startswith("students/")}
    assert {name: data for name, data in attack.again.files.items() if name.startswith("students/")} == students


@pytest.mark.slow  # several seconds: dev.py check runs it
def test_a_classmate_attacking_from_inside_the_sandbox_changes_nothing(tmp_path: Path) -> None:
    """eve and one classmate graded after her: her attack runs (her failure messages carry its report) and gets
    nothing. The classmate gets exactly what she gets without eve, eve no more than her stub earns, the token is
    nowhere, the daemon is gone when the batch ends, and a second plain run keeps every record at the true score."""
    classmates = {VICTIM: SOLUTION}
    course = course_copy(tmp_path / "course")
    true = grade_alone(tmp_path, course, classmates, "--workers", "1")
    assert true[VICTIM]["score"] == 100.0  # the reference solution, as `grader check` has it
    # One worker: grace is graded after eve's attack, in the same session, while her daemon runs.
    with attacked_class(tmp_path, course, classmates, "--workers", "1") as attack:
        assert_stopped(attack)
        assert attack.harms(true, honest=0.0) == []  # the stub earns 0, as `grader check` has it
        assert_kept(attack)


@pytest.mark.slow
def test_every_classmate_earns_what_they_earn_without_the_attacker(tmp_path: Path) -> None:
    """Three classmates, two workers (two reference solutions and a stub; one graded beside eve, two after her,
    in the same session): each gets exactly the result, test by test, they get in a batch without eve, and eve
    gets no more than the stub her module is (what heidi's earns)."""
    classmates = {VICTIM: f"{SOLUTION}\n# {VICTIM}'s work\n", "heidi": f"{STUB}\n# heidi's work\n",
                  "ivan": f"{SOLUTION}\n# ivan's work\n"}  # each file distinct: none reuses another's result
    course = course_copy(tmp_path / "course")
    true = grade_alone(tmp_path, course, classmates, "--workers", "2")
    with attacked_class(tmp_path, course, classmates, "--workers", "2") as attack:
        assert_stopped(attack)
        assert attack.harms(true, honest=true["heidi"]["score"]) == []
        assert_kept(attack)
