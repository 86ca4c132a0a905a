// kvmprobe vmx-caps: decode the VMX capability MSRs per CPU, like QEMU's vmxcap but for every
// CPU and against the kernel's required controls.
#include <fmt/format.h>

#include "cli/analysis.h"
#include "cli/commands.h"
#include "core/analyse/analyse.h"
#include "core/analyse/cpu_facts.h"
#include "core/analyse/vmx_config.h"

namespace kvmprobe::cli {
namespace {


nlohmann::json decode_control(std::uint32_t index, std::uint64_t raw, const VmxControl& want) {
  auto allowed0 = static_cast<std::uint32_t>(raw), allowed1 = static_cast<std::uint32_t>(raw >> 32);
  return {{"raw", hex(raw)},
          {"must_be_1", control_bit_names(index, allowed0)},
          {"may_be_1", control_bit_names(index, allowed1)},
          {"kvm_required_missing", control_bit_names(index, want.required & ~allowed1)},
          {"kvm_optional_unavailable", control_bit_names(index, want.optional & ~allowed1)}};
}

}  // namespace

void register_vmx_caps(CLI::App& app, GlobalOptions& g, Runner& run) {
  auto* sub = app.add_subcommand("vmx-caps", "decode the VMX capability MSRs of every CPU");
  sub->callback([&g, &run] {
    run = [&g] {
      auto in = obtain_inputs(g);
      if (!in) return report_error(g, in.error());
      const KernelProfile& p = *in->profile.profile;
      struct Row {
        std::uint32_t index;
        const char* name;
        const VmxControl* want;
      };
      const Row rows[] = {{0x481, "IA32_VMX_PINBASED_CTLS", &p.vmx.pin},
                          {0x482, "IA32_VMX_PROCBASED_CTLS", &p.vmx.primary},
                          {0x48b, "IA32_VMX_PROCBASED_CTLS2", &p.vmx.secondary},
                          {0x483, "IA32_VMX_EXIT_CTLS", &p.vmx.exit},
                          {0x484, "IA32_VMX_ENTRY_CTLS", &p.vmx.entry}};
      nlohmann::json cpus = nlohmann::json::array();
      std::string text;
      bool any = false;
      for (const auto& cpu : in->snap.cpus) {
        nlohmann::json c = {{"cpu", cpu.cpu}};
        text += fmt::format("cpu{}\n", cpu.cpu);
        for (const auto& r : rows) {
          const MsrRead* m = cpu.find_msr(r.index);
          if (!m || !m->ok()) {
            c[r.name] = nullptr;
            text += fmt::format("  {:<26} unreadable\n", r.name);
            continue;
          }
          any = true;
          nlohmann::json d = decode_control(r.index, m->value, *r.want);
          c[r.name] = d;
          text += fmt::format("  {:<26} {}\n    may be 1: {}\n", r.name, hex(m->value), d["may_be_1"].get<std::string>());
          if (!d["kvm_required_missing"].get<std::string>().empty())
            text += fmt::format("    MISSING for KVM {}: {}\n", p.id, d["kvm_required_missing"].get<std::string>());
        }
        VmxConfig vc = negotiate_vmx(cpu, p);
        if (vc.evaluated) {
          // The control words setup_vmcs_config() settles on (vmcs_config.*_ctrl).
          const std::pair<const char*, const NegotiatedControl*> used[] = {
              {"IA32_VMX_PINBASED_CTLS", &vc.pin},   {"IA32_VMX_PROCBASED_CTLS", &vc.primary},
              {"IA32_VMX_PROCBASED_CTLS2", &vc.secondary}, {"IA32_VMX_EXIT_CTLS", &vc.exit},
              {"IA32_VMX_ENTRY_CTLS", &vc.entry}};
          for (const auto& [name, n] : used)
            if (c.contains(name) && !c[name].is_null()) c[name]["kvm_value"] = hex(n->value);
          c["vmcs_size"] = vc.vmcs_size;
          c["vmcs_memtype"] = vc.vmcs_memtype;
          c["ept_vpid_cap"] = hex(vc.ept_vpid_cap);
          c["kvm_failures"] = vc.failures;
          text += fmt::format("  VMCS {} bytes, memory type {}, EPT/VPID cap {}\n", vc.vmcs_size, vc.vmcs_memtype,
                              hex(vc.ept_vpid_cap));
        }
        cpus.push_back(c);
      }
      const CpuRecord* boot = in->snap.boot_cpu();
      if (!any && boot && has(*boot, cpuid::kVmx) == false) {
        fmt::print(stderr, "kvmprobe: error: this {} CPU has no VMX (CPUID.1:ECX[5] clear)\n", vendor_string(*boot));
        if (g.json_mode() != JsonMode::off)
          print_json(g, {{"schema", "kvmprobe.error/1"},
                         {"error", {{"message", "CPU has no VMX"}, {"hint", ""}, {"exit_code", 10}}}});
        return ExitCode::no_support;
      }
      if (!any)
        return report_error(g, make_error(ErrorKind::missing, "no VMX capability MSR could be read",
                                          "needs an Intel CPU with VMX, root and /dev/cpu/N/msr (modprobe msr)"));
      if (g.json_mode() != JsonMode::off)
        print_json(g, {{"schema", "kvmprobe.vmx-caps/1"}, {"profile", p.id}, {"cpus", cpus}});
      else if (!g.quiet)
        fmt::print("{}", text);
      return ExitCode::ok;
    };
  });
}

}  // namespace kvmprobe::cli
