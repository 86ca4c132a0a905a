#!/usr/bin/env bash
# No dump makes `kvmprobe import` use more than 256 MiB (issue 11 item 10): hostile dumps, some
# tiny once compressed, are refused (exit 3) or imported within the budget. Peak memory is the
# child's ru_maxrss as the kernel reports it.
source "$(dirname "$0")/lib.sh" "$@"

LIMIT_KB=$((256 * 1024))
# rss_kb ARGS...: runs kvmprobe ARGS (stdout/stderr to files); sets RC and RSS_KB.
rss_kb() {
  LAST_CMD="kvmprobe $*"
  local out
  out=$(python3 - "$KVMPROBE" "$TMP" "$@" <<'PY'
import resource, subprocess, sys
exe, tmp, args = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(tmp + "/.out", "wb") as o, open(tmp + "/.err", "wb") as e:
    rc = subprocess.call([exe] + args, stdout=o, stderr=e, stdin=subprocess.DEVNULL, timeout=300)
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
)
  RC=${out% *}
  RSS_KB=${out#* }
  OUT=$(cat "$TMP/.out")
  ERR=$(cat "$TMP/.err")
}
within() {
  if [[ $RSS_KB -le $LIMIT_KB ]]; then pass "$1: peak $((RSS_KB / 1024)) MiB <= 256 MiB"
  else fail "$1" "peak RSS $((RSS_KB / 1024)) MiB > 256 MiB"; fi
}

# 1. 64 MiB of CPUID lines in 10 KB of xz: refused at 32 MiB of text.
python3 -c '
import sys
line = b"CPUID 00000001: 000906EA-00100800-7FFAFBBF-BFEBFBFF\n"
sys.stdout.buffer.write(b"------[ Logical CPU #0 ]------\n" + line * (64 * 1024 * 1024 // len(line)))
' | xz -1 -T1 >"$TMP/bomb.txt.xz"
check "the bomb is small compressed ($(stat -c %s "$TMP/bomb.txt.xz") bytes)" test "$(stat -c %s "$TMP/bomb.txt.xz")" -lt 200000
rss_kb import --aida64 "$TMP/bomb.txt.xz" -o "$TMP/bomb.json"
expect_rc 3 "xz bomb: exit 3"
expect_err_has "decompresses to more than 32 MiB" "xz bomb: says why"
within "xz bomb"

# 2. MSR sections for 4000 CPU labels: refused when the MSRs of all CPUs pass 131072.
python3 -c '
import sys
w = sys.stdout.write
w("------[ Logical CPU #0 ]------\nCPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\n")
for cpu in range(4000):
    w("------[ MSR Registers (Logical CPU #%d) ]------\n" % cpu)
    for i in range(80):
        w("MSR %08X: 0000-0000-0000-%04X\n" % (i, i))
' | xz -T1 >"$TMP/msrs.txt.xz"
rss_kb import --aida64 "$TMP/msrs.txt.xz" -o "$TMP/msrs.json"
expect_rc 3 "320,000 MSRs: exit 3"
expect_err_has "more than 131072 MSRs in all" "320,000 MSRs: says why"
within "320,000 MSRs"

# 3. Leaves on every CPU: 300,000 in all, refused; just under the budget, imported within it.
leaves() {
  python3 -c '
import sys
cpus, per = int(sys.argv[1]), int(sys.argv[2])
w = sys.stdout.write
for cpu in range(cpus):
    w("------[ Logical CPU #%d ]------\n" % cpu)
    w("CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\n")
    for sub in range(per - 1):
        w("CPUID 0000000D: 00000001-00000002-00000003-00000004 [SL %02X]\n" % sub)
' "$1" "$2"
}
leaves 80 3750 | xz -T1 >"$TMP/leaves.txt.xz"
rss_kb import --aida64 "$TMP/leaves.txt.xz" -o "$TMP/leaves.json"
expect_rc 3 "300,000 leaves: exit 3"
expect_err_has "more than 131072 CPUID leaves in all" "300,000 leaves: says why"
within "300,000 leaves"
leaves 64 2000 | xz -T1 >"$TMP/full.txt.xz"
rss_kb import --aida64 "$TMP/full.txt.xz" -o "$TMP/full.json"
expect_rc 0 "128,000 leaves (within the limits): imported"
within "128,000 leaves imported and written"

# 4. libcpuid format: 300,000 leaves refused.
python3 -c '
import sys
w = sys.stdout.write
w("version=0.6.2\n")
for cpu in range(80):
    w("_________________ Logical CPU #%d _________________\n" % cpu)
    for i in range(3750):
        w("intel_fn12h[%d]=00000001 00000002 00000003 00000004\n" % i if i < 3000 else "basic_cpuid[%d]=00000001 00000002 00000003 00000004\n" % i)
' | xz -T1 >"$TMP/lc.raw.xz"
rss_kb import --libcpuid "$TMP/lc.raw.xz" -o "$TMP/lc.json"
expect_rc 3 "libcpuid, 300,000 leaves: exit 3"
within "libcpuid, 300,000 leaves"

finish
