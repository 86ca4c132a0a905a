#!/usr/bin/env python3
"""Validate every --json document kvmprobe writes, and the snapshot files, against the JSON
Schemas in docs/schema/ (draft 2020-12, python3-jsonschema).

Usage: validate.py /path/to/kvmprobe [SOURCE_DIR]

Runs every command on the recorded hosts (tests/data/*), on pairs and a directory of them
(compat, fleet), and on the live host (whatever it answers there: a verdict, "cannot tell",
or an error document), and validates each document against the schema its "schema" key
names. Then, per schema, a negative case: a validated document with one required key
removed, and one with a required key's value of the wrong type, must both be rejected.
Exit 0 when everything holds, 1 otherwise, 77 when python3-jsonschema is missing (1 under
CI=true).
"""
import copy
import glob
import json
import os
import subprocess
import sys
import tempfile

try:
    import jsonschema
except ImportError:
    if os.environ.get("CI") == "true":
        print("FAILED  python3-jsonschema is not installed (scripts/install-deps.sh installs it)")
        sys.exit(1)
    print("SKIP: python3-jsonschema is not installed (apt-get install python3-jsonschema)")
    sys.exit(77)

KVMPROBE = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", ".."))
SCHEMAS = os.path.join(SRC, "docs", "schema")
DATA = os.path.join(SRC, "tests", "data")

PROFILE = {
    "schema": "kvmprobe.provision-profile/1",
    "desired": {"vmx": {"enabled": True, "locked": True}, "svm": {"enabled": True}},
    "expect": {"vendor_module_loads": True, "host_xcr0_includes": ["x87", "sse"]},
}


def snapshots():
    """Recorded hosts: every snapshot the repository holds."""
    files = sorted(glob.glob(os.path.join(DATA, "snapshots", "*.json")))
    for d in ("bochs", "cpuid", "migration"):
        files += sorted(glob.glob(os.path.join(DATA, d, "*.snapshot.json")))
    return files


def cases(tmp):
    """(argv, stdin) of every command to validate."""
    profile = os.path.join(tmp, "profile.json")
    json.dump(PROFILE, open(profile, "w"))
    journal = os.path.join(tmp, "only-end.jsonl")
    with open(journal, "w") as f:
        f.write('{"schema":"kvmprobe.journal/1","run":"x","event":"end","outcome":"applied"}\n')
    os.chmod(journal, 0o600)
    snaps = snapshots()
    for s in snaps:
        for cmd in (["check"], ["xcr0"], ["tsc"], ["tsc", "--guest-khz", "2000000"], ["vmx-caps"], ["msrs"],
                    ["msrs", "--save-list"], ["msrs", "--feature-list"], ["msrs", "--compare-kvm"], ["cpuid"],
                    ["snapshot"], ["enable-vmx", "--dry-run"], ["check", "--diff-kernel", "6.12"]):
            yield ["--from", s] + cmd
        yield ["--from", s, "--kernel", "6.1", "provision", "--profile", profile, "--dry-run"]
    mig = os.path.join(DATA, "migration")
    for pair in open(os.path.join(mig, "pairs.txt")):
        a, b = pair.split()
        yield ["compat", os.path.join(mig, a + ".snapshot.json"), os.path.join(mig, b + ".snapshot.json")]
    yield ["compat", "--both", os.path.join(mig, "6.1-epyc.snapshot.json"), os.path.join(mig, "6.12-epyc.snapshot.json")]
    yield ["fleet", os.path.join(DATA, "snapshots")]
    yield ["fleet", "--baseline", mig]
    yield ["profiles"]
    yield ["restore", "--journal", journal]
    yield ["--from", os.path.join(tmp, "missing.json"), "check"]  # kvmprobe.error/1
    # The live host: whatever it can tell (no root, no /dev/kvm: unknowns and error documents).
    for cmd in (["check"], ["snapshot"], ["xcr0"], ["tsc"], ["vmx-caps"], ["msrs"], ["cpuid"], ["driver", "status"]):
        yield cmd
    # driver load of a file that is no module: the kernel refuses it (or, not root, kvmprobe).
    fake = os.path.join(tmp, "fake.ko")
    with open(fake, "w") as f:
        f.write("not a module")
    yield ["driver", "load", "--ko", fake]
    if not os.path.exists("/sys/module/kvmprobe"):  # never unload a driver someone loaded
        yield ["driver", "unload"]


def run(argv):
    p = subprocess.run([KVMPROBE, "--json=short"] + argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def schema_file(name):
    kind, _, version = name.partition("/")
    return os.path.join(SCHEMAS, "%s-%s.json" % (kind, version))


def load_validators():
    out = {}
    for path in sorted(glob.glob(os.path.join(SCHEMAS, "kvmprobe.*.json"))):
        schema = json.load(open(path))
        jsonschema.Draft202012Validator.check_schema(schema)
        out[os.path.basename(path)] = jsonschema.Draft202012Validator(schema)
    return out


def wrong_type(value):
    """A value of another JSON type than `value`."""
    if isinstance(value, bool) or value is None:
        return "not-a-boolean"
    if isinstance(value, (int, float)):
        return "not-a-number"
    if isinstance(value, str):
        return 12345
    if isinstance(value, list):
        return {"not": "an array"}
    return ["not", "an", "object"]


def main():
    validators = load_validators()
    failures, passed = [], 0
    seen = {}  # schema file -> one valid document
    with tempfile.TemporaryDirectory() as tmp:
        docs = []
        for argv in cases(tmp):
            rc, out = run(argv)
            try:
                doc = json.loads(out)
            except ValueError as e:
                failures.append("kvmprobe %s (exit %d): stdout is not one JSON document: %s" % (" ".join(argv), rc, e))
                continue
            docs.append((" ".join(argv), doc))
        for path in snapshots():
            docs.append((os.path.relpath(path, SRC), json.load(open(path))))
        # Input files: the provision profile above, the journal line above and the example
        # journal of docs/provision-profile.md.
        docs.append(("the provision profile", PROFILE))
        for line in open(os.path.join(tmp, "only-end.jsonl")):
            docs.append(("a journal line", json.loads(line)))
        for line in open(os.path.join(SRC, "docs", "provision-profile.md")):
            if line.startswith('{"schema":"kvmprobe.journal/1"'):
                docs.append(("docs/provision-profile.md's journal", json.loads(line)))
    for what, doc in docs:
        name = doc.get("schema") if isinstance(doc, dict) else None
        f = os.path.basename(schema_file(name)) if isinstance(name, str) else None
        if f not in validators:
            failures.append("%s: no schema in docs/schema for %r" % (what, name))
            continue
        errors = sorted(validators[f].iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            failures.append("%s: %s: %s at /%s" % (what, f, errors[0].message[:200], "/".join(map(str, errors[0].path))))
        else:
            passed += 1
            seen.setdefault(f, doc)
    for f in sorted(validators):
        if f not in seen:
            failures.append("%s: no document of this kind was produced to validate" % f)
            continue
        v, doc = validators[f], seen[f]
        required = [k for k in v.schema.get("required", []) if k != "schema"]
        for d in v.schema.get("$defs", {}).values():  # compat: one document per direction
            if not required and "verdict" in d.get("required", []):
                required = ["verdict"]
        if not required:
            failures.append("%s: requires no key besides schema: not strict" % f)
            continue
        key = required[0]
        missing = copy.deepcopy(doc)
        del missing[key]
        typed = copy.deepcopy(doc)
        typed[key] = wrong_type(doc[key])
        for desc, bad in (("without %r" % key, missing), ("with %r of the wrong type" % key, typed)):
            if v.is_valid(bad):
                failures.append("%s: accepts a document %s" % (f, desc))
            else:
                passed += 1
    for msg in failures:
        print("FAILED  " + msg)
    print("%d schemas, %d documents validated, %d passed, %d failed" % (len(validators), len(docs), passed, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
