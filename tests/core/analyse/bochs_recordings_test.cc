// The Intel (and Bochs-AMD) paths against real KVM, without booting: snapshots kvmprobe took in
// Bochs guests before any kvm module was loaded (tests/data/bochs/<run>.snapshot.json), and
// what the guest's own kvm_intel / kvm_amd answered after `modprobe` (<run>.kvm.txt, written by
// tests/bochs/kvm.test.sh from kvm_oracle and bochs_probe). The model must equal KVM.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/analyse/analyse.h"
#include "core/analyse/msr_lists.h"
#include "core/analyse/tsc_math.h"
#include "core/analyse/vmx_config.h"
#include "core/analyse/xcr0.h"
#include "core/collect/snapshot_json.h"
#include "core/profiles/profiles.h"
#include "tests/support/shared_data.h"

namespace kvmprobe {
namespace {

namespace fs = std::filesystem;

/// One recorded guest: its snapshot and KVM's answers, "key value..." lines.
struct Recording {
  std::string name;
  Snapshot snap;
  std::multimap<std::string, std::string> kvm;
  std::vector<std::string> load_log;  ///< what the module load logged (timestamps stripped)
  std::vector<std::string> boot_log;  ///< the boot's lines on kvm, VMX/SVM, XSAVE, MSRs

  std::string one(const std::string& key) const {
    auto it = kvm.find(key);
    return it == kvm.end() ? "" : it->second;
  }
  bool loaded() const { return one("modprobe_loaded") == "true"; }
};

std::vector<std::uint32_t> parse_list(const std::string& s) {
  std::vector<std::uint32_t> v;
  std::istringstream in(s);
  std::string w;
  while (in >> w) v.push_back(static_cast<std::uint32_t>(std::stoul(w, nullptr, 0)));
  return v;
}

std::vector<Recording> recordings() {
  std::vector<Recording> out;
  fs::path dir = testing::test_data("bochs");
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& f : fs::directory_iterator(dir, ec))
    if (f.path().string().ends_with(".snapshot.json")) files.push_back(f.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    Recording r;
    r.name = f.filename().string();
    r.name.resize(r.name.size() - std::string(".snapshot.json").size());
    auto snap = collect::load_snapshot_file(f.string());
    EXPECT_TRUE(static_cast<bool>(snap)) << f;
    if (!snap) continue;
    r.snap = *snap;
    std::ifstream kvm(dir / (r.name + ".kvm.txt"));
    EXPECT_TRUE(kvm.good()) << "no " << r.name << ".kvm.txt beside the snapshot";
    std::string line;
    while (std::getline(kvm, line)) {
      if (line.empty() || line[0] == '#') continue;
      auto sp = line.find(' ');
      std::string key = line.substr(0, sp), val = sp == std::string::npos ? "" : line.substr(sp + 1);
      if (key == "load_log")
        r.load_log.push_back(val);
      else if (key == "boot_log")
        r.boot_log.push_back(val);
      else
        r.kvm.emplace(key, val);
    }
    out.push_back(std::move(r));
  }
  return out;
}

const KernelProfile& profile_for(const Snapshot& s) {
  auto choice = choose_profile(s.kernel_release, s.kernel_version);
  EXPECT_TRUE(static_cast<bool>(choice)) << s.kernel_release;
  return *choice->profile;
}

class BochsRecordings : public ::testing::Test {
 protected:
  void SetUp() override {
    recs_ = recordings();
    if (recs_.empty()) GTEST_SKIP() << "no recording in " << testing::test_data("bochs");
  }
  std::vector<Recording> recs_;
};

// would_load = what `modprobe kvm_intel` / `kvm_amd` really did; a refusal's first predicted
// line is what the kernel logged.
TEST_F(BochsRecordings, WouldLoadEqualsTheRealModprobe) {
  for (const auto& r : recs_) {
    SCOPED_TRACE(r.name);
    Report rep = analyse(r.snap, profile_for(r.snap));
    ASSERT_TRUE(rep.verdict.would_load.has_value()) << rep.verdict.reason;
    EXPECT_EQ(*rep.verdict.would_load, r.loaded()) << rep.verdict.reason;
    for (const auto& s : rep.steps) {
      if (!r.loaded() && s.status != Status::fail) continue;
      for (const auto& l : s.kvm_log)
        EXPECT_TRUE(std::find(r.load_log.begin(), r.load_log.end(), l) != r.load_log.end() ||
                    std::find(r.boot_log.begin(), r.boot_log.end(), l) != r.boot_log.end())
            << "step " << s.id << " predicts '" << l << "', not in the recorded boot or load log";
      if (!r.loaded()) break;
    }
  }
}

TEST_F(BochsRecordings, MsrListsEqualKvmsInOrder) {
  int checked = 0;
  for (const auto& r : recs_) {
    if (!r.loaded()) continue;
    SCOPED_TRACE(r.name);
    Analyzer a(r.snap, profile_for(r.snap));
    MsrListsResult m = compute_msr_lists(a.ctx());
    EXPECT_TRUE(m.complete);
    EXPECT_EQ(m.index_list, parse_list(r.one("msr_index_list")));
    EXPECT_EQ(m.feature_list, parse_list(r.one("feature_msr_list")));
    ++checked;
  }
  if (!checked) GTEST_SKIP() << "no recording where the vendor module loaded";
}

// TSC: KVM_CAP_TSC_CONTROL, and every KVM_SET_TSC_KHZ the guest tried (around the limits)
// accepted exactly when the model says the rate is possible.
TEST_F(BochsRecordings, TscControlAndSetTscKhz) {
  for (const auto& r : recs_) {
    if (!r.loaded()) continue;
    SCOPED_TRACE(r.name);
    const KernelProfile& p = profile_for(r.snap);
    Analyzer a(r.snap, p);
    auto [ctl, why] = has_tsc_control(a.ctx());
    EXPECT_EQ(ctl, std::stoi(r.one("cap_tsc_control")) > 0) << why;
    std::uint64_t host = std::stoull(r.one("tsc_khz"));
    TscCaps caps = tsc_caps(a.ctx(), host);
    auto [lo, hi] = r.kvm.equal_range("set_tsc_khz");
    EXPECT_NE(lo, hi) << "no KVM_SET_TSC_KHZ attempt recorded";
    for (auto it = lo; it != hi; ++it) {
      std::istringstream in(it->second);
      std::uint64_t khz = 0;
      std::string res;
      in >> khz >> res;
      GuestTscAnswer g = guest_tsc(caps, p, host, khz, 250);
      EXPECT_EQ(g.kind != GuestTscAnswer::Kind::impossible, res == "ok")
          << "KVM_SET_TSC_KHZ(" << khz << ") " << it->second << "; model: " << g.explanation;
    }
  }
}

TEST_F(BochsRecordings, SupportedXcr0EqualsKvms) {
  for (const auto& r : recs_) {
    if (!r.loaded()) continue;
    SCOPED_TRACE(r.name);
    Analyzer a(r.snap, profile_for(r.snap));
    auto x = supported_xcr0(a.ctx());
    ASSERT_TRUE(x.has_value());
    EXPECT_EQ(*x, std::stoull(r.one("supported_xcr0"), nullptr, 0));
  }
}

// The control words KVM settles on (vmcs_config) against what it exposes to a nested guest:
// nested_vmx_setup_ctls_msrs() copies the bits below from vmcs_config and sets or clears the
// others itself (arch/x86/kvm/vmx/nested.c: nested_vmx_setup_ctls_msrs() (6.1, 6.12)). Before
// 6.0 it started from rdmsr() of the hardware MSRs instead (nested_vmx_setup_ctls_msrs() (5.10)),
// so there the nested MSRs show nothing of vmcs_config: those recordings are not comparable.
TEST_F(BochsRecordings, NegotiatedVmxControlsEqualKvmsNestedMsrs) {
  int checked = 0, raw_based = 0;
  for (const auto& r : recs_) {
    if (!r.loaded() || r.snap.cpus.empty()) continue;
    std::map<std::uint32_t, std::uint64_t> nested;
    auto [lo, hi] = r.kvm.equal_range("feature_msr");
    for (auto it = lo; it != hi; ++it) {
      std::istringstream in(it->second);
      std::string i, v;
      in >> i >> v;
      nested[static_cast<std::uint32_t>(std::stoul(i, nullptr, 0))] = std::stoull(v, nullptr, 0);
    }
    if (!nested.count(0x48b)) continue;  // kvm_amd, or no nested VMX
    if (profile_for(r.snap).tree.major < 6) {
      ++raw_based;
      continue;
    }
    SCOPED_TRACE(r.name);
    VmxConfig vc = negotiate_vmx(r.snap.cpus[0], profile_for(r.snap));
    ASSERT_TRUE(vc.ok());
    struct {
      const char* name;
      std::uint32_t value, msr, mask;
    } rows[] = {{"pin", vc.pin.value, 0x48d, 0x29},          {"primary", vc.primary.value, 0x48e, 0xebf81e8c},
                {"secondary", vc.secondary.value, 0x48b, 0x6111b5c}, {"exit", vc.exit.value, 0x48f, 0x8c0000},
                {"entry", vc.entry.value, 0x490, 0x14200}};
    for (const auto& row : rows) {
      auto kvm = static_cast<std::uint32_t>(nested.at(row.msr) >> 32);
      EXPECT_EQ(row.value & row.mask, kvm & row.mask)
          << row.name << std::hex << ": model 0x" << row.value << ", KVM's nested 0x" << kvm;
    }
    ++checked;
  }
  if (!checked) GTEST_SKIP() << "no recording with kvm_intel loaded";
  // sky61/612, snb61/612, penryn61/612, snbsid compared; sky510 is raw-MSR based
  EXPECT_EQ(checked, 7);
  EXPECT_EQ(raw_based, 1);
}


// Bochs' corei7_skylake_x has XSAVE in CPUID with inconsistent 0xD sizes, so Linux boots
// without XSAVE (OSXSAVE clear, no "xsave" flag) and KVM supports no XSAVE state: a known 0,
// not "unknown" (the fix this recording proved needed).
TEST_F(BochsRecordings, KernelWithoutXsaveIsKnownNotUnknown) {
  int checked = 0;
  for (const auto& r : recs_) {
    if (r.snap.cpus.empty() || !kernel_dropped_xsave(r.snap.cpus[0])) continue;
    SCOPED_TRACE(r.name);
    Analyzer a(r.snap, profile_for(r.snap));
    EXPECT_EQ(a.ctx().host_xcr0, std::optional<std::uint64_t>(0));
    EXPECT_EQ(supported_xcr0(a.ctx()), std::optional<std::uint64_t>(0));
    Report rep = a.report();
    const StepResult* x = rep.find_step("xcr0");
    ASSERT_NE(x, nullptr);
    EXPECT_NE(x->status, Status::unknown) << x->summary;
    if (r.loaded()) {
      EXPECT_EQ(r.one("host_xcr0"), "none");
    }
    ++checked;
  }
  if (!checked) GTEST_SKIP() << "no recording of a kernel that dropped XSAVE";
}


}  // namespace
}  // namespace kvmprobe
