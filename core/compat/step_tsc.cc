// TSC: the guest keeps the source's TSC rate. On the destination KVM_SET_TSC_KHZ(source kHz)
// (x86.c: kvm_set_tsc_khz / set_tsc_khz) is within kvm.tsc_tolerance_ppm, scaled by hardware,
// run in catch-up mode (faster host, no scaling), or refused (slower host, no scaling:
// "user requested TSC rate below hardware speed"; or beyond kvm_max_guest_tsc_khz).
#include <fmt/format.h>

#include "core/analyse/step_util.h"
#include "core/compat/compat.h"

namespace kvmprobe::compat {

StepResult step_tsc(const SideFacts& src, const SideFacts& dst) {
  StepResult s = make_step("tsc", "TSC frequency");
  auto khz = [](const std::optional<std::uint64_t>& v) { return v ? fmt::format("{} kHz", *v) : "unknown"; };
  s.evidence.push_back({"source tsc_khz", src.label, khz(src.tsc_khz), src.tsc_source});
  s.evidence.push_back({"destination tsc_khz", dst.label, khz(dst.tsc_khz), dst.tsc_source});
  s.evidence.push_back({"destination TSC scaling", dst.label, dst.tsc.has_control ? "yes" : "no",
                        dst.tsc.has_control ? fmt::format("{} fractional bits, max ratio {:#x}, max guest {}",
                                                          dst.tsc.frac_bits, dst.tsc.max_ratio, khz(dst.tsc.max_guest_khz))
                                            : dst.tsc_control_reason});
  if (!src.tsc_khz || !dst.tsc_khz) {
    s.status = Status::unknown;
    s.refusal = Refusal::cannot_tell;
    s.summary = fmt::format("the {}'s TSC frequency is unknown", !src.tsc_khz ? "source" : "destination");
    s.missing.push_back(s.summary);
    return s;
  }
  GuestTscAnswer a = guest_tsc(dst.tsc, *dst.profile, *dst.tsc_khz, *src.tsc_khz, dst.tsc_tolerance_ppm);
  s.evidence.push_back({"KVM_SET_TSC_KHZ on the destination", "", fmt::format("{} kHz", *src.tsc_khz), a.explanation});
  switch (a.kind) {
    case GuestTscAnswer::Kind::within_tolerance:
      s.summary = fmt::format("{} kHz → {} kHz: {}", *src.tsc_khz, *dst.tsc_khz, a.explanation);
      return s;
    case GuestTscAnswer::Kind::scaled:
      s.summary = fmt::format("{} kHz → {} kHz: {}", *src.tsc_khz, *dst.tsc_khz, a.explanation);
      return s;
    case GuestTscAnswer::Kind::catchup:
      s.status = Status::warn;
      s.summary = fmt::format("{} kHz → {} kHz: the destination can keep the guest's rate only by catch-up; guests "
                              "that need a stable TSC (invtsc) cannot move",
                              *src.tsc_khz, *dst.tsc_khz);
      s.remedy = "move invtsc guests only between hosts within the tolerance, or to hosts with TSC scaling";
      return s;
    case GuestTscAnswer::Kind::impossible:
      break;
  }
  fail(s, Refusal::other, fmt::format("{} kHz → {} kHz: {}", *src.tsc_khz, *dst.tsc_khz, a.explanation));
  if (!dst.tsc.has_control && *src.tsc_khz < *dst.tsc_khz)
    s.kvm_log.push_back("kvm: user requested TSC rate below hardware speed");
  s.remedy = "choose a destination with TSC scaling or the same TSC frequency (within kvm.tsc_tolerance_ppm), "
             "or raise kvm.tsc_tolerance_ppm on the destination";
  return s;
}

}  // namespace kvmprobe::compat
