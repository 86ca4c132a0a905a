// XCR0/XSS: XSAVE features KVM supports on the source but not on the destination make
// KVM_SET_XSAVE / KVM_SET_XCRS fail there (kvm_vcpu_ioctl_x86_set_xsave → fpu_copy_uabi_to_guest_fpstate
// rejects features outside the guest's permitted set; __kvm_set_xcr rejects XCR0 bits outside
// the guest-supported mask).
#include <fmt/format.h>

#include "core/analyse/step_util.h"
#include "core/analyse/xcr0.h"
#include "core/compat/compat.h"
#include "core/model/format.h"

namespace kvmprobe::compat {
namespace {


}  // namespace

StepResult step_xcr0(const SideFacts& src, const SideFacts& dst) {
  StepResult s = make_step("xcr0", "XSAVE state (supported XCR0 / XSS)");
  s.evidence.push_back({"source supported XCR0", src.label, hex_or_unknown(src.supported_xcr0),
                        src.supported_xcr0 ? xfeature_names(*src.supported_xcr0) + "; " + src.xcr0_source : ""});
  s.evidence.push_back({"destination supported XCR0", dst.label, hex_or_unknown(dst.supported_xcr0),
                        dst.supported_xcr0 ? xfeature_names(*dst.supported_xcr0) + "; " + dst.xcr0_source : ""});
  s.evidence.push_back({"source supported XSS", src.label, hex_or_unknown(src.supported_xss), ""});
  s.evidence.push_back({"destination supported XSS", dst.label, hex_or_unknown(dst.supported_xss), ""});
  if (src.xsave_size && dst.xsave_size)
    s.evidence.push_back({"XSAVE area (CPUID 0xD)", "", fmt::format("{} → {} bytes", *src.xsave_size, *dst.xsave_size),
                          *dst.xsave_size > *src.xsave_size ? "grows on the destination" : "no growth"});
  if (!src.supported_xcr0 || !dst.supported_xcr0) {
    s.status = Status::unknown;
    s.refusal = Refusal::cannot_tell;
    s.summary = fmt::format("supported XCR0 of the {} is unknown (host XCR0 not recorded)",
                            !src.supported_xcr0 ? "source" : "destination");
    s.missing.push_back(s.summary);
    return s;
  }
  std::uint64_t lost = *src.supported_xcr0 & ~*dst.supported_xcr0;
  std::uint64_t lost_xss = src.supported_xss && dst.supported_xss ? *src.supported_xss & ~*dst.supported_xss : 0;
  if (lost || lost_xss) {
    fail(s, Refusal::other,
         lost ? fmt::format("XCR0 bits {:#x} ({}) are supported on the source but not on the destination", lost,
                            xfeature_names(lost))
              : fmt::format("XSS bits {:#x} ({}) are supported on the source but not on the destination", lost_xss,
                            xfeature_names(lost_xss)));
    s.remedy = "give guests a CPU model without these XSAVE features (QEMU: a named model, or -cpu host,-<feature>)";
    return s;
  }
  if (!src.supported_xss || !dst.supported_xss) {
    s.status = Status::unknown;
    s.refusal = Refusal::cannot_tell;
    s.summary = "supported XSS unknown (IA32_XSS not recorded)";
    s.missing.push_back(s.summary);
    return s;
  }
  s.summary = fmt::format("the destination supports every XSAVE feature of the source (XCR0 {:#x} ⊆ {:#x})",
                          *src.supported_xcr0, *dst.supported_xcr0);
  if (src.xsave_size && dst.xsave_size && *dst.xsave_size > *src.xsave_size)
    s.summary += fmt::format("; its XSAVE area is larger ({} → {} bytes)", *src.xsave_size, *dst.xsave_size);
  return s;
}

}  // namespace kvmprobe::compat
