// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * prof's sampler: attached to one perf event per online CPU, it records the interrupted task's
 * kernel and user stacks and counts them in the kernel, keyed by (process, its start time, stacks,
 * comm); the start time (CO-RE only, 0 in the fallback) keeps a later process under the same PID
 * apart.
 * Stacks are stored by content hash (like bpftrace's bpf_get_stack path), so unlike a
 * BPF_MAP_TYPE_STACK_TRACE they never collide and never swap. Every loss is counted in `stats`.
 *
 * Built twice. The default object uses CO-RE and BTF-typed tracepoints (it needs the kernel's
 * BTF, /sys/kernel/btf/vmlinux) and walks user stacks with unwind tables. With PROF_NO_BTF it
 * builds the fallback object for kernels without BTF: no CO-RE relocation and no tp_btf, so
 * libbpf never looks for the kernel's BTF. It walks user stacks with frame pointers only
 * (bpf_get_stack), follows forks through the classic task_newtask tracepoint (field offsets
 * read from tracefs by userspace), reports exec through a raw tracepoint, and sends no exit
 * events (userspace polls /proc instead).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#ifndef PROF_NO_BTF
#include <bpf/bpf_core_read.h>
#endif
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
const volatile __u8 unwind_mode = PROF_UNWIND_MODE_FP; /* enum prof_unwind_mode */
/* --cgroup: only tasks in a cgroup of `cgroup_filter` or below one; bit N of cgroup_levels set
 * when a selected cgroup is at level N (the root is level 0), so only those levels are looked
 * up. */
const volatile bool filter_cgroups = false;
const volatile __u64 cgroup_levels = 0;
/* Off-CPU (do_sched_switch): blocks shorter than this are not counted (PROF_STAT_OFFCPU_SHORT),
 * and each CPU records at most offcpu_budget switch-outs a second (0: no limit). */
const volatile __u64 min_block_ns = 0;
const volatile __u32 offcpu_budget = 0;
#ifdef PROF_NO_BTF
/* Offsets of `pid` and `clone_flags` in the task_newtask tracepoint's record (from its tracefs
 * format file: the layout differs between kernels). */
const volatile __u32 newtask_pid_off = 8;
const volatile __u32 newtask_flags_off = 32;
#else
/* Fault injection for tests: when set, the program contains an access the verifier must reject
 * (a map value used without its NULL check), so a rejected load can be tested on any kernel. */
const volatile bool verifier_fault = false;
#endif

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

/* Processes to profile when filter_targets is set: -p PIDs, a spawned command, their children.
 * One entry (unused) when system-wide. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} targets SEC(".maps");

/* --cgroup: the ids of the selected cgroups (value unused). One entry (unused) without it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u8);
} cgroup_filter SEC(".maps");

/* Processes already announced to userspace with PROF_EVENT_FIRST_SAMPLE. Entries are deleted at
 * exit; one the LRU pushes out is announced again (an extra event, nothing lost). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u8);
} announced SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Samples handed to userspace while a table they need is being built (struct prof_deferred).
 * Sized by userspace before load (one page when tables are not used). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 2 * 1024 * 1024);
} deferred SEC(".maps");

/* Where send_deferred builds a record before copying its used part into `deferred`, one per
 * CPU (indexed by CPU: a struct prof_deferred is too big for a per-CPU array). Sized to the
 * CPUs sampled (up to the highest online CPU id) by userspace before load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct prof_deferred);
} deferred_scratch SEC(".maps");

/* One chunk of unwind rows (see PROF_ROW_CHUNK_SHIFT); userspace creates each and writes it
 * through mmap. */
struct unwind_row_chunk {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, PROF_ROW_CHUNK_ROWS);
	__type(key, __u32);
	__type(value, struct prof_unwind_row);
};

/* Unwind tables of every loaded binary, back to back in one row index space split into chunks;
 * a chunk no table uses is absent. Sized before load (the most chunks); one when --unwind fp. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct unwind_row_chunk);
} unwind_rows SEC(".maps");

/* Executable mappings of every process with loaded tables, each process's contiguous and
 * sorted (userspace writes them through mmap). Sized before load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct prof_unwind_mapping);
} unwind_mappings SEC(".maps");

/* Per process: where its mappings are in `unwind_mappings`. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct prof_proc_unwind);
} proc_unwind SEC(".maps");

/* Off-CPU: threads of the targets switched out and not yet back, by thread id. Sized by
 * userspace before load; an entry is deleted when its thread runs again or exits. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct prof_offcpu_start);
} offcpu_start SEC(".maps");

/* Off-CPU: each CPU's budget window (the second, since boot) and switch-outs recorded in it. */
struct offcpu_window {
	__u64 second;
	__u64 used;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct offcpu_window);
} offcpu_windows SEC(".maps");

/* Processes running a CPython prof can walk (tgid → where its runtime is, its version's
 * offsets), written by userspace when it captures the process. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct prof_py_proc);
} python_procs SEC(".maps");

/* The thread state of each Python thread sampled, so a sample reads one field to confirm it
 * instead of walking the interpreter's thread list. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct prof_py_thread);
} python_threads SEC(".maps");

/* Scratch stacks per CPU: [0] kernel, [1] user, [2] Python (too large for the BPF stack);
 * [3] the first bytes of the Python frame being read (PROF_PY_FRAME_BYTES). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
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

/* Stores a filled scratch stack under its content hash. Returns its status; *id receives the
 * hash when OK. */
static __always_inline __u8 store_stack(struct prof_stack *t, __u64 *id, __u32 stat_nomem)
{
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

/* Captures one stack with the kernel's walker into the store. */
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
	return store_stack(t, id, stat_nomem);
}

#ifndef PROF_NO_BTF
/* State of one user-stack walk, passed to each bpf_loop step. */
struct walk {
	__u64 pc;
	__u64 sp;
	__u64 fp;
	__u32 tgid;
	__u32 depth;
	/* the process's mappings in `unwind_mappings` (read once per walk); n 0: none loaded */
	__u32 maps_first;
	__u32 maps_n;
	__u8 status;
	__u8 stale_sent;
	/* frame-pointer steps taken to a lower address (onto another stack) so far */
	__u8 fp_down;
	/* 1: a mapping whose table is being built ends the walk (to hand the sample over) */
	__u8 may_defer;
	/* the walk ended there: st.pc, sp, fp are that frame's registers */
	__u8 deferred;
	/* st.pc is the interrupted PC or a return address read by a table's rule */
	__u8 pc_certain;
};

/* Frame-pointer steps per walk that may go to a lower address: a runtime that switches stacks
 * (Go: goroutine stack ↔ system stack in systemstack, mcall, morestack) puts the caller's frame
 * on an unrelated stack. A Go stack crosses one or two switches (systemstack, mcall, morestack,
 * a signal handler's stack); the bound stops garbage that passes the checks from running long. */
#define PROF_MAX_FP_DOWN 4

/* One binary search over `unwind_mappings` (key: start) or `unwind_rows` (key: pc), both
 * sorted: the last entry of [lo, hi) whose key is <= target. Each step is a bpf_loop callback,
 * so the verifier checks one step once instead of every unrolled step of every search with each
 * combination of outcomes (two unrolled 25-step searches per frame exceeded the verifier's
 * 1M-instruction budget on 6.18 kernels). */
struct search {
	__u64 target;
	__u32 lo;
	__u32 hi;
	__u8 rows;   /* 1: unwind_rows, 0: unwind_mappings */
	__u8 failed; /* a lookup inside the range failed */
};

/* Row `idx` of the row index space, or NULL when its chunk is absent. */
static __always_inline struct prof_unwind_row *row_at(__u32 idx)
{
	__u32 chunk = idx >> PROF_ROW_CHUNK_SHIFT;
	void *rows = bpf_map_lookup_elem(&unwind_rows, &chunk);
	if (!rows)
		return 0;
	__u32 off = idx & (PROF_ROW_CHUNK_ROWS - 1);
	return bpf_map_lookup_elem(rows, &off);
}

static long search_step(__u64 index, void *ctx)
{
	struct search *s = ctx;
	if (s->lo >= s->hi)
		return 1;
	__u32 mid = s->lo + (s->hi - s->lo) / 2;
	__u64 key;
	if (s->rows) {
		struct prof_unwind_row *r = row_at(mid);
		if (!r) {
			s->failed = 1;
			return 1;
		}
		key = r->pc;
	} else {
		struct prof_unwind_mapping *m = bpf_map_lookup_elem(&unwind_mappings, &mid);
		if (!m) {
			s->failed = 1;
			return 1;
		}
		key = m->start;
	}
	if (key <= s->target)
		s->lo = mid + 1;
	else
		s->hi = mid;
	return 0;
}

/* Index of the last entry of [first, first + n) whose key is <= target, or -1. 25 steps cover
 * any table the row array can hold (2^25 rows). A global function, verified once on its own
 * for any arguments (see walk_frame). */
__noinline long last_at_or_before(int rows, __u32 first, __u32 n, __u64 target)
{
	struct search s = { .target = target, .lo = first, .hi = first + n, .rows = rows };
	bpf_loop(25, search_step, &s, 0);
	if (s.failed || s.lo == first)
		return -1;
	return (long)s.lo - 1;
}

/* The mapping of the walked process that contains pc. */
static __always_inline struct prof_unwind_mapping *find_mapping(struct walk *st, __u64 pc)
{
	__u32 n = st->maps_n < PROF_MAX_UNWIND_MAPPINGS ? st->maps_n : PROF_MAX_UNWIND_MAPPINGS;
	long idx = last_at_or_before(false, st->maps_first, n, pc);
	if (idx < 0)
		return 0;
	__u32 key = idx;
	struct prof_unwind_mapping *m = bpf_map_lookup_elem(&unwind_mappings, &key);
	return m && pc < m->end ? m : 0;
}

/* The row of a binary's table ([first, first + n)) that covers vaddr, or NULL. */
static __always_inline struct prof_unwind_row *find_row(__u32 first, __u32 n, __u64 vaddr)
{
	if (vaddr > 0xffffffffULL)
		return 0;
	long idx = last_at_or_before(true, first, n, vaddr);
	if (idx < 0)
		return 0;
	return row_at(idx);
}

static void send_event(__u32 kind, __u32 tgid, __u32 tid);

/* Reads the frame st->fp points at (saved frame pointer, return address) when it is a valid
 * frame pointer: 8-byte aligned, readable, and either above the stack pointer or, on a switch to
 * another stack (below it), returning into code of one of the process's known mappings, at most
 * PROF_MAX_FP_DOWN times per walk. Otherwise sets st->status and returns false. */
static __always_inline bool fp_step(struct walk *st, __u64 *fp, __u64 *ra)
{
	bool down = st->fp < st->sp;
	if (st->fp & 7 || (down && (!st->maps_n || st->fp_down >= PROF_MAX_FP_DOWN))) {
		/* not a frame pointer: code built without them */
		st->status = PROF_UNWIND_NO_INFO;
		return false;
	}
	if (bpf_probe_read_user(fp, sizeof(*fp), (void *)st->fp) ||
	    bpf_probe_read_user(ra, sizeof(*ra), (void *)(st->fp + 8))) {
		st->status = down ? PROF_UNWIND_NO_INFO : PROF_UNWIND_READ_FAULT;
		return false;
	}
	if (down) {
		if (*ra == 0 || !find_mapping(st, *ra - 1)) {
			st->status = PROF_UNWIND_NO_INFO;
			return false;
		}
		st->fp_down++;
	}
	return true;
}

/* One frame of the walk: records st->pc, then unwinds to the caller. Returns 1 to stop.
 *
 * A global function, like last_at_or_before: the verifier checks it once, for any walk state,
 * instead of once per state it reaches it with inside the bpf_loop callback (which it repeats
 * until the states converge, with the searches' own loops nested inside). Inlined, the
 * perf-event program took 0.55-0.78 s to verify on 6.18 (184k instructions processed); now
 * 16 ms (12k). */
__noinline int walk_frame(struct walk *st)
{
	if (!st)
		return 1;
	__u32 slot = 1;
	struct prof_stack *t = bpf_map_lookup_elem(&scratch, &slot);
	if (!t)
		return 1;
	__u32 depth = st->depth;
	if (depth >= PROF_MAX_STACK_DEPTH) {
		st->status = PROF_UNWIND_TOO_DEEP;
		return 1;
	}
	__u64 pc = st->pc;
	t->ips[depth] = pc;
	st->depth = depth + 1;
	t->len = depth + 1;

	/* a return address points after the call: look up the call instruction itself */
	__u64 lookup_pc = depth == 0 ? pc : pc - 1;
	struct prof_unwind_row *row = 0;
	__u64 pc_vaddr = 0;
	if (st->maps_n) {
		struct prof_unwind_mapping *m = find_mapping(st, lookup_pc);
		if (m && m->first_row == PROF_ROWS_PENDING && st->may_defer) {
			/* this frame is not recorded: userspace records it when it resumes */
			st->depth = depth;
			st->deferred = 1;
			return 1;
		}
		if (m) {
			if (m->n_rows) {
				pc_vaddr = lookup_pc - m->bias;
				row = find_row(m->first_row, m->n_rows, pc_vaddr);
			}
		} else {
			struct prof_proc_unwind *proc = bpf_map_lookup_elem(&proc_unwind, &st->tgid);
			if (proc && !st->stale_sent && !(proc->flags & PROF_PROC_STALE)) {
				proc->flags |= PROF_PROC_STALE; /* a racing sample at worst sends twice */
				send_event(PROF_EVENT_MAPS_STALE, st->tgid, 0);
			}
			st->stale_sent = 1;
			/* Code mapped since the mappings were read (a library the loader just mapped):
			 * userspace reads them again for the event above, so hand the sample over to
			 * be finished with them, when this PC is certain (the interrupted one, or a
			 * return address a table gave; a frame-pointer step may give garbage), a few
			 * times per re-read. */
			if (proc && st->may_defer && st->pc_certain &&
			    proc->handed_over < PROF_MAX_STALE_HANDOVERS) {
				proc->handed_over++; /* racing samples at worst hand over a few more */
				st->depth = depth;
				st->deferred = 1;
				return 1;
			}
		}
	}

	__u8 kind = row ? (row->kind & 0xf) : PROF_CFA_NO_INFO;
	__u64 cfa, ra = 0, fp = st->fp;
	switch (kind) {
	case PROF_CFA_END:
		st->status = PROF_UNWIND_COMPLETE;
		return 1;
	case PROF_CFA_UNSUPPORTED:
		st->status = PROF_UNWIND_UNSUPPORTED;
		return 1;
	case PROF_CFA_SP:
	case PROF_CFA_FP:
	case PROF_CFA_PLT:
		if (!row)
			return 1;
		st->pc_certain = 1;
		cfa = (kind == PROF_CFA_FP ? st->fp : st->sp) + 8 * PROF_ROW_CFA_UNITS(row);
		if (kind == PROF_CFA_PLT && (pc_vaddr & 15) >= 11)
			cfa += 8;
		if (cfa <= st->sp) {
			st->status = PROF_UNWIND_BAD_FRAME;
			return 1;
		}
		if (bpf_probe_read_user(&ra, sizeof(ra), (void *)(cfa - 8))) {
			st->status = PROF_UNWIND_READ_FAULT;
			return 1;
		}
		if (row->fp_offset &&
		    bpf_probe_read_user(&fp, sizeof(fp), (void *)(cfa + 8 * (__s64)row->fp_offset))) {
			st->status = PROF_UNWIND_READ_FAULT;
			return 1;
		}
		st->sp = cfa;
		st->fp = fp;
		break;
	default: /* no table here */
		if (unwind_mode == PROF_UNWIND_MODE_DWARF) {
			st->status = PROF_UNWIND_NO_INFO;
			return 1;
		}
		if (st->fp == 0) {
			/* the ABI's end of the frame-pointer chain (_start clears it) */
			st->status = PROF_UNWIND_COMPLETE;
			return 1;
		}
		if (!fp_step(st, &fp, &ra))
			return 1;
		st->pc_certain = 0;
		st->sp = st->fp + 16;
		st->fp = fp;
		break;
	}
	if (ra == 0) {
		st->status = PROF_UNWIND_COMPLETE;
		return 1;
	}
	st->pc = ra;
	return 0;
}

/* bpf_loop step of the user-stack walk (a callback must return 0 or 1). */
static long walk_step(__u64 index, void *ctx)
{
	return walk_frame(ctx) ? 1 : 0;
}

/* Hands a sample whose walk stopped at a binary whose table is being built to userspace: the
 * registers of that frame, the frames walked so far, the kernel stack (in scratch slot 0) and a
 * copy of the user stack from the page of the stack pointer up. The record is built in
 * deferred_scratch and only its used part (header and pages copied) goes to the ring buffer.
 * False when the ring buffer is full. */
static __always_inline bool send_deferred(const struct walk *st, const struct prof_sample_key *key,
					  __u32 tid)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct prof_deferred *d = bpf_map_lookup_elem(&deferred_scratch, &cpu);
	if (!d) {
		stat_inc(PROF_STAT_DEFERRED_FULL);
		return false;
	}
	struct prof_deferred_head *h = &d->head;
	h->tgid = key->tgid;
	h->tid = tid;
	h->start_time = key->start_time;
	h->cgroup_id = key->cgroup_id;
	__builtin_memcpy(h->comm, key->comm, sizeof(h->comm));
	h->pc = st->pc;
	h->sp = st->sp;
	h->fp = st->fp;
	h->user_len = st->depth;
	h->kernel_len = 0;
	h->kernel_status = key->kernel_status;
	h->fp_down = st->fp_down;
	h->pad[0] = 0;
	h->pad[1] = 0;
	__u32 slot = 0;
	struct prof_stack *k = bpf_map_lookup_elem(&scratch, &slot);
	if (k && key->kernel_status == PROF_STACK_OK) {
		h->kernel_len = k->len;
		bpf_probe_read_kernel(h->kernel_ips, sizeof(h->kernel_ips), k->ips);
	}
	slot = 1;
	struct prof_stack *u = bpf_map_lookup_elem(&scratch, &slot);
	if (!u || bpf_probe_read_kernel(h->user_ips, sizeof(h->user_ips), u->ips))
		h->user_len = 0;
	/* the Python frames walked before the user stack (walk_python), in scratch slot 2 */
	h->python_len = 0;
	h->pad2 = 0;
	slot = 2;
	struct prof_stack *py = bpf_map_lookup_elem(&scratch, &slot);
	if (py && key->python_status == PROF_STACK_OK &&
	    !bpf_probe_read_kernel(h->python_ips, sizeof(h->python_ips), py->ips))
		h->python_len = py->len;
	h->stack_base = st->sp & ~4095ULL;
	__u32 copied = 0;
#pragma unroll
	for (int i = 0; i < PROF_DEFERRED_PAGES; i++) {
		if (bpf_probe_read_user(d->stack + i * 4096, 4096, (void *)(h->stack_base + i * 4096)))
			break;
		copied += 4096;
	}
	if (copied > PROF_DEFERRED_STACK)
		copied = PROF_DEFERRED_STACK;
	h->stack_len = copied;
	if (bpf_ringbuf_output(&deferred, d, sizeof(*h) + copied, 0)) {
		stat_inc(PROF_STAT_DEFERRED_FULL);
		return false;
	}
	stat_inc(PROF_STAT_DEFERRED);
	return true;
}

/* Walks the user stack of the current task from the user registers (pc, sp, fp) with the unwind
 * tables (and frame pointers where there are none) into the user scratch stack, then stores it.
 * With may_defer, a walk that reaches a binary whose table is being built hands the sample to
 * userspace instead (PROF_STACK_DEFERRED), or, when it cannot, goes on with frame pointers
 * there; without (off-CPU: the weight is only known later), it goes on with frame pointers. */
static __always_inline __u8 walk_user_stack(__u64 pc, __u64 sp, __u64 fp, bool may_defer, __u32 tgid,
					     __u32 tid, const struct prof_sample_key *key, __u64 *id,
					     __u8 *unwind_status)
{
	if (pc == 0)
		return PROF_STACK_EMPTY;
	struct walk st = {};
	st.pc = pc;
	st.sp = sp;
	st.fp = fp;
	st.tgid = tgid;
	st.status = PROF_UNWIND_TOO_DEEP;
	struct prof_proc_unwind *proc = bpf_map_lookup_elem(&proc_unwind, &tgid);
	if (proc) {
		st.maps_first = proc->first;
		st.maps_n = proc->n;
	}
	st.may_defer = may_defer;
	st.pc_certain = 1;
	bpf_loop(PROF_MAX_STACK_DEPTH + 1, walk_step, &st, 0);
	if (st.deferred) {
		if (send_deferred(&st, key, tid))
			return PROF_STACK_DEFERRED;
		st.may_defer = 0;
		st.deferred = 0;
		bpf_loop(PROF_MAX_STACK_DEPTH + 1, walk_step, &st, 0);
	}
	*unwind_status = st.status;

	__u32 slot = 1;
	struct prof_stack *t = bpf_map_lookup_elem(&scratch, &slot);
	if (!t || st.depth == 0)
		return PROF_STACK_ERROR;
	t->len = st.depth;
	return store_stack(t, id, PROF_STAT_USTACK_NOMEM);
}

/* The user stack of the task a perf event interrupted: from the interrupted registers when it
 * was in user mode, else from those saved on entry to the kernel. */
static __always_inline __u8 walk_sampled_stack(struct bpf_perf_event_data *ctx, __u32 tgid, __u32 tid,
					       const struct prof_sample_key *key, __u64 *id,
					       __u8 *unwind_status)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (!task->mm)
		return PROF_STACK_EMPTY;
	__u64 pc, sp, fp;
	/* perf_event context fields must be read whole: cs as the u64 slot it occupies */
	__u64 cs = *(__u64 *)((char *)&ctx->regs + __builtin_offsetof(struct pt_regs, cs));
	if ((cs & 3) == 3) {
		pc = ctx->regs.ip;
		sp = ctx->regs.sp;
		fp = ctx->regs.bp;
	} else {
		/* interrupted in the kernel: the registers saved on entry from user mode */
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
		if (!regs)
			return PROF_STACK_EMPTY;
		pc = BPF_CORE_READ(regs, ip);
		sp = BPF_CORE_READ(regs, sp);
		fp = BPF_CORE_READ(regs, bp);
	}
	/* one call: the walker is inlined, and the verifier checks each copy */
	return walk_user_stack(pc, sp, fp, true, tgid, tid, key, id, unwind_status);
}

/* State of one Python walk, passed to each bpf_loop step. */
struct py_walk {
	struct prof_py_offsets o;
	/* the thread's id as the interpreter recorded it (see PROF_PY_MATCH_PTHREAD) */
	__u64 want;
	/* the thread state looked at (thread search) */
	__u64 tstate;
	/* the frame to record next (frame walk); 0 ends it */
	__u64 frame;
	__u32 depth;
	__u8 found;
	__u8 fault;
	__u8 truncated;
};

static __always_inline int read_u64(__u64 *dst, __u64 addr)
{
	return bpf_probe_read_user(dst, sizeof(*dst), (void *)addr);
}

/* One thread state of the interpreter's list: stops at the sampled thread's. */
static long py_thread_step(__u64 index, void *ctx)
{
	struct py_walk *w = ctx;
	__u64 id = 0;
	if (!w->tstate || read_u64(&id, w->tstate + w->o.tstate_thread_id))
		return 1;
	if (id == w->want) {
		w->found = 1;
		return 1;
	}
	if (read_u64(&w->tstate, w->tstate + w->o.tstate_next))
		w->tstate = 0;
	return 0;
}

/* `size` bytes at offset `off` of the frame at `f`: from the copy of its first bytes `hdr`
 * (NULL: none), else read from the process. Nonzero when they cannot be read. */
static __always_inline int py_frame_field(const struct prof_stack *hdr, __u64 f, __u32 off, void *dst,
					  __u32 size)
{
	if (hdr && off <= PROF_PY_FRAME_BYTES - 8) {
		const __u8 *at = (const __u8 *)hdr->ips + off;
		if (size == 8)
			*(__u64 *)dst = *(const __u64 *)at;
		else if (size == 4)
			*(__u32 *)dst = *(const __u32 *)at;
		else
			*(__u8 *)dst = *at;
		return 0;
	}
	return bpf_probe_read_user(dst, size, (void *)(f + off));
}

/* One frame of the Python walk: records w->frame into scratch slot 2 and moves to its caller;
 * a 3.12+ shim frame is not recorded, it marks the frame recorded before it as an entry. */
static long py_frame_step(__u64 index, void *ctx)
{
	struct py_walk *w = ctx;
	__u32 slot = 2;
	struct prof_stack *t = bpf_map_lookup_elem(&scratch, &slot);
	__u64 f = w->frame, code = 0, prev = 0;
	if (!t || !f)
		return 1;
	slot = 3;
	struct prof_stack *hdr = bpf_map_lookup_elem(&scratch, &slot);
	if (hdr && bpf_probe_read_user(hdr->ips, PROF_PY_FRAME_BYTES, (void *)f))
		hdr = NULL;
	if (py_frame_field(hdr, f, w->o.frame_code, &code, 8) ||
	    py_frame_field(hdr, f, w->o.frame_previous, &prev, 8)) {
		w->fault = 1;
		return 1;
	}
	__u64 entry = 1;
	if (w->o.flags & (PROF_PY_ENTRY_BYTE | PROF_PY_ENTRY_SHIM)) {
		__u8 b = 0;
		if (py_frame_field(hdr, f, w->o.frame_entry, &b, 1)) {
			w->fault = 1;
			return 1;
		}
		if ((w->o.flags & PROF_PY_ENTRY_SHIM) && b == PROF_PY_OWNED_BY_CSTACK) {
			__u32 d = w->depth;
			if (d >= 1 && d <= PROF_MAX_STACK_DEPTH)
				t->ips[d - 1] |= PROF_PY_ENTRY_BIT;
			w->frame = prev;
			return 0;
		}
		entry = (w->o.flags & PROF_PY_ENTRY_BYTE) && b;
	}
	__u64 idx = 0;
	if (w->o.flags & PROF_PY_INSTR_POINTER) {
		__u64 ptr = 0, first = code + w->o.code_adaptive;
		if (py_frame_field(hdr, f, w->o.frame_instr, &ptr, 8)) {
			w->fault = 1;
			return 1;
		}
		/* a frame just pushed points one unit before its first instruction */
		idx = ptr >= first ? (ptr - first) / 2 : 0;
	} else {
		__s32 last = 0;
		if (py_frame_field(hdr, f, w->o.frame_instr, &last, 4)) {
			w->fault = 1;
			return 1;
		}
		idx = last > 0 ? last : 0;
	}
	if (idx > PROF_PY_INDEX_MAX)
		idx = PROF_PY_INDEX_MAX;
	__u32 d = w->depth;
	if (d >= PROF_MAX_STACK_DEPTH) {
		w->truncated = 1;
		return 1;
	}
	__u64 addr = code & ((1ULL << PROF_PY_INDEX_SHIFT) - 1) & ~(__u64)PROF_PY_ENTRY_BIT;
	t->ips[d] = (1ULL << PROF_PY_MARK_SHIFT) | (idx << PROF_PY_INDEX_SHIFT) | addr | entry;
	w->depth = d + 1;
	w->frame = prev;
	return 0;
}

/* The id CPython 3.11+ keeps for a thread (native_thread_id, from gettid): its id in its own
 * pid namespace, which differs from the initial namespace's inside a container. */
static __always_inline __u64 ns_tid(struct task_struct *task)
{
	struct pid *p = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(p, level);
	int nr = 0;
	__u64 at = (__u64)p + bpf_core_field_offset(struct pid, numbers) +
		   (__u64)(level & 31) * bpf_core_type_size(struct upid) + bpf_core_field_offset(struct upid, nr);
	if (bpf_probe_read_kernel(&nr, sizeof(nr), (void *)at))
		return 0;
	return nr;
}

/* The sampled thread's thread state: the cached one when it still names the thread, else the
 * one found in the interpreter's thread list (then cached). 0 when there is none. */
static __always_inline __u64 py_thread_state(struct py_walk *w, const struct prof_py_proc *proc, __u32 tgid,
					     __u32 tid)
{
	struct prof_py_thread *c = bpf_map_lookup_elem(&python_threads, &tid);
	if (c && c->tgid == tgid && c->runtime == proc->runtime) {
		__u64 id = 0;
		if (!read_u64(&id, c->tstate + w->o.tstate_thread_id) && id == w->want)
			return c->tstate;
	}
	__u64 interp = 0;
	if (read_u64(&interp, proc->runtime + w->o.runtime_interpreters_head) || !interp ||
	    read_u64(&w->tstate, interp + w->o.interp_threads_head))
		return 0;
	bpf_loop(PROF_PY_MAX_THREADS, py_thread_step, w, 0);
	if (!w->found)
		return 0;
	struct prof_py_thread fresh = { .tstate = w->tstate, .runtime = proc->runtime, .tgid = tgid };
	bpf_map_update_elem(&python_threads, &tid, &fresh, BPF_ANY);
	return w->tstate;
}

/* Walks the Python frames of the current thread of a process in `python_procs` into the
 * store (its id in *id). PROF_STACK_EMPTY for other processes and for threads without Python
 * frames. A global function, verified once on its own: inlined before the user-stack walk, its
 * outcomes multiplied the states the verifier explores there (loading took three times as
 * long). */
__noinline int walk_python(__u32 tgid, __u32 tid, __u64 *id)
{
	if (!id)
		return PROF_STACK_EMPTY;
	struct prof_py_proc *proc = bpf_map_lookup_elem(&python_procs, &tgid);
	if (!proc)
		return PROF_STACK_EMPTY;
	stat_inc(PROF_STAT_PY_SAMPLES);
	struct py_walk w = {};
	w.o = proc->offsets;
	struct task_struct *task = bpf_get_current_task_btf();
	w.want = (w.o.flags & PROF_PY_MATCH_PTHREAD) ? BPF_CORE_READ(task, thread.fsbase) : ns_tid(task);
	__u64 tstate = py_thread_state(&w, proc, tgid, tid);
	if (!tstate) {
		stat_inc(PROF_STAT_PY_NO_THREAD);
		return PROF_STACK_EMPTY;
	}
	__u64 frame = 0;
	if (read_u64(&frame, tstate + w.o.tstate_frame))
		frame = 0;
	if (frame && (w.o.flags & PROF_PY_CFRAME) && read_u64(&frame, frame + w.o.cframe_current_frame))
		frame = 0;
	w.frame = frame;
	/* shims take a step each: at most one per recorded frame */
	bpf_loop(2 * PROF_MAX_STACK_DEPTH, py_frame_step, &w, 0);
	if (w.fault)
		stat_inc(PROF_STAT_PY_READ_FAULT);
	if (w.truncated)
		stat_inc(PROF_STAT_PY_TRUNCATED);
	__u32 slot = 2;
	struct prof_stack *t = bpf_map_lookup_elem(&scratch, &slot);
	if (!t || w.depth == 0)
		return w.fault ? PROF_STACK_FAULT : PROF_STACK_EMPTY;
	t->len = w.depth;
	return store_stack(t, id, PROF_STAT_PY_NOMEM);
}

#endif /* !PROF_NO_BTF */

static void send_event(__u32 kind, __u32 tgid, __u32 tid)
{
	struct prof_proc_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(PROF_STAT_EVENTS_LOST);
		return;
	}
	e->kind = kind;
	e->tgid = tgid;
	e->tid = tid;
	e->ns_pid = 0;
	e->start_time = 0;
#ifndef PROF_NO_BTF
	/* every event is sent in the context of a task of the process it names */
	struct task_struct *leader = BPF_CORE_READ(bpf_get_current_task_btf(), group_leader);
	e->start_time = BPF_CORE_READ(leader, start_boottime);
	e->ns_pid = ns_tid(leader);
#endif
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	stat_inc(PROF_STAT_EVENTS_SENT);
}

static __always_inline bool is_target(__u32 tgid)
{
	return !filter_targets || bpf_map_lookup_elem(&targets, &tgid);
}

/* True when the current task is in one of the `--cgroup` cgroups or below one (always without
 * --cgroup). Checked before any stack is taken; a task outside is counted in
 * PROF_STAT_CGROUP_SKIPPED. In sched_switch the current task is the one switched out. */
static __always_inline bool in_cgroups(void)
{
	if (!filter_cgroups)
		return true;
	for (int level = 0; level < PROF_MAX_CGROUP_LEVELS; level++) {
		if (!(cgroup_levels & (1ULL << level)))
			continue;
		/* 0: the task's cgroup is above this level, and so above every level left */
		__u64 id = bpf_get_current_ancestor_cgroup_id(level);
		if (id == 0)
			break;
		if (bpf_map_lookup_elem(&cgroup_filter, &id))
			return true;
	}
	stat_inc(PROF_STAT_CGROUP_SKIPPED);
	return false;
}

/* Adds `value` (a sample, or ns off the CPU) to the count of `key`. */
static __always_inline void count_add(const struct prof_sample_key *key, __u64 value)
{
	__u64 *count = bpf_map_lookup_elem(&counts, key);
	if (count) {
		__sync_fetch_and_add(count, value);
		return;
	}
	long err = bpf_map_update_elem(&counts, key, &value, BPF_NOEXIST);
	if (err == -EEXIST) {
		/* another CPU inserted the same key in between */
		count = bpf_map_lookup_elem(&counts, key);
		if (count)
			__sync_fetch_and_add(count, value);
		else
			stat_inc(PROF_STAT_COUNTS_FULL);
	} else if (err) {
		stat_inc(PROF_STAT_COUNTS_FULL);
	}
}

/* Tells userspace about a process the first time one of its threads is recorded. */
static __always_inline void announce(__u32 tgid, __u32 tid)
{
	if (tgid != 0 && !bpf_map_lookup_elem(&announced, &tgid)) {
		__u8 one = 1;
		if (bpf_map_update_elem(&announced, &tgid, &one, BPF_NOEXIST) == 0)
			send_event(PROF_EVENT_FIRST_SAMPLE, tgid, tid);
	}
}

/* A key for the current task with its identity filled in (stacks still to capture). */
static __always_inline void init_key(struct prof_sample_key *key, __u32 tgid, __u32 tid)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->python_status = PROF_STACK_EMPTY;
	key->tgid = tgid;
	key->tid = tid;
	key->gen = gen;
	key->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(key->comm, sizeof(key->comm));
#ifndef PROF_NO_BTF
	if (tgid != 0)
		key->start_time = BPF_CORE_READ(bpf_get_current_task_btf(), group_leader, start_boottime);
#endif
}

SEC("perf_event")
int do_perf_event(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u32 tid = (__u32)id;

	if (skip_idle && tid == 0)
		return 0;
	if (!is_target(tgid) || !in_cgroups())
		return 0;

	stat_inc(PROF_STAT_SAMPLES);
#ifndef PROF_NO_BTF
	if (verifier_fault) {
		__u8 *v = bpf_map_lookup_elem(&targets, &tgid);
		return *v; /* no NULL check: rejected by design */
	}
#endif

	struct prof_sample_key key;
	init_key(&key, tgid, tid);

	key.kernel_status = PROF_STACK_EMPTY;
	if (want_kernel)
		key.kernel_status = capture_stack(ctx, 0, 0, &key.kernel_stack,
						  PROF_STAT_KSTACK_EFAULT, PROF_STAT_KSTACK_ERROR,
						  PROF_STAT_KSTACK_NOMEM);
	key.user_status = PROF_STACK_EMPTY;
	key.unwind_status = PROF_UNWIND_KERNEL_FP;
#ifndef PROF_NO_BTF
	/* before the user stack, so that a sample handed over carries its Python frames too */
	if (want_user && tgid != 0)
		key.python_status = walk_python(tgid, tid, &key.python_stack);
#endif
	if (want_user && tgid != 0) {
		if (unwind_mode == PROF_UNWIND_MODE_FP)
			key.user_status = capture_stack(ctx, 1, BPF_F_USER_STACK, &key.user_stack,
							PROF_STAT_USTACK_EFAULT,
							PROF_STAT_USTACK_ERROR,
							PROF_STAT_USTACK_NOMEM);
#ifndef PROF_NO_BTF
		else
			key.user_status = walk_sampled_stack(ctx, tgid, tid, &key, &key.user_stack,
							     &key.unwind_status);
#endif
	}

	if (key.user_status == PROF_STACK_DEFERRED)
		goto announce;

	count_add(&key, 1);

announce:
	announce(tgid, tid);
	return 0;
}

#ifdef PROF_NO_BTF
#define PROF_CLONE_THREAD 0x00010000

/* A new task, in its parent's context: a new process (not a thread) of a target is a target. */
SEC("tracepoint/task/task_newtask")
int handle_fork(void *ctx)
{
	if (!filter_targets || !follow_forks)
		return 0;
	__u32 ptgid = bpf_get_current_pid_tgid() >> 32;
	__s32 child = 0;
	__u64 flags = 0;
	if (bpf_probe_read_kernel(&child, sizeof(child), (char *)ctx + newtask_pid_off) ||
	    bpf_probe_read_kernel(&flags, sizeof(flags), (char *)ctx + newtask_flags_off))
		return 0;
	if ((flags & PROF_CLONE_THREAD) || child <= 0 || !bpf_map_lookup_elem(&targets, &ptgid))
		return 0;
	__u32 ctgid = child;
	__u8 one = 1;
	if (bpf_map_update_elem(&targets, &ctgid, &one, BPF_ANY))
		stat_inc(PROF_STAT_TARGETS_FULL);
	return 0;
}

/* exec, in the context of the task that called it (now the group leader). */
SEC("raw_tp/sched_process_exec")
int handle_exec(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (!is_target(tgid))
		return 0;
	bpf_map_delete_elem(&announced, &tgid);
	send_event(PROF_EVENT_EXEC, tgid, (__u32)id);
	return 0;
}
#else
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
	__u32 tid = BPF_CORE_READ(p, pid);
	/* off-CPU: a thread that exits never runs again */
	bpf_map_delete_elem(&offcpu_start, &tid);
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


/* Task states (include/linux/sched.h) that say why a task left the CPU. */
#define PROF_TASK_INTERRUPTIBLE 0x1
#define PROF_TASK_UNINTERRUPTIBLE 0x2
#define PROF_TASK_STOPPED 0x4
#define PROF_TASK_TRACED 0x8
#define PROF_TASK_DEAD 0x80
#define PROF_TASK_NOLOAD 0x400

/* Kernel frames of the tracepoint's own call into this program (bpf_trace_run4, the program),
 * left out so that a stack ends in __schedule. */
#define PROF_SWITCH_SKIP 2

/* Why a task left the CPU, from the tracepoint's preempt flag and its state then. */
static __always_inline __u8 offcpu_kind(bool preempt, unsigned int state)
{
	if (preempt || state == 0)
		return PROF_KIND_OFF_PREEMPTED;
	/* TASK_IDLE (uninterruptible but not counted as load) is a kernel thread waiting for
	 * work: a sleep, not I/O */
	if (state & PROF_TASK_UNINTERRUPTIBLE && !(state & PROF_TASK_NOLOAD))
		return PROF_KIND_OFF_UNINTERRUPTIBLE;
	if (state & (PROF_TASK_INTERRUPTIBLE | PROF_TASK_UNINTERRUPTIBLE))
		return PROF_KIND_OFF_SLEEPING;
	return PROF_KIND_OFF_OTHER;
}

/* True when this CPU may record one more switch-out this second (offcpu_budget). */
static __always_inline bool offcpu_within_budget(__u64 now)
{
	if (!offcpu_budget)
		return true;
	__u32 zero = 0;
	struct offcpu_window *w = bpf_map_lookup_elem(&offcpu_windows, &zero);
	if (!w)
		return true;
	__u64 second = now / 1000000000ULL;
	if (w->second != second) {
		w->second = second; /* per-CPU: no other writer */
		w->used = 0;
	}
	if (w->used >= offcpu_budget)
		return false;
	w->used++;
	return true;
}

/* Off-CPU (--off-cpu): on every context switch, the thread switched in gets the time since it
 * was switched out added to the count of the stacks it left with; the thread switched out
 * (current: `prev`), when a target, has its stacks captured and the time noted. */
SEC("tp_btf/sched_switch")
int BPF_PROG(do_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 next_tid = BPF_CORE_READ(next, pid);
	struct prof_offcpu_start *start = bpf_map_lookup_elem(&offcpu_start, &next_tid);
	if (start) {
		__u64 delta = now > start->ts ? now - start->ts : 0;
		if (delta >= min_block_ns) {
			struct prof_sample_key key = start->key;
			key.gen = gen;
			stat_inc(PROF_STAT_SAMPLES);
			count_add(&key, delta);
		} else {
			stat_inc(PROF_STAT_OFFCPU_SHORT);
		}
		bpf_map_delete_elem(&offcpu_start, &next_tid);
	}

	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u32 tid = (__u32)id;
	/* the idle task, and a thread leaving the CPU for the last time */
	if (tid == 0 || prev_state & PROF_TASK_DEAD || !is_target(tgid) || !in_cgroups())
		return 0;
	if (!offcpu_within_budget(now)) {
		stat_inc(PROF_STAT_OFFCPU_BUDGET);
		return 0;
	}

	struct prof_offcpu_start *rec = bpf_map_lookup_elem(&offcpu_start, &tid);
	struct prof_offcpu_start fresh;
	if (!rec) {
		/* a zeroed entry, filled in place below */
		__builtin_memset(&fresh, 0, sizeof(fresh));
		if (bpf_map_update_elem(&offcpu_start, &tid, &fresh, BPF_NOEXIST)) {
			stat_inc(PROF_STAT_OFFCPU_PENDING_FULL);
			return 0;
		}
		rec = bpf_map_lookup_elem(&offcpu_start, &tid);
		if (!rec)
			return 0;
	}
	struct prof_sample_key *key = &rec->key;
	init_key(key, tgid, tid);
	key->kind = offcpu_kind(preempt, prev_state);
	key->kernel_status = PROF_STACK_EMPTY;
	if (want_kernel)
		key->kernel_status = capture_stack(ctx, 0, PROF_SWITCH_SKIP, &key->kernel_stack,
						   PROF_STAT_KSTACK_EFAULT, PROF_STAT_KSTACK_ERROR,
						   PROF_STAT_KSTACK_NOMEM);
	key->user_status = PROF_STACK_EMPTY;
	key->unwind_status = PROF_UNWIND_KERNEL_FP;
	if (want_user && prev->mm) {
		if (unwind_mode == PROF_UNWIND_MODE_FP) {
			key->user_status = capture_stack(ctx, 1, BPF_F_USER_STACK, &key->user_stack,
							 PROF_STAT_USTACK_EFAULT, PROF_STAT_USTACK_ERROR,
							 PROF_STAT_USTACK_NOMEM);
		} else {
			struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(prev);
			if (regs)
				key->user_status = walk_user_stack(BPF_CORE_READ(regs, ip), BPF_CORE_READ(regs, sp),
								   BPF_CORE_READ(regs, bp), false, tgid, tid, key,
								   &key->user_stack, &key->unwind_status);
		}
	}
	rec->ts = bpf_ktime_get_ns();
	announce(tgid, tid);
	return 0;
}

#endif /* PROF_NO_BTF */

/* Unused instances that make libbpf-cargo emit these shared types into the Rust skeleton. */
struct prof_proc_event _prof_proc_event = {};
struct prof_deferred _prof_deferred = {};
enum prof_stat _prof_stat = PROF_STAT_SAMPLES;
enum prof_sample_kind _prof_sample_kind = PROF_KIND_ON_CPU;
struct prof_offcpu_start _prof_offcpu_start = {};
enum prof_stack_status _prof_stack_status = PROF_STACK_OK;
enum prof_event_kind _prof_event_kind = PROF_EVENT_FIRST_SAMPLE;
enum prof_unwind_status _prof_unwind_status = PROF_UNWIND_KERNEL_FP;
enum prof_unwind_mode _prof_unwind_mode = PROF_UNWIND_MODE_FP;
enum prof_cfa_kind _prof_cfa_kind = PROF_CFA_NO_INFO;
struct prof_unwind_row _prof_unwind_row = {};
struct prof_proc_unwind _prof_proc_unwind = {};
struct prof_unwind_mapping _prof_unwind_mapping = {};
struct prof_py_proc _prof_py_proc = {};
struct prof_py_thread _prof_py_thread = {};
enum prof_py_flags _prof_py_flags = PROF_PY_CFRAME;
enum prof_py_word _prof_py_word = PROF_PY_ENTRY_BIT;
enum prof_py_frame _prof_py_frame = PROF_PY_FRAME_BYTES;
