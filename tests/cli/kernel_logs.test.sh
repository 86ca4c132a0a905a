#!/usr/bin/env bash
# The same host analysed for different kernels gives each version's own log text for the
# failing step (facts: ../shared/reference/kvm-init.md §2.2, §2.3, §3.3, §3.4).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

V=$TMP/variants
mkdir -p "$V"
snapshot_edit "$AMD_OK" "$V/amd-no-svm.json" '
for c in s["cpus"]:
    for l in c["cpuid"]:
        if l["leaf"] == "0x80000001": l["ecx"] = hex(int(l["ecx"], 16) & ~(1 << 2))
'
snapshot_edit "$INTEL_OK" "$V/intel-no-vmx.json" '
for c in s["cpus"]:
    for l in c["cpuid"]:
        if l["leaf"] == "0x1": l["ecx"] = hex(int(l["ecx"], 16) & ~(1 << 5))
'

FEAT_CTL_BOOT="x86/cpu: VMX (outside TXT) disabled by BIOS"

# expect_log NAME FILE KERNEL STEP EXIT LINE...: the failing step is STEP, the exit is EXIT, and
# that step's kvm_log is exactly LINE... in this order. Also: the text output shows each line.
expect_log() {
  local name=$1 file=$2 kernel=$3 step=$4 code=$5
  shift 5
  local want
  want=$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@")
  kp check --from "$file" --kernel "$kernel" --json
  expect_rc "$code" "$name, kernel $kernel: exit $code"
  expect_json "$name, kernel $kernel: step $step fails and logs exactly $want" \
    "d['verdict']['failed_step'] == '$step' and [s['kvm_log'] for s in d['steps'] if s['id'] == '$step'] == [$want]"
  kp check --from "$file" --kernel "$kernel"
  local line
  for line in "$@"; do
    expect_out_has "log: $line" "$name, kernel $kernel: text shows 'log: $line'"
  done
}

# --- AMD: VM_CR.SVMDIS set and locked (kvm-init.md §2.3, §3.4) -------------------------------
expect_log "SVMDIS" "$AMD_SVMDIS" 4.19 bios-lock 11 "kvm: disabled by bios"
expect_log "SVMDIS" "$AMD_SVMDIS" 5.10 bios-lock 11 "kvm: disabled by bios"
expect_log "SVMDIS" "$AMD_SVMDIS" 5.15 bios-lock 11 "kvm: disabled by bios"
expect_log "SVMDIS" "$AMD_SVMDIS" 6.1 bios-lock 11 "kvm: support for 'kvm_amd' disabled by bios"
expect_log "SVMDIS" "$AMD_SVMDIS" 6.6 bios-lock 11 "kvm_amd: SVM disabled (by BIOS) in MSR_VM_CR on CPU 0"
for v in 6.8 6.12 7.3; do
  expect_log "SVMDIS" "$AMD_SVMDIS" "$v" bios-lock 11 \
    "SVM disabled (by BIOS) in MSR_VM_CR" "kvm_amd: SVM not supported by CPU 0"
done

# No version's output carries another version's wording.
kp check --from "$AMD_SVMDIS" --kernel 6.6 --json
expect_json "SVMDIS, kernel 6.6: no 'kvm: disabled by bios' anywhere" \
  "not any('disabled by bios' in l for s in d['steps'] for l in s['kvm_log'])"
kp check --from "$AMD_SVMDIS" --kernel 4.19 --json
expect_json "SVMDIS, kernel 4.19: no 'kvm_amd:' prefix anywhere (4.19 has no pr_fmt for it)" \
  "not any(l.startswith('kvm_amd:') for s in d['steps'] for l in s['kvm_log'])"

# --- Intel: IA32_FEATURE_CONTROL locked with VMX off (§2.2, §3.2, §3.3) ----------------------
expect_log "0x3A locked off" "$INTEL_LOCKED_OFF" 4.19 bios-lock 11 "kvm: disabled by bios"
expect_log "0x3A locked off" "$INTEL_LOCKED_OFF" 5.10 bios-lock 11 "$FEAT_CTL_BOOT" "kvm: disabled by bios"
expect_log "0x3A locked off" "$INTEL_LOCKED_OFF" 6.1 bios-lock 11 "$FEAT_CTL_BOOT" \
  "kvm: support for 'kvm_intel' disabled by bios"
for v in 6.6 6.8 6.12; do
  expect_log "0x3A locked off" "$INTEL_LOCKED_OFF" "$v" bios-lock 11 "$FEAT_CTL_BOOT" \
    "kvm_intel: VMX not enabled (by BIOS) in MSR_IA32_FEAT_CTL on CPU 0"
done
# 7.3 splits the check: 0x3A locked means feat_ctl.c set X86_FEATURE_MSR_IA32_FEAT_CTL, then
# cleared X86_FEATURE_VMX, so KVM takes the second branch (§2.2 row 7.3, case b2).
expect_log "0x3A locked off" "$INTEL_LOCKED_OFF" 7.3 bios-lock 11 "$FEAT_CTL_BOOT" \
  "kvm_intel: VMX not fully enabled on CPU 0.  Check kernel logs and/or BIOS"

# --- no SVM / no VMX in CPUID (§2.2, §2.3) ---------------------------------------------------
expect_log "no SVM" "$V/amd-no-svm.json" 4.19 support 10 "has_svm: svm not available" "kvm: no hardware support"
expect_log "no SVM" "$V/amd-no-svm.json" 5.10 support 10 "has_svm: svm not available" "kvm: no hardware support"
expect_log "no SVM" "$V/amd-no-svm.json" 6.1 support 10 "has_svm: svm not available" \
  "kvm: no hardware support for 'kvm_amd'"
for v in 6.6 6.8 6.12 7.3; do
  expect_log "no SVM" "$V/amd-no-svm.json" "$v" support 10 "kvm_amd: SVM not supported by CPU 0"
done
expect_log "no VMX" "$V/intel-no-vmx.json" 4.19 support 10 "kvm: no hardware support"
expect_log "no VMX" "$V/intel-no-vmx.json" 5.10 support 10 "kvm: no hardware support"
expect_log "no VMX" "$V/intel-no-vmx.json" 6.1 support 10 "kvm: no hardware support for 'kvm_intel'"
for v in 6.6 6.8 6.12 7.3; do
  expect_log "no VMX" "$V/intel-no-vmx.json" "$v" support 10 "kvm_intel: VMX not supported by CPU 0"
done

# --- which profile a release string selects -------------------------------------------------
for v in 4.19 5.10 5.15 6.1 6.6 6.8 6.12 7.3; do
  kp check --from "$AMD_OK" --kernel "$v" --json
  expect_json "--kernel $v selects profile $v" "d['kernel']['profile'] == '$v'"
done
kp check --from "$AMD_OK" --kernel 6.1.192 --json
expect_json "--kernel 6.1.192 selects profile 6.1" "d['kernel']['profile'] == '6.1'"
kp check --from "$AMD_OK" --kernel 6.5.3 --json
expect_json "--kernel 6.5.3 selects profile 6.6 (applies from 6.2) and says it is approximate" \
  "d['kernel']['profile'] == '6.6' and 'not modelled' in d['kernel']['profile_note']"
# Debian 12's kernels are all named 6.1.0-N-amd64 but are 6.1.y stable releases (6.1.0-9 was
# 6.1.27, 6.1.0-56 is far later), with the vendor-init backports; none of them is v6.1.0. The
# profile chooser only corrects this from `uname -v`, which an imported snapshot lacks.
kp check --from "$AMD_OK" --kernel 6.1.0-56-amd64 --json
expect_json "--kernel 6.1.0-56-amd64 (a Debian 12 stable kernel) selects profile 6.1, not 6.1.0 (v6.1-rc7)" \
  "d['kernel']['profile'] == '6.1'"

finish
