#!/usr/bin/env bash
# End to end: `kvmprobe msrs --save-list / --feature-list` against real KVM in QEMU guests
# (issue 3's proof). For each kernel (5.10, 6.1, 6.12, sid: common.sh) and -cpu model, one guest:
#   before any kvm module is loaded: modprobe msr; kvmprobe msrs --save-list, --feature-list;
#   kvmprobe snapshot; then modprobe kvm_amd, kvm_oracle (KVM_GET_MSR_INDEX_LIST and
#   KVM_GET_MSR_FEATURE_INDEX_LIST) and kvmprobe msrs --compare-kvm.
# The host then asserts: both predicted lists equal the live ones (same entries, same order;
# a diff is printed otherwise), --compare-kvm agrees, and the same lists computed here from the
# guest's snapshot (--from) equal the in-guest answers.
#
# Usage: bash tests/vm/msrs.test.sh [/path/to/kvmprobe]    (static binary; default build/cli)
# Env:   KVMPROBE_VM_JOBS=N   guests at once (default: nproc, at most 4)
#        KVMPROBE_VM_REUSE=1  boot nothing: re-check the last run's guest output
#        KVMPROBE_VM_KERNELS="6.1 sid"  only these kernels (default: all)
# Prints "time RUN N s" per guest, the script's wall time and "N passed, N failed".
set -euo pipefail
VM_TEST_NAME=msrs
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t0=$(date +%s%N)

vm_take_kvmprobe "${1:-}"

# `kvmprobe msrs` must exist: without it every comparison below fails (never skips).
if "$KP" msrs --help >/dev/null 2>&1; then pass "kvmprobe msrs exists"
else fail "kvmprobe msrs exists" "'kvmprobe msrs --help' failed: the lists below cannot match"; fi

# RUN KERNEL CPU. EPYC,-rdtscp drops MSR_TSC_AUX (0xc0000103) from msrs_to_save.
vm_kernels
MATRIX=()
for k in "${VM_KERNEL_LIST[@]}"; do
  t=$(vm_kernel_tag "$k")
  MATRIX+=("epyc-$t $k EPYC" "qemu64svm-$t $k qemu64,+svm" "epycnordtscp-$t $k EPYC,-rdtscp")
done

guest_script=$VM_OUT_ROOT/guest-script.sh
{ vm_guest_sec; cat <<'EOF'
for m in kvm kvm_amd kvm_intel; do
  [ ! -d /sys/module/$m ] || echo "@@PRELOADED $m"
done
modprobe msr
sec save kvmprobe msrs --save-list
sec feature kvmprobe msrs --feature-list
sec snapshot kvmprobe snapshot -o /tmp/pre.json
sec snap cat /tmp/pre.json
modprobe kvm_amd
if [ -d /sys/module/kvm_amd ]; then echo "@@LOADED kvm_amd yes"; else echo "@@LOADED kvm_amd no"; fi
sec oracle kvm_oracle
sec compare kvmprobe msrs --compare-kvm
sec snapshot2 kvmprobe snapshot -o /tmp/post.json
sec snap2 cat /tmp/post.json
exit 0
EOF
} >"$guest_script"

jobs_max=${KVMPROBE_VM_JOBS:-$(nproc)}
[ "$jobs_max" -le 4 ] || jobs_max=4
MATRIX_RUN=("${MATRIX[@]}")
[ -z "${KVMPROBE_VM_REUSE:-}" ] || { MATRIX_RUN=(); echo "KVMPROBE_VM_REUSE: no guests booted, reusing $VM_OUT_ROOT"; }
running=()
for row in "${MATRIX_RUN[@]}"; do
  read -r run kern cpu <<<"$row"
  if [ "${#running[@]}" -ge "$jobs_max" ]; then vm_wait "${running[0]}"; running=("${running[@]:1}"); fi
  vm_start "$run" --kernel "$kern" --cpu "$cpu" --file "$KP:/bin/kvmprobe" --script "$guest_script" --timeout 150
  running+=("$run")
done
for run in "${running[@]}"; do vm_wait "$run"; done

# same_list NAME GOT-FILE WANT-FILE: one MSR index per line; same entries in the same order.
same_list() {
  if [ -s "$3" ] && cmp -s "$2" "$3"; then pass "$1 ($(wc -l <"$3") MSRs)"; return; fi
  local why
  if [ ! -s "$3" ]; then why="nothing to compare with (empty list)"
  elif [ "$(sort "$2")" = "$(sort "$3")" ]; then why="same entries, different order"
  else why="$(grep -cvxFf "$3" "$2" || true) extra, $(grep -cvxFf "$2" "$3" || true) missing"; fi
  fail "$1" "$why; kvmprobe $(wc -l <"$2"), KVM $(wc -l <"$3")"
  diff -U1 --label kvmprobe --label KVM "$2" "$3" | sed 's/^/     | /' | head -n 60 || true
}

for row in "${MATRIX[@]}"; do
  read -r run kern cpu <<<"$row"
  o=$(vm_out "$run")
  c="$kern $cpu:"
  echo "--- $run ($kern = $(kernel_var "$kern" VER), -cpu $cpu)"
  rc=$(vm_rc "$run")
  if [ "$rc" != 0 ]; then
    fail "$c guest script ran (exit 0)" "exit $rc$(sed -n '1s/^/: /p' "$o/harness.err" 2>/dev/null)" "$o/console.log"
    continue
  fi
  pass "$c guest script ran"
  if grep -q '^@@PRELOADED' "$o/out.log"; then
    fail "$c no kvm module loaded before kvmprobe ran" "$(grep '^@@PRELOADED' "$o/out.log" | tr '\n' ' ')"
  fi
  assert_contains "$c kvm_amd loaded" "$o/out.log" "@@LOADED kvm_amd yes"
  for s in save feature snap oracle compare snap2; do vm_section "$run" "$s" >"$o/$s.txt"; done
  for s in save feature compare; do vm_section "$run" "$s.err" >"$o/$s.err"; done
  assert_eq "$c msrs --save-list exits 0" "$(vm_section_rc "$run" save)" 0
  assert_eq "$c msrs --feature-list exits 0" "$(vm_section_rc "$run" feature)" 0
  [ ! -s "$o/save.err" ] || echo "     msrs --save-list stderr: $(head -n3 "$o/save.err" | tr '\n' ' ')"
  if grep -qvE '^0x[0-9a-f]+$' "$o/save.txt"; then
    fail "$c --save-list prints only 0x%x lines" "$(grep -m1 -vE '^0x[0-9a-f]+$' "$o/save.txt")"
  else pass "$c --save-list prints only 0x%x lines"; fi

  sed -n 's/^msr_index_list//p' "$o/oracle.txt" | tr ' ' '\n' | sed '/^$/d' >"$o/kvm-save.txt"
  sed -n 's/^feature_msr_list//p' "$o/oracle.txt" | tr ' ' '\n' | sed '/^$/d' >"$o/kvm-feature.txt"
  echo "     KVM: msr_index_count $(sed -n 's/^msr_index_count //p' "$o/oracle.txt")," \
       "feature_msr_count $(sed -n 's/^feature_msr_count //p' "$o/oracle.txt"); kvmprobe:" \
       "$(wc -l <"$o/save.txt") / $(wc -l <"$o/feature.txt")"
  assert_eq "$c oracle's list length = its count" "$(wc -l <"$o/kvm-save.txt")" \
    "$(sed -n 's/^msr_index_count //p' "$o/oracle.txt")"
  same_list "$c --save-list before loading = KVM_GET_MSR_INDEX_LIST after" "$o/save.txt" "$o/kvm-save.txt"
  same_list "$c --feature-list before loading = KVM_GET_MSR_FEATURE_INDEX_LIST after" \
    "$o/feature.txt" "$o/kvm-feature.txt"
  assert_eq "$c msrs --compare-kvm in the guest after loading exits 0" "$(vm_section_rc "$run" compare)" 0
  [ "$(vm_section_rc "$run" compare)" = 0 ] || sed 's/^/     | /' "$o/compare.txt" "$o/compare.err" | head -n 20

  # the guest's snapshot, analysed here
  if ! json_get "$o/snap.txt" schema >/dev/null; then
    fail "$c guest snapshot is JSON" "$(head -c 200 "$o/snap.txt")"
    continue
  fi
  cp "$o/snap.txt" "$o/pre.json"
  hrc=0
  "$KP" msrs --save-list --from "$o/pre.json" >"$o/host-save.txt" 2>"$o/host-save.err" || hrc=$?
  assert_eq "$c host msrs --save-list --from guest snapshot exits 0" "$hrc" 0
  [ ! -s "$o/host-save.err" ] || echo "     host --save-list stderr: $(head -n3 "$o/host-save.err" | tr '\n' ' ')"
  same_list "$c host --save-list --from guest snapshot = in-guest --save-list" "$o/host-save.txt" "$o/save.txt"
  hrc=0
  "$KP" msrs --feature-list --from "$o/pre.json" >"$o/host-feature.txt" 2>/dev/null || hrc=$?
  same_list "$c host --feature-list --from guest snapshot = in-guest --feature-list" \
    "$o/host-feature.txt" "$o/feature.txt"
  # the snapshot taken after loading carries KVM's lists: --compare-kvm works from it too
  if json_get "$o/snap2.txt" schema >/dev/null; then
    cp "$o/snap2.txt" "$o/post.json"
    hrc=0
    "$KP" msrs --compare-kvm --from "$o/post.json" >"$o/host-compare.txt" 2>&1 || hrc=$?
    assert_eq "$c host msrs --compare-kvm --from loaded guest's snapshot exits 0" "$hrc" 0
    [ "$hrc" = 0 ] || sed 's/^/     | /' "$o/host-compare.txt" | head -n 20
  else
    fail "$c snapshot after loading is JSON" "$(head -c 200 "$o/snap2.txt")"
  fi
done

# The kernels really differ (issue 3: 97 vs 73 on EPYC; 5.10 has 101): a model that ignored
# the version could not pass them all.
for pair in "5.10 6.1" "6.1 6.12"; do
  read -r a b <<<"$pair"
  fa=$(vm_out "epyc-$(vm_kernel_tag "$a")")/kvm-save.txt fb=$(vm_out "epyc-$(vm_kernel_tag "$b")")/kvm-save.txt
  if vm_has_kernel "$a" && vm_has_kernel "$b" && [ -s "$fa" ] && [ -s "$fb" ]; then
    assert_ne "EPYC: KVM's $a and $b lists differ" "$(cat "$fa")" "$(cat "$fb")"
  fi
done

ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "msrs.test.sh wall time: $((ms / 1000)).$((ms % 1000 / 100)) s (${#MATRIX[@]} guests, $jobs_max at once)"
vm_summary
