// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * prof's sampler: attached to one perf event per online CPU, it records the interrupted task's
 * kernel and user stacks and counts them in the kernel, keyed by (process, stacks, comm).
 * Stacks are stored by content hash (like bpftrace's bpf_get_stack path), so unlike a
 * BPF_MAP_TYPE_STACK_TRACE they never collide and never swap. Every loss is counted in `stats`.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "profile.h"

#define EFAULT 14
#define EEXIST 17

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set before load. */
const volatile bool filter_targets = false; /* only processes in `targets` */
const volatile bool skip_idle = false;      /* drop the idle task (pid 0) */
const volatile bool want_kernel = true;
const volatile bool want_user = true;
const volatile bool follow_forks = false; /* add children of targets to `targets` */

/* Flipped by userspace before each drain; see struct prof_sample_key. */
volatile __u32 gen = 0;

/* Sized by userspace before load (--stack-map-size and friends). Preallocated: an allocation in
 * interrupt context from a non-preallocated map can fail (-ENOMEM) under a burst of new stacks. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct prof_stack);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct prof_sample_key);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROF_STAT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Processes to profile when filter_targets is set: -p PIDs, a spawned command, their children. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} targets SEC(".maps");

/* Processes already announced to userspace with PROF_EVENT_FIRST_SAMPLE. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, __u8);
} announced SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Two scratch stacks per CPU: [0] kernel, [1] user (too large for the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct prof_stack);
} scratch SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		*v += 1; /* per-CPU: no other writer */
}

static __always_inline __u64 rotl64(__u64 x, int r)
{
	return (x << r) | (x >> (64 - r));
}

/* A 64-bit hash of the frames (murmur3-style mixing, fmix64 finish). Never 0. */
static __always_inline __u64 hash_stack(const struct prof_stack *t)
{
	__u64 h = 0x9e3779b97f4a7c15ULL ^ t->len;
	for (int i = 0; i < PROF_MAX_STACK_DEPTH; i++) {
		if (i >= t->len)
			break;
		__u64 k = t->ips[i] * 0x87c37b91114253d5ULL;
		k = rotl64(k, 31) * 0x4cf5ad432745937fULL;
		h ^= k;
		h = rotl64(h, 27) * 5 + 0x52dce729;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h ? h : 1;
}

/* Captures one stack into the store. Returns its status; *id receives the hash when OK. */
static __always_inline __u8 capture_stack(void *ctx, __u32 slot, __u64 flags, __u64 *id,
					  __u32 stat_fault, __u32 stat_error, __u32 stat_nomem)
{
	struct prof_stack *t = bpf_map_lookup_elem(&scratch, &slot);
	if (!t)
		return PROF_STACK_ERROR;

	long n = bpf_get_stack(ctx, t->ips, sizeof(t->ips), flags);
	if (n < 0) {
		stat_inc(n == -EFAULT ? stat_fault : stat_error);
		return n == -EFAULT ? PROF_STACK_FAULT : PROF_STACK_ERROR;
	}
	if (n == 0)
		return PROF_STACK_EMPTY;
	t->len = n / sizeof(__u64);
	t->pad = 0;

	__u64 h = hash_stack(t);
	long err = bpf_map_update_elem(&stacks, &h, t, BPF_NOEXIST);
	if (err && err != -EEXIST) {
		stat_inc(stat_nomem);
		return PROF_STACK_NOMEM;
	}
	*id = h;
	return PROF_STACK_OK;
}

static __always_inline void send_event(__u32 kind, __u32 tgid, __u32 tid)
{
	struct prof_proc_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(PROF_STAT_EVENTS_LOST);
		return;
	}
	e->kind = kind;
	e->tgid = tgid;
	e->tid = tid;
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

static __always_inline bool is_target(__u32 tgid)
{
	return !filter_targets || bpf_map_lookup_elem(&targets, &tgid);
}

SEC("perf_event")
int do_perf_event(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u32 tid = (__u32)id;

	if (skip_idle && tid == 0)
		return 0;
	if (!is_target(tgid))
		return 0;

	stat_inc(PROF_STAT_SAMPLES);

	struct prof_sample_key key;
	__builtin_memset(&key, 0, sizeof(key));
	key.tgid = tgid;
	key.gen = gen;
	bpf_get_current_comm(key.comm, sizeof(key.comm));

	key.kernel_status = PROF_STACK_EMPTY;
	if (want_kernel)
		key.kernel_status = capture_stack(ctx, 0, 0, &key.kernel_stack,
						  PROF_STAT_KSTACK_EFAULT, PROF_STAT_KSTACK_ERROR,
						  PROF_STAT_KSTACK_NOMEM);
	key.user_status = PROF_STACK_EMPTY;
	if (want_user && tgid != 0)
		key.user_status = capture_stack(ctx, 1, BPF_F_USER_STACK, &key.user_stack,
						PROF_STAT_USTACK_EFAULT, PROF_STAT_USTACK_ERROR,
						PROF_STAT_USTACK_NOMEM);

	__u64 *count = bpf_map_lookup_elem(&counts, &key);
	if (count) {
		__sync_fetch_and_add(count, 1);
	} else {
		__u64 one = 1;
		long err = bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
		if (err == -EEXIST) {
			/* another CPU inserted the same key in between */
			count = bpf_map_lookup_elem(&counts, &key);
			if (count)
				__sync_fetch_and_add(count, 1);
			else
				stat_inc(PROF_STAT_COUNTS_FULL);
		} else if (err) {
			stat_inc(PROF_STAT_COUNTS_FULL);
		}
	}

	if (tgid != 0 && !bpf_map_lookup_elem(&announced, &tgid)) {
		__u8 one = 1;
		if (bpf_map_update_elem(&announced, &tgid, &one, BPF_NOEXIST) == 0)
			send_event(PROF_EVENT_FIRST_SAMPLE, tgid, tid);
	}
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	if (!filter_targets || !follow_forks)
		return 0;
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	if (ptgid == ctgid || !bpf_map_lookup_elem(&targets, &ptgid))
		return 0;
	__u8 one = 1;
	if (bpf_map_update_elem(&targets, &ctgid, &one, BPF_ANY))
		stat_inc(PROF_STAT_TARGETS_FULL);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	if (!is_target(tgid))
		return 0;
	/* the next sample announces the new image; capture what is mapped already */
	bpf_map_delete_elem(&announced, &tgid);
	send_event(PROF_EVENT_EXEC, tgid, BPF_CORE_READ(p, pid));
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	/* only the last thread of the group: signal->live was decremented before this tracepoint */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	/* a reused PID must not inherit the filter */
	if (filter_targets)
		bpf_map_delete_elem(&targets, &tgid);
	if (!bpf_map_lookup_elem(&announced, &tgid))
		return 0;
	bpf_map_delete_elem(&announced, &tgid);
	send_event(PROF_EVENT_EXIT, tgid, BPF_CORE_READ(p, pid));
	return 0;
}

/* Unused instances that make libbpf-cargo emit these shared types into the Rust skeleton. */
struct prof_proc_event _prof_proc_event = {};
enum prof_stat _prof_stat = PROF_STAT_SAMPLES;
enum prof_stack_status _prof_stack_status = PROF_STACK_OK;
enum prof_event_kind _prof_event_kind = PROF_EVENT_FIRST_SAMPLE;
