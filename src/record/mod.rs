//! Recording, the stage that drives all the others: a session (`session.rs`) starts the
//! sampler (and the command to profile), drains the kernel's counts every second and captures
//! processes as they appear (with `--unwind fp`, again when a drained stack shows code mapped
//! after the capture: `late_maps.rs`); when stopped by the duration, the command's exit or a signal, the
//! counts become one symbolized profile (`finish.rs`), or, in a continuous recording, one
//! archive per interval (`interval.rs`). What happens meanwhile goes to an [`Observer`];
//! [`summary`] describes the result.

mod finish;
mod interval;
mod late_maps;
pub mod loss_notes;
pub mod observer;
mod session;
pub mod status;
pub mod summary;

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant, SystemTime};

pub use observer::{Event, Observer, Silent};
pub use session::{HandedOver, DRAIN_INTERVAL};
pub use status::{status_line, IntervalStatus, Status};

use crate::profile::unwind::UnwindReport;
use crate::profile::{unix_ns, EventKind, LossReason, Metadata, Profile, WeightUnit};
use crate::push::{self, PushSummary};
use crate::sample::{SampleError, SamplerOptions, Targets};
use crate::store;
use crate::symbolize::SymbolizeStats;
use interval::IntervalWriter;
use session::Session;

/// What to record.
#[derive(Clone, Debug, Default)]
pub struct RecordOptions {
    /// Sampler configuration; its `targets` is replaced when `command` is set.
    pub sampler: SamplerOptions,
    /// Stop after this long (None: until the command exits or a signal).
    pub duration: Option<Duration>,
    /// Command to spawn and profile, with the children it forks.
    pub command: Option<Vec<OsString>>,
    /// With a command: record the whole system while it runs (perf's `-a`), not only the
    /// command and its children.
    pub whole_system: bool,
    /// Write one archive per interval into a directory instead of one profile at the end.
    pub continuous: Option<ContinuousOptions>,
    /// Keep the command's whole command line as the profile's target; by default only the
    /// program and the number of arguments are kept (`python3 (+2 args)`), because arguments
    /// can hold secrets (`--password=…`) and the target is stored in archives and SVG titles.
    pub record_cmdline: bool,
    /// How often the kernel maps are drained; `None`: [`DRAIN_INTERVAL`] (once a second).
    pub drain_interval: Option<Duration>,
}

/// Continuous recording: rotating archives in a directory.
#[derive(Clone, Debug)]
pub struct ContinuousOptions {
    /// The archive directory (created 0700 if missing; see [`store::ensure_dir`]).
    pub dir: PathBuf,
    /// Length of one archive's interval (whole seconds; drains happen every second).
    pub interval: Duration,
    /// What to keep.
    pub retention: store::Retention,
    /// Push each written archive to these profile stores (`--push`, `--push-otlp`).
    pub push: Vec<push::PushConfig>,
}

/// What a continuous recording wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContinuousSummary {
    /// Archives written.
    pub archives: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Intervals that could not be written (e.g. disk full); counted in the next archive.
    pub lost_intervals: u64,
    /// Archives deleted by retention.
    pub deleted: u64,
    /// Temp files of a crashed earlier run that were moved into the quarantine at start.
    pub recovered: u64,
    /// What each pusher did, after its grace period, in the order of
    /// [`ContinuousOptions::push`].
    pub push: Vec<PushSummary>,
}

/// A finished recording.
#[derive(Debug)]
pub struct Recording {
    /// The symbolized profile.
    pub profile: Profile,
    /// Distinct processes sampled.
    pub processes: usize,
    /// Symbolization counters.
    pub symbolize: SymbolizeStats,
    /// Why the recording ended.
    pub ended_by: EndReason,
    /// Entries of the in-kernel stack and counts maps.
    pub map_sizes: (u32, u32),
    /// For a continuous recording: what was written (the profile is the last interval's).
    pub continuous: Option<ContinuousSummary>,
    /// Time from the end of the recording to the symbolized profile, by stage.
    pub end_stages: EndStages,
    /// Kernel memory of the unwind tables at the peak (0 with `--unwind fp`).
    pub unwind_table_bytes: u64,
    /// The profiled command was still running when the recording ended (the duration elapsed,
    /// or a signal stopped prof) and was sent SIGTERM.
    pub command_stopped: bool,
    /// Samples taken while a table their walk needed was being built, finished in userspace.
    pub handed_over: HandedOver,
    /// The loaded sampling programs and the instructions the verifier processed for each.
    pub verified: Vec<crate::sample::VerifiedProgram>,
}

/// Where the time between the end of a recording and its symbolized profile went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndStages {
    /// Detaching the perf events and draining the maps a last time.
    pub stop: Duration,
    /// Symbolizing every address and building the profile.
    pub symbolize: Duration,
}

/// Why a recording ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The requested duration elapsed.
    Duration,
    /// The profiled command exited.
    CommandExited {
        /// How, in words (`exit status: 3`, `signal: 9 (SIGKILL)`).
        status: String,
        /// The shell's code for it: the exit status, or 128 + the signal's number.
        code: u8,
    },
    /// Every process given with `-p` exited.
    TargetsExited,
    /// SIGINT or SIGTERM.
    Signal,
}

/// Errors of a recording.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Sampling could not start or failed.
    #[error(transparent)]
    Sample(#[from] SampleError),
    /// The archive directory cannot be used.
    #[error("archive directory `{dir}`: {source}")]
    Store {
        /// The directory.
        dir: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Pushing could not be set up.
    #[error("--push: {0}")]
    Push(String),
    /// The command could not be started.
    #[error("failed to start `{command}`: {source}")]
    Spawn {
        /// The program.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// Records until the duration elapses, the command exits, or `stop` is set (by a signal
/// handler), telling `observer` what happens. Samples drained before the stop are never lost.
pub fn record(opts: &RecordOptions, stop: &AtomicBool, observer: &mut dyn Observer) -> Result<Recording, RecordError> {
    let (sampler_opts, target) = resolve_target(opts);
    let mut session = Session::start(&sampler_opts, opts.command.as_deref(), opts.continuous.is_none())?;
    session.drain_every = opts.drain_interval.unwrap_or(DRAIN_INTERVAL);
    let base = base_metadata(&session, &sampler_opts, target);
    observer.on_event(Event::Started {
        target: &base.target,
        event: &base.event.to_string(),
        frequency_hz: base.frequency_hz,
        cpus: base.cpus.len(),
    });
    if sampler_opts.kernel_stacks {
        session.warn_hidden_kernel_symbols(observer);
    }
    let start_wall = SystemTime::now();
    let mut writer = match &opts.continuous {
        Some(c) => Some(IntervalWriter::new(c, session.start, start_wall, &default_app_name(opts), observer)?),
        None => None,
    };
    for p in writer.iter().flat_map(|w| &w.pushers) {
        observer.on_event(Event::Pushing { endpoint: p.endpoint(), series: p.series_name() });
    }
    let mut after_drain = |session: &mut Session, observer: &mut dyn Observer| {
        let status = status::of_session(session, opts.duration);
        let Some(w) = writer.as_mut() else {
            observer.on_event(Event::Status(status));
            return Ok(());
        };
        w.forward_push_messages(observer);
        // Before the interval is written: its counts are shown whole, never just reset.
        observer.on_event(Event::Status(w.status(session, status)));
        if Instant::now() >= w.next_flush() {
            w.flush(session, &base, Instant::now(), observer)?;
        }
        Ok(())
    };
    let ended_by = session.run(opts.duration, stop, &mut after_drain, observer)?;

    let end = Instant::now();
    let end_wall = SystemTime::now();
    session.stop(observer)?;
    if let Some(w) = writer {
        let (profile, processes, summary) = w.finish(&mut session, &base, end, observer)?;
        return Ok(Recording {
            profile,
            processes,
            symbolize: session.symbolizer.stats().clone(),
            ended_by,
            map_sizes: session.sampler.map_sizes(),
            continuous: Some(summary),
            end_stages: EndStages { stop: end.elapsed(), ..EndStages::default() },
            unwind_table_bytes: session.sampler.unwind_row_memory().1,
            command_stopped: session.command_stopped,
            handed_over: session.sampler.stats().map_or(session.handed_over, |s| session.handed_over_totals(&s)),
            verified: session.sampler.verified().to_vec(),
        });
    }

    let stats = session.sampler.stats()?;
    let mut end_stages = EndStages { stop: end.elapsed(), ..EndStages::default() };
    let counts = std::mem::take(&mut session.counts);
    // Off-CPU counts are nanoseconds blocked: the total is their sum (the kernel counts blocks).
    let total_samples = if base.weight_unit.is_count() { stats.samples } else { counts.total() };
    let mut meta = Metadata {
        start_unix_ns: unix_ns(start_wall),
        end_unix_ns: unix_ns(end_wall),
        total_samples,
        losses: stats.losses.clone(),
        ..base
    };
    meta.notes.append(&mut session.cpu_notes);
    meta.cpus = session.sampler.cpus();
    meta.notes.extend(loss_notes::loss_notes(&stats.losses, stats.events_sent, capacities(&session)));
    meta.notes.extend(accounting_note(meta.weight_unit, &stats, counts.total()));
    meta.notes.extend(cgroup_note(&sampler_opts, &stats));
    // Symbolizing is the recording's peak of memory: the kernel's buffers and tables are no
    // longer read, so they are unmapped first.
    let unwind_table_bytes = session.sampler.unwind_row_memory().1;
    session.sampler.release_buffers();
    let symbolize_start = Instant::now();
    let profile = session.finish_profile(&counts, meta, observer);
    end_stages.symbolize = symbolize_start.elapsed();
    Ok(Recording {
        profile,
        processes: counts.processes(),
        symbolize: session.symbolizer.stats().clone(),
        ended_by,
        map_sizes: session.sampler.map_sizes(),
        continuous: None,
        end_stages,
        unwind_table_bytes,
        command_stopped: session.command_stopped,
        handed_over: session.handed_over_totals(&stats),
        verified: session.sampler.verified().to_vec(),
    })
}

/// What the counts add up to, as a note: for off-CPU time (nanoseconds), how many blocks it is
/// made of; for samples, a mismatch between what was counted and dropped and what the kernel
/// took, which should never happen.
fn accounting_note(unit: WeightUnit, stats: &crate::sample::KernelStats, counted: u64) -> Option<String> {
    if !unit.is_count() {
        return Some(format!("{} blocks off the CPU counted", stats.samples));
    }
    let dropped = stats.losses.get(&LossReason::CountsMapFull).copied().unwrap_or(0);
    (counted.saturating_add(dropped) != stats.samples).then(|| {
        format!("sample accounting mismatch: {counted} counted + {dropped} dropped != {} taken", stats.samples)
    })
}

/// With `--cgroup`: how many samples (or switch-outs off the CPU) of other cgroups the kernel
/// skipped before taking stacks.
fn cgroup_note(sampler_opts: &SamplerOptions, stats: &crate::sample::KernelStats) -> Option<String> {
    let what = match sampler_opts.off_cpu {
        None => "samples",
        Some(o) if o.wall => "samples and switch-outs",
        Some(_) => "switch-outs",
    };
    (!sampler_opts.cgroups.is_empty()).then(|| {
        format!(
            "--cgroup: {} {what} of tasks in other cgroups skipped before their stacks were taken",
            stats.cgroup_skipped
        )
    })
}

/// The sampler's options for what is recorded (a command is followed from its pid, forks
/// included) and the target as the summary and archives name it: `system-wide`, `pid 1,2`, or
/// the command's program and argument count (`python3 (+2 args)`; the whole command line only
/// with [`RecordOptions::record_cmdline`]).
fn resolve_target(opts: &RecordOptions) -> (SamplerOptions, String) {
    let mut sampler_opts = opts.sampler.clone();
    let target = match (&opts.command, &sampler_opts.targets) {
        (Some(cmd), _) => {
            let named = if opts.record_cmdline {
                cmd.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
            } else {
                let program = cmd.first().map(|p| p.to_string_lossy()).unwrap_or_default();
                match cmd.len().saturating_sub(1) {
                    0 => program.into_owned(),
                    1 => format!("{program} (+1 arg)"),
                    n => format!("{program} (+{n} args)"),
                }
            };
            if opts.whole_system {
                sampler_opts.targets = Targets::All;
                format!("system-wide while `{named}` ran")
            } else {
                sampler_opts.targets = Targets::Pids { pids: Vec::new(), follow_forks: true };
                named
            }
        }
        (None, Targets::All) => "system-wide".to_string(),
        (None, Targets::Pids { pids, .. }) => {
            format!("pid {}", pids.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(","))
        }
    };
    let target = match sampler_opts.cgroups.as_slice() {
        [] => target,
        cgroups => {
            let paths: Vec<&str> = cgroups.iter().map(|c| c.path.as_str()).collect();
            format!("{target} in cgroup {}", paths.join(","))
        }
    };
    (sampler_opts, target)
}

/// What every profile of the session says about how it was recorded.
fn base_metadata(session: &Session, sampler_opts: &SamplerOptions, target: String) -> Metadata {
    let sampler = &session.sampler;
    let off_cpu = sampler.event() == EventKind::OffCpu;
    let timed = off_cpu || sampler.event() == EventKind::Wall;
    Metadata {
        prof_version: env!("CARGO_PKG_VERSION").to_string(),
        hostname: hostname(),
        kernel_release: crate::sample::kernel_release(),
        cpus: sampler.cpus(),
        event: sampler.event().into(),
        // Off-CPU time is not sampled at a frequency; its counts and wall-clock time's are
        // nanoseconds.
        frequency_hz: if off_cpu { 0 } else { sampler_opts.frequency_hz },
        weight_unit: if timed { WeightUnit::Nanoseconds } else { WeightUnit::Samples },
        target,
        notes: sampler.notes().to_vec(),
        unwind: UnwindReport { modes: sampler.unwind_mode().into(), ..Default::default() },
        ..Metadata::default()
    }
}

/// The sizes of the session's kernel maps, for the loss warnings.
fn capacities(session: &Session) -> loss_notes::Capacities {
    let (stacks, counts) = session.sampler.map_sizes();
    loss_notes::Capacities { stacks, counts, events_buffer: session.sampler.events_buffer_size() }
}

/// The application name pushed profiles get when `--app-name` is not given: the command's
/// program name, the first process's comm, or (system-wide) `prof`.
fn default_app_name(opts: &RecordOptions) -> String {
    match (&opts.command, &opts.sampler.targets) {
        (Some(cmd), _) => cmd
            .first()
            .and_then(|a| std::path::Path::new(a).file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        (None, Targets::Pids { pids, .. }) => pids
            .first()
            .and_then(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).ok())
            .map(|c| c.trim().to_string())
            .unwrap_or_default(),
        (None, Targets::All) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command's arguments (which can hold secrets) are not in the target unless asked for:
    /// by default the target is the program and the number of arguments.
    #[test]
    fn record_target_keeps_the_command_line_only_on_request() {
        let cmd = |args: &[&str]| Some(args.iter().map(OsString::from).collect::<Vec<_>>());
        let mut opts = RecordOptions { command: cmd(&["python3", "app.py", "--password=x"]), ..Default::default() };
        assert_eq!(resolve_target(&opts).1, "python3 (+2 args)");
        opts.command = cmd(&["./app", "--token=y"]);
        assert_eq!(resolve_target(&opts).1, "./app (+1 arg)");
        opts.command = cmd(&["./burner"]);
        assert_eq!(resolve_target(&opts).1, "./burner");
        opts.record_cmdline = true;
        opts.command = cmd(&["python3", "app.py", "--password=x"]);
        assert_eq!(resolve_target(&opts).1, "python3 app.py --password=x");
        opts.whole_system = true;
        let (sampler, target) = resolve_target(&opts);
        assert_eq!(target, "system-wide while `python3 app.py --password=x` ran");
        assert_eq!(sampler.targets, Targets::All);
        opts.command = None;
        assert_eq!(resolve_target(&opts).1, "system-wide");
    }

    /// Pushed profiles are named after the command's program, the first process's comm, or
    /// nothing (then `prof`) for the whole system.
    #[test]
    fn push_default_app_name_follows_the_target() {
        let mut opts =
            RecordOptions { command: Some(vec!["/usr/bin/python3".into(), "app.py".into()]), ..Default::default() };
        assert_eq!(default_app_name(&opts), "python3");
        opts.command = None;
        opts.sampler.targets = Targets::Pids { pids: vec![std::process::id()], follow_forks: false };
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert_eq!(default_app_name(&opts), comm.trim());
        opts.sampler.targets = Targets::All;
        assert_eq!(crate::push::labels::app_name_from(&default_app_name(&opts)), "prof");
    }
}
