// libcpuid's raw format, as cpuid_serialize_all_raw_data() writes it (libcpuid 0.6.2,
// libcpuid/cpuid_main.c; `cpuid_tool --save=FILE`):
//   version=0.6.2
//   _________________ Logical CPU #0 _________________
//   basic_cpuid[0]=0000001c 68747541 444d4163 69746e65      leaf i, subleaf 0, i = 0..31
//   ext_cpuid[1]=...                                        leaf 0x80000000 + i, i = 0..31
//   intel_fn4[i]= intel_fn11[i]= intel_fn12h[i]= intel_fn14h[i]= amd_fn8000001dh[i]=
//                                                           leaf 4/0xB/0x12/0x14/0x8000001D, subleaf i
// Quirks: libcpuid executes every table row whatever the CPU's maximum leaf and writes them
// all, so rows past CPUID.0:EAX / CPUID.80000000h:EAX are not real leaves and are dropped
// here (a live collector never records them). libcpuid's InstLatX64 converter writes
// "ffffffff ffffffff ffffffff ffffffff" for rows the source lacked: those are dropped too.
// Single-CPU files (libcpuid's tests) have no "Logical CPU" header.
#include <optional>

#include "core/collect/import_dump_common.h"

namespace kvmprobe::collect::dump {
namespace {

struct Row {
  std::uint32_t leaf = 0, subleaf = 0;
  bool from_table = false;  // a subleaf table (intel_fn4, ...) rather than basic/ext_cpuid
  std::uint32_t regs[4] = {};
};

/// Maps "basic_cpuid", "ext_cpuid", "intel_fn4", "intel_fn12h", "amd_fn8000001dh", ... and the
/// index to a leaf and subleaf. The table names encode the leaf: decimal, or hex with 'h'.
std::optional<Row> row_for(std::string_view name, std::uint32_t index) {
  Row r;
  if (name == "basic_cpuid") {
    r.leaf = index;
    return r;
  }
  if (name == "ext_cpuid") {
    r.leaf = 0x80000000u + index;
    return r;
  }
  std::string_view num;
  if (name.substr(0, 8) == "intel_fn") num = name.substr(8);
  else if (name.substr(0, 6) == "amd_fn") num = name.substr(6);
  else return std::nullopt;
  bool is_hex = !num.empty() && num.back() == 'h';
  if (is_hex) num.remove_suffix(1);
  if (num.empty() || num.size() > 8) return std::nullopt;
  std::uint64_t leaf = 0;
  for (char c : num) {
    int d = hex_digit(c);
    if (d < 0 || (!is_hex && d > 9)) return std::nullopt;
    leaf = leaf * (is_hex ? 16 : 10) + static_cast<unsigned>(d);
  }
  if (leaf > 0xffffffffu) return std::nullopt;
  r.leaf = static_cast<std::uint32_t>(leaf);
  r.subleaf = index;
  r.from_table = true;
  return r;
}

enum class LineKind { ok, unknown_key, malformed };

/// Parses `name[i]=eax ebx ecx edx`.
LineKind parse_row(std::string_view s, Row& out) {
  std::size_t open = s.find('[');
  std::size_t close = s.find("]=");
  if (open == std::string_view::npos || close == std::string_view::npos || close < open + 2)
    return LineKind::malformed;
  std::uint32_t index = 0;
  for (std::size_t i = open + 1; i < close; ++i) {
    if (s[i] < '0' || s[i] > '9' || index > 4095) return LineKind::malformed;
    index = index * 10 + static_cast<std::uint32_t>(s[i] - '0');
  }
  if (index > 4095) return LineKind::malformed;
  auto row = row_for(s.substr(0, open), index);
  if (!row) return LineKind::unknown_key;
  std::size_t pos = close + 2;
  for (int r = 0; r < 4; ++r) {
    skip_blanks(s, pos);
    std::uint64_t v = 0;
    std::size_t n = read_hex(s, pos, v);
    if (n == 0 || n > 8) return LineKind::malformed;
    row->regs[r] = static_cast<std::uint32_t>(v);
  }
  if (pos != s.size()) return LineKind::malformed;
  out = *row;
  return LineKind::ok;
}

/// Drops rows past the CPU's maximum basic and extended leaf.
std::size_t drop_past_max_leaf(DumpCpu& cpu) {
  auto find = [&](std::uint32_t leaf) -> const CpuidLeaf* {
    auto it = cpu.leaves.find({leaf, 0});
    return it == cpu.leaves.end() ? nullptr : &it->second;
  };
  const CpuidLeaf* basic = find(0);
  const CpuidLeaf* ext = find(0x80000000u);
  if (!basic) return 0;  // cannot tell; keep everything
  std::uint32_t max_basic = basic->eax;
  std::uint32_t max_ext = 0x80000000u;
  if (ext && ext->eax >= 0x80000000u && ext->eax <= 0x8000ffffu) max_ext = ext->eax;
  std::size_t dropped = 0;
  for (auto it = cpu.leaves.begin(); it != cpu.leaves.end();) {
    std::uint32_t leaf = it->first.first;
    bool past = leaf < 0x80000000u ? leaf > max_basic : leaf > max_ext;
    if (past) {
      it = cpu.leaves.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  return dropped;
}

}  // namespace

Result<DumpContent> parse_libcpuid(std::string_view text) {
  DumpContent content;
  std::map<std::pair<std::uint32_t, std::uint32_t>, bool> from_table;  // current CPU
  std::string version;
  std::size_t unknown = 0, malformed = 0, first_bad = 0, missing = 0, total_leaves = 0;
  bool new_cpu = false;
  std::optional<Error> error;

  for_each_line(text, [&](std::string_view line, std::size_t number) {
    if (line.empty()) return true;
    if (line.substr(0, 8) == "version=") {
      version = std::string(line.substr(8, 16));
      return true;
    }
    if (line.front() == '_' && line.find("Logical CPU #") != std::string_view::npos) {
      new_cpu = true;
      return true;
    }
    Row row;
    LineKind kind = parse_row(line, row);
    if (kind != LineKind::ok) {
      ++(kind == LineKind::unknown_key ? unknown : malformed);
      if (!first_bad) first_bad = number;
      return true;
    }
    if (row.regs[0] == 0xffffffffu && row.regs[1] == 0xffffffffu && row.regs[2] == 0xffffffffu &&
        row.regs[3] == 0xffffffffu) {
      ++missing;
      return true;
    }
    if (content.cpus.empty() || new_cpu) {
      if (content.cpus.size() >= kMaxCpus) {
        error = make_error(ErrorKind::bad_input, "dump has more than 8192 logical CPUs");
        return false;
      }
      content.cpus.emplace_back().label = static_cast<long>(content.cpus.size() - 1);
      from_table.clear();
      new_cpu = false;
    }
    DumpCpu& cpu = content.cpus.back();
    std::pair<std::uint32_t, std::uint32_t> key{row.leaf, row.subleaf};
    // basic_cpuid[4] and intel_fn4[0] are both CPUID(4, 0); the subleaf table wins.
    auto t = from_table.find(key);
    if (t != from_table.end() && t->second && !row.from_table) return true;
    from_table[key] = row.from_table;
    auto [it, inserted] =
        cpu.leaves.insert_or_assign(key, CpuidLeaf{row.leaf, row.subleaf, row.regs[0], row.regs[1], row.regs[2], row.regs[3]});
    (void)it;
    if (inserted && ++total_leaves > kMaxTotalLeaves) {
      error = make_error(ErrorKind::bad_input, "dump has more than " + std::to_string(kMaxTotalLeaves) +
                                                   " CPUID leaves in all");
      return false;
    }
    if (cpu.leaves.size() > kMaxLeavesPerCpu) {
      error = make_error(ErrorKind::bad_input, "logical CPU " + std::to_string(content.cpus.size() - 1) +
                                                   " has more than 4096 CPUID leaves");
      return false;
    }
    return true;
  });
  if (error) return *error;

  std::size_t dropped = 0;
  for (auto& cpu : content.cpus) dropped += drop_past_max_leaf(cpu);
  content.flavour = version.empty() ? "libcpuid" : "libcpuid " + version;
  for (char& c : content.flavour)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  content.notes.push_back(
      "the libcpuid format records leaves 0-0x1F and 0x80000000-0x8000001F, subleaf 0 only except "
      "leaves 4, 0xB, 0x12, 0x14 and 0x8000001D: CPUID (7,1), (0xD,n>=1), (0x1F,n>=1), leaves 0x20+, "
      "0x40000000+ and 0x80000020+ are missing, not zero");
  if (dropped)
    content.notes.push_back("dropped " + std::to_string(dropped) +
                            " rows past the maximum CPUID leaf (libcpuid writes fixed-size tables)");
  if (missing)
    content.notes.push_back("dropped " + std::to_string(missing) +
                            " rows marked missing (all registers ffffffff)");
  if (unknown || malformed)
    content.notes.push_back("skipped " + std::to_string(unknown + malformed) +
                            " lines not understood (first at line " + std::to_string(first_bad) + ")");
  return content;
}

}  // namespace kvmprobe::collect::dump
