// kvmprobe enable-vmx: enable VMX in IA32_FEATURE_CONTROL (or clear VM_CR.SVMDIS) on every CPU,
// all or nothing, in two phases, with the old values journaled first (core/provision/apply.h).
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/provision_run.h"
#include "core/collect/cpu_list.h"
#include "core/render/provision.h"

namespace kvmprobe::cli {
namespace {

ExitCode run_enable_vmx(const GlobalOptions& g, const EnableVmxOptions& o) {
  provision::PlanOptions po;
  if (!o.cpus.empty()) {
    po.cpus = collect::parse_cpu_list(o.cpus);
    if (!po.cpus || po.cpus->empty())
      return report_error(g, make_error(ErrorKind::usage, fmt::format("--cpus '{}' is not a CPU list", o.cpus),
                                        "e.g. --cpus 0-3,8"));
  }
  if (!o.write.dry_run)
    if (auto e = require_root("enable-vmx")) return report_error_code(g, *e, ExitCode::not_permitted);
  provision::VmxWant vmx;
  vmx.lock = !o.no_lock;
  vmx.smx = o.smx ? provision::Want::if_supported : provision::Want::no;
  provision::DesiredState want{vmx, true};
  auto planned = plan_for(g, o.write, want, po);
  if (!planned) return report_error(g, planned.error());
  const provision::Plan& plan = planned->plan;
  auto st = g.text_style();
  nlohmann::json doc = {{"schema", render::kEnableVmxSchema}, {"dry_run", o.write.dry_run},
                        {"kernel", planned->snap.kernel_release}, {"plan", render::plan_json(plan)},
                        {"journal", nullptr}, {"run", nullptr}, {"result", nullptr}};
  std::string text = render::plan_text(plan, st);
  ExitCode code = plan_exit(plan.verdict);
  if (plan.verdict != provision::PlanVerdict::apply || o.write.dry_run) {
    if (o.write.dry_run && plan.verdict == provision::PlanVerdict::apply) text += "dry run: nothing was written\n";
    doc["exit_code"] = static_cast<int>(code);
    if (g.json_mode() != JsonMode::off) print_json(g, doc);
    print_text(g, text, code, plan.summary, plan.remedy);
    return code;
  }
  if (g.json_mode() == JsonMode::off && !g.quiet) fmt::print("{}", text);
  if (auto e = confirm(o.write, plan)) return report_error(g, *e);
  std::string run_id;
  auto result = apply_plan(g, o.write, plan, "enable-vmx", run_id);
  if (!result) return report_error(g, result.error());
  code = apply_exit(result->outcome);
  doc["journal"] = o.write.journal;
  doc["run"] = run_id;
  doc["result"] = render::apply_json(*result);
  doc["exit_code"] = static_cast<int>(code);
  if (g.json_mode() != JsonMode::off) print_json(g, doc);
  std::string out = fmt::format("journal: {} (run {})\n", o.write.journal, run_id) + render::apply_text(*result, st);
  if (g.quiet) print_text(g, out, code, result->summary);
  else if (g.json_mode() == JsonMode::off) fmt::print("{}", out);
  return code;
}

}  // namespace

void register_enable_vmx(CLI::App& app, GlobalOptions& g, EnableVmxOptions& o, Runner& run) {
  auto* sub = app.add_subcommand("enable-vmx", "enable VMX (IA32_FEATURE_CONTROL) or SVM (VM_CR) on every CPU, "
                                               "all or nothing");
  sub->add_flag("--dry-run", o.write.dry_run, "print the plan (CPU, old -> new) and write nothing");
  sub->add_flag("--no-lock", o.no_lock, "leave IA32_FEATURE_CONTROL unlocked (the lock lasts until reset)");
  sub->add_option("--cpus", o.cpus, "only these CPUs (e.g. 0-3,8); CPUs left out keep their state");
  sub->add_flag("--smx", o.smx, "also enable VMX inside SMX (TXT) when the CPU has SMX");
  sub->add_option("--journal", o.write.journal, "journal FILE for the old values (default " +
                                                     std::string(provision::kDefaultJournal) + ")");
  sub->add_flag("-y,--yes", o.write.yes, "do not ask before writing (needed when stdin is not a terminal)");
  sub->callback([&g, &o, &run] { run = [&g, &o] { return run_enable_vmx(g, o); }; });
}

}  // namespace kvmprobe::cli
