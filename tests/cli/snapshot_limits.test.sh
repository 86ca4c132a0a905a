#!/usr/bin/env bash
# Hostile snapshot files: every one is refused with exit 3 and one line naming the limit, and
# no input file makes kvmprobe use more than 256 MiB (peak RSS of the child, from getrusage).
# A legitimate 1,024-CPU host, in both formats, is read and analysed within 64 MiB.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

H=$TMP/hostile
mkdir -p "$H"
python3 - "$H" "$AMD_OK" <<'PY'
import json, os, sys
d, base = sys.argv[1], sys.argv[2]
def w(name, text):
    with open(os.path.join(d, name), "w") as f:
        f.write(text)
s1 = '{"schema":"kvmprobe.snapshot/1",'
s2 = '{"schema":"kvmprobe.snapshot/2",'
# 45 MB of "" as per-CPU flags: 15 million empty strings (before: 1.25 GB as a JSON tree).
flags = "[" + ",".join(['""'] * 4096) + "]"
w("empty-strings-flags.json", s1 + '"cpus":[' + ",".join('{"cpu":%d,"linux_flags":%s}' % (i, flags) for i in range(3660)) + "]}")
# 45 MB of "" in one list.
w("empty-strings-notes.json", s1 + '"cpus":[],"notes":[' + ",".join(['""'] * 15000000) + "]}")
# 10^6 CPUs of nothing.
w("million-cpus.json", s1 + '"cpus":[' + ",".join('{"cpu":%d}' % i for i in range(1000000)) + "]}")
w("million-empty-cpus.json", s1 + '"cpus":[' + ",".join(["{}"] * 1000000) + "]}")
# Deep nesting, as the document and inside it.
w("deep.json", "[" * 1000000 + "]" * 1000000)
w("deep-inside.json", s2 + '"cpus":[],"future":' + "[" * 1000000 + "]" * 1000000 + "}")
# Huge numbers.
w("huge-integer.json", s1 + '"cpus":[{"cpu":' + "9" * 60000000 + "}]}")
w("huge-exponent.json", s1 + '"cpus":[{"cpu":1e99999999}]}')
w("big-float.json", s1 + '"cpus":[{"cpu":1e300}]}')
# Format 2: one 4096-leaf set referenced by 8192 CPUs would be 33 million leaves.
leaves = ",".join('{"leaf":"0x4","subleaf":"0x%x","eax":"0x0","ebx":"0x0","ecx":"0x0","edx":"0x0"}' % i for i in range(4096))
w("set-bomb.json", s2 + '"cpuid_sets":[[' + leaves + ']],"cpus":[' + ",".join('{"cpu":%d,"cpuid_set":0}' % i for i in range(8192)) + "]}")
# Long tokens: nlohmann's lexer copies a token two or three times.
w("long-string.json", s1 + '"cpus":[],"hostname":"' + "a" * 60000000 + '"}')
w("long-string-2mib.json", s1 + '"cpus":[],"hostname":"' + "a" * (2 << 20) + '"}')
PY

# rss_run FILE ARGS...: runs kvmprobe ARGS; sets RC, ERR and RSS_KIB (peak RSS of the child).
rss_run() {
  LAST_CMD="kvmprobe $*"
  local out
  out=$(python3 - "$KVMPROBE" "$@" <<'PY'
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=900)
print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.stdout.write(p.stderr.decode(errors="replace"))
PY
)
  RC=$(head -1 <<<"$out" | cut -d' ' -f1)
  RSS_KIB=$(head -1 <<<"$out" | cut -d' ' -f2)
  ERR=$(tail -n +2 <<<"$out")
  OUT=
}

LIMIT_KIB=$((256 * 1024))
cases=(
  "empty-strings-flags.json|needs more than 96 MiB of memory (limit)"
  "empty-strings-notes.json|notes: more than 100000 entries"
  "million-cpus.json|cpus: more than 8192 CPUs"
  "million-empty-cpus.json|cpus[0].cpu: missing"
  "deep.json|nested deeper than 64 levels"
  "deep-inside.json|nested deeper than 64 levels"
  "huge-integer.json|has a number longer than 64 characters (line 1)"
  "huge-exponent.json|not valid JSON (number out of range)"
  "big-float.json|cpus[0].cpu: expected a non-negative integer"
  "long-string-2mib.json|hostname: string longer than 1 MiB"
  "set-bomb.json|more than 2097152 CPUID leaves in all (limit)"
  "long-string.json|has a string longer than 1 MiB (line 1)"
)
for c in "${cases[@]}"; do
  file=${c%%|*} msg=${c#*|}
  rss_run check --from "$H/$file" --kernel 6.1
  expect_rc 3 "$file: exit 3"
  expect_err_has "$msg" "$file: names the limit ($msg)"
  expect_one_error_line "$file: one error line"
  check "$file: peak RSS ${RSS_KIB} KiB < 256 MiB" test "$RSS_KIB" -lt "$LIMIT_KIB"
done

# A file over the size cap is refused before it is read.
truncate -s $((64 * 1024 * 1024 + 1)) "$H/sparse.json"
rss_run check --from "$H/sparse.json" --kernel 6.1
expect_rc 3 "a 64 MiB + 1 byte file: exit 3"
expect_err_has "is larger than 64 MiB" "a 64 MiB + 1 byte file: names the cap"

# --- a real-sized host: 1,024 CPUs, the recorded EPYC replicated with distinct APIC IDs ---------
python3 - "$AMD_OK" "$H/host1024-f1.json" <<'PY'
import copy, json, sys
d = json.load(open(sys.argv[1]))
cpu0 = d["cpus"][0]
cpus = []
for i in range(1024):
    c = copy.deepcopy(cpu0)
    c["cpu"] = i
    for l in c["cpuid"]:
        if l["leaf"] == "0x1":
            l["ebx"] = hex((int(l["ebx"], 16) & 0xffffff) | ((i & 0xff) << 24))
        if l["leaf"] in ("0xb", "0x1f"):
            l["edx"] = hex(i)
        if l["leaf"] == "0x8000001e":
            l["eax"] = hex(i)
    cpus.append(c)
d["cpus"] = cpus
d["online_cpus"] = list(range(1024))
json.dump(d, open(sys.argv[2], "w"), indent=1)
PY
KP_TIMEOUT=300 kp snapshot --from "$H/host1024-f1.json" -o "$H/host1024-f2.json"
expect_rc 0 "1,024 CPUs: format 1 converts to format 2"
kp check --from "$AMD_OK"
base_rc=$RC
for f in host1024-f1.json host1024-f2.json; do
  rss_run check --from "$H/$f"
  expect_rc "$base_rc" "$f: the same verdict as the 2-CPU recording (exit $base_rc)"
  check "$f: peak RSS ${RSS_KIB} KiB < 64 MiB" test "$RSS_KIB" -lt $((64 * 1024))
done
s1=$(stat -c %s "$H/host1024-f1.json") s2=$(stat -c %s "$H/host1024-f2.json")
echo "info    1,024 CPUs: format 1 $s1 bytes, format 2 $s2 bytes"
check "format 2 of 1,024 identical CPUs is under a tenth of format 1" test $((s2 * 10)) -lt "$s1"

finish
