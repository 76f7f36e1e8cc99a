//! A recording session: starts the sampler (and the command to profile), drains the kernel's
//! counts every second, captures processes as they appear, and, when stopped by the duration,
//! the command's exit or a signal, drains everything and builds the symbolized profile.

use std::ffi::OsString;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::aggregate::Aggregator;
use crate::profile::{LossReason, Metadata, Profile};
use crate::sample::spawn::PausedChild;
use crate::sample::{ProcEvent, SampleError, Sampler, SamplerOptions, Targets};
use crate::symbolize::{SymbolizeStats, Symbolizer};

/// How often the kernel maps are drained. Once a second keeps the stack map small (it holds only
/// stacks first seen since the last drain) at ~one syscall per new key.
pub const DRAIN_INTERVAL: Duration = Duration::from_secs(1);

/// How often a spawned command is checked for exit while waiting for events.
const CHILD_POLL: Duration = Duration::from_millis(50);

/// What to record.
#[derive(Clone, Debug, Default)]
pub struct RecordOptions {
    /// Sampler configuration; its `targets` is replaced when `command` is set.
    pub sampler: SamplerOptions,
    /// Stop after this long (None: until the command exits or a signal).
    pub duration: Option<Duration>,
    /// Command to spawn and profile, with the children it forks.
    pub command: Option<Vec<OsString>>,
    /// Print a live status line (stderr is a terminal).
    pub live_status: bool,
    /// Print one line to stderr when sampling has started.
    pub announce: bool,
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
}

/// Why a recording ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The requested duration elapsed.
    Duration,
    /// The profiled command exited with this status description.
    CommandExited(String),
    /// SIGINT or SIGTERM.
    Signal,
}

/// Errors of a recording.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Sampling could not start or failed.
    #[error(transparent)]
    Sample(#[from] SampleError),
    /// The command could not be started.
    #[error("failed to start `{command}`: {source}")]
    Spawn {
        /// The program.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },
}

fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// Records until the duration elapses, the command exits, or `stop` is set (by a signal
/// handler). Samples drained before the stop are never lost.
pub fn record(opts: &RecordOptions, stop: &Arc<AtomicBool>) -> Result<Recording, RecordError> {
    let mut sampler_opts = opts.sampler.clone();
    let target = match (&opts.command, &sampler_opts.targets) {
        (Some(cmd), _) => {
            sampler_opts.targets = Targets::Pids { pids: Vec::new(), follow_forks: true };
            cmd.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
        }
        (None, Targets::All) => "system-wide".to_string(),
        (None, Targets::Pids { pids, .. }) => {
            format!("pid {}", pids.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(","))
        }
    };

    let mut sampler = Sampler::start(&sampler_opts)?;
    let mut symbolizer = Symbolizer::new();
    let mut agg = Aggregator::default();

    let mut child = match &opts.command {
        Some(cmd) => {
            let mut c = PausedChild::spawn(cmd).map_err(|source| RecordError::Spawn {
                command: cmd.first().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
                source,
            })?;
            sampler.add_target(c.pid())?;
            c.resume().map_err(|source| RecordError::Spawn {
                command: cmd.first().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
                source,
            })?;
            Some(c)
        }
        None => None,
    };

    if opts.announce {
        eprintln!(
            "prof: recording {target} with {} at {} Hz on {} CPUs; Ctrl-C to stop",
            sampler.event().name(),
            sampler_opts.frequency_hz,
            sampler.cpus().len()
        );
    }
    let start_wall = SystemTime::now();
    let start = Instant::now();
    let mut next_drain = start + DRAIN_INTERVAL;
    let ended_by = loop {
        if stop.load(Ordering::SeqCst) {
            break EndReason::Signal;
        }
        if opts.duration.is_some_and(|d| start.elapsed() >= d) {
            break EndReason::Duration;
        }
        if let Some(c) = child.as_mut() {
            if let Some(status) = c.try_wait() {
                break EndReason::CommandExited(status.to_string());
            }
        }
        let now = Instant::now();
        // Signals interrupt the wait at once; a spawned command's exit does not, so poll for it.
        let mut wait = next_drain.saturating_duration_since(now);
        if child.is_some() {
            wait = wait.min(CHILD_POLL);
        }
        if let Some(d) = opts.duration {
            wait = wait.min((start + d).saturating_duration_since(now));
        }
        handle_events(&mut symbolizer, sampler.poll_events(wait)?);
        if Instant::now() >= next_drain {
            agg.add(sampler.drain()?);
            next_drain += DRAIN_INTERVAL;
            if opts.live_status {
                print_status(start.elapsed(), &agg, &sampler);
            }
        }
    };

    // Stop sampling first, so the last drain is complete and the totals are final.
    let end_wall = SystemTime::now();
    handle_events(&mut symbolizer, sampler.poll_events(Duration::ZERO)?);
    agg.add(sampler.stop()?);
    handle_events(&mut symbolizer, sampler.poll_events(Duration::ZERO)?);
    if opts.live_status {
        eprint!("\r\x1b[2K");
    }
    if let Some(c) = child.as_mut() {
        if c.try_wait().is_none() {
            // We started it; it ends with the session.
            c.signal(libc::SIGTERM);
            let _ = c.wait();
        }
    }

    let stats = sampler.stats()?;
    let mut meta = Metadata {
        prof_version: env!("CARGO_PKG_VERSION").to_string(),
        hostname: hostname(),
        kernel_release: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string(),
        cpus: sampler.cpus().to_vec(),
        event: sampler.event().name().to_string(),
        frequency_hz: sampler_opts.frequency_hz,
        start_unix_ns: unix_ns(start_wall),
        end_unix_ns: unix_ns(end_wall),
        target,
        total_samples: stats.samples,
        losses: stats.losses.clone(),
        notes: sampler.notes().to_vec(),
    };
    let dropped = stats.losses.get(&LossReason::CountsMapFull).copied().unwrap_or(0);
    if agg.total() + dropped != stats.samples {
        meta.notes.push(format!(
            "sample accounting mismatch: {} counted + {} dropped != {} taken",
            agg.total(),
            dropped,
            stats.samples
        ));
    }
    let mut profile = agg.build(&mut symbolizer, meta);
    if let Some(problem) = symbolizer.kernel_symbols_problem() {
        profile.meta.notes.push(problem.to_string());
    }
    Ok(Recording {
        profile,
        processes: agg.processes(),
        symbolize: symbolizer.stats().clone(),
        ended_by,
        map_sizes: sampler.map_sizes(),
    })
}

fn handle_events(symbolizer: &mut Symbolizer, events: Vec<ProcEvent>) {
    for ev in events {
        match ev {
            ProcEvent::FirstSample { tgid, tid } => {
                symbolizer.process_seen(tgid, tid);
            }
            ProcEvent::Exec { tgid } => {
                symbolizer.process_seen(tgid, tgid);
            }
            ProcEvent::Exit { tgid } => symbolizer.process_exited(tgid),
        }
    }
}

fn print_status(elapsed: Duration, agg: &Aggregator, sampler: &Sampler) {
    let lost: u64 =
        sampler.stats().map(|s| s.losses.iter().filter(|(r, _)| r.is_per_sample()).map(|(_, n)| *n).sum()).unwrap_or(0);
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\r\x1b[2Krecording {:.0} s · {} samples · {} processes · {} lost",
        elapsed.as_secs_f64(),
        agg.total(),
        agg.processes(),
        lost
    );
    let _ = err.flush();
}
