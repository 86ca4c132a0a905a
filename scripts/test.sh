#!/usr/bin/env bash
# Builds kvmprobe and runs every test: unit tests, CLI tests, and the QEMU guests booting
# Debian's kernels: 5.10, 6.1, 6.12 and sid's newest (tests/vm, msr-driver/tests). Usage: scripts/test.sh [ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache when present: paths below the checkout are hashed relative to it (CCACHE_BASEDIR), so
# a fresh clone anywhere reuses what an earlier build of the same sources compiled.
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR=true
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B build -DKVMPROBE_TESTS=ON "${launcher[@]}" >/dev/null
cmake --build build -j"$(nproc)"
tests/vm/fetch-kernels.sh --quiet
# Unit and CLI tests run nproc at a time; the guest suites (labels vm, bochs) are RUN_SERIAL
# and boot nproc guests each themselves.
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
# The libFuzzer targets (fuzz/README.md): each runs its corpus plus a bounded number of new
# inputs (ctest label fuzz). Needs clang-14; KVMPROBE_NO_FUZZ=1 skips them.
if [ -z "${KVMPROBE_NO_FUZZ:-}" ] && command -v clang++-14 >/dev/null; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DKVMPROBE_FUZZ=ON -DKVMPROBE_TESTS=OFF "${launcher[@]}" >/dev/null
  cmake --build build-fuzz -j"$(nproc)" --target fuzz_targets
  ctest --test-dir build-fuzz -L fuzz --output-on-failure -j"$(nproc)"
fi
