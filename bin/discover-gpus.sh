#!/usr/bin/env bash
# GPU discovery for Spark's resource scheduling: prints {"name": "gpu", "addresses": ["0", "1", ...]},
# the format spark.{driver,executor}.resource.gpu.discoveryScript expects, from nvidia-smi (no GPUs, or
# no nvidia-smi: an empty list). Ship it with the job and point Spark at it, e.g.
#   --conf spark.executor.resource.gpu.amount=1 --conf spark.task.resource.gpu.amount=1 \
#   --conf spark.executor.resource.gpu.discoveryScript=bin/discover-gpus.sh
set -u
ids=""
if command -v nvidia-smi >/dev/null 2>&1; then
  ids=$(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | tr -d ' ' | grep -E '^[0-9]+$' \
        | sed 's/.*/"&"/' | paste -sd, -)
fi
printf '{"name": "gpu", "addresses": [%s]}\n' "$ids"
