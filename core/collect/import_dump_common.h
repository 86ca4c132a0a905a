// Shared pieces of the CPUID-dump importers (import_libcpuid.cc, import_aida64.cc,
// import_dump.cc). Not a public interface: use core/collect/import_dump.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/collect/import_dump.h"

namespace kvmprobe::collect::dump {

/// Limits for imported dumps, enforced while parsing so that no dump makes kvmprobe use more
/// than 256 MiB (issue 11 item 10). The largest real dump seen (InstLatX64, 2.6 MB of text,
/// ~40,000 leaves) is far inside all of them.
inline constexpr std::size_t kMaxCpus = 8192;
inline constexpr std::size_t kMaxLeavesPerCpu = 4096;
inline constexpr std::size_t kMaxMsrsPerCpu = 65536;
/// Leaves and MSRs over all CPUs together: without it 8192 CPUs x 4096 leaves is 33 million.
inline constexpr std::size_t kMaxTotalLeaves = 131072;
inline constexpr std::size_t kMaxTotalMsrs = 131072;
/// Dump text, after xz decompression (a 41 KB .xz can hold 256 MiB of text).
inline constexpr std::size_t kMaxDumpBytes = std::size_t{32} << 20;

/// One logical CPU as read from a dump, before it becomes a CpuRecord.
struct DumpCpu {
  long label = 0;  ///< the dump's own CPU number (AIDA64 "Logical CPU #N"), for MSR sections
  std::map<std::pair<std::uint32_t, std::uint32_t>, CpuidLeaf> leaves;  ///< by (leaf, subleaf)
  std::map<std::uint32_t, MsrRead> msrs;                                ///< by index
};

/// What a parser found: CPUs plus lines for Snapshot::notes.
struct DumpContent {
  std::vector<DumpCpu> cpus;
  std::vector<std::string> notes;
  std::string flavour;  ///< "AIDA64", "libcpuid 0.6.2", ... for the summary note
};

/// The dump proper: \a text up to a line of at least 40 '-' (libcpuid `.test` files put the
/// expected output after a line of 80 '-').
std::string_view dump_part(std::string_view text);

/// Calls \a fn(line, line_number) for each line, without its line end and surrounding blanks.
template <typename Fn>
void for_each_line(std::string_view text, Fn&& fn) {
  std::size_t number = 0;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (!fn(line, number)) return;
  }
}

/// Value of a hex digit, or -1.
inline int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Reads the run of hex digits at \a s[pos] (advancing \a pos); returns its length (0 when none,
/// and more than 16 means the value overflowed).
std::size_t read_hex(std::string_view s, std::size_t& pos, std::uint64_t& value);

/// Skips spaces and tabs at \a s[pos].
inline void skip_blanks(std::string_view s, std::size_t& pos) {
  while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t')) ++pos;
}

/// Parses the AIDA64-family dump (import_aida64.cc).
Result<DumpContent> parse_aida64(std::string_view text);

/// Parses libcpuid's raw format (import_libcpuid.cc): through libcpuid where that is lossless,
/// else by hand.
Result<DumpContent> parse_libcpuid(std::string_view text);

/// libcpuid's cpuid_deserialize_all_raw_data() of \a text; nullopt when that would lose or
/// change anything (its re-serialization differs from the dump's rows) or cannot run.
std::optional<Result<DumpContent>> parse_libcpuid_with_libcpuid(std::string_view text);

/// The hand parser, for the dumps libcpuid cannot read losslessly.
Result<DumpContent> parse_libcpuid_by_hand(std::string_view text);

/// Whether \a line is an AIDA64-style CPUID register line (`CPUID 00000001: ...`).
bool is_cpuid_register_line(std::string_view line);

/// Turns parsed CPUs into a Snapshot: CPU numbers in dump order, KVM-relevant MSRs the dump
/// lacks recorded as unavailable, and notes saying what is unknown.
Snapshot finish_import(DumpContent content, DumpFormat format);

}  // namespace kvmprobe::collect::dump
