#include "core/render/driver.h"

#include <fmt/format.h>

#include <cstring>

#include "core/model/format.h"
#include "uapi/kvmprobe.h"

namespace kvmprobe::render {

namespace {

using nlohmann::json;
using namespace kvmprobe::driver;

template <typename T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json tri(Tri t) { return t == Tri::unknown ? json(nullptr) : json(t == Tri::yes); }
const char* tri_text(Tri t) { return t == Tri::yes ? "yes" : t == Tri::no ? "no" : "unknown"; }

std::vector<std::string> cap_names(std::uint64_t caps) {
  std::vector<std::string> out;
  if (caps & KVMPROBE_CAP_READ_MSRS) out.push_back("read_msrs");
  if (caps & KVMPROBE_CAP_CPU_STATE) out.push_back("cpu_state");
  if (caps & KVMPROBE_CAP_TSC) out.push_back("tsc");
  if (caps & KVMPROBE_CAP_GUARDED_WRITE) out.push_back("guarded_write");
  return out;
}

std::string mode_text(unsigned mode) { return fmt::format("{:04o}", mode); }

json device_json(const DeviceState& d) {
  return {{"path", d.path},
          {"present", d.present},
          {"char_device", d.present ? json(d.node.char_device) : json(nullptr)},
          {"mode", d.present ? json(mode_text(d.node.mode)) : json(nullptr)},
          {"uid", d.present ? json(d.node.uid) : json(nullptr)},
          {"gid", d.present ? json(d.node.gid) : json(nullptr)}};
}

json abi_json(const AbiState& a) {
  json j = {{"expected", a.expected}, {"matches", a.matches()}, {"error", a.error},
            {"version", nullptr}, {"caps", nullptr}, {"max_msrs", nullptr}, {"nr_cpu_ids", nullptr}};
  if (a.info) {
    j["version"] = a.info->abi_version;
    j["caps"] = cap_names(a.info->caps);
    j["max_msrs"] = a.info->max_msrs;
    j["nr_cpu_ids"] = a.info->nr_cpu_ids;
  }
  return j;
}

std::string abi_text(const AbiState& a) {
  if (!a.info) return "not asked: " + a.error;
  return fmt::format("{} ({}; this kvmprobe speaks {}); {}; {} MSRs per call",
                     a.info->abi_version, a.matches() ? "matches" : "MISMATCH", a.expected,
                     join(cap_names(a.info->caps), " "), a.info->max_msrs);
}

std::string device_text(const DeviceState& d) {
  if (!d.present) return d.path + " absent" + (d.error.empty() ? "" : " (" + d.error + ")");
  return fmt::format("{} {}, mode {}, uid {}", d.path,
                     d.node.char_device ? "character device" : "NOT a character device",
                     mode_text(d.node.mode), d.node.uid);
}

std::string built_for(const std::optional<std::string>& vermagic) {
  return vermagic ? vermagic_release(*vermagic) : "";
}

}  // namespace

json errno_json(int err) {
  if (err == 0) return nullptr;
  const char* name = ::strerrorname_np(err);
  return name ? json(name) : json(err);
}

json driver_status_json(const DriverStatus& st) {
  json ko = nullptr;
  if (st.ko) {
    std::string release = built_for(st.ko_vermagic);
    ko = {{"path", st.ko->path},
          {"origin", to_string(st.ko->origin)},
          {"vermagic", opt(st.ko_vermagic)},
          {"built_for", release.empty() ? json(nullptr) : json(release)},
          {"matches_kernel", release.empty() ? json(nullptr) : json(release == st.kernel_release)}};
  }
  json searched = json::array();
  for (const auto& c : st.ko_searched)
    searched.push_back({{"path", c.path}, {"origin", to_string(c.origin)}, {"exists", c.exists}});
  const auto& m = st.module;
  return {{"schema", "kvmprobe.driver-status/1"},
          {"kernel_release", st.kernel_release},
          {"usable", st.usable},
          {"module",
           {{"loaded", m.loaded},
            {"initstate", m.loaded ? json(m.initstate) : json(nullptr)},
            {"taint", m.loaded ? json(m.taint) : json(nullptr)},
            {"refcnt", opt(m.refcnt)},
            {"allow_writes", opt(m.allow_writes)}}},
          {"device", device_json(st.device)},
          {"abi", abi_json(st.abi)},
          {"ko", ko},
          {"ko_searched", searched},
          {"dkms", {{"available", st.dkms.available}, {"status", st.dkms.lines}, {"error", st.dkms.error}}},
          {"lockdown", to_string(st.security.lockdown)},
          {"secure_boot", tri(st.security.secure_boot)},
          {"secure_boot_evidence", st.security.secure_boot_evidence},
          {"sig_enforce", tri(st.security.sig_enforce)},
          {"modules_disabled", tri(st.security.modules_disabled)},
          {"needs_signature", st.security.needs_signature()}};
}

std::string driver_status_text(const DriverStatus& st, bool legend) {
  std::string out;
  auto row = [&](const char* name, const std::string& value) {
    out += fmt::format("{:<17}{}\n", name, value);
  };
  if (legend)
    out += fmt::format("kvmprobe driver: {}\n",
                       st.usable ? "loaded and usable"
                       : st.module.loaded ? "loaded but not usable"
                                          : "not loaded");
  const auto& m = st.module;
  std::string module = "not loaded";
  if (m.loaded) {
    module = "loaded (" + (m.initstate.empty() ? std::string("?") : m.initstate);
    if (!m.taint.empty()) module += ", taint " + m.taint;
    if (m.allow_writes) module += std::string(", allow_writes=") + (*m.allow_writes ? "1" : "0");
    if (m.refcnt) module += fmt::format(", {} open", *m.refcnt);
    module += ")";
  }
  row("module", module);
  row("device", device_text(st.device));
  row("ABI", abi_text(st.abi));
  if (st.ko) {
    std::string release = built_for(st.ko_vermagic);
    std::string what = release.empty() ? ""
                       : release == st.kernel_release
                           ? ", built for this kernel"
                           : ", built for " + release + " (NOT this kernel: " + st.kernel_release + ")";
    row(".ko", st.ko->path + " (" + to_string(st.ko->origin) + ")" + what);
  } else {
    row(".ko", "none found for " + st.kernel_release);
  }
  if (!st.dkms.available)
    row("DKMS", "not installed");
  else if (st.dkms.lines.empty())
    row("DKMS", "kvmprobe not added" + (st.dkms.error.empty() ? "" : " (" + st.dkms.error + ")"));
  else
    for (std::size_t i = 0; i < st.dkms.lines.size(); ++i) row(i ? "" : "DKMS", st.dkms.lines[i]);
  row("lockdown", to_string(st.security.lockdown));
  row("Secure Boot", std::string(tri_text(st.security.secure_boot)) +
                         (st.security.secure_boot_evidence.empty()
                              ? ""
                              : " (" + st.security.secure_boot_evidence + ")"));
  row("sig_enforce", tri_text(st.security.sig_enforce));
  row("modules_disabled", tri_text(st.security.modules_disabled));
  return out;
}

json driver_load_json(const LoadOutcome& o) {
  json ko = nullptr;
  if (o.ko) ko = {{"path", o.ko->path}, {"origin", to_string(o.ko->origin)}};
  return {{"schema", "kvmprobe.driver-load/1"},
          {"loaded", o.loaded},
          {"already_loaded", o.already_loaded},
          {"method", to_string(o.method)},
          {"ko", ko},
          {"vermagic", opt(o.ko_vermagic)},
          {"errno", errno_json(o.err)},
          {"cause", o.failure ? json(to_string(o.failure->cause)) : json(nullptr)},
          {"kernel_log", o.kernel_log},
          {"program_output", o.program_output},
          {"device", device_json(o.device)},
          {"abi", abi_json(o.abi)}};
}

std::string driver_load_text(const LoadOutcome& o) {
  std::string abi = o.abi.info ? fmt::format("ABI {}", o.abi.info->abi_version) : o.abi.error;
  if (o.already_loaded) return fmt::format("kvmprobe driver already loaded ({})\n", abi);
  return fmt::format("loaded {} ({}); {} ({})\n", o.ko ? o.ko->path : "kvmprobe",
                     to_string(o.method), o.device.path, abi);
}

std::string driver_unload_text(const UnloadOutcome& u) {
  return u.was_loaded ? "unloaded kvmprobe\n" : "kvmprobe was not loaded\n";
}

json driver_unload_json(const UnloadOutcome& u) {
  return {{"schema", "kvmprobe.driver-unload/1"},
          {"was_loaded", u.was_loaded},
          {"unloaded", u.unloaded},
          {"errno", errno_json(u.err)}};
}

}  // namespace kvmprobe::render
