// kvmprobe msrs: KVM's MSR lists (msrs_to_save, emulated_msrs, feature MSRs) as the chosen kernel
// would build them on this host; --save-list prints exactly KVM_GET_MSR_INDEX_LIST.
#include <fmt/format.h>

#include "cli/analysis.h"
#include "cli/commands.h"
#include "core/analyse/analyse.h"
#include "core/analyse/msr_lists.h"

namespace kvmprobe::cli {
namespace {

struct MsrsOptions {
  bool save_list = false, feature_list = false, names = false, compare = false;
  std::string assume = "none";
};

std::string index_line(std::uint32_t i, bool names) {
  const char* n = names ? msr_name(i) : nullptr;
  return n ? fmt::format("{:#x} {}", i, n) : fmt::format("{:#x}", i);
}

/// Differences between a predicted and a live list, "+0x10 (live only)" style, in order.
std::vector<std::string> diff_lists(const std::vector<std::uint32_t>& predicted,
                                    const std::vector<std::uint32_t>& live) {
  std::vector<std::string> out;
  for (auto i : predicted)
    if (std::find(live.begin(), live.end(), i) == live.end()) out.push_back(fmt::format("-{:#x} (predicted only)", i));
  for (auto i : live)
    if (std::find(predicted.begin(), predicted.end(), i) == predicted.end()) out.push_back(fmt::format("+{:#x} (live only)", i));
  if (out.empty() && predicted != live) out.push_back("same entries, different order");
  return out;
}

ExitCode compare_with_kvm(const GlobalOptions& g, const Snapshot& snap, const MsrListsResult& r) {
  if (!r.complete)
    return report_error(g, make_error(ErrorKind::missing,
                                      fmt::format("the prediction is not exact, nothing to compare: {}",
                                                  r.missing.empty() ? "some candidates are undecided" : r.missing.front()),
                                      "record host MSRs as root (modprobe msr)"));
  std::string loaded = registered_vendor_module(snap);
  if (!snap.kvm.msr_index_list)
    return report_error(g, make_error(ErrorKind::missing, "no live KVM answer to compare with (/dev/kvm not usable)",
                                      "load the vendor module and run as a user who can open /dev/kvm"));
  if (loaded != r.vendor_module)
    return report_error(g, make_error(ErrorKind::missing,
                                      fmt::format("KVM here is {}, not {}: its MSR lists are not modelled",
                                                  loaded.empty() ? "an unknown module" : loaded, r.vendor_module),
                                      "--compare-kvm works where kvm_intel or kvm_amd is loaded"));
  auto save = diff_lists(r.index_list, *snap.kvm.msr_index_list);
  std::vector<std::string> feat;
  if (snap.kvm.feature_msr_list) feat = diff_lists(r.feature_list, *snap.kvm.feature_msr_list);
  bool same = save.empty() && feat.empty();
  if (g.json_mode() != JsonMode::off) {
    print_json(g, {{"schema", "kvmprobe.msrs-compare/1"}, {"profile", r.profile_id}, {"match", same},
                   {"index_list_differences", save}, {"feature_list_differences", feat}});
  } else if (!g.quiet || !same) {
    fmt::print("KVM_GET_MSR_INDEX_LIST: {} predicted, {} live{}\n", r.index_list.size(),
               snap.kvm.msr_index_list->size(), save.empty() ? ", identical" : "");
    for (const auto& d : save) fmt::print("  {}\n", d);
    if (snap.kvm.feature_msr_list) {
      fmt::print("KVM_GET_MSR_FEATURE_INDEX_LIST: {} predicted, {} live{}\n", r.feature_list.size(),
                 snap.kvm.feature_msr_list->size(), feat.empty() ? ", identical" : "");
      for (const auto& d : feat) fmt::print("  {}\n", d);
    }
  }
  return same ? ExitCode::ok : ExitCode::mismatch;
}

nlohmann::json table_json(const MsrListsResult& r) {
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& e : r.entries)
    entries.push_back({{"list", to_string(e.list)}, {"position", e.position}, {"index", fmt::format("{:#x}", e.index)},
                       {"name", e.name}, {"rule", e.rule}, {"fate", to_string(e.fate)}, {"reason", e.reason},
                       {"assumed", e.assumed}});
  nlohmann::json params = nlohmann::json::array();
  for (const auto& p : r.params) params.push_back({{"name", p.name}, {"value", p.value}, {"origin", p.origin}});
  auto hexes = [](const std::vector<std::uint32_t>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (auto i : v) a.push_back(fmt::format("{:#x}", i));
    return a;
  };
  auto counts = [](const MsrListCounts& c) {
    return nlohmann::json{{"candidates", c.candidates}, {"kept", c.kept}, {"dropped", c.dropped}, {"unknown", c.unknown}};
  };
  return {{"schema", "kvmprobe.msrs/1"}, {"profile", r.profile_id}, {"vendor_module", r.vendor_module},
          {"complete", r.complete}, {"missing", r.missing}, {"assumptions", r.assumptions}, {"params", params},
          {"counts", {{"save", counts(r.save)}, {"emulated", counts(r.emulated)}, {"feature", counts(r.feature)}}},
          {"index_list", hexes(r.index_list)}, {"feature_list", hexes(r.feature_list)}, {"entries", entries}};
}

}  // namespace

void register_msrs(CLI::App& app, GlobalOptions& g, Runner& run) {
  auto* o = new MsrsOptions;
  auto* sub = app.add_subcommand("msrs", "KVM's MSR lists for the kernel: every candidate and its fate");
  auto* s = sub->add_flag("--save-list", o->save_list, "print exactly KVM_GET_MSR_INDEX_LIST, one 0x%x per line");
  auto* f = sub->add_flag("--feature-list", o->feature_list, "print exactly KVM_GET_MSR_FEATURE_INDEX_LIST");
  auto* c = sub->add_flag("--compare-kvm", o->compare, "compare with the live KVM's lists (exit 20 on a mismatch)");
  s->excludes(f)->excludes(c);
  f->excludes(c);
  sub->add_flag("--names", o->names, "add the MSR name to --save-list / --feature-list lines");
  sub->add_option("--assume-rdmsr", o->assume,
                  "for host RDMSRs the snapshot lacks: none (unknown) or vendor (succeeds iff the vendor implements it)")
      ->check(CLI::IsMember({"none", "vendor"}));
  sub->callback([&g, &run, o] {
    run = [&g, o] {
      auto in = obtain_inputs(g);
      if (!in) return report_error(g, in.error());
      Analyzer a(in->snap, *in->profile.profile, in->overrides);
      MsrListsOptions mo;
      if (o->assume == "vendor") mo.unrecorded_rdmsr = UnrecordedRdmsr::vendor_implements;
      MsrListsResult r = compute_msr_lists(a.ctx(), mo);
      if (!r.evaluated) return report_error(g, make_error(ErrorKind::missing, r.not_evaluated));
      if (o->compare) return compare_with_kvm(g, in->snap, r);
      if ((o->save_list || o->feature_list) && !r.complete) {
        std::string why = r.missing.empty() ? "some candidates are undecided" : r.missing.front();
        return report_error(g, make_error(ErrorKind::missing, fmt::format("the list is not exact: {}", why),
                                          "record host MSRs as root (modprobe msr), or accept --assume-rdmsr=vendor"));
      }
      if (o->save_list || o->feature_list) {
        const auto& list = o->save_list ? r.index_list : r.feature_list;
        if (g.json_mode() != JsonMode::off) {
          nlohmann::json msrs = nlohmann::json::array();
          for (auto i : list) {
            const char* n = msr_name(i);
            msrs.push_back({{"index", fmt::format("{:#x}", i)}, {"name", n ? n : ""}});
          }
          print_json(g, {{"schema", "kvmprobe.msr-list/1"}, {"profile", r.profile_id},
                         {"list", o->save_list ? "KVM_GET_MSR_INDEX_LIST" : "KVM_GET_MSR_FEATURE_INDEX_LIST"},
                         {"msrs", msrs}});
          return ExitCode::ok;
        }
        std::string out;
        for (auto i : list) out += index_line(i, o->names) + "\n";
        fmt::print("{}", out);
        return ExitCode::ok;
      }
      if (g.json_mode() != JsonMode::off) {
        print_json(g, table_json(r));
      } else if (!g.quiet) {
        std::string out;
        if (!g.no_legend)
          out += fmt::format("KVM {} ({}): {} save + {} emulated = {} in KVM_GET_MSR_INDEX_LIST, {} feature MSRs{}\n\n",
                             r.profile_id, r.vendor_module, r.save.kept, r.emulated.kept, r.index_list.size(),
                             r.feature.kept, r.complete ? "" : " (incomplete)");
        for (const auto& e : r.entries)
          out += fmt::format("{:<8} {:>3} {:#010x} {:<34} {:<8} {}\n", to_string(e.list), e.position, e.index, e.name,
                             to_string(e.fate), e.fate == MsrFate::kept ? (e.assumed ? "(RDMSR assumed)" : "") : e.reason);
        for (const auto& m : r.missing) out += fmt::format("missing: {}\n", m);
        for (const auto& p : r.params) out += fmt::format("param {}={} ({})\n", p.name, p.value, p.origin);
        fmt::print("{}", out);
      }
      if (r.complete) return ExitCode::ok;
      if (g.quiet) fmt::print(stderr, "kvmprobe: MSR lists incomplete: {}\n", r.missing.empty() ? "" : r.missing.front());
      return ExitCode::cannot_tell;
    };
  });
}

}  // namespace kvmprobe::cli
