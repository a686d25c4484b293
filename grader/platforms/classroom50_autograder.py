#!/usr/bin/env python3
"""Classroom 50 autograder of one assignment (``python -m grader publish`` writes it as autograder.py).

Classroom 50 runs ``python3 autograder.py`` with the student's checkout as the
working directory and this folder in ``CLASSROOM50_BUNDLE_DIR``. It grades
the checkout's ``assignments/NN/<module>.py`` (the assignment in
bundle.json) with this folder's own grader, test kit, course.toml, public
and hidden tests, writes ``./result.json`` and ``./release-body.md``, and
exits 0 whatever happens: when grading itself fails, result.json says why,
with a score of 0, so the submission is never lost.

The Python that runs it needs the course's pinned dependencies:
``python3 -m pip install -r requirements.txt`` (this folder's) in the
classroom's setup.
"""
import os
import sys

# Import only from the bundle: never a grader, coursekit or a module shadowing
# the standard library from the student's checkout (the working directory).
BUNDLE = os.path.realpath(os.environ.get("CLASSROOM50_BUNDLE_DIR") or os.path.dirname(os.path.abspath(__file__)))
_CHECKOUT = os.path.realpath(os.getcwd())
sys.path[:] = [BUNDLE] + [p for p in sys.path[1:] if p and os.path.realpath(p) != _CHECKOUT]
# An editable install of the course in this Python (an instructor's machine)
# adds a finder that would fill in any module missing from the bundle.
sys.meta_path[:] = [f for f in sys.meta_path if not str(getattr(f, "__module__", "")).startswith("__editable__")]

import json  # after sys.path is safe
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# result.json field -> Classroom 50's variable (as grader/report/classroom50.py, which may not import here).
ENV_FIELDS = {
    "classroom": "CLASSROOM",
    "assignment": "ASSIGNMENT",
    "submission": "SUBMISSION_TAG",
    "commit": "COMMIT_URL",
    "release": "RELEASE_URL",
    "review": "REVIEW_URL",
}


def _points() -> dict:
    try:
        with open(os.path.join(BUNDLE, "bundle.json"), encoding="utf-8") as config:
            return {str(k): int(v) for k, v in json.load(config)["points"].items()}
    except Exception:  # noqa: BLE001 - the failure result must be written whatever is broken
        return {}


def write_failure(reason: str) -> None:
    """A valid result.json (score 0) and release-body.md that say grading failed, and why."""
    document: dict[str, Any] = {"schema": "classroom50/result/v1"}
    for field, var in ENV_FIELDS.items():
        document[field] = os.environ.get(var) or "unknown"
    if not document["submission"].startswith("submit/"):
        document["submission"] = "submit/" + document["submission"]
    points = _points()
    tests: list[dict[str, Any]] = [{"test-name": f"{key}/grading", "passed": False, "score": 0, "max-score": value,
              "feedback": f"grading failed: {reason}"} for key, value in sorted(points.items())]
    document.update({
        "datetime": datetime.now(UTC).isoformat(timespec="seconds"),
        "score": 0,
        "max-score": sum(points.values()),
        "tests": tests or [{"test-name": "grading", "passed": False, "score": 0, "max-score": 0,
                            "feedback": f"grading failed: {reason}"}],
    })
    with open("result.json", "w", encoding="utf-8") as result:
        result.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    body = ("## Score: 0\n\n**Grading failed**, through no fault of your code: the autograder could not run. "
            "Tell your instructor; the reason was:\n\n```text\n" + reason.replace("```", "'''") + "\n```\n")
    with open("release-body.md", "w", encoding="utf-8") as release_body:
        release_body.write(body)
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as outputs:
            outputs.write("status=error\nsummary=grading failed: " + " ".join(reason.split()) + "\n")


def _reason(exc: BaseException) -> str:
    # One line for the student; the whole traceback is in the log above.
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    return text if len(text) <= 300 else text[:297] + "..."


def main() -> int:
    """Grade, or record why grading failed; always 0, as Classroom 50 asks."""
    try:
        from grader.platforms.classroom50 import grade_checkout

        grade_checkout(Path(BUNDLE), Path.cwd(), os.environ)
    except BaseException as exc:  # noqa: BLE001 - never lose a submission's result
        traceback.print_exc()
        try:
            write_failure(_reason(exc))
        except Exception:  # noqa: BLE001
            traceback.print_exc()
    return 0


if __name__ == "__main__":
    sys.exit(main())
