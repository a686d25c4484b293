"""``python -m mutation``: mutation testing of the reference solutions against the course's tests."""
