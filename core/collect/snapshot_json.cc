// Writing side of the snapshot format, text layout, and the file entry points. The reading side
// (snapshot_from_json) is in snapshot_json_read.cc.
#include "core/collect/snapshot_json.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <new>

#include "core/collect/snapshot_json_names.h"
#include "core/collect/whole_file.h"

namespace kvmprobe::collect {
namespace {

using nlohmann::json;

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

json hex_list(const std::vector<std::uint32_t>& v) {
  json a = json::array();
  for (auto x : v) a.push_back(hex(x));
  return a;
}

json leaves_to_json(const std::vector<CpuidLeaf>& v) {
  json leaves = json::array();
  for (const auto& l : v)
    leaves.push_back({{"leaf", hex(l.leaf)}, {"subleaf", hex(l.subleaf)}, {"eax", hex(l.eax)},
                      {"ebx", hex(l.ebx)}, {"ecx", hex(l.ecx)}, {"edx", hex(l.edx)}});
  return leaves;
}

json cpu_to_json(const CpuRecord& c) {
  json j = json::object();
  j["cpu"] = c.cpu;
  j["cpuid"] = leaves_to_json(c.cpuid);
  if (c.cpuid_view != CpuidView::unknown) j["cpuid_view"] = std::string(name_of(c.cpuid_view));
  if (!c.cpuid_instruction_differs.empty())
    j["cpuid_instruction_differs"] = leaves_to_json(c.cpuid_instruction_differs);
  json msrs = json::array();
  for (const auto& m : c.msrs) {
    json e = {{"index", hex(m.index)}, {"status", std::string(name_of(m.status))}};
    if (m.status == ReadStatus::value) e["value"] = hex(m.value);
    if (m.error != 0) e["error"] = m.error;
    msrs.push_back(std::move(e));
  }
  j["msrs"] = std::move(msrs);
  if (c.xcr0) j["xcr0"] = hex(*c.xcr0);
  if (c.cr0) j["cr0"] = hex(*c.cr0);
  if (c.cr4) j["cr4"] = hex(*c.cr4);
  if (c.efer) j["efer"] = hex(*c.efer);
  if (c.linux_flags) j["linux_flags"] = *c.linux_flags;
  return j;
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
    "kernel_version", "kernel_cmdline", "msr_backend", "is_root", "online_cpus", "cpus", "tsc", "perf", "modules",
    "configured_params", "param_origins", "kvm", "kernel_log", "kernel_log_read", "notes",
    "cpu", "cpuid", "cpuid_view", "cpuid_instruction_differs", "msrs", "xcr0", "cr0", "cr4", "efer", "linux_flags",
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

void layout(const json& v, std::size_t indent, std::string& out) {
  const std::string pad(indent + 2, ' ');
  if (v.is_object()) {
    auto members = ordered_members(v);
    if (members.empty()) {
      out += "{}";
      return;
    }
    if (all_scalars(v) && members.size() <= 8) {  // a CPUID leaf, an MSR read: one line
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
  } else if (v.is_array()) {
    if (v.empty()) {
      out += "[]";
      return;
    }
    if (all_scalars(v)) {  // CPU lists, flags: fill lines
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
      return;
    }
    out += "[\n";
    for (std::size_t i = 0; i < v.size(); ++i) {
      out += pad;
      layout(v[i], indent + 2, out);
      out += i + 1 < v.size() ? ",\n" : "\n";
    }
    out += std::string(indent, ' ') + "]";
  } else {
    out += scalar_text(v);
  }
}

// ---- parsing the text ----------------------------------------------------------------------

/// Bounds nesting and size before nlohmann builds a tree, so a hostile document cannot make
/// it allocate without limit. Counts structural characters outside strings.
std::optional<std::string> prescan(std::string_view text) {
  constexpr std::size_t kMaxTokens = std::size_t{16} << 20;
  int depth = 0;
  std::size_t tokens = 0, line = 1;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (c == '\n') ++line;
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '{': case '[':
        if (++depth > kMaxJsonDepth)
          return "is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels (line " +
                 std::to_string(line) + ")";
        [[fallthrough]];
      case ',': case ':':
        if (++tokens > kMaxTokens) return "has more than 16 million JSON values";
        break;
      case '}': case ']': --depth; break;
      default: break;
    }
  }
  return std::nullopt;
}

/// " (line 3, column 7): unexpected end of input" for a nlohmann parse_error. The position is
/// recomputed from the byte offset: nlohmann counts a newline it stopped at as the next line's
/// column 0, which points at nothing.
std::string parse_error_text(const json::parse_error& e, std::string_view text) {
  std::size_t idx = std::min<std::size_t>(e.byte, text.size());
  idx = idx ? idx - 1 : 0;
  std::size_t line = 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + idx, '\n'));
  std::size_t line_start = text.rfind('\n', idx ? idx - 1 : 0);
  line_start = (line_start == std::string_view::npos || idx == 0) ? 0 : line_start + 1;
  std::string s = " (line " + std::to_string(line) + ", column " + std::to_string(idx - line_start + 1) + ")";
  const std::string what = e.what();
  auto dash = what.find(" - ");
  if (dash == std::string::npos) return s;
  std::string why = what.substr(dash + 3, what.find("; last read", dash) - dash - 3);
  if (why.size() > 100) why.resize(100);
  for (char& c : why)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  return s + ": " + why;
}

/// Parses \a text; errors name it \a name, and with \a prefix_paths also the JSON-path ones.
Result<Snapshot> parse_named(std::string_view text, const std::string& name, bool prefix_paths) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return make_error(ErrorKind::bad_input, name + " is empty");
  if (text.size() > kMaxSnapshotBytes)
    return make_error(ErrorKind::bad_input, name + " is larger than 256 MiB");
  if (auto why = prescan(text)) return make_error(ErrorKind::bad_input, name + " " + *why);
  json doc;
  try {
    doc = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    return make_error(ErrorKind::bad_input, name + " is not valid JSON" + parse_error_text(e, text));
  } catch (const json::exception&) {  // e.g. out_of_range 406: a number too large for a double
    return make_error(ErrorKind::bad_input, name + " is not valid JSON (number out of range)");
  } catch (const std::bad_alloc&) {
    return make_error(ErrorKind::io, "out of memory while reading " + name, {}, ENOMEM);
  }
  auto snap = snapshot_from_json(doc);
  if (!snap && prefix_paths) {
    Error e = snap.error();
    e.detail = name + ": " + e.detail;
    return e;
  }
  return snap;
}

}  // namespace

nlohmann::json snapshot_to_json(const Snapshot& s) {
  json j = json::object();
  j["schema"] = std::string(kSnapshotSchema) + "/" + std::to_string(kSnapshotFormat);
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
  json cpus = json::array();
  for (const auto& c : s.cpus) cpus.push_back(cpu_to_json(c));
  j["cpus"] = std::move(cpus);
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

std::string snapshot_to_text(const Snapshot& snap) {
  std::string out;
  layout(snapshot_to_json(snap), 0, out);
  out += "\n";
  return out;
}

Result<Snapshot> parse_snapshot(std::string_view text) {
  try {
    return parse_named(text, "snapshot", false);
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
    return parse_named(*text, name, true);
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
