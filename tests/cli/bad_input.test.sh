#!/usr/bin/env bash
# --from with bad and hostile files: exit 3 and one clear line on stderr; under --json one
# kvmprobe.error/1 document on stdout and nothing else (nothing half-written). Every command
# that reads --from behaves the same.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

B=$TMP/bad
mkdir -p "$B"

# --- the files -----------------------------------------------------------------------------
: >"$B/empty.json"
printf ' \n\t\r\n' >"$B/blank.json"
head -c 3000 "$AMD_OK" >"$B/truncated.json"
head -c "$(($(wc -c <"$AMD_OK") - 2))" "$AMD_OK" >"$B/truncated-end.json"
echo '{"schema":"kvmprobe.check/1","verdict":{}}' >"$B/wrong-schema.json"
echo '{"cpus":[]}' >"$B/no-schema.json"
echo '[1, 2, 3]' >"$B/array.json"
echo '"kvmprobe.snapshot/1"' >"$B/string.json"
sed 's#"kvmprobe.snapshot/1"#"kvmprobe.snapshot/3"#' "$AMD_OK" >"$B/newer.json"
sed 's#"kvmprobe.snapshot/1"#"kvmprobe.snapshot/999999999999999999999"#' "$AMD_OK" >"$B/newer-huge.json"
echo '{"schema":"kvmprobe.snapshot/1"}' >"$B/no-cpus.json"
python3 - "$B" <<'EOF'
import json, os, sys
b = sys.argv[1]
def w(name, text):
    with open(os.path.join(b, name), "w") as f:
        f.write(text)
head = '{"schema":"kvmprobe.snapshot/1","cpus":[{"cpu":'
w("huge-int.json", head + "9" * 400 + "}]}")
w("huge-float.json", head + "1e999999}]}")
w("float-cpu.json", head + "0.5}]}")
w("negative-cpu.json", head + "-1}]}")
w("cpu-out-of-range.json", head + "4294967296}]}")
msr = '{"schema":"kvmprobe.snapshot/1","cpus":[{"cpu":0,"msrs":[{"index":"0x3a","status":"value","value":"%s"}]}]}'
w("hex-too-big.json", msr % "0x1ffffffffffffffff")
w("hex-not-hex.json", msr % "0xzz")
w("hex-upper-prefix.json", msr % "0X3A")
w("bad-status.json", '{"schema":"kvmprobe.snapshot/1","cpus":[{"cpu":0,"msrs":[{"index":"0x3a","status":"maybe"}]}]}')
w("dup-cpu.json", '{"schema":"kvmprobe.snapshot/1","cpus":[{"cpu":0},{"cpu":0}]}')
w("deep-array.json", "[" * 100000 + "]" * 100000)
w("deep-object.json", '{"a":' * 100000)
w("deep-in-snapshot.json", '{"schema":"kvmprobe.snapshot/1","cpus":[],"notes":' + "[" * 5000 + "]" * 5000 + "}")
w("many-values.json", "[" + "0," * 17000000 + "0]")
w("long-string.json", '{"schema":"kvmprobe.snapshot/1","cpus":[],"hostname":"' + "a" * (2 << 20) + '"}')
w("nul-bytes.json", '{"schema":"kvmprobe.snapshot/1"\x00,"cpus":[]}')
w("bad-utf8.json", '{"schema":"kvmprobe.snapshot/1","cpus":[],"hostname":"')
with open(os.path.join(b, "bad-utf8.json"), "ab") as f:
    f.write(b'\xff\xfe"}')
w("trailing.json", '{"schema":"kvmprobe.snapshot/1","cpus":[]} {"x":1}')
w("text.json", "this is not a snapshot\n" * 1000)
EOF
head -c 10M /dev/urandom >"$B/garbage.bin"
python3 -c 'import sys; sys.stdout.write("A" * (10 << 20))' >"$B/garbage-text.bin"
mkdir "$B/a-directory"
printf '\xfd7zXZ\x00garbage' >"$B/xz-magic.json"

# name | file | words the error line must contain (grep -E, case-insensitive)
CASES=(
  "missing file|$B/does-not-exist.json|does-not-exist.json.*(no such file|cannot open)"
  "empty file|$B/empty.json|empty"
  "blank file|$B/blank.json|empty"
  "truncated JSON|$B/truncated.json|not valid JSON.*line"
  "truncated at the end|$B/truncated-end.json|not valid JSON"
  "wrong schema (a check report)|$B/wrong-schema.json|schema.*kvmprobe.snapshot"
  "no schema|$B/no-schema.json|schema"
  "top-level array|$B/array.json|object"
  "top-level string|$B/string.json|object"
  "newer format version|$B/newer.json|newer"
  "absurd format version|$B/newer-huge.json|schema"
  "no cpus key|$B/no-cpus.json|cpus"
  "huge integer|$B/huge-int.json|number|range|cpu"
  "huge float|$B/huge-float.json|number|range|cpu"
  "fractional CPU number|$B/float-cpu.json|cpu"
  "negative CPU number|$B/negative-cpu.json|cpu"
  "CPU number beyond 32 bits|$B/cpu-out-of-range.json|cpu"
  "MSR value beyond 64 bits|$B/hex-too-big.json|value"
  "MSR value not hex|$B/hex-not-hex.json|value"
  "upper-case 0X prefix|$B/hex-upper-prefix.json|value"
  "unknown MSR status|$B/bad-status.json|status"
  "duplicate CPU|$B/dup-cpu.json|duplicate"
  "deeply nested arrays|$B/deep-array.json|nested|depth|deep"
  "deeply nested objects|$B/deep-object.json|nested|depth|deep"
  "deep nesting inside a snapshot|$B/deep-in-snapshot.json|nested|depth|deep"
  "17 million values|$B/many-values.json|values|large|many"
  "a 2 MiB string|$B/long-string.json|string|long|large|MiB"
  "NUL bytes|$B/nul-bytes.json|JSON"
  "invalid UTF-8|$B/bad-utf8.json|JSON|UTF"
  "two documents|$B/trailing.json|JSON"
  "plain text|$B/text.json|JSON"
  "10 MB of random bytes|$B/garbage.bin|JSON|nested|binary"
  "10 MB of one letter|$B/garbage-text.bin|JSON"
  "xz magic, broken stream|$B/xz-magic.json|JSON|xz"
  "a directory|$B/a-directory|directory"
  "/dev/zero|/dev/zero|large|MiB|size"
)

for entry in "${CASES[@]}"; do
  IFS='|' read -r name file pattern <<<"$entry"
  pattern=${entry#*|*|}
  # Text output: exit 3, one error line naming the problem, nothing on stdout.
  KP_TIMEOUT=20 kp check --from "$file" --kernel 6.1
  expect_rc 3 "$name: exit 3"
  expect_one_error_line "$name: one error line on stderr"
  expect_out_empty "$name: nothing on stdout"
  if grep -qiE -- "$pattern" <<<"$(grep '^kvmprobe: error:' <<<"$ERR")"; then
    pass "$name: the error line says what is wrong"
  else
    fail "$name: the error line says what is wrong" "error line does not match /$pattern/"
  fi
  # --json: exactly one kvmprobe.error/1 document on stdout.
  KP_TIMEOUT=20 kp check --from "$file" --kernel 6.1 --json=short
  expect_json_error 3 "$name --json"
  check "$name --json=short: one line" test "$(wc -l <<<"$OUT")" -eq 1
done

# --- the same file through every command that reads --from -------------------------------
for c in check xcr0 tsc vmx-caps msrs snapshot; do
  kp "$c" --from "$B/truncated.json" --kernel 6.1
  expect_rc 3 "$c --from truncated: exit 3"
  expect_one_error_line "$c --from truncated: one error line"
  expect_out_empty "$c --from truncated: nothing on stdout"
  kp "$c" --from "$B/newer.json" --kernel 6.1 --json
  expect_json_error 3 "$c --from newer --json"
done

# --- standard input ------------------------------------------------------------------------
run bash -c '"$1" check --from - --kernel 6.1 <"$2"' _ "$KVMPROBE" "$B/garbage.bin"
expect_rc 3 "--from - with garbage on stdin: exit 3"
expect_one_error_line "--from - with garbage: one error line"
expect_err_has "standard input" "--from - with garbage: the error names standard input"

run bash -c '"$1" check --from - --kernel 6.1 </dev/null' _ "$KVMPROBE"
expect_rc 3 "--from - with empty stdin: exit 3"
expect_err_has "empty" "--from - with empty stdin: says empty"

run bash -c '"$1" check --from - --kernel 6.1 --json=short <"$2"' _ "$KVMPROBE" "$AMD_SVMDIS"
expect_rc 11 "--from - with a good snapshot on stdin: analysed (exit 11)"
expect_json "--from - with a good snapshot: a check document" "d['schema'] == 'kvmprobe.check/1'"

# --- unreadable file (root reads everything: as root, read it as nobody through setpriv) ----
cp "$AMD_OK" "$B/unreadable.json"
chmod 000 "$B/unreadable.json"
if [[ $(id -u) -ne 0 ]]; then
  kp check --from "$B/unreadable.json" --kernel 6.1
elif command -v setpriv >/dev/null; then
  chmod 755 "$TMP" "$B"
  run setpriv --reuid=65534 --regid=65534 --clear-groups "$KVMPROBE" check --from "$B/unreadable.json" --kernel 6.1
else
  RC=skipped
fi
if [[ $RC == skipped ]]; then
  skip_tool "unreadable file: exit 3" setpriv util-linux
else
  expect_rc 3 "unreadable file: exit 3"
  expect_err_has "ermission" "unreadable file: says permission denied"
fi

# --- a reader must never hang: a FIFO nobody writes to is refused or times out cleanly -----
mkfifo "$B/fifo"
( exec 3<>"$B/fifo"; sleep 3 ) &   # a writer that stays open and never writes, then goes
writer=$!
KP_TIMEOUT=10 kp check --from "$B/fifo" --kernel 6.1
wait "$writer" 2>/dev/null
check "FIFO whose writer goes away: exit 3, not a hang (exit $RC)" test "$RC" -eq 3

finish
