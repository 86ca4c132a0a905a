#!/usr/bin/env bash
# Boots one QEMU (TCG) guest with a Debian kernel and runs one shell script in it as root.
#
# Usage: run-guest.sh --kernel 5.10|6.1|6.12|sid --cpu MODEL --script GUEST_SCRIPT --out OUTDIR
#                     [--smp N] [--mem 512M] [--append "extra cmdline"] [--timeout SEC]
#                     [--file HOSTPATH[:GUESTPATH]]... [--module NAME]... [--qemu-arg ARG]...
#
#   --kernel   5.10, 6.1, 6.12 or sid (or the exact release, e.g. 6.1.0-56-amd64), from kernels.env
#   --cpu      QEMU -cpu value, e.g. EPYC, "EPYC,-svm", qemu64,+svm, Skylake-Server-v4
#   --script   host path of a /bin/sh script run in the guest ("-" reads it from stdin)
#   --out      directory for console.log, out.log, dmesg.log, qemu.log, run.info
#   --smp      vCPUs (default 2)      --mem  guest RAM (default 512M)
#   --append   appended to the kernel command line
#   --timeout  seconds for the whole guest run (default 90), then exit 124
#   --file     copy HOSTPATH into the guest at GUESTPATH (default /bin/<basename>); a dynamic
#              ELF also gets the shared libraries ldd lists. Repeatable.
#   --module   an extra kernel module (with its dependencies) for /lib/modules. Repeatable.
#   --qemu-arg one more argument for qemu-system-x86_64. Repeatable.
#
# In the guest: static busybox; proc, sys, devtmpfs, devpts, tmpfs /tmp, securityfs and
# debugfs mounted; modules msr cpuid kvm kvm_amd kvm_intel (+deps) in /lib/modules/$KVER,
# NOT loaded (use modprobe, then check /sys/module/NAME); /bin/kvm_oracle; user "user"
# (uid 1000) and `as-user PROG ARGS` to run something as that user. Environment: KVER,
# VM_KERNEL (the label: 5.10|6.1|6.12|sid), VM_SERIES (e.g. 7.2 for sid), VM_CPU, VM_SMP. The script's cwd is /root, stdin /dev/null.
#
# Exit status: the guest script's, 124 on timeout, 125 on a harness failure (one line on
# stderr says why; details in OUTDIR/qemu.log and OUTDIR/console.log).
set -eEuo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
export PATH=$PATH:/usr/sbin:/sbin
DIE_CODE=125
# Anything failing unexpectedly is a harness failure too: 125 with the failing command.
trap 'echo "run-guest.sh: error: harness failure at line $LINENO: $BASH_COMMAND" >&2; exit 125' ERR

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

kernel="" cpu="" smp=2 mem=512M append="" script="" out="" timeout=90
files=() modules=(msr cpuid kvm kvm_amd kvm_intel) qemu_extra=()
need() { [ $# -ge 2 ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case $1 in
    --kernel) need "$@"; kernel=$2; shift ;;
    --cpu) need "$@"; cpu=$2; shift ;;
    --smp) need "$@"; smp=$2; shift ;;
    --mem) need "$@"; mem=$2; shift ;;
    --append) need "$@"; append=$2; shift ;;
    --file) need "$@"; files+=("$2"); shift ;;
    --module) need "$@"; modules+=("$2"); shift ;;
    --qemu-arg) need "$@"; qemu_extra+=("$2"); shift ;;
    --script) need "$@"; script=$2; shift ;;
    --out) need "$@"; out=$2; shift ;;
    --timeout) need "$@"; timeout=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done
[ -n "$kernel" ] || die "--kernel is required (5.10, 6.1, 6.12 or sid)"
[ -n "$cpu" ] || die "--cpu is required (e.g. EPYC)"
[ -n "$script" ] || die "--script is required"
[ -n "$out" ] || die "--out is required"
[[ $smp =~ ^[1-9][0-9]*$ ]] || die "--smp must be a positive integer, not '$smp'"
[[ $timeout =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive number of seconds, not '$timeout'"
[ "$script" = - ] || [ -f "$script" ] || die "guest script '$script' not found"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (run scripts/install-deps.sh)"
for tool in busybox cpio depmod modprobe; do
  command -v "$tool" >/dev/null || die "$tool not found (run scripts/install-deps.sh)"
done

CACHE=$(vm_cache_dir) || die "no usable cache directory"
# A kernel that could not be fetched is named in kernels.env with the reason (checked below).
bash "$VM_DIR/fetch-kernels.sh" --quiet 2>/dev/null || true
[ -f "$CACHE/kernels.env" ] || die "fetch-kernels.sh wrote no $CACHE/kernels.env (run it to see why)"
# shellcheck source=/dev/null
. "$CACHE/kernels.env"
series="" kver="" kdir=""
for label in $VM_KERNEL_LABELS; do
  v=$(kernel_var "$label" VER)
  if [ "$kernel" = "$label" ] || { [ -n "$v" ] && [ "$kernel" = "$v" ]; }; then
    series=$label kver=$v kdir=$(kernel_var "$label" DIR)
    [ -n "$kver" ] || die "kernel $label is not available: $(kernel_var "$label" ERROR)"
  fi
done
[ -n "$series" ] || die "unknown --kernel '$kernel' (${VM_KERNEL_LABELS// /, } or an exact release)"
[ -f "$kdir/vmlinux" ] || die "$kdir/vmlinux missing: rerun tests/vm/fetch-kernels.sh --refresh"

mkdir -p "$out" || die "cannot create $out"
out=$(cd "$out" && pwd)
rm -f "$out"/{console,out,dmesg,qemu}.log "$out"/{out,dmesg}.raw "$out/run.info"
work=$(mktemp -d "${TMPDIR:-/tmp}/kvmprobe-vm.XXXXXX")
qpid=""
cleanup() {
  [ -z "$qpid" ] || kill "$qpid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- base initramfs: busybox, /init, users, modules, oracle; cached per kernel and content ---
oracle=$(bash "$VM_DIR/oracle/build.sh") || die "cannot build the kvm_oracle guest program"
busybox=$(command -v busybox)
! ldd "$busybox" >/dev/null 2>&1 || die "$busybox is dynamically linked: install busybox-static"
mapfile -t modlist < <(printf '%s\n' "${modules[@]}" | sort -u)
key=$( { cat "$VM_DIR"/guest/*; echo "$kver ${modlist[*]}"; sha256sum "$oracle" "$busybox";
         echo v3; } | sha256sum | cut -c1-16)
base=$CACHE/initramfs/base-$kver-$key.cpio

build_base() {
  if [ ! -f "$base" ] || [ ! -f "$base.dirs" ]; then make_base; fi
  # Copy while holding the lock: another run may replace or prune the cached file.
  cp "$base" "$work/initrd"
  cp "$base.dirs" "$work/base.dirs"
}
make_base() {
  local st=$work/base m rel p
  mkdir -p "$st"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,test,mnt}
  mkdir -p "$st/home/user" "$st/lib/modules/$kver"
  chmod 1777 "$st/tmp"
  local owner=(-R 0:0)   # as root the staging tree is root's already, except /home/user
  if [ "$(id -u)" -eq 0 ]; then chown 1000:1000 "$st/home/user"; owner=(); else chmod 1777 "$st/home/user"; fi
  cp "$busybox" "$st/bin/busybox"
  while read -r p; do
    [ -e "$st$p" ] || ln -s /bin/busybox "$st$p"
  done < <("$st/bin/busybox" --list-full | sed 's|^|/|')
  install -m 0755 "$VM_DIR/guest/init" "$st/init"
  install -m 0755 "$VM_DIR/guest/as-user" "$st/bin/as-user"
  install -m 0644 "$VM_DIR/guest/passwd" "$st/etc/passwd"
  install -m 0644 "$VM_DIR/guest/group" "$st/etc/group"
  install -m 0755 "$oracle" "$st/bin/kvm_oracle"
  [ "$(id -u)" -ne 0 ] || mknod -m 600 "$st/dev/console" c 5 1
  # Modules and their dependencies, decompressed (busybox modprobe reads plain .ko).
  local mroot=$kdir/modules/lib/modules/$kver
  for m in "${modlist[@]}"; do
    modprobe -d "$kdir/modules" -S "$kver" --show-depends "$m" >"$work/deps" 2>"$work/deps.err" ||
      die "kernel $kver has no module '$m': $(head -n1 "$work/deps.err")"
    while read -r kind p _; do
      [ "$kind" = insmod ] || continue
      rel=${p#"$mroot"/}
      mkdir -p "$st/lib/modules/$kver/$(dirname "$rel")"
      case $rel in
        *.ko.xz) xz -dc "$p" >"$st/lib/modules/$kver/${rel%.xz}" ;;
        *.ko.zst) zstd -dcq "$p" >"$st/lib/modules/$kver/${rel%.zst}" ;;
        *.ko.gz) gzip -dc "$p" >"$st/lib/modules/$kver/${rel%.gz}" ;;
        *) cp "$p" "$st/lib/modules/$kver/$rel" ;;
      esac
    done <"$work/deps"
  done
  for p in modules.builtin modules.builtin.modinfo modules.order; do
    [ ! -f "$mroot/$p" ] || cp "$mroot/$p" "$st/lib/modules/$kver/"
  done
  sed -i 's/\.ko\.\(xz\|zst\|gz\)$/.ko/' "$st/lib/modules/$kver/modules.order"
  depmod -b "$st" "$kver" 2>"$work/depmod.err" || die "depmod for the initramfs failed: $(head -n1 "$work/depmod.err")"
  mkdir -p "$CACHE/initramfs"
  (cd "$st" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc "${owner[@]}" --quiet) >"$base.tmp.$$" ||
    die "cpio failed for the base initramfs"
  (cd "$st" && find . -mindepth 1 -type d) >"$base.dirs"
  mv "$base.tmp.$$" "$base"
  # Prune bases of older harness versions (not recently used ones: other module sets).
  find "$CACHE/initramfs" -name "base-$kver-*" ! -name "${base##*/}*" -mmin +60 -delete
}
with_lock "$CACHE/.initramfs.lock" build_base || exit 125

# --- per-run part: the script, the --file items, guest.env; appended as a second cpio ---
run=$work/run
mkdir -p "$run/test" "$run/etc"
if [ "$script" = - ]; then cat >"$run/test/script.sh"; else cp "$script" "$run/test/script.sh"; fi
chmod 0755 "$run/test/script.sh"
{
  printf 'VM_KERNEL=%s\nVM_SERIES=%s\nVM_CPU=%q\nVM_SMP=%s\n' "$series" "$(kernel_var "$series" SERIES)" "$cpu" "$smp"
} >"$run/etc/guest.env"

add_file() { # HOSTPATH GUESTPATH
  local src=$1 dst=$2 lib
  mkdir -p "$run$(dirname "$dst")"
  cp -a "$src" "$run$dst" || die "cannot copy $src"
  if [ -f "$src" ] && head -c4 "$src" | grep -q 'ELF' && ldd "$src" >/dev/null 2>&1; then
    while read -r lib; do
      [ -f "$run$lib" ] || { mkdir -p "$run$(dirname "$lib")"; cp -L "$lib" "$run$lib"; }
    done < <(ldd "$src" | grep -o '/[^ ]*' | sort -u)
  fi
}
for f in "${files[@]}"; do
  hostp=${f%%:*}
  if [ "$hostp" = "$f" ]; then guestp=/bin/$(basename "$hostp"); else guestp=${f#*:}; fi
  [ -e "$hostp" ] || die "--file $hostp: no such file"
  [[ $guestp == /* ]] || die "--file $f: guest path must be absolute"
  add_file "$hostp" "$guestp"
done
# Directories the base has stay out: the kernel would re-apply owner and mode to them
# (/tmp would lose its sticky bit, /home/user its owner).
(cd "$run" && find . -mindepth 1 | grep -vxFf "$work/base.dirs" | LC_ALL=C sort |
   cpio -o -H newc -R 0:0 --quiet) >"$work/run.cpio" ||
  die "cpio failed for the per-run initramfs"
cat "$work/run.cpio" >>"$work/initrd"

# --- boot ---
# no_timer_check: on a busy host, 5.10 under TCG panicked in its IO-APIC timer check ("IO-APIC +
# timer doesn't work!"); the check proves nothing about KVM.
cmdline="console=ttyS0 panic=-1 quiet rdinit=/init softlockup_panic=1 watchdog_thresh=5 no_timer_check"
[ -z "$append" ] || cmdline+=" $append"
# shellcheck disable=SC2054  # the commas are qemu's
qemu=(qemu-system-x86_64 -nodefaults -no-user-config -machine pc -accel tcg,thread=single
      -cpu "$cpu" -smp "$smp" -m "$mem" -display none -monitor none -no-reboot -net none
      -kernel "$kdir/vmlinux" -initrd "$work/initrd" -append "$cmdline"
      -serial "file:$out/console.log" -serial "file:$out/out.raw" -serial "file:$out/dmesg.raw"
      "${qemu_extra[@]}")
printf '%q ' "${qemu[@]}" >"$out/qemu.cmd"; echo >>"$out/qemu.cmd"

start=$(date +%s%N)
timeout -k 5 "$timeout" "${qemu[@]}" </dev/null >"$out/qemu.log" 2>&1 &
qpid=$!
qrc=0
wait "$qpid" || qrc=$?
qpid=""
ms=$(( ($(date +%s%N) - start) / 1000000 ))

# --- results ---
touch "$out/out.raw" "$out/dmesg.raw" "$out/console.log"
mv "$out/dmesg.raw" "$out/dmesg.log"
rc=""
marker=$(grep -aob '@@EXIT [0-9]*$' "$out/out.raw" | tail -n1 || true)
if [ -n "$marker" ]; then
  off=${marker%%:*}
  rc=${marker##*@@EXIT }
  head -c "$off" "$out/out.raw" >"$out/out.log"
else
  cp "$out/out.raw" "$out/out.log"
fi
rm -f "$out/out.raw"
printf 'kernel=%s kver=%s cpu=%s smp=%s wall_ms=%s qemu_status=%s exit=%s\n' \
  "$series" "$kver" "$cpu" "$smp" "$ms" "$qrc" "${rc:-none}" >"$out/run.info"

if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
  echo "run-guest.sh: timeout: guest did not finish in ${timeout}s (see $out/console.log)" >&2
  exit 124
fi
[ -n "$rc" ] && exit "$rc"
if [ "$qrc" -ne 0 ]; then
  die "qemu failed (status $qrc): $(grep -m1 -v '^$' "$out/qemu.log" || echo 'no message')"
fi
panic=$(grep -a -m1 'Kernel panic' "$out/console.log" || true)
[ -z "$panic" ] || die "guest kernel panicked: ${panic//$'\r'/}"
die "guest stopped without the @@EXIT marker (see $out/console.log)"
