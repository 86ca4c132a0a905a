// SPDX-License-Identifier: MIT
/*
 * bochs_probe: the guest program of tests/bochs for what kvm_oracle (tests/vm/oracle) does
 * not ask. One fact per line:
 *
 *   bochs_probe tsc KHZ...         KVM_SET_TSC_KHZ on a fresh vCPU of a fresh VM, per KHZ:
 *                                    set_tsc_khz KHZ ok | set_tsc_khz KHZ error ENAME
 *   bochs_probe read CPU MSR...    KVMPROBE_IOC_READ_MSRS through /dev/kvmprobe:
 *                                    read_msr 0xMSR ok 0xVALUE | read_msr 0xMSR fault
 *   bochs_probe gwrite CPU MSR SET CLEAR
 *                                  KVMPROBE_IOC_GUARDED_WRITE:
 *                                    gwrite 0xMSR rc 0|ENAME status 0xS old 0x.. written 0x..
 *                                    readback 0x..
 *
 * Exit status: 0, or 1 when an ioctl could not be made at all (file missing, bad reply).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvmprobe.h"

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "?";
}

static int tsc(int argc, char **argv)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (kvm < 0) {
		printf("set_tsc_khz error %s (/dev/kvm)\n", ename(errno));
		return 1;
	}
	for (int i = 0; i < argc; i++) {
		unsigned long khz = strtoul(argv[i], NULL, 0);
		int vm = ioctl(kvm, KVM_CREATE_VM, 0);
		int vcpu = vm < 0 ? -1 : ioctl(vm, KVM_CREATE_VCPU, 0);

		if (vcpu < 0) {
			printf("set_tsc_khz %lu error %s (create)\n", khz, ename(errno));
		} else if (ioctl(vcpu, KVM_SET_TSC_KHZ, khz) < 0) {
			printf("set_tsc_khz %lu error %s\n", khz, ename(errno));
		} else {
			printf("set_tsc_khz %lu ok\n", khz);
		}
		if (vcpu >= 0)
			close(vcpu);
		if (vm >= 0)
			close(vm);
	}
	close(kvm);
	return 0;
}

static int read_msrs(int argc, char **argv)
{
	int fd = open("/dev/kvmprobe", O_RDONLY | O_CLOEXEC);
	struct kvmprobe_msr_entry e[KVMPROBE_MAX_MSRS];
	struct kvmprobe_read_msrs r;
	int n = argc - 1;

	if (fd < 0 || n < 1 || n > KVMPROBE_MAX_MSRS) {
		printf("read_msr error %s\n", fd < 0 ? ename(errno) : "EINVAL");
		return 1;
	}
	memset(&r, 0, sizeof(r));
	memset(e, 0, sizeof(e));
	r.cpu = strtoul(argv[0], NULL, 0);
	r.nmsrs = n;
	r.entries = (uintptr_t)e;
	for (int i = 0; i < n; i++)
		e[i].index = strtoul(argv[i + 1], NULL, 0);
	if (ioctl(fd, KVMPROBE_IOC_READ_MSRS, &r) < 0) {
		printf("read_msr error %s\n", ename(errno));
		return 1;
	}
	for (int i = 0; i < n; i++) {
		if (e[i].status == KVMPROBE_MSR_OK)
			printf("read_msr 0x%" PRIx32 " ok 0x%llx\n", e[i].index,
			       (unsigned long long)e[i].value);
		else
			printf("read_msr 0x%" PRIx32 " fault\n", e[i].index);
	}
	printf("read_msr_nfaulted %u\n", r.nfaulted);
	close(fd);
	return 0;
}

static int gwrite(int argc, char **argv)
{
	int fd = open("/dev/kvmprobe", O_RDWR | O_CLOEXEC);
	struct kvmprobe_guarded_write w;
	int rc;

	if (fd < 0 || argc != 4) {
		printf("gwrite error %s\n", fd < 0 ? ename(errno) : "EINVAL");
		return 1;
	}
	memset(&w, 0, sizeof(w));
	w.cpu = strtoul(argv[0], NULL, 0);
	w.msr = strtoul(argv[1], NULL, 0);
	w.set_mask = strtoull(argv[2], NULL, 0);
	w.clear_mask = strtoull(argv[3], NULL, 0);
	rc = ioctl(fd, KVMPROBE_IOC_GUARDED_WRITE, &w) < 0 ? errno : 0;
	printf("gwrite 0x%" PRIx32 " rc %s status 0x%x old 0x%llx written 0x%llx readback 0x%llx\n",
	       w.msr, rc ? ename(rc) : "0", w.status, (unsigned long long)w.old_value,
	       (unsigned long long)w.written, (unsigned long long)w.readback);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && !strcmp(argv[1], "tsc"))
		return tsc(argc - 2, argv + 2);
	if (argc >= 4 && !strcmp(argv[1], "read"))
		return read_msrs(argc - 2, argv + 2);
	if (argc == 6 && !strcmp(argv[1], "gwrite"))
		return gwrite(argc - 2, argv + 2);
	fprintf(stderr, "usage: bochs_probe tsc KHZ... | read CPU MSR... | gwrite CPU MSR SET CLEAR\n");
	return 2;
}
