"""``python -m bench [--runs N] [--students N] [--quick] [--json FILE]``: grading performance.

Run from the course root. Measures, in one run, side by side:

1. ``full_submission``: ``python -m grader grade --submission solutions
   --format json`` (after one warm-up run, so the catalog cache is warm),
   sandboxed (``--sandbox required``, where bubblewrap runs) and not
   (``--sandbox off``), versus the naive way, ``python -m pytest tests/NN
   assignments/NN --against solutions -q -p no:randomly`` once per
   assignment, one after another. The three take turns, so a noisy machine
   slows each alike. Median wall time of ``--runs`` runs each, the ratio
   grader/naive and the ratio sandboxed/unsandboxed. ``one_assignment``: the
   same for a submission of assignment 01 alone.
2. ``virtual_time``: hidden + public suites against the solutions, one pytest
   process per assignment with ``-p bench.looptime_probe`` (see that module
   for the method): loop seconds simulated per wall second in the scenario
   calls on the virtual clock, and the wall seconds of synchronous ones.
3. ``student_loop``: ``python -m pytest assignments/NN -q -p no:randomly``
   against the stub and with ``--against solutions``, per assignment, median.
4. ``class_scale``: ``grader.batch.run_batch`` on ``--students`` synthetic
   submissions (``bench/class_scale.py``), in a process of its own:
   sandboxed (where bubblewrap runs) and not, identical files graded once;
   and every file run, unsandboxed.
5. ``startup``: interpreter start and the imports every test process pays.

Prints a table; writes everything as JSON to ``--json`` (default
``bench-results.json`` in the current folder).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "BENCH_"))}
    env.update(extra)
    return env


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and exit status of one subprocess run in the course root."""
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env or _env(), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started, done.returncode


def median_of(runs: int, once: Callable[[], float]) -> dict[str, Any]:
    samples = [once() for _ in range(runs)]
    return {"median": statistics.median(samples), "samples": samples}


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


# --- sections --------------------------------------------------------------------------------------


def startup(runs: int) -> dict[str, Any]:
    bare = median_of(max(runs, 3), lambda: timed([PY, "-c", "pass"])[0])
    imports = median_of(max(runs, 3), lambda: timed(
        [PY, "-c", "import pytest, aiohttp, aioresponses, pytest_asyncio, looptime"])[0])
    collect = median_of(max(runs, 3), lambda: timed([PY, "-m", "pytest", "--version"])[0])
    return {"python_bare_seconds": bare["median"], "python_with_imports_seconds": imports["median"],
            "pytest_version_seconds": collect["median"],
            "imports_only_seconds": imports["median"] - bare["median"]}


def sandbox_problem() -> str | None:
    """Why graded runs cannot be sandboxed here, or None."""
    sys.path.insert(0, str(ROOT))
    from grader import sandbox

    return sandbox.unavailable()


def _grader_command(mode: str, *assignments: str) -> list[str]:
    picked = [arg for aid in assignments for arg in ("--assignment", aid)]
    return [PY, "-m", "grader", "grade", "--submission", "solutions", "--format", "json", "--sandbox", mode, *picked]


def _turns(runs: int, commands: dict[str, Callable[[], float]]) -> dict[str, dict[str, Any]]:
    """``runs`` samples of each command, taking turns; the median and samples of each."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, once in commands.items():
            samples[name].append(once())
    return {name: {"median": statistics.median(values), "samples": values} for name, values in samples.items()}


def _grading(mode: str, statuses: list[int], *assignments: str) -> Callable[[], float]:
    command = _grader_command(mode, *assignments)

    def once() -> float:
        seconds, status = timed(command)
        statuses.append(status)
        return seconds

    return once


def full_submission(ids: list[str], runs: int, sandboxed: bool) -> dict[str, Any]:
    modes = ["off", *(["required"] if sandboxed else [])]
    for mode in modes:
        timed(_grader_command(mode))  # warm-up: the catalog cache is written if it was not there
    statuses: dict[str, list[int]] = {mode: [] for mode in modes}
    naive_statuses: dict[str, int] = {}

    def naive_once() -> float:
        total = 0.0
        for aid in ids:
            seconds, status = timed([PY, "-m", "pytest", f"tests/{aid}", f"assignments/{aid}",
                                     "--against", "solutions", "-q", "-p", "no:randomly"])
            naive_statuses[aid] = status
            total += seconds
        return total

    commands = {mode: _grading(mode, statuses[mode]) for mode in modes}
    measured = _turns(runs, {**commands, "naive": naive_once})
    grader = measured["required" if sandboxed else "off"]
    result = {"sandboxed": sandboxed,
              "grader_seconds": grader["median"], "grader_samples": grader["samples"],
              "grader_exit_status": statuses["required" if sandboxed else "off"],
              "unsandboxed_seconds": measured["off"]["median"], "unsandboxed_samples": measured["off"]["samples"],
              "unsandboxed_exit_status": statuses["off"],
              "naive_seconds": measured["naive"]["median"], "naive_samples": measured["naive"]["samples"],
              "naive_exit_status": naive_statuses,
              "ratio_grader_over_naive": grader["median"] / measured["naive"]["median"]}
    if sandboxed:
        result["ratio_sandboxed_over_unsandboxed"] = grader["median"] / measured["off"]["median"]
    return result


def one_assignment(runs: int, sandboxed: bool) -> dict[str, Any]:
    """A submission of assignment 01 alone: sandboxed and not."""
    modes = ["off", *(["required"] if sandboxed else [])]
    statuses: dict[str, list[int]] = {mode: [] for mode in modes}
    measured = _turns(max(runs, 3), {mode: _grading(mode, statuses[mode], "01") for mode in modes})
    result: dict[str, Any] = {"sandboxed": sandboxed, "exit_status": statuses,
                              "unsandboxed_seconds": measured["off"]["median"],
                              "unsandboxed_samples": measured["off"]["samples"]}
    if sandboxed:
        result |= {"sandboxed_seconds": measured["required"]["median"],
                   "sandboxed_samples": measured["required"]["samples"],
                   "ratio_sandboxed_over_unsandboxed": measured["required"]["median"] / measured["off"]["median"]}
    return result


def virtual_time(ids: list[str]) -> dict[str, Any]:
    per: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-looptime-") as tmp:
        for aid in ids:
            out = Path(tmp) / f"{aid}.jsonl"
            env = _env(BENCH_LOOPTIME_OUT=str(out),
                       PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
            seconds, status = timed([PY, "-m", "pytest", f"tests/{aid}", f"assignments/{aid}", "--against",
                                     "solutions", "-q", "-p", "no:randomly", "-p", "bench.looptime_probe"], env)
            records = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
            row: dict[str, Any] = {"process_seconds": seconds, "exit_status": status, "tests": len(records)}
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
        "loop_seconds_per_wall_second": (total["virtual_loop"] / total["virtual_wall"]
                                         if total["virtual_wall"] > 0 else 0.0),
        "virtual_tests": total["virtual_tests"],
        "real_time_tests": total["real_tests"],
        "real_time_tests_wall_seconds": total["real_wall"],
        "other_tests": total["other_tests"] + total["uncompacted_tests"],
        "other_tests_wall_seconds": total["other_wall"] + total["uncompacted_wall"],
        "all_tests_call_wall_seconds": sum(total[f"{k}_wall"] for k in ("virtual", "real", "uncompacted", "other")),
        "processes_wall_seconds": total["process_seconds"],
        "per_assignment": per,
    }


def student_loop(ids: list[str], runs: int) -> dict[str, Any]:
    per: dict[str, dict[str, float]] = {}
    for aid in ids:
        base = [PY, "-m", "pytest", f"assignments/{aid}", "-q", "-p", "no:randomly"]
        against = [*base, "--against", "solutions"]
        stub = median_of(runs, lambda: timed(base)[0])
        solved = median_of(runs, lambda: timed(against)[0])
        per[aid] = {"stub_seconds": stub["median"], "solution_seconds": solved["median"]}
    return {"per_assignment": per,
            "stub_total_seconds": sum(r["stub_seconds"] for r in per.values()),
            "solution_total_seconds": sum(r["solution_seconds"] for r in per.values()),
            "stub_max_seconds": max(r["stub_seconds"] for r in per.values()),
            "solution_max_seconds": max(r["solution_seconds"] for r in per.values())}


def class_scale(students: int, sandboxed: bool) -> dict[str, Any]:
    """The batch as it runs (identical files graded once), sandboxed and not, and with every file run
    (``--no-reuse``, unsandboxed)."""
    results = {}
    variants = [("reuse", ["--sandbox", "off"]), ("every_file", ["--no-reuse", "--sandbox", "off"])]
    if sandboxed:
        variants.insert(0, ("sandboxed", ["--sandbox", "on"]))
    for mode, extra in variants:
        with tempfile.TemporaryDirectory(prefix="bench-class-json-") as tmp:
            out = Path(tmp) / "class.json"
            started = time.perf_counter()
            subprocess.run([PY, "-m", "bench.class_scale", "--students", str(students), "--json", str(out), *extra],
                           cwd=ROOT, env=_env(PYTHONPATH=str(ROOT)), check=True)
            result = json.loads(out.read_text(encoding="utf-8"))
        result["process_seconds"] = time.perf_counter() - started
        results[mode] = result
    combined = {**results["reuse"], "every_file": results["every_file"]}
    if sandboxed:
        combined["sandboxed_run"] = results["sandboxed"]
        combined["ratio_sandboxed_over_unsandboxed"] = (results["sandboxed"]["wall_seconds"]
                                                        / results["reuse"]["wall_seconds"])
    return combined


# --- output ----------------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    m, s, f, v, loop, c, one = (results[k] for k in ("machine", "startup", "full_submission", "virtual_time",
                                                      "student_loop", "class_scale", "one_assignment"))
    lines = [
        f"machine: {m['nproc']} CPU(s), Python {m['python']}, {m['platform']}, {m['date']}",
        f"runs per median: {results['runs']}",
        "",
        "startup (one process)                        seconds",
        f"  python -c pass                             {s['python_bare_seconds']:8.3f}",
        f"  + import pytest aiohttp aioresponses ...   {s['python_with_imports_seconds']:8.3f}",
        f"  python -m pytest --version                 {s['pytest_version_seconds']:8.3f}",
        "",
        "full submission (reference solutions, 9 assignments)"
        + ("" if f["sandboxed"] else f" -- not sandboxed here: {results['sandbox_problem']}"),
        f"  grader, sandboxed                          {f['grader_seconds']:8.3f} s" if f["sandboxed"] else "",
        f"  grader, --sandbox off                      {f['unsandboxed_seconds']:8.3f} s",
        f"  naive (pytest per assignment, sequential)  {f['naive_seconds']:8.3f} s",
        f"  ratio grader / naive                       {f['ratio_grader_over_naive']:8.2f}",
        (f"  ratio sandboxed / unsandboxed              {f['ratio_sandboxed_over_unsandboxed']:8.2f}"
         if f["sandboxed"] else ""),
        "one-assignment submission (01)",
        f"  grader, sandboxed                          {one['sandboxed_seconds']:8.3f} s" if one["sandboxed"] else "",
        f"  grader, --sandbox off                      {one['unsandboxed_seconds']:8.3f} s",
        (f"  ratio sandboxed / unsandboxed              {one['ratio_sandboxed_over_unsandboxed']:8.2f}"
         if one["sandboxed"] else ""),
        "",
        "virtual time (hidden + public suites vs solutions)",
        f"  scenario calls on the virtual clock        {v['virtual_tests']:8d}",
        f"  simulated loop seconds                     {v['simulated_loop_seconds']:8.1f}",
        f"  their wall seconds                         {v['virtual_tests_wall_seconds']:8.3f}",
        f"  loop seconds per wall second               {v['loop_seconds_per_wall_second']:8.0f}",
        f"  synchronous scenario calls (real clock)    {v['real_time_tests']:8d}",
        f"  their wall seconds                         {v['real_time_tests_wall_seconds']:8.3f}",
        "",
        "student loop: python -m pytest assignments/NN (seconds)",
        "  NN       stub   solution   looptime-probe run (hidden+public)",
    ]
    for aid, row in loop["per_assignment"].items():
        lines.append(f"  {aid}  {row['stub_seconds']:8.3f}  {row['solution_seconds']:8.3f}"
                     f"   {v['per_assignment'][aid]['process_seconds']:8.3f}")
    lines += [
        "",
        f"class scale: run_batch, {c['students']} synthetic submissions, {c['workers']} workers",
        *([f"  wall seconds sandboxed (identical once)    {c['sandboxed_run']['wall_seconds']:8.1f}",
           f"  ratio sandboxed / unsandboxed              {c['ratio_sandboxed_over_unsandboxed']:8.2f}"]
          if "sandboxed_run" in c else []),
        f"  graded / errors                            {c['graded']} / {c['errors']}",
        f"  wall seconds (identical files run once)    {c['wall_seconds']:8.1f}",
        f"  submissions per second                     {c['submissions_per_second']:8.3f}",
        f"  wall seconds (every file run, --no-reuse)  {c['every_file']['wall_seconds']:8.1f}",
        f"  submissions per second                     {c['every_file']['submissions_per_second']:8.3f}",
        (f"  peak RSS largest child / batch process     {c['peak_rss_children_mb']:.0f} MB / "
         f"{c['peak_rss_self_mb']:.0f} MB (largest single process, not a sum)"),
        f"  mix (assignment files)                     {c['mix_per_assignment']}",
    ]
    return "\n".join(line for line in lines if line != "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=None, help="runs per median (default 5; 1 with --quick)")
    parser.add_argument("--students", type=int, default=None,
                        help="synthetic submissions for the class-scale run (default 200; 10 with --quick)")
    parser.add_argument("--quick", action="store_true", help="runs=1, students=10 unless given")
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"))
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 5)
    students = args.students or (10 if args.quick else 200)
    if runs < 1 or students < 1:
        parser.error("--runs and --students must be positive")
    args.json = args.json.resolve()
    if Path.cwd().resolve() != ROOT:
        os.chdir(ROOT)  # the commands measured are the ones run from the course root
    ids = assignment_ids()
    started = time.perf_counter()
    problem = sandbox_problem()
    sandboxed = problem is None
    results: dict[str, Any] = {"machine": machine(), "runs": runs, "quick": args.quick, "sandbox_problem": problem}
    for name, run in (("startup", lambda: startup(runs)),
                      ("full_submission", lambda: full_submission(ids, runs, sandboxed)),
                      ("one_assignment", lambda: one_assignment(runs, sandboxed)),
                      ("virtual_time", lambda: virtual_time(ids)),
                      ("student_loop", lambda: student_loop(ids, runs)),
                      ("class_scale", lambda: class_scale(students, sandboxed))):
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        results[name] = run()
    results["bench_seconds"] = time.perf_counter() - started
    print(table(results))
    print(f"bench took {results['bench_seconds']:.0f} s")
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
