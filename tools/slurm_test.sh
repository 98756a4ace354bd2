#!/usr/bin/env bash
# Testing on a Slurm cluster, one process per GPU.
# Usage: tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT
#        [test.py options]
# Environment: GPUS, GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS, PYTHON
# (see slurm_launch.sh).
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "error: usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT" \
        "[test.py options]" >&2
    exit 1
fi
exec "$(dirname "$0")/slurm_launch.sh" test.py "$1" "$2" "$3" "$4" "${@:5}"
