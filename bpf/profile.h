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
	PROF_STAT__COUNT = 10,
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
};

/* A stack, innermost frame first. Stored in `stacks` keyed by a 64-bit hash of its content, so
 * two different stacks never share an entry (no BPF_F_REUSE_STACKID swaps, no -EEXIST losses). */
struct prof_stack {
	__u32 len;
	__u32 pad;
	__u64 ips[PROF_MAX_STACK_DEPTH];
};

/* Key of the in-kernel aggregation: one count per (generation, process, stacks, comm). */
struct prof_sample_key {
	__u32 tgid;
	/* drain generation: userspace flips `gen` and drains the other one, so a count is never
	 * incremented while it is being read and deleted */
	__u32 gen;
	__u64 user_stack;
	__u64 kernel_stack;
	__u8 user_status;
	__u8 kernel_status;
	__u8 pad[6];
	char comm[PROF_TASK_COMM_LEN];
};

/* Process lifecycle notifications sent through the `events` ring buffer. */
enum prof_event_kind {
	/* the first sample of a process (or the first after it exec'd): capture its mappings now */
	PROF_EVENT_FIRST_SAMPLE = 1,
	/* a process called exec: its old mappings are gone */
	PROF_EVENT_EXEC = 2,
	/* the last thread of a process exited */
	PROF_EVENT_EXIT = 3,
};

struct prof_proc_event {
	__u32 kind;
	__u32 tgid;
	/* the thread that was sampled: its /proc/TGID/task/TID/maps outlives an exited leader */
	__u32 tid;
	__u32 pad;
	char comm[PROF_TASK_COMM_LEN];
};

#endif /* PROF_PROFILE_H */
