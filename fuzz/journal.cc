// The journal reader and restore's choice of the run to undo: parse_journal(), last_run() and
// check_same_boot(), then a dry-run restore of that run against an in-memory MSR writer (it
// reads, never writes).
#include <map>

#include "core/provision/restore.h"
#include "fuzz/fuzz_common.h"

namespace {

using namespace kvmprobe::provision;

/// Every CPU holds 0x5 (or 0x0 for odd CPUs); writes are counted and must never happen.
class MemoryMsrs final : public MsrWriter {
 public:
  std::string_view backend_name() const override { return "fuzz"; }
  std::string device() const override { return "memory"; }
  kvmprobe::MsrRead read(unsigned cpu, std::uint32_t index) override {
    return kvmprobe::MsrRead{index, kvmprobe::ReadStatus::value, cpu % 2 ? 0x0u : 0x5u, 0};
  }
  WriteOutcome modify(unsigned, std::uint32_t, std::uint64_t, std::uint64_t) override { __builtin_trap(); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto contents = parse_journal(kvmprobe::fuzz::text(data, size), "fuzz.jsonl");
  if (!contents) return 0;
  auto run = last_run(*contents);
  if (!run) return 0;
  if ((run->mask & ~restorable_bits(run->msr)) != 0) __builtin_trap();  // never a lock bit
  (void)check_same_boot(*run, "00000000-0000-0000-0000-000000000000");
  MemoryMsrs msrs;
  NullJournal journal;
  (void)restore(*run, msrs, journal, nullptr, "fuzz", "t", RestoreMode::dry_run);
  return 0;
}
