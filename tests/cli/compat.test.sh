#!/usr/bin/env bash
# kvmprobe compat SRC DST: exit codes 0 / 21 / 22 / 13, bad input, --both, --json
# (kvmprobe.compat/1), on the recorded QEMU EPYC guests of Debian 6.1 and 6.12.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

OLD=$SNAPS/qemu-6.1-epyc-kvm.json
NEW=$SNAPS/qemu-6.12-epyc-kvm.json
V=$TMP/variants
mkdir -p "$V"
# The same host with a faster TSC (2.1 GHz), as recorded by KVM_GET_TSC_KHZ and the others.
snapshot_edit "$NEW" "$V/new-2100.json" '
for c in s["tsc"]: c["khz"] = 2100000
'

# --- verdicts and exit codes --------------------------------------------------------------------
kp compat "$NEW" "$NEW"
expect_rc 0 "same host, same kernel: compatible, exit 0"
expect_out_has "verdict: compatible" "text names the verdict"

kp compat "$OLD" "$NEW"
expect_rc 22 "6.1 -> 6.12: the destination rejects MSRs, exit 22"
expect_out_has "0x309" "the rejected MSRs are named as 0x%x"

kp compat "$V/new-2100.json" "$NEW"
expect_rc 21 "2.1 GHz -> 2.0 GHz without TSC scaling: catch-up only, exit 21"

kp compat "$NEW" "$V/new-2100.json"
expect_rc 22 "2.0 GHz -> 2.1 GHz without TSC scaling: refused, exit 22"
expect_out_has "user requested TSC rate below hardware speed" "the kernel's log line is shown"

kp compat "$NEW" "$NEW" --dst-kernel 5.15
expect_rc 13 "a destination kernel whose KVM_SET_MSRS is not modelled: cannot tell, exit 13"

kp compat "$OLD" "$OLD" --dst-kernel 6.12
expect_rc 22 "--dst-kernel 6.12 models the upgrade of the same host: exit 22"

# CPUID: real KVM on the qemu64,+svm guest (family 0xf) reports amd-no-ssb, on EPYC not
# (tests/data/cpuid/qemu64svm-61.kvm.txt vs epyc-61.kvm.txt: 0x80000008 EBX bit 26).
kp compat "$SNAPS/qemu-6.1-qemu64-svm-kvm.json" "$SNAPS/qemu-6.1-epyc-kvm.json" --json
expect_rc 21 "qemu64,+svm -> EPYC: conditional, exit 21"
expect_json "--json: the cpuid step warns and cpuid_lost names amd-no-ssb" "
[s['status'] for s in d['steps'] if s['id'] == 'cpuid'] == ['warn'] and d['cpuid_lost'] == ['amd-no-ssb']
and 'enforce' in [s for s in d['steps'] if s['id'] == 'cpuid'][0]['remedy']
and '-cpu host' not in [s for s in d['steps'] if s['id'] == 'cpuid'][0]['remedy']"
kp compat "$NEW" "$NEW" --dst-kernel 5.15 --json
expect_json "a kernel whose CPUID caps are not modelled: the cpuid step is unknown, saying why" "
[s['status'] for s in d['steps'] if s['id'] == 'cpuid'] == ['unknown'] and d['cpuid_lost'] == []
and 'not modelled for kernel profile 5.15' in [s for s in d['steps'] if s['id'] == 'cpuid'][0]['summary']"

kp -q compat "$OLD" "$NEW"
expect_rc 22 "-q keeps the exit code"
expect_out_empty "-q prints nothing on stdout"
expect_err_has "incompatible" "-q prints the one-line reason on stderr"

# --- JSON ---------------------------------------------------------------------------------------
kp compat "$OLD" "$NEW" --json
expect_json "--json: contract keys" "
d['schema'] == 'kvmprobe.compat/1' and d['verdict'] == 'incompatible' and d['exit_code'] == 22
and [s['id'] for s in d['steps']] == ['vendor', 'msrs', 'xcr0', 'tsc', 'cpuid']
and all(set(s) >= {'id', 'title', 'status', 'summary', 'evidence', 'remedy'} for s in d['steps'])"
expect_json "--json: one msrs entry per MSR of the source's list, in its order" "
len(d['msrs']) == 97 and d['msrs'][0]['index'] == '0x174' and d['msrs'][8]['index'] == '0x10'"
expect_json "--json: 22 rejected, 8 dropped" "
sum(m['dst_accepts'] is False for m in d['msrs']) == 22
and sum((not m['dst_listed']) and m['dst_accepts'] is True for m in d['msrs']) == 8"

kp compat "$OLD" "$NEW" --both --json=short
expect_rc 22 "--both: the worse direction decides"
expect_json "--both --json: two directions, src->dst first" "
d['schema'] == 'kvmprobe.compat/1' and len(d['directions']) == 2
and d['directions'][0]['source']['profile'] == '6.1' and d['directions'][1]['source']['profile'] == '6.12'"

kp compat "$OLD" "$NEW" --both
expect_rc 22 "--both text: exit 22"
if [[ $(grep -c '^verdict:' <<<"$OUT") -eq 2 ]]; then pass "--both text: two verdicts"; else fail "--both text: two verdicts" "$OUT"; fi

# --- check --diff-kernel ------------------------------------------------------------------------
kp check --from "$OLD" --diff-kernel 6.12
expect_rc 22 "check --diff-kernel 6.12 on the 6.1 guest: guests cannot move, exit 22"
expect_out_has "enable_virt_at_load" "the new module default is named"
expect_out_has "0x309" "the removed save-list entries are named"

kp check --from "$OLD" --diff-kernel 6.12 --json
expect_json "--diff-kernel --json: kvmprobe.kernel-diff/1 with both compat directions" "
d['schema'] == 'kvmprobe.kernel-diff/1' and d['exit_code'] == 22 and d['old']['profile'] == '6.1'
and d['new']['profile'] == '6.12' and len(d['index_list']['removed']) == 30
and d['old_to_new']['schema'] == 'kvmprobe.compat/1' and d['new_to_old']['verdict'] == 'incompatible'"

kp check --from "$NEW" --diff-kernel 6.12
expect_rc 0 "check --diff-kernel to the kernel it runs: nothing changes, exit 0"

kp check --from "$NEW" --diff-kernel banana
expect_rc 2 "check --diff-kernel banana: usage error"

# --- bad input ----------------------------------------------------------------------------------
kp compat "$TMP/missing.json" "$NEW"
expect_rc 3 "missing source file: exit 3"
expect_one_error_line "missing source file: one error line"

echo '{"not": "a snapshot"' >"$TMP/broken.json"
kp compat "$NEW" "$TMP/broken.json" --json
expect_json_error 3 "broken destination file under --json"

kp compat "$NEW"
expect_rc 2 "DST missing: usage error, exit 2"

kp compat "$NEW" "$NEW" --dst-kernel 2.6
expect_rc 2 "a kernel older than every profile: usage error, exit 2"

finish
