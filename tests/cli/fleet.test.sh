#!/usr/bin/env bash
# kvmprobe fleet PATH...: pools from a directory of recorded QEMU guests, --baseline, --json
# (kvmprobe.fleet/1), and an unreadable file that is one error line while the rest is analysed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

D=$TMP/fleet
mkdir -p "$D"
cp "$SNAPS/qemu-6.12-epyc-kvm.json" "$D/a.json"
snapshot_edit "$SNAPS/qemu-6.12-epyc-kvm.json" "$D/b.json" '
for c in s["tsc"]: c["khz"] = 2000100
'
cp "$SNAPS/qemu-6.1-epyc-kvm.json" "$D/old.json"

kp fleet "$D"
expect_rc 0 "three readable hosts: exit 0"
expect_out_has "2 migration pools" "a+b share a pool, old is apart"
expect_out_has "why pools stand apart" "the reason a pool stands apart is printed"

kp fleet "$D" --json
expect_json "--json: kvmprobe.fleet/1, largest pool first" "
d['schema'] == 'kvmprobe.fleet/1' and d['hosts'] == 3 and len(d['pools']) == 2
and sorted(h.rsplit('/', 1)[1] for h in d['pools'][0]['hosts']) == ['a.json', 'b.json']
and d['pools'][0]['baseline']['tsc_khz_min'] == 2000000 and d['pools'][0]['baseline']['tsc_khz_max'] == 2000100
and len(d['pools'][0]['baseline']['save_list']) == 73 and d['unreadable'] == []"

kp fleet "$D" --json
expect_json "--json: each pool's guest CPU: qemu64 +/- features, enforce, a libvirt element" "
all(p['baseline']['guest_cpu']['qemu'].startswith('qemu64,') and p['baseline']['guest_cpu']['qemu'].endswith(',enforce')
    and 'host' not in p['baseline']['guest_cpu']['qemu'].split(',')
    and \"<model fallback='forbid'>qemu64</model>\" in p['baseline']['guest_cpu']['libvirt']
    and len(p['baseline']['cpuid_features']) > 30 for p in d['pools'])"
qcpu=$(python3 -c "import json,sys; print(json.loads(sys.stdin.read())['pools'][0]['baseline']['guest_cpu']['qemu'])" <<<"$OUT")
if command -v qemu-system-x86_64 >/dev/null; then
  # TCG lacks some of the features, so without ",enforce" (QEMU then only warns); an unknown
  # flag stops it at once. A good start is ended by QMP quit with exit 0.
  rc=0
  printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"quit"}' |
    timeout 60 qemu-system-x86_64 -accel tcg -machine q35 -cpu "${qcpu%,enforce}" -S -nodefaults -display none \
      -qmp stdio >/dev/null 2>"$TMP/qemu.err" || rc=$?
  if [[ $rc == 0 ]]; then pass "qemu-system-x86_64 starts with the pool's -cpu string"
  else fail "qemu-system-x86_64 starts with the pool's -cpu string" "exit $rc: $(grep -v warning "$TMP/qemu.err" | head -2)"; fi
else
  skip "qemu-system-x86_64 starts with the pool's -cpu string" "qemu-system-x86_64 not installed"
fi

kp fleet "$D" --baseline
expect_rc 0 "--baseline: exit 0"
expect_out_lacks "    host       " "--baseline prints no host lines"
expect_out_has "save list" "--baseline prints the baseline"
expect_out_has "    -cpu       qemu64," "--baseline prints the -cpu string"
expect_out_has "<cpu mode='custom' match='exact'>" "--baseline prints the libvirt element"

echo '{"schema": "kvmprobe.snapshot/1", "cpus": [' >"$D/broken.json"
kp fleet "$D" --json=short
expect_rc 3 "an unreadable file: exit 3"
expect_json "the rest is still analysed, the bad file is listed" "
d['hosts'] == 3 and len(d['unreadable']) == 1 and d['unreadable'][0]['path'].endswith('broken.json')"
if [[ $(grep -c '^kvmprobe: error: ' <<<"$ERR") -eq 1 ]] && grep -q 'broken.json' <<<"$ERR"; then
  pass "one error line naming the file"
else
  fail "one error line naming the file" "$ERR"
fi

kp fleet
expect_rc 2 "no PATH: usage error"

finish
