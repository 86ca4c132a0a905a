#!/usr/bin/env bash
# End to end: `kvmprobe compat SRC DST` against a live migration oracle (issue 8). Boots the
# guest pairs of record-migration.sh (6.1 <-> 6.12 on EPYC, EPYC <-> qemu64,+svm on both,
# EPYC <-> EPYC,-rdtscp, TSC 2000000 <-> 2000400 / 2100000 kHz, and two self pairs): in each
# SRC guest a kvmprobe snapshot taken before kvm_amd loads and the state of a fresh vCPU
# (migrate_oracle save); in each DST guest that state set on a fresh vCPU, MSR by MSR
# (migrate_oracle restore). Then, per pair:
#   - the oracle's own sanity: complete files; on the same kernel and CPU model nothing SRC
#     lists is unlisted or rejected; the 6.1 -> 6.12 EPYC and TSC facts (see below);
#   - `kvmprobe compat SRC.json DST.json --json` (the snapshots): dst_listed and dst_accepts
#     of every MSR of SRC's index list equal the oracle's, and so does the exit code (22 when
#     DST rejects something or refuses the TSC rate, 21 when it only drops state, keeps a faster
#     source TSC by catch-up, or SRC's KVM supports a CPUID feature DST's does not, else 0).
#     The migration oracle does not record CPUID; that part of the expectation comes from real
#     KVM's KVM_GET_SUPPORTED_CPUID for the same kernel and QEMU -cpu (tests/data/cpuid, recorded
#     by tests/vm/cpuid.test.sh); a pair without such recordings skips the exit-code check.
# Without a compat command in kvmprobe, exactly those comparisons are skipped ("kvmprobe has
# no compat command") and the script exits 77 if nothing failed.
#
# Usage: bash tests/vm/compat.test.sh [/path/to/kvmprobe]    (static binary; default build/cli)
# Env:   KVMPROBE_VM_JOBS=N   guests at once (default: nproc, at most 4)
#        KVMPROBE_VM_REUSE=1  boot nothing: re-check the last run's recordings
#        KVMPROBE_MIGRATION_DIR=DIR  check these recordings instead (e.g. tests/data/migration)
# Prints "time RUN N s" per guest, the wall time and "N passed, N failed, N skipped".
set -euo pipefail
VM_TEST_NAME=${VM_TEST_NAME:-compat}
export LC_ALL=C   # sort and join below must agree on the order
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t0=$(date +%s%N)

vm_take_kvmprobe "${1:-}"

rec=${KVMPROBE_MIGRATION_DIR:-$VM_OUT_ROOT/rec}
if [ -n "${KVMPROBE_MIGRATION_DIR:-}" ] || [ -n "${KVMPROBE_VM_REUSE:-}" ]; then
  echo "no guests booted, checking the recordings in $rec"
else
  rrc=0
  VM_TEST_NAME=compat-guests bash "$VM_DIR/record-migration.sh" --out "$rec" --kvmprobe "$KP" || rrc=$?
  assert_eq "record-migration.sh recorded every guest and pair" "$rrc" 0
fi
[ -s "$rec/pairs.txt" ] || { fail "recordings present" "no $rec/pairs.txt"; vm_summary; exit 1; }

# (`kvmprobe compat --help` is no test: CLI11 prints the main help for an unknown command)
has_compat=0
"$KP" --help 2>/dev/null | grep -qE '^ +compat( |$)' && has_compat=1

# fact FILE KEY: the rest of the first "KEY ..." line
fact() { sed -n "s/^$2 //p;T;q" "$1"; }
# summary FILE FIELD: a field of the result's "summary" line
summary() { fact "$1" summary | tr ' ' '\n' | awk -v k="$2" 'p { print; exit } $0 == k { p = 1 }'; }
# oracle_msrs RESULT: "INDEX listed accepts" per MSR of SRC's list, listed true|false, accepts
# true|false|null (null: SRC could not read it, nothing was set)
oracle_msrs() {
  awk '$1 == "set_msr" { l = $4 == "listed" ? "true" : "false"
         a = $5 == "accepted" ? "true" : ($5 == "skipped" ? "null" : "false")
         if ($3 == "unknown") { l = $4 == "listed" ? "true" : "false"; a = "null" }
         print $2, l, a }' "$1" | sort
}
# compat_msrs JSON: the same three columns from kvmprobe compat --json
compat_msrs() {
  perl -MJSON::PP -e '
    local $/; my $j = JSON::PP->new->decode(<STDIN>);
    sub b { my $v = shift; return "null" unless defined $v; return $v ? "true" : "false" }
    for my $m (@{ $j->{msrs} || [] }) {
      printf "0x%x %s %s\n", hex($m->{index}), b($m->{dst_listed}), b($m->{dst_accepts});
    }' <"$1" | sort
}
# kernel/model of a guest from guests.txt: "KERNEL CPU APPEND"
gkey() { awk -v g="$1" '$1 == g { print $2, $4 }' "$rec/guests.txt"; }
# cpuid_run GUEST: the tests/data/cpuid recording of the guest's kernel and QEMU -cpu
# (epyc-61, qemu64svm-612, ...), "" when there is none
cpuid_dir=$VM_DIR/../data/cpuid
cpuid_run() {
  local k m run
  read -r k m < <(gkey "$1")
  case $m in EPYC) m=epyc ;; "qemu64,+svm") m=qemu64svm ;; "EPYC,-rdtscp") m=epycnordtscp ;; *) m="" ;; esac
  run=$m-${k//./}
  [ -n "$m" ] && [ -f "$cpuid_dir/$run.kvm.txt" ] && echo "$run"
  return 0
}
# cpuid_lost_bits SRC_RUN DST_RUN: bits of the feature registers (0x1 ECX/EDX, 0x7.0 EBX/ECX/EDX,
# 0x7.1 EAX, 0xD.1 EAX, 0x80000001 ECX/EDX, 0x80000008 EBX, 0x80000021 EAX) real KVM supports on
# SRC and not on DST, as "LEAF.SUB.REG=MASK" words
cpuid_lost_bits() {
  perl -e '
    my %want = map { $_ => 1 } qw(0x1.0x0.ecx 0x1.0x0.edx 0x7.0x0.ebx 0x7.0x0.ecx 0x7.0x0.edx 0x7.0x1.eax
      0xd.0x1.eax 0x80000001.0x0.ecx 0x80000001.0x0.edx 0x80000008.0x0.ebx 0x80000021.0x0.eax);
    my @v;
    for my $i (0, 1) {
      open(my $f, "<", $ARGV[$i]) or die "$ARGV[$i]: $!";
      while (<$f>) {
        my @w = split;
        next unless @w >= 7 && $w[0] eq "supported_cpuid";
        my @r = qw(eax ebx ecx edx);
        for my $n (0 .. 3) { my $k = "$w[1].$w[2].$r[$n]"; $v[$i]{$k} = hex($w[3 + $n]) if $want{$k} }
      }
    }
    for my $k (sort keys %{ $v[0] }) { my $m = $v[0]{$k} & ~($v[1]{$k} // 0) & 0xffffffff; printf "%s=0x%x ", $k, $m if $m }
  ' "$cpuid_dir/$1.kvm.txt" "$cpuid_dir/$2.kvm.txt"
}

while read -r s d; do
  p="$s--$d" r=$rec/$s--$d.result.txt st=$rec/$s.state.txt
  echo "--- $s -> $d"
  if [ ! -f "$r" ] || [ "$(tail -n1 "$r")" != end ] || [ ! -f "$st" ]; then
    fail "$p: oracle result complete" "missing or truncated $r"; continue
  fi
  pass "$p: oracle result complete"
  echo "     oracle: $(fact "$r" summary)"
  assert_eq "$p: oracle tried every MSR SRC lists" "$(summary "$r" src_listed)" "$(fact "$st" msr_index_count)"
  assert_eq "$p: SRC could read every MSR it lists (nothing skipped)" "$(summary "$r" skipped)" 0
  # KVM's lists are the same on every boot of a guest: DST's list in the restore boot equals
  # the one its own save boot recorded (two independent boots)
  if [ -f "$rec/$d.state.txt" ]; then
    assert_eq "$p: DST's index list equals its own save boot's" "$(fact "$r" dst_msr_index_list)" \
      "$(fact "$rec/$d.state.txt" msr_index_list)"
  fi

  if [ -z "$(gkey "$s")" ] || [ -z "$(gkey "$d")" ]; then
    fail "$p: both guests described in guests.txt" "$(wc -l <"$rec/guests.txt" 2>/dev/null || echo 0) lines"; continue
  fi
  same_model=0; [ "$(gkey "$s")" != "$(gkey "$d")" ] || same_model=1
  if [ $same_model = 1 ]; then
    # same kernel and CPU model (at most the TSC differs): a migration moves everything
    assert_eq "$p: same kernel and model: nothing SRC lists is unlisted on DST" "$(summary "$r" dst_unlisted)" 0
    assert_eq "$p: same kernel and model: nothing rejected" "$(summary "$r" rejected)" 0
    assert_eq "$p: same kernel and model: feature MSR values accepted" "$(summary "$r" feature_rejected)" 0
    assert_eq "$p: same kernel and model: XCR0 accepted" "$(summary "$r" xcr)" accepted
  fi
  # on any pair: what DST lists, it accepts (the values are a fresh vCPU's)
  assert_eq "$p: every MSR DST also lists is accepted" "$(summary "$r" listed_rejected)" 0

  case $p in
    6.1-epyc--6.12-epyc)
      # arch/x86/kvm/x86.c: kvm_init_msr_lists() (6.12) drops the Intel PMU MSRs
      # (0x38d-0x390, 0x309-0x30b, 0x3f1 ...) on AMD and the AMD counters without
      # kvm_pmu_cap.num_counters_gp (PMU virtualization is off under TCG)
      assert_eq "$p: 6.1 lists 97 MSRs" "$(summary "$r" src_listed)" 97
      assert_eq "$p: 30 of them are not listed by 6.12" "$(summary "$r" dst_unlisted)" 30
      assert_eq "$p: 22 are rejected outright" "$(summary "$r" rejected)" 22
      for i in 0xc0010000 0xc0010001 0xc0010002 0xc0010003 0xc0010004 0xc0010005 0xc0010006 0xc0010007; do
        assert_match "$p: $i unlisted but accepted" "$r" "^set_msr $i 0x[0-9a-f]+ unlisted accepted"
      done
      for i in 0xc0010200 0xc001020b 0x38d 0x309; do
        assert_match "$p: $i unlisted and rejected" "$r" "^set_msr $i 0x[0-9a-f]+ unlisted rejected"
      done
      ;;
    6.1-epyc--6.1-epyc-tsc2100000)
      # arch/x86/kvm/x86.c: set_tsc_khz() (6.1): no TSC scaling and a rate below the host's
      assert_match "$p: 2000000 kHz on a 2100000 kHz host is refused" "$r" "^set_tsc_khz 2000000 rejected EINVAL$"
      assert_contains "$p: KVM says why" "$rec/$p.dmesg.txt" "user requested TSC rate below hardware speed" ;;
    6.1-epyc-tsc2100000--6.1-epyc)
      # ... while a faster rate is accepted (the guest TSC catches up in software)
      assert_match "$p: 2100000 kHz on a 2000000 kHz host is accepted" "$r" "^set_tsc_khz 2100000 accepted" ;;
    *tsc2000400*)
      # arch/x86/kvm/x86.c: kvm_set_tsc_khz() (6.1): within tsc_tolerance_ppm (250), no scaling
      assert_match "$p: 200 ppm apart: TSC rate accepted" "$r" "^set_tsc_khz [0-9]+ accepted" ;;
    6.1-epyc--6.1-qemu64-svm|6.12-epyc--6.12-qemu64-svm)
      # arch/x86/kvm/x86.c: kvm_vcpu_ioctl_x86_set_xcrs() (6.1): -EINVAL without host XSAVE
      assert_match "$p: XCR0 refused on a host without XSAVE" "$r" "^set_xcr 0x0 0x[0-9a-f]+ rejected EINVAL$" ;;
    6.1-qemu64-svm--6.1-epyc|6.12-qemu64-svm--6.12-epyc)
      assert_match "$p: no XSAVE on SRC, no XCR to move" "$r" "^set_xcr none$" ;;
    6.1-epyc--6.1-epyc-nordtscp)
      # arch/x86/kvm/x86.c: kvm_init_msr_lists() (6.1): MSR_TSC_AUX only with RDTSCP or RDPID
      assert_match "$p: TSC_AUX 0xc0000103 not listed without RDTSCP" "$r" "^set_msr 0xc0000103 [^ ]+ unlisted" ;;
  esac

  # --- kvmprobe compat against the oracle ---
  if [ $has_compat = 0 ]; then
    skip "$p: kvmprobe compat agrees with the oracle" "kvmprobe has no compat command"; continue
  fi
  o=$VM_OUT_ROOT/$p.compat.json
  crc=0
  "$KP" compat "$rec/$s.snapshot.json" "$rec/$d.snapshot.json" --json >"$o" 2>"$o.err" || crc=$?
  if [ "$(json_get "$o" schema || true)" != kvmprobe.compat/1 ]; then
    fail "$p: compat --json prints a kvmprobe.compat/1 document" "exit $crc: $(head -c 200 "$o.err")"; continue
  fi
  pass "$p: compat --json prints a kvmprobe.compat/1 document"
  oracle_msrs "$r" >"$o.oracle"
  compat_msrs "$o" >"$o.msrs"
  assert_eq "$p: compat lists exactly SRC's MSRs" "$(cut -d' ' -f1 "$o.msrs" | tr '\n' ' ')" \
    "$(cut -d' ' -f1 "$o.oracle" | tr '\n' ' ')"
  for col in 2:dst_listed 3:dst_accepts; do
    n=${col%%:*} key=${col#*:}
    bad=$(join <(cut -d' ' -f1,"$n" "$o.oracle") <(cut -d' ' -f1,"$n" "$o.msrs") |
          awk '$2 != $3 { printf "%s oracle %s compat %s; ", $1, $2, $3 }')
    if [ -z "$bad" ]; then pass "$p: $key equals the oracle for all $(wc -l <"$o.oracle") MSRs"
    else fail "$p: $key equals the oracle" "$bad"; fi
  done
  want=0
  [ "$(summary "$r" dst_unlisted)" = 0 ] || want=21
  # KVM takes a faster source TSC without scaling by catch-up only (arch/x86/kvm/x86.c:
  # set_tsc_khz() (6.1) sets tsc_always_catchup when the rate is outside tsc_tolerance_ppm):
  # the move works, with that condition (21).
  if awk '$1 == "dst_tsc_khz" { d = $2 } $1 == "dst_cap_tsc_control" { c = $2 }
          $1 == "set_tsc_khz" && $3 == "accepted" { s = $2 }
          END { exit !(s != "" && c == 0 && s > d && (s - d) * 1000000 > 250 * d) }' "$r"; then
    want=21
  fi
  srun=$(cpuid_run "$s") drun=$(cpuid_run "$d")
  if [ -z "$srun" ] || [ -z "$drun" ]; then
    skip "$p: compat exits as the oracles say" "no tests/data/cpuid recording for $s or $d"; continue
  fi
  lost=$(cpuid_lost_bits "$srun" "$drun")
  [ -z "$lost" ] || { echo "     CPUID only on SRC (real KVM, $srun vs $drun): $lost"; want=21; }
  if [ "$(summary "$r" rejected)" != 0 ] || [ "$(summary "$r" tsc)" = rejected ] ||
     [ "$(summary "$r" xcr)" = rejected ] || [ "$(summary "$r" feature_rejected)" != 0 ]; then want=22; fi
  assert_eq "$p: compat exits $want" "$crc" "$want"
  assert_eq "$p: compat's exit_code field equals its exit status" "$(json_get "$o" exit_code || true)" "$crc"
done <"$rec/pairs.txt"

ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "compat.test.sh wall time: $((ms / 1000)).$((ms % 1000 / 100)) s"
vm_summary || exit $?
[ $has_compat = 1 ] || { echo "compat.test.sh: exit 77: kvmprobe has no compat command (its comparisons were skipped)"; exit 77; }
