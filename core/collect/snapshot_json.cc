// Writing side of the snapshot format, text layout, and the file entry points. The reading side
// (snapshot_from_json) is in snapshot_json_read.cc.
#include "core/collect/snapshot_json.h"

#include <algorithm>
#include <new>
#include <unordered_map>

#include "core/collect/snapshot_json_internal.h"
#include "core/collect/snapshot_json_names.h"
#include "core/collect/whole_file.h"
#include "core/model/format.h"

namespace kvmprobe::collect {
namespace {

using nlohmann::json;

json hex_list(const std::vector<std::uint32_t>& v) {
  json a = json::array();
  for (auto x : v) a.push_back(hex(x));
  return a;
}

json leaf_to_json(const CpuidLeaf& l) {
  return {{"leaf", hex(l.leaf)}, {"subleaf", hex(l.subleaf)}, {"eax", hex(l.eax)},
          {"ebx", hex(l.ebx)}, {"ecx", hex(l.ecx)}, {"edx", hex(l.edx)}};
}

json msr_to_json(const MsrRead& m) {
  json e = {{"index", hex(m.index)}, {"status", std::string(name_of(m.status))}};
  if (m.status == ReadStatus::value) e["value"] = hex(m.value);
  if (m.error != 0) e["error"] = m.error;
  return e;
}

template <typename T, typename F>
json list_to_json(const std::vector<T>& v, F one) {
  json a = json::array();
  for (const auto& x : v) a.push_back(one(x));
  return a;
}

/// Where the CPU's CPUID came from (the same in every format).
void cpuid_view_to_json(const CpuRecord& c, json& j) {
  if (c.cpuid_view != CpuidView::unknown) j["cpuid_view"] = std::string(name_of(c.cpuid_view));
  if (!c.cpuid_instruction_differs.empty())
    j["cpuid_instruction_differs"] = list_to_json(c.cpuid_instruction_differs, leaf_to_json);
}

/// The CPU's facts other than its CPUID leaves, MSRs and flags (the same in every format).
void cpu_registers_to_json(const CpuRecord& c, json& j) {
  if (c.xcr0) j["xcr0"] = hex(*c.xcr0);
  if (c.cr0) j["cr0"] = hex(*c.cr0);
  if (c.cr4) j["cr4"] = hex(*c.cr4);
  if (c.efer) j["efer"] = hex(*c.efer);
}

/// Format 1: every CPU carries all its data.
json cpu_to_json(const CpuRecord& c) {
  json j = json::object();
  j["cpu"] = c.cpu;
  j["cpuid"] = list_to_json(c.cpuid, leaf_to_json);
  cpuid_view_to_json(c, j);
  j["msrs"] = list_to_json(c.msrs, msr_to_json);
  cpu_registers_to_json(c, j);
  if (c.linux_flags) j["linux_flags"] = *c.linux_flags;
  return j;
}

/// Leaves whose registers hold the CPU's own APIC ID or topology position, so they differ
/// between otherwise identical CPUs: 0x1 (EBX[31:24] initial APIC ID), 0xB and 0x1F (EDX x2APIC
/// ID), 0x8000001E (AMD extended APIC ID, core and node IDs), 0x80000026 (AMD extended topology).
/// Format 2 keeps them per CPU and shares everything else.
bool per_cpu_leaf(std::uint32_t leaf) {
  return leaf == 0x1 || leaf == 0xb || leaf == 0x1f || leaf == 0x8000001e || leaf == 0x80000026;
}

/// Distinct lists, each stored once, found by their exact content.
template <typename T>
class Dedup {
 public:
  template <typename Key>
  std::size_t add(const std::vector<T>& v, Key key) {
    std::string k;
    for (const auto& x : v) key(x, k);
    auto [it, added] = index_.emplace(std::move(k), lists_.size());
    if (added) lists_.push_back(v);
    return it->second;
  }
  const std::vector<std::vector<T>>& lists() const { return lists_; }

 private:
  std::unordered_map<std::string, std::size_t> index_;
  std::vector<std::vector<T>> lists_;
};

template <typename U>
void append_raw(std::string& k, U v) {
  k.append(reinterpret_cast<const char*>(&v), sizeof v);
}

/// Format 2: per-CPU data equal on several CPUs goes to the top-level tables, once.
void cpus_to_compact_json(const std::vector<CpuRecord>& cpus, json& top) {
  Dedup<CpuidLeaf> leaf_sets;
  Dedup<MsrRead> msr_sets;
  Dedup<std::string> flag_sets;
  auto leaf_key = [](const CpuidLeaf& l, std::string& k) {
    for (std::uint32_t r : {l.leaf, l.subleaf, l.eax, l.ebx, l.ecx, l.edx}) append_raw(k, r);
  };
  auto msr_key = [](const MsrRead& m, std::string& k) {
    append_raw(k, m.index);
    append_raw(k, static_cast<int>(m.status));
    append_raw(k, m.ok() ? m.value : 0);
    append_raw(k, m.error);
  };
  auto flag_key = [](const std::string& f, std::string& k) { k.append(f).push_back('\0'); };
  json out = json::array();
  for (const auto& c : cpus) {
    json j = json::object();
    j["cpu"] = c.cpu;
    std::vector<CpuidLeaf> shared, own;
    for (const auto& l : c.cpuid) (per_cpu_leaf(l.leaf) ? own : shared).push_back(l);
    if (!shared.empty()) j["cpuid_set"] = leaf_sets.add(shared, leaf_key);
    if (!own.empty()) j["cpuid"] = list_to_json(own, leaf_to_json);
    cpuid_view_to_json(c, j);
    if (!c.msrs.empty()) j["msr_set"] = msr_sets.add(c.msrs, msr_key);
    cpu_registers_to_json(c, j);
    if (c.linux_flags) j["linux_flags_set"] = flag_sets.add(*c.linux_flags, flag_key);
    out.push_back(std::move(j));
  }
  auto tables = [](const auto& lists, auto one) {
    json a = json::array();
    for (const auto& l : lists) a.push_back(list_to_json(l, one));
    return a;
  };
  if (!leaf_sets.lists().empty()) top["cpuid_sets"] = tables(leaf_sets.lists(), leaf_to_json);
  if (!msr_sets.lists().empty()) top["msr_sets"] = tables(msr_sets.lists(), msr_to_json);
  if (!flag_sets.lists().empty())
    top["linux_flags_sets"] = tables(flag_sets.lists(), [](const std::string& f) { return json(f); });
  top["cpus"] = std::move(out);
}

json kvm_to_json(const KvmDeviceInfo& k) {
  json j = {{"present", k.present}, {"openable", k.openable}, {"open_error", k.open_error},
            {"error", k.error}};
  if (k.api_version) j["api_version"] = *k.api_version;
  if (k.msr_index_list) j["msr_index_list"] = hex_list(*k.msr_index_list);
  if (k.feature_msr_list) j["feature_msr_list"] = hex_list(*k.feature_msr_list);
  if (k.cap_tsc_control) j["cap_tsc_control"] = *k.cap_tsc_control;
  if (k.vcpu_tsc_khz) j["vcpu_tsc_khz"] = *k.vcpu_tsc_khz;
  if (k.supported_xcr0) j["supported_xcr0"] = hex(*k.supported_xcr0);
  if (k.misc_registered) j["misc_registered"] = *k.misc_registered;
  return j;
}

// ---- text layout -------------------------------------------------------------------------

/// Key order in the written text; keys not listed (parameter names) follow alphabetically.
constexpr std::string_view kKeyOrder[] = {
    "schema", "origin", "tool_version", "taken_at", "hostname", "kernel_release",
    "kernel_version", "kernel_cmdline", "msr_backend", "is_root", "online_cpus",
    "cpuid_sets", "msr_sets", "linux_flags_sets", "cpus", "tsc", "perf", "modules",
    "configured_params", "param_origins", "kvm", "kernel_log", "kernel_log_read", "notes",
    "cpu", "cpuid_set", "cpuid", "cpuid_view", "cpuid_instruction_differs", "msr_set", "msrs", "xcr0",
    "cr0", "cr4", "efer", "linux_flags", "linux_flags_set",
    "leaf", "subleaf", "eax", "ebx", "ecx", "edx",
    "present", "openable", "open_error", "api_version", "msr_index_list", "feature_msr_list",
    "cap_tsc_control", "vcpu_tsc_khz", "supported_xcr0", "misc_registered",
    "index", "status", "value", "error",
    "source", "khz", "exact", "detail", "hw_pmu", "pmu_name", "evidence", "name", "builtin", "params"};

std::size_t key_rank(const std::string& key) {
  for (std::size_t i = 0; i < std::size(kKeyOrder); ++i)
    if (kKeyOrder[i] == key) return i;
  return std::size(kKeyOrder);
}

std::string scalar_text(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

bool all_scalars(const json& v) {
  return std::all_of(v.begin(), v.end(), [](const json& e) { return !e.is_structured(); });
}

std::vector<std::pair<std::string, const json*>> ordered_members(const json& obj) {
  std::vector<std::pair<std::string, const json*>> m;
  for (auto it = obj.begin(); it != obj.end(); ++it) m.emplace_back(it.key(), &it.value());
  std::stable_sort(m.begin(), m.end(), [](const auto& a, const auto& b) {
    return key_rank(a.first) < key_rank(b.first);
  });
  return m;
}

constexpr std::size_t kLineWidth = 100;

void layout(const json& v, std::size_t indent, std::string& out);

/// An object: one line when it holds at most 8 scalars (a CPUID leaf, an MSR read), else one
/// member a line, in the format's key order.
void layout_object(const json& v, std::size_t indent, std::string& out) {
  const std::string pad(indent + 2, ' ');
  auto members = ordered_members(v);
  if (members.empty()) {
    out += "{}";
    return;
  }
  if (all_scalars(v) && members.size() <= 8) {
    out += "{";
    for (std::size_t i = 0; i < members.size(); ++i)
      out += (i ? ", " : "") + scalar_text(json(members[i].first)) + ": " + scalar_text(*members[i].second);
    out += "}";
    return;
  }
  out += "{\n";
  for (std::size_t i = 0; i < members.size(); ++i) {
    out += pad + scalar_text(json(members[i].first)) + ": ";
    layout(*members[i].second, indent + 2, out);
    out += i + 1 < members.size() ? ",\n" : "\n";
  }
  out += std::string(indent, ' ') + "}";
}

/// An array of scalars (CPU lists, flags): on one line when it fits, else filling lines.
void layout_scalar_array(const json& v, std::size_t indent, std::string& out) {
  const std::string pad(indent + 2, ' ');
  std::vector<std::string> items;
  std::size_t total = 2;
  for (const auto& e : v) total += (items.emplace_back(scalar_text(e))).size() + 2;
  if (indent + total <= kLineWidth) {
    out += "[";
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
    out += "]";
    return;
  }
  out += "[\n" + pad;
  std::size_t col = pad.size();
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i && col + items[i].size() + 2 > kLineWidth) {
      out += ",\n" + pad;
      col = pad.size();
    } else if (i) {
      out += ", ";
      col += 2;
    }
    out += items[i];
    col += items[i].size();
  }
  out += "\n" + std::string(indent, ' ') + "]";
}

/// An array: scalars filled into lines, anything else one element a line.
void layout_array(const json& v, std::size_t indent, std::string& out) {
  if (v.empty()) {
    out += "[]";
    return;
  }
  if (all_scalars(v)) return layout_scalar_array(v, indent, out);
  const std::string pad(indent + 2, ' ');
  out += "[\n";
  for (std::size_t i = 0; i < v.size(); ++i) {
    out += pad;
    layout(v[i], indent + 2, out);
    out += i + 1 < v.size() ? ",\n" : "\n";
  }
  out += std::string(indent, ' ') + "]";
}

void layout(const json& v, std::size_t indent, std::string& out) {
  if (v.is_object()) layout_object(v, indent, out);
  else if (v.is_array()) layout_array(v, indent, out);
  else out += scalar_text(v);
}

}  // namespace

nlohmann::json snapshot_to_json(const Snapshot& s, int format) {
  format = format == 1 ? 1 : kSnapshotFormat;
  json j = json::object();
  j["schema"] = std::string(kSnapshotSchema) + "/" + std::to_string(format);
  j["origin"] = s.origin;
  j["tool_version"] = s.tool_version;
  j["taken_at"] = s.taken_at;
  j["hostname"] = s.hostname;
  j["kernel_release"] = s.kernel_release;
  j["kernel_version"] = s.kernel_version;
  j["kernel_cmdline"] = s.kernel_cmdline;
  j["msr_backend"] = s.msr_backend;
  j["is_root"] = s.is_root;
  j["online_cpus"] = s.online_cpus;
  if (format == 1) j["cpus"] = list_to_json(s.cpus, cpu_to_json);
  else cpus_to_compact_json(s.cpus, j);
  json tsc = json::array();
  for (const auto& t : s.tsc)
    tsc.push_back({{"source", std::string(name_of(t.source))}, {"khz", t.khz}, {"exact", t.exact},
                   {"detail", t.detail}});
  j["tsc"] = std::move(tsc);
  j["perf"] = {{"hw_pmu", std::string(name_of(s.perf.hw_pmu))}, {"pmu_name", s.perf.pmu_name},
               {"evidence", s.perf.evidence}};
  json modules = json::array();
  for (const auto& m : s.modules) {
    json e = {{"name", m.name}, {"params", m.params}};
    if (m.builtin) e["builtin"] = true;
    modules.push_back(std::move(e));
  }
  j["modules"] = std::move(modules);
  j["configured_params"] = s.configured_params;
  j["param_origins"] = s.param_origins;
  j["kvm"] = kvm_to_json(s.kvm);
  j["kernel_log"] = s.kernel_log;
  j["kernel_log_read"] = s.kernel_log_read;
  j["notes"] = s.notes;
  return j;
}

std::string snapshot_to_text(const Snapshot& snap, int format) {
  std::string out;
  layout(snapshot_to_json(snap, format), 0, out);
  out += "\n";
  return out;
}

Result<Snapshot> parse_snapshot(std::string_view text) {
  try {
    return parse_snapshot_text(text, "snapshot", false);
  } catch (const std::bad_alloc&) {
    return make_error(ErrorKind::io, "out of memory while reading the snapshot", {}, ENOMEM);
  } catch (const std::exception& e) {
    return make_error(ErrorKind::internal, std::string("reading the snapshot: ") + e.what());
  }
}

Result<Snapshot> load_snapshot_file(const std::string& path) {
  const std::string name = path == "-" ? std::string("standard input") : path;
  try {
    auto text = read_whole_file(path, Decompress::none, kMaxSnapshotBytes);
    if (!text) return text.error();
    return parse_snapshot_text(*text, name, true);
  } catch (const std::bad_alloc&) {
    return make_error(ErrorKind::io, "out of memory while reading " + name, {}, ENOMEM);
  } catch (const std::exception& e) {
    return make_error(ErrorKind::internal, "reading " + name + ": " + e.what());
  }
}

std::optional<Error> write_snapshot_file(const Snapshot& snap, const std::string& path) {
  try {
    return write_whole_file(path, snapshot_to_text(snap));
  } catch (const std::bad_alloc&) {
    return make_error(ErrorKind::io, "out of memory while writing " + path, {}, ENOMEM);
  } catch (const std::exception& e) {
    return make_error(ErrorKind::internal, "writing " + path + ": " + e.what());
  }
}

}  // namespace kvmprobe::collect
