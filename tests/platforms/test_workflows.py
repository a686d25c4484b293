"""The workflows are valid GitHub Actions and clean under a security audit."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from repo_support import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is not installed: pip install -e '.[dev]'"
    return str(path)


def test_there_are_workflows():
    """The student grading workflow and the course's CI exist."""
    assert {p.name for p in WORKFLOWS} >= {"classroom.yml", "ci.yml"}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_githubs_schema(workflow):
    """Each workflow validates against GitHub's workflow schema."""
    done = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_is_clean_under_zizmor(workflow):
    """Each workflow has no finding under `zizmor --offline` (pinned actions, no injection, least privilege)."""
    done = subprocess.run([_tool("zizmor"), "--offline", str(workflow)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_classroom_workflow_grades_and_reports():
    """The student workflow grades once, fills the step summary, feeds the legacy reporter and keeps the JSON."""
    text = (ROOT / ".github" / "workflows" / "classroom.yml").read_text()
    assert "python -m grader grade" in text and "GITHUB_STEP_SUMMARY" in text
    assert "--format classroom" in text and "autograding-grading-reporter@v1" in text
    assert "ASYNCIO_RESULTS: ${{ steps.grade.outputs.result }}" in text
    assert "upload-artifact" in text and "cache: pip" in text
    assert "HIDDEN_TESTS_TOKEN" in text and "--tests .hidden-tests/tests" in text


def test_grade_class_workflow_grades_centrally():
    """The instructor's workflow runs on dispatch or a schedule, batches the roster, builds and keeps the dashboard."""
    text = (ROOT / ".github" / "workflows" / "grade-class.yml").read_text()
    assert "workflow_dispatch:" in text and "schedule:" in text
    assert "python -m grader batch roster.txt --out results" in text
    assert "python -m grader dashboard results --out site" in text
    assert "secrets.ROSTER_TOKEN" in text and "upload-artifact" in text
    # The token reaches git through a credential helper, never through a URL or the results.
    assert "x-access-token:" not in text and "@github.com" not in text
