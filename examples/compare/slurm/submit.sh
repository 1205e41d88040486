#!/bin/bash
# Runs a study on Slurm: one build, an array of shards, then a merge job. A
# tuned study runs so twice: its tuning stage, then its final stage with the
# rates the merged tuning chose.
# usage (from the repository root): examples/compare/slurm/submit.sh [study.json] [shards]
set -euo pipefail
study=${1:-examples/compare/studies/mnist.json}
shards=${2:-8}
go build -o out/bin/compare ./examples/compare   # one build for every task
mkdir -p out/logs                                # sbatch does not create it
# A wrong study or shard count fails here rather than in the queue.
plan=$(out/bin/compare -dry-run -study "$study" -out out/results/dry-run)
plan=${plan%%$'\n'*}   # its first line says whether the study is tuned
# array AFTER FLAGS... submits an array of shards (once job AFTER succeeded,
# if set) with the flags, and its merge job; it sets jid and mid.
array() {
  local after=$1 dep=()
  shift
  [ -z "$after" ] || dep=(--dependency="afterok:$after" --kill-on-invalid-dep=yes)
  jid=$(sbatch --parsable "${dep[@]}" --array="0-$((shards - 1))" examples/compare/slurm/compare.sbatch "$study" "$@")
  mid=$(sbatch --parsable --dependency="afterok:$jid" --kill-on-invalid-dep=yes \
      --job-name=compare-merge --output="out/logs/compare-$jid-merge.out" \
      --wrap="out/bin/compare -merge -q -out out/results/$jid/merged out/results/$jid/shard-*")
}
if [[ $plan == *"tuning stage"* ]]; then
  out/bin/compare -dry-run -study "$study" -stage tune -shard "$((shards - 1))/$shards" -out out/results/dry-run >/dev/null
  final=$(sed -n 's/.*final stage: .* = \([0-9]*\) runs$/\1/p' <<<"$plan")
  [ "$shards" -le "$final" ] || { echo "$shards shards, but the final stage has $final runs" >&2; exit 1; }
  array "" -stage tune
  tjid=$jid tmid=$mid
  array "$tmid" -tuning "out/results/$tjid/merged"
  echo "tuning: array job $tjid ($shards shards), merge job $tmid"
  echo "final:  array job $jid ($shards shards), merge job $mid"
  echo "logs:    out/logs/compare-<job>_<task>.out, out/logs/compare-<job>-merge.out"
  echo "results: out/results/$tjid/merged (tuning), out/results/$jid/merged (final)"
else
  out/bin/compare -dry-run -study "$study" -shard "$((shards - 1))/$shards" -out out/results/dry-run >/dev/null
  array ""
  echo "array job $jid ($shards shards), merge job $mid"
  echo "logs:    out/logs/compare-${jid}_<task>.out, out/logs/compare-$jid-merge.out"
  echo "results: out/results/$jid/shard-<k>, merged into out/results/$jid/merged"
fi
