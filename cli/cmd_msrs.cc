// kvmprobe msrs: KVM's MSR lists (msrs_to_save, emulated_msrs, feature MSRs) as the chosen kernel
// would build them on this host; --save-list prints exactly KVM_GET_MSR_INDEX_LIST.
#include <fmt/format.h>

#include "cli/analysis.h"
#include "cli/choices.h"
#include "cli/commands.h"
#include "core/analyse/analyse.h"
#include "core/analyse/msr_compare.h"
#include "core/analyse/msr_lists.h"
#include "core/render/msrs.h"

namespace kvmprobe::cli {
namespace {

/// --compare-kvm: exit 20 when the prediction differs from the live KVM's lists.
ExitCode compare(const GlobalOptions& g, const Snapshot& snap, const MsrListsResult& r) {
  auto c = compare_msr_lists(r, snap);
  if (!c) return report_error(g, c.error());
  if (g.json_mode() != JsonMode::off)
    print_json(g, render::msr_compare_json(*c));
  else if (!g.quiet || !c->same())
    fmt::print("{}", render::msr_compare_text(*c));
  return c->same() ? ExitCode::ok : ExitCode::mismatch;
}

ExitCode run_msrs(const GlobalOptions& g, const MsrsOptions& o) {
  auto in = obtain_inputs(g);
  if (!in) return report_error(g, in.error());
  Analyzer a(in->snap, *in->profile.profile, in->overrides);
  MsrListsOptions mo;
  mo.unrecorded_rdmsr = o.assume;
  MsrListsResult r = compute_msr_lists(a.ctx(), mo);
  if (!r.evaluated) return report_error(g, make_error(ErrorKind::missing, r.not_evaluated));
  if (o.compare) return compare(g, in->snap, r);
  if ((o.save_list || o.feature_list) && !r.complete) {
    std::string why = r.missing.empty() ? "some candidates are undecided" : r.missing.front();
    return report_error(g, make_error(ErrorKind::missing, fmt::format("the list is not exact: {}", why),
                                      "record host MSRs as root (modprobe msr), or accept --assume-rdmsr=vendor"));
  }
  if (o.save_list || o.feature_list) {
    auto which = o.save_list ? render::MsrIoctl::index_list : render::MsrIoctl::feature_list;
    if (g.json_mode() != JsonMode::off)
      print_json(g, render::msr_list_json(r, which));
    else
      fmt::print("{}", render::msr_list_text(r, which, o.names));
    return ExitCode::ok;
  }
  if (g.json_mode() != JsonMode::off)
    print_json(g, render::msrs_json(r));
  else if (!g.quiet)
    fmt::print("{}", render::msrs_text(r, !g.no_legend));
  if (r.complete) return ExitCode::ok;
  if (g.quiet) fmt::print(stderr, "kvmprobe: MSR lists incomplete: {}\n", r.missing.empty() ? "" : r.missing.front());
  return ExitCode::cannot_tell;
}

}  // namespace

void register_msrs(CLI::App& app, GlobalOptions& g, MsrsOptions& o, Runner& run) {
  auto* sub = app.add_subcommand("msrs", "KVM's MSR lists for the kernel: every candidate and its fate");
  auto* one = sub->add_option_group("list", "at most one of");
  one->add_flag("--save-list", o.save_list, "print exactly KVM_GET_MSR_INDEX_LIST, one 0x%x per line");
  one->add_flag("--feature-list", o.feature_list, "print exactly KVM_GET_MSR_FEATURE_INDEX_LIST");
  one->add_flag("--compare-kvm", o.compare, "compare with the live KVM's lists (exit 20 on a mismatch)");
  one->require_option(0, 1);
  sub->add_flag("--names", o.names, "add the MSR name to --save-list / --feature-list lines");
  choices(sub->add_option("--assume-rdmsr", o.assume,
                          "for host RDMSRs the snapshot lacks: none (unknown) or vendor (succeeds iff the vendor implements it)"),
          Choices<UnrecordedRdmsr>{{"none", UnrecordedRdmsr::unknown}, {"vendor", UnrecordedRdmsr::vendor_implements}});
  sub->callback([&g, &o, &run] { run = [&g, &o] { return run_msrs(g, o); }; });
}

}  // namespace kvmprobe::cli
