//! Sampling: one perf event per online CPU drives the BPF program in
//! `bpf/profile.bpf.c`, which counts (process, user stack, kernel stack, comm) in the kernel.
//! [`Sampler`] loads and attaches it, forwards process notifications, and drains the maps.
//!
//! This is the only module that touches BPF types or `unsafe`.

pub mod cpus;
pub mod perf_events;
pub mod privileges;
mod skel;
pub mod spawn;
pub mod unwind_maps;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, OpenObject, PrintLevel, RingBuffer, RingBufferBuilder};

pub use crate::profile::EventKind;
use skel::types;

use crate::profile::unwind::{UnwindMode, UnwindStatus};
use crate::profile::{LossReason, Losses};
use crate::unwind::{ProcMapping, UnwindRow};

// SAFETY: these are plain C structs from bpf/profile.h made only of integers and arrays of
// integers; every bit pattern is a valid value.
unsafe impl plain::Plain for types::prof_sample_key {}
// SAFETY: as above.
unsafe impl plain::Plain for types::prof_stack {}
// SAFETY: as above.
unsafe impl plain::Plain for types::prof_proc_event {}

const _: () = assert!(std::mem::size_of::<types::prof_sample_key>() == 48);
const _: () = assert!(std::mem::size_of::<types::prof_stack>() == 8 + 8 * MAX_STACK_DEPTH);
const _: () = assert!(std::mem::size_of::<types::prof_proc_event>() == 32);

/// Frames kept per stack (`PROF_MAX_STACK_DEPTH` in bpf/profile.h).
pub const MAX_STACK_DEPTH: usize = 127;

/// Counts read per syscall when draining (at 999 Hz on 2 CPUs a drain reads ~2,000; one
/// syscall per key cost ~10 ms of CPU a second).
const DRAIN_BATCH: u32 = 1024;

/// Deletes `keys` from `map` in one syscall, or one by one if the batch fails.
fn delete_keys<M: MapCore>(map: &M, keys: &[Vec<u8>]) -> Result<(), libbpf_rs::Error> {
    if keys.is_empty() {
        return Ok(());
    }
    if map.delete_batch(&keys.concat(), keys.len() as u32, MapFlags::ANY, MapFlags::ANY).is_ok() {
        return Ok(());
    }
    for k in keys {
        match map.delete(k) {
            Err(e) if e.kind() != libbpf_rs::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// How long to wait after flipping the drain generation before reading the old one. A BPF
/// program runs for microseconds in interrupt context, so any sample that read the old
/// generation has finished long before this.
const GEN_FLIP_GRACE: Duration = Duration::from_millis(2);

/// Errors of the sampling stage. Callers branch on permission and frequency problems.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// Missing capabilities; the message names them and the fix.
    #[error("{0}")]
    PermissionDenied(String),
    /// The requested frequency is above what the kernel allows.
    #[error(
        "sampling frequency {requested} Hz is above kernel.perf_event_max_sample_rate = {max}; \
         use a lower -F or raise it with `sysctl kernel.perf_event_max_sample_rate={requested}`"
    )]
    FrequencyTooHigh {
        /// Requested frequency.
        requested: u64,
        /// The kernel's limit.
        max: u64,
    },
    /// The kernel has no BPF (ENOSYS).
    #[error("eBPF is not available in this kernel (bpf() returned ENOSYS)")]
    BpfUnavailable,
    /// Loading the BPF program failed (the verifier log tail is included).
    #[error("failed to load the BPF program on kernel {kernel}: {source}\n{log}")]
    Load {
        /// Kernel release.
        kernel: String,
        /// libbpf's error.
        source: libbpf_rs::Error,
        /// Tail of libbpf's log (verifier output).
        log: String,
    },
    /// A perf event could not be opened.
    #[error("failed to open the `{event}` perf event on CPU {cpu}: {source}")]
    PerfEvent {
        /// Event name.
        event: &'static str,
        /// CPU id.
        cpu: u32,
        /// The OS error.
        source: std::io::Error,
    },
    /// A target process does not exist.
    #[error("no process with PID {0}")]
    NoSuchProcess(u32),
    /// Another BPF or system error.
    #[error("{context}: {source}")]
    Bpf {
        /// What was being done.
        context: String,
        /// libbpf's error.
        source: libbpf_rs::Error,
    },
    /// Reading the list of online CPUs failed.
    #[error("failed to read the online CPUs: {0}")]
    Cpus(std::io::Error),
}

fn bpf_err(context: impl Into<String>) -> impl FnOnce(libbpf_rs::Error) -> SampleError {
    let context = context.into();
    move |source| SampleError::Bpf { context, source }
}

/// Which processes to sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Targets {
    /// Every process on every CPU.
    All,
    /// Only these processes (all their threads); children they fork are followed when
    /// `follow_forks` is set.
    Pids {
        /// Process ids (tgids).
        pids: Vec<u32>,
        /// Also sample processes they fork from now on.
        follow_forks: bool,
    },
}

/// Sampling configuration, fixed before the BPF program loads.
#[derive(Clone, Debug)]
pub struct SamplerOptions {
    /// Samples per second per CPU.
    pub frequency_hz: u64,
    /// Which processes to sample.
    pub targets: Targets,
    /// Record kernel stacks.
    pub kernel_stacks: bool,
    /// Record user stacks.
    pub user_stacks: bool,
    /// Drop samples of the idle task.
    pub skip_idle: bool,
    /// New unique stacks the kernel can hold between two drains; 0 picks
    /// [`auto_map_size`] for the stack map.
    pub stack_map_size: u32,
    /// Unique (process, stacks, comm) keys the kernel can hold between two drains; 0 picks
    /// [`auto_map_size`].
    pub counts_map_size: u32,
    /// How user stacks are walked.
    pub unwind: UnwindMode,
    /// Unwind-table rows the kernel can hold for all loaded binaries together (8 bytes each);
    /// 0 picks [`DEFAULT_UNWIND_ROWS`]. Unused with [`UnwindMode::Fp`].
    pub unwind_rows: u32,
}

/// Default capacity of the kernel's unwind-table row array: 2^20 rows, 8 MiB, room for the
/// tables of ~60 typical binaries at once (libc.so.6 needs ~25k rows, python3.11 ~90k).
/// Tables of binaries no live process maps are evicted to make room.
pub const DEFAULT_UNWIND_ROWS: u32 = 1 << 20;

/// The default size of the stack and counts maps: room for every sample of two drain
/// intervals (a sample adds at most one user and one kernel stack, and one key), at least
/// [`MIN_AUTO_MAP_SIZE`], at most 2^18. A preallocated stack entry is ~1.1 KB (127 frames).
pub fn auto_map_size(frequency_hz: u64, cpus: usize) -> u32 {
    let per_drain = frequency_hz.saturating_mul(cpus as u64).saturating_mul(2);
    (2 * per_drain).next_power_of_two().clamp(MIN_AUTO_MAP_SIZE as u64, 1 << 18) as u32
}

/// The smallest automatic stack and counts map: 2,048 entries (~2.3 MB of stacks), which at
/// 99 Hz on 2 CPUs holds ~5 s of samples whose stacks are all new, so a drain delayed by a slow
/// interval flush loses nothing. Bigger machines and higher rates get proportionally more.
pub const MIN_AUTO_MAP_SIZE: u32 = 2048;

impl Default for SamplerOptions {
    fn default() -> Self {
        SamplerOptions {
            frequency_hz: 99,
            targets: Targets::All,
            kernel_stacks: true,
            user_stacks: true,
            skip_idle: false,
            stack_map_size: 0,
            counts_map_size: 0,
            unwind: UnwindMode::Auto,
            unwind_rows: 0,
        }
    }
}

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
    },
    /// A process called exec.
    Exec {
        /// Process.
        tgid: u32,
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
    },
}

/// Kernel-side counters: samples taken and losses by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Samples that passed the target filter.
    pub samples: u64,
    /// Losses by reason.
    pub losses: Losses,
}

/// libbpf's log lines, kept so a load failure can show the verifier's output.
static LIBBPF_LOG: Mutex<String> = Mutex::new(String::new());

fn libbpf_print(level: PrintLevel, msg: String) {
    if let Ok(mut log) = LIBBPF_LOG.lock() {
        log.push_str(&msg);
        const KEEP: usize = 64 * 1024;
        if log.len() > 2 * KEEP {
            let cut = log.len() - KEEP;
            let cut = (cut..log.len()).find(|&i| log.is_char_boundary(i)).unwrap_or(log.len());
            log.drain(..cut);
        }
    }
    if level == PrintLevel::Warn && std::env::var_os("PROF_LIBBPF_DEBUG").is_some() {
        eprint!("libbpf: {msg}");
    }
}

fn log_tail() -> String {
    let log = LIBBPF_LOG.lock().map(|l| l.clone()).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
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

/// A loaded and attached sampler.
pub struct Sampler {
    // Field order is drop order: detach and free the ring buffer before the object.
    links: Vec<Link>,
    ringbuf: RingBuffer<'static>,
    pending_events: Rc<RefCell<Vec<ProcEvent>>>,
    _tracepoints: Vec<Link>,
    skel: skel::ProfileSkel<'static>,
    event: EventKind,
    cpus: Vec<u32>,
    notes: Vec<String>,
    /// Stacks swept from the kernel in this drain and the previous one. A count drained now can
    /// only name a stack swept in this drain or the one before (it was in the kernel map when
    /// sampled, and at most one sweep can have removed it since), so two generations suffice and
    /// memory stays bounded however long the recording runs.
    stacks: HashMap<u64, Arc<[u64]>>,
    stacks_prev: HashMap<u64, Arc<[u64]>>,
    /// Losses found in userspace (hash collisions, stacks missing from the store).
    userspace_losses: Losses,
    /// The kernel's unwind-table rows and process mappings (None with `--unwind fp`).
    rows: Option<unwind_maps::ArrayMmap<types::prof_unwind_row>>,
    mappings: Option<unwind_maps::ArrayMmap<types::prof_unwind_mapping>>,
    /// Which `unwind_mappings` entries each process has.
    mapping_slots: crate::unwind::alloc::RangeAlloc,
    proc_slots: HashMap<u32, (u32, u32)>,
    /// Slots of replaced or exited processes, freed at the next drain (a sample running now may
    /// still read them).
    slots_to_free: Vec<(u32, u32)>,
    unwind: UnwindMode,
}

/// Process mappings the kernel holds for all processes together (32 bytes each, 2 MiB).
pub const UNWIND_MAPPING_SLOTS: u32 = 1 << 16;

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler").field("event", &self.event).field("cpus", &self.cpus).finish_non_exhaustive()
    }
}

impl Sampler {
    /// Checks privileges, loads the BPF program, registers the targets and starts sampling
    /// on every online CPU.
    pub fn start(opts: &SamplerOptions) -> Result<Sampler, SampleError> {
        privileges::check().map_err(SampleError::PermissionDenied)?;
        if let Some(max) = perf_events::max_sample_rate() {
            if opts.frequency_hz > max {
                return Err(SampleError::FrequencyTooHigh { requested: opts.frequency_hz, max });
            }
        }
        if let Targets::Pids { pids, .. } = &opts.targets {
            for &pid in pids {
                if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    return Err(SampleError::NoSuchProcess(pid));
                }
            }
        }
        let cpus = cpus::online_cpus().map_err(SampleError::Cpus)?;

        libbpf_rs::set_print(Some((PrintLevel::Debug, libbpf_print)));
        // The skeleton borrows its object storage for as long as it lives; a sampler lives for a
        // whole recording, so one small leaked allocation per sampler is the simple, safe choice.
        let storage: &'static mut MaybeUninit<OpenObject> = Box::leak(Box::new(MaybeUninit::uninit()));
        let load_err = |source: libbpf_rs::Error| {
            // The verifier rejects a program with EACCES too: with the capabilities present
            // (checked above), EACCES is a rejection, and its log says why.
            let verifier = log_tail().contains("processed ") || log_tail().contains("verifier");
            if source.kind() == libbpf_rs::ErrorKind::PermissionDenied && !verifier {
                return SampleError::PermissionDenied(format!(
                    "{source}\n{}",
                    privileges::describe_missing(false, false)
                ));
            }
            if source.to_string().contains("ENOSYS") || source.kind() == libbpf_rs::ErrorKind::Unsupported {
                return SampleError::BpfUnavailable;
            }
            SampleError::Load { kernel: kernel_release(), source, log: log_tail() }
        };
        let mut open = skel::ProfileSkelBuilder::default().open(storage).map_err(load_err)?;
        {
            let ro = open.maps.rodata_data.as_deref_mut().ok_or_else(|| SampleError::Load {
                kernel: kernel_release(),
                source: libbpf_rs::Error::from(std::io::Error::other("the BPF object has no .rodata")),
                log: String::new(),
            })?;
            ro.filter_targets = !matches!(opts.targets, Targets::All);
            ro.skip_idle = opts.skip_idle;
            ro.want_kernel = opts.kernel_stacks;
            ro.want_user = opts.user_stacks;
            ro.follow_forks = matches!(opts.targets, Targets::Pids { follow_forks: true, .. });
            ro.unwind_mode = match opts.unwind {
                UnwindMode::Fp => types::prof_unwind_mode::PROF_UNWIND_MODE_FP.0,
                UnwindMode::Auto => types::prof_unwind_mode::PROF_UNWIND_MODE_AUTO.0,
                UnwindMode::Dwarf => types::prof_unwind_mode::PROF_UNWIND_MODE_DWARF.0,
            } as u8;
        }
        let (rows, slots) = match opts.unwind {
            UnwindMode::Fp => (1, 1),
            _ if opts.unwind_rows == 0 => (DEFAULT_UNWIND_ROWS, UNWIND_MAPPING_SLOTS),
            _ => (opts.unwind_rows, UNWIND_MAPPING_SLOTS),
        };
        if matches!(opts.targets, Targets::All) {
            // Only -p and a spawned command filter processes.
            open.maps.targets.set_max_entries(1).map_err(bpf_err("failed to size the targets map"))?;
        }
        open.maps.unwind_rows.set_max_entries(rows).map_err(bpf_err("failed to size the unwind-table map"))?;
        open.maps.unwind_mappings.set_max_entries(slots).map_err(bpf_err("failed to size the unwind mappings map"))?;
        let auto = auto_map_size(opts.frequency_hz, cpus.len());
        let size = |n: u32| if n == 0 { auto } else { n };
        open.maps.stacks.set_max_entries(size(opts.stack_map_size)).map_err(bpf_err("failed to size the stack map"))?;
        open.maps
            .counts
            .set_max_entries(size(opts.counts_map_size))
            .map_err(bpf_err("failed to size the counts map"))?;
        let skel = open.load().map_err(load_err)?;
        let mmap_err = |e: std::io::Error| SampleError::Bpf {
            context: "failed to map the unwind-table arrays".into(),
            source: libbpf_rs::Error::from(e),
        };
        let (rows, mappings) = match opts.unwind {
            UnwindMode::Fp => (None, None),
            _ => (
                Some(unwind_maps::ArrayMmap::new(&skel.maps.unwind_rows, rows).map_err(mmap_err)?),
                Some(unwind_maps::ArrayMmap::new(&skel.maps.unwind_mappings, slots).map_err(mmap_err)?),
            ),
        };

        if let Targets::Pids { pids, .. } = &opts.targets {
            for &pid in pids {
                skel.maps
                    .targets
                    .update(&pid.to_ne_bytes(), &[1u8], MapFlags::ANY)
                    .map_err(bpf_err(format!("failed to add PID {pid} to the target filter")))?;
            }
        }

        let tracepoints = vec![
            skel.progs.handle_fork.attach().map_err(bpf_err("failed to attach to sched_process_fork"))?,
            skel.progs.handle_exec.attach().map_err(bpf_err("failed to attach to sched_process_exec"))?,
            skel.progs.handle_exit.attach().map_err(bpf_err("failed to attach to sched_process_exit"))?,
        ];

        let pending_events = Rc::new(RefCell::new(Vec::new()));
        let sink = Rc::clone(&pending_events);
        let mut rb = RingBufferBuilder::new();
        rb.add(&skel.maps.events, move |data: &[u8]| {
            let mut ev = types::prof_proc_event::default();
            if plain::copy_from_bytes(&mut ev, data).is_ok() {
                let parsed = match types::prof_event_kind(ev.kind) {
                    types::prof_event_kind::PROF_EVENT_FIRST_SAMPLE => {
                        Some(ProcEvent::FirstSample { tgid: ev.tgid, tid: ev.tid })
                    }
                    types::prof_event_kind::PROF_EVENT_EXEC => Some(ProcEvent::Exec { tgid: ev.tgid }),
                    types::prof_event_kind::PROF_EVENT_EXIT => Some(ProcEvent::Exit { tgid: ev.tgid }),
                    types::prof_event_kind::PROF_EVENT_MAPS_STALE => Some(ProcEvent::MapsStale { tgid: ev.tgid }),
                    _ => None,
                };
                sink.borrow_mut().extend(parsed);
            }
            0
        })
        .map_err(bpf_err("failed to set up the event ring buffer"))?;
        let ringbuf = rb.build().map_err(bpf_err("failed to set up the event ring buffer"))?;

        let (event, opened, mut notes) = open_all_cpus(opts.frequency_hz, &cpus)?;
        let mut links = Vec::with_capacity(opened.len());
        let mut cpus = Vec::with_capacity(opened.len());
        for (cpu, fd) in opened {
            let link = skel
                .progs
                .do_perf_event
                .attach_perf_event(fd.as_raw_fd())
                .map_err(bpf_err(format!("failed to attach the sampler to CPU {cpu}")))?;
            // libbpf's perf-event link owns the event fd from now on and closes it on detach.
            let _ = fd.into_raw_fd();
            links.push(link);
            cpus.push(cpu);
        }
        notes.retain(|n| !n.is_empty());
        Ok(Sampler {
            links,
            ringbuf,
            pending_events,
            _tracepoints: tracepoints,
            skel,
            event,
            cpus,
            notes,
            stacks: HashMap::new(),
            stacks_prev: HashMap::new(),
            userspace_losses: Losses::new(),
            rows,
            mappings,
            mapping_slots: crate::unwind::alloc::RangeAlloc::new(slots),
            proc_slots: HashMap::new(),
            slots_to_free: Vec::new(),
            unwind: opts.unwind,
        })
    }

    /// The event that drives sampling.
    pub fn event(&self) -> EventKind {
        self.event
    }

    /// CPUs being sampled.
    pub fn cpus(&self) -> &[u32] {
        &self.cpus
    }

    /// True until [`Sampler::stop`].
    pub fn is_running(&self) -> bool {
        !self.links.is_empty()
    }

    /// Entries of the loaded stack and counts maps.
    pub fn map_sizes(&self) -> (u32, u32) {
        (self.skel.maps.stacks.max_entries(), self.skel.maps.counts.max_entries())
    }

    /// Notes about how sampling was set up (e.g. the fallback to `cpu-clock`).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// How user stacks are walked.
    pub fn unwind_mode(&self) -> UnwindMode {
        self.unwind
    }

    /// Unwind-table rows the kernel can hold (0 with `--unwind fp`).
    pub fn unwind_capacity(&self) -> u32 {
        self.rows.as_ref().map_or(0, |r| r.len() as u32)
    }

    /// Writes a binary's unwind table into the kernel's row array at `first`. Returns false when
    /// it does not fit (or unwinding by tables is off).
    pub fn write_unwind_rows(&mut self, first: u32, rows: &[UnwindRow]) -> bool {
        self.rows.as_mut().is_some_and(|m| m.write(first, rows.iter().map(unwind_maps::encode_row)))
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
        let value = types::prof_proc_unwind { first, n, flags: 0, pad: 0 };
        // SAFETY: prof_proc_unwind is four u32s, no padding: every byte is initialized.
        let bytes = unsafe { plain::as_bytes(&value) };
        let result = self
            .skel
            .maps
            .proc_unwind
            .update(&tgid.to_ne_bytes(), bytes, MapFlags::ANY)
            .map_err(bpf_err(format!("failed to load the unwind mappings of PID {tgid}")));
        let old = if result.is_ok() { self.proc_slots.insert(tgid, (first, n)) } else { Some((first, n)) };
        self.slots_to_free.extend(old);
        result
    }

    /// Forgets the mappings of `tgid` (it exited).
    pub fn remove_process_unwind(&mut self, tgid: u32) {
        let _ = self.skel.maps.proc_unwind.delete(&tgid.to_ne_bytes());
        if let Some(old) = self.proc_slots.remove(&tgid) {
            self.slots_to_free.push(old);
        }
    }

    /// Adds a process to the target filter (for a command spawned after the sampler started).
    pub fn add_target(&self, pid: u32) -> Result<(), SampleError> {
        self.skel
            .maps
            .targets
            .update(&pid.to_ne_bytes(), &[1u8], MapFlags::ANY)
            .map_err(bpf_err(format!("failed to add PID {pid} to the target filter")))
    }

    /// Waits up to `timeout` for process notifications and returns those that arrived.
    pub fn poll_events(&mut self, timeout: Duration) -> Result<Vec<ProcEvent>, SampleError> {
        let rc = self.ringbuf.poll_raw(timeout);
        // A signal (Ctrl-C) interrupts the wait: not an error, the caller checks its stop flag.
        if rc < 0 && rc != -libc::EINTR {
            return Err(SampleError::Bpf {
                context: "failed to poll the event ring buffer".into(),
                source: libbpf_rs::Error::from(std::io::Error::from_raw_os_error(-rc)),
            });
        }
        Ok(std::mem::take(&mut *self.pending_events.borrow_mut()))
    }

    /// Drains the counts of the current generation while sampling continues: flips the
    /// generation, waits for in-flight samples, then reads and deletes every count of the old
    /// one. Nothing is lost or counted twice.
    pub fn drain(&mut self) -> Result<Vec<RawCount>, SampleError> {
        let bss = self.skel.maps.bss_data.as_deref_mut().ok_or_else(|| SampleError::Bpf {
            context: "the BPF object has no .bss".into(),
            source: libbpf_rs::Error::from(std::io::Error::other("missing .bss")),
        })?;
        let old = bss.gen;
        // SAFETY: `bss` is the skeleton's mmap of the program's .bss, valid and aligned for as
        // long as the skeleton lives; a volatile store makes the flip visible to the next sample
        // (the grace period below covers samples already running).
        unsafe { std::ptr::write_volatile(&mut bss.gen, old ^ 1) };
        std::thread::sleep(GEN_FLIP_GRACE);
        // Mapping slots given up before the grace period are no longer read by any sample.
        for (first, n) in std::mem::take(&mut self.slots_to_free) {
            self.mapping_slots.release(first, n);
        }
        self.drain_generation(Some(old))
    }

    /// Stops sampling (detaches every perf event) and drains everything left.
    pub fn stop(&mut self) -> Result<Vec<RawCount>, SampleError> {
        // Destroying a link disables and closes its perf event.
        self.links.clear();
        std::thread::sleep(GEN_FLIP_GRACE);
        let _ = self.ringbuf.consume();
        self.drain_generation(None)
    }

    fn drain_generation(&mut self, gen: Option<u32>) -> Result<Vec<RawCount>, SampleError> {
        let counts = &self.skel.maps.counts;
        let drains = |key: &types::prof_sample_key| gen.is_none_or(|g| key.gen == g);
        let count_of =
            |value: &[u8]| value.get(..8).map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]))).unwrap_or(0);
        // Most entries in a few syscalls: read everything in batches, delete the drained
        // generation's keys in one call (its values are final: no sample increments it any more).
        let mut drained = Vec::new();
        let mut drained_keys = Vec::new();
        let batch = counts
            .lookup_batch(DRAIN_BATCH, MapFlags::ANY, MapFlags::ANY)
            .map_err(bpf_err("failed to read the counts map"))?;
        for (raw_key, value) in batch {
            let mut key = types::prof_sample_key::default();
            if plain::copy_from_bytes(&mut key, &raw_key).is_ok() && drains(&key) {
                drained.push((key, count_of(&value)));
                drained_keys.push(raw_key);
            }
        }
        delete_keys(counts, &drained_keys).map_err(bpf_err("failed to drain the counts map"))?;
        // A batch read of a map that samples insert into can pass over entries; a key of the
        // drained generation left behind would be drained two drains late, after its stacks
        // left the userspace store. What is left is few: drain it key by key.
        let left: HashSet<Vec<u8>> = counts.keys().collect();
        for raw_key in left {
            let mut key = types::prof_sample_key::default();
            if plain::copy_from_bytes(&mut key, &raw_key).is_err() || !drains(&key) {
                continue;
            }
            let Some(value) = counts.lookup_and_delete(&raw_key).map_err(bpf_err("failed to drain the counts map"))?
            else {
                continue;
            };
            drained.push((key, count_of(&value)));
        }
        self.sweep_stacks()?;

        let mut out = Vec::with_capacity(drained.len());
        for (key, count) in drained {
            let user = self.resolve_stack(key.user_status, key.user_stack, true);
            let kernel = self.resolve_stack(key.kernel_status, key.kernel_stack, false);
            let unwind = unwind_status(key.unwind_status);
            out.push(RawCount { tgid: key.tgid, comm: comm_string(&key.comm), user, kernel, count, unwind });
        }
        self.stacks_prev = std::mem::take(&mut self.stacks);
        Ok(out)
    }

    /// Copies new stacks into the userspace store and deletes them from the kernel's, so the
    /// kernel map only ever holds the stacks first seen since the last drain.
    fn sweep_stacks(&mut self) -> Result<(), SampleError> {
        let map = &self.skel.maps.stacks;
        let keys: Vec<Vec<u8>> = map.keys().collect();
        for raw_key in keys {
            let Some(value) = map.lookup(&raw_key, MapFlags::ANY).map_err(bpf_err("failed to read the stack map"))?
            else {
                continue;
            };
            let mut st = types::prof_stack::default();
            if plain::copy_from_bytes(&mut st, &value).is_err() {
                continue;
            }
            let hash = u64::from_ne_bytes(raw_key.as_slice().try_into().unwrap_or([0; 8]));
            let len = (st.len as usize).min(MAX_STACK_DEPTH);
            let ips = &st.ips[..len];
            match self.stacks.get(&hash).or_else(|| self.stacks_prev.get(&hash)) {
                Some(known) if known.as_ref() != ips => {
                    *self.userspace_losses.entry(LossReason::StackHashCollision).or_default() += 1
                }
                Some(known) => {
                    let known = Arc::clone(known);
                    self.stacks.insert(hash, known);
                }
                None => {
                    self.stacks.insert(hash, Arc::from(ips));
                }
            }
            // Delete only after copying: a count that names this hash later resolves from the
            // userspace store.
            let _ = map.delete(&raw_key);
        }
        Ok(())
    }

    fn resolve_stack(&mut self, status: u8, hash: u64, user: bool) -> StackRef {
        let (fault, error, full) = if user {
            (LossReason::UserStackFault, LossReason::UserStackError, LossReason::UserStackMapFull)
        } else {
            (LossReason::KernelStackFault, LossReason::KernelStackError, LossReason::KernelStackMapFull)
        };
        match types::prof_stack_status(u32::from(status)) {
            types::prof_stack_status::PROF_STACK_OK => {
                match self.stacks.get(&hash).or_else(|| self.stacks_prev.get(&hash)) {
                    Some(ips) => StackRef::Frames(Arc::clone(ips)),
                    None => {
                        *self.userspace_losses.entry(error).or_default() += 1;
                        StackRef::Missing(error)
                    }
                }
            }
            types::prof_stack_status::PROF_STACK_EMPTY => StackRef::Empty,
            types::prof_stack_status::PROF_STACK_FAULT => StackRef::Missing(fault),
            types::prof_stack_status::PROF_STACK_NOMEM => StackRef::Missing(full),
            _ => StackRef::Missing(error),
        }
    }

    /// Reads the kernel's counters (cumulative since start) plus losses found in userspace.
    pub fn stats(&self) -> Result<KernelStats, SampleError> {
        use types::prof_stat as st;
        let read = |stat: st| -> Result<u64, SampleError> {
            let per_cpu = self
                .skel
                .maps
                .stats
                .lookup_percpu(&stat.0.to_ne_bytes(), MapFlags::ANY)
                .map_err(bpf_err("failed to read the stats map"))?
                .unwrap_or_default();
            Ok(per_cpu
                .iter()
                .filter_map(|v| v.get(..8))
                .map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))
                .sum())
        };
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
        ];
        let samples = read(st::PROF_STAT_SAMPLES)?;
        let mut losses = self.userspace_losses.clone();
        for (stat, reason) in reasons {
            let n = read(stat)?;
            if n > 0 {
                *losses.entry(reason).or_default() += n;
            }
        }
        Ok(KernelStats { samples, losses })
    }
}

impl crate::unwind::manager::TableSink for Sampler {
    fn capacity(&self) -> u32 {
        self.unwind_capacity()
    }

    fn write_rows(&mut self, first: u32, rows: &[UnwindRow]) -> bool {
        self.write_unwind_rows(first, rows)
    }

    fn set_process(&mut self, tgid: u32, mappings: &[ProcMapping]) -> Result<(), String> {
        self.set_process_unwind(tgid, mappings).map_err(|e| e.to_string())
    }

    fn remove_process(&mut self, tgid: u32) {
        self.remove_process_unwind(tgid)
    }
}

/// The walk's end as the BPF program reported it; a value `bpf/profile.h` does not define is
/// [`UnwindStatus::Unknown`] (kept in the counts and shown in the unwind report, not guessed).
fn unwind_status(raw: u8) -> UnwindStatus {
    use types::prof_unwind_status as s;
    match s(u32::from(raw)) {
        s::PROF_UNWIND_KERNEL_FP => UnwindStatus::KernelFp,
        s::PROF_UNWIND_COMPLETE => UnwindStatus::Complete,
        s::PROF_UNWIND_NO_INFO => UnwindStatus::NoInfo,
        s::PROF_UNWIND_UNSUPPORTED => UnwindStatus::Unsupported,
        s::PROF_UNWIND_READ_FAULT => UnwindStatus::ReadFault,
        s::PROF_UNWIND_TOO_DEEP => UnwindStatus::TooDeep,
        s::PROF_UNWIND_BAD_FRAME => UnwindStatus::BadFrame,
        _ => UnwindStatus::Unknown,
    }
}

fn comm_string(comm: &[i8]) -> String {
    let bytes: Vec<u8> = comm.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Opens the sampling event on every CPU: cycles if the first CPU has them, else cpu-clock.
/// The event chosen, one open event per CPU, and notes about the choice.
type OpenedEvents = (EventKind, Vec<(u32, OwnedFd)>, Vec<String>);

fn open_all_cpus(frequency_hz: u64, cpus: &[u32]) -> Result<OpenedEvents, SampleError> {
    let mut notes = Vec::new();
    let first = cpus.first().copied().unwrap_or(0);
    let event = match perf_events::open_event(EventKind::Cycles, frequency_hz, first) {
        Ok(fd) => {
            drop(fd);
            EventKind::Cycles
        }
        Err(e) if perf_events::is_unsupported(&e) => {
            notes.push("hardware cycles event not available (no PMU, e.g. a VM): sampling with cpu-clock".to_string());
            EventKind::CpuClock
        }
        Err(e) if e.raw_os_error() == Some(libc::EACCES) || e.raw_os_error() == Some(libc::EPERM) => {
            return Err(SampleError::PermissionDenied(format!(
                "perf_event_open: {e}\n{}",
                privileges::describe_missing(true, false)
            )))
        }
        Err(source) => return Err(SampleError::PerfEvent { event: EventKind::Cycles.name(), cpu: first, source }),
    };
    let mut fds = Vec::with_capacity(cpus.len());
    for &cpu in cpus {
        match perf_events::open_event(event, frequency_hz, cpu) {
            Ok(fd) => fds.push((cpu, fd)),
            // Went offline since we read the list.
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => {
                notes.push(format!("CPU {cpu} went offline before sampling started; skipped"));
            }
            Err(source) => return Err(SampleError::PerfEvent { event: event.name(), cpu, source }),
        }
    }
    Ok((event, fds, notes))
}

#[cfg(test)]
mod tests {
    use super::{auto_map_size, unwind_status, UnwindStatus};

    /// Map sizes grow with CPUs × frequency between the floor and the cap.
    #[test]
    fn sample_auto_map_size_scales() {
        assert_eq!(auto_map_size(99, 2), 2048);
        assert_eq!(auto_map_size(999, 2), 8192);
        assert_eq!(auto_map_size(999, 64), 1 << 18);
        assert_eq!(auto_map_size(99, 64), 32768);
    }

    /// The seven statuses bpf/profile.h defines (0..=6) map to the seven other statuses, one
    /// each; any other value is `Unknown`, not a plausible status.
    #[test]
    fn sample_unwind_status_from_raw() {
        let known: std::collections::BTreeSet<UnwindStatus> = (0..=6).map(unwind_status).collect();
        let others: std::collections::BTreeSet<UnwindStatus> =
            UnwindStatus::ALL.into_iter().filter(|&s| s != UnwindStatus::Unknown).collect();
        assert_eq!(known, others);
        assert_eq!(unwind_status(0), UnwindStatus::KernelFp);
        assert_eq!(UnwindStatus::ALL.last(), Some(&UnwindStatus::Unknown));
        assert_eq!(UnwindStatus::from_id("unknown"), Some(UnwindStatus::Unknown));
        for raw in [7, 8, 0x80, u8::MAX] {
            assert_eq!(unwind_status(raw), UnwindStatus::Unknown, "{raw}");
        }
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
