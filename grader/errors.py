"""Errors the command line turns into a one-line message and exit status 2."""


class UsageError(Exception):
    """Bad usage or unusable input: the message is shown as is, on one line."""
