#!/usr/bin/env bash
# Builds the Debian packages (kvmprobe, kvmprobe-dkms) from the committed tree (HEAD) into OUTDIR.
# Usage: packaging/build-deb.sh [OUTDIR]   (needs: apt-get install debhelper dh-dkms)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/build/deb}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/kvmprobe-0.1.0"
git -C "$src" archive --format=tar HEAD | tar -x -C "$work/kvmprobe-0.1.0"
cp -r "$src/packaging/debian" "$work/kvmprobe-0.1.0/debian"
(cd "$work/kvmprobe-0.1.0" && dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1) ||
  { tail -30 "$work/build.log" >&2; echo "build-deb: dpkg-buildpackage failed" >&2; exit 1; }
mv "$work"/*.deb "$out"/
ls "$out"
