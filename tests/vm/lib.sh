# shellcheck shell=bash
# Helpers for tests/vm/*.test.sh. Source it, boot guests with vm_run, assert, end with
# vm_summary (prints "N passed, N failed[, N skipped]"; returns 1 on a failure, 77 on a skip).
#
#   . "$(dirname "$0")/lib.sh"
#   vm_run amd61 --kernel 6.1 --cpu EPYC --file build/cli/kvmprobe --script - <<'EOF'
#   modprobe kvm_amd; kvm_oracle; kvmprobe check
#   EOF
#   assert_exit amd61 0
#   assert_eq "6.1 EPYC msr count" "$(vm_field amd61 msr_index_count)" 97
#   assert_contains "kvm_amd loaded" "$(vm_out amd61)/dmesg.log" "Nested Virtualization enabled"
#   vm_summary
#
# Results go to ${KVMPROBE_VM_OUT:-<repo>/build/vm-out}/<test name>/<run name>/.
# Set VM_VERBOSE=1 to print the guest output of failed checks.
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

VM_PASS=0 VM_FAIL=0 VM_SKIP=0
VM_TEST_NAME=${VM_TEST_NAME:-$(basename "$0" .sh)}
VM_TEST_NAME=${VM_TEST_NAME%.test}
VM_OUT_ROOT=${KVMPROBE_VM_OUT:-$REPO_ROOT/build/vm-out}/$VM_TEST_NAME
declare -A VM_RCS=()

pass() { VM_PASS=$((VM_PASS + 1)); echo "ok   $1"; }
fail() {
  VM_FAIL=$((VM_FAIL + 1)); echo "FAIL $1${2:+: $2}"
  [ -z "${VM_VERBOSE:-}" ] || [ -z "${3:-}" ] || sed 's/^/     | /' "$3"
}
skip() { VM_SKIP=$((VM_SKIP + 1)); echo "skip $1${2:+: $2}"; }

# vm_out RUN: the output directory of a run (console.log, out.log, dmesg.log, run.info).
vm_out() { echo "$VM_OUT_ROOT/$1"; }

# vm_run RUN ARGS...: boot a guest (ARGS as for run-guest.sh, without --out) and wait.
# Never fails the shell; the exit status is in $VM_RC and via vm_rc RUN. The run's wall time
# is printed as "time RUN N.N s".
vm_run() {
  local name=$1; shift
  local o; o=$(vm_out "$name"); mkdir -p "$o"
  set +e
  bash "$VM_DIR/run-guest.sh" --out "$o" "$@" 2>"$o/harness.err"
  VM_RC=$?
  set -e
  VM_RCS[$name]=$VM_RC
  echo "$VM_RC" >"$o/rc"
  [ ! -s "$o/harness.err" ] || sed 's/^/     /' "$o/harness.err"
  echo "time $name $(vm_wall "$name") s"
  return 0
}

# vm_start RUN ARGS... / vm_wait RUN: the same, in the background (a guest takes one core;
# start at most `nproc` at once). vm_wait sets $VM_RC.
vm_start() {
  local name=$1; shift
  local o; o=$(vm_out "$name"); mkdir -p "$o"; rm -f "$o/rc"
  # A script on stdin ("--script -") must be read now, not when the background job runs.
  local a args=()
  for a in "$@"; do
    if [ "$a" = - ]; then cat >"$o/script.stdin"; args+=("$o/script.stdin"); else args+=("$a"); fi
  done
  set -- "${args[@]}"
  ( set +e; bash "$VM_DIR/run-guest.sh" --out "$o" "$@" 2>"$o/harness.err" </dev/null
    echo $? >"$o/rc.tmp"; mv "$o/rc.tmp" "$o/rc" ) &
}
vm_wait() {
  local o; o=$(vm_out "$1")
  while [ ! -f "$o/rc" ]; do
    if [ -z "$(jobs -pr)" ]; then sleep 0.2; [ -f "$o/rc" ] || echo 125 >"$o/rc"; break; fi
    wait -n 2>/dev/null || true
  done
  VM_RC=$(cat "$o/rc"); VM_RCS[$1]=$VM_RC
  [ ! -s "$o/harness.err" ] || sed 's/^/     /' "$o/harness.err"
  echo "time $1 $(vm_wall "$1") s"
}

vm_rc() { echo "${VM_RCS[$1]:-$(cat "$(vm_out "$1")/rc" 2>/dev/null || echo none)}"; }

# vm_wall RUN: guest wall time in seconds (one decimal), from run.info.
vm_wall() {
  local ms; ms=$(sed -n 's/.*wall_ms=\([0-9]*\).*/\1/p' "$(vm_out "$1")/run.info" 2>/dev/null)
  [ -n "$ms" ] && printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)) || echo "?"
}

# vm_field RUN KEY: the rest of the first out.log line "KEY ..." (e.g. kvm_oracle output).
vm_field() { sed -n "s/^$2 //p;T;q" "$(vm_out "$1")/out.log"; }

assert_eq() { # NAME GOT WANT
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi
}
assert_ne() { # NAME GOT UNWANTED
  if [ "$2" != "$3" ]; then pass "$1"; else fail "$1" "got '$2'"; fi
}
assert_exit() { # RUN WANT [NAME]
  local got; got=$(vm_rc "$1")
  if [ "$got" = "$2" ]; then pass "${3:-$1 exits $2}"
  else fail "${3:-$1 exits $2}" "exit $got" "$(vm_out "$1")/out.log"; fi
}
assert_contains() { # NAME FILE FIXED_STRING
  if grep -qF -- "$3" "$2" 2>/dev/null; then pass "$1"; else fail "$1" "'$3' not in ${2##*/}" "$2"; fi
}
assert_not_contains() { # NAME FILE FIXED_STRING
  if ! grep -qF -- "$3" "$2" 2>/dev/null; then pass "$1"; else
    fail "$1" "unexpected '$(grep -m1 -F -- "$3" "$2")' in ${2##*/}"; fi
}
assert_match() { # NAME FILE ERE
  if grep -qE -- "$3" "$2" 2>/dev/null; then pass "$1"; else fail "$1" "/$3/ not in ${2##*/}" "$2"; fi
}
assert_count() { # NAME FILE FIXED_STRING N  (lines containing the string)
  local n; n=$(grep -cF -- "$3" "$2" 2>/dev/null || true)
  assert_eq "$1" "${n:-0}" "$4"
}
# assert_tsc_estimate NAME ESTIMATE ORACLE DMESG: kvmprobe's tsc_khz estimate (made before KVM
# loaded, not claimed exact) against KVM_GET_TSC_KHZ, with no tolerance. The estimate must equal
# the oracle, or else be explained by the guest kernel's own log: it equals a "tsc: Detected ...
# MHz" value and the oracle equals the "tsc: Refined TSC clocksource calibration" value the
# kernel logged later (tsc_refine_calibration_work() ran after kvmprobe had read the log;
# arch/x86/kernel/tsc.c). Anything else fails, naming the logged values.
assert_tsc_estimate() {
  local name=$1 est=$2 want=$3 log=$4 detected refined
  if [[ $est =~ ^[0-9]+$ ]] && [ "$est" = "$want" ]; then pass "$name"; return 0; fi
  detected=$(sed -n 's/.*tsc: Detected \([0-9]*\)\.\([0-9]\{3\}\) MHz.*/\1\2/p' "$log" 2>/dev/null | tr '\n' ' ')
  refined=$(sed -n 's/.*tsc: Refined TSC clocksource calibration: \([0-9]*\)\.\([0-9]\{3\}\) MHz.*/\1\2/p' "$log" 2>/dev/null | tail -n1)
  if [[ $est =~ ^[0-9]+$ ]] && [[ " $detected " == *" $est "* ]] && [ -n "$refined" ] && [ "$refined" = "$want" ]; then
    pass "$name (the estimate $est kHz was the kernel's value before it logged its refinement to $want kHz)"
  else
    fail "$name" "estimate '$est', KVM '$want'; the kernel logged Detected: ${detected:-none}, Refined: ${refined:-none}"
  fi
}

# vm_kernels_env: source kernels.env (fetching the kernels first if needed). A kernel that could
# not be fetched has PFX_ERROR set instead of PFX_VER (see vm_kernels); fails only when there
# is no kernels.env at all.
vm_kernels_env() {
  local c; c=$(vm_cache_dir) || return 1
  bash "$VM_DIR/fetch-kernels.sh" --quiet || [ -f "$c/kernels.env" ] ||
    { echo "fetch-kernels.sh failed" >&2; return 1; }
  # shellcheck source=/dev/null
  . "$c/kernels.env"
}

# vm_kernels [LABEL...]: the kernels a test runs on, into the array VM_KERNEL_LIST: the given
# labels, else ${KVMPROBE_VM_KERNELS:-$VM_KERNEL_LABELS} ("5.10 6.1 6.12 sid"). A kernel that
# could not be fetched is left out with its reason: a failure under CI=true (CI must prove
# every kernel), a skip elsewhere (e.g. offline).
vm_kernels() {
  vm_kernels_env || true
  VM_KERNEL_LIST=()
  local k why
  # shellcheck disable=SC2086  # word lists of labels
  for k in ${*:-${KVMPROBE_VM_KERNELS:-$VM_KERNEL_LABELS}}; do
    if ! kernel_prefix "$k" >/dev/null; then fail "kernel '$k' is known" "not one of $VM_KERNEL_LABELS"; continue; fi
    if [ -n "$(kernel_var "$k" VER)" ]; then VM_KERNEL_LIST+=("$k"); continue; fi
    why="kernel $k ($(kernel_var "$k" SUITE)) could not be fetched: $(kernel_var "$k" ERROR)"
    [ -n "$(kernel_var "$k" SUITE)" ] || why="kernel $k is not in kernels.env (fetch-kernels.sh failed)"
    if [ "${CI:-}" = true ]; then fail "$why"; else skip "$why"; fi
  done
}

# vm_kbuild_host_limit LABEL BUILD-LOG: prints why this host cannot build modules for LABEL at
# all (a kbuild tool linked against a newer glibc, a flag this gcc lacks) and succeeds; fails
# when the log shows no such limit (then the build failure is a real one).
vm_kbuild_host_limit() {
  local why
  why=$(grep -m1 -oE "(version .GLIBC_[0-9.]+. not found|unrecognized command-line option [^;]*)" "$2" || true)
  [ -n "$why" ] || return 1
  echo "this host cannot build modules for $1 ($(kernel_var "$1" VER)): its kbuild needs a newer host ($why)"
}

# vm_kernel_cc LABEL: the compiler LABEL's kernel was built with, from its .config
# (CONFIG_CC_VERSION_TEXT="x86_64-linux-gnu-gcc-16 (Debian 16.2.0-4) 16.2.0" -> x86_64-linux-gnu-gcc-16).
vm_kernel_cc() {
  sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' "$(kernel_var "$1" BUILD)/.config" 2>/dev/null
}

# vm_kbuild_chroot LABEL: prints the root of a chroot that can build modules for LABEL's kernel
# when this host cannot (sid's kbuild tools need sid's C library, its flags sid's gcc): Debian's
# LABEL suite, minbase, with the compiler the kernel was built with (CONFIG_CC_VERSION_TEXT:
# "x86_64-linux-gnu-gcc-16 (Debian 16.2.0-4) 16.2.0" -> gcc-16), make, libc6-dev, dwarves
# (pahole) and dkms. Made once with debootstrap (~2 min, ~600 MB) under
# $CACHE/kbuild/<suite>-<compiler>, under a lock. Fails with the reason on stdout.
vm_kbuild_chroot() {
  local k=$1 cache suite cc pkg dir log mirror
  [ "$(id -u)" = 0 ] || { echo "a chroot build needs root"; return 1; }
  command -v debootstrap >/dev/null || { echo "debootstrap is not installed (scripts/install-deps.sh installs it)"; return 1; }
  command -v unshare >/dev/null || { echo "unshare (util-linux) is not installed"; return 1; }
  cache=$(vm_cache_dir) || { echo "no cache directory"; return 1; }
  suite=$(kernel_var "$k" SUITE)
  cc=$(vm_kernel_cc "$k")
  pkg=${cc#x86_64-linux-gnu-}
  [[ $pkg =~ ^gcc-[0-9]+$ ]] || { echo "cannot tell which gcc built $k (CONFIG_CC_VERSION_TEXT '$cc')"; return 1; }
  dir=$cache/kbuild/$suite-$pkg log=$cache/kbuild/$suite-$pkg.log
  mkdir -p "$cache/kbuild"
  mirror=$(mirror_of main)
  if ! (
    flock 9
    [ -f "$dir/.kvmprobe-ready" ] && exit 0
    rm -rf "$dir"
    debootstrap --variant=minbase --include="$pkg,make,libc6-dev,dwarves,dkms,kmod" "$suite" "$dir" \
      "$mirror" >"$log" 2>&1 || exit 1
    # dkms and the kernel's Makefile call plain `gcc` (CC = $(CROSS_COMPILE)gcc)
    ln -sf "/usr/bin/$cc" "$dir/usr/local/bin/gcc" || exit 1
    touch "$dir/.kvmprobe-ready"
  ) 9>"$cache/kbuild/.lock"; then
    echo "cannot make a $suite chroot with $pkg: $(grep -m1 -E '^E:' "$log" || tail -n1 "$log")"
    return 1
  fi
  echo "$dir"
}

# vm_kbuild_in ROOT LABEL DIR CMD...: runs CMD in chroot ROOT with DIR and LABEL's kernel cache
# directory bind-mounted at their own paths and /proc mounted, all in a private mount
# namespace (nothing stays mounted afterwards), with CC set to the kernel's own compiler.
vm_kbuild_in() {
  local root=$1 k=$2 dir=$3 kdir cc; shift 3
  kdir=$(kernel_var "$k" DIR)
  cc=$(vm_kernel_cc "$k")
  mkdir -p "$root$kdir" "$root$dir"
  unshare --mount --propagation private sh -c '
    root=$1 kdir=$2 dir=$3 cc=$4; shift 4
    mount --bind "$kdir" "$root$kdir" && mount --bind "$dir" "$root$dir" &&
      mount -t proc proc "$root/proc" && exec chroot "$root" env CC="$cc" PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
  ' sh "$root" "$kdir" "$dir" "$cc" "$@"
}

# vm_kbuild LABEL DIR LOG MAKE-ARGS...: `make MAKE-ARGS` for a module in DIR against LABEL's
# kernel, output in LOG: on this host, or, when the log shows this host cannot build for that
# kernel at all (vm_kbuild_host_limit), in vm_kbuild_chroot's chroot (make CC=<the kernel's
# compiler>). Status: 0 built, 1 failed, 2 neither this host nor a chroot can build for it.
# VM_KBUILD_WHERE says where it built ("host" or the chroot), VM_KBUILD_WHY why not.
vm_kbuild() {
  local k=$1 dir=$2 log=$3 limit root cc; shift 3
  VM_KBUILD_WHERE=host VM_KBUILD_WHY=""
  make "$@" >"$log" 2>&1 && return 0
  limit=$(vm_kbuild_host_limit "$k" "$log") || return 1
  root=$(vm_kbuild_chroot "$k") || { VM_KBUILD_WHY="$limit; $root"; return 2; }
  VM_KBUILD_WHERE=$root
  cc=$(vm_kernel_cc "$k")
  { echo "# $limit: built in $root"; vm_kbuild_in "$root" "$k" "$dir" make CC="$cc" "$@"; } >"$log" 2>&1
}

# vm_build_driver LABEL OUTDIR: builds msr-driver's kvmprobe.ko (W=1) against LABEL's headers
# into OUTDIR (log: OUTDIR/build.log); reuses it while msr-driver/ is unchanged. Status: 0 built,
# 1 failed, 2 it cannot be built for that kernel here (VM_DRIVER_WHY says why). A kernel this
# host cannot build for (sid's kbuild tools are linked against sid's newer C library and its
# flags need its gcc; a Debian 12 host has glibc 2.36 and gcc 12) is built in a chroot of its
# own suite (vm_kbuild); VM_DRIVER_WHERE says where ("host" or the chroot).
vm_build_driver() {
  local k=$1 b=$2 drv=${SRC:-$REPO_ROOT}/msr-driver r=0
  VM_DRIVER_WHY="" VM_DRIVER_WHERE=host
  if [ -f "$b/kvmprobe.ko" ] && [ -z "$(find "$drv/Kbuild" "$drv/Makefile" "$drv/kvmprobe_msr.c" \
       "$drv/include" -newer "$b/kvmprobe.ko" 2>/dev/null)" ]; then
    [ ! -f "$b/where" ] || VM_DRIVER_WHERE=$(cat "$b/where")
    return 0
  fi
  rm -rf "$b"; mkdir -p "$b"
  cp -r "$drv"/{Kbuild,Makefile,kvmprobe_msr.c,include} "$b/"
  vm_kbuild "$k" "$b" "$b/build.log" -C "$b" KDIR="$(kernel_var "$k" BUILD)" W=1 || r=$?
  VM_DRIVER_WHERE=$VM_KBUILD_WHERE
  echo "$VM_DRIVER_WHERE" >"$b/where"
  [ "$r" -ne 0 ] || { [ -f "$b/kvmprobe.ko" ] && return 0; r=1; }
  if [ "$r" -eq 2 ]; then VM_DRIVER_WHY=$VM_KBUILD_WHY; return 2; fi
  VM_DRIVER_WHY=$(grep -m1 -E 'error|Error' "$b/build.log" || tail -n1 "$b/build.log")
  return 1
}

# vm_has_kernel LABEL: LABEL is in VM_KERNEL_LIST.
vm_has_kernel() { local k; for k in "${VM_KERNEL_LIST[@]}"; do [ "$k" != "$1" ] || return 0; done; return 1; }

# vm_kernel_tag LABEL: a short tag for run names: 5.10 -> 510, 6.12 -> 612, sid -> sid.
vm_kernel_tag() { echo "${1//./}"; }

# vm_summary: the counts; returns 1 if anything failed, else 77 if anything was skipped (ctest's
# SKIP_RETURN_CODE: a run that skipped a check shows as skipped, not passed), else 0.
vm_summary() {
  local line="$VM_PASS passed, $VM_FAIL failed"
  [ "$VM_SKIP" -eq 0 ] || line+=", $VM_SKIP skipped"
  echo "$line"
  [ "$VM_FAIL" -eq 0 ] || return 1
  [ "$VM_SKIP" -eq 0 ] || return 77
  return 0
}

# --- helpers for guest output split into sections (used by check.test.sh, msrs.test.sh) ---
# In the guest script, define and use:
#   sec() { n=$1; shift; "$@" >/tmp/s.out 2>/tmp/s.err; r=$?
#           echo "@@BEGIN $n"; awk 1 /tmp/s.out; echo "@@END $n"
#           echo "@@BEGIN $n.err"; awk 1 /tmp/s.err; echo "@@END $n.err"; echo "@@RC $n $r"; }
#   sec check kvmprobe check --json=short
# (awk 1 ends the last line with a newline, so the markers always stand on their own lines.)

# vm_guest_sec: the guest-side sec() (tests/vm/guest/sec.sh), to start a guest script with.
vm_guest_sec() { cat "$VM_DIR/guest/sec.sh"; }

# vm_take_kvmprobe [PATH] [DIR]: the kvmprobe under test (PATH, else $KVMPROBE, else
# build/cli/kvmprobe) in $bin, and a private copy of it in $KP (in DIR, default $VM_OUT_ROOT),
# so a rebuild while the guests boot cannot change it. Sets SRC to the source tree. Not
# executable: the usage line, "0 passed, 1 failed", exit 1.
vm_take_kvmprobe() {
  SRC=${KVMPROBE_SOURCE_DIR:-$REPO_ROOT}
  bin=${1:-${KVMPROBE:-$SRC/build/cli/kvmprobe}}
  [ -x "$bin" ] || { echo "usage: bash ${0##*/} /path/to/kvmprobe ('$bin' is not executable)" >&2
                     echo "0 passed, 1 failed"; exit 1; }
  mkdir -p "${2:-$VM_OUT_ROOT}"
  KP=${2:-$VM_OUT_ROOT}/kvmprobe
  cp "$bin" "$KP.tmp" && mv "$KP.tmp" "$KP"
}

# vm_section RUN NAME: the lines between "@@BEGIN NAME" and "@@END NAME" in out.log.
vm_section() {
  awk -v b="@@BEGIN $2" -v e="@@END $2" '$0 == e { f = 0 } f { print } $0 == b { f = 1 }' \
    "$(vm_out "$1")/out.log"
}
# vm_section_rc RUN NAME: the exit status recorded by "@@RC NAME N" ("none" if absent).
vm_section_rc() {
  local r; r=$(awk -v n="$2" '$1 == "@@RC" && $2 == n { print $3; exit }' "$(vm_out "$1")/out.log")
  echo "${r:-none}"
}

# json_get FILE PATH: one value of a JSON document (FILE "-" = stdin). PATH is dot-separated
# object keys and array indexes ("verdict.would_load", "steps.3.id"; "" = the whole document).
# Prints true/false/null, strings raw, numbers as written, arrays and objects as canonical
# compact JSON; prints nothing and returns 1 when the path does not exist or the file is not
# JSON. Uses perl's core JSON::PP (perl comes with build-essential), not jq.
json_get() {
  perl -MJSON::PP -e '
    my ($file, $path) = @ARGV; local $/;
    my $fh; if ($file eq "-") { $fh = *STDIN } else { open($fh, "<", $file) or exit 1 }
    my $txt = <$fh>; my $j = eval { JSON::PP->new->allow_nonref->decode($txt) }; exit 1 if $@;
    for my $k (grep { length } split /\./, $path) {
      if (ref $j eq "HASH") { exit 1 unless exists $j->{$k}; $j = $j->{$k} }
      elsif (ref $j eq "ARRAY") { exit 1 unless $k =~ /^\d+$/ && $k < @$j; $j = $j->[$k] }
      else { exit 1 }
    }
    if (!defined $j) { print "null\n" }
    elsif (JSON::PP::is_bool($j)) { print $j ? "true\n" : "false\n" }
    elsif (ref $j) { print JSON::PP->new->canonical->encode($j), "\n" }
    else { print "$j\n" }' "$1" "${2:-}"
}
