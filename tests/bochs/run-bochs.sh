#!/usr/bin/env bash
# Boots one Bochs guest (emulated VMX/SVM) with a Debian kernel from a CD and runs one shell
# script in it as root. The Bochs twin of tests/vm/run-guest.sh (see tests/bochs/README.md).
#
# Usage: run-bochs.sh --kernel 6.1|6.12 --cpu MODEL --script GUEST_SCRIPT --out OUTDIR
#                     [--timeout SEC] [--file HOSTPATH[:GUESTPATH]]... [--append "cmdline"]
#                     [--grub "GRUB COMMANDS"] [--bios FILE] [--lax-msrs] [--mem MB] [--ips N]
#
#   --kernel   5.10, 6.1, 6.12 or sid: a label of the kernel cache's kernels.env (tests/vm/fetch-kernels.sh)
#   --cpu      Bochs CPU model (bochs-bin --help cpu), e.g. corei7_skylake_x, ryzen
#   --script   host path of a /bin/sh script run in the guest ("-" reads it from stdin)
#   --out      directory for console.log, out.log, dmesg.log, bochs.log, run.info
#   --timeout  seconds for the whole run (default 600), then exit 124
#   --file     copy HOSTPATH into the guest at GUESTPATH (default /bin/<basename>); static
#              binaries only. Repeatable.
#   --append   appended to the kernel command line
#   --grub     boot through GRUB 2 (grub-mkrescue) instead of isolinux, running these GRUB
#              commands (e.g. "insmod wrmsr; wrmsr 0x3a 0x1") before `linux`: a firmware state
#   --bios     the ROM BIOS (default /usr/share/bochs/BIOS-bochs-latest, whose 32-bit init
#              locks IA32_FEATURE_CONTROL with VMX on; BIOS-bochs-legacy leaves it 0)
#   --lax-msrs Bochs' default ignore_bad_msrs=1 (unknown MSRs read 0, writes dropped) instead of
#              ignore_bad_msrs=0 with tests/bochs/msrs.def (unknown MSRs raise #GP)
#   --mem      guest RAM in MB (default 512)     --ips  Bochs instructions per second (2e8)
#
# In the guest: static busybox; proc, sys, devtmpfs, devpts mounted; modules msr cpuid kvm
# kvm_intel kvm_amd (+deps) in /lib/modules/$KVER, NOT loaded; /bin/kvm_oracle; the user
# "user" and `as-user`; environment KVER, VM_KERNEL, VM_CPU. cwd /root, stdin /dev/null.
#
# Exit status: the guest script's, 124 on timeout, 125 on a harness failure (one line on
# stderr says why; details in OUTDIR/bochs.log and OUTDIR/console.log).
set -eEuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../vm/common.sh
. "$HERE/../vm/common.sh"
export PATH=$PATH:/usr/sbin:/sbin
DIE_CODE=125
trap 'echo "run-bochs.sh: error: harness failure at line $LINENO: $BASH_COMMAND" >&2; exit 125' ERR

usage() { sed -n '2,/^set -eEuo/{/^set -eEuo/d;s/^# \{0,1\}//;p}' "$0"; }

kernel="" cpu="" script="" out="" timeout=600 append="" grub="" mem=512 ips=200000000
use_grub="" lax="" files=() bios=/usr/share/bochs/BIOS-bochs-latest
need() { [ $# -ge 2 ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case $1 in
    --kernel) need "$@"; kernel=$2; shift ;;
    --cpu) need "$@"; cpu=$2; shift ;;
    --script) need "$@"; script=$2; shift ;;
    --out) need "$@"; out=$2; shift ;;
    --timeout) need "$@"; timeout=$2; shift ;;
    --file) need "$@"; files+=("$2"); shift ;;
    --append) need "$@"; append=$2; shift ;;
    --grub) need "$@"; grub=$2; use_grub=1; shift ;;
    --mem) need "$@"; mem=$2; shift ;;
    --bios) need "$@"; bios=$2; shift ;;
    --lax-msrs) lax=1 ;;
    --ips) need "$@"; ips=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done
[ -n "$kernel" ] || die "--kernel is required (5.10, 6.1, 6.12 or sid)"
[ -n "$cpu" ] || die "--cpu is required (e.g. corei7_skylake_x)"
[ -n "$script" ] || die "--script is required"
[ -n "$out" ] || die "--out is required"
[[ $timeout =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive number of seconds"
[ "$script" = - ] || [ -f "$script" ] || die "guest script '$script' not found"
for tool in bochs-bin busybox cpio depmod modprobe xorriso gzip; do
  command -v "$tool" >/dev/null || die "$tool not found (run scripts/install-deps.sh)"
done
if [ -n "$use_grub" ]; then
  command -v grub-mkrescue >/dev/null && [ -d /usr/lib/grub/i386-pc ] ||
    die "grub-mkrescue or /usr/lib/grub/i386-pc missing (install grub-pc-bin)"
else
  [ -f /usr/lib/ISOLINUX/isolinux.bin ] && [ -f /usr/lib/syslinux/modules/bios/ldlinux.c32 ] ||
    die "isolinux.bin or ldlinux.c32 missing (install isolinux syslinux-common)"
fi
models=$(bochs-bin -q -f /dev/null --help cpu </dev/null 2>&1 || true)
grep -qx -- "$cpu" <<<"$models" || die "unknown Bochs CPU model '$cpu'"

CACHE=$(vm_cache_dir) || die "no usable cache directory"
[ -f "$CACHE/kernels.env" ] || bash "$VM_DIR/fetch-kernels.sh" --quiet || die "fetch-kernels.sh failed"
# shellcheck source=/dev/null
. "$CACHE/kernels.env"
kver=$(kernel_var "$kernel" VER 2>/dev/null) || die "unknown --kernel '$kernel' (one of: ${VM_KERNELS:-5.10 6.1 6.12 sid})"
[ -n "$kver" ] || die "kernel $kernel is not in the cache: $(kernel_var "$kernel" ERROR)"
kdir=$(kernel_var "$kernel" DIR) series=$kernel
[ -f "$bios" ] || die "no BIOS image $bios (install bochsbios)"
[ -f "$kdir/vmlinuz" ] || die "$kdir/vmlinuz missing: rerun tests/vm/fetch-kernels.sh"

mkdir -p "$out" || die "cannot create $out"
out=$(cd "$out" && pwd)
rm -f "$out"/{console,out,dmesg,bochs}.log "$out"/{out,dmesg}.raw "$out/run.info"
work=$(mktemp -d "${TMPDIR:-/tmp}/kvmprobe-bochs.XXXXXX")
bpid=""
cleanup() {
  # Bochs runs in its own process group (setsid below): end that group only.
  [ -z "$bpid" ] || kill -TERM -- "-$bpid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- initramfs: a cached base (busybox, /init, users, modules, oracle), then a per-run part
# (the script, the --file items, guest.env); both gzip'd cpio archives, concatenated ---
oracle=$(bash "$VM_DIR/oracle/build.sh") || die "cannot build the kvm_oracle guest program"
busybox=$(command -v busybox)
! ldd "$busybox" >/dev/null 2>&1 || die "$busybox is dynamically linked: install busybox-static"
key=$( { cat "$HERE/guest/init" "$VM_DIR/guest/as-user" "$VM_DIR/guest/passwd" "$VM_DIR/guest/group"
         echo "$kver"; sha256sum "$oracle" "$busybox"; echo bochs-v1; } | sha256sum | cut -c1-16)
base=$CACHE/initramfs/bochs-base-$kver-$key.cpio.gz
make_base() {
  [ ! -f "$base" ] || return 0
  local st=$work/root p m rel kind
  mkdir -p "$st"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,test,mnt,home/user}
  chmod 1777 "$st/tmp"
  cp "$busybox" "$st/bin/busybox"
  while read -r p; do
    [ -e "$st/$p" ] || ln -s /bin/busybox "$st/$p"
  done < <("$st/bin/busybox" --list-full)
  install -m 0755 "$HERE/guest/init" "$st/init"
  install -m 0755 "$VM_DIR/guest/as-user" "$st/bin/as-user"
  install -m 0644 "$VM_DIR/guest/passwd" "$st/etc/passwd"
  install -m 0644 "$VM_DIR/guest/group" "$st/etc/group"
  install -m 0755 "$oracle" "$st/bin/kvm_oracle"
  local mroot=$kdir/modules/lib/modules/$kver
  mkdir -p "$st/lib/modules/$kver"
  for m in msr cpuid kvm kvm_intel kvm_amd; do
    modprobe -d "$kdir/modules" -S "$kver" --show-depends "$m" >"$work/deps" 2>"$work/deps.err" ||
      die "kernel $kver has no module '$m': $(head -n1 "$work/deps.err")"
    while read -r kind p _; do
      [ "$kind" = insmod ] || continue
      rel=${p#"$mroot"/}
      mkdir -p "$st/lib/modules/$kver/$(dirname "$rel")"
      case $rel in
        *.ko.xz) xz -dc "$p" >"$st/lib/modules/$kver/${rel%.xz}" ;;
        *.ko.zst) zstd -dcq "$p" >"$st/lib/modules/$kver/${rel%.zst}" ;;
        *) cp "$p" "$st/lib/modules/$kver/$rel" ;;
      esac
    done <"$work/deps"
  done
  for p in modules.builtin modules.builtin.modinfo modules.order; do
    [ ! -f "$mroot/$p" ] || cp "$mroot/$p" "$st/lib/modules/$kver/"
  done
  sed -i 's/\.ko\.\(xz\|zst\|gz\)$/.ko/' "$st/lib/modules/$kver/modules.order"
  depmod -b "$st" "$kver" 2>"$work/depmod.err" || die "depmod failed: $(head -n1 "$work/depmod.err")"
  [ "$(id -u)" -ne 0 ] || chown 1000:1000 "$st/home/user"
  mkdir -p "$CACHE/initramfs"
  (cd "$st" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -1 >"$base.tmp.$$" ||
    die "cpio failed for the base initramfs"
  mv "$base.tmp.$$" "$base"
}
with_lock "$CACHE/.initramfs.lock" make_base || exit 125
iso=$work/iso
mkdir -p "$iso" "$work/run/test" "$work/run/etc"
run=$work/run
if [ "$script" = - ]; then cat >"$run/test/script.sh"; else cp "$script" "$run/test/script.sh"; fi
chmod 0755 "$run/test/script.sh"
printf 'VM_KERNEL=%s\nVM_CPU=%q\nVM_SMP=1\n' "$series" "$cpu" >"$run/etc/guest.env"
for f in "${files[@]}"; do
  hostp=${f%%:*}
  if [ "$hostp" = "$f" ]; then guestp=/bin/$(basename "$hostp"); else guestp=${f#*:}; fi
  [ -e "$hostp" ] || die "--file $hostp: no such file"
  [[ $guestp == /* ]] || die "--file $f: guest path must be absolute"
  mkdir -p "$run$(dirname "$guestp")"
  cp -a "$hostp" "$run$guestp" || die "cannot copy $hostp"
done
# Only files and the directories the base lacks: the kernel would re-apply owner and mode to a
# directory the base has (/tmp would lose its sticky bit).
cp "$base" "$iso/initrd.gz"
(cd "$run" && find . -mindepth 1 \( -type f -o -type l \) | LC_ALL=C sort |
   cpio -o -H newc -R 0:0 --quiet) | gzip -1 >>"$iso/initrd.gz" || die "cpio failed for the per-run initramfs"
cp "$kdir/vmlinuz" "$iso/vmlinuz"

# --- the CD ---
cmdline="console=ttyS0,115200 quiet panic=-1 rdinit=/init"
[ -z "$append" ] || cmdline+=" $append"
if [ -n "$use_grub" ]; then
  mkdir -p "$iso/boot/grub"
  # GRUB talks on com1 too, so a GRUB error (e.g. from wrmsr) lands in console.log.
  {
    echo "serial --unit=0 --speed=115200"
    echo "terminal_input serial; terminal_output serial"
    echo "set timeout=0"
    echo "echo @@GRUB start"
    echo "$grub"
    echo "echo @@GRUB commands done"
    echo "linux /vmlinuz $cmdline"
    echo "initrd /initrd.gz"
    echo "boot"
  } >"$iso/boot/grub/grub.cfg"
  grub-mkrescue -o "$work/boot.iso" "$iso" --modules="rdmsr wrmsr serial" \
    >"$work/mkiso.log" 2>&1 || die "grub-mkrescue failed: $(tail -n1 "$work/mkiso.log")"
else
  mkdir -p "$iso/isolinux"
  cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$iso/isolinux/"
  printf 'DEFAULT linux\nPROMPT 0\nTIMEOUT 0\nLABEL linux\n  KERNEL /vmlinuz\n  APPEND initrd=/initrd.gz %s\n' \
    "$cmdline" >"$iso/isolinux/isolinux.cfg"
  xorriso -as mkisofs -o "$work/boot.iso" -b isolinux/isolinux.bin -c isolinux/boot.cat \
    -no-emul-boot -boot-load-size 4 -boot-info-table "$iso" >"$work/mkiso.log" 2>&1 ||
    die "xorriso failed: $(tail -n1 "$work/mkiso.log")"
fi

# --- boot ---
if [ -n "$lax" ]; then cpu_line="cpu: model=$cpu, count=1, ips=$ips, ignore_bad_msrs=1"
else cpu_line="cpu: model=$cpu, count=1, ips=$ips, ignore_bad_msrs=0, msrs=\"$HERE/msrs.def\""; fi
cat >"$work/bochsrc" <<RC
$cpu_line
megs: $mem
romimage: file=$bios
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path=$work/boot.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$out/console.log
com2: enabled=1, mode=file, dev=$out/out.raw
com3: enabled=1, mode=file, dev=$out/dmesg.raw
clock: sync=none, time0=local
display_library: rfb, options="timeout=0"
sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
speaker: enabled=0
log: $out/bochs.log
panic: action=fatal
error: action=report
info: action=ignore
RC
cp "$work/bochsrc" "$out/bochsrc"
touch "$out/console.log" "$out/out.raw" "$out/dmesg.raw"
start=$(date +%s%N)
# The debugger build stops before the first instruction: "c" continues. Its standard input
# must stay open (EOF would quit the debugger): a FIFO held open by this script.
# rfb listens on a TCP port of its own choosing (5900 upwards) on this machine.
mkfifo "$work/stdin"
setsid bochs-bin -q -f "$work/bochsrc" <"$work/stdin" >"$out/bochs.out" 2>&1 &
bpid=$!   # a background job of a non-interactive shell is no group leader: setsid does not fork
exec 7>"$work/stdin"
echo c >&7
rc="" status=timeout
deadline=$(( $(date +%s) + timeout ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  if grep -aq '^@@DMESG_END' "$out/dmesg.raw" 2>/dev/null; then status=done; break; fi
  if ! kill -0 "$bpid" 2>/dev/null; then status=exited; break; fi
  # the debugger prompts again when the guest stops (e.g. a triple fault)
  if grep -aq '<bochs:2>' "$out/bochs.out" 2>/dev/null; then status=stopped; break; fi
  if grep -aq 'Kernel panic' "$out/console.log" 2>/dev/null; then sleep 2; status=panic; break; fi
  sleep 1
done
# Bochs' own CPU time (utime + stime): what the run costs on an idle core
cpu_ticks=$(awk '{print $14 + $15}' "/proc/$bpid/stat" 2>/dev/null || echo 0)
kill -TERM -- "-$bpid" 2>/dev/null || kill -TERM "$bpid" 2>/dev/null || true
sleep 0.3
kill -KILL -- "-$bpid" 2>/dev/null || true
bpid=""
exec 7>&-
ms=$(( ($(date +%s%N) - start) / 1000000 ))

# --- results ---
tr -d '\r' <"$out/dmesg.raw" | sed '/^@@DMESG_END/,$d' >"$out/dmesg.log"
rm -f "$out/dmesg.raw"
marker=$(grep -aob '@@EXIT [0-9]*' "$out/out.raw" | tail -n1 || true)
if [ -n "$marker" ]; then
  off=${marker%%:*}
  rc=${marker##*@@EXIT }
  head -c "$off" "$out/out.raw" | tr -d '\r' >"$out/out.log"
else
  tr -d '\r' <"$out/out.raw" >"$out/out.log"
fi
rm -f "$out/out.raw"
printf 'kernel=%s kver=%s cpu=%s boot=%s wall_ms=%s bochs_cpu_ms=%s status=%s exit=%s\n' \
  "$series" "$kver" "$cpu" "$([ -n "$use_grub" ] && echo grub || echo isolinux)" "$ms" \
  "$(( cpu_ticks * 1000 / $(getconf CLK_TCK) ))" "$status" "${rc:-none}" >"$out/run.info"

[ -n "$rc" ] && [ "$status" = done ] && exit "$rc"
case $status in
  timeout) echo "run-bochs.sh: timeout: guest did not finish in ${timeout}s (see $out/console.log)" >&2; exit 124 ;;
  panic) die "guest kernel panicked: $(grep -a -m1 'Kernel panic' "$out/console.log" | tr -d '\r')" ;;
  stopped) die "the guest stopped in Bochs' debugger: $(grep -a -B3 '<bochs:2>' "$out/bochs.out" | grep -a -m1 '^(0)' || echo '?') (see $out/bochs.log)" ;;
  exited) die "bochs stopped before the guest finished: $(grep -a -m1 -iE 'panic|error|fatal' "$out/bochs.log" || tail -n1 "$out/bochs.out")" ;;
esac
die "guest stopped without the @@EXIT marker (see $out/console.log)"
