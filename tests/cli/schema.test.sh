#!/usr/bin/env bash
# Every --json document and the snapshot files against docs/schema/*.json (draft 2020-12):
# tests/schema/validate.py does the work (python3-jsonschema; exit 77 without it, 1 under CI).
# Usage: bash tests/cli/schema.test.sh /path/to/kvmprobe
set -u
[[ -x ${1:-} ]] || { echo "usage: bash ${0##*/} /path/to/kvmprobe" >&2; exit 2; }
src=${KVMPROBE_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
exec python3 "$src/tests/schema/validate.py" "$1" "$src"
