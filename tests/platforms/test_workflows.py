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


def _steps(workflow: Path) -> list[tuple[dict[str, object], dict[str, object]]]:
    """Every step of every job of ``workflow``, with the environment it runs in (workflow, job and step ``env``)."""
    import yaml

    document = yaml.safe_load(workflow.read_text())
    found = []
    for job in document["jobs"].values():
        for step in job.get("steps", []):
            env = {**document.get("env", {}), **job.get("env", {}), **step.get("env", {})}
            found.append((step, env))
    return found


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_no_step_that_grades_holds_the_roster_token(workflow):
    """No step that runs `python -m grader batch` or `grade` (student code) has ROSTER_TOKEN in its environment,
    nor names the secret in its command; only grade-class.yml's clone step holds the token."""
    for step, env in _steps(workflow):
        command = str(step.get("run", ""))
        holds_token = "ROSTER_TOKEN" in str(env) or "ROSTER_TOKEN" in command
        if "python -m grader batch" in command or "python -m grader grade" in command:
            assert not holds_token, (workflow.name, step.get("name"))
        if holds_token:
            assert workflow.name == "grade-class.yml" and command == "python -m grader clone roster.txt --out results", \
                (workflow.name, step.get("name"))


def test_grade_class_clones_with_the_token_then_grades_sandboxed_without_it():
    """grade-class.yml: the sandbox is made possible (bubblewrap installed, Ubuntu 24.04's AppArmor restriction on
    user namespaces detected and lifted), the roster cloned in one step, graded from that clone in a later one."""
    steps = _steps(ROOT / ".github" / "workflows" / "grade-class.yml")
    commands = [str(step.get("run", "")) for step, _ in steps]
    setup = next(i for i, c in enumerate(commands) if "apt-get install" in c)
    clone = commands.index("python -m grader clone roster.txt --out results")
    grade = commands.index("python -m grader batch roster.txt --out results --cloned")
    assert setup < grade and clone < grade
    assert "bubblewrap" in commands[setup]
    assert "sysctl -n kernel.apparmor_restrict_unprivileged_userns" in commands[setup]
    assert "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in commands[setup]
    assert "--sandbox" not in commands[grade] and "--no-sandbox" not in commands[grade]  # batch requires it
    assert [step.get("name") for step, env in steps if "ROSTER_TOKEN" in str(env)] == \
        ["Clone every repository on the roster"]
