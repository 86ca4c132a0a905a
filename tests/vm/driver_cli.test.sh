#!/usr/bin/env bash
# End to end: kvmprobe's companion-driver backend and `kvmprobe driver status|load|unload` in
# QEMU guests booting the kernels of tests/vm (5.10, 6.1, 6.12, sid; issue 4's CLI half). A kernel
# this host cannot build the module for (sid, see vm_build_driver) is skipped with the reason.
#
# The host builds kvmprobe.ko against each kernel's headers (as msr-driver/tests/run.sh does).
# Each guest (-cpu EPYC) then: `driver status` and `--backend driver` before loading (exit 13);
# `driver load` through $KVMPROBE_DRIVER_KO, again through --ko (already loaded); `driver
# status`; after `modprobe msr`, `snapshot --backend driver`, `--backend msr` and the default;
# `as-user` with --backend driver, and `driver status`; strace of `check --backend driver` and
# `--backend msr` (the host's strace and its libraries are copied in); `modprobe kvm_amd`,
# kvm_oracle and a driver snapshot; `driver unload` (twice); `driver load` of the other
# kernel's .ko, as `user`, and after raising one protection (lockdown=integrity,
# module.sig_enforce=Y, kernel.modules_disabled=1).
# The host compares the snapshots MSR for MSR and CPU for CPU, CR4.OSXSAVE with CPUID, EFER with
# MSR 0xc0000080, the driver's tsc_khz with KVM_GET_TSC_KHZ and tsc_early_khz, and counts the
# syscalls: the driver path must make O(1) ioctls per CPU and fewer syscalls than the msr path.
#
# Usage: bash tests/vm/driver_cli.test.sh [/path/to/kvmprobe]   (static; default build/cli)
# Env:   KVMPROBE_VM_JOBS=N (guests at once, default nproc, at most 3), VM_VERBOSE=1,
#        KVMPROBE_VM_REUSE=1 (boot nothing: re-check the last run's output)
# Prints one line per check, "time RUN N s" per guest, a syscall table, "N passed, N failed".
set -euo pipefail
VM_TEST_NAME=driver_cli
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t0=$(date +%s%N)

vm_take_kvmprobe "${1:-}"
STRACE=$(command -v strace || true)

# The matrix: RUN KERNEL SMP PROTECTION-RAISED-AT-THE-END EXTRA-CMDLINE
ALL_ROWS=(
  "d61-smp4   6.1  4 lockdown         tsc_early_khz=2000000"
  "d612-smp2  6.12 2 sig_enforce      -"
  "d612-smp8  6.12 8 modules_disabled tsc_early_khz=2000000"
  "d510-smp2  5.10 2 lockdown         -"
  "dsid-smp2  sid  2 sig_enforce      tsc_early_khz=2000000"
)

# --- host: kvmprobe.ko for every kernel (rebuilt only when msr-driver/ changed) ---
vm_kernels
if [ -z "${KVMPROBE_VM_REUSE:-}" ]; then
  tb=$(date +%s%N)
  for s in "${VM_KERNEL_LIST[@]}"; do
    ( r=0; vm_build_driver "$s" "$VM_OUT_ROOT/ko-$s" || r=$?; echo "$r ${VM_DRIVER_WHY:-}" >"$VM_OUT_ROOT/ko-$s.rc" ) &
  done
  wait
  echo "time build-modules $(( ($(date +%s%N) - tb) / 1000000 )) ms"
fi
BUILT=()
for s in "${VM_KERNEL_LIST[@]}"; do
  read -r brc bwhy <"$VM_OUT_ROOT/ko-$s.rc" 2>/dev/null || brc=1
  if [ "$brc" = 2 ]; then skip "host: kvmprobe.ko for $s" "$bwhy"; continue; fi
  ko=$VM_OUT_ROOT/ko-$s/kvmprobe.ko
  if [ -f "$ko" ]; then pass "host: kvmprobe.ko builds for $s ($(kernel_var "$s" VER))"; BUILT+=("$s")
  else fail "host: kvmprobe.ko builds for $s" "$(tail -n 3 "$VM_OUT_ROOT/ko-$s/build.log" 2>/dev/null)"; fi
done
MATRIX=()
for row in "${ALL_ROWS[@]}"; do
  read -r _ kern _ <<<"$row"
  [[ " ${BUILT[*]} " != *" $kern "* ]] || MATRIX+=("$row")
done
# "load of the other kernel's .ko": another kernel whose module was built
declare -A OTHER=()
for s in "${BUILT[@]}"; do
  for t in "${BUILT[@]}"; do [ "$t" = "$s" ] || { OTHER[$s]=$t; break; }; done
done
if [ "${#BUILT[@]}" -lt 2 ]; then
  fail "host: kvmprobe.ko for two kernels at least (the wrong-kernel load needs a second one)" "built for: ${BUILT[*]:-none}"
  vm_summary; exit 1
fi

guest_script=$VM_OUT_ROOT/guest-script.sh
{ vm_guest_sec; cat <<'EOF'
. /etc/driver-test.conf
KO=/root/kvmprobe.ko OTHER=/root/kvmprobe-other.ko
echo "@@CPUS $(grep -c ^processor /proc/cpuinfo)"
sec status0 kvmprobe driver status --json=short
sec forced0 kvmprobe --backend driver snapshot -o /tmp/none.json
sec load env KVMPROBE_DRIVER_KO=$KO kvmprobe driver load
sec load_again kvmprobe driver load --ko $KO
sec status kvmprobe driver status --json=short
sec status_text kvmprobe driver status
echo "@@DEV $(stat -c '%F %a %U' /dev/kvmprobe 2>&1)"
modprobe msr
sec snap_drv kvmprobe --backend driver snapshot -o /tmp/drv.json
sec snap_msr kvmprobe --backend msr snapshot -o /tmp/msr.json
sec snap_auto kvmprobe snapshot -o /tmp/auto.json
sec drv_json cat /tmp/drv.json
sec msr_json cat /tmp/msr.json
echo "@@AUTO_BACKEND $(sed -n 's/.*"msr_backend": *"\([a-z]*\)".*/\1/p' /tmp/auto.json)"
sec user_drv as-user kvmprobe --backend driver check
sec user_status as-user kvmprobe driver status --json=short
# Syscalls of `check` through each path: a summary (-c) and a per-call trace with fd paths.
if [ -x /bin/strace ]; then
  for b in driver msr; do
    strace -f -c -o /tmp/c-$b.txt kvmprobe --backend $b check >/dev/null 2>&1
    echo "@@RC strace_c_$b $?"
    strace -f -y -e trace=ioctl,pread64,sched_setaffinity -o /tmp/t-$b.txt \
      kvmprobe --backend $b check >/dev/null 2>&1
    echo "@@RC strace_t_$b $?"
    sec strace_c_$b cat /tmp/c-$b.txt
    echo "@@COUNT $b total $(awk '$NF == "total" { print $4 }' /tmp/c-$b.txt)"
    echo "@@COUNT $b ioctl_kvmprobe $(grep -c '^[0-9]* *ioctl([0-9]*</dev/kvmprobe>' /tmp/t-$b.txt)"
    echo "@@COUNT $b ioctl_all $(grep -c '^[0-9]* *ioctl(' /tmp/t-$b.txt)"
    echo "@@COUNT $b pread_msr $(grep -c '^[0-9]* *pread64([0-9]*</dev/cpu/[0-9]*/msr>' /tmp/t-$b.txt)"
    echo "@@COUNT $b pread_cpuid $(grep -c '^[0-9]* *pread64([0-9]*</dev/cpu/[0-9]*/cpuid>' /tmp/t-$b.txt)"
    echo "@@COUNT $b setaffinity $(grep -c 'sched_setaffinity(' /tmp/t-$b.txt)"
  done
  sec trace_drv_kvmprobe grep '</dev/kvmprobe>' /tmp/t-driver.txt
fi
modprobe kvm_amd
sec oracle kvm_oracle
sec snap_kvm kvmprobe --backend driver snapshot -o /tmp/drvkvm.json
sec drvkvm_json cat /tmp/drvkvm.json
sec unload kvmprobe driver unload
echo "@@AFTER_UNLOAD dev=$([ -e /dev/kvmprobe ] && echo yes || echo no) mod=$([ -d /sys/module/kvmprobe ] && echo yes || echo no)"
sec unload_again kvmprobe driver unload
sec status_after kvmprobe driver status --json=short
sec load_other kvmprobe driver load --ko $OTHER --json=short
sec load_user as-user kvmprobe driver load --ko $KO --json=short
case $RAISE in
  lockdown) echo integrity >/sys/kernel/security/lockdown ;;
  sig_enforce) echo Y >/sys/module/module/parameters/sig_enforce ;;
  modules_disabled) echo 1 >/proc/sys/kernel/modules_disabled ;;
esac
sec load_raised kvmprobe driver load --ko $KO --json=short
sec status_raised kvmprobe driver status --json=short
echo "@@RAISED_LOADED $([ -d /sys/module/kvmprobe ] && echo yes || echo no)"
exit 0
EOF
} >"$guest_script"

jobs_max=${KVMPROBE_VM_JOBS:-$(nproc)}
[ "$jobs_max" -le 3 ] || jobs_max=3
running=()
if [ -z "${KVMPROBE_VM_REUSE:-}" ]; then
  for row in "${MATRIX[@]}"; do
    read -r run kern smp raise extra <<<"$row"
    other=${OTHER[$kern]}
    conf=$VM_OUT_ROOT/$run.conf
    printf 'RAISE=%s\n' "$raise" >"$conf"
    args=(--kernel "$kern" --cpu EPYC --smp "$smp" --timeout 400 --file "$KP:/bin/kvmprobe"
          --file "$VM_OUT_ROOT/ko-$kern/kvmprobe.ko:/root/kvmprobe.ko"
          --file "$VM_OUT_ROOT/ko-$other/kvmprobe.ko:/root/kvmprobe-other.ko"
          --file "$conf:/etc/driver-test.conf" --script "$guest_script")
    [ -z "$STRACE" ] || args+=(--file "$STRACE:/bin/strace")
    [ "$extra" = - ] || args+=(--append "$extra")
    if [ "${#running[@]}" -ge "$jobs_max" ]; then vm_wait "${running[0]}"; running=("${running[@]:1}"); fi
    vm_start "$run" "${args[@]}"
    running+=("$run")
  done
  for run in "${running[@]}"; do vm_wait "$run"; done
else
  echo "KVMPROBE_VM_REUSE: no guests booted, reusing $VM_OUT_ROOT"
fi

# --- host side ---
# compare_snapshots DRIVER.json MSR.json: MSR for MSR, CPU for CPU; CR4.OSXSAVE = CPUID.1:ECX[27];
# EFER = MSR 0xc0000080; XCR0 equal. Prints "ok ..." / "FAIL ..." lines.
compare_snapshots() {
  python3 - "$1" "$2" <<'PY'
import json, sys
d, m = (json.load(open(p)) for p in sys.argv[1:3])
def out(ok, name, why=""):
    print(("ok " if ok else "FAIL ") + name + (": " + why if why and not ok else ""))
out(d["msr_backend"] == "driver", "driver snapshot records msr_backend driver", d["msr_backend"])
out(m["msr_backend"] == "msr", "msr snapshot records msr_backend msr", m["msr_backend"])
dc, mc = [c["cpu"] for c in d["cpus"]], [c["cpu"] for c in m["cpus"]]
out(dc == mc and dc == d["online_cpus"], "same CPUs (%s)" % dc, "%s vs %s" % (dc, mc))
total, diffs, bad_cr4, bad_efer, no_cr4 = 0, [], [], [], []
for a, b in zip(d["cpus"], m["cpus"]):
    ra = {x["index"]: (x["status"], x.get("value")) for x in a["msrs"]}
    rb = {x["index"]: (x["status"], x.get("value")) for x in b["msrs"]}
    total += len(ra)
    for i in sorted(set(ra) | set(rb), key=lambda s: int(s, 16)):
        if ra.get(i) != rb.get(i):
            diffs.append("cpu%d %s driver=%s msr=%s" % (a["cpu"], i, ra.get(i), rb.get(i)))
    if a.get("cpuid") != b.get("cpuid"):
        diffs.append("cpu%d cpuid differs" % a["cpu"])
    if a.get("xcr0") != b.get("xcr0"):
        diffs.append("cpu%d xcr0 driver=%s msr=%s" % (a["cpu"], a.get("xcr0"), b.get("xcr0")))
    if "cr4" not in a:
        no_cr4.append(a["cpu"]); continue
    leaf1 = next(l for l in a["cpuid"] if int(l["leaf"], 16) == 1 and int(l["subleaf"], 16) == 0)
    osxsave_cpuid = (int(leaf1["ecx"], 16) >> 27) & 1
    if (int(a["cr4"], 16) >> 18) & 1 != osxsave_cpuid:
        bad_cr4.append("cpu%d cr4=%s cpuid.1:ecx=%s" % (a["cpu"], a["cr4"], leaf1["ecx"]))
    efer_msr = rb.get("0xc0000080")
    if "efer" not in a or efer_msr is None or efer_msr[1] != a["efer"]:
        bad_efer.append("cpu%d efer=%s msr=%s" % (a["cpu"], a.get("efer"), efer_msr))
out(not diffs, "%d MSR reads on %d CPUs, CPUID and XCR0 equal through both paths" % (total, len(dc)),
    "; ".join(diffs[:6]) + (" (+%d more)" % (len(diffs) - 6) if len(diffs) > 6 else ""))
out(not no_cr4, "driver snapshot has cr0/cr4/efer on every CPU", "missing on CPUs %s" % no_cr4)
out(not bad_cr4, "CR4.OSXSAVE (bit 18) = CPUID.1:ECX[27] on every CPU", "; ".join(bad_cr4))
out(not bad_efer, "driver EFER = MSR 0xc0000080 on every CPU", "; ".join(bad_efer))
out(not any(k in c for c in m["cpus"] for k in ("cr0", "cr4", "efer")),
    "msr snapshot has no control registers (the driver was not used)")
PY
}
# tsc_of SNAPSHOT SOURCE: the khz of the first TSC candidate from SOURCE.
tsc_of() { python3 -c '
import json, sys
print(next((str(t["khz"]) for t in json.load(open(sys.argv[1]))["tsc"] if t["source"] == sys.argv[2]), "none"))' "$1" "$2"; }
errlines() { grep -c '^kvmprobe: error:' "$1" || true; }

declare -A COUNTS=()
for row in "${MATRIX[@]}"; do
  read -r run kern smp raise extra <<<"$row"
  o=$(vm_out "$run")
  c="$kern smp$smp:"
  echo "--- $run ($kern, -cpu EPYC -smp $smp${extra:+, $extra}, then $raise)"
  rc=$(vm_rc "$run")
  if [ "$rc" != 0 ]; then
    fail "$c guest script ran (exit 0)" "exit $rc$(sed -n '1s/^/: /p' "$o/harness.err" 2>/dev/null)" "$o/console.log"
    continue
  fi
  pass "$c guest script ran"
  for s in status0 status status_text user_status drv_json msr_json oracle drvkvm_json status_after \
           load load_again load_other load_user load_raised status_raised unload unload_again \
           trace_drv_kvmprobe strace_c_driver strace_c_msr; do
    vm_section "$run" "$s" >"$o/$s.txt"
  done
  for s in forced0 load user_drv load_other load_user load_raised unload status_text; do
    vm_section "$run" "$s.err" >"$o/$s.err"
  done
  sr() { vm_section_rc "$run" "$1"; }

  # before loading
  assert_eq "$c driver status before loading exits 13" "$(sr status0)" 13
  assert_eq "$c ... and says not loaded" "$(json_get "$o/status0.txt" module.loaded)/$(json_get "$o/status0.txt" usable)" false/false
  assert_eq "$c --backend driver without the driver exits 13" "$(sr forced0)" 13
  assert_contains "$c ... naming 'kvmprobe driver load'" "$o/forced0.err" "kvmprobe driver load"
  assert_eq "$c ... in one error line" "$(errlines "$o/forced0.err")" 1

  # load, status
  assert_eq "$c driver load (KVMPROBE_DRIVER_KO) exits 0" "$(sr load)" 0
  assert_contains "$c ... through finit_module, ABI 1" "$o/load.txt" "(finit_module); /dev/kvmprobe (ABI 1)"
  assert_eq "$c driver load --ko when loaded exits 0" "$(sr load_again)" 0
  assert_contains "$c ... already loaded" "$o/load_again.txt" "already loaded"
  assert_eq "$c driver status exits 0" "$(sr status)" 0
  assert_eq "$c ... loaded, usable, ABI 1 matches" \
    "$(json_get "$o/status.txt" module.loaded)/$(json_get "$o/status.txt" usable)/$(json_get "$o/status.txt" abi.version)/$(json_get "$o/status.txt" abi.matches)" \
    true/true/1/true
  assert_eq "$c ... device 0600 character device" \
    "$(json_get "$o/status.txt" device.mode)/$(json_get "$o/status.txt" device.char_device)" 0600/true
  assert_eq "$c ... module taint OE, allow_writes" \
    "$(json_get "$o/status.txt" module.taint)/$(json_get "$o/status.txt" module.allow_writes)" OE/true
  assert_contains "$c status text: loaded and usable" "$o/status_text.txt" "kvmprobe driver: loaded and usable"
  assert_contains "$c /dev/kvmprobe is 0600 root" "$o/out.log" "@@DEV character special file 600 root"

  # snapshots through both paths
  for s in snap_drv snap_msr snap_auto; do assert_eq "$c $s exits 0" "$(sr $s)" 0; done
  assert_eq "$c the default backend picks the driver" "$(sed -n 's/^@@AUTO_BACKEND //p' "$o/out.log")" driver
  while IFS= read -r line; do
    case $line in ok\ *) pass "$c ${line#ok }" ;; FAIL\ *) fail "$c ${line#FAIL }" ;; *) echo "$line" ;; esac
  done < <(compare_snapshots "$o/drv_json.txt" "$o/msr_json.txt" 2>&1)

  # non-root
  assert_eq "$c as user: --backend driver exits 13" "$(sr user_drv)" 13
  assert_eq "$c ... with exactly one error line" "$(errlines "$o/user_drv.err")" 1
  assert_match "$c ... saying root only" "$o/user_drv.err" "^kvmprobe: error: cannot open /dev/kvmprobe: Permission denied .*root only"
  assert_eq "$c as user: driver status exits 0 (loaded, ABI not askable)" "$(sr user_status)" 0
  assert_match "$c ... ABI error is permission denied" "$o/user_status.txt" '"error":"cannot open /dev/kvmprobe: Permission denied'

  # TSC
  oracle_khz=$(vm_field "$run" tsc_khz | cut -d' ' -f1)
  drv_khz=$(tsc_of "$o/drvkvm_json.txt" driver)
  assert_eq "$c driver tsc_khz equals KVM_GET_TSC_KHZ ($oracle_khz)" "$drv_khz" "$oracle_khz"
  assert_eq "$c ... the snapshot's kvm_vcpu candidate too" "$(tsc_of "$o/drvkvm_json.txt" kvm_vcpu)" "$oracle_khz"
  if [[ $extra == *tsc_early_khz=2000000* ]]; then
    assert_eq "$c driver tsc_khz with tsc_early_khz=2000000 (before kvm_amd)" "$(tsc_of "$o/drv_json.txt" driver)" 2000000
  fi

  # CR4/EFER feed check's "VMX/SVM held by another hypervisor": since 6.12 kvm_amd sets
  # EFER.SVME on every CPU at load (enable_virt_at_load). The driver must see it; with the KVM
  # modules taken out of that snapshot, check must blame another hypervisor.
  if [ "$kern" = 6.12 ] || [ "$kern" = sid ]; then
    held=$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(",".join(str(c["cpu"]) for c in s["cpus"] if int(c.get("efer", "0x0"), 16) >> 12 & 1))' "$o/drvkvm_json.txt")
    assert_eq "$c driver sees EFER.SVME on every CPU after modprobe kvm_amd" "$held" \
      "$(seq -s, 0 $((smp - 1)))"
    python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
s["modules"] = [m for m in s["modules"] if not m["name"].startswith("kvm")]
json.dump(s, open(sys.argv[2], "w"))' "$o/drvkvm_json.txt" "$o/svme-other.json"
    "$KP" check --from "$o/svme-other.json" --json=short >"$o/svme-check.json" 2>"$o/svme-check.err" || true
    assert_eq "$c check --from that snapshot without kvm modules: would_load false, refusal other" \
      "$(json_get "$o/svme-check.json" verdict.would_load)/$(json_get "$o/svme-check.json" verdict.refusal)" \
      false/other
    env_status=$(python3 -c '
import json, sys
st = next(x for x in json.load(open(sys.argv[1]))["steps"] if x["id"] == "environment")
print(st["status"] + ": " + st["summary"])' "$o/svme-check.json" 2>/dev/null || echo none)
    assert_match "$c ... environment: EFER.SVME already set, another hypervisor" <(echo "$env_status") \
      "^fail: EFER.SVME already set on CPUs 0-$((smp - 1)): kvm_amd fails at load"
  fi

  # syscalls
  if [ -n "$STRACE" ]; then
    cnt() { sed -n "s/^@@COUNT $1 $2 //p" "$o/out.log"; }
    ncpu=$(sed -n 's/^@@CPUS //p' "$o/out.log")
    for b in driver msr; do
      for k in total ioctl_kvmprobe ioctl_all pread_msr pread_cpuid setaffinity; do
        COUNTS[$run.$b.$k]=$(cnt $b $k)
      done
      assert_eq "$c strace -c of check --backend $b ran" "$(vm_section_rc "$run" strace_c_$b)" 0
    done
    kp=${COUNTS[$run.driver.ioctl_kvmprobe]:-x}
    # GET_VERSION + TSC, and READ_MSRS + CPU_STATE per CPU: at most 2 + 2 × CPUs.
    if [[ $kp =~ ^[0-9]+$ ]] && [ "$kp" -le $((2 + 2 * ncpu)) ] && [ "$kp" -ge "$ncpu" ]; then
      pass "$c driver path: $kp ioctls on /dev/kvmprobe for $ncpu CPUs (<= 2 + 2 x CPUs)"
    else fail "$c driver path: O(1) ioctls per CPU" "$kp ioctls for $ncpu CPUs"; fi
    assert_eq "$c driver path reads no /dev/cpu/N/msr" "${COUNTS[$run.driver.pread_msr]}" 0
    assert_eq "$c msr path opens no /dev/kvmprobe" "${COUNTS[$run.msr.ioctl_kvmprobe]}" 0
    td=${COUNTS[$run.driver.total]:-0} tm=${COUNTS[$run.msr.total]:-0}
    if [[ $td =~ ^[0-9]+$ && $tm =~ ^[0-9]+$ ]] && [ "$td" -lt "$tm" ]; then
      pass "$c driver path makes fewer syscalls ($td) than the msr path ($tm)"
    else fail "$c driver path makes fewer syscalls than the msr path" "driver $td, msr $tm"; fi
  else
    skip "$c syscall counts" "no strace on the host"
  fi

  # unload
  assert_eq "$c driver unload exits 0" "$(sr unload)" 0
  assert_contains "$c ... module and device gone" "$o/out.log" "@@AFTER_UNLOAD dev=no mod=no"
  assert_eq "$c driver unload again exits 0" "$(sr unload_again)" 0
  assert_contains "$c ... not loaded" "$o/unload_again.txt" "kvmprobe was not loaded"
  assert_eq "$c driver status after unloading exits 13" "$(sr status_after)" 13

  # refusals explained
  assert_eq "$c load of the other kernel's .ko exits 1" "$(sr load_other)" 1
  assert_eq "$c ... cause wrong_kernel" "$(json_get "$o/load_other.txt" cause)" wrong_kernel
  assert_match "$c ... 'built for another kernel' naming both releases" "$o/load_other.err" \
    "^kvmprobe: error: kvmprobe.ko was built for another kernel \([0-9]+\.[0-9a-z.+-]+; this is [0-9]+\."
  assert_contains "$c ... hint: rebuild (make -C msr-driver or DKMS)" "$o/load_other.err" "make -C msr-driver"
  echo "     load_other: $(head -n1 "$o/load_other.err")"
  echo "     errno $(json_get "$o/load_other.txt" errno), kernel log: $(json_get "$o/load_other.txt" kernel_log)"
  assert_eq "$c load as user exits 1" "$(sr load_user)" 1
  assert_eq "$c ... cause not_root" "$(json_get "$o/load_user.txt" cause)" not_root
  assert_eq "$c ... errno EPERM" "$(json_get "$o/load_user.txt" errno)" EPERM
  want=$raise; [ "$raise" = sig_enforce ] && want=signature
  assert_eq "$c load after raising $raise exits 1" "$(sr load_raised)" 1
  assert_eq "$c ... cause $want" "$(json_get "$o/load_raised.txt" cause)" "$want"
  assert_contains "$c ... not loaded" "$o/out.log" "@@RAISED_LOADED no"
  echo "     load_raised: $(head -n1 "$o/load_raised.err")"
  case $raise in
    lockdown) assert_eq "$c status shows lockdown integrity" "$(json_get "$o/status_raised.txt" lockdown)" integrity ;;
    sig_enforce) assert_eq "$c status shows sig_enforce" "$(json_get "$o/status_raised.txt" sig_enforce)" true ;;
    modules_disabled) assert_eq "$c status shows modules_disabled" "$(json_get "$o/status_raised.txt" modules_disabled)" true ;;
  esac
  assert_not_contains "$c no oops or warning in dmesg" "$o/dmesg.log" "Call Trace"
done

if [ -n "$STRACE" ]; then
  echo "--- syscalls of 'kvmprobe check' (strace -f; -c total, and per device from a -y trace)"
  printf '%-10s %-7s %8s %8s %10s %10s %10s %8s\n' guest backend total ioctl kvmprobe msr-pread cpuid-pread affinity
  for row in "${MATRIX[@]}"; do
    read -r run _ <<<"$row"
    for b in driver msr; do
      printf '%-10s %-7s %8s %8s %10s %10s %10s %8s\n' "$run" "$b" "${COUNTS[$run.$b.total]:-?}" \
        "${COUNTS[$run.$b.ioctl_all]:-?}" "${COUNTS[$run.$b.ioctl_kvmprobe]:-?}" \
        "${COUNTS[$run.$b.pread_msr]:-?}" "${COUNTS[$run.$b.pread_cpuid]:-?}" "${COUNTS[$run.$b.setaffinity]:-?}"
    done
  done
fi
echo "time total $(( ($(date +%s%N) - t0) / 1000000 )) ms"
vm_summary
