// `kvmprobe driver status|load|unload`: what core/driver/ found or did, as text or JSON
// (kvmprobe.driver-status/1, kvmprobe.driver-load/1, kvmprobe.driver-unload/1).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/driver/driver_load.h"
#include "core/driver/driver_status.h"

namespace kvmprobe::render {

/// The kvmprobe.driver-status/1 document.
nlohmann::json driver_status_json(const driver::DriverStatus& st);
/// The status as aligned "name  value" lines; \a legend adds the one-line summary first.
std::string driver_status_text(const driver::DriverStatus& st, bool legend);

/// The kvmprobe.driver-load/1 document (without the "error" member).
nlohmann::json driver_load_json(const driver::LoadOutcome& o);
/// One line saying what loading did (success only).
std::string driver_load_text(const driver::LoadOutcome& o);

/// The kvmprobe.driver-unload/1 document (without the "error" member).
nlohmann::json driver_unload_json(const driver::UnloadOutcome& u);
/// One line saying what unloading did (success only).
std::string driver_unload_text(const driver::UnloadOutcome& u);

/// "ENOEXEC" for ENOEXEC, null for 0.
nlohmann::json errno_json(int err);

}  // namespace kvmprobe::render
