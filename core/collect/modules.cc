#include "core/collect/modules.h"
#include "core/model/format.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <map>

namespace kvmprobe::collect {

namespace {

constexpr std::array<std::string_view, 4> kKvmModules = {"kvm", "kvm_intel", "kvm_amd", "kvm_pvm"};
constexpr std::array<std::string_view, 3> kOtherHypervisors = {"vboxdrv", "vmmon",
                                                               "prl_hypervisor"};
// kmod's configuration directories, highest priority first (libkmod-config.c).
constexpr std::array<std::string_view, 4> kModprobeDirs = {
    "/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/lib/modprobe.d"};

std::string underscores(std::string_view s) {
  std::string out(s);
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

bool wanted(std::string_view module, std::span<const std::string_view> modules) {
  return std::find(modules.begin(), modules.end(), module) != modules.end();
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return std::string(s);
}

/// "param=value" or "param" → (normalised param, value).
std::pair<std::string, std::string> split_assignment(std::string_view word) {
  std::size_t eq = word.find('=');
  if (eq == std::string_view::npos) return {underscores(word), ""};
  return {underscores(word.substr(0, eq)), std::string(word.substr(eq + 1))};
}

}  // namespace

std::span<const std::string_view> kvm_module_names() { return kKvmModules; }
std::span<const std::string_view> other_hypervisor_module_names() { return kOtherHypervisors; }

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::string cur;
  bool in_quote = false, have = false;
  for (char c : text) {
    if (c == '"') {
      in_quote = !in_quote;
      have = true;
    } else if (!in_quote && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
      if (have) words.push_back(std::move(cur));
      cur.clear();
      have = false;
    } else {
      cur += c;
      have = true;
    }
  }
  if (have) words.push_back(std::move(cur));
  return words;
}

std::vector<ConfiguredParam> parse_cmdline_params(std::string_view cmdline,
                                                  std::span<const std::string_view> modules) {
  std::vector<ConfiguredParam> out;
  for (const std::string& w : split_words(cmdline)) {
    if (w == "--") break;
    std::size_t dot = w.find('.');
    std::size_t eq = w.find('=');
    if (dot == std::string::npos || dot == 0 || (eq != std::string::npos && eq < dot)) continue;
    std::string module = underscores(std::string_view(w).substr(0, dot));
    if (!wanted(module, modules)) continue;
    auto [param, value] = split_assignment(std::string_view(w).substr(dot + 1));
    if (param.empty()) continue;
    out.push_back({module + "." + param, value, "kernel command line"});
  }
  return out;
}

std::vector<ConfiguredParam> parse_modprobe_conf(std::string_view text, std::string_view path,
                                                 std::span<const std::string_view> modules) {
  std::vector<ConfiguredParam> out;
  std::string logical;
  std::size_t line_no = 0, first_line = 0, pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    if (logical.empty()) first_line = line_no;
    if (!line.empty() && line.back() == '\\') {  // continuation
      logical.append(line.substr(0, line.size() - 1));
      logical += ' ';
      continue;
    }
    logical.append(line);
    std::vector<std::string> words = split_words(logical);
    logical.clear();
    if (words.size() < 3 || words[0] != "options") continue;  // also skips '#' comments
    std::string module = underscores(words[1]);
    if (!wanted(module, modules)) continue;
    for (std::size_t i = 2; i < words.size(); ++i) {
      auto [param, value] = split_assignment(words[i]);
      if (param.empty()) continue;
      out.push_back(
          {module + "." + param, value, std::string(path) + ":" + std::to_string(first_line)});
    }
  }
  return out;
}

std::vector<std::string> modprobe_conf_files(SysfsReader& fs, std::vector<std::string>* notes) {
  std::map<std::string, std::string> by_name;  // file name -> path (first directory wins)
  for (std::string_view dir : kModprobeDirs) {
    auto names = fs.list_dir(dir);
    if (!names) {
      if (notes && names.error().err != ENOENT && names.error().err != ENOTDIR)
        notes->push_back("modprobe.d: " + names.error().detail);
      continue;
    }
    for (const std::string& n : *names) {
      if (n.size() <= 5 || n.compare(n.size() - 5, 5, ".conf") != 0) continue;
      by_name.emplace(n, std::string(dir) + "/" + n);
    }
  }
  std::vector<std::string> files;
  for (auto& [name, path] : by_name) files.push_back(path);
  return files;
}

void collect_configured_params(SysfsReader& fs, Snapshot& snap) {
  std::vector<ConfiguredParam> all;
  for (const std::string& path : modprobe_conf_files(fs, &snap.notes)) {
    auto text = fs.read_file(path, 1 << 20);
    if (!text) {
      snap.notes.push_back("modprobe.d: " + text.error().detail);
      continue;
    }
    auto found = parse_modprobe_conf(*text, path, kvm_module_names());
    all.insert(all.end(), found.begin(), found.end());
  }
  auto cmdline = parse_cmdline_params(snap.kernel_cmdline, kvm_module_names());
  all.insert(all.end(), cmdline.begin(), cmdline.end());
  for (const ConfiguredParam& p : all) {  // later settings override earlier ones
    snap.configured_params[p.key] = p.value;
    snap.param_origins[p.key] = p.origin;
  }
}

void collect_loaded_modules(SysfsReader& fs, Snapshot& snap) {
  std::vector<std::string_view> names(kKvmModules.begin(), kKvmModules.end());
  names.insert(names.end(), kOtherHypervisors.begin(), kOtherHypervisors.end());
  for (std::string_view name : names) {
    std::string dir = "/sys/module/" + std::string(name);
    if (!fs.exists(dir)) continue;
    LoadedModule m;
    m.name = std::string(name);
    // kernel/module/sysfs.c: only loadable modules get initstate; built-in ones with
    // parameters still have /sys/module/NAME/parameters (kernel/params.c).
    m.builtin = !fs.exists(dir + "/initstate");
    std::vector<std::string> unreadable;
    if (auto params = fs.list_dir(dir + "/parameters")) {
      for (const std::string& p : *params) {
        auto v = fs.read_file(dir + "/parameters/" + p, 4096);
        if (v)
          m.params[p] = trim(*v);
        else
          unreadable.push_back(p);
      }
    }
    if (!unreadable.empty()) {
      snap.notes.push_back("module " + m.name + ": parameters not readable: " + join(unreadable, ", "));
    }
    snap.modules.push_back(std::move(m));
  }
  if (auto type = fs.read_file("/sys/hypervisor/type", 256); type && !trim(*type).empty())
    snap.notes.push_back("/sys/hypervisor/type: " + trim(*type) +
                         " (running under that hypervisor, e.g. a Xen domain)");
}

}  // namespace kvmprobe::collect
