#include "core/driver/security_state.h"

#include <gtest/gtest.h>

#include "tests/support/fake_sources.h"

namespace kvmprobe::driver {
namespace {

using namespace std::string_literals;

TEST(SecurityState, ReadsLockdownSignaturesAndModulesDisabled) {
  testing::FakeTree t;
  collect::RootedSysfsReader fs(t.root());
  SecurityState s = read_security_state(fs);
  EXPECT_EQ(s.lockdown, Lockdown::unknown);
  EXPECT_EQ(s.sig_enforce, Tri::unknown);
  EXPECT_EQ(s.secure_boot, Tri::no);  // no /sys/firmware/efi: legacy boot
  EXPECT_FALSE(s.needs_signature());

  t.write("/sys/kernel/security/lockdown", "none [integrity] confidentiality\n");
  t.write("/sys/module/module/parameters/sig_enforce", "N\n");
  t.write("/proc/sys/kernel/modules_disabled", "1\n");
  s = read_security_state(fs);
  EXPECT_EQ(s.lockdown, Lockdown::integrity);
  EXPECT_EQ(s.sig_enforce, Tri::no);
  EXPECT_EQ(s.modules_disabled, Tri::yes);
  EXPECT_TRUE(s.needs_signature());
  t.write("/sys/kernel/security/lockdown", "[none] integrity confidentiality\n");
  EXPECT_EQ(read_security_state(fs).lockdown, Lockdown::none);
}

TEST(SecurityState, SecureBootFromTheEfiVariable) {
  testing::FakeTree t;
  collect::RootedSysfsReader fs(t.root());
  t.mkdir("/sys/firmware/efi/efivars");
  EXPECT_EQ(read_security_state(fs).secure_boot, Tri::unknown);  // efivarfs not mounted
  t.write("/sys/firmware/efi/efivars/Boot0000-8be4df61-93ca-11d2-aa0d-00e098032b8c", "x");
  EXPECT_EQ(read_security_state(fs).secure_boot, Tri::no);  // mounted, no SecureBoot variable
  t.write(kSecureBootVar, "\x06\0\0\0\x01"s);
  SecurityState s = read_security_state(fs);
  EXPECT_EQ(s.secure_boot, Tri::yes);
  EXPECT_TRUE(s.needs_signature());
  t.write(kSecureBootVar, "\x06\0\0\0\0"s);
  EXPECT_EQ(read_security_state(fs).secure_boot, Tri::no);
}

}  // namespace
}  // namespace kvmprobe::driver
