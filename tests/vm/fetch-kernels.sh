#!/usr/bin/env bash
# Downloads the two Debian 12 kernels the VM tests boot (6.1 and 6.12), without installing them
# on the host, and lays each out in the cache:
#
#   $CACHE/<VER>/vmlinux      ELF kernel extracted from the bzImage (QEMU boots it via PVH)
#   $CACHE/<VER>/vmlinuz      the original bzImage; config, System.map beside it
#   $CACHE/<VER>/modules/     module root: modules/lib/modules/<VER>/... (depmod'd); use it as
#                             `modprobe -d $DIR/modules -S <VER>` / `depmod -b $DIR/modules <VER>`
#   $CACHE/<VER>/headers/     headers-amd64 + headers-common + kbuild, symlinks made relative
#   $CACHE/<VER>/build        -> headers/usr/src/linux-headers-<VER>:
#                             `make -C $DIR/build M=$PWD modules` builds an out-of-tree module
#   $CACHE/kernels.env        K61_VER K61_DIR K61_VMLINUX K61_MODULES K61_BUILD, same for K612_
#
# Usage: fetch-kernels.sh [--refresh] [--quiet]
#   --refresh  ask apt which ABI the meta packages point to now and fetch it if it is new
#   --quiet    print nothing on success
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
    -h|--help) sed -n '2,20s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done

CACHE=$(vm_cache_dir) || die "no usable cache directory"
ENV_FILE=$CACHE/kernels.env

# Series we test: label, variable prefix, image meta package, headers meta package.
SERIES=(
  "6.1 K61 linux-image-amd64 linux-headers-amd64"
  "6.12 K612 linux-image-6.12-amd64 linux-headers-6.12-amd64"
)

all_cached() {
  [ -f "$ENV_FILE" ] || return 1
  local s label pfx ver
  for s in "${SERIES[@]}"; do
    read -r label pfx _ _ <<<"$s"
    ver=$(sed -n "s/^${pfx}_VER=//p" "$ENV_FILE")
    [ -n "$ver" ] && [ -f "$CACHE/$ver/.complete" ] || return 1
  done
}

# apt_deps PKG: the package names PKG depends on (first alternative included).
apt_deps() {
  apt-cache depends "$1" 2>/dev/null | sed -n 's/^ *|\{0,1\}Depends: *//p'
}

apt_updated=
apt_update_once() {
  [ -z "$apt_updated" ] || return 0
  [ "$(id -u)" -eq 0 ] || die "apt package lists are missing or stale and only root can run apt-get update"
  note "running apt-get update"
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt_updated=1
}

# resolve_version IMAGE_META: prints the kernel release (e.g. 6.1.0-56-amd64) the meta points to.
resolve_version() {
  local meta=$1 img
  img=$(apt_deps "$meta" | grep -m1 '^linux-image-' || true)
  if [ -z "$img" ]; then
    apt_update_once
    img=$(apt_deps "$meta" | grep -m1 '^linux-image-' || true)
  fi
  [ -n "$img" ] || die "apt knows no package '$meta' (is this Debian 12 with bookworm sources?)"
  img=${img%-unsigned}
  echo "${img#linux-image-}"
}

apt_download() { # DIR PKG...
  local dir=$1; shift
  local opts=()
  [ "$(id -u)" -ne 0 ] || opts=(-o APT::Sandbox::User=root)
  if ! (cd "$dir" && apt-get "${opts[@]}" download "$@" >/dev/null 2>"$dir/apt.err"); then
    apt_update_once
    (cd "$dir" && apt-get "${opts[@]}" download "$@" >/dev/null 2>"$dir/apt.err") ||
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

fetch_one() { # LABEL IMAGE_META HEADERS_META VER
  local label=$1 ver=$4 dir=$CACHE/$4 tmp=$CACHE/.tmp-$4
  [ -f "$dir/.complete" ] && return 0
  local t0=$SECONDS
  note "fetching kernel $label ($ver)"
  rm -rf "$tmp"; mkdir -p "$tmp/debs" "$tmp/img" "$tmp/out/headers" "$tmp/out/modules"

  local hdr=linux-headers-$ver common kbuild
  apt-cache show "$hdr" >/dev/null 2>&1 || apt_update_once
  apt-cache show "$hdr" >/dev/null 2>&1 || die "apt has linux-image-$ver but no $hdr"
  common=$(apt_deps "$hdr" | grep -m1 -- '^linux-headers-.*-common' || true)
  kbuild=$(apt_deps "$hdr" | grep -m1 '^linux-kbuild-' || true)
  [ -n "$common" ] && [ -n "$kbuild" ] || die "cannot find the -common/kbuild packages $hdr depends on"
  apt_download "$tmp/debs" "linux-image-$ver" "$hdr" "$common" "$kbuild"

  local deb
  dpkg-deb -x "$tmp"/debs/linux-image-"$ver"_*.deb "$tmp/img" || die "cannot unpack linux-image-$ver"
  for deb in "$tmp"/debs/linux-headers-*.deb "$tmp"/debs/linux-kbuild-*.deb; do
    dpkg-deb -x "$deb" "$tmp/out/headers" || die "cannot unpack $deb"
  done
  rm -rf "$tmp/debs"

  local out=$tmp/out moddir
  moddir=$tmp/img/lib/modules/$ver
  [ -d "$moddir" ] || moddir=$tmp/img/usr/lib/modules/$ver
  [ -d "$moddir" ] || die "linux-image-$ver has no modules directory"
  [ -f "$tmp/img/boot/vmlinuz-$ver" ] || die "linux-image-$ver has no /boot/vmlinuz-$ver"
  mkdir -p "$out/modules/lib/modules"
  mv "$moddir" "$out/modules/lib/modules/$ver"
  mv "$tmp/img/boot/vmlinuz-$ver" "$out/vmlinuz"
  mv "$tmp/img/boot/config-$ver" "$out/config"
  mv "$tmp/img/boot/System.map-$ver" "$out/System.map"
  rm -rf "$tmp/img"

  # Headers: make them work from this directory, not from /usr/src.
  local src=$out/headers/usr/src/linux-headers-$ver mk
  [ -f "$src/Makefile" ] || die "$hdr has no Makefile"
  mk=$src/Makefile
  # The arch Makefile includes the -common one by absolute path; make that relative to itself.
  sed -i 's|^include /usr/src/\([^/]*\)/Makefile$|include $(dir $(realpath $(lastword $(MAKEFILE_LIST))))../\1/Makefile|' "$mk"
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

write_env() { # lines "PFX VER"
  local tmpf=$ENV_FILE.tmp.$$ pfx ver
  {
    echo "# written by tests/vm/fetch-kernels.sh; source it"
    while read -r pfx ver; do
      echo "${pfx}_VER=$ver"
      echo "${pfx}_DIR=$CACHE/$ver"
      echo "${pfx}_VMLINUX=$CACHE/$ver/vmlinux"
      echo "${pfx}_MODULES=$CACHE/$ver/modules"
      echo "${pfx}_BUILD=$CACHE/$ver/build"
    done
  } >"$tmpf"
  mv "$tmpf" "$ENV_FILE"
}

main() {
  if [ -z "$refresh" ] && all_cached; then
    note "kernels cached in $CACHE"; return 0
  fi
  for tool in apt-get apt-cache dpkg-deb depmod od; do
    command -v "$tool" >/dev/null || die "$tool not found (run scripts/install-deps.sh)"
  done
  local s label pfx img_meta hdr_meta ver pairs=""
  for s in "${SERIES[@]}"; do
    read -r label pfx img_meta hdr_meta <<<"$s"
    ver=""
    [ -n "$refresh" ] || ver=$(sed -n "s/^${pfx}_VER=//p" "$ENV_FILE" 2>/dev/null || true)
    [ -n "$ver" ] || ver=$(resolve_version "$img_meta")
    fetch_one "$label" "$img_meta" "$hdr_meta" "$ver"
    pairs+="$pfx $ver"$'\n'
  done
  write_env <<<"${pairs%$'\n'}"
  note "wrote $ENV_FILE"
}

with_lock "$CACHE/.fetch.lock" main
