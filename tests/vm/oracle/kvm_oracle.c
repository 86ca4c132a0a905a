// SPDX-License-Identifier: MIT
/*
 * kvm_oracle: asks the running kernel's KVM what it decided, for the VM tests to compare
 * kvmprobe's predictions with. Runs inside a test guest, after `modprobe kvm_amd` (or
 * kvm_intel). Output is one fact per line, "key value...", numbers in decimal unless the
 * key is an MSR index, XCR0 or a feature-MSR value (0x-prefixed lower-case hex):
 *
 *   cpu_vendor AuthenticAMD
 *   api_version 12
 *   cap_tsc_control 0                        KVM_CHECK_EXTENSION(KVM_CAP_TSC_CONTROL)
 *   cap_vm_tsc_control 0                     KVM_CHECK_EXTENSION(KVM_CAP_VM_TSC_CONTROL)
 *   msr_index_count 97
 *   msr_index_list 0x10 0x11 ...             KVM_GET_MSR_INDEX_LIST, in KVM's order
 *   feature_msr_count 4
 *   feature_msr_list 0xc0011029 0x8b ...     KVM_GET_MSR_FEATURE_INDEX_LIST, in order
 *   feature_msr 0xc0011029 0x2               one per entry: KVM_GET_MSRS on /dev/kvm
 *   supported_xcr0 0x7                       KVM_GET_SUPPORTED_CPUID leaf 0xD.0 EAX|EDX<<32,
 *                                            0x0 when the leaf is absent
 *   tsc_khz 2596145                          KVM_GET_TSC_KHZ on a fresh vCPU of a fresh VM
 *   host_xcr0 0x7 | none                     xgetbv(0), only when CPUID.1:ECX.OSXSAVE is set
 *   tsc_khz_kernel 2596145 SOURCE            the guest kernel's tsc_khz, from its log
 *                                            (SOURCE: refined|tsc|processor), or "none"
 *
 * A query that fails prints "KEY error ERRNO_NAME (message)" instead and the exit status
 * becomes 1. Exit 2 (and nothing on stdout) when /dev/kvm cannot be opened.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <unistd.h>

#ifndef KVM_CAP_VM_TSC_CONTROL
#define KVM_CAP_VM_TSC_CONTROL 214
#endif

static int status;

static void fail(const char *key)
{
	printf("%s error %s (%s)\n", key, strerrorname_np(errno) ? strerrorname_np(errno) : "?",
	       strerror(errno));
	status = 1;
}

static void print_vendor(void)
{
	unsigned int a, b, c, d;
	char v[13];

	__cpuid(0, a, b, c, d);
	memcpy(v, &b, 4);
	memcpy(v + 4, &d, 4);
	memcpy(v + 8, &c, 4);
	v[12] = 0;
	printf("cpu_vendor %s\n", v);
}

/* KVM_GET_MSR_INDEX_LIST / KVM_GET_MSR_FEATURE_INDEX_LIST: ask with nmsrs = 0, get E2BIG and
 * the count, then ask again with room for it. Returns NULL after printing the error. */
static struct kvm_msr_list *get_msr_list(int kvm, unsigned long req, const char *key)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };
	struct kvm_msr_list *list;

	if (ioctl(kvm, req, &probe) == 0) {
		list = calloc(1, sizeof(*list));
		return list;
	}
	if (errno != E2BIG) {
		fail(key);
		return NULL;
	}
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(list->indices[0]));
	if (!list) {
		fail(key);
		return NULL;
	}
	list->nmsrs = probe.nmsrs;
	if (ioctl(kvm, req, list) < 0) {
		fail(key);
		free(list);
		return NULL;
	}
	return list;
}

static void print_list(const char *count_key, const char *list_key, const struct kvm_msr_list *l)
{
	printf("%s %u\n%s", count_key, l->nmsrs, list_key);
	for (unsigned int i = 0; i < l->nmsrs; i++)
		printf(" 0x%" PRIx32, l->indices[i]);
	printf("\n");
}

static void print_feature_msrs(int kvm)
{
	struct kvm_msr_list *l;
	struct kvm_msrs *msrs;

	if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GET_MSR_FEATURES) <= 0) {
		printf("feature_msr_count 0\nfeature_msr_list\n");
		return;
	}
	l = get_msr_list(kvm, KVM_GET_MSR_FEATURE_INDEX_LIST, "feature_msr_list");
	if (!l)
		return;
	print_list("feature_msr_count", "feature_msr_list", l);
	msrs = calloc(1, sizeof(*msrs) + l->nmsrs * sizeof(msrs->entries[0]));
	if (!msrs) {
		fail("feature_msr");
		free(l);
		return;
	}
	msrs->nmsrs = l->nmsrs;
	for (unsigned int i = 0; i < l->nmsrs; i++)
		msrs->entries[i].index = l->indices[i];
	int n = ioctl(kvm, KVM_GET_MSRS, msrs);
	if (n < 0)
		fail("feature_msr");
	for (int i = 0; i < n; i++)
		printf("feature_msr 0x%" PRIx32 " 0x%llx\n", msrs->entries[i].index,
		       (unsigned long long)msrs->entries[i].data);
	if (n >= 0 && (unsigned int)n < l->nmsrs) {
		printf("feature_msr error short read (%d of %u)\n", n, l->nmsrs);
		status = 1;
	}
	free(msrs);
	free(l);
}

static void print_supported_xcr0(int kvm)
{
	struct kvm_cpuid2 *c = NULL;
	unsigned int n = 64;

	for (;;) {
		free(c);
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c) {
			fail("supported_xcr0");
			return;
		}
		c->nent = n;
		if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		if (errno != E2BIG || n >= 4096) {
			fail("supported_xcr0");
			free(c);
			return;
		}
		n *= 2;
	}
	uint64_t xcr0 = 0;
	for (unsigned int i = 0; i < c->nent; i++) {
		if (c->entries[i].function == 0xd && c->entries[i].index == 0)
			xcr0 = c->entries[i].eax | (uint64_t)c->entries[i].edx << 32;
	}
	printf("supported_xcr0 0x%" PRIx64 "\n", xcr0);
	free(c);
}

static void print_tsc_khz(int kvm)
{
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);

	if (vm < 0) {
		fail("tsc_khz");
		return;
	}
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0) {
		fail("tsc_khz");
		close(vm);
		return;
	}
	int khz = ioctl(vcpu, KVM_GET_TSC_KHZ, 0);
	if (khz < 0)
		fail("tsc_khz");
	else
		printf("tsc_khz %d\n", khz);
	close(vcpu);
	close(vm);
}

static void print_host_xcr0(void)
{
	unsigned int a, b, c, d;

	__cpuid(1, a, b, c, d);
	if (!(c & (1u << 27))) {
		printf("host_xcr0 none\n");
		return;
	}
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	printf("host_xcr0 0x%" PRIx64 "\n", (uint64_t)hi << 32 | lo);
}

/* "tsc: Refined TSC clocksource calibration: 2596.145 MHz" (tsc_khz after refinement),
 * "tsc: Detected 2596.145 MHz TSC" (tsc_khz when it differs from cpu_khz),
 * "tsc: Detected 2596.145 MHz processor" (cpu_khz, = tsc_khz otherwise). Last one wins
 * within a kind; refined beats tsc beats processor. */
static void print_tsc_khz_kernel(void)
{
	static const struct {
		const char *pat, *name;
	} kinds[] = {
		{ "Refined TSC clocksource calibration: %lu.%3lu MHz%n", "refined" },
		{ "Detected %lu.%3lu MHz TSC%n", "tsc" },
		{ "Detected %lu.%3lu MHz processor%n", "processor" },
	};
	unsigned long found[3] = { 0 };
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf;

	if (len <= 0 || !(buf = malloc(len + 1))) {
		printf("tsc_khz_kernel none\n");
		return;
	}
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
	if (len < 0) {
		free(buf);
		printf("tsc_khz_kernel none\n");
		return;
	}
	buf[len] = 0;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char *p = strstr(line, "tsc: ");
		unsigned long mhz, frac;

		if (!p)
			continue;
		for (int k = 0; k < 3; k++) {
			int end = -1;

			/* %n is reached only when the whole line matched, literal tail included */
			if (sscanf(p + 5, kinds[k].pat, &mhz, &frac, &end) == 2 && end > 0)
				found[k] = mhz * 1000 + frac;
		}
	}
	free(buf);
	for (int k = 0; k < 3; k++) {
		if (found[k]) {
			printf("tsc_khz_kernel %lu %s\n", found[k], kinds[k].name);
			return;
		}
	}
	printf("tsc_khz_kernel none\n");
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (kvm < 0) {
		fprintf(stderr, "kvm_oracle: cannot open /dev/kvm: %s (is kvm_amd or kvm_intel loaded?)\n",
			strerror(errno));
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	print_vendor();

	int v = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (v < 0)
		fail("api_version");
	else
		printf("api_version %d\n", v);
	printf("cap_tsc_control %d\n", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_TSC_CONTROL));
	printf("cap_vm_tsc_control %d\n", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_VM_TSC_CONTROL));

	struct kvm_msr_list *l = get_msr_list(kvm, KVM_GET_MSR_INDEX_LIST, "msr_index_list");
	if (l) {
		print_list("msr_index_count", "msr_index_list", l);
		free(l);
	}
	print_feature_msrs(kvm);
	print_supported_xcr0(kvm);
	print_tsc_khz(kvm);
	print_host_xcr0();
	print_tsc_khz_kernel();
	close(kvm);
	return status;
}
