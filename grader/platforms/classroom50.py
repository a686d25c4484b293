"""Classroom 50: grade one assignment of a student's checkout inside its autograder bundle.

Classroom 50 extracts ``autograders/<slug>/`` of the classroom's config
repository, then runs ``python3 autograder.py`` with the student's checkout
as the working directory and the bundle in ``CLASSROOM50_BUNDLE_DIR``. The
bundle's ``autograder.py`` (``classroom50_autograder.py`` here) calls
:func:`grade_checkout`, which writes ``./result.json`` and
``./release-body.md``, and the commit status and its one-line summary to
``$GITHUB_OUTPUT`` (the runner posts them as a commit status, which GitHub
caps at 140 characters).
"""
from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from grader.files import write_atomic
from grader.model import GradeResult
from grader.platforms.bundle import (
    BundleError,
    check_requirements,
    grade_bundle,
    read_config,
)
from grader.report import classroom50 as result_format
from grader.report import markdown

RESULT_NAME = "result.json"
BODY_NAME = "release-body.md"
PLACEHOLDER = "unknown"


def platform_env(env: Mapping[str, str]) -> dict[str, str]:
    """Classroom 50's variables, with a placeholder for any that is unset.

    The platform always sets them; a run by hand may not, and a placeholder
    keeps the grade instead of losing it to a missing variable.
    """
    completed = dict(env)
    for var in result_format.ENV_FIELDS.values():
        if not completed.get(var):
            completed[var] = PLACEHOLDER
            print(f"autograder: {var} is not set; result.json says {PLACEHOLDER!r}", file=sys.stderr)
    if result_format.owner(completed) is None:
        completed["OWNER"] = PLACEHOLDER
        print(f"autograder: OWNER is not set; result.json says {PLACEHOLDER!r}", file=sys.stderr)
    if not completed["SUBMISSION_TAG"].startswith("submit/"):
        completed["SUBMISSION_TAG"] = f"submit/{completed['SUBMISSION_TAG']}"
    return completed


def grade_checkout(bundle: Path, workspace: Path, env: Mapping[str, str]) -> GradeResult:
    """Grade the bundle's one assignment in ``workspace``; write result.json and release-body.md there."""
    config = read_config(bundle)
    if config.grades is None or len(config.grades) != 1:
        raise BundleError(f"a Classroom 50 bundle grades exactly one assignment, not {config.grades}")
    for warning in check_requirements(bundle):
        print(f"autograder: warning: {warning}", file=sys.stderr)
    result = grade_bundle(bundle, workspace, list(config.grades))
    completed = platform_env(env)
    document = result_format.render(result, completed)
    body = markdown.render(result, completed)
    write_atomic(workspace / RESULT_NAME, document)
    try:
        write_atomic(workspace / BODY_NAME, body)
    except OSError as exc:  # optional for Classroom 50, which then writes one from result.json
        print(f"autograder: could not write {BODY_NAME}: {exc}", file=sys.stderr)
    state, summary = result_format.status_and_summary(result)
    write_outputs(env, state, summary)
    for a in result.assignments:
        print(f"autograder: {a.id} {a.title}: {a.score:g}/{a.max_score:g} ({a.status}: {a.message})")
    return result


def write_outputs(env: Mapping[str, str], state: str, summary: str) -> None:
    """Append ``status`` and ``summary`` to ``$GITHUB_OUTPUT`` (when set): the runner then posts them as they are."""
    target = env.get("GITHUB_OUTPUT")
    if target:
        with open(target, "a", encoding="utf-8") as outputs:
            outputs.write(f"status={state}\nsummary={result_format.summary_line(summary)}\n")
