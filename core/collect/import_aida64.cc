// The AIDA64 family of CPUID dumps. One line grammar covers them all:
//   CPUID LLLLLLLL: EAX-EBX-ECX-EDX [SL nn] [comment]      (colon optional; '-' or blanks)
//   MSR XXXXXXXX: HHHH-HHHH-HHHH-HHHH [comment]  |  MSR XXXXXXXX: < FAILED >
// and the logical CPUs are delimited by whichever header the tool writes:
//   ------[ CPUID Registers / Logical CPU #N ]------   ------[ Logical CPU #N ]------  (AIDA64)
//   CPUID Registers (CPU #N):                          (Everest)
//   CPU#NNN AffMask: 0x...    Group: 0xGG Affinity mask: 0x...   (InstLatX64's dumper)
// or by nothing at all (bare lines): then a second `CPUID 00000000` starts the next CPU.
// Quirks handled (seen in the real dumps tests/core/collect/import_dump_test.cc reads through
// tests/support/shared_data.h): subleaves given only by the order of repeated leaf
// lines (Everest, old AIDA64); "[SL nn]" is hex ("[SL 0A]", "[SL 3E]"); empty CPU sections
// (a Ryzen 7 5800X3D dump has 48 headers for 16 CPUs); MSR sub-headers without a number
// ("Logical CPU # Clock (TSC),3094 MHz"); a plain "MSR Registers" section (the boot CPU);
// MSR lines tagged [S200] are earlier samples of the same register, the last line wins.
#include <optional>

#include "core/collect/import_dump_common.h"

namespace kvmprobe::collect::dump {
namespace {

constexpr long kBootLabel = -1;  // plain "MSR Registers": read on the boot CPU

enum class LineKind { other, ok, malformed };

struct CpuidLine {
  std::uint32_t leaf = 0;
  std::optional<std::uint32_t> subleaf;  // from "[SL nn]"
  std::uint32_t regs[4] = {};
};

/// Classifies and parses one trimmed line. "CPUID" followed by 8 hex digits is a register line;
/// "CPUID CPU Name : ..." and similar are not.
LineKind parse_cpuid_line(std::string_view s, CpuidLine& out) {
  if (s.size() < 6 || s.substr(0, 5) != "CPUID" || (s[5] != ' ' && s[5] != '\t')) return LineKind::other;
  std::size_t pos = 5;
  skip_blanks(s, pos);
  std::uint64_t v = 0;
  if (read_hex(s, pos, v) != 8) return LineKind::other;
  if (pos < s.size() && s[pos] != ' ' && s[pos] != '\t' && s[pos] != ':') return LineKind::other;
  out.leaf = static_cast<std::uint32_t>(v);
  skip_blanks(s, pos);
  if (pos < s.size() && s[pos] == ':') ++pos;
  for (int r = 0; r < 4; ++r) {
    skip_blanks(s, pos);
    if (r > 0 && pos < s.size() && s[pos] == '-') ++pos;
    if (read_hex(s, pos, v) != 8) return LineKind::malformed;
    out.regs[r] = static_cast<std::uint32_t>(v);
  }
  if (pos < s.size() && s[pos] != ' ' && s[pos] != '\t' && s[pos] != '[') return LineKind::malformed;
  std::size_t sl = s.find("[SL ", pos);
  if (sl != std::string_view::npos) {
    std::size_t p = sl + 4;
    std::size_t n = read_hex(s, p, v);
    if (n == 0 || n > 8 || p >= s.size() || s[p] != ']') return LineKind::malformed;
    out.subleaf = static_cast<std::uint32_t>(v);
  }
  return LineKind::ok;
}

/// Parses "MSR XXXXXXXX: HHHH-HHHH-HHHH-HHHH" or "... < FAILED >".
LineKind parse_msr_line(std::string_view s, MsrRead& out) {
  if (s.size() < 4 || s.substr(0, 3) != "MSR" || (s[3] != ' ' && s[3] != '\t')) return LineKind::other;
  std::size_t pos = 3;
  skip_blanks(s, pos);
  std::uint64_t v = 0;
  if (read_hex(s, pos, v) != 8) return LineKind::other;
  out = MsrRead{};
  out.index = static_cast<std::uint32_t>(v);
  skip_blanks(s, pos);
  if (pos < s.size() && s[pos] == ':') ++pos;
  skip_blanks(s, pos);
  if (pos < s.size() && s[pos] == '<') {
    if (s.find("FAILED", pos) == std::string_view::npos) return LineKind::malformed;
    out.status = ReadStatus::fault;
    return LineKind::ok;
  }
  std::uint64_t value = 0;
  for (int g = 0; g < 4; ++g) {
    if (g > 0 && (pos >= s.size() || s[pos++] != '-')) return LineKind::malformed;
    if (read_hex(s, pos, v) != 4) return LineKind::malformed;
    value = (value << 16) | v;
  }
  if (pos < s.size() && s[pos] != ' ' && s[pos] != '\t' && s[pos] != '[') return LineKind::malformed;
  out.status = ReadStatus::value;
  out.value = value;
  return LineKind::ok;
}

/// The number after "#" in \a s at or after \a from, if digits follow it.
std::optional<long> number_after_hash(std::string_view s, std::size_t from = 0) {
  std::size_t h = s.find('#', from);
  if (h == std::string_view::npos || h + 1 >= s.size() || s[h + 1] < '0' || s[h + 1] > '9')
    return std::nullopt;
  long n = 0;
  for (std::size_t i = h + 1; i < s.size() && s[i] >= '0' && s[i] <= '9' && n < 1000000; ++i)
    n = n * 10 + (s[i] - '0');
  return n;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

class Aida64Parser {
 public:
  Result<DumpContent> run(std::string_view text) {
    for_each_line(text, [&](std::string_view line, std::size_t number) {
      if (!line.empty()) handle(line, number);
      return !error_;
    });
    if (error_) return *error_;
    attach_msrs();
    content_.flavour = flavour_;
    if (malformed_)
      content_.notes.push_back("skipped " + std::to_string(malformed_) +
                               " malformed CPUID/MSR lines (first at line " +
                               std::to_string(first_malformed_) + ")");
    if (conflicts_)
      content_.notes.push_back("kept the first of " + std::to_string(conflicts_) +
                               " repeated CPUID leaf lines with different values");
    return std::move(content_);
  }

 private:
  void handle(std::string_view line, std::size_t number) {
    if (starts_with(line, "------[")) return section_header(line);
    if (starts_with(line, "CPUID Registers (")) return cpu_header(number_after_hash(line), "Everest");
    if (starts_with(line, "MSR Registers (")) return msr_header(number_after_hash(line).value_or(kBootLabel));
    if (starts_with(line, "CPU#") && line.find("AffMask") != std::string_view::npos)
      return cpu_header(number_after_hash(line), "InstLatX64");
    if (starts_with(line, "Group:") && line.find("Affinity mask") != std::string_view::npos)
      return cpu_header(static_cast<long>(groups_++), "InstLatX64");
    if (in_msr_) {
      MsrRead m;
      LineKind k = parse_msr_line(line, m);
      if (k == LineKind::ok) store_msr(m);
      else if (k == LineKind::malformed) malformed(number);
      return;
    }
    CpuidLine c;
    LineKind k = parse_cpuid_line(line, c);
    if (k == LineKind::ok) store_cpuid(c);
    else if (k == LineKind::malformed) malformed(number);
  }

  void section_header(std::string_view line) {
    if (line.find("MSR Registers") != std::string_view::npos) {
      std::size_t lc = line.find("Logical CPU #");
      if (lc == std::string_view::npos) return msr_header(kBootLabel);
      if (auto n = number_after_hash(line, lc)) return msr_header(*n);
      in_msr_ = true;  // "Logical CPU # Clock (TSC),..." continues the current MSR section
      return;
    }
    std::size_t lc = line.find("Logical CPU #");
    if (lc != std::string_view::npos) {
      if (auto n = number_after_hash(line, lc)) return cpu_header(*n, "AIDA64");
    }
    in_msr_ = false;  // Versions, CPU Info, All CPUs, ...: no registers of interest
  }

  void cpu_header(std::optional<long> label, const char* flavour) {
    in_msr_ = false;
    new_cpu_ = true;
    pending_label_ = label;
    if (flavour_.empty()) flavour_ = flavour;
  }

  void msr_header(long label) {
    in_msr_ = true;
    msr_label_ = label;
  }

  void store_cpuid(const CpuidLine& c) {
    DumpCpu* cpu = content_.cpus.empty() ? nullptr : &content_.cpus.back();
    bool repeat_leaf0 = cpu && c.leaf == 0 && !c.subleaf && occurrences_.count(0) != 0;
    if (!cpu || new_cpu_ || repeat_leaf0) {
      if (content_.cpus.size() >= kMaxCpus) return fail("dump has more than 8192 logical CPUs");
      content_.cpus.emplace_back();
      cpu = &content_.cpus.back();
      cpu->label = pending_label_.value_or(static_cast<long>(content_.cpus.size() - 1));
      pending_label_.reset();
      new_cpu_ = false;
      occurrences_.clear();
    }
    // Without "[SL nn]", the n-th line of a leaf is subleaf n (Everest, old AIDA64).
    std::uint32_t& seen = occurrences_[c.leaf];
    CpuidLeaf leaf{c.leaf, c.subleaf.value_or(seen), c.regs[0], c.regs[1], c.regs[2], c.regs[3]};
    ++seen;
    auto [it, inserted] = cpu->leaves.try_emplace({leaf.leaf, leaf.subleaf}, leaf);
    if (!inserted && (it->second.eax != leaf.eax || it->second.ebx != leaf.ebx ||
                      it->second.ecx != leaf.ecx || it->second.edx != leaf.edx))
      ++conflicts_;
    if (inserted && ++total_leaves_ > kMaxTotalLeaves)
      return fail("dump has more than " + std::to_string(kMaxTotalLeaves) + " CPUID leaves in all");
    if (cpu->leaves.size() > kMaxLeavesPerCpu)
      fail("logical CPU " + std::to_string(content_.cpus.size() - 1) + " has more than 4096 CPUID leaves");
  }

  void store_msr(const MsrRead& m) {
    auto& msrs = msrs_by_label_[msr_label_];
    auto [it, inserted] = msrs.insert_or_assign(m.index, m);  // later samples replace earlier ones ("[S200]" lines come first)
    (void)it;
    if (inserted && ++total_msrs_ > kMaxTotalMsrs)
      return fail("dump has more than " + std::to_string(kMaxTotalMsrs) + " MSRs in all");
    if (msrs.size() > kMaxMsrsPerCpu) fail("an MSR section has more than 65536 MSRs");
  }

  /// Gives each MSR section to the CPU with the same number.
  void attach_msrs() {
    std::size_t orphans = 0;
    for (auto& [label, msrs] : msrs_by_label_) {
      DumpCpu* target = nullptr;
      if (label == kBootLabel && !content_.cpus.empty()) target = &content_.cpus.front();
      for (auto& c : content_.cpus)
        if (!target && c.label == label) target = &c;
      if (!target) {
        ++orphans;
        continue;
      }
      for (auto& [index, m] : msrs) target->msrs[index] = m;
    }
    if (orphans)
      content_.notes.push_back("ignored " + std::to_string(orphans) +
                               " MSR sections for CPUs without a CPUID section");
  }

  void malformed(std::size_t number) {
    if (malformed_++ == 0) first_malformed_ = number;
  }

  void fail(std::string detail) {
    if (!error_) error_ = make_error(ErrorKind::bad_input, std::move(detail));
  }

  DumpContent content_;
  std::map<long, std::map<std::uint32_t, MsrRead>> msrs_by_label_;
  std::map<std::uint32_t, std::uint32_t> occurrences_;  // leaf -> lines seen on the current CPU
  std::optional<long> pending_label_;
  std::optional<Error> error_;
  std::string flavour_;
  long msr_label_ = kBootLabel;
  std::size_t groups_ = 0, malformed_ = 0, first_malformed_ = 0, conflicts_ = 0;
  std::size_t total_leaves_ = 0, total_msrs_ = 0;  // over all CPUs (kMaxTotalLeaves, kMaxTotalMsrs)
  bool in_msr_ = false, new_cpu_ = false;
};

}  // namespace

bool is_cpuid_register_line(std::string_view line) {
  CpuidLine c;
  return parse_cpuid_line(line, c) == LineKind::ok;
}

Result<DumpContent> parse_aida64(std::string_view text) {
  auto content = Aida64Parser().run(text);
  if (content && content->flavour.empty()) content->flavour = "bare CPUID lines";
  return content;
}

}  // namespace kvmprobe::collect::dump
