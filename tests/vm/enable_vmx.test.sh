#!/usr/bin/env bash
# End to end: `kvmprobe enable-vmx`, `provision` and `restore` in QEMU/TCG guests booting
# each kernel of tests/vm (5.10, 6.1, 6.12, sid; issue 5's proof; what TCG can show, qemu-testbed.md):
#   -cpu EPYC (VM_CR.SVMDIS clear): nothing to do, exit 0, and no MSR write at all: the guest
#     kernel logs no "Write to unrecognized MSR" and is not tainted by one; running it again,
#     --dry-run, --json, provision, restore: the same; a plan that would write (--from a
#     snapshot with SVMDIS set) is only printed; non-root callers get exit 16.
#   -cpu Skylake-Server-v4 (no VMX under TCG): exit 10, no write. Then the write layer itself
#     (tests/vm/provision_probe.cc, linked with kvmprobe_core) sets 0x3a bit 2 through
#     /dev/cpu/N/msr and through the companion driver (built here against the guest's headers):
#     TCG drops the write, and both must report "did not take effect"; the two-phase engine on
#     top rolls back (exit code 14), and restore finds nothing to put back. Where this host
#     cannot build the driver for a kernel (sid, see vm_build_driver), the driver half is
#     skipped with the reason and the rest runs.
#
# Usage: bash tests/vm/enable_vmx.test.sh [/path/to/kvmprobe]   (static; default build/cli/kvmprobe)
#   The probe is linked against core/libkvmprobe_core.a of the same build tree.
# Env:   KVMPROBE_VM_JOBS=N   guests at once (default: nproc, at most 4)
# Prints "time RUN N s" per guest, the wall time, and "N passed, N failed"; exit 1 on failure.
set -euo pipefail
VM_TEST_NAME=enable_vmx
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t0=$(date +%s%N)

W=$VM_OUT_ROOT/work
rm -rf "$W"
vm_take_kvmprobe "${1:-}" "$W"
BUILD=$(cd "$(dirname "$bin")/.." && pwd)

# --- host: the probe, the driver for both kernels, the guest's input files ------------------
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
t1=$(date +%s%N)
# Built by tests/CMakeLists.txt (target provision_probe) from the same kvmprobe_core.
if [ -x "$BUILD/tests/provision_probe" ] && cp "$BUILD/tests/provision_probe" "$W/provision_probe"; then
  pass "host: provision_probe built with this tree"
else
  fail "host: provision_probe built" "$BUILD/tests/provision_probe is missing (cmake target provision_probe)"
fi
vm_kernels
for s in "${VM_KERNEL_LIST[@]}"; do
  ( r=0; vm_build_driver "$s" "$W/driver-$s" || r=$?; echo "$r ${VM_DRIVER_WHY:-}" >"$W/driver-$s.rc" ) &
done
wait
declare -A NODRV=()
for s in "${VM_KERNEL_LIST[@]}"; do
  read -r brc bwhy <"$W/driver-$s.rc" 2>/dev/null || brc=1
  if [ "$brc" = 2 ]; then skip "host: kvmprobe.ko for $s" "$bwhy"; NODRV[$s]=$bwhy; continue; fi
  if [ -f "$W/driver-$s/kvmprobe.ko" ]; then pass "host: kvmprobe.ko builds for $s"
  else fail "host: kvmprobe.ko builds for $s" "$(tail -n 3 "$W/driver-$s/build.log")"; NODRV[$s]="it did not build"; fi
done
echo "time host-builds $(( $(ms "$t1") / 1000 )).$(( $(ms "$t1") % 1000 / 100 )) s"

# A snapshot that needs a write (SVMDIS set, unlocked on every CPU): only ever --dry-run.
python3 - "$SRC/tests/data/snapshots/qemu-6.1-epyc.json" "$W/svmdis.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for c in s["cpus"]:
    for m in c.get("msrs", []):
        if m["index"] == "0xc0010114":
            m["status"], m["value"] = "value", "0x10"
json.dump(s, open(sys.argv[2], "w"))
PY
cat >"$W/profile.json" <<'JSON'
{
  "schema": "kvmprobe.provision-profile/1",
  "desired": {"vmx": {"enabled": true, "locked": true}, "svm": {"enabled": true}},
  "expect": {"vendor_module_loads": true, "host_xcr0_includes": ["x87", "sse"]}
}
JSON
chmod 644 "$W/profile.json" "$W/svmdis.json"

{ vm_guest_sec; cat <<'EOF2'
facts() { # LABEL: taint and the msr driver's warnings so far
  echo "@@TAINT $1 $(cat /proc/sys/kernel/tainted)"
  echo "@@UNRECOGNIZED $1 $(dmesg | grep -c 'unrecognized MSR')"
}
EOF2
} >"$W/common.sh"
cat "$W/common.sh" - >"$W/epyc.sh" <<'EOF2'
facts start
modprobe msr
sec enable kvmprobe enable-vmx --yes --journal /tmp/j.jsonl
sec again kvmprobe enable-vmx --yes --journal /tmp/j.jsonl
sec json kvmprobe --json=short enable-vmx --yes --journal /tmp/j.jsonl
sec dry kvmprobe enable-vmx --dry-run --journal /tmp/j.jsonl
sec dryfrom kvmprobe --from /tmp/svmdis.json enable-vmx --dry-run --journal /tmp/j.jsonl
sec provision kvmprobe provision --profile /tmp/profile.json --yes --journal /tmp/j.jsonl
sec nonroot as-user kvmprobe enable-vmx --yes
sec nonroot_provision as-user kvmprobe provision --profile /tmp/profile.json --yes
sec nonroot_restore as-user kvmprobe restore
sec restore kvmprobe restore
if [ -e /tmp/j.jsonl ]; then echo "@@JOURNAL yes"; else echo "@@JOURNAL no"; fi
facts end
# The CLI's write path end to end, on a stand-in device: TCG's VM_CR always reads 0, so regular
# files take the place of /dev/cpu/N/msr (pread/pwrite at the MSR index, as msr.c) with SVMDIS
# set. Nothing here reaches a real MSR.
vmcr() { dd if=/dev/cpu/$1/msr bs=1 skip=$((0xc0010114)) count=8 2>/dev/null | od -An -tx1 | tr -d ' \n'; }
for n in 0 1; do
  rm -f /dev/cpu/$n/msr
  printf '\020\000\000\000\000\000\000\000' | dd of=/dev/cpu/$n/msr bs=1 seek=$((0xc0010114)) conv=notrunc 2>/dev/null
done
echo "@@VMCR before $(vmcr 0) $(vmcr 1)"
sec fake_dry kvmprobe enable-vmx --dry-run
sec fake_link_setup ln -s /tmp/elsewhere /root/link.jsonl
sec fake_link kvmprobe enable-vmx --yes --journal /root/link.jsonl
sec fake_tmp kvmprobe enable-vmx --yes --journal /tmp/j2.jsonl
echo "@@VMCR after_link $(vmcr 0) $(vmcr 1)"
sec fake_enable kvmprobe enable-vmx --yes
echo "@@VMCR after_enable $(vmcr 0) $(vmcr 1)"
sec fake_again kvmprobe enable-vmx --yes
sec fake_mode stat -c %a /var/lib/kvmprobe/journal.jsonl
sec fake_dirmode stat -c %a /var/lib/kvmprobe
sec fake_restore kvmprobe restore
echo "@@VMCR after_restore $(vmcr 0) $(vmcr 1)"
sec fake_restore2 kvmprobe restore
sec fake_journal cat /var/lib/kvmprobe/journal.jsonl
# Faults (issue 11): a second run while one holds the run lock; a full disk at the journal.
# SVMDIS is set again (restored above), so each run would write.
provision_probe hold 4 >/tmp/hold.out &
sleep 1
sec busy kvmprobe enable-vmx --yes
sec busy_restore kvmprobe restore
echo "@@VMCR after_busy $(vmcr 0) $(vmcr 1)"
wait
mkdir -p -m 700 /root/full && mount -t tmpfs -o size=8k,mode=0700 tmpfs /root/full
dd if=/dev/zero of=/root/full/fill bs=1k 2>/dev/null
sec full kvmprobe enable-vmx --yes --journal /root/full/j.jsonl
echo "@@VMCR after_full $(vmcr 0) $(vmcr 1)"
exit 0
EOF2
cat "$W/common.sh" - >"$W/skylake.sh" <<'EOF2'
facts start
modprobe msr
sec enable kvmprobe enable-vmx --yes --journal /tmp/j.jsonl
sec dry kvmprobe enable-vmx --dry-run --journal /tmp/j.jsonl
sec provision kvmprobe provision --profile /tmp/profile.json --yes --journal /tmp/j.jsonl
if [ -e /tmp/j.jsonl ]; then echo "@@JOURNAL yes"; else echo "@@JOURNAL no"; fi
facts before_probe
sec write_msr provision_probe write msr
sec apply_msr provision_probe apply msr /root/probe-msr.jsonl
sec restore_msr kvmprobe restore --journal /root/probe-msr.jsonl
if [ -f /root/kvmprobe.ko ]; then   # no driver for this kernel: the host says why
  # The module's writes are off by default (issue 11 item 9): the enable path opts in.
  insmod /root/kvmprobe.ko allow_writes=1
  sec backend provision_probe backend
  sec write_driver provision_probe write driver
  sec apply_driver provision_probe apply driver /root/probe-driver.jsonl
  sec journal cat /root/probe-driver.jsonl
fi
facts end
# Faults (issue 11): the engine killed (SIGKILL) at its Nth write, then `kvmprobe restore`. TCG
# drops 0x3a writes, so regular files stand in for /dev/cpu/N/msr (0x3a = 0 on both CPUs).
[ ! -f /root/kvmprobe.ko ] || rmmod kvmprobe
fc() { dd if=/dev/cpu/$1/msr bs=1 skip=$((0x3a)) count=8 2>/dev/null | od -An -tx1 | tr -d ' \n'; }
standin() {
  for c in 0 1; do
    rm -f /dev/cpu/$c/msr
    printf '\000\000\000\000\000\000\000\000' | dd of=/dev/cpu/$c/msr bs=1 seek=$((0x3a)) conv=notrunc 2>/dev/null
  done
}
for k in 1 2 3; do  # 1: inside phase 1; 2: between the phases; 3: inside the lock phase (sec() uses $n)
  standin
  sec kill$k provision_probe kill $k /root/kill$k.jsonl
  echo "@@FC kill$k $(fc 0) $(fc 1)"
  sec kill${k}_restore kvmprobe restore --journal /root/kill$k.jsonl
  echo "@@FC kill${k}_restored $(fc 0) $(fc 1)"
done
exit 0
EOF2

# --- guests -----------------------------------------------------------------------------------
MATRIX=()
for k in "${VM_KERNEL_LIST[@]}"; do
  t=$(vm_kernel_tag "$k")
  MATRIX+=("epyc-$t $k EPYC epyc.sh" "skylake-$t $k Skylake-Server-v4 skylake.sh")
done
jobs_max=${KVMPROBE_VM_JOBS:-$(nproc)}
[ "$jobs_max" -le 4 ] || jobs_max=4
running=()
for row in "${MATRIX[@]}"; do
  read -r run kern cpu script <<<"$row"
  if [ "${#running[@]}" -ge "$jobs_max" ]; then vm_wait "${running[0]}"; running=("${running[@]:1}"); fi
  ko=(); [ ! -f "$W/driver-$kern/kvmprobe.ko" ] || ko=(--file "$W/driver-$kern/kvmprobe.ko:/root/kvmprobe.ko")
  vm_start "$run" --kernel "$kern" --cpu "$cpu" --smp 2 --timeout 240 --file "$KP:/bin/kvmprobe" \
    --file "$W/provision_probe:/bin/provision_probe" "${ko[@]}" \
    --file "$W/profile.json:/tmp/profile.json" --file "$W/svmdis.json:/tmp/svmdis.json" --script "$W/$script"
  running+=("$run")
done
for run in "${running[@]}"; do vm_wait "$run"; done

# --- checks -----------------------------------------------------------------------------------
sec_has() { # RUN SECTION NAME FIXED-STRING
  local f; f=$(vm_out "$1")/$2.txt
  vm_section "$1" "$2" >"$f"
  if grep -qF -- "$4" "$f"; then pass "$3"; else fail "$3" "'$4' not in $2's output" "$f"; fi
}
sec_rc() { # RUN SECTION WANT NAME
  local got; got=$(vm_section_rc "$1" "$2")
  if [ "$got" = "$3" ]; then pass "$4"; else
    vm_section "$1" "$2.err" >"$(vm_out "$1")/$2.err"
    fail "$4" "exit $got, want $3: $(head -c 300 "$(vm_out "$1")/$2.err" | tr '\n' ' ')"; fi
}
fact() { sed -n "s/^@@$2 $3 //p" "$(vm_out "$1")/out.log" | head -n1; }
no_msr_write() { # RUN LABEL PREFIX: no "unrecognized MSR" line and no 'S' taint (bit 2) by then
  local t u; t=$(fact "$1" TAINT "$2"); u=$(fact "$1" UNRECOGNIZED "$2")
  assert_eq "$3 no 'Write to unrecognized MSR' in the kernel log" "$u" 0
  if [ -n "$t" ] && [ $((t & 4)) -eq 0 ]; then pass "$3 kernel not tainted by an MSR write (tainted=$t)"
  else fail "$3 kernel not tainted by an MSR write" "tainted='$t'"; fi
}

for row in "${MATRIX[@]}"; do
  read -r run kern cpu script <<<"$row"
  c="$kern $cpu:"
  echo "--- $run ($kern, -cpu $cpu)"
  rc=$(vm_rc "$run")
  if [ "$rc" != 0 ]; then
    fail "$c guest script ran" "exit $rc" "$(vm_out "$run")/console.log"; continue
  fi
  if [ "$script" = epyc.sh ]; then
    sec_rc "$run" enable 0 "$c enable-vmx exits 0"
    sec_has "$run" enable "$c enable-vmx: nothing to do" "nothing to do: VM_CR.SVMDIS is clear on every CPU"
    sec_rc "$run" again 0 "$c enable-vmx again exits 0 (idempotent)"
    sec_rc "$run" json 0 "$c enable-vmx --json exits 0"
    vm_section "$run" json >"$(vm_out "$run")/json.txt"
    assert_eq "$c --json: plan verdict nothing_to_do, no result" \
      "$(json_get "$(vm_out "$run")/json.txt" plan.verdict) $(json_get "$(vm_out "$run")/json.txt" result)" \
      "nothing_to_do null"
    sec_rc "$run" dry 0 "$c --dry-run exits 0"
    sec_rc "$run" dryfrom 0 "$c --dry-run of a plan that writes exits 0"
    sec_has "$run" dryfrom "$c --dry-run shows old -> new" "clear SVMDIS"
    sec_has "$run" dryfrom "$c --dry-run says nothing was written" "dry run: nothing was written"
    sec_rc "$run" provision 0 "$c provision exits 0"
    sec_has "$run" provision "$c provision: nothing to do" "nothing to do"
    sec_has "$run" provision "$c provision: expectation met" "expect vendor_module_loads"
    sec_rc "$run" nonroot 16 "$c non-root enable-vmx refused (16)"
    sec_has "$run" nonroot.err "$c non-root: says why" "must run as root"
    sec_rc "$run" nonroot_provision 16 "$c non-root provision refused (16)"
    sec_rc "$run" nonroot_restore 16 "$c non-root restore refused (16)"
    sec_rc "$run" restore 0 "$c restore without a journal exits 0"
    sec_has "$run" restore "$c restore: nothing to restore" "nothing to restore"
    assert_contains "$c no journal written (nothing to write)" "$(vm_out "$run")/out.log" "@@JOURNAL no"
    no_msr_write "$run" end "$c"
    assert_not_contains "$c dmesg: no unrecognized-MSR warning" "$(vm_out "$run")/dmesg.log" "unrecognized MSR"
    # The CLI write path on the stand-in device (regular files for /dev/cpu/N/msr).
    assert_eq "$c stand-in: VM_CR starts with SVMDIS set" "$(fact "$run" VMCR before)" \
      "1000000000000000 1000000000000000"
    sec_rc "$run" fake_dry 0 "$c stand-in: --dry-run plans the write, exit 0"
    sec_has "$run" fake_dry "$c stand-in: plan 0x10 -> 0x0" "0x10  0x0"
    sec_rc "$run" fake_link 3 "$c stand-in: a symlinked journal stops the run (exit 3)"
    sec_has "$run" fake_link.err "$c stand-in: says why" "symlink"
    sec_rc "$run" fake_tmp 3 "$c stand-in: a journal in sticky world-writable /tmp is refused (exit 3)"
    sec_has "$run" fake_tmp.err "$c stand-in: says why" "writable by group or others"
    assert_eq "$c stand-in: nothing written after the journal refusal" "$(fact "$run" VMCR after_link)" \
      "1000000000000000 1000000000000000"
    sec_rc "$run" fake_enable 0 "$c stand-in: enable-vmx applies, exit 0"
    sec_has "$run" fake_enable "$c stand-in: written and verified" "applied: 0xc0010114 written on CPUs 0-1 and verified"
    sec_has "$run" fake_enable "$c stand-in: names the journal" "journal: /var/lib/kvmprobe/journal.jsonl"
    assert_eq "$c stand-in: SVMDIS cleared on every CPU" "$(fact "$run" VMCR after_enable)" \
      "0000000000000000 0000000000000000"
    sec_rc "$run" fake_again 0 "$c stand-in: second run exits 0"
    sec_has "$run" fake_again "$c stand-in: second run has nothing to do" "nothing to do"
    sec_has "$run" fake_mode "$c stand-in: journal mode 0600" "600"
    sec_has "$run" fake_dirmode "$c stand-in: journal directory mode 0700" "700"
    sec_rc "$run" fake_restore 0 "$c stand-in: restore exits 0"
    sec_has "$run" fake_restore "$c stand-in: restore puts SVMDIS back" "restored: 0xc0010114 put back on CPUs 0-1"
    assert_eq "$c stand-in: SVMDIS set again" "$(fact "$run" VMCR after_restore)" \
      "1000000000000000 1000000000000000"
    sec_rc "$run" fake_restore2 0 "$c stand-in: second restore exits 0"
    sec_has "$run" fake_restore2 "$c stand-in: second restore has nothing to do" "nothing to restore"
    vm_section "$run" fake_journal >"$(vm_out "$run")/journal.jsonl"
    assert_eq "$c stand-in: journal lines (begin, 2 writes, end; restore: begin, 2 writes, end)" \
      "$(grep -c '"schema":"kvmprobe.journal/1"' "$(vm_out "$run")/journal.jsonl")" 8
    assert_eq "$c stand-in: journal's first line is the begin with old values" \
      "$(head -n1 "$(vm_out "$run")/journal.jsonl" | json_get - cpus.1.old)" "0x10"
    # Faults: concurrent runs are refused; a full disk at the journal stops before any write.
    sec_rc "$run" busy 1 "$c faults: enable-vmx while another run holds the lock: exit 1"
    sec_has "$run" busy.err "$c faults: says another run is writing" "is writing MSRs"
    sec_rc "$run" busy_restore 1 "$c faults: restore while another run holds the lock: exit 1"
    assert_eq "$c faults: nothing written while locked out" "$(fact "$run" VMCR after_busy)" \
      "1000000000000000 1000000000000000"
    sec_rc "$run" full 1 "$c faults: journal on a full disk: exit 1"
    sec_has "$run" full "$c faults: says the disk is full and nothing was written" \
      "aborted: cannot append to journal /root/full/j.jsonl: No space left on device: nothing was written"
    assert_eq "$c faults: nothing written with a full disk" "$(fact "$run" VMCR after_full)" \
      "1000000000000000 1000000000000000"
  else
    sec_rc "$run" enable 10 "$c enable-vmx without VMX exits 10"
    sec_has "$run" enable "$c says the CPU has no VMX" "the CPU has no VMX"
    sec_rc "$run" dry 10 "$c --dry-run without VMX exits 10"
    sec_rc "$run" provision 10 "$c provision without VMX exits 10"
    assert_contains "$c no journal written" "$(vm_out "$run")/out.log" "@@JOURNAL no"
    no_msr_write "$run" before_probe "$c before the probe:"
    # The write layer, called directly: TCG drops the write to 0x3a.
    sec_rc "$run" write_msr 0 "$c /dev/cpu/N/msr write of 0x3a bit 2: reported on every CPU"
    sec_has "$run" write_msr "$c /dev/cpu/N/msr: did not take effect" "via msr: did not take effect"
    assert_eq "$c /dev/cpu/N/msr: one line per CPU" \
      "$(grep -c 'did not take effect' "$(vm_out "$run")/write_msr.txt")" 2
    sec_rc "$run" apply_msr 0 "$c engine via msr: rolled back"
    sec_has "$run" apply_msr "$c engine via msr: exit code 14" "outcome rolled_back exit 14"
    sec_has "$run" apply_msr "$c engine via msr: names the failure" "did not take effect"
    sec_rc "$run" restore_msr 0 "$c restore after the rolled-back run exits 0"
    sec_has "$run" restore_msr "$c restore: nothing to restore" "nothing to restore"
    if [ -n "${NODRV[$kern]:-}" ]; then
      skip "$c the write layer through the companion driver" "no kvmprobe.ko for $kern: ${NODRV[$kern]}"
      assert_contains "$c dmesg: the msr driver saw the probe's write" "$(vm_out "$run")/dmesg.log" \
        "unrecognized MSR 0x3a"
    else
      sec_has "$run" backend "$c the driver is preferred, msr kept for undoing" "backend driver fallback msr"
      sec_rc "$run" write_driver 0 "$c driver GUARDED_WRITE of 0x3a bit 2: reported on every CPU"
      sec_has "$run" write_driver "$c driver: did not take effect" "via driver: did not take effect"
      sec_rc "$run" apply_driver 0 "$c engine via driver: rolled back"
      sec_has "$run" apply_driver "$c engine via driver: exit code 14" "outcome rolled_back exit 14"
      sec_has "$run" journal "$c journal: begin line with the old values" '"event":"begin"'
      sec_has "$run" journal "$c journal: the write, as it happened" '"status":"did not take effect"'
      sec_has "$run" journal "$c journal: end line" '"outcome":"rolled_back"'
      # The writes reached the kernel: the checks above would have seen them.
      assert_contains "$c dmesg: the msr driver saw the probe's write" "$(vm_out "$run")/dmesg.log" \
        "unrecognized MSR 0x3a"
      assert_contains "$c dmesg: kvmprobe.ko logged its write" "$(vm_out "$run")/dmesg.log" "wrote MSR 0x3a"
      t=$(fact "$run" TAINT end)
      if [ -n "$t" ] && [ $((t & 4)) -ne 0 ]; then pass "$c the probe's writes tainted the kernel (tainted=$t)"
      else fail "$c the probe's writes tainted the kernel" "tainted='$t'"; fi
    fi
    # Faults: killed at its 2nd/3rd/4th write (stand-in 0x3a), then restore.
    for n in 1 2 3; do sec_rc "$run" kill$n 137 "$c faults: engine killed by SIGKILL at write $((n + 1))"; done
    assert_eq "$c faults: killed inside phase 1: CPU 0 enabled only" "$(fact "$run" FC kill1)" \
      "0400000000000000 0000000000000000"
    assert_eq "$c faults: killed between the phases: both enabled, none locked" "$(fact "$run" FC kill2)" \
      "0400000000000000 0400000000000000"
    assert_eq "$c faults: killed inside the lock phase: CPU 0 locked" "$(fact "$run" FC kill3)" \
      "0500000000000000 0400000000000000"
    sec_rc "$run" kill1_restore 0 "$c faults: restore after a kill inside phase 1: exit 0"
    sec_rc "$run" kill2_restore 0 "$c faults: restore after a kill between the phases: exit 0"
    for n in 1 2; do
      assert_eq "$c faults: restore after kill $n put every CPU back" "$(fact "$run" FC kill${n}_restored)" \
        "0000000000000000 0000000000000000"
    done
    sec_rc "$run" kill3_restore 15 "$c faults: restore after a kill in the lock phase: exit 15 (CPU 0 locked)"
    sec_has "$run" kill3_restore "$c faults: names the locked CPU" "locked"
    assert_eq "$c faults: CPU 1 put back, locked CPU 0 untouched" "$(fact "$run" FC kill3_restored)" \
      "0500000000000000 0000000000000000"
  fi
done

echo "enable_vmx.test.sh wall time: $(( $(ms "$t0") / 1000 )).$(( $(ms "$t0") % 1000 / 100 )) s (${#MATRIX[@]} guests, $jobs_max at once)"
vm_summary
