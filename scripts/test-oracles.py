#!/usr/bin/env python3
"""Count the unit tests (tests/core/**/*_test.cc) that compare with an independent oracle.

A TEST/TEST_F/TEST_P block (with the comment right above it) counts for an oracle when it
names one:
  recorded-kvm   what real KVM answered or logged in a guest: tests/data/bochs, tests/data/cpuid,
                 tests/data/migration, the qemu-*-kvm.json snapshots, tests/vm recordings
  shared-data    real hardware data beside the project (../shared/data: libcpuid's own results,
                 InstLatx64 MSR_VALUES.tsv / INDEX.tsv, Firecracker fingerprints)
  kernel-source  a kernel function cited as "file.c: function() (6.1)" (read at /work/ksrc)
A block may count for several; "any" counts each block once. The rest test behaviour against
values written in the test (error paths, parsing, formatting, fakes). It is a lower bound: a
block that reaches an oracle only through a helper defined elsewhere in its file is not seen.
Usage: scripts/test-oracles.py [--list]   (run from the repository root)
"""
import collections
import pathlib
import re
import sys

KINDS = {
    "recorded-kvm": re.compile(r"tests/data/(bochs|cpuid|migration)|\bbochs/|-kvm\.json|bochs_kvm_answers|"
                               r"kvm\.txt|recordings\(\)|\.result\.txt|\.state\.txt|Recording\b|recorded_guest"),
    "shared-data": re.compile(r"shared_data_dir|SharedData|KVMPROBE_SHARED_DATA|MSR_VALUES|INDEX\.tsv|"
                              r"LIBCPUID_0\.6\.2_RESULTS|firecracker-fingerprints"),
    "kernel-source": re.compile(r"\w+\.[ch]: \w+\(\)[^\n]*\(\d+\.\d+\)|\w+\.[ch]: \w+\(\) \(\d+\.\d+\)|"
                                r"arch/x86/\S+\.[ch]: \w+\(\)"),
}
TEST_RE = re.compile(r"^(TEST|TEST_F|TEST_P)\((\w+),\s*(\w+)\)", re.M)


def comment_start(text, pos):
    """Where the comment lines right above `pos` begin."""
    lines = text[:pos].split("\n")
    lines.pop()  # the part of the TEST line before pos (empty)
    while lines and lines[-1].startswith("//"):
        lines.pop()
    return len("\n".join(lines)) + (1 if lines else 0)


def blocks(text):
    starts = [m for m in TEST_RE.finditer(text)]
    for i, m in enumerate(starts):
        end = comment_start(text, starts[i + 1].start()) if i + 1 < len(starts) else len(text)
        yield f"{m.group(2)}.{m.group(3)}", text[comment_start(text, m.start()):end]


def main():
    per_dir = collections.defaultdict(collections.Counter)
    listing = []
    for f in sorted(pathlib.Path("tests/core").rglob("*_test.cc")):
        d = f.parent.name
        for name, body in blocks(f.read_text()):
            kinds = [k for k, rx in KINDS.items() if rx.search(body)]
            per_dir[d]["tests"] += 1
            for k in kinds:
                per_dir[d][k] += 1
            per_dir[d]["any"] += bool(kinds)
            listing.append(f"{f}: {name}: {', '.join(kinds) or '-'}")
    if "--list" in sys.argv:
        print("\n".join(listing))
        return
    cols = ["tests", "any", "recorded-kvm", "shared-data", "kernel-source"]
    print("| tests/core/ | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    total = collections.Counter()
    for d in sorted(per_dir):
        total.update(per_dir[d])
        print(f"| {d} | " + " | ".join(str(per_dir[d][c]) for c in cols) + " |")
    print("| **all** | " + " | ".join(str(total[c]) for c in cols) + " |")


if __name__ == "__main__":
    main()
