// The modelled KVM versions and how one is chosen for a kernel release.
#pragma once

#include <string>
#include <vector>

#include "core/model/kernel_profile.h"
#include "core/model/result.h"

namespace kvmprobe {

/// Every modelled profile, oldest first.
const std::vector<KernelProfile>& all_profiles();

/// The profile chosen for a kernel, and how it was chosen.
struct ProfileChoice {
  const KernelProfile* profile = nullptr;
  std::string note;  ///< "6.1.0-56-amd64 is Debian 6.1.192: profile 6.1 (read from 6.1.192)"
};

/// Choose the profile for a version given as "6.1", "6.1.192", or a kernel release such as
/// "6.1.0-56-amd64". `uname_version` (uname -v / /proc/version) refines Debian-style releases
/// whose release string hides the stable patch level ("Debian 6.1.192-2"). Usage error when
/// the text is not a version or is older than every profile.
Result<ProfileChoice> choose_profile(const std::string& release, const std::string& uname_version = {});

/// A profile by exact id ("6.12"), or nullptr.
const KernelProfile* find_profile(const std::string& id);

}  // namespace kvmprobe
