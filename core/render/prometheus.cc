#include "core/render/prometheus.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>

namespace kvmprobe::render {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

/// Label values escaped as the exposition format asks: backslash, double quote, newline.
std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

/// Writes families in order; each family's HELP and TYPE come once, before its samples.
class Writer {
 public:
  /// Start a family; its HELP and TYPE are written with its first sample (none without one).
  void family(const std::string& name, const std::string& help, const char* type = "gauge") {
    header_ = fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    name_ = name;
  }
  void sample(double v, const Labels& labels = {}) { add(labels, fmt::format("{}", v)); }
  void sample(std::uint64_t v, const Labels& labels = {}) { add(labels, fmt::format("{}", v)); }
  void sample(unsigned v, const Labels& labels = {}) { sample(static_cast<std::uint64_t>(v), labels); }
  void sample(bool v, const Labels& labels = {}) { sample(static_cast<std::uint64_t>(v), labels); }
  /// The family and one sample.
  template <typename T>
  void gauge(const std::string& name, const std::string& help, T v, const Labels& labels = {}) {
    family(name, help);
    sample(v, labels);
  }
  /// A yes/no answer: NAME when known, and always NAME_unknown (1 when it cannot be told), so
  /// that "cannot tell" never reads as "no" and alerts can still fire on it.
  void answer(const std::string& name, const std::string& help, std::optional<bool> v, const Labels& labels = {}) {
    if (v) gauge(name, help + " (1 yes, 0 no; absent when it cannot be told)", *v, labels);
    gauge(name + "_unknown", "1 when " + name + " cannot be told from the evidence", !v.has_value(), labels);
  }
  std::string take() { return std::move(out_); }

 private:
  void add(const Labels& labels, const std::string& value) {
    out_ += header_;
    header_.clear();
    std::string l;
    for (const auto& [k, v] : labels) l += fmt::format("{}{}=\"{}\"", l.empty() ? "" : ",", k, escape(v));
    out_ += l.empty() ? fmt::format("{} {}\n", name_, value) : fmt::format("{}{{{}}} {}\n", name_, l, value);
  }
  std::string out_, name_, header_;
};

/// Seconds since the epoch of "YYYY-MM-DDTHH:MM:SSZ"; nullopt for anything else.
std::optional<std::int64_t> epoch_seconds(const std::string& iso) {
  int y, mo, d, h, mi, s;
  char z = 0;
  if (std::sscanf(iso.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s, &z) != 7 || z != 'Z') return std::nullopt;
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
  return sys_days{ymd}.time_since_epoch() / seconds{1} + h * 3600 + mi * 60 + s;
}

/// A label value for where the TSC frequency came from (TscSource).
const char* source_id(TscSource s) {
  switch (s) {
    case TscSource::kvm_vcpu: return "kvm_vcpu";
    case TscSource::driver: return "driver";
    case TscSource::sysfs: return "sysfs";
    case TscSource::kernel_log: return "kernel_log";
    case TscSource::cpuid_15h: return "cpuid_15h";
    case TscSource::cpuid_16h: return "cpuid_16h";
    case TscSource::cpuinfo_mhz: return "cpuinfo_mhz";
    case TscSource::hypervisor_leaf: return "hypervisor_leaf";
  }
  return "unknown";
}

constexpr Status kStatuses[] = {Status::ok, Status::warn, Status::fail, Status::unknown, Status::skipped};
constexpr Refusal kRefusals[] = {Refusal::none, Refusal::no_support, Refusal::disabled_by_firmware, Refusal::other,
                                 Refusal::cannot_tell};

/// One-hot status of every step: a series per (step, status), 1 for the step's status.
void step_status(Writer& w, const std::string& name, const std::string& help, const std::vector<StepResult>& steps,
                 const Labels& extra = {}) {
  w.family(name, help);
  for (const auto& s : steps)
    for (Status st : kStatuses) {
      Labels l = extra;
      l.push_back({"step", s.id});
      l.push_back({"status", to_string(st)});
      w.sample(s.status == st, l);
    }
}

void check_lists(Writer& w, const HostMetrics& h) {
  const std::pair<const char*, const KnownMsrList*> lists[] = {{"save", &h.save_list}, {"feature", &h.feature_list}};
  w.family("kvmprobe_msr_list_entries",
           "MSRs in KVM's list: save = KVM_GET_MSR_INDEX_LIST, feature = KVM_GET_MSR_FEATURE_INDEX_LIST "
           "(absent when it cannot be told)");
  for (const auto& [name, l] : lists)
    if (l->indexes) w.sample(static_cast<std::uint64_t>(l->indexes->size()), {{"list", name}});
  w.family("kvmprobe_msr_list_unknown", "1 when KVM's list cannot be told exactly from the evidence");
  for (const auto& [name, l] : lists) w.sample(!l->indexes.has_value(), {{"list", name}});
  w.family("kvmprobe_msr_list_info",
           "KVM's list identity: fnv1a64 of the sorted indexes (4 bytes little-endian each), source kvm "
           "(recorded /dev/kvm answer) or model (always 1)");
  for (const auto& [name, l] : lists)
    if (l->indexes)
      w.sample(true, {{"list", name},
                      {"fnv1a64", fmt::format("{:016x}", msr_list_hash(*l->indexes))},
                      {"source", l->from_kvm ? "kvm" : "model"}});
}

void check_tsc(Writer& w, const HostMetrics& h) {
  if (h.tsc_khz.khz) {
    w.gauge("kvmprobe_tsc_frequency_hertz", "The host TSC frequency KVM uses (tsc_khz x 1000)", *h.tsc_khz.khz * 1000);
    w.gauge("kvmprobe_tsc_frequency_info", "Where the TSC frequency came from; exact = the kernel's own tsc_khz (always 1)",
            true, {{"source", source_id(h.tsc_khz.source)}, {"exact", h.tsc_khz.exact ? "true" : "false"}});
  }
  w.gauge("kvmprobe_tsc_frequency_unknown", "1 when the host TSC frequency cannot be told", !h.tsc_khz.khz.has_value());
  w.answer("kvmprobe_tsc_scaling_supported", "KVM would have TSC scaling (kvm_caps.has_tsc_control)", h.tsc_scaling);
  if (h.tsc_scaling && *h.tsc_scaling) {
    w.gauge("kvmprobe_tsc_scaling_ratio_fraction_width", "Binary digits after the point in KVM's TSC scaling ratio",
            static_cast<std::uint64_t>(h.tsc.frac_bits));
    w.gauge("kvmprobe_tsc_scaling_max_ratio", "Largest guest/host TSC ratio KVM can program (max_tsc_scaling_ratio / 2^frac)",
            std::ldexp(static_cast<double>(h.tsc.max_ratio), -static_cast<int>(h.tsc.frac_bits)));
    // arch/x86/kvm/x86.c: kvm_arch_vcpu_ioctl() KVM_SET_TSC_KHZ: user_tsc_khz >= max_guest_tsc_khz is -EINVAL (6.1)
    if (h.tsc.max_guest_khz)
      w.gauge("kvmprobe_tsc_scaling_guest_frequency_limit_hertz",
              "KVM_SET_TSC_KHZ accepts guest TSC frequencies below this (kvm_caps.max_guest_tsc_khz x 1000)",
              *h.tsc.max_guest_khz * 1000);
  }
}

}  // namespace

std::string check_prometheus(const CheckMetrics& m) {
  const Report& r = *m.report;
  const HostMetrics& h = *m.host;
  Writer w;
  w.gauge("kvmprobe_build_info", "kvmprobe's version (always 1)", true, {{"version", KVMPROBE_VERSION}});
  w.gauge("kvmprobe_profile_info", "The modelled KVM version, the snapshot's kernel and the vendor module (always 1)",
          true, {{"profile", r.profile_id}, {"kernel_release", r.kernel_release}, {"vendor_module", r.verdict.vendor_module}});
  if (auto t = epoch_seconds(m.taken_at))
    w.gauge("kvmprobe_collection_timestamp_seconds", "When the analysed snapshot was collected (Unix time)",
            static_cast<std::uint64_t>(*t));
  w.answer("kvmprobe_kvm_would_load", "The vendor module's init would succeed", r.verdict.would_load);
  w.answer("kvmprobe_kvm_usable", "This caller can use KVM right now, through any module", r.verdict.kvm_usable);
  w.family("kvmprobe_kvm_refusal", "Why KVM would refuse, one-hot (none when it would load)");
  for (Refusal x : kRefusals) w.sample(r.verdict.refusal == x, {{"refusal", to_string(x)}});
  step_status(w, "kvmprobe_step_status", "Status of each KVM init step, one-hot", r.steps);
  if (h.enable.feature) {
    std::string name = fmt::format("kvmprobe_{}_cpus", h.enable.feature);
    w.family(name, h.enable.feature == std::string("vmx")
                       ? "CPUs per IA32_FEATURE_CONTROL state (locked bit 0, enabled = VMX outside SMX bit 2)"
                       : "CPUs per VM_CR state (locked bit 3, enabled = SVMDIS bit 4 clear)");
    const std::pair<const char*, unsigned> states[] = {
        {"locked_enabled", h.enable.locked_enabled},     {"locked_disabled", h.enable.locked_disabled},
        {"unlocked_enabled", h.enable.unlocked_enabled}, {"unlocked_disabled", h.enable.unlocked_disabled},
        {"unreadable", h.enable.unreadable}};
    for (const auto& [state, n] : states) w.sample(n, {{"state", state}});
  }
  check_tsc(w, h);
  check_lists(w, h);
  if (h.supported_xcr0)
    w.gauge("kvmprobe_supported_xcr0", "XCR0 bits KVM reports as supported (KVM_GET_SUPPORTED_CPUID 0xD.0 EDX:EAX)",
            *h.supported_xcr0);
  w.gauge("kvmprobe_supported_xcr0_unknown", "1 when KVM's supported XCR0 cannot be told", !h.supported_xcr0.has_value());
  return w.take();
}

std::string compat_prometheus(const std::vector<compat::CompatReport>& reports) {
  Writer w;
  w.gauge("kvmprobe_build_info", "kvmprobe's version (always 1)", true, {{"version", KVMPROBE_VERSION}});
  auto dir = [](std::size_t i) { return Labels{{"direction", i == 0 ? "forward" : "backward"}}; };
  w.family("kvmprobe_compat_info", "The kernel profiles of each direction's source and destination (always 1)");
  for (std::size_t i = 0; i < reports.size(); ++i) {
    Labels l = dir(i);
    l.insert(l.end(), {{"src_profile", reports[i].src_profile}, {"dst_profile", reports[i].dst_profile}});
    w.sample(true, l);
  }
  w.family("kvmprobe_compat_verdict", "Can a guest move: compatible, conditional, incompatible or unknown, one-hot");
  for (std::size_t i = 0; i < reports.size(); ++i)
    for (auto v : {compat::CompatVerdict::compatible, compat::CompatVerdict::conditional,
                   compat::CompatVerdict::incompatible, compat::CompatVerdict::unknown}) {
      Labels l = dir(i);
      l.push_back({"verdict", compat::to_string(v)});
      w.sample(reports[i].verdict == v, l);
    }
  w.family("kvmprobe_compat_step_status", "Status of each compat step, one-hot");
  for (std::size_t i = 0; i < reports.size(); ++i)
    for (const auto& s : reports[i].steps)
      for (Status st : kStatuses) {
        Labels l = dir(i);
        l.insert(l.end(), {{"step", s.id}, {"status", to_string(st)}});
        w.sample(s.status == st, l);
      }
  w.family("kvmprobe_compat_msrs",
           "MSRs of the source's KVM_GET_MSR_INDEX_LIST by fate on the destination: accepted, not_listed, "
           "rejected (KVM_SET_MSRS would fail), unknown");
  for (std::size_t i = 0; i < reports.size(); ++i) {
    std::map<std::string, std::uint64_t> n{{"accepted", 0}, {"not_listed", 0}, {"rejected", 0}, {"unknown", 0}};
    for (const auto& m : reports[i].msrs)
      ++n[!m.dst_listed ? "not_listed" : !m.dst_accepts ? "unknown" : *m.dst_accepts ? "accepted" : "rejected"];
    for (const auto& [fate, count] : n) {
      Labels l = dir(i);
      l.push_back({"fate", fate});
      w.sample(count, l);
    }
  }
  return w.take();
}

std::string fleet_prometheus(const compat::FleetReport& r, const std::vector<FleetInputError>& errors) {
  Writer w;
  w.gauge("kvmprobe_build_info", "kvmprobe's version (always 1)", true, {{"version", KVMPROBE_VERSION}});
  w.gauge("kvmprobe_fleet_hosts", "Snapshots read", static_cast<std::uint64_t>(r.hosts.size()));
  w.gauge("kvmprobe_fleet_unreadable_files", "Snapshot files that could not be read", static_cast<std::uint64_t>(errors.size()));
  w.gauge("kvmprobe_fleet_excluded_hosts", "Hosts in no pool: their KVM module would not load",
          static_cast<std::uint64_t>(r.excluded.size()));
  w.gauge("kvmprobe_fleet_pools", "Migration pools (guests move both ways inside a pool)",
          static_cast<std::uint64_t>(r.pools.size()));
  w.gauge("kvmprobe_fleet_one_way_edges", "Pairs of pools between which guests move one way only",
          static_cast<std::uint64_t>(r.edges.size()));
  auto pool = [&](std::size_t i) { return Labels{{"pool", fmt::format("{}", i)}, {"hypervisor", r.pools[i].hypervisor}}; };
  w.family("kvmprobe_fleet_pool_hosts", "Hosts per pool (pool 0 is the largest)");
  for (std::size_t i = 0; i < r.pools.size(); ++i) w.sample(static_cast<std::uint64_t>(r.pools[i].hosts.size()), pool(i));
  w.family("kvmprobe_fleet_pool_save_list_entries", "MSRs every host of the pool lists in KVM_GET_MSR_INDEX_LIST");
  for (std::size_t i = 0; i < r.pools.size(); ++i)
    w.sample(static_cast<std::uint64_t>(r.pools[i].save_list.size()), pool(i));
  w.family("kvmprobe_fleet_pool_tsc_min_hertz", "Lowest host TSC frequency in the pool (absent when one is unknown)");
  for (std::size_t i = 0; i < r.pools.size(); ++i)
    if (r.pools[i].tsc_min_khz) w.sample(*r.pools[i].tsc_min_khz * 1000, pool(i));
  w.family("kvmprobe_fleet_pool_tsc_max_hertz", "Highest host TSC frequency in the pool (absent when one is unknown)");
  for (std::size_t i = 0; i < r.pools.size(); ++i)
    if (r.pools[i].tsc_max_khz) w.sample(*r.pools[i].tsc_max_khz * 1000, pool(i));
  w.family("kvmprobe_fleet_pool_supported_xcr0", "XCR0 bits every host of the pool supports (absent when one is unknown)");
  for (std::size_t i = 0; i < r.pools.size(); ++i)
    if (r.pools[i].xcr0) w.sample(*r.pools[i].xcr0, pool(i));
  return w.take();
}

}  // namespace kvmprobe::render
