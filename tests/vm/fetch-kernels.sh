#!/usr/bin/env bash
# Downloads the Debian kernels the VM tests boot, without installing them on the host, and lays
# each out in the cache. The kernels are a list of Debian suites (SERIES below), each taken at
# its CURRENT version (no ABI number is pinned here):
#   6.1   bookworm's linux-image-amd64           (the machine's own apt sources)
#   6.12  bookworm's linux-image-6.12-amd64      (the machine's own apt sources)
#   5.10  bullseye's linux-image-amd64           (bullseye + bullseye-security)
#   sid   sid's linux-image-amd64, the newest    (re-resolved when older than 7 days)
# bullseye and sid are read through a private apt list and cache under $CACHE/apt/<suite>
# (-o Dir::Etc::sourcelist=... -o Dir::State::Lists=...), from the mirror host the machine
# already uses; the machine's own sources and lists are never touched.
#
#   $CACHE/<VER>/vmlinux      ELF kernel extracted from the bzImage (QEMU boots it via PVH)
#   $CACHE/<VER>/vmlinuz      the original bzImage; config, System.map beside it
#   $CACHE/<VER>/modules/     module root: modules/lib/modules/<VER>/... (depmod'd); use it as
#                             `modprobe -d $DIR/modules -S <VER>` / `depmod -b $DIR/modules <VER>`
#   $CACHE/<VER>/headers/     headers-amd64 + headers-common + kbuild, symlinks made relative
#   $CACHE/<VER>/build        -> headers/usr/src/linux-headers-<VER>:
#                             `make -C $DIR/build M=$PWD modules` builds an out-of-tree module
#   $CACHE/kernels.env        VM_KERNELS="5.10 6.1 6.12 sid" (labels, oldest first) and per
#                             kernel PFX_VER PFX_DIR PFX_VMLINUX PFX_MODULES PFX_BUILD
#                             PFX_SERIES (e.g. 7.2) PFX_SUITE PFX_DEBVER, with PFX K510, K61,
#                             K612, KSID; a kernel that could not be fetched has PFX_ERROR
#                             (the reason) instead, and is retried after 30 minutes.
#
# Usage: fetch-kernels.sh [--refresh] [--quiet]
#   --refresh  ask apt which ABI the meta packages point to now and fetch it if it is new
#   --quiet    print nothing on success
# Exit status: 0 when every kernel is there, 1 when one could not be fetched (kernels.env still
# lists the others, and the reason), 2 on a usage error.
# Cache: ${KVMPROBE_VM_CACHE:-/var/cache/kvmprobe-vm}, else <repo>/build/vm-cache.
# A second run with everything present returns at once, without asking apt.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
export PATH=$PATH:/usr/sbin:/sbin

refresh=
while [ $# -gt 0 ]; do
  case $1 in
    --refresh) refresh=1 ;;
    --quiet) VM_QUIET=1 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) DIE_CODE=2 die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done

CACHE=$(vm_cache_dir) || die "no usable cache directory"
ENV_FILE=$CACHE/kernels.env

# The kernels we test: label, variable prefix, suite, image meta package. Suite "bookworm" is
# read with the machine's own apt sources (as before: this is a Debian 12 machine); the others
# through a private list (apt_suite). Keep VM_KERNEL_LABELS in common.sh in step.
SERIES=(
  "5.10 K510 bullseye linux-image-amd64"
  "6.1  K61  bookworm linux-image-amd64"
  "6.12 K612 bookworm linux-image-6.12-amd64"
  "sid  KSID sid      linux-image-amd64"
)
MOVING_MAX_AGE_DAYS=${KVMPROBE_VM_SID_MAX_AGE_DAYS:-7}  # sid moves on: re-resolve after this
RETRY_AFTER_MIN=30                                      # a failed fetch is retried after this

env_get() { sed -n "s/^$1=//p" "$ENV_FILE" 2>/dev/null | head -n1; }

# settled PFX SUITE: the kernel is usable from the cache, or failed recently enough that it is
# not tried again yet.
settled() {
  local pfx=$1 suite=$2 ver
  ver=$(env_get "${pfx}_VER")
  if [ -n "$ver" ] && [ -f "$CACHE/$ver/.complete" ]; then
    [ "$suite" = sid ] || return 0
    # sid: the resolution must be recent, else the tests would keep an old "newest" kernel
    # (unless re-resolving failed a short while ago: then the cached one is kept for now).
    [ -n "$(find "$CACHE/apt/sid/resolved" -mtime "-$MOVING_MAX_AGE_DAYS" 2>/dev/null)" ] && return 0
  fi
  [ -n "$(find "$CACHE/.failed-$pfx" -mmin "-$RETRY_AFTER_MIN" 2>/dev/null)" ]
}
all_settled() {
  [ -f "$ENV_FILE" ] || return 1
  local s label pfx suite
  for s in "${SERIES[@]}"; do
    read -r label pfx suite _ <<<"$s"
    settled "$pfx" "$suite" || return 1
  done
}

# --- apt: the machine's own sources for bookworm, a private list for the other suites ---
APT_OPTS=() APT_SUITE=bookworm apt_updated=


# apt_suite SUITE: point apt_* at SUITE's lists (bookworm: the machine's own).
apt_suite() {
  APT_SUITE=$1 apt_updated=
  APT_OPTS=()
  [ "$(id -u)" -ne 0 ] || APT_OPTS=(-o APT::Sandbox::User=root)
  [ "$1" != bookworm ] || return 0
  local d=$CACHE/apt/$1 key=/usr/share/keyrings/debian-archive-keyring.gpg main sec
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
  [ -f "$key" ] || die "$key missing (install debian-archive-keyring)"
  main=$(mirror_of main) sec=$(mirror_of security)
  {
    echo "deb [signed-by=$key] $main $1 main"
    [ "$1" = sid ] || echo "deb [signed-by=$key] $sec $1-security main"
  } >"$d/sources.list.new"
  cmp -s "$d/sources.list.new" "$d/sources.list" 2>/dev/null || rm -f "$d/updated"
  mv "$d/sources.list.new" "$d/sources.list"
  APT_OPTS+=(-o "Dir::Etc::sourcelist=$d/sources.list" -o Dir::Etc::sourceparts=-
             -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache"
             -o Dir::State::status=/dev/null -o APT::Get::List-Cleanup=0)
  # A private list is brought up to date once a day (and always when re-resolving sid).
  if [ -z "$(find "$d/updated" -mmin -1440 2>/dev/null)" ] || { [ "$1" = sid ] && [ -n "$refresh$sid_stale" ]; }; then
    apt_update_once
  fi
}

acache() { apt-cache "${APT_OPTS[@]}" "$@"; }

# apt_deps PKG: the package names PKG depends on (first alternative included).
apt_deps() {
  acache depends "$1" 2>/dev/null | sed -n 's/^ *|\{0,1\}Depends: *//p'
}

apt_update_once() {
  [ -z "$apt_updated" ] || return 0
  [ "$(id -u)" -eq 0 ] || die "apt package lists for $APT_SUITE are missing or stale and only root can run apt-get update"
  note "running apt-get update ($APT_SUITE)"
  local err; err=$(mktemp)
  apt-get "${APT_OPTS[@]}" update -qq >/dev/null 2>"$err" ||
    { local m; m=$(grep -m1 -E '^(E|W):' "$err" || tail -n1 "$err"); rm -f "$err"; die "apt-get update for $APT_SUITE failed: $m"; }
  # apt-get update exits 0 when a source could not be reached: that counts as failed too.
  if grep -qE '^(E|W): (Failed to fetch|Some index files failed)' "$err"; then
    local m; m=$(grep -m1 -E '^(E|W):' "$err"); rm -f "$err"; die "apt-get update for $APT_SUITE failed: $m"
  fi
  rm -f "$err"
  apt_updated=1
  [ "$APT_SUITE" = bookworm ] || touch "$CACHE/apt/$APT_SUITE/updated"
}

# resolve_version IMAGE_META: prints the kernel release (e.g. 6.1.0-56-amd64) the meta points to.
resolve_version() {
  local meta=$1 img
  img=$(apt_deps "$meta" | grep -m1 '^linux-image-' || true)
  if [ -z "$img" ]; then
    apt_update_once
    img=$(apt_deps "$meta" | grep -m1 '^linux-image-' || true)
  fi
  [ -n "$img" ] || die "apt knows no package '$meta' in $APT_SUITE"
  img=${img%-unsigned}
  echo "${img#linux-image-}"
}

apt_download() { # DIR PKG...
  local dir=$1; shift
  if ! (cd "$dir" && apt-get "${APT_OPTS[@]}" download "$@" >/dev/null 2>"$dir/apt.err"); then
    apt_update_once
    (cd "$dir" && apt-get "${APT_OPTS[@]}" download "$@" >/dev/null 2>"$dir/apt.err") ||
      die "apt-get download $* failed: $(grep -m1 '^E:' "$dir/apt.err" || tail -n1 "$dir/apt.err")"
  fi
}

# extract_vmlinux BZIMAGE OUT: decompress the payload named by the x86 boot header
# (setup_sects at 0x1f1, payload_offset at 0x248, payload_length at 0x24c; the payload ends
# with a 4-byte decompressed size that the decompressors must not see).
extract_vmlinux() {
  local bz=$1 out=$2 ss po pl off magic
  ss=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
  po=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
  pl=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
  [ "$(od -An -c -j $((0x202)) -N4 "$bz" | tr -d ' ')" = HdrS ] || die "$bz is not a bzImage"
  [ "$ss" -gt 0 ] || ss=4
  off=$(( (ss + 1) * 512 + po ))
  magic=$(od -An -tx1 -j "$off" -N6 "$bz" | tr -d ' \n')
  local dec
  case $magic in
    fd377a585a00) dec=(xz -dc --single-stream) ;;
    28b52ffd*) dec=(zstd -dcq) ;;
    1f8b*) dec=(gzip -dc) ;;
    5d00*) dec=(xz -dc --format=lzma) ;;
    425a68*) dec=(bzip2 -dc) ;;
    *) die "$bz: unknown payload compression (magic $magic)" ;;
  esac
  command -v "${dec[0]}" >/dev/null || die "${dec[0]} is needed to unpack $bz (run scripts/install-deps.sh)"
  dd if="$bz" iflag=skip_bytes,count_bytes skip="$off" count=$((pl - 4)) bs=1M status=none |
    "${dec[@]}" >"$out" 2>/dev/null ||
    die "cannot decompress the payload of $bz with ${dec[*]}"
  [ "$(od -An -c -N4 "$out" | tr -d ' ')" = '177ELF' ] || die "payload of $bz is not an ELF file"
}

# relink_absolute ROOT OUT: turn every absolute symlink under ROOT into a relative one that
# points into OUT/headers or OUT/modules (where the packages' /usr/src, /lib/modules now live).
relink_absolute() {
  local root=$1 out=$2 link tgt base
  while IFS= read -r -d '' link; do
    tgt=$(readlink "$link")
    case $tgt in /*) ;; *) continue ;; esac
    for base in "$out/headers" "$out/modules"; do
      if [ -e "$base$tgt" ]; then ln -sfnr "$base$tgt" "$link"; continue 2; fi
    done
    die "symlink $link -> $tgt points outside the extracted packages"
  done < <(find "$root" -type l -print0)
}

fetch_one() { # LABEL VER
  local label=$1 ver=$2 dir=$CACHE/$2 tmp=$CACHE/.tmp-$2
  [ -f "$dir/.complete" ] && return 0
  local t0=$SECONDS
  note "fetching kernel $label ($ver, $APT_SUITE)"
  rm -rf "$tmp"; mkdir -p "$tmp/debs" "$tmp/img" "$tmp/out/headers" "$tmp/out/modules"

  local hdr=linux-headers-$ver common kbuild
  acache show "$hdr" >/dev/null 2>&1 || apt_update_once
  acache show "$hdr" >/dev/null 2>&1 || die "apt has linux-image-$ver but no $hdr"
  common=$(apt_deps "$hdr" | grep -m1 -- '^linux-headers-.*-common' || true)
  kbuild=$(apt_deps "$hdr" | grep -m1 '^linux-kbuild-' || true)
  [ -n "$common" ] && [ -n "$kbuild" ] || die "cannot find the -common/kbuild packages $hdr depends on"
  # Since 6.17 or so (sid), linux-image-VER is empty and depends on linux-binary-VER (vmlinuz),
  # linux-modules-VER (the .ko files) and linux-base-VER (config, System.map, modules.builtin),
  # all under usr/lib/modules/VER. Older images hold everything themselves (boot/, lib/modules/).
  local parts
  parts=$(apt_deps "linux-image-$ver" | grep -xE "linux-(binary|modules|base)-${ver//+/\\+}" | sort -u | tr '\n' ' ')
  # shellcheck disable=SC2086  # $parts: word list of package names
  apt_download "$tmp/debs" "linux-image-$ver" $parts "$hdr" "$common" "$kbuild"

  local deb
  for deb in "$tmp"/debs/linux-image-*.deb "$tmp"/debs/linux-binary-*.deb "$tmp"/debs/linux-modules-*.deb \
             "$tmp"/debs/linux-base-*.deb; do
    [ -f "$deb" ] || continue
    dpkg-deb -x "$deb" "$tmp/img" || die "cannot unpack $deb"
  done
  for deb in "$tmp"/debs/linux-headers-*.deb "$tmp"/debs/linux-kbuild-*.deb; do
    dpkg-deb -x "$deb" "$tmp/out/headers" || die "cannot unpack $deb"
  done
  rm -rf "$tmp/debs"

  local out=$tmp/out moddir f
  moddir=$tmp/img/lib/modules/$ver
  [ -d "$moddir" ] || moddir=$tmp/img/usr/lib/modules/$ver
  [ -d "$moddir" ] || die "linux-image-$ver has no modules directory"
  # vmlinuz, config, System.map: in boot/ (with the -VER suffix) or in the modules directory
  for f in vmlinuz config System.map; do
    if [ -f "$tmp/img/boot/$f-$ver" ]; then mv "$tmp/img/boot/$f-$ver" "$out/$f"
    elif [ -f "$moddir/$f" ]; then mv "$moddir/$f" "$out/$f"
    else die "linux-image-$ver (and the packages it depends on) has no $f"; fi
  done
  mkdir -p "$out/modules/lib/modules"
  mv "$moddir" "$out/modules/lib/modules/$ver"
  rm -rf "$tmp/img"

  # Headers: make them work from this directory, not from /usr/src.
  local src=$out/headers/usr/src/linux-headers-$ver mk
  [ -f "$src/Makefile" ] || die "$hdr has no Makefile"
  mk=$src/Makefile
  # The arch Makefile includes the -common one by absolute path; make that relative to itself.
  sed -i 's|^include /usr/src/\([^/]*\)/Makefile$|include $(dir $(realpath $(lastword $(MAKEFILE_LIST))))../\1/Makefile|' "$mk"
  # sid's (7.x) also sets KBUILD_OUTPUT to its own /usr/src directory: make that this directory
  # (":=": evaluated here, where the last makefile read is this one).
  sed -i 's|^KBUILD_OUTPUT=/usr/src/linux-headers-'"$ver"'$|KBUILD_OUTPUT := $(patsubst %/,%,$(dir $(realpath $(lastword $(MAKEFILE_LIST)))))|' "$mk"
  # Debian's headers name the compiler the kernel was built with (.kernelvariables: gcc-10 for
  # bullseye, gcc-16 for sid); this Debian 12 host has gcc-12 only. Use that compiler when it is
  # installed, else the host's gcc (kbuild probes every flag it passes with cc-option).
  local kv=$src/.kernelvariables kcc
  kcc=$(sed -n 's/^CC = .*)\(gcc-[0-9]*\)$/\1/p' "$kv" 2>/dev/null || true)
  if [ -n "$kcc" ]; then
    sed -i "s/^\(CC = .*)\)$kcc\$/\1\$(if \$(shell command -v \$(CROSS_COMPILE)$kcc),$kcc,gcc)/" "$kv"
  fi
  ! grep -q '/usr/src/' "$mk" || die "$mk still refers to /usr/src after the fix-up"
  # 6.12 ships a BTF-only vmlinux in the headers: kbuild then runs pahole on every module,
  # which the build host may lack. Module BTF is of no use to the tests, so hide the file.
  [ ! -f "$src/vmlinux" ] || mv "$src/vmlinux" "$src/vmlinux.btf-only"
  mkdir -p "$out/headers/lib/modules/$ver"
  ln -sfn "/usr/src/linux-headers-$ver" "$out/headers/lib/modules/$ver/build"
  ln -sfn "/usr/src/$common" "$out/modules/lib/modules/$ver/source"
  ln -sfn "/usr/src/linux-headers-$ver" "$out/modules/lib/modules/$ver/build"
  relink_absolute "$out/headers" "$out"
  relink_absolute "$out/modules" "$out"
  ln -sfn "headers/usr/src/linux-headers-$ver" "$out/build"

  extract_vmlinux "$out/vmlinuz" "$out/vmlinux"
  depmod -b "$out/modules" "$ver" 2>"$tmp/depmod.err" || die "depmod failed: $(head -n1 "$tmp/depmod.err")"
  if command -v make >/dev/null; then
    # Proves the Makefile include chain resolves inside the cache.
    make -s -C "$out/build" kernelversion >/dev/null 2>"$tmp/make.err" ||
      die "the unpacked headers do not work: $(head -n1 "$tmp/make.err")"
  fi

  rm -rf "$dir"
  mv "$out" "$dir"
  rm -rf "$tmp"
  touch "$dir/.complete"
  note "kernel $label ($ver) ready in $((SECONDS - t0)) s"
}

write_env() { # lines "LABEL PFX SUITE VER|- DEBVER|- ERROR..."
  local tmpf=$ENV_FILE.tmp.$$ label pfx suite ver debver err labels=""
  {
    echo "# written by tests/vm/fetch-kernels.sh; source it"
    while read -r label pfx suite ver debver err; do
      labels+="${labels:+ }$label"
      echo "${pfx}_SUITE=$suite"
      if [ "$ver" = - ]; then
        printf '%s_ERROR=%q\n' "$pfx" "$err"
        continue
      fi
      echo "${pfx}_VER=$ver"
      echo "${pfx}_DIR=$CACHE/$ver"
      echo "${pfx}_VMLINUX=$CACHE/$ver/vmlinux"
      echo "${pfx}_MODULES=$CACHE/$ver/modules"
      echo "${pfx}_BUILD=$CACHE/$ver/build"
      echo "${pfx}_SERIES=$(series_of "$ver")"
      echo "${pfx}_DEBVER=$debver"
    done
    echo "VM_KERNELS=\"$labels\""
  } >"$tmpf"
  mv "$tmpf" "$ENV_FILE"
}

# series_of VER: 6.1.0-57-amd64 -> 6.1, 7.2.13+deb14-amd64 -> 7.2
series_of() { local v=${1%%-*}; v=${v%%+*}; echo "${v%.*}" | sed -E 's/^([0-9]+\.[0-9]+).*/\1/'; }

# one_kernel LABEL PFX SUITE META: resolve and fetch; prints "VER DEBVER" (or dies).
one_kernel() {
  local label=$1 pfx=$2 suite=$3 meta=$4 ver="" debver
  sid_stale=
  [ "$suite" != sid ] || [ -n "$(find "$CACHE/apt/sid/resolved" -mtime "-$MOVING_MAX_AGE_DAYS" 2>/dev/null)" ] ||
    sid_stale=1
  apt_suite "$suite"
  [ -n "$refresh$sid_stale" ] || ver=$(env_get "${pfx}_VER")
  [ -n "$ver" ] && [ -f "$CACHE/$ver/.complete" ] || ver=$(resolve_version "$meta")
  fetch_one "$label" "$ver"
  [ "$suite" != sid ] || touch "$CACHE/apt/sid/resolved"
  debver=$(cat "$CACHE/$ver/.debver" 2>/dev/null || true)
  if [ -z "$debver" ]; then
    debver=$(acache show --no-all-versions "linux-image-$ver" 2>/dev/null | sed -n 's/^Version: //p' | head -n1)
    echo "${debver:--}" >"$CACHE/$ver/.debver"
  fi
  echo "$ver ${debver:--}"
}

main() {
  if [ -z "$refresh" ] && all_settled; then
    note "kernels cached in $CACHE"; return "$(grep -q '_ERROR=' "$ENV_FILE" && echo 1 || echo 0)"
  fi
  for tool in apt-get apt-cache dpkg-deb depmod od; do
    command -v "$tool" >/dev/null || die "$tool not found (run scripts/install-deps.sh)"
  done
  local s label pfx suite meta got err msg prev lines="" failed=0
  for s in "${SERIES[@]}"; do
    read -r label pfx suite meta <<<"$s"
    if [ -z "$refresh" ] && [ -n "$(find "$CACHE/.failed-$pfx" -mmin "-$RETRY_AFTER_MIN" 2>/dev/null)" ]; then
      err=$(env_get "${pfx}_ERROR"); err=$(eval "echo ${err:-unknown}")
      note "kernel $label: not retried before $RETRY_AFTER_MIN min have passed: $err"
      lines+="$label $pfx $suite - - $err"$'\n'; failed=1; continue
    fi
    # A failing kernel (no network, a suite gone from the mirror) does not stop the others;
    # kernels.env records the reason, and the tests skip that kernel (fail under CI=true).
    err=$CACHE/.fetch-$pfx.err
    if got=$( (one_kernel "$label" "$pfx" "$suite" "$meta") 2>"$err"); then
      [ -n "${VM_QUIET:-}" ] || cat "$err" >&2
      rm -f "$CACHE/.failed-$pfx" "$err"
      lines+="$label $pfx $suite $got -"$'\n'
    else
      [ -n "${VM_QUIET:-}" ] || grep -v ': error: ' "$err" >&2 || true
      msg=$(sed -n 's/^[^:]*: error: //p' "$err" | tail -n1)
      msg=${msg:-$(tail -n1 "$err")}
      prev=$(env_get "${pfx}_VER")
      if [ -z "$refresh" ] && [ -n "$prev" ] && [ -f "$CACHE/$prev/.complete" ]; then
        # sid could not be re-resolved: keep the cached kernel, say so, retry later.
        echo "${0##*/}: kernel $label ($suite): keeping the cached $prev, checking for a newer one failed: $msg" >&2
        touch "$CACHE/.failed-$pfx"; rm -f "$err"
        lines+="$label $pfx $suite $prev $(cat "$CACHE/$prev/.debver" 2>/dev/null || echo -) -"$'\n'
        continue
      fi
      echo "${0##*/}: kernel $label ($suite) not available: $msg" >&2
      touch "$CACHE/.failed-$pfx"; rm -f "$err"
      lines+="$label $pfx $suite - - $msg"$'\n'; failed=1
    fi
  done
  write_env <<<"${lines%$'\n'}"
  note "wrote $ENV_FILE"
  return "$failed"
}

with_lock "$CACHE/.fetch.lock" main
