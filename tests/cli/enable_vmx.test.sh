#!/usr/bin/env bash
# enable-vmx, provision and restore without touching the host: plans from recorded snapshots
# (--from needs --dry-run), every bad profile rejected before any read or write (exit 3, one
# error line, no journal), and non-root callers refused (exit 16). The writing paths are covered
# by tests/core/provision (fault injection) and tests/vm/enable_vmx.test.sh (QEMU guests).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

J=$TMP/journal.jsonl
no_journal() { if [[ ! -e $J ]]; then pass "$1: no journal written"; else fail "$1: no journal written" "$J exists"; fi; }

# --- plans from recorded hosts -------------------------------------------------------------
kp --from "$INTEL_OK" --kernel 6.1 enable-vmx --dry-run --journal "$J"
expect_rc 0 "intel locked on: exit 0"
expect_out_has "nothing to do: VMX is enabled and locked on every CPU" "intel locked on: nothing to do"

kp --from "$INTEL_LOCKED_OFF" --kernel 6.1 enable-vmx --dry-run --journal "$J"
expect_rc 11 "intel locked off: exit 11"
expect_out_has "locked without VMX outside SMX on CPUs 0-1" "locked off: per-CPU summary"
expect_out_has "who locked it: firmware" "locked off: who locked it"
expect_out_has "remedy: enable 'Intel Virtualization Technology (VT-x)'" "locked off: firmware option"
expect_out_has "power-cycle" "locked off: reset needed"

kp --from "$AMD_SVMDIS" --kernel 6.1 enable-vmx --dry-run
expect_rc 11 "amd SVMDIS locked: exit 11"
expect_out_has "'SVM Mode' (AMD-V)" "amd locked: firmware option"

kp --from "$AMD_OK" --kernel 6.1 enable-vmx --dry-run
expect_rc 0 "amd SVMDIS clear: exit 0"
expect_out_has "nothing to do: VM_CR.SVMDIS is clear on every CPU" "amd: nothing to do"

kp --from "$SNAPS/qemu-6.1-skylake-server-v4.json" enable-vmx --dry-run
expect_rc 10 "intel without VMX: exit 10"
expect_out_has "the CPU has no VMX" "no VMX: says so"

# An unlocked host: the plan shows old -> new per CPU and writes nothing.
snapshot_edit "$INTEL_OK" "$TMP/unlocked.json" '
for c in s["cpus"]:
    for m in c["msrs"]:
        if m["index"] == "0x3a": m["value"] = "0x0"
'
kp --from "$TMP/unlocked.json" --kernel 4.19 enable-vmx --dry-run --journal "$J"
expect_rc 0 "unlocked: dry run exit 0"
expect_out_has "set VMX outside SMX, lock" "unlocked: action"
expect_out_has "0x5" "unlocked: new value"
expect_out_has "dry run: nothing was written" "unlocked: dry run says so"
expect_out_has "warning: locking lasts until the next reset" "unlocked: lock warning"
no_journal "dry run"

kp --from "$TMP/unlocked.json" --kernel 4.19 enable-vmx --dry-run --no-lock --cpus 0
expect_rc 0 "--no-lock --cpus 0: exit 0"
expect_out_has "left alone: not in --cpus" "--cpus: others left alone"
expect_out_has "feature inconsistency" "--cpus: warns about differing CPUs"
expect_out_lacks "set VMX outside SMX, lock" "--no-lock: no lock"

kp --from "$TMP/unlocked.json" --kernel 4.19 --json enable-vmx --dry-run
expect_rc 0 "--json dry run: exit 0"
expect_json "--json: one kvmprobe.enable-vmx/1 document" \
  "d['schema'] == 'kvmprobe.enable-vmx/1' and d['dry_run'] is True and d['plan']['verdict'] == 'apply' and d['result'] is None and d['plan']['cpus'][0]['old'] == '0x0' and d['plan']['cpus'][0]['new'] == '0x5' and d['exit_code'] == 0"

# --- usage errors ---------------------------------------------------------------------------
kp --from "$TMP/unlocked.json" --kernel 4.19 enable-vmx --yes --journal "$J"
expect_rc 2 "--from without --dry-run: exit 2"
expect_one_error_line "--from without --dry-run: one error line"
no_journal "--from without --dry-run"
kp --from "$TMP/unlocked.json" --kernel 4.19 enable-vmx --dry-run --cpus 0-
expect_rc 2 "--cpus malformed: exit 2"
kp --from "$TMP/unlocked.json" --kernel 4.19 enable-vmx --dry-run --cpus 9
expect_rc 2 "--cpus offline CPU: exit 2"
expect_err_has "CPU 9 is not online" "--cpus offline CPU: named"

# --- provision profiles ---------------------------------------------------------------------
P=$TMP/profiles
mkdir -p "$P"
cat >"$P/good.json" <<'JSON'
{
  "schema": "kvmprobe.provision-profile/1",
  "desired": {"vmx": {"enabled": true, "locked": true}, "svm": {"enabled": true}},
  "expect": {"vendor_module_loads": true, "host_xcr0_includes": ["x87", "sse"]}
}
JSON
kp --from "$TMP/unlocked.json" --kernel 4.19 provision --profile "$P/good.json" --dry-run --journal "$J"
expect_rc 0 "provision dry run: exit 0"
expect_out_has "dry run: nothing was written" "provision dry run: says so"
expect_out_has "expect vendor_module_loads" "provision dry run: expectations shown"
no_journal "provision dry run"
kp --from "$AMD_OK" --kernel 6.1 --json provision --profile "$P/good.json" --dry-run
expect_json "provision --json: one kvmprobe.provision/1 document" \
  "d['schema'] == 'kvmprobe.provision/1' and d['plan']['verdict'] == 'nothing_to_do' and isinstance(d['expectations'], list) and d['exit_code'] == 0"

bad() { # NAME JSON-TEXT EXPECTED-STDERR
  printf '%s\n' "$2" >"$P/$1.json"
  kp --from "$TMP/unlocked.json" --kernel 4.19 provision --profile "$P/$1.json" --journal "$J" --yes
  expect_rc 3 "bad profile $1: exit 3"
  expect_one_error_line "bad profile $1: one error line"
  expect_err_has "$3" "bad profile $1: names the problem"
  no_journal "bad profile $1"
}
H='"schema": "kvmprobe.provision-profile/1"'
bad not-json "{$H, \"desired\": " "is not valid JSON"
bad unknown-top "{$H, \"desird\": {}}" "desird: unknown key"
bad unknown-vmx "{$H, \"desired\": {\"vmx\": {\"enabled\": true, \"lokced\": true}}}" "desired.vmx.lokced: unknown key"
bad unknown-expect "{$H, \"desired\": {\"svm\": {\"enabled\": true}}, \"expect\": {\"tsc\": true}}" "expect.tsc: unknown key"
bad duplicate "{$H, \"desired\": {\"vmx\": {\"enabled\": true, \"enabled\": true}}}" "'enabled' appears twice"
bad wrong-type "{$H, \"desired\": {\"vmx\": {\"enabled\": \"yes\"}}}" "desired.vmx.enabled: expected true or false"
bad wrong-list "{$H, \"desired\": {\"svm\": {\"enabled\": true}}, \"expect\": {\"save_list_includes\": \"0x3a\"}}" "expected a list of strings"
bad bad-msr "{$H, \"desired\": {\"svm\": {\"enabled\": true}}, \"expect\": {\"save_list_includes\": [\"zz\"]}}" "is not an MSR index"
bad disable "{$H, \"desired\": {\"vmx\": {\"enabled\": false}}}" "never disables VMX"
bad lc-without-sgx "{$H, \"desired\": {\"vmx\": {\"enabled\": true, \"sgx_launch_control\": true}}}" "sgx_launch_control needs sgx"
bad module-off "{$H, \"desired\": {\"svm\": {\"enabled\": true}}, \"expect\": {\"vendor_module_loads\": false}}" "impossible combination"
bad xss-in-xcr0 "{$H, \"desired\": {\"svm\": {\"enabled\": true}}, \"expect\": {\"host_xcr0_includes\": [\"pt\"]}}" "never in XCR0"
bad schema "{\"schema\": \"kvmprobe.provision-profile/9\", \"desired\": {}}" "is not kvmprobe.provision-profile/1"
bad empty "" "is empty"
kp --from "$TMP/unlocked.json" --kernel 4.19 provision --profile "$P/none.json" --yes
expect_rc 3 "missing profile: exit 3"
kp --from "$TMP/unlocked.json" --kernel 4.19 --json provision --profile "$P/lc-without-sgx.json" --yes
expect_json_error 3 "bad profile under --json"

# A profile without a section for the host's vendor.
printf '{%s, "desired": {"svm": {"enabled": true}}}\n' "$H" >"$P/amd-only.json"
kp --from "$TMP/unlocked.json" --kernel 4.19 provision --profile "$P/amd-only.json" --dry-run
expect_rc 3 "no section for this vendor: exit 3"
expect_err_has "no 'vmx' section for this Intel CPU" "no section: named"

# --- restore without a run ------------------------------------------------------------------
if [[ $(id -u) -eq 0 ]]; then
  kp restore --journal "$TMP/none.jsonl"
  expect_rc 13 "restore, explicit journal missing: exit 13"
  printf '{"schema":"kvmprobe.journal/1","run":"x","event":"end","outcome":"applied"}\n' >"$TMP/only-end.jsonl"
  chmod 600 "$TMP/only-end.jsonl"
  kp restore --journal "$TMP/only-end.jsonl"
  expect_rc 0 "restore, journal without a run: exit 0"
  expect_out_has "nothing to restore" "restore, journal without a run: says so"
else
  skip "restore as root" "not root"
fi

# --- non-root callers are refused before anything is read -----------------------------------
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
  asuser() { run setpriv --reuid=65534 --regid=65534 --clear-groups "$KVMPROBE" "$@"; }
  chmod 755 "$TMP" "$P"; chmod 644 "$P/good.json"
  asuser enable-vmx --yes --journal "$J"
  expect_rc 16 "non-root enable-vmx: exit 16"
  expect_err_has "must run as root" "non-root enable-vmx: says why"
  asuser provision --profile "$P/good.json" --yes --journal "$J"
  expect_rc 16 "non-root provision: exit 16"
  asuser restore --journal "$J"
  expect_rc 16 "non-root restore: exit 16"
  asuser --json enable-vmx --yes
  expect_json_error 16 "non-root under --json"
  no_journal "non-root"
  asuser --from "$TMP/unlocked.json" --kernel 4.19 enable-vmx --dry-run
  expect_rc 0 "non-root --dry-run from a recorded snapshot: allowed"
else
  skip "non-root refusal" "needs root and setpriv"
fi

finish
