#!/usr/bin/env bash
# Builds a static guest program of this directory. Usage: build.sh [--name NAME] [OUTPUT]
# NAME: kvm_oracle (default) or migrate_oracle, from NAME.c. OUTPUT defaults to the VM cache,
# <cache>/oracle/NAME. Rebuilds only when the source changed; prints the path.
set -euo pipefail
# shellcheck source=../common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
name=kvm_oracle
if [ "${1:-}" = --name ]; then name=${2:?--name needs a value}; shift 2; fi
src=$VM_DIR/oracle/$name.c
[ -f "$src" ] || die "no guest program source $src"
if [ $# -gt 0 ]; then out=$1; else
  cache=$(vm_cache_dir) || die "no usable cache directory"
  out=$cache/oracle/$name
fi
mkdir -p "$(dirname "$out")"
sum=$(sha256sum "$src" | cut -d' ' -f1)
if [ -x "$out" ] && [ "$(cat "$out.src-sha256" 2>/dev/null)" = "$sum" ]; then
  echo "$out"; exit 0
fi
command -v "${CC:-cc}" >/dev/null || die "no C compiler '${CC:-cc}' (run scripts/install-deps.sh)"
"${CC:-cc}" -static -O2 -Wall -Wextra -Werror -o "$out.tmp.$$" "$src" 2>"$out.err" ||
  die "cannot build $src: $(grep -m1 -E 'error|undefined' "$out.err" || head -n1 "$out.err")"
rm -f "$out.err"
mv "$out.tmp.$$" "$out"
echo "$sum" >"$out.src-sha256"
echo "$out"
