"""The workflows are valid GitHub Actions, clean under a security audit and a linter, and do what the README says."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from repo_support import ROOT

CLONE = 'python -m grader clone roster.txt --out shard --shard "$SHARD"'

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
ACTIONLINT = Path(__file__).parent / "actionlint" / "node_modules" / "@tktco" / "node-actionlint" / "bin" / \
    "node-actionlint.js"
# The commit of each action's newest release, read from its repository, whose action.yml says `using: node24`
# (node20 actions are deprecated and forced onto node24 since June 2026). The legacy reporter is node20 and
# has no other release: its v1 is a lightweight tag on the commit "Release v1".
PINNED = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "actions/download-artifact": ("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
    "actions/cache": ("27d5ce7f107fe9357f9df03efb73ab90386fccae", "v5.0.5"),
    "classroom-resources/autograding-grading-reporter": ("d13b5912daf5042ac1b71bc38bdb4a6bcd61d8ca", "v1"),
}


def _tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is not installed: pip install -e '.[dev]'"
    return str(path)


def test_there_are_workflows():
    """The student grading workflow and the course's CI exist."""
    assert {p.name for p in WORKFLOWS} >= {"classroom.yml", "ci.yml"}


def test_workflows_match_githubs_schema():
    """Every workflow validates against GitHub's workflow schema (check-jsonschema's copy: no network)."""
    done = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                           *map(str, WORKFLOWS)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_is_clean_under_zizmor(workflow):
    """Each workflow has no finding under `zizmor --offline` (pinned actions, no injection, least privilege)."""
    done = subprocess.run([_tool("zizmor"), "--offline", str(workflow)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow  # about 5 s: node loads the WebAssembly build
def test_workflows_are_clean_under_actionlint():
    """Every workflow has no finding under actionlint 1.7.7 (its WebAssembly build, from npm): expressions,
    contexts, `needs` and job outputs, action inputs."""
    if not ACTIONLINT.exists() or shutil.which("node") is None:
        pytest.skip("actionlint is not installed: npm ci --prefix tests/platforms/actionlint (needs node >= 20)")
    done = subprocess.run(["node", str(ACTIONLINT), ".github/workflows/*.yml"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Checking {len(WORKFLOWS)} workflow file(s)" in done.stdout and "passed lint checks" in done.stdout


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_a_node24_release_pinned_by_its_commit(workflow):
    """Every `uses:` names a full commit SHA, with its tag in a comment, and it is that action's node24 release."""
    uses = re.findall(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", workflow.read_text(), re.MULTILINE)
    assert uses
    for target, comment in uses:
        action, _, ref = target.partition("@")
        action = "/".join(action.split("/")[:2])  # actions/cache/restore is a part of actions/cache
        assert re.fullmatch(r"[0-9a-f]{40}", ref), (workflow.name, target)
        assert (ref, comment.strip()) == (PINNED[action][0], f"# {PINNED[action][1]}"), (workflow.name, target)


def test_classroom_workflow_grades_and_reports():
    """The student workflow grades once, fills the step summary, feeds the legacy reporter and keeps the JSON."""
    text = (ROOT / ".github" / "workflows" / "classroom.yml").read_text()
    assert "python -m grader grade" in text and "GITHUB_STEP_SUMMARY" in text
    assert "--format classroom" in text and "autograding-grading-reporter@" in text
    assert "ASYNCIO_RESULTS: ${{ steps.grade.outputs.result }}" in text
    assert "upload-artifact" in text and "cache: pip" in text
    assert "HIDDEN_TESTS_TOKEN" in text and "--tests .hidden-tests/tests" in text


def test_grade_class_workflow_grades_centrally():
    """The instructor's workflow runs on dispatch or a schedule, batches the roster, builds and keeps the dashboard."""
    text = (ROOT / ".github" / "workflows" / "grade-class.yml").read_text()
    assert "workflow_dispatch:" in text and "schedule:" in text
    assert 'python -m grader batch roster.txt "${args[@]}"' in text
    assert 'python -m grader dashboard results --out site --key "$RUNNER_TEMP/results.key"' in text
    assert "secrets.ROSTER_TOKEN" in text and "upload-artifact" in text
    # The token reaches git through a credential helper, never through a URL or the results.
    assert "x-access-token:" not in text and "@github.com" not in text


def _steps(workflow: Path, job_id: str | None = None) -> list[tuple[dict[str, object], dict[str, object]]]:
    """Every step of every job (or of one) of ``workflow``, with the environment it runs in (workflow, job and step
    ``env``)."""
    document = _document(workflow)
    found = []
    for name, job in document["jobs"].items():
        if job_id is not None and name != job_id:
            continue
        for step in job.get("steps", []):
            env = {**document.get("env", {}), **job.get("env", {}), **step.get("env", {})}
            found.append((step, env))
    return found


def _document(workflow: Path) -> dict[str, Any]:
    import yaml

    document: dict[str, Any] = yaml.safe_load(workflow.read_text())
    return document


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
            assert workflow.name == "grade-class.yml" and command == CLONE, (workflow.name, step.get("name"))


def test_grade_class_clones_with_the_token_then_grades_sandboxed_without_it():
    """grade-class.yml: the sandbox is made possible (bubblewrap installed, Ubuntu 24.04's AppArmor restriction on
    user namespaces detected and lifted), the roster cloned in one step, graded from that clone in a later one."""
    steps = _steps(ROOT / ".github" / "workflows" / "grade-class.yml", "grade")
    commands = [str(step.get("run", "")) for step, _ in steps]
    setup = next(i for i, c in enumerate(commands) if "apt-get install" in c)
    clone = commands.index(CLONE)
    grade = next(i for i, c in enumerate(commands) if 'python -m grader batch roster.txt "${args[@]}"' in c)
    assert setup < grade and clone < grade
    assert ('args=(--out shard --cloned --shard "$SHARD" --previous results --key "$RUNNER_TEMP/results.key")'
            in commands[grade])
    assert "bubblewrap" in commands[setup]
    assert "sysctl -n kernel.apparmor_restrict_unprivileged_userns" in commands[setup]
    assert "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in commands[setup]
    assert "--sandbox" not in commands[grade] and "--no-sandbox" not in commands[grade]  # batch requires it
    assert [step.get("name") for step, env in steps if "ROSTER_TOKEN" in str(env)] == \
        ["Clone this shard's repositories"]


def test_student_workflow_falls_back_to_public_tests_when_the_hidden_tests_cannot_be_fetched():
    """HIDDEN_TESTS_REPO set but its token not visible here: checkout fails (an empty token is an error to it), the
    job goes on, a notice says so, and grading runs on the public tests (no half-made .hidden-tests is left)."""
    steps = [step for step, _ in _steps(ROOT / ".github" / "workflows" / "classroom.yml")]
    names = [step.get("name") for step in steps]
    fetch = steps[names.index("Fetch the hidden tests")]
    assert fetch["id"] == "hidden" and fetch["continue-on-error"] is True
    assert fetch["if"] == "vars.HIDDEN_TESTS_REPO != ''"
    notice = steps[names.index("Say the hidden tests are missing")]
    assert notice["if"] == "steps.hidden.outcome == 'failure'"
    assert "rm -rf .hidden-tests" in str(notice["run"]) and "::notice " in str(notice["run"])
    grade = names.index("Grade")
    assert names.index("Fetch the hidden tests") < names.index("Say the hidden tests are missing") < grade
    assert "if [ -d .hidden-tests/tests ]; then" in str(steps[grade]["run"])


def test_grade_class_shards_the_roster_and_merges_the_shards_keeping_unchanged_results():
    """A plan job turns the roster (or the `shards` input) into a matrix; each shard restores the last run's merged
    results from the Actions cache, clones and grades only its slice, keeping those results where nothing changed;
    a merge job joins every shard into one results folder, one dashboard and one artifact, and caches the folder
    for the next run (one entry for the class: the number of shards may change between runs)."""
    workflow = ROOT / ".github" / "workflows" / "grade-class.yml"
    jobs = _document(workflow)["jobs"]
    plan_steps = _steps(workflow, "plan")
    assert any(env.get("SHARDS") == "${{ inputs.shards || vars.GRADE_SHARDS }}" for _, env in plan_steps)
    plan = [str(step.get("run", "")) for step, _ in plan_steps]
    assert any('python -m grader shards roster.txt --shards "${SHARDS}"' in c and
               "python -m grader shards roster.txt)" in c and '"shards=${matrix}" >> "$GITHUB_OUTPUT"' in c
               for c in plan)
    assert jobs["grade"]["needs"] == "plan" and jobs["grade"]["strategy"]["fail-fast"] is False
    assert jobs["grade"]["strategy"]["matrix"] == {"include": "${{ fromJSON(needs.plan.outputs.shards) }}"}
    steps = [step for step, _ in _steps(workflow, "grade")]
    names = [step.get("name") for step in steps]
    restore = steps[names.index("Restore the last run's results")]
    assert restore["uses"].startswith("actions/cache/restore@")
    assert restore["with"] == {"path": "results/students", "key": "grades-v1-${{ github.run_id }}",
                               "restore-keys": "grades-v1-"}
    assert names.index("Write the results key") < names.index("Restore the last run's results") < \
        names.index("Clone this shard's repositories") < names.index("Grade the cloned repositories")
    for step in steps:
        if "python -m grader" in str(step.get("run", "")):
            assert step["env"]["SHARD"] == "${{ matrix.shard }}"
    upload = steps[names.index("Keep this shard's results for the merge")]
    assert upload["with"] == {"name": "shard-${{ matrix.slug }}", "retention-days": 1,
                              "path": "shard/students/\nshard/summary.json\nshard/grades.csv\n"}
    assert jobs["merge"]["needs"] == "grade"
    merge = [step for step, _ in _steps(workflow, "merge")]
    runs = [str(step.get("run", "")) for step in merge]
    download = next(step for step in merge if str(step.get("uses", "")).startswith("actions/download-artifact@"))
    assert download["with"] == {"pattern": "shard-*", "path": "shards"}
    assert 'python -m grader merge roster.txt shards/shard-* --out results --key "$RUNNER_TEMP/results.key"' in runs
    save = next(step for step in merge if str(step.get("uses", "")).startswith("actions/cache/save@"))
    assert save["with"] == {"path": restore["with"]["path"],  # a cache entry is restored only at the path it was saved
                            "key": "grades-v1-${{ github.run_id }}-${{ github.run_attempt }}"}
    assert merge.index(save) > runs.index(next(r for r in runs if "grader merge" in r))
    assert merge[-1]["with"]["name"] == "class-grades" and "site/" in merge[-1]["with"]["path"]


def test_the_results_key_comes_from_a_secret_in_steps_that_run_no_grader(tmp_path: Path):
    """The key that seals records persists between runs as the RESULTS_KEY secret, is written in steps that run
    nothing of the grader's (so no student code), outside the workspace, 0600: `load_key` takes the file it
    writes, and a missing secret stops the shard with an error rather than regrading everyone unsealed."""
    from grader.errors import UsageError
    from grader.records import load_key

    workflow = ROOT / ".github" / "workflows" / "grade-class.yml"
    writers = [(step, env) for step, env in _steps(workflow) if "RESULTS_KEY" in str(env)]
    assert [step["name"] for step, _ in writers] == ["Write the results key", "Write the results key"]
    for step, env in writers:
        assert env == {"RESULTS_KEY": "${{ secrets.RESULTS_KEY }}"}
        assert "python" not in str(step["run"]) and "grader" not in str(step["run"])
    script = str(writers[0][0]["run"])
    secret = "k" * 64

    def run(value: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30,
                              env={**os.environ, "RESULTS_KEY": value, "RUNNER_TEMP": str(tmp_path)})

    missing = run("")
    assert missing.returncode == 1 and "::error title=RESULTS_KEY::" in missing.stdout
    assert not (tmp_path / "results.key").exists()
    assert run(secret).returncode == 0
    key = load_key(tmp_path / "results.key", create=False)
    assert (tmp_path / "results.key").stat().st_mode & 0o777 == 0o600
    assert key.verify("p", {"a": 1}, key.seal("p", {"a": 1}))
    with pytest.raises(UsageError):  # the same secret, a world-readable file: refused, as any such key
        (tmp_path / "results.key").chmod(0o644)
        load_key(tmp_path / "results.key", create=False)
