#!/usr/bin/env bash
# Runs one of the tools in NPROC processes with torchrun; shared by
# dist_train.sh and dist_test.sh. On machines without CUDA the processes use
# the gloo backend and run on CPU.
# Usage: tools/dist_launch.sh TOOL.py NPROC [tool arguments...]
set -euo pipefail
TOOL=$1
NPROC=$2
TOOLS_DIR=$(dirname "$0")

PYTHONPATH="$TOOLS_DIR/..":${PYTHONPATH:-} \
torchrun \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$NPROC" \
    --master_port="${PORT:-29500}" \
    "$TOOLS_DIR/$TOOL" \
    "${@:3}" \
    --launcher pytorch
