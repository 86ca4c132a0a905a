#include "core/driver/driver_load.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/collect/driver_device.h"

namespace kvmprobe::driver {

namespace {

/// The kernel log, to tell afterwards which lines a load attempt added.
struct LogMark {
  std::vector<std::string> before;
  bool read = false;
};

LogMark mark_log(ModuleSystem& sys) {
  LogMark m;
  if (auto lines = sys.kernel_log()) {
    m.before = std::move(*lines);
    m.read = true;
  }
  return m;
}

/// The lines logged since \a mark that concern module loading (at most 20).
std::vector<std::string> new_log_lines(ModuleSystem& sys, const LogMark& mark) {
  std::vector<std::string> out;
  auto now = sys.kernel_log();
  if (!now || !mark.read) return out;
  std::size_t from = 0;
  if (!mark.before.empty()) {
    // The buffer may have wrapped: find the old last line, searching from the end.
    const std::string& last = mark.before.back();
    auto it = std::find(now->rbegin(), now->rend(), last);
    from = it == now->rend() ? (now->size() > 40 ? now->size() - 40 : 0)
                             : static_cast<std::size_t>(now->rend() - it);
  }
  for (std::size_t i = from; i < now->size() && out.size() < 20; ++i) {
    const std::string& l = (*now)[i];
    if (l.find("kvmprobe") != std::string::npos || l.find("Lockdown") != std::string::npos ||
        l.find("module") != std::string::npos || l.find("Loading of") != std::string::npos)
      out.push_back(l);
  }
  return out;
}

Error nothing_to_load(const LoadOutcome& o, const std::string& release, const std::string& why) {
  if (!o.searched.empty() && (o.searched.front().origin == KoOrigin::option ||
                              o.searched.front().origin == KoOrigin::environment)) {
    const KoCandidate& c = o.searched.front();
    return make_error(ErrorKind::missing,
                      "cannot open " + c.path + ": No such file or directory" +
                          (c.origin == KoOrigin::environment ? " ($KVMPROBE_DRIVER_KO)" : ""),
                      "pass the path of a kvmprobe.ko built for " + release, ENOENT);
  }
  return make_error(ErrorKind::missing,
                    "no kvmprobe.ko found for " + release + " (searched /lib/modules/" + release +
                        "/{updates/dkms,updates,extra} and the build tree" + why + ")",
                    "build it with 'make -C msr-driver' or install it with DKMS "
                    "(msr-driver/README.md), or pass --ko PATH",
                    ENOENT);
}

/// After a successful load: the device node and the driver's ABI.
void check_loaded(ModuleSystem& sys, LoadOutcome& o) {
  o.loaded = sys.fs().exists("/sys/module/kvmprobe");
  o.device.path = collect::kDriverDevicePath;
  if (auto node = sys.stat(o.device.path)) {
    o.device.present = true;
    o.device.node = *node;
  }
  o.abi.expected = KVMPROBE_ABI_VERSION;
  if (!o.device.present) return;
  if (auto v = sys.driver_version(o.device.path)) {
    o.abi.info = *v;
  } else {
    o.abi.error = v.error().detail;
    o.abi.err = v.error().err;
  }
}

void explain(ModuleSystem& sys, const LogMark& mark, LoadOutcome& o, const std::string& release) {
  o.kernel_log = new_log_lines(sys, mark);
  LoadAttempt a;
  a.err = o.err;
  a.log = o.kernel_log;
  a.security = read_security_state(sys.fs());
  a.root = sys.is_root();
  a.ko_path = o.ko ? o.ko->path : "kvmprobe";
  a.ko_vermagic = o.ko_vermagic.value_or("");
  a.kernel_release = release;
  o.failure = explain_load_failure(a);
}

}  // namespace

const char* to_string(LoadMethod m) {
  switch (m) {
    case LoadMethod::none: return "none";
    case LoadMethod::finit_module: return "finit_module";
    case LoadMethod::modprobe: return "modprobe";
  }
  return "none";
}

Result<LoadOutcome> load_driver(ModuleSystem& sys, LoadOptions opt) {
  LoadOutcome o;
  std::string release = sys.kernel_release();
  if (opt.search.kernel_release.empty()) opt.search.kernel_release = release;
  if (sys.fs().exists("/sys/module/kvmprobe")) {
    o.already_loaded = true;
    check_loaded(sys, o);
    return o;
  }
  o.searched = ko_candidates(opt.search, sys.fs());
  o.ko = first_existing(o.searched);
  bool explicit_path = !opt.search.option_path.empty() || !opt.search.env_path.empty();
  if (!o.ko && explicit_path) return nothing_to_load(o, release, "");
  // The module's default is allow_writes=0 (no MSR write path unless asked for); `driver load`
  // is the documented way to get the write path, so it asks, unless --read-only.
  std::string params = opt.read_only ? "allow_writes=0" : "allow_writes=1";

  LogMark mark = mark_log(sys);
  if (o.ko && !o.ko->compressed()) {
    o.method = LoadMethod::finit_module;
    o.ko_vermagic = read_ko_vermagic(sys.fs(), o.ko->path);
    o.err = sys.finit_module(o.ko->path, params);
  } else {
    // A compressed .ko under /lib/modules (modprobe decompresses it), or none found at all:
    // modprobe may still know one through modules.dep.
    auto modprobe = sys.find_program("modprobe");
    if (!modprobe) {
      if (!o.ko) return nothing_to_load(o, release, "; no modprobe");
      return make_error(ErrorKind::missing, o.ko->path + " is compressed and modprobe is missing",
                        "decompress it and pass it with --ko PATH", ENOENT);
    }
    o.method = LoadMethod::modprobe;
    std::vector<std::string> argv = {*modprobe, "kvmprobe"};
    if (!params.empty()) argv.push_back(params);
    auto run = sys.run(argv);
    if (!run) return run.error();
    o.program_output = run->output;
    while (!o.program_output.empty() && o.program_output.back() == '\n') o.program_output.pop_back();
    if (run->exit_status != 0) {
      o.err = errno_from_message(o.program_output);
      if (!o.ko && (o.err == 0 || o.err == ENOENT) &&
          o.program_output.find("not found") != std::string::npos)
        return nothing_to_load(o, release, "; " + o.program_output);
      if (o.err == 0) o.err = EIO;
    }
  }
  if (o.err == EEXIST) o.err = 0;  // loaded meanwhile by someone else
  if (o.err != 0) {
    explain(sys, mark, o, release);
    return o;
  }
  check_loaded(sys, o);
  return o;
}

UnloadOutcome unload_driver(ModuleSystem& sys) {
  UnloadOutcome u;
  u.was_loaded = sys.fs().exists("/sys/module/kvmprobe");
  if (!u.was_loaded) {
    u.unloaded = true;
    return u;
  }
  u.err = sys.delete_module("kvmprobe");
  if (u.err == 0 || u.err == ENOENT) {
    u.err = 0;
    u.unloaded = true;
    return u;
  }
  switch (u.err) {
    case EPERM:
      u.detail = sys.is_root() ? "the kernel refused to unload kvmprobe: Operation not permitted"
                               : "unloading a kernel module needs root (CAP_SYS_MODULE)";
      u.hint = sys.is_root() ? "" : "run it as root: sudo kvmprobe driver unload";
      break;
    case EWOULDBLOCK:
      u.detail = "kvmprobe is in use: /dev/kvmprobe is open";
      u.hint = "stop the program using it (another kvmprobe?) and try again";
      break;
    default:
      u.detail = std::string("cannot unload kvmprobe: ") + std::strerror(u.err);
  }
  return u;
}

}  // namespace kvmprobe::driver
