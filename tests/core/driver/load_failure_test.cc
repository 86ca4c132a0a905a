#include "core/driver/load_failure.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace kvmprobe::driver {
namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

LoadAttempt attempt(int err, std::vector<std::string> log = {}) {
  LoadAttempt a;
  a.err = err;
  a.log = std::move(log);
  a.ko_path = "/root/kvmprobe.ko";
  a.kernel_release = "6.1.0-56-amd64";
  a.security.lockdown = Lockdown::none;
  a.security.secure_boot = Tri::no;
  a.security.sig_enforce = Tri::no;
  a.security.modules_disabled = Tri::no;
  return a;
}

TEST(LoadFailure, VermagicLineMeansBuiltForAnotherKernel) {
  auto a = attempt(ENOEXEC, {"[   3.1] kvmprobe: version magic '6.12.117+deb12-amd64 SMP preempt mod_unload "
                             "modversions ' should be '6.1.0-56-amd64 SMP preempt mod_unload modversions '"});
  a.ko_vermagic = "6.12.117+deb12-amd64 SMP preempt mod_unload modversions ";
  LoadFailure f = explain_load_failure(a);
  EXPECT_EQ(f.cause, LoadCause::wrong_kernel);
  EXPECT_TRUE(has(f.detail, "built for another kernel (6.12.117+deb12-amd64; this is 6.1.0-56-amd64)")) << f.detail;
  EXPECT_TRUE(has(f.detail, "(kernel: \"kvmprobe: version magic")) << f.detail;
  EXPECT_TRUE(has(f.hint, "make -C msr-driver"));
  EXPECT_TRUE(has(f.hint, "DKMS"));
}

TEST(LoadFailure, SymbolVersionsAndUnknownSymbolsToo) {
  EXPECT_EQ(explain_load_failure(attempt(EINVAL, {"kvmprobe: disagrees about version of symbol misc_register"})).cause,
            LoadCause::wrong_kernel);
  EXPECT_EQ(explain_load_failure(attempt(ENOENT, {"kvmprobe: Unknown symbol smp_call_function_single (err -2)"})).cause,
            LoadCause::wrong_kernel);
  // No log (dmesg_restrict) but the file's vermagic names another release.
  auto a = attempt(EINVAL);
  a.ko_vermagic = "6.12.117+deb12-amd64 SMP preempt mod_unload modversions ";
  EXPECT_EQ(explain_load_failure(a).cause, LoadCause::wrong_kernel);
  EXPECT_EQ(explain_load_failure(attempt(ENOEXEC)).cause, LoadCause::wrong_kernel);
  // What 6.12 says about a module built for 6.1 (seen in tests/vm/driver_cli.test.sh).
  LoadFailure f = explain_load_failure(attempt(ENOEXEC, {
      "[    4.756179] module kvmprobe: .gnu.linkonce.this_module section size must match the "
      "kernel's built struct module size at run time"}));
  EXPECT_EQ(f.cause, LoadCause::wrong_kernel);
  EXPECT_TRUE(has(f.detail, "(kernel: \"module kvmprobe: .gnu.linkonce.this_module")) << f.detail;
}

TEST(LoadFailure, RejectedSignatureSaysSignWithAMok) {
  auto a = attempt(EKEYREJECTED, {"[  2.0] Loading of unsigned module is rejected"});
  a.security.sig_enforce = Tri::yes;
  LoadFailure f = explain_load_failure(a);
  EXPECT_EQ(f.cause, LoadCause::signature);
  EXPECT_TRUE(has(f.detail, "module.sig_enforce=1")) << f.detail;
  EXPECT_TRUE(has(f.detail, "Loading of unsigned module is rejected")) << f.detail;
  EXPECT_TRUE(has(f.hint, "Machine Owner Key"));
  EXPECT_TRUE(has(f.hint, "mokutil --import"));
  a.security.secure_boot = Tri::yes;
  EXPECT_TRUE(has(explain_load_failure(a).detail, "Secure Boot is on"));
}

TEST(LoadFailure, LockdownRefusesUnsignedModules) {
  auto a = attempt(EPERM, {"[  2.0] Lockdown: kvmprobe: unsigned module loading is restricted; see man kernel_lockdown.7"});
  a.security.lockdown = Lockdown::integrity;
  LoadFailure f = explain_load_failure(a);
  EXPECT_EQ(f.cause, LoadCause::lockdown);
  EXPECT_TRUE(has(f.detail, "kernel lockdown (integrity)")) << f.detail;
  EXPECT_TRUE(has(f.hint, "Machine Owner Key"));
  a.log.clear();  // the state alone is enough
  EXPECT_EQ(explain_load_failure(a).cause, LoadCause::lockdown);
}

TEST(LoadFailure, EpermForNonRootAndDisabledModules) {
  auto a = attempt(EPERM);
  a.root = false;
  a.security.lockdown = Lockdown::integrity;  // not root comes first: that is what to fix
  LoadFailure f = explain_load_failure(a);
  EXPECT_EQ(f.cause, LoadCause::not_root);
  EXPECT_TRUE(has(f.hint, "sudo kvmprobe driver load"));
  a = attempt(EPERM);
  a.security.modules_disabled = Tri::yes;
  f = explain_load_failure(a);
  EXPECT_EQ(f.cause, LoadCause::modules_disabled);
  EXPECT_TRUE(has(f.detail, "/proc/sys/kernel/modules_disabled = 1"));
  EXPECT_EQ(explain_load_failure(attempt(EPERM)).cause, LoadCause::other);
}

TEST(LoadFailure, OtherErrnosKeepTheirText) {
  EXPECT_EQ(explain_load_failure(attempt(ENOENT)).cause, LoadCause::not_found);
  LoadFailure f = explain_load_failure(attempt(ENOMEM, {"[ 1.0] unrelated", "[ 2.0] kvmprobe: something"}));
  EXPECT_EQ(f.cause, LoadCause::other);
  EXPECT_TRUE(has(f.detail, "Cannot allocate memory"));
  EXPECT_TRUE(has(f.detail, "kvmprobe: something"));
}

TEST(LoadFailure, ErrnoFromModprobeMessages) {
  EXPECT_EQ(errno_from_message("modprobe: ERROR: could not insert 'kvmprobe': Key was rejected by service"),
            EKEYREJECTED);
  EXPECT_EQ(errno_from_message("modprobe: can't load module kvmprobe (updates/dkms/kvmprobe.ko.xz): Exec format error"),
            ENOEXEC);
  EXPECT_EQ(errno_from_message("insmod: ERROR: could not insert module: Operation not permitted"), EPERM);
  EXPECT_EQ(errno_from_message("something else"), 0);
}

}  // namespace
}  // namespace kvmprobe::driver
