/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kvmprobe companion module: user ABI of /dev/kvmprobe.
 *
 * One misc device, root only (mode 0600). open() and every ioctl need
 * CAP_SYS_RAWIO (-EPERM). The CPU to work on is a field of the argument;
 * each call works on one CPU, in one cross-CPU call, and user space loops
 * over CPUs. All structs are fixed-size, __u32/__u64 only, with explicit
 * padding; reserved fields must be zero on input and are zero on output.
 * Output fields are ignored on input and written in full (zero-filled) on
 * output. The size of each struct is part of its ioctl number, so a
 * changed struct is a new command; KVMPROBE_ABI_VERSION counts changes.
 *
 * Errnos common to every command:
 *   EPERM   caller lacks CAP_SYS_RAWIO
 *   EFAULT  the argument (or a buffer it points to) cannot be copied
 *   ENOTTY  unknown command (including a known one with another size)
 *   EINVAL  nonzero flags/reserved/pad, or an out-of-range count
 *   ENXIO   cpu >= nr_cpu_ids or not online
 *
 * KVMPROBE_IOC_GET_VERSION (struct kvmprobe_version, out)
 *   ABI version, capability bits (KVMPROBE_CAP_*), the largest batch
 *   READ_MSRS accepts, and the kernel's nr_cpu_ids. Never fails but EPERM
 *   and EFAULT.
 *
 * KVMPROBE_IOC_READ_MSRS (struct kvmprobe_read_msrs, in/out)
 *   Reads nmsrs (1..KVMPROBE_MAX_MSRS) MSRs on one CPU with rdmsr_safe,
 *   all in one cross-CPU call. entries is the user address of an array of
 *   nmsrs struct kvmprobe_msr_entry; user space fills in index, the
 *   driver writes back every entry: status KVMPROBE_MSR_OK and value, or
 *   status KVMPROBE_MSR_FAULT (the read raised #GP) and value 0.
 *   nfaulted counts the faulted entries. A faulting MSR is not an error
 *   of the call. Errnos: EINVAL, ENXIO, EFAULT, ENOMEM.
 *
 * KVMPROBE_IOC_CPU_STATE (struct kvmprobe_cpu_state, in/out)
 *   On one CPU: CR0, CR4, EFER, XCR0 (read only when CR4.OSXSAVE is set)
 *   and the vendor's VMX/SVM control MSR: IA32_FEATURE_CONTROL (0x3a) on
 *   Intel, Centaur and Zhaoxin, VM_CR (0xc0010114) on AMD and Hygon, none
 *   otherwise (feat_msr says which). valid has a KVMPROBE_STATE_* bit for
 *   each field that holds a value; fault has one for each MSR whose read
 *   raised #GP. A field with neither bit was not read. Errnos: EINVAL,
 *   ENXIO.
 *
 * KVMPROBE_IOC_TSC (struct kvmprobe_tsc, out)
 *   The kernel's tsc_khz and cpu_khz (the values it calibrated at boot)
 *   and KVMPROBE_TSC_* bits from the boot CPU's feature flags.
 *
 * KVMPROBE_IOC_GUARDED_WRITE (struct kvmprobe_guarded_write, in/out)
 *   A read-modify-write of one allow-listed MSR on one CPU, then a
 *   read-back, all in one cross-CPU call: new = (old | set) & ~clear.
 *   Allowed, and nothing else, on the boot CPU vendor's MSR only:
 *     0x3a (IA32_FEATURE_CONTROL, Intel, Centaur, Zhaoxin): set any of
 *       KVMPROBE_FEAT_CTL_SETTABLE
 *       (bits 0 lock, 1 VMX in SMX, 2 VMX outside SMX, 17 SGX launch
 *       control, 18 SGX, 20 LMCE); clear nothing.
 *     0xc0010114 (VM_CR, AMD, Hygon): clear KVMPROBE_VM_CR_SVMDIS (bit 4);
 *       set nothing.
 *   The file must be open for writing. Refused, in this order:
 *     EPERM   (or the LSM's errno) kernel lockdown (LOCKDOWN_MSR)
 *     EPERM   module loaded without allow_writes=1 (the default is 0)
 *     EBADF   file not opened for writing
 *     EINVAL  flags/reserved nonzero, set and clear both 0 or overlapping
 *     EPERM   another MSR (or the other vendor's), a bit outside the lists
 *             above, or, found on the
 *             target CPU, the MSR is locked (0x3a bit 0, VM_CR bit 3)
 *             and the request would change it
 *     ENXIO   CPU not online
 *   When new equals old nothing is written (KVMPROBE_GW_UNCHANGED).
 *   Otherwise the driver writes, taints the kernel (TAINT_CPU_OUT_OF_SPEC)
 *   and logs the caller's name and pid (faults rate-limited). Writes are
 *   serialised (one at a time, module-wide). Returns 0 only if
 *   every step worked and the read-back equals the value written. Returns
 *   EIO, still copying the struct back, if a step raised #GP
 *   (KVMPROBE_GW_*_FAULT) or the read-back differs from what was written
 *   (KVMPROBE_GW_MISMATCH: the platform ignored the write). old, written
 *   and readback hold what was read/written as status says.
 */
#ifndef _UAPI_KVMPROBE_H
#define _UAPI_KVMPROBE_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define KVMPROBE_ABI_VERSION	1
#define KVMPROBE_DEVICE_NAME	"kvmprobe"	/* /dev/kvmprobe */
#define KVMPROBE_MAX_MSRS	256

/* Capability bits of struct kvmprobe_version.caps */
#define KVMPROBE_CAP_READ_MSRS		(1ULL << 0)
#define KVMPROBE_CAP_CPU_STATE		(1ULL << 1)
#define KVMPROBE_CAP_TSC		(1ULL << 2)
#define KVMPROBE_CAP_GUARDED_WRITE	(1ULL << 3)	/* allow_writes=1 */

struct kvmprobe_version {
	__u32 abi_version;	/* out: KVMPROBE_ABI_VERSION */
	__u32 max_msrs;		/* out: KVMPROBE_MAX_MSRS */
	__u64 caps;		/* out: KVMPROBE_CAP_* */
	__u32 nr_cpu_ids;	/* out: CPU numbers are below this */
	__u32 pad;		/* out: 0 */
	__u64 reserved[4];	/* out: 0 */
};

/* struct kvmprobe_msr_entry.status */
#define KVMPROBE_MSR_OK		0
#define KVMPROBE_MSR_FAULT	1	/* rdmsr raised #GP */

struct kvmprobe_msr_entry {
	__u32 index;		/* in: MSR index */
	__u32 status;		/* out: KVMPROBE_MSR_OK or _FAULT */
	__u64 value;		/* out: value, 0 on fault */
};

struct kvmprobe_read_msrs {
	__u32 cpu;		/* in */
	__u32 nmsrs;		/* in: 1..KVMPROBE_MAX_MSRS */
	__u64 entries;		/* in: user address of nmsrs entries */
	__u32 flags;		/* in: 0 */
	__u32 nfaulted;		/* out: entries with KVMPROBE_MSR_FAULT */
	__u64 reserved[2];	/* in: 0; out: 0 */
};

/* struct kvmprobe_cpu_state.vendor */
#define KVMPROBE_VENDOR_OTHER	0
#define KVMPROBE_VENDOR_INTEL	1
#define KVMPROBE_VENDOR_AMD	2
#define KVMPROBE_VENDOR_HYGON	3
#define KVMPROBE_VENDOR_CENTAUR	4
#define KVMPROBE_VENDOR_ZHAOXIN	5

/* Bits of struct kvmprobe_cpu_state.valid and .fault */
#define KVMPROBE_STATE_CR0	(1U << 0)
#define KVMPROBE_STATE_CR4	(1U << 1)
#define KVMPROBE_STATE_EFER	(1U << 2)
#define KVMPROBE_STATE_XCR0	(1U << 3)
#define KVMPROBE_STATE_FEAT	(1U << 4)	/* feat_value */

#define KVMPROBE_MSR_FEAT_CTL	0x0000003aU	/* IA32_FEATURE_CONTROL */
#define KVMPROBE_MSR_VM_CR	0xc0010114U	/* AMD VM_CR */
#define KVMPROBE_MSR_EFER	0xc0000080U

struct kvmprobe_cpu_state {
	__u32 cpu;		/* in */
	__u32 flags;		/* in: 0 */
	__u32 vendor;		/* out: KVMPROBE_VENDOR_* (boot CPU) */
	__u32 feat_msr;		/* out: 0x3a, 0xc0010114 or 0 (none) */
	__u32 valid;		/* out: KVMPROBE_STATE_* holding a value */
	__u32 fault;		/* out: KVMPROBE_STATE_* whose rdmsr #GP'd */
	__u64 cr0;		/* out */
	__u64 cr4;		/* out */
	__u64 efer;		/* out */
	__u64 xcr0;		/* out: only if CR4.OSXSAVE */
	__u64 feat_value;	/* out: value of feat_msr */
	__u64 reserved[4];	/* in: 0; out: 0 */
};

/* Bits of struct kvmprobe_tsc.flags (boot CPU feature flags) */
#define KVMPROBE_TSC_CONSTANT	(1U << 0)	/* constant_tsc */
#define KVMPROBE_TSC_NONSTOP	(1U << 1)	/* nonstop_tsc */
#define KVMPROBE_TSC_KNOWN_FREQ	(1U << 2)	/* tsc_known_freq */
#define KVMPROBE_TSC_RELIABLE	(1U << 3)	/* tsc_reliable */

struct kvmprobe_tsc {
	__u32 tsc_khz;		/* out: kernel's tsc_khz */
	__u32 cpu_khz;		/* out: kernel's cpu_khz */
	__u32 flags;		/* out: KVMPROBE_TSC_* */
	__u32 pad;		/* out: 0 */
	__u64 reserved[2];	/* out: 0 */
};

/* IA32_FEATURE_CONTROL (0x3a) bits GUARDED_WRITE may set */
#define KVMPROBE_FEAT_CTL_LOCKED		(1ULL << 0)
#define KVMPROBE_FEAT_CTL_VMX_INSIDE_SMX	(1ULL << 1)
#define KVMPROBE_FEAT_CTL_VMX_OUTSIDE_SMX	(1ULL << 2)
#define KVMPROBE_FEAT_CTL_SGX_LC		(1ULL << 17)
#define KVMPROBE_FEAT_CTL_SGX			(1ULL << 18)
#define KVMPROBE_FEAT_CTL_LMCE			(1ULL << 20)
#define KVMPROBE_FEAT_CTL_SETTABLE					\
	(KVMPROBE_FEAT_CTL_LOCKED | KVMPROBE_FEAT_CTL_VMX_INSIDE_SMX |	\
	 KVMPROBE_FEAT_CTL_VMX_OUTSIDE_SMX | KVMPROBE_FEAT_CTL_SGX_LC |	\
	 KVMPROBE_FEAT_CTL_SGX | KVMPROBE_FEAT_CTL_LMCE)

/* AMD VM_CR (0xc0010114) bits */
#define KVMPROBE_VM_CR_LOCK	(1ULL << 3)
#define KVMPROBE_VM_CR_SVMDIS	(1ULL << 4)	/* the only clearable bit */

/* Bits of struct kvmprobe_guarded_write.status */
#define KVMPROBE_GW_READ		(1U << 0)	/* old holds a value */
#define KVMPROBE_GW_WRITTEN		(1U << 1)	/* wrmsr executed */
#define KVMPROBE_GW_READBACK		(1U << 2)	/* readback valid */
#define KVMPROBE_GW_UNCHANGED		(1U << 3)	/* new == old, no write */
#define KVMPROBE_GW_READ_FAULT		(1U << 4)	/* rdmsr #GP */
#define KVMPROBE_GW_WRITE_FAULT		(1U << 5)	/* wrmsr #GP */
#define KVMPROBE_GW_READBACK_FAULT	(1U << 6)	/* rdmsr #GP */
#define KVMPROBE_GW_MISMATCH		(1U << 7)	/* readback != written */

struct kvmprobe_guarded_write {
	__u32 cpu;		/* in */
	__u32 msr;		/* in: 0x3a or 0xc0010114 */
	__u64 set_mask;		/* in: bits to set */
	__u64 clear_mask;	/* in: bits to clear */
	__u32 flags;		/* in: 0 */
	__u32 status;		/* out: KVMPROBE_GW_* */
	__u64 old_value;	/* out: value before */
	__u64 written;		/* out: (old | set) & ~clear */
	__u64 readback;		/* out: value after */
	__u64 reserved[2];	/* in: 0; out: 0 */
};

#define KVMPROBE_IOC_MAGIC	0xB9

#define KVMPROBE_IOC_GET_VERSION \
	_IOR(KVMPROBE_IOC_MAGIC, 0x00, struct kvmprobe_version)
#define KVMPROBE_IOC_READ_MSRS \
	_IOWR(KVMPROBE_IOC_MAGIC, 0x01, struct kvmprobe_read_msrs)
#define KVMPROBE_IOC_CPU_STATE \
	_IOWR(KVMPROBE_IOC_MAGIC, 0x02, struct kvmprobe_cpu_state)
#define KVMPROBE_IOC_TSC \
	_IOR(KVMPROBE_IOC_MAGIC, 0x03, struct kvmprobe_tsc)
#define KVMPROBE_IOC_GUARDED_WRITE \
	_IOWR(KVMPROBE_IOC_MAGIC, 0x04, struct kvmprobe_guarded_write)

#endif /* _UAPI_KVMPROBE_H */
