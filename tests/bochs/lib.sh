# shellcheck shell=bash
# Helpers for tests/bochs/*.test.sh: tests/vm/lib.sh (assertions, vm_out, vm_section, the
# closing "N passed, N failed" line) plus Bochs guests started with run-bochs.sh.
#
#   . "$(dirname "$0")/lib.sh"
#   bx_start sky61 --kernel 6.1 --cpu corei7_skylake_x --script guest.sh --file ...
#   bx_wait sky61
#   assert_exit sky61 0
#   vm_summary
# shellcheck source=../vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"
BX_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# bx_start RUN ARGS...: run-bochs.sh --out <out>/RUN ARGS... in the background. Bochs is
# single-threaded: start at most two at once on this 2-core machine.
bx_start() {
  local name=$1; shift
  local o; o=$(vm_out "$name"); mkdir -p "$o"; rm -f "$o/rc"
  ( set +e; bash "$BX_DIR/run-bochs.sh" --out "$o" "$@" 2>"$o/harness.err" </dev/null
    echo $? >"$o/rc.tmp"; mv "$o/rc.tmp" "$o/rc" ) &
}
# bx_wait RUN: wait for it; sets $VM_RC and prints "time RUN N.N s".
bx_wait() { vm_wait "$1"; }

