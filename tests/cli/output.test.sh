#!/usr/bin/env bash
# Output contracts: --json documents (one per run, parseable, schema and keys), --json modes,
# colour (never in pipes or JSON unless --color=always; NO_COLOR; TERM=dumb), --quiet, --no-legend.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

V=$TMP/variants
mkdir -p "$V"
# A host whose tsc_khz is known (KVM's own answer), for tsc --guest-khz.
snapshot_edit "$INTEL_LOCKED_OFF" "$V/8700k-tsc.json" '
s["tsc"] = [{"source": "kvm_vcpu", "khz": 3700000, "exact": True, "detail": "test"}]
'
snapshot_edit "$INTEL_OK" "$V/8180-tsc.json" '
s["tsc"] = [{"source": "kvm_vcpu", "khz": 2500000, "exact": True, "detail": "test"}]
'

# --- check --json: the kvmprobe.check/1 schema --------------------------------------------
for f in "$AMD_OK" "$AMD_SVMDIS" "$INTEL_OK" "$INTEL_LOCKED_OFF"; do
  n=$(basename "$f" .json)
  kp check --from "$f" --kernel 6.1 --json
  expect_json "$n: check --json top level" \
    "d['schema'] == 'kvmprobe.check/1' and set(d) >= {'schema', 'kernel', 'cpu', 'verdict', 'steps'}"
  expect_json "$n: verdict keys and types" "
set(d['verdict']) >= {'vendor_module', 'would_load', 'refusal', 'reason', 'failed_step', 'kvm_usable', 'kvm_usable_reason'}
and d['verdict']['would_load'] in (True, False, None) and d['verdict']['kvm_usable'] in (True, False, None)
and isinstance(d['verdict']['reason'], str) and d['verdict']['reason'] != ''
and d['verdict']['refusal'] in ('none', 'no_support', 'disabled_by_firmware', 'other', 'cannot_tell')"
  expect_json "$n: kernel and cpu keys" \
    "set(d['kernel']) >= {'release', 'profile', 'profile_note'} and set(d['cpu']) >= {'vendor', 'name'}"
  expect_json "$n: every step has id, status, summary, evidence, kvm_log, remedy, missing" "
all(set(s) >= {'id', 'title', 'status', 'summary', 'evidence', 'kvm_log', 'remedy', 'missing'} for s in d['steps'])
and all(isinstance(s['kvm_log'], list) and isinstance(s['evidence'], list) for s in d['steps'])
and all(set(e) == {'what', 'where', 'raw', 'meaning'} for s in d['steps'] for e in s['evidence'])"
  expect_json "$n: step statuses are ok|warn|fail|unknown|skipped" \
    "all(s['status'] in ('ok', 'warn', 'fail', 'unknown', 'skipped') for s in d['steps'])"
  expect_json "$n: step ids are stable and unique" "
len({s['id'] for s in d['steps']}) == len(d['steps'])
and {s['id'] for s in d['steps']} >= {'environment', 'support', 'bios-lock', 'xcr0', 'tsc-scaling', 'msr-lists', 'consistency'}"
  expect_json "$n: keys are snake_case" "
(lambda walk: walk(walk, d))(lambda walk, o: all(re.fullmatch('[a-z][a-z0-9_]*', k) and walk(walk, v) for k, v in o.items()) if isinstance(o, dict) else all(walk(walk, v) for v in o) if isinstance(o, list) else True)"
done

# --- --json modes ----------------------------------------------------------------------------
kp check --from "$AMD_SVMDIS" --kernel 6.1 --json
pretty=$OUT
check "bare --json is pretty (indented, several lines)" test "$(wc -l <<<"$pretty")" -gt 10
kp check --from "$AMD_SVMDIS" --kernel 6.1 --json=pretty
check "--json=pretty equals a bare --json" test "$OUT" == "$pretty"
kp check --from "$AMD_SVMDIS" --kernel 6.1 -j
check "-j equals --json=pretty" test "$OUT" == "$pretty"
kp check --from "$AMD_SVMDIS" --kernel 6.1 --json=short
expect_rc 11 "--json=short keeps the verdict exit code"
check "--json=short is one line" test "$(wc -l <<<"$OUT")" -eq 1
expect_json "--json=short holds the same document as pretty" \
  "d == __import__('json').loads('''$pretty''')"
kp check --from "$AMD_SVMDIS" --kernel 6.1 --json=off
expect_out_has "would load" "--json=off is text"
expect_err_empty "--json: nothing on stderr for a verdict (the reason is in the document)"

# --- every command's --json is one parseable document with a schema ------------------------
declare -A SCHEMA=(
  [xcr0]=kvmprobe.xcr0/1 [tsc]=kvmprobe.tsc/1 [vmx-caps]=kvmprobe.vmx-caps/1
  [profiles]=kvmprobe.profiles/1 [msrs]=kvmprobe.msrs/1
)
# The fixtures record no XCR0 and no host RDMSR values beyond the KVM-relevant MSRs
# (tests/data/snapshots/README.md): xcr0 and msrs cannot tell (13) and say what is missing in
# their own document; tsc, vmx-caps and profiles answer (0).
declare -A WANT_RC=([xcr0]=13 [tsc]=0 [vmx-caps]=0 [profiles]=0 [msrs]=13)
declare -A WANT_MISSING=(
  [xcr0]="d['step']['status'] == 'unknown' and d['step']['missing'] == ['XCR0 of cpu0 (xgetbv needs CPUID.1:ECX[27] OSXSAVE)']"
  [msrs]="d['complete'] is False and d['missing'][0].startswith('host RDMSR on CPU 0 not recorded for 60 candidate(s): ')")
for c in xcr0 tsc vmx-caps profiles msrs; do
  for f in "$INTEL_OK" "$AMD_OK"; do
    n=$(basename "$f" .json)
    [[ $c == vmx-caps && $f == "$AMD_OK" ]] && continue   # tested on its own below
    kp "$c" --from "$f" --kernel 6.1 --json
    expect_rc "${WANT_RC[$c]}" "$c --json ($n): exit ${WANT_RC[$c]}"
    expect_json "$c --json ($n): one document, schema ${SCHEMA[$c]}" "d['schema'] == '${SCHEMA[$c]}'"
    [[ -n ${WANT_MISSING[$c]:-} ]] &&
      expect_json "$c --json ($n): the document names what is missing" "${WANT_MISSING[$c]}"
  done
done

kp xcr0 --from "$INTEL_OK" --kernel 6.1 --json
expect_json "xcr0 --json keys" "
set(d) >= {'schema', 'profile', 'xsave', 'host_xcr0', 'host_xcr0_features', 'kvm_supported_xcr0_mask', 'supported_xcr0', 'supported_xcr0_features', 'step'}
and re.fullmatch('0x[0-9a-f]+', d['kvm_supported_xcr0_mask']) and d['step']['id'] == 'xcr0'"
kp tsc --from "$V/8180-tsc.json" --kernel 6.1 --guest-khz 1000000 --json
expect_json "tsc --json keys" "
set(d) >= {'schema', 'profile', 'vendor_module', 'tsc_khz', 'tsc_khz_source', 'tsc_khz_exact', 'has_tsc_control', 'has_tsc_control_reason', 'frac_bits', 'max_ratio', 'default_ratio', 'max_guest_tsc_khz', 'tolerance_ppm', 'guest'}
and d['tsc_khz'] == 2500000 and d['tsc_khz_exact'] is True and d['tsc_khz_source'] != '' and d['tolerance_ppm'] == 250"
expect_json "tsc --json guest answer" \
  "d['guest']['khz'] == 1000000 and d['guest']['answer'] == 'scaled' and re.fullmatch('0x[0-9a-f]+', d['guest']['ratio'])"
kp vmx-caps --from "$INTEL_OK" --kernel 6.1 --json
expect_json "vmx-caps --json: one entry per CPU with vmcs_size and raw values" "
[c['cpu'] for c in d['cpus']] == [0, 1] and all(c['vmcs_size'] == 1024 for c in d['cpus'])
and re.fullmatch('0x[0-9a-f]+', d['cpus'][0]['IA32_VMX_PINBASED_CTLS']['raw'])"
kp profiles --json
expect_json "profiles --json lists the modelled versions" "
{'4.19', '5.10', '5.15', '6.1', '6.6', '6.8', '6.12', '7.3'} <= {p['id'] for p in d['profiles']}
and all(set(p) >= {'id', 'tree', 'applies_from', 'description'} for p in d['profiles'])"

# Commands that fail under --json must not print their own document and then an error
# document: that is two documents on stdout.
kp tsc --from "$INTEL_OK" --kernel 6.1 --guest-khz 2000000 --json=short
expect_rc 13 "tsc --guest-khz with unknown host tsc_khz: exit 13"
check "tsc --guest-khz with unknown host tsc_khz --json=short: one document (got $(wc -l <<<"$OUT") lines)" \
  test "$(wc -l <<<"$OUT")" -eq 1
expect_json "tsc --guest-khz with unknown host tsc_khz --json: parses as one document" "True"
kp vmx-caps --from "$AMD_OK" --kernel 6.1 --json=short
check "vmx-caps on a CPU without VMX MSRs --json=short: one document (got $(wc -l <<<"$OUT") lines)" \
  test "$(wc -l <<<"$OUT")" -eq 1
expect_json "vmx-caps on a CPU without VMX MSRs --json: parses as one document" "True"

# --- colour ------------------------------------------------------------------------------------
kp check --from "$AMD_SVMDIS" --kernel 6.1
check "piped text has no escape codes" bash -c '! grep -q $'"'"'\x1b'"'"' <<<"$1"' _ "$OUT"
kp check --from "$AMD_SVMDIS" --kernel 6.1 --color=always
check "--color=always colours piped text" has_escape "$OUT"
kp check --from "$AMD_SVMDIS" --kernel 6.1 --color=never
check "--color=never: no escape codes" bash -c '! grep -q $'"'"'\x1b'"'"' <<<"$1"' _ "$OUT"
kp_env NO_COLOR=1 -- check --from "$AMD_SVMDIS" --kernel 6.1 --color=always
check "--color=always wins over NO_COLOR" has_escape "$OUT"
kp check --from "$AMD_SVMDIS" --kernel 6.1 --color=always --json
check "--color=always never colours JSON" bash -c '! grep -q $'"'"'\x1b'"'"' <<<"$1"' _ "$OUT"
expect_json "--color=always --json still parses" "d['schema'] == 'kvmprobe.check/1'"
kp check --from "$AMD_SVMDIS" --kernel 6.1 --color=always -q
check "--color=always -q: the failure line on stderr has no escape codes" \
  bash -c '! grep -q $'"'"'\x1b'"'"' <<<"$1"' _ "$ERR"
kp check --from "/nonexistent.json" --kernel 6.1 --color=always
check "error lines carry no escape codes" bash -c '! grep -q $'"'"'\x1b'"'"' <<<"$1"' _ "$ERR"

# On a terminal (script(1) gives a pty): colour by default, none with NO_COLOR or TERM=dumb.
on_tty() { # ENV... -- ARGS...
  local envs=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  local cmd
  printf -v cmd '%q ' "$KVMPROBE" "$@"
  LAST_CMD="(pty) ${envs[*]} $cmd"
  OUT=$(env "${envs[@]}" timeout 30 script -qec "$cmd" /dev/null </dev/null 2>&1)
  RC=$?
}
if command -v script >/dev/null && script -qec true /dev/null </dev/null >/dev/null 2>&1; then
  on_tty TERM=xterm -- check --from "$AMD_SVMDIS" --kernel 6.1
  check "on a terminal: coloured by default" has_escape "$OUT"
  on_tty TERM=xterm NO_COLOR=1 -- check --from "$AMD_SVMDIS" --kernel 6.1
  check "on a terminal with NO_COLOR=1: no colour" bash -c '! grep -q $'"'"'\x1b\['"'"' <<<"$1"' _ "$OUT"
  on_tty TERM=xterm NO_COLOR= -- check --from "$AMD_SVMDIS" --kernel 6.1
  check "on a terminal with NO_COLOR empty: coloured" has_escape "$OUT"
  on_tty TERM=dumb -- check --from "$AMD_SVMDIS" --kernel 6.1
  check "on a terminal with TERM=dumb: no colour" bash -c '! grep -q $'"'"'\x1b\['"'"' <<<"$1"' _ "$OUT"
  on_tty TERM=xterm -- check --from "$AMD_SVMDIS" --kernel 6.1 --color=never
  check "on a terminal with --color=never: no colour" bash -c '! grep -q $'"'"'\x1b\['"'"' <<<"$1"' _ "$OUT"
  on_tty TERM=xterm -- check --from "$AMD_SVMDIS" --kernel 6.1 --json
  check "on a terminal, --json: no colour" bash -c '! grep -q $'"'"'\x1b\['"'"' <<<"$1"' _ "$OUT"
else
  skip "colour on a terminal" "script(1) cannot allocate a pty here"
fi

# --- --quiet ------------------------------------------------------------------------------------
kp -q check --from "$AMD_OK" --kernel 6.1
expect_rc 0 "-q check, would load: exit 0"
expect_out_empty "-q check, would load: nothing on stdout"
expect_err_empty "-q check, would load: nothing on stderr"
kp check --from "$AMD_SVMDIS" --kernel 6.1 --quiet
expect_rc 11 "--quiet check, SVMDIS: exit 11"
expect_out_empty "--quiet check, SVMDIS: nothing on stdout"
check "--quiet check, SVMDIS: exactly one line on stderr" test "$(grep -c . <<<"$ERR")" -eq 1
expect_err_has "SVM disabled by firmware" "--quiet check, SVMDIS: the line gives the reason"
kp -q check --from "$INTEL_LOCKED_OFF" --kernel 6.1
check "-q check, 0x3A locked off: exit 11 and one line" test "$RC" -eq 11 -a "$(grep -c . <<<"$ERR")" -eq 1
kp -q check --from /nonexistent.json --kernel 6.1
expect_rc 3 "-q with a missing file: exit 3"
expect_one_error_line "-q with a missing file: the error is still printed"

for c in profiles vmx-caps; do
  kp -q "$c" --from "$INTEL_OK" --kernel 6.1
  expect_rc 0 "-q $c: exit 0"
  expect_out_empty "-q $c: nothing on stdout"
  expect_err_empty "-q $c: nothing on stderr"
done
kp -q tsc --from "$V/8180-tsc.json" --kernel 6.1 --guest-khz 1000000
expect_rc 0 "-q tsc, guest can run: exit 0"
expect_out_empty "-q tsc, guest can run: nothing on stdout"
expect_err_empty "-q tsc, guest can run: nothing on stderr"

# Failures under --quiet still print their one line (style.md §4.3).
kp -q tsc --from "$V/8700k-tsc.json" --kernel 6.1 --guest-khz 1000000
expect_rc 12 "-q tsc, guest below the host rate without TSC scaling: exit 12"
check "-q tsc, impossible guest rate: one line on stderr (got $(grep -c . <<<"$ERR"))" \
  test "$(grep -c . <<<"$ERR")" -eq 1
kp -q xcr0 --from "$INTEL_OK" --kernel 6.1
expect_rc 13 "-q xcr0, XCR0 not recorded: exit 13"
check "-q xcr0, XCR0 not recorded: one line on stderr (got $(grep -c . <<<"$ERR"))" \
  test "$(grep -c . <<<"$ERR")" -eq 1
kp -q msrs --from "$INTEL_OK" --kernel 6.1
expect_rc 13 "-q msrs, lists incomplete: exit 13"
check "-q msrs, lists incomplete: one line on stderr (got $(grep -c . <<<"$ERR"))" \
  test "$(grep -c . <<<"$ERR")" -eq 1

# --- --no-legend and --verbose -------------------------------------------------------------
kp check --from "$AMD_SVMDIS" --kernel 6.1 --no-legend
expect_out_lacks "kvmprobe check —" "--no-legend drops the header"
expect_out_has "bios-lock" "--no-legend keeps the steps"
kp check --from "$AMD_OK" --kernel 6.1
expect_out_lacks "VM_CR (0xc0010114) [cpu0]" "without -v, passing steps show no evidence"
kp check --from "$AMD_OK" --kernel 6.1 -v
expect_out_has "VM_CR (0xc0010114) [cpu0]" "-v shows the evidence of passing steps"

finish
