// `kvmprobe msrs`: KVM's MSR lists as a table of every candidate and its fate (kvmprobe.msrs/1),
// as exactly one ioctl's list (kvmprobe.msr-list/1), or compared with the live KVM
// (kvmprobe.msrs-compare/1).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/analyse/msr_compare.h"
#include "core/analyse/msr_lists.h"

namespace kvmprobe::render {

/// JSON schema names and versions of `msrs --json`, `msrs --save-list|--feature-list --json`
/// and `msrs --compare-kvm --json`.
inline constexpr const char* kMsrsSchema = "kvmprobe.msrs/1";
inline constexpr const char* kMsrListSchema = "kvmprobe.msr-list/1";
inline constexpr const char* kMsrsCompareSchema = "kvmprobe.msrs-compare/1";

/// Which ioctl's list.
enum class MsrIoctl { index_list, feature_list };

/// "KVM_GET_MSR_INDEX_LIST" or "KVM_GET_MSR_FEATURE_INDEX_LIST".
const char* to_string(MsrIoctl l);

/// Every candidate, one line each (list, position, index, name, fate, reason), then what is
/// missing and the parameters used; \a legend adds the counts line first.
std::string msrs_text(const MsrListsResult& r, bool legend);
/// The document of schema kvmprobe.msrs/1 (docs/schema/msrs.schema.json).
nlohmann::json msrs_json(const MsrListsResult& r);

/// The list exactly as the ioctl returns it, one "0x%x" per line; \a names adds each MSR's name.
std::string msr_list_text(const MsrListsResult& r, MsrIoctl which, bool names);
/// The document of schema kvmprobe.msr-list/1.
nlohmann::json msr_list_json(const MsrListsResult& r, MsrIoctl which);

/// Each list's sizes and differences ("-0x10 (predicted only)", "+0x48 (live only)").
std::string msr_compare_text(const MsrCompare& c);
/// The document of schema kvmprobe.msrs-compare/1.
nlohmann::json msr_compare_json(const MsrCompare& c);

}  // namespace kvmprobe::render
