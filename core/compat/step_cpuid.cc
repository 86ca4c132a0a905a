// CPUID: a `-cpu host` guest sees the source's KVM_GET_SUPPORTED_CPUID and may use any of
// those features. CPUID is not part of the migrated state: the destination's QEMU builds it
// from its own command line, so with -cpu host the guest's CPUID changes under it and a
// feature it detected on the source and the destination's KVM lacks faults (#UD) or is lost.
// A guest started with a CPU model both hosts support (with ",enforce" QEMU refuses to start
// where one feature is missing) moves: conditional, never compatible.
#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "core/analyse/step_util.h"
#include "core/compat/compat.h"
#include "core/compat/guest_cpu.h"
#include "core/model/format.h"

namespace kvmprobe::compat {
namespace {


}  // namespace

std::vector<std::string> cpuid_lost(const SideFacts& src, const SideFacts& dst) {
  std::vector<std::string> lost;
  if (!src.cpuid_features || !dst.cpuid_features) return lost;
  std::set_difference(src.cpuid_features->begin(), src.cpuid_features->end(), dst.cpuid_features->begin(),
                      dst.cpuid_features->end(), std::back_inserter(lost));
  return lost;
}

StepResult step_cpuid(const SideFacts& src, const SideFacts& dst) {
  StepResult s = make_step("cpuid", "CPUID features of a -cpu host guest");
  auto count = [](const SideFacts& f) {
    return f.cpuid_features ? fmt::format("{} features", f.cpuid_features->size()) : std::string("unknown");
  };
  s.evidence.push_back({"source KVM_GET_SUPPORTED_CPUID", src.label, count(src),
                        src.cpuid_features ? src.cpuid_source : src.cpuid_missing});
  s.evidence.push_back({"destination KVM_GET_SUPPORTED_CPUID", dst.label, count(dst),
                        dst.cpuid_features ? dst.cpuid_source : dst.cpuid_missing});
  for (const SideFacts* f : {&src, &dst})
    for (const auto& u : f->cpuid_unknown)
      s.evidence.push_back({"assumed", f->label, "", u});
  if (!src.cpuid_features || !dst.cpuid_features) {
    s.status = Status::unknown;
    s.refusal = Refusal::cannot_tell;
    s.summary = fmt::format("the {}'s supported CPUID is unknown: {}", !src.cpuid_features ? "source" : "destination",
                            !src.cpuid_features ? src.cpuid_missing : dst.cpuid_missing);
    s.missing.push_back(s.summary);
    return s;
  }
  std::vector<std::string> lost = cpuid_lost(src, dst);
  if (lost.empty()) {
    s.summary = fmt::format("the destination's KVM supports every CPUID feature the source's does ({} of {})",
                            src.cpuid_features->size(), dst.cpuid_features->size());
    return s;
  }
  s.status = Status::warn;
  s.evidence.push_back({"supported on the source only", "", join(lost, " "),
                        "a -cpu host guest on the source may use them; the destination's KVM cannot give them"});
  s.summary = fmt::format("{} CPUID feature{} of the source the destination's KVM does not support: {}; "
                          "a -cpu host guest cannot move, one started with a CPU model both support can",
                          lost.size(), lost.size() == 1 ? "" : "s", join(lost, " "));
  std::vector<std::string> common;
  std::set_intersection(src.cpuid_features->begin(), src.cpuid_features->end(), dst.cpuid_features->begin(),
                        dst.cpuid_features->end(), std::back_inserter(common));
  s.remedy = fmt::format("start guests with a CPU model both hosts support, e.g. -cpu {} (or the pool's from "
                         "'kvmprobe fleet --baseline')",
                         guest_cpu(common).qemu);
  return s;
}

}  // namespace kvmprobe::compat
