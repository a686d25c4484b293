#!/usr/bin/env python3
"""Set up and run the course from a fresh clone, with nothing but Python 3.11+.

    python3 dev.py demo    # set up (runtime dependencies only), then grade the reference solutions
    python3 dev.py test    # set up (with the dev, nbgrader and gradebook extras), then run the course's own tests
    python3 dev.py check   # the slow tests, then `python -m grader check --repeat 20` on every Python found
    python3 dev.py texts   # regenerate the tests' own catalogs (assignments/NN/locale, tests/NN/locale)

Setup makes ./.venv and installs the course with its pinned dependencies;
it is skipped when pyproject.toml has not changed since the last setup and
the extras a command needs are installed. Extras are added to an existing
environment, never by rebuilding it.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".installed"
PYTHONS = ("python3.11", "python3.12", "python3.13")
REPEAT = 20  # runs of the hidden suites on the solutions, each in a new random order


NEXT_STEPS = """
That was the grader scoring the reference solutions. Every grader command runs with this
course's environment: `.venv/bin/python -m grader ...` (or `source .venv/bin/activate` first).
Next steps (the README's instructor guide says more):
  .venv/bin/python -m grader grade --submission PATH    grade one student's repository
  .venv/bin/python -m grader publish --out DIR          the student template and the hidden-test bundle
  .venv/bin/python -m grader batch SUBMISSIONS --out results     grade a class
  .venv/bin/python -m grader dashboard results --out site        the instructor's dashboard
  python3 dev.py test                                   the course's own tests (installs the dev tools)"""


def _python(env: Path) -> Path:
    return env / "bin" / "python"


ALL_EXTRAS = "dev,nbgrader,gradebook"


def _installed(stamp: Path, project: str) -> set[str] | None:
    """The extras a stamp says are installed for this pyproject.toml, or None when it is stale or missing."""
    try:
        recorded, _, extras = stamp.read_text().partition("\n")
    except OSError:
        return None
    return set(filter(None, extras.split(","))) if recorded == project else None


def setup(env: Path = VENV, interpreter: str | None = None, extras: str = ALL_EXTRAS) -> Path:
    """Create the virtual environment and install the course with ``extras`` into it, once per pyproject change.

    ``extras=""`` installs what grading needs and nothing else (the demo);
    asking later for more extras installs them into the same environment.
    """
    project = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = env / ".installed"
    wanted = set(filter(None, extras.split(",")))
    have = _installed(stamp, project) if _python(env).exists() else None
    if have is not None and wanted <= have:
        return _python(env)
    if have is None:
        print(f"setting up {env.relative_to(ROOT)} (about a minute) ...", flush=True)
        if interpreter is None:
            venv.EnvBuilder(with_pip=True, clear=True).create(env)
        else:
            subprocess.run([interpreter, "-m", "venv", "--clear", str(env)], check=True)
        have = set()
    else:
        print(f"adding the {','.join(sorted(wanted - have))} extras to {env.relative_to(ROOT)} ...", flush=True)
    everything = sorted(wanted | have)
    target = f"{ROOT}[{','.join(everything)}]" if everything else str(ROOT)
    quiet = ["-q", "--disable-pip-version-check"]
    subprocess.run([str(_python(env)), "-m", "pip", "install", *quiet, "-e", target], check=True)
    stamp.write_text(f"{project}\n{','.join(everything)}")
    return _python(env)


def _run(python: Path, *args: str) -> int:
    return subprocess.run([str(python), *args], cwd=ROOT).returncode


def check_all_pythons() -> int:
    """Run the course check (and the grader's hostile corpus) on every supported Python found on PATH or in pyenv."""
    status = 0
    running = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for name in PYTHONS:
        if name == running:
            python = setup()  # the interpreter running this script already has .venv
        else:
            found = _interpreter(name)
            if found is None:
                print(f"{name}: not found, skipped")
                continue
            python = setup(ROOT / ".venv-checks" / name, interpreter=found, extras="dev")
        print(f"{name}: python -m grader check --repeat {REPEAT}", flush=True)
        status |= _run(python, "-m", "grader", "check", "--repeat", str(REPEAT))
        if name != running:  # `dev.py test` ran the whole suite on this one
            # The guard rests on audit events, the fork server on os.fork and each run's namespaces on
            # os.unshare (3.12+) or ctypes (3.11): prove them on this Python too.
            # The innocent corpus too: what the standard library does lazily differs from one Python to the next.
            # The hostile corpus runs unsandboxed and sandboxed (its slow half); -rs names any skip, so a machine
            # where bubblewrap cannot run says so instead of passing quietly without the sandboxed half.
            print(f"{name}: the hostile- and innocent-submission corpora and the runner tests", flush=True)
            status |= _run(python, "-m", "pytest", "-q", "-rs", "-p", "no:randomly",
                           "tests/grader/test_hostile_corpus.py",
                           "tests/grader/test_hostile_submissions.py", "tests/grader/test_innocent_corpus.py",
                           "tests/grader/test_runner.py", "tests/grader/test_sandbox_runs.py")
    return status


def _interpreter(name: str) -> str | None:
    """A working interpreter for ``name``: pyenv's install first, then PATH.

    A pyenv shim on PATH exists even for a version that is not active, and
    fails when run, so every candidate is tried before it is used.
    """
    for candidate in (_pyenv(name), shutil.which(name)):
        if candidate and subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None


def _pyenv(name: str) -> str | None:
    version = name.removeprefix("python")
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = sorted(versions.glob(f"{version}.*/bin/python3")) if versions.is_dir() else []
    return str(candidates[-1]) if candidates else None


def main(argv: list[str]) -> int:
    """Run one of the commands above; returns the exit status."""
    if len(argv) != 1 or argv[0] not in ("demo", "test", "check", "texts"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if sys.version_info < (3, 11):
        print("the course needs Python 3.11 or newer", file=sys.stderr)
        return 2
    command = argv[0]
    if command == "check":
        print("the slow tests (measurements, whole-class runs)", flush=True)
        status = _run(setup(), "-m", "pytest", "-p", "randomly", "-m", "slow")
        return status | check_all_pythons()
    if command == "texts":  # after changing a test's docstring or message: then translate what is new
        sys.path.insert(0, str(ROOT))  # standard library only: no environment to set up
        from coursekit.test_texts import write_catalogs

        print(*write_catalogs(ROOT, ["zh_CN"]) or ["the catalogs are up to date"], sep="\n")
        return 0
    if command == "demo":
        status = _run(setup(extras=""), "-m", "grader", "grade", "--submission", "solutions")
        if status == 0:
            print(NEXT_STEPS)
        return status
    return _run(setup(), "-m", "pytest", "-p", "randomly", "-m", "not slow")


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as exc:
        print(f"dev.py: {' '.join(map(str, exc.cmd))} failed with status {exc.returncode}", file=sys.stderr)
        sys.exit(1)
