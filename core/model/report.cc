#include "core/model/report.h"

namespace kvmprobe {

const char* to_string(Status s) {
  switch (s) {
    case Status::ok: return "ok";
    case Status::warn: return "warn";
    case Status::fail: return "fail";
    case Status::unknown: return "unknown";
    case Status::skipped: return "skipped";
  }
  return "unknown";
}

const char* to_string(Refusal r) {
  switch (r) {
    case Refusal::none: return "none";
    case Refusal::no_support: return "no_support";
    case Refusal::disabled_by_firmware: return "disabled_by_firmware";
    case Refusal::other: return "other";
    case Refusal::cannot_tell: return "cannot_tell";
  }
  return "none";
}

}  // namespace kvmprobe
