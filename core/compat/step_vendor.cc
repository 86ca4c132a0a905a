// Vendor module: vCPU state of kvm_intel, kvm_amd and kvm_pvm is not interchangeable (VMCS vs
// VMCB nested state, vendor MSRs), and the destination's module must load at all.
#include <fmt/format.h>

#include "core/analyse/step_util.h"
#include "core/compat/compat.h"

namespace kvmprobe::compat {
namespace {

std::string shown(const std::string& module) { return module.empty() ? "none" : module; }

}  // namespace

StepResult step_vendor(const SideFacts& src, const SideFacts& dst) {
  StepResult s = make_step("vendor", "KVM vendor module");
  s.evidence.push_back({"source KVM", src.label, shown(src.hypervisor), src.load_reason});
  s.evidence.push_back({"destination KVM", dst.label, shown(dst.hypervisor), dst.load_reason});
  if (src.hypervisor.empty() || dst.hypervisor.empty()) {
    s.status = Status::unknown;
    s.refusal = Refusal::cannot_tell;
    s.summary = fmt::format("no KVM vendor module applies on the {}", src.hypervisor.empty() ? "source" : "destination");
    s.missing.push_back(s.summary + " (CPU vendor unknown or neither VMX nor SVM)");
    return s;
  }
  if (src.hypervisor != dst.hypervisor) {
    fail(s, Refusal::other, fmt::format("{} → {}: vCPU state never moves between vendor modules", src.hypervisor,
                                        dst.hypervisor));
    s.remedy = "move guests only between hosts of the same CPU vendor and KVM module; cold-boot the guest instead";
    return s;
  }
  if (src.hypervisor != "kvm_pvm" && src.would_load == false) {
    s.status = Status::unknown;
    s.refusal = Refusal::cannot_tell;
    s.summary = fmt::format("{} would not load on the source ({}): no guest runs there to move", src.hypervisor,
                            src.load_reason);
    s.missing.push_back(s.summary);
    return s;
  }
  if (dst.hypervisor != "kvm_pvm" && dst.would_load == false) {
    fail(s, Refusal::other, fmt::format("{} would not load on the destination: {}", dst.hypervisor, dst.load_reason));
    s.remedy = "run 'kvmprobe check' on the destination and fix what it names";
    return s;
  }
  if (dst.hypervisor != "kvm_pvm" && !dst.would_load) {
    s.status = Status::unknown;
    s.refusal = Refusal::cannot_tell;
    s.summary = fmt::format("cannot tell whether {} loads on the destination: {}", dst.hypervisor, dst.load_reason);
    s.missing.push_back(s.summary);
    return s;
  }
  s.summary = fmt::format("{} on both hosts", dst.hypervisor);
  if (src.nested && !dst.nested) {
    s.status = Status::warn;
    s.summary += fmt::format("; nested virtualization is on at the source and off at the destination ({}.nested=0)",
                             dst.hypervisor);
    s.evidence.push_back({fmt::format("{}.nested", dst.hypervisor), "", "source 1, destination 0",
                          "a guest that runs its own guests, or whose CPU model has vmx/svm, cannot move"});
    s.remedy = fmt::format("start guests without the {} CPU flag, or set {}.nested=1 on the destination",
                           dst.hypervisor == "kvm_intel" ? "vmx" : "svm", dst.hypervisor);
  }
  return s;
}

}  // namespace kvmprobe::compat
