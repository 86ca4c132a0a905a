#include "core/provision/msr_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/collect/msr_source.h"

namespace kvmprobe::provision {

const char* to_string(WriteStatus s) {
  switch (s) {
    case WriteStatus::ok: return "ok";
    case WriteStatus::unchanged: return "unchanged";
    case WriteStatus::mismatch: return "did not take effect";
    case WriteStatus::read_fault: return "read faulted";
    case WriteStatus::write_fault: return "write faulted";
    case WriteStatus::readback_fault: return "read-back faulted";
    case WriteStatus::refused: return "refused";
    case WriteStatus::error: return "error";
  }
  return "error";
}

std::optional<std::uint64_t> WriteOutcome::value_now() const {
  switch (status) {
    case WriteStatus::ok:
    case WriteStatus::mismatch: return readback;
    case WriteStatus::unchanged:
    case WriteStatus::write_fault: return old_value;  // a faulting WRMSR changes nothing
    case WriteStatus::read_fault:
    case WriteStatus::readback_fault:
    case WriteStatus::refused:
    case WriteStatus::error: return std::nullopt;
  }
  return std::nullopt;
}

DevMsrWriter::DevMsrWriter(std::string dev_dir) : dev_dir_(std::move(dev_dir)) {}

DevMsrWriter::~DevMsrWriter() {
  for (int fd : fds_)
    if (fd >= 0) ::close(fd);
}

std::string DevMsrWriter::path(unsigned cpu) const { return fmt::format("{}/{}/msr", dev_dir_, cpu); }

int DevMsrWriter::probe(unsigned cpu) {
  if (cpu >= fds_.size()) fds_.resize(cpu + 1, -1);
  if (fds_[cpu] >= 0) return 0;
  int fd = ::open(path(cpu).c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return errno;
  fds_[cpu] = fd;
  return 0;
}

namespace {

/// pread/pwrite of 8 bytes at offset \a index; 0 or the errno (EIO for a short transfer).
int transfer(bool write, int fd, std::uint64_t& value, std::uint32_t index) {
  ssize_t n;
  do {
    n = write ? ::pwrite(fd, &value, sizeof value, static_cast<off_t>(index))
              : ::pread(fd, &value, sizeof value, static_cast<off_t>(index));
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof value)) return 0;
  return n < 0 ? errno : EIO;
}

}  // namespace

MsrRead DevMsrWriter::read(unsigned cpu, std::uint32_t index) {
  if (int err = probe(cpu); err != 0) return MsrRead{index, collect::msr_status_from_open_errno(err), 0, err};
  std::uint64_t v = 0;
  if (int err = transfer(false, fds_[cpu], v, index); err != 0)
    return MsrRead{index, collect::msr_status_from_read_errno(err), 0, err};
  return MsrRead{index, ReadStatus::value, v, 0};
}

WriteOutcome DevMsrWriter::modify(unsigned cpu, std::uint32_t index, std::uint64_t set, std::uint64_t clear) {
  WriteOutcome o;
  if (int err = probe(cpu); err != 0) {
    o.status = err == EPERM || err == EACCES ? WriteStatus::refused : WriteStatus::error;
    o.err = err;
    o.detail = fmt::format("open {} read-write: {}", path(cpu), std::strerror(err));
    return o;
  }
  std::uint64_t v = 0;
  if (int err = transfer(false, fds_[cpu], v, index); err != 0) {
    o.status = err == EIO ? WriteStatus::read_fault : err == EPERM ? WriteStatus::refused : WriteStatus::error;
    o.err = err;
    o.detail = fmt::format("read {:#x} from {}: {}", index, path(cpu), std::strerror(err));
    return o;
  }
  o.old_value = v;
  o.written = (v | set) & ~clear;
  if (o.written == v) {
    o.status = WriteStatus::unchanged;
    return o;
  }
  std::uint64_t w = o.written;
  if (int err = transfer(true, fds_[cpu], w, index); err != 0) {
    // msr.c: EPERM from lockdown or msr.allow_writes=off, EIO when WRMSR raised #GP.
    o.status = err == EIO ? WriteStatus::write_fault : err == EPERM ? WriteStatus::refused : WriteStatus::error;
    o.err = err;
    o.detail = fmt::format("write {:#x} to {:#x} through {}: {}", o.written, index, path(cpu), std::strerror(err));
    return o;
  }
  std::uint64_t back = 0;
  if (int err = transfer(false, fds_[cpu], back, index); err != 0) {
    o.status = WriteStatus::readback_fault;
    o.err = err;
    o.detail = fmt::format("read back {:#x} from {}: {}", index, path(cpu), std::strerror(err));
    return o;
  }
  o.readback = back;
  o.status = back == o.written ? WriteStatus::ok : WriteStatus::mismatch;
  if (o.status == WriteStatus::mismatch)
    o.detail = fmt::format("wrote {:#x} to {:#x} on CPU {}, read back {:#x}", o.written, index, cpu, back);
  return o;
}

}  // namespace kvmprobe::provision
