#include "core/provision/writers.h"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/provision/driver_writer.h"

namespace kvmprobe::provision {

Result<Writers> open_writers(WriteBackend backend, unsigned probe_cpu, const WriterPaths& paths) {
  Writers w;
  std::vector<std::string> missing;
  if (backend != WriteBackend::msr) {
    auto d = DriverMsrWriter::open(paths.driver);
    if (d) {
      w.primary = std::move(*d);
    } else {
      missing.push_back(d.error().detail);
      if (backend == WriteBackend::driver) return d.error();
      w.notes.push_back(fmt::format("not through the companion driver: {}", d.error().detail));
    }
  }
  if (backend != WriteBackend::driver) {
    auto m = std::make_unique<DevMsrWriter>(paths.msr_dir);
    int err = m->probe(probe_cpu);
    if (err == 0) {
      (w.primary ? w.fallback : w.primary) = std::move(m);
    } else {
      std::string why = fmt::format("cannot open {}/{}/msr read-write: {}", paths.msr_dir, probe_cpu, std::strerror(err));
      missing.push_back(why);
      if (w.primary) w.notes.push_back(why + ": values the driver cannot put back stay as they are");
      if ((err == EACCES || err == EPERM) && !w.primary)
        return make_error(ErrorKind::io, why, "run as root (CAP_SYS_RAWIO)", err);
    }
  }
  if (w.primary) return w;
  std::string detail = "no way to write MSRs";
  for (const auto& m : missing) detail += "; " + m;
  return make_error(ErrorKind::missing, detail,
                    backend == WriteBackend::msr ? "modprobe msr"
                                                 : "load the companion driver (insmod kvmprobe.ko) or the msr module "
                                                   "(modprobe msr)",
                    ENOENT);
}

}  // namespace kvmprobe::provision
