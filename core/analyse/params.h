// Module parameter values KVM would use, and where each came from (issue 3; defaults from the
// module_param() declarations of arch/x86/kvm/x86.c, vmx/vmx.c, svm/svm.c).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "core/model/kernel_profile.h"
#include "core/model/snapshot.h"

namespace kvmprobe {

/// One effective parameter value.
struct ParamValue {
  std::string value;   ///< as the kernel prints it ("Y", "1", "0")
  std::string origin;  ///< "default (6.1)", "loaded module", "kernel command line", "/etc/modprobe.d/x.conf", "--param"
};

/// Every parameter of the profile with its effective value.
class EffectiveParams {
 public:
  std::map<std::string, ParamValue> values;  ///< "kvm_amd.nested" -> value

  /// Boolean reading of a parameter (Y/y/1/on/true); `fallback` when unknown to the profile.
  bool flag(const std::string& name, bool fallback = false) const;
  /// Integer reading; `fallback` when unknown or not a number.
  long number(const std::string& name, long fallback = 0) const;
  /// The value, or nullptr.
  const ParamValue* find(const std::string& name) const;
};

/// `--param kvm_amd.nested=0` style overrides, name -> value.
using ParamOverrides = std::map<std::string, std::string>;

/// Resolve every parameter the profile knows: --param override, then the live value of a loaded
/// module, then the kernel command line and modprobe.d (as recorded in the snapshot), then the
/// profile's default. Parameters the snapshot or overrides name but the profile does not know are
/// kept too (origin says so).
EffectiveParams resolve_params(const Snapshot& snap, const KernelProfile& profile,
                               const ParamOverrides& overrides);

/// Parse "kvm_amd.nested=0" into (name, value); false on a malformed item.
bool parse_param_override(const std::string& text, std::string& name, std::string& value);

}  // namespace kvmprobe
