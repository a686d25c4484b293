#!/usr/bin/env bash
# Gradescope runs this (as /autograder/run_autograder) for every submission:
# grade /autograder/submission with the course copy in /autograder/source and
# write /autograder/results/results.json.
#   AUTOGRADER_ROOT    stands in for /autograder (to try the autograder locally)
#   AUTOGRADER_PYTHON  the Python to grade with (default: the one setup.sh made)
set -u
root="${AUTOGRADER_ROOT:-/autograder}"
python="${AUTOGRADER_PYTHON:-$root/venv/bin/python}"
if [ ! -x "$python" ]; then
  python="$(command -v python3)"
fi
exec "$python" -I "$root/source/gradescope_autograder.py" "$root"
