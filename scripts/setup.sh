#!/usr/bin/env bash
# Set up rlgrade from nothing: a virtual environment with the pinned stack, the
# package itself (editable), and bubblewrap for the sandbox when we can install it.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if ! command -v bwrap >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing bubblewrap (the worker sandbox)"
        (apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null) \
            || echo "warning: could not install bubblewrap; workers will run with --sandbox process" >&2
    else
        echo "warning: bubblewrap (bwrap) is not installed; ask an admin to install it," \
             "or graders fall back to --sandbox process (no file hiding)" >&2
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
# torch first, alone: it is the big one and must be exactly the pinned build
"$VENV/bin/python" -m pip install -q -c requirements/constraints.txt torch torchvision
"$VENV/bin/python" -m pip install -q -c requirements/constraints.txt -e ".[test]"
"$VENV/bin/python" -c "import torch, torchvision, autograder; print('rlgrade', autograder.__version__, 'torch', torch.__version__)"
