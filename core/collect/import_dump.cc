#include "core/collect/import_dump.h"

#include <algorithm>
#include <new>

#include "core/collect/import_dump_common.h"
#include "core/collect/whole_file.h"

#ifndef KVMPROBE_VERSION
#define KVMPROBE_VERSION "unknown"
#endif

namespace kvmprobe::collect {
namespace dump {

std::size_t read_hex(std::string_view s, std::size_t& pos, std::uint64_t& value) {
  std::size_t n = 0;
  value = 0;
  for (; pos < s.size(); ++pos, ++n) {
    int d = hex_digit(s[pos]);
    if (d < 0) break;
    value = (value << 4) | static_cast<unsigned>(d);
  }
  return n;
}

std::string_view dump_part(std::string_view text) {
  std::size_t offset = 0;
  std::string_view result = text;
  for_each_line(text, [&](std::string_view line, std::size_t) {
    // for_each_line hands out views into text, so the line's offset is its distance from it.
    if (line.size() >= 40 && line.find_first_not_of('-') == std::string_view::npos) {
      offset = static_cast<std::size_t>(line.data() - text.data());
      result = text.substr(0, offset);
      return false;
    }
    return true;
  });
  return result;
}

Snapshot finish_import(DumpContent content, DumpFormat format) {
  Snapshot s;
  s.origin = format == DumpFormat::libcpuid ? "import:libcpuid" : "import:aida64";
  s.tool_version = KVMPROBE_VERSION;
  s.msr_backend = "none";
  std::size_t cpus_with_msrs = 0;
  for (std::size_t i = 0; i < content.cpus.size(); ++i) {
    DumpCpu& d = content.cpus[i];
    CpuRecord c;
    c.cpu = static_cast<unsigned>(i);
    c.cpuid.reserve(d.leaves.size());
    for (const auto& [key, leaf] : d.leaves) c.cpuid.push_back(leaf);  // map order = (leaf, subleaf)
    if (!d.msrs.empty()) ++cpus_with_msrs;
    for (std::uint32_t index : kImportedUnknownMsrs)
      if (!d.msrs.count(index)) d.msrs[index] = MsrRead{index, ReadStatus::unavailable, 0, 0};
    for (const auto& [index, m] : d.msrs) c.msrs.push_back(m);
    s.online_cpus.push_back(c.cpu);
    s.cpus.push_back(std::move(c));
  }
  const std::string n = std::to_string(s.cpus.size());
  s.notes.push_back("imported from a CPUID dump (" + content.flavour + " format): " + n +
                    " logical CPUs, numbered in dump order (not necessarily Linux's numbering)");
  if (cpus_with_msrs)
    s.notes.push_back("MSRs come from the dump's MSR sections on " + std::to_string(cpus_with_msrs) +
                      " of " + n + " CPUs (\"< FAILED >\" reads recorded as fault); the "
                      "KVM-relevant MSRs it lacks are recorded as unavailable");
  else
    s.notes.push_back("the dump has no MSRs: every MSR is unknown (the KVM-relevant ones are "
                      "recorded as unavailable)");
  s.notes.push_back("unknown because a CPUID dump does not record them: XCR0, CR0/CR4/EFER, Linux "
                    "CPU flags, kernel release and command line, kernel log, loaded modules and "
                    "parameters, /dev/kvm, perf PMU, TSC frequency");
  for (auto& note : content.notes) s.notes.push_back(std::move(note));
  return s;
}

}  // namespace dump

namespace {

Result<Snapshot> import_as(std::string_view text, DumpFormat format) {
  if (text.size() > dump::kMaxDumpBytes)
    return make_error(ErrorKind::bad_input, "dump is larger than 32 MiB");
  std::string_view body = dump::dump_part(text);
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return make_error(ErrorKind::bad_input, "dump is empty");
  try {
    auto content = format == DumpFormat::libcpuid ? dump::parse_libcpuid(body) : dump::parse_aida64(body);
    if (!content) return content.error();
    if (content->cpus.empty())
      return make_error(ErrorKind::bad_input,
                        format == DumpFormat::libcpuid
                            ? "no CPUID data found (expected libcpuid lines like basic_cpuid[0]=...)"
                            : "no CPUID data found (expected lines like CPUID 00000000: ...)");
    return dump::finish_import(std::move(*content), format);
  } catch (const std::bad_alloc&) {
    return make_error(ErrorKind::io, "out of memory while importing the dump", {}, ENOMEM);
  } catch (const std::exception& e) {
    return make_error(ErrorKind::internal, std::string("importing the dump: ") + e.what());
  }
}

std::string_view first_word(std::string_view line) { return line.substr(0, line.find_first_of("[ =")); }

Result<Snapshot> import_file(const std::string& path, std::optional<DumpFormat> format) {
  const std::string name = path == "-" ? std::string("standard input") : path;
  try {
    auto text = read_whole_file(path, Decompress::xz, dump::kMaxDumpBytes);
    if (!text) return text.error();
    auto snap = format ? import_as(*text, *format) : import_dump_auto(*text);
    if (!snap && snap.error().kind == ErrorKind::bad_input) {
      Error e = snap.error();
      e.detail = name + ": " + e.detail;
      return e;
    }
    return snap;
  } catch (const std::bad_alloc&) {
    return make_error(ErrorKind::io, "out of memory while importing " + name, {}, ENOMEM);
  }
}

}  // namespace

std::optional<DumpFormat> detect_dump_format(std::string_view text) {
  std::optional<DumpFormat> found;
  dump::for_each_line(dump::dump_part(text), [&](std::string_view line, std::size_t) {
    if (line.empty()) return true;
    std::string_view w = first_word(line);
    if (line.substr(0, 8) == "version=" || w == "basic_cpuid" || w == "ext_cpuid" ||
        w.substr(0, 8) == "intel_fn" || w.substr(0, 6) == "amd_fn" ||
        (line.front() == '_' && line.find("Logical CPU #") != std::string_view::npos))
      found = DumpFormat::libcpuid;
    else if (line.substr(0, 7) == "------[" || line.substr(0, 17) == "CPUID Registers (" ||
             (line.substr(0, 4) == "CPU#" && line.find("AffMask") != std::string_view::npos) ||
             (line.substr(0, 6) == "Group:" && line.find("Affinity mask") != std::string_view::npos) ||
             dump::is_cpuid_register_line(line))
      found = DumpFormat::aida64;
    return !found;
  });
  return found;
}

Result<Snapshot> import_libcpuid(std::string_view text) { return import_as(text, DumpFormat::libcpuid); }

Result<Snapshot> import_aida64(std::string_view text) { return import_as(text, DumpFormat::aida64); }

Result<Snapshot> import_dump_auto(std::string_view text) {
  if (dump::dump_part(text).find_first_not_of(" \t\r\n") == std::string_view::npos)
    return make_error(ErrorKind::bad_input, "dump is empty");
  auto format = detect_dump_format(text);
  if (!format)
    return make_error(ErrorKind::bad_input,
                      "not a CPUID dump kvmprobe can read (expected libcpuid `cpuid_tool --save` "
                      "output or AIDA64-style `CPUID 00000000: ...` lines)");
  return import_as(text, *format);
}

Result<Snapshot> import_libcpuid_file(const std::string& path) {
  return import_file(path, DumpFormat::libcpuid);
}

Result<Snapshot> import_aida64_file(const std::string& path) {
  return import_file(path, DumpFormat::aida64);
}

Result<Snapshot> import_dump_file(const std::string& path) { return import_file(path, std::nullopt); }

}  // namespace kvmprobe::collect
