#include "core/profiles/boot_behaviour.h"

#include "core/model/kernel_profile.h"

namespace kvmprobe {
namespace {

struct Since {
  KernelVersion version;
  bool BootBehaviour::*field;
};

// The first release with each behaviour (commits "x86/cpu: Clear VMX feature flag if VMX is
// not fully enabled" (5.6) and "x86/cpu: Clear SVM feature if disabled by BIOS" (6.8)); read
// in Debian's 6.1 (feat_ctl.c) and 6.12 (feat_ctl.c, amd.c) sources.
constexpr Since kSince[] = {
    {{5, 6, 0}, &BootBehaviour::programs_feat_ctl},
    {{6, 8, 0}, &BootBehaviour::clears_svm_on_svmdis},
};

}  // namespace

BootBehaviour boot_behaviour(const std::string& release) {
  BootBehaviour b;
  b.release = release;
  KernelVersion v;
  if (release.empty() || !parse_kernel_version(release, v)) return b;
  b.known = true;
  for (const auto& s : kSince) b.*s.field = v >= s.version;
  return b;
}

}  // namespace kvmprobe
