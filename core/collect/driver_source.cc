#include "core/collect/driver_source.h"

#include <algorithm>
#include <cerrno>

namespace kvmprobe::collect {

namespace {

/// One field of CPU_STATE: its value when the driver set the valid bit, else nothing.
std::optional<std::uint64_t> field(const kvmprobe_cpu_state& st, std::uint32_t bit,
                                   std::uint64_t value) {
  if (st.valid & bit) return value;
  return std::nullopt;
}

}  // namespace

ReadStatus driver_status_from_errno(int err) {
  return err == EACCES || err == EPERM ? ReadStatus::denied : ReadStatus::unavailable;
}

DriverSource::DriverSource(std::string path)
    : opener_([path = std::move(path)] { return DriverDevice::open(path); }) {}

DriverSource::DriverSource(Opener opener) : opener_(std::move(opener)) {}

Result<DriverInfo> DriverSource::open() {
  if (!dev_) {
    auto dev = opener_();
    if (!dev) return dev.error();
    dev_.emplace(std::move(dev).value());
  }
  const kvmprobe_version& v = dev_->version();
  return DriverInfo{v.abi_version, v.caps, v.max_msrs, v.nr_cpu_ids};
}

int DriverSource::probe(unsigned cpu) {
  if (auto info = open(); !info) return info.error().err ? info.error().err : EIO;
  return cpu < dev_->version().nr_cpu_ids ? 0 : ENXIO;
}

MsrRead DriverSource::read(unsigned cpu, std::uint32_t index) {
  return read_many(cpu, std::span<const std::uint32_t>(&index, 1)).front();
}

std::vector<MsrRead> DriverSource::read_many(unsigned cpu,
                                             std::span<const std::uint32_t> indices) {
  std::vector<MsrRead> out;
  out.reserve(indices.size());
  if (int err = probe(cpu); err != 0) {
    for (std::uint32_t index : indices)
      out.push_back(MsrRead{index, driver_status_from_errno(err), 0, err});
    return out;
  }
  const std::size_t batch = dev_->max_batch();
  std::vector<kvmprobe_msr_entry> entries;
  for (std::size_t at = 0; at < indices.size(); at += batch) {
    auto part = indices.subspan(at, std::min(batch, indices.size() - at));
    entries.assign(part.size(), kvmprobe_msr_entry{});
    for (std::size_t i = 0; i < part.size(); ++i) entries[i].index = part[i];
    auto done = dev_->read_msrs(cpu, entries);
    for (std::size_t i = 0; i < part.size(); ++i) {
      MsrRead r{part[i], ReadStatus::unavailable, 0, 0};
      if (!done) {
        r.error = done.error().err;
        r.status = driver_status_from_errno(r.error);
      } else if (entries[i].status == KVMPROBE_MSR_OK) {
        r.status = ReadStatus::value;
        r.value = entries[i].value;
      } else {
        // KVMPROBE_MSR_FAULT: rdmsr raised #GP, which /dev/cpu/N/msr reports as EIO.
        r.status = ReadStatus::fault;
        r.error = EIO;
      }
      out.push_back(r);
    }
  }
  return out;
}

Result<CpuControlRegs> DriverSource::cpu_state(unsigned cpu) {
  if (auto info = open(); !info) return info.error();
  if (!dev_->has_cap(KVMPROBE_CAP_CPU_STATE))
    return make_error(ErrorKind::missing, dev_->path() + " does not offer CPU_STATE", {}, ENOTTY);
  auto st = dev_->cpu_state(cpu);
  if (!st) return st.error();
  CpuControlRegs regs;
  regs.cr0 = field(*st, KVMPROBE_STATE_CR0, st->cr0);
  regs.cr4 = field(*st, KVMPROBE_STATE_CR4, st->cr4);
  regs.efer = field(*st, KVMPROBE_STATE_EFER, st->efer);
  regs.xcr0 = field(*st, KVMPROBE_STATE_XCR0, st->xcr0);
  if (st->feat_msr != 0) {
    if (st->valid & KVMPROBE_STATE_FEAT)
      regs.feature_msr = MsrRead{st->feat_msr, ReadStatus::value, st->feat_value, 0};
    else if (st->fault & KVMPROBE_STATE_FEAT)
      regs.feature_msr = MsrRead{st->feat_msr, ReadStatus::fault, 0, EIO};
  }
  return regs;
}

Result<std::uint64_t> DriverSource::kernel_tsc_khz() {
  if (auto info = open(); !info) return info.error();
  if (!dev_->has_cap(KVMPROBE_CAP_TSC))
    return make_error(ErrorKind::missing, dev_->path() + " does not offer TSC", {}, ENOTTY);
  auto t = dev_->tsc();
  if (!t) return t.error();
  if (t->tsc_khz == 0)
    return make_error(ErrorKind::missing, "the kernel has no tsc_khz (TSC not calibrated)");
  return std::uint64_t{t->tsc_khz};
}

}  // namespace kvmprobe::collect
