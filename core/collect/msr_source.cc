#include "core/collect/msr_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace kvmprobe::collect {

ReadStatus msr_status_from_read_errno(int err) {
  switch (err) {
    case EIO: return ReadStatus::fault;
    case EACCES:
    case EPERM: return ReadStatus::denied;
    default: return ReadStatus::unavailable;
  }
}

ReadStatus msr_status_from_open_errno(int err) {
  return err == EACCES || err == EPERM ? ReadStatus::denied : ReadStatus::unavailable;
}

DevMsrSource::DevMsrSource(std::string dev_dir, CpuPinner* pinner)
    : dev_dir_(std::move(dev_dir)), pinner_(pinner) {}

DevMsrSource::~DevMsrSource() { reset(); }

void DevMsrSource::reset() {
  for (Node& n : nodes_)
    if (n.fd >= 0) ::close(n.fd);
  nodes_.clear();
}

int DevMsrSource::probe(unsigned cpu) {
  if (cpu >= nodes_.size()) nodes_.resize(cpu + 1);
  Node& n = nodes_[cpu];
  if (n.err == 0) return 0;
  std::string path = dev_dir_ + "/" + std::to_string(cpu) + "/msr";
  n.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  n.err = n.fd >= 0 ? 0 : errno;
  return n.err;
}

MsrRead DevMsrSource::read_fd(int fd, std::uint32_t index) {
  MsrRead r;
  r.index = index;
  std::uint64_t value = 0;
  ssize_t n;
  do {
    n = ::pread(fd, &value, sizeof value, static_cast<off_t>(index));
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof value)) {
    r.status = ReadStatus::value;
    r.value = value;
  } else {
    r.error = n < 0 ? errno : EIO;
    r.status = n < 0 ? msr_status_from_read_errno(r.error) : ReadStatus::unavailable;
  }
  return r;
}

MsrRead DevMsrSource::read(unsigned cpu, std::uint32_t index) {
  if (int err = probe(cpu); err != 0)
    return MsrRead{index, msr_status_from_open_errno(err), 0, err};
  return read_fd(nodes_[cpu].fd, index);
}

std::vector<MsrRead> DevMsrSource::read_many(unsigned cpu, std::span<const std::uint32_t> indices) {
  std::vector<MsrRead> out;
  out.reserve(indices.size());
  int err = probe(cpu);
  if (err == 0 && pinner_) (void)pinner_->pin(cpu);  // best effort, see the class comment
  for (std::uint32_t index : indices)
    out.push_back(err != 0 ? MsrRead{index, msr_status_from_open_errno(err), 0, err}
                           : read_fd(nodes_[cpu].fd, index));
  return out;
}

}  // namespace kvmprobe::collect
