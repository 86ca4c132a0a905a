// Recorded snapshots and sides for the compat tests.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "core/collect/snapshot_json.h"
#include "core/compat/compat.h"
#include "core/profiles/profiles.h"
#include "tests/support/shared_data.h"

namespace kvmprobe::testing {

/// A snapshot from tests/data/snapshots (fails the test when it does not load).
inline Snapshot recorded(const std::string& name) {
  auto snap = collect::load_snapshot_file(test_data("snapshots").append(name).string());
  EXPECT_TRUE(snap) << name << ": " << (snap ? "" : snap.error().detail);
  return snap ? *snap : Snapshot{};
}

/// The side of `snap` under its own kernel, or under `kernel` when given.
inline compat::CompatSide side_of(const Snapshot& snap, const std::string& label, const std::string& kernel = {},
                                  ParamOverrides overrides = {}) {
  compat::CompatSide s;
  s.snap = &snap;
  s.label = label;
  s.overrides = std::move(overrides);
  auto own = snap.kernel_release.empty() ? Result<ProfileChoice>(make_error(ErrorKind::missing, ""))
                                         : choose_profile(snap.kernel_release, snap.kernel_version);
  auto chosen = kernel.empty() ? own : choose_profile(kernel);
  EXPECT_TRUE(chosen) << label;
  s.profile = chosen ? chosen->profile : nullptr;
  s.own_kernel = own && chosen && own->profile == chosen->profile;
  return s;
}

}  // namespace kvmprobe::testing
