#!/usr/bin/env bash
# Training on a Slurm cluster, one process per GPU.
# Usage: tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py options]
# Environment: GPUS, GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS, PYTHON
# (see slurm_launch.sh).
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "error: usage: $0 PARTITION JOB_NAME CONFIG [train.py options]" >&2
    exit 1
fi
exec "$(dirname "$0")/slurm_launch.sh" train.py "$1" "$2" "$3" "${@:4}"
