// open_writers(): which path enable-vmx, provision and restore write MSRs through. The
// companion driver when it is loaded with writes allowed (no "unrecognized MSR" warning,
// lockdown respected, allow-listed bits only), else /dev/cpu/N/msr; neither is an error that
// names what is missing (exit 13).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/model/result.h"
#include "core/provision/msr_writer.h"

namespace kvmprobe::provision {

/// Which write path to use.
enum class WriteBackend {
  automatic,  ///< the driver if usable, else /dev/cpu/N/msr
  driver,     ///< only /dev/kvmprobe
  msr,        ///< only /dev/cpu/N/msr
};

/// Where the devices are (tests point these elsewhere).
struct WriterPaths {
  std::string driver = "/dev/kvmprobe";
  std::string msr_dir = "/dev/cpu";
};

/// The writer to use, and a second one for putting values back when the first refuses.
struct Writers {
  std::unique_ptr<MsrWriter> primary;
  /// /dev/cpu/N/msr when the primary is the driver and the msr device is there too: the driver
  /// can only set 0x3a bits and clear SVMDIS, so undoing needs the msr device. May be null.
  std::unique_ptr<MsrWriter> fallback;
  std::vector<std::string> notes;  ///< why a path was not taken ("/dev/kvmprobe: allow_writes=0")
};

/// Opens the write path for CPU \a probe_cpu (any online CPU; the first one planned).
/// ErrorKind::missing names every path that is missing.
Result<Writers> open_writers(WriteBackend backend, unsigned probe_cpu, const WriterPaths& paths = {});

}  // namespace kvmprobe::provision
