//! Starting a sampler, in order: check the request, size the kernel maps, configure and load
//! the BPF program, map the unwind-table arrays, fill the target filter, attach the process
//! tracepoints, set up the event ring buffer, and attach one perf event per CPU (or, for
//! off-CPU time, the `sched_switch` program).

use std::cell::RefCell;
use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};
use std::rc::Rc;

use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, OpenMapMut, OpenObject, RingBuffer, RingBufferBuilder};

use super::deferred::{parse_deferred, DeferredSample};
use super::error::{bpf_err, capture_libbpf_log, load_error};
use super::kernel::KernelVersion;
use super::options::{
    auto_map_size, deferred_buffer_bytes, events_buffer_bytes, DEFAULT_UNWIND_ROWS, MIN_OFF_CPU_MAP_SIZE,
    OFF_CPU_PENDING, UNWIND_MAPPING_SLOTS,
};
use super::programs::{kernel_btf_available, Programs, KERNEL_BTF};
use super::row_chunks::{chunks_for, RowChunks};
use super::skel::{self, types};
use super::unwind_maps::ArrayMmap;
use super::{cpus, kernel_release, perf_events, privileges, tracefs};
use super::{ProcEvent, SampleError, Sampler, SamplerOptions, Targets};
use crate::profile::unwind::UnwindMode;
use crate::profile::{EventKind, Losses};

/// Set to `verifier` to load a program the verifier must reject (tests of the load error).
pub const FAULT_INJECT_ENV: &str = "PROF_FAULT_INJECT";

/// The kernel's unwind-table rows (in chunks made as tables arrive) and its process-mapping
/// array, mapped into this process.
type UnwindArrays = (RowChunks, ArrayMmap<types::prof_unwind_mapping>);

/// Process notifications the ring buffer callback has parsed and [`Sampler::poll_events`] has
/// not returned yet.
type PendingEvents = Rc<RefCell<Vec<ProcEvent>>>;

/// Samples the kernel handed over that [`Sampler::take_deferred`] has not returned yet.
type PendingDeferred = Rc<RefCell<Vec<DeferredSample>>>;

impl Sampler {
    /// Checks privileges, loads the BPF program, registers the targets and starts sampling
    /// on every online CPU.
    pub fn start(opts: &SamplerOptions) -> Result<Sampler, SampleError> {
        check_request(opts)?;
        let cpus = cpus::online_cpus().map_err(SampleError::Cpus)?;
        let plan = Plan::new(opts)?;
        let sizes = MapSizes::new(opts, plan.unwind, &cpus);
        let programs = load(opts, &plan, &sizes)?;
        let (rows, mappings) = match plan.unwind {
            UnwindMode::Fp => (None, None),
            _ => {
                let (rows, mappings) = map_unwind_arrays(&programs, &sizes)?;
                (Some(rows), Some(mappings))
            }
        };
        if let Targets::Pids { pids, .. } = &opts.targets {
            for &pid in pids {
                add_to_target_filter(&programs, pid)?;
            }
        }
        for c in &opts.cgroups {
            programs
                .cgroup_filter()
                .update(&c.id.to_ne_bytes(), &[1u8], MapFlags::ANY)
                .map_err(bpf_err(format!("failed to add cgroup `{}` to the cgroup filter", c.path)))?;
        }
        let tracepoints = programs.attach_tracepoints(plan.follow_forks)?;
        let (ringbuf, pending_events, pending_deferred) = event_ring_buffer(&programs, plan.unwind)?;
        let wall = opts.off_cpu.is_some_and(|o| o.wall);
        let (mut attached, switch_link) = match opts.off_cpu {
            // Off-CPU time comes from every context switch: no sampling event.
            Some(_) if !wall => {
                super::kernel::restore_memlock();
                let link = programs.attach_sched_switch()?;
                (Attached { event: EventKind::OffCpu, links: Vec::new(), notes: Vec::new() }, Some(link))
            }
            // Wall-clock time: on-CPU samples of cpu-clock, whose period is known in ns.
            Some(_) => {
                let mut attached = attach_per_cpu(&programs, opts.frequency_hz, Some(EventKind::CpuClock), &cpus)?;
                attached.event = EventKind::Wall;
                (attached, Some(programs.attach_sched_switch()?))
            }
            None => (attach_per_cpu(&programs, opts.frequency_hz, opts.event, &cpus)?, None),
        };
        attached.notes.extend(plan.note);
        let libbpf_warnings = super::error::take_libbpf_warnings();
        if std::env::var_os("PROF_LIBBPF_DEBUG").is_some() {
            attached.notes.extend(libbpf_warnings);
        }
        Ok(Sampler {
            per_cpu: super::hotplug::PerCpu::new(attached.event, opts.frequency_hz, attached.links),
            ringbuf: Some(ringbuf),
            pending_events,
            pending_deferred,
            _tracepoints: tracepoints,
            switch_link,
            switch_cpus: if opts.off_cpu.is_some() && !wall { cpus } else { Vec::new() },
            off_cpu: opts.off_cpu.is_some(),
            wall_period_ns: wall.then(|| 1_000_000_000 / opts.frequency_hz.max(1)),
            pinned: HashMap::new(),
            pinned_prev: HashMap::new(),
            exit_poll: programs.is_fallback().then(super::exit_poll::ExitPoll::default),
            verified: programs.verified(),
            programs,
            event: attached.event,
            notes: attached.notes,
            stacks: HashMap::new(),
            stacks_prev: HashMap::new(),
            userspace_losses: Losses::new(),
            rows,
            mappings,
            mapping_slots: crate::unwind::alloc::RangeAlloc::new(sizes.unwind_slots),
            proc_slots: HashMap::new(),
            slots_to_free: Vec::new(),
            unwind: plan.unwind,
        })
    }
}

/// Refuses, before anything is created, what cannot work: missing privileges, a kernel older
/// than the minimum (unless that check is off), a frequency above the kernel's limit, a target
/// process that does not exist. Then raises `RLIMIT_MEMLOCK` for loading, and the open-files
/// limit for the binaries kept open.
fn check_request(opts: &SamplerOptions) -> Result<(), SampleError> {
    privileges::check().map_err(SampleError::PermissionDenied)?;
    super::kernel::check_version(!opts.kernel_version_check)?;
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
    super::kernel::raise_memlock();
    super::open_files::raise();
    Ok(())
}

/// Which BPF object to load and what it can do on this kernel.
struct Plan {
    /// Load the fallback object: the kernel has no BTF.
    fallback: bool,
    /// How user stacks are walked (frame pointers only with the fallback).
    unwind: UnwindMode,
    /// Whether children of the targets are added to the filter.
    follow_forks: bool,
    /// `task_newtask`'s field offsets for the fallback's fork program.
    newtask: Option<(u32, u32)>,
    /// The one line naming what the fallback disables.
    note: Option<String>,
}

impl Plan {
    /// The full object when the kernel can load it; otherwise the fallback, refusing what it
    /// cannot do (`--unwind dwarf`) and naming what it disables.
    fn new(opts: &SamplerOptions) -> Result<Plan, SampleError> {
        let follow_forks = matches!(opts.targets, Targets::Pids { follow_forks: true, .. });
        let Some(reason) = fallback_reason() else {
            return Ok(Plan { fallback: false, unwind: opts.unwind, follow_forks, newtask: None, note: None });
        };
        if opts.off_cpu.is_some() {
            let feature = "--off-cpu (the BTF-typed sched_switch tracepoint)";
            return Err(SampleError::NeedsFullProgram { feature, reason });
        }
        if opts.unwind == UnwindMode::Dwarf {
            let feature = "--unwind dwarf (unwinding with the binaries' unwind tables)";
            return Err(SampleError::NeedsFullProgram { feature, reason });
        }
        let mut disabled = vec!["unwinding with unwind tables (frame pointers only)", "exit events (/proc is polled)"];
        let mut mounted = "";
        let newtask = if follow_forks {
            if tracefs::mount_if_missing() {
                mounted = "; mounted tracefs at /sys/kernel/tracing";
            }
            let offsets = tracefs::newtask_offsets();
            if offsets.is_none() {
                disabled.push("following children (no tracefs task_newtask format)");
            }
            offsets
        } else {
            None
        };
        let note = format!("{reason}: sampling without CO-RE; disabled: {}{mounted}", disabled.join(", "));
        Ok(Plan { fallback: true, unwind: UnwindMode::Fp, follow_forks: newtask.is_some(), newtask, note: Some(note) })
    }
}

/// The oldest kernel the full object loads on: its unwinder calls `bpf_loop`.
const BPF_LOOP_KERNEL: KernelVersion = KernelVersion::new(5, 17);

/// Why the full object cannot load here, or `None` when it can: it needs the kernel's BTF
/// (CO-RE, `tp_btf`) and `bpf_loop`. An unparsable release is given the benefit of the doubt.
fn fallback_reason() -> Option<String> {
    if !kernel_btf_available() {
        return Some(format!("no kernel BTF ({KERNEL_BTF})"));
    }
    match super::kernel::running_version() {
        Some(v) if v < BPF_LOOP_KERNEL => Some(format!("kernel {v} has no bpf_loop (new in {BPF_LOOP_KERNEL})")),
        _ => None,
    }
}

/// Entries of the kernel maps whose size is chosen at load time.
struct MapSizes {
    /// Unwind-table rows addressable (1 with `--unwind fp`: no chunk is ever made).
    unwind_rows: u32,
    /// Process-mapping slots (1 with `--unwind fp`).
    unwind_slots: u32,
    /// Unique stacks between two drains.
    stacks: u32,
    /// Unique count keys between two drains.
    counts: u32,
    /// Bytes of the process-notification ring buffer.
    events: u32,
    /// Bytes of the ring buffer of handed-over samples.
    deferred: u32,
    /// Records a handed-over sample is built in, indexed by CPU id: one per id up to the
    /// highest online CPU's, the CPUs sampled (1 with `--unwind fp`, which never hands over).
    deferred_scratch: u32,
    /// Threads off the CPU with their stacks noted (1 when off-CPU time is not recorded).
    offcpu_pending: u32,
}

impl MapSizes {
    /// Sizes for sampling on the CPUs `online` (their ids).
    fn new(opts: &SamplerOptions, unwind: UnwindMode, online: &[u32]) -> MapSizes {
        let cpus = online.len();
        let (unwind_rows, unwind_slots) = match unwind {
            UnwindMode::Fp => (1, 1),
            _ if opts.unwind_rows == 0 => (DEFAULT_UNWIND_ROWS, UNWIND_MAPPING_SLOTS),
            _ => (opts.unwind_rows, UNWIND_MAPPING_SLOTS),
        };
        let auto = match opts.off_cpu {
            Some(_) => auto_map_size(opts.frequency_hz, cpus).max(MIN_OFF_CPU_MAP_SIZE),
            None => auto_map_size(opts.frequency_hz, cpus),
        };
        let size = |n: u32| if n == 0 { auto } else { n };
        MapSizes {
            unwind_rows,
            unwind_slots,
            stacks: size(opts.stack_map_size),
            counts: size(opts.counts_map_size),
            // A ring buffer is a power-of-two number of pages: bigger pages than 4 KiB raise
            // the minimum (both are powers of two).
            events: events_buffer_bytes(opts.events_buffer_size).max(page_size()),
            deferred: if unwind == UnwindMode::Fp {
                page_size()
            } else {
                deferred_buffer_bytes(opts.frequency_hz, cpus).max(page_size())
            },
            // Not the possible CPUs: VMs often declare far more than they run (67 KiB each).
            // Perf events are opened on the CPUs online at the start only.
            deferred_scratch: match unwind {
                UnwindMode::Fp => 1,
                _ => online.iter().max().map_or(1, |&id| id.saturating_add(1)),
            },
            offcpu_pending: if opts.off_cpu.is_some() { OFF_CPU_PENDING } else { 1 },
        }
    }
}

/// The system's page size (4 KiB when it cannot be read).
fn page_size() -> u32 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u32::try_from(n).ok().filter(|n| n.is_power_of_two()).unwrap_or(4096)
}

/// Storage for an open BPF object. The skeleton borrows it for as long as it lives; a sampler
/// lives for a whole recording, so one small leaked allocation per sampler is the simple, safe
/// choice.
fn object_storage() -> &'static mut MaybeUninit<OpenObject> {
    Box::leak(Box::new(MaybeUninit::uninit()))
}

/// Sets the read-only constants both objects have: which processes, which stacks, how to
/// unwind.
macro_rules! set_constants {
    ($ro:expr, $opts:expr, $plan:expr) => {{
        let (ro, opts, plan) = (&mut *$ro, $opts, $plan);
        ro.filter_targets = !matches!(opts.targets, Targets::All);
        ro.skip_idle = opts.skip_idle;
        ro.want_kernel = opts.kernel_stacks;
        ro.want_user = opts.user_stacks;
        ro.follow_forks = plan.follow_forks;
        ro.unwind_mode = unwind_mode_constant(plan.unwind);
        ro.filter_cgroups = !opts.cgroups.is_empty();
        ro.cgroup_levels = cgroup_levels(&opts.cgroups);
    }};
}

/// The `cgroup_levels` constant: bit N set when a selected cgroup is at level N.
fn cgroup_levels(cgroups: &[crate::process::cgroup::SelectedCgroup]) -> u64 {
    cgroups.iter().filter(|c| c.level < 64).fold(0, |bits, c| bits | 1 << c.level)
}

/// Sizes the `--cgroup` filter map for the cgroups selected (one unused entry without).
fn size_cgroup_filter(map: &mut OpenMapMut<'static>, opts: &SamplerOptions) -> Result<(), SampleError> {
    let n = u32::try_from(opts.cgroups.len()).unwrap_or(u32::MAX).max(1);
    map.set_max_entries(n).map_err(bpf_err("failed to size the cgroup filter map"))
}

/// The maps [`size_maps`] sizes, in its order, from either object's maps.
macro_rules! maps_to_size {
    ($maps:expr) => {{
        let m = &mut $maps;
        [
            &mut m.targets,
            &mut m.unwind_rows,
            &mut m.unwind_mappings,
            &mut m.stacks,
            &mut m.counts,
            &mut m.events,
            &mut m.deferred,
            &mut m.deferred_scratch,
            &mut m.offcpu_start,
        ]
    }};
}

/// Opens the BPF object the plan names, sets its constants and map sizes, and loads it (the
/// verifier runs).
fn load(opts: &SamplerOptions, plan: &Plan, sizes: &MapSizes) -> Result<Programs, SampleError> {
    capture_libbpf_log();
    let no_rodata = || SampleError::Load {
        kernel: kernel_release(),
        source: libbpf_rs::Error::from(std::io::Error::other("the BPF object has no .rodata")),
        log: String::new(),
    };
    if plan.fallback {
        let mut open = skel::nobtf::ProfileNobtfSkelBuilder::default().open(object_storage()).map_err(load_error)?;
        let ro = open.maps.rodata_data.as_deref_mut().ok_or_else(no_rodata)?;
        set_constants!(ro, opts, plan);
        if let Some((pid, flags)) = plan.newtask {
            ro.newtask_pid_off = pid;
            ro.newtask_flags_off = flags;
        }
        size_maps(maps_to_size!(open.maps), opts, sizes)?;
        size_cgroup_filter(&mut open.maps.cgroup_filter, opts)?;
        return open.load().map(Programs::NoBtf).map_err(load_error);
    }
    let mut open = skel::ProfileSkelBuilder::default().open(object_storage()).map_err(load_error)?;
    let ro = open.maps.rodata_data.as_deref_mut().ok_or_else(no_rodata)?;
    set_constants!(ro, opts, plan);
    ro.verifier_fault = std::env::var(FAULT_INJECT_ENV).as_deref() == Ok("verifier");
    if let Some(off) = opts.off_cpu {
        ro.min_block_ns = off.min_block_ns;
        ro.offcpu_budget = off.budget_per_cpu;
    }
    // Only the program that will be attached is loaded: the verifier checks each one's copy of
    // the stack walker, which takes seconds on a busy machine.
    open.progs.do_perf_event.set_autoload(opts.off_cpu.is_none_or(|o| o.wall));
    open.progs.do_sched_switch.set_autoload(opts.off_cpu.is_some());
    size_maps(maps_to_size!(open.maps), opts, sizes)?;
    size_cgroup_filter(&mut open.maps.cgroup_filter, opts)?;
    open.load().map(Programs::Full).map_err(load_error)
}

/// The program's `unwind_mode` constant for a mode.
fn unwind_mode_constant(mode: UnwindMode) -> u8 {
    (match mode {
        UnwindMode::Fp => types::prof_unwind_mode::PROF_UNWIND_MODE_FP.0,
        UnwindMode::Auto => types::prof_unwind_mode::PROF_UNWIND_MODE_AUTO.0,
        UnwindMode::Dwarf => types::prof_unwind_mode::PROF_UNWIND_MODE_DWARF.0,
    }) as u8
}

/// Sizes the maps before loading: the target filter, the unwind arrays, stacks, counts, the
/// event ring buffer, the ring buffer of handed-over samples and their scratch records, and the
/// off-CPU map (in that order).
fn size_maps(maps: [&mut OpenMapMut<'static>; 9], opts: &SamplerOptions, sizes: &MapSizes) -> Result<(), SampleError> {
    let [targets, unwind_rows, unwind_mappings, stacks, counts, events, deferred, deferred_scratch, offcpu_start] =
        maps;
    if matches!(opts.targets, Targets::All) {
        // Only -p and a spawned command filter processes.
        targets.set_max_entries(1).map_err(bpf_err("failed to size the targets map"))?;
    }
    unwind_rows
        .set_max_entries(chunks_for(sizes.unwind_rows))
        .map_err(bpf_err("failed to size the unwind-table map"))?;
    unwind_mappings.set_max_entries(sizes.unwind_slots).map_err(bpf_err("failed to size the unwind mappings map"))?;
    stacks.set_max_entries(sizes.stacks).map_err(bpf_err("failed to size the stack map"))?;
    counts.set_max_entries(sizes.counts).map_err(bpf_err("failed to size the counts map"))?;
    events.set_max_entries(sizes.events).map_err(bpf_err("failed to size the event ring buffer"))?;
    deferred.set_max_entries(sizes.deferred).map_err(bpf_err("failed to size the deferred-sample ring buffer"))?;
    deferred_scratch
        .set_max_entries(sizes.deferred_scratch)
        .map_err(bpf_err("failed to size the deferred-sample scratch map"))?;
    offcpu_start.set_max_entries(sizes.offcpu_pending).map_err(bpf_err("failed to size the off-CPU map"))?;
    Ok(())
}

/// The row chunks (the first one created) and the process-mapping array mapped into this
/// process.
fn map_unwind_arrays(programs: &Programs, sizes: &MapSizes) -> Result<UnwindArrays, SampleError> {
    let mmap_err = |e: std::io::Error| SampleError::Bpf {
        context: "failed to map the unwind-table arrays".into(),
        source: libbpf_rs::Error::from(e),
    };
    let mut rows = RowChunks::new(sizes.unwind_rows);
    // A failure here recurs, and is reported, at the first table written.
    let _ = rows.create_first(programs.unwind_rows());
    Ok((rows, ArrayMmap::new(programs.unwind_mappings(), sizes.unwind_slots).map_err(mmap_err)?))
}

/// Adds a process to the in-kernel target filter.
pub(super) fn add_to_target_filter(programs: &Programs, pid: u32) -> Result<(), SampleError> {
    programs
        .targets()
        .update(&pid.to_ne_bytes(), &[1u8], MapFlags::ANY)
        .map_err(bpf_err(format!("failed to add PID {pid} to the target filter")))
}

/// The ring buffers of process notifications and of handed-over samples; their callbacks parse
/// each record into its pending list.
fn event_ring_buffer(
    programs: &Programs,
    unwind: UnwindMode,
) -> Result<(RingBuffer<'static>, PendingEvents, PendingDeferred), SampleError> {
    let pending_events = Rc::new(RefCell::new(Vec::new()));
    let pending_deferred = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&pending_events);
    let mut rb = RingBufferBuilder::new();
    rb.add(programs.events(), move |data: &[u8]| {
        sink.borrow_mut().extend(parse_proc_event(data));
        0
    })
    .map_err(bpf_err("failed to set up the event ring buffer"))?;
    let tables_only = unwind == UnwindMode::Dwarf;
    let handed_over = Rc::clone(&pending_deferred);
    rb.add(programs.deferred(), move |data: &[u8]| {
        handed_over.borrow_mut().extend(parse_deferred(data, tables_only));
        0
    })
    .map_err(bpf_err("failed to set up the deferred-sample ring buffer"))?;
    let ringbuf = rb.build().map_err(bpf_err("failed to set up the event ring buffer"))?;
    Ok((ringbuf, pending_events, pending_deferred))
}

/// One process notification from the ring buffer; `None` for a record of unknown kind or size.
fn parse_proc_event(data: &[u8]) -> Option<ProcEvent> {
    let mut ev = types::prof_proc_event::default();
    plain::copy_from_bytes(&mut ev, data).ok()?;
    let known = crate::process::Known {
        start_time: (ev.start_time != 0).then(|| super::drain::clock_ticks(ev.start_time)),
        ns_pid: crate::process::NsPid::from_kernel(ev.tgid, ev.ns_pid),
    };
    let tgid = ev.tgid;
    match types::prof_event_kind(ev.kind) {
        types::prof_event_kind::PROF_EVENT_FIRST_SAMPLE => Some(ProcEvent::FirstSample { tgid, tid: ev.tid, known }),
        types::prof_event_kind::PROF_EVENT_EXEC => Some(ProcEvent::Exec { tgid, known }),
        types::prof_event_kind::PROF_EVENT_EXIT => Some(ProcEvent::Exit { tgid }),
        types::prof_event_kind::PROF_EVENT_MAPS_STALE => Some(ProcEvent::MapsStale { tgid, known }),
        _ => None,
    }
}

/// The sampling program attached on every CPU whose event opened.
struct Attached {
    event: EventKind,
    /// Per CPU: the attached program and a second descriptor of its event.
    links: Vec<(u32, Link, Option<OwnedFd>)>,
    notes: Vec<String>,
}

/// Opens the sampling event on every CPU and attaches the program to each; sampling starts.
fn attach_per_cpu(
    programs: &Programs,
    frequency_hz: u64,
    wanted: Option<EventKind>,
    cpus: &[u32],
) -> Result<Attached, SampleError> {
    let (event, opened, mut notes) = open_all_cpus(frequency_hz, wanted, cpus)?;
    let mut links = Vec::with_capacity(opened.len());
    for (cpu, fd) in opened {
        let probe = fd.try_clone().ok();
        let link = programs
            .sampler()
            .attach_perf_event(fd.as_raw_fd())
            .map_err(bpf_err(format!("failed to attach the sampler to CPU {cpu}")))?;
        // libbpf's perf-event link owns the event fd from now on and closes it on detach.
        let _ = fd.into_raw_fd();
        links.push((cpu, link, probe));
    }
    notes.retain(|n| !n.is_empty());
    Ok(Attached { event, links, notes })
}

/// Opens the sampling event on every CPU: cpu-clock when asked for, else cycles if the first
/// CPU has them, else cpu-clock. The event chosen, one open event per CPU, and notes about the
/// choice.
type OpenedEvents = (EventKind, Vec<(u32, OwnedFd)>, Vec<String>);

fn open_all_cpus(frequency_hz: u64, wanted: Option<EventKind>, cpus: &[u32]) -> Result<OpenedEvents, SampleError> {
    // The maps exist: a command spawned from now on inherits the memlock limit prof was given.
    super::kernel::restore_memlock();
    let mut notes = Vec::new();
    let first = cpus.first().copied().unwrap_or(0);
    let event = match perf_events::open_event(wanted.unwrap_or(EventKind::Cycles), frequency_hz, first) {
        Ok(fd) if wanted == Some(EventKind::CpuClock) => {
            drop(fd);
            EventKind::CpuClock
        }
        Ok(fd) => {
            drop(fd);
            EventKind::Cycles
        }
        Err(e) if perf_events::is_unsupported(&e) => {
            notes.push("hardware cycles event not available (no PMU, e.g. a VM): sampling with cpu-clock".to_string());
            EventKind::CpuClock
        }
        Err(e) if e.raw_os_error() == Some(libc::EACCES) || e.raw_os_error() == Some(libc::EPERM) => {
            return Err(SampleError::Refused(privileges::describe_refused("perf_event_open()", &e.to_string())))
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
