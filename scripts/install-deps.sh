#!/usr/bin/env bash
# Installs everything kvmprobe needs to build and to run its whole test suite on Debian 12.
# Usage: scripts/install-deps.sh [--build-only]
set -euo pipefail
build=(build-essential cmake pkg-config libcli11-dev libfmt-dev libcpuid-dev
       nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev ccache)
vm=(qemu-system-x86 busybox-static kmod cpio xz-utils zstd strace cpu-checker)
# msr-driver/tests/run.sh: the module built through its dkms.conf; tests/vm/lib.sh vm_kbuild:
# a chroot of sid (made by debootstrap) builds modules for sid's kernel, which Debian 12 cannot
vm+=(dkms debootstrap)
# tests/bochs: Bochs (VMX/SVM emulation), its BIOS, the CD tools (isolinux, GRUB)
vm+=(bochs bochsbios vgabios isolinux syslinux-common xorriso grub-pc-bin)
# tests/core/compat/guest_cpu_test.cc: libvirt's CPU feature names (/usr/share/libvirt/cpu_map)
vm+=(libvirt0)
# The libFuzzer targets (fuzz/, ctest label fuzz) and the run-lock test (flock(1)).
fuzz=(clang-14 libclang-rt-14-dev util-linux)
# tests/cli/prometheus.test.sh: promtool (Debian ships it in prometheus, 19 MB); completion.test.sh: zsh, fish (1 MB each); schema.test.sh: python3-jsonschema
ops=(prometheus zsh fish python3-jsonschema)
# ImportDump.CpuidToolSaveOutputOfThisHostImports: libcpuid's own cpuid_tool; cli/man.test.sh: groff
ops+=(cpuidtool groff-base)
pkgs=("${build[@]}")
[ "${1:-}" = "--build-only" ] || pkgs+=("${vm[@]}" "${fuzz[@]}" "${ops[@]}")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
