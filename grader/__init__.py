"""The course grader: find, stage, run, score, report.

``python -m grader --help`` lists the commands.
"""
