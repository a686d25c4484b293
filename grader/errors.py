"""Errors the command line turns into a one-line message and an exit status."""


class UsageError(Exception):
    """Bad usage or unusable input: the message is shown as is, on one line (exit status 2)."""


class EnvironmentFault(Exception):
    """The grader cannot do its job here (its packages, the sandbox, an optional extra): nothing is graded or
    written; the message is one line naming what is wrong (``environment error: ...``, exit status 1)."""


class Interrupted(Exception):
    """A signal (SIGINT, SIGTERM) stopped a command cleanly; it exits with 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum
