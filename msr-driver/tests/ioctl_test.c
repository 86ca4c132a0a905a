// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl_test: checks /dev/kvmprobe against the ABI in include/uapi/kvmprobe.h
 * and against what user space can see by itself (/dev/cpu/N/msr, CPUID,
 * xgetbv, KVM_GET_TSC_KHZ). Runs inside a test guest, as root.
 *
 *   ioctl_test version [nowrite]  GET_VERSION fields (nowrite: loaded without allow_writes=1)
 *   ioctl_test msrs               READ_MSRS == /dev/cpu/N/msr, MSR for MSR, CPU for CPU
 *   ioctl_test state              CPU_STATE vs CPUID, xgetbv and /dev/cpu/N/msr
 *   ioctl_test tsc [KHZ]          TSC == KHZ (if given) == KVM_GET_TSC_KHZ (if /dev/kvm)
 *   ioctl_test refuse             argument checks and the write allow-list
 *   ioctl_test write-tcg          allowed writes under TCG: 0x3a does not stick;
 *                                 the other vendor's MSR is refused
 *   ioctl_test lockdown           writes refused, reads still work
 *   ioctl_test nowrite            writes refused (module loaded without allow_writes=1)
 *   ioctl_test noperm             uid 1000 and root without CAP_SYS_RAWIO are refused
 *   ioctl_test offline CPU        per-CPU commands on an offline CPU are ENXIO
 *
 * Prints one "PASS name" or "FAIL name: why" line per check; exits 1 if any
 * check failed, 2 on a usage error.
 *
 * Build: cc -static -O2 -Wall -Wextra -I../include/uapi -o ioctl_test ioctl_test.c
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/kvm.h>
#include <linux/types.h>
#include <linux/ioctl.h>

#include "kvmprobe.h"

#define DEV "/dev/" KVMPROBE_DEVICE_NAME
#define TAINT_CPU_OUT_OF_SPEC 2	/* include/linux/panic.h, flag S */

static int failures;

static void result(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("PASS %s\n", name);
	} else {
		failures++;
		printf("FAIL %s: ", name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
}

static int open_dev(int flags)
{
	int fd = open(DEV, flags);

	if (fd < 0) {
		printf("FAIL open %s: %s\n", DEV, strerror(errno));
		exit(1);
	}
	return fd;
}

/* ioctl returning 0 or -errno. */
static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static int online_cpus(int *cpus, int max)
{
	int n = 0, cpu;
	char path[64];

	for (cpu = 0; cpu < max; cpu++) {
		int fd, online = 1;
		char c;

		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d", cpu);
		if (access(path, F_OK))
			continue;
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
		fd = open(path, O_RDONLY);
		if (fd >= 0) {
			if (read(fd, &c, 1) == 1)
				online = c == '1';
			close(fd);
		}
		if (online)
			cpus[n++] = cpu;
	}
	return n;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		printf("FAIL pin to CPU %d: %s\n", cpu, strerror(errno));
		exit(1);
	}
}

/* 0 and *val, or -errno from /dev/cpu/N/msr. */
static int msr_dev_read(int cpu, uint32_t msr, uint64_t *val)
{
	char path[64];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/dev/cpu/%d/msr", cpu);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	if (pread(fd, val, 8, msr) != 8)
		err = errno ? -errno : -EIO;
	close(fd);
	return err;
}

static int cpu_vendor(void)
{
	unsigned int a, b, c, d;
	char v[13];

	__cpuid(0, a, b, c, d);
	memcpy(v, &b, 4);
	memcpy(v + 4, &d, 4);
	memcpy(v + 8, &c, 4);
	v[12] = 0;
	if (!strcmp(v, "GenuineIntel"))
		return KVMPROBE_VENDOR_INTEL;
	if (!strcmp(v, "AuthenticAMD"))
		return KVMPROBE_VENDOR_AMD;
	if (!strcmp(v, "HygonGenuine"))
		return KVMPROBE_VENDOR_HYGON;
	if (!strcmp(v, "CentaurHauls"))
		return KVMPROBE_VENDOR_CENTAUR;
	if (!strcmp(v, "  Shanghai  "))
		return KVMPROBE_VENDOR_ZHAOXIN;
	return KVMPROBE_VENDOR_OTHER;
}

static int all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		if (*b++)
			return 0;
	return 1;
}

static int cmd_version(int nowrite)
{
	struct kvmprobe_version v;
	uint64_t want = KVMPROBE_CAP_READ_MSRS | KVMPROBE_CAP_CPU_STATE | KVMPROBE_CAP_TSC;
	int fd = open_dev(O_RDONLY), err;

	memset(&v, 0xa5, sizeof(v));
	err = xioctl(fd, KVMPROBE_IOC_GET_VERSION, &v);
	result(!err, "version.ioctl", "%s", strerror(-err));
	result(v.abi_version == KVMPROBE_ABI_VERSION, "version.abi", "abi %u", v.abi_version);
	result(v.max_msrs == KVMPROBE_MAX_MSRS, "version.max_msrs", "%u", v.max_msrs);
	if (!nowrite)
		want |= KVMPROBE_CAP_GUARDED_WRITE;
	result(v.caps == want, "version.caps", "caps %#llx want %#llx",
	       (unsigned long long)v.caps, (unsigned long long)want);
	result(v.nr_cpu_ids >= (unsigned int)sysconf(_SC_NPROCESSORS_CONF),
	       "version.nr_cpu_ids", "%u", v.nr_cpu_ids);
	result(!v.pad && all_zero(v.reserved, sizeof(v.reserved)),
	       "version.zero_filled", "pad/reserved not zero");
	printf("INFO abi %u caps %#llx max_msrs %u nr_cpu_ids %u\n", v.abi_version,
	       (unsigned long long)v.caps, v.max_msrs, v.nr_cpu_ids);
	close(fd);
	return 0;
}

/* MSRs whose value does not change between two reads (no counters, no per-task state). */
static const uint32_t stable_msrs[] = {
	0x1b,		/* APIC_BASE */
	0x3a,		/* IA32_FEATURE_CONTROL */
	0x8b,		/* microcode revision */
	0xfe,		/* MTRRCAP */
	0x174, 0x175, 0x176,	/* SYSENTER */
	0x179,		/* MCG_CAP */
	0x1a0,		/* MISC_ENABLE */
	0x1d9,		/* DEBUGCTL */
	0x277,		/* PAT */
	0x2ff,		/* MTRR_DEF_TYPE */
	0x200, 0x201,	/* MTRR_PHYSBASE0/MASK0 */
	0x480, 0x481, 0x482, 0x483, 0x484, 0x485, 0x486, 0x487, 0x488,
	0x489, 0x48a, 0x48b, 0x48c, 0x48d, 0x48e, 0x48f, 0x490, 0x491,
	0xc0000080,	/* EFER */
	0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084,	/* STAR..FMASK */
	0xc0000101,	/* GS_BASE: this CPU's per-CPU area, differs per CPU */
	0xc0000103,	/* TSC_AUX: Linux stores the CPU number */
	0xc0010010,	/* SYSCFG */
	0xc0010114,	/* VM_CR */
	0xc0010117,	/* VM_HSAVE_PA */
	0x802, 0x803,	/* x2APIC ID/version: #GP unless in x2APIC mode */
	0x12345678,	/* nonexistent */
	0x40000000,	/* hypervisor range */
};
#define NSTABLE (sizeof(stable_msrs) / sizeof(stable_msrs[0]))

static int read_batch(int fd, int cpu, struct kvmprobe_msr_entry *e, uint32_t n)
{
	struct kvmprobe_read_msrs r;

	memset(&r, 0, sizeof(r));
	r.cpu = cpu;
	r.nmsrs = n;
	r.entries = (uintptr_t)e;
	return xioctl(fd, KVMPROBE_IOC_READ_MSRS, &r);
}

static int has_rdtscp(void)
{
	unsigned int a, b, c, d;

	return __get_cpuid(0x80000001, &a, &b, &c, &d) && (d & (1u << 27));
}

static int cmd_msrs(void)
{
	struct kvmprobe_msr_entry e[NSTABLE], big[KVMPROBE_MAX_MSRS + 1];
	uint64_t gs_base[64] = { 0 };
	int cpus[256], ncpu = online_cpus(cpus, 256), fd = open_dev(O_RDONLY);
	int i, j, bad = 0, compared = 0, faulted = 0, err;
	char name[64];

	for (i = 0; i < ncpu; i++) {
		int cpu = cpus[i];

		memset(e, 0xa5, sizeof(e));
		for (j = 0; j < (int)NSTABLE; j++)
			e[j].index = stable_msrs[j];
		err = read_batch(fd, cpu, e, NSTABLE);
		snprintf(name, sizeof(name), "msrs.batch.cpu%d", cpu);
		result(!err, name, "%s", strerror(-err));
		bad = 0;
		for (j = 0; j < (int)NSTABLE; j++) {
			uint64_t v = 0;
			int derr = msr_dev_read(cpu, e[j].index, &v);

			compared++;
			faulted += e[j].status == KVMPROBE_MSR_FAULT;
			if (derr == -EIO ? e[j].status != KVMPROBE_MSR_FAULT || e[j].value :
			    derr ? 1 : e[j].status != KVMPROBE_MSR_OK || e[j].value != v) {
				printf("INFO cpu %d msr %#x: driver status %u value %#llx, /dev/cpu: %s %#llx\n",
				       cpu, e[j].index, e[j].status, (unsigned long long)e[j].value,
				       derr ? strerror(-derr) : "ok", (unsigned long long)v);
				bad++;
			}
			if (e[j].index == 0xc0000101 && cpu < 64)
				gs_base[cpu] = e[j].value;
			if (e[j].index == 0xc0000103 && has_rdtscp() &&
			    (e[j].value & 0xfff) != (uint64_t)cpu) {
				printf("INFO cpu %d TSC_AUX %#llx\n", cpu, (unsigned long long)e[j].value);
				bad++;
			}
		}
		snprintf(name, sizeof(name), "msrs.equal_dev_cpu_msr.cpu%d", cpu);
		result(!bad, name, "%d of %zu MSRs differ", bad, NSTABLE);
	}
	printf("INFO compared %d MSR reads on %d CPUs, %d faulted in both\n", compared, ncpu,
	       faulted);
	for (bad = 0, i = 0; i < ncpu && cpus[i] < 64; i++)
		for (j = 0; j < i; j++)
			if (gs_base[cpus[i]] == gs_base[cpus[j]])
				bad++;
	result(!bad && ncpu > 0, "msrs.ran_on_target_cpu", "GS_BASE equal on %d CPU pairs", bad);

	/* The bound: 256 entries in one call work, 257 and 0 are refused. */
	for (j = 0; j < KVMPROBE_MAX_MSRS + 1; j++) {
		big[j].index = stable_msrs[j % NSTABLE];
		big[j].status = 7;
		big[j].value = ~0ull;
	}
	err = read_batch(fd, cpus[ncpu - 1], big, KVMPROBE_MAX_MSRS);
	for (bad = 0, j = 0; !err && j < KVMPROBE_MAX_MSRS; j++) {
		uint64_t v = 0;
		int derr = msr_dev_read(cpus[ncpu - 1], big[j].index, &v);

		bad += derr ? big[j].status != KVMPROBE_MSR_FAULT : big[j].value != v;
	}
	result(!err && !bad, "msrs.batch_of_256", "err %s, %d differ", strerror(-err), bad);
	result(big[KVMPROBE_MAX_MSRS].status == 7, "msrs.no_write_past_nmsrs", "entry 256 touched");
	err = read_batch(fd, 0, big, KVMPROBE_MAX_MSRS + 1);
	result(err == -EINVAL, "msrs.batch_of_257_einval", "got %s", strerror(-err));
	err = read_batch(fd, 0, big, 0);
	result(err == -EINVAL, "msrs.batch_of_0_einval", "got %s", strerror(-err));
	close(fd);
	return 0;
}

static unsigned long long user_xgetbv0(void)
{
	unsigned int lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (unsigned long long)hi << 32 | lo;
}

static int cmd_state(void)
{
	int cpus[256], ncpu = online_cpus(cpus, 256), fd = open_dev(O_RDONLY);
	int vendor = cpu_vendor(), i, err;
	char name[80];

	for (i = 0; i < ncpu; i++) {
		struct kvmprobe_cpu_state s;
		unsigned int a, b, c, d, osxsave;
		uint32_t want_feat;
		uint64_t efer = 0;
		int cpu = cpus[i];

		pin(cpu);
		__cpuid(1, a, b, c, d);
		osxsave = !!(c & (1u << 27));
		memset(&s, 0x5a, sizeof(s));
		s.cpu = cpu;
		s.flags = 0;
		memset(s.reserved, 0, sizeof(s.reserved));
		err = xioctl(fd, KVMPROBE_IOC_CPU_STATE, &s);
		snprintf(name, sizeof(name), "state.ioctl.cpu%d", cpu);
		result(!err, name, "%s", strerror(-err));
		printf("INFO cpu %d vendor %u cr0 %#llx cr4 %#llx efer %#llx xcr0 %#llx feat %#x=%#llx valid %#x fault %#x\n",
		       cpu, s.vendor, (unsigned long long)s.cr0, (unsigned long long)s.cr4,
		       (unsigned long long)s.efer, (unsigned long long)s.xcr0, s.feat_msr,
		       (unsigned long long)s.feat_value, s.valid, s.fault);
		snprintf(name, sizeof(name), "state.cr4_osxsave_eq_cpuid.cpu%d", cpu);
		result(!!(s.cr4 & (1u << 18)) == osxsave, name, "CR4 %#llx, CPUID.1:ECX.OSXSAVE %u",
		       (unsigned long long)s.cr4, osxsave);
		snprintf(name, sizeof(name), "state.xcr0.cpu%d", cpu);
		if (osxsave)
			result((s.valid & KVMPROBE_STATE_XCR0) && s.xcr0 == user_xgetbv0(), name,
			       "valid %#x xcr0 %#llx, xgetbv %#llx", s.valid,
			       (unsigned long long)s.xcr0, user_xgetbv0());
		else
			result(!(s.valid & KVMPROBE_STATE_XCR0) && !s.xcr0, name,
			       "XCR0 reported without OSXSAVE");
		snprintf(name, sizeof(name), "state.cr0_cr4_efer.cpu%d", cpu);
		result((s.valid & 7) == 7 && (s.cr0 & 0x80000001) == 0x80000001 &&
		       (s.efer & 0x500) == 0x500 && (s.cr4 & (1u << 5)), name,
		       "valid %#x cr0 %#llx efer %#llx", s.valid, (unsigned long long)s.cr0,
		       (unsigned long long)s.efer);
		if (!msr_dev_read(cpu, KVMPROBE_MSR_EFER, &efer)) {
			snprintf(name, sizeof(name), "state.efer_eq_dev_cpu_msr.cpu%d", cpu);
			result(efer == s.efer, name, "%#llx vs %#llx", (unsigned long long)efer,
			       (unsigned long long)s.efer);
		}
		want_feat = vendor == KVMPROBE_VENDOR_AMD || vendor == KVMPROBE_VENDOR_HYGON ?
			    KVMPROBE_MSR_VM_CR : vendor == KVMPROBE_VENDOR_OTHER ? 0 :
			    KVMPROBE_MSR_FEAT_CTL;
		snprintf(name, sizeof(name), "state.vendor_feat_msr.cpu%d", cpu);
		result(s.vendor == (uint32_t)vendor && s.feat_msr == want_feat &&
		       !!(s.valid & KVMPROBE_STATE_FEAT) + !!(s.fault & KVMPROBE_STATE_FEAT) ==
		       !!want_feat, name, "vendor %u feat_msr %#x valid %#x fault %#x",
		       s.vendor, s.feat_msr, s.valid, s.fault);
		snprintf(name, sizeof(name), "state.zero_filled.cpu%d", cpu);
		result(s.cpu == (uint32_t)cpu && !s.flags && all_zero(s.reserved, sizeof(s.reserved)) &&
		       ((s.valid & KVMPROBE_STATE_XCR0) || !s.xcr0), name, "garbage in output");
	}
	close(fd);
	return 0;
}

static int kvm_tsc_khz(void)
{
	int kvm = open("/dev/kvm", O_RDWR), vm, vcpu, khz;

	if (kvm < 0)
		return -errno;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return -errno;
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return -errno;
	khz = ioctl(vcpu, KVM_GET_TSC_KHZ, 0);
	if (khz < 0)
		khz = -errno;
	close(vcpu);
	close(vm);
	close(kvm);
	return khz;
}

static int cmd_tsc(long want)
{
	struct kvmprobe_tsc t;
	int fd = open_dev(O_RDONLY), err, kvm;

	memset(&t, 0xa5, sizeof(t));
	err = xioctl(fd, KVMPROBE_IOC_TSC, &t);
	result(!err && t.tsc_khz && t.cpu_khz, "tsc.ioctl", "%s tsc_khz %u", strerror(-err), t.tsc_khz);
	result(!t.pad && all_zero(t.reserved, sizeof(t.reserved)) && !(t.flags & ~0xfu),
	       "tsc.zero_filled", "garbage in output");
	printf("INFO tsc_khz %u cpu_khz %u flags %#x\n", t.tsc_khz, t.cpu_khz, t.flags);
	if (want > 0)
		result(t.tsc_khz == want, "tsc.eq_tsc_early_khz", "tsc_khz %u want %ld", t.tsc_khz, want);
	kvm = kvm_tsc_khz();
	if (kvm == -ENOENT || kvm == -ENODEV) {
		printf("INFO no /dev/kvm: KVM_GET_TSC_KHZ not compared\n");
	} else {
		printf("INFO KVM_GET_TSC_KHZ %d\n", kvm);
		result(kvm == (int)t.tsc_khz, "tsc.eq_kvm_get_tsc_khz", "KVM %d driver %u", kvm, t.tsc_khz);
	}
	close(fd);
	return 0;
}

static int gwrite(int fd, int cpu, uint32_t msr, uint64_t set, uint64_t clear,
		  struct kvmprobe_guarded_write *w)
{
	memset(w, 0, sizeof(*w));
	w->cpu = cpu;
	w->msr = msr;
	w->set_mask = set;
	w->clear_mask = clear;
	return xioctl(fd, KVMPROBE_IOC_GUARDED_WRITE, w);
}

static int vendor_is_amd(int vendor)
{
	return vendor == KVMPROBE_VENDOR_AMD || vendor == KVMPROBE_VENDOR_HYGON;
}

/* An allowed write on this CPU's vendor MSR (0x3a bit 2, or VM_CR.SVMDIS clear). */
static int gwrite_own(int fd, int cpu, struct kvmprobe_guarded_write *w)
{
	if (vendor_is_amd(cpu_vendor()))
		return gwrite(fd, cpu, KVMPROBE_MSR_VM_CR, 0, KVMPROBE_VM_CR_SVMDIS, w);
	return gwrite(fd, cpu, 0x3a, KVMPROBE_FEAT_CTL_VMX_OUTSIDE_SMX, 0, w);
}

static void expect_write(int fd, const char *name, int want, int cpu, uint32_t msr,
			 uint64_t set, uint64_t clear)
{
	struct kvmprobe_guarded_write w;
	int err = gwrite(fd, cpu, msr, set, clear, &w);

	result(err == want, name, "got %s, want %s", strerror(-err), strerror(-want));
}

static int cmd_refuse(void)
{
	struct kvmprobe_msr_entry e[2] = { { .index = 0x1b }, { .index = 0x3a } };
	struct kvmprobe_guarded_write w;
	struct kvmprobe_read_msrs r;
	struct kvmprobe_cpu_state s;
	int fd = open_dev(O_RDWR), ro = open_dev(O_RDONLY), err;

	/* Writes: everything outside the allow-list is EPERM. */
	expect_write(fd, "refuse.write_tsc_msr", -EPERM, 0, 0x10, 1, 0);
	expect_write(fd, "refuse.write_efer", -EPERM, 0, KVMPROBE_MSR_EFER, 1 << 12, 0);
	expect_write(fd, "refuse.write_spec_ctrl", -EPERM, 0, 0x48, 1, 0);
	expect_write(fd, "refuse.feat_ctl_reserved_bit3", -EPERM, 0, 0x3a, 1 << 3, 0);
	expect_write(fd, "refuse.feat_ctl_bit15_senter", -EPERM, 0, 0x3a, 1 << 15, 0);
	expect_write(fd, "refuse.feat_ctl_high_bit", -EPERM, 0, 0x3a, 1ull << 40, 0);
	expect_write(fd, "refuse.feat_ctl_clear", -EPERM, 0, 0x3a, 0, 1);
	expect_write(fd, "refuse.feat_ctl_clear_vmx", -EPERM, 0, 0x3a, 0, 4);
	expect_write(fd, "refuse.vm_cr_set_svmdis", -EPERM, 0, KVMPROBE_MSR_VM_CR, 1 << 4, 0);
	expect_write(fd, "refuse.vm_cr_set_lock", -EPERM, 0, KVMPROBE_MSR_VM_CR, 1 << 3, 0);
	expect_write(fd, "refuse.vm_cr_clear_lock", -EPERM, 0, KVMPROBE_MSR_VM_CR, 0, 1 << 3);
	expect_write(fd, "refuse.vm_cr_clear_other", -EPERM, 0, KVMPROBE_MSR_VM_CR, 0, 0x11);
	expect_write(fd, "refuse.write_hsave_pa", -EPERM, 0, 0xc0010117, 0, 1);
	/* Malformed requests are EINVAL, unknown CPUs ENXIO. */
	expect_write(fd, "refuse.write_empty_masks", -EINVAL, 0, 0x3a, 0, 0);
	expect_write(fd, "refuse.write_overlap", -EINVAL, 0, 0x3a, 4, 4);
	err = gwrite_own(fd, 99999, &w);
	result(err == -ENXIO, "refuse.write_cpu_huge", "got %s", strerror(-err));
	err = gwrite_own(fd, -1, &w);
	result(err == -ENXIO, "refuse.write_cpu_minus1", "got %s", strerror(-err));
	memset(&w, 0, sizeof(w));
	w.msr = 0x3a;
	w.set_mask = 4;
	w.flags = 1;
	err = xioctl(fd, KVMPROBE_IOC_GUARDED_WRITE, &w);
	result(err == -EINVAL, "refuse.write_flags", "got %s", strerror(-err));
	w.flags = 0;
	w.reserved[1] = 1;
	err = xioctl(fd, KVMPROBE_IOC_GUARDED_WRITE, &w);
	result(err == -EINVAL, "refuse.write_reserved", "got %s", strerror(-err));
	err = gwrite(ro, 0, 0x3a, 4, 0, &w);
	result(err == -EBADF, "refuse.write_on_rdonly_fd", "got %s", strerror(-err));
	err = xioctl(fd, KVMPROBE_IOC_GUARDED_WRITE, NULL);
	result(err == -EFAULT, "refuse.write_null_arg", "got %s", strerror(-err));

	/* Reads. */
	memset(&r, 0, sizeof(r));
	r.nmsrs = 2;
	r.entries = (uintptr_t)e;
	r.cpu = 99999;
	err = xioctl(ro, KVMPROBE_IOC_READ_MSRS, &r);
	result(err == -ENXIO, "refuse.read_cpu_huge", "got %s", strerror(-err));
	r.cpu = 0;
	r.flags = 1;
	err = xioctl(ro, KVMPROBE_IOC_READ_MSRS, &r);
	result(err == -EINVAL, "refuse.read_flags", "got %s", strerror(-err));
	r.flags = 0;
	r.reserved[0] = 1;
	err = xioctl(ro, KVMPROBE_IOC_READ_MSRS, &r);
	result(err == -EINVAL, "refuse.read_reserved", "got %s", strerror(-err));
	r.reserved[0] = 0;
	r.entries = 0;
	err = xioctl(ro, KVMPROBE_IOC_READ_MSRS, &r);
	result(err == -EFAULT, "refuse.read_null_entries", "got %s", strerror(-err));
	r.entries = 0xffffffff81000000ull;
	err = xioctl(ro, KVMPROBE_IOC_READ_MSRS, &r);
	result(err == -EFAULT, "refuse.read_kernel_entries", "got %s", strerror(-err));
	r.entries = (uintptr_t)e;
	err = xioctl(ro, KVMPROBE_IOC_READ_MSRS, &r);
	result(!err && r.nfaulted == 0, "refuse.read_ok_after_errors", "got %s", strerror(-err));
	memset(&s, 0, sizeof(s));
	s.cpu = 4096;
	err = xioctl(ro, KVMPROBE_IOC_CPU_STATE, &s);
	result(err == -ENXIO, "refuse.state_cpu_huge", "got %s", strerror(-err));
	s.cpu = 0;
	s.reserved[3] = 1;
	err = xioctl(ro, KVMPROBE_IOC_CPU_STATE, &s);
	result(err == -EINVAL, "refuse.state_reserved", "got %s", strerror(-err));
	err = xioctl(ro, _IOR(KVMPROBE_IOC_MAGIC, 0x00, __u32), &s);
	result(err == -ENOTTY, "refuse.wrong_size_enotty", "got %s", strerror(-err));
	err = xioctl(ro, _IO(KVMPROBE_IOC_MAGIC, 0x7f), &s);
	result(err == -ENOTTY, "refuse.unknown_enotty", "got %s", strerror(-err));
	close(fd);
	close(ro);
	return 0;
}

static int tainted_out_of_spec(void)
{
	FILE *f = fopen("/proc/sys/kernel/tainted", "r");
	unsigned long t = 0;

	if (f) {
		if (fscanf(f, "%lu", &t) != 1)
			t = 0;
		fclose(f);
	}
	return !!(t & (1ul << TAINT_CPU_OUT_OF_SPEC));
}

static int cmd_write_tcg(void)
{
	int cpus[256], ncpu = online_cpus(cpus, 256), fd = open_dev(O_RDWR), i, err;
	int amd = vendor_is_amd(cpu_vendor());
	struct kvmprobe_guarded_write w;
	char name[80];

	for (i = 0; i < ncpu; i++) {
		/* Only the vendor's own MSR: QEMU emulates both, the CPU has one. */
		err = gwrite(fd, cpus[i], amd ? 0x3a : KVMPROBE_MSR_VM_CR,
			     amd ? KVMPROBE_FEAT_CTL_VMX_OUTSIDE_SMX : 0,
			     amd ? 0 : KVMPROBE_VM_CR_SVMDIS, &w);
		snprintf(name, sizeof(name), "write.other_vendor_msr_refused.cpu%d", cpus[i]);
		result(err == -EPERM, name, "got %s", strerror(-err));
		if (amd)
			goto vm_cr;
		err = gwrite(fd, cpus[i], 0x3a, KVMPROBE_FEAT_CTL_VMX_OUTSIDE_SMX, 0, &w);
		printf("INFO cpu %d 0x3a: %s status %#x old %#llx written %#llx readback %#llx\n",
		       cpus[i], strerror(-err), w.status, (unsigned long long)w.old_value,
		       (unsigned long long)w.written, (unsigned long long)w.readback);
		snprintf(name, sizeof(name), "write.feat_ctl_vmx_not_sticking_is_eio.cpu%d", cpus[i]);
		result(err == -EIO && w.status == (KVMPROBE_GW_READ | KVMPROBE_GW_WRITTEN |
		       KVMPROBE_GW_READBACK | KVMPROBE_GW_MISMATCH) &&
		       w.written == (w.old_value | 4) && w.readback != w.written, name,
		       "err %s status %#x", strerror(-err), w.status);
		continue;
vm_cr:
		err = gwrite(fd, cpus[i], KVMPROBE_MSR_VM_CR, 0, KVMPROBE_VM_CR_SVMDIS, &w);
		snprintf(name, sizeof(name), "write.vm_cr_clear_svmdis.cpu%d", cpus[i]);
		if (w.old_value & KVMPROBE_VM_CR_SVMDIS)
			result(err == -EIO || err == 0 || err == -EPERM, name, "got %s", strerror(-err));
		else
			result(!err && w.status == (KVMPROBE_GW_READ | KVMPROBE_GW_UNCHANGED |
			       KVMPROBE_GW_READBACK) && w.written == w.old_value, name,
			       "got %s status %#x", strerror(-err), w.status);
	}
	/* Under TCG only the 0x3a write executes (VM_CR.SVMDIS is already clear). */
	if (!amd)
		result(tainted_out_of_spec(), "write.tainted_cpu_out_of_spec", "taint bit 2 (S) not set");
	close(fd);
	return 0;
}

static int cmd_refused_writes(const char *tag)
{
	struct kvmprobe_msr_entry e = { .index = 0x3a };
	struct kvmprobe_guarded_write w;
	int fd = open_dev(O_RDWR), err;
	char name[64];

	err = gwrite(fd, 0, 0x3a, KVMPROBE_FEAT_CTL_VMX_OUTSIDE_SMX, 0, &w);
	snprintf(name, sizeof(name), "%s.write_refused", tag);
	result(err == -EPERM, name, "got %s", strerror(-err));
	err = gwrite(fd, 0, KVMPROBE_MSR_VM_CR, 0, KVMPROBE_VM_CR_SVMDIS, &w);
	snprintf(name, sizeof(name), "%s.vm_cr_write_refused", tag);
	result(err == -EPERM, name, "got %s", strerror(-err));
	err = read_batch(fd, 0, &e, 1);
	snprintf(name, sizeof(name), "%s.reads_still_work", tag);
	result(!err, name, "got %s", strerror(-err));
	close(fd);
	return 0;
}

/* Every per-CPU command on an offline CPU (below nr_cpu_ids) is ENXIO. */
static int cmd_offline(int cpu)
{
	struct kvmprobe_msr_entry e = { .index = 0x1b };
	struct kvmprobe_guarded_write w;
	struct kvmprobe_cpu_state s;
	int fd = open_dev(O_RDWR), err;

	err = read_batch(fd, cpu, &e, 1);
	result(err == -ENXIO, "offline.read_msrs_enxio", "got %s", strerror(-err));
	memset(&s, 0, sizeof(s));
	s.cpu = cpu;
	err = xioctl(fd, KVMPROBE_IOC_CPU_STATE, &s);
	result(err == -ENXIO, "offline.cpu_state_enxio", "got %s", strerror(-err));
	err = gwrite_own(fd, cpu, &w);
	result(err == -ENXIO, "offline.write_enxio", "got %s", strerror(-err));
	err = read_batch(fd, 0, &e, 1);
	result(!err, "offline.cpu0_still_works", "got %s", strerror(-err));
	close(fd);
	return 0;
}

/* Drops CAP_SYS_RAWIO from the effective, permitted and bounding sets. */
static int drop_rawio(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	d[0].effective &= ~(1u << CAP_SYS_RAWIO);
	d[0].permitted &= ~(1u << CAP_SYS_RAWIO);
	d[0].inheritable &= ~(1u << CAP_SYS_RAWIO);
	return syscall(SYS_capset, &h, d);
}

/* Runs fn in a child and returns its exit status. */
static int in_child(int (*fn)(int), int arg)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn(arg));
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return 255;
	return WEXITSTATUS(status);
}

static int child_open_errno(int uid)
{
	int fd;

	if (uid >= 0 && (setgroups(0, NULL) || setgid(uid) || setuid(uid)))
		return 254;
	if (uid < 0 && drop_rawio())
		return 253;
	fd = open(DEV, O_RDONLY);
	return fd < 0 ? errno : 0;
}

static int child_ioctl_errno(int fd)
{
	struct kvmprobe_version v;

	if (drop_rawio())
		return 253;
	return ioctl(fd, KVMPROBE_IOC_GET_VERSION, &v) ? errno : 0;
}

static int cmd_noperm(void)
{
	int e, fd;

	e = in_child(child_open_errno, 1000);
	result(e == EACCES || e == EPERM, "noperm.uid1000_open", "open gave %s", strerror(e));
	e = in_child(child_open_errno, -1);
	result(e == EPERM, "noperm.root_without_rawio_open", "open gave %s", strerror(e));
	fd = open_dev(O_RDONLY);
	e = in_child(child_ioctl_errno, fd);
	result(e == EPERM, "noperm.ioctl_after_dropping_rawio", "ioctl gave %s", strerror(e));
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "version"))
		cmd_version(argc > 2 && !strcmp(argv[2], "nowrite"));
	else if (!strcmp(cmd, "msrs"))
		cmd_msrs();
	else if (!strcmp(cmd, "state"))
		cmd_state();
	else if (!strcmp(cmd, "tsc"))
		cmd_tsc(argc > 2 ? atol(argv[2]) : 0);
	else if (!strcmp(cmd, "refuse"))
		cmd_refuse();
	else if (!strcmp(cmd, "write-tcg"))
		cmd_write_tcg();
	else if (!strcmp(cmd, "lockdown"))
		cmd_refused_writes("lockdown");
	else if (!strcmp(cmd, "nowrite"))
		cmd_refused_writes("nowrite");
	else if (!strcmp(cmd, "offline") && argc > 2)
		cmd_offline(atoi(argv[2]));
	else if (!strcmp(cmd, "noperm"))
		cmd_noperm();
	else {
		fprintf(stderr, "usage: %s version|msrs|state|tsc [KHZ]|refuse|write-tcg|lockdown|nowrite|noperm|offline CPU\n",
			argv[0]);
		return 2;
	}
	return failures ? 1 : 0;
}
