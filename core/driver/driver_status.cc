#include "core/driver/driver_status.h"

#include <cerrno>
#include <charconv>
#include <sstream>

#include <fmt/format.h>

#include "core/collect/driver_device.h"

namespace kvmprobe::driver {

namespace {

constexpr std::size_t kMaxKoBytes = 64u << 20;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

DkmsState read_dkms(ModuleSystem& sys) {
  DkmsState d;
  auto dkms = sys.find_program("dkms");
  if (!dkms) return d;
  d.available = true;
  auto r = sys.run({*dkms, "status", "kvmprobe"});
  if (!r) {
    d.error = r.error().detail;
    return d;
  }
  std::istringstream in(r->output);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) d.lines.push_back(line);
  if (r->exit_status != 0 && d.error.empty())
    d.error = "dkms status exited " + std::to_string(r->exit_status);
  return d;
}

}  // namespace

ModuleState read_module_state(collect::SysfsReader& fs) {
  ModuleState m;
  m.loaded = fs.exists("/sys/module/kvmprobe");
  if (!m.loaded) return m;
  if (auto t = fs.read_file("/sys/module/kvmprobe/initstate", 64)) m.initstate = trim(*t);
  if (auto t = fs.read_file("/sys/module/kvmprobe/taint", 64)) m.taint = trim(*t);
  if (auto t = fs.read_file("/sys/module/kvmprobe/refcnt", 64)) {
    int n = 0;
    auto [end, ec] = std::from_chars(t->data(), t->data() + t->size(), n);
    if (ec == std::errc() && end != t->data()) m.refcnt = n;
  }
  if (auto t = fs.read_file("/sys/module/kvmprobe/parameters/allow_writes", 16); t && !t->empty())
    m.allow_writes = (*t)[0] == 'Y' || (*t)[0] == '1';
  return m;
}

std::optional<std::string> read_ko_vermagic(collect::SysfsReader& fs, const std::string& path) {
  auto bytes = fs.read_file(path, kMaxKoBytes);
  if (!bytes) return std::nullopt;
  return ko_vermagic(*bytes);
}

DriverStatus driver_status(ModuleSystem& sys, KoSearch search) {
  DriverStatus st;
  st.kernel_release = sys.kernel_release();
  if (search.kernel_release.empty()) search.kernel_release = st.kernel_release;
  st.module = read_module_state(sys.fs());

  st.device.path = collect::kDriverDevicePath;
  if (auto node = sys.stat(st.device.path)) {
    st.device.present = true;
    st.device.node = *node;
  } else if (node.error().err != ENOENT) {
    st.device.error = node.error().detail;
  }

  st.abi.expected = KVMPROBE_ABI_VERSION;
  if (st.device.present) {
    if (auto v = sys.driver_version(st.device.path)) {
      st.abi.info = *v;
    } else {
      st.abi.error = v.error().detail;
      st.abi.err = v.error().err;
    }
  } else {
    st.abi.error = "no " + st.device.path;
    st.abi.err = ENOENT;
  }

  st.ko_searched = ko_candidates(search, sys.fs());
  st.ko = first_existing(st.ko_searched);
  if (st.ko && !st.ko->compressed()) st.ko_vermagic = read_ko_vermagic(sys.fs(), st.ko->path);
  st.dkms = read_dkms(sys);
  st.security = read_security_state(sys.fs());

  bool denied = st.abi.err == EACCES || st.abi.err == EPERM;
  st.usable = st.module.loaded && st.device.present && (st.abi.matches() || denied);
  return st;
}

std::optional<Error> driver_unusable(bool loaded, const DeviceState& dev, const AbiState& abi) {
  if (!loaded)
    return make_error(ErrorKind::missing, "the kvmprobe driver is not loaded",
                      "load it as root with 'kvmprobe driver load'");
  if (!dev.present)
    return make_error(ErrorKind::missing, "kvmprobe is loaded but " + dev.path + " is missing",
                      "is devtmpfs mounted on /dev? 'kvmprobe driver unload' and load it again");
  if (abi.info && !abi.matches())
    return make_error(ErrorKind::missing,
                      fmt::format("{} speaks driver ABI version {}, this kvmprobe speaks {}", dev.path,
                                  abi.info->abi_version, abi.expected),
                      "load the kvmprobe.ko built from this kvmprobe's source "
                      "('kvmprobe driver unload', then 'kvmprobe driver load')");
  // Not root: the driver may still be fine, this caller just may not ask it.
  if (!abi.info && abi.err != EACCES && abi.err != EPERM)
    return make_error(ErrorKind::missing, dev.path + " does not answer: " + abi.error);
  return std::nullopt;
}

}  // namespace kvmprobe::driver
