#include "core/render/msrs.h"

#include <fmt/format.h>

#include "core/model/format.h"
#include "core/render/render.h"

namespace kvmprobe::render {
namespace {

const std::vector<std::uint32_t>& list_of(const MsrListsResult& r, MsrIoctl which) {
  return which == MsrIoctl::index_list ? r.index_list : r.feature_list;
}

nlohmann::json counts_json(const MsrListCounts& c) {
  return {{"candidates", c.candidates}, {"kept", c.kept}, {"dropped", c.dropped}, {"unknown", c.unknown}};
}

std::vector<std::string> diff_lines(const MsrListDiff& d) {
  std::vector<std::string> out;
  for (auto i : d.predicted_only) out.push_back(fmt::format("-{:#x} (predicted only)", i));
  for (auto i : d.live_only) out.push_back(fmt::format("+{:#x} (live only)", i));
  if (d.order_differs) out.push_back("same entries, different order");
  return out;
}

std::string comparison_text(const char* ioctl, const MsrListComparison& c) {
  std::string out = fmt::format("{}: {} predicted, {} live{}\n", ioctl, c.predicted, c.live,
                                c.diff.same() ? ", identical" : "");
  for (const auto& d : diff_lines(c.diff)) out += fmt::format("  {}\n", d);
  return out;
}

}  // namespace

const char* to_string(MsrIoctl l) {
  return l == MsrIoctl::index_list ? "KVM_GET_MSR_INDEX_LIST" : "KVM_GET_MSR_FEATURE_INDEX_LIST";
}

std::string msrs_text(const MsrListsResult& r, bool legend) {
  std::string out;
  if (legend)
    out += fmt::format("KVM {} ({}): {} save + {} emulated = {} in KVM_GET_MSR_INDEX_LIST, {} feature MSRs{}\n\n",
                       r.profile_id, r.vendor_module, r.save.kept, r.emulated.kept, r.index_list.size(),
                       r.feature.kept, r.complete ? "" : " (incomplete)");
  for (const auto& e : r.entries)
    out += fmt::format("{:<8} {:>3} {:#010x} {:<34} {:<8} {}\n", to_string(e.list), e.position, e.index, e.name,
                       to_string(e.fate), e.fate == MsrFate::kept ? (e.assumed ? "(RDMSR assumed)" : "") : e.reason);
  for (const auto& m : r.missing) out += fmt::format("missing: {}\n", m);
  for (const auto& p : r.params) out += fmt::format("param {}={} ({})\n", p.name, p.value, p.origin);
  return out;
}

nlohmann::json msrs_json(const MsrListsResult& r) {
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& e : r.entries)
    entries.push_back({{"list", to_string(e.list)}, {"position", e.position}, {"index", hex(e.index)},
                       {"name", e.name}, {"rule", e.rule}, {"fate", to_string(e.fate)}, {"reason", e.reason},
                       {"assumed", e.assumed}});
  nlohmann::json params = nlohmann::json::array();
  for (const auto& p : r.params) params.push_back({{"name", p.name}, {"value", p.value}, {"origin", p.origin}});
  return {{"schema", kMsrsSchema}, {"profile", r.profile_id}, {"vendor_module", r.vendor_module},
          {"complete", r.complete}, {"missing", r.missing}, {"assumptions", r.assumptions}, {"params", params},
          {"counts", {{"save", counts_json(r.save)}, {"emulated", counts_json(r.emulated)}, {"feature", counts_json(r.feature)}}},
          {"index_list", hex_array(r.index_list)}, {"feature_list", hex_array(r.feature_list)}, {"entries", entries}};
}

std::string msr_list_text(const MsrListsResult& r, MsrIoctl which, bool names) {
  std::string out;
  for (auto i : list_of(r, which)) {
    const char* n = names ? msr_name(i) : nullptr;
    out += n ? fmt::format("{:#x} {}\n", i, n) : fmt::format("{:#x}\n", i);
  }
  return out;
}

nlohmann::json msr_list_json(const MsrListsResult& r, MsrIoctl which) {
  nlohmann::json msrs = nlohmann::json::array();
  for (auto i : list_of(r, which)) {
    const char* n = msr_name(i);
    msrs.push_back({{"index", hex(i)}, {"name", n ? n : ""}});
  }
  return {{"schema", kMsrListSchema}, {"profile", r.profile_id}, {"list", to_string(which)}, {"msrs", msrs}};
}

std::string msr_compare_text(const MsrCompare& c) {
  std::string out = comparison_text(to_string(MsrIoctl::index_list), c.index_list);
  if (c.feature_list) out += comparison_text(to_string(MsrIoctl::feature_list), *c.feature_list);
  return out;
}

nlohmann::json msr_compare_json(const MsrCompare& c) {
  return {{"schema", kMsrsCompareSchema},
          {"profile", c.profile_id},
          {"match", c.same()},
          {"index_list_differences", diff_lines(c.index_list.diff)},
          {"feature_list_differences", c.feature_list ? diff_lines(c.feature_list->diff) : std::vector<std::string>{}}};
}

}  // namespace kvmprobe::render
