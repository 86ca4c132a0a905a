#include "core/provision/profile.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/collect/whole_file.h"

namespace kvmprobe::provision {

const std::vector<Xcr0Name>& xcr0_names() {
  static const std::vector<Xcr0Name> names = {
      {"x87", 1ull << 0},         {"sse", 1ull << 1},          {"avx", 1ull << 2},
      {"bndregs", 1ull << 3},     {"bndcsr", 1ull << 4},       {"mpx", 3ull << 3},
      {"opmask", 1ull << 5},      {"zmm_hi256", 1ull << 6},    {"hi16_zmm", 1ull << 7},
      {"avx512", 7ull << 5},      {"pkru", 1ull << 9},         {"xtilecfg", 1ull << 17},
      {"xtiledata", 1ull << 18},  {"amx", 3ull << 17},         {"apx", 1ull << 19},
  };
  return names;
}

namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxProfileBytes = 1u << 20;
constexpr int kMaxDepth = 16;

/// IA32_XSS components: named only to say why they cannot be in XCR0.
constexpr const char* kSupervisorComponents[] = {"pt", "pasid", "cet_u", "cet_s", "hdc", "uintr", "lbr", "hwp"};

/// Validation state: the profile's name and the first error.
class Checker {
 public:
  explicit Checker(std::string name) : name_(std::move(name)) {}
  bool failed() const { return err_.has_value(); }
  Error error() const { return *err_; }
  void fail(const std::string& path, const std::string& what, std::string hint = {}) {
    if (!err_)
      err_ = make_error(ErrorKind::bad_input, fmt::format("{}: {}{}{}", name_, path, path.empty() ? "" : ": ", what),
                        std::move(hint));
  }

  /// \a j must be an object whose keys are all in \a known.
  bool object(const json& j, const std::string& path, std::initializer_list<const char*> known) {
    if (!j.is_object()) {
      fail(path, fmt::format("expected an object, got {}", describe(j)));
      return false;
    }
    for (const auto& item : j.items()) {
      const std::string& k = item.key();  // not a structured binding: clang 14 cannot capture one
      if (std::none_of(known.begin(), known.end(), [&](const char* n) { return k == n; })) {
        std::string list;
        for (const char* n : known) list += (list.empty() ? "" : ", ") + std::string(n);
        fail(join(path, k), "unknown key", fmt::format("known keys here: {}", list));
        return false;
      }
    }
    return true;
  }

  /// An optional boolean member.
  std::optional<bool> boolean(const json& obj, const std::string& path, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (!it->is_boolean()) {
      fail(join(path, key), fmt::format("expected true or false, got {}", describe(*it)));
      return std::nullopt;
    }
    return it->get<bool>();
  }

  /// A non-empty array of strings.
  std::vector<std::string> strings(const json& j, const std::string& path) {
    std::vector<std::string> out;
    if (!j.is_array()) {
      fail(path, fmt::format("expected a list of strings, got {}", describe(j)));
      return out;
    }
    if (j.empty()) fail(path, "empty list", "name at least one entry or remove the key");
    for (std::size_t i = 0; i < j.size() && !failed(); ++i) {
      if (!j[i].is_string())
        fail(fmt::format("{}[{}]", path, i), fmt::format("expected a string, got {}", describe(j[i])));
      else
        out.push_back(j[i].get<std::string>());
    }
    return out;
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  static std::string describe(const json& j) {
    switch (j.type()) {
      case json::value_t::null: return "null";
      case json::value_t::boolean: return j.get<bool>() ? "true" : "false";
      case json::value_t::string: {
        std::string s = j.get<std::string>();
        if (s.size() > 40) s = s.substr(0, 40) + "...";
        for (char& c : s)
          if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
        return fmt::format("the string \"{}\"", s);
      }
      case json::value_t::array: return "a list";
      case json::value_t::object: return "an object";
      default: return fmt::format("the number {}", j.dump());
    }
  }

 private:
  std::string name_;
  std::optional<Error> err_;
};

/// Want::yes for true, Want::no for false or absent.
Want want(std::optional<bool> b) { return b.value_or(false) ? Want::yes : Want::no; }

void parse_vmx(Checker& c, const json& j, DesiredState& d) {
  const std::string path = "desired.vmx";
  if (!c.object(j, path, {"enabled", "locked", "smx", "sgx", "sgx_launch_control", "lmce"})) return;
  auto enabled = c.boolean(j, path, "enabled");
  auto locked = c.boolean(j, path, "locked");
  auto smx = c.boolean(j, path, "smx"), sgx = c.boolean(j, path, "sgx");
  auto sgx_lc = c.boolean(j, path, "sgx_launch_control"), lmce = c.boolean(j, path, "lmce");
  if (c.failed()) return;
  if (!enabled)
    return c.fail(path + ".enabled", "missing", "write \"enabled\": true (the only value kvmprobe can reach)");
  if (!*enabled)
    return c.fail(path + ".enabled", "false is not possible: kvmprobe never disables VMX",
                  "IA32_FEATURE_CONTROL bits can only be set (and the lock lasts until reset); remove the section "
                  "to leave the MSR alone");
  if (sgx_lc.value_or(false) && !sgx.value_or(false))
    return c.fail(path, "impossible combination: sgx_launch_control needs sgx",
                  "SGX launch control (bit 17) only has an effect with SGX enabled (bit 18): add \"sgx\": true");
  VmxWant w;
  w.lock = locked.value_or(true);
  w.smx = want(smx);
  w.sgx = want(sgx);
  w.sgx_lc = want(sgx_lc);
  w.lmce = want(lmce);
  d.vmx = w;
}

void parse_svm(Checker& c, const json& j, DesiredState& d) {
  const std::string path = "desired.svm";
  if (!c.object(j, path, {"enabled"})) return;
  auto enabled = c.boolean(j, path, "enabled");
  if (c.failed()) return;
  if (!enabled) return c.fail(path + ".enabled", "missing", "write \"enabled\": true");
  if (!*enabled)
    return c.fail(path + ".enabled", "false is not possible: kvmprobe never disables SVM",
                  "VM_CR.SVMDIS can only be cleared; remove the section to leave VM_CR alone");
  d.svm = true;
}

std::optional<Xcr0Want> parse_xcr0(Checker& c, const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  std::string path = Checker::join("expect", key);
  Xcr0Want w;
  auto names = c.strings(*it, path);
  for (std::size_t i = 0; i < names.size() && !c.failed(); ++i) {
    const std::string& n = names[i];
    const auto& all = xcr0_names();
    auto f = std::find_if(all.begin(), all.end(), [&](const Xcr0Name& x) { return n == x.name; });
    if (f != all.end()) {
      w.mask |= f->mask;
      w.names.push_back(n);
      continue;
    }
    std::string p = fmt::format("{}[{}]", path, i);
    if (std::find(std::begin(kSupervisorComponents), std::end(kSupervisorComponents), n) !=
        std::end(kSupervisorComponents)) {
      c.fail(p, fmt::format("impossible: '{}' is an IA32_XSS (supervisor) component, never in XCR0", n));
    } else {
      std::string list;
      for (const auto& x : all) list += (list.empty() ? "" : ", ") + std::string(x.name);
      c.fail(p, fmt::format("unknown XSAVE component '{}'", n), "known: " + list);
    }
  }
  if (c.failed()) return std::nullopt;
  return w;
}

void parse_expect(Checker& c, const json& j, const DesiredState& d, Expectations& e) {
  if (!c.object(j, "expect", {"vendor_module_loads", "tsc_scaling", "host_xcr0_includes", "kvm_xcr0_includes",
                              "save_list_includes"}))
    return;
  e.vendor_module_loads = c.boolean(j, "expect", "vendor_module_loads");
  e.tsc_scaling = c.boolean(j, "expect", "tsc_scaling");
  if (c.failed()) return;
  if (e.vendor_module_loads == false)
    return c.fail("expect.vendor_module_loads",
                  fmt::format("impossible combination: the desired state enables {}, so the vendor module must load",
                              d.vmx && d.svm ? "VMX/SVM" : d.vmx ? "VMX" : "SVM"),
                  "write true, or leave the key out");
  e.host_xcr0_includes = parse_xcr0(c, j, "host_xcr0_includes");
  e.kvm_xcr0_includes = parse_xcr0(c, j, "kvm_xcr0_includes");
  if (auto it = j.find("save_list_includes"); it != j.end() && !c.failed()) {
    auto items = c.strings(*it, "expect.save_list_includes");
    for (std::size_t i = 0; i < items.size() && !c.failed(); ++i) {
      const std::string& s = items[i];
      std::uint64_t v = 0;
      bool ok = s.size() > 2 && s.size() <= 10 && s[0] == '0' && s[1] == 'x';
      for (std::size_t k = 2; ok && k < s.size(); ++k) {
        char ch = static_cast<char>(std::tolower(static_cast<unsigned char>(s[k])));
        int dgt = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        ok = dgt >= 0;
        v = v << 4 | static_cast<std::uint64_t>(dgt < 0 ? 0 : dgt);
      }
      if (!ok)
        c.fail(fmt::format("expect.save_list_includes[{}]", i),
               fmt::format("'{}' is not an MSR index", s.size() > 20 ? s.substr(0, 20) + "..." : s),
               "write a 32-bit hex index such as \"0x3a\" or \"0xc0000103\"");
      else
        e.save_list_includes.push_back(static_cast<std::uint32_t>(v));
    }
  }
}

/// Nesting depth of \a text, counting only brackets outside strings.
int max_depth(std::string_view text) {
  int depth = 0, worst = 0;
  bool in_string = false, escaped = false;
  for (char ch : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (ch == '\\') escaped = true;
      else if (ch == '"') in_string = false;
      continue;
    }
    if (ch == '"') in_string = true;
    else if (ch == '{' || ch == '[') worst = std::max(worst, ++depth);
    else if (ch == '}' || ch == ']') --depth;
  }
  return worst;
}

}  // namespace

Result<ProvisionProfile> parse_profile(std::string_view text, const std::string& name) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return make_error(ErrorKind::bad_input, name + " is empty");
  if (text.size() > kMaxProfileBytes) return make_error(ErrorKind::bad_input, name + " is larger than 1 MiB");
  if (max_depth(text) > kMaxDepth)
    return make_error(ErrorKind::bad_input, fmt::format("{} nests deeper than {} levels", name, kMaxDepth));
  // Duplicate keys: nlohmann keeps the last one silently; a profile must say one thing once.
  std::vector<std::set<std::string>> keys;
  std::string duplicate;
  auto cb = [&](int, json::parse_event_t ev, json& parsed) {
    if (ev == json::parse_event_t::object_start) keys.emplace_back();
    if (ev == json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
    if (ev == json::parse_event_t::key && !keys.empty() && !keys.back().insert(parsed.get<std::string>()).second &&
        duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), cb);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    auto dash = what.find("parse error");
    return make_error(ErrorKind::bad_input,
                      fmt::format("{} is not valid JSON: {}", name, dash == std::string::npos ? what : what.substr(dash)));
  } catch (const json::exception&) {
    return make_error(ErrorKind::bad_input, name + " is not valid JSON (a number is out of range)");
  }
  if (!duplicate.empty())
    return make_error(ErrorKind::bad_input, fmt::format("{}: key '{}' appears twice in one object", name, duplicate));
  Checker c(name);
  ProvisionProfile p;
  if (!c.object(doc, "", {"schema", "description", "desired", "expect"})) return c.error();
  auto schema = doc.find("schema");
  if (schema == doc.end())
    return make_error(ErrorKind::bad_input, fmt::format("{}: schema: missing", name),
                      fmt::format("the first key should be \"schema\": \"{}\"", kProfileSchema));
  if (!schema->is_string() || schema->get<std::string>() != kProfileSchema)
    return make_error(ErrorKind::bad_input,
                      fmt::format("{}: schema: {} is not {}", name, Checker::describe(*schema), kProfileSchema),
                      "this kvmprobe reads provision profiles of version 1");
  if (auto d = doc.find("description"); d != doc.end() && !d->is_string())
    c.fail("description", fmt::format("expected a string, got {}", Checker::describe(*d)));
  auto desired = doc.find("desired");
  if (desired == doc.end() && !c.failed())
    c.fail("desired", "missing", "add \"desired\": {\"vmx\": {\"enabled\": true}} (or \"svm\")");
  if (!c.failed() && c.object(*desired, "desired", {"vmx", "svm"})) {
    if (desired->empty()) c.fail("desired", "empty: name vmx, svm or both");
    if (auto v = desired->find("vmx"); v != desired->end() && !c.failed()) parse_vmx(c, *v, p.desired);
    if (auto s = desired->find("svm"); s != desired->end() && !c.failed()) parse_svm(c, *s, p.desired);
  }
  if (auto e = doc.find("expect"); e != doc.end() && !c.failed()) parse_expect(c, *e, p.desired, p.expect);
  if (c.failed()) return c.error();
  return p;
}

Result<ProvisionProfile> load_profile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    return make_error(ErrorKind::bad_input, fmt::format("profile {} is not a regular file", path));
  // read_whole_file takes "-" for stdin; a profile is always a file by that name.
  auto text = collect::read_whole_file(path == "-" ? "./-" : path, collect::Decompress::none,
                                       kMaxProfileBytes + 1);
  if (!text) return text.error();
  return parse_profile(*text, "profile " + path);
}

}  // namespace kvmprobe::provision
