"""``python -m bench --quick``: every section is measured and reported (no timing assertions).

Every section reports positive wall and CPU seconds, every command that
should pass exited 0, and the one-process floor ran the grader's tests, no
fewer.

The class-scale run is narrowed to a few students with ``--students``: each
synthetic submission is nine real grading processes, and this is a smoke test
of the benchmark, not a measurement.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from repo_support import ROOT

STUDENTS = 2
RUN_TIMEOUT = 900  # seconds for the whole bench run; the test's own cap is above it, so the run's limit speaks
SECTIONS = {
    "startup": ["python_bare_seconds", "python_with_imports_seconds", "pytest_version_seconds",
                "python_bare_cpu_seconds", "python_with_imports_cpu_seconds", "pytest_version_cpu_seconds"],
    "full_submission": ["grader_seconds", "grader_cpu_seconds", "grader_tests", "unsandboxed_seconds",
                        "unsandboxed_cpu_seconds", "unsandboxed_tests", "naive_seconds", "naive_cpu_seconds",
                        "naive_tests_passed", "ratio_grader_over_naive"],
    "one_process": ["wall_seconds", "cpu_seconds", "tests_collected", "tests_passed"],
    "bare_starts": ["processes", "wall_seconds", "cpu_seconds"],
    "per_test_process": ["tests_in_assignment", "tests_run", "wall_seconds", "cpu_seconds",
                         "mean_wall_seconds_per_test", "mean_cpu_seconds_per_test", "course_tests",
                         "extrapolated_wall_seconds", "extrapolated_cpu_seconds"],
    "one_assignment": ["unsandboxed_seconds", "unsandboxed_cpu_seconds"],
    "virtual_time": ["simulated_loop_seconds", "virtual_tests_wall_seconds", "loop_seconds_per_wall_second",
                     "virtual_tests", "real_time_tests", "real_time_tests_wall_seconds", "processes_cpu_seconds"],
    "student_loop": ["stub_total_seconds", "solution_total_seconds", "stub_total_cpu_seconds",
                     "solution_total_cpu_seconds"],
    "class_scale": ["students", "wall_seconds", "submissions_per_second", "cpu_seconds", "cpu_seconds_per_submission",
                    "peak_rss_children_mb", "peak_rss_self_mb", "process_cpu_seconds"],
}
EVERY_FILE = ["wall_seconds", "cpu_seconds", "cpu_seconds_per_submission", "cpu_children_seconds",
              "peak_rss_children_mb", "peak_rss_self_mb", "extrapolated_wall_seconds", "process_cpu_seconds"]
RATIOS = ["grader_cpu_over_floor_cpu", "grader_wall_over_floor_wall", "per_test_extrapolated_over_grader_wall",
          "per_test_extrapolated_over_grader_cpu", "bare_starts_over_grader_cpu", "grader_over_naive_wall",
          "grader_over_naive_cpu"]


def _positive(where: str, value: object) -> None:
    assert isinstance(value, (int, float)) and value > 0, f"{where} = {value!r}"


@pytest.mark.slow
@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_quick_bench_reports_every_section(tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--students", str(STUDENTS),
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    for heading in ("whole course", "floor: one pytest process", "bare starts", "one pytest process per test",
                    "ratios", "class scale", "targets"):
        assert heading in done.stdout, heading
    results = json.loads(out.read_text(encoding="utf-8"))

    assert results["machine"]["nproc"] >= 1 and results["machine"]["python"]
    assert results["runs"] == 1 and results["quick"] is True
    for section, keys in SECTIONS.items():
        for key in keys:
            _positive(f"{section}.{key}", results[section][key])

    full, floor = results["full_submission"], results["one_process"]
    sandboxed = full["sandboxed"]
    assert full["grader_exit_status"] == [0] and full["unsandboxed_exit_status"] == [0]
    assert set(full["naive_exit_status"].values()) == {0}
    # The floor is one process running every hidden and public test, all passing: the grader's tests, no fewer.
    assert floor["exit_status"] == [0]
    assert floor["tests_passed"] == floor["tests_collected"] == full["grader_tests"] == full["unsandboxed_tests"]
    assert full["naive_tests_passed"] == floor["tests_collected"]
    assert results["bare_starts"]["exit_status"] == [0] and results["bare_starts"]["processes"] == 9

    per = results["per_test_process"]
    assert per["exit_status"] == [0] and per["failed"] == 0
    assert per["tests_run"] == min(10, per["tests_in_assignment"])  # --quick runs the first 10 only
    assert per["course_tests"] == floor["tests_collected"]

    one = results["one_assignment"]
    assert all(set(statuses) == {0} for statuses in one["exit_status"].values())
    if sandboxed:
        _positive("one_assignment.sandboxed_cpu_seconds", one["sandboxed_cpu_seconds"])
    assert {row["exit_status"] for row in results["virtual_time"]["per_assignment"].values()} == {0}

    assert set(results["student_loop"]["per_assignment"]) == set(results["virtual_time"]["per_assignment"])
    for row in results["student_loop"]["per_assignment"].values():
        assert row["stub_seconds"] > 0 and row["solution_seconds"] > 0
        assert row["stub_cpu_seconds"] > 0 and row["solution_cpu_seconds"] > 0
        assert row["solution_exit_status"] == [0]

    ratios = results["ratios"]
    assert ratios["grader"] == ("sandboxed" if sandboxed else "unsandboxed")
    for grader in ["unsandboxed", *(["sandboxed"] if sandboxed else [])]:
        for key in RATIOS:
            _positive(f"ratios.{grader}.{key}", ratios[grader][key])
    if sandboxed:
        _positive("ratios.sandboxed_over_unsandboxed_wall", ratios["sandboxed_over_unsandboxed_wall"])
        _positive("full_submission.ratio_sandboxed_over_unsandboxed", full["ratio_sandboxed_over_unsandboxed"])
    assert len(results["targets"]) == 5
    for target in results["targets"]:
        _positive(f"targets.{target['target']}", target["measured_seconds"])
        _positive(f"targets.{target['target']}", target["target_seconds"])

    scale = results["class_scale"]
    assert scale["students"] == STUDENTS
    assert scale["graded"] == STUDENTS and scale["errors"] == 0
    assert scale["reuse_identical"] is True
    every = scale["every_file"]
    assert every["reuse_identical"] is False and every["sandboxed"] is sandboxed
    assert every["graded"] == STUDENTS and every["errors"] == 0 and every["exit_status"] == 0
    for key in EVERY_FILE:
        _positive(f"class_scale.every_file.{key}", every[key])
    if sandboxed:
        assert scale["sandboxed_run"]["graded"] == STUDENTS
        _positive("class_scale.sandboxed_run.cpu_seconds", scale["sandboxed_run"]["cpu_seconds"])
    assert sum(scale["mix_per_assignment"].values()) == STUDENTS * len(results["student_loop"]["per_assignment"])
