#!/usr/bin/env python3
"""Gradescope autograder entry (``run_autograder`` runs it with ``python -I``).

Grades ``ROOT/submission`` with this folder's own grader, test kit,
course.toml, public and hidden tests, and writes ``ROOT/results/results.json``
(ROOT: the first argument, else ``AUTOGRADER_ROOT``, else ``/autograder``).
When grading itself fails, results.json still says why, with a score of 0.
"""
import json
import os
import sys
import traceback
from pathlib import Path

# python -I leaves this folder off sys.path; the bundle's grader comes from here.
HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, HERE)
# An editable install of the course in this Python (an instructor's machine)
# adds a finder that would fill in any module missing from the bundle.
sys.meta_path[:] = [f for f in sys.meta_path if not str(getattr(f, "__module__", "")).startswith("__editable__")]


def write_failure(root: Path, reason: str) -> None:
    """A valid results.json with a score of 0 that says grading failed, and why."""
    document = {
        "score": 0,
        "execution_time": 0,
        "output": f"Grading failed, through no fault of your code; tell your instructor. The reason: {reason}",
        "tests": [],
    }
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "results.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def main() -> int:
    """Grade, or record why grading failed."""
    root = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    try:
        from grader.platforms.gradescope import grade_upload

        grade_upload(root)
    except BaseException as exc:  # noqa: BLE001 - never leave Gradescope without a result
        traceback.print_exc()
        lines = str(exc).strip().splitlines()
        write_failure(root, f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300])
    return 0  # Gradescope reads results.json either way


if __name__ == "__main__":
    sys.exit(main())
