#!/usr/bin/env bash
# End to end: `kvmprobe cpuid` (predicted KVM_GET_SUPPORTED_CPUID) against real KVM in QEMU
# guests. For each kernel (6.1, 6.12; sid on EPYC) and -cpu model, one guest: before any kvm module is
# loaded, `kvmprobe cpuid --json` and `kvmprobe snapshot`; then modprobe kvm_amd and
# cpuid_oracle (tests/vm/oracle/cpuid_oracle.c: KVM_GET_SUPPORTED_CPUID, every entry).
# The host then asserts, register by register, that every modelled register (the list below,
# written from the model's scope, not read from kvmprobe) equals KVM's answer, that the same
# leaves are present, and that `kvmprobe cpuid --from` the guest's snapshot gives the same
# prediction here. Skylake-Server-v4 (Intel, no VMX under TCG): kvm_amd and kvm_intel do not
# load, so there is no KVM answer; kvmprobe must say so (exit 10) and the comparison is skipped.
#
# Usage: bash tests/vm/cpuid.test.sh [/path/to/kvmprobe]    (static binary; default build/cli)
# Env:   KVMPROBE_VM_JOBS=N   guests at once (default: nproc, at most 4)
#        KVMPROBE_VM_REUSE=1  boot nothing: re-check the last run's guest output
#        KVMPROBE_CPUID_RECORD=DIR  copy each guest's snapshot and KVM's answer to DIR
#                             (how tests/data/cpuid/ was made)
set -euo pipefail
VM_TEST_NAME=cpuid
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t0=$(date +%s%N)

vm_take_kvmprobe "${1:-}"

if "$KP" cpuid --help >/dev/null 2>&1; then pass "kvmprobe cpuid exists"
else fail "kvmprobe cpuid exists" "'kvmprobe cpuid --help' failed: nothing below can match"; fi

# The guest program: static, built here (not in the shared VM cache).
ORACLE=$VM_OUT_ROOT/cpuid_oracle
mkdir -p "$VM_OUT_ROOT"
if [ -z "${KVMPROBE_VM_REUSE:-}" ]; then
  "${CC:-cc}" -static -O2 -Wall -Wextra -Werror -o "$ORACLE" "$VM_DIR/oracle/cpuid_oracle.c" ||
    { fail "cpuid_oracle builds" "cc -static failed"; vm_summary; exit 1; }
fi

# RUN KERNEL CPU LOADS. EPYC,-rdtscp: RDTSCP (0x80000001:EDX[27]) must vanish.
MATRIX=(
  "epyc-61          6.1  EPYC              yes"
  "qemu64svm-61     6.1  qemu64,+svm       yes"
  "epycnordtscp-61  6.1  EPYC,-rdtscp      yes"
  "skylake-61       6.1  Skylake-Server-v4 no"
  "epyc-612         6.12 EPYC              yes"
  "qemu64svm-612    6.12 qemu64,+svm       yes"
  "epycnordtscp-612 6.12 EPYC,-rdtscp      yes"
  "skylake-612      6.12 Skylake-Server-v4 no"
  "epyc-sid         sid  EPYC              yes"
)

guest_script=$VM_OUT_ROOT/guest-script.sh
{ vm_guest_sec; cat <<'EOF'
for m in kvm kvm_amd kvm_intel; do
  [ ! -d /sys/module/$m ] || echo "@@PRELOADED $m"
done
modprobe msr
sec cpuid kvmprobe cpuid --json=short
sec snapshot kvmprobe snapshot -o /tmp/pre.json
sec snap cat /tmp/pre.json
modprobe kvm_amd 2>/dev/null
if [ -d /sys/module/kvm_amd ]; then echo "@@LOADED kvm_amd yes"; else
  echo "@@LOADED kvm_amd no"
  modprobe kvm_intel 2>/dev/null
  if [ -d /sys/module/kvm_intel ]; then echo "@@LOADED kvm_intel yes"; else echo "@@LOADED kvm_intel no"; fi
fi
[ ! -e /dev/kvm ] || sec oracle cpuid_oracle
exit 0
EOF
} >"$guest_script"

jobs_max=${KVMPROBE_VM_JOBS:-$(nproc)}
[ "$jobs_max" -le 4 ] || jobs_max=4
MATRIX_RUN=("${MATRIX[@]}")
[ -z "${KVMPROBE_VM_REUSE:-}" ] || { MATRIX_RUN=(); echo "KVMPROBE_VM_REUSE: no guests booted, reusing $VM_OUT_ROOT"; }
running=()
for row in "${MATRIX_RUN[@]}"; do
  read -r run kern cpu _ <<<"$row"
  if [ "${#running[@]}" -ge "$jobs_max" ]; then vm_wait "${running[0]}"; running=("${running[@]:1}"); fi
  vm_start "$run" --kernel "$kern" --cpu "$cpu" --file "$KP:/bin/kvmprobe" \
    --file "$ORACLE:/bin/cpuid_oracle" --script "$guest_script" --timeout 150
  running+=("$run")
done
for run in "${running[@]}"; do vm_wait "$run"; done

# The modelled registers, "LEAF SUBLEAF REG" (0x14 is compared whole when present).
MODELLED="0x1 0x0 ecx|0x1 0x0 edx|0x7 0x0 eax|0x7 0x0 ebx|0x7 0x0 ecx|0x7 0x0 edx|0x7 0x1 eax|\
0xd 0x0 eax|0xd 0x0 edx|0xd 0x1 eax|0xd 0x1 ecx|0x14 * *|0x80000001 0x0 ecx|0x80000001 0x0 edx|\
0x80000008 0x0 ebx|0x80000021 0x0 eax"

# compare PREDICTED_JSON ORACLE_TXT: one line per modelled register of a modelled leaf that
# either side has: "same LEAF.SUB REG VALUE" or "diff LEAF.SUB REG predicted P kvm K".
compare() {
  perl -MJSON::PP -e '
    my ($jf, $of, $spec) = @ARGV; local $/;
    open(my $fh, "<", $jf) or die "no $jf"; my $j = JSON::PP->new->decode(<$fh>);
    open($fh, "<", $of) or die "no $of"; my @lines = split /\n/, <$fh>;
    my @want = map { [split / /] } split /\|/, $spec;
    my %regs = (eax => 3, ebx => 4, ecx => 5, edx => 6);  # "supported_cpuid LEAF SUB EAX..."
    sub modelled { my ($l, $s, $r) = @_;
      for my $w (@want) { return 1 if hex($w->[0]) == $l && ($w->[1] eq "*" || hex($w->[1]) == $s)
                                       && ($w->[2] eq "*" || $w->[2] eq $r) } 0 }
    my (%p, %k);
    for my $e (@{$j->{leaves}}) {
      my ($l, $s) = (hex($e->{leaf}), $e->{subleaf});
      for my $r (keys %regs) { $p{"$l $s $r"} = hex($e->{$r}) if exists $e->{$r} && modelled($l, $s, $r) }
    }
    for (@lines) {
      next unless /^supported_cpuid 0x/; my @f = split / /;
      my ($l, $s) = (hex($f[1]), hex($f[2]));
      for my $r (keys %regs) { $k{"$l $s $r"} = hex($f[$regs{$r}]) if modelled($l, $s, $r) }
    }
    my %all = (%p, %k);
    for my $key (sort { my @a = split / /, $a; my @b = split / /, $b;
                        $a[0] <=> $b[0] || $a[1] <=> $b[1] || $a[2] cmp $b[2] } keys %all) {
      my ($l, $s, $r) = split / /, $key;
      my $name = sprintf("0x%x.%d %s", $l, $s, $r);
      my $pv = exists $p{$key} ? sprintf("0x%08x", $p{$key}) : "absent";
      my $kv = exists $k{$key} ? sprintf("0x%08x", $k{$key}) : "absent";
      print $pv eq $kv ? "same $name $pv\n" : "diff $name predicted $pv kvm $kv\n";
    }' "$1" "$2" "$MODELLED"
}

for row in "${MATRIX[@]}"; do
  read -r run kern cpu loads <<<"$row"
  o=$(vm_out "$run")
  c="$kern $cpu:"
  echo "--- $run ($kern, -cpu $cpu)"
  rc=$(vm_rc "$run")
  if [ "$rc" != 0 ]; then
    fail "$c guest script ran (exit 0)" "exit $rc$(sed -n '1s/^/: /p' "$o/harness.err" 2>/dev/null)" "$o/console.log"
    continue
  fi
  pass "$c guest script ran"
  if grep -q '^@@PRELOADED' "$o/out.log"; then
    fail "$c no kvm module loaded before kvmprobe ran" "$(grep '^@@PRELOADED' "$o/out.log" | tr '\n' ' ')"
  fi
  for s in cpuid snap oracle; do vm_section "$run" "$s" >"$o/$s.txt"; done
  vm_section "$run" cpuid.err >"$o/cpuid.err"
  if [ "$loads" = no ]; then
    assert_contains "$c kvm_amd does not load" "$o/out.log" "@@LOADED kvm_amd no"
    assert_contains "$c kvm_intel does not load" "$o/out.log" "@@LOADED kvm_intel no"
    # No module loads, so there is no KVM_GET_SUPPORTED_CPUID: kvmprobe must refuse to
    # predict one (10 no VMX/SVM, 11 firmware, 12 refused), not invent an answer.
    assert_match "$c kvmprobe cpuid exits 10, 11 or 12 (vendor module would not load)" \
      <(echo "rc=$(vm_section_rc "$run" cpuid)") '^rc=1[012]$'
    assert_eq "$c kvmprobe cpuid --json is an error document" "$(json_get "$o/cpuid.txt" schema)" "kvmprobe.error/1"
    # Not a skip: under TCG no KVM answer can ever exist for an Intel model (kvm_amd refuses an
    # Intel CPU, TCG has no working VMX); what can be checked, the refusal, is asserted above.
    echo "n/a  $c KVM_GET_SUPPORTED_CPUID comparison: neither kvm_amd (Intel CPU) nor kvm_intel (TCG has no working VMX) loads"
    continue
  fi
  assert_contains "$c kvm_amd loaded" "$o/out.log" "@@LOADED kvm_amd yes"
  assert_eq "$c kvmprobe cpuid exits 0" "$(vm_section_rc "$run" cpuid)" 0
  assert_eq "$c cpuid_oracle exits 0" "$(vm_section_rc "$run" oracle)" 0
  [ ! -s "$o/cpuid.err" ] || echo "     kvmprobe cpuid stderr: $(head -n3 "$o/cpuid.err" | tr '\n' ' ')"
  if ! json_get "$o/cpuid.txt" schema >/dev/null; then
    fail "$c kvmprobe cpuid --json is JSON" "$(head -c 200 "$o/cpuid.txt")"; continue
  fi
  assert_eq "$c schema" "$(json_get "$o/cpuid.txt" schema)" "kvmprobe.cpuid/1"
  if [ -n "${KVMPROBE_CPUID_RECORD:-}" ]; then
    mkdir -p "$KVMPROBE_CPUID_RECORD"
    cp "$o/snap.txt" "$KVMPROBE_CPUID_RECORD/$run.snapshot.json"
    cp "$o/oracle.txt" "$KVMPROBE_CPUID_RECORD/$run.kvm.txt"
  fi
  compare "$o/cpuid.txt" "$o/oracle.txt" >"$o/compare.txt"
  n=$(grep -c . "$o/compare.txt" || true)
  ndiff=$(grep -c '^diff' "$o/compare.txt" || true)
  if [ "$n" -ge 10 ] && [ "$ndiff" = 0 ]; then
    pass "$c every modelled register before loading = KVM_GET_SUPPORTED_CPUID after ($n registers)"
  else
    fail "$c every modelled register before loading = KVM_GET_SUPPORTED_CPUID after" \
      "$ndiff of $n registers differ"
    grep '^diff' "$o/compare.txt" | sed 's/^/     | /'
  fi
  # The guest's snapshot, predicted here, must give the in-guest prediction.
  if json_get "$o/snap.txt" schema >/dev/null; then
    cp "$o/snap.txt" "$o/pre.json"
    hrc=0
    "$KP" cpuid --json=short --from "$o/pre.json" >"$o/host-cpuid.txt" 2>/dev/null || hrc=$?
    assert_eq "$c host kvmprobe cpuid --from guest snapshot exits 0" "$hrc" 0
    assert_eq "$c host prediction from the snapshot = in-guest prediction" \
      "$(json_get "$o/host-cpuid.txt" leaves)" "$(json_get "$o/cpuid.txt" leaves)"
  else
    fail "$c guest snapshot is JSON" "$(head -c 200 "$o/snap.txt")"
  fi
done

# The cases differ where the model says they must (a model that ignored the host or the
# version could not pass all of them).
p() { json_get "$(vm_out "$1")/cpuid.txt" "$2" 2>/dev/null || true; }
if [ -s "$(vm_out epycnordtscp-61)/cpuid.txt" ]; then
  assert_ne "EPYC vs EPYC,-rdtscp on 6.1: predictions differ" "$(p epyc-61 leaves)" "$(p epycnordtscp-61 leaves)"
fi

ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "cpuid.test.sh wall time: $((ms / 1000)).$((ms % 1000 / 100)) s (${#MATRIX[@]} guests, $jobs_max at once)"
vm_summary
