// kvmprobe restore: put back the values the last enable-vmx/provision run found, where the MSR
// is still unlocked, and name the CPUs that cannot be restored (locked until reset).
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/provision_run.h"
#include "core/provision/restore.h"
#include "core/provision/run_lock.h"
#include "core/render/provision.h"

namespace kvmprobe::cli {
namespace {

ExitCode run_restore(const GlobalOptions& g, const RestoreOptions& o) {
  if (auto e = require_root("restore")) return report_error_code(g, *e, ExitCode::not_permitted);
  // One writing run at a time, from reading the journal to its "end" line (not for --dry-run,
  // which writes nothing).
  std::optional<provision::RunLock> lock;
  if (!o.dry_run) {
    auto l = provision::RunLock::acquire();
    if (!l) return report_error(g, l.error());
    lock.emplace(std::move(*l));
  }
  auto contents = provision::read_journal(o.journal);
  auto nothing = [&](const std::string& why) {
    if (g.json_mode() != JsonMode::off)
      print_json(g, {{"schema", render::kRestoreSchema}, {"journal", o.journal}, {"outcome", "nothing_to_do"},
                     {"summary", why}, {"exit_code", 0}});
    else if (!g.quiet)
      fmt::print("nothing to restore: {}\n", why);
    return ExitCode::ok;
  };
  if (!contents) {
    if (contents.error().kind == ErrorKind::missing && !o.journal_given) return nothing(contents.error().detail);
    return report_error(g, contents.error());
  }
  for (const auto& p : contents->problems) fmt::print(stderr, "kvmprobe: warning: journal {}: {}\n", o.journal, p);
  auto run = provision::last_run(*contents);
  if (!run) {
    if (run.error().kind == ErrorKind::missing) return nothing(run.error().detail);
    return report_error(g, run.error());
  }
  auto boot = provision::current_boot_id();
  if (!boot) return report_error(g, boot.error());
  if (auto e = provision::check_same_boot(*run, *boot)) return report_error(g, *e);
  auto backend = write_backend(g);
  if (!backend) return report_error(g, backend.error());
  auto writers = provision::open_writers(*backend, run->old_values.empty() ? 0 : run->old_values.front().first);
  if (!writers) return report_error(g, writers.error());
  // The driver only sets 0x3a bits and clears SVMDIS: undoing needs /dev/cpu/N/msr first.
  if (writers->fallback) std::swap(writers->primary, writers->fallback);
  std::unique_ptr<provision::Journal> journal = std::make_unique<provision::NullJournal>();
  if (!o.dry_run) {
    auto j = provision::FileJournal::open(o.journal);
    if (!j) return report_error(g, j.error());
    journal = std::move(*j);
  }
  auto [id, time] = run_id_and_time();
  provision::RestoreResult r =
      provision::restore(*run, *writers->primary, *journal, writers->fallback.get(), id, time,
                         o.dry_run ? provision::RestoreMode::dry_run : provision::RestoreMode::write);
  if (writers->primary->backend_name() == "driver")  // why nothing better than the driver was there
    for (auto& n : writers->notes) r.notes.push_back(n);
  ExitCode code = restore_exit(r.outcome);
  if (g.json_mode() != JsonMode::off) {
    nlohmann::json doc = render::restore_json(r);
    doc["schema"] = render::kRestoreSchema;
    doc["journal"] = o.journal;
    doc["dry_run"] = o.dry_run;
    doc["exit_code"] = static_cast<int>(code);
    print_json(g, doc);
  }
  print_text(g, render::restore_text(r, g.text_style()), code, r.summary);
  return code;
}

}  // namespace

void register_restore(CLI::App& app, GlobalOptions& g, RestoreOptions& o, Runner& run) {
  auto* sub = app.add_subcommand("restore", "put back the MSR values the last enable-vmx/provision run found, "
                                            "where still unlocked");
  auto* j = sub->add_option("--journal", o.journal, "the journal FILE (default " +
                                                         std::string(provision::kDefaultJournal) + ")");
  sub->add_flag("--dry-run", o.dry_run, "say what would be restored; write nothing");
  sub->callback([&g, &o, &run, j] {
    o.journal_given = j->count() > 0;
    run = [&g, &o] { return run_restore(g, o); };
  });
}

}  // namespace kvmprobe::cli
