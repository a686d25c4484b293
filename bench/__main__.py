"""``python -m bench [--runs N] [--students N] [--workers N] [--quick] [--json FILE]``: grading performance.

Run from the course root. Every command is timed in wall seconds and CPU
seconds (user + system of the command and every process it started, the
sandbox's included: ``bench/timing.py``), and its exit status is kept.
Measures, in one run, side by side:

1. ``startup``: interpreter start and the imports every test process pays
   (median of at least 3).
2. The whole course (reference solutions, 9 assignments), five ways, taking
   turns ``--runs`` times, so a noisy machine slows each alike; median wall
   and median CPU of each:

   - ``full_submission``: ``python -m grader grade --submission solutions
     --format json`` (after one warm-up run, so the catalog cache is warm),
     sandboxed (``--sandbox required``, where bubblewrap runs) and not
     (``--sandbox off``), and the naive way, ``python -m pytest tests/NN
     assignments/NN --against solutions -q -p no:randomly`` once per
     assignment, one after another;
   - ``one_process``: the same tests in ONE plain pytest process, ``python -m
     pytest tests/01 ... tests/09 assignments/01 ... assignments/09 --against
     solutions -q -p no:randomly``: no isolation at all, the floor (the
     suites' file names are distinct and none has a conftest or package, so
     the default import mode collects them together);
   - ``bare_starts``: nine interpreter starts, one after another, each
     importing pytest, pytest_asyncio, aiohttp, aioresponses and looptime:
     what one process per assignment pays before any test.

3. ``per_test_process``: one pytest process per test, the style of GitHub
   Classroom's old per-test-step graders: the node ids of assignment 01
   (hidden + public, ``--against solutions``), ``python -m pytest NODEID
   --against solutions -q -p no:randomly`` once each (with ``--quick`` only the
   first 10), summed, and the per-test mean times the course's test count
   (from ``one_process``'s collection): the course graded that way.
4. ``one_assignment``: the grader on a submission of assignment 01 alone,
   sandboxed and not, taking turns.
5. ``virtual_time``: hidden + public suites against the solutions, one pytest
   process per assignment with ``-p bench.looptime_probe`` (see that module
   for the method): loop seconds simulated per wall second in the scenario
   calls on the virtual clock, and the wall seconds of synchronous ones.
6. ``student_loop``: ``python -m pytest assignments/NN -q -p no:randomly``
   against the stub and with ``--against solutions``, per assignment, taking
   turns, median wall and CPU.
7. ``class_scale``: ``grader.instructor.batch.run_batch`` on ``--students`` synthetic
   submissions (``bench/class_scale.py``) with ``--workers`` workers, in a
   process of its own. The headline is every file run (``--no-reuse``: 200
   different submissions by default), sandboxed where bubblewrap runs: wall
   seconds, CPU seconds per submission, peak memory. Then the batch as it runs
   by default (identical files graded once), sandboxed and not.

``ratios`` (table and JSON) compare them: grader CPU / floor CPU, grader wall
/ floor wall, per-test processes extrapolated / grader (wall), nine bare
starts / grader (CPU), grader / naive (wall), sandboxed / unsandboxed (wall),
each for the grader sandboxed and ``--sandbox off``. ``targets`` sets the
issue's targets beside the measured values (shown, never asserted).

Prints a table; writes everything as JSON to ``--json`` (default
``bench-results.json`` in the current folder).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import timing
from bench.timing import Timing

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
IMPORTS = ("pytest", "pytest_asyncio", "aiohttp", "aioresponses", "looptime")
PER_TEST_ASSIGNMENT = "01"
PER_TEST_QUICK = 10  # tests of PER_TEST_ASSIGNMENT run one process each with --quick
TARGET_WORKERS = 2
# The targets (shown beside the measurements, never asserted).
TARGETS = {
    "full_submission_cpu_seconds": 1.2,
    "full_submission_wall_seconds_sandboxed": 1.2,
    "pytest_assignment_seconds_each": 0.6,
    "class_different_submissions": 200,
    "class_different_submissions_seconds": 120.0,
}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "BENCH_"))}
    env.update(extra)
    return env


def timed(cmd: list[str], env: dict[str, str] | None = None, capture: bool = False) -> Timing:
    """Wall seconds, CPU seconds (its whole process tree) and exit status of one command run in the course root."""
    return timing.run(cmd, cwd=ROOT, env=env or _env(), capture=capture)


def _median(samples: list[Timing]) -> dict[str, Any]:
    return {"wall": statistics.median(t.wall for t in samples), "cpu": statistics.median(t.cpu for t in samples),
            "wall_samples": [t.wall for t in samples], "cpu_samples": [t.cpu for t in samples],
            "statuses": [t.status for t in samples], "orphans": [t.orphans for t in samples], "last": samples[-1]}


def median_of(runs: int, once: Callable[[], Timing]) -> dict[str, Any]:
    return _median([once() for _ in range(runs)])


def _turns(runs: int, commands: dict[str, Callable[[], Timing]]) -> dict[str, dict[str, Any]]:
    """``runs`` samples of each command, taking turns; the medians and samples of each."""
    samples: dict[str, list[Timing]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, once in commands.items():
            samples[name].append(once())
    return {name: _median(values) for name, values in samples.items()}


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else 0.0


def _passed(output: str) -> int:
    """The passed count in a pytest summary line."""
    found = re.search(r"(\d+) passed", output)
    return int(found.group(1)) if found else 0


def assignment_ids() -> list[str]:
    sys.path.insert(0, str(ROOT))
    from grader.manifest import load_manifest

    return [a.id for a in load_manifest(ROOT).assignments]


def machine() -> dict[str, Any]:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return {
        "nproc": cpus,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def sandbox_problem() -> str | None:
    """Why graded runs cannot be sandboxed here, or None."""
    sys.path.insert(0, str(ROOT))
    from grader import sandbox

    problem = sandbox.unavailable()
    timing.reap(timing.STRAGGLERS_TIMEOUT)  # bubblewrap's probe leaves its namespace's init behind
    return problem


# --- sections --------------------------------------------------------------------------------------


def startup(runs: int) -> dict[str, Any]:
    bare = median_of(max(runs, 3), lambda: timed([PY, "-c", "pass"]))
    imports = median_of(max(runs, 3), lambda: timed([PY, "-c", f"import {', '.join(IMPORTS)}"]))
    version = median_of(max(runs, 3), lambda: timed([PY, "-m", "pytest", "--version"]))
    return {"python_bare_seconds": bare["wall"], "python_with_imports_seconds": imports["wall"],
            "pytest_version_seconds": version["wall"],
            "imports_only_seconds": imports["wall"] - bare["wall"],
            "python_bare_cpu_seconds": bare["cpu"], "python_with_imports_cpu_seconds": imports["cpu"],
            "pytest_version_cpu_seconds": version["cpu"]}


def _grader_command(mode: str, *assignments: str) -> list[str]:
    picked = [arg for aid in assignments for arg in ("--assignment", aid)]
    return [PY, "-m", "grader", "grade", "--submission", "solutions", "--format", "json", "--sandbox", mode, *picked]


def _suites(ids: list[str]) -> list[str]:
    return [*(f"tests/{aid}" for aid in ids), *(f"assignments/{aid}" for aid in ids)]


def _pytest_against(*paths: str) -> list[str]:
    return [PY, "-m", "pytest", *paths, "--against", "solutions", "-q", "-p", "no:randomly"]


def collect(ids: list[str]) -> list[str]:
    """The node ids of every hidden and public test against the solutions, in one pytest collection."""
    done = timed([*_pytest_against(*_suites(ids)), "--collect-only"], capture=True)
    if done.status != 0:
        raise SystemExit(f"bench: collecting the course's tests failed (exit status {done.status})")
    return [line.strip() for line in done.output.splitlines() if "::" in line]


def _graded_tests(output: str) -> int:
    """How many tests a ``grade --format json`` output reports."""
    try:
        result = json.loads(output)
    except ValueError:
        return 0
    return sum(len(a.get("tests", [])) for a in result.get("assignments", []))


def whole_course(ids: list[str], runs: int, sandboxed: bool, collected: int) -> dict[str, dict[str, Any]]:
    """The grader (sandboxed and not), one pytest process, pytest per assignment, nine bare starts: taking turns."""
    modes = ["off", *(["required"] if sandboxed else [])]
    for mode in modes:
        timed(_grader_command(mode))  # warm-up: the catalog cache is written if it was not there
    naive_statuses: dict[str, int] = {}
    naive_passed: dict[str, int] = {}

    def grading(mode: str) -> Callable[[], Timing]:
        return lambda: timed(_grader_command(mode), capture=True)

    def naive_once() -> Timing:
        total: Timing | None = None
        for aid in ids:
            one = timed(_pytest_against(f"tests/{aid}", f"assignments/{aid}"), capture=True)
            naive_statuses[aid] = one.status
            naive_passed[aid] = _passed(one.output)
            total = one if total is None else total + one
        assert total is not None
        return total

    def floor_once() -> Timing:
        return timed(_pytest_against(*_suites(ids)), capture=True)

    importing = [PY, "-c", f"import {', '.join(IMPORTS)}"]

    def bare_once() -> Timing:
        total = timed(importing)
        for _ in range(len(ids) - 1):
            total = total + timed(importing)
        return total

    measured = _turns(runs, {**{mode: grading(mode) for mode in modes}, "one_process": floor_once,
                             "naive": naive_once, "bare_starts": bare_once})
    head, off, naive, floor, bare = (measured["required" if sandboxed else "off"], measured["off"],
                                     measured["naive"], measured["one_process"], measured["bare_starts"])
    full = {"sandboxed": sandboxed,
            "grader_seconds": head["wall"], "grader_samples": head["wall_samples"],
            "grader_cpu_seconds": head["cpu"], "grader_cpu_samples": head["cpu_samples"],
            "grader_exit_status": head["statuses"], "grader_tests": _graded_tests(head["last"].output),
            "grader_orphans_reaped": head["orphans"],
            "unsandboxed_seconds": off["wall"], "unsandboxed_samples": off["wall_samples"],
            "unsandboxed_cpu_seconds": off["cpu"], "unsandboxed_cpu_samples": off["cpu_samples"],
            "unsandboxed_exit_status": off["statuses"], "unsandboxed_tests": _graded_tests(off["last"].output),
            "naive_seconds": naive["wall"], "naive_samples": naive["wall_samples"],
            "naive_cpu_seconds": naive["cpu"], "naive_cpu_samples": naive["cpu_samples"],
            "naive_exit_status": naive_statuses, "naive_tests_passed": sum(naive_passed.values()),
            "ratio_grader_over_naive": _ratio(head["wall"], naive["wall"])}
    if sandboxed:
        full["ratio_sandboxed_over_unsandboxed"] = _ratio(head["wall"], off["wall"])
        full["ratio_sandboxed_over_unsandboxed_cpu"] = _ratio(head["cpu"], off["cpu"])
    one_process = {"command": " ".join(["python", *_pytest_against(*_suites(ids))[1:]]),
                   "wall_seconds": floor["wall"], "wall_samples": floor["wall_samples"],
                   "cpu_seconds": floor["cpu"], "cpu_samples": floor["cpu_samples"],
                   "exit_status": floor["statuses"], "tests_collected": collected,
                   "tests_passed": _passed(floor["last"].output)}
    bare_starts = {"processes": len(ids), "imports": list(IMPORTS),
                   "wall_seconds": bare["wall"], "wall_samples": bare["wall_samples"],
                   "cpu_seconds": bare["cpu"], "cpu_samples": bare["cpu_samples"],
                   "exit_status": sorted(set(bare["statuses"]))}
    return {"full_submission": full, "one_process": one_process, "bare_starts": bare_starts}


def per_test_process(nodes: list[str], quick: bool) -> dict[str, Any]:
    """One pytest process per test of PER_TEST_ASSIGNMENT, summed; extrapolated to the course's test count."""
    mine = [n for n in nodes if n.startswith((f"tests/{PER_TEST_ASSIGNMENT}/", f"assignments/{PER_TEST_ASSIGNMENT}/"))]
    run = mine[:PER_TEST_QUICK] if quick else mine
    statuses: list[int] = []
    wall = cpu = 0.0
    for node in run:
        one = timed(_pytest_against(node))
        statuses.append(one.status)
        wall += one.wall
        cpu += one.cpu
    mean_wall, mean_cpu = wall / len(run), cpu / len(run)
    return {"assignment": PER_TEST_ASSIGNMENT, "tests_in_assignment": len(mine), "tests_run": len(run),
            "command": "python -m pytest NODEID --against solutions -q -p no:randomly",
            "wall_seconds": wall, "cpu_seconds": cpu,
            "mean_wall_seconds_per_test": mean_wall, "mean_cpu_seconds_per_test": mean_cpu,
            "course_tests": len(nodes),
            "extrapolated_wall_seconds": mean_wall * len(nodes), "extrapolated_cpu_seconds": mean_cpu * len(nodes),
            "exit_status": sorted(set(statuses)), "failed": sum(1 for s in statuses if s)}


def one_assignment(runs: int, sandboxed: bool) -> dict[str, Any]:
    """A submission of assignment 01 alone: sandboxed and not."""
    modes = ["off", *(["required"] if sandboxed else [])]
    measured = _turns(max(runs, 3), {mode: (lambda mode=mode: timed(_grader_command(mode, "01")))
                                     for mode in modes})
    result: dict[str, Any] = {"sandboxed": sandboxed,
                              "exit_status": {mode: measured[mode]["statuses"] for mode in modes},
                              "unsandboxed_seconds": measured["off"]["wall"],
                              "unsandboxed_samples": measured["off"]["wall_samples"],
                              "unsandboxed_cpu_seconds": measured["off"]["cpu"]}
    if sandboxed:
        result |= {"sandboxed_seconds": measured["required"]["wall"],
                   "sandboxed_samples": measured["required"]["wall_samples"],
                   "sandboxed_cpu_seconds": measured["required"]["cpu"],
                   "ratio_sandboxed_over_unsandboxed": _ratio(measured["required"]["wall"], measured["off"]["wall"])}
    return result


def virtual_time(ids: list[str]) -> dict[str, Any]:
    per: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-looptime-") as tmp:
        for aid in ids:
            out = Path(tmp) / f"{aid}.jsonl"
            env = _env(BENCH_LOOPTIME_OUT=str(out),
                       PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
            done = timed([*_pytest_against(f"tests/{aid}", f"assignments/{aid}"), "-p", "bench.looptime_probe"], env)
            records = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
            row: dict[str, Any] = {"process_seconds": done.wall, "process_cpu_seconds": done.cpu,
                                   "exit_status": done.status, "tests": len(records)}
            for kind in ("virtual", "real", "uncompacted", "other"):
                mine = [r for r in records if r["kind"] == kind]
                row[f"{kind}_tests"] = len(mine)
                row[f"{kind}_wall"] = sum(r["wall"] for r in mine)
                row[f"{kind}_loop"] = sum(r["loop"] for r in mine)
            per[aid] = row
    total = {key: sum(row[key] for row in per.values()) for key in next(iter(per.values()))
             if key != "exit_status"}
    return {
        "method": "bench/looptime_probe.py: the scenario's final loop.time() and perf_counter() around each "
                  "scenario call",
        "simulated_loop_seconds": total["virtual_loop"],
        "virtual_tests_wall_seconds": total["virtual_wall"],
        "loop_seconds_per_wall_second": _ratio(total["virtual_loop"], total["virtual_wall"]),
        "virtual_tests": total["virtual_tests"],
        "real_time_tests": total["real_tests"],
        "real_time_tests_wall_seconds": total["real_wall"],
        "other_tests": total["other_tests"] + total["uncompacted_tests"],
        "other_tests_wall_seconds": total["other_wall"] + total["uncompacted_wall"],
        "all_tests_call_wall_seconds": sum(total[f"{k}_wall"] for k in ("virtual", "real", "uncompacted", "other")),
        "processes_wall_seconds": total["process_seconds"],
        "processes_cpu_seconds": total["process_cpu_seconds"],
        "per_assignment": per,
    }


def student_loop(ids: list[str], runs: int) -> dict[str, Any]:
    per: dict[str, dict[str, Any]] = {}
    for aid in ids:
        base = [PY, "-m", "pytest", f"assignments/{aid}", "-q", "-p", "no:randomly"]
        measured = _turns(runs, {"stub": lambda base=base: timed(base),
                                 "solution": lambda base=base: timed([*base, "--against", "solutions"])})
        stub, solved = measured["stub"], measured["solution"]
        per[aid] = {"stub_seconds": stub["wall"], "solution_seconds": solved["wall"],
                    "stub_cpu_seconds": stub["cpu"], "solution_cpu_seconds": solved["cpu"],
                    "stub_exit_status": stub["statuses"], "solution_exit_status": solved["statuses"]}
    return {"per_assignment": per,
            "stub_total_seconds": sum(r["stub_seconds"] for r in per.values()),
            "solution_total_seconds": sum(r["solution_seconds"] for r in per.values()),
            "stub_max_seconds": max(r["stub_seconds"] for r in per.values()),
            "solution_max_seconds": max(r["solution_seconds"] for r in per.values()),
            "stub_total_cpu_seconds": sum(r["stub_cpu_seconds"] for r in per.values()),
            "solution_total_cpu_seconds": sum(r["solution_cpu_seconds"] for r in per.values()),
            "note": "stub runs fail by design (exit status 1): the stubs raise NotImplementedError"}


def class_scale(students: int, workers: int, sandboxed: bool) -> dict[str, Any]:
    """Every file run (``--no-reuse``; sandboxed where bubblewrap runs): the headline; then the batch as it runs
    (identical files graded once), sandboxed and not."""
    results = {}
    box = ["--sandbox", "on" if sandboxed else "off"]
    variants = [("every_file", ["--no-reuse", *box]), ("reuse", ["--sandbox", "off"])]
    if sandboxed:
        variants.append(("sandboxed", ["--sandbox", "on"]))
    for mode, extra in variants:
        with tempfile.TemporaryDirectory(prefix="bench-class-json-") as tmp:
            out = Path(tmp) / "class.json"
            done = timed([PY, "-m", "bench.class_scale", "--students", str(students), "--workers", str(workers),
                          "--json", str(out), *extra], _env(PYTHONPATH=str(ROOT)))
            if done.status != 0:
                raise SystemExit(f"bench: bench.class_scale {' '.join(extra)} failed (exit status {done.status})")
            result = json.loads(out.read_text(encoding="utf-8"))
        result |= {"process_seconds": done.wall, "process_cpu_seconds": done.cpu, "exit_status": done.status}
        results[mode] = result
    every = results["every_file"]
    every["extrapolated_to"] = TARGETS["class_different_submissions"]
    every["extrapolated_wall_seconds"] = every["seconds_per_submission"] * TARGETS["class_different_submissions"]
    combined = {**results["reuse"], "every_file": every}
    if sandboxed:
        combined["sandboxed_run"] = results["sandboxed"]
        combined["ratio_sandboxed_over_unsandboxed"] = _ratio(results["sandboxed"]["wall_seconds"],
                                                              results["reuse"]["wall_seconds"])
    return combined


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """Every comparison, for the grader sandboxed (where it ran) and ``--sandbox off``."""
    f, floor, bare, per = (results[k] for k in ("full_submission", "one_process", "bare_starts", "per_test_process"))
    graders = {"unsandboxed": (f["unsandboxed_seconds"], f["unsandboxed_cpu_seconds"])}
    if f["sandboxed"]:
        graders = {"sandboxed": (f["grader_seconds"], f["grader_cpu_seconds"]), **graders}
    out: dict[str, Any] = {}
    for name, (wall, cpu) in graders.items():
        out[name] = {"grader_cpu_over_floor_cpu": _ratio(cpu, floor["cpu_seconds"]),
                     "grader_wall_over_floor_wall": _ratio(wall, floor["wall_seconds"]),
                     "per_test_extrapolated_over_grader_wall": _ratio(per["extrapolated_wall_seconds"], wall),
                     "per_test_extrapolated_over_grader_cpu": _ratio(per["extrapolated_cpu_seconds"], cpu),
                     "bare_starts_over_grader_cpu": _ratio(bare["cpu_seconds"], cpu),
                     "grader_over_naive_wall": _ratio(wall, f["naive_seconds"]),
                     "grader_over_naive_cpu": _ratio(cpu, f["naive_cpu_seconds"])}
    if f["sandboxed"]:
        out["sandboxed_over_unsandboxed_wall"] = f["ratio_sandboxed_over_unsandboxed"]
        out["sandboxed_over_unsandboxed_cpu"] = f["ratio_sandboxed_over_unsandboxed_cpu"]
    out["grader"] = "sandboxed" if f["sandboxed"] else "unsandboxed"  # the one the other sections compare with
    return out


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets beside what was measured (never asserted)."""
    f, loop, every = results["full_submission"], results["student_loop"], results["class_scale"]["every_file"]
    box = "sandboxed" if f["sandboxed"] else "unsandboxed: no bubblewrap here"
    extrapolated = every["students"] != TARGETS["class_different_submissions"]
    rows = [
        ("CPU per full submission", f"grader, {box}", f["grader_cpu_seconds"], TARGETS["full_submission_cpu_seconds"]),
        ("full submission wall", f"grader, {box}", f["grader_seconds"],
         TARGETS["full_submission_wall_seconds_sandboxed"]),
        ("pytest assignments/NN each", "slowest stub", loop["stub_max_seconds"],
         TARGETS["pytest_assignment_seconds_each"]),
        ("pytest assignments/NN each", "slowest solution", loop["solution_max_seconds"],
         TARGETS["pytest_assignment_seconds_each"]),
        (f"{TARGETS['class_different_submissions']} different submissions, {TARGET_WORKERS} workers",
         (f"{every['students']} run, extrapolated" if extrapolated else "every file run")
         + ("" if every["workers"] == TARGET_WORKERS else f", {every['workers']} workers"),
         every["extrapolated_wall_seconds"], TARGETS["class_different_submissions_seconds"]),
    ]
    return [{"target": name, "measured_as": how, "measured_seconds": value, "target_seconds": goal,
             "measured_over_target": _ratio(value, goal)} for name, how, value, goal in rows]


# --- output ----------------------------------------------------------------------------------------


def _row(label: str, *cells: str, width: int = 50, cell: int = 10) -> str:
    """A table row: the label indented and padded to ``width``, then each cell right-aligned in ``cell``."""
    return f"  {label:<{width}}" + "".join(f"{text:>{cell}}" for text in cells)


def _head(title: str, *cells: str, width: int = 50, cell: int = 10) -> str:
    """A section's title, and the headings of its columns aligned with its rows'."""
    return f"{title:<{width + 2}}" + "".join(f"{text:>{cell}}" for text in cells)


def _s(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}"


def _status(statuses: Any) -> str:
    """The distinct exit statuses, "0" when all passed."""
    return ",".join(str(x) for x in sorted(set(statuses)))


def table(results: dict[str, Any]) -> str:
    m, s, f, one_proc, bare, per, v, loop, c, one, r = (
        results[k] for k in ("machine", "startup", "full_submission", "one_process", "bare_starts",
                             "per_test_process", "virtual_time", "student_loop", "class_scale", "one_assignment",
                             "ratios"))
    nine = len(loop["per_assignment"])
    lines = [
        f"machine: {m['nproc']} CPU(s), Python {m['python']}, {m['platform']}, {m['date']}",
        f"runs per median: {results['runs']}" + (" (--quick)" if results["quick"] else ""),
        "CPU s: user + system of the command and every process it started (getrusage, orphans reaped here)",
        "",
        _head("startup (one process, median)", "wall s", "CPU s"),
        _row("python -c pass", _s(s["python_bare_seconds"]), _s(s["python_bare_cpu_seconds"])),
        _row("python -c 'import pytest, ..., looptime'", _s(s["python_with_imports_seconds"]),
             _s(s["python_with_imports_cpu_seconds"])),
        _row("python -m pytest --version", _s(s["pytest_version_seconds"]), _s(s["pytest_version_cpu_seconds"])),
        "",
        f"whole course, reference solutions, {nine} assignments (the five take turns; median of {results['runs']})"
        + ("" if f["sandboxed"] else f"\n  not sandboxed here: {results['sandbox_problem']}"),
        _row("", "wall s", "CPU s", "tests", "exit"),
        (_row("grader, sandboxed", _s(f["grader_seconds"]), _s(f["grader_cpu_seconds"]), str(f["grader_tests"]),
              _status(f["grader_exit_status"])) if f["sandboxed"] else None),
        _row("grader, --sandbox off", _s(f["unsandboxed_seconds"]), _s(f["unsandboxed_cpu_seconds"]),
             str(f["unsandboxed_tests"]), _status(f["unsandboxed_exit_status"])),
        _row("floor: one pytest process, all 18 suites", _s(one_proc["wall_seconds"]), _s(one_proc["cpu_seconds"]),
             str(one_proc["tests_passed"]), _status(one_proc["exit_status"])),
        _row(f"naive: one pytest process per assignment ({nine})", _s(f["naive_seconds"]),
             _s(f["naive_cpu_seconds"]), str(f["naive_tests_passed"]), _status(f["naive_exit_status"].values())),
        _row(f"{bare['processes']} bare starts importing pytest ... looptime", _s(bare["wall_seconds"]),
             _s(bare["cpu_seconds"]), "-", _status(bare["exit_status"])),
        _row(f"one pytest process per test: {per['tests_run']} of {per['assignment']}'s "
             f"{per['tests_in_assignment']} run", _s(per["wall_seconds"]), _s(per["cpu_seconds"]),
             str(per["tests_run"]), _status(per["exit_status"])),
        _row("  per test, mean", _s(per["mean_wall_seconds_per_test"]), _s(per["mean_cpu_seconds_per_test"])),
        _row(f"  extrapolated to the course's {per['course_tests']} tests", _s(per["extrapolated_wall_seconds"], 1),
             _s(per["extrapolated_cpu_seconds"], 1), str(per["course_tests"])),
        (f"  (--quick: only the first {per['tests_run']} tests of {per['assignment']} were run one process each)"
         if per["tests_run"] < per["tests_in_assignment"] else None),
        "",
        _head("ratios (grader sandboxed, grader --sandbox off)", *(["sandboxed"] if f["sandboxed"] else []),
              "off", width=60),
    ]
    names = [n for n in ("sandboxed", "unsandboxed") if n in r]
    for label, key in (("grader CPU / floor CPU", "grader_cpu_over_floor_cpu"),
                       ("grader wall / floor wall", "grader_wall_over_floor_wall"),
                       ("per-test processes, extrapolated / grader (wall)", "per_test_extrapolated_over_grader_wall"),
                       ("per-test processes, extrapolated / grader (CPU)", "per_test_extrapolated_over_grader_cpu"),
                       (f"{bare['processes']} bare starts / grader (CPU)", "bare_starts_over_grader_cpu"),
                       ("grader / naive (wall)", "grader_over_naive_wall"),
                       ("grader / naive (CPU)", "grader_over_naive_cpu")):
        lines.append(_row(label, *(_s(r[n][key], 2) for n in names), width=60))
    if f["sandboxed"]:
        lines += [_row("sandboxed / unsandboxed (wall)", _s(r["sandboxed_over_unsandboxed_wall"], 2), width=60),
                  _row("sandboxed / unsandboxed (CPU)", _s(r["sandboxed_over_unsandboxed_cpu"], 2), width=60)]
    lines += [
        "",
        "one-assignment submission (01; median)",
        _row("", "wall s", "CPU s"),
        (_row("grader, sandboxed", _s(one["sandboxed_seconds"]), _s(one["sandboxed_cpu_seconds"]))
         if one["sandboxed"] else None),
        _row("grader, --sandbox off", _s(one["unsandboxed_seconds"]), _s(one["unsandboxed_cpu_seconds"])),
        (_row("ratio sandboxed / unsandboxed (wall)", _s(one["ratio_sandboxed_over_unsandboxed"], 2))
         if one["sandboxed"] else None),
        "",
        "virtual time (hidden + public suites vs solutions)",
        _row("scenario calls on the virtual clock", str(v["virtual_tests"])),
        _row("simulated loop seconds", _s(v["simulated_loop_seconds"], 1)),
        _row("their wall seconds", _s(v["virtual_tests_wall_seconds"])),
        _row("loop seconds per wall second", _s(v["loop_seconds_per_wall_second"], 0)),
        _row("synchronous scenario calls (real clock)", str(v["real_time_tests"])),
        _row("their wall seconds", _s(v["real_time_tests_wall_seconds"])),
        "",
        "student loop: python -m pytest assignments/NN (median)",
        _row("NN", "stub wall", "stub CPU", "sol. wall", "sol. CPU", "probe run", width=6, cell=12),
    ]
    for aid, row in loop["per_assignment"].items():
        lines.append(_row(aid, _s(row["stub_seconds"]), _s(row["stub_cpu_seconds"]), _s(row["solution_seconds"]),
                          _s(row["solution_cpu_seconds"]), _s(v["per_assignment"][aid]["process_seconds"]), width=6, cell=12))
    lines.append(_row("total", _s(loop["stub_total_seconds"]), _s(loop["stub_total_cpu_seconds"]),
                      _s(loop["solution_total_seconds"]), _s(loop["solution_total_cpu_seconds"]), width=6, cell=12))
    lines += ["  stub: its tests fail by design (exit status 1); sol.: --against solutions;",
              "  probe run: hidden + public tests, -p bench.looptime_probe (wall s, one run)"]
    e = c["every_file"]
    lines += [
        "",
        f"class scale: run_batch, {c['students']} synthetic submissions, {c['workers']} workers",
        _row("", "wall s", "CPU s", "CPU/sub", "subs/s", "graded", "errors", width=40),
        _row("every file run (--no-reuse), " + ("sandboxed" if e["sandboxed"] else "--sandbox off"),
             _s(e["wall_seconds"], 1), _s(e["cpu_seconds"], 1), _s(e["cpu_seconds_per_submission"]),
             _s(e["submissions_per_second"]), str(e["graded"]), str(e["errors"]), width=40),
        *([_row("identical files once, sandboxed", _s(c["sandboxed_run"]["wall_seconds"], 1),
                _s(c["sandboxed_run"]["cpu_seconds"], 1), _s(c["sandboxed_run"]["cpu_seconds_per_submission"]),
                _s(c["sandboxed_run"]["submissions_per_second"]), str(c["sandboxed_run"]["graded"]),
                str(c["sandboxed_run"]["errors"]), width=40)] if "sandboxed_run" in c else []),
        _row("identical files once, --sandbox off", _s(c["wall_seconds"], 1), _s(c["cpu_seconds"], 1),
             _s(c["cpu_seconds_per_submission"]), _s(c["submissions_per_second"]), str(c["graded"]),
             str(c["errors"]), width=40),
        (f"  every file run: {e['extrapolated_wall_seconds']:.1f} s for {e['extrapolated_to']} submissions "
         f"(wall per submission x {e['extrapolated_to']})" if e["students"] != e["extrapolated_to"] else None),
        *([f"  ratio sandboxed / unsandboxed (identical files once, wall): {c['ratio_sandboxed_over_unsandboxed']:.2f}"]
          if "sandboxed_run" in c else []),
        (f"  peak RSS, every file run: largest child {e['peak_rss_children_mb']:.0f} MB, batch process "
         f"{e['peak_rss_self_mb']:.0f} MB (largest single process, not a sum)"),
        f"  mix (assignment files): {e['mix_per_assignment']}",
        "",
        _head("targets (issue 14; shown, never asserted)", "measured", "target", "x target", width=60),
    ]
    for t in results["targets"]:
        lines.append(_row(f"{t['target']} ({t['measured_as']})", _s(t["measured_seconds"], 2) + " s",
                          _s(t["target_seconds"], 1) + " s", _s(t["measured_over_target"], 2), width=60))
    return "\n".join(line for line in lines if line is not None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=None, help="runs per median (default 5; 1 with --quick)")
    parser.add_argument("--students", type=int, default=None,
                        help="synthetic submissions for the class-scale run (default 200; 10 with --quick)")
    parser.add_argument("--workers", type=int, default=TARGET_WORKERS,
                        help=f"batch workers for the class-scale run (default {TARGET_WORKERS}, the target's)")
    parser.add_argument("--quick", action="store_true",
                        help=f"runs=1, students=10 unless given; only {PER_TEST_QUICK} tests one process each")
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"))
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 5)
    students = args.students or (10 if args.quick else 200)
    if runs < 1 or students < 1 or args.workers < 1:
        parser.error("--runs, --students and --workers must be positive")
    args.json = args.json.resolve()
    if Path.cwd().resolve() != ROOT:
        os.chdir(ROOT)  # the commands measured are the ones run from the course root
    subreaper = timing.become_subreaper()
    ids = assignment_ids()
    started = time.perf_counter()
    problem = sandbox_problem()
    sandboxed = problem is None
    results: dict[str, Any] = {"machine": machine(), "runs": runs, "quick": args.quick, "sandbox_problem": problem,
                               "cpu_method": ("getrusage(RUSAGE_CHILDREN) user + system, before and after each "
                                              "command; this process is its descendants' subreaper, so what "
                                              "bubblewrap leaves orphaned is reaped and counted here")
                               if subreaper else "getrusage(RUSAGE_CHILDREN); no subreaper on this platform: "
                                                 "orphaned processes' CPU is not counted"}
    print("bench: startup ...", file=sys.stderr, flush=True)
    results["startup"] = startup(runs)
    print("bench: collecting the course's tests ...", file=sys.stderr, flush=True)
    nodes = collect(ids)
    print("bench: whole course (grader, one process, per assignment, bare starts; taking turns) ...",
          file=sys.stderr, flush=True)
    results |= whole_course(ids, runs, sandboxed, len(nodes))
    for name, run in (("per_test_process", lambda: per_test_process(nodes, args.quick)),
                      ("one_assignment", lambda: one_assignment(runs, sandboxed)),
                      ("virtual_time", lambda: virtual_time(ids)),
                      ("student_loop", lambda: student_loop(ids, runs)),
                      ("class_scale", lambda: class_scale(students, args.workers, sandboxed))):
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        results[name] = run()
    results["ratios"] = ratios(results)
    results["targets"] = targets(results)
    results["bench_seconds"] = time.perf_counter() - started
    print(table(results))
    print(f"bench took {results['bench_seconds']:.0f} s")
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
