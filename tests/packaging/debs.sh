#!/usr/bin/env bash
# Prints the directory holding the .debs of the committed tree (HEAD), building them first with
# packaging/build-deb.sh when /var/cache/kvmprobe-pkg has none for this tree hash.
# Usage: tests/packaging/debs.sh [--cached]   (--cached: never build; exit 1 when not cached)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${KVMPROBE_PKG_CACHE:-/var/cache/kvmprobe-pkg}
tree=$(git -C "$src" rev-parse 'HEAD^{tree}')
dir=$CACHE/debs-$tree
if [ -f "$dir/.ok" ]; then echo "$dir"; exit 0; fi
if [ "${1:-}" = --cached ]; then echo "debs: none cached for tree $tree ($dir)" >&2; exit 1; fi
rm -rf "$dir.new"
mkdir -p "$dir.new"
"$src/packaging/build-deb.sh" "$dir.new" >/dev/null
touch "$dir.new/.ok"
rm -rf "$dir"
mv "$dir.new" "$dir"
# Keep the three newest trees.
ls -dt "$CACHE"/debs-* 2>/dev/null | grep -v '\.new$' | tail -n +4 | xargs -r rm -rf
echo "$dir"
