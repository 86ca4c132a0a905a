// The strings the snapshot format uses for Snapshot's enums (docs/snapshot-format.md).
// Shared by the writer and the reader of core/collect/snapshot_json; not a public interface.
#pragma once

#include <optional>
#include <string_view>
#include <utility>

#include "core/model/snapshot.h"

namespace kvmprobe::collect {

/// One enum value and its name in the format.
template <typename E>
using EnumName = std::pair<std::string_view, E>;

inline constexpr EnumName<ReadStatus> kReadStatusNames[] = {
    {"value", ReadStatus::value},
    {"fault", ReadStatus::fault},
    {"denied", ReadStatus::denied},
    {"unavailable", ReadStatus::unavailable},
};

inline constexpr EnumName<TscSource> kTscSourceNames[] = {
    {"kvm_vcpu", TscSource::kvm_vcpu},       {"driver", TscSource::driver},
    {"sysfs", TscSource::sysfs},             {"kernel_log", TscSource::kernel_log},
    {"cpuid_15h", TscSource::cpuid_15h},     {"cpuid_16h", TscSource::cpuid_16h},
    {"cpuinfo_mhz", TscSource::cpuinfo_mhz}, {"hypervisor_leaf", TscSource::hypervisor_leaf},
};

inline constexpr EnumName<CpuidView> kCpuidViewNames[] = {
    {"unknown", CpuidView::unknown},
    {"kernel", CpuidView::kernel},
    {"instruction", CpuidView::instruction},
};

inline constexpr EnumName<Tri> kTriNames[] = {
    {"no", Tri::no},
    {"yes", Tri::yes},
    {"unknown", Tri::unknown},
};

/// The format's name for \a v ("" for a value outside the enum).
template <typename E, std::size_t N>
constexpr std::string_view enum_name(const EnumName<E> (&table)[N], E v) {
  for (const auto& [name, value] : table)
    if (value == v) return name;
  return {};
}

/// The enum value named \a name, or nullopt.
template <typename E, std::size_t N>
constexpr std::optional<E> enum_value(const EnumName<E> (&table)[N], std::string_view name) {
  for (const auto& [n, value] : table)
    if (n == name) return value;
  return std::nullopt;
}

inline std::string_view name_of(ReadStatus v) { return enum_name(kReadStatusNames, v); }
inline std::string_view name_of(TscSource v) { return enum_name(kTscSourceNames, v); }
inline std::string_view name_of(Tri v) { return enum_name(kTriNames, v); }
inline std::string_view name_of(CpuidView v) { return enum_name(kCpuidViewNames, v); }

}  // namespace kvmprobe::collect
