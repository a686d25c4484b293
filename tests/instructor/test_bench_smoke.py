"""``python -m bench --quick``: every section is measured and reported (no timing assertions).

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
    "startup": ["python_bare_seconds", "python_with_imports_seconds", "pytest_version_seconds"],
    "full_submission": ["grader_seconds", "naive_seconds", "ratio_grader_over_naive"],
    "virtual_time": ["simulated_loop_seconds", "virtual_tests_wall_seconds", "loop_seconds_per_wall_second",
                     "virtual_tests", "real_time_tests", "real_time_tests_wall_seconds"],
    "student_loop": ["stub_total_seconds", "solution_total_seconds"],
    "class_scale": ["students", "wall_seconds", "submissions_per_second", "peak_rss_children_mb",
                    "peak_rss_self_mb"],
}


@pytest.mark.slow
@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_quick_bench_reports_every_section(tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--students", str(STUDENTS),
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "full submission" in done.stdout and "class scale" in done.stdout
    results = json.loads(out.read_text(encoding="utf-8"))

    assert results["machine"]["nproc"] >= 1 and results["machine"]["python"]
    assert results["runs"] == 1 and results["quick"] is True
    for section, keys in SECTIONS.items():
        for key in keys:
            value = results[section][key]
            assert isinstance(value, (int, float)) and value > 0, f"{section}.{key} = {value!r}"

    assert results["full_submission"]["grader_exit_status"] == [0]
    assert set(results["student_loop"]["per_assignment"]) == set(results["virtual_time"]["per_assignment"])
    for row in results["student_loop"]["per_assignment"].values():
        assert row["stub_seconds"] > 0 and row["solution_seconds"] > 0

    scale = results["class_scale"]
    assert scale["students"] == STUDENTS
    assert scale["graded"] == STUDENTS and scale["errors"] == 0
    assert scale["reuse_identical"] is True and scale["every_file"]["reuse_identical"] is False
    assert scale["every_file"]["graded"] == STUDENTS and scale["every_file"]["wall_seconds"] > 0
    assert sum(scale["mix_per_assignment"].values()) == STUDENTS * len(results["student_loop"]["per_assignment"])
