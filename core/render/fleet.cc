#include "core/render/fleet.h"

#include <fmt/format.h>

#include "core/analyse/xcr0.h"
#include "core/model/format.h"

namespace kvmprobe::render {
namespace {

using compat::FleetPool;
using compat::FleetReport;


std::string tsc_range(const FleetPool& p) {
  if (!p.tsc_min_khz) return "unknown";
  return *p.tsc_min_khz == *p.tsc_max_khz ? fmt::format("{} kHz", *p.tsc_min_khz)
                                          : fmt::format("{}–{} kHz", *p.tsc_min_khz, *p.tsc_max_khz);
}

std::string baseline_text(const FleetPool& p) {
  std::string out;
  out += fmt::format("    KVM        {} (kernel profiles {})\n", p.hypervisor.empty() ? "none" : p.hypervisor,
                     fmt::join(p.profiles, ", "));
  out += fmt::format("    save list  {} MSRs every host lists\n", p.save_list.size());
  out += fmt::format("    XCR0       {} ({})\n", hex_or_unknown(p.xcr0), p.xcr0 ? xfeature_names(*p.xcr0) : "unknown");
  out += fmt::format("    XSS        {}\n", hex_or_unknown(p.xss));
  out += fmt::format("    TSC        {}, scaling on every host: {}\n", tsc_range(p), p.tsc_scaling_all ? "yes" : "no");
  if (!p.cpuid_features) {
    out += "    CPUID      unknown (a host's supported CPUID cannot be predicted)\n";
    return out;
  }
  out += fmt::format("    CPUID      {} features every host's KVM supports\n", p.cpuid_features->size());
  const compat::GuestCpu& g = *p.guest_cpu;
  out += fmt::format("    -cpu       {}\n", g.qemu);
  if (!g.not_in_qemu.empty())
    out += fmt::format("               (QEMU 7.2 has no flag for: {})\n", fmt::join(g.not_in_qemu, " "));
  std::string xml = g.libvirt;
  for (std::size_t at = 0; (at = xml.find('\n', at)) != std::string::npos; at += 16) xml.replace(at, 1, "\n               ");
  out += fmt::format("    libvirt    {}\n", xml);
  if (!g.not_in_libvirt.empty())
    out += fmt::format("               (libvirt's cpu_map has no name for: {})\n", fmt::join(g.not_in_libvirt, " "));
  return out;
}

nlohmann::json pool_json(const FleetPool& p, const FleetReport& r) {
  nlohmann::json hosts = nlohmann::json::array(), list = nlohmann::json::array();
  for (auto i : p.hosts) hosts.push_back(r.hosts[i].label);
  for (auto m : p.save_list) list.push_back(fmt::format("{:#x}", m));
  auto hex = [](const std::optional<std::uint64_t>& v) {
    return v ? nlohmann::json(fmt::format("{:#x}", *v)) : nlohmann::json();
  };
  return {{"hosts", hosts},
          {"baseline",
           {{"hypervisor", p.hypervisor},
            {"profiles", p.profiles},
            {"save_list", list},
            {"supported_xcr0", hex(p.xcr0)},
            {"supported_xss", hex(p.xss)},
            {"tsc_khz_min", p.tsc_min_khz ? nlohmann::json(*p.tsc_min_khz) : nlohmann::json()},
            {"tsc_khz_max", p.tsc_max_khz ? nlohmann::json(*p.tsc_max_khz) : nlohmann::json()},
            {"tsc_scaling_all", p.tsc_scaling_all},
            {"cpuid_features", p.cpuid_features ? nlohmann::json(*p.cpuid_features) : nlohmann::json()},
            {"guest_cpu", p.guest_cpu ? nlohmann::json{{"qemu", p.guest_cpu->qemu},
                                                       {"libvirt", p.guest_cpu->libvirt},
                                                       {"not_in_qemu", p.guest_cpu->not_in_qemu},
                                                       {"not_in_libvirt", p.guest_cpu->not_in_libvirt}}
                                      : nlohmann::json()}}}};
}

}  // namespace

std::string fleet_text(const FleetReport& r, bool baseline_only, const TextStyle& st) {
  std::string out;
  if (st.legend && !baseline_only)
    out += fmt::format("kvmprobe fleet — {} hosts, {} migration pools (guests move both ways inside a pool)\n\n",
                       r.hosts.size(), r.pools.size());
  for (std::size_t i = 0; i < r.pools.size(); ++i) {
    const FleetPool& p = r.pools[i];
    out += fmt::format("pool {} ({} hosts)\n", i, p.hosts.size());
    if (!baseline_only)
      for (auto h : p.hosts) out += fmt::format("    host       {}\n", r.hosts[h].label);
    out += baseline_text(p);
  }
  if (baseline_only) return out;
  if (!r.excluded.empty()) out += "\nhosts that cannot run guests\n";
  for (const auto& e : r.excluded) out += fmt::format("    {}: {}\n", r.hosts[e.host].label, e.reason);
  if (!r.edges.empty()) out += "\none-way moves\n";
  for (const auto& e : r.edges)
    out += fmt::format("    pool {} → pool {} ({}); not back: {}\n", e.from, e.to, compat::to_string(e.verdict),
                       e.back_reason);
  if (!r.splits.empty()) out += "\nwhy pools stand apart\n";
  for (const auto& s : r.splits)
    out += fmt::format("    pool {} is not in pool {}: {}\n", s.pool, s.largest, s.reason);
  return out;
}

nlohmann::json fleet_json(const FleetReport& r, const std::vector<FleetInputError>& errors, bool baseline_only) {
  nlohmann::json pools = nlohmann::json::array(), edges = nlohmann::json::array(), splits = nlohmann::json::array(),
                 bad = nlohmann::json::array();
  for (const auto& p : r.pools) {
    nlohmann::json j = pool_json(p, r);
    if (baseline_only) j.erase("hosts");
    pools.push_back(j);
  }
  for (const auto& e : r.edges)
    edges.push_back({{"from", e.from}, {"to", e.to}, {"verdict", compat::to_string(e.verdict)},
                     {"back_reason", e.back_reason}});
  for (const auto& s : r.splits) splits.push_back({{"pool", s.pool}, {"apart_from", s.largest}, {"reason", s.reason}});
  for (const auto& e : errors) bad.push_back({{"path", e.path}, {"error", e.message}});
  nlohmann::json excluded = nlohmann::json::array();
  for (const auto& e : r.excluded) excluded.push_back({{"host", r.hosts[e.host].label}, {"reason", e.reason}});
  nlohmann::json j = {{"schema", kFleetSchema}, {"hosts", r.hosts.size()}, {"pools", pools}};
  if (!baseline_only) {
    j["one_way"] = edges;
    j["splits"] = splits;
    j["excluded"] = excluded;
  }
  j["unreadable"] = bad;
  return j;
}

}  // namespace kvmprobe::render
