#!/usr/bin/env bash
# kvmprobe msrs: the candidate table, --save-list / --feature-list (exactly KVM's answer, one
# 0x%x per line, nothing else), --names, --json, --compare-kvm (exit 20 on a mismatch).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

V=$TMP/variants
mkdir -p "$V"
# perf registered no hardware PMU (as in every QEMU guest): KVM forces enable_pmu off. With
# --assume-rdmsr=vendor the AMD fixture's lists are then fully decided for 6.1 and 6.12.
snapshot_edit "$AMD_OK" "$V/amd-nopmu.json" '
s["perf"] = {"hw_pmu": "no", "pmu_name": "", "evidence": "test: no hardware PMU"}
'
snapshot_edit "$AMD_OK" "$V/amd-pmu.json" '
s["perf"] = {"hw_pmu": "yes", "pmu_name": "amd", "evidence": "test: hardware PMU"}
'
HOST=$V/amd-nopmu.json
ASSUME=--assume-rdmsr=vendor

# --- the table ----------------------------------------------------------------------------------
kp msrs --from "$HOST" --kernel 6.1 $ASSUME
expect_rc 0 "msrs table, lists decided: exit 0"
expect_out_has "KVM_GET_MSR_INDEX_LIST" "msrs table: the header names KVM_GET_MSR_INDEX_LIST"
table=$OUT
kp msrs --from "$HOST" --kernel 6.1 $ASSUME --json
json=$OUT
expect_json "msrs --json: schema and keys" "
d['schema'] == 'kvmprobe.msrs/1' and d['profile'] == '6.1' and d['vendor_module'] == 'kvm_amd' and d['complete'] is True
and set(d) >= {'missing', 'assumptions', 'params', 'counts', 'index_list', 'feature_list', 'entries'}"
expect_json "msrs --json: every entry has list, position, index, name, rule, fate, reason, assumed" "
all(set(e) >= {'list', 'position', 'index', 'name', 'rule', 'fate', 'reason', 'assumed'} for e in d['entries'])
and all(e['list'] in ('save', 'emulated', 'feature') and e['fate'] in ('kept', 'dropped', 'unknown') for e in d['entries'])
and all(re.fullmatch('0x[0-9a-f]+', e['index']) for e in d['entries'])"
expect_json "msrs --json: a dropped entry always says why" \
  "all(e['reason'] != '' for e in d['entries'] if e['fate'] != 'kept')"
expect_json "msrs --json: counts add up per list" "
all(c['kept'] + c['dropped'] + c['unknown'] == c['candidates'] == len([e for e in d['entries'] if e['list'] == l])
    for l, c in d['counts'].items())"
expect_json "msrs --json: index_list is kept save entries then kept emulated entries, in KVM's order" "
d['index_list'] == [e['index'] for e in d['entries'] if e['list'] == 'save' and e['fate'] == 'kept']
                 + [e['index'] for e in d['entries'] if e['list'] == 'emulated' and e['fate'] == 'kept']"
expect_json "msrs --json: feature_list is the kept feature entries" \
  "d['feature_list'] == [e['index'] for e in d['entries'] if e['list'] == 'feature' and e['fate'] == 'kept']"
expect_json "msrs --json: parameters used are reported with their origin" \
  "any(p['name'] == 'kvm.enable_pmu' and p['origin'] != '' for p in d['params'])"
rows=$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))' <<<"$json")
check "msrs table: one row per candidate ($rows)" \
  test "$(grep -cE '^(save|emulated|feature) ' <<<"$table")" -eq "$rows"
check "msrs table: dropped rows carry a reason" \
  bash -c '! grep -E "^(save|emulated|feature) +[0-9]+ 0x[0-9a-f]+ +[A-Za-z0-9_]+ +dropped *$" <<<"$1"' _ "$table"

kp msrs --from "$HOST" --kernel 6.1 $ASSUME --no-legend
expect_out_lacks "KVM_GET_MSR_INDEX_LIST" "msrs --no-legend: no header"

# --- --save-list / --feature-list ----------------------------------------------------------------
# Against the oracle: what KVM itself answered in a QEMU guest (KVM_GET_MSR_INDEX_LIST and
# KVM_GET_MSR_FEATURE_INDEX_LIST recorded in qemu-<series>-epyc-kvm.json after modprobe kvm_amd),
# predicted from the snapshot the same guest took before any KVM module was loaded.
live_list() { # FILE KEY: one index per line
  python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["kvm"][sys.argv[2]]))' "$1" "$2"
}
for g in 6.1-epyc 6.12-epyc; do
  before=$SNAPS/qemu-$g.json after=$SNAPS/qemu-$g-kvm.json
  want_save=$(live_list "$after" msr_index_list)
  want_feat=$(live_list "$after" feature_msr_list)
  kp msrs --from "$before" --save-list
  expect_rc 0 "--save-list (guest $g): exit 0"
  expect_err_empty "--save-list (guest $g): nothing on stderr"
  check "--save-list (guest $g): only lines of lower-case 0x%x" bash -c '! grep -vxE "0x[0-9a-f]+" <<<"$1"' _ "$OUT"
  check "--save-list (guest $g): no leading zeros" bash -c '! grep -qE "^0x0[0-9a-f]" <<<"$1"' _ "$OUT"
  check "--save-list (guest $g): equals the live KVM_GET_MSR_INDEX_LIST, same order ($(wc -l <<<"$want_save") MSRs)" \
    test "$OUT" == "$want_save"
  kp msrs --from "$before" --save-list --names
  expect_rc 0 "--save-list --names (guest $g): exit 0"
  check "--save-list --names (guest $g): '0x%x NAME' lines" \
    bash -c '! grep -vxE "0x[0-9a-f]+( [A-Za-z0-9_]+)?" <<<"$1"' _ "$OUT"
  check "--save-list --names (guest $g): the live list's MSRs in its order" \
    test "$(cut -d' ' -f1 <<<"$OUT")" == "$want_save"
  check "--save-list --names (guest $g): 0x10 is named IA32_TSC" bash -c 'grep -qx "0x10 IA32_TSC" <<<"$1"' _ "$OUT"
  kp msrs --from "$before" --feature-list
  expect_rc 0 "--feature-list (guest $g): exit 0"
  check "--feature-list (guest $g): equals the live KVM_GET_MSR_FEATURE_INDEX_LIST ($(tr '\n' ' ' <<<"$want_feat"))" \
    test "$OUT" == "$want_feat"
  # Under --json, stdout is one kvmprobe.msr-list/1 document holding the same list.
  kp msrs --from "$before" --save-list --json=short
  expect_rc 0 "--save-list --json (guest $g): exit 0"
  expect_json "--save-list --json (guest $g): kvmprobe.msr-list/1 with the live list, named" "
d['schema'] == 'kvmprobe.msr-list/1' and d['list'] == 'KVM_GET_MSR_INDEX_LIST'
and [m['index'] for m in d['msrs']] == '$(tr '\n' ' ' <<<"$want_save")'.split()
and {'index': '0x10', 'name': 'IA32_TSC'} in d['msrs']"
done

# The lists differ between kernels, and follow the PMU and parameters.
kp msrs --from "$HOST" --kernel 6.1 $ASSUME --save-list
l61=$OUT
kp msrs --from "$HOST" --kernel 6.12 $ASSUME --save-list
l612=$OUT
check "6.1 and 6.12 give different save lists for the same host" test "$l61" != "$l612"
kp msrs --from "$V/amd-pmu.json" --kernel 6.12 $ASSUME --save-list
withpmu=$OUT
check "6.12 with a hardware PMU lists more MSRs than without ($(wc -l <<<"$withpmu") > $(wc -l <<<"$l612"))" \
  test "$(wc -l <<<"$withpmu")" -gt "$(wc -l <<<"$l612")"
kp msrs --from "$V/amd-pmu.json" --kernel 6.12 $ASSUME --save-list --param kvm.enable_pmu=0
check "6.12, --param kvm.enable_pmu=0 drops the PMU array (equals the no-PMU list)" test "$OUT" == "$l612"
kp msrs --from "$V/amd-pmu.json" --kernel 6.12 $ASSUME --json --param kvm.enable_pmu=0
expect_json "--param kvm.enable_pmu=0 is reported with origin --param" \
  "any(p['name'] == 'kvm.enable_pmu' and '--param' in p['origin'] for p in d['params'])"

# --- undecided lists: no guessing ----------------------------------------------------------------
kp msrs --from "$AMD_OK" --kernel 6.1 --save-list
expect_rc 13 "--save-list with unrecorded host RDMSRs: exit 13"
expect_out_empty "--save-list, undecided: nothing on stdout"
expect_one_error_line "--save-list, undecided: one error line"
expect_err_has "not recorded" "--save-list, undecided: the error says what was not recorded"
kp msrs --from "$AMD_OK" --kernel 6.1 --save-list --json=short
expect_json_error 13 "--save-list, undecided, --json"
kp msrs --from "$AMD_OK" --kernel 6.1
expect_rc 13 "msrs table with undecided candidates: exit 13"
expect_out_has "missing:" "msrs table, undecided: a 'missing:' line"

# --- --compare-kvm against a recorded live KVM ---------------------------------------------------
kp msrs --from "$HOST" --kernel 6.1 $ASSUME --compare-kvm
expect_rc 13 "--compare-kvm without a live KVM answer: exit 13"
expect_one_error_line "--compare-kvm without a live KVM answer: one error line"
expect_err_has "/dev/kvm" "--compare-kvm without a live KVM answer: says /dev/kvm"

kp msrs --from "$HOST" --kernel 6.1 $ASSUME --json=short
lists=$OUT
record_live() { # OUT-FILE MODULE PYTHON-EDIT-OF-(i, f)
  python3 - "$HOST" "$1" "$2" "$lists" "$3" <<'EOF'
import json, sys
src, dst, module, lists, code = sys.argv[1:6]
s = json.load(open(src)); l = json.loads(lists)
i, f = list(l["index_list"]), list(l["feature_list"])
exec(code)
s["modules"] = [{"name": "kvm", "params": {}}, {"name": module, "params": {}}]
s["kvm"] = {"present": True, "openable": True, "api_version": 12, "msr_index_list": i, "feature_msr_list": f}
json.dump(s, open(dst, "w"))
EOF
}
record_live "$V/live-same.json" kvm_amd ''
record_live "$V/live-missing-one.json" kvm_amd 'del i[3]'
record_live "$V/live-extra-one.json" kvm_amd 'i.append("0x4b564d08")'
record_live "$V/live-reordered.json" kvm_amd 'i[0], i[1] = i[1], i[0]'
record_live "$V/live-feature-differs.json" kvm_amd 'f.pop()'
record_live "$V/live-pvm.json" kvm_pvm ''
missing_one=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["index_list"][3])' "$lists")

kp msrs --from "$V/live-same.json" --kernel 6.1 $ASSUME --compare-kvm
expect_rc 0 "--compare-kvm, identical lists: exit 0"
expect_out_has "identical" "--compare-kvm, identical lists: says identical"
kp msrs --from "$V/live-same.json" --kernel 6.1 $ASSUME --compare-kvm -q
expect_rc 0 "--compare-kvm -q, identical: exit 0"
expect_out_empty "--compare-kvm -q, identical: nothing on stdout"

kp msrs --from "$V/live-missing-one.json" --kernel 6.1 $ASSUME --compare-kvm
expect_rc 20 "--compare-kvm, live lacks one MSR: exit 20"
expect_out_has "$missing_one" "--compare-kvm, live lacks one MSR: names $missing_one"
kp msrs --from "$V/live-extra-one.json" --kernel 6.1 $ASSUME --compare-kvm
expect_rc 20 "--compare-kvm, live has an extra MSR: exit 20"
expect_out_has "0x4b564d08" "--compare-kvm, live has an extra MSR: names it"
kp msrs --from "$V/live-reordered.json" --kernel 6.1 $ASSUME --compare-kvm
expect_rc 20 "--compare-kvm, same MSRs in another order: exit 20"
expect_out_has "order" "--compare-kvm, reordered: says the order differs"
kp msrs --from "$V/live-feature-differs.json" --kernel 6.1 $ASSUME --compare-kvm
expect_rc 20 "--compare-kvm, feature list differs: exit 20"
kp msrs --from "$V/live-missing-one.json" --kernel 6.1 $ASSUME --compare-kvm --json
expect_rc 20 "--compare-kvm --json, mismatch: exit 20"
expect_json "--compare-kvm --json: kvmprobe.msrs-compare/1 with match false and the difference" "
d['schema'] == 'kvmprobe.msrs-compare/1' and d['match'] is False
and any('$missing_one' in x for x in d['index_list_differences'])"
kp msrs --from "$V/live-pvm.json" --kernel 6.1 $ASSUME --compare-kvm
expect_rc 13 "--compare-kvm where KVM is kvm_pvm: exit 13"
expect_err_has "not modelled" "--compare-kvm where KVM is kvm_pvm: says it is not modelled"

# A prediction with undecided candidates is not a mismatch: it cannot be compared (exit 13),
# rather than listing every undecided MSR as "live only" and exiting 20.
kp msrs --from "$V/live-same.json" --kernel 6.1 --compare-kvm
expect_rc 13 "--compare-kvm with an undecided prediction: exit 13, not 20"

# --- real guests (tests/data/snapshots/qemu-*): the prediction from the snapshot taken before
# any kvm module was loaded equals what KVM returned after modprobe in the same guest ----------
for g in 5.10-epyc 5.10-qemu64-svm 6.1-epyc 6.1-qemu64-svm 6.12-epyc 6.12-qemu64-svm 7.2-epyc 7.2-qemu64-svm; do
  before=$SNAPS/qemu-$g.json after=$SNAPS/qemu-$g-kvm.json
  if [[ ! -f $before || ! -f $after ]]; then
    skip "guest $g: --save-list equals live KVM" "recorded guest snapshots not in tests/data/snapshots"
    continue
  fi
  live_save=$(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["kvm"]["msr_index_list"]))' "$after")
  live_feat=$(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["kvm"]["feature_msr_list"]))' "$after")
  kp msrs --from "$before" --save-list
  expect_rc 0 "guest $g: --save-list before modprobe: exit 0"
  check "guest $g: --save-list before modprobe equals live KVM_GET_MSR_INDEX_LIST ($(wc -l <<<"$live_save") MSRs, same order)" \
    test "$OUT" == "$live_save"
  kp msrs --from "$before" --feature-list
  check "guest $g: --feature-list equals live KVM_GET_MSR_FEATURE_INDEX_LIST" test "$OUT" == "$live_feat"
  kp msrs --from "$after" --compare-kvm
  expect_rc 0 "guest $g with kvm_amd loaded: --compare-kvm exit 0"
  expect_out_has "identical" "guest $g with kvm_amd loaded: --compare-kvm says identical"
done

# The parameters reported are the values KVM ends up with (issue 3): in a QEMU guest perf has
# no hardware PMU, so KVM forces enable_pmu off, and the lists are built with it off.
if [[ -f $SNAPS/qemu-6.12-epyc.json ]]; then
  kp msrs --from "$SNAPS/qemu-6.12-epyc.json" --json
  expect_json "guest 6.12-epyc: the PMU array is dropped because enable_pmu is forced off" \
    "any(e['fate'] == 'dropped' and 'enable_pmu off' in e['reason'] for e in d['entries'])"
  expect_json "guest 6.12-epyc: params report the enable_pmu value used (N, forced off), not only the default Y" \
    "any(p['name'].startswith('kvm.enable_pmu') and p['value'] in ('N', '0') for p in d['params'])"
  kp msrs --from "$SNAPS/qemu-6.12-epyc.json"
  check "guest 6.12-epyc: the table's param line shows kvm.enable_pmu=N" \
    bash -c 'grep -qE "^param kvm.enable_pmu[^=]*=N" <<<"$1"' _ "$OUT"
fi

# --- check's msr-lists step shows the same counts ------------------------------------------------
kp check --from "$HOST" --kernel 6.12 --json
expect_json "check: the msr-lists step exists and summarises the lists" "
[s for s in d['steps'] if s['id'] == 'msr-lists'] and 'KVM_GET_MSR_INDEX_LIST' in [s for s in d['steps'] if s['id'] == 'msr-lists'][0]['summary']"

finish
