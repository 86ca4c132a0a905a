// Where `kvmprobe driver` looks for kvmprobe.ko, and what a .ko file says about itself.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/collect/sources.h"

namespace kvmprobe::driver {

/// Where a candidate path came from, in search order.
enum class KoOrigin {
  option,       ///< `driver load --ko PATH`
  environment,  ///< $KVMPROBE_DRIVER_KO
  dkms,         ///< /lib/modules/RELEASE/updates/dkms (dkms.conf DEST_MODULE_LOCATION)
  updates,      ///< /lib/modules/RELEASE/updates (msr-driver's `make install`)
  extra,        ///< /lib/modules/RELEASE/extra (other packagers)
  build_tree,   ///< msr-driver/kvmprobe.ko of the source tree this kvmprobe was built from
};

/// What to search. Empty members are skipped.
struct KoSearch {
  std::string option_path;    ///< --ko
  std::string env_path;       ///< $KVMPROBE_DRIVER_KO
  std::string kernel_release; ///< uname -r
  std::string build_tree_ko;  ///< <source>/msr-driver/kvmprobe.ko
};

/// One place searched.
struct KoCandidate {
  std::string path;
  KoOrigin origin = KoOrigin::build_tree;
  bool exists = false;
  /// Compressed (.ko.xz, .ko.zst, .ko.gz): loaded through modprobe, which decompresses.
  bool compressed() const;
};

/// Every place, in order: an explicit path (option, else environment) alone when given;
/// otherwise updates/dkms, updates and extra under /lib/modules/RELEASE (each as .ko, .ko.xz,
/// .ko.zst, .ko.gz), then the build tree. exists is filled in through \a fs.
std::vector<KoCandidate> ko_candidates(const KoSearch& search, collect::SysfsReader& fs);

/// The first candidate that exists.
std::optional<KoCandidate> first_existing(const std::vector<KoCandidate>& candidates);

/// The vermagic string of a module file's .modinfo ("6.1.0-56-amd64 SMP preempt mod_unload
/// modversions "), or nullopt (not found, or a compressed file).
std::optional<std::string> ko_vermagic(std::string_view contents);

/// The kernel release a vermagic names: its first word.
std::string vermagic_release(std::string_view vermagic);

/// "option", "environment", "dkms", "updates", "extra", "build_tree".
const char* to_string(KoOrigin o);

}  // namespace kvmprobe::driver
