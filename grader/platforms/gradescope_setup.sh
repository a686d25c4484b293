#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image
# (Ubuntu): a Python 3.11-3.13 in /autograder/venv with the course's pinned
# requirements. AUTOGRADER_ROOT stands in for /autograder.
set -euo pipefail
root="${AUTOGRADER_ROOT:-/autograder}"

supported() {
  "$1" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null
}

python=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null && supported "$candidate"; then
    python="$candidate"
    break
  fi
done
if [ -z "$python" ]; then
  # Ubuntu 22.04 images ship Python 3.10: take 3.12 from the deadsnakes archive.
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y software-properties-common
  add-apt-repository -y ppa:deadsnakes/ppa
  apt-get update
  apt-get install -y python3.12 python3.12-venv
  python=python3.12
fi
if ! "$python" -m venv "$root/venv"; then
  # Debian and Ubuntu ship venv separately (python3-venv, python3.12-venv).
  apt-get update
  apt-get install -y "$(basename "$(readlink -f "$(command -v "$python")")")-venv" || apt-get install -y python3-venv
  "$python" -m venv "$root/venv"
fi
"$root/venv/bin/python" -m pip install --disable-pip-version-check --no-cache-dir -r "$root/source/requirements.txt"
