# sec NAME CMD...: run CMD in the guest, print its stdout and stderr between markers, then its
# exit status. The host reads them back with vm_section / vm_section_rc (tests/vm/lib.sh).
# (awk 1 ends the last line with a newline, so the markers always stand on their own lines.)
sec() {
  n=$1; shift
  "$@" >/tmp/s.out 2>/tmp/s.err; r=$?
  echo "@@BEGIN $n"; awk 1 /tmp/s.out; echo "@@END $n"
  echo "@@BEGIN $n.err"; awk 1 /tmp/s.err; echo "@@END $n.err"
  echo "@@RC $n $r"
}
