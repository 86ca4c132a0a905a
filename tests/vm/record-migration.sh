#!/usr/bin/env bash
# Records what real KVM accepts when a vCPU's state moves between two QEMU guests (the ground
# truth for `kvmprobe compat`; format in tests/data/migration/README.md).
#
# Usage: bash tests/vm/record-migration.sh [--out DIR] [--kvmprobe PATH] [--pairs "SRC--DST ..."]
#   --out       where the recordings go (default tests/data/migration of this tree)
#   --kvmprobe  static kvmprobe for the snapshots (default $KVMPROBE, else build/cli/kvmprobe)
#   --pairs     only these pairs (names from PAIRS below), e.g. "6.1-epyc--6.12-epyc"
# Env:   KVMPROBE_VM_JOBS=N  guests at once (default: nproc, at most 4)
#
# Two rounds of boots. Round 1, one boot per guest: `modprobe msr`, `kvmprobe snapshot`
# (BEFORE any kvm module is loaded), `modprobe kvm_amd`, `migrate_oracle save`. Round 2, one
# boot per destination guest, with the state files of all its sources copied in:
# `modprobe kvm_amd`, then per source `dmesg -c`, `migrate_oracle restore STATE`, `dmesg`.
# Prints "time RUN N.N s" per guest and exits non-zero (one line saying why) when a guest
# failed or a file came out incomplete; what was complete is written anyway.
set -euo pipefail
VM_TEST_NAME=${VM_TEST_NAME:-record-migration}
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# NAME KERNEL CPU APPEND. The TSC is pinned (tsc_early_khz) so that only the TSC guests differ.
GUESTS=(
  "6.1-epyc             6.1  EPYC         tsc_early_khz=2000000"
  "6.12-epyc            6.12 EPYC         tsc_early_khz=2000000"
  "6.1-qemu64-svm       6.1  qemu64,+svm  tsc_early_khz=2000000"
  "6.1-epyc-nordtscp    6.1  EPYC,-rdtscp tsc_early_khz=2000000"
  "6.1-epyc-tsc2000400  6.1  EPYC         tsc_early_khz=2000400"
  "6.1-epyc-tsc2100000  6.1  EPYC         tsc_early_khz=2100000"
  "6.12-qemu64-svm      6.12 qemu64,+svm  tsc_early_khz=2000000"
)
# SRC--DST. 2000400 is 200 ppm above 2000000 (inside KVM's 250 ppm tolerance), 2100000 is
# 5 % above (outside).
PAIRS=(
  6.1-epyc--6.12-epyc 6.12-epyc--6.1-epyc
  6.1-epyc--6.1-epyc 6.12-epyc--6.12-epyc
  6.1-epyc--6.1-qemu64-svm 6.1-qemu64-svm--6.1-epyc
  6.12-epyc--6.12-qemu64-svm 6.12-qemu64-svm--6.12-epyc
  6.1-epyc--6.1-epyc-nordtscp 6.1-epyc-nordtscp--6.1-epyc
  6.1-epyc--6.1-epyc-tsc2000400 6.1-epyc-tsc2000400--6.1-epyc
  6.1-epyc--6.1-epyc-tsc2100000 6.1-epyc-tsc2100000--6.1-epyc
)

out=$REPO_ROOT/tests/data/migration kp=${KVMPROBE:-$REPO_ROOT/build/cli/kvmprobe} only=""
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=${2:?--out needs a value}; shift ;;
    --kvmprobe) kp=${2:?--kvmprobe needs a value}; shift ;;
    --pairs) only=${2:?--pairs needs a value}; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done
[ -x "$kp" ] || die "no executable kvmprobe at '$kp' (build it: cmake --build build --target kvmprobe)"
if [ -n "$only" ]; then
  for p in $only; do [[ " ${PAIRS[*]} " == *" $p "* ]] || die "unknown pair '$p'"; done
  read -ra PAIRS <<<"$only"
fi
mkdir -p "$out" "$VM_OUT_ROOT"
KP=$VM_OUT_ROOT/kvmprobe
cp "$kp" "$KP.tmp" && mv "$KP.tmp" "$KP"
mo=$(bash "$VM_DIR/oracle/build.sh" --name migrate_oracle) || die "cannot build migrate_oracle"

guest_row() { local r; for r in "${GUESTS[@]}"; do [ "${r%% *}" != "$1" ] || { echo "$r"; return; }; done; }
src_of() { echo "${1%%--*}"; }
dst_of() { echo "${1#*--}"; }
# the guests the chosen pairs need, in GUESTS order
needed=()
for r in "${GUESTS[@]}"; do
  g=${r%% *}
  for p in "${PAIRS[@]}"; do
    if [ "$(src_of "$p")" = "$g" ] || [ "$(dst_of "$p")" = "$g" ]; then needed+=("$g"); break; fi
  done
done

jobs_max=${KVMPROBE_VM_JOBS:-$(nproc)}
[ "$jobs_max" -le 4 ] || jobs_max=4
running=() all_started=()
declare -A GUEST_ARGS=()
start_guest() { # RUN ARGS...
  if [ "${#running[@]}" -ge "$jobs_max" ]; then vm_wait "${running[0]}"; running=("${running[@]:1}"); fi
  GUEST_ARGS[$1]=$(printf '%q ' "${@:2}")
  vm_start "$@"
  running+=("$1") all_started+=("$1")
}
# wait_all: wait for the started guests; a guest that hit a harness failure or timeout (125,
# 124: on a loaded host the kernel may panic "IO-APIC + timer doesn't work", TCG being too
# slow for its timer check) is booted again, at most twice.
wait_all() {
  local r try again batch=("${all_started[@]}")
  for r in "${running[@]}"; do vm_wait "$r"; done
  for try in 1 2; do
    again=()
    for r in "${batch[@]}"; do
      case $(vm_rc "$r") in 124|125) again+=("$r") ;; esac
    done
    [ "${#again[@]}" -gt 0 ] || break
    running=()
    for r in "${again[@]}"; do
      echo "     retrying $r (exit $(vm_rc "$r"), try $((try + 1)))"
      eval "start_guest $(printf '%q' "$r") ${GUEST_ARGS[$r]}"
    done
    for r in "${running[@]}"; do vm_wait "$r"; done
    batch=("${again[@]}")
  done
  running=() all_started=()
}
bad=0
problem() { echo "record-migration.sh: $*" >&2; bad=1; }

# --- round 1: snapshot before kvm_amd, then the state of a fresh vCPU ---
save_script=$VM_OUT_ROOT/save.sh
{ vm_guest_sec; cat <<'EOF'
for m in kvm kvm_amd kvm_intel; do [ ! -d /sys/module/$m ] || echo "@@PRELOADED $m"; done
modprobe msr
sec snapshot kvmprobe snapshot -o /tmp/pre.json
sec snap cat /tmp/pre.json
modprobe kvm_amd
if [ -d /sys/module/kvm_amd ]; then echo "@@LOADED kvm_amd yes"; else echo "@@LOADED kvm_amd no"; fi
sec state migrate_oracle save
exit 0
EOF
} >"$save_script"
for g in "${needed[@]}"; do
  read -r _ kern cpu app <<<"$(guest_row "$g")"
  start_guest "save-$g" --kernel "$kern" --cpu "$cpu" --append "$app" --timeout 200 \
    --file "$KP:/bin/kvmprobe" --file "$mo:/bin/migrate_oracle" --script "$save_script"
done
wait_all

: >"$VM_OUT_ROOT/guests.txt"
for g in "${needed[@]}"; do
  read -r _ kern cpu app <<<"$(guest_row "$g")"
  run=save-$g o=$(vm_out "save-$g")
  kver=$(sed -n 's/.* kver=\([^ ]*\).*/\1/p' "$o/run.info" 2>/dev/null)
  echo "$g $kern ${kver:-unknown} $cpu $app" >>"$VM_OUT_ROOT/guests.txt"
  if [ "$(vm_rc "$run")" != 0 ]; then problem "$run: guest exit $(vm_rc "$run") (see $o)"; continue; fi
  if grep -q '^@@PRELOADED' "$o/out.log"; then problem "$run: a kvm module was loaded before the snapshot"; fi
  grep -qx '@@LOADED kvm_amd yes' "$o/out.log" || problem "$run: kvm_amd did not load"
  vm_section "$run" snap >"$o/snapshot.json"
  vm_section "$run" state >"$o/state.txt"
  if [ "$(vm_section_rc "$run" snapshot)" = 0 ] && json_get "$o/snapshot.json" schema >/dev/null; then
    cp "$o/snapshot.json" "$out/$g.snapshot.json"
  else
    problem "$run: kvmprobe snapshot failed: $(vm_section "$run" snapshot.err | head -n1)"
  fi
  if [ "$(vm_section_rc "$run" state)" = 0 ] && [ "$(tail -n1 "$o/state.txt")" = end ]; then
    cp "$o/state.txt" "$out/$g.state.txt"
  else
    problem "$run: migrate_oracle save failed: $(vm_section "$run" state.err | head -n1)"
  fi
done

# --- round 2: per destination, restore every source's state on a fresh vCPU ---
for g in "${needed[@]}"; do
  files=() srcs=""
  for p in "${PAIRS[@]}"; do
    [ "$(dst_of "$p")" = "$g" ] || continue
    s=$(src_of "$p")
    if [ ! -f "$(vm_out "save-$s")/state.txt" ] || [ "$(tail -n1 "$(vm_out "save-$s")/state.txt")" != end ]; then
      continue
    fi
    files+=(--file "$(vm_out "save-$s")/state.txt:/tmp/state-$s.txt")
    srcs+=" $s"
  done
  [ -n "$srcs" ] || continue
  read -r _ kern cpu app <<<"$(guest_row "$g")"
  script=$VM_OUT_ROOT/restore-$g.sh
  { vm_guest_sec; echo "srcs='$srcs'"; cat <<'EOF'
modprobe kvm_amd
if [ -d /sys/module/kvm_amd ]; then echo "@@LOADED kvm_amd yes"; else echo "@@LOADED kvm_amd no"; fi
for s in $srcs; do
  dmesg -c >/dev/null
  sec "restore-$s" migrate_oracle restore "/tmp/state-$s.txt"
  sec "dmesg-$s" dmesg
done
exit 0
EOF
  } >"$script"
  start_guest "restore-$g" --kernel "$kern" --cpu "$cpu" --append "$app" --timeout 200 \
    --file "$mo:/bin/migrate_oracle" "${files[@]}" --script "$script"
done
wait_all

: >"$VM_OUT_ROOT/pairs.txt"
for p in "${PAIRS[@]}"; do
  s=$(src_of "$p") d=$(dst_of "$p") run=restore-$(dst_of "$p")
  o=$(vm_out "$run")
  if [ ! -f "$out/$s.state.txt" ]; then problem "$p: no state from $s"; continue; fi
  if [ "$(vm_rc "$run")" != 0 ]; then problem "$p: guest $run exit $(vm_rc "$run") (see $o)"; continue; fi
  vm_section "$run" "restore-$s" >"$o/$p.result.txt"
  if [ "$(vm_section_rc "$run" "restore-$s")" = 0 ] && [ "$(tail -n1 "$o/$p.result.txt")" = end ]; then
    cp "$o/$p.result.txt" "$out/$p.result.txt"
    vm_section "$run" "dmesg-$s" >"$out/$p.dmesg.txt"
    echo "$s $d" >>"$VM_OUT_ROOT/pairs.txt"
    echo "pair $p: $(sed -n 's/^summary //p' "$out/$p.result.txt")"
  else
    problem "$p: migrate_oracle restore failed: $(vm_section "$run" "restore-$s.err" | head -n1)"
  fi
done
# guests.txt and pairs.txt list what was recorded; a --pairs run updates only its own lines
# (a line of this run replaces the earlier one with the same key: guest name / SRC DST).
for f in guests.txt pairs.txt; do
  nk=1; [ $f = guests.txt ] || nk=2
  { [ -z "$only" ] || cat "$out/$f" 2>/dev/null || true; cat "$VM_OUT_ROOT/$f"; } |
    awk -v nk=$nk '{ k = nk == 1 ? $1 : $1 " " $2; if (!(k in l)) o[++c] = k; l[k] = $0 }
                   END { for (i = 1; i <= c; i++) print l[o[i]] }' >"$out/$f.tmp"
  mv "$out/$f.tmp" "$out/$f"
done
[ "$bad" -eq 0 ] || { echo "record-migration.sh: incomplete recording (see above)" >&2; exit 1; }
echo "recorded ${#needed[@]} guests, ${#PAIRS[@]} pairs in $out"
