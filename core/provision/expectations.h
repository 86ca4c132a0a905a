// check_expectations(): the "expect" part of a provision profile, checked against a snapshot
// taken after applying. Pure: analyse() and the MSR-list model answer every question.
#pragma once

#include <string>
#include <vector>

#include "core/model/kernel_profile.h"
#include "core/model/snapshot.h"
#include "core/provision/profile.h"

namespace kvmprobe::provision {

/// How one expectation fared.
enum class ExpectStatus { met, unmet, unknown };
/// "met", "unmet", "unknown".
const char* to_string(ExpectStatus s);

/// One expectation and what was found.
struct ExpectationResult {
  std::string id;      ///< the profile key: "tsc_scaling", "save_list_includes" ...
  std::string want;    ///< "true", "avx512", "0x3a 0x10a"
  std::string got;     ///< what the host has
  ExpectStatus status = ExpectStatus::unknown;
  std::string detail;  ///< why, one line
};

/// Checks every expectation of \a expect, in profile-key order.
std::vector<ExpectationResult> check_expectations(const Snapshot& snap, const KernelProfile& profile,
                                                  const Expectations& expect);

}  // namespace kvmprobe::provision
