#!/bin/bash
# Runs a study on Slurm: one build, an array of shards, then a merge job.
# usage (from the repository root): examples/compare/slurm/submit.sh [study.json] [shards]
set -euo pipefail
study=${1:-examples/compare/studies/mnist.json}
shards=${2:-8}
go build -o out/bin/compare ./examples/compare   # one build for every task
mkdir -p out/logs                                # sbatch does not create it
# A wrong study or shard count fails here rather than in the queue.
out/bin/compare -dry-run -study "$study" -shard "$((shards - 1))/$shards" -out out/results/dry-run >/dev/null
jid=$(sbatch --parsable --array="0-$((shards - 1))" examples/compare/slurm/compare.sbatch "$study")
mid=$(sbatch --parsable --dependency="afterok:$jid" --kill-on-invalid-dep=yes \
    --job-name=compare-merge --output="out/logs/compare-$jid-merge.out" \
    --wrap="out/bin/compare -merge -q -out out/results/$jid/merged out/results/$jid/shard-*")
echo "array job $jid ($shards shards), merge job $mid"
echo "logs:    out/logs/compare-${jid}_<task>.out, out/logs/compare-$jid-merge.out"
echo "results: out/results/$jid/shard-<k>, merged into out/results/$jid/merged"
