#include "cli/provision_run.h"

#include <unistd.h>

#include <ctime>
#include <iostream>

#include <fmt/format.h>

#include "core/model/format.h"
#include "core/provision/restore.h"
#include "core/provision/run_lock.h"

namespace kvmprobe::cli {

std::optional<Error> require_root(const char* what) {
  if (::geteuid() == 0) return std::nullopt;
  return make_error(ErrorKind::io, fmt::format("{} writes MSRs and must run as root", what),
                    "run it with sudo (or plan without writing: --dry-run)", EPERM);
}

ExitCode report_error_code(const GlobalOptions& g, const Error& e, ExitCode code) {
  fmt::print(stderr, "kvmprobe: error: {}\n", e.detail);
  if (!e.hint.empty()) fmt::print(stderr, "kvmprobe: hint: {}\n", e.hint);
  if (g.json_mode() != JsonMode::off)
    print_json(g, {{"schema", "kvmprobe.error/1"},
                   {"error", {{"message", e.detail}, {"hint", e.hint}, {"exit_code", static_cast<int>(code)}}}});
  return code;
}

Result<Planned> plan_for(const GlobalOptions& g, const WriteOptions& w, const provision::DesiredState& want,
                         const provision::PlanOptions& options) {
  if (!g.from.empty() && !w.dry_run)
    return make_error(ErrorKind::usage, "--from plans from a recorded snapshot and cannot write to it",
                      "add --dry-run, or leave out --from to work on this host");
  auto snap = obtain_snapshot(g);
  if (!snap) return snap.error();
  auto profile = obtain_profile(g, *snap);
  if (!profile) return profile.error();
  auto plan = provision::make_plan(*snap, want, options);
  if (!plan) return plan.error();
  return Planned{std::move(*snap), *profile, std::move(*plan)};
}

Result<provision::WriteBackend> write_backend(const GlobalOptions& g) {
  using B = collect::CollectOptions::Backend;
  switch (g.backend) {
    case B::none: return make_error(ErrorKind::usage, "--backend none cannot write MSRs", "use auto, driver or msr");
    case B::driver: return provision::WriteBackend::driver;
    case B::msr: return provision::WriteBackend::msr;
    case B::automatic: break;
  }
  return provision::WriteBackend::automatic;
}

std::optional<Error> confirm(const WriteOptions& w, const provision::Plan& plan) {
  if (w.yes) return std::nullopt;
  if (!::isatty(STDIN_FILENO))
    return make_error(ErrorKind::usage, "writing MSRs needs --yes when stdin is not a terminal",
                      "review the plan with --dry-run, then run again with --yes");
  fmt::print(stderr, "kvmprobe: write {} on CPUs {}{}? [y/N] ", plan.msr_name,
             cpu_list(plan.cpus_with(provision::CpuAction::change)),
             plan.locks() ? " and lock it until the next reset" : "");
  std::fflush(stderr);
  std::string answer;
  std::getline(std::cin, answer);
  if (answer == "y" || answer == "Y" || answer == "yes") return std::nullopt;
  return make_error(ErrorKind::io, "not confirmed: nothing was written");
}

std::pair<std::string, std::string> run_id_and_time() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char id[32], iso[32];
  std::strftime(id, sizeof id, "%Y%m%dT%H%M%SZ", &tm);
  std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return {fmt::format("{}-{}", id, ::getpid()), iso};
}

Result<provision::ApplyResult> apply_plan(const GlobalOptions& g, const WriteOptions& w, const provision::Plan& plan,
                                          const char* command, std::string& run_id) {
  provision::ApplyRequest req = provision::request_from_plan(plan);
  if (req.cpus.empty()) return make_error(ErrorKind::internal, "apply_plan: no CPU to write");
  auto backend = write_backend(g);
  if (!backend) return backend.error();
  // One writing run at a time, held until the run has ended (its "end" line is written).
  auto lock = provision::RunLock::acquire();
  if (!lock) return lock.error();
  auto writers = provision::open_writers(*backend, req.cpus.front().cpu);
  if (!writers) return writers.error();
  auto journal = provision::FileJournal::open(w.journal, provision::Rotate::when_large);
  if (!journal) {
    Error e = journal.error();
    e.detail += ": nothing was written";
    if (e.hint.empty()) e.hint = "the journal keeps the old values for `kvmprobe restore`; choose one with --journal";
    return e;
  }
  auto [id, time] = run_id_and_time();
  run_id = id;
  req.command = command;
  req.run_id = id;
  req.time = time;
  if (auto boot = provision::current_boot_id()) req.boot_id = *boot;  // else "": restore will refuse this run
  provision::ApplyResult r = provision::apply(req, *writers->primary, **journal, writers->fallback.get());
  for (auto& n : writers->notes) r.notes.push_back(n);
  return r;
}

void print_text(const GlobalOptions& g, const std::string& text, ExitCode code, const std::string& why,
                const std::string& hint) {
  if (g.json_mode() != JsonMode::off) return;
  if (!g.quiet) {
    fmt::print("{}", text);
    return;
  }
  if (code == ExitCode::ok) return;
  fmt::print(stderr, "kvmprobe: {}\n", why);
  if (!hint.empty()) fmt::print(stderr, "kvmprobe: hint: {}\n", hint);
}

}  // namespace kvmprobe::cli
