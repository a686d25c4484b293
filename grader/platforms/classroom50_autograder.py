#!/usr/bin/env python3
"""Classroom 50 autograder of one assignment (``python -m grader publish`` writes it as autograder.py).

Classroom 50's runner runs ``python3 autograder.py`` with the student's
checkout as the working directory and this folder in
``CLASSROOM50_BUNDLE_DIR``, on whatever Python the assignment's runtime set
up (3.14 unless it says otherwise), with nothing installed: its runtime has no
``pip install`` step. So this script first makes sure it runs on a Python the
course supports (3.11 to 3.13) with the course's pinned packages
(``requirements.txt`` here): when either is missing it builds a virtual
environment with them, cached between runs on the same machine, and runs
itself again there. Then it grades the checkout's
``assignments/NN/<module>.py`` (the assignment in bundle.json) with this
folder's own grader, test kit, course.toml, public and hidden tests, writes
``./result.json`` and ``./release-body.md``, and the commit status and its
summary to ``$GITHUB_OUTPUT``.

It exits 0 whatever happens, as Classroom 50 asks. When grading itself
fails (no usable Python, the packages cannot be installed, a broken bundle)
the status is ``error`` with a one-line reason, and result.json carries no
score (0 of 0, no tests): the runner then publishes no release, so no score
is collected for a run that graded nothing.

Settings (environment): ``ASYNCIO_COURSE_PYTHON`` an interpreter to build
the environment with; ``ASYNCIO_COURSE_VENV_CACHE`` where environments are
kept (default ``$XDG_CACHE_HOME/asyncio-course`` or
``~/.cache/asyncio-course``); pip reads its own ``PIP_*`` settings (an index
mirror, for example).
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

import glob  # after sys.path is safe
import hashlib
import json
import shutil
import subprocess
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

SUPPORTED = ((3, 11), (3, 13))  # the course's Pythons, first and last (pyproject.toml's requires-python)
PROVISIONED = "ASYNCIO_COURSE_PROVISIONED"  # set for the run inside the environment this script built
PYTHON_VAR = "ASYNCIO_COURSE_PYTHON"
CACHE_VAR = "ASYNCIO_COURSE_VENV_CACHE"
PIP_TIMEOUT = 900  # seconds pip may take to install the pinned packages
SUMMARY_LIMIT = 140  # GitHub's limit for a commit-status description (as grader/report/classroom50.py)
TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"  # Classroom 50's result-v1 schema
# result.json field -> Classroom 50's variable (as grader/report/classroom50.py, which may not import here).
ENV_FIELDS = {
    "classroom": "CLASSROOM",
    "assignment": "ASSIGNMENT",
    "submission": "SUBMISSION_TAG",
    "commit": "COMMIT_URL",
    "release": "RELEASE_URL",
    "review": "REVIEW_URL",
}


class ProvisionError(Exception):
    """No Python with the course's packages can be had here; the message is one line saying why."""


# --- Which Python grades -------------------------------------------------------------------------


def supported(version: Sequence[int]) -> bool:
    """Whether a Python ``(major, minor, ...)`` is one the course supports."""
    return SUPPORTED[0] <= tuple(version[:2]) <= SUPPORTED[1]


def requirement_pins() -> Dict[str, str]:
    """The bundle's pinned requirements: distribution name -> version."""
    pins = {}
    with open(os.path.join(BUNDLE, "requirements.txt"), encoding="utf-8") as listed:
        for line in listed:
            name, _, version = line.split("#")[0].strip().partition("==")
            if name:
                pins[name.strip()] = version.strip()
    return pins


def unmet_pins(pins: Dict[str, str]) -> List[str]:
    """The pins this Python does not satisfy (missing, or at another version)."""
    from importlib import metadata

    unmet = []
    for name, version in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            unmet.append(name)
            continue
        if version and installed != version:
            unmet.append(f"{name} {installed} (pinned {version})")
    return unmet


def choose_interpreter(current: Tuple[str, Sequence[int]], found: Sequence[Tuple[str, Sequence[int]]],
                       requested: Optional[str]) -> Optional[str]:
    """The interpreter to build the environment with: the requested one, else this one when the course
    supports it, else the newest supported one found; None when there is none."""
    if requested:
        return requested
    if supported(current[1]):
        return current[0]
    usable = [(tuple(version[:2]), path) for path, version in found if supported(version)]
    return max(usable)[1] if usable else None


def _candidates() -> List[str]:
    """Pythons a runner may have besides the one running this: on PATH, the system's, the Actions tool cache."""
    paths = []
    for minor in range(SUPPORTED[1][1], SUPPORTED[0][1] - 1, -1):
        name = f"python3.{minor}"
        paths += [shutil.which(name) or "", f"/usr/bin/{name}", f"/usr/local/bin/{name}"]
        for cache in {os.environ.get("RUNNER_TOOL_CACHE") or "/opt/hostedtoolcache", "/opt/hostedtoolcache"}:
            paths += sorted(glob.glob(os.path.join(cache, "Python", f"3.{minor}.*", "*", "bin", "python3")))
    seen, unique = set(), []
    for path in paths:
        if path and os.access(path, os.X_OK) and os.path.realpath(path) not in seen:
            seen.add(os.path.realpath(path))
            unique.append(path)
    return unique


def _version_of(python: str) -> Optional[List[int]]:
    try:
        done = subprocess.run([python, "-I", "-c", "import sys; print(*sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=60, check=False)
        return [int(part) for part in done.stdout.split()] if done.returncode == 0 else None
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def cache_root() -> Path:
    """Where environments are kept between runs on this machine (a self-hosted runner keeps them)."""
    if os.environ.get(CACHE_VAR):
        return Path(os.environ[CACHE_VAR])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "asyncio-course"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _pip(base: str, python: str) -> List[str]:
    """A pip command that installs into the environment of ``python``."""
    if subprocess.run([python, "-m", "pip", "--version"], capture_output=True, check=False).returncode == 0:
        return [python, "-m", "pip"]
    for host in (base, sys.executable):  # a pip elsewhere can install into it (pip 22.3+: --python)
        if subprocess.run([host, "-m", "pip", "--version"], capture_output=True, check=False).returncode == 0:
            return [host, "-m", "pip", "--python", python]
    raise ProvisionError(f"no pip to install the course's packages with: {base} has neither ensurepip nor pip "
                         f"(on Debian or Ubuntu: apt install python3-venv)")


def provision(pins: Dict[str, str]) -> str:
    """The Python of a cached environment with the pinned packages (built when missing); ProvisionError if none."""
    current = (sys.executable, tuple(sys.version_info[:2]))
    requested = os.environ.get(PYTHON_VAR)
    found = [] if requested or supported(current[1]) else [(p, v) for p in _candidates() if (v := _version_of(p))]
    base = choose_interpreter(current, found, requested)
    if base is None:
        raise ProvisionError(f"Python {current[1][0]}.{current[1][1]} runs this autograder and the course needs "
                             f"3.{SUPPORTED[0][1]} to 3.{SUPPORTED[1][1]}, which this runner lacks: set the "
                             f"assignment's runtime python to \"3.{SUPPORTED[1][1]}\"")
    version = _version_of(base)
    if version is None or not supported(version):
        raise ProvisionError(f"{base} cannot grade: it is not a Python 3.{SUPPORTED[0][1]} to 3.{SUPPORTED[1][1]}")
    requirements = "".join(f"{name}=={pin}\n" for name, pin in sorted(pins.items()))
    key = hashlib.sha256(f"{os.path.realpath(base)}\0{version}\0{requirements}".encode()).hexdigest()[:16]
    root = cache_root()
    venv = root / f"classroom50-{key}"
    python = str(venv / "bin" / "python")
    try:
        root.mkdir(parents=True, exist_ok=True)
        with open(root / f"classroom50-{key}.lock", "w", encoding="utf-8") as lock:
            try:
                import fcntl

                fcntl.flock(lock, fcntl.LOCK_EX)  # another autograder on this machine may be building it
            except ImportError:
                pass
            if (venv / ".complete").is_file() and os.access(python, os.X_OK):
                print(f"autograder: using the cached environment {venv}")
                return python
            _build(base, venv, python, requirements)
    except OSError as exc:
        raise ProvisionError(f"cannot make the grading environment in {root}: {exc}") from None
    return python


def _build(base: str, venv: Path, python: str, requirements: str) -> None:
    print(f"autograder: building a Python environment with the course's packages in {venv} (from {base})")
    shutil.rmtree(venv, ignore_errors=True)
    made = subprocess.run([base, "-m", "venv", str(venv)], capture_output=True, text=True, check=False)
    if made.returncode != 0:  # Debian and Ubuntu ship ensurepip apart (python3-venv): make it without pip
        shutil.rmtree(venv, ignore_errors=True)
        bare = subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], capture_output=True, text=True,
                              check=False)
        if bare.returncode != 0:
            raise ProvisionError(f"{base} cannot make a virtual environment: {_last_line(bare.stderr)}")
    listed = venv / "requirements.txt"
    listed.write_text(requirements, encoding="utf-8")
    command = _pip(base, python) + ["install", "--disable-pip-version-check", "--no-input", "--quiet",
                                    "-r", str(listed)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise ProvisionError(f"installing the course's packages took over {PIP_TIMEOUT} s") from None
    if done.returncode != 0:
        print(done.stdout + done.stderr, file=sys.stderr)
        raise ProvisionError(f"installing the course's packages failed: {_last_line(done.stderr)}")
    (venv / ".complete").write_text(requirements, encoding="utf-8")


# --- Results -------------------------------------------------------------------------------------


def summary_line(text: str) -> str:
    """``text`` on one line and at most SUMMARY_LIMIT characters."""
    line = " ".join(text.split())
    return line if len(line) <= SUMMARY_LIMIT else line[: SUMMARY_LIMIT - 1].rstrip() + "…"


def write_failure(reason: str) -> None:
    """result.json without a score (0 of 0, no tests), release-body.md saying why, and status ``error``."""
    document: Dict[str, Any] = {"schema": "classroom50/result/v1"}
    for field, var in ENV_FIELDS.items():
        document[field] = os.environ.get(var) or "unknown"
    if not document["submission"].startswith("submit/"):
        document["submission"] = "submit/" + document["submission"]
    kind = (os.environ.get("ASSIGNMENT_TYPE") or os.environ.get("MODE") or "individual").strip().lower()
    document.update({
        "owner": os.environ.get("OWNER") or os.environ.get("USERNAME") or "unknown",
        "assignment_type": kind or "individual",
        "datetime": datetime.now(timezone.utc).strftime(TIMESTAMP),
        "score": 0,
        "max-score": 0,
        "tests": [],
    })
    with open("result.json", "w", encoding="utf-8") as result:
        result.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    body = ("## Not graded\n\n**Grading failed**, through no fault of your code: the autograder could not run, "
            "so this submission has no score yet. Tell your instructor; the reason was:\n\n```text\n"
            + reason.replace("```", "'''") + "\n```\n")
    with open("release-body.md", "w", encoding="utf-8") as release_body:
        release_body.write(body)
    print(f"autograder: grading failed: {reason}", file=sys.stderr)
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as outputs:
            outputs.write("status=error\nsummary=" + summary_line("grading failed: " + reason) + "\n")


def _reason(exc: BaseException) -> str:
    # One line for the student; the whole traceback is in the log above.
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    return text if len(text) <= 300 else text[:297] + "..."


# --- Entry ---------------------------------------------------------------------------------------


def _regrade_in(python: str) -> None:
    """Run this script again with ``python``; a run that leaves no result.json is a grading failure."""
    for stale in ("result.json", "release-body.md"):  # never take a file from the checkout for our result
        if os.path.lexists(stale):
            os.unlink(stale)
    env = dict(os.environ, **{PROVISIONED: "1", "CLASSROOM50_BUNDLE_DIR": BUNDLE})
    done = subprocess.run([python, "-s", os.path.abspath(__file__)], env=env, check=False)
    if done.returncode != 0 or not os.path.isfile("result.json"):
        write_failure(f"the grading process ended with exit status {done.returncode}")


def main() -> int:
    """Grade, or record why grading failed; always 0, as Classroom 50 asks."""
    try:
        if os.environ.get(PROVISIONED) != "1":
            pins = requirement_pins()
            if not supported(sys.version_info) or unmet_pins(pins):
                _regrade_in(provision(pins))
                return 0
        from grader.platforms.classroom50 import grade_checkout

        grade_checkout(Path(BUNDLE), Path.cwd(), os.environ)
    except ProvisionError as exc:
        write_failure(str(exc))
    except BaseException as exc:  # noqa: BLE001 - never lose a submission's result
        traceback.print_exc()
        try:
            write_failure(_reason(exc))
        except Exception:  # noqa: BLE001
            traceback.print_exc()
    return 0


if __name__ == "__main__":
    sys.exit(main())
