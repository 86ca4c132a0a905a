// Module parameters: modprobe.d files, the kernel command line, and the values of
// /sys/module/kvm*/parameters/* (served from the input by an in-memory reader), resolved the
// way `kvmprobe check` resolves them.
#include <map>
#include <string>

#include "core/analyse/params.h"
#include "core/collect/modules.h"
#include "core/profiles/profiles.h"
#include "fuzz/fuzz_common.h"

namespace {

using kvmprobe::Result;

/// /sys/module/kvm and /sys/module/kvm_amd, each with parameters whose values come from the input.
class MemorySysfs final : public kvmprobe::collect::SysfsReader {
 public:
  explicit MemorySysfs(std::string_view input) {
    // The input, cut at NUL bytes, is the value of one parameter after another.
    static const char* const kNames[] = {"nested", "npt", "avic", "tdp_mmu", "ignore_msrs", "enable_pmu"};
    std::size_t i = 0;
    while (!input.empty() && i < 12) {
      std::size_t cut = input.find('\0');
      std::string_view v = input.substr(0, cut);
      input.remove_prefix(cut == std::string_view::npos ? input.size() : cut + 1);
      files_[std::string(i % 2 ? "/sys/module/kvm_amd" : "/sys/module/kvm") + "/parameters/" + kNames[i / 2]] =
          std::string(v);
      ++i;
    }
  }
  Result<std::string> read_file(std::string_view path, std::size_t max_bytes) override {
    auto it = files_.find(std::string(path));
    if (it == files_.end() || it->second.size() > max_bytes)
      return kvmprobe::make_error(kvmprobe::ErrorKind::missing, "no file");
    return it->second;
  }
  Result<std::vector<std::string>> list_dir(std::string_view path) override {
    std::vector<std::string> out;
    std::string prefix = std::string(path) + "/";
    for (const auto& [name, v] : files_)
      if (name.compare(0, prefix.size(), prefix) == 0) out.push_back(name.substr(prefix.size()));
    return out;
  }
  bool exists(std::string_view path) override {
    std::string p(path);
    for (const auto& [name, v] : files_)
      if (name.compare(0, p.size(), p) == 0) return true;
    return false;
  }

 private:
  std::map<std::string, std::string> files_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kvmprobe;
  std::string_view t = fuzz::text(data, size);
  auto modules = collect::kvm_module_names();
  (void)collect::split_words(t);
  (void)collect::parse_cmdline_params(t, modules);
  (void)collect::parse_modprobe_conf(t, "/etc/modprobe.d/fuzz.conf", modules);
  Snapshot snap;
  MemorySysfs fs(t);
  collect::collect_loaded_modules(fs, snap);
  for (const auto& p : collect::parse_modprobe_conf(t, "/etc/modprobe.d/fuzz.conf", modules))
    snap.configured_params[p.key] = p.value;
  const KernelProfile& profile = all_profiles().back();
  EffectiveParams params = resolve_params(snap, profile, {});
  (void)params.flag("kvm_amd.nested");
  (void)params.number("kvm.halt_poll_ns");
  std::string name, value;
  (void)parse_param_override(std::string(t.substr(0, 256)), name, value);
  return 0;
}
