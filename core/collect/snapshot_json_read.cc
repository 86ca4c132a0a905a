// Reading side of the snapshot format: snapshot_from_json(). Every value is checked against
// its type, range and limit; the first problem becomes the error, named by its JSON path.
#include <algorithm>
#include <climits>
#include <new>
#include <set>
#include <tuple>

#include "core/collect/snapshot_json.h"
#include "core/collect/snapshot_json_names.h"

namespace kvmprobe::collect {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxStringBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxListEntries = 65536;  // MSR lists, parameters, flags
constexpr std::size_t kMaxLogLines = 100000;    // kernel_log, notes

/// A user-supplied string shortened and made printable, for quoting in an error.
std::string printable(const std::string& s) {
  std::string out = "\"";
  for (char c : s.substr(0, 40))
    out += (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) ? '?' : c;
  return out + (s.size() > 40 ? "...\"" : "\"");
}

std::string at(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

/// A map member's path: configured_params["kvm_amd.nested"] (keys may hold any character).
std::string at_key(const std::string& path, const std::string& key) {
  return path + "[" + printable(key) + "]";
}

std::string at(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

/// Reads values and remembers only the first problem ("sticky" error): after a failure every
/// accessor returns a default, and loops stop at the next ok() check.
class Reader {
 public:
  bool ok() const { return !error_; }
  const std::string& error() const { return *error_; }

  const std::string& hint() const { return hint_; }

  void fail(const std::string& path, const std::string& what, std::string hint = {}) {
    if (error_) return;
    error_ = path.empty() ? what : path + ": " + what;
    hint_ = std::move(hint);
  }

  /// The member, or nullptr when absent or null (and an error when \a required).
  const json* member(const json& obj, std::string_view key, const std::string& path,
                     bool required = false) {
    if (!ok() || !obj.is_object()) return nullptr;
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
      if (required) fail(at(path, key), "missing");
      return nullptr;
    }
    return &*it;
  }

  bool is(const json* v, json::value_t type, const std::string& path, const char* expected) {
    if (!v || !ok()) return false;
    if (v->type() == type) return true;
    fail(path, std::string("expected ") + expected);
    return false;
  }

  std::string string(const json* v, const std::string& path) {
    if (!is(v, json::value_t::string, path, "string")) return {};
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > kMaxStringBytes) {
      fail(path, "string longer than 1 MiB");
      return {};
    }
    return s;
  }

  bool boolean(const json* v, const std::string& path) {
    return is(v, json::value_t::boolean, path, "true or false") && v->get<bool>();
  }

  std::uint64_t unsigned_int(const json* v, const std::string& path, std::uint64_t max) {
    if (!v || !ok()) return 0;
    if (v->is_number_unsigned() || (v->is_number_integer() && v->get<std::int64_t>() >= 0)) {
      auto x = v->get<std::uint64_t>();
      if (x <= max) return x;
      fail(path, std::to_string(x) + " is out of range (0.." + std::to_string(max) + ")");
      return 0;
    }
    fail(path, "expected a non-negative integer");
    return 0;
  }

  std::int64_t signed_int(const json* v, const std::string& path) {
    if (!v || !ok()) return 0;
    if (v->is_number_integer() && !v->is_number_unsigned()) return v->get<std::int64_t>();
    if (v->is_number_unsigned() && v->get<std::uint64_t>() <= INT64_MAX)
      return static_cast<std::int64_t>(v->get<std::uint64_t>());
    fail(path, v->is_number_unsigned() ? "out of range" : "expected an integer");
    return 0;
  }

  /// "0x" and 1..16 hex digits whose value fits in \a bits.
  std::uint64_t hex(const json* v, const std::string& path, unsigned bits) {
    if (!v || !ok()) return 0;
    const std::string* s = v->is_string() ? &v->get_ref<const std::string&>() : nullptr;
    if (!s || s->size() < 3 || s->size() > 18 || (*s)[0] != '0' || (*s)[1] != 'x') {
      fail(path, "expected hex string");
      return 0;
    }
    std::uint64_t x = 0;
    for (std::size_t i = 2; i < s->size(); ++i) {
      char c = (*s)[i];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) {
        fail(path, "expected hex string");
        return 0;
      }
      x = (x << 4) | static_cast<unsigned>(d);
    }
    if (bits < 64 && (x >> bits) != 0) {
      fail(path, *s + " does not fit in " + std::to_string(bits) + " bits");
      return 0;
    }
    return x;
  }

  template <typename E, std::size_t N>
  E enumerated(const json* v, const std::string& path, const EnumName<E> (&table)[N], E fallback) {
    std::string s = string(v, path);
    if (!ok() || !v) return fallback;
    if (auto e = enum_value(table, s)) return *e;
    std::string names;
    for (const auto& [name, value] : table) {
      if (!names.empty()) names += '|';
      names += name;
    }
    fail(path, "unknown value " + printable(s) + " (expected " + names + ")");
    return fallback;
  }

  /// The array, or nullptr; an error when it is not an array or longer than \a max.
  const json* array(const json* v, const std::string& path, std::size_t max, const char* what) {
    if (!is(v, json::value_t::array, path, "array")) return nullptr;
    if (v->size() > max) {
      fail(path, "more than " + std::to_string(max) + " " + what);
      return nullptr;
    }
    return v;
  }

  const json* object(const json* v, const std::string& path) {
    return is(v, json::value_t::object, path, "object") ? v : nullptr;
  }

  std::vector<std::string> strings(const json* v, const std::string& path, std::size_t max) {
    std::vector<std::string> out;
    if (const json* a = array(v, path, max, "entries"))
      for (std::size_t i = 0; i < a->size() && ok(); ++i) out.push_back(string(&(*a)[i], at(path, i)));
    return out;
  }

  std::map<std::string, std::string> string_map(const json* v, const std::string& path) {
    std::map<std::string, std::string> out;
    const json* o = object(v, path);
    if (!o) return out;
    if (o->size() > kMaxListEntries) {
      fail(path, "more than " + std::to_string(kMaxListEntries) + " entries");
      return out;
    }
    for (auto it = o->begin(); it != o->end() && ok(); ++it)
      out[it.key()] = string(&it.value(), at_key(path, it.key()));
    return out;
  }

  std::vector<std::uint32_t> hex_list(const json* v, const std::string& path) {
    std::vector<std::uint32_t> out;
    if (const json* a = array(v, path, kMaxListEntries, "entries"))
      for (std::size_t i = 0; i < a->size() && ok(); ++i)
        out.push_back(static_cast<std::uint32_t>(hex(&(*a)[i], at(path, i), 32)));
    return out;
  }

  std::optional<std::uint64_t> optional_hex(const json& obj, std::string_view key,
                                            const std::string& path, unsigned bits) {
    const json* v = member(obj, key, path);
    if (!v) return std::nullopt;
    return hex(v, at(path, key), bits);
  }

 private:
  std::optional<std::string> error_;
  std::string hint_;
};

/// "kvmprobe.snapshot/N" -> N, after checking the name and that N is one we can read.
int read_schema(Reader& r, const json& doc) {
  const json* v = r.member(doc, "schema", "", true);
  std::string s = r.string(v, "schema");
  if (!r.ok()) return 0;
  std::string prefix = std::string(kSnapshotSchema) + "/";
  if (s.compare(0, prefix.size(), prefix) != 0) {
    r.fail("schema", printable(s) + " is not a kvmprobe snapshot (expected " + prefix +
                         std::to_string(kSnapshotFormat) + ")");
    return 0;
  }
  std::string num = s.substr(prefix.size());
  if (num.empty() || num.size() > 9 || !std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(num) == 0) {
    r.fail("schema", printable(s) + " has no valid format version");
    return 0;
  }
  int version = std::stoi(num);
  if (version > kSnapshotFormat) {
    r.fail("schema", "written by a newer kvmprobe (format " + num + " > " +
                         std::to_string(kSnapshotFormat) + ")",
           "read it with the kvmprobe version that wrote it, or a newer one");
    return 0;
  }
  return version;
}

/// A list of CPUID leaves (member \a key of \a j), duplicates refused.
std::vector<CpuidLeaf> read_leaves(Reader& r, const json& j, const std::string& path, const char* key) {
  std::vector<CpuidLeaf> out;
  std::set<std::pair<std::uint32_t, std::uint32_t>> seen_leaves;
  const std::string lpath = at(path, key);
  if (const json* a = r.array(r.member(j, key, path), lpath, kMaxCpuidLeavesPerCpu, "leaves")) {
    for (std::size_t i = 0; i < a->size() && r.ok(); ++i) {
      const json& e = (*a)[i];
      const std::string p = at(lpath, i);
      if (!r.object(&e, p)) break;
      CpuidLeaf l;
      l.leaf = static_cast<std::uint32_t>(r.hex(r.member(e, "leaf", p, true), at(p, "leaf"), 32));
      l.subleaf = static_cast<std::uint32_t>(r.hex(r.member(e, "subleaf", p, true), at(p, "subleaf"), 32));
      l.eax = static_cast<std::uint32_t>(r.hex(r.member(e, "eax", p, true), at(p, "eax"), 32));
      l.ebx = static_cast<std::uint32_t>(r.hex(r.member(e, "ebx", p, true), at(p, "ebx"), 32));
      l.ecx = static_cast<std::uint32_t>(r.hex(r.member(e, "ecx", p, true), at(p, "ecx"), 32));
      l.edx = static_cast<std::uint32_t>(r.hex(r.member(e, "edx", p, true), at(p, "edx"), 32));
      if (r.ok() && !seen_leaves.emplace(l.leaf, l.subleaf).second) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "duplicate leaf 0x%x subleaf 0x%x", l.leaf, l.subleaf);
        r.fail(p, buf);
      }
      out.push_back(l);
    }
  }

  return out;
}

CpuRecord read_cpu(Reader& r, const json& j, const std::string& path) {
  CpuRecord c;
  if (!r.object(&j, path)) return c;
  c.cpu = static_cast<unsigned>(
      r.unsigned_int(r.member(j, "cpu", path, true), at(path, "cpu"), kMaxSnapshotCpus - 1));

  c.cpuid = read_leaves(r, j, path, "cpuid");
  if (const json* v = r.member(j, "cpuid_view", path))
    c.cpuid_view = r.enumerated(v, at(path, "cpuid_view"), kCpuidViewNames, CpuidView::unknown);
  c.cpuid_instruction_differs = read_leaves(r, j, path, "cpuid_instruction_differs");

  std::set<std::uint32_t> seen_msrs;
  const std::string mpath = at(path, "msrs");
  if (const json* a = r.array(r.member(j, "msrs", path), mpath, kMaxMsrsPerCpu, "MSRs")) {
    for (std::size_t i = 0; i < a->size() && r.ok(); ++i) {
      const json& e = (*a)[i];
      const std::string p = at(mpath, i);
      if (!r.object(&e, p)) break;
      MsrRead m;
      m.index = static_cast<std::uint32_t>(r.hex(r.member(e, "index", p, true), at(p, "index"), 32));
      m.status = r.enumerated(r.member(e, "status", p, true), at(p, "status"), kReadStatusNames,
                              ReadStatus::unavailable);
      const json* value = r.member(e, "value", p);
      if (m.status == ReadStatus::value) {
        if (!value && r.ok()) r.fail(at(p, "value"), "missing (status is \"value\")");
        m.value = r.hex(value, at(p, "value"), 64);
      } else if (value && r.ok()) {
        r.fail(at(p, "value"), "not allowed when status is \"" + std::string(name_of(m.status)) + "\"");
      }
      m.error = static_cast<int>(r.unsigned_int(r.member(e, "error", p), at(p, "error"), 4095));
      if (r.ok() && !seen_msrs.insert(m.index).second) {
        char buf[48];
        std::snprintf(buf, sizeof buf, "duplicate MSR 0x%x", m.index);
        r.fail(p, buf);
      }
      c.msrs.push_back(m);
    }
  }

  c.xcr0 = r.optional_hex(j, "xcr0", path, 64);
  c.cr0 = r.optional_hex(j, "cr0", path, 64);
  c.cr4 = r.optional_hex(j, "cr4", path, 64);
  c.efer = r.optional_hex(j, "efer", path, 64);
  if (const json* f = r.member(j, "linux_flags", path))
    c.linux_flags = r.strings(f, at(path, "linux_flags"), 4096);

  // The model promises sorted lists; accept any order on input.
  std::sort(c.cpuid.begin(), c.cpuid.end(), [](const CpuidLeaf& a, const CpuidLeaf& b) {
    return std::tie(a.leaf, a.subleaf) < std::tie(b.leaf, b.subleaf);
  });
  std::sort(c.msrs.begin(), c.msrs.end(), [](const MsrRead& a, const MsrRead& b) { return a.index < b.index; });
  return c;
}

void read_cpus(Reader& r, const json& doc, Snapshot& s) {
  const json* a = r.array(r.member(doc, "cpus", "", true), "cpus", kMaxSnapshotCpus, "CPUs");
  if (!a) return;
  std::set<unsigned> seen;
  for (std::size_t i = 0; i < a->size() && r.ok(); ++i) {
    CpuRecord c = read_cpu(r, (*a)[i], at("cpus", i));
    if (r.ok() && !seen.insert(c.cpu).second)
      r.fail(at(at("cpus", i), "cpu"), "duplicate CPU " + std::to_string(c.cpu));
    s.cpus.push_back(std::move(c));
  }
}

void read_online(Reader& r, const json& doc, Snapshot& s) {
  const json* a = r.array(r.member(doc, "online_cpus", ""), "online_cpus", kMaxSnapshotCpus, "CPUs");
  if (!a) return;
  std::set<unsigned> seen;
  for (std::size_t i = 0; i < a->size() && r.ok(); ++i) {
    auto cpu = static_cast<unsigned>(r.unsigned_int(&(*a)[i], at("online_cpus", i), kMaxSnapshotCpus - 1));
    if (r.ok() && !seen.insert(cpu).second)
      r.fail(at("online_cpus", i), "duplicate CPU " + std::to_string(cpu));
    s.online_cpus.push_back(cpu);
  }
}

void read_tsc(Reader& r, const json& doc, Snapshot& s) {
  const json* a = r.array(r.member(doc, "tsc", ""), "tsc", 256, "entries");
  for (std::size_t i = 0; a && i < a->size() && r.ok(); ++i) {
    const std::string p = at("tsc", i);
    const json& e = (*a)[i];
    if (!r.object(&e, p)) break;
    TscCandidate t;
    t.source = r.enumerated(r.member(e, "source", p, true), at(p, "source"), kTscSourceNames,
                            TscSource::cpuinfo_mhz);
    t.khz = r.unsigned_int(r.member(e, "khz", p, true), at(p, "khz"), UINT64_MAX);
    if (const json* x = r.member(e, "exact", p)) t.exact = r.boolean(x, at(p, "exact"));
    if (const json* d = r.member(e, "detail", p)) t.detail = r.string(d, at(p, "detail"));
    s.tsc.push_back(std::move(t));
  }
}

void read_modules(Reader& r, const json& doc, Snapshot& s) {
  const json* a = r.array(r.member(doc, "modules", ""), "modules", 4096, "modules");
  for (std::size_t i = 0; a && i < a->size() && r.ok(); ++i) {
    const std::string p = at("modules", i);
    const json& e = (*a)[i];
    if (!r.object(&e, p)) break;
    LoadedModule m;
    m.name = r.string(r.member(e, "name", p, true), at(p, "name"));
    if (const json* params = r.member(e, "params", p)) m.params = r.string_map(params, at(p, "params"));
    if (const json* b = r.member(e, "builtin", p)) m.builtin = r.boolean(b, at(p, "builtin"));
    s.modules.push_back(std::move(m));
  }
}

void read_perf(Reader& r, const json& doc, Snapshot& s) {
  const json* o = r.object(r.member(doc, "perf", ""), "perf");
  if (!o) return;
  if (const json* v = r.member(*o, "hw_pmu", "perf"))
    s.perf.hw_pmu = r.enumerated(v, "perf.hw_pmu", kTriNames, Tri::unknown);
  if (const json* v = r.member(*o, "pmu_name", "perf")) s.perf.pmu_name = r.string(v, "perf.pmu_name");
  if (const json* v = r.member(*o, "evidence", "perf")) s.perf.evidence = r.string(v, "perf.evidence");
}

void read_kvm(Reader& r, const json& doc, Snapshot& s) {
  const json* o = r.object(r.member(doc, "kvm", ""), "kvm");
  if (!o) return;
  KvmDeviceInfo& k = s.kvm;
  if (const json* v = r.member(*o, "present", "kvm")) k.present = r.boolean(v, "kvm.present");
  if (const json* v = r.member(*o, "openable", "kvm")) k.openable = r.boolean(v, "kvm.openable");
  if (const json* v = r.member(*o, "misc_registered", "kvm")) k.misc_registered = r.boolean(v, "kvm.misc_registered");
  if (const json* v = r.member(*o, "open_error", "kvm"))
    k.open_error = static_cast<int>(r.unsigned_int(v, "kvm.open_error", 4095));
  if (const json* v = r.member(*o, "api_version", "kvm"))
    k.api_version = static_cast<int>(r.unsigned_int(v, "kvm.api_version", INT_MAX));
  if (const json* v = r.member(*o, "msr_index_list", "kvm"))
    k.msr_index_list = r.hex_list(v, "kvm.msr_index_list");
  if (const json* v = r.member(*o, "feature_msr_list", "kvm"))
    k.feature_msr_list = r.hex_list(v, "kvm.feature_msr_list");
  if (const json* v = r.member(*o, "cap_tsc_control", "kvm"))
    k.cap_tsc_control = r.signed_int(v, "kvm.cap_tsc_control");
  if (const json* v = r.member(*o, "vcpu_tsc_khz", "kvm"))
    k.vcpu_tsc_khz = r.unsigned_int(v, "kvm.vcpu_tsc_khz", UINT64_MAX);
  k.supported_xcr0 = r.optional_hex(*o, "supported_xcr0", "kvm", 64);
  if (const json* v = r.member(*o, "error", "kvm")) k.error = r.string(v, "kvm.error");
}

Snapshot read_snapshot(Reader& r, const json& doc) {
  Snapshot s;
  if (!doc.is_object()) {
    r.fail("", "expected a JSON object at the top level");
    return s;
  }
  s.format = read_schema(r, doc);
  auto text = [&](std::string_view key, std::string& out) {
    if (const json* v = r.member(doc, key, "")) out = r.string(v, std::string(key));
  };
  auto flag = [&](std::string_view key, bool& out) {
    if (const json* v = r.member(doc, key, "")) out = r.boolean(v, std::string(key));
  };
  text("origin", s.origin);
  text("tool_version", s.tool_version);
  text("taken_at", s.taken_at);
  text("hostname", s.hostname);
  text("kernel_release", s.kernel_release);
  text("kernel_version", s.kernel_version);
  text("kernel_cmdline", s.kernel_cmdline);
  text("msr_backend", s.msr_backend);
  flag("is_root", s.is_root);
  read_online(r, doc, s);
  read_cpus(r, doc, s);
  read_tsc(r, doc, s);
  read_perf(r, doc, s);
  read_modules(r, doc, s);
  if (const json* v = r.member(doc, "configured_params", ""))
    s.configured_params = r.string_map(v, "configured_params");
  if (const json* v = r.member(doc, "param_origins", ""))
    s.param_origins = r.string_map(v, "param_origins");
  read_kvm(r, doc, s);
  if (const json* v = r.member(doc, "kernel_log", "")) s.kernel_log = r.strings(v, "kernel_log", kMaxLogLines);
  flag("kernel_log_read", s.kernel_log_read);
  if (const json* v = r.member(doc, "notes", "")) s.notes = r.strings(v, "notes", kMaxLogLines);
  return s;
}

}  // namespace

Result<Snapshot> snapshot_from_json(const nlohmann::json& doc) {
  try {
    Reader r;
    Snapshot s = read_snapshot(r, doc);
    if (!r.ok()) return make_error(ErrorKind::bad_input, r.error(), r.hint());
    return s;
  } catch (const std::bad_alloc&) {
    return make_error(ErrorKind::io, "out of memory while reading the snapshot", {}, ENOMEM);
  } catch (const std::exception& e) {  // a bug: every access above is type-checked first
    return make_error(ErrorKind::internal, std::string("reading the snapshot: ") + e.what());
  }
}

}  // namespace kvmprobe::collect
