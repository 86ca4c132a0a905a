#include "core/collect/cpuid_source.h"

#include <cpuid.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>

#include "core/model/format.h"

namespace kvmprobe::collect {

CpuidLeaf execute_cpuid(std::uint32_t leaf, std::uint32_t subleaf) {
  CpuidLeaf l;
  l.leaf = leaf;
  l.subleaf = subleaf;
  __cpuid_count(leaf, subleaf, l.eax, l.ebx, l.ecx, l.edx);
  return l;
}

DevCpuidSource::DevCpuidSource(std::string dev_dir, CpuPinner* pinner)
    : dev_dir_(std::move(dev_dir)), pinner_(pinner) {}

DevCpuidSource::~DevCpuidSource() {
  for (Node& n : nodes_)
    if (n.fd >= 0) ::close(n.fd);
}

int DevCpuidSource::open_cpu(unsigned cpu) {
  if (cpu >= nodes_.size()) nodes_.resize(cpu + 1);
  Node& n = nodes_[cpu];
  if (n.err >= 0) return n.err;
  std::string path = dev_dir_ + "/" + std::to_string(cpu) + "/cpuid";
  n.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  n.err = n.fd >= 0 ? 0 : errno;
  return n.err;
}

Result<CpuidLeaf> DevCpuidSource::cpuid(unsigned cpu, std::uint32_t leaf, std::uint32_t subleaf) {
  auto path = [&] { return dev_dir_ + "/" + std::to_string(cpu) + "/cpuid"; };
  if (int err = open_cpu(cpu); err != 0)
    return make_error(err == ENOENT ? ErrorKind::missing : ErrorKind::io,
                      "cannot open " + path() + ": " + std::strerror(err), {}, err);
  // Best effort: unpinned, the read still works, through an IPI.
  if (pinner_) (void)pinner_->pin(cpu);
  // cpuid.c: the low 32 bits of the file position are EAX, the high 32 bits ECX.
  std::uint32_t regs[4];
  off_t offset = static_cast<off_t>((static_cast<std::uint64_t>(subleaf) << 32) | leaf);
  ssize_t n;
  do {
    n = ::pread(nodes_[cpu].fd, regs, sizeof regs, offset);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof regs)) {
    int err = n < 0 ? errno : EIO;
    return make_error(ErrorKind::io, "cannot read " + path() + ": " + std::strerror(err), {}, err);
  }
  CpuidLeaf l;
  l.leaf = leaf;
  l.subleaf = subleaf;
  l.eax = regs[0];
  l.ebx = regs[1];
  l.ecx = regs[2];
  l.edx = regs[3];
  return l;
}

Result<CpuidLeaf> InstructionCpuidSource::cpuid(unsigned cpu, std::uint32_t leaf,
                                                std::uint32_t subleaf) {
  if (int err = pinner_.pin(cpu); err != 0)
    return make_error(ErrorKind::io,
                      "cannot run on CPU " + std::to_string(cpu) + ": " + std::strerror(err), {},
                      err);
  return execute_cpuid(leaf, subleaf);
}

Result<CpuidLeaf> AutoCpuidSource::cpuid(unsigned cpu, std::uint32_t leaf, std::uint32_t subleaf) {
  auto it = decided_.find(cpu);
  if (it == decided_.end()) {
    int err = dev_.open_cpu(cpu);
    if (err != 0) fallbacks_[err].push_back(cpu);
    it = decided_.emplace(cpu, err == 0).first;
  }
  if (!it->second) return insn_.cpuid(cpu, leaf, subleaf);
  auto kernel = dev_.cpuid(cpu, leaf, subleaf);
  if (!kernel) return kernel;
  // The same leaf from user mode on the same CPU (the instruction pins; a failed pin skips it).
  if (auto user = insn_.cpuid(cpu, leaf, subleaf)) {
    if (user->eax != kernel->eax || user->ebx != kernel->ebx || user->ecx != kernel->ecx ||
        user->edx != kernel->edx)
      differences_[cpu].push_back(*user);
  }
  return kernel;
}

CpuidView AutoCpuidSource::view(unsigned cpu) const {
  auto it = decided_.find(cpu);
  if (it == decided_.end()) return CpuidView::unknown;
  return it->second ? CpuidView::kernel : CpuidView::instruction;
}

std::vector<CpuidLeaf> AutoCpuidSource::take_differences(unsigned cpu) {
  auto it = differences_.find(cpu);
  if (it == differences_.end()) return {};
  std::vector<CpuidLeaf> out = std::move(it->second);
  differences_.erase(it);
  std::sort(out.begin(), out.end(), [](const CpuidLeaf& a, const CpuidLeaf& b) {
    return std::tie(a.leaf, a.subleaf) < std::tie(b.leaf, b.subleaf);
  });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const CpuidLeaf& a, const CpuidLeaf& b) {
                          return a.leaf == b.leaf && a.subleaf == b.subleaf;
                        }),
            out.end());
  return out;
}

void AutoCpuidSource::drain_notes(std::vector<std::string>& out) {
  for (auto& [err, cpus] : fallbacks_) {
    std::sort(cpus.begin(), cpus.end());
    out.push_back("cpuid: /dev/cpu/N/cpuid unavailable for CPU " + cpu_list(cpus) + " (" +
                  std::strerror(err) + "); used the cpuid instruction pinned to each CPU");
  }
  fallbacks_.clear();
}

}  // namespace kvmprobe::collect
