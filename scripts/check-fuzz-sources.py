#!/usr/bin/env python3
"""Checks that fuzz/CMakeLists.txt's hand-kept KVMPROBE_FUZZ_CORE_SOURCES holds every core
file the fuzz targets need: starting from fuzz/*.cc and the listed sources, every
`#include "core/X.h"` whose core/X.cc exists must be listed (followed transitively).
The fuzz build (clang, sanitizers) is not part of the everyday build, so a core file moved or
split by a change would otherwise break only the fuzz link, found late in .ci/run.
It approximates the linker: a header whose functions are all inline needs no .cc, and such
headers have none. Usage: scripts/check-fuzz-sources.py [REPO]; exit 1 naming what is missing.
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
cmake = (root / "fuzz/CMakeLists.txt").read_text()
m = re.search(r"set\(KVMPROBE_FUZZ_CORE_SOURCES\s+(.*?)\)", cmake, re.S)
if not m:
    sys.exit("check-fuzz-sources: KVMPROBE_FUZZ_CORE_SOURCES not found in fuzz/CMakeLists.txt")
listed = {"core/" + s for s in m.group(1).split()}
missing_listed = sorted(s for s in listed if not (root / s).is_file())
include_re = re.compile(r'^\s*#\s*include\s+"(core/[^"]+\.h)"', re.M)

seen, todo, needed = set(), [], {}
for f in sorted((root / "fuzz").glob("*.cc")):
    todo.append((f.relative_to(root).as_posix(), "fuzz target"))
for s in sorted(listed):
    todo.append((s, "listed"))
while todo:
    path, why = todo.pop()
    if path in seen or not (root / path).is_file():
        continue
    seen.add(path)
    for inc in include_re.findall((root / path).read_text()):
        todo.append((inc, path))
        cc = inc[:-2] + ".cc"
        if (root / cc).is_file():
            needed.setdefault(cc, path)
            todo.append((cc, inc))

missing = sorted(cc for cc in needed if cc not in listed)
for cc in missing:
    print(f"check-fuzz-sources: {cc} is needed (through {needed[cc]}) but not in "
          "KVMPROBE_FUZZ_CORE_SOURCES (fuzz/CMakeLists.txt)")
for s in missing_listed:
    print(f"check-fuzz-sources: {s} is listed in KVMPROBE_FUZZ_CORE_SOURCES but does not exist")
if missing or missing_listed:
    sys.exit(1)
print(f"check-fuzz-sources: {len(listed)} listed core sources cover what "
      f"{len(list((root / 'fuzz').glob('*.cc')))} fuzz sources include")
