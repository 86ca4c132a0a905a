#!/usr/bin/env bash
# check's verdict as exit code and JSON, from recorded snapshots (tests/data/snapshots), from
# variants of them made here, and from real dumps in the shared data when it is present.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

V=$TMP/variants
mkdir -p "$V"

# Variants of the recorded snapshots, each changing one fact.
snapshot_edit "$AMD_OK" "$V/amd-no-svm.json" '
for c in s["cpus"]:
    for l in c["cpuid"]:
        if l["leaf"] == "0x80000001":
            l["ecx"] = hex(int(l["ecx"], 16) & ~(1 << 2))   # CPUID.80000001h:ECX[2] SVM
'
snapshot_edit "$INTEL_OK" "$V/intel-no-vmx.json" '
for c in s["cpus"]:
    for l in c["cpuid"]:
        if l["leaf"] == "0x1":
            l["ecx"] = hex(int(l["ecx"], 16) & ~(1 << 5))   # CPUID.1:ECX[5] VMX
'
# What an imported CPUID-only dump looks like: every MSR unavailable, no MSR backend.
snapshot_edit "$INTEL_OK" "$V/intel-cpuid-only.json" '
s["origin"] = "import:aida64"; s["msr_backend"] = "none"; s["is_root"] = False
for c in s["cpus"]:
    for m in c.get("msrs", []):
        m["status"] = "unavailable"; m.pop("value", None)
'
# 0x3A unlocked: 4.19 KVM locks it itself, 5.6+ feat_ctl.c enables and locks it at boot.
snapshot_edit "$INTEL_LOCKED_OFF" "$V/intel-unlocked.json" '
for c in s["cpus"]:
    for m in c.get("msrs", []):
        if m["index"] == "0x3a": m["value"] = "0x0"
'
# VM_CR.SVMDIS set but not locked: KVM only tests SVMDIS (kvm-init.md 3.1), so still refused.
snapshot_edit "$AMD_OK" "$V/amd-svmdis-unlocked.json" '
for c in s["cpus"]:
    for m in c.get("msrs", []):
        if m["index"] == "0xc0010114": m["value"] = "0x10"
'
# CPU 1 lacks required VMX controls that CPU 0 has: the per-CPU compatibility check fails.
snapshot_edit "$INTEL_OK" "$V/intel-inconsistent.json" '
for m in s["cpus"][1]["msrs"]:
    if m["index"] == "0x482": m["value"] = "0x401e172"
'
# The other vendor module already loaded.
snapshot_edit "$INTEL_OK" "$V/intel-kvm-amd-loaded.json" '
s["modules"] = [{"name": "kvm", "params": {}}, {"name": "kvm_amd", "params": {}}]
'

# name | file | kernel | exit | verdict.would_load (python) | verdict.refusal
CASES=(
  "AMD EPYC 7713 with SVM|$AMD_OK|6.1|0|True|none"
  "Intel Xeon 8180 with VMX enabled and locked|$INTEL_OK|6.1|0|True|none"
  "AMD EPYC 7742, VM_CR.SVMDIS locked|$AMD_SVMDIS|6.1|11|False|disabled_by_firmware"
  "AMD, VM_CR.SVMDIS set but unlocked|$V/amd-svmdis-unlocked.json|6.1|11|False|disabled_by_firmware"
  "Intel i7-8700K, 0x3A locked with VMX off|$INTEL_LOCKED_OFF|6.1|11|False|disabled_by_firmware"
  "Intel, 0x3A unlocked (kernel 4.19)|$V/intel-unlocked.json|4.19|0|True|none"
  "Intel, 0x3A unlocked (kernel 6.1)|$V/intel-unlocked.json|6.1|0|True|none"
  "AMD without SVM|$V/amd-no-svm.json|6.1|10|False|no_support"
  "Intel without VMX|$V/intel-no-vmx.json|6.1|10|False|no_support"
  "Intel, CPUID only (no MSRs)|$V/intel-cpuid-only.json|6.1|13|None|cannot_tell"
  "Intel, CPUs disagree on VMX controls|$V/intel-inconsistent.json|6.1|12|False|other"
  "Intel, kvm_amd already loaded|$V/intel-kvm-amd-loaded.json|6.1|12|False|other"
)

for entry in "${CASES[@]}"; do
  IFS='|' read -r name file kernel code would refusal <<<"$entry"
  kp check --from "$file" --kernel "$kernel"
  expect_rc "$code" "$name: check exits $code"
  kp check --from "$file" --kernel "$kernel" --json
  expect_rc "$code" "$name: check --json exits $code too"
  expect_json "$name: would_load is $would, refusal $refusal" \
    "d['verdict']['would_load'] is $would and d['verdict']['refusal'] == '$refusal'"
  # The same verdict for every modelled kernel where the answer does not depend on the version.
done

# Every modelled version agrees on these: the exit code, the step that fails and the verdict's
# reason. Where the kernel source is at hand (6.1, 6.12) the step's log lines are the kernel's own:
#  6.1:  arch/x86/kvm/x86.c: kvm_arch_init() ("kvm: no hardware support for '%s'", "kvm: support
#        for '%s' disabled by bios"); arch/x86/kvm/svm/svm.c: has_svm() ("has_svm: %s", the message
#        of arch/x86/include/asm/virtext.h: cpu_has_svm()); arch/x86/kernel/cpu/feat_ctl.c:
#        init_ia32_feat_ctl() ("x86/cpu: VMX (outside TXT) disabled by BIOS").
#  6.12: arch/x86/kvm/svm/svm.c: kvm_is_svm_supported() ("SVM not supported by CPU %d", pr_fmt
#        "kvm_amd: "); arch/x86/kvm/vmx/vmx.c: kvm_is_vmx_supported() ("VMX not supported by CPU
#        %d", "VMX not enabled (by BIOS) in MSR_IA32_FEAT_CTL on CPU %d"); arch/x86/kernel/cpu/
#        amd.c: init_amd() ("SVM disabled (by BIOS) in MSR_VM_CR"), then SVM is cleared.
verdict_per_version() { # NAME FILE EXIT FAILED_STEP REASON LOG_6.1 LOG_6.12 (python lists; '' = no check)
  local name=$1 file=$2 code=$3 v line k
  for v in 4.19 5.10 5.15 6.1 6.6 6.8 6.12 7.3; do
    kp check --from "$file" --kernel "$v" --json=short
    expect_rc "$code" "$name, kernel $v: exit $code"
    printf '%s' "$OUT" >"$TMP/verdict-$v.json"
  done
  # One python for the eight documents (a python per document doubled this script's time).
  while IFS= read -r line; do
    case $line in
      ok\ *) pass "${line#ok }" ;;
      *) line=${line#FAILED }; k=${line#*, kernel }; LAST_CMD="kvmprobe check --from $file --kernel ${k%%:*} --json=short"
         OUT='' ERR=''; fail "${line%%: got *}" "got ${line#*: got }" ;;
    esac
  done < <(python3 - "$TMP" "$name" "$4" "$5" "$6" "$7" <<'PY'
import ast, json, sys
tmp, name, failed, reason, log61, log612 = sys.argv[1:7]
for v in ("4.19", "5.10", "5.15", "6.1", "6.6", "6.8", "6.12", "7.3"):

    doc = json.load(open(f"{tmp}/verdict-{v}.json"))
    verdict = doc["verdict"]
    if not failed:
        want = {"would_load": True, "failed_step": None, "reason": f"{verdict['vendor_module']} would load with kernel {v}"}
        what = "would load, no failed step, the reason names the module and kernel"
    else:
        want = {"failed_step": failed, "reason": reason}
        what = f"fails at {failed}: '{reason}'"
    got = {k: verdict.get(k) for k in want}
    log = {"6.1": log61, "6.12": log612}.get(v, "")
    if failed and log:
        want["kvm_log"] = ast.literal_eval(log)
        got["kvm_log"] = [s for s in doc["steps"] if s["id"] == failed][0]["kvm_log"]
        what += f", logging {log}"
    print(("ok " if got == want else "FAILED ") + f"{name}, kernel {v}: {what}" + ("" if got == want else f": got {got}"))
PY
)
}
verdict_per_version "SVMDIS locked" "$AMD_SVMDIS" 11 bios-lock \
  "SVM disabled by firmware on CPUs 0-1 (VM_CR.SVMDIS set and locked)" \
  "[\"kvm: support for 'kvm_amd' disabled by bios\"]" \
  "['SVM disabled (by BIOS) in MSR_VM_CR', 'kvm_amd: SVM not supported by CPU 0']"
verdict_per_version "0x3A locked off" "$INTEL_LOCKED_OFF" 11 bios-lock \
  "VMX disabled by firmware on CPUs 0-1 (IA32_FEATURE_CONTROL locked with VMX off)" \
  "['x86/cpu: VMX (outside TXT) disabled by BIOS', \"kvm: support for 'kvm_intel' disabled by bios\"]" \
  "['x86/cpu: VMX (outside TXT) disabled by BIOS', 'kvm_intel: VMX not enabled (by BIOS) in MSR_IA32_FEAT_CTL on CPU 0']"
verdict_per_version "no SVM" "$V/amd-no-svm.json" 10 support \
  "CPU has no SVM (CPUID.0x80000001:ECX[2] clear)" \
  "['has_svm: svm not available', \"kvm: no hardware support for 'kvm_amd'\"]" \
  "['kvm_amd: SVM not supported by CPU 0']"
verdict_per_version "no VMX" "$V/intel-no-vmx.json" 10 support \
  "CPU has no VMX (CPUID.1:ECX[5] clear)" \
  "[\"kvm: no hardware support for 'kvm_intel'\"]" \
  "['kvm_intel: VMX not supported by CPU 0']"
verdict_per_version "AMD with SVM" "$AMD_OK" 0 "" "" "" ""
verdict_per_version "Intel with VMX" "$INTEL_OK" 0 "" "" "" ""
verdict_per_version "CPUID-only Intel" "$V/intel-cpuid-only.json" 13 bios-lock \
  "IA32_FEATURE_CONTROL not readable on CPUs 0-1" "[]" "[]"

# --- cannot tell: the missing evidence is named -------------------------------------------
kp check --from "$V/intel-cpuid-only.json" --kernel 6.1
expect_out_has "IA32_FEATURE_CONTROL" "CPUID-only Intel: the text names IA32_FEATURE_CONTROL"
expect_out_has "missing:" "CPUID-only Intel: a 'missing:' line"
kp check --from "$V/intel-cpuid-only.json" --kernel 6.1 --json
expect_json "CPUID-only Intel --json: verdict.reason names IA32_FEATURE_CONTROL" \
  "'IA32_FEATURE_CONTROL' in d['verdict']['reason']"
expect_json "CPUID-only Intel --json: failed_step is bios-lock with the MSR in missing[]" \
  "d['verdict']['failed_step'] == 'bios-lock' and any('0x3a' in m for s in d['steps'] if s['id'] == 'bios-lock' for m in s['missing'])"
kp -q check --from "$V/intel-cpuid-only.json" --kernel 6.1
expect_rc 13 "CPUID-only Intel -q: exit 13"
expect_out_empty "CPUID-only Intel -q: nothing on stdout"
check "CPUID-only Intel -q: one stderr line naming IA32_FEATURE_CONTROL" \
  bash -c '[[ $(wc -l <<<"$1") -eq 1 && $1 == *IA32_FEATURE_CONTROL* ]]' _ "$ERR"

# --- the text verdict lines -----------------------------------------------------------------
kp check --from "$AMD_SVMDIS" --kernel 6.1
expect_out_has "kvm_amd would load: no" "SVMDIS: text says 'kvm_amd would load: no'"
expect_out_has "KVM usable now:" "SVMDIS: text has the 'KVM usable now' line"
kp check --from "$AMD_OK" --kernel 6.1
expect_out_has "kvm_amd would load: yes" "AMD with SVM: text says 'kvm_amd would load: yes'"
kp check --from "$INTEL_LOCKED_OFF" --kernel 6.1
expect_out_has "kvm_intel would load: no" "0x3A locked off: text says 'kvm_intel would load: no'"
expect_out_has "fix:" "0x3A locked off: a remedy line"

# --- recorded QEMU guests (live snapshots with their kernel: no --kernel needed) ------------
guest() { # name file exit profile
  if [[ ! -f $2 ]]; then skip "$1" "$(basename "$2") not recorded"; return; fi
  kp check --from "$2"
  expect_rc "$3" "$1: exit $3"
  kp check --from "$2" --json
  expect_json "$1: profile $4 chosen from the snapshot's own kernel" "d['kernel']['profile'] == '$4'"
}
guest "Debian 6.1 guest, -cpu EPYC" "$SNAPS/qemu-6.1-epyc.json" 0 6.1
guest "Debian 6.1 guest, -cpu EPYC,-svm (no SVM)" "$SNAPS/qemu-6.1-epyc-nosvm.json" 10 6.1
guest "Debian 6.1 guest, -cpu Skylake-Server-v4 (no VMX under TCG)" "$SNAPS/qemu-6.1-skylake-server-v4.json" 10 6.1
guest "Debian 6.1 guest with kvm_amd loaded" "$SNAPS/qemu-6.1-epyc-kvm.json" 0 6.1
guest "Debian 6.12 guest, -cpu EPYC" "$SNAPS/qemu-6.12-epyc.json" 0 6.12
guest "Debian 6.12 guest, -cpu EPYC,-svm (no SVM)" "$SNAPS/qemu-6.12-epyc-nosvm.json" 10 6.12
guest "Debian 6.12 guest, -cpu qemu64,+svm" "$SNAPS/qemu-6.12-qemu64-svm.json" 0 6.12
guest "Debian 11 (5.10.262) guest, -cpu EPYC" "$SNAPS/qemu-5.10-epyc.json" 0 5.10
guest "Debian 11 (5.10.262) guest, -cpu EPYC,-svm (no SVM)" "$SNAPS/qemu-5.10-epyc-nosvm.json" 10 5.10
guest "Debian 11 (5.10.262) guest, -cpu Skylake-Server-v4 (no VMX under TCG)" "$SNAPS/qemu-5.10-skylake-server-v4.json" 10 5.10
guest "Debian sid (7.2.13) guest, -cpu EPYC: nearest profile 7.3" "$SNAPS/qemu-7.2-epyc.json" 0 7.3
guest "Debian sid (7.2.13) guest, -cpu EPYC,-svm (no SVM)" "$SNAPS/qemu-7.2-epyc-nosvm.json" 10 7.3
guest "Debian sid (7.2.13) guest with kvm_amd loaded" "$SNAPS/qemu-7.2-epyc-kvm.json" 0 7.3
if [[ -f $SNAPS/qemu-6.1-epyc-kvm.json ]]; then
  kp check --from "$SNAPS/qemu-6.1-epyc-kvm.json" --json
  expect_json "guest with kvm_amd loaded: KVM usable now, through kvm_amd" \
    "d['verdict']['kvm_usable'] is True and 'kvm_amd' in d['verdict']['kvm_usable_reason']"
fi

# --- real dumps from the shared data (skipped when it is absent) ---------------------------
SD=$(shared_data_dir || true)
import_and_check() { # name dump-relative-path expected-exit extra-check-words
  local name=$1 rel=$2 code=$3 words=${4:-}
  if [[ -z $SD ]]; then
    skip "$name: real dump imports and checks with exit $code" "shared data not present"
    return
  elif [[ ! -f $SD/$rel ]]; then
    skip "$name: real dump imports and checks with exit $code" "$rel not in the shared data"
    return
  fi
  local snap=$TMP/$(basename "$rel").json
  kp import --dump "$SD/$rel" -o "$snap" --release 6.1.0-56-amd64
  expect_rc 0 "$name: import --dump exits 0"
  kp check --from "$snap"
  expect_rc "$code" "$name: check exits $code"
  [[ -n $words ]] && expect_out_has "$words" "$name: the report mentions '$words'"
  kp check --from "$snap" --json=short
  expect_json "$name: --json has schema and verdict" \
    "d['schema'] == 'kvmprobe.check/1' and set(d['verdict']) >= {'kvm_usable', 'vendor_module', 'would_load', 'reason'}"
}
import_and_check "Intel Atom N270 (no VMX)" libcpuid-tests/intel/x86-atom/bonnell/intel-atom-cpu-n270.test 10 "no VMX"
import_and_check "AMD Athlon XP (no SVM)" libcpuid-tests/amd/k7/amd-athlon-xp.test 10
import_and_check "Intel Core i7-7500U, CPUID only" libcpuid-tests/intel/x86-64/skylake/intel-core-i7-7500u-cpu.test 13 "IA32_FEATURE_CONTROL"
import_and_check "AMD EPYC Milan (AIDA64, VM_CR not dumped)" libcpuid-tests-recovered/from-history/amd/zen3/epyc-milan.test 13

finish
