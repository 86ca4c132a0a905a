#!/usr/bin/env bash
# snapshot -o and import -o: atomic writes (exit 1 and no partial or temporary file on failure,
# an existing file left intact), round trips, import errors (exit 3), Ctrl-C (130).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

W=$TMP/out
mkdir -p "$W"
listing() { (cd "$1" && ls -A | sort); }

# --- round trip ---------------------------------------------------------------------------------
kp snapshot --from "$AMD_SVMDIS" -o "$W/copy.json"
expect_rc 0 "snapshot --from X -o FILE: exit 0"
expect_out_empty "snapshot -o FILE: nothing on stdout"
kp snapshot --from "$W/copy.json"
expect_rc 0 "snapshot --from copy (to stdout): exit 0"
check "snapshot re-emits a format 1 snapshot in format 2" grep -q '"schema": "kvmprobe.snapshot/2"' "$W/copy.json"
check "snapshot re-emits its own output byte for byte (to stdout as with -o)" test "$OUT" == "$(cat "$W/copy.json")"
kp snapshot --from "$AMD_SVMDIS" -o "$W/quiet.json" -q
expect_rc 0 "snapshot -o FILE -q: exit 0"
expect_err_empty "snapshot -o FILE -q: nothing on stderr"
kp check --from "$W/copy.json" --kernel 6.1
expect_rc 11 "a re-emitted snapshot gives the same verdict"
kp snapshot --from "$AMD_SVMDIS" -o -
expect_rc 0 "snapshot -o -: stdout"
expect_out_has '"schema": "kvmprobe.snapshot/2"' "snapshot -o -: writes the snapshot on stdout"

# Overwriting keeps the mode of the existing file (atomic rename over it).
echo old >"$W/mode.json"
chmod 640 "$W/mode.json"
kp snapshot --from "$AMD_OK" -o "$W/mode.json"
expect_rc 0 "snapshot -o over an existing file: exit 0"
check "snapshot -o over an existing file keeps its mode 640" test "$(stat -c %a "$W/mode.json")" == 640
# (the recorded file is format 1; what is written is its format 2 conversion, as on stdout)
"$KVMPROBE" snapshot --from "$AMD_OK" >"$W/mode-expected.json" 2>/dev/null
check "snapshot -o over an existing file replaces it" cmp -s "$W/mode-expected.json" "$W/mode.json"

# --- failures: exit 1, one line, nothing left behind ----------------------------------------------
kp snapshot --from "$AMD_OK" -o "$W/no/such/dir/x.json"
expect_rc 1 "snapshot -o into a missing directory: exit 1"
expect_one_error_line "snapshot -o into a missing directory: one error line"

if [[ $(id -u) -ne 0 ]]; then
  mkdir "$W/ro"
  chmod 555 "$W/ro"
  kp snapshot --from "$AMD_OK" -o "$W/ro/x.json"
  expect_rc 1 "snapshot -o into a read-only directory: exit 1"
  expect_one_error_line "snapshot -o into a read-only directory: one error line"
  check "snapshot -o into a read-only directory: leaves nothing" test -z "$(listing "$W/ro")"
  chmod 755 "$W/ro"
else
  # root ignores directory permissions; sysfs refuses to create files even for root.
  kp snapshot --from "$AMD_OK" -o /sys/kvmprobe-test.json
  expect_rc 1 "snapshot -o into an unwritable directory (/sys): exit 1"
  expect_one_error_line "snapshot -o into an unwritable directory: one error line"
  check "snapshot -o into /sys: nothing created" test ! -e /sys/kvmprobe-test.json
fi

# The write fails half-way (file size limit): exit 1, the old file intact, no temporary file.
mkdir "$W/partial"
echo "previous contents" >"$W/partial/host.json"
before=$(listing "$W/partial")
run bash -c 'trap "" XFSZ; ulimit -f 4; exec "$@"' _ "$KVMPROBE" snapshot --from "$AMD_OK" -o "$W/partial/host.json"
expect_rc 1 "snapshot -o, write fails half-way: exit 1"
expect_one_error_line "snapshot -o, write fails half-way: one error line"
check "snapshot -o, write fails half-way: the old file is intact" \
  test "$(cat "$W/partial/host.json")" == "previous contents"
check "snapshot -o, write fails half-way: no temporary file left ($(listing "$W/partial" | tr '\n' ' '))" \
  test "$(listing "$W/partial")" == "$before"
run bash -c 'trap "" XFSZ; ulimit -f 4; exec "$@"' _ "$KVMPROBE" snapshot --from "$AMD_OK" -o "$W/partial/new.json"
expect_rc 1 "snapshot -o a new file, write fails half-way: exit 1"
check "snapshot -o a new file, write fails half-way: no file and no temporary left" \
  test "$(listing "$W/partial")" == "$before"

kp snapshot --from "$AMD_OK" -o /dev/full
expect_rc 1 "snapshot -o /dev/full: exit 1"
expect_err_has "No space" "snapshot -o /dev/full: says no space"

kp snapshot --from "$AMD_OK" -o "$W/no/such/dir/x.json" --json
expect_json_error 1 "snapshot -o into a missing directory --json"

kp snapshot --from "$W/does-not-exist.json" -o "$W/never.json"
expect_rc 3 "snapshot --from a missing file: exit 3"
check "snapshot --from a missing file: -o target not created" test ! -e "$W/never.json"

# --- import ---------------------------------------------------------------------------------------
kp import --libcpuid "$W/does-not-exist.raw" -o "$W/imp.json"
expect_rc 3 "import of a missing dump: exit 3"
expect_one_error_line "import of a missing dump: one error line"
check "import of a missing dump: no output file" test ! -e "$W/imp.json"
printf 'nothing to see here\n' >"$W/junk.txt"
kp import --dump "$W/junk.txt" -o "$W/imp.json"
expect_rc 3 "import of a file without CPUID lines: exit 3"
expect_one_error_line "import of a file without CPUID lines: one error line"
kp import --dump "$TMP" -o "$W/imp.json"
expect_rc 3 "import of a directory: exit 3"
: >"$W/empty.raw"
kp import --libcpuid "$W/empty.raw"
expect_rc 3 "import of an empty file: exit 3"
kp import --dump "$W/junk.txt" --json
expect_json_error 3 "import of junk --json"

# A minimal AIDA64-style dump made here: one CPU, leaf 0 and 1 of an Intel CPU with VMX.
cat >"$W/tiny.txt" <<'EOF'
------[ CPUID Registers / Logical CPU #0 ]------
CPUID 00000000: 00000016-756E6547-6C65746E-49656E69
CPUID 00000001: 000906EA-00100800-7FFAFBBF-BFEBFBFF
EOF
kp import --dump "$W/tiny.txt" -o "$W/tiny.json" --release 6.6.0
expect_rc 0 "import of a tiny AIDA64 dump: exit 0"
kp check --from "$W/tiny.json" --json
expect_rc 13 "tiny import (CPUID only, Intel with VMX): check exits 13"
expect_json "tiny import: the release is recorded and chooses the 6.6 profile" \
  "d['kernel']['release'] == '6.6.0' and d['kernel']['profile'] == '6.6'"
kp import --dump "$W/tiny.txt" -o "$W/no/such/dir/t.json"
expect_rc 1 "import -o into a missing directory: exit 1"

SD=$(shared_data_dir || true)
if [[ -n $SD && -f $SD/libcpuid-tests/intel/x86-64/skylake/intel-core-i7-7500u-cpu.test ]]; then
  dump=$SD/libcpuid-tests/intel/x86-64/skylake/intel-core-i7-7500u-cpu.test
  kp import --libcpuid "$dump" -o "$W/i7.json"
  expect_rc 0 "import --libcpuid of a real libcpuid dump: exit 0"
  kp snapshot --from "$W/i7.json"
  check "the imported snapshot reads back unchanged" test "$OUT" == "$(cat "$W/i7.json")"
  expect_out_has '"origin": "import:libcpuid"' "the imported snapshot says where it came from"
  kp import --dump "$dump" --json
  expect_json "import to stdout under --json: the snapshot itself is the one document" \
    "d['schema'] == 'kvmprobe.snapshot/2'"
else
  skip "import of a real libcpuid dump" "shared data not present"
fi

# --- Ctrl-C: 130 ------------------------------------------------------------------------------------
# kvmprobe waits on a pipe that never delivers; SIGINT must end it with 130 (or death by
# SIGINT, which a shell reports as 130), promptly and without a half-written output file.
run python3 - "$KVMPROBE" "$W/int.json" <<'EOF'
import os, signal, subprocess, sys, time
r, w = os.pipe()
p = subprocess.Popen([sys.argv[1], "snapshot", "--from", "-", "-o", sys.argv[2]], stdin=r,
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
os.close(r)
time.sleep(0.5)
p.send_signal(signal.SIGINT)
try:
    rc = p.wait(timeout=10)
except subprocess.TimeoutExpired:
    p.kill(); print("still running 10 s after SIGINT"); sys.exit(1)
print(rc)
sys.exit(0 if rc in (130, -signal.SIGINT) else 1)
EOF
expect_rc 0 "SIGINT while reading --from -: exit 130 (got $OUT)"
check "SIGINT: no output file left" test ! -e "$W/int.json"

finish
