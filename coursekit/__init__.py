"""Shared kit for the course's tests: probes, assertions with feedback, and the pytest plugin.

Public and hidden tests import their helpers from here and nowhere else, so a
probe is written once and means the same thing in every assignment.
"""

# Set by the pytest plugin while pytest renders a judged test's failure: the kit's frames (how the test
# reaches the student's code) are left out of it. Each kit module a judged test calls into names
# ``hidden_in_judged_failures`` its ``__tracebackhide__``, which pytest asks for every frame it shows.
rendering_judged_failure = False


def hidden_in_judged_failures(excinfo: object) -> bool:
    """pytest's ``__tracebackhide__`` for the kit's modules (``--full-trace`` shows everything)."""
    return rendering_judged_failure
