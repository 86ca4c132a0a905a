#!/usr/bin/env bash
# Long fuzzing runs: every libFuzzer target in turn (one at a time, in one process: the machine is
# shared), each for RUNS new inputs (default 2000000: a count, so a run does the same work on a
# busy or a quiet machine and, with -seed=1 in fuzz/run.sh, the same inputs; --time SECONDS
# adds a wall-clock cap for when the machine is needed), over its seed corpora
# and, when present, the real dumps of ../shared/data (FUZZ_SHARED=1). Prints one line per
# target: executions, seconds, executions/s, and whether it found anything (its input is then
# in ARTIFACTS, to be added to fuzz/corpus/NAME as a regression input with the fix).
#
# Usage: bench/fuzz.sh [--runs N] [--time SECONDS] [--build DIR] [--artifacts DIR] [TARGET...]
# Builds DIR (default build-fuzz) with clang-14 first.
set -euo pipefail
cd "$(dirname "$0")/.."
time_s=0 runs=2000000 build=build-fuzz artifacts=$PWD/build-fuzz/fuzz/artifacts targets=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --time) time_s=$2; shift ;;
    --runs) runs=$2; shift ;;
    --build) build=$2; shift ;;
    --artifacts) artifacts=$2; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
command -v clang++-14 >/dev/null || { echo "bench/fuzz.sh: clang++-14 is needed (scripts/install-deps.sh)" >&2; exit 2; }
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -DKVMPROBE_FUZZ=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_targets >/dev/null
if [[ ${#targets[@]} -eq 0 ]]; then
  mapfile -t targets < <(sed -n '/^set(KVMPROBE_FUZZ_TARGETS/,/)/p' fuzz/CMakeLists.txt | tr ' ()' '\n\n\n' |
    grep -v -e '^$' -e KVMPROBE_FUZZ_TARGETS -e '^set$')
fi
mkdir -p "$artifacts"
status=0
printf '%-18s %14s %8s %10s  %s\n' target executions seconds exec/s result
for t in "${targets[@]}"; do
  log=$artifacts/$t.log
  start=$(date +%s)
  if FUZZ_SHARED=1 FUZZ_ARTIFACTS=$artifacts bash fuzz/run.sh "$build/fuzz/fuzz_$t" "$t" \
       -max_total_time="$time_s" -runs="$runs" >"$log" 2>&1; then
    result="no finding"
  else
    result="FINDING (see $log)"
    status=1
  fi
  secs=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  printf '%-18s %14s %8s %10s  %s\n' "$t" "${execs:-?}" "$secs" "$(( ${execs:-0} / (secs > 0 ? secs : 1) ))" "$result"
done
exit $status
