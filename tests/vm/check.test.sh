#!/usr/bin/env bash
# End to end: `kvmprobe check`, `xcr0` and `tsc` against real KVM in QEMU guests (issue 2's
# proof). For each kernel (5.10, 6.1, 6.12, sid: the list in common.sh) and -cpu model, one guest:
#   before any kvm module is loaded: modprobe msr; kvmprobe check / xcr0 / tsc --json=short;
#   kvmprobe snapshot; `as-user kvmprobe check` (no MSR access);
#   then modprobe the vendor module check named (pinned to CPU 0), see /sys/module/NAME, run
#   kvm_oracle, kvmprobe tsc, check and snapshot again.
# The host then asserts: would_load = the real outcome; check's exit code = its verdict; the
# kvm_log lines check predicted appear in the guest's dmesg, exact text; host_xcr0,
# supported_xcr0, tsc_khz (exact after loading), has_tsc_control = the oracle's; with
# tsc_early_khz=2000000 the pre-load tsc_khz is 2000000; the snapshot recorded in the guest,
# analysed here with --from, gives the same report (and the loaded one a usable KVM).
#
# Usage: bash tests/vm/check.test.sh [/path/to/kvmprobe]    (static binary; default build/cli)
# Env:   KVMPROBE_UPDATE_SNAPSHOTS=1  also write the guests' snapshots to
#                                     tests/data/snapshots/qemu-<kernel>-<cpu>.json (before
#                                     loading) and qemu-<kernel>-<cpu>-kvm.json (after, with
#                                     KVM's own answers; only where the module loaded)
#        KVMPROBE_VM_JOBS=N           guests at once (default: nproc, at most 4)
#        KVMPROBE_VM_KERNELS="6.1 sid" only these kernels (default: all; snapshots are named
#                                     by series, so sid's are qemu-7.2-*.json today)
#        VM_VERBOSE=1                 print guest output of failed checks
#        KVMPROBE_VM_REUSE=1          boot nothing: re-check the last run's guest output
# Prints "time RUN N s" per guest, the script's wall time and "N passed, N failed".
set -euo pipefail
VM_TEST_NAME=check
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t0=$(date +%s%N)

vm_take_kvmprobe "${1:-}"
file_kind=$(head -c4 "$KP" | od -An -c | tr -d ' ')
[ "$file_kind" = 177ELF ] || { echo "$bin is not an ELF binary"; echo "0 passed, 1 failed"; exit 1; }

# The matrix: RUN KERNEL CPU SNAPSHOT-NAME EXTRA-CMDLINE, four -cpu models on every kernel.
# tsc_early_khz pins the guest's tsc_khz on half of the runs; the others calibrate (and later
# refine) it themselves, so both ways of getting tsc_khz are covered (two patterns, alternating
# between kernels, so each model sees both).
vm_kernels
MATRIX=()
i=0
for k in "${VM_KERNEL_LIST[@]}"; do
  t=$(vm_kernel_tag "$k") e=tsc_early_khz=2000000
  if [ $((i % 2)) -eq 0 ]; then p=("$e" - - "$e"); else p=("$e" - "$e" -); fi
  MATRIX+=("epyc-$t $k EPYC epyc ${p[0]}"
           "qemu64svm-$t $k qemu64,+svm qemu64-svm ${p[1]}"
           "epycnosvm-$t $k EPYC,-svm epyc-nosvm ${p[2]}"
           "skylake-$t $k Skylake-Server-v4 skylake-server-v4 ${p[3]}")
  i=$((i + 1))
done

guest_script=$VM_OUT_ROOT/guest-script.sh
{ vm_guest_sec; cat <<'EOF'
for m in kvm kvm_amd kvm_intel; do
  [ ! -d /sys/module/$m ] || echo "@@PRELOADED $m"
done
modprobe msr
[ -c /dev/cpu/0/msr ] && echo "@@MSRDEV yes" || echo "@@MSRDEV no"
sec check kvmprobe check --json=short
cp /tmp/s.out /tmp/check.json
sec xcr0 kvmprobe xcr0 --json=short
sec tsc kvmprobe tsc --json=short
sec snapshot kvmprobe snapshot -o /tmp/pre.json
sec snap cat /tmp/pre.json
sec user as-user kvmprobe check -q
sec userjson as-user kvmprobe check --json=short
vendor=$(sed -n 's/.*"vendor_module":"\([a-z_]*\)".*/\1/p' /tmp/check.json)
echo "@@DMESG_LINES $(dmesg | wc -l)"
if [ -n "$vendor" ]; then
  # Pinned to CPU 0: since 6.2 the first support check runs on (and its line names) the CPU
  # that runs modprobe, and kvmprobe's lines name CPU 0.
  taskset 0x1 modprobe "$vendor" >/tmp/modprobe.out 2>&1
  echo "@@MODPROBE_RC $?"
  if [ -d "/sys/module/$vendor" ]; then echo "@@LOADED $vendor yes"; else echo "@@LOADED $vendor no"; fi
else
  echo "@@LOADED none no"
fi
if [ -c /dev/kvm ]; then
  sec oracle kvm_oracle
  sec tsc2 kvmprobe tsc --json=short
  sec check2 kvmprobe check --json=short
  sec snapshot2 kvmprobe snapshot -o /tmp/post.json
  sec snap2 cat /tmp/post.json
fi
exit 0
EOF
} >"$guest_script"

jobs_max=${KVMPROBE_VM_JOBS:-$(nproc)}
[ "$jobs_max" -le 4 ] || jobs_max=4
running=()
MATRIX_RUN=("${MATRIX[@]}")
[ -z "${KVMPROBE_VM_REUSE:-}" ] || { MATRIX_RUN=(); echo "KVMPROBE_VM_REUSE: no guests booted, reusing $VM_OUT_ROOT"; }
for row in "${MATRIX_RUN[@]}"; do
  read -r run kern cpu _ extra <<<"$row"
  args=(--kernel "$kern" --cpu "$cpu" --file "$KP:/bin/kvmprobe" --script "$guest_script" --timeout 150)
  [ "$extra" = - ] || args+=(--append "$extra")
  if [ "${#running[@]}" -ge "$jobs_max" ]; then vm_wait "${running[0]}"; running=("${running[@]:1}"); fi
  vm_start "$run" "${args[@]}"
  running+=("$run")
done
for run in "${running[@]}"; do vm_wait "$run"; done

# --- host side ---
# expected_exit VERDICT-JSON-FILE: the exit code check must give for its own verdict.
expected_exit() {
  local wl ku rf
  wl=$(json_get "$1" verdict.would_load) ku=$(json_get "$1" verdict.kvm_usable) rf=$(json_get "$1" verdict.refusal)
  if [ "$wl" = true ] || [ "$ku" = true ]; then echo 0; return; fi
  case $rf in
    no_support) echo 10 ;; disabled_by_firmware) echo 11 ;; other) echo 12 ;; cannot_tell) echo 13 ;;
    *) echo "inconsistent(would_load=$wl,refusal=$rf)" ;;
  esac
}
# kvm_logs FILE [fail]: check's predicted kvm_log lines, one per line (all steps, or only the
# first step whose status is "fail").
kvm_logs() {
  perl -MJSON::PP -e '
    local $/; open(my $f, "<", $ARGV[0]) or exit 1; my $j = JSON::PP->new->decode(<$f>);
    for my $s (@{$j->{steps}}) {
      next if $ARGV[1] eq "fail" && $s->{status} ne "fail";
      print "$_\n" for @{$s->{kvm_log}};
      last if $ARGV[1] eq "fail";
    }' "$1" "${2:-all}"
}
strip_ts() { sed -E 's/\r$//; s/^\[ *[0-9]+\.[0-9]+\] //'; }

upd=${KVMPROBE_UPDATE_SNAPSHOTS:-}
snapdir=$SRC/tests/data/snapshots

for row in "${MATRIX[@]}"; do
  read -r run kern cpu snapname extra <<<"$row"
  o=$(vm_out "$run")
  c="$kern $cpu:"
  series=$(kernel_var "$kern" SERIES)   # snapshot names: qemu-<series>-..., e.g. qemu-7.2-epyc.json
  echo "--- $run ($kern = $(kernel_var "$kern" VER), -cpu $cpu${extra:+, $extra})"
  rc=$(vm_rc "$run")
  if [ "$rc" != 0 ]; then
    fail "$c guest script ran (exit 0)" "exit $rc$(sed -n '1s/^/: /p' "$o/harness.err" 2>/dev/null)" "$o/console.log"
    continue
  fi
  pass "$c guest script ran"
  if grep -q '^@@PRELOADED' "$o/out.log"; then
    fail "$c no kvm module loaded before kvmprobe ran" "$(grep '^@@PRELOADED' "$o/out.log" | tr '\n' ' ')"
  fi
  assert_contains "$c modprobe msr gives /dev/cpu/0/msr" "$o/out.log" "@@MSRDEV yes"

  for s in check xcr0 tsc snap userjson oracle tsc2 check2 snap2; do vm_section "$run" "$s" >"$o/$s.txt"; done
  for s in check user snapshot; do vm_section "$run" "$s.err" >"$o/$s.err"; done

  # check's JSON and its exit code
  schema=$(json_get "$o/check.txt" schema || echo "not JSON")
  assert_eq "$c check --json=short is kvmprobe.check/1" "$schema" kvmprobe.check/1
  [ "$schema" = kvmprobe.check/1 ] || { [ -z "${VM_VERBOSE:-}" ] || cat "$o/check.err"; continue; }
  wl=$(json_get "$o/check.txt" verdict.would_load)
  vendor=$(json_get "$o/check.txt" verdict.vendor_module)
  refusal=$(json_get "$o/check.txt" verdict.refusal)
  echo "     check: vendor_module=$vendor would_load=$wl refusal=$refusal" \
       "failed_step=$(json_get "$o/check.txt" verdict.failed_step) exit=$(vm_section_rc "$run" check)"
  assert_eq "$c check's exit code matches its verdict" "$(vm_section_rc "$run" check)" \
    "$(expected_exit "$o/check.txt")"
  case $cpu in
    Skylake*) assert_eq "$c vendor module is kvm_intel" "$vendor" kvm_intel ;;
    *) assert_eq "$c vendor module is kvm_amd" "$vendor" kvm_amd ;;
  esac

  # the real outcome
  loaded_line=$(sed -n 's/^@@LOADED //p' "$o/out.log")
  real=false; [ "${loaded_line##* }" = yes ] && real=true
  echo "     real: ${loaded_line:-no @@LOADED line} (modprobe exit $(sed -n 's/^@@MODPROBE_RC //p' "$o/out.log"))"
  assert_eq "$c would_load equals the real modprobe outcome" "$wl" "$real"

  # kvm_log lines vs the guest's dmesg. Lines logged by the module load are those after the
  # count printed just before modprobe.
  n0=$(sed -n 's/^@@DMESG_LINES //p' "$o/out.log")
  strip_ts <"$o/dmesg.log" | tail -n +"$((${n0:-0} + 1))" >"$o/load-dmesg.txt"
  if [ "$wl" = false ]; then
    kvm_logs "$o/check.txt" fail >"$o/predicted-fail.txt" || true
    if [ ! -s "$o/predicted-fail.txt" ]; then
      fail "$c check predicts kvm_log lines for its failing step" "none predicted"
    else
      first=$(head -n1 "$o/predicted-fail.txt")
      if grep -qxF -- "$first" "$o/load-dmesg.txt"; then pass "$c first predicted failure line in dmesg: '$first'"
      else fail "$c first predicted failure line in dmesg" "'$first' not logged; the load logged: $(tr '\n' '|' <"$o/load-dmesg.txt")"; fi
      while IFS= read -r l; do
        grep -qxF -- "$l" "$o/load-dmesg.txt" || fail "$c predicted failure line in dmesg" "'$l' not logged"
      done < <(tail -n +2 "$o/predicted-fail.txt")
    fi
  fi
  if [ "$real" = true ]; then
    kvm_logs "$o/check.txt" >"$o/predicted-all.txt" || true
    missing=$(grep -vxFf "$o/load-dmesg.txt" "$o/predicted-all.txt" | tr '\n' '|' || true)
    if [ -z "$missing" ]; then pass "$c every predicted kvm_log line ($(wc -l <"$o/predicted-all.txt")) in dmesg"
    else fail "$c every predicted kvm_log line in dmesg" "not logged: $missing; the load logged: $(tr '\n' '|' <"$o/load-dmesg.txt")"; fi
  fi
  # what the module load logged but check did not predict (reported, not asserted: some lines
  # come from the module loader or other subsystems)
  grep -vxFf <(kvm_logs "$o/check.txt") "$o/load-dmesg.txt" | sed "s/^/     note: $run load logged, not predicted: /" || true

  # xcr0
  host_xcr0=$(json_get "$o/xcr0.txt" host_xcr0 || echo "no xcr0 JSON")
  if [ -s "$o/oracle.txt" ]; then
    o_host=$(sed -n 's/^host_xcr0 //p' "$o/oracle.txt"); [ "$o_host" = none ] && o_host=null
    assert_eq "$c xcr0 host_xcr0 = oracle host_xcr0" "$host_xcr0" "$o_host"
    o_sup=$(sed -n 's/^supported_xcr0 //p' "$o/oracle.txt")
    assert_eq "$c xcr0 supported_xcr0 = oracle supported_xcr0 (KVM_GET_SUPPORTED_CPUID 0xD)" \
      "$(json_get "$o/xcr0.txt" supported_xcr0)" "$o_sup"
  else
    # No /dev/kvm, so no oracle: the kernel's "x86/fpu: Enabled xstate features 0x..." is what
    # it wrote to XCR0 (no supervisor states under TCG); no such line = no XSAVE = none.
    k_xcr0=$(strip_ts <"$o/dmesg.log" | sed -n 's/^x86\/fpu: Enabled xstate features \(0x[0-9a-f]*\),.*/\1/p' | head -n1)
    assert_eq "$c xcr0 host_xcr0 = the kernel's enabled xstate features" "$host_xcr0" "${k_xcr0:-null}"
  fi

  # tsc
  pre_khz=$(json_get "$o/tsc.txt" tsc_khz || echo "no tsc JSON")
  echo "     tsc before loading: $pre_khz kHz from $(json_get "$o/tsc.txt" tsc_khz_source || true)," \
       "exact=$(json_get "$o/tsc.txt" tsc_khz_exact || true)"
  if [[ $extra == *tsc_early_khz=2000000* ]]; then
    assert_eq "$c tsc_khz before loading = tsc_early_khz" "$pre_khz" 2000000
  fi
  if [ -s "$o/oracle.txt" ]; then
    o_khz=$(sed -n 's/^tsc_khz //p' "$o/oracle.txt")
    o_ctl=$(sed -n 's/^cap_tsc_control //p' "$o/oracle.txt")
    post_khz=$(json_get "$o/tsc2.txt" tsc_khz || echo "no tsc JSON")
    echo "     tsc after loading: $post_khz kHz from $(json_get "$o/tsc2.txt" tsc_khz_source || true)," \
         "exact=$(json_get "$o/tsc2.txt" tsc_khz_exact || true); oracle KVM_GET_TSC_KHZ $o_khz," \
         "kernel $(sed -n 's/^tsc_khz_kernel //p' "$o/oracle.txt")"
    assert_eq "$c tsc_khz after loading = oracle KVM_GET_TSC_KHZ" "$post_khz" "$o_khz"
    assert_eq "$c tsc_khz after loading is marked exact" "$(json_get "$o/tsc2.txt" tsc_khz_exact)" true
    want_ctl=false; [ "${o_ctl:-0}" -gt 0 ] 2>/dev/null && want_ctl=true
    assert_eq "$c has_tsc_control before loading = oracle cap_tsc_control" \
      "$(json_get "$o/tsc.txt" has_tsc_control)" "$want_ctl"
    assert_eq "$c has_tsc_control after loading = oracle cap_tsc_control" \
      "$(json_get "$o/tsc2.txt" has_tsc_control)" "$want_ctl"
    if [ "$(json_get "$o/tsc.txt" tsc_khz_exact)" = true ]; then
      assert_eq "$c tsc_khz claimed exact before loading = oracle" "$pre_khz" "$o_khz"
    else
      assert_tsc_estimate "$c tsc_khz estimate before loading = oracle (or the kernel's pre-refinement value)" \
        "$pre_khz" "$o_khz" "$o/dmesg.log"
    fi
    # with KVM loaded, check says KVM is usable and exits 0; so does the loaded guest's
    # snapshot analysed here (it also carries KVM's own answers, for the unit tests)
    assert_eq "$c check after loading: kvm_usable" "$(json_get "$o/check2.txt" verdict.kvm_usable)" true
    assert_eq "$c check after loading exits 0" "$(vm_section_rc "$run" check2)" 0
    if json_get "$o/snap2.txt" schema >/dev/null; then
      cp "$o/snap2.txt" "$o/post.json"
      hrc=0
      "$KP" check --from "$o/post.json" --json >"$o/host-check2.json" 2>/dev/null || hrc=$?
      assert_eq "$c host check --from loaded guest's snapshot: exit 0" "$hrc" 0
      assert_eq "$c host check --from loaded guest's snapshot: same verdict as in the guest" \
        "$(json_get "$o/host-check2.json" verdict || echo "no JSON")" "$(json_get "$o/check2.txt" verdict)"
      if [ "$upd" = 1 ]; then
        mkdir -p "$snapdir"
        cp "$o/post.json" "$snapdir/qemu-$series-$snapname-kvm.json"
        echo "     wrote tests/data/snapshots/qemu-$series-$snapname-kvm.json"
      fi
    else
      fail "$c snapshot after loading is JSON" "$(head -c 200 "$o/snap2.txt")"
    fi
  fi

  # non-root: a clear answer, not a crash. Without MSR access check either still knows (and
  # then agrees with root: no SVM/VMX needs no MSR; on 6.12 Linux's 'svm' flag says VM_CR.SVMDIS
  # was clear at boot) or cannot tell (13) and names what it could not read, in one line.
  urc=$(vm_section_rc "$run" user)
  rrc=$(vm_section_rc "$run" check)
  uline=$(head -n1 "$o/user.err")
  echo "     as-user: exit $urc${uline:+: $uline}"
  if [ "$urc" = 13 ] || [ "$urc" = "$rrc" ]; then
    pass "$c as-user check -q: exit $urc (root's $rrc, or 13 cannot tell)"
  else fail "$c as-user check -q: exit code root's $rrc or 13 cannot tell" "exit $urc${uline:+: $uline}"; fi
  if [ "$urc" != 0 ]; then
    assert_eq "$c as-user check -q: exactly one line on stderr" "$(wc -l <"$o/user.err")" 1
  fi
  if [ "$urc" = 13 ]; then
    if grep -qiE 'msr|not readable|VM_CR|FEATURE_CONTROL|0x3a|0xc0010114' "$o/user.err"; then
      pass "$c as-user reason names the MSR it could not read"
    else fail "$c as-user reason names the MSR it could not read" "'$uline'"; fi
    assert_eq "$c as-user --json: refusal cannot_tell" "$(json_get "$o/userjson.txt" verdict.refusal)" cannot_tell
  else
    assert_eq "$c as-user --json: same verdict as root's (would_load)" \
      "$(json_get "$o/userjson.txt" verdict.would_load)" "$wl"
  fi

  # the snapshot recorded in the guest, analysed here
  if ! json_get "$o/snap.txt" schema >/dev/null; then
    fail "$c guest snapshot is JSON" "$(head -c 200 "$o/snap.txt"; cat "$o/snapshot.err")"
    continue
  fi
  pass "$c guest snapshot recorded ($(wc -c <"$o/snap.txt") bytes)"
  cp "$o/snap.txt" "$o/pre.json"
  if [ "$upd" = 1 ]; then
    mkdir -p "$snapdir"
    cp "$o/pre.json" "$snapdir/qemu-$series-$snapname.json"
    echo "     wrote tests/data/snapshots/qemu-$series-$snapname.json"
  fi
  hrc=0
  "$KP" check --from "$o/pre.json" --json >"$o/host-check.json" 2>"$o/host-check.err" || hrc=$?
  assert_eq "$c host check --from guest snapshot: same exit code" "$hrc" "$(vm_section_rc "$run" check)"
  assert_eq "$c host check --from guest snapshot: same verdict" \
    "$(json_get "$o/host-check.json" verdict || echo "no JSON: $(head -n1 "$o/host-check.err")")" \
    "$(json_get "$o/check.txt" verdict)"
  assert_eq "$c host check --from guest snapshot: same steps (id, status, kvm_log)" \
    "$(perl -MJSON::PP -e 'local $/; my $j = eval { JSON::PP->new->decode(<STDIN>) } or exit;
         print join("|", map { "$_->{id}:$_->{status}:" . join("/", @{$_->{kvm_log}}) } @{$j->{steps}})' \
         <"$o/host-check.json")" \
    "$(perl -MJSON::PP -e 'local $/; my $j = eval { JSON::PP->new->decode(<STDIN>) } or exit;
         print join("|", map { "$_->{id}:$_->{status}:" . join("/", @{$_->{kvm_log}}) } @{$j->{steps}})' \
         <"$o/check.txt")"
  if [ "$(json_get "$o/host-check.json" "")" = "$(json_get "$o/check.txt" "")" ]; then
    pass "$c host check --from guest snapshot: whole report identical to the live one"
  else
    fail "$c host check --from guest snapshot: whole report identical to the live one" \
      "$(diff <(json_get "$o/check.txt" "" | perl -MJSON::PP -e 'print JSON::PP->new->canonical->pretty->encode(JSON::PP->new->decode(<STDIN>))') \
              <(json_get "$o/host-check.json" "" | perl -MJSON::PP -e 'print JSON::PP->new->canonical->pretty->encode(JSON::PP->new->decode(<STDIN>))') \
              | grep '^[<>]' | head -n 8 | tr '\n' ' ')"
  fi
done

ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "check.test.sh wall time: $((ms / 1000)).$((ms % 1000 / 100)) s (${#MATRIX[@]} guests, $jobs_max at once)"
vm_summary
