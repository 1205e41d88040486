#!/usr/bin/env bash
# Runs the Slurm recipe of examples/compare/README.md end to end on a
# single-node Slurm started by hand (no systemd) from Debian's packages, on
# the few-second study examples/compare/studies/tiny.json:
#   - the README shows examples/compare/slurm/*.{sh,sbatch} as they are;
#   - submit.sh, as printed (3 shards, then a merge job), and the array
#     again with an offset (--array=1-3), merged by hand;
#   - every task and the merge job complete, their logs are in out/logs and
#     none in the repository root;
#   - both merged results equal an unsharded run of the same study, timings
#     aside: study.json, runs/*.json and *.csv, summary.{md,csv,json}.
# Needs root and apt-get; installs slurm-wlm, munge and jq if missing.
# Every daemon it starts is stopped by its pid on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
began=$SECONDS
say() { printf '\n== slurm: %s\n' "$*"; }
fail() { echo "slurm: $*" >&2; exit 1; }

say "the README shows the recipe's files as they are"
# readme_block FILE prints the fenced block after the README line naming FILE.
readme_block() {
  awk -v f="\`$1\`" 'state == 0 && index($0, f) { state = 1; next }
    state == 1 && /^```/ { state = 2; next }
    state == 2 && /^```/ { exit }
    state == 2 { print }' examples/compare/README.md
}
for f in examples/compare/slurm/compare.sbatch examples/compare/slurm/submit.sh; do
  diff <(readme_block "$f") "$f" || fail "examples/compare/README.md does not show $f as it is"
done

say "install slurm-wlm, munge and jq"
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null ||
  ! command -v munged >/dev/null || ! command -v jq >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurm-wlm munge jq >/dev/null
fi

say "start munged, slurmctld and slurmd"
run=$(mktemp -d /tmp/descent-slurm.XXXXXX)
pids=()
stop() {
  local status=$? pid started=()
  for pidfile in "${pids[@]}"; do
    pid=$(cat "$pidfile" 2>/dev/null) || continue
    kill "$pid" 2>/dev/null && started+=("$pid")
  done
  for pid in "${started[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  if [ $status -ne 0 ]; then
    for log in "$run"/*.log out/logs/compare-"${jid:-none}"*.out; do
      [ -f "$log" ] && { echo "--- $log"; tail -n 30 "$log"; }
    done
  fi
  rm -rf "$run"
}
trap stop EXIT
host=$(hostname -s)
mkdir -m 700 "$run/munge" "$run/state" "$run/spool"
dd if=/dev/urandom of="$run/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$run/munge/munge.key"
pids+=("$run/munge/munged.pid")
munged --force --key-file="$run/munge/munge.key" --socket="$run/munge/munge.socket" \
  --pid-file="$run/munge/munged.pid" --log-file="$run/munged.log" --seed-file="$run/munge/munged.seed"
# Job ids start from the clock, so that out/results/<job id> of an earlier
# run on this checkout is not reused.
cat > "$run/slurm.conf" <<EOF
ClusterName=descentci
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=${SLURMCTLD_PORT:-16817}
SlurmdPort=${SLURMD_PORT:-16818}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$run/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$run/state
SlurmdSpoolDir=$run/spool
SlurmctldPidFile=$run/slurmctld.pid
SlurmdPidFile=$run/slurmd.pid
SlurmctldLogFile=$run/slurmctld.log
SlurmdLogFile=$run/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
MinJobAge=600
FirstJobId=$(( $(date +%s) % 60000000 + 1 ))
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$run/slurm.conf
sbatch --version
pids+=("$run/slurmctld.pid" "$run/slurmd.pid")
slurmctld -c
slurmd
for _ in $(seq 60); do
  [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break
  sleep 1
done
sinfo
[ "$(sinfo -h -o %T)" = idle ] || fail "the node did not come up"

say "the recipe as printed: examples/compare/slurm/submit.sh (3 shards, a merge job)"
study=examples/compare/studies/tiny.json
before=$(ls slurm-*.out 2>/dev/null || true)
submitted=$(examples/compare/slurm/submit.sh "$study" 3)
echo "$submitted"
jid=$(echo "$submitted" | sed -n 's/^array job \([0-9]*\) .*, merge job \([0-9]*\)$/\1/p')
mid=$(echo "$submitted" | sed -n 's/^array job \([0-9]*\) .*, merge job \([0-9]*\)$/\2/p')
[ -n "$jid" ] && [ -n "$mid" ] || fail "submit.sh did not print the job ids"

say "the same array with an offset: --array=1-3"
oid=$(sbatch --parsable --array=1-3 examples/compare/slurm/compare.sbatch "$study")

say "wait for jobs $jid, $mid and $oid"
for _ in $(seq 300); do
  [ -z "$(squeue -h -j "$jid,$mid,$oid" 2>/dev/null)" ] && break
  sleep 1
done
[ -z "$(squeue -h -j "$jid,$mid,$oid")" ] || { squeue; fail "jobs still queued after 300 s"; }
for id in "$jid" "$mid" "$oid"; do
  states=$(scontrol show job "$id" | grep -o 'JobState=[A-Z_]*\|ExitCode=[0-9:]*' | sort | uniq -c)
  echo "job $id:" $states
  if scontrol show job "$id" | grep -o 'JobState=[A-Z_]*' | grep -qv 'JobState=COMPLETED' ||
    scontrol show job "$id" | grep -o ' ExitCode=[0-9:]*' | grep -qv 'ExitCode=0:0'; then
    fail "job $id did not complete"
  fi
done

say "logs in out/logs, none in the repository root"
for f in out/logs/compare-"$jid"_{0,1,2}.out out/logs/compare-"$jid"-merge.out out/logs/compare-"$oid"_{1,2,3}.out; do
  [ -f "$f" ] || fail "no log $f"
done
[ "$(ls slurm-*.out 2>/dev/null || true)" = "$before" ] || fail "a log landed in the repository root"
cat "out/logs/compare-$jid-merge.out"

say "the merged results equal an unsharded run (timings aside)"
out/bin/compare -study "$study" -q -out "$run/whole" >/dev/null
out/bin/compare -merge -q -out "$run/offset" out/results/"$oid"/shard-* >/dev/null
ls out/results/"$oid"
untimed() { # untimed FILE prints FILE without its timing fields or columns
  case "$1" in
    *.json) jq -S 'walk(if type == "object" then del(.seconds, .seconds_to_target, .examples_per_second) else . end)' "$1" ;;
    *.csv) awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) keep[i] = $i !~ /^(seconds|examples_per_second)/ }
      { line = ""; for (i = 1; i <= NF; i++) if (keep[i]) line = line $i ","; print line }' "$1" ;;
    *.md) awk -F'|' 'NF > 3 { NF -= 3 } { print }' OFS='|' "$1" ;;
  esac
}
for merged in "out/results/$jid/merged" "$run/offset"; do
  files=$(cd "$run/whole" && ls study.json summary.md summary.csv summary.json runs/*)
  [ "$(cd "$merged" && ls study.json summary.md summary.csv summary.json runs/*)" = "$files" ] ||
    fail "$merged holds other files than the unsharded run"
  for f in $files; do
    diff <(untimed "$run/whole/$f") <(untimed "$merged/$f") >/dev/null || {
      diff <(untimed "$run/whole/$f") <(untimed "$merged/$f") | head -20
      fail "$merged/$f differs from the unsharded run's"
    }
  done
  echo "$merged: $(echo "$files" | wc -w) files equal to the unsharded run's"
done
cat "out/results/$jid/merged/summary.md"

say "a tuned study: submit.sh runs the tuning stage, then the final stage"
tuned=examples/compare/studies/tiny-tuned.json
submitted=$(examples/compare/slurm/submit.sh "$tuned" 3)
echo "$submitted"
ids=$(echo "$submitted" | sed -n 's/^[a-z]*: *array job \([0-9]*\) .*, merge job \([0-9]*\)$/\1 \2/p' | tr '\n' ' ')
read -r tjid tmid fjid fmid <<<"$ids"
[ -n "${fmid:-}" ] || fail "submit.sh did not print the tuned study's job ids"
for _ in $(seq 300); do
  [ -z "$(squeue -h -j "$tjid,$tmid,$fjid,$fmid" 2>/dev/null)" ] && break
  sleep 1
done
[ -z "$(squeue -h -j "$tjid,$tmid,$fjid,$fmid")" ] || { squeue; fail "tuned jobs still queued after 300 s"; }
for id in "$tjid" "$tmid" "$fjid" "$fmid"; do
  if scontrol show job "$id" | grep -o 'JobState=[A-Z_]*' | grep -qv 'JobState=COMPLETED'; then
    fail "job $id of the tuned study did not complete"
  fi
done
out/bin/compare -study "$tuned" -q -out "$run/tuned" >/dev/null
for pair in "$run/tuned/tuning out/results/$tjid/merged" "$run/tuned out/results/$fjid/merged"; do
  read -r whole merged <<<"$pair"
  for f in study.json summary.md summary.csv summary.json; do
    diff <(untimed "$whole/$f") <(untimed "$merged/$f") >/dev/null || {
      diff <(untimed "$whole/$f") <(untimed "$merged/$f") | head -20
      fail "$merged/$f differs from the unsharded run's"
    }
  done
  echo "$merged: equal to the unsharded run's $(basename "$whole")"
done
echo
echo "slurm: recipe passed in $((SECONDS - began)) s"
