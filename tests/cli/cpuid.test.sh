#!/usr/bin/env bash
# kvmprobe cpuid: exit codes, the kvmprobe.cpuid/1 document, --qemu-cpu (QEMU itself must
# accept the string when qemu-system-x86_64 is installed), parameters that change the answer.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

EPYC612=$SRC/tests/data/cpuid/epyc-612.snapshot.json   # a QEMU guest recorded before kvm_amd
QEMU64=$SRC/tests/data/cpuid/qemu64svm-61.snapshot.json

# --- text and exit 0 -----------------------------------------------------------------------------
kp cpuid --from "$EPYC612"
expect_rc 0 "cpuid on a recorded EPYC guest: exit 0"
expect_out_has "KVM_GET_SUPPORTED_CPUID predicted for kernel 6.12 (kvm_amd)" "cpuid: header names kernel and module"
expect_out_has "0x80000001   ecx" "cpuid: one row per modelled register"
expect_out_has " svm" "cpuid: nested on by default: svm listed"

# --- JSON -------------------------------------------------------------------------------------------
kp cpuid --from "$EPYC612" --json
expect_rc 0 "cpuid --json: exit 0"
expect_json "cpuid --json: schema and keys" "
d['schema'] == 'kvmprobe.cpuid/1' and d['profile'] == '6.12' and d['vendor_module'] == 'kvm_amd'
and d['evaluated'] is True and d['not_evaluated'] is None
and set(d) >= {'registers', 'leaves', 'features', 'unknown', 'qemu_cpu'}"
expect_json "cpuid --json: registers carry host, kvm_mask, supported as hex and feature names" "
all(set(r) >= {'leaf', 'subleaf', 'register', 'host', 'kvm_mask', 'supported', 'features'}
    and all(re.fullmatch('0x[0-9a-f]{8}', r[k]) for k in ('host', 'kvm_mask', 'supported')) for r in d['registers'])"
expect_json "cpuid --json: leaves hold only modelled registers (0x1: ecx, edx)" "
[set(l) for l in d['leaves'] if l['leaf'] == '0x1'] == [{'leaf', 'subleaf', 'ecx', 'edx'}]"
expect_json "cpuid --json: features sorted, svm and x2apic among them" "
d['features'] == sorted(d['features']) and 'svm' in d['features'] and 'x2apic' in d['features']"

# --- parameters and versions ------------------------------------------------------------------------
kp cpuid --from "$EPYC612" --param kvm_amd.nested=0 --json
expect_json "cpuid --param kvm_amd.nested=0: no svm" "'svm' not in d['features']"
kp cpuid --from "$EPYC612" --kernel 7.3 --json
expect_rc 0 "cpuid --kernel 7.3: exit 0 (data unconfirmed)"
expect_json "cpuid --kernel 7.3: says UNCONFIRMED" "any('UNCONFIRMED' in u for u in d['unknown'])"
kp cpuid --from "$EPYC612" --kernel 5.15
expect_rc 13 "cpuid --kernel 5.15: no CPUID model: exit 13"
expect_one_error_line "cpuid --kernel 5.15: one error line"
kp cpuid --from "$EPYC612" --kernel 5.15 --json
expect_json_error 13 "cpuid --kernel 5.15 --json"

# --- the vendor module would not load: no answer exists -------------------------------------------
kp cpuid --from "$INTEL_LOCKED_OFF" --kernel 6.1
expect_rc 11 "cpuid where VMX is locked off by firmware: exit 11"
kp cpuid --from "$AMD_SVMDIS" --kernel 6.12
expect_rc 11 "cpuid where SVM is disabled and locked: exit 11"

# --- --qemu-cpu --------------------------------------------------------------------------------------
kp cpuid --from "$QEMU64" --qemu-cpu
expect_rc 0 "cpuid --qemu-cpu: exit 0"
check "cpuid --qemu-cpu: one line, qemu64 then +/-name items" \
  grep -qxE 'qemu64(,[+-][a-z0-9.-]+)+' <<<"$OUT"
check "cpuid --qemu-cpu on qemu64,+svm: +amd-no-ssb (family 0xf is not SSB-affected), svm kept from qemu64" \
  bash -c 'grep -q ",+amd-no-ssb" <<<"$1" && ! grep -q ",[+-]svm" <<<"$1"' _ "$OUT"
check "cpuid --qemu-cpu: no +name qemu64 already has (e.g. +fpu, +sse2)" \
  bash -c '! grep -qE ",\+(fpu|sse2|lm|svm)(,|$)" <<<"$1"' _ "$OUT"
qcpu=$OUT
kp cpuid --from "$QEMU64" --qemu-cpu --param kvm_amd.nested=0
check "cpuid --qemu-cpu with nested=0: -svm (qemu64 has svm itself)" grep -q ",-svm" <<<"$OUT"
if command -v qemu-system-x86_64 >/dev/null; then
  # QEMU rejects an unknown feature name at once; a valid -cpu leaves the paused VM running
  # until the timeout (124).
  rc=0
  timeout 5 qemu-system-x86_64 -accel tcg -cpu "$qcpu" -machine q35 -display none -S \
    -nodefaults -monitor none -serial none >/dev/null 2>"$TMP/qemu.err" || rc=$?
  if [[ $rc == 124 ]]; then pass "qemu-system-x86_64 accepts the --qemu-cpu string"
  else fail "qemu-system-x86_64 accepts the --qemu-cpu string" "exit $rc: $(grep -v warning "$TMP/qemu.err" | head -2)"; fi
else
  skip_tool "qemu-system-x86_64 accepts the --qemu-cpu string" qemu-system-x86_64 qemu-system-x86
fi

finish
