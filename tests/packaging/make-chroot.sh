#!/usr/bin/env bash
# Makes (once) a minimal Debian 12 chroot with DKMS and the headers of tests/vm's 6.1 kernel,
# cached under /var/cache/kvmprobe-pkg the way tests/vm/fetch-kernels.sh caches kernels.
# Usage: tests/packaging/make-chroot.sh [--quiet|--cached]     (root; needs debootstrap)
#   --cached: make nothing; exit 1 when the chroot is not there yet
# Prints the chroot's directory. Nothing in it is changed by the tests: they install the
# packages into an overlay on top of it (tests/packaging/deb.test.sh).
set -euo pipefail
# shellcheck source=../vm/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../vm/common.sh"   # mirror_of
CACHE=${KVMPROBE_PKG_CACHE:-/var/cache/kvmprobe-pkg}
KENV=${KVMPROBE_VM_CACHE:-/var/cache/kvmprobe-vm}/kernels.env
quiet= cached=
case ${1:-} in --quiet) quiet=1 ;; --cached) cached=1 ;; esac
die() { echo "make-chroot: $*" >&2; exit 1; }
say() { [ -n "$quiet" ] || echo "make-chroot: $*" >&2; }
[ -f "$KENV" ] || die "$KENV missing: run tests/vm/fetch-kernels.sh first"
# shellcheck disable=SC1090
. "$KENV"
[ -n "${K61_VER:-}" ] || die "$KENV names no 6.1 kernel (K61_VER)"
root=$CACHE/bookworm-$K61_VER
if [ -f "$root/.kvmprobe-chroot-ok" ]; then echo "$root"; exit 0; fi
[ -z "$cached" ] || die "no chroot cached at $root"
[ "$(id -u)" -eq 0 ] || die "need root to make $root"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
# The machine's own mirrors (as fetch-kernels.sh finds them): the 6.1 ABI of the cached kernel
# is usually only in bookworm-security.
main=$(mirror_of main) sec=$(mirror_of security)
mkdir -p "$CACHE/debs"
rm -rf "$root.new"
say "debootstrap bookworm into $root (minbase, debs cached in $CACHE/debs)"
# --cache-dir keeps the downloaded .debs, so a remade chroot downloads nothing again.
debootstrap --variant=minbase --cache-dir="$CACHE/debs" bookworm "$root.new" "$main" \
  >"$CACHE/debootstrap.log" 2>&1 || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
cat >"$root.new/etc/apt/sources.list" <<EOF
deb $main bookworm main
deb $main bookworm-updates main
deb $sec bookworm-security main
EOF
# The chroot's apt archive is the shared cache too (bind mount while installing).
mkdir -p "$CACHE/archives/partial"
mount --bind "$CACHE/archives" "$root.new/var/cache/apt/archives"
trap 'umount "$root.new/var/cache/apt/archives" 2>/dev/null || true' EXIT
say "installing dkms, man-db, bash-completion and linux-headers-$K61_VER"
chroot "$root.new" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
  sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends dkms man-db bash-completion \
         kmod linux-headers-$K61_VER" >"$CACHE/install.log" 2>&1 ||
  { tail -20 "$CACHE/install.log" >&2; die "installing into the chroot failed (log: $CACHE/install.log)"; }
umount "$root.new/var/cache/apt/archives"
trap - EXIT
touch "$root.new/.kvmprobe-chroot-ok"
rm -rf "$root"
mv "$root.new" "$root"
say "ready: $root"
echo "$root"
