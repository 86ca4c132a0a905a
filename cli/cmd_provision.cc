// kvmprobe provision --profile FILE: reach the hardware state a profile describes (plan → apply
// → verify, with enable-vmx's safety), then check the profile's expectations on a fresh snapshot.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/provision_run.h"
#include "core/provision/expectations.h"
#include "core/provision/profile.h"
#include "core/render/provision.h"

namespace kvmprobe::cli {
namespace {

/// The exit code of the expectations: 17 when one is unmet, 13 when one is unknown.
ExitCode expectations_exit(const std::vector<provision::ExpectationResult>& r) {
  bool unknown = false;
  for (const auto& e : r) {
    if (e.status == provision::ExpectStatus::unmet) return ExitCode::expectation_unmet;
    unknown |= e.status == provision::ExpectStatus::unknown;
  }
  return unknown ? ExitCode::cannot_tell : ExitCode::ok;
}

ExitCode run_provision(const GlobalOptions& g, const ProvisionOptions& o) {
  auto profile = provision::load_profile(o.profile);  // before anything touches the host
  if (!profile) return report_error(g, profile.error());
  if (!o.write.dry_run)
    if (auto e = require_root("provision")) return report_error_code(g, *e, ExitCode::not_permitted);
  auto planned = plan_for(g, o.write, profile->desired, {});
  if (!planned) return report_error(g, planned.error());
  const provision::Plan& plan = planned->plan;
  auto st = g.text_style();
  nlohmann::json doc = {{"schema", render::kProvisionSchema}, {"profile", o.profile}, {"dry_run", o.write.dry_run},
                        {"kernel", planned->snap.kernel_release}, {"plan", render::plan_json(plan)},
                        {"journal", nullptr}, {"run", nullptr}, {"result", nullptr}, {"expectations", nullptr}};
  std::string text = render::plan_text(plan, st);
  ExitCode code = plan_exit(plan.verdict);
  auto finish = [&](ExitCode c, const std::string& why, const std::string& hint) {
    doc["exit_code"] = static_cast<int>(c);
    if (g.json_mode() != JsonMode::off) print_json(g, doc);
    print_text(g, text, c, why, hint);
    return c;
  };
  if (code != ExitCode::ok) return finish(code, plan.summary, plan.remedy);
  const Snapshot* after = &planned->snap;
  Snapshot fresh;
  if (plan.verdict == provision::PlanVerdict::apply && o.write.dry_run) {
    text += "dry run: nothing was written; expectations as the host is now:\n";
  } else if (plan.verdict == provision::PlanVerdict::apply) {
    if (g.json_mode() == JsonMode::off && !g.quiet) {
      fmt::print("{}", text);
      text.clear();
    }
    if (auto e = confirm(o.write, plan)) return report_error(g, *e);
    std::string run_id;
    auto result = apply_plan(g, o.write, plan, "provision", run_id);
    if (!result) return report_error(g, result.error());
    doc["journal"] = o.write.journal;
    doc["run"] = run_id;
    doc["result"] = render::apply_json(*result);
    text += fmt::format("journal: {} (run {})\n", o.write.journal, run_id) + render::apply_text(*result, st);
    code = apply_exit(result->outcome);
    if (code != ExitCode::ok) return finish(code, result->summary, {});
    auto snap = obtain_snapshot(g);  // verify on the host as it is now
    if (!snap) return report_error(g, snap.error());
    fresh = std::move(*snap);
    after = &fresh;
  }
  auto expect = provision::check_expectations(*after, *planned->profile.profile, profile->expect);
  doc["expectations"] = render::expectations_json(expect);
  text += render::expectations_text(expect, st);
  if (!o.write.dry_run) code = expectations_exit(expect);
  std::string why;
  for (const auto& e : expect)
    if (e.status != provision::ExpectStatus::met && why.empty())
      why = fmt::format("expectation {} {}: {}", e.id, to_string(e.status), e.detail);
  return finish(code, why, {});
}

}  // namespace

void register_provision(CLI::App& app, GlobalOptions& g, ProvisionOptions& o, Runner& run) {
  auto* sub = app.add_subcommand("provision", "reach the VMX/SVM state of a profile (docs/provision-profile.md), "
                                              "then check its expectations");
  sub->add_option("--profile", o.profile, "the profile FILE (JSON)")->required();
  sub->add_flag("--dry-run", o.write.dry_run, "print the plan and the expectations now; write nothing");
  sub->add_option("--journal", o.write.journal, "journal FILE for the old values (default " +
                                                     std::string(provision::kDefaultJournal) + ")");
  sub->add_flag("-y,--yes", o.write.yes, "do not ask before writing (needed when stdin is not a terminal)");
  sub->callback([&g, &o, &run] { run = [&g, &o] { return run_provision(g, o); }; });
}

}  // namespace kvmprobe::cli
