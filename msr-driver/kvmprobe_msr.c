// SPDX-License-Identifier: GPL-2.0
/*
 * kvmprobe companion module: /dev/kvmprobe
 *
 * One misc device (mode 0600) whose ioctls read, on one CPU per call, what
 * /dev/cpu/N/msr cannot give cheaply: a batch of MSRs in one cross-CPU
 * call, CR0/CR4/EFER/XCR0 and the VMX/SVM control MSR, and the kernel's
 * own tsc_khz. The only write is a guarded read-modify-write of the bits
 * that firmware or the kernel itself programs at boot to enable VMX/SVM
 * (IA32_FEATURE_CONTROL set-only bits, VM_CR.SVMDIS clear-only), with a
 * read-back. The ABI and its errnos are documented in
 * include/uapi/kvmprobe.h.
 *
 * Modelled on arch/x86/kernel/msr.c: CAP_SYS_RAWIO at open and again on
 * every ioctl, per-CPU work on the target CPU through
 * smp_call_function_single() with the _safe MSR accessors (a #GP becomes
 * a status, never an oops), writes fenced by kernel lockdown, a log line
 * naming the caller for every write, and TAINT_CPU_OUT_OF_SPEC.
 *
 * Writes are off unless the module is loaded with allow_writes=1 (the
 * kvmprobe-enable-vmx unit and `kvmprobe driver load --allow-writes` do
 * that), so a host that never asked for an MSR write path has none.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/capability.h>
#include <linux/cpumask.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/ratelimit.h>
#include <linux/sched.h>
#include <linux/security.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include <asm/cpufeature.h>
#include <asm/fpu/xcr.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/special_insns.h>
#include <asm/tsc.h>

#include "include/uapi/kvmprobe.h"

static bool kvmprobe_allow_writes;
module_param_named(allow_writes, kvmprobe_allow_writes, bool, 0444);
MODULE_PARM_DESC(allow_writes,
		 "Allow KVMPROBE_IOC_GUARDED_WRITE (default: N, the device is read-only)");

/* One guarded write at a time: two callers must not interleave their read-modify-writes. */
static DEFINE_MUTEX(kvmprobe_write_mutex);

/*
 * READ_MSRS runs on the target CPU with interrupts off; under a hypervisor
 * each RDMSR may exit to it, so a batch is read this many MSRs per call.
 */
#define KVMPROBE_READ_CHUNK 16

/* Status bits that make GUARDED_WRITE return -EIO. */
#define KVMPROBE_GW_FAILED						\
	(KVMPROBE_GW_READ_FAULT | KVMPROBE_GW_WRITE_FAULT |		\
	 KVMPROBE_GW_READBACK_FAULT | KVMPROBE_GW_MISMATCH)

/* Which VMX/SVM control MSR CPU_STATE reads, by the boot CPU's vendor. */
static const struct {
	u8 x86_vendor;
	u32 vendor;
	u32 feat_msr;
} kvmprobe_vendors[] = {
	{ X86_VENDOR_INTEL,   KVMPROBE_VENDOR_INTEL,   KVMPROBE_MSR_FEAT_CTL },
	{ X86_VENDOR_AMD,     KVMPROBE_VENDOR_AMD,     KVMPROBE_MSR_VM_CR },
	{ X86_VENDOR_HYGON,   KVMPROBE_VENDOR_HYGON,   KVMPROBE_MSR_VM_CR },
	{ X86_VENDOR_CENTAUR, KVMPROBE_VENDOR_CENTAUR, KVMPROBE_MSR_FEAT_CTL },
	{ X86_VENDOR_ZHAOXIN, KVMPROBE_VENDOR_ZHAOXIN, KVMPROBE_MSR_FEAT_CTL },
};

/* A chunk of a batch of MSR reads handed to the target CPU. */
struct kvmprobe_batch {
	struct kvmprobe_msr_entry *entries;
	u32 nmsrs;
	u32 nfaulted;
};

/* A guarded write handed to the target CPU. */
struct kvmprobe_write_ctx {
	struct kvmprobe_guarded_write *w;
	u64 lock_bit;
	int err;
};

/* rdmsr on this CPU; nonzero (and *val = 0) if it raised #GP. */
static int kvmprobe_rdmsr(u32 msr, u64 *val)
{
	u32 lo, hi;

	if (rdmsr_safe(msr, &lo, &hi)) {
		*val = 0;
		return -EIO;
	}
	*val = (u64)hi << 32 | lo;
	return 0;
}

static int kvmprobe_wrmsr(u32 msr, u64 val)
{
	return wrmsr_safe(msr, (u32)val, (u32)(val >> 32));
}

static bool kvmprobe_bad_cpu(u32 cpu)
{
	return cpu >= nr_cpu_ids || !cpu_online(cpu);
}

static long kvmprobe_get_version(void __user *argp)
{
	struct kvmprobe_version v;

	memset(&v, 0, sizeof(v));
	v.abi_version = KVMPROBE_ABI_VERSION;
	v.max_msrs = KVMPROBE_MAX_MSRS;
	v.caps = KVMPROBE_CAP_READ_MSRS | KVMPROBE_CAP_CPU_STATE |
		 KVMPROBE_CAP_TSC;
	if (kvmprobe_allow_writes)
		v.caps |= KVMPROBE_CAP_GUARDED_WRITE;
	v.nr_cpu_ids = nr_cpu_ids;

	return copy_to_user(argp, &v, sizeof(v)) ? -EFAULT : 0;
}

/* Runs on the target CPU with interrupts off. */
static void kvmprobe_read_msrs_on_cpu(void *info)
{
	struct kvmprobe_batch *b = info;
	struct kvmprobe_msr_entry *e;

	for (e = b->entries; e < b->entries + b->nmsrs; e++) {
		if (kvmprobe_rdmsr(e->index, &e->value)) {
			e->status = KVMPROBE_MSR_FAULT;
			b->nfaulted++;
		}
	}
}

static long kvmprobe_read_msrs(void __user *argp)
{
	struct kvmprobe_read_msrs req;
	struct kvmprobe_batch b = { };
	struct kvmprobe_msr_entry *entries;
	void __user *uentries;
	size_t size;
	u32 i;
	int err = 0;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	if (req.flags || memchr_inv(req.reserved, 0, sizeof(req.reserved)) ||
	    !req.nmsrs || req.nmsrs > KVMPROBE_MAX_MSRS)
		return -EINVAL;
	if (kvmprobe_bad_cpu(req.cpu))
		return -ENXIO;

	size = array_size(req.nmsrs, sizeof(*b.entries));
	uentries = u64_to_user_ptr(req.entries);
	entries = memdup_user(uentries, size);
	if (IS_ERR(entries))
		return PTR_ERR(entries);
	for (i = 0; i < req.nmsrs; i++) {
		entries[i].status = KVMPROBE_MSR_OK;
		entries[i].value = 0;
	}

	/* Interrupts are off for at most KVMPROBE_READ_CHUNK RDMSRs at a time. */
	for (i = 0; i < req.nmsrs && !err; i += KVMPROBE_READ_CHUNK) {
		b.entries = entries + i;
		b.nmsrs = min_t(u32, req.nmsrs - i, KVMPROBE_READ_CHUNK);
		err = smp_call_function_single(req.cpu,
					       kvmprobe_read_msrs_on_cpu, &b, 1);
		cond_resched();
	}
	req.nfaulted = b.nfaulted;
	if (!err && (copy_to_user(uentries, entries, size) ||
		     copy_to_user(argp, &req, sizeof(req))))
		err = -EFAULT;
	kfree(entries);
	return err;
}

static void kvmprobe_state_msr(struct kvmprobe_cpu_state *s, u32 msr,
			       u64 *val, u32 bit)
{
	if (kvmprobe_rdmsr(msr, val))
		s->fault |= bit;
	else
		s->valid |= bit;
}

/* Runs on the target CPU with interrupts off. */
static void kvmprobe_cpu_state_on_cpu(void *info)
{
	struct kvmprobe_cpu_state *s = info;

	s->cr0 = read_cr0();
	s->cr4 = __read_cr4();
	s->valid |= KVMPROBE_STATE_CR0 | KVMPROBE_STATE_CR4;
	kvmprobe_state_msr(s, MSR_EFER, &s->efer, KVMPROBE_STATE_EFER);
	/* xgetbv raises #UD unless CR4.OSXSAVE is set. */
	if (s->cr4 & X86_CR4_OSXSAVE) {
		s->xcr0 = xgetbv(XCR_XFEATURE_ENABLED_MASK);
		s->valid |= KVMPROBE_STATE_XCR0;
	}
	if (s->feat_msr)
		kvmprobe_state_msr(s, s->feat_msr, &s->feat_value,
				   KVMPROBE_STATE_FEAT);
}

static long kvmprobe_cpu_state(void __user *argp)
{
	struct kvmprobe_cpu_state s;
	unsigned int i;
	u32 cpu;
	int err;

	if (copy_from_user(&s, argp, sizeof(s)))
		return -EFAULT;
	if (s.flags || memchr_inv(s.reserved, 0, sizeof(s.reserved)))
		return -EINVAL;
	if (kvmprobe_bad_cpu(s.cpu))
		return -ENXIO;

	cpu = s.cpu;
	memset(&s, 0, sizeof(s));
	s.cpu = cpu;
	for (i = 0; i < ARRAY_SIZE(kvmprobe_vendors); i++) {
		if (boot_cpu_data.x86_vendor == kvmprobe_vendors[i].x86_vendor) {
			s.vendor = kvmprobe_vendors[i].vendor;
			s.feat_msr = kvmprobe_vendors[i].feat_msr;
			break;
		}
	}

	err = smp_call_function_single(cpu, kvmprobe_cpu_state_on_cpu, &s, 1);
	if (err)
		return err;
	return copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
}

static long kvmprobe_tsc(void __user *argp)
{
	struct kvmprobe_tsc t;

	memset(&t, 0, sizeof(t));
	t.tsc_khz = tsc_khz;
	t.cpu_khz = cpu_khz;
	if (boot_cpu_has(X86_FEATURE_CONSTANT_TSC))
		t.flags |= KVMPROBE_TSC_CONSTANT;
	if (boot_cpu_has(X86_FEATURE_NONSTOP_TSC))
		t.flags |= KVMPROBE_TSC_NONSTOP;
	if (boot_cpu_has(X86_FEATURE_TSC_KNOWN_FREQ))
		t.flags |= KVMPROBE_TSC_KNOWN_FREQ;
	if (boot_cpu_has(X86_FEATURE_TSC_RELIABLE))
		t.flags |= KVMPROBE_TSC_RELIABLE;

	return copy_to_user(argp, &t, sizeof(t)) ? -EFAULT : 0;
}

/* The VMX/SVM control MSR of the boot CPU's vendor; 0 when it has none. */
static u32 kvmprobe_vendor_feat_msr(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(kvmprobe_vendors); i++)
		if (boot_cpu_data.x86_vendor == kvmprobe_vendors[i].x86_vendor)
			return kvmprobe_vendors[i].feat_msr;
	return 0;
}

/*
 * The allow-list: which MSR, which bits, in which direction. Only the
 * vendor's own MSR (0x3a on Intel, Centaur and Zhaoxin; VM_CR on AMD and
 * Hygon): the other one has other bits, or none, at the same index. The
 * lock bit is checked later, on the target CPU, against the value read
 * there.
 */
static int kvmprobe_write_allowed(const struct kvmprobe_guarded_write *w,
				  u64 *lock_bit)
{
	if (w->msr != kvmprobe_vendor_feat_msr())
		return -EPERM;
	switch (w->msr) {
	case KVMPROBE_MSR_FEAT_CTL:
		*lock_bit = KVMPROBE_FEAT_CTL_LOCKED;
		if (w->clear_mask || (w->set_mask & ~KVMPROBE_FEAT_CTL_SETTABLE))
			return -EPERM;
		return 0;
	case KVMPROBE_MSR_VM_CR:
		*lock_bit = KVMPROBE_VM_CR_LOCK;
		if (w->set_mask || (w->clear_mask & ~KVMPROBE_VM_CR_SVMDIS))
			return -EPERM;
		return 0;
	default:
		return -EPERM;
	}
}

/* Runs on the target CPU with interrupts off: read, check lock, write, read back. */
static void kvmprobe_write_on_cpu(void *info)
{
	struct kvmprobe_write_ctx *c = info;
	struct kvmprobe_guarded_write *w = c->w;

	if (kvmprobe_rdmsr(w->msr, &w->old_value)) {
		w->status |= KVMPROBE_GW_READ_FAULT;
		return;
	}
	w->status |= KVMPROBE_GW_READ;
	w->written = (w->old_value | w->set_mask) & ~w->clear_mask;
	if (w->written == w->old_value) {
		w->status |= KVMPROBE_GW_UNCHANGED;
	} else {
		if (w->old_value & c->lock_bit) {
			c->err = -EPERM;
			return;
		}
		if (kvmprobe_wrmsr(w->msr, w->written)) {
			w->status |= KVMPROBE_GW_WRITE_FAULT;
			return;
		}
		w->status |= KVMPROBE_GW_WRITTEN;
	}
	if (kvmprobe_rdmsr(w->msr, &w->readback))
		w->status |= KVMPROBE_GW_READBACK_FAULT;
	else if (w->readback != w->written)
		w->status |= KVMPROBE_GW_READBACK | KVMPROBE_GW_MISMATCH;
	else
		w->status |= KVMPROBE_GW_READBACK;
}

/*
 * Every executed WRMSR is logged: they are few (one per CPU and run) and
 * each one changes the machine. Only faulting writes, which a caller can
 * repeat at will, are rate-limited.
 */
static void kvmprobe_log_write(const struct kvmprobe_guarded_write *w)
{
	static DEFINE_RATELIMIT_STATE(kvmprobe_fault_rs, 30 * HZ, 8);

	if (!(w->status & (KVMPROBE_GW_WRITTEN | KVMPROBE_GW_WRITE_FAULT)))
		return;
	if ((w->status & KVMPROBE_GW_WRITE_FAULT) &&
	    !__ratelimit(&kvmprobe_fault_rs))
		return;
	pr_notice("%s (pid %d) wrote MSR 0x%x on CPU %u: 0x%llx -> 0x%llx, %s 0x%llx\n",
		  current->comm, task_pid_nr(current), w->msr, w->cpu,
		  w->old_value, w->written,
		  (w->status & KVMPROBE_GW_FAILED) ? "FAILED, read back" :
		  "read back", w->readback);
}

static long kvmprobe_guarded_write(struct file *file, void __user *argp)
{
	struct kvmprobe_guarded_write w;
	struct kvmprobe_write_ctx c = { .w = &w };
	int err;

	err = security_locked_down(LOCKDOWN_MSR);
	if (err)
		return err;
	if (!kvmprobe_allow_writes)
		return -EPERM;
	if (!(file->f_mode & FMODE_WRITE))
		return -EBADF;
	if (copy_from_user(&w, argp, sizeof(w)))
		return -EFAULT;
	if (w.flags || memchr_inv(w.reserved, 0, sizeof(w.reserved)) ||
	    !(w.set_mask | w.clear_mask) || (w.set_mask & w.clear_mask))
		return -EINVAL;
	err = kvmprobe_write_allowed(&w, &c.lock_bit);
	if (err)
		return err;
	if (kvmprobe_bad_cpu(w.cpu))
		return -ENXIO;

	w.status = 0;
	w.old_value = 0;
	w.written = 0;
	w.readback = 0;
	if (mutex_lock_killable(&kvmprobe_write_mutex))
		return -EINTR;
	err = smp_call_function_single(w.cpu, kvmprobe_write_on_cpu, &c, 1);
	mutex_unlock(&kvmprobe_write_mutex);
	if (err || c.err)
		return err ? err : c.err;
	/* In process context, not in the IPI: add_taint() may print and take locks. */
	if (w.status & (KVMPROBE_GW_WRITTEN | KVMPROBE_GW_WRITE_FAULT))
		add_taint(TAINT_CPU_OUT_OF_SPEC, LOCKDEP_STILL_OK);
	kvmprobe_log_write(&w);
	if (copy_to_user(argp, &w, sizeof(w)))
		return -EFAULT;
	return (w.status & KVMPROBE_GW_FAILED) ? -EIO : 0;
}

static long kvmprobe_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	/* Again here: the fd may have been passed to a less privileged task. */
	if (!capable(CAP_SYS_RAWIO))
		return -EPERM;

	switch (cmd) {
	case KVMPROBE_IOC_GET_VERSION:
		return kvmprobe_get_version(argp);
	case KVMPROBE_IOC_READ_MSRS:
		return kvmprobe_read_msrs(argp);
	case KVMPROBE_IOC_CPU_STATE:
		return kvmprobe_cpu_state(argp);
	case KVMPROBE_IOC_TSC:
		return kvmprobe_tsc(argp);
	case KVMPROBE_IOC_GUARDED_WRITE:
		return kvmprobe_guarded_write(file, argp);
	default:
		return -ENOTTY;
	}
}

static int kvmprobe_open(struct inode *inode, struct file *file)
{
	if (!capable(CAP_SYS_RAWIO))
		return -EPERM;

	return nonseekable_open(inode, file);
}

static const struct file_operations kvmprobe_fops = {
	.owner = THIS_MODULE,
	.open = kvmprobe_open,
	.unlocked_ioctl = kvmprobe_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice kvmprobe_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = KVMPROBE_DEVICE_NAME,
	.fops = &kvmprobe_fops,
	.mode = 0600,
};

static int __init kvmprobe_init(void)
{
	int err;

	/* The sizes are ABI: they are encoded in the ioctl numbers. */
	BUILD_BUG_ON(sizeof(struct kvmprobe_version) != 56);
	BUILD_BUG_ON(sizeof(struct kvmprobe_msr_entry) != 16);
	BUILD_BUG_ON(sizeof(struct kvmprobe_read_msrs) != 40);
	BUILD_BUG_ON(sizeof(struct kvmprobe_cpu_state) != 96);
	BUILD_BUG_ON(sizeof(struct kvmprobe_tsc) != 32);
	BUILD_BUG_ON(sizeof(struct kvmprobe_guarded_write) != 72);

	if (!boot_cpu_has(X86_FEATURE_MSR))
		return -ENODEV;

	err = misc_register(&kvmprobe_misc);
	if (err) {
		pr_err("cannot register /dev/%s: %d\n", KVMPROBE_DEVICE_NAME, err);
		return err;
	}
	pr_info("/dev/%s ready (ABI %d, writes %s)\n", KVMPROBE_DEVICE_NAME,
		KVMPROBE_ABI_VERSION,
		kvmprobe_allow_writes ? "guarded" : "off");
	return 0;
}
module_init(kvmprobe_init);

static void __exit kvmprobe_exit(void)
{
	misc_deregister(&kvmprobe_misc);
}
module_exit(kvmprobe_exit);

MODULE_DESCRIPTION("kvmprobe: batched MSR/CR reads and guarded VMX/SVM enable writes");
MODULE_LICENSE("GPL");
