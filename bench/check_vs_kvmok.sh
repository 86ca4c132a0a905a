#!/usr/bin/env bash
# Times `kvmprobe check` against `kvm-ok` on this host: whole process, N runs each,
# median wall time, their ratio, and the peak RSS of kvmprobe (GNU time).
# Usage: bench/check_vs_kvmok.sh [path/to/kvmprobe] [runs]
set -euo pipefail
probe=${1:-build/cli/kvmprobe}
runs=${2:-50}
command -v kvm-ok >/dev/null || { echo "bench: kvm-ok not installed (apt-get install cpu-checker)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
[ -x "$probe" ] || { echo "bench: $probe is not executable" >&2; exit 1; }

median_ms() {  # command... -> median wall milliseconds over $runs runs
  local t=()
  for _ in $(seq "$runs"); do
    local s e
    s=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    e=$(date +%s%N)
    t+=($(( (e - s) / 1000 )))
  done
  printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f\n", m/1000}'
}

p=$(median_ms "$probe" check)
k=$(median_ms kvm-ok)
# check exits with its verdict (not 0 on a host without KVM): not a failure of the measurement
rss=$( { /usr/bin/time -f %M "$probe" check 2>&1 >/dev/null || true; } | tail -1)
echo "kvmprobe check: median ${p} ms over ${runs} runs, peak RSS ${rss} KiB"
echo "kvm-ok:         median ${k} ms over ${runs} runs"
awk -v p="$p" -v k="$k" 'BEGIN {printf "ratio kvm-ok / kvmprobe: %.1fx\n", k / p}'
