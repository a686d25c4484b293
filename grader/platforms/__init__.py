"""Platforms: what ``python -m grader publish`` ships, and the code that runs there.

``bundle`` is the self-contained course copy an autograder grades with;
``classroom50`` and ``gradescope`` grade a submission inside one;
``student_files`` writes the student template's README and packaging;
``leaks`` is the check that nothing secret reaches what students can read.
"""
