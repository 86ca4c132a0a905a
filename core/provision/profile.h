// The provision profile: a small JSON document with the hardware state to reach and what to
// check once it is reached (docs/provision-profile.md). Parsed strictly: an unknown key, a
// duplicate key, a wrong type or an impossible combination is an error before anything is read
// from or written to the host.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/result.h"
#include "core/provision/plan.h"

namespace kvmprobe::provision {

/// Schema of a profile document.
inline constexpr const char* kProfileSchema = "kvmprobe.provision-profile/1";

/// A set of XSAVE components named in a profile ("avx512" → opmask | ZMM_Hi256 | Hi16_ZMM).
struct Xcr0Want {
  std::uint64_t mask = 0;
  std::vector<std::string> names;  ///< as written in the profile
};

/// What to check after applying; every member is optional.
struct Expectations {
  std::optional<bool> vendor_module_loads;         ///< analyse(): would kvm_intel/kvm_amd load
  std::optional<bool> tsc_scaling;                 ///< KVM would offer TSC scaling
  std::optional<Xcr0Want> host_xcr0_includes;      ///< the host's XCR0 (XGETBV) has these components
  std::optional<Xcr0Want> kvm_xcr0_includes;       ///< KVM's supported XCR0 has these components
  std::vector<std::uint32_t> save_list_includes;   ///< KVM_GET_MSR_INDEX_LIST would contain these MSRs

  bool empty() const {
    return !vendor_module_loads && !tsc_scaling && !host_xcr0_includes && !kvm_xcr0_includes &&
           save_list_includes.empty();
  }
};

/// A parsed profile.
struct ProvisionProfile {
  DesiredState desired;
  Expectations expect;
};

/// Parses a profile document; errors (ErrorKind::bad_input) start with \a name and give the
/// JSON path of the offending member ("desired.vmx.lmce").
Result<ProvisionProfile> parse_profile(std::string_view text, const std::string& name);

/// Reads and parses the profile file \a path (at most 1 MiB).
Result<ProvisionProfile> load_profile(const std::string& path);

/// The XSAVE component names a profile may use, with their XCR0 bits.
struct Xcr0Name {
  const char* name;
  std::uint64_t mask;
};
/// Every accepted name, in bit order.
const std::vector<Xcr0Name>& xcr0_names();

}  // namespace kvmprobe::provision
