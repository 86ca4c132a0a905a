#!/usr/bin/env bash
# `kvmprobe compat` against the recorded migration oracle, no guest booted: runs
# tests/vm/compat.test.sh on tests/data/migration (real KVM's answers, recorded by
# tests/vm/record-migration.sh), so every build compares compat's dst_listed/dst_accepts and
# exit code with what KVM did, MSR by MSR. Exit 77 (skip, it says why) while kvmprobe has
# no compat command; the recordings' own consistency checks still run then.
# Usage: bash tests/cli/migration_recorded.test.sh /path/to/kvmprobe
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${KVMPROBE_SOURCE_DIR:-$here/../..}
[ -n "${1:-}" ] || { echo "usage: bash ${0##*/} /path/to/kvmprobe" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
rc=0
KVMPROBE_MIGRATION_DIR=$src/tests/data/migration KVMPROBE_VM_OUT=$out VM_TEST_NAME=compat-recorded \
  bash "$src/tests/vm/compat.test.sh" "$1" || rc=$?
exit "$rc"
