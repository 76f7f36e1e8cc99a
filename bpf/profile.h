/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one definition of every type shared by profile.bpf.c and the Rust side.
 * Rust reads these through the skeleton's generated `types::…` (see src/sample/).
 */
#ifndef PROF_PROFILE_H
#define PROF_PROFILE_H

/* Frames kept per stack: the kernel's PERF_MAX_STACK_DEPTH. */
#define PROF_MAX_STACK_DEPTH 127
#define PROF_TASK_COMM_LEN 16

/* Indices of the per-CPU `stats` array. Every sample that passes the target filter bumps
 * PROF_STAT_SAMPLES exactly once; every way a sample or its stack can be lost has a counter. */
enum prof_stat {
	/* samples that passed the filters: the denominator of every loss */
	PROF_STAT_SAMPLES = 0,
	/* bpf_get_stack() failed (-EFAULT, or another error) for the kernel / user stack */
	PROF_STAT_KSTACK_EFAULT = 1,
	PROF_STAT_KSTACK_ERROR = 2,
	PROF_STAT_USTACK_EFAULT = 3,
	PROF_STAT_USTACK_ERROR = 4,
	/* the stack store was full (-E2BIG) or could not allocate (-ENOMEM) */
	PROF_STAT_KSTACK_NOMEM = 5,
	PROF_STAT_USTACK_NOMEM = 6,
	/* the counts map was full: the whole sample is dropped (the only loss not in `counts`) */
	PROF_STAT_COUNTS_FULL = 7,
	/* a forked child of a target could not be added to the filter */
	PROF_STAT_TARGETS_FULL = 8,
	/* a process event could not be reserved in the ring buffer */
	PROF_STAT_EVENTS_LOST = 9,
	/* process events submitted to the ring buffer (with EVENTS_LOST: the events produced) */
	PROF_STAT_EVENTS_SENT = 10,
	/* samples handed to userspace with a copy of their stack (struct prof_deferred) */
	PROF_STAT_DEFERRED = 11,
	/* samples that could not be handed over (the `deferred` ring buffer was full): walked on
	 * with frame pointers instead */
	PROF_STAT_DEFERRED_FULL = 12,
	/* off-CPU (--off-cpu): blocks shorter than min_block_ns, not counted */
	PROF_STAT_OFFCPU_SHORT = 13,
	/* off-CPU: switch-outs not recorded because the CPU's per-second budget was spent */
	PROF_STAT_OFFCPU_BUDGET = 14,
	/* off-CPU: switch-outs not recorded because `offcpu_start` was full */
	PROF_STAT_OFFCPU_PENDING_FULL = 15,
	/* --cgroup: samples (or switch-outs) of tasks outside the selected cgroups, dropped before
	 * any stack was taken (not in PROF_STAT_SAMPLES, not a loss) */
	PROF_STAT_CGROUP_SKIPPED = 16,
	/* samples of a thread of a process in `python_procs` (a CPython prof found) */
	PROF_STAT_PY_SAMPLES = 17,
	/* of those, threads without a thread state among the interpreter's first
	 * PROF_PY_MAX_THREADS (a thread that never ran Python, or a read that failed on the way) */
	PROF_STAT_PY_NO_THREAD = 18,
	/* a frame could not be read: the frames inner to it are kept */
	PROF_STAT_PY_READ_FAULT = 19,
	/* more than PROF_MAX_STACK_DEPTH Python frames: the innermost are kept */
	PROF_STAT_PY_TRUNCATED = 20,
	/* the stack store was full: the sample is counted without its Python frames */
	PROF_STAT_PY_NOMEM = 21,
	PROF_STAT__COUNT = 22,
};

/* What a count of `counts` measures (prof_sample_key.kind): an on-CPU sample, or nanoseconds
 * a thread spent off the CPU, by the state it left the CPU in. */
enum prof_sample_kind {
	/* one sample of the perf event (the value counts samples) */
	PROF_KIND_ON_CPU = 0,
	/* off the CPU, value in ns: waiting in an interruptible sleep (S: nanosleep, poll, read,
	 * futex) */
	PROF_KIND_OFF_SLEEPING = 1,
	/* uninterruptible (D: disk I/O, some locks, page faults) */
	PROF_KIND_OFF_UNINTERRUPTIBLE = 2,
	/* preempted while runnable: waiting for a CPU */
	PROF_KIND_OFF_PREEMPTED = 3,
	/* stopped or traced (T, t), or another state */
	PROF_KIND_OFF_OTHER = 4,
};

/* What happened to one of a sample's stacks. */
enum prof_stack_status {
	/* the stack is in `stacks` under its content hash */
	PROF_STACK_OK = 0,
	/* no such stack: a sample taken in user mode has no kernel stack, a kernel thread no user
	 * stack, or the stack was not requested (--kernel-only / --user-only) */
	PROF_STACK_EMPTY = 1,
	/* bpf_get_stack() failed: -EFAULT or another error */
	PROF_STACK_FAULT = 2,
	PROF_STACK_ERROR = 3,
	/* the stack store was full */
	PROF_STACK_NOMEM = 4,
	/* the sample went to userspace as a struct prof_deferred: it is not counted in the kernel */
	PROF_STACK_DEFERRED = 5,
};

/* A stack, innermost frame first. Stored in `stacks` keyed by a 64-bit hash of its content, so
 * two different stacks never share an entry (no BPF_F_REUSE_STACKID swaps, no -EEXIST losses). */
struct prof_stack {
	__u32 len;
	__u32 pad;
	__u64 ips[PROF_MAX_STACK_DEPTH];
};

/* How the user stack was walked, and where the walk ended. */
enum prof_unwind_status {
	/* the kernel's frame-pointer walker (bpf_get_stack, --unwind fp): no end reason */
	PROF_UNWIND_KERNEL_FP = 0,
	/* reached the outermost frame: undefined return address, frame pointer 0, or PC 0 */
	PROF_UNWIND_COMPLETE = 1,
	/* a PC without unwind information, and (--unwind dwarf) no fallback, or a frame-pointer
	 * fallback that did not lead up the stack (code without frame pointers) */
	PROF_UNWIND_NO_INFO = 2,
	/* a CFI rule the walker cannot evaluate (DWARF expression, …) */
	PROF_UNWIND_UNSUPPORTED = 3,
	/* reading the return address or a saved register from the user stack failed */
	PROF_UNWIND_READ_FAULT = 4,
	/* more than PROF_MAX_STACK_DEPTH frames */
	PROF_UNWIND_TOO_DEEP = 5,
	/* the next frame was not above the current one (corrupt stack or wrong rule) */
	PROF_UNWIND_BAD_FRAME = 6,
};

/* Key of the in-kernel aggregation: one count per (generation, process and its start, thread,
 * stacks, comm). */
struct prof_sample_key {
	__u32 tgid;
	/* drain generation: userspace flips `gen` and drains the other one, so a count is never
	 * incremented while it is being read and deleted */
	__u32 gen;
	__u64 user_stack;
	__u64 kernel_stack;
	/* the process's start (its leader's start_boottime, ns since boot; 0 without BTF): tells a
	 * process from a later one that reuses its PID */
	__u64 start_time;
	/* the task's cgroup v2 id (the inode number of its directory in the cgroup2 mount) */
	__u64 cgroup_id;
	__u8 user_status;
	__u8 kernel_status;
	__u8 unwind_status; /* enum prof_unwind_status */
	__u8 kind;	    /* enum prof_sample_kind */
	/* the thread sampled (its id in the initial pid namespace) */
	__u32 tid;
	char comm[PROF_TASK_COMM_LEN];
	/* the Python frames of the thread (struct prof_stack of PROF_PY_* words, innermost first)
	 * when python_status is PROF_STACK_OK; PROF_STACK_EMPTY: not a Python process, or a thread
	 * without Python frames */
	__u64 python_stack;
	__u8 python_status; /* enum prof_stack_status */
	__u8 pad2[7];
};

/* Value of `offcpu_start`, keyed by thread id: what a thread switched out with (its key, the
 * stacks in it already stored) and when; counted when the thread runs again. */
struct prof_offcpu_start {
	struct prof_sample_key key;
	__u64 ts;
};

/* Levels of the cgroup hierarchy `--cgroup` can select (the root is level 0): the bits of
 * const volatile cgroup_levels. */
#define PROF_MAX_CGROUP_LEVELS 64

/* How the user stack is walked (const volatile unwind_mode). */
enum prof_unwind_mode {
	/* bpf_get_stack(): the kernel's frame-pointer walker */
	PROF_UNWIND_MODE_FP = 0,
	/* prof's walker: unwind tables where loaded, frame pointers elsewhere */
	PROF_UNWIND_MODE_AUTO = 1,
	/* prof's walker: unwind tables only; a PC without a table ends the stack */
	PROF_UNWIND_MODE_DWARF = 2,
};

/* CFA rule of an unwind row (low 4 bits of prof_unwind_row.kind; the high 4 bits are bits
 * 16-19 of the CFA offset). The return address is always at CFA - 8 (x86_64). */
enum prof_cfa_kind {
	PROF_CFA_NO_INFO = 0,	  /* no CFI here: frame pointers (auto) or stop (dwarf) */
	PROF_CFA_SP = 1,	  /* CFA = SP + 8 * cfa_offset */
	PROF_CFA_FP = 2,	  /* CFA = FP + 8 * cfa_offset */
	PROF_CFA_PLT = 3,	  /* CFA = SP + 8 * cfa_offset (+ 8 when (PC & 15) >= 11) */
	PROF_CFA_END = 4,	  /* return address undefined: outermost frame */
	PROF_CFA_UNSUPPORTED = 5, /* a rule the walker cannot evaluate */
};

/* One row of an unwind table: applies from `pc` (ELF virtual address of the binary) to the next
 * row's pc. A binary's rows are contiguous and sorted in the row index space of `unwind_rows`. */
struct prof_unwind_row {
	__u32 pc;
	__u16 cfa_offset; /* bits 0-15 of the CFA offset, in 8-byte units */
	__u8 kind;	  /* enum prof_cfa_kind | bits 16-19 of the CFA offset << 4 */
	__s8 fp_offset;	  /* caller's FP saved at CFA + 8 * fp_offset; 0: FP unchanged */
};

/* The CFA offset of a row, in 8-byte units (20 bits: up to 8 MiB; rustc's largest frame is
 * 540 KiB). */
#define PROF_ROW_CFA_UNITS(row) ((__u64)(row)->cfa_offset | ((__u64)((row)->kind >> 4) << 16))

/* Rows live in chunks of 2^16 (512 KiB), each its own array map, created by userspace only when
 * a table is stored in it and freed when the last table in it is evicted: the memory grows with
 * the binaries actually mapped. Row index i is entry i & 0xffff of chunk i >> 16. */
#define PROF_ROW_CHUNK_SHIFT 16
#define PROF_ROW_CHUNK_ROWS (1U << PROF_ROW_CHUNK_SHIFT)
/* The most rows: the walker's binary search takes 25 steps. */
#define PROF_MAX_UNWIND_ROWS (1U << 25)

/* first_row of a mapping (with n_rows 0) whose binary's table is being built: a walk that
 * reaches it hands the sample to userspace with a copy of the stack (struct prof_deferred),
 * which finishes the walk once the table is ready. */
#define PROF_ROWS_PENDING 0xffffffffU

/* Executable mappings a process can have in `unwind_mappings`. */
#define PROF_MAX_UNWIND_MAPPINGS 256

/* One executable mapping of a process (an entry of `unwind_mappings`). */
struct prof_unwind_mapping {
	__u64 start;
	__u64 end;
	/* runtime address - ELF virtual address */
	__u64 bias;
	/* the binary's rows in `unwind_rows`; n_rows 0: no table (JIT, vdso, no CFI) */
	__u32 first_row;
	__u32 n_rows;
};

/* Set by the walker in prof_proc_unwind.flags when a PC fell outside every mapping. */
#define PROF_PROC_STALE 1

/* Samples with a PC outside the known mappings handed over per re-read of a process's
 * mappings (see walk_step): enough for the moments between a library being mapped and prof
 * reading the mappings again, few enough that code prof can never place costs little. */
#define PROF_MAX_STALE_HANDOVERS 32

/* Value of `proc_unwind`: the process's mappings are entries [first, first + n) of
 * `unwind_mappings`, sorted by start. */
struct prof_proc_unwind {
	__u32 first;
	__u32 n;
	__u32 flags;
	/* samples handed over since the mappings were written (PROF_MAX_STALE_HANDOVERS) */
	__u32 handed_over;
};

/* Process lifecycle notifications sent through the `events` ring buffer. */
enum prof_event_kind {
	/* the first sample of a process (or the first after it exec'd): capture its mappings now */
	PROF_EVENT_FIRST_SAMPLE = 1,
	/* a process called exec: its old mappings are gone */
	PROF_EVENT_EXEC = 2,
	/* the last thread of a process exited */
	PROF_EVENT_EXIT = 3,
	/* a PC of the process fell outside the mappings loaded for unwinding (dlopen, JIT):
	 * re-read its mappings */
	PROF_EVENT_MAPS_STALE = 4,
};

struct prof_proc_event {
	__u32 kind;
	__u32 tgid;
	/* the thread that was sampled: its /proc/TGID/task/TID/maps outlives an exited leader */
	__u32 tid;
	/* the process's pid in its own (innermost) pid namespace, tgid itself outside containers;
	 * 0: not known (the fallback program without BTF) */
	__u32 ns_pid;
	/* the process's start (its group leader's start_boottime, ns since boot), as in struct
	 * prof_sample_key: with ns_pid, what userspace would otherwise read from /proc/TGID/stat
	 * and status. 0: not known */
	__u64 start_time;
	char comm[PROF_TASK_COMM_LEN];
};

/* Pages of user stack a deferred sample carries: from the page holding the stack pointer of the
 * frame where the kernel's walk stopped, at least 60 KiB above it (perf copies 8 KiB by default; clang and rustc stacks take 16-40 KiB). */
#define PROF_DEFERRED_PAGES 16
#define PROF_DEFERRED_STACK (PROF_DEFERRED_PAGES * 4096)

/* A sample whose user-stack walk reached a binary whose unwind table is being built, sent
 * through the `deferred` ring buffer instead of being counted: userspace continues the walk from
 * (pc, sp, fp) over the copied stack once the table is ready, and counts the sample then. A
 * record is this header followed by the stack_len bytes of stack it copied (struct
 * prof_deferred), not the whole struct: a Python main thread's copy is 8-12 KiB of 64. */
struct prof_deferred_head {
	__u32 tgid;
	__u32 tid;
	/* as in struct prof_sample_key */
	__u64 start_time;
	__u64 cgroup_id;
	char comm[PROF_TASK_COMM_LEN];
	/* registers of the frame the walk stopped at (pc is not in user_ips) */
	__u64 pc;
	__u64 sp;
	__u64 fp;
	/* user address of stack[0] (the page of sp) and the bytes copied (whole pages; a page that
	 * could not be read ends the copy) */
	__u64 stack_base;
	__u32 stack_len;
	/* frames walked in the kernel, innermost first, and the kernel stack */
	__u32 user_len;
	__u32 kernel_len;
	__u8 kernel_status; /* enum prof_stack_status */
	/* frame-pointer steps to a lower address taken so far (see PROF_MAX_FP_DOWN) */
	__u8 fp_down;
	__u8 pad[2];
	/* the thread's Python frames (PROF_PY_* words, innermost first; 0: none) */
	__u32 python_len;
	__u32 pad2;
	__u64 user_ips[PROF_MAX_STACK_DEPTH];
	__u64 kernel_ips[PROF_MAX_STACK_DEPTH];
	__u64 python_ips[PROF_MAX_STACK_DEPTH];
};

/* A deferred record at its largest: the header and every page of stack it can carry. */
struct prof_deferred {
	struct prof_deferred_head head;
	__u8 stack[PROF_DEFERRED_STACK];
};

/* Python frames (CPython 3.10 to 3.13). The offsets of the interpreter's structures for one
 * version, set by userspace per process (src/python/offsets.rs holds one entry per version). */
enum prof_py_flags {
	/* tstate_frame points at a _PyCFrame whose current_frame (at cframe_current_frame) is
	 * the frame (3.11, 3.12); else at the frame (3.10 frame, 3.13 current_frame) */
	PROF_PY_CFRAME = 1,
	/* frame_instr is a pointer into the code object (at code_adaptive), else a 32-bit index
	 * of code units (3.10 f_lasti) */
	PROF_PY_INSTR_POINTER = 2,
	/* the byte at frame_entry is non-zero in entry frames (3.11 is_entry) */
	PROF_PY_ENTRY_BYTE = 4,
	/* the byte at frame_entry is PROF_PY_OWNED_BY_CSTACK in the shim frame below each
	 * evaluation's first frame (3.12, 3.13 owner) */
	PROF_PY_ENTRY_SHIM = 8,
	/* tstate_thread_id holds the pthread_t (the thread's fsbase; 3.10), else the thread's id
	 * in its pid namespace (native_thread_id) */
	PROF_PY_MATCH_PTHREAD = 16,
	/* neither ENTRY flag: every frame is its own evaluation (3.10) */
};

/* 3.12, 3.13 FRAME_OWNED_BY_CSTACK. */
#define PROF_PY_OWNED_BY_CSTACK 3

/* Thread states the walker looks through for the sampled thread's (then cached per thread). */
#define PROF_PY_MAX_THREADS 256

/* Byte offsets of the fields the walker reads (see src/python/offsets.rs for each). */
struct prof_py_offsets {
	__u16 runtime_interpreters_head;
	__u16 interp_threads_head;
	__u16 tstate_next;
	__u16 tstate_thread_id;
	__u16 tstate_frame;
	__u16 cframe_current_frame;
	__u16 frame_code;
	__u16 frame_previous;
	__u16 frame_instr;
	__u16 frame_entry;
	__u16 code_adaptive;
	__u16 flags; /* enum prof_py_flags */
};

/* Value of `python_procs`, keyed by tgid: where the interpreter's _PyRuntime is and how its
 * version lays out what the walker reads. */
struct prof_py_proc {
	__u64 runtime;
	struct prof_py_offsets offsets;
};

/* Value of `python_threads`, keyed by thread id: the thread state found for the thread (the
 * walk re-checks that it still names the thread). */
struct prof_py_thread {
	__u64 tstate;
	__u64 runtime;
	__u32 tgid;
	__u32 pad;
};

/* One Python frame in a stack: bit 63 set (no user address has it), the instruction index in
 * code units at bits 48-62 (saturated at PROF_PY_INDEX_MAX), the code object's address in
 * bits 1-47 (objects are 16-byte aligned) and bit 0 set for an evaluation's entry frame. */
enum prof_py_word {
	PROF_PY_ENTRY_BIT = 1,
	PROF_PY_INDEX_SHIFT = 48,
	PROF_PY_INDEX_MAX = 0x7fff,
	PROF_PY_MARK_SHIFT = 63,
};

/* Bytes of a Python frame the walker reads in one copy: every field it reads is within them
 * in 3.10-3.13 (the furthest, 3.10's f_lasti, ends at 100; src/python/offsets.rs checks each
 * version). One copy instead of four reads per frame; a frame whose copy fails (its end
 * unmapped) is read field by field. */
enum prof_py_frame {
	PROF_PY_FRAME_BYTES = 104,
};

#endif /* PROF_PROFILE_H */
