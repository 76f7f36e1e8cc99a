//! A recording session: starts the sampler (and the command to profile), drains the kernel's
//! counts every second, captures processes as they appear, and, when stopped by the duration,
//! the command's exit or a signal, drains everything and builds the symbolized profile.

use std::ffi::OsString;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use std::path::PathBuf;

use crate::aggregate::Aggregator;
use crate::archive;
use crate::profile::{unix_ns, Losses};
use crate::profile::{LossReason, Metadata, Profile};
use crate::push::{self, PushStats, Pusher};
use crate::sample::spawn::PausedChild;
use crate::sample::{ProcEvent, SampleError, Sampler, SamplerOptions, Targets};
use crate::store;
use crate::symbolize::{SymbolizeStats, Symbolizer};
use crate::unwind::manager::TableManager;
use crate::unwind::UnwindMode;

/// How often the kernel maps are drained. Once a second keeps the stack map small (it holds only
/// stacks first seen since the last drain) at ~one syscall per new key.
pub const DRAIN_INTERVAL: Duration = Duration::from_secs(1);

/// A disagreement between the realtime and monotonic clocks above this is a clock step or a
/// suspend, and archive times are re-synced.
const CLOCK_STEP: Duration = Duration::from_secs(1);

/// Every this many drains, processes that exited without an exit event (never sampled after
/// their exec) are dropped from the unwinder's process table.
const FORGET_DEAD_DRAINS: u64 = 10;

/// How often finished unwind tables are picked up while some are being built.
const TABLE_POLL: Duration = Duration::from_millis(10);

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
    /// Write one archive per interval into a directory instead of one profile at the end.
    pub continuous: Option<ContinuousOptions>,
}

/// Continuous recording: rotating archives in a directory.
#[derive(Clone, Debug)]
pub struct ContinuousOptions {
    /// The archive directory (created 0700 if missing).
    pub dir: PathBuf,
    /// Length of one archive's interval (whole seconds; drains happen every second).
    pub interval: Duration,
    /// What to keep.
    pub retention: store::Retention,
    /// Push each written archive to a profile store.
    pub push: Option<push::PushConfig>,
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
    /// Temp files of a crashed earlier run that were removed at start.
    pub recovered: u64,
    /// With `--push`: what the pusher did, after its grace period.
    pub push: Option<PushStats>,
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
/// handler). Samples drained before the stop are never lost.
pub fn record(opts: &RecordOptions, stop: &Arc<AtomicBool>) -> Result<Recording, RecordError> {
    let mut sampler_opts = opts.sampler.clone();
    let default_app = default_app_name(opts);
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
    // A single recording is symbolized once, at its end: parse one binary at a time. Continuous
    // recording symbolizes every interval and keeps what it parsed (new addresses keep coming).
    symbolizer.release_parsed_binaries(opts.continuous.is_none());
    let mut agg = Aggregator::default();
    let mut tables = match sampler.unwind_mode() {
        UnwindMode::Fp => None,
        _ => Some(TableManager::new(sampler.unwind_capacity())),
    };

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
    let base_meta = Metadata {
        prof_version: env!("CARGO_PKG_VERSION").to_string(),
        hostname: hostname(),
        kernel_release: crate::sample::kernel_release(),
        cpus: sampler.cpus().to_vec(),
        event: sampler.event().name().to_string(),
        frequency_hz: sampler_opts.frequency_hz,
        target,
        notes: sampler.notes().to_vec(),
        unwind: crate::unwind::report::UnwindReport {
            mode: sampler.unwind_mode().name().to_string(),
            ..Default::default()
        },
        ..Metadata::default()
    };
    let mut writer = match &opts.continuous {
        Some(c) => Some(IntervalWriter::new(c, start, start_wall, &default_app)?),
        None => None,
    };
    if let (Some(p), true) = (writer.as_ref().and_then(|w| w.pusher.as_ref()), opts.announce) {
        eprintln!("prof: pushing each interval to `{}` as `{}`", p.endpoint(), p.series_name());
    }
    let mut next_drain = start + DRAIN_INTERVAL;
    let mut drains: u64 = 0;
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
        if tables.as_ref().is_some_and(|t| t.pending() > 0) {
            // Tables are being built: pick them up promptly.
            wait = wait.min(TABLE_POLL);
        }
        let events = sampler.poll_events(wait)?;
        handle_events(&mut symbolizer, &mut sampler, tables.as_mut(), events);
        if let Some(t) = tables.as_mut() {
            t.poll(&mut sampler);
        }
        if Instant::now() >= next_drain {
            agg.add(sampler.drain()?);
            next_drain += DRAIN_INTERVAL;
            drains += 1;
            if drains.is_multiple_of(FORGET_DEAD_DRAINS) {
                if let Some(t) = tables.as_mut() {
                    t.forget_dead(&mut sampler, |tgid| std::path::Path::new(&format!("/proc/{tgid}")).exists());
                }
            }
            if let Some(w) = writer.as_mut() {
                if Instant::now() >= w.next_flush {
                    w.flush(&mut agg, &mut symbolizer, &sampler, tables.as_mut(), &base_meta, Instant::now())?;
                }
            }
            if opts.live_status {
                print_status(start.elapsed(), &agg, &sampler);
            }
        }
    };

    // Stop sampling first, so the last drain is complete and the totals are final.
    let end = Instant::now();
    let mut end_stages = EndStages::default();
    let end_wall = SystemTime::now();
    let events = sampler.poll_events(Duration::ZERO)?;
    handle_events(&mut symbolizer, &mut sampler, tables.as_mut(), events);
    agg.add(sampler.stop()?);
    let events = sampler.poll_events(Duration::ZERO)?;
    handle_events(&mut symbolizer, &mut sampler, tables.as_mut(), events);
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

    if let Some(mut w) = writer {
        let profile = w.flush(&mut agg, &mut symbolizer, &sampler, tables.as_mut(), &base_meta, end)?;
        if let Some(p) = w.pusher.take() {
            let pending = p.stats().unsent;
            if pending > 0 && opts.announce {
                eprintln!("prof: pushing {pending} queued interval(s) to `{}` (up to {:.0?})", p.endpoint(), p.grace());
            }
            w.summary.push = Some(p.finish());
        }
        return Ok(Recording {
            profile,
            processes: w.processes,
            symbolize: symbolizer.stats().clone(),
            ended_by,
            map_sizes: sampler.map_sizes(),
            continuous: Some(w.summary),
            end_stages: EndStages { stop: end.elapsed(), ..EndStages::default() },
        });
    }

    let stats = sampler.stats()?;
    end_stages.stop = end.elapsed();
    let mut meta = Metadata {
        start_unix_ns: unix_ns(start_wall),
        end_unix_ns: unix_ns(end_wall),
        total_samples: stats.samples,
        losses: stats.losses.clone(),
        ..base_meta
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
    let symbolize_start = Instant::now();
    let mut profile = agg.build(&mut symbolizer, meta);
    if let Some(problem) = symbolizer.kernel_symbols_problem() {
        profile.meta.notes.push(problem.to_string());
    }
    describe_tables(&mut profile, tables.as_ref());
    end_stages.symbolize = symbolize_start.elapsed();
    Ok(Recording {
        profile,
        processes: agg.processes(),
        symbolize: symbolizer.stats().clone(),
        ended_by,
        map_sizes: sampler.map_sizes(),
        continuous: None,
        end_stages,
    })
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

/// Writes one archive per interval of a continuous recording, and hands each written archive
/// to the pusher (`--push`), which never blocks.
struct IntervalWriter {
    opts: ContinuousOptions,
    /// Wall-clock time of `mono0`, so archive times are monotonic-clock based.
    mono0: Instant,
    wall0_ns: u64,
    interval_start: Instant,
    next_flush: Instant,
    seq: u64,
    pid: u32,
    prev: Losses,
    /// Samples of intervals that could not be written, and how many intervals.
    lost_samples: u64,
    written_samples: u64,
    processes: usize,
    summary: ContinuousSummary,
    /// Sends each written archive to the profile store (`--push`).
    pusher: Option<Pusher>,
}

impl IntervalWriter {
    fn new(
        opts: &ContinuousOptions,
        mono0: Instant,
        wall0: SystemTime,
        default_app: &str,
    ) -> Result<Self, RecordError> {
        let err = |source| RecordError::Store { dir: opts.dir.clone(), source };
        let pusher = match &opts.push {
            Some(p) => {
                let series = p.series(default_app).map_err(RecordError::Push)?;
                let client = push::client::Client::new(p.endpoint.clone(), p.options.timeout);
                let pusher = Pusher::start(client, series, p.options.clone())
                    .map_err(|e| RecordError::Push(format!("cannot start the push thread: {e}")))?;
                Some(pusher)
            }
            None => None,
        };
        store::ensure_dir(&opts.dir).map_err(err)?;
        let recovered = store::recover(&opts.dir).map_err(err)?;
        for path in &recovered {
            eprintln!("prof: removed `{}`, an archive a crashed recorder did not finish", path.display());
        }
        let interval = opts.interval.max(DRAIN_INTERVAL);
        Ok(IntervalWriter {
            opts: opts.clone(),
            mono0,
            wall0_ns: unix_ns(wall0),
            interval_start: mono0,
            next_flush: mono0 + interval,
            seq: 0,
            pid: std::process::id(),
            prev: Losses::new(),
            lost_samples: 0,
            written_samples: 0,
            processes: 0,
            summary: ContinuousSummary { recovered: recovered.len() as u64, ..Default::default() },
            pusher,
        })
    }

    /// Wall-clock time of `t`: the monotonic clock plus the (re-synced) offset.
    fn wall_ns(&self, t: Instant) -> u64 {
        self.wall0_ns + t.saturating_duration_since(self.mono0).as_nanos() as u64
    }

    /// Re-syncs the wall-clock offset when the realtime clock and the monotonic clock disagree
    /// by more than [`CLOCK_STEP`] (a clock step, or a suspend the monotonic clock did not
    /// count). Returns a note for the archive. Small drift is ignored, so ordinary intervals stay
    /// exactly back to back; durations always come from the monotonic clock.
    fn resync_clock(&mut self, now: Instant, wall_now: SystemTime) -> Option<String> {
        let expected = self.wall_ns(now) as i128;
        let actual = unix_ns(wall_now) as i128;
        let step = actual - expected;
        if step.unsigned_abs() <= CLOCK_STEP.as_nanos() {
            return None;
        }
        self.wall0_ns = (self.wall0_ns as i128 + step).max(0) as u64;
        Some(format!(
            "the wall clock moved {:+.3} s against the monotonic clock during this interval (clock step or suspend); \
             times re-synced",
            step as f64 / 1e9
        ))
    }

    /// Symbolizes the interval's counts, writes them as one archive (atomically), applies
    /// retention and forgets exited processes. A write failure (e.g. ENOSPC) is reported with the
    /// path and counted in the next archive; recording goes on.
    fn flush(
        &mut self,
        agg: &mut Aggregator,
        symbolizer: &mut Symbolizer,
        sampler: &Sampler,
        tables: Option<&mut TableManager>,
        base: &Metadata,
        now: Instant,
    ) -> Result<Profile, RecordError> {
        let clock_note = self.resync_clock(now, SystemTime::now());
        let stats = sampler.stats()?;
        let mut losses = Losses::new();
        for (reason, n) in &stats.losses {
            let d = n.saturating_sub(self.prev.get(reason).copied().unwrap_or(0));
            if d > 0 {
                losses.insert(*reason, d);
            }
        }
        if self.summary.lost_intervals > 0 {
            losses.insert(LossReason::IntervalsLost, self.summary.lost_intervals);
        }
        let interval = std::mem::take(agg);
        let dropped = losses.get(&LossReason::CountsMapFull).copied().unwrap_or(0);
        let mut meta = Metadata {
            start_unix_ns: self.wall_ns(self.interval_start),
            end_unix_ns: self.wall_ns(now),
            total_samples: interval.total() + dropped,
            losses,
            ..base.clone()
        };
        meta.notes.extend(clock_note);
        if let Some(p) = &self.pusher {
            meta.notes.extend(p.take_notes());
        }
        if self.lost_samples > 0 {
            meta.notes.push(format!(
                "{} earlier interval(s) with {} samples could not be written",
                self.summary.lost_intervals, self.lost_samples
            ));
        }
        self.written_samples += interval.total() + dropped;
        let taken = stats.samples;
        let accounted = self.written_samples + self.lost_samples;
        // Samples of the generation still in the kernel belong to the next interval; at the
        // end (sampler stopped) everything taken must be accounted for.
        if !sampler.is_running() && accounted != taken {
            meta.notes.push(format!("sample accounting mismatch: {accounted} written or lost != {taken} taken"));
        }
        let mut profile = interval.build(symbolizer, meta);
        if let Some(problem) = symbolizer.kernel_symbols_problem() {
            profile.meta.notes.push(problem.to_string());
        }
        describe_tables(&mut profile, tables.as_deref());
        self.processes = self.processes.max(interval.processes());

        let path = self.opts.dir.join(store::archive_name(profile.meta.start_unix_ns, self.pid, self.seq));
        self.seq += 1;
        match archive::write_file(&profile, &path) {
            Ok(()) => {
                self.summary.archives += 1;
                self.summary.bytes += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                self.summary.lost_intervals = 0;
                self.lost_samples = 0;
                if let Some(p) = &self.pusher {
                    p.enqueue(path.clone());
                }
            }
            Err(e) => {
                let mut msg = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(inner) = source {
                    msg.push_str(&format!(": {inner}"));
                    source = inner.source();
                }
                eprintln!("prof: error: {msg}; the interval is counted as lost, recording continues");
                self.summary.lost_intervals += 1;
                self.lost_samples += profile.meta.total_samples;
                self.written_samples -= profile.meta.total_samples;
            }
        }
        match store::apply_retention(&self.opts.dir, self.opts.retention, SystemTime::now()) {
            Ok(deleted) => self.summary.deleted += deleted.len() as u64,
            Err(e) => eprintln!("prof: warning: retention in `{}`: {e}", self.opts.dir.display()),
        }
        symbolizer.evict_exited();
        if let Some(t) = tables {
            t.tick();
        }
        crate::sample::trim_heap();
        self.prev = stats.losses;
        self.interval_start = now;
        let interval = self.opts.interval.max(DRAIN_INTERVAL);
        while self.next_flush <= now {
            self.next_flush += interval;
        }
        Ok(profile)
    }
}

/// Names each binary's unwind table in the profile's unwind report.
fn describe_tables(profile: &mut Profile, tables: Option<&TableManager>) {
    let Some(tables) = tables else {
        return;
    };
    for info in tables.tables() {
        if let Some(b) = profile.meta.unwind.binaries.get_mut(&info.module) {
            b.table = info.describe();
        }
    }
}

fn handle_events(
    symbolizer: &mut Symbolizer,
    sampler: &mut Sampler,
    mut tables: Option<&mut TableManager>,
    events: Vec<ProcEvent>,
) {
    for ev in events {
        let (tgid, tid) = match ev {
            ProcEvent::FirstSample { tgid, tid } => (tgid, tid),
            ProcEvent::Exec { tgid } | ProcEvent::MapsStale { tgid } => (tgid, tgid),
            ProcEvent::Exit { tgid } => {
                symbolizer.process_exited(tgid);
                if let Some(t) = tables.as_deref_mut() {
                    t.process_exited(sampler, tgid);
                }
                continue;
            }
        };
        if !symbolizer.process_seen(tgid, tid) {
            continue;
        }
        if let Some(t) = tables.as_deref_mut() {
            if let Err(e) = t.process_seen(sampler, tgid, &symbolizer.mappings(tgid)) {
                eprintln!("prof: warning: {e}");
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Small drift keeps the offset (intervals stay back to back); a step forward or backward,
    /// or a suspend, re-syncs archive times to the wall clock and says so.
    #[test]
    fn record_clock_steps_resync_archive_times() {
        let dir = tempfile::tempdir().unwrap();
        let opts = ContinuousOptions {
            dir: dir.path().join("a"),
            interval: Duration::from_secs(1),
            retention: Default::default(),
            push: None,
        };
        let (mono0, wall0) = (Instant::now(), SystemTime::now());
        let mut w = IntervalWriter::new(&opts, mono0, wall0, "prof").unwrap();
        let now = mono0 + Duration::from_secs(5);
        let on_time = wall0 + Duration::from_secs(5);
        assert_eq!(w.resync_clock(now, on_time + Duration::from_millis(300)), None);
        assert_eq!(w.wall_ns(now), unix_ns(on_time));

        let note = w.resync_clock(now, on_time + Duration::from_secs(30)).expect("a forward step is noted");
        assert!(note.contains("+30.000 s"), "{note}");
        assert_eq!(w.wall_ns(now), unix_ns(on_time + Duration::from_secs(30)));

        let back = on_time - Duration::from_secs(3600);
        let note = w.resync_clock(now, back).expect("a backward step is noted");
        assert!(note.contains("-3630.000 s"), "{note}");
        assert_eq!(w.wall_ns(now), unix_ns(back));
        // Durations come from the monotonic clock: never negative.
        assert!(w.wall_ns(now + Duration::from_secs(1)) > w.wall_ns(now));
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
