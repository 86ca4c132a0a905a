#include "core/collect/system_sources.h"

#include "core/collect/cpu_pinning.h"
#include "core/collect/cpuid_source.h"
#include "core/collect/driver_source.h"
#include "core/collect/host_system.h"
#include "core/collect/kernel_log.h"
#include "core/collect/kvm_device.h"
#include "core/collect/msr_source.h"
#include "core/collect/sysfs_reader.h"
#include "core/collect/xgetbv_source.h"

namespace kvmprobe::collect {

struct SystemSources::Impl {
  explicit Impl(const std::string& root)
      : dev_cpuid(rooted_path(root, "/dev/cpu"), &pinner),
        insn_cpuid(pinner),
        cpuid(dev_cpuid, insn_cpuid),
        msr(rooted_path(root, "/dev/cpu"), &pinner),
        driver(rooted_path(root, kDriverDevicePath)),
        xgetbv(pinner),
        fs(root),
        kvm(rooted_path(root, "/dev/kvm")),
        kernel_log(rooted_path(root, "/dev/kmsg")) {}

  CpuPinner pinner;  // first member: destroyed last, after every user of it
  DevCpuidSource dev_cpuid;
  InstructionCpuidSource insn_cpuid;
  AutoCpuidSource cpuid;
  DevMsrSource msr;
  DriverSource driver;  // opened on first use, only when the backend allows it
  PinnedXgetbv xgetbv;
  RootedSysfsReader fs;
  DevKvmDevice kvm;
  SystemKernelLog kernel_log;
  SystemHost host;
};

SystemSources::SystemSources(const std::string& root) : impl_(std::make_unique<Impl>(root)) {
  sources_.cpuid = &impl_->cpuid;
  sources_.msr_dev = &impl_->msr;
  sources_.msr_driver = &impl_->driver;
  sources_.driver_state = &impl_->driver;
  sources_.xgetbv = &impl_->xgetbv;
  sources_.fs = &impl_->fs;
  sources_.kvm = &impl_->kvm;
  sources_.kernel_log = &impl_->kernel_log;
  sources_.host = &impl_->host;
}

SystemSources::~SystemSources() = default;

}  // namespace kvmprobe::collect
