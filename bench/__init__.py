"""``python -m bench``: how long grading takes, measured on this machine.

See ``bench/__main__.py`` for what is measured and how; nothing here is
imported by the grader or the course's tests.
"""
