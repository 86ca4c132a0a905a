# Shared helpers for tests/cli/*.test.sh (sourced, not run by ctest: the glob is *.test.sh).
#
# Usage in a test:   source "$(dirname "$0")/lib.sh" "$@"
#   kp ARGS...            run kvmprobe with ARGS (stdin /dev/null, 30 s timeout); sets RC, OUT, ERR
#   expect_rc N DESC      and the other expect_* functions below record one assertion each
#   skip DESC WHY         record a skipped assertion (printed as SKIP, not counted as passed)
#   skip_tool DESC TOOL PKG  TOOL (which scripts/install-deps.sh installs from PKG) is missing:
#                         a skip, but a failure under CI=true (.ci/run), where it must be there
#   finish                print "N passed, N failed[, N skipped]"; exit 1 if anything failed,
#                         else 77 if anything was skipped (ctest: SKIP_RETURN_CODE), else 0
#
# Every run is against recorded snapshots (--from), never the live host, so the tests need
# neither root nor /dev/cpu: the answers are the same on every machine.

set -u

if [[ $# -lt 1 || ! -x "$1" ]]; then
  echo "usage: bash ${0##*/} /path/to/kvmprobe" >&2
  exit 2
fi
KVMPROBE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=${KVMPROBE_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SNAPS=$SRC/tests/data/snapshots
AMD_OK=$SNAPS/amd-epyc-7713-svm.json
AMD_SVMDIS=$SNAPS/amd-epyc-7742-svm-disabled-locked.json
INTEL_OK=$SNAPS/intel-xeon-8180-skylake-sp-vmx.json
INTEL_LOCKED_OFF=$SNAPS/intel-core-i7-8700k-vmx-locked-off.json

# The real-hardware data beside the project: never copied in, read only when present.
shared_data_dir() {
  local d=${KVMPROBE_SHARED_DATA:-$SRC/../shared/data}
  [[ -d $d ]] && (cd "$d" && pwd)
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kvmprobe-cli.XXXXXX")
cleanup() { chmod -R u+w "$TMP" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

# A predictable environment: no colour preferences, no pager, a real-looking terminal type.
unset NO_COLOR KVMPROBE_PAGER PAGER CLICOLOR CLICOLOR_FORCE
export TERM=xterm-256color LC_ALL=C.UTF-8

PASSED=0
FAILED=0
SKIPPED=0
RC=0
OUT=
ERR=
LAST_CMD=

# run CMD...: capture stdout, stderr and the exit status (124 = timed out).
run() {
  LAST_CMD=$*
  timeout -k 5 "${KP_TIMEOUT:-30}" "$@" >"$TMP/.out" 2>"$TMP/.err" </dev/null
  RC=$?
  OUT=$(cat "$TMP/.out")
  ERR=$(cat "$TMP/.err")
}
kp() { run "$KVMPROBE" "$@"; }
# kp_env VAR=VALUE... -- ARGS...: kvmprobe with extra environment.
kp_env() {
  local envs=()
  while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  run env "${envs[@]}" "$KVMPROBE" "$@"
}

pass() { PASSED=$((PASSED + 1)); echo "ok      $1"; }
fail() {
  FAILED=$((FAILED + 1))
  echo "FAILED  $1"
  echo "        command: $LAST_CMD"
  echo "        exit $RC; $2"
  [[ -n $OUT ]] && echo "        stdout: $(head -c 600 <<<"$OUT" | sed -n '1,8p' | sed '2,$s/^/                /')"
  [[ -n $ERR ]] && echo "        stderr: $(head -c 600 <<<"$ERR" | sed -n '1,8p' | sed '2,$s/^/                /')"
  return 0
}
skip() { SKIPPED=$((SKIPPED + 1)); echo "SKIP    $1 ($2)"; }
skip_tool() {
  if [[ ${CI:-} == true ]]; then fail "$1" "$2 is missing (Debian package $3, installed by scripts/install-deps.sh)"
  else skip "$1" "$2 is not installed (apt-get install $3)"; fi
}

# check DESC CONDITION-COMMAND... : pass when the command succeeds.
check() {
  local desc=$1; shift
  if "$@"; then pass "$desc"; else fail "$desc" "condition failed: $*"; fi
}

expect_rc() {
  if [[ $RC -eq $1 ]]; then pass "$2"; else fail "$2" "expected exit $1"; fi
}
expect_out_has() {
  if grep -qF -- "$1" <<<"$OUT"; then pass "$2"; else fail "$2" "stdout lacks: $1"; fi
}
expect_out_lacks() {
  if ! grep -qF -- "$1" <<<"$OUT"; then pass "$2"; else fail "$2" "stdout has: $1"; fi
}
expect_err_has() {
  if grep -qF -- "$1" <<<"$ERR"; then pass "$2"; else fail "$2" "stderr lacks: $1"; fi
}
expect_out_empty() {
  if [[ -z $OUT ]]; then pass "$1"; else fail "$1" "expected empty stdout"; fi
}
expect_err_empty() {
  if [[ -z $ERR ]]; then pass "$1"; else fail "$1" "expected empty stderr"; fi
}

# The error contract: exactly one "kvmprobe: error:" line on stderr, at most one
# "kvmprobe: hint:" line, nothing else (no CLI11 usage dump, no second error).
expect_one_error_line() {
  local errors hints others
  errors=$(grep -c '^kvmprobe: error: ' <<<"$ERR")
  hints=$(grep -c '^kvmprobe: hint: ' <<<"$ERR")
  others=$(grep -vc -e '^kvmprobe: error: ' -e '^kvmprobe: hint: ' -e '^$' <<<"$ERR")
  if [[ $errors -eq 1 && $hints -le 1 && $others -eq 0 ]]; then
    pass "$1"
  else
    fail "$1" "expected one 'kvmprobe: error:' line (+ at most one hint), got $errors error, $hints hint, $others other lines"
  fi
}

# expect_json DESC EXPR: stdout must be exactly one JSON document, and the Python expression
# EXPR (the document bound to `d`, `re` available) must be true.
expect_json() {
  local desc=$1 expr=$2 msg
  if msg=$(python3 -c '
import json, sys
text = sys.stdin.read()
try:
    d = json.loads(text)
except Exception as e:
    print("stdout is not one JSON document: %s" % e); sys.exit(1)
expr = sys.argv[1]
try:
    ok = eval("(" + expr + "\n)", {"d": d, "re": __import__("re")})
except Exception as e:
    print("%s raised %r" % (expr, e)); sys.exit(1)
if not ok:
    print("false: %s" % expr); sys.exit(1)
' "$expr" <<<"$OUT" 2>&1); then
    pass "$desc"
  else
    fail "$desc" "$msg"
  fi
}

# The whole error document under --json: one JSON object, schema kvmprobe.error/1, the
# message, the hint and the exit code; and the same one line on stderr.
expect_json_error() {
  local code=$1 desc=$2
  expect_rc "$code" "$desc: exit $code"
  expect_json "$desc: stdout is one kvmprobe.error/1 document" \
    "set(d) == {'schema', 'error'} and d['schema'] == 'kvmprobe.error/1' and isinstance(d['error']['message'], str) and d['error']['message'] != '' and isinstance(d['error']['hint'], str) and d['error']['exit_code'] == $code"
  expect_one_error_line "$desc: one error line on stderr"
}

has_escape() { grep -q $'\x1b' <<<"$1"; }

# snapshot_edit IN OUT PYTHON: rewrite a snapshot with Python code acting on `s` (the document).
snapshot_edit() {
  python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
src, dst, code = sys.argv[1:4]
s = json.load(open(src))
exec(code)
json.dump(s, open(dst, "w"), indent=1)
EOF
}

finish() {
  if [[ $SKIPPED -gt 0 ]]; then echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
  else echo "$PASSED passed, $FAILED failed"; fi
  [[ $FAILED -eq 0 ]] || exit 1
  [[ $SKIPPED -eq 0 ]] || exit 77
  exit 0
}
