#include "core/provision/plan.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/analyse/feature_control.h"
#include "core/model/format.h"

namespace kvmprobe::provision {

const char* to_string(CpuAction a) {
  switch (a) {
    case CpuAction::done: return "done";
    case CpuAction::change: return "change";
    case CpuAction::locked_off: return "locked_off";
    case CpuAction::unreadable: return "unreadable";
    case CpuAction::not_selected: return "not_selected";
  }
  return "unreadable";
}

const char* to_string(PlanVerdict v) {
  switch (v) {
    case PlanVerdict::nothing_to_do: return "nothing_to_do";
    case PlanVerdict::apply: return "apply";
    case PlanVerdict::no_support: return "no_support";
    case PlanVerdict::locked_off: return "locked_off";
    case PlanVerdict::cannot_tell: return "cannot_tell";
  }
  return "cannot_tell";
}

std::vector<unsigned> Plan::cpus_with(CpuAction a) const {
  std::vector<unsigned> out;
  for (const auto& c : cpus)
    if (c.action == a) out.push_back(c.cpu);
  return out;
}

bool Plan::locks() const {
  if (!lock_set) return false;
  for (const auto& c : cpus)
    if (c.action == CpuAction::change && (c.new_value & lock_set) && c.old_value && !(*c.old_value & lock_set))
      return true;
  return false;
}

namespace {


inline constexpr std::uint32_t kMcgCap = 0x179;         ///< IA32_MCG_CAP
inline constexpr std::uint64_t kMcgLmceP = 1ull << 27;  ///< MCG_LMCE_P: the CPU supports LMCE

/// One optional IA32_FEATURE_CONTROL bit: its name, the CPUID feature and the firmware option.
struct FeatBit {
  std::uint64_t bit;
  const char* name;
  const char* firmware_option;
};

constexpr FeatBit kFeatBits[] = {
    {feat_ctl::kVmxOutsideSmx, "VMX outside SMX", "Intel Virtualization Technology (VT-x)"},
    {feat_ctl::kVmxInsideSmx, "VMX inside SMX", "Intel TXT (VT-x inside SMX)"},
    {feat_ctl::kSgx, "SGX", "Software Guard Extensions (SGX): Enabled"},
    {feat_ctl::kSgxLc, "SGX launch control", "SGX Launch Control / Flexible Launch Control: Unlocked"},
    {feat_ctl::kLmce, "LMCE", "Local Machine Check Exception (LMCE)"},
};

std::vector<std::string> bit_names(std::uint64_t bits) {
  std::vector<std::string> out;
  for (const auto& b : kFeatBits)
    if (bits & b.bit) out.push_back(b.name);
  return out;
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

/// Sets bit \a b into \a set per \a w; false (with the reason in \a plan) when Want::yes is
/// impossible on this CPU.
bool want_bit(Want w, std::optional<bool> has, std::uint64_t b, const char* what, std::uint64_t& set, Plan& plan) {
  if (w == Want::no) return true;
  if (has == true) {
    set |= b;
    return true;
  }
  if (w == Want::if_supported) {
    plan.notes.push_back(fmt::format("{} not requested: the CPU {}", bit_names(b).front(),
                                     has ? fmt::format("has no {}", what) : fmt::format("may lack {} (unknown)", what)));
    return true;
  }
  if (!has) {  // Want::yes and unknown: try; a CPU without it faults the write, which is rolled back
    set |= b;
    plan.notes.push_back(fmt::format("{} support unknown ({} not recorded): the write faults if the CPU lacks it",
                                     what, what));
    return true;
  }
  plan.verdict = PlanVerdict::no_support;
  plan.summary = fmt::format("the profile wants {} but the CPU has no {}", bit_names(b).front(), what);
  plan.remedy = "remove it from the profile for this host";
  return false;
}

/// The CPU's read of MSR \a index; nullptr, and the CPU marked unreadable, when it is missing
/// or failed.
const MsrRead* readable_msr(const CpuRecord& cpu, std::uint32_t index, CpuPlan& p) {
  const MsrRead* m = cpu.find_msr(index);
  if (m && m->ok()) return m;
  p.action = CpuAction::unreadable;
  p.missing.push_back(m ? fmt::format("rdmsr {:#x} on cpu{} failed (errno {})", index, cpu.cpu, m->error)
                        : fmt::format("{:#x} was not read on cpu{}", index, cpu.cpu));
  return nullptr;
}

void plan_cpu_vmx(const CpuRecord& cpu, std::uint64_t set, std::uint64_t lock, CpuPlan& p) {
  const MsrRead* m = readable_msr(cpu, kFeatureControl, p);
  if (!m) return;
  std::uint64_t v = m->value;
  p.old_value = v;
  p.state = feat_ctl::describe(v);
  if (v & feat_ctl::kLocked) {
    p.enabled_value = p.new_value = v;
    std::uint64_t lacking = set & ~v;
    p.action = lacking ? CpuAction::locked_off : CpuAction::done;
    p.missing = bit_names(lacking);
    return;
  }
  p.enabled_value = v | set;
  p.new_value = p.enabled_value | lock;
  p.action = p.new_value == v ? CpuAction::done : CpuAction::change;
}

void plan_cpu_svm(const CpuRecord& cpu, CpuPlan& p) {
  const MsrRead* m = readable_msr(cpu, kVmCr, p);
  if (!m) return;
  std::uint64_t v = m->value;
  p.old_value = v;
  p.state = vm_cr::describe(v);
  p.enabled_value = p.new_value = v & ~vm_cr::kSvmDisable;
  if (!(v & vm_cr::kSvmDisable)) {
    p.action = CpuAction::done;
  } else if (v & vm_cr::kLock) {
    p.action = CpuAction::locked_off;
    p.enabled_value = p.new_value = v;
    p.missing.push_back("SVMDIS clear");
  } else {
    p.action = CpuAction::change;
  }
}

/// The wanted 0x3a bits for this CPU, or false with plan.verdict set.
bool vmx_bits(const Snapshot& snap, const CpuRecord& boot, const VmxWant& w, std::uint64_t& set, Plan& plan) {
  set = feat_ctl::kVmxOutsideSmx;
  Want smx = w.smx;
  if (tboot_active(snap)) {
    // feat_ctl.c (5.6+) and KVM ≤5.5 both need VMX inside SMX under a TXT launch
    // (arch/x86/kernel/cpu/feat_ctl.c: init_ia32_feat_ctl(), tboot_enabled() (6.1, 6.12)).
    smx = Want::yes;
    plan.notes.push_back("tboot is active: VMX inside SMX is set too, as the kernel's feat_ctl.c does");
  }
  std::optional<bool> lmce;
  if (const MsrRead* m = boot.find_msr(kMcgCap); m && m->ok()) lmce = (m->value & kMcgLmceP) != 0;
  return want_bit(smx, has(boot, cpuid::kSmx), feat_ctl::kVmxInsideSmx, "SMX (CPUID.1:ECX[6])", set, plan) &&
         want_bit(w.sgx, has(boot, cpuid::kSgx), feat_ctl::kSgx, "SGX (CPUID.7.0:EBX[2])", set, plan) &&
         want_bit(w.sgx_lc, has(boot, cpuid::kSgxLc), feat_ctl::kSgxLc, "SGX_LC (CPUID.7.0:ECX[30])", set, plan) &&
         want_bit(w.lmce, lmce, feat_ctl::kLmce, "LMCE (IA32_MCG_CAP[27])", set, plan);
}

/// A CPU is locked without a wanted bit: say which bits, who most likely locked it, and the fix.
void explain_locked_off(const Snapshot& snap, Plan& plan) {
  auto locked = plan.cpus_with(CpuAction::locked_off), changing = plan.cpus_with(CpuAction::change);
  plan.verdict = PlanVerdict::locked_off;
  if (plan.msr == kVmCr) {
    plan.summary = fmt::format("VM_CR is locked with SVMDIS set on CPUs {}", cpu_list(locked));
    plan.who_locked = "firmware (Linux never sets VM_CR.LOCK)";
    plan.remedy = "enable 'SVM Mode' (AMD-V) in the firmware setup, save and power-cycle: VM_CR is locked until reset";
  } else {
    std::uint64_t lacking = 0;
    for (const auto& c : plan.cpus)
      if (c.action == CpuAction::locked_off && c.old_value) lacking |= plan.enable_set & ~*c.old_value;
    plan.summary = fmt::format("IA32_FEATURE_CONTROL is locked without {} on CPUs {}", join(bit_names(lacking)),
                               cpu_list(locked));
    const CpuPlan* first = nullptr;
    for (const auto& c : plan.cpus)
      if (c.action == CpuAction::locked_off && c.old_value && !first) first = &c;
    plan.who_locked = first ? feat_ctl::who_locked(*first->old_value, boot_behaviour(snap.kernel_release),
                                                   tboot_active(snap))
                            : "unknown: no locked CPU's value was read";
    std::vector<std::string> options;
    for (const auto& b : kFeatBits)
      if (lacking & b.bit) options.push_back(fmt::format("'{}'", b.firmware_option));
    plan.remedy = fmt::format("enable {} in the firmware setup, save and power-cycle: the MSR stays locked until "
                              "reset, so no write can change it",
                              join(options, " and "));
  }
  if (!changing.empty())
    plan.notes.push_back(fmt::format("CPUs {} could be changed, but are left alone: KVM refuses CPUs that differ",
                                     cpu_list(changing)));
}

/// What the user must know before applying: the lock, unselected CPUs, a kernel that decided at boot.
void add_warnings(const Snapshot& snap, Plan& plan) {
  bool intel = plan.msr == kFeatureControl;
  auto skipped = plan.cpus_with(CpuAction::not_selected);
  bool differ = false;
  for (const auto& c : plan.cpus)
    if (c.action == CpuAction::not_selected && c.old_value)
      differ |= intel ? (*c.old_value & plan.enable_set) != plan.enable_set : (*c.old_value & vm_cr::kSvmDisable) != 0;
  if (differ)
    plan.warnings.push_back(fmt::format("CPUs {} are not selected and stay as they are: KVM refuses to load when "
                                        "CPUs differ (\"feature inconsistency\")",
                                        cpu_list(skipped)));
  const CpuRecord& boot = snap.cpus.front();
  if (intel) {
    if (plan.locks())
      plan.warnings.push_back("locking lasts until the next reset: afterwards only the firmware setup and a power "
                              "cycle can change IA32_FEATURE_CONTROL");
    else if (!plan.lock_set)
      plan.notes.push_back("left unlocked: VMXON needs the lock bit; KVM up to 5.5 sets it itself when it first "
                           "enables VMX");
    if (boot_behaviour(snap.kernel_release).programs_feat_ctl && boot.has_linux_flag("vmx") == false)
      plan.warnings.push_back(fmt::format("kernel {} decided at boot that VMX is off (the 'vmx' flag is cleared): "
                                          "kvm_intel keeps refusing until the next boot",
                                          snap.kernel_release));
  } else {
    plan.notes.push_back("VM_CR.LOCK is never set: only firmware locks VM_CR");
    if (boot_behaviour(snap.kernel_release).clears_svm_on_svmdis && boot.has_linux_flag("svm") == false)
      plan.warnings.push_back(fmt::format("kernel {} cleared the 'svm' flag at boot because SVMDIS was set: kvm_amd "
                                          "keeps refusing until the next boot, and firmware sets SVMDIS again at reset",
                                          snap.kernel_release));
  }
}

/// The verdict and summary from the per-CPU actions.
void decide(const Snapshot& snap, Plan& plan) {
  if (!plan.cpus_with(CpuAction::locked_off).empty()) return explain_locked_off(snap, plan);
  if (auto unreadable = plan.cpus_with(CpuAction::unreadable); !unreadable.empty()) {
    plan.verdict = PlanVerdict::cannot_tell;
    plan.summary = fmt::format("{} not readable on CPUs {}", plan.msr_name, cpu_list(unreadable));
    plan.remedy = "run as root with the msr module (modprobe msr) or the kvmprobe driver loaded";
    return;
  }
  bool intel = plan.msr == kFeatureControl;
  auto changing = plan.cpus_with(CpuAction::change), done = plan.cpus_with(CpuAction::done);
  if (changing.empty()) {
    plan.verdict = PlanVerdict::nothing_to_do;
    plan.summary = intel ? fmt::format("nothing to do: VMX is enabled{} on every CPU",
                                       plan.lock_set ? " and locked" : "")
                         : "nothing to do: VM_CR.SVMDIS is clear on every CPU";
    return;
  }
  plan.verdict = PlanVerdict::apply;
  plan.summary = fmt::format("{} on CPUs {}{}",
                             intel ? fmt::format("enable {}{}", join(bit_names(plan.enable_set)),
                                                 plan.lock_set ? ", then lock" : " (unlocked)")
                                   : std::string("clear VM_CR.SVMDIS"),
                             cpu_list(changing),
                             done.empty() ? "" : fmt::format("; CPUs {} already done", cpu_list(done)));
  add_warnings(snap, plan);
}

/// Whether the boot CPU has VMX/SVM in CPUID; when not (or not recorded) the plan's verdict says so.
bool has_feature(const CpuRecord& boot, bool intel, Plan& plan) {
  auto feature = has(boot, intel ? cpuid::kVmx : cpuid::kSvm);
  if (!feature) {
    plan.verdict = PlanVerdict::cannot_tell;
    plan.summary = fmt::format("{} not recorded", intel ? cpuid::kVmx.name : cpuid::kSvm.name);
    return false;
  }
  if (!*feature) {
    plan.verdict = PlanVerdict::no_support;
    plan.summary = fmt::format("the CPU has no {} ({} is clear): nothing can enable it", intel ? "VMX" : "SVM",
                               intel ? cpuid::kVmx.name : cpuid::kSvm.name);
    plan.remedy = "a CPU (or, in a VM, a virtual CPU model) with hardware virtualization is needed";
    return false;
  }
  return true;
}

/// What each CPU needs (CPUs outside --cpus are left as they are).
void plan_cpus(const Snapshot& snap, bool intel, const PlanOptions& options, Plan& plan) {
  for (const auto& cpu : snap.cpus) {
    CpuPlan p;
    p.cpu = cpu.cpu;
    if (intel)
      plan_cpu_vmx(cpu, plan.enable_set, plan.lock_set, p);
    else
      plan_cpu_svm(cpu, p);
    if (options.cpus && std::find(options.cpus->begin(), options.cpus->end(), cpu.cpu) == options.cpus->end())
      p.action = CpuAction::not_selected;
    plan.cpus.push_back(std::move(p));
  }
}

}  // namespace

Result<Plan> make_plan(const Snapshot& snap, const DesiredState& want,
                       const PlanOptions& options) {
  Plan plan;
  const CpuRecord* boot = snap.boot_cpu();
  if (!boot) {
    plan.summary = "the snapshot has no CPU";
    return plan;
  }
  if (options.cpus)
    for (unsigned c : *options.cpus)
      if (std::none_of(snap.cpus.begin(), snap.cpus.end(), [&](const CpuRecord& r) { return r.cpu == c; }))
        return make_error(ErrorKind::usage, fmt::format("--cpus: CPU {} is not online", c),
                          fmt::format("online CPUs: {}", cpu_list(snap.online_cpus)));
  plan.vendor = cpu_vendor(*boot);
  bool intel = plan.vendor == Vendor::intel || plan.vendor == Vendor::centaur || plan.vendor == Vendor::zhaoxin;
  bool amd = plan.vendor == Vendor::amd || plan.vendor == Vendor::hygon;
  if (!intel && !amd) {
    plan.verdict = plan.vendor == Vendor::unknown ? PlanVerdict::cannot_tell : PlanVerdict::no_support;
    plan.summary = plan.vendor == Vendor::unknown ? "CPU vendor unknown (CPUID leaf 0 not recorded)"
                                                  : fmt::format("CPU vendor '{}' has neither VMX nor SVM controls",
                                                                vendor_string(*boot));
    return plan;
  }
  if (intel && !want.vmx)
    return make_error(ErrorKind::bad_input, fmt::format("the desired state has no 'vmx' section for this {} CPU",
                                                        to_string(plan.vendor)),
                      "add \"vmx\": {\"enabled\": true} to the profile's \"desired\"");
  if (amd && !want.svm)
    return make_error(ErrorKind::bad_input, fmt::format("the desired state has no 'svm' section for this {} CPU",
                                                        to_string(plan.vendor)),
                      "add \"svm\": {\"enabled\": true} to the profile's \"desired\"");
  plan.msr = intel ? kFeatureControl : kVmCr;
  plan.msr_name = intel ? "IA32_FEATURE_CONTROL (0x3a)" : "VM_CR (0xc0010114)";
  if (!has_feature(*boot, intel, plan)) return plan;
  if (intel) {
    if (!vmx_bits(snap, *boot, *want.vmx, plan.enable_set, plan)) return plan;
    plan.lock_set = want.vmx->lock ? feat_ctl::kLocked : 0;
  } else {
    plan.enable_clear = vm_cr::kSvmDisable;
  }
  plan_cpus(snap, intel, options, plan);
  decide(snap, plan);
  return plan;
}

}  // namespace kvmprobe::provision
