#!/usr/bin/env bash
# Runs one libFuzzer target over its seed corpora, then as libFuzzer is told (-runs=N for a
# bounded number of new inputs, -max_total_time=S for a long run). New inputs go to a
# temporary directory, never into the source tree; a crash leaves its input in
# $FUZZ_ARTIFACTS (default: the current directory) as NAME-crash-<sha1>.
#
# Usage: fuzz/run.sh TARGET_BINARY NAME [libFuzzer options...]
# Seeds: fuzz/corpus/NAME (checked in: generated inputs and every past finding), plus
#   tests/data/snapshots for snapshot_json; with FUZZ_SHARED=1, also the real dumps of
#   ../shared/data (KVMPROBE_SHARED_DATA) when present, read in place (xz ones decompressed
#   into the temporary directory), never copied into the repository.
# Environment: FUZZ_KEEP=DIR keeps the inputs libFuzzer generated there.
set -euo pipefail
bin=${1:?usage: run.sh TARGET_BINARY NAME [libFuzzer options]}
name=${2:?usage: run.sh TARGET_BINARY NAME [libFuzzer options]}
shift 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kvmprobe-fuzz-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/new"
[[ -n ${FUZZ_KEEP:-} ]] && mkdir -p "$FUZZ_KEEP" && work_new=$FUZZ_KEEP || work_new=$work/new
dirs=("$work_new" "$here/corpus/$name")
[[ $name == snapshot_json ]] && dirs+=("$src/tests/data/snapshots")

shared=${KVMPROBE_SHARED_DATA:-$src/../shared/data}
if [[ ${FUZZ_SHARED:-0} == 1 && -d $shared ]]; then
  case $name in
    import_libcpuid|import_dump)
      dirs+=("$shared/libcpuid-tests") ;;
  esac
  case $name in
    import_aida64|import_dump)
      # Some InstLatX64 dumps (xz): libFuzzer reads bytes, so they are decompressed here.
      mkdir -p "$work/aida"
      find "$shared/instlatx64-cpuid" -name '*.txt.xz' -size -40k 2>/dev/null | sort | head -n 60 |
        while read -r f; do xz -dc "$f" >"$work/aida/$(basename "$f" .xz)" 2>/dev/null || true; done
      dirs+=("$work/aida") ;;
  esac
fi
artifacts=${FUZZ_ARTIFACTS:-$PWD}
mkdir -p "$artifacts"
# 256 MiB per allocation is kvmprobe's budget for any input; the RSS limit allows for
# AddressSanitizer's overhead. -seed=1 makes a bounded run the same every time.
exec "$bin" -seed=1 -timeout=25 -rss_limit_mb=1024 -malloc_limit_mb=256 -max_len=262144 \
  -artifact_prefix="$artifacts/$name-" -print_final_stats=1 "$@" "${dirs[@]}"
