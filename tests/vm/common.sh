# shellcheck shell=bash
# Sourced by the tests/vm scripts: cache location, logging, locking.
# Not a test helper (that is lib.sh); keep it free of side effects beyond defining things.

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$VM_DIR/../.." && pwd)

die() { echo "${0##*/}: error: $*" >&2; exit "${DIE_CODE:-1}"; }
note() { [ -n "${VM_QUIET:-}" ] || echo "${0##*/}: $*" >&2; }

# vm_cache_dir: prints the cache directory, creating it.
# ${KVMPROBE_VM_CACHE:-/var/cache/kvmprobe-vm}; if that cannot be created or written and
# KVMPROBE_VM_CACHE was not given explicitly, falls back to $REPO_ROOT/build/vm-cache.
vm_cache_dir() {
  local c=${KVMPROBE_VM_CACHE:-/var/cache/kvmprobe-vm}
  if mkdir -p "$c" 2>/dev/null && [ -w "$c" ]; then
    (cd "$c" && pwd); return 0
  fi
  [ -z "${KVMPROBE_VM_CACHE:-}" ] || { echo "cache dir $c is not writable" >&2; return 1; }
  c=$REPO_ROOT/build/vm-cache
  mkdir -p "$c" 2>/dev/null && [ -w "$c" ] || { echo "neither /var/cache/kvmprobe-vm nor $c is writable" >&2; return 1; }
  (cd "$c" && pwd)
}

# with_lock FILE CMD...: runs CMD under an exclusive flock on FILE (parallel runs share the cache).
with_lock() {
  local f=$1; shift
  ( flock 9; "$@" ) 9>"$f"
}

# The kernels the VM tests boot, by label, oldest first (fetch-kernels.sh's SERIES): bullseye's
# 5.10, bookworm's 6.1 and 6.12, sid's newest. Tests loop over these; kernels.env says which are
# there (VM_KERNELS, PFX_VER) and why one is not (PFX_ERROR).
VM_KERNEL_LABELS="5.10 6.1 6.12 sid"

# kernel_prefix 5.10|6.1|6.12|sid -> K510|K61|K612|KSID (the variable prefix in kernels.env)
kernel_prefix() {
  case $1 in
    5.10) echo K510 ;;
    6.1) echo K61 ;;
    6.12) echo K612 ;;
    sid) echo KSID ;;
    *) return 1 ;;
  esac
}

# kernel_var LABEL NAME: ${PFX_NAME} from the sourced kernels.env (empty when unset), e.g.
# `kernel_var sid SERIES` -> 7.2, `kernel_var 5.10 BUILD` -> the kbuild directory.
kernel_var() {
  local p; p=$(kernel_prefix "$1") || return 1
  local v=${p}_$2
  echo "${!v:-}"
}

# mirror_of KIND: the machine's Debian mirror URI ("main" or "security"), from apt itself.
mirror_of() {
  local want=$1 uri rel
  while read -r uri rel; do
    case $want:$rel in
      security:*-security) echo "$uri"; return ;;
      main:*-security|main:*-updates|main:*-backports) ;;
      main:*) echo "$uri"; return ;;
    esac
  done < <(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Identifier: Packages' 2>/dev/null | sort -u)
  case $want in main) echo http://deb.debian.org/debian/ ;; security) echo http://deb.debian.org/debian-security/ ;; esac
}
