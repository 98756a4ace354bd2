#!/usr/bin/env bash
# Runs one of the tools as a Slurm job step with srun, one task per GPU;
# shared by slurm_train.sh and slurm_test.sh. Each task is one process of
# the run; mmengine reads its rank and the node list from Slurm's variables
# (--launcher slurm).
# Usage: tools/slurm_launch.sh TOOL.py PARTITION JOB_NAME [tool arguments...]
# Environment:
#   GPUS           tasks (processes) in all          (default 4)
#   GPUS_PER_NODE  tasks and GPUs per node           (default 4, at most GPUS)
#   CPUS_PER_TASK  CPU cores per task                (default 5)
#   SRUN_ARGS      further srun options, split at white space
#   PYTHON         interpreter on the nodes          (default python)
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "error: usage: $0 TOOL.py PARTITION JOB_NAME [tool arguments...]" >&2
    exit 1
fi
TOOL=$1
PARTITION=$2
JOB_NAME=$3
GPUS=${GPUS:-4}
GPUS_PER_NODE=${GPUS_PER_NODE:-4}
if [ "$GPUS" -lt "$GPUS_PER_NODE" ]; then
    GPUS_PER_NODE=$GPUS
fi
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
# Deliberately split: SRUN_ARGS holds several options.
read -r -a EXTRA_SRUN_ARGS <<< "${SRUN_ARGS:-}"
TOOLS_DIR=$(dirname "$0")

PYTHONPATH="$TOOLS_DIR/..":${PYTHONPATH:-} \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    ${EXTRA_SRUN_ARGS[@]+"${EXTRA_SRUN_ARGS[@]}"} \
    "${PYTHON:-python}" -u "$TOOLS_DIR/$TOOL" "${@:4}" --launcher slurm
