//! Sampling: one perf event per online CPU drives the BPF program in
//! `bpf/profile.bpf.c`, which counts (process, user stack, kernel stack, comm) in the kernel.
//! [`Sampler`] loads and attaches it, forwards process notifications, and drains the maps.
//!
//! This is the only module that touches BPF types or `unsafe`. This file holds the sampler and
//! what it hands out; `options` what it is asked to do, `start` loading and attaching,
//! `drain` reading the counts back, `error` what can go wrong.

pub mod cpus;
pub mod deferred;
mod drain;
mod error;
mod exit_poll;
mod hotplug;
pub mod kernel;
mod open_files;
mod options;
pub mod perf_events;
pub mod privileges;
mod programs;
pub mod python_maps;
pub mod row_chunks;
mod skel;
pub mod spawn;
mod start;
pub mod tracefs;
pub mod unwind_maps;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use libbpf_rs::{Link, MapCore, MapFlags, RingBuffer};

pub use crate::profile::EventKind;
use error::bpf_err;
pub use error::SampleError;
pub use options::{
    auto_map_size, events_buffer_bytes, OffCpuOptions, SamplerOptions, Targets, DEFAULT_EVENTS_BUFFER,
    DEFAULT_MIN_BLOCK_NS, DEFAULT_OFF_CPU_BUDGET, DEFAULT_UNWIND_ROWS, MIN_AUTO_MAP_SIZE, MIN_EVENTS_BUFFER,
    OFF_CPU_PENDING, UNWIND_MAPPING_SLOTS,
};
pub use programs::{kernel_btf_available, VerifiedProgram, KERNEL_BTF};
use skel::types;
pub use start::FAULT_INJECT_ENV;

use crate::profile::unwind::{UnwindMode, UnwindStatus};
use crate::profile::{LossReason, Losses, ThreadState};
use crate::unwind::{ProcMapping, UnwindRow};

// SAFETY: these are plain C structs from bpf/profile.h made only of integers and arrays of
// integers; every bit pattern is a valid value.
unsafe impl plain::Plain for types::prof_sample_key {}
// SAFETY: as above.
unsafe impl plain::Plain for types::prof_stack {}
// SAFETY: as above.
unsafe impl plain::Plain for types::prof_proc_event {}
// SAFETY: as above (a prof_sample_key and a u64).
unsafe impl plain::Plain for types::prof_offcpu_start {}

const _: () = assert!(std::mem::size_of::<types::prof_sample_key>() == 80);
const _: () = assert!(std::mem::size_of::<types::prof_stack>() == 8 + 8 * MAX_STACK_DEPTH);
const _: () = assert!(std::mem::size_of::<types::prof_proc_event>() == 40);
const _: () = assert!(std::mem::size_of::<types::prof_offcpu_start>() == 88);

/// Frames kept per stack (`PROF_MAX_STACK_DEPTH` in bpf/profile.h).
pub const MAX_STACK_DEPTH: usize = 127;

/// What became of one stack of a sample.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StackRef {
    /// The addresses, innermost first.
    Frames(Arc<[u64]>),
    /// No such stack (user-mode sample has no kernel stack, kernel thread has no user stack,
    /// or the stack was not requested).
    Empty,
    /// The stack was lost; the sample is kept with a placeholder frame.
    Missing(LossReason),
}

/// One drained in-kernel count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawCount {
    /// Process id (tgid); 0 for the idle task.
    pub tgid: u32,
    /// The process's start in clock ticks since boot (as field 22 of `/proc/PID/stat`); 0 when
    /// unknown (no BTF). Tells the process from a later one under the same PID.
    pub start: u64,
    /// Thread id (0 for the idle task).
    pub tid: u32,
    /// The task's cgroup v2 id (the inode number of its directory in the cgroup2 mount).
    pub cgroup: u64,
    /// Thread name.
    pub comm: String,
    /// User stack.
    pub user: StackRef,
    /// Kernel stack.
    pub kernel: StackRef,
    /// Samples.
    pub count: u64,
    /// How the user stack's walk ended.
    pub unwind: UnwindStatus,
    /// None for on-CPU samples; for off-CPU time (`count` in ns), why the thread waited.
    pub state: Option<ThreadState>,
    /// The thread's Python frames, innermost first, as words of `enum prof_py_word` (decoded
    /// by [`python_maps::decode_frame`]); [`StackRef::Empty`] outside Python.
    pub python: StackRef,
}

/// A process lifecycle notification from the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProcEvent {
    /// First sample of a process (or first after exec): capture its mappings now.
    FirstSample {
        /// Process.
        tgid: u32,
        /// Sampled thread (its maps outlive an exited group leader).
        tid: u32,
        /// Its start time and namespace pid, from the kernel.
        known: crate::process::Known,
    },
    /// A process called exec.
    Exec {
        /// Process.
        tgid: u32,
        /// Its start time and namespace pid, from the kernel.
        known: crate::process::Known,
    },
    /// The last thread of a process exited.
    Exit {
        /// Process.
        tgid: u32,
    },
    /// A sampled PC fell outside the mappings loaded for unwinding (dlopen, new JIT code):
    /// re-read the process's mappings.
    MapsStale {
        /// Process.
        tgid: u32,
        /// Its start time and namespace pid, from the kernel.
        known: crate::process::Known,
    },
}

/// Kernel-side counters: samples taken and losses by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Samples that passed the target filter.
    pub samples: u64,
    /// Losses by reason.
    pub losses: Losses,
    /// Process notifications the kernel put in the ring buffer; with
    /// [`LossReason::EventsLost`], the notifications produced.
    pub events_sent: u64,
    /// Samples handed to userspace because their walk reached a table being built.
    pub handed_over: u64,
    /// Samples that could not be handed over (the buffer was full) and were walked on with
    /// frame pointers.
    pub handover_full: u64,
    /// `--cgroup`: samples (or switch-outs) of tasks in other cgroups, dropped before any
    /// stack was taken.
    pub cgroup_skipped: u64,
    /// How the Python walks went.
    pub python: PythonStats,
}

/// The kernel's counters of Python walks (`PROF_STAT_PY_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PythonStats {
    /// Samples of threads of a Python process.
    pub samples: u64,
    /// Of those, threads without a thread state (never ran Python, or not found).
    pub no_thread: u64,
    /// Walks that stopped at a frame they could not read (the frames before it kept).
    pub read_fault: u64,
    /// Walks cut at the most frames a stack holds.
    pub truncated: u64,
    /// Python stacks the full stack store could not take.
    pub store_full: u64,
}

/// Gives freed heap memory back to the kernel (every glibc arena, the unwind-table builder
/// thread's included): glibc otherwise keeps freed pages, and a days-long recording that once
/// symbolized a large binary or built a large unwind table would keep that RSS.
pub fn trim_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks glibc's own heap bookkeeping; no pointers are passed.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// `uname -r` of the running kernel.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// For the fallback object: watches the processes `events` announce and returns an exit event
/// for each watched process found gone, deleting its filter and announcement entries (a reused
/// PID must be announced again and must not inherit the filter).
fn polled_exits(poll: &mut exit_poll::ExitPoll, programs: &programs::Programs, events: &[ProcEvent]) -> Vec<ProcEvent> {
    for ev in events {
        if let ProcEvent::FirstSample { tgid, .. } | ProcEvent::Exec { tgid, .. } = ev {
            poll.watch(*tgid);
        }
    }
    poll.exited(false)
        .into_iter()
        .map(|tgid| {
            let _ = programs.announced().delete(&tgid.to_ne_bytes());
            let _ = programs.targets().delete(&tgid.to_ne_bytes());
            ProcEvent::Exit { tgid }
        })
        .collect()
}

/// A loaded and attached sampler.
pub struct Sampler {
    // Field order is drop order: detach and free the ring buffer before the object.
    per_cpu: hotplug::PerCpu,
    /// The event and hand-over ring buffers as prof maps them (None after
    /// [`Sampler::release_buffers`]).
    ringbuf: Option<RingBuffer<'static>>,
    pending_events: Rc<RefCell<Vec<ProcEvent>>>,
    pending_deferred: Rc<RefCell<Vec<deferred::DeferredSample>>>,
    _tracepoints: Vec<Link>,
    /// Off-CPU: the `sched_switch` program (no per-CPU events then), and the CPUs online at start.
    switch_link: Option<Link>,
    switch_cpus: Vec<u32>,
    /// Off-CPU time is recorded (`--off-cpu` or `--wall`).
    off_cpu: bool,
    /// `--wall`: the sampling period in ns, each on-CPU sample's weight.
    wall_period_ns: Option<u64>,
    /// Off-CPU: stacks named by threads still off the CPU (their time is counted when they run
    /// again, maybe many drains later), from the last drain and the one before; see
    /// [`Sampler::pin_pending_stacks`].
    pinned: HashMap<u64, Arc<[u64]>>,
    pinned_prev: HashMap<u64, Arc<[u64]>>,
    /// Exits found by polling /proc (the fallback object has no exit events).
    exit_poll: Option<exit_poll::ExitPoll>,
    programs: programs::Programs,
    event: EventKind,
    notes: Vec<String>,
    /// The loaded sampling programs and the verifier's work on each.
    verified: Vec<VerifiedProgram>,
    /// Stacks swept from the kernel in this drain and the previous one. A count drained now can
    /// only name a stack swept in this drain or the one before (it was in the kernel map when
    /// sampled, and at most one sweep can have removed it since), so two generations suffice and
    /// memory stays bounded however long the recording runs.
    stacks: HashMap<u64, Arc<[u64]>>,
    stacks_prev: HashMap<u64, Arc<[u64]>>,
    /// Losses found in userspace (hash collisions, stacks missing from the store).
    userspace_losses: Losses,
    /// The kernel's unwind-table rows and process mappings (None with `--unwind fp`).
    rows: Option<row_chunks::RowChunks>,
    mappings: Option<unwind_maps::ArrayMmap<types::prof_unwind_mapping>>,
    /// Which `unwind_mappings` entries each process has.
    mapping_slots: crate::unwind::alloc::RangeAlloc,
    proc_slots: HashMap<u32, (u32, u32)>,
    /// Slots of replaced or exited processes, freed at the next drain (a sample running now may
    /// still read them).
    slots_to_free: Vec<(u32, u32)>,
    unwind: UnwindMode,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("event", &self.event)
            .field("cpus", &self.per_cpu.cpus())
            .finish_non_exhaustive()
    }
}

impl Sampler {
    /// The event that drives sampling.
    pub fn event(&self) -> EventKind {
        self.event
    }

    /// Every CPU sampled at some point of the recording, in order (one that went offline
    /// included; see [`Sampler::check_cpus`]).
    pub fn cpus(&self) -> Vec<u32> {
        if !self.switch_cpus.is_empty() {
            return self.switch_cpus.clone();
        }
        self.per_cpu.cpus()
    }

    /// Follows CPU hotplug since the last call: a CPU that went offline stops being sampled, one
    /// that came (back) online gets a new event and the program again (an event does not survive
    /// its CPU going offline). Returns one note per change, naming the CPU and when; CPUs sampled
    /// for the first time join [`Sampler::cpus`].
    pub fn check_cpus(&mut self) -> Vec<String> {
        self.per_cpu.check(&self.programs)
    }

    /// True until [`Sampler::stop`].
    pub fn is_running(&self) -> bool {
        self.per_cpu.is_running() || self.switch_link.is_some()
    }

    /// Entries of the loaded stack and counts maps.
    pub fn map_sizes(&self) -> (u32, u32) {
        (self.programs.stacks().max_entries(), self.programs.counts().max_entries())
    }

    /// Bytes of the process-notification ring buffer.
    pub fn events_buffer_size(&self) -> u32 {
        self.programs.events().max_entries()
    }

    /// Notes about how sampling was set up (e.g. the fallback to `cpu-clock`).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The loaded sampling programs, each with the instructions the verifier processed to
    /// accept it (what loading time grows with).
    pub fn verified(&self) -> &[VerifiedProgram] {
        &self.verified
    }

    /// How user stacks are walked.
    pub fn unwind_mode(&self) -> UnwindMode {
        self.unwind
    }

    /// Unwind-table rows the kernel can address (0 with `--unwind fp`).
    pub fn unwind_capacity(&self) -> u32 {
        self.rows.as_ref().map_or(0, |r| r.capacity())
    }

    /// Kernel memory of the unwind rows stored now and at the peak (whole chunks of
    /// [`row_chunks::CHUNK_BYTES`]).
    pub fn unwind_row_memory(&self) -> (u64, u64) {
        self.rows.as_ref().map_or((0, 0), |r| (r.bytes(), r.peak_bytes()))
    }

    /// Writes a binary's unwind table into the kernel's rows at `first`, creating the chunks it
    /// needs.
    pub fn write_unwind_rows(&mut self, first: u32, rows: &[UnwindRow]) -> Result<(), row_chunks::ChunkError> {
        let chunks = self.rows.as_mut().ok_or(row_chunks::ChunkError::Off)?;
        chunks.write(self.programs.unwind_rows(), first, rows)
    }

    /// Forgets rows written by [`Sampler::write_unwind_rows`] (their table was evicted); a
    /// chunk left empty is freed.
    pub fn release_unwind_rows(&mut self, first: u32, n: u32) {
        if let Some(chunks) = self.rows.as_mut() {
            chunks.release(self.programs.unwind_rows(), first, n);
        }
    }

    /// Tells the walker where the executable mappings of `tgid` and their tables are (replaces
    /// what it had, and clears the stale flag).
    pub fn set_process_unwind(&mut self, tgid: u32, mappings: &[ProcMapping]) -> Result<(), SampleError> {
        let encoded = unwind_maps::encode_process(mappings);
        let n = encoded.len() as u32;
        let full = || SampleError::Bpf {
            context: format!("no room for the {n} unwind mappings of PID {tgid}"),
            source: libbpf_rs::Error::from(std::io::Error::from_raw_os_error(libc::ENOSPC)),
        };
        let first = self.mapping_slots.alloc(n).ok_or_else(full)?;
        if !self.mappings.as_mut().is_some_and(|m| m.write(first, encoded.into_iter())) {
            self.mapping_slots.release(first, n);
            return Err(full());
        }
        let value = types::prof_proc_unwind { first, n, flags: 0, handed_over: 0 };
        // SAFETY: prof_proc_unwind is four u32s, no padding: every byte is initialized.
        let bytes = unsafe { plain::as_bytes(&value) };
        let result = self
            .programs
            .proc_unwind()
            .update(&tgid.to_ne_bytes(), bytes, MapFlags::ANY)
            .map_err(bpf_err(format!("failed to load the unwind mappings of PID {tgid}")));
        let old = if result.is_ok() { self.proc_slots.insert(tgid, (first, n)) } else { Some((first, n)) };
        self.slots_to_free.extend(old);
        result
    }

    /// Forgets the mappings of `tgid` (it exited).
    pub fn remove_process_unwind(&mut self, tgid: u32) {
        let _ = self.programs.proc_unwind().delete(&tgid.to_ne_bytes());
        if let Some(old) = self.proc_slots.remove(&tgid) {
            self.slots_to_free.push(old);
        }
    }

    /// Tells the kernel's walker that `tgid` runs the CPython `py`: its samples get their
    /// Python frames from now on.
    pub fn set_python_process(&mut self, tgid: u32, py: &crate::python::PythonProcess) -> Result<(), SampleError> {
        let value = python_maps::encode_process(py);
        // SAFETY: prof_py_proc is a u64 and twelve u16s, no padding: every byte is initialized.
        let bytes = unsafe { plain::as_bytes(&value) };
        self.programs
            .python_procs()
            .update(&tgid.to_ne_bytes(), bytes, MapFlags::ANY)
            .map_err(bpf_err(format!("failed to set up the Python walk of PID {tgid}")))
    }

    /// Stops walking the Python frames of `tgid` (it exited, or exec'd something else).
    pub fn remove_python_process(&mut self, tgid: u32) {
        let _ = self.programs.python_procs().delete(&tgid.to_ne_bytes());
    }

    /// Adds a process to the target filter (for a command spawned after the sampler started).
    pub fn add_target(&self, pid: u32) -> Result<(), SampleError> {
        start::add_to_target_filter(&self.programs, pid)
    }

    /// After [`Sampler::stop`] and the last [`Sampler::poll_events`]: unmaps what prof maps of
    /// the kernel's buffers and tables (the event and hand-over ring buffers, whose data the
    /// kernel maps twice, the unwind rows and mappings) and forgets the swept stacks, so that
    /// building the profile does not hold them (8 to 20 MB of resident memory). The kernel
    /// frees the maps themselves when the sampler is dropped. The counters ([`Sampler::stats`])
    /// and map sizes can still be read; the unwind rows' sizes
    /// ([`Sampler::unwind_row_memory`]) read 0 afterwards.
    pub fn release_buffers(&mut self) {
        self.ringbuf = None;
        self.rows = None;
        self.mappings = None;
        self.stacks = HashMap::new();
        self.stacks_prev = HashMap::new();
        self.pinned = HashMap::new();
        self.pinned_prev = HashMap::new();
    }

    /// Waits up to `timeout` for process notifications and returns those that arrived.
    pub fn poll_events(&mut self, timeout: Duration) -> Result<Vec<ProcEvent>, SampleError> {
        let rc = match self.ringbuf.as_ref() {
            Some(rb) => rb.poll_raw(whole_millis(timeout)),
            None => 0,
        };
        // A signal (Ctrl-C) interrupts the wait: not an error, the caller checks its stop flag.
        if rc < 0 && rc != -libc::EINTR {
            return Err(SampleError::Bpf {
                context: "failed to poll the event ring buffer".into(),
                source: libbpf_rs::Error::from(std::io::Error::from_raw_os_error(-rc)),
            });
        }
        let mut events = std::mem::take(&mut *self.pending_events.borrow_mut());
        if let Some(poll) = self.exit_poll.as_mut() {
            events.extend(polled_exits(poll, &self.programs, &events));
        }
        Ok(events)
    }

    /// The samples the kernel handed over (their walk reached a table being built) that
    /// arrived in the last [`Sampler::poll_events`] calls.
    pub fn take_deferred(&mut self) -> Vec<deferred::DeferredSample> {
        std::mem::take(&mut *self.pending_deferred.borrow_mut())
    }

    /// Samples the kernel took of threads of the Python processes it walks (see
    /// [`Sampler::set_python_process`]), so far; 0 when the count cannot be read. One map
    /// lookup: cheap enough to ask ten times a second.
    pub fn python_samples(&self) -> u64 {
        self.read_stat(types::prof_stat::PROF_STAT_PY_SAMPLES).unwrap_or(0)
    }

    /// One of the kernel's counters, summed over the CPUs.
    fn read_stat(&self, stat: types::prof_stat) -> Result<u64, SampleError> {
        let per_cpu = self
            .programs
            .stats()
            .lookup_percpu(&stat.0.to_ne_bytes(), MapFlags::ANY)
            .map_err(bpf_err("failed to read the stats map"))?
            .unwrap_or_default();
        Ok(per_cpu.iter().filter_map(|v| v.get(..8)).map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]))).sum())
    }

    /// Reads the kernel's counters (cumulative since start) plus losses found in userspace.
    pub fn stats(&self) -> Result<KernelStats, SampleError> {
        use types::prof_stat as st;
        let read = |stat: st| self.read_stat(stat);
        let reasons = [
            (st::PROF_STAT_KSTACK_EFAULT, LossReason::KernelStackFault),
            (st::PROF_STAT_KSTACK_ERROR, LossReason::KernelStackError),
            (st::PROF_STAT_USTACK_EFAULT, LossReason::UserStackFault),
            (st::PROF_STAT_USTACK_ERROR, LossReason::UserStackError),
            (st::PROF_STAT_KSTACK_NOMEM, LossReason::KernelStackMapFull),
            (st::PROF_STAT_USTACK_NOMEM, LossReason::UserStackMapFull),
            (st::PROF_STAT_COUNTS_FULL, LossReason::CountsMapFull),
            (st::PROF_STAT_TARGETS_FULL, LossReason::TargetsMapFull),
            (st::PROF_STAT_EVENTS_LOST, LossReason::EventsLost),
            (st::PROF_STAT_OFFCPU_SHORT, LossReason::OffCpuShort),
            (st::PROF_STAT_OFFCPU_BUDGET, LossReason::OffCpuBudget),
            (st::PROF_STAT_OFFCPU_PENDING_FULL, LossReason::OffCpuPendingFull),
        ];
        let samples = read(st::PROF_STAT_SAMPLES)?;
        let events_sent = read(st::PROF_STAT_EVENTS_SENT)?;
        let mut losses = self.userspace_losses.clone();
        for (stat, reason) in reasons {
            let n = read(stat)?;
            if n > 0 {
                *losses.entry(reason).or_default() += n;
            }
        }
        let handed_over = read(st::PROF_STAT_DEFERRED)?;
        let handover_full = read(st::PROF_STAT_DEFERRED_FULL)?;
        let cgroup_skipped = read(st::PROF_STAT_CGROUP_SKIPPED)?;
        let python = PythonStats {
            samples: read(st::PROF_STAT_PY_SAMPLES)?,
            no_thread: read(st::PROF_STAT_PY_NO_THREAD)?,
            read_fault: read(st::PROF_STAT_PY_READ_FAULT)?,
            truncated: read(st::PROF_STAT_PY_TRUNCATED)?,
            store_full: read(st::PROF_STAT_PY_NOMEM)?,
        };
        Ok(KernelStats { samples, losses, events_sent, handed_over, handover_full, cgroup_skipped, python })
    }
}

impl crate::unwind::manager::TableSink for Sampler {
    fn capacity(&self) -> u32 {
        self.unwind_capacity()
    }

    fn write_rows(&mut self, first: u32, rows: &[UnwindRow]) -> Result<(), String> {
        self.write_unwind_rows(first, rows).map_err(|e| crate::error_text::error_chain(&e))
    }

    fn release_rows(&mut self, first: u32, n: u32) {
        self.release_unwind_rows(first, n)
    }

    fn set_process(&mut self, tgid: u32, mappings: &[ProcMapping]) -> Result<(), String> {
        self.set_process_unwind(tgid, mappings).map_err(|e| e.to_string())
    }

    fn remove_process(&mut self, tgid: u32) {
        self.remove_process_unwind(tgid)
    }

    fn read_row(&self, index: u32) -> Option<UnwindRow> {
        self.rows.as_ref()?.read(index)
    }
}

/// `wait` rounded up to whole milliseconds, the unit the ring buffer's poll (epoll) counts in:
/// truncated, a wait of 99.6 ms would end 0.6 ms before the deadline it was computed for, and
/// the caller would spin through the rest with zero-length waits (some 0.5 ms of CPU at every
/// drain, ten times a second while Python processes are drained).
fn whole_millis(wait: Duration) -> Duration {
    let ms = wait.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    /// A wait never ends before its deadline for want of a millisecond: rounded up, never down.
    #[test]
    fn sample_poll_waits_whole_milliseconds_rounded_up() {
        let ms = Duration::from_millis;
        assert_eq!(super::whole_millis(Duration::from_micros(99_600)), ms(100));
        assert_eq!(super::whole_millis(Duration::from_nanos(1)), ms(1));
        assert_eq!(super::whole_millis(ms(1000)), ms(1000));
        assert_eq!(super::whole_millis(Duration::ZERO), Duration::ZERO);
        assert_eq!(super::whole_millis(Duration::MAX), ms(u64::MAX));
    }

    /// The BPF program never asks the kernel to reuse stack ids (which silently swaps stacks on
    /// collision) and stores stacks by content instead of in a colliding stack-trace map.
    #[test]
    fn sample_bpf_never_reuses_stack_ids() {
        let src = include_str!("../../bpf/profile.bpf.c");
        let code: String = src.lines().filter(|l| !l.trim_start().starts_with('*') && !l.contains("/*")).collect();
        assert!(!code.contains("BPF_F_REUSE_STACKID"));
        assert!(!code.contains("BPF_MAP_TYPE_STACK_TRACE"));
        assert!(code.contains("bpf_get_stack("));
    }
}
