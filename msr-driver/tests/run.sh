#!/usr/bin/env bash
# Builds kvmprobe.ko against the headers of each kernel tests/vm boots (bullseye's 5.10,
# bookworm's 6.1 and 6.12, sid's newest: tests/vm/common.sh) and tests it in QEMU (TCG) guests
# booting those kernels. A kernel this host cannot build modules for (sid) is built, and its
# dkms build run, in a cached chroot of its own suite with its own compiler (vm_build_driver
# and vm_kbuild in tests/vm/lib.sh; needs root and debootstrap); where that cannot be made it
# is a SKIP with the reason. Needs host tools (qemu, busybox-static, kmod, cpio,
# gcc, make) and tests/vm/{fetch-kernels,run-guest}.sh; writes nothing into the source tree.
#
# Usage: msr-driver/tests/run.sh [--out DIR] [--no-checkpatch] [--only LABEL]
#   --out DIR        keep builds and guest logs there (default: a temp dir, kept on failure)
#   --no-checkpatch  skip scripts/checkpatch.pl (otherwise fetched once from linux-source-6.12)
#   --only LABEL     run only guests whose label contains LABEL (e.g. 6.12, EPYC)
#   (KVMPROBE_VM_KERNELS="6.1 5.10" limits the kernels, as for tests/vm)
# Environment: FUZZ_ITERS (calls per fuzzer process, default 10000), FUZZ_PROCS (default 4),
#              FUZZ_SEED (the fuzzer's seed; default a random one, printed as "FUZZ_SEED=N" so
#              that a failure reruns with the same calls), KVMPROBE_CHECKPATCH (path of checkpatch.pl to use), KVMPROBE_VM_CACHE.
#
# Host checks: the uapi header compiles as C99 and C++20; the module builds with W=1 and
# no warnings for each kernel, and through dkms.conf (if dkms is installed); checkpatch
# --strict is clean; the guest programs build.
# Guests (label kernel cpu smp suite):
GUESTS=(
  "6.1-EPYC-smp4 6.1 EPYC 4 full"                 # the -smp 4 run; kvm_amd for KVM_GET_TSC_KHZ
  "6.12-EPYC-smp2 6.12 EPYC 2 full"
  "6.12-Skylake-smp2 6.12 Skylake-Server-v4 2 quick"  # Intel vendor: IA32_FEATURE_CONTROL
  "6.1-qemu64-smp1 6.1 qemu64 1 quick"            # no XSAVE: XCR0 must not be reported
  "5.10-EPYC-smp2 5.10 EPYC 2 full"
  "sid-EPYC-smp2 sid EPYC 2 full"
)
# Prints PASS/FAIL/SKIP lines, then "N passed, N failed, N skipped"; exits 1 if anything failed,
# else 77 (ctest: skipped) if anything was skipped, else 0.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DRV=$(cd "$HERE/.." && pwd)
REPO=$(cd "$DRV/.." && pwd)
VM=$REPO/tests/vm

out="" checkpatch=1 only=""
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=${2:?--out needs a directory}; shift ;;
    --no-checkpatch) checkpatch="" ;;
    --only) only=${2:?--only needs a label}; shift ;;
    -h|--help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
keep=""
if [ -n "$out" ]; then mkdir -p "$out" && out=$(cd "$out" && pwd) && keep=1
else out=$(mktemp -d "${TMPDIR:-/tmp}/kvmprobe-msr-test.XXXXXX"); fi

passed=0 failed=0 skipped=0
T_START=$(date +%s%N)
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
skip() { echo "SKIP $1: $2"; skipped=$((skipped + 1)); }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
finish() {
  echo "TIME total $(ms_since "$T_START") ms"
  [ "$failed" -eq 0 ] && [ -z "$keep" ] && rm -rf "$out"
  [ "$failed" -eq 0 ] || echo "logs kept in $out"
  echo "$passed passed, $failed failed, $skipped skipped"
  [ "$failed" -eq 0 ] || exit 1
  [ "$skipped" -eq 0 ] || exit 77
  exit 0
}

# --- kernels ---
t0=$(date +%s%N)
# shellcheck source=../../tests/vm/common.sh
CACHE=$(. "$VM/common.sh"; vm_cache_dir)
if ! "$VM/fetch-kernels.sh" --quiet && [ ! -f "$CACHE/kernels.env" ]; then
  fail fetch_kernels "tests/vm/fetch-kernels.sh failed"; finish
fi
# shellcheck source=/dev/null
. "$CACHE/kernels.env"
# shellcheck source=../../tests/vm/lib.sh
VM_TEST_NAME=msr_driver . "$VM/lib.sh"   # kernel_var, vm_build_driver (its pass/fail are redefined below)
echo "TIME fetch_kernels $(ms_since "$t0") ms"

# --- host: header, module builds, checkpatch, guest programs ---
t0=$(date +%s%N)
hdr=$DRV/include/uapi/kvmprobe.h
printf '#include <linux/types.h>\n#include <linux/ioctl.h>\n#include "%s"\nstatic_assert(sizeof(kvmprobe_guarded_write) == 72);\n' "$hdr" >"$out/hdr.cc"
if err=$(g++ -std=c++20 -fsyntax-only -Wall -Wextra -Werror "$out/hdr.cc" 2>&1); then
  pass host.uapi_header_cxx20; else fail host.uapi_header_cxx20 "$err"; fi
printf '#include "%s"\n' "$hdr" >"$out/hdr.c"
if err=$(gcc -std=c99 -pedantic -fsyntax-only -Wall -Wextra -Werror "$out/hdr.c" 2>&1); then
  pass host.uapi_header_c99; else fail host.uapi_header_c99 "$err"; fi

# The kernels: every one in the list that was fetched (else a skip, a failure under CI=true).
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
skip() { echo "SKIP $1: $2"; skipped=$((skipped + 1)); }
declare -A KDIR=() KVERS=()
KERNELS=()
# shellcheck disable=SC2086  # word list of labels
for s in ${KVMPROBE_VM_KERNELS:-$VM_KERNEL_LABELS}; do
  if [ -z "$(kernel_var "$s" VER)" ]; then
    why="kernel $s could not be fetched: $(kernel_var "$s" ERROR)"
    if [ "${CI:-}" = true ]; then fail "host.kernel_$s" "$why"; else skip "host.kernel_$s" "$why"; fi
    continue
  fi
  KERNELS+=("$s"); KDIR[$s]=$(kernel_var "$s" BUILD); KVERS[$s]=$(kernel_var "$s" VER)
done
SRC=$REPO
for s in "${KERNELS[@]}"; do
  ( vm_build_driver "$s" "$out/build-$s"; r=$?; echo "$r ${VM_DRIVER_WHY:-}" >"$out/build-$s.rc" ) &
done
wait
BUILT=()
for s in "${KERNELS[@]}"; do
  b=$out/build-$s
  read -r brc bwhy <"$b.rc"
  if [ "$brc" = 2 ]; then skip "host.build_${s}_W1" "$bwhy"; continue; fi
  if [ -f "$b/kvmprobe.ko" ]; then
    BUILT+=("$s")
    pass "host.build_${s}_W1"
    if grep -qi 'warning' "$b/build.log"; then
      fail "host.build_${s}_no_warnings" "$(grep -i -m3 warning "$b/build.log")"
    else pass "host.build_${s}_no_warnings"; fi
    vm=$(modinfo -F vermagic "$b/kvmprobe.ko" 2>/dev/null | cut -d' ' -f1)
    if [ "$vm" = "${KVERS[$s]}" ]; then pass "host.vermagic_$s"
    else fail "host.vermagic_$s" "vermagic '$vm', kernel ${KVERS[$s]}"; fi
  else
    fail "host.build_${s}_W1" "$(tail -n 5 "$b/build.log")"
  fi
done

echo "TIME host_build_modules $(ms_since "$t0") ms"
t1=$(date +%s%N)

# DKMS: dkms.conf builds the module for both kernels (private trees, nothing installed).
if command -v dkms >/dev/null; then
  dk=$out/dkms
  rm -rf "$dk"; mkdir -p "$dk/src" "$dk/tree"
  dver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$DRV/dkms.conf")
  cp -r "$DRV" "$dk/src/kvmprobe-$dver"
  rm -rf "$dk/src/kvmprobe-$dver/tests"
  dkms add "kvmprobe/$dver" --sourcetree "$dk/src" --dkmstree "$dk/tree" >"$dk/log" 2>&1
  for s in "${BUILT[@]}"; do
    # A kernel this host cannot build for was built in a chroot of its own suite (vm_kbuild):
    # dkms runs there too.
    in=(); where=$(cat "$out/build-$s/where" 2>/dev/null || echo host)
    [ "$where" = host ] || in=(vm_kbuild_in "$where" "$s" "$dk")
    if "${in[@]}" dkms build "kvmprobe/$dver" -k "${KVERS[$s]}" --kernelsourcedir "${KDIR[$s]}" \
         --sourcetree "$dk/src" --dkmstree "$dk/tree" >>"$dk/log" 2>&1 &&
       [ -f "$dk/tree/kvmprobe/$dver/${KVERS[$s]}/x86_64/module/kvmprobe.ko" ]; then
      pass "host.dkms_build_$s"
    else
      fail "host.dkms_build_$s" "$(tail -n 3 "$dk/log")"
    fi
  done
else
  if [ "${CI:-}" = true ]; then fail host.dkms_build "dkms is not installed (scripts/install-deps.sh installs it)"
  else skip host.dkms_build "dkms is not installed"; fi
fi

echo "TIME host_dkms $(ms_since "$t1") ms"
t1=$(date +%s%N)

find_checkpatch() {
  local c
  for c in "${KVMPROBE_CHECKPATCH:-}" /usr/src/linux-source-6.12*/scripts/checkpatch.pl \
           "$CACHE/checkpatch-6.12/scripts/checkpatch.pl"; do
    [ -n "$c" ] && [ -f "$c" ] && { echo "$c"; return 0; }
  done
  # One-time: take checkpatch.pl and its data files from Debian's linux-source-6.12.
  local tmp=$CACHE/.checkpatch.tmp opts=()
  rm -rf "$tmp"; mkdir -p "$tmp"
  [ "$(id -u)" -ne 0 ] || opts=(-o APT::Sandbox::User=root)
  (cd "$tmp" && apt-get "${opts[@]}" download linux-source-6.12 >/dev/null 2>&1) || return 1
  dpkg-deb --fsys-tarfile "$tmp"/linux-source-6.12_*.deb |
    tar -xO --wildcards './usr/src/linux-source-6.12.tar.xz' |
    tar -xJ -C "$tmp" --strip-components=1 linux-source-6.12/scripts/checkpatch.pl \
      linux-source-6.12/scripts/spelling.txt linux-source-6.12/scripts/const_structs.checkpatch \
      2>/dev/null || return 1
  mkdir -p "$CACHE/checkpatch-6.12"
  mv "$tmp/scripts" "$CACHE/checkpatch-6.12/"
  rm -rf "$tmp"
  echo "$CACHE/checkpatch-6.12/scripts/checkpatch.pl"
}
if [ -n "$checkpatch" ]; then
  exec 9>"$CACHE/.checkpatch.lock"
  flock 9
  cp=$(find_checkpatch); cp_rc=$?
  exec 9>&-
  if [ "$cp_rc" -eq 0 ]; then
    # Relative paths: checkpatch knows include/uapi/ headers cannot use BIT().
    if err=$(cd "$DRV" && perl "$cp" --strict --no-tree --quiet --show-types \
             -f kvmprobe_msr.c include/uapi/kvmprobe.h 2>&1); then
      pass host.checkpatch_strict; else fail host.checkpatch_strict "$err"; fi
  else
    skip host.checkpatch_strict "cannot get linux-source-6.12 (pass --no-checkpatch to silence)"
  fi
fi

echo "TIME host_checkpatch $(ms_since "$t1") ms"
for p in ioctl_test ioctl_fuzz; do
  if err=$(cc -static -O2 -Wall -Wextra -Werror -I"$DRV/include/uapi" -o "$out/$p" "$HERE/$p.c" 2>&1); then
    pass "host.build_$p"; else fail "host.build_$p" "$err"; fi
done
echo "TIME host_checks $(ms_since "$t0") ms"
[ "$failed" -eq 0 ] || finish

# --- guests, two at a time (the machine has two cores) ---
run_guest() { # LABEL SERIES CPU SMP SUITE
  local d=$out/guest-$1
  mkdir -p "$d"
  printf 'SUITE=%s\nFUZZ_ITERS=%s\nFUZZ_PROCS=%s\nFUZZ_SEED=%s\n' "$5" "${FUZZ_ITERS:-10000}" \
    "${FUZZ_PROCS:-4}" "$FUZZ_SEED" >"$d/kvmprobe-test.conf"
  "$VM/run-guest.sh" --kernel "$2" --cpu "$3" --smp "$4" --timeout 120 \
    --append "tsc_early_khz=2000000" \
    --file "$out/build-$2/kvmprobe.ko:/root/kvmprobe.ko" \
    --file "$out/ioctl_test:/bin/ioctl_test" --file "$out/ioctl_fuzz:/bin/ioctl_fuzz" \
    --file "$d/kvmprobe-test.conf:/etc/kvmprobe-test.conf" \
    --script "$HERE/guest_suite.sh" --out "$d/vm" >"$d/run-guest.log" 2>&1
  echo $? >"$d/rc"
}
report_guest() { # LABEL
  local d=$out/guest-$1 rc n0=$passed m0=$failed line
  rc=$(cat "$d/rc" 2>/dev/null || echo 125)
  while IFS= read -r line; do
    case $line in
      PASS\ *) pass "$1.${line#PASS }" ;;
      FAIL\ *) name=${line#FAIL }; fail "$1.${name%%:*}" "${name#*: }" ;;
      TIME\ *) echo "TIME $1.${line#TIME }" ;;
    esac
  done < <(tr -d '\r' <"$d/vm/out.log" 2>/dev/null)
  if [ "$rc" -ne 0 ] && [ "$failed" -eq "$m0" ]; then
    fail "$1.guest_exit" "exit $rc: $(tail -n 2 "$d/run-guest.log" | tr '\n' ' ')"
  fi
  echo "GUEST $1: $((passed - n0)) passed, $((failed - m0)) failed, exit $rc," \
       "$(sed -n 's/.*wall_ms=\([0-9]*\).*/\1/p' "$d/vm/run.info" 2>/dev/null) ms"
}
# The fuzzer is bounded by a count (FUZZ_ITERS calls per process), not a clock; its seed is printed
# here, in this test's own output, so a failing run can be repeated exactly.
FUZZ_SEED=${FUZZ_SEED:-$((RANDOM + 1))}
echo "FUZZ_SEED=$FUZZ_SEED (rerun the same fuzz calls: FUZZ_SEED=$FUZZ_SEED $0)"
t0=$(date +%s%N)
sel=()
for g in "${GUESTS[@]}"; do
  read -r label kern _ <<<"$g"
  [[ " ${BUILT[*]} " == *" $kern "* ]] || continue    # not fetched or no module for it (said above)
  [ -z "$only" ] || [[ $label == *"$only"* ]] && sel+=("$g")
done
for ((i = 0; i < ${#sel[@]}; i += 2)); do
  for g in "${sel[@]:i:2}"; do
    # shellcheck disable=SC2086
    run_guest $g &
  done
  wait
done
for g in "${sel[@]}"; do
  read -r label _ <<<"$g"
  report_guest "$label"
done
echo "TIME guests $(ms_since "$t0") ms"
finish
