# The guest half of tests/bochs/kvm.test.sh (appended to tests/vm/guest/sec.sh). Everything
# kvmprobe predicts is asked BEFORE any kvm module is loaded; then the vendor module check
# names is loaded and KVM's own answers are taken (kvm_oracle, bochs_probe).
for m in kvm kvm_amd kvm_intel; do
  [ ! -d /sys/module/$m ] || echo "@@PRELOADED $m"
done
modprobe msr
# Writes are off by default (allow_writes=N); the GUARDED_WRITE check below needs the write path.
insmod /root/kvmprobe.ko allow_writes=1 >/tmp/insmod.out 2>&1 && echo "@@DRIVER yes" || echo "@@DRIVER no $(head -n1 /tmp/insmod.out)"
sec check kvmprobe check --json=short
cp /tmp/s.out /tmp/check.json
sec checktext kvmprobe check --no-legend --color=never
sec vmxcaps kvmprobe vmx-caps --json=short
sec savelist kvmprobe msrs --save-list
sec featlist kvmprobe msrs --feature-list
sec tsc kvmprobe tsc --json=short
sec xcr0 kvmprobe xcr0 --json=short
sec enable kvmprobe enable-vmx
sec enablejson kvmprobe enable-vmx --json=short
sec snap kvmprobe snapshot
sec cpuinfo sh -c 'grep -m1 "^flags" /proc/cpuinfo; grep -m1 "^vmx flags" /proc/cpuinfo'
# 0x35 (CORE_THREAD_COUNT), 0xce (PLATFORM_INFO), 0x345 (PERF_CAPABILITIES): not in Bochs 2.7
sec rdmsr bochs_probe read 0 0x3a 0x480 0x35 0xce 0x345 0xc0010114
# 0x3a: set LMCE (bit 20), a change the driver refuses on a locked register; set bit 2 (VMX
# outside SMX): nothing to do where it is on already
sec gwlmce bochs_probe gwrite 0 0x3a 0x100000 0
sec gwvmx bochs_probe gwrite 0 0x3a 0x4 0
echo "@@DMESG_LINES $(dmesg | wc -l)"
vendor=$(sed -n 's/.*"vendor_module":"\([a-z_]*\)".*/\1/p' /tmp/check.json)
if [ -n "$vendor" ]; then
  taskset 0x1 modprobe "$vendor" >/tmp/modprobe.out 2>&1
  echo "@@MODPROBE_RC $?"
  if [ -d "/sys/module/$vendor" ]; then echo "@@LOADED $vendor yes"; else echo "@@LOADED $vendor no"; fi
else
  echo "@@LOADED none no"
fi
if [ -c /dev/kvm ]; then
  sec oracle kvm_oracle
  # issue 8: a fresh vCPU's state (migrate_oracle save), and the other CPU model's recorded
  # state restored MSR by MSR on a fresh vCPU here (tests/data/bochs/<partner>.state.txt)
  sec mstate migrate_oracle save
  [ ! -f /tmp/partner-state.txt ] || sec mrestore migrate_oracle restore /tmp/partner-state.txt
  sec tsc2 kvmprobe tsc --json=short
  khz=$(sed -n 's/.*"tsc_khz":\([0-9]*\).*/\1/p' /tmp/s.out)
  max=$(sed -n 's/.*"max_guest_tsc_khz":\([0-9]*\).*/\1/p' /tmp/s.out)
  try="$khz $((khz / 2)) $((khz * 2))"
  [ -z "$max" ] || [ "$max" = 0 ] || try="$try $((max - 1)) $max"
  sec tsctry bochs_probe tsc $try
  sec snap2 kvmprobe snapshot
  sec compare kvmprobe msrs --compare-kvm
fi
exit 0
