// Reading side of the snapshot format: an nlohmann SAX handler that builds the Snapshot straight
// from the parser's events, with no JSON tree in between. Every value is checked against its
// type, range and limit as it arrives, and every stored item is charged to a memory budget, so a
// hostile file is refused before it costs memory (docs/snapshot-format.md, "Limits and errors").
// The first problem becomes the error, named by its JSON path; parsing stops there.
//
// Format 2 (compact) keeps per-CPU data that several CPUs share in top-level tables
// (cpuid_sets, msr_sets, linux_flags_sets) that CPUs reference by index; they are expanded into
// each CpuRecord when the document is complete, after the expanded size was checked.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <iterator>
#include <new>
#include <set>
#include <tuple>

#include "core/collect/snapshot_json.h"
#include "core/collect/snapshot_json_internal.h"
#include "core/collect/snapshot_json_names.h"
#include "core/model/format.h"

namespace kvmprobe::collect {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxStringBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxListEntries = 65536;  // MSR lists, parameters
constexpr std::size_t kMaxFlagsPerCpu = 4096;
constexpr std::size_t kMaxLogLines = 100000;    // kernel_log, notes
constexpr std::size_t kMaxTscEntries = 256;
constexpr std::size_t kMaxModules = 4096;
constexpr std::size_t kMaxJsonValues = std::size_t{16} << 20;

/// A user-supplied string shortened and made printable, for quoting in an error.
std::string printable(const std::string& s) {
  std::string out = "\"";
  for (char c : s.substr(0, 40))
    out += (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) ? '?' : c;
  return out + (s.size() > 40 ? "...\"" : "\"");
}

// ---- the schema: which object has which keys, and what each key holds ----------------------

/// What a JSON value (object, array, or the document) is, for the handler.
enum class Node : std::uint8_t {
  skip,        // an unknown key's structured value: read and dropped
  top,         // the document
  cpus, cpu,   // "cpus" and one CPU
  leaves, leaf,
  msrs, msr,
  strings,     // array of strings (notes, kernel_log, linux_flags, a flag set)
  string_map,  // object string -> string (configured_params, module params)
  hex_list,    // array of hex (32): KVM's MSR lists
  online,      // array of CPU numbers
  tsc_list, tsc, perf, modules, module, kvm,
  leaf_sets, msr_sets, flag_sets,  // format 2 tables: arrays of arrays
};

/// What a member or element holds.
enum class Want : std::uint8_t {
  string, boolean, uint, sint, hex32, hex64, status, tsc_source, tri, cpuid_view,  // scalars
  object, array,                                                       // structures
};

/// One known key of an object node.
struct Member {
  std::string_view name;
  Want want;
  Node node = Node::skip;    // the node of a structured value
  std::uint64_t max = 0;     // Want::uint: largest value
  bool required = false;
};

// Member ids are indexes into these tables; the handler switches on (node, id).
constexpr Member kTopMembers[] = {
    {"schema", Want::string, Node::skip, 0, true},      // 0
    {"origin", Want::string},                            // 1
    {"tool_version", Want::string},                      // 2
    {"taken_at", Want::string},                          // 3
    {"hostname", Want::string},                          // 4
    {"kernel_release", Want::string},                    // 5
    {"kernel_version", Want::string},                    // 6
    {"kernel_cmdline", Want::string},                    // 7
    {"msr_backend", Want::string},                       // 8
    {"is_root", Want::boolean},                          // 9
    {"online_cpus", Want::array, Node::online},          // 10
    {"cpus", Want::array, Node::cpus, 0, true},          // 11
    {"tsc", Want::array, Node::tsc_list},                // 12
    {"perf", Want::object, Node::perf},                  // 13
    {"modules", Want::array, Node::modules},             // 14
    {"configured_params", Want::object, Node::string_map},  // 15
    {"param_origins", Want::object, Node::string_map},   // 16
    {"kvm", Want::object, Node::kvm},                    // 17
    {"kernel_log", Want::array, Node::strings},          // 18
    {"kernel_log_read", Want::boolean},                  // 19
    {"notes", Want::array, Node::strings},               // 20
    {"cpuid_sets", Want::array, Node::leaf_sets},        // 21
    {"msr_sets", Want::array, Node::msr_sets},           // 22
    {"linux_flags_sets", Want::array, Node::flag_sets},  // 23
};
constexpr Member kCpuMembers[] = {
    {"cpu", Want::uint, Node::skip, kMaxSnapshotCpus - 1, true},  // 0
    {"cpuid", Want::array, Node::leaves},                          // 1
    {"msrs", Want::array, Node::msrs},                             // 2
    {"xcr0", Want::hex64},                                         // 3
    {"cr0", Want::hex64},                                          // 4
    {"cr4", Want::hex64},                                          // 5
    {"efer", Want::hex64},                                         // 6
    {"linux_flags", Want::array, Node::strings},                   // 7
    {"cpuid_set", Want::uint, Node::skip, kMaxSnapshotCpus - 1},   // 8
    {"msr_set", Want::uint, Node::skip, kMaxSnapshotCpus - 1},     // 9
    {"linux_flags_set", Want::uint, Node::skip, kMaxSnapshotCpus - 1},  // 10
    {"cpuid_view", Want::cpuid_view},                              // 11
    {"cpuid_instruction_differs", Want::array, Node::leaves},      // 12
};
constexpr Member kLeafMembers[] = {
    {"leaf", Want::hex32, Node::skip, 0, true}, {"subleaf", Want::hex32, Node::skip, 0, true},
    {"eax", Want::hex32, Node::skip, 0, true},  {"ebx", Want::hex32, Node::skip, 0, true},
    {"ecx", Want::hex32, Node::skip, 0, true},  {"edx", Want::hex32, Node::skip, 0, true},
};
constexpr Member kMsrMembers[] = {
    {"index", Want::hex32, Node::skip, 0, true},   // 0
    {"status", Want::status, Node::skip, 0, true}, // 1
    {"value", Want::hex64},                        // 2
    {"error", Want::uint, Node::skip, 4095},       // 3
};
constexpr Member kTscMembers[] = {
    {"source", Want::tsc_source, Node::skip, 0, true},  // 0
    {"khz", Want::uint, Node::skip, UINT64_MAX, true},  // 1
    {"exact", Want::boolean},                           // 2
    {"detail", Want::string},                           // 3
};
constexpr Member kPerfMembers[] = {
    {"hw_pmu", Want::tri}, {"pmu_name", Want::string}, {"evidence", Want::string}};
constexpr Member kModuleMembers[] = {
    {"name", Want::string, Node::skip, 0, true}, {"params", Want::object, Node::string_map},
    {"builtin", Want::boolean}};
constexpr Member kKvmMembers[] = {
    {"present", Want::boolean},                                // 0
    {"openable", Want::boolean},                               // 1
    {"open_error", Want::uint, Node::skip, 4095},              // 2
    {"api_version", Want::uint, Node::skip, INT_MAX},          // 3
    {"msr_index_list", Want::array, Node::hex_list},           // 4
    {"feature_msr_list", Want::array, Node::hex_list},         // 5
    {"cap_tsc_control", Want::sint},                           // 6
    {"vcpu_tsc_khz", Want::uint, Node::skip, UINT64_MAX},      // 7
    {"supported_xcr0", Want::hex64},                           // 8
    {"error", Want::string},                                   // 9
    {"misc_registered", Want::boolean},                        // 10
};

struct MemberTable {
  const Member* begin;
  std::size_t size;
};

template <std::size_t N>
constexpr MemberTable table(const Member (&m)[N]) {
  return {m, N};
}

MemberTable members_of(Node n) {
  switch (n) {
    case Node::top: return table(kTopMembers);
    case Node::cpu: return table(kCpuMembers);
    case Node::leaf: return table(kLeafMembers);
    case Node::msr: return table(kMsrMembers);
    case Node::tsc: return table(kTscMembers);
    case Node::perf: return table(kPerfMembers);
    case Node::module: return table(kModuleMembers);
    case Node::kvm: return table(kKvmMembers);
    default: return {nullptr, 0};
  }
}

/// The element of an array node: what it holds, its limit and the word for "more than N ...".
struct Element {
  Want want;
  Node node;
  std::size_t max;
  const char* what;
};

/// The elements of array node \a n; {object, skip} for a node that is not an array.
Element element_of(Node n) {
  switch (n) {
    case Node::cpus: return {Want::object, Node::cpu, kMaxSnapshotCpus, "CPUs"};
    case Node::leaves: return {Want::object, Node::leaf, kMaxCpuidLeavesPerCpu, "leaves"};
    case Node::msrs: return {Want::object, Node::msr, kMaxMsrsPerCpu, "MSRs"};
    case Node::strings: return {Want::string, Node::skip, kMaxLogLines, "entries"};
    case Node::hex_list: return {Want::hex32, Node::skip, kMaxListEntries, "entries"};
    case Node::online: return {Want::uint, Node::skip, kMaxSnapshotCpus, "CPUs"};
    case Node::tsc_list: return {Want::object, Node::tsc, kMaxTscEntries, "entries"};
    case Node::modules: return {Want::object, Node::module, kMaxModules, "modules"};
    case Node::leaf_sets: return {Want::array, Node::leaves, kMaxSnapshotCpus, "sets"};
    case Node::msr_sets: return {Want::array, Node::msrs, kMaxSnapshotCpus, "sets"};
    case Node::flag_sets: return {Want::array, Node::strings, kMaxSnapshotCpus, "sets"};
    default: return {Want::object, Node::skip, 0, ""};
  }
}

/// A JSON value as the handler sees it (strings by reference: they may be moved from).
struct Value {
  enum Type { null, boolean, sint, uint, real, string, object, array } type;
  bool b = false;
  std::int64_t i = 0;
  std::uint64_t u = 0;
  std::string* s = nullptr;
};

const char* expected(Want w) {
  switch (w) {
    case Want::string: case Want::status: case Want::tsc_source: case Want::tri: case Want::cpuid_view:
      return "string";
    case Want::boolean: return "true or false";
    case Want::uint: return "a non-negative integer";
    case Want::sint: return "an integer";
    case Want::hex32: case Want::hex64: return "hex string";
    case Want::object: return "object";
    case Want::array: return "array";
  }
  return "?";
}

// ---- the handler -------------------------------------------------------------------------------

/// Per-CPU references into the format 2 tables, resolved when the document is complete.
struct CpuRefs {
  std::optional<std::size_t> cpuid_set, msr_set, flags_set;
};

/// One open object or array.
struct Frame {
  Node node;
  bool is_array;
  int member = -1;          // object: id of the current key (-1 unknown or none yet)
  std::uint32_t seen = 0;   // object: bits of the known keys seen
  std::size_t count = 0;    // array: elements started so far; string map: entries
  std::size_t limit = 0;    // array: most elements allowed
  void* target = nullptr;   // where elements go (a vector, a map)
};

class SnapshotBuilder {
 public:
  explicit SnapshotBuilder(std::size_t memory_limit = kMaxSnapshotMemory) : memory_limit_(memory_limit) {
    stack_.reserve(kMaxJsonDepth + 1);
  }

  // nlohmann SAX interface.
  bool null() { return value({Value::null}); }
  bool boolean(bool v) { return value({Value::boolean, v}); }
  bool number_integer(json::number_integer_t v) {
    Value x{Value::sint};
    x.i = v;
    return value(x);
  }
  bool number_unsigned(json::number_unsigned_t v) {
    Value x{Value::uint};
    x.u = v;
    return value(x);
  }
  bool number_float(json::number_float_t v, const std::string&) {
    if (!std::isfinite(v)) return fail_text("is not valid JSON (number out of range)");
    return value({Value::real});
  }
  bool string(std::string& v) {
    Value x{Value::string};
    x.s = &v;
    return value(x);
  }
  bool binary(json::binary_t&) { return fail_text("is not valid JSON (binary value)"); }
  bool start_object(std::size_t) { return open(false); }
  bool start_array(std::size_t) { return open(true); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string& k) {
    Frame& f = stack_.back();
    if (f.node == Node::skip) return true;
    if (f.node == Node::string_map) {
      map_key_ = std::move(k);
      if (map_key_.size() > kMaxStringBytes) return fail(path_of(stack_.size()), "key longer than 1 MiB");
      return true;
    }
    MemberTable t = members_of(f.node);
    f.member = -1;
    for (std::size_t i = 0; i < t.size; ++i)
      if (t.begin[i].name == k) {
        f.member = static_cast<int>(i);
        if (f.seen & (1u << i)) return fail(path_of(stack_.size()), "duplicate key");
        break;
      }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const json::exception& e) {
    if (!dynamic_cast<const json::parse_error*>(&e))  // out_of_range 406: 1e999
      return fail_text("is not valid JSON (number out of range)");
    if (!error_) {
      json_error_ = true;
      error_ = e.what();
      if (const auto* pe = dynamic_cast<const json::parse_error*>(&e)) error_byte_ = pe->byte;
    }
    return false;
  }

  /// After a successful parse: required keys, then the format 2 tables expanded into the CPUs.
  bool finish();

  bool ok() const { return !error_; }
  /// Whether the error is about the text (depth, JSON syntax) rather than a value at a path.
  bool text_error() const { return text_error_; }
  bool json_error() const { return json_error_; }
  std::size_t error_byte() const { return error_byte_; }
  const std::string& error() const { return *error_; }
  const std::string& hint() const { return hint_; }
  Snapshot take() { return std::move(s_); }

 private:
  bool fail(const std::string& path, const std::string& what, std::string hint = {}) {
    if (!error_) {
      error_ = path.empty() ? what : path + ": " + what;
      hint_ = std::move(hint);
    }
    return false;
  }
  bool fail_text(const std::string& what) {
    if (!error_) {
      error_ = what;
      text_error_ = true;
    }
    return false;
  }

  /// Path of what frame n-1 currently points at: "cpus[1].msrs[3].value" for the whole stack.
  std::string path_of(std::size_t n) const {
    std::string p;
    for (std::size_t k = 0; k < n; ++k) {
      const Frame& f = stack_[k];
      if (f.is_array) {
        p += "[" + std::to_string(f.count ? f.count - 1 : 0) + "]";
      } else if (f.node == Node::string_map) {
        p += "[" + printable(map_key_) + "]";
      } else if (f.member >= 0) {
        if (!p.empty()) p += '.';
        p += members_of(f.node).begin[f.member].name;
      }
    }
    return p;
  }
  std::string here() const { return path_of(stack_.size()); }
  std::string container() const { return path_of(stack_.size() - 1); }

  /// Charges \a bytes of decoded data to the memory budget.
  // The limits below take the path of what they count as a function, called only when the
  // limit is exceeded: building "cpus[1].msrs[3]" for every value was 7 % of reading a fleet.
  bool charge(std::size_t bytes) { return charge(bytes, [this] { return here(); }); }
  template <class PathFn>
  bool charge(std::size_t bytes, const PathFn& path) {
    used_ += bytes;
    if (used_ <= memory_limit_) return true;
    return fail(path(), "the snapshot needs more than " + std::to_string(memory_limit_ >> 20) +
                              " MiB of memory (limit)");
  }
  bool charge_string(const std::string& s) {
    return charge(sizeof(std::string) + (s.size() > 15 ? s.size() + 1 : 0));
  }
  template <class PathFn>
  bool count_leaves(std::size_t n, const PathFn& path) {
    total_leaves_ += n;
    if (total_leaves_ <= kMaxTotalCpuidLeaves) return true;
    return fail(path(), "more than " + std::to_string(kMaxTotalCpuidLeaves) + " CPUID leaves in all (limit)");
  }
  template <class PathFn>
  bool count_msrs(std::size_t n, const PathFn& path) {
    total_msrs_ += n;
    if (total_msrs_ <= kMaxTotalMsrs) return true;
    return fail(path(), "more than " + std::to_string(kMaxTotalMsrs) + " MSR reads in all (limit)");
  }

  /// What the next value in the innermost frame should be, after counting it in an array.
  bool slot(Want& want, Node& node, std::uint64_t& max, bool& skip);
  bool value(const Value& v);
  bool open(bool is_array);
  bool begin_container(Frame& f, const Frame& parent);
  bool close();
  bool close_object(Frame& f);
  bool close_array(Frame& f);

  // Scalar conversions; each fails with the current path.
  bool to_hex(const Value& v, unsigned bits, std::uint64_t& out);
  bool to_uint(const Value& v, std::uint64_t max, std::uint64_t& out);
  bool to_text(const Value& v, std::string& out);
  bool convert(const Value& v, Want want, std::uint64_t max, std::uint64_t& x, std::string& str);

  // Storing a converted scalar, by the kind of frame it is read in.
  void store_scalar(const Frame& f, const Value& v, Want want, std::uint64_t max);
  template <typename E, std::size_t N>
  void store_enum(const EnumName<E> (&tbl)[N], const std::string& str, E& out);
  void store_element(const Frame& f, std::uint64_t x, std::string& str);
  void store_record_member(const Frame& f, std::uint64_t x, std::string& str);
  void store_cpu_member(int member, std::uint64_t x, std::string& str);
  void store_kvm_member(int member, std::uint64_t x, std::string& str);
  void store_top_member(int member, std::uint64_t x, std::string& str);

  bool sorted_unique_leaves(std::vector<CpuidLeaf>& v);
  bool sorted_unique_msrs(std::vector<MsrRead>& v);
  bool read_schema(const std::string& s);
  bool check_refs(std::size_t i);
  bool expand(std::size_t i);

  Snapshot s_;
  std::vector<CpuRefs> refs_;
  std::vector<std::vector<CpuidLeaf>> leaf_sets_;
  std::vector<std::vector<MsrRead>> msr_sets_;
  std::vector<std::vector<std::string>> flag_sets_;
  std::vector<bool> cpu_seen_ = std::vector<bool>(kMaxSnapshotCpus);
  std::vector<bool> online_seen_ = std::vector<bool>(kMaxSnapshotCpus);

  std::vector<Frame> stack_;
  std::string map_key_;
  CpuidLeaf leaf_;
  MsrRead msr_;
  bool msr_has_value_ = false;
  TscCandidate tsc_;
  LoadedModule module_;
  bool started_ = false, top_is_array_ = false;

  std::size_t memory_limit_;
  std::size_t values_ = 0, used_ = 0, total_leaves_ = 0, total_msrs_ = 0;
  std::optional<std::string> error_;
  std::string hint_;
  bool text_error_ = false, json_error_ = false;
  std::size_t error_byte_ = 0;
};

bool SnapshotBuilder::to_hex(const Value& v, unsigned bits, std::uint64_t& out) {
  const std::string* s = v.type == Value::string ? v.s : nullptr;
  if (!s || s->size() < 3 || s->size() > 18 || (*s)[0] != '0' || (*s)[1] != 'x')
    return fail(here(), "expected hex string");
  std::uint64_t x = 0;
  for (std::size_t i = 2; i < s->size(); ++i) {
    char c = (*s)[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return fail(here(), "expected hex string");
    x = (x << 4) | static_cast<unsigned>(d);
  }
  if (bits < 64 && (x >> bits) != 0) return fail(here(), *s + " does not fit in " + std::to_string(bits) + " bits");
  out = x;
  return true;
}

bool SnapshotBuilder::to_uint(const Value& v, std::uint64_t max, std::uint64_t& out) {
  std::uint64_t x;
  if (v.type == Value::uint) x = v.u;
  else if (v.type == Value::sint && v.i >= 0) x = static_cast<std::uint64_t>(v.i);
  else return fail(here(), "expected a non-negative integer");
  if (x > max) return fail(here(), std::to_string(x) + " is out of range (0.." + std::to_string(max) + ")");
  out = x;
  return true;
}

bool SnapshotBuilder::to_text(const Value& v, std::string& out) {
  if (v.type != Value::string) return fail(here(), "expected string");
  if (v.s->size() > kMaxStringBytes) return fail(here(), "string longer than 1 MiB");
  out = std::move(*v.s);
  return true;
}

bool SnapshotBuilder::read_schema(const std::string& s) {
  const std::string prefix = std::string(kSnapshotSchema) + "/";
  if (s.compare(0, prefix.size(), prefix) != 0)
    return fail("schema", printable(s) + " is not a kvmprobe snapshot (expected " + prefix +
                              std::to_string(kSnapshotFormat) + ")");
  std::string num = s.substr(prefix.size());
  if (num.empty() || num.size() > 9 || !std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(num) == 0)
    return fail("schema", printable(s) + " has no valid format version");
  int version = std::stoi(num);
  if (version > kSnapshotFormat)
    return fail("schema", "written by a newer kvmprobe (format " + num + " > " + std::to_string(kSnapshotFormat) + ")",
                "read it with the kvmprobe version that wrote it, or a newer one");
  s_.format = version;
  return true;
}

bool SnapshotBuilder::slot(Want& want, Node& node, std::uint64_t& max, bool& skip) {
  Frame& f = stack_.back();
  skip = false;
  node = Node::skip;
  max = 0;
  if (f.is_array) {
    Element e = element_of(f.node);
    if (e.node == Node::skip && e.want == Want::object) {  // inside an unknown key's value
      skip = true;
      return true;
    }
    if (++f.count > f.limit) return fail(container(), "more than " + std::to_string(f.limit) + " " + e.what);
    want = e.want;
    node = e.node;
    if (f.node == Node::online) max = kMaxSnapshotCpus - 1;
    return true;
  }
  if (f.node == Node::string_map) {
    if (++f.count > kMaxListEntries)
      return fail(container(), "more than " + std::to_string(kMaxListEntries) + " entries");
    want = Want::string;
    return true;
  }
  MemberTable t = members_of(f.node);
  if (f.member < 0 || !t.begin) {
    skip = true;
    return true;
  }
  const Member& m = t.begin[f.member];
  want = m.want;
  node = m.node;
  max = m.max;
  return true;
}

bool SnapshotBuilder::value(const Value& v) {
  if (++values_ > kMaxJsonValues) return fail_text("has more than 16 million JSON values");
  if (!started_) {
    started_ = true;
    // A top-level array is read to its end first, so that its nesting is checked first.
    if (v.type == Value::array) top_is_array_ = true;
    else if (v.type != Value::object) return fail("", "expected a JSON object at the top level");
  }
  if (v.type == Value::object || v.type == Value::array) return true;  // open() goes on
  Want want;
  Node node;
  std::uint64_t max;
  bool skip;
  if (!slot(want, node, max, skip)) return false;
  if (skip) return true;
  Frame& f = stack_.back();
  if (v.type == Value::null && !f.is_array && f.node != Node::string_map) return true;  // absent
  if (want == Want::object || want == Want::array) return fail(here(), std::string("expected ") + expected(want));
  if (!f.is_array && f.node != Node::string_map) f.seen |= 1u << f.member;
  store_scalar(f, v, want, max);
  return ok();
}

/// Converts \a v (already known to be of the right kind of slot) to a number \a x or a text
/// \a str, as \a want says; false (and the error set) when it does not fit.
bool SnapshotBuilder::convert(const Value& v, Want want, std::uint64_t max, std::uint64_t& x, std::string& str) {
  switch (want) {
    case Want::boolean:
      if (v.type != Value::boolean) return fail(here(), "expected true or false");
      x = v.b;
      return true;
    case Want::uint: return to_uint(v, max, x);
    case Want::sint:
      if (v.type == Value::sint) x = static_cast<std::uint64_t>(v.i);
      else if (v.type == Value::uint && v.u <= INT64_MAX) x = v.u;
      else return fail(here(), v.type == Value::uint ? "out of range" : "expected an integer");
      return true;
    case Want::hex32: return to_hex(v, 32, x);
    case Want::hex64: return to_hex(v, 64, x);
    default: return to_text(v, str);  // strings and enums
  }
}

/// \a out = the value named \a str in \a tbl, or the error naming every value it could be.
template <typename E, std::size_t N>
void SnapshotBuilder::store_enum(const EnumName<E> (&tbl)[N], const std::string& str, E& out) {
  if (auto e = enum_value(tbl, str)) {
    out = *e;
    return;
  }
  std::string names;
  for (const auto& entry : tbl) names += (names.empty() ? "" : "|") + std::string(entry.first);
  fail(here(), "unknown value " + printable(str) + " (expected " + names + ")");
}

/// One element of a list or map: a string, a map value, a hex number, an online CPU.
void SnapshotBuilder::store_element(const Frame& f, std::uint64_t x, std::string& str) {
  switch (f.node) {
    case Node::strings: {
      auto* vec = static_cast<std::vector<std::string>*>(f.target);
      if (charge_string(str)) vec->push_back(std::move(str));
      return;
    }
    case Node::string_map: {
      auto* map = static_cast<std::map<std::string, std::string>*>(f.target);
      if (charge(sizeof(std::string) * 2 + 48 + map_key_.size() + str.size())) (*map)[map_key_] = std::move(str);
      return;
    }
    case Node::hex_list:
      if (charge(sizeof(std::uint32_t))) static_cast<std::vector<std::uint32_t>*>(f.target)->push_back(static_cast<std::uint32_t>(x));
      return;
    default:  // Node::online
      if (online_seen_[x]) {
        fail(here(), "duplicate CPU " + std::to_string(x));
        return;
      }
      online_seen_[x] = true;
      if (charge(sizeof(unsigned))) s_.online_cpus.push_back(static_cast<unsigned>(x));
      return;
  }
}

/// A member of one CPUID leaf, MSR read, TSC candidate, the perf record or a module.
void SnapshotBuilder::store_record_member(const Frame& f, std::uint64_t x, std::string& str) {
  switch (f.node) {
    case Node::leaf: {
      std::uint32_t* regs[] = {&leaf_.leaf, &leaf_.subleaf, &leaf_.eax, &leaf_.ebx, &leaf_.ecx, &leaf_.edx};
      *regs[f.member] = static_cast<std::uint32_t>(x);
      return;
    }
    case Node::msr:
      switch (f.member) {
        case 0: msr_.index = static_cast<std::uint32_t>(x); return;
        case 1: store_enum(kReadStatusNames, str, msr_.status); return;
        case 2: msr_.value = x; msr_has_value_ = true; return;
        default: msr_.error = static_cast<int>(x); return;
      }
    case Node::tsc:
      switch (f.member) {
        case 0: store_enum(kTscSourceNames, str, tsc_.source); return;
        case 1: tsc_.khz = x; return;
        case 2: tsc_.exact = x != 0; return;
        default: if (charge_string(str)) tsc_.detail = std::move(str); return;
      }
    case Node::perf:
      switch (f.member) {
        case 0: store_enum(kTriNames, str, s_.perf.hw_pmu); return;
        case 1: if (charge_string(str)) s_.perf.pmu_name = std::move(str); return;
        default: if (charge_string(str)) s_.perf.evidence = std::move(str); return;
      }
    default:  // Node::module
      if (f.member == 2) module_.builtin = x != 0;
      else if (charge_string(str)) module_.name = std::move(str);
      return;
  }
}

/// A scalar member of the CPU being read (kCpuMembers).
void SnapshotBuilder::store_cpu_member(int member, std::uint64_t x, std::string& str) {
  CpuRecord& c = s_.cpus.back();
  CpuRefs& r = refs_.back();
  switch (member) {
    case 0: c.cpu = static_cast<unsigned>(x); return;
    case 3: c.xcr0 = x; return;
    case 4: c.cr0 = x; return;
    case 5: c.cr4 = x; return;
    case 6: c.efer = x; return;
    case 8: r.cpuid_set = x; return;
    case 9: r.msr_set = x; return;
    case 10: r.flags_set = x; return;
    case 11: store_enum(kCpuidViewNames, str, c.cpuid_view); return;
    default: return;
  }
}

/// A scalar member of "kvm" (kKvmMembers).
void SnapshotBuilder::store_kvm_member(int member, std::uint64_t x, std::string& str) {
  KvmDeviceInfo& k = s_.kvm;
  switch (member) {
    case 0: k.present = x != 0; return;
    case 1: k.openable = x != 0; return;
    case 2: k.open_error = static_cast<int>(x); return;
    case 3: k.api_version = static_cast<int>(x); return;
    case 6: k.cap_tsc_control = static_cast<std::int64_t>(x); return;
    case 7: k.vcpu_tsc_khz = x; return;
    case 8: k.supported_xcr0 = x; return;
    case 9: if (charge_string(str)) k.error = std::move(str); return;
    case 10: k.misc_registered = x != 0; return;
    default: return;
  }
}

/// A scalar member of the top-level object (kTopMembers).
void SnapshotBuilder::store_top_member(int member, std::uint64_t x, std::string& str) {
  std::string* texts[] = {nullptr, &s_.origin, &s_.tool_version, &s_.taken_at, &s_.hostname,
                          &s_.kernel_release, &s_.kernel_version, &s_.kernel_cmdline, &s_.msr_backend};
  if (member == 0) read_schema(str);
  else if (member < 9) { if (charge_string(str)) *texts[member] = std::move(str); }
  else if (member == 9) s_.is_root = x != 0;
  else if (member == 19) s_.kernel_log_read = x != 0;
}

/// Converts \a v and stores it where the innermost frame and its current member say.
void SnapshotBuilder::store_scalar(const Frame& f, const Value& v, Want want, std::uint64_t max) {
  std::uint64_t x = 0;
  std::string str;
  if (!convert(v, want, max, x, str)) return;
  switch (f.node) {
    case Node::strings:
    case Node::string_map:
    case Node::hex_list:
    case Node::online: return store_element(f, x, str);
    case Node::leaf:
    case Node::msr:
    case Node::tsc:
    case Node::perf:
    case Node::module: return store_record_member(f, x, str);
    case Node::cpu: return store_cpu_member(f.member, x, str);
    case Node::kvm: return store_kvm_member(f.member, x, str);
    case Node::top: return store_top_member(f.member, x, str);
    default: return;
  }
}

/// Starts the record or list that frame \a f (just opened inside \a parent) reads: a new CPU,
/// a fresh leaf/MSR/TSC/module record, or the vector or map its values go to (f.target).
bool SnapshotBuilder::begin_container(Frame& f, const Frame& parent) {
  switch (f.node) {
    case Node::cpu:
      if (!charge(sizeof(CpuRecord) + sizeof(CpuRefs))) return false;
      s_.cpus.emplace_back();
      refs_.emplace_back();
      break;
    case Node::leaf: leaf_ = {}; break;
    case Node::msr: msr_ = {}; msr_has_value_ = false; break;
    case Node::tsc: tsc_ = {}; break;
    case Node::module: module_ = {}; break;
    case Node::leaves:
      if (parent.node == Node::leaf_sets) {
        if (!charge(sizeof(std::vector<CpuidLeaf>))) return false;
        f.target = &leaf_sets_.emplace_back();
      } else {
        CpuRecord& c = s_.cpus.back();
        f.target = parent.member == 12 ? &c.cpuid_instruction_differs : &c.cpuid;
      }
      break;
    case Node::msrs:
      if (parent.node == Node::msr_sets) {
        if (!charge(sizeof(std::vector<MsrRead>))) return false;
        f.target = &msr_sets_.emplace_back();
      } else {
        f.target = &s_.cpus.back().msrs;
      }
      break;
    case Node::strings:
      if (parent.node == Node::flag_sets) {
        if (!charge(sizeof(std::vector<std::string>))) return false;
        f.target = &flag_sets_.emplace_back();
        f.limit = kMaxFlagsPerCpu;
      } else if (parent.node == Node::cpu) {
        f.target = &s_.cpus.back().linux_flags.emplace();
        f.limit = kMaxFlagsPerCpu;
      } else {
        f.target = parent.member == 18 ? &s_.kernel_log : &s_.notes;
      }
      break;
    case Node::string_map:
      if (parent.node == Node::module) f.target = &module_.params;
      else f.target = parent.member == 15 ? &s_.configured_params : &s_.param_origins;
      break;
    case Node::hex_list:
      f.target = &(parent.member == 4 ? s_.kvm.msr_index_list : s_.kvm.feature_msr_list).emplace();
      break;
    default: break;
  }
  return true;
}

bool SnapshotBuilder::open(bool is_array) {
  if (stack_.size() >= static_cast<std::size_t>(kMaxJsonDepth))
    return fail_text("is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  if (!value({is_array ? Value::array : Value::object})) return false;
  if (stack_.empty()) {
    stack_.push_back({is_array ? Node::skip : Node::top, is_array});
    return true;
  }
  Want want;
  Node node;
  std::uint64_t max;
  bool skip;
  if (!slot(want, node, max, skip)) return false;
  Frame& parent = stack_.back();
  if (skip) {
    stack_.push_back({Node::skip, is_array});
    return true;
  }
  if (want != (is_array ? Want::array : Want::object)) return fail(here(), std::string("expected ") + expected(want));
  if (!parent.is_array && parent.node != Node::string_map) parent.seen |= 1u << parent.member;

  Frame f{node, is_array};
  f.limit = element_of(node).max;
  if (!begin_container(f, parent)) return false;
  stack_.push_back(f);
  return true;
}

bool SnapshotBuilder::close() {
  Frame f = stack_.back();
  bool good = f.is_array ? close_array(f) : close_object(f);
  stack_.pop_back();
  if (good && stack_.empty() && top_is_array_) return fail("", "expected a JSON object at the top level");
  return good;
}

bool SnapshotBuilder::close_object(Frame& f) {
  MemberTable t = members_of(f.node);
  for (std::size_t i = 0; i < t.size; ++i)
    if (t.begin[i].required && !(f.seen & (1u << i))) {
      std::string p = container();
      return fail(p.empty() ? std::string(t.begin[i].name) : p + "." + std::string(t.begin[i].name), "missing");
    }
  switch (f.node) {
    case Node::leaf: {
      auto* v = static_cast<std::vector<CpuidLeaf>*>(stack_[stack_.size() - 2].target);
      auto where = [this] { return container(); };
      if (!count_leaves(1, where) || !charge(sizeof(CpuidLeaf), where)) return false;
      v->push_back(leaf_);
      return true;
    }
    case Node::msr: {
      auto where = [this] { return container(); };
      if (msr_.status == ReadStatus::value && !msr_has_value_)
        return fail(where() + ".value", "missing (status is \"value\")");
      if (msr_.status != ReadStatus::value && msr_has_value_)
        return fail(where() + ".value", "not allowed when status is \"" + std::string(name_of(msr_.status)) + "\"");
      if (!msr_has_value_) msr_.value = 0;
      auto* v = static_cast<std::vector<MsrRead>*>(stack_[stack_.size() - 2].target);
      if (!charge(sizeof(MsrRead), where) || !count_msrs(1, where)) return false;
      v->push_back(msr_);
      return true;
    }
    case Node::cpu: {
      unsigned cpu = s_.cpus.back().cpu;
      if (cpu_seen_[cpu]) return fail(container() + ".cpu", "duplicate CPU " + std::to_string(cpu));
      cpu_seen_[cpu] = true;
      return true;
    }
    case Node::tsc:
      if (!charge(sizeof(TscCandidate), [this] { return container(); })) return false;
      s_.tsc.push_back(std::move(tsc_));
      return true;
    case Node::module:
      if (!charge(sizeof(LoadedModule), [this] { return container(); })) return false;
      s_.modules.push_back(std::move(module_));
      return true;
    default:
      return true;
  }
}

/// Called as the array closes: container() is the array's own path.
bool SnapshotBuilder::sorted_unique_leaves(std::vector<CpuidLeaf>& v) {
  auto key = [](const CpuidLeaf& l) { return std::make_pair(l.leaf, l.subleaf); };
  auto dup = [&](std::size_t i) {
    return fail(container() + "[" + std::to_string(i) + "]",
                "duplicate leaf " + hex(v[i].leaf) + " subleaf " + hex(v[i].subleaf));
  };
  bool sorted = true;
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (key(v[i - 1]) == key(v[i])) return dup(i);
    if (key(v[i]) < key(v[i - 1])) sorted = false;
  }
  if (!sorted) {  // the writer sorts; any order is accepted, the first repeat is named
    std::set<std::pair<std::uint32_t, std::uint32_t>> seen;
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!seen.insert(key(v[i])).second) return dup(i);
    std::sort(v.begin(), v.end(), [&](const CpuidLeaf& a, const CpuidLeaf& b) { return key(a) < key(b); });
  }
  v.shrink_to_fit();
  return true;
}

bool SnapshotBuilder::sorted_unique_msrs(std::vector<MsrRead>& v) {
  auto dup = [&](std::size_t i) {
    return fail(container() + "[" + std::to_string(i) + "]", "duplicate MSR " + hex(v[i].index));
  };
  bool sorted = true;
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i - 1].index == v[i].index) return dup(i);
    if (v[i].index < v[i - 1].index) sorted = false;
  }
  if (!sorted) {
    std::set<std::uint32_t> seen;
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!seen.insert(v[i].index).second) return dup(i);
    std::sort(v.begin(), v.end(), [](const MsrRead& a, const MsrRead& b) { return a.index < b.index; });
  }
  v.shrink_to_fit();
  return true;
}

bool SnapshotBuilder::close_array(Frame& f) {
  switch (f.node) {
    case Node::leaves:
      return sorted_unique_leaves(*static_cast<std::vector<CpuidLeaf>*>(f.target));
    case Node::msrs:
      return sorted_unique_msrs(*static_cast<std::vector<MsrRead>*>(f.target));
    case Node::strings:
      static_cast<std::vector<std::string>*>(f.target)->shrink_to_fit();
      return true;
    default:
      return true;
  }
}

/// Checks CPU \a i's references into the format 2 tables and charges what expanding them costs.
bool SnapshotBuilder::check_refs(std::size_t i) {
  const CpuRecord& c = s_.cpus[i];
  const CpuRefs& r = refs_[i];
  const std::string p = "cpus[" + std::to_string(i) + "]";
  auto where = [&p] { return p; };
  auto bad_ref = [&](const char* key, std::size_t k, std::size_t n, const char* table) {
    return fail(p + "." + key, std::to_string(k) + " is not an entry of " + table + " (" + std::to_string(n) +
                                   (n == 1 ? " entry)" : " entries)"));
  };
  if (r.cpuid_set) {
    if (*r.cpuid_set >= leaf_sets_.size()) return bad_ref("cpuid_set", *r.cpuid_set, leaf_sets_.size(), "cpuid_sets");
    const std::size_t n = leaf_sets_[*r.cpuid_set].size();
    if (n + c.cpuid.size() > kMaxCpuidLeavesPerCpu)
      return fail(p, "more than " + std::to_string(kMaxCpuidLeavesPerCpu) + " leaves (cpuid_set and cpuid)");
    if (!count_leaves(n, where) || !charge(n * sizeof(CpuidLeaf), where)) return false;
  }
  if (r.msr_set) {
    if (*r.msr_set >= msr_sets_.size()) return bad_ref("msr_set", *r.msr_set, msr_sets_.size(), "msr_sets");
    const std::size_t n = msr_sets_[*r.msr_set].size();
    if (n + c.msrs.size() > kMaxMsrsPerCpu)
      return fail(p, "more than " + std::to_string(kMaxMsrsPerCpu) + " MSRs (msr_set and msrs)");
    if (!count_msrs(n, where) || !charge(n * sizeof(MsrRead), where)) return false;
  }
  if (r.flags_set) {
    if (*r.flags_set >= flag_sets_.size())
      return bad_ref("linux_flags_set", *r.flags_set, flag_sets_.size(), "linux_flags_sets");
    if (c.linux_flags) return fail(p, "both linux_flags and linux_flags_set");
    std::size_t bytes = 0;
    for (const auto& f : flag_sets_[*r.flags_set]) bytes += sizeof(std::string) + (f.size() > 15 ? f.size() + 1 : 0);
    if (!charge(bytes, where)) return false;
  }
  return true;
}

/// Merges CPU \a i's referenced sets into its own lists (format 2), after check_refs().
bool SnapshotBuilder::expand(std::size_t i) {
  CpuRecord& c = s_.cpus[i];
  const CpuRefs& r = refs_[i];
  const std::string p = "cpus[" + std::to_string(i) + "]";
  if (r.cpuid_set) {
    const auto& set = leaf_sets_[*r.cpuid_set];
    std::vector<CpuidLeaf> all;
    all.reserve(set.size() + c.cpuid.size());
    all.insert(all.end(), set.begin(), set.end());
    all.insert(all.end(), c.cpuid.begin(), c.cpuid.end());
    auto less = [](const CpuidLeaf& a, const CpuidLeaf& b) { return std::tie(a.leaf, a.subleaf) < std::tie(b.leaf, b.subleaf); };
    std::inplace_merge(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(set.size()), all.end(), less);
    for (std::size_t j = 1; j < all.size(); ++j)
      if (!less(all[j - 1], all[j]))
        return fail(p + ".cpuid", "leaf " + hex(all[j].leaf) + " subleaf " + hex(all[j].subleaf) +
                                      " is also in cpuid_sets[" + std::to_string(*r.cpuid_set) + "]");
    c.cpuid = std::move(all);
  }
  if (r.msr_set) {
    const auto& set = msr_sets_[*r.msr_set];
    std::vector<MsrRead> all;
    all.reserve(set.size() + c.msrs.size());
    all.insert(all.end(), set.begin(), set.end());
    all.insert(all.end(), c.msrs.begin(), c.msrs.end());
    auto less = [](const MsrRead& a, const MsrRead& b) { return a.index < b.index; };
    std::inplace_merge(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(set.size()), all.end(), less);
    for (std::size_t j = 1; j < all.size(); ++j)
      if (!less(all[j - 1], all[j]))
        return fail(p + ".msrs", "MSR " + hex(all[j].index) + " is also in msr_sets[" +
                                     std::to_string(*r.msr_set) + "]");
    c.msrs = std::move(all);
  }
  if (r.flags_set) c.linux_flags = flag_sets_[*r.flags_set];
  return true;
}

bool SnapshotBuilder::finish() {
  if (!ok()) return false;
  if (!started_ || !stack_.empty()) return fail("", "incomplete document");
  if (s_.format < 2) return true;
  // First every reference and the expanded size, so nothing is expanded that would not fit.
  for (std::size_t i = 0; i < s_.cpus.size(); ++i)
    if (!check_refs(i)) return false;
  for (std::size_t i = 0; i < s_.cpus.size(); ++i)
    if (!expand(i)) return false;
  return true;
}

// ---- feeding the handler ------------------------------------------------------------------------

/// A character iterator over the text that records how far the parser has read, so an error the
/// handler raises (too deep) can name its line.
class TrackingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  TrackingIterator(const char* p, const char** last) : p_(p), last_(last) {}
  reference operator*() const { return *p_; }
  TrackingIterator& operator++() {
    *last_ = ++p_;
    return *this;
  }
  TrackingIterator operator++(int) {
    TrackingIterator old = *this;
    ++*this;
    return old;
  }
  bool operator==(const TrackingIterator& o) const { return p_ == o.p_; }
  bool operator!=(const TrackingIterator& o) const { return p_ != o.p_; }

 private:
  const char* p_;
  const char** last_;
};

/// Replays a parsed document as SAX events (snapshot_from_json); stops at the first refusal, so
/// the handler's depth limit also bounds this recursion.
bool replay(const json& j, SnapshotBuilder& h) {
  switch (j.type()) {
    case json::value_t::object: {
      if (!h.start_object(j.size())) return false;
      for (auto it = j.begin(); it != j.end(); ++it) {
        std::string k = it.key();
        if (!h.key(k) || !replay(it.value(), h)) return false;
      }
      return h.end_object();
    }
    case json::value_t::array: {
      if (!h.start_array(j.size())) return false;
      for (const auto& e : j)
        if (!replay(e, h)) return false;
      return h.end_array();
    }
    case json::value_t::string: {
      std::string s = j.get<std::string>();
      return h.string(s);
    }
    case json::value_t::boolean: return h.boolean(j.get<bool>());
    case json::value_t::number_integer: return h.number_integer(j.get<std::int64_t>());
    case json::value_t::number_unsigned: return h.number_unsigned(j.get<std::uint64_t>());
    case json::value_t::number_float: return h.number_float(j.get<double>(), "");
    case json::value_t::binary: {
      json::binary_t b;
      return h.binary(b);
    }
    case json::value_t::null:
    case json::value_t::discarded:
    default: return h.null();
  }
}

/// 1-based line of byte \a offset in \a text.
std::size_t line_of(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

/// " (line 3, column 7): unexpected end of input" for a nlohmann parse error at \a byte. The
/// position is recomputed from the byte offset: nlohmann counts a newline it stopped at as the
/// next line's column 0, which points at nothing.
std::string parse_error_text(const std::string& what, std::size_t byte, std::string_view text) {
  std::size_t idx = std::min<std::size_t>(byte, text.size());
  idx = idx ? idx - 1 : 0;
  std::size_t line = line_of(text, idx);
  std::size_t line_start = text.rfind('\n', idx ? idx - 1 : 0);
  line_start = (line_start == std::string_view::npos || idx == 0) ? 0 : line_start + 1;
  std::string s = " (line " + std::to_string(line) + ", column " + std::to_string(idx - line_start + 1) + ")";
  auto dash = what.find(" - ");
  if (dash == std::string::npos) return s;
  std::string why = what.substr(dash + 3, what.find("; last read", dash) - dash - 3);
  if (why.size() > 100) why.resize(100);
  for (char& c : why)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  return s + ": " + why;
}

/// Checks token lengths before the parser sees the text: nlohmann's lexer keeps two or three
/// copies of the token it reads (its buffer, the raw characters, an error message quoting
/// them), so one 60 MB number or string would cost more memory than the whole budget. A string
/// of more than 6 MiB of text decodes to more than 1 MiB (an escape is at most 6 characters).
std::optional<std::string> long_token(std::string_view text) {
  constexpr std::size_t kMaxStringText = std::size_t{6} << 20, kMaxNumberText = 64;
  const std::size_t n = text.size();
  std::size_t values = 0;
  for (std::size_t i = 0; i < n;) {
    const char c = text[i];
    if (c == '"') {
      const std::size_t start = i++;
      // The closing quote is the first one after an even run of backslashes. memchr finds
      // candidates at memory speed (find_first_of of two characters tested them one by one).
      for (;;) {
        const void* q = std::memchr(text.data() + i, '"', n - i);
        if (!q) return std::nullopt;  // unterminated: the parser says so
        i = static_cast<std::size_t>(static_cast<const char*>(q) - text.data());
        std::size_t backslashes = 0;
        while (i - backslashes > start + 1 && text[i - 1 - backslashes] == '\\') ++backslashes;
        if (backslashes % 2 == 0) break;
        ++i;
      }
      if (i - start > kMaxStringText)
        return "has a string longer than 1 MiB (line " + std::to_string(line_of(text, start)) + ")";
      ++i;
    } else if ((c >= '0' && c <= '9') || c == '-') {
      const std::size_t start = i;
      while (i < n && ((text[i] >= '0' && text[i] <= '9') || text[i] == '-' || text[i] == '+' || text[i] == '.' ||
                       text[i] == 'e' || text[i] == 'E'))
        ++i;
      if (i - start > kMaxNumberText)
        return "has a number longer than " + std::to_string(kMaxNumberText) + " characters (line " +
               std::to_string(line_of(text, start)) + ")";
    } else {
      // Values are counted here too (cheaply, as `{ [ , :` outside strings), so that a file
      // of millions of tiny values is refused before it is parsed.
      if ((c == ',' || c == ':' || c == '{' || c == '[') && ++values > kMaxJsonValues)
        return "has more than 16 million JSON values";
      ++i;
    }
  }
  return std::nullopt;
}

}  // namespace

Result<Snapshot> parse_snapshot_text(std::string_view text, const std::string& name, bool prefix_paths,
                                     std::size_t memory_limit) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return make_error(ErrorKind::bad_input, name + " is empty");
  if (text.size() > kMaxSnapshotBytes)
    return make_error(ErrorKind::bad_input, name + " is larger than " + std::to_string(kMaxSnapshotBytes >> 20) + " MiB");
  if (auto why = long_token(text)) return make_error(ErrorKind::bad_input, name + " " + *why);
  SnapshotBuilder h(memory_limit);
  bool parsed = json::sax_parse(text.data(), text.data() + text.size(), &h);
  if (parsed) parsed = h.finish();
  if (parsed) return h.take();
  const char* last = text.data();
  if (h.text_error()) {  // where did it stop? Read again tracking that: a store per character, paid on errors only
    SnapshotBuilder again(memory_limit);
    TrackingIterator first(text.data(), &last), end(text.data() + text.size(), &last);
    json::sax_parse(first, end, &again);
  }
  if (h.ok())  // the parser gave up without telling the handler why
    return make_error(ErrorKind::bad_input, name + " is not valid JSON");
  if (h.json_error())
    return make_error(ErrorKind::bad_input, name + " is not valid JSON" + parse_error_text(h.error(), h.error_byte(), text));
  if (h.text_error())
    return make_error(ErrorKind::bad_input, name + " " + h.error() + " (line " +
                                                std::to_string(line_of(text, static_cast<std::size_t>(last - text.data()))) + ")");
  return make_error(ErrorKind::bad_input, prefix_paths ? name + ": " + h.error() : h.error(), h.hint());
}

Result<Snapshot> snapshot_from_json(const nlohmann::json& doc) {
  try {
    SnapshotBuilder h;
    if (replay(doc, h) && h.finish()) return h.take();
    if (h.ok()) return make_error(ErrorKind::internal, "reading the snapshot: the reader stopped without a reason");
    return make_error(ErrorKind::bad_input, h.error(), h.hint());
  } catch (const std::bad_alloc&) {
    return make_error(ErrorKind::io, "out of memory while reading the snapshot", {}, ENOMEM);
  } catch (const std::exception& e) {  // a bug: every access above is type-checked first
    return make_error(ErrorKind::internal, std::string("reading the snapshot: ") + e.what());
  }
}

}  // namespace kvmprobe::collect
