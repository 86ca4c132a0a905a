// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl_fuzz: throws random commands, sizes, counts, CPU numbers, flags and
 * bad pointers at /dev/kvmprobe from several processes at once, and checks
 * that every return value is one the ABI documents for that command.
 * For test guests only: it issues (allow-listed) guarded writes.
 *
 *   ioctl_fuzz [ITERATIONS [SEED [PROCS]]]   defaults: 4000 1 2
 *
 * Each process does ITERATIONS calls. Prints a histogram of results and
 * "FAIL ..." for any undocumented errno; exits 1 if there was one or a
 * child died. Reading dmesg for oopses is the caller's job.
 *
 * Build: cc -static -O2 -Wall -Wextra -I../include/uapi -o ioctl_fuzz ioctl_fuzz.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/types.h>
#include <linux/ioctl.h>

#include "kvmprobe.h"

#define DEV "/dev/" KVMPROBE_DEVICE_NAME
#define PAGE 4096

static uint64_t rng;
static uint32_t ncpus;
static unsigned char *rw_area;	/* 2 pages read-write, then 1 PROT_NONE page */
static unsigned char *ro_page;	/* 1 read-only page */
static unsigned long hist[6][136];	/* per command class, per errno (0 = success) */
static unsigned long bad;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static uint64_t pick(const uint64_t *v, size_t n)
{
	return v[rnd() % n];
}

/* A user address: mostly good, sometimes NULL, kernel, non-canonical,
 * read-only, or straddling into the unmapped page. */
static uint64_t rand_ptr(size_t size)
{
	switch (rnd() % 10) {
	case 0:
		return 0;
	case 1:
		return pick((const uint64_t[]){ 0xffffffff81000000ull, 0xffff888000000000ull,
						 0x8000000000000000ull, ~0ull, 1, 4095 }, 6);
	case 2:
		return (uintptr_t)ro_page + rnd() % PAGE;
	case 3:	/* ends inside the PROT_NONE page */
		return (uintptr_t)rw_area + 2 * PAGE - (size > 1 ? rnd() % size : 0);
	case 4:	/* unaligned */
		return (uintptr_t)rw_area + 1 + rnd() % 64;
	default:
		return (uintptr_t)rw_area + (rnd() % 8) * 8;
	}
}

static uint32_t rand_cpu(void)
{
	switch (rnd() % 8) {
	case 0:
		return (uint32_t)rnd();
	case 1:
		return pick((const uint64_t[]){ 4, 8, 63, 64, 8191, 8192, 0x7fffffff, ~0u }, 8);
	default:
		return rnd() % (ncpus + 1);	/* mostly online, sometimes one past */
	}
}

static uint32_t rand_msr(void)
{
	static const uint64_t msrs[] = { 0x10, 0x1b, 0x3a, 0x48, 0x8b, 0xfe, 0x1a0, 0x480,
		0x491, 0xc0000080, 0xc0000101, 0xc0000103, 0xc0010114, 0xc0010117, 0x12345678,
		0x40000000, 0xffffffff };

	return rnd() % 4 ? pick(msrs, sizeof(msrs) / 8) : (uint32_t)rnd();
}

static uint64_t rand_mask(void)
{
	switch (rnd() % 6) {
	case 0:
		return 0;
	case 1:
		return rnd();
	case 2:
		return 1ull << (rnd() % 64);
	case 3:
		return KVMPROBE_FEAT_CTL_SETTABLE & rnd();
	case 4:
		return KVMPROBE_VM_CR_SVMDIS;
	default:
		return KVMPROBE_FEAT_CTL_VMX_OUTSIDE_SMX;
	}
}

static uint32_t rarely(uint32_t v)
{
	return rnd() % 8 ? 0 : v;
}

/* Fills the struct at p (inside rw_area) with a plausible or garbage argument. */
static void fill_arg(int cls, void *p)
{
	struct kvmprobe_read_msrs *r = p;
	struct kvmprobe_cpu_state *s = p;
	struct kvmprobe_guarded_write *w = p;
	struct kvmprobe_msr_entry *e;
	uint32_t i, n;

	switch (cls) {
	case 1:
		memset(r, 0, sizeof(*r));
		r->cpu = rand_cpu();
		n = rnd() % 4 ? 1 + rnd() % KVMPROBE_MAX_MSRS :
		    (uint32_t)pick((const uint64_t[]){ 0, 257, 4096, 0x10000001, ~0u }, 5);
		r->nmsrs = n;
		r->flags = rarely((uint32_t)rnd());
		r->reserved[rnd() % 2] = rarely(1);
		/* Entries live after the header area, in the second page. */
		e = (void *)(rw_area + PAGE);
		for (i = 0; i < PAGE / sizeof(*e); i++)
			e[i].index = rand_msr();
		r->entries = rnd() % 3 ? (uintptr_t)e +
			     (n <= 256 && rnd() % 2 ? PAGE - n * sizeof(*e) : 0) :
			     rand_ptr(n * sizeof(*e));
		break;
	case 2:
		memset(s, 0, sizeof(*s));
		s->cpu = rand_cpu();
		s->flags = rarely((uint32_t)rnd());
		s->reserved[rnd() % 4] = rarely(1);
		break;
	case 4:
		memset(w, 0, sizeof(*w));
		w->cpu = rand_cpu();
		w->msr = rnd() % 3 ? (rnd() % 2 ? 0x3a : KVMPROBE_MSR_VM_CR) : rand_msr();
		w->set_mask = rand_mask();
		w->clear_mask = rand_mask();
		w->flags = rarely((uint32_t)rnd());
		w->reserved[rnd() % 2] = rarely(1);
		break;
	default:
		for (i = 0; i < 128; i++)
			((unsigned char *)p)[i] = rnd();
	}
}

static const unsigned long cmds[5] = {
	KVMPROBE_IOC_GET_VERSION, KVMPROBE_IOC_READ_MSRS, KVMPROBE_IOC_CPU_STATE,
	KVMPROBE_IOC_TSC, KVMPROBE_IOC_GUARDED_WRITE,
};

/* Errnos the ABI allows per command (bit n = errno n; bit 0 = success). */
static uint64_t allowed(int cls, int rdonly)
{
	const uint64_t b = 1ull << EPERM | 1ull << EFAULT;

	switch (cls) {
	case 0:
	case 3:
		return b | 1;
	case 1:
		return b | 1 | 1ull << EINVAL | 1ull << ENXIO | 1ull << ENOMEM;
	case 2:
		return b | 1 | 1ull << EINVAL | 1ull << ENXIO;
	case 4:
		return rdonly ? b | 1ull << EBADF :
		       b | 1 | 1ull << EINVAL | 1ull << ENXIO | 1ull << EIO;
	default:
		return 1ull << ENOTTY;
	}
}

/* A random command number that is not one of ours and not a generic VFS ioctl. */
static unsigned long rand_cmd(void)
{
	unsigned long c;
	unsigned int type;

	for (;;) {
		if (rnd() % 2)	/* our magic: other numbers, sizes and directions */
			c = _IOC(rnd() % 4, KVMPROBE_IOC_MAGIC, rnd() % 8, rnd() % 256);
		else
			c = (uint32_t)rnd();
		type = _IOC_TYPE(c);
		/* FIO*, FIFREEZE/FITHAW, FS_IOC_*, FIBMAP/FIGETBSZ, FICLONE*, FS_IOC_GETFSUUID. */
		if (type == 'T' || type == 'X' || type == 'f' || type == 0 || type == 0x94 ||
		    type == 0x15 || type == 'x')
			continue;
		if (c != cmds[0] && c != cmds[1] && c != cmds[2] && c != cmds[3] && c != cmds[4])
			return c;
	}
}

static void one_call(int fd, int rdonly)
{
	int cls = rnd() % 7, err;
	unsigned long cmd;
	uint64_t arg;
	void *p;

	if (cls < 5) {
		cmd = cmds[cls];
		p = rw_area + (rnd() % 4) * 8;
		fill_arg(cls, p);
		arg = rnd() % 6 ? (uintptr_t)p : rand_ptr(_IOC_SIZE(cmd));
	} else {
		cls = 5;
		cmd = rand_cmd();
		fill_arg(0, rw_area);
		arg = rnd() % 2 ? (uintptr_t)rw_area : rand_ptr(256);
	}
	err = ioctl(fd, cmd, (unsigned long)arg) ? errno : 0;
	hist[cls][err < 135 ? err : 135]++;
	if (err >= 64 || !(allowed(cls, rdonly) >> err & 1)) {
		bad++;
		printf("FAIL fuzz: cmd %#lx class %d arg %#llx -> %s\n", cmd, cls,
		       (unsigned long long)arg, strerror(err));
	}
}

static int fuzz(unsigned long iterations, uint64_t seed)
{
	static const char * const names[] = { "version", "read_msrs", "cpu_state", "tsc",
					      "write", "other" };
	unsigned long i;
	int fd = -1, rdonly = 0, c, e;

	rng = seed * 0x9e3779b97f4a7c15ull + 1;
	rw_area = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro_page = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rw_area == MAP_FAILED || ro_page == MAP_FAILED ||
	    mprotect(rw_area + 2 * PAGE, PAGE, PROT_NONE))
		return 3;
	for (i = 0; i < iterations; i++) {
		if (fd < 0 || rnd() % 64 == 0) {	/* reopen now and then, both modes */
			if (fd >= 0)
				close(fd);
			rdonly = rnd() % 4 == 0;
			fd = open(DEV, rdonly ? O_RDONLY : O_RDWR);
			if (fd < 0) {
				printf("FAIL fuzz: open: %s\n", strerror(errno));
				return 1;
			}
		}
		one_call(fd, rdonly);
	}
	close(fd);
	for (c = 0; c < 6; c++) {
		printf("INFO seed %llu %-9s:", (unsigned long long)seed, names[c]);
		for (e = 0; e < 136; e++)
			if (hist[c][e])
				printf(" %s=%lu", e ? strerrorname_np(e) : "ok", hist[c][e]);
		printf("\n");
	}
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	unsigned long iterations = argc > 1 ? strtoul(argv[1], NULL, 0) : 4000;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
	int procs = argc > 3 ? atoi(argv[3]) : 2, i, status, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	for (i = 0; i < procs; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(fuzz(iterations, seed + i));
		if (pid < 0)
			return 1;
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	printf("%s fuzz.%d_procs_x_%lu_calls\n", failed ? "FAIL" : "PASS", procs, iterations);
	return failed ? 1 : 0;
}
