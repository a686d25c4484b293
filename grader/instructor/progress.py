"""What a batch shows while it runs (a log's lines or a terminal's status line) and what it did per student."""
from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

from grader.instructor.gradebook import Sighting
from grader.instructor.results import points_text

# graded now, skipped as unchanged, could not be graded (an error record), or not graded by this run at all
# (interrupted, or a fault of the grader's own: any earlier result is kept).
Action = Literal["graded", "skipped", "error", "not graded"]
PROGRESS_EVERY = 30.0  # seconds between the status lines of a log (CI): often enough to show it is alive
REDRAW_EVERY = 1.0  # seconds between redraws of a terminal's status line when nothing else changed


def _duration(seconds: float) -> str:
    """A rough duration for an estimate: "40 s", "3 min", "1 h 5 min"."""
    whole = max(1, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes = round(whole / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


class Progress:
    """Where the batch is, from its first moment, then its summary line.

    In a log (CI): a line when it starts, one per finished student, and a
    ``progress:`` line (done, cloned, left, time to go) every PROGRESS_EVERY
    seconds. On a terminal: the same status kept on one line rewritten in
    place, with the last student; errors and notes get lines of their own.
    Worker threads only count clones (``clone_done``); everything is written
    from the batch's main thread.
    """

    def __init__(self, stream: TextIO, total: int, *, clock: Callable[[], float] = time.monotonic,
                 every: float = PROGRESS_EVERY, width: int | None = None) -> None:
        self.stream = stream
        self.total = total
        self.done = 0
        self.cloning = False
        self._cloned = 0
        self._lock = threading.Lock()
        self._clock = clock
        self._every = every
        self._started = self._last_status = clock()
        self._drawn: tuple[int, int, float] | None = None  # (done, cloned, when) of the terminal line shown
        self._last = ""  # the last finished student's line, shown on a terminal's status line
        try:
            self.tty = stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self._width = width if width is not None else shutil.get_terminal_size().columns
        self._open_line = False

    @property
    def cloned(self) -> int:
        """Repositories fetched so far."""
        with self._lock:
            return self._cloned

    def start(self, workers: int, *, cloning: bool = False) -> None:
        """The first line, before any student is fetched or graded."""
        self.cloning = cloning
        self.note(f"grading {self.total} student(s), {workers} at a time"
                  + ("; each repository is fetched first" if cloning else ""))
        self.tick()

    def clone_done(self) -> None:
        """One more repository fetched (called from worker threads)."""
        with self._lock:
            self._cloned += 1

    def note(self, text: str) -> None:
        """A line that stays, whatever the display."""
        self._end_line()
        self.stream.write(text + "\n")
        self.stream.flush()

    def finished(self, outcome: StudentOutcome) -> None:
        """Show one student's outcome."""
        self.done += 1
        line = f"[{self.done}/{self.total}] {outcome.describe()}"
        if self.tty and outcome.action not in ("error", "not graded"):
            self._last = line
            self._draw()
        else:
            self.note(line)  # errors stay on screen, on a terminal too
            if self.tty:
                self._draw()

    def tick(self) -> None:
        """Called between waits: a log's periodic status line, or a fresh terminal line (new clones, the estimate)."""
        now = self._clock()
        if self.tty:
            drawn = self._drawn
            if drawn is None or drawn[:2] != (self.done, self.cloned) or now - drawn[2] >= REDRAW_EVERY:
                self._draw()
        elif now - self._last_status >= self._every:
            self._last_status = now
            self.note(f"progress: {self.done}/{self.total} done, {self.status()}")

    def status(self) -> str:
        """Repositories fetched, students left and the time they should take."""
        left = self.total - self.done
        parts = [f"cloned {self.cloned}/{self.total}"] if self.cloning else []
        parts.append(f"{left} left")
        if self.done == 0:
            parts.append("time to go not known yet")
        elif left:
            parts.append(f"about {_duration((self._clock() - self._started) / self.done * left)} to go")
        return ", ".join(parts)

    def summary(self, summary: BatchSummary, out: Path) -> None:
        """The final line."""
        not_graded = f", not graded {summary.not_graded}" if summary.not_graded else ""
        self.note(f"graded {summary.graded}, skipped {summary.skipped}, errors {summary.errors}{not_graded} "
                  f"of {len(summary.students)} student(s) in {summary.duration:.1f} s; results in {out}")

    def _draw(self) -> None:
        line = f"[{self.done}/{self.total}] " + (self._last.split("] ", 1)[1] + " · " if self._last else "")
        line += self.status()
        if len(line) >= self._width > 1:  # a wrapped line could not be rewritten in place
            line = line[: self._width - 2] + "…"
        self.stream.write(f"\r\x1b[K{line}")
        self.stream.flush()
        self._open_line = True
        self._drawn = (self.done, self.cloned, self._clock())

    def _end_line(self) -> None:
        if self._open_line:  # the status line gives way to a line that stays; the next draw brings it back
            self.stream.write("\r\x1b[K")
            self._open_line = False


@dataclass(frozen=True)
class StudentOutcome:
    """What the batch did for one student."""

    student: str
    action: Action  # graded now, skipped as unchanged, or could not be graded
    score: float
    max_score: float
    seconds: float
    message: str = ""
    sighting: Sighting | None = None  # the revision this run had in hand, for the gradebook

    def describe(self) -> str:
        """The progress line's text."""
        if self.action == "error":
            return f"{self.student} error: {self.message} ({self.seconds:.1f} s)"
        if self.action == "not graded":
            return f"{self.student} not graded: {self.message}"
        if self.action == "skipped":
            return f"{self.student} {points_text(self.score)}/{points_text(self.max_score)} (unchanged, skipped)"
        if self.message:  # graded in part: the message says what was not
            return f"{self.student} partial: {self.message} ({self.seconds:.1f} s)"
        return f"{self.student} {points_text(self.score)}/{points_text(self.max_score)} ({self.seconds:.1f} s)"


@dataclass(frozen=True)
class BatchSummary:
    """The outcome of a batch, student by student in input order."""

    students: tuple[StudentOutcome, ...]
    duration: float

    def _count(self, action: Action) -> int:
        return sum(1 for s in self.students if s.action == action)

    @property
    def graded(self) -> int:
        """Students graded by this run."""
        return self._count("graded")

    @property
    def skipped(self) -> int:
        """Students whose unchanged earlier result was kept."""
        return self._count("skipped")

    @property
    def errors(self) -> int:
        """Students who could not be graded."""
        return self._count("error")

    @property
    def not_graded(self) -> int:
        """Students this run recorded nothing for (interrupted, or a fault of the grader's)."""
        return self._count("not graded")
