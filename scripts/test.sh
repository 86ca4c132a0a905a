#!/usr/bin/env bash
# Builds kvmprobe and runs every test: unit tests, CLI tests, and the QEMU guests booting
# Debian's kernels: 5.10, 6.1, 6.12 and sid's newest (tests/vm, msr-driver/tests). Usage: scripts/test.sh [ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DKVMPROBE_TESTS=ON >/dev/null
cmake --build build -j"$(nproc)"
tests/vm/fetch-kernels.sh --quiet
ctest --test-dir build --output-on-failure "$@"
