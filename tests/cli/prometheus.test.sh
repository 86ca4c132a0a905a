#!/usr/bin/env bash
# --format prometheus (check, compat, fleet) on recorded guests, against what their real KVM
# answered: tests/data/bochs (kvm_intel in Bochs: RUN.kvm.txt) and tests/data/migration
# (kvm_amd in QEMU: NAME.state.txt, and SRC--DST.result.txt for compat). Every output must
# pass `promtool check metrics` (Debian package prometheus): without promtool the test exits
# 77 saying so, and fails under CI=true. Also the textfile writer packaging/systemd/kvmprobe-textfile.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

PROMTOOL=$(command -v promtool || true)
if [[ -z $PROMTOOL ]]; then
  if [[ ${CI:-} == true ]]; then
    echo "FAILED  promtool not installed (apt-get install prometheus; scripts/install-deps.sh does)"
    exit 1
  fi
  echo "SKIP: promtool not installed (apt-get install prometheus): the format cannot be checked"
  exit 77
fi

# promtool_ok DESC: promtool accepts stdout (lint problems are reported as failures too).
promtool_ok() {
  local msg
  if msg=$("$PROMTOOL" check metrics <<<"$OUT" 2>&1); then pass "$1: promtool check metrics"; else fail "$1: promtool check metrics" "$msg"; fi
}

# expect_metrics DESC ORACLE-FILE PYTHON: parse stdout (the text format) into `m`, a dict
# {(name, frozenset(labels.items())): value}, with helpers v(name, **labels) (None when
# absent) and `o`, the oracle file as {key: rest-of-line}; PYTHON is a list of assertions
# given as (description, condition) pairs; each failing one is reported.
expect_metrics() {
  local desc=$1 oracle=$2 code=$3 msg
  printf '%s\n' "$OUT" >"$TMP/.metrics"
  if msg=$(python3 - "$oracle" "$code" "$TMP/.metrics" 2>&1 <<'PY'
import re, sys
text = open(sys.argv[3]).read()
m = {}
line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
for line in text.splitlines():
    if line.startswith('#') or not line:
        continue
    g = line_re.match(line)
    if not g:
        print('unparsable line: %r' % line); sys.exit(1)
    labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', g.group(2) or ''))
    m[(g.group(1), frozenset(labels.items()))] = float(g.group(3))
def v(name, **labels):
    return m.get((name, frozenset(labels.items())))
def labels_of(name):
    return [dict(k[1]) for k in m if k[0] == name]
o = {}
if sys.argv[1] != '-':
    for line in open(sys.argv[1]):
        k, _, rest = line.rstrip('\n').partition(' ')
        o.setdefault(k, rest)
def fnv1a64(indexes):
    h = 0xcbf29ce484222325
    for i in sorted(indexes):
        for b in i.to_bytes(4, 'little'):
            h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return '%016x' % h
def summary():
    return dict(zip(*[iter(o['summary'].split())] * 2))
def oracle_verdict():
    # tests/data/migration/README.md, "Expected exit code", and the catch-up rule of
    # tests/vm/compat.test.sh: KVM takes a faster source TSC without scaling by catch-up only
    # (arch/x86/kvm/x86.c: set_tsc_khz() (6.1)), a move with a condition.
    s = summary()
    if int(s['rejected']) or int(s['feature_rejected']) or s['tsc'] == 'rejected' or s['xcr'] == 'rejected':
        return 'incompatible'
    src_khz = int(o['set_tsc_khz'].split()[0]) if o.get('set_tsc_khz', '').split()[1:2] == ['accepted'] else None
    dst_khz, ctl = int(o['dst_tsc_khz']), int(o['dst_cap_tsc_control'])
    if int(s['dst_unlisted']) or (src_khz and not ctl and src_khz > dst_khz and (src_khz - dst_khz) * 10**6 > 250 * dst_khz):
        return 'conditional'
    # The migration oracle records no CPUID: real KVM's KVM_GET_SUPPORTED_CPUID of the same
    # kernel and -cpu (tests/data/cpuid, recorded by tests/vm/cpuid.test.sh) says whether a
    # -cpu host guest of SRC may use a feature DST's KVM lacks: then it moves only with a CPU
    # model (conditional), as tests/vm/compat.test.sh decides too.
    if cpuid_lost():
        return 'conditional'
    return 'compatible'
def cpuid_regs(path):
    want = {('0x1', 'ecx'), ('0x1', 'edx'), ('0x7', 'ebx'), ('0x7', 'ecx'), ('0x7', 'edx'), ('0x7.1', 'eax'),
            ('0xd.1', 'eax'), ('0x80000001', 'ecx'), ('0x80000001', 'edx'), ('0x80000008', 'ebx'),
            ('0x80000021', 'eax')}
    regs = {}
    for line in open(path):
        w = line.split()
        if len(w) < 7 or w[0] != 'supported_cpuid':
            continue
        leaf = w[1] if int(w[2], 16) == 0 else '%s.%d' % (w[1], int(w[2], 16))
        for n, r in enumerate(('eax', 'ebx', 'ecx', 'edx')):
            if (leaf, r) in want:
                regs[(leaf, r)] = int(w[3 + n], 16)
    return regs
def cpuid_lost():
    import os
    src, dst = cpuid_regs(os.environ['CPUID_SRC']), cpuid_regs(os.environ['CPUID_DST'])
    return any(v & ~dst.get(k, 0) for k, v in src.items())
checks = eval('[' + sys.argv[2] + ']')
bad = [d for d, ok in checks if not ok]
if bad:
    print('; '.join(bad)); sys.exit(1)
PY
); then pass "$desc"; else fail "$desc" "$msg"; fi
}

# --- check on the Bochs guests (kvm_intel): the guest's KVM answers are the oracle ------------
BOCHS=$SRC/tests/data/bochs
for kvm in "$BOCHS"/*.kvm.txt; do
  run_name=$(basename "$kvm" .kvm.txt)
  snap=$BOCHS/$run_name.snapshot.json
  kp --format prometheus --from "$snap" check
  promtool_ok "bochs $run_name"
  if grep -q '^modprobe_loaded true' "$kvm"; then
    expect_rc 0 "bochs $run_name: kvm_intel loaded in the guest: exit 0"
    expect_metrics "bochs $run_name: values equal the guest KVM's answers" "$kvm" "
('would_load 1', v('kvmprobe_kvm_would_load') == 1 and v('kvmprobe_kvm_would_load_unknown') == 0),
('refusal none', v('kvmprobe_kvm_refusal', refusal='none') == 1),
('save list length = msr_index_count', v('kvmprobe_msr_list_entries', list='save') == int(o['msr_index_count'])),
('feature list length = feature_msr_count', v('kvmprobe_msr_list_entries', list='feature') == int(o['feature_msr_count'])),
('save list hash = fnv1a64 of msr_index_list', [l['fnv1a64'] for l in labels_of('kvmprobe_msr_list_info') if l['list'] == 'save'] == [fnv1a64(int(x, 16) for x in o['msr_index_list'].split())]),
('feature list hash', [l['fnv1a64'] for l in labels_of('kvmprobe_msr_list_info') if l['list'] == 'feature'] == [fnv1a64(int(x, 16) for x in o['feature_msr_list'].split())]),
('tsc Hz = tsc_khz x 1000', v('kvmprobe_tsc_frequency_hertz') == int(o['tsc_khz']) * 1000),
('tsc scaling = cap_tsc_control', v('kvmprobe_tsc_scaling_supported') == (1 if int(o['cap_tsc_control']) else 0)),
('KVM_SET_TSC_KHZ: accepted below the limit, EINVAL at or above it', not int(o['cap_tsc_control']) or all(
    (int(k) * 1000 < v('kvmprobe_tsc_scaling_guest_frequency_limit_hertz')) == (r == 'ok')
    for k, r in (l.split()[1:3] for l in open(sys.argv[1]) if l.startswith('set_tsc_khz ')))),
('supported xcr0', v('kvmprobe_supported_xcr0') == int(o['supported_xcr0'], 16)),
('vmx cpus: every CPU locked with VMX on (Bochs BIOS)', v('kvmprobe_vmx_cpus', state='locked_enabled') >= 1 and v('kvmprobe_vmx_cpus', state='locked_disabled') == 0),
('one status per step', all(sum(v('kvmprobe_step_status', step=s, status=t) or 0 for t in ('ok','warn','fail','unknown','skipped')) == 1 for s in {l['step'] for l in labels_of('kvmprobe_step_status')})),
('build_info', len(labels_of('kvmprobe_build_info')) == 1),
"
  else
    expect_rc 11 "bochs $run_name: kvm_intel refused in the guest (locked off): exit 11"
    expect_metrics "bochs $run_name: would not load, disabled by firmware" "$kvm" "
('would_load 0', v('kvmprobe_kvm_would_load') == 0 and v('kvmprobe_kvm_would_load_unknown') == 0),
('refusal disabled_by_firmware', v('kvmprobe_kvm_refusal', refusal='disabled_by_firmware') == 1 and v('kvmprobe_kvm_refusal', refusal='none') == 0),
('bios-lock step fails', v('kvmprobe_step_status', step='bios-lock', status='fail') == 1),
('every CPU locked with VMX off', v('kvmprobe_vmx_cpus', state='locked_disabled') >= 1 and v('kvmprobe_vmx_cpus', state='locked_enabled') == 0),
"
  fi
done

# --- check on the QEMU guests (kvm_amd): NAME.state.txt holds what their KVM answered ---------
MIG=$SRC/tests/data/migration
for state in "$MIG"/*.state.txt; do
  name=$(basename "$state" .state.txt)
  kp --format prometheus --from "$MIG/$name.snapshot.json" check
  promtool_ok "qemu $name"
  expect_rc 0 "qemu $name: exit 0"
  expect_metrics "qemu $name: values equal the guest KVM's answers" "$state" "
('would_load 1', v('kvmprobe_kvm_would_load') == 1),
('save list length = msr_index_count', v('kvmprobe_msr_list_entries', list='save') == int(o['msr_index_count'])),
('tsc Hz', v('kvmprobe_tsc_frequency_hertz') == int(o['tsc_khz']) * 1000),
('tsc scaling', v('kvmprobe_tsc_scaling_supported') == (1 if int(o['cap_tsc_control']) else 0)),
('supported xcr0', v('kvmprobe_supported_xcr0') == int(o['supported_xcr0'], 16)),
('svm cpus only, none disabled', labels_of('kvmprobe_vmx_cpus') == [] and v('kvmprobe_svm_cpus', state='locked_disabled') == 0 and v('kvmprobe_svm_cpus', state='unlocked_disabled') == 0),
"
done

# --- the live host: whatever it can tell (no root, no /dev/kvm: unknowns), still valid -------
kp --format prometheus check
if [[ $RC =~ ^(0|10|11|12|13)$ ]]; then pass "live host: a verdict exit ($RC)"; else fail "live host: a verdict exit" "exit $RC"; fi
promtool_ok "live host"

# --- cannot tell: without MSRs the answers are absent plus _unknown 1, never 0 ----------------
snapshot_edit "$BOCHS/sky61.snapshot.json" "$TMP/nomsr.json" '
for c in s["cpus"]: c["msrs"] = []
'
kp --format prometheus --from "$TMP/nomsr.json" check
expect_rc 13 "no MSRs recorded: exit 13 (cannot tell)"
promtool_ok "no MSRs"
expect_metrics "no MSRs: would_load absent, _unknown 1; vmx cpus unreadable" - "
('would_load absent', v('kvmprobe_kvm_would_load') is None and v('kvmprobe_kvm_would_load_unknown') == 1),
('vmx cpus unreadable', v('kvmprobe_vmx_cpus', state='unreadable') >= 1 and v('kvmprobe_vmx_cpus', state='locked_enabled') == 0),
('tsc scaling unknown', v('kvmprobe_tsc_scaling_supported') is None and v('kvmprobe_tsc_scaling_supported_unknown') == 1),
"

# --- compat: the recorded migrations (tests/data/migration/README.md) -------------------------
# cpuid_rec GUEST: real KVM's supported CPUID for the guest's kernel and -cpu (guests.txt:
# "NAME SERIES RELEASE CPU ...") in tests/data/cpuid, "" when not recorded
cpuid_rec() {
  local series cpu m
  read -r series cpu < <(awk -v g="$1" '$1 == g { print $2, $4 }' "$MIG/guests.txt")
  case $cpu in EPYC) m=epyc ;; "qemu64,+svm") m=qemu64svm ;; "EPYC,-rdtscp") m=epycnordtscp ;; *) m="" ;; esac
  local f=$SRC/tests/data/cpuid/$m-${series//./}.kvm.txt
  [[ -n $m && -f $f ]] && echo "$f"
  return 0
}
for result in "$MIG"/*--*.result.txt; do
  pair=$(basename "$result" .result.txt)
  src=${pair%%--*} dst=${pair#*--}
  kp --format prometheus compat "$MIG/$src.snapshot.json" "$MIG/$dst.snapshot.json"
  promtool_ok "compat $pair"
  CPUID_SRC=$(cpuid_rec "$src") CPUID_DST=$(cpuid_rec "$dst")
  if [[ -z $CPUID_SRC || -z $CPUID_DST ]]; then
    fail "compat $pair: real KVM's supported CPUID of both guests is recorded" "no tests/data/cpuid recording"
    continue
  fi
  export CPUID_SRC CPUID_DST
  # The oracle's verdict: incompatible when KVM rejected anything, conditional when DST does
  # not list some of SRC's MSRs, else compatible (README.md there, "Expected exit code").
  expect_metrics "compat $pair: verdict and MSR fates as KVM did" "$result" "
('verdict', v('kvmprobe_compat_verdict', direction='forward', verdict=oracle_verdict()) == 1),
('not listed = dst_unlisted', v('kvmprobe_compat_msrs', direction='forward', fate='not_listed') == int(summary()['dst_unlisted'])),
('rejected = listed_rejected', v('kvmprobe_compat_msrs', direction='forward', fate='rejected') == int(summary()['listed_rejected'])),
"
done
kp --format prometheus compat "$MIG/6.1-epyc.snapshot.json" "$MIG/6.12-epyc.snapshot.json" --both
promtool_ok "compat --both"
expect_metrics "compat --both: a verdict per direction" - "
('forward and backward', sum(v('kvmprobe_compat_verdict', direction=d, verdict=x) or 0 for d in ('forward','backward') for x in ('compatible','conditional','incompatible','unknown')) == 2),
"

# --- fleet: hosts = files given, pools as the JSON says --------------------------------------
D=$TMP/fleet
mkdir -p "$D"
for n in 6.1-epyc 6.1-epyc-nordtscp 6.12-epyc 6.12-qemu64-svm; do cp "$MIG/$n.snapshot.json" "$D/$n.json"; done
kp --format prometheus fleet "$D"
expect_rc 0 "fleet: exit 0"
promtool_ok "fleet"
prom=$OUT
kp --json fleet "$D"
pools=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["pools"]), " ".join(str(len(p["hosts"])) for p in d["pools"]))' <<<"$OUT")
OUT=$prom
expect_metrics "fleet: 4 hosts; pools and their sizes as --json" - "
('4 hosts', v('kvmprobe_fleet_hosts') == 4 and v('kvmprobe_fleet_unreadable_files') == 0),
('pools', v('kvmprobe_fleet_pools') == int('$pools'.split()[0])),
('pool sizes', sorted(int(x) for x in '$pools'.split()[1:]) == sorted(int(val) for (n, l), val in m.items() if n == 'kvmprobe_fleet_pool_hosts')),
"

# --- usage -------------------------------------------------------------------------------------
kp --format prometheus --from "$BOCHS/sky61.snapshot.json" xcr0
expect_rc 2 "--format prometheus on xcr0: usage error"
expect_one_error_line "--format prometheus on xcr0: one error line"
expect_out_empty "--format prometheus on xcr0: nothing on stdout"
kp --format prometheus --json --from "$BOCHS/sky61.snapshot.json" check
expect_rc 2 "--format with --json: usage error"
kp --format yaml check
expect_rc 2 "--format yaml: usage error"
kp --format json --from "$BOCHS/sky61.snapshot.json" check
expect_json "--format json is --json" "d['schema'] == 'kvmprobe.check/1'"

# --- the textfile writer: atomic, and a failure keeps the previous file ------------------------
W=$SRC/packaging/systemd/kvmprobe-textfile
mkdir -p "$TMP/textfile"
run env KVMPROBE="$KVMPROBE" sh "$W" "$TMP/textfile" --from "$BOCHS/skyoff61.snapshot.json"
expect_rc 0 "textfile: a refusal (exit 11) is still written"
check "textfile: kvmprobe.prom holds the verdict" grep -qx 'kvmprobe_kvm_would_load 0' "$TMP/textfile/kvmprobe.prom"
before=$(cat "$TMP/textfile/kvmprobe.prom")
run env KVMPROBE="$KVMPROBE" sh "$W" "$TMP/textfile" --from "$TMP/does-not-exist.json"
expect_rc 3 "textfile: a bad input file: kvmprobe's exit 3"
check "textfile: the previous file is kept" test "$before" == "$(cat "$TMP/textfile/kvmprobe.prom")"
check "textfile: no temporary file left" test "$(ls -A "$TMP/textfile")" == kvmprobe.prom

finish
