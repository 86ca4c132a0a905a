#include "cli/analysis.h"

#include "core/analyse/analyse.h"

namespace kvmprobe::cli {

ExitCode check_exit(const Report& r) {
  const Verdict& v = r.verdict;
  if (v.kvm_usable == true || v.would_load == true) return ExitCode::ok;
  if (v.would_load == false) return exit_for(v.refusal);
  return ExitCode::cannot_tell;
}

Result<Report> run_analysis(const GlobalOptions& g) {
  auto in = obtain_inputs(g);
  if (!in) return in.error();
  Report r = analyse(in->snap, *in->profile.profile, in->overrides);
  r.profile_note = in->profile.note;
  return r;
}

Result<Inputs> obtain_inputs(const GlobalOptions& g) {
  auto snap = obtain_snapshot(g);
  if (!snap) return snap.error();
  auto profile = obtain_profile(g, *snap);
  if (!profile) return profile.error();
  auto overrides = obtain_overrides(g);
  if (!overrides) return overrides.error();
  return Inputs{std::move(*snap), *profile, std::move(*overrides)};
}

}  // namespace kvmprobe::cli
