#!/usr/bin/env bash
# Multi-process testing with torchrun (gloo on CPU when CUDA is missing).
# Usage: tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py options]
# Environment: NNODES, NODE_RANK, MASTER_ADDR, PORT (default 29500).
set -euo pipefail
exec "$(dirname "$0")/dist_launch.sh" test.py "$3" "$1" "$2" "${@:4}"
