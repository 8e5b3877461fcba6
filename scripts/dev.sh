#!/usr/bin/env bash
# musicgate set-up and main jobs, for a fresh machine with Python 3.11 and pip.
#   bash scripts/dev.sh demo   # set up .venv, then run the main job
#   bash scripts/dev.sh test   # set up .venv, then run the whole test suite
#   bash scripts/dev.sh setup  # set up .venv only
# The CPU build of torch is installed first (torch==2.13.0 resolves to it on machines without a
# GPU), so pip never pulls the multi-GB CUDA packages; pyproject.toml keeps a normal range.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

setup() {
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    # The sound renderer (midirenderer) is a normal dependency of musicgate.
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "torch==2.13.0" -e ".[test,bench]"
}

demo() {
    # The shipped models write samples in three keys per cell, render them, run a short
    # retention analysis and build the gallery page; it prints where to open it.
    "$VENV/bin/musicgate" demo
}

run_tests() {
    local rc=0
    "$VENV/bin/python" -m pytest "$@" || rc=$?
    if [ "$rc" -eq 5 ]; then
        echo "dev.sh: pytest collected no tests; that is a failure" >&2
        return 1
    fi
    return "$rc"
}

case "${1:-}" in
    setup) setup ;;
    demo) setup && demo ;;
    test) shift; setup && run_tests "$@" ;;
    *) echo "usage: bash scripts/dev.sh demo|test|setup" >&2; exit 2 ;;
esac
