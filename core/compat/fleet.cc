#include "core/compat/fleet.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <numeric>

namespace kvmprobe::compat {
namespace {

/// Necessary for compat(a, b) to be compatible or conditional, decided without running it (so
/// fleet() stays near linear where most pairs cannot move): the same vendor module on both
/// (step_vendor is unknown without one, fails between two) and known to load on b (unknown or
/// failing otherwise); a's MSR list complete (step_msrs is unknown otherwise); both supported
/// CPUIDs, XCR0s, XSS and TSC rates known (step_cpuid, step_xcr0 and step_tsc are unknown
/// otherwise), and a's XCR0/XSS within b's (step_xcr0 fails otherwise).
bool could_move(const SideFacts& a, const SideFacts& b) {
  if (a.hypervisor.empty() || a.hypervisor != b.hypervisor) return false;
  if (b.hypervisor != "kvm_pvm" && b.would_load != true) return false;
  if (!a.index_list_known || !a.undecided.empty()) return false;
  if (!a.cpuid_features || !b.cpuid_features || !a.tsc_khz || !b.tsc_khz) return false;
  if (!a.supported_xcr0 || !b.supported_xcr0 || (*a.supported_xcr0 & ~*b.supported_xcr0) != 0) return false;
  return a.supported_xss && b.supported_xss && (*a.supported_xss & ~*b.supported_xss) == 0;
}

bool both_ways(const SideFacts& a, const SideFacts& b) {
  return compat(a, b).verdict == CompatVerdict::compatible && compat(b, a).verdict == CompatVerdict::compatible;
}

/// The first failing step (else the first that is not ok), as "title: summary".
std::string first_problem(const CompatReport& r) {
  for (Status want : {Status::fail, Status::unknown, Status::warn})
    for (const auto& s : r.steps)
      if (s.status == want) return fmt::format("{}: {}", s.title, s.summary);
  return r.reason;
}

void fill_baseline(FleetPool& p, const std::vector<FleetHost>& hosts) {
  const SideFacts& first = hosts[p.hosts.front()].facts;
  p.hypervisor = first.hypervisor;
  p.save_list = first.index_list;
  p.xcr0 = first.supported_xcr0;
  p.xss = first.supported_xss;
  p.tsc_scaling_all = true;
  p.cpuid_features = first.cpuid_features;
  for (std::size_t i : p.hosts) {
    const SideFacts& f = hosts[i].facts;
    if (std::find(p.profiles.begin(), p.profiles.end(), f.profile_id) == p.profiles.end())
      p.profiles.push_back(f.profile_id);
    std::erase_if(p.save_list, [&](std::uint32_t m) { return !listed(f, m); });
    p.xcr0 = p.xcr0 && f.supported_xcr0 ? std::optional(*p.xcr0 & *f.supported_xcr0) : std::nullopt;
    p.xss = p.xss && f.supported_xss ? std::optional(*p.xss & *f.supported_xss) : std::nullopt;
    p.tsc_scaling_all = p.tsc_scaling_all && f.tsc.has_control;
    if (p.cpuid_features && f.cpuid_features)
      std::erase_if(*p.cpuid_features, [&](const std::string& n) {
        return !std::binary_search(f.cpuid_features->begin(), f.cpuid_features->end(), n);
      });
    else
      p.cpuid_features.reset();
    if (f.tsc_khz) {
      p.tsc_min_khz = std::min(p.tsc_min_khz.value_or(*f.tsc_khz), *f.tsc_khz);
      p.tsc_max_khz = std::max(p.tsc_max_khz.value_or(*f.tsc_khz), *f.tsc_khz);
    }
  }
  if (p.cpuid_features) p.guest_cpu = guest_cpu(*p.cpuid_features);
}

}  // namespace

std::string fleet_fingerprint(const SideFacts& f) {
  std::string fp = fmt::format("{}|{}|{}|", f.hypervisor, f.profile_id, f.nested);
  std::vector<std::uint32_t> list = f.index_list;
  std::sort(list.begin(), list.end());
  for (auto i : list) fp += fmt::format("{:x},", i);
  fp += "|u";
  for (auto i : f.undecided) fp += fmt::format("{:x},", i);
  fp += fmt::format("|{}|{}|{}|", f.supported_xcr0 ? fmt::format("{:x}", *f.supported_xcr0) : "?",
                    f.supported_xss ? fmt::format("{:x}", *f.supported_xss) : "?", f.tsc.has_control);
  for (const auto& m : f.vmx_caps) fp += fmt::format("{:x}={}:{:x},", m.index, static_cast<int>(m.status), m.value);
  fp += "|c";
  if (!f.cpuid_features) fp += "?";
  else
    for (const auto& n : *f.cpuid_features) fp += n + ",";
  return fp;
}

namespace {

/// 1. Hosts by fingerprint (one pass); hosts whose KVM would not load go to r.excluded.
std::map<std::string, std::vector<std::size_t>> group_by_fingerprint(FleetReport& r) {
  std::map<std::string, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < r.hosts.size(); ++i) {
    const SideFacts& f = r.hosts[i].facts;
    if (f.hypervisor != "kvm_pvm" && f.would_load == false) {
      r.excluded.push_back({i, fmt::format("{} would not load: {}", f.hypervisor.empty() ? "KVM" : f.hypervisor,
                                           f.load_reason)});
      continue;
    }
    groups[fleet_fingerprint(f)].push_back(i);
  }
  return groups;
}

/// 2. Inside a group only the TSC differs: sort by kHz and cut where the next host cannot take a
/// guest from the cluster's first host both ways.
std::vector<FleetPool> split_by_tsc(std::map<std::string, std::vector<std::size_t>>& groups,
                                    const std::vector<FleetHost>& hosts) {
  std::vector<FleetPool> pools;
  for (auto& [fp, members] : groups) {
    std::stable_sort(members.begin(), members.end(), [&](std::size_t a, std::size_t b) {
      return hosts[a].facts.tsc_khz.value_or(0) < hosts[b].facts.tsc_khz.value_or(0);
    });
    FleetPool cur;
    for (std::size_t i : members) {
      if (!cur.hosts.empty() && !both_ways(hosts[cur.hosts.front()].facts, hosts[i].facts)) {
        pools.push_back(std::move(cur));
        cur = FleetPool{};
      }
      cur.hosts.push_back(i);
    }
    if (!cur.hosts.empty()) pools.push_back(std::move(cur));
  }

  return pools;
}

/// 3. Merge pools whose representatives move guests both ways (different fingerprints can still
/// be compatible, e.g. a list difference of MSRs both KVMs take); largest pool first.
void merge_pools(const std::vector<FleetPool>& pools, FleetReport& r) {
  std::vector<std::size_t> parent(pools.size());
  std::iota(parent.begin(), parent.end(), 0);
  auto root = [&](std::size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  // Both ways needs the same module and the same supported CPUID features (step_cpuid warns
  // on any feature only one side has): only pools alike in those are compared.
  std::map<std::string, std::vector<std::size_t>> alike;
  for (std::size_t a = 0; a < pools.size(); ++a) {
    const SideFacts& f = r.hosts[pools[a].hosts.front()].facts;
    if (!f.cpuid_features) continue;
    std::string key = f.hypervisor + "|";
    for (const auto& n : *f.cpuid_features) key += n + ",";
    alike[key].push_back(a);
  }
  for (const auto& [key, members] : alike)
    for (std::size_t i = 0; i < members.size(); ++i)
      for (std::size_t j = i + 1; j < members.size(); ++j) {
        std::size_t a = members[i], b = members[j];
        const SideFacts& fa = r.hosts[pools[a].hosts.front()].facts;
        const SideFacts& fb = r.hosts[pools[b].hosts.front()].facts;
        if (root(a) != root(b) && could_move(fa, fb) && could_move(fb, fa) && both_ways(fa, fb))
          parent[root(b)] = root(a);
      }
  std::map<std::size_t, FleetPool> merged;
  for (std::size_t a = 0; a < pools.size(); ++a) {
    auto& m = merged[root(a)];
    m.hosts.insert(m.hosts.end(), pools[a].hosts.begin(), pools[a].hosts.end());
  }
  for (auto& [k, p] : merged) {
    std::sort(p.hosts.begin(), p.hosts.end());
    fill_baseline(p, r.hosts);
    r.pools.push_back(std::move(p));
  }
  std::stable_sort(r.pools.begin(), r.pools.end(), [](const FleetPool& a, const FleetPool& b) {
    return a.hosts.size() != b.hosts.size() ? a.hosts.size() > b.hosts.size() : a.hosts.front() < b.hosts.front();
  });
}

/// 4. One-way edges and the reason a pool stands apart from the largest of its hypervisor.
void link_pools(FleetReport& r) {
  for (std::size_t a = 0; a < r.pools.size(); ++a) {
    const SideFacts& fa = r.hosts[r.pools[a].hosts.front()].facts;
    for (std::size_t b = 0; b < r.pools.size(); ++b) {
      if (a == b) continue;
      const SideFacts& fb = r.hosts[r.pools[b].hosts.front()].facts;
      if (!could_move(fa, fb)) continue;
      CompatReport ab = compat(fa, fb);
      if (ab.verdict == CompatVerdict::compatible || ab.verdict == CompatVerdict::conditional)
        r.edges.push_back({a, b, ab.verdict, first_problem(compat(fb, fa))});
    }
    for (std::size_t l = 0; l < a; ++l) {
      if (r.pools[l].hypervisor != r.pools[a].hypervisor) continue;
      const SideFacts& fl = r.hosts[r.pools[l].hosts.front()].facts;
      CompatReport la = compat(fl, fa);
      r.splits.push_back({a, l, la.verdict != CompatVerdict::compatible ? first_problem(la)
                                                                          : first_problem(compat(fa, fl))});
      break;
    }
  }
}

}  // namespace

FleetReport fleet(std::vector<FleetHost> hosts) {
  FleetReport r;
  r.hosts = std::move(hosts);
  auto groups = group_by_fingerprint(r);
  merge_pools(split_by_tsc(groups, r.hosts), r);
  link_pools(r);
  return r;
}

}  // namespace kvmprobe::compat
