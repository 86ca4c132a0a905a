// vmx-caps text and JSON (kvmprobe.vmx-caps/1) for a result built by hand. The expected strings
// are what `kvmprobe vmx-caps` printed before the renderer moved into core/render (the form
// tests/cli/output.test.sh and docs/schema/vmx-caps.schema.json accept).
#include "core/render/vmx_caps.h"

#include <gtest/gtest.h>

namespace kvmprobe::render {
namespace {

/// cpu0 of a 6.1 profile: pin-based controls readable and fine (Xeon 8180's values), primary
/// controls missing two KVM requires, the secondary controls unreadable; negotiation ran.
VmxCaps sample() {
  VmxCpuCaps cpu;
  cpu.cpu = 0;
  VmxControlCaps pin{0x481, "IA32_VMX_PINBASED_CTLS", 0xff00000016, "bit 1 | bit 2 | bit 4",
                     "EXT_INTR_MASK | bit 1 | bit 2 | NMI_EXITING | bit 4 | VIRTUAL_NMIS | VMX_PREEMPTION_TIMER | POSTED_INTR",
                     "", "", 0xff};
  VmxControlCaps primary{0x482, "IA32_VMX_PROCBASED_CTLS", 0x7fffffff00000000, "", "(many)",
                         "HLT_EXITING | INVLPG_EXITING", "ACTIVATE_TERTIARY_CONTROLS", 0x7fffffff};
  VmxControlCaps secondary{0x48b, "IA32_VMX_PROCBASED_CTLS2"};
  cpu.controls = {pin, primary, secondary};
  cpu.negotiated = true;
  cpu.vmcs_size = 1024;
  cpu.vmcs_memtype = 6;
  cpu.ept_vpid_cap = 0xf0106734141;
  cpu.kvm_failures = {"required control missing"};
  VmxCpuCaps other;  // a CPU whose MSRs could not be read at all: no VMCS line, no negotiation keys
  other.cpu = 3;
  other.controls = {{0x481, "IA32_VMX_PINBASED_CTLS"}};
  return VmxCaps{"6.1", VmxCapsOutcome::decoded, "GenuineIntel", {cpu, other}};
}

TEST(RenderVmxCaps, TextListsEachControlWithWhatKvmMisses) {
  EXPECT_EQ(vmx_caps_text(sample()),
            "cpu0\n"
            "  IA32_VMX_PINBASED_CTLS     0xff00000016\n"
            "    may be 1: EXT_INTR_MASK | bit 1 | bit 2 | NMI_EXITING | bit 4 | VIRTUAL_NMIS | VMX_PREEMPTION_TIMER | POSTED_INTR\n"
            "  IA32_VMX_PROCBASED_CTLS    0x7fffffff00000000\n"
            "    may be 1: (many)\n"
            "    MISSING for KVM 6.1: HLT_EXITING | INVLPG_EXITING\n"
            "  IA32_VMX_PROCBASED_CTLS2   unreadable\n"
            "  VMCS 1024 bytes, memory type 6, EPT/VPID cap 0xf0106734141\n"
            "cpu3\n"
            "  IA32_VMX_PINBASED_CTLS     unreadable\n");
}

TEST(RenderVmxCaps, JsonHasOneObjectPerCpuWithNullForUnreadableMsrs) {
  nlohmann::json expected = nlohmann::json::parse(R"J({
    "schema": "kvmprobe.vmx-caps/1", "profile": "6.1",
    "cpus": [
      {"cpu": 0,
       "IA32_VMX_PINBASED_CTLS": {"raw": "0xff00000016", "must_be_1": "bit 1 | bit 2 | bit 4",
         "may_be_1": "EXT_INTR_MASK | bit 1 | bit 2 | NMI_EXITING | bit 4 | VIRTUAL_NMIS | VMX_PREEMPTION_TIMER | POSTED_INTR",
         "kvm_required_missing": "", "kvm_optional_unavailable": "", "kvm_value": "0xff"},
       "IA32_VMX_PROCBASED_CTLS": {"raw": "0x7fffffff00000000", "must_be_1": "", "may_be_1": "(many)",
         "kvm_required_missing": "HLT_EXITING | INVLPG_EXITING",
         "kvm_optional_unavailable": "ACTIVATE_TERTIARY_CONTROLS", "kvm_value": "0x7fffffff"},
       "IA32_VMX_PROCBASED_CTLS2": null,
       "vmcs_size": 1024, "vmcs_memtype": 6, "ept_vpid_cap": "0xf0106734141",
       "kvm_failures": ["required control missing"]},
      {"cpu": 3, "IA32_VMX_PINBASED_CTLS": null}
    ]})J");
  EXPECT_EQ(vmx_caps_json(sample()), expected) << vmx_caps_json(sample()).dump(2);
}

TEST(RenderVmxCaps, ReadableControlWithoutNegotiationHasNoKvmValue) {
  VmxCpuCaps cpu;
  cpu.controls = {{0x484, "IA32_VMX_ENTRY_CTLS", 0x3ffff000011ff, "a", "b", "", ""}};
  nlohmann::json j = vmx_caps_json(VmxCaps{"5.10", VmxCapsOutcome::decoded, "", {cpu}});
  EXPECT_FALSE(j["cpus"][0]["IA32_VMX_ENTRY_CTLS"].contains("kvm_value"));
  EXPECT_FALSE(j["cpus"][0].contains("vmcs_size"));
  EXPECT_EQ(vmx_caps_text(VmxCaps{"5.10", VmxCapsOutcome::decoded, "", {cpu}}),
            "cpu0\n  IA32_VMX_ENTRY_CTLS        0x3ffff000011ff\n    may be 1: b\n");
}

}  // namespace
}  // namespace kvmprobe::render
