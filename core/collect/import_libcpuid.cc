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
//
// Who reads it: libcpuid itself, cpuid_deserialize_all_raw_data(), whenever that loses nothing.
// Its cpu_raw_data_t has fixed tables (32 basic and 32 extended leaves, 8 rows of leaf 4, 4 of
// 0xB, 0x12, 0x14 and 0x8000001D; libcpuid_constants.h, 0.6.2) and cannot tell a row the file
// lacks from a row of zeros (older cpuid_tool versions wrote 4 rows of leaf 4 and no 0x12/0x14
// tables). So a dump is taken from libcpuid when every row of it comes back, to the letter,
// from libcpuid's own cpuid_serialize_all_raw_data() of what it read, and only the rows the
// dump has (by their name[i] key) are used. The others keep the parser below: rows beyond the
// tables (more than 8 cache levels), 0.7's amd_fn80000026h, lines libcpuid does not know, and
// files libcpuid numbers differently. How many of the shared dumps take each path:
// tests/core/collect/import_libcpuid_test.cc.
#include <libcpuid.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <set>

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

/// Collects rows in file order into CPUs, with the rules both readers share: a subleaf table
/// row wins over basic_cpuid/ext_cpuid for the same (leaf, subleaf), all-ffffffff rows are
/// "missing", and the limits of import_dump_common.h hold.
class RowSink {
 public:
  void start_cpu() { new_cpu_ = true; }

  /// False (error() set) when a limit is passed.
  bool add(const Row& row) {
    if (row.regs[0] == 0xffffffffu && row.regs[1] == 0xffffffffu && row.regs[2] == 0xffffffffu &&
        row.regs[3] == 0xffffffffu) {
      ++missing_;
      return true;
    }
    if (content_.cpus.empty() || new_cpu_) {
      if (content_.cpus.size() >= kMaxCpus) {
        error_ = make_error(ErrorKind::bad_input, "dump has more than 8192 logical CPUs");
        return false;
      }
      content_.cpus.emplace_back().label = static_cast<long>(content_.cpus.size() - 1);
      from_table_.clear();
      new_cpu_ = false;
    }
    DumpCpu& cpu = content_.cpus.back();
    std::pair<std::uint32_t, std::uint32_t> key{row.leaf, row.subleaf};
    // basic_cpuid[4] and intel_fn4[0] are both CPUID(4, 0); the subleaf table wins.
    auto t = from_table_.find(key);
    if (t != from_table_.end() && t->second && !row.from_table) return true;
    from_table_[key] = row.from_table;
    auto [it, inserted] = cpu.leaves.insert_or_assign(
        key, CpuidLeaf{row.leaf, row.subleaf, row.regs[0], row.regs[1], row.regs[2], row.regs[3]});
    (void)it;
    if (inserted && ++total_leaves_ > kMaxTotalLeaves) {
      error_ = make_error(ErrorKind::bad_input, "dump has more than " + std::to_string(kMaxTotalLeaves) +
                                                    " CPUID leaves in all");
      return false;
    }
    if (cpu.leaves.size() > kMaxLeavesPerCpu) {
      error_ = make_error(ErrorKind::bad_input, "logical CPU " + std::to_string(content_.cpus.size() - 1) +
                                                    " has more than 4096 CPUID leaves");
      return false;
    }
    return true;
  }

  const std::optional<Error>& error() const { return error_; }

  /// The CPUs, rows past the maximum leaf dropped, and the notes.
  DumpContent finish(const std::string& version, std::size_t not_understood, std::size_t first_bad);

 private:
  DumpContent content_;
  std::map<std::pair<std::uint32_t, std::uint32_t>, bool> from_table_;  // current CPU
  std::size_t missing_ = 0, total_leaves_ = 0;
  bool new_cpu_ = false;
  std::optional<Error> error_;
};

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

DumpContent RowSink::finish(const std::string& version, std::size_t not_understood, std::size_t first_bad) {
  std::size_t dropped = 0;
  for (auto& cpu : content_.cpus) dropped += drop_past_max_leaf(cpu);
  content_.flavour = version.empty() ? "libcpuid" : "libcpuid " + version;
  for (char& c : content_.flavour)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  content_.notes.push_back(
      "the libcpuid format records leaves 0-0x1F and 0x80000000-0x8000001F, subleaf 0 only except "
      "leaves 4, 0xB, 0x12, 0x14 and 0x8000001D: CPUID (7,1), (0xD,n>=1), (0x1F,n>=1), leaves 0x20+, "
      "0x40000000+ and 0x80000020+ are missing, not zero");
  if (dropped)
    content_.notes.push_back("dropped " + std::to_string(dropped) +
                             " rows past the maximum CPUID leaf (libcpuid writes fixed-size tables)");
  if (missing_)
    content_.notes.push_back("dropped " + std::to_string(missing_) + " rows marked missing (all registers ffffffff)");
  if (not_understood)
    content_.notes.push_back("skipped " + std::to_string(not_understood) + " lines not understood (first at line " +
                             std::to_string(first_bad) + ")");
  return std::move(content_);
}

bool is_cpu_header(std::string_view line) {
  return !line.empty() && line.front() == '_' && line.find("Logical CPU #") != std::string_view::npos;
}

/// The dump's rows as "cpu:row" lines (a row before any header is CPU 0's), their
/// "cpu:name[i]" keys, and its version; nullopt when a line is neither a row, a header nor
/// the version.
/// Whether \a line is a row libcpuid 0.6.2's deserializer reads safely: a table it has, an index
/// inside that table, "=" and exactly four 8-digit hex words. Anything else goes to the hand
/// parser only: libcpuid trusts its input (a malformed dump made it fault, found by
/// fuzz_import_dump).
bool libcpuid_safe_row(std::string_view line) {
  struct Table {
    std::string_view name;
    int rows;
  };
  static constexpr Table kTables[] = {{"basic_cpuid", MAX_CPUID_LEVEL},         {"ext_cpuid", MAX_EXT_CPUID_LEVEL},
                                      {"intel_fn4", MAX_INTELFN4_LEVEL},        {"intel_fn11", MAX_INTELFN11_LEVEL},
                                      {"intel_fn12h", MAX_INTELFN12H_LEVEL},    {"intel_fn14h", MAX_INTELFN14H_LEVEL},
                                      {"amd_fn8000001dh", MAX_AMDFN8000001DH_LEVEL}};
  std::size_t open = line.find('['), close = line.find("]=");
  if (open == std::string_view::npos || close == std::string_view::npos || close <= open + 1 || close - open > 4)
    return false;
  std::string_view name = line.substr(0, open), idx = line.substr(open + 1, close - open - 1);
  int index = 0;
  for (char ch : idx) {
    if (ch < '0' || ch > '9') return false;
    index = index * 10 + (ch - '0');
  }
  bool known = false;
  for (const Table& t : kTables) known = known || (t.name == name && index < t.rows);
  if (!known) return false;
  std::string_view regs = line.substr(close + 2);
  if (regs.size() != 4 * 8 + 3) return false;
  for (std::size_t i = 0; i < regs.size(); ++i) {
    char ch = regs[i];
    bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
    if (i % 9 == 8 ? ch != ' ' : !hex) return false;
  }
  return true;
}

struct Canonical {
  std::vector<std::string> rows;
  std::set<std::string> keys;
  std::string version;
};
std::optional<Canonical> canonical_rows(std::string_view text) {
  Canonical c;
  long cpu = -1;
  bool ok = true;
  for_each_line(text, [&](std::string_view line, std::size_t) {
    if (line.empty()) return true;
    if (line.substr(0, 8) == "version=") {
      // libcpuid scans every line for its row names: only digits and dots may follow.
      std::string_view v = line.substr(8);
      if (v.empty() || v.size() > 16 || v.find_first_not_of("0123456789.") != std::string_view::npos)
        return ok = false;
      c.version = std::string(v);
      return true;
    }
    if (is_cpu_header(line)) {
      ++cpu;
      // Strictly "____ Logical CPU #N ____" with N the next CPU, as libcpuid writes it.
      std::string want = " Logical CPU #" + std::to_string(cpu) + " ";
      std::size_t at = line.find(want);
      if (at == std::string_view::npos || line.find_first_not_of('_') != at ||
          line.substr(at + want.size()).find_first_not_of('_') != std::string_view::npos)
        return ok = false;
      return true;
    }
    if (!libcpuid_safe_row(line)) return ok = false;
    std::string prefix = std::to_string(cpu < 0 ? 0 : cpu) + ":";
    c.rows.push_back(prefix + std::string(line));
    c.keys.insert(prefix + std::string(line.substr(0, line.find("]=") + 1)));
    if (cpu < 0) cpu = 0;
    return true;
  });
  if (!ok) return std::nullopt;
  return c;
}

/// An in-memory file with \a text, and the path libcpuid's fopen() opens it by.
class MemFile {
 public:
  MemFile() : fd_(::memfd_create("kvmprobe-libcpuid", MFD_CLOEXEC)) {}
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  ~MemFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }
  bool write(std::string_view text) {
    while (!text.empty()) {
      ssize_t n = ::write(fd_, text.data(), text.size());
      if (n <= 0) return false;
      text.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  std::string read() const {
    std::string out;
    char buf[1 << 16];
    for (off_t at = 0;;) {
      ssize_t n = ::pread(fd_, buf, sizeof buf, at);
      if (n <= 0) return out;
      out.append(buf, static_cast<std::size_t>(n));
      at += n;
    }
  }

 private:
  int fd_;
};

/// libcpuid's deserializer warns on stderr; its warnings only mean "not lossless" here.
void no_warning(const char*) {}

/// Frees the array libcpuid filled.
struct RawArray {
  cpu_raw_data_array_t a{};
  ~RawArray() { cpuid_free_raw_data_array(&a); }
};

}  // namespace

std::optional<Result<DumpContent>> parse_libcpuid_with_libcpuid(std::string_view text) {
  auto canon = canonical_rows(text);
  if (!canon || canon->rows.empty()) return std::nullopt;
  MemFile in, out;
  if (!in.ok() || !out.ok() || !in.write(text)) return std::nullopt;  // no memfd or /proc: the hand parser
  RawArray raw;
  libcpuid_warn_fn_t old = cpuid_set_warn_function(no_warning);
  int rc = cpuid_deserialize_all_raw_data(&raw.a, in.path().c_str());
  if (rc == 0 && raw.a.num_raw > 0) rc = cpuid_serialize_all_raw_data(&raw.a, out.path().c_str());
  cpuid_set_warn_function(old);
  if (rc != 0 || raw.a.num_raw == 0) return std::nullopt;
  // Lossless when every row of the dump comes back from libcpuid to the letter.
  auto back = canonical_rows(out.read());
  if (!back) return std::nullopt;
  std::set<std::string> written(back->rows.begin(), back->rows.end());
  for (const auto& row : canon->rows)
    if (!written.count(row)) return std::nullopt;

  RowSink sink;
  for (logical_cpu_t i = 0; i < raw.a.num_raw; ++i) {
    const cpu_raw_data_t& r = raw.a.raw[i];
    sink.start_cpu();
    // The order cpuid_serialize_all_raw_data() writes, which is the dump's own (checked above).
    auto add = [&](const std::uint32_t (*table)[NUM_REGS], int rows, const char* name, std::uint32_t leaf,
                   bool subleaves) {
      for (int k = 0; k < rows; ++k) {
        if (!canon->keys.count(std::to_string(i) + ":" + name + "[" + std::to_string(k) + "]")) continue;
        Row row;
        row.leaf = subleaves ? leaf : leaf + static_cast<std::uint32_t>(k);
        row.subleaf = subleaves ? static_cast<std::uint32_t>(k) : 0;
        row.from_table = subleaves;
        for (int reg = 0; reg < 4; ++reg) row.regs[reg] = table[k][reg];
        if (!sink.add(row)) return false;
      }
      return true;
    };
    bool ok = add(r.basic_cpuid, MAX_CPUID_LEVEL, "basic_cpuid", 0, false) &&
              add(r.ext_cpuid, MAX_EXT_CPUID_LEVEL, "ext_cpuid", 0x80000000u, false) &&
              add(r.intel_fn4, MAX_INTELFN4_LEVEL, "intel_fn4", 4, true) &&
              add(r.intel_fn11, MAX_INTELFN11_LEVEL, "intel_fn11", 0xb, true) &&
              add(r.intel_fn12h, MAX_INTELFN12H_LEVEL, "intel_fn12h", 0x12, true) &&
              add(r.intel_fn14h, MAX_INTELFN14H_LEVEL, "intel_fn14h", 0x14, true) &&
              add(r.amd_fn8000001dh, MAX_AMDFN8000001DH_LEVEL, "amd_fn8000001dh", 0x8000001du, true);
    if (!ok) return Result<DumpContent>(*sink.error());
  }
  return Result<DumpContent>(sink.finish(canon->version, 0, 0));
}

Result<DumpContent> parse_libcpuid_by_hand(std::string_view text) {
  RowSink sink;
  std::string version;
  std::size_t unknown = 0, malformed = 0, first_bad = 0;
  for_each_line(text, [&](std::string_view line, std::size_t number) {
    if (line.empty()) return true;
    if (line.substr(0, 8) == "version=") {
      version = std::string(line.substr(8, 16));
      return true;
    }
    if (is_cpu_header(line)) {
      sink.start_cpu();
      return true;
    }
    Row row;
    LineKind kind = parse_row(line, row);
    if (kind != LineKind::ok) {
      ++(kind == LineKind::unknown_key ? unknown : malformed);
      if (!first_bad) first_bad = number;
      return true;
    }
    return sink.add(row);
  });
  if (sink.error()) return *sink.error();
  return sink.finish(version, unknown + malformed, first_bad);
}

Result<DumpContent> parse_libcpuid(std::string_view text) {
  if (auto r = parse_libcpuid_with_libcpuid(text)) return std::move(*r);
  return parse_libcpuid_by_hand(text);
}

}  // namespace kvmprobe::collect::dump
