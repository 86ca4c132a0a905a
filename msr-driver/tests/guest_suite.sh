#!/bin/sh
# Runs inside a test guest (tests/vm/run-guest.sh) as root: loads kvmprobe.ko and checks it.
# Expects /root/kvmprobe.ko, /bin/ioctl_test, /bin/ioctl_fuzz and /etc/kvmprobe-test.conf
# (SUITE=full|quick, FUZZ_ITERS, FUZZ_PROCS, FUZZ_SEED). The expected tsc_khz is read from
# tsc_early_khz= on the kernel command line.
# Prints "PASS name" / "FAIL name: why" lines; exits 1 if any check failed.
# pass() always succeeds, so "A && pass x || fail x" is an if-then-else here.
# shellcheck disable=SC2015 source=/dev/null

KO=/root/kvmprobe.ko
SUITE=full FUZZ_ITERS=3000 FUZZ_PROCS=2 FUZZ_SEED=1
[ -f /etc/kvmprobe-test.conf ] && . /etc/kvmprobe-test.conf
BAD='BUG:|WARNING:|Oops|general protection|Call Trace|RIP:'
failed=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }
# t NAME CMD...: run a C test program; it prints its own PASS/FAIL lines.
t() {
	name=$1
	shift
	"$@"
	rc=$?
	[ "$rc" = 0 ] || { failed=1; echo "INFO $name exited $rc"; }
}
now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
stamp() { echo "TIME $1 $(( $(now_ms) - T0 )) ms"; T0=$(now_ms); }
bad_lines() { dmesg | grep -c -E "$BAD"; }
loaded() { [ -d /sys/module/kvmprobe ] && [ -c /dev/kvmprobe ]; }
unloaded() { [ ! -d /sys/module/kvmprobe ] && [ ! -e /dev/kvmprobe ]; }

T0=$(now_ms)
bad0=$(bad_lines)
echo "INFO kernel $KVER cpu $VM_CPU smp $VM_SMP suite $SUITE"
vendor=$(grep -m1 '^vendor_id' /proc/cpuinfo | sed 's/.*: //')
khz=$(sed -n 's/.*tsc_early_khz=\([0-9]*\).*/\1/p' /proc/cmdline)

# --- load: read-only by default (issue 11 item 9), writes with allow_writes=1 ---
if insmod "$KO" 2>/tmp/insmod.err && loaded; then
	ioctl_test version nowrite >/tmp/default.out && ioctl_test nowrite >>/tmp/default.out
	grep FAIL /tmp/default.out
	[ "$(cat /sys/module/kvmprobe/parameters/allow_writes)" = N ] &&
		grep -q "PASS nowrite.write_refused" /tmp/default.out && ! grep -q FAIL /tmp/default.out &&
		pass default_allow_writes_N_refuses || fail default_allow_writes_N_refuses "see above"
	rmmod kvmprobe
else
	fail load_default "$(cat /tmp/insmod.err)"
fi
if insmod "$KO" allow_writes=1 2>/tmp/insmod.err && loaded; then
	pass load
else
	fail load "$(cat /tmp/insmod.err)"
	dmesg | tail -n 20
	exit 1
fi
mode=$(stat -c '%a %U' /dev/kvmprobe)
[ "$mode" = "600 root" ] && pass dev_mode_0600_root || fail dev_mode_0600_root "$mode"
stamp load

t version ioctl_test version
if modprobe msr && [ -c /dev/cpu/0/msr ]; then
	t msrs ioctl_test msrs
else
	fail modprobe_msr "no /dev/cpu/0/msr"
fi
t state ioctl_test state
if [ "$vendor" = AuthenticAMD ] && grep -qw svm /proc/cpuinfo; then
	modprobe kvm_amd 2>/dev/null
	[ -d /sys/module/kvm_amd ] && [ -c /dev/kvm ] && pass kvm_amd_loaded ||
		fail kvm_amd_loaded "no /sys/module/kvm_amd or /dev/kvm"
fi
t tsc ioctl_test tsc "$khz"
stamp reads

# --- refusals ---
t noperm ioctl_test noperm
out=$(as-user /bin/ioctl_test version 2>&1)
case $out in
*"Permission denied"*|*"Operation not permitted"*) pass nonroot_user_refused ;;
*) fail nonroot_user_refused "$out" ;;
esac
t refuse ioctl_test refuse
last=$((VM_SMP - 1))
if [ "$last" -gt 0 ] && echo 0 >/sys/devices/system/cpu/cpu$last/online; then
	t offline ioctl_test offline "$last"
	echo 1 >/sys/devices/system/cpu/cpu$last/online || fail cpu_online_again "cpu$last"
fi
t write-tcg ioctl_test write-tcg
if [ "$vendor" = AuthenticAMD ] || [ "$vendor" = HygonGenuine ]; then
	echo "INFO no executed write to log: VM_CR.SVMDIS is clear under TCG and 0x3a is refused"
elif [ "$(dmesg | grep -c "kvmprobe: ioctl_test (pid [0-9]*) wrote MSR 0x3a on CPU [0-9]*: 0x0 -> 0x4, FAILED")" -ge "$VM_SMP" ]; then
	pass write_logged_with_comm_and_pid_every_cpu
else
	fail write_logged_with_comm_and_pid_every_cpu "fewer than $VM_SMP log lines"
fi
stamp refusals

if [ "$SUITE" = full ]; then
	t fuzz ioctl_fuzz "$FUZZ_ITERS" "$FUZZ_SEED" "$FUZZ_PROCS"
	stamp fuzz
fi

# --- unload, load/unload cycles, allow_writes=0 ---
rmmod kvmprobe 2>/tmp/rmmod.err && unloaded && pass rmmod || fail rmmod "$(cat /tmp/rmmod.err)"
if [ "$SUITE" = full ]; then
	ok=0
	for i in 1 2 3 4 5; do
		if [ "$i" = 5 ]; then arg=allow_writes=0 ver=nowrite; else arg=allow_writes=1 ver=; fi
		insmod "$KO" $arg && loaded && ioctl_test version $ver >/tmp/cycle.out &&
			{ [ -z "$ver" ] || ioctl_test nowrite >>/tmp/cycle.out; } &&
			rmmod kvmprobe && unloaded && ok=$((ok + 1))
		grep FAIL /tmp/cycle.out
	done
	[ "$ok" = 5 ] && pass load_unload_5_cycles || fail load_unload_5_cycles "$ok of 5 cycles"
	grep -q "PASS nowrite.write_refused" /tmp/cycle.out && pass allow_writes_0_refuses ||
		fail allow_writes_0_refuses "no PASS line"
	stamp cycles
fi

# --- lockdown, raised after loading (an unsigned module cannot load under lockdown) ---
insmod "$KO" allow_writes=1 && loaded || fail lockdown_load "insmod failed"
if [ -w /sys/kernel/security/lockdown ] && echo integrity >/sys/kernel/security/lockdown; then
	grep -q '\[integrity\]' /sys/kernel/security/lockdown && pass lockdown_raised ||
		fail lockdown_raised "$(cat /sys/kernel/security/lockdown)"
	t lockdown ioctl_test lockdown
else
	fail lockdown_raised "no writable /sys/kernel/security/lockdown"
fi
rmmod kvmprobe && unloaded && pass rmmod_under_lockdown || fail rmmod_under_lockdown "rmmod failed"
stamp lockdown

bad1=$(bad_lines)
if [ "$bad1" = "$bad0" ]; then
	pass dmesg_clean
else
	fail dmesg_clean "$((bad1 - bad0)) new lines matching $BAD"
	dmesg | grep -E -B2 -A8 "$BAD" | head -n 60
fi
exit $failed
