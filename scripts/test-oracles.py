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
values written in the test (error paths, parsing, formatting, fakes). A block also counts when it
reaches an oracle through a helper: a function, fixture or constant defined outside the TEST
blocks of its file or in tests/support/ whose own text names an oracle (followed transitively:
a helper that calls such a helper counts too), or, for TEST_F/TEST_P, its fixture. Names are
matched as whole words, so it remains a syntactic count, not a proof that the helper's oracle
branch runs.
Usage: scripts/test-oracles.py [--list | --helpers]   (run from the repository root)
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


FUNC_RE = re.compile(r"^(?!namespace\b)[\w:<>,*& ]*?\b(\w+)\s*\([^;{}]*\)\s*(?:const\s*)?(?:->[^{;]*)?\{", re.M)
CONST_RE = re.compile(r"^(?:static\s+|inline\s+|const\s+|constexpr\s+)+[\w:<>, ]+?\s(\w+)(?:\[\])?\s*=\s*\{", re.M)
CLASS_RE = re.compile(r"^(?:class|struct)\s+(\w+)[^;{]*\{", re.M)


def definitions(text):
    """(name, body) of the top-level functions, classes and braced constants in `text`."""
    found = []
    for rx in (CLASS_RE, FUNC_RE, CONST_RE):
        for m in rx.finditer(text):
            name = m.group(1)
            if name in ("if", "for", "while", "switch", "catch", "TEST", "TEST_F", "TEST_P"):
                continue
            depth, i = 0, m.end() - 1
            while i < len(text):
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                if depth == 0:
                    break
                i += 1
            body = text[m.start():i + 1]
            if not TEST_RE.search(body):  # not a block that holds tests (a namespace, a macro)
                found.append((name, body))
    return found


def helper_kinds(defs):
    """Which oracle kinds each helper reaches, directly or through other helpers."""
    kinds = {name: {k for k, rx in KINDS.items() if rx.search(body)} for name, body in defs}
    bodies = dict(defs)
    changed = True
    while changed:
        changed = False
        for name, body in bodies.items():
            for other, ks in kinds.items():
                if other != name and ks and not ks <= kinds[name] and re.search(rf"\b{re.escape(other)}\b", body):
                    kinds[name] |= ks
                    changed = True
    return {n: ks for n, ks in kinds.items() if ks}


def block_kinds(name, body, helpers):
    ks = {k for k, rx in KINDS.items() if rx.search(body)}
    fixture = name.split(".")[0]
    for h, hk in helpers.items():
        if h == fixture or re.search(rf"\b{re.escape(h)}\b", body):
            ks |= hk
    return [k for k in KINDS if k in ks]


def main():
    per_dir = collections.defaultdict(collections.Counter)
    listing = []
    support = []
    for f in sorted(pathlib.Path("tests/support").glob("*.[hc]*")):
        support += definitions(f.read_text())
    for f in sorted(pathlib.Path("tests/core").rglob("*_test.cc")):
        d = f.parent.name
        text = f.read_text()
        test_spans = [(m.start(), m.start() + len(b)) for m, (_, b) in zip(TEST_RE.finditer(text), blocks(text))]
        # helpers: definitions outside the TEST blocks of this file, plus tests/support
        own = [(n, b) for n, b in definitions(text) if not any(a <= text.find(b) < z for a, z in test_spans)]
        helpers = helper_kinds(support + own)
        if "--helpers" in sys.argv:
            for h, hk in sorted(helpers.items()):
                print(f"{f}: helper {h}: {', '.join(sorted(hk))}")
        for name, body in blocks(text):
            kinds = block_kinds(name, body, helpers)
            per_dir[d]["tests"] += 1
            for k in kinds:
                per_dir[d][k] += 1
            per_dir[d]["any"] += bool(kinds)
            listing.append(f"{f}: {name}: {', '.join(kinds) or '-'}")
    if "--helpers" in sys.argv:
        return
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
