#!/usr/bin/env bash
# The Debian packages of packaging/build-deb.sh installed the way a user installs them:
#  1. lintian on both .debs: no error, and no warning but the ones listed below with why;
#  2. in a Debian 12 chroot with linux-headers of tests/vm's 6.1 kernel (tests/packaging/
#     make-chroot.sh, cached in /var/cache/kvmprobe-pkg; each run works in an overlay on top
#     of it): `dpkg -i kvmprobe-dkms` must have DKMS build and install kvmprobe.ko for that
#     kernel; `dpkg -i kvmprobe`: /usr/bin/kvmprobe check answers as the build tree's
#     kvmprobe does on this machine, `man -w kvmprobe` finds the page, bash-completion loads
#     the completion; the timer is not enabled by the package; `dpkg -r` removes it all;
#  3. the module DKMS built loads in a QEMU guest of that very kernel (tests/vm/run-guest.sh):
#     `kvmprobe driver load` (the kvmprobe under test) finds it where DKMS put it, /dev/kvmprobe
#     appears and `kvmprobe driver status` says loaded and usable (exit 0).
# The .debs are built from HEAD (committed tree) once per tree hash and cached in
# /var/cache/kvmprobe-pkg/debs-<tree> (tests/packaging/debs.sh); a cold build compiles the
# whole project. Needs root (chroot, mount); skips saying why otherwise, fails under CI=true.
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh" "$@"
HERE=$SRC/tests/packaging
CACHE=${KVMPROBE_PKG_CACHE:-/var/cache/kvmprobe-pkg}

if [[ $(id -u) -ne 0 ]]; then
  if [[ ${CI:-} == true ]]; then fail "packages" "not root: chroot and mount need root"; else skip "packages" "not root: chroot and mount need root"; fi
  finish
fi
for t in lintian:lintian debootstrap:debootstrap dpkg-buildpackage:dpkg-dev dh:debhelper dh_dkms:dh-dkms qemu-system-x86_64:qemu-system-x86; do
  command -v "${t%%:*}" >/dev/null || { skip_tool "packages" "${t%%:*}" "${t#*:}"; finish; }
done

# --- the packages -------------------------------------------------------------------------
t0=$SECONDS
LAST_CMD="tests/packaging/debs.sh"
# KVMPROBE_DEB_DIR: test the .debs in that directory instead (e.g. packaging/build-deb.sh's output).
if [[ -n ${KVMPROBE_DEB_DIR:-} ]]; then debdir=$KVMPROBE_DEB_DIR
elif ! debdir=$("$HERE/debs.sh" 2>"$TMP/debs.err"); then
  RC=1; OUT=; ERR=$(cat "$TMP/debs.err"); fail "build the packages" "tests/packaging/debs.sh failed"; finish
fi
echo "time    packages ($debdir) $((SECONDS - t0)) s"
DEB=$(ls "$debdir"/kvmprobe_*_amd64.deb 2>/dev/null) DKMS_DEB=$(ls "$debdir"/kvmprobe-dkms_*_all.deb 2>/dev/null)
check "packages: kvmprobe-dkms_*_all.deb built" test -n "$DKMS_DEB"
check "packages: kvmprobe_*_amd64.deb built" test -n "$DEB"
[[ -n $DKMS_DEB ]] || finish

# --- 1. lintian -----------------------------------------------------------------------------
# Warnings kept, and why (packaging/README.md says the same):
#   statically-linked-binary: kvmprobe is static on purpose: the same binary is copied into
#     the test guests and onto hosts without a matching libc (README, KVMPROBE_STATIC).
allowed_warnings="statically-linked-binary"
for d in $DEB $DKMS_DEB; do
  run lintian -I --tag-display-limit 0 "$d"
  name=${d##*/}
  errors=$(grep -c '^E: ' <<<"$OUT")
  if [[ $errors -eq 0 ]]; then pass "lintian $name: no error"; else fail "lintian $name: no error" "$errors errors"; fi
  others=$(grep '^W: ' <<<"$OUT" | awk '{print $3}' | sort -u | grep -vxF -f <(tr ' ' '\n' <<<"$allowed_warnings") || true)
  if [[ -z $others ]]; then pass "lintian $name: no warning but the allowed ($allowed_warnings)"
  else fail "lintian $name: no warning but the allowed" "unexpected: $(echo $others)"; fi
  echo "        lintian $name: $(grep -c '^[EWIP]: ' <<<"$OUT") tags: $(grep '^[EWIP]: ' <<<"$OUT" | awk '{print $1 $3}' | sort | uniq -c | awk '{print $2"×"$1}' | tr '\n' ' ')"
done

# --- 2. the chroot ------------------------------------------------------------------------------
t0=$SECONDS
if ! lower=$("$HERE/make-chroot.sh" --quiet 2>"$TMP/chroot.err"); then
  RC=1; OUT=; ERR=$(cat "$TMP/chroot.err"); fail "Debian 12 chroot" "tests/packaging/make-chroot.sh failed"; finish
fi
# shellcheck disable=SC1090
. "${KVMPROBE_VM_CACHE:-/var/cache/kvmprobe-vm}/kernels.env"
echo "time    chroot ($lower) $((SECONDS - t0)) s"
R=$TMP/root
mkdir -p "$TMP/ov/upper" "$TMP/ov/work" "$R"
unmount_all() {
  local m
  for m in "$R/proc" "$R/dev/pts" "$R/dev" "$R"; do mountpoint -q "$m" && umount -l "$m"; done
  cleanup
}
trap unmount_all EXIT
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$TMP/ov/upper,workdir=$TMP/ov/work" "$R"
mount --bind /dev "$R/dev"
mount -t proc proc "$R/proc"
cp $DEB $DKMS_DEB "$R/tmp/"
in_root() { KP_TIMEOUT=${KP_TIMEOUT_ROOT:-900} run chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 "$@"; }

t0=$SECONDS
KP_TIMEOUT=900 in_root dpkg -i "/tmp/${DKMS_DEB##*/}"
expect_rc 0 "chroot: dpkg -i kvmprobe-dkms"
echo "time    dpkg -i kvmprobe-dkms (DKMS build) $((SECONDS - t0)) s"
KO=/lib/modules/$K61_VER/updates/dkms/kvmprobe.ko
in_root dkms status kvmprobe
expect_out_has "kvmprobe/0.1.0, $K61_VER, x86_64: installed" "chroot: dkms status: installed for $K61_VER"
check "chroot: DKMS installed $KO" test -f "$R$KO"
run modinfo -F vermagic "$R$KO"
if [[ $OUT == "$K61_VER "* ]]; then pass "chroot: the module's vermagic is $K61_VER"; else fail "chroot: the module's vermagic is $K61_VER" "vermagic: $OUT"; fi
cp "$R$KO" "$TMP/kvmprobe.ko"

if [[ -n $DEB ]]; then
in_root dpkg -i "/tmp/${DEB##*/}"
expect_rc 0 "chroot: dpkg -i kvmprobe"
kp check --json; want_rc=$RC; echo "$OUT" >"$TMP/want.json"
in_root /usr/bin/kvmprobe check --json; echo "$OUT" >"$TMP/got.json"
expect_rc "$want_rc" "chroot: /usr/bin/kvmprobe check exits as the build's kvmprobe here ($want_rc)"
if python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(a["verdict"] != b["verdict"])' "$TMP/got.json" "$TMP/want.json" 2>/dev/null
then pass "chroot: /usr/bin/kvmprobe check gives the same verdict"; else fail "chroot: /usr/bin/kvmprobe check gives the same verdict" "verdicts differ"; fi
in_root man -w kvmprobe
expect_rc 0 "chroot: man -w kvmprobe"
expect_out_has "/usr/share/man/man1/kvmprobe.1" "chroot: man -w finds kvmprobe.1"
in_root man -w kvmprobe-enable-vmx
expect_rc 0 "chroot: man -w kvmprobe-enable-vmx"
in_root bash -c '. /usr/share/bash-completion/bash_completion; __load_completion kvmprobe; complete -p kvmprobe;
  COMP_WORDS=(kvmprobe ena); COMP_CWORD=1; COMP_LINE="kvmprobe ena"; COMP_POINT=${#COMP_LINE}
  fn=$(complete -p kvmprobe | sed -n "s/.*-F \([^ ]*\) .*/\1/p"); "$fn" kvmprobe ena kvmprobe; printf "reply:%s\n" "${COMPREPLY[@]}"'
expect_rc 0 "chroot: bash-completion loads the completion"
expect_out_has "complete -F" "chroot: a completion function is registered for kvmprobe"
expect_out_has "reply:enable-vmx" "chroot: 'kvmprobe ena<TAB>' completes to enable-vmx"
# The timer writes node_exporter's textfile: installing the package must not start or enable it
# (the units are shipped, the operator enables them: packaging/systemd/README.md).
check "chroot: the package enables no systemd unit" bash -c "! ls '$R'/etc/systemd/system/*.wants/kvmprobe* 2>/dev/null | grep -q ."
fi
in_root dpkg -r ${DEB:+kvmprobe} kvmprobe-dkms
expect_rc 0 "chroot: dpkg -r ${DEB:+kvmprobe }kvmprobe-dkms"
[[ -z $DEB ]] || check "chroot: /usr/bin/kvmprobe removed" test ! -e "$R/usr/bin/kvmprobe"
check "chroot: the DKMS module removed" test ! -e "$R$KO"
in_root dkms status kvmprobe
expect_out_empty "chroot: dkms status kvmprobe empty after removal"

# --- 3. the module in a guest of the same kernel --------------------------------------------
cat >"$TMP/guest.sh" <<'EOF'
#!/bin/sh
echo "=== load"; kvmprobe driver load --json; echo "=== load_rc $?"
echo "=== status"; kvmprobe driver status --json; echo "=== status_rc $?"
echo "=== dev"; ls -l /dev/kvmprobe; echo "=== sysfs"; cat /sys/module/kvmprobe/initstate
EOF
t0=$SECONDS
LAST_CMD="tests/vm/run-guest.sh --kernel 6.1 --cpu EPYC ..."
"$SRC/tests/vm/run-guest.sh" --kernel 6.1 --cpu EPYC --timeout 240 --out "$TMP/vm" \
  --file "$KVMPROBE:/bin/kvmprobe" --file "$TMP/kvmprobe.ko:/lib/modules/$K61_VER/updates/dkms/kvmprobe.ko" \
  --script "$TMP/guest.sh" >"$TMP/vm.log" 2>&1
RC=$?; OUT=$(cat "$TMP/vm/out.log" 2>/dev/null); ERR=$(tail -3 "$TMP/vm.log")
echo "time    guest $((SECONDS - t0)) s"
expect_rc 0 "guest $K61_VER: the script ran"
section() { awk -v s="=== $1" '$0==s{f=1;next} /^=== /{f=0} f' <<<"$OUT"; }
expect_out_has "=== load_rc 0" "guest: kvmprobe driver load exit 0"
section load >"$TMP/load.json"; section status >"$TMP/status.json"
if python3 - "$TMP/load.json" "$TMP/status.json" "$K61_VER" <<'PY' >"$TMP/py.err" 2>&1
import json, sys
load, status, kver = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
assert load["loaded"] is True, load
assert load["ko"]["path"] == "/lib/modules/%s/updates/dkms/kvmprobe.ko" % kver and load["ko"]["origin"] == "dkms", load["ko"]
assert status["module"]["loaded"] is True and status["usable"] is True, status
assert status["device"]["present"] is True and status["device"]["path"] == "/dev/kvmprobe", status["device"]
assert status["abi"]["matches"] is True, status["abi"]
PY
then pass "guest: driver load took the DKMS module; status: loaded, /dev/kvmprobe present, ABI matches"
else fail "guest: driver load/status" "$(cat "$TMP/py.err")"; fi
expect_out_has "=== status_rc 0" "guest: kvmprobe driver status exit 0 (loaded and usable)"
if grep -q '^c' <<<"$(section dev)"; then pass "guest: /dev/kvmprobe is a character device"; else fail "guest: /dev/kvmprobe" "$(section dev)"; fi
finish
