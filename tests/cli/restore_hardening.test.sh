#!/usr/bin/env bash
# `kvmprobe restore` on a journal it cannot trust (issue 11 items 4-8): every refusal is exit 3
# with one error line naming the problem, the journal is left as it was and nothing is written
# (also under --dry-run); a second writing run while one holds the run lock is refused (exit 1).
# restore needs root before it reads anything, so without root these are skipped.
source "$(dirname "$0")/lib.sh" "$@"

if [[ $(id -u) -ne 0 ]]; then
  skip "restore refusals" "restore runs as root only and this test is not root"
  finish
fi
BOOT=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown-boot)
D=$TMP/j
mkdir -m 0700 "$D"

# begin_line MSR MASK OLD [BOOT]: a "begin" line of an enable-vmx run.
begin_line() {
  printf '{"schema":"kvmprobe.journal/1","run":"r1","event":"begin","command":"enable-vmx","boot":"%s","msr":"%s","mask":"%s","cpus":[{"cpu":0,"old":"%s"}]}\n' \
    "${4-$BOOT}" "$1" "$2" "$3"
}

# refused NAME FILE TEXT: restore (and restore --dry-run) on FILE: exit 3, TEXT in the one
# error line, FILE unchanged.
refused() {
  local name=$1 file=$2 text=$3 before
  before=$(sha256sum "$file" | cut -d' ' -f1)
  for dry in "" --dry-run; do
    kp restore --journal "$file" $dry
    expect_rc 3 "$name${dry:+ $dry}: exit 3"
    expect_err_has "$text" "$name${dry:+ $dry}: says why"
    expect_one_error_line "$name${dry:+ $dry}: one error line"
  done
  check "$name: journal unchanged" test "$(sha256sum "$file" | cut -d' ' -f1)" = "$before"
}

# --- item 4: the mask and the old value are not trusted ---------------------------------------
begin_line 0xc0010114 0xffffffffffffffff 0x18 >"$D/mask.jsonl"; chmod 600 "$D/mask.jsonl"
refused "VM_CR mask of every bit" "$D/mask.jsonl" "has bits 0xffffffffffffffef no run can change"
begin_line 0x3a 0x9 0x0 >"$D/mask3a.jsonl"; chmod 600 "$D/mask3a.jsonl"
refused "0x3a mask with bit 3" "$D/mask3a.jsonl" "no run can change"

# --- item 5: crafted lines are refused, never a crash ------------------------------------------
python3 -c '
import sys
d = 200000
sys.stdout.write("{\"schema\":\"kvmprobe.journal/1\",\"run\":\"r1\",\"event\":\"begin\",\"command\":\"enable-vmx\",\"msr\":\"0x3a\",\"mask\":\"0x4\",\"cpus\":[{\"cpu\":0,\"old\":" + "[" * d + "]" * d + "}]}\n")
' >"$D/deep.jsonl"; chmod 600 "$D/deep.jsonl"
refused "200,000-deep old" "$D/deep.jsonl" "line 1: nested deeper than 64 levels"
for key in schema event run; do
  { begin_line 0x3a 0x4 0x0; } | sed "s/\"$key\":\"[^\"]*\"/\"$key\":[1]/" >"$D/type-$key.jsonl"
  chmod 600 "$D/type-$key.jsonl"
  refused "non-string $key" "$D/type-$key.jsonl" "\"$key\" is not a string"
done

# --- items 4 and 6: the file and its directory ---------------------------------------------------
begin_line 0x3a 0x4 0x0 >"$D/good.jsonl"; chmod 600 "$D/good.jsonl"
ln "$D/good.jsonl" "$D/hard.jsonl"
refused "hard link" "$D/hard.jsonl" "has 2 links"
rm "$D/hard.jsonl"
cp "$D/good.jsonl" "$D/gw.jsonl"; chmod 620 "$D/gw.jsonl"
refused "group-writable journal" "$D/gw.jsonl" "writable by group or others (mode 0620)"
check "group-writable journal: mode left as it was" test "$(stat -c %a "$D/gw.jsonl")" = 620
cp "$D/good.jsonl" "$D/other.jsonl"; chown 65534:65534 "$D/other.jsonl"
refused "journal of another user" "$D/other.jsonl" "owned by uid 65534"
mkdir -m 0700 "$TMP/sticky"; cp "$D/good.jsonl" "$TMP/sticky/j.jsonl"; chmod 1777 "$TMP/sticky"
refused "journal in a world-writable sticky directory" "$TMP/sticky/j.jsonl" "is writable by group or others (mode 1777)"
ln -s "$D/good.jsonl" "$D/link.jsonl"
refused "symlink" "$D/link.jsonl" "is a symlink"

# --- item 8: another boot's run ------------------------------------------------------------------
begin_line 0x3a 0x4 0x0 00000000-0000-0000-0000-000000000000 >"$D/boot.jsonl"; chmod 600 "$D/boot.jsonl"
refused "run of another boot" "$D/boot.jsonl" "was made in another boot (boot id 00000000-0000-0000-0000-000000000000"
begin_line 0x3a 0x4 0x0 "" | sed 's/"boot":"",//' >"$D/noboot.jsonl"; chmod 600 "$D/noboot.jsonl"
refused "run without a boot id" "$D/noboot.jsonl" "recorded no boot id"

# --- item 7: one writing run at a time -----------------------------------------------------------
if command -v flock >/dev/null; then
  mkdir -p -m 0700 /run/kvmprobe
  flock -n -o /run/kvmprobe/run.lock sleep 20 &
  holder=$!
  sleep 0.5
  kp restore --journal "$D/good.jsonl"
  expect_rc 1 "while another run holds the lock: exit 1"
  expect_err_has "is writing MSRs (it holds /run/kvmprobe/run.lock): nothing was done" \
    "while another run holds the lock: says so"
  expect_one_error_line "while another run holds the lock: one error line"
  kp restore --journal "$D/boot.jsonl" --dry-run
  expect_rc 3 "--dry-run does not wait for the lock (it writes nothing)"
  kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
  kp restore --journal "$D/boot.jsonl"
  expect_rc 3 "the lock is free again once its holder is gone"
else
  skip "run lock" "flock(1) not installed"
fi

finish
