#!/usr/bin/env bash
# Runs the VM test suite: smoke.sh, then every tests/vm/*.test.sh (or the files named on the
# command line), each to completion; adds up their closing "N passed, N failed[, N skipped]"
# lines and prints the total as the last line. Exit 0 only if every file passed and exited 0
# (or 77: it skipped, e.g. compat.test.sh when kvmprobe has no compat command).
# A file that exits non-zero without a closing line counts as one failure.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [ $# -gt 0 ]; then files=("$@"); else
  files=("$VM_DIR/smoke.sh")
  for f in "$VM_DIR"/*.test.sh; do [ -e "$f" ] && files+=("$f"); done
fi

bash "$VM_DIR/fetch-kernels.sh" || { echo "0 passed, 1 failed"; exit 1; }
P=0 F=0 S=0 bad=0 t0=$SECONDS
for f in "${files[@]}"; do
  echo "=== ${f#"$REPO_ROOT"/}"
  log=$(mktemp)
  t1=$SECONDS
  rc=0
  bash "$f" 2>&1 | tee "$log" || rc=${PIPESTATUS[0]}
  line=$(grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log" | tail -n1 || true)
  rm -f "$log"
  if [ -n "$line" ]; then
    line=${line#*: }
    p=${line%% passed*}; rest=${line#*passed, }; fl=${rest%% failed*}
    s=0; [[ $line != *skipped* ]] || { s=${line##*failed, }; s=${s%% skipped}; }
    P=$((P + p)) F=$((F + fl)) S=$((S + s))
  elif [ "$rc" -ne 0 ]; then
    F=$((F + 1))
  fi
  [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || bad=1   # 77: skipped, the file said why
  echo "=== ${f##*/}: exit $rc, $((SECONDS - t1)) s"
done
echo "vm suite: $((SECONDS - t0)) s"
total="$P passed, $F failed"
[ "$S" -eq 0 ] || total+=", $S skipped"
echo "$total"
[ "$F" -eq 0 ] && [ "$bad" -eq 0 ]
