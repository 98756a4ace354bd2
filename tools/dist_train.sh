#!/usr/bin/env bash
# Multi-process training with torchrun (gloo on CPU when CUDA is missing).
# Usage: tools/dist_train.sh CONFIG NPROC [train.py options]
# Environment: NNODES, NODE_RANK, MASTER_ADDR, PORT (default 29500).
set -euo pipefail
exec "$(dirname "$0")/dist_launch.sh" train.py "$2" "$1" "${@:3}"
