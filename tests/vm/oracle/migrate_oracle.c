// SPDX-License-Identifier: MIT
/*
 * migrate_oracle: what real KVM accepts when a vCPU's state moves from one host (SRC) to
 * another (DST), the ground truth for `kvmprobe compat`. Runs inside a test guest after
 * `modprobe kvm_amd`. Two modes:
 *
 *   migrate_oracle save              on SRC: prints a state file on stdout
 *   migrate_oracle restore STATE     on DST: sets STATE on a fresh vCPU, prints the result
 *
 * Both set a VM up the way a VMM does: KVM_CREATE_VM, KVM_CREATE_IRQCHIP (before the vCPU:
 * without an in-kernel local APIC KVM refuses MSR_KVM_ASYNC_PF_INT, see
 * arch/x86/kvm/x86.c: kvm_pv_enable_async_pf_int() (6.1)), KVM_CREATE_VCPU 0, then
 * KVM_SET_CPUID2 with this host's KVM_GET_SUPPORTED_CPUID.
 *
 * Output: one fact per line, "key value...", tokens separated by one space. MSR indexes and
 * values, XCR values are 0x-prefixed lower-case hex; counts and kHz decimal. A failed ioctl
 * is written "error ENAME" (errno name); KVM_GET_MSRS/KVM_SET_MSRS that return 0 (KVM
 * refused the MSR; the ioctl itself succeeded) are "rejected". The last line is "end": a
 * file without it is truncated.
 *
 * State file (save):
 *   schema kvmprobe.migrate-state/1
 *   kernel 6.1.0-57-amd64                      uname -r
 *   cpu_vendor AuthenticAMD                    CPUID.0
 *   cap_tsc_control 0                          KVM_CHECK_EXTENSION(KVM_CAP_TSC_CONTROL)
 *   tsc_khz 2000000 | error ENAME              KVM_GET_TSC_KHZ of the vCPU
 *   supported_xcr0 0x7                         KVM_GET_SUPPORTED_CPUID 0xD.0 EAX|EDX<<32
 *   xcr0_set 0x7 accepted | rejected ENAME | none
 *                                              KVM_SET_XCRS(XCR0 = supported_xcr0), what a
 *                                              guest enabling all it may would have (a fresh
 *                                              vCPU's XCR0 is just 0x1); "none": no XSAVE
 *   xcr 0x0 0x7                                KVM_GET_XCRS, one line per XCR (none: no
 *                                              line); "xcrs error ENAME" when it fails
 *   msr_index_count 97
 *   msr_index_list 0x174 0x175 ...             KVM_GET_MSR_INDEX_LIST, KVM's order
 *   msr 0x174 0x0                              KVM_GET_MSRS of that one MSR on the vCPU
 *   msr 0x4b564d06 rejected | error ENAME      the read failed (value unknown)
 *   feature_msr_count 4
 *   feature_msr_list 0xc0011029 0x8b 0x10a 0x345
 *   feature_msr 0x10a 0x0 | rejected | error ENAME
 *                                              KVM_GET_MSRS on /dev/kvm, one MSR at a time
 *   end
 *
 * Result (restore STATE):
 *   schema kvmprobe.migrate-result/1
 *   src_kernel ... / dst_kernel ...            from STATE / uname -r
 *   dst_cap_tsc_control 0
 *   dst_tsc_khz 2100000                        KVM_GET_TSC_KHZ of DST's fresh vCPU
 *   dst_msr_index_count 73
 *   dst_msr_index_list 0x174 ...
 *   dst_feature_msr_list 0xc0011029 ...
 *   set_tsc_khz 2000000 accepted 2000000 | 2000000 rejected EINVAL
 *                                              KVM_SET_TSC_KHZ(SRC's tsc_khz) first, as
 *                                              QEMU does at vCPU init; "accepted" is
 *                                              followed by KVM_GET_TSC_KHZ afterwards
 *   set_xcr 0x0 0x7 accepted | rejected ENAME  KVM_SET_XCRS with SRC's XCRs
 *   set_xcr none                               SRC had no XCRs (no XSAVE)
 *   set_msr 0x174 0x0 listed accepted 0x0      one KVM_SET_MSRS per MSR of SRC's index list,
 *   set_msr 0xc0010200 0x0 unlisted rejected   SRC's value; listed/unlisted = in DST's
 *   set_msr 0x... unknown listed skipped       index list; "accepted" is followed by the
 *                                              value KVM_GET_MSRS reads back (or "rejected");
 *                                              "skipped" when SRC could not read it
 *   set_msr 0x... 0x0 listed error ENAME       KVM_SET_MSRS itself failed
 *   dst_only_msr 0x...                         in DST's list, not in SRC's (no SRC state)
 *   set_feature_msr 0x10a 0x0 listed accepted dst 0x0
 *                                              SRC's feature-MSR value set on DST's vCPU
 *                                              (host-initiated KVM_SET_MSRS); listed = in
 *                                              DST's feature list; dst = DST's own value
 *                                              from /dev/kvm (or "unknown")
 *   summary src_listed 97 dst_unlisted 30 rejected 22 unlisted_accepted 8 skipped 0
 *           listed_rejected 0 feature_rejected 0 tsc accepted|rejected xcr accepted|rejected|none
 *   end
 *
 * Exit status: 0 when every fact was obtained (rejections are facts, not failures), 1 when a
 * query of this host's KVM failed, 2 on bad usage, no /dev/kvm or an unreadable STATE.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

static int status;

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "?";
}

static void die(const char *what)
{
	fprintf(stderr, "migrate_oracle: %s: %s\n", what, strerror(errno));
	exit(2);
}

struct vm {
	int kvm, vm, vcpu;
	struct kvm_msr_list *index, *features;
	uint64_t supported_xcr0;
	bool has_xsave_leaf;
};

static struct kvm_msr_list *get_msr_list(int kvm, unsigned long req, const char *what)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };
	struct kvm_msr_list *list;

	if (ioctl(kvm, req, &probe) == 0)
		return calloc(1, sizeof(*list));
	if (errno != E2BIG)
		die(what);
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(list->indices[0]));
	if (!list)
		die(what);
	list->nmsrs = probe.nmsrs;
	if (ioctl(kvm, req, list) < 0)
		die(what);
	return list;
}

static bool in_list(const struct kvm_msr_list *l, uint32_t index)
{
	for (unsigned int i = 0; l && i < l->nmsrs; i++)
		if (l->indices[i] == index)
			return true;
	return false;
}

static void print_list(const char *key, const struct kvm_msr_list *l)
{
	printf("%s", key);
	for (unsigned int i = 0; i < l->nmsrs; i++)
		printf(" 0x%" PRIx32, l->indices[i]);
	printf("\n");
}

/* KVM_GET_SUPPORTED_CPUID (E2BIG: retry larger), then KVM_SET_CPUID2 with it, as QEMU's
 * "-cpu host" would. Also notes leaf 0xD.0's XCR0 mask. */
static void set_supported_cpuid(struct vm *v)
{
	struct kvm_cpuid2 *c = NULL;
	unsigned int n = 64;

	for (;;) {
		free(c);
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			die("calloc");
		c->nent = n;
		if (ioctl(v->kvm, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		if (errno != E2BIG || n >= 4096)
			die("KVM_GET_SUPPORTED_CPUID");
		n *= 2;
	}
	for (unsigned int i = 0; i < c->nent; i++) {
		if (c->entries[i].function == 0xd && c->entries[i].index == 0) {
			v->supported_xcr0 = c->entries[i].eax | (uint64_t)c->entries[i].edx << 32;
			v->has_xsave_leaf = true;
		}
	}
	if (ioctl(v->vcpu, KVM_SET_CPUID2, c) < 0)
		die("KVM_SET_CPUID2");
	free(c);
}

static void setup(struct vm *v)
{
	v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (v->kvm < 0)
		die("cannot open /dev/kvm (is kvm_amd or kvm_intel loaded?)");
	v->vm = ioctl(v->kvm, KVM_CREATE_VM, 0);
	if (v->vm < 0)
		die("KVM_CREATE_VM");
	if (ioctl(v->vm, KVM_CREATE_IRQCHIP, 0) < 0)
		die("KVM_CREATE_IRQCHIP");
	v->vcpu = ioctl(v->vm, KVM_CREATE_VCPU, 0);
	if (v->vcpu < 0)
		die("KVM_CREATE_VCPU");
	set_supported_cpuid(v);
	v->index = get_msr_list(v->kvm, KVM_GET_MSR_INDEX_LIST, "KVM_GET_MSR_INDEX_LIST");
	if (ioctl(v->kvm, KVM_CHECK_EXTENSION, KVM_CAP_GET_MSR_FEATURES) > 0)
		v->features = get_msr_list(v->kvm, KVM_GET_MSR_FEATURE_INDEX_LIST,
					   "KVM_GET_MSR_FEATURE_INDEX_LIST");
	else
		v->features = calloc(1, sizeof(*v->features));
}

/* One MSR through KVM_GET_MSRS/KVM_SET_MSRS on FD. Returns 1 (done), 0 (KVM refused it) or
 * -1 (the ioctl failed, errno set). */
static int msr_io(int fd, unsigned long req, uint32_t index, uint64_t *data)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 1;
	m.e.index = index;
	m.e.data = *data;
	int r = ioctl(fd, req, &m);
	if (r == 1)
		*data = m.e.data;
	return r;
}

static void print_get(const char *key, int fd, uint32_t index)
{
	uint64_t val = 0;
	int r = msr_io(fd, KVM_GET_MSRS, index, &val);

	printf("%s 0x%" PRIx32 " ", key, index);
	if (r == 1)
		printf("0x%" PRIx64 "\n", val);
	else if (r == 0)
		printf("rejected\n");
	else
		printf("error %s\n", ename(errno));
}

static void print_common(struct vm *v, const char *prefix)
{
	struct utsname u;
	unsigned int a, b, c, d;
	char vendor[13];

	uname(&u);
	printf("%skernel %s\n", prefix, u.release);
	__cpuid(0, a, b, c, d);
	memcpy(vendor, &b, 4);
	memcpy(vendor + 4, &d, 4);
	memcpy(vendor + 8, &c, 4);
	vendor[12] = 0;
	printf("%scpu_vendor %s\n", prefix, vendor);
	printf("%scap_tsc_control %d\n", prefix, ioctl(v->kvm, KVM_CHECK_EXTENSION, KVM_CAP_TSC_CONTROL));
	int khz = ioctl(v->vcpu, KVM_GET_TSC_KHZ, 0);
	if (khz < 0) {
		printf("%stsc_khz error %s\n", prefix, ename(errno));
		status = 1;
	} else {
		printf("%stsc_khz %d\n", prefix, khz);
	}
}

static int do_save(void)
{
	struct vm v = { 0 };
	struct kvm_xcrs x;

	setup(&v);
	printf("schema kvmprobe.migrate-state/1\n");
	print_common(&v, "");
	printf("supported_xcr0 0x%" PRIx64 "\n", v.supported_xcr0);
	if (!v.has_xsave_leaf || !v.supported_xcr0) {
		printf("xcr0_set none\n");
	} else {
		memset(&x, 0, sizeof(x));
		x.nr_xcrs = 1;
		x.xcrs[0].xcr = 0;
		x.xcrs[0].value = v.supported_xcr0;
		if (ioctl(v.vcpu, KVM_SET_XCRS, &x) < 0)
			printf("xcr0_set 0x%" PRIx64 " rejected %s\n", v.supported_xcr0, ename(errno));
		else
			printf("xcr0_set 0x%" PRIx64 " accepted\n", v.supported_xcr0);
	}
	memset(&x, 0, sizeof(x));
	if (ioctl(v.vcpu, KVM_GET_XCRS, &x) < 0) {
		printf("xcrs error %s\n", ename(errno));
		status = 1;
	} else {
		for (unsigned int i = 0; i < x.nr_xcrs && i < KVM_MAX_XCRS; i++)
			printf("xcr 0x%" PRIx32 " 0x%llx\n", x.xcrs[i].xcr,
			       (unsigned long long)x.xcrs[i].value);
	}
	printf("msr_index_count %u\n", v.index->nmsrs);
	print_list("msr_index_list", v.index);
	for (unsigned int i = 0; i < v.index->nmsrs; i++)
		print_get("msr", v.vcpu, v.index->indices[i]);
	printf("feature_msr_count %u\n", v.features->nmsrs);
	print_list("feature_msr_list", v.features);
	for (unsigned int i = 0; i < v.features->nmsrs; i++)
		print_get("feature_msr", v.kvm, v.features->indices[i]);
	printf("end\n");
	return status;
}

/* --- restore --- */

struct src_msr {
	uint32_t index;
	bool known;
	uint64_t value;
};

struct state {
	char kernel[128];
	long tsc_khz; /* -1: unknown */
	struct kvm_xcrs xcrs;
	struct src_msr *msrs, *features;
	unsigned int nmsrs, nfeatures;
	bool ended;
};

static void bad_state(const char *path, unsigned int line, const char *why)
{
	fprintf(stderr, "migrate_oracle: %s:%u: %s\n", path, line, why);
	exit(2);
}

static void add_msr(struct src_msr **arr, unsigned int *n, const char *rest)
{
	unsigned int idx;
	char val[64];

	if (sscanf(rest, "%x %63s", &idx, val) != 2)
		return;
	*arr = realloc(*arr, (*n + 1) * sizeof(**arr));
	if (!*arr)
		die("realloc");
	(*arr)[*n].index = idx;
	(*arr)[*n].known = strncmp(val, "0x", 2) == 0;
	(*arr)[*n].value = (*arr)[*n].known ? strtoull(val, NULL, 16) : 0;
	(*n)++;
}

static void read_state(const char *path, struct state *s)
{
	FILE *f = fopen(path, "r");
	char line[65536];
	unsigned int no = 0;

	if (!f)
		die(path);
	memset(s, 0, sizeof(*s));
	s->tsc_khz = -1;
	while (fgets(line, sizeof(line), f)) {
		no++;
		line[strcspn(line, "\n")] = 0;
		char *sp = strchr(line, ' ');
		char *rest = sp ? sp + 1 : line + strlen(line);
		if (sp)
			*sp = 0;
		if (no == 1 && (strcmp(line, "schema") || strcmp(rest, "kvmprobe.migrate-state/1")))
			bad_state(path, no, "not a kvmprobe.migrate-state/1 file");
		if (!strcmp(line, "kernel")) {
			snprintf(s->kernel, sizeof(s->kernel), "%s", rest);
		} else if (!strcmp(line, "tsc_khz")) {
			s->tsc_khz = strncmp(rest, "error", 5) ? strtol(rest, NULL, 10) : -1;
		} else if (!strcmp(line, "xcr")) {
			unsigned int xcr;
			unsigned long long val;
			if (sscanf(rest, "%x %llx", &xcr, &val) != 2 || s->xcrs.nr_xcrs >= KVM_MAX_XCRS)
				bad_state(path, no, "bad xcr line");
			s->xcrs.xcrs[s->xcrs.nr_xcrs].xcr = xcr;
			s->xcrs.xcrs[s->xcrs.nr_xcrs].value = val;
			s->xcrs.nr_xcrs++;
		} else if (!strcmp(line, "msr")) {
			add_msr(&s->msrs, &s->nmsrs, rest);
		} else if (!strcmp(line, "feature_msr")) {
			add_msr(&s->features, &s->nfeatures, rest);
		} else if (!strcmp(line, "end")) {
			s->ended = true;
		}
	}
	fclose(f);
	if (!no)
		bad_state(path, 0, "empty file");
	if (!s->ended)
		bad_state(path, no, "no \"end\" line: truncated state file");
}

static int do_restore(const char *path)
{
	struct state s;
	struct vm v = { 0 };
	unsigned int unlisted = 0, rejected = 0, unlisted_accepted = 0, skipped = 0;
	unsigned int listed_rejected = 0, feature_rejected = 0;
	const char *tsc = "none", *xcr = "none";

	read_state(path, &s);
	setup(&v);
	printf("schema kvmprobe.migrate-result/1\n");
	printf("src_kernel %s\n", s.kernel);
	print_common(&v, "dst_");
	printf("dst_msr_index_count %u\n", v.index->nmsrs);
	print_list("dst_msr_index_list", v.index);
	print_list("dst_feature_msr_list", v.features);

	/* TSC rate first, as QEMU does (kvm_arch_init_vcpu(), before any state is put). */
	if (s.tsc_khz < 0) {
		printf("set_tsc_khz unknown skipped\n");
	} else if (ioctl(v.vcpu, KVM_SET_TSC_KHZ, (unsigned long)s.tsc_khz) < 0) {
		printf("set_tsc_khz %ld rejected %s\n", s.tsc_khz, ename(errno));
		tsc = "rejected";
	} else {
		printf("set_tsc_khz %ld accepted %d\n", s.tsc_khz, ioctl(v.vcpu, KVM_GET_TSC_KHZ, 0));
		tsc = "accepted";
	}

	if (!s.xcrs.nr_xcrs) {
		printf("set_xcr none\n");
	} else {
		/* one KVM_SET_XCRS per XCR, so each gets its own answer */
		xcr = "accepted";
		for (unsigned int i = 0; i < s.xcrs.nr_xcrs; i++) {
			struct kvm_xcrs one;
			memset(&one, 0, sizeof(one));
			one.nr_xcrs = 1;
			one.xcrs[0] = s.xcrs.xcrs[i];
			printf("set_xcr 0x%" PRIx32 " 0x%llx ", one.xcrs[0].xcr,
			       (unsigned long long)one.xcrs[0].value);
			if (ioctl(v.vcpu, KVM_SET_XCRS, &one) < 0) {
				printf("rejected %s\n", ename(errno));
				xcr = "rejected";
			} else {
				printf("accepted\n");
			}
		}
	}

	for (unsigned int i = 0; i < s.nmsrs; i++) {
		struct src_msr *m = &s.msrs[i];
		bool listed = in_list(v.index, m->index);
		uint64_t val = m->value;

		unlisted += !listed;
		printf("set_msr 0x%" PRIx32 " ", m->index);
		if (!m->known) {
			printf("unknown %s skipped\n", listed ? "listed" : "unlisted");
			skipped++;
			continue;
		}
		printf("0x%" PRIx64 " %s ", m->value, listed ? "listed" : "unlisted");
		int r = msr_io(v.vcpu, KVM_SET_MSRS, m->index, &val);
		if (r == 1) {
			uint64_t back = 0;
			unlisted_accepted += !listed;
			if (msr_io(v.vcpu, KVM_GET_MSRS, m->index, &back) == 1)
				printf("accepted 0x%" PRIx64 "\n", back);
			else
				printf("accepted rejected\n");
		} else {
			rejected++;
			listed_rejected += listed;
			if (r == 0)
				printf("rejected\n");
			else
				printf("error %s\n", ename(errno));
		}
	}
	for (unsigned int i = 0; i < v.index->nmsrs; i++) {
		bool in_src = false;
		for (unsigned int j = 0; j < s.nmsrs && !in_src; j++)
			in_src = s.msrs[j].index == v.index->indices[i];
		if (!in_src)
			printf("dst_only_msr 0x%" PRIx32 "\n", v.index->indices[i]);
	}

	for (unsigned int i = 0; i < s.nfeatures; i++) {
		struct src_msr *m = &s.features[i];
		uint64_t val = m->value, dst = 0;
		bool listed = in_list(v.features, m->index);

		printf("set_feature_msr 0x%" PRIx32 " ", m->index);
		if (!m->known) {
			printf("unknown %s skipped\n", listed ? "listed" : "unlisted");
			continue;
		}
		printf("0x%" PRIx64 " %s ", m->value, listed ? "listed" : "unlisted");
		int r = msr_io(v.vcpu, KVM_SET_MSRS, m->index, &val);
		if (r == 1) {
			printf("accepted");
		} else {
			feature_rejected++;
			if (r == 0)
				printf("rejected");
			else
				printf("error %s", ename(errno));
		}
		if (listed && msr_io(v.kvm, KVM_GET_MSRS, m->index, &dst) == 1)
			printf(" dst 0x%" PRIx64 "\n", dst);
		else
			printf(" dst unknown\n");
	}

	printf("summary src_listed %u dst_unlisted %u rejected %u unlisted_accepted %u skipped %u "
	       "listed_rejected %u feature_rejected %u tsc %s xcr %s\n",
	       s.nmsrs, unlisted, rejected, unlisted_accepted, skipped, listed_rejected,
	       feature_rejected, tsc, xcr);
	printf("end\n");
	return status;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "save"))
		return do_save();
	if (argc == 3 && !strcmp(argv[1], "restore"))
		return do_restore(argv[2]);
	fprintf(stderr, "usage: migrate_oracle save | migrate_oracle restore STATEFILE\n");
	return 2;
}
