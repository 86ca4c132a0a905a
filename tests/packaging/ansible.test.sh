#!/usr/bin/env bash
# The Ansible collection packaging/ansible/ansible_collections/kvmprobe/kvm with Debian's ansible
# (ansible-core 2.14), against kvmprobe run directly as the oracle of what each module must say:
#  - localhost (ansible_connection=local), the real binary on this host: the fact's check report
#    and exit code are those of `kvmprobe check --json`; the fact's snapshot analyses to the same;
#  - several inventory hosts fed recorded snapshots (tests/data/snapshots, tests/data/bochs):
#    each host's fact equals `kvmprobe --from F check --json` and `kvmprobe --from F snapshot`;
#    the fleet playbook's report equals `kvmprobe fleet` on the same files;
#  - kvmprobe_enable_vmx in check mode: what `kvmprobe enable-vmx --dry-run --json` reports
#    (plan, exit code, changed = would write, failure with kvmprobe's message). Real writes are
#    never attempted: they would change the MSRs of the machine running the tests.
#  - `ansible-test sanity` on the collection, with the 23 of its tests that run offline, and
#    ansible-doc on both modules.
# Without ansible-playbook the test exits 77 saying so, and fails under CI=true.
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh" "$@"

if ! command -v ansible-playbook >/dev/null; then
  skip_tool "ansible collection" ansible-playbook ansible
  finish
fi
COLL=$SRC/packaging/ansible
export ANSIBLE_COLLECTIONS_PATH=$COLL ANSIBLE_NOCOLOR=1 ANSIBLE_HOST_KEY_CHECKING=0 \
  ANSIBLE_LOCAL_TEMP=$TMP/ansible-local ANSIBLE_REMOTE_TMP=$TMP/ansible-remote \
  ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_PYTHON_INTERPRETER=auto_silent ANSIBLE_FORKS=8 \
  ANSIBLE_STDOUT_CALLBACK=default ANSIBLE_DEPRECATION_WARNINGS=0 ANSIBLE_PIPELINING=1
unset ANSIBLE_CONFIG

# jcmp DESC PYTHON: a Python boolean expression over the files loaded below as j(path).
jcmp() {
  local desc=$1 expr=$2 msg
  if msg=$(python3 - "$expr" 2>&1 <<'PY'
import json, sys
def j(p):
    with open(p) as f:
        return json.load(f)
ok = eval(sys.argv[1])
if not ok:
    print("false: " + sys.argv[1]); sys.exit(1)
PY
  ); then pass "$desc"; else fail "$desc" "$msg"; fi
}

# --- 1. localhost, the live host ---------------------------------------------------------
cat >"$TMP/live.yml" <<EOF
- hosts: localhost
  gather_facts: false
  tasks:
    - kvmprobe.kvm.kvmprobe_facts:
        binary: "$KVMPROBE"
    - ansible.builtin.copy:
        content: "{{ ansible_facts.kvmprobe | to_json }}"
        dest: "$TMP/live.fact.json"
        mode: "0644"
    - kvmprobe.kvm.kvmprobe_enable_vmx:
        binary: "$KVMPROBE"
      check_mode: true
      register: vmx
      ignore_errors: true
    - ansible.builtin.copy:
        content: "{{ vmx | to_json }}"
        dest: "$TMP/live.vmx.json"
        mode: "0644"
EOF
LAST_CMD="ansible-playbook -c local -i localhost, live.yml"
if ansible-playbook -c local -i localhost, "$TMP/live.yml" >"$TMP/live.log" 2>&1; then
  pass "localhost: the playbook runs"
else
  RC=$?; OUT=$(tail -30 "$TMP/live.log"); ERR=; fail "localhost: the playbook runs" "ansible-playbook failed"
fi
kp check --json; echo "$OUT" >"$TMP/live.check.json"; live_rc=$RC
kp enable-vmx --dry-run --json; echo "$OUT" >"$TMP/live.dry.json"; echo "$ERR" >"$TMP/live.dry.err"; dry_rc=$RC
if [[ -s $TMP/live.fact.json ]]; then
  jcmp "localhost: the fact's check report is kvmprobe check --json's" \
    "j('$TMP/live.fact.json')['check'] == j('$TMP/live.check.json')"
  jcmp "localhost: the fact's exit code is kvmprobe check's ($live_rc)" \
    "j('$TMP/live.fact.json')['exit_code'] == $live_rc"
  python3 -c "import json,sys; json.dump(json.load(open(sys.argv[1]))['snapshot'], open(sys.argv[2],'w'))" \
    "$TMP/live.fact.json" "$TMP/live.snap.json"
  kp --from "$TMP/live.snap.json" check --json
  echo "$OUT" >"$TMP/live.snapcheck.json"
  jcmp "localhost: the fact's snapshot is this host's (check --from it gives the same verdict)" \
    "j('$TMP/live.fact.json')['snapshot']['schema'] == 'kvmprobe.snapshot/2' and j('$TMP/live.snapcheck.json')['verdict'] == j('$TMP/live.check.json')['verdict']"
else
  fail "localhost: the fact was written" "no $TMP/live.fact.json"
fi
if [[ -s $TMP/live.vmx.json ]]; then
  # enable-vmx --dry-run here: what kvmprobe says (no VMX/SVM on this machine's CPU: exit 10,
  # or no MSR device: 13), as the module's failure with kvmprobe's message.
  jcmp "localhost: enable_vmx check mode: exit code, plan and failure as kvmprobe enable-vmx --dry-run --json ($dry_rc)" "
(lambda r, d: r['exit_code'] == $dry_rc and r.get('failed', False) == ($dry_rc != 0)
   and r['plan'] == d['plan'] and r['dry_run'] is True and r['result'] is None
   and (r['msg'] == d['plan']['summary'] if $dry_rc != 0 else True)
   and r['changed'] == (d['plan']['verdict'] == 'apply'))(j('$TMP/live.vmx.json'), j('$TMP/live.dry.json'))"
else
  fail "localhost: the enable_vmx result was written" "no $TMP/live.vmx.json"
fi

# --- 2. inventory hosts fed recorded snapshots; the fleet playbook ------------------------
hosts=(qemu-5.10-epyc qemu-6.1-epyc-kvm qemu-6.1-skylake-server-v4 qemu-6.12-qemu64-svm
       sky61.snapshot skyoff612.snapshot snb612.snapshot)
file_of() { if [[ -f $SNAPS/$1.json ]]; then echo "$SNAPS/$1.json"; else echo "$SRC/tests/data/bochs/$1.json"; fi; }
{
  echo "[recorded]"
  for h in "${hosts[@]}"; do echo "$h ansible_connection=local kvmprobe_from=$(file_of "$h")"; done
  echo "[recorded:vars]"
  echo "kvmprobe_binary=$KVMPROBE"
} >"$TMP/inventory.ini"
mkdir -p "$TMP/facts"
cat >"$TMP/fleet-test.yml" <<EOF
- ansible.builtin.import_playbook: kvmprobe.kvm.fleet
- hosts: recorded
  gather_facts: false
  tasks:
    - ansible.builtin.copy:
        content: "{{ ansible_facts.kvmprobe | to_json }}"
        dest: "$TMP/facts/{{ inventory_hostname }}.json"
        mode: "0644"
      delegate_to: localhost
EOF
LAST_CMD="ansible-playbook -i inventory.ini fleet-test.yml -e kvmprobe_fleet_dir=$TMP/fleet"
if ansible-playbook -i "$TMP/inventory.ini" "$TMP/fleet-test.yml" -e "kvmprobe_fleet_dir=$TMP/fleet" \
     -e "kvmprobe_controller_binary=$KVMPROBE" \
     >"$TMP/fleet.log" 2>&1; then
  pass "recorded hosts: the fleet playbook runs (${#hosts[@]} hosts)"
else
  RC=$?; OUT=$(tail -30 "$TMP/fleet.log"); ERR=; fail "recorded hosts: the fleet playbook runs" "ansible-playbook failed"
fi
direct=()
for h in "${hosts[@]}"; do
  f=$(file_of "$h")
  direct+=("$f")
  kp --from "$f" check --json; echo "$OUT" >"$TMP/$h.check.json"; rc=$RC
  kp --from "$f" snapshot; echo "$OUT" >"$TMP/$h.snap.json"
  if [[ -s $TMP/facts/$h.json ]]; then
    jcmp "$h: the fact is kvmprobe --from check --json (exit $rc) and --from snapshot" \
      "(lambda f: f['check'] == j('$TMP/$h.check.json') and f['exit_code'] == $rc and f['snapshot'] == j('$TMP/$h.snap.json'))(j('$TMP/facts/$h.json'))"
    jcmp "$h: the snapshot stored on the controller is the host's" \
      "j('$TMP/fleet/$h.json') == j('$TMP/$h.snap.json')"
  else
    fail "$h: the fact was written" "no $TMP/facts/$h.json"
  fi
done
# The oracle: kvmprobe fleet on the recorded files themselves, in the directory's name order;
# host labels differ only by the directory (path -> inventory name).
mapfile -t sorted < <(for h in "${hosts[@]}"; do echo "$h.json $(file_of "$h")"; done | LC_ALL=C sort | cut -d' ' -f2)
kp fleet --format json "${sorted[@]}"; echo "$OUT" >"$TMP/fleet.direct.json"
if [[ -s $TMP/fleet.fleet.json ]]; then
  jcmp "fleet playbook: the report equals kvmprobe fleet on the recorded files (pools, baselines, one-way moves, splits, exclusions)" "
(lambda norm: norm(j('$TMP/fleet.fleet.json'), '$TMP/fleet/') == norm(j('$TMP/fleet.direct.json'), None))(
  lambda d, prefix: json.loads(__import__('re').sub(r'\"[^\"]*/([^/\"]+)\.json\"', r'\"\\1\"', json.dumps(d))))"
  jcmp "fleet playbook: the pools are not trivial (at least 3 pools and one excluded host)" \
    "len(j('$TMP/fleet.fleet.json')['pools']) >= 3 and len(j('$TMP/fleet.fleet.json')['excluded']) >= 1"
else
  fail "fleet playbook: the report was written" "no $TMP/fleet.fleet.json"
fi

# --- 3. enable_vmx in check mode on recorded snapshots --------------------------------------
# An unlocked host: the recorded Skylake-SP with IA32_FEATURE_CONTROL cleared (as
# tests/cli/enable_vmx.test.sh does), so that a plan would write.
snapshot_edit "$INTEL_OK" "$TMP/unlocked.json" '
for c in s["cpus"]:
    for m in c["msrs"]:
        if m["index"] == "0x3a": m["value"] = "0x0"
'
cases=("sky61:$SRC/tests/data/bochs/sky61.snapshot.json:" "skyoff612:$SRC/tests/data/bochs/skyoff612.snapshot.json:"
       "unlocked:$TMP/unlocked.json:4.19" "locked-off:$INTEL_LOCKED_OFF:6.1" "no-kernel:$INTEL_LOCKED_OFF:")
{
  echo "- hosts: localhost"
  echo "  gather_facts: false"
  echo "  tasks:"
  for c in "${cases[@]}"; do
    IFS=: read -r name file kernel <<<"$c"
    cat <<EOF
    - kvmprobe.kvm.kvmprobe_enable_vmx:
        binary: "$KVMPROBE"
        from: "$file"
        ${kernel:+kernel: \"$kernel\"}
      check_mode: true
      register: r
      ignore_errors: true
    - ansible.builtin.copy:
        content: "{{ r | to_json }}"
        dest: "$TMP/vmx-$name.json"
        mode: "0644"
EOF
  done
  cat <<EOF
    - kvmprobe.kvm.kvmprobe_enable_vmx:
        binary: "$KVMPROBE"
        from: "$SRC/tests/data/bochs/sky61.snapshot.json"
      register: r
      ignore_errors: true
    - ansible.builtin.copy:
        content: "{{ r | to_json }}"
        dest: "$TMP/vmx-write-from.json"
        mode: "0644"
EOF
} >"$TMP/vmx.yml"
LAST_CMD="ansible-playbook -c local -i localhost, vmx.yml"
if ansible-playbook -c local -i localhost, "$TMP/vmx.yml" >"$TMP/vmx.log" 2>&1; then
  pass "enable_vmx on recorded snapshots: the playbook runs"
else
  RC=$?; OUT=$(tail -30 "$TMP/vmx.log"); ERR=; fail "enable_vmx on recorded snapshots: the playbook runs" "ansible-playbook failed"
fi
for c in "${cases[@]}"; do
  IFS=: read -r name file kernel <<<"$c"
  kp --from "$file" ${kernel:+--kernel "$kernel"} enable-vmx --dry-run --json
  echo "$OUT" >"$TMP/dry-$name.json"
  errline=$(sed -n 's/^kvmprobe: error: //p' <<<"$ERR" | head -1)
  if [[ ! -s $TMP/vmx-$name.json ]]; then fail "enable_vmx $name: result written" "no $TMP/vmx-$name.json"; continue; fi
  if [[ $RC -eq 0 ]]; then
    jcmp "enable_vmx $name: check mode succeeds with kvmprobe's plan, changed = the plan writes" "
(lambda r, d: not r.get('failed', False) and r['exit_code'] == 0 and r['plan'] == d['plan']
   and r['changed'] == (d['plan']['verdict'] == 'apply') and r['msg'] == d['plan']['summary'])(j('$TMP/vmx-$name.json'), j('$TMP/dry-$name.json'))"
  else
    jcmp "enable_vmx $name: a failure with kvmprobe's exit code ($RC) and message" "
(lambda r, d: r.get('failed') is True and r['exit_code'] == $RC and r['changed'] is False
   and r['msg'] == ('''$errline''' or d['plan']['summary']))(j('$TMP/vmx-$name.json'), j('$TMP/dry-$name.json'))"
  fi
done
jcmp "enable_vmx unlocked: check mode says changed (the one case that would write)" "j('$TMP/vmx-unlocked.json')['changed'] is True"
kp --from "$SRC/tests/data/bochs/sky61.snapshot.json" enable-vmx --json --yes
errline=$(sed -n 's/^kvmprobe: error: //p' <<<"$ERR" | head -1)
jcmp "enable_vmx: from without check mode fails with kvmprobe's usage error (exit $RC)" "
(lambda r: r.get('failed') is True and r['exit_code'] == $RC == 2 and r['msg'] == '''$errline''' and 'dry-run' in r['hint'])(j('$TMP/vmx-write-from.json'))"

# --- 4. ansible-test sanity -----------------------------------------------------------------
# It must run inside ansible_collections/NS/NAME, a git repository. Ten of its 32 tests
# (ansible-doc, changelog, import, pep8, pylint, runtime-metadata, validate-modules, yamllint;
# pslint: PowerShell) install pinned requirements from PyPI into a venv first, which an offline
# machine cannot (its pip bootstrap is downloaded from ci-files.testing.ansible.com): those are
# skipped by name here, and ansible-doc's part is done below with ansible-doc itself.
OFFLINE_SKIP=(ansible-doc changelog import pep8 pylint runtime-metadata validate-modules yamllint pslint)
sane=$TMP/sanity/ansible_collections/kvmprobe/kvm
mkdir -p "$sane"
cp -r "$COLL/ansible_collections/kvmprobe/kvm/." "$sane/"
rm -rf "$sane/tests/output"
LAST_CMD="ansible-test sanity --python 3.X ${OFFLINE_SKIP[*]/#/--skip-test } (in a copy of the collection)"
py=$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if (cd "$sane" && git init -q . && git add -A && PATH=/usr/bin:$PATH \
      ansible-test sanity --python "$py" --color no ${OFFLINE_SKIP[@]/#/--skip-test } >"$TMP/sanity.log" 2>&1); then
  pass "ansible-test sanity: $(grep -c '^Running sanity test' "$TMP/sanity.log") tests ran offline, none failed (${#OFFLINE_SKIP[@]} need PyPI: ${OFFLINE_SKIP[*]})"
else
  RC=$?; OUT=$(grep -v '^Running sanity test' "$TMP/sanity.log" | tail -30); ERR=; fail "ansible-test sanity" "it reported problems"
fi
for m in kvmprobe_facts kvmprobe_enable_vmx; do
  run ansible-doc -t module "kvmprobe.kvm.$m"
  if [[ $RC -eq 0 && $OUT == *"OPTIONS"* && $OUT == *"RETURN VALUES"* && $OUT == *"EXAMPLES"* && -z $ERR ]]; then
    pass "ansible-doc renders kvmprobe.kvm.$m (options, examples, return values)"
  else fail "ansible-doc kvmprobe.kvm.$m" "no complete documentation"; fi
done
finish
