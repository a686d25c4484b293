#!/usr/bin/env python3
"""Gradescope autograder entry (``run_autograder`` runs it with ``python -I``).

Grades ``ROOT/submission`` with this folder's own grader, test kit,
course.toml, public and hidden tests, and writes ``ROOT/results/results.json``
(ROOT: the first argument, else ``AUTOGRADER_ROOT``, else ``/autograder``).
When grading itself fails (a broken bundle, missing packages), it writes no
results.json, prints why and exits 1: Gradescope then marks the submission
"The autograder failed to execute correctly", shows the instructor this
output, and records no score, rather than a 0 the student did not earn.
"""
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
    """Leave no results.json (a half-written one included) and say why grading failed, for the instructor."""
    results = root / "results" / "results.json"
    try:
        results.unlink(missing_ok=True)
    except OSError as exc:
        print(f"autograder: could not remove {results}: {exc}")
    print(f"autograder: grading failed, so no score is recorded (not the student's fault): {reason}")


def main() -> int:
    """Grade (0), or say why grading failed and write no result (1)."""
    root = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    try:
        from grader.platforms.gradescope import grade_upload

        grade_upload(root)
    except BaseException as exc:  # noqa: BLE001 - whatever failed, the instructor must see why
        traceback.print_exc(file=sys.stdout)  # Gradescope shows the instructor stdout (results/stdout)
        lines = str(exc).strip().splitlines()
        write_failure(root, f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
