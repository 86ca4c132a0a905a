// SPDX-License-Identifier: MIT
/*
 * cpuid_oracle: prints the running kernel's KVM_GET_SUPPORTED_CPUID, for tests/vm/cpuid.test.sh
 * to compare with `kvmprobe cpuid`. Runs inside a test guest after `modprobe kvm_amd` (or
 * kvm_intel). One line per entry, in KVM's order, all values 0x-prefixed lower-case hex:
 *
 *   supported_cpuid_count 42
 *   supported_cpuid LEAF SUBLEAF EAX EBX ECX EDX FLAGS
 *
 * The array is grown on E2BIG, as QEMU does. Exit 1 (and "supported_cpuid error ENAME
 * (message)") when the ioctl fails otherwise; exit 2 when /dev/kvm cannot be opened.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
	struct kvm_cpuid2 *c = NULL;
	unsigned int n = 64;
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (kvm < 0) {
		fprintf(stderr, "cpuid_oracle: cannot open /dev/kvm: %s\n", strerror(errno));
		return 2;
	}
	for (;;) {
		free(c);
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			goto fail;
		c->nent = n;
		if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		if (errno != E2BIG || n >= 4096)
			goto fail;
		n *= 2;
	}
	printf("supported_cpuid_count %u\n", c->nent);
	for (unsigned int i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];

		printf("supported_cpuid 0x%x 0x%x 0x%x 0x%x 0x%x 0x%x 0x%x\n", e->function, e->index,
		       e->eax, e->ebx, e->ecx, e->edx, e->flags);
	}
	free(c);
	close(kvm);
	return 0;
fail:
	printf("supported_cpuid error %s (%s)\n",
	       strerrorname_np(errno) ? strerrorname_np(errno) : "?", strerror(errno));
	return 1;
}
