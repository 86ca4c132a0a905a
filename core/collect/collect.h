// collect(): read this host into a Snapshot. It never decides anything (style.md, rule 1).
//
// What it gathers and why is listed in issue 2 ("Collect → Snapshot"); the kernel behaviour
// it prepares for is modelled in core/profiles/ and core/analyse/, whose comments cite the
// kernel source. Every failed read becomes a note or a
// ReadStatus in the Snapshot; only a host whose online-CPU list cannot be read is an Error.
#pragma once

#include <string>

#include "core/collect/sources.h"
#include "core/model/result.h"
#include "core/model/snapshot.h"

namespace kvmprobe::collect {

/// How to collect.
struct CollectOptions {
  /// Which path MSRs are read through.
  enum class Backend {
    automatic,  ///< the companion driver if it opens, else /dev/cpu/N/msr, else none
    driver,     ///< only /dev/kvmprobe; a driver that cannot be used is collect()'s Error
    msr,        ///< only /dev/cpu/N/msr
    none,       ///< do not read MSRs
  };
  /// Root of the file tree read (sysfs, procfs, modprobe.d, /dev nodes); "/" for this host.
  /// uname, klogctl and the pinned cpuid/xgetbv instructions always ask the running kernel.
  std::string root = "/";
  /// Run `modprobe msr` when /dev/cpu/0/msr is missing and we are root (as kvm-ok does).
  bool load_msr_module = true;
  Backend backend = Backend::automatic;
};

/// Reads the host through \a sources. Fails only when the online-CPU list is unreadable or
/// malformed, a required source is missing from \a sources (ErrorKind::internal), or
/// Backend::driver was asked for and the companion driver cannot be used (ErrorKind::missing,
/// the hint says what to do: load it, run as root, load the matching build).
/// sources.kvm and sources.kernel_log are used from a second thread while the calling thread
/// reads the CPUs (and, through the pinning sources, moves between them); neither may share
/// unsynchronised state with the other sources.
Result<Snapshot> collect(const CollectOptions& options, Sources& sources);

/// Reads this host through the real sources (SystemSources) rooted at options.root.
Result<Snapshot> collect(const CollectOptions& options);

}  // namespace kvmprobe::collect
