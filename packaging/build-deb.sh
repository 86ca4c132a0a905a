#!/usr/bin/env bash
# Builds the Debian packages (kvmprobe, kvmprobe-dkms) from the committed tree (HEAD) into OUTDIR.
# Usage: packaging/build-deb.sh [OUTDIR]   (needs: apt-get install debhelper dh-dkms)
# Uncommitted changes are not in the packages. It compiles the whole project (-O2, static):
# nproc jobs, through ccache when installed, in a fixed directory ($KVMPROBE_DEB_WORK, default
# /var/tmp/kvmprobe-deb) so that ccache finds the same paths again on the next build.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/build/deb}
work=${KVMPROBE_DEB_WORK:-/var/tmp/kvmprobe-deb}
version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
upstream=${version%%-*}
tree=$work/kvmprobe-$upstream
mkdir -p "$out" "$work"
exec 9>"$work/.lock"
flock 9
rm -rf "$tree" "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes "$work"/*.ddeb
mkdir -p "$tree"
git -C "$src" archive --format=tar HEAD | tar -x -C "$tree"
rm -rf "$tree/debian"
cp -r "$src/packaging/debian" "$tree/debian"
export DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}"
if command -v ccache >/dev/null; then
  # CMake reads these as the launchers' defaults; CCACHE_BASEDIR makes the paths relative.
  export CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache CCACHE_BASEDIR=$tree
fi
(cd "$tree" && dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1) ||
  { tail -30 "$work/build.log" >&2; echo "build-deb: dpkg-buildpackage failed (log: $work/build.log)" >&2; exit 1; }
mv "$work"/*.deb "$out"/
rm -rf "$tree"
ls "$out"
