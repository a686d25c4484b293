"""Fetching students' repositories with git, never prompting, killable when a batch is interrupted."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TextIO

from grader.instructor.roster import CREDENTIALS, Source
from grader.pipeline import Stopped

GIT_TIMEOUT = 600.0  # seconds one clone or update may take before it is killed
GIT_POLL = 0.5  # seconds between looks at whether an interrupted batch wants git stopped
MESSAGE_LIMIT = 300  # characters of a per-student message (they are one line)


class SubmissionError(Exception):
    """This one student cannot be graded; the message is one line for the results."""


def one_line(text: str) -> str:
    """``text`` on one line, cut to MESSAGE_LIMIT characters: a per-student message of the results."""
    line = " ".join(text.split())
    return line if len(line) <= MESSAGE_LIMIT else line[: MESSAGE_LIMIT - 1] + "…"


def run_git(*args: str, cwd: Path | None = None, stop: threading.Event | None = None) -> str:
    """Run git without a terminal to prompt on; its stdout, or SubmissionError with its last error line.

    When ``stop`` is set meanwhile (an interrupted batch), git is killed and Stopped raised.
    """
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never", "LC_ALL": "C"}
    child = subprocess.Popen(["git", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)  # so a timeout kills its helpers too
    deadline = time.monotonic() + GIT_TIMEOUT
    while True:
        try:
            stdout, stderr = child.communicate(timeout=GIT_POLL if stop is not None else GIT_TIMEOUT)
            break
        except subprocess.TimeoutExpired:
            stopped = stop is not None and stop.is_set()
            if not stopped and time.monotonic() < deadline:
                continue
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            if stopped:
                raise Stopped("the batch was interrupted") from None
            raise SubmissionError(f"git {args[0]} took longer than {GIT_TIMEOUT:g} s") from None
    if child.returncode != 0:
        raise SubmissionError(git_reason(stderr) or f"git {args[0]} exited with status {child.returncode}")
    return stdout.strip()


def git_reason(stderr: str) -> str:
    """The line of git's error output that says what went wrong: its first ``fatal:`` line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    reason = (fatal or lines or [""])[0].removeprefix("fatal:").removeprefix("error:").strip()
    return CREDENTIALS.sub(r"\1", reason)


def checkout(source: Source, dest: Path, stop: threading.Event | None = None) -> str:
    """Clone or update the student's repository at ``dest``; the commit sha it now holds.

    An update always resets and cleans the working tree, so a clone an
    interrupted batch left half-done is made whole (or cloned again) here.
    """
    assert source.git_url is not None
    url = source.git_url
    if (dest / ".git").is_dir():
        try:
            run_git("remote", "set-url", "origin", url, cwd=dest, stop=stop)
            run_git("fetch", "--quiet", "--depth", "1", "origin", "HEAD", cwd=dest, stop=stop)
            run_git("reset", "--quiet", "--hard", "FETCH_HEAD", cwd=dest, stop=stop)
            run_git("clean", "-ffdxq", cwd=dest, stop=stop)
            return _head(dest)
        except SubmissionError:
            pass  # a broken or interrupted checkout: clone it afresh below
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        # core.symlinks=false: a link in the repository becomes a plain file, so a
        # submission can never point the grader at another student's checkout.
        run_git("clone", "--quiet", "--depth", "1", "--config", "core.symlinks=false", "--", url, str(dest), stop=stop)
    except SubmissionError as exc:
        raise SubmissionError(f"clone failed: {str(exc).replace(url, source.location)}") from None
    return _head(dest)


def cloned_head(source: Source, dest: Path) -> str:
    """The commit sha of the checkout ``grader clone`` left at ``dest``, touching no network (``batch --cloned``)."""
    if not (dest / ".git").is_dir():
        raise SubmissionError(f"not cloned: no checkout of {source.location} in checkouts/{source.student} "
                              "(its clone failed or did not run: the clone step's log says why)")
    return _head(dest)


CLONE_WORKERS = 8  # clones at once: network-bound, so more than the cores


def clone_all(sources: list[Source], out: Path, stream: TextIO, workers: int = CLONE_WORKERS) -> int:
    """Clone or update every git source into ``out/checkouts/<student>``; one line each on ``stream``.

    Grades nothing and runs no submitted code: the step that holds the
    roster's credentials. Returns how many could not be cloned (a failed
    clone leaves no checkout, so ``batch --cloned`` records it as an error).
    """
    (out / "checkouts").mkdir(parents=True, exist_ok=True)

    def one(source: Source) -> str:
        try:
            return f"{source.student} {checkout(source, out / 'checkouts' / source.student)[:12]}"
        except SubmissionError as exc:
            return f"{source.student} not cloned: {one_line(str(exc))}"

    lines = []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(sources))), thread_name_prefix="clone") as pool:
        for line in pool.map(one, [s for s in sources if s.is_git]):
            lines.append(line)
            stream.write(line + "\n")
            stream.flush()
    return sum(1 for line in lines if " not cloned: " in line)


def _head(repository: Path) -> str:
    try:
        return run_git("rev-parse", "--verify", "HEAD^{commit}", cwd=repository)
    except SubmissionError:
        raise SubmissionError("the repository has no commits") from None


def commit_date(folder: Path) -> datetime | None:
    """The checked-out commit's own date from git: shown beside, never trusted (the student sets it)."""
    try:
        return datetime.fromisoformat(run_git("show", "-s", "--format=%cI", "HEAD", cwd=folder))
    except (SubmissionError, ValueError):
        return None
