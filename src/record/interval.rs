//! Continuous recording: one archive per interval in a directory, written atomically, with
//! retention applied after each, handed to the pushers (`--push`, `--push-otlp`), and archive times kept on the
//! wall clock across clock steps and suspends.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant, SystemTime};

use super::observer::{Event, Observer};
use super::session::{Session, DRAIN_INTERVAL};
use super::status::{IntervalStatus, PidSet, Status};
use super::{ContinuousOptions, ContinuousSummary, RecordError};
use crate::aggregate::Aggregator;
use crate::archive;
use crate::profile::{unix_ns, LossReason, Losses, Metadata, Profile};
use crate::push::{self, PushMessage, PushSummary, Pusher};
use crate::store;

/// A disagreement between the realtime and monotonic clocks above this is a clock step or a
/// suspend, and archive times are re-synced.
const CLOCK_STEP: Duration = Duration::from_secs(1);

/// Writes one archive per interval of a continuous recording, and hands each written archive
/// to the pushers (`--push`, `--push-otlp`), which never block.
pub(super) struct IntervalWriter {
    opts: ContinuousOptions,
    /// Wall-clock time of `mono0`, so archive times are monotonic-clock based.
    mono0: Instant,
    wall0_ns: u64,
    interval_start: Instant,
    next_flush: Instant,
    seq: u64,
    pid: u32,
    prev: Losses,
    /// Process notifications sent up to the previous interval.
    prev_events_sent: u64,
    /// Intervals that could not be written since the last archive was (counted in the next
    /// archive; `summary.lost_intervals` is the total of the recording), and their samples.
    lost_since_written: u64,
    lost_samples: u64,
    written_samples: u64,
    /// Most processes sampled in one interval.
    pub processes: usize,
    /// Intervals flushed so far (written or lost), the samples counted in them and the
    /// processes they sampled: with the current interval's, the session's totals.
    flushed_intervals: u64,
    flushed_samples: u64,
    flushed_processes: PidSet,
    /// What was written so far.
    pub summary: ContinuousSummary,
    /// Send each written archive to a profile store (`--push`, `--push-otlp`), in the order of
    /// [`ContinuousOptions::push`].
    pub pushers: Vec<Pusher>,
    /// What the push threads report as they happen.
    push_messages: Option<Receiver<PushMessage>>,
    /// The warning that the size limit is below one archive was given (it is given once).
    warned_over_size: bool,
}

/// Push messages held until the recording's thread passes them on (once a second); more are
/// dropped (they are in the archives' notes too).
const PUSH_MESSAGES: usize = 64;

impl IntervalWriter {
    /// Prepares the directory (created 0700 if missing; made 0700, with a warning, if it is
    /// this user's and others could write to it; refused if another user owns it; temp files of
    /// a crashed recorder removed) and starts the pushers.
    pub fn new(
        opts: &ContinuousOptions,
        mono0: Instant,
        wall0: SystemTime,
        default_app: &str,
        observer: &mut dyn Observer,
    ) -> Result<Self, RecordError> {
        let err = |source| RecordError::Store { dir: opts.dir.clone(), source };
        let (tx, rx) = std::sync::mpsc::sync_channel(PUSH_MESSAGES);
        let mut pushers = Vec::with_capacity(opts.push.len());
        for p in &opts.push {
            let series = p.series(default_app).map_err(RecordError::Push)?;
            let client = push::client::Client::new(p.endpoint.clone(), p.options.timeout);
            let options = push::PushOptions { messages: Some(tx.clone()), ..p.options.clone() };
            let pusher = Pusher::start(client, p.protocol, series, options)
                .map_err(|e| RecordError::Push(format!("cannot start the push thread: {e}")))?;
            pushers.push(pusher);
        }
        let push_messages = (!pushers.is_empty()).then_some(rx);
        if let store::DirState::Tightened { mode } = store::ensure_dir(&opts.dir).map_err(err)? {
            let message = format!(
                "archive directory `{}` was writable by group or others (mode {mode:04o}); changed to 0700",
                opts.dir.display()
            );
            observer.on_event(Event::Warning { message: &message });
        }
        let recovered = store::recover(&opts.dir).map_err(err)?;
        for q in &recovered {
            observer.on_event(Event::Quarantined { from: &q.from, to: &q.to });
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
            prev_events_sent: 0,
            lost_since_written: 0,
            lost_samples: 0,
            written_samples: 0,
            processes: 0,
            flushed_intervals: 0,
            flushed_samples: 0,
            flushed_processes: PidSet::default(),
            summary: ContinuousSummary { recovered: recovered.len() as u64, ..Default::default() },
            pushers,
            push_messages,
            warned_over_size: false,
        })
    }

    /// Passes on what the push thread reported since the last call.
    pub fn forward_push_messages(&self, observer: &mut dyn Observer) {
        for m in self.push_messages.iter().flat_map(|rx| rx.try_iter()) {
            let message = m.text.as_str();
            observer.on_event(if m.warning { Event::Warning { message } } else { Event::Notice { message } });
        }
    }

    /// The status of the recording: `session` ([`super::status::of_session`]: the counts of the
    /// interval being filled) with that interval's number and the session's totals.
    pub fn status(&self, current: &Session, session: Status) -> Status {
        let counts = &current.counts;
        let new_processes = counts.process_ids().filter(|&pid| !self.flushed_processes.contains(pid)).count();
        Status {
            samples: self.flushed_samples.saturating_add(counts.total()),
            processes: self.flushed_processes.len() + new_processes,
            interval: Some(IntervalStatus {
                number: self.flushed_intervals + 1,
                samples: session.samples,
                processes: session.processes,
            }),
            ..session
        }
    }

    /// When the current interval ends.
    pub fn next_flush(&self) -> Instant {
        self.next_flush
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
    pub fn flush(
        &mut self,
        session: &mut Session,
        base: &Metadata,
        now: Instant,
        observer: &mut dyn Observer,
    ) -> Result<Profile, RecordError> {
        let clock_note = self.resync_clock(now, SystemTime::now());
        let stats = session.sampler.stats()?;
        let interval = std::mem::take(&mut session.counts);
        let mut meta = self.interval_meta(&interval, &stats.losses, clock_note, base, now);
        meta.notes.append(&mut session.cpu_notes);
        meta.cpus = session.sampler.cpus();
        let events_sent = stats.events_sent.saturating_sub(self.prev_events_sent);
        meta.notes.extend(super::loss_notes::loss_notes(&meta.losses, events_sent, super::capacities(session)));
        self.account(&interval, &mut meta, stats.samples, session.sampler.is_running());
        let profile = session.finish_profile(&interval, meta, observer);
        self.processes = self.processes.max(interval.processes());
        self.flushed_intervals += 1;
        self.flushed_samples = self.flushed_samples.saturating_add(interval.total());
        interval.process_ids().for_each(|pid| self.flushed_processes.insert(pid));
        let written = self.write(&profile, observer);
        self.retain(written.as_deref(), observer);
        session.forget_exited();
        self.prev = stats.losses;
        self.prev_events_sent = stats.events_sent;
        self.interval_start = now;
        let interval = self.opts.interval.max(DRAIN_INTERVAL);
        while self.next_flush <= now {
            self.next_flush += interval;
        }
        Ok(profile)
    }

    /// The metadata of the interval ending `now`: losses since the last interval, intervals
    /// lost before it, a clock step, the pusher's notes.
    fn interval_meta(
        &self,
        interval: &Aggregator,
        losses_so_far: &Losses,
        clock_note: Option<String>,
        base: &Metadata,
        now: Instant,
    ) -> Metadata {
        let mut losses = Losses::new();
        for (reason, n) in losses_so_far {
            let d = n.saturating_sub(self.prev.get(reason).copied().unwrap_or(0));
            if d > 0 {
                losses.insert(*reason, d);
            }
        }
        if self.lost_since_written > 0 {
            losses.insert(LossReason::IntervalsLost, self.lost_since_written);
        }
        // Dropped samples count in the total; dropped off-CPU blocks are events, not ns.
        let dropped = losses.get(&LossReason::CountsMapFull).copied().filter(|_| base.weight_unit.is_count());
        let mut meta = Metadata {
            start_unix_ns: self.wall_ns(self.interval_start),
            end_unix_ns: self.wall_ns(now),
            total_samples: interval.total() + dropped.unwrap_or(0),
            losses,
            ..base.clone()
        };
        meta.notes.extend(clock_note);
        for p in &self.pushers {
            meta.notes.extend(p.take_notes());
        }
        if self.lost_samples > 0 {
            meta.notes.push(format!(
                "{} earlier interval(s) with {} samples could not be written",
                self.lost_since_written, self.lost_samples
            ));
        }
        meta
    }

    /// Counts the interval's samples as written and notes when, at the end, samples taken are
    /// unaccounted for.
    fn account(&mut self, interval: &Aggregator, meta: &mut Metadata, taken: u64, sampler_running: bool) {
        let dropped = meta.losses.get(&LossReason::CountsMapFull).copied().unwrap_or(0);
        self.written_samples += interval.total() + dropped;
        let accounted = self.written_samples + self.lost_samples;
        // Samples of the generation still in the kernel belong to the next interval; at the
        // end (sampler stopped) everything taken must be accounted for.
        // Off-CPU counts are nanoseconds and `taken` counts blocks: nothing to compare.
        if !sampler_running && meta.weight_unit.is_count() && accounted != taken {
            meta.notes.push(format!("sample accounting mismatch: {accounted} written or lost != {taken} taken"));
        }
    }

    /// Applies retention, keeping the archive just `written` (and the newest); says once when
    /// the size limit is smaller than what is always kept.
    fn retain(&mut self, written: Option<&Path>, observer: &mut dyn Observer) {
        match store::apply_retention(&self.opts.dir, self.opts.retention, SystemTime::now(), written) {
            Ok(retained) => {
                self.summary.deleted += retained.deleted.len() as u64;
                if let (Some(kept), Some(max)) = (retained.over_size, self.opts.retention.max_bytes) {
                    if !self.warned_over_size {
                        self.warned_over_size = true;
                        let message = format!(
                            "--retain-size {} is smaller than one archive ({}): only the newest is kept",
                            human_bytes(max),
                            human_bytes(kept)
                        );
                        observer.on_event(Event::Warning { message: &message });
                    }
                }
            }
            Err(e) => observer
                .on_event(Event::Warning { message: &format!("retention in `{}`: {e}", self.opts.dir.display()) }),
        }
    }

    /// Writes the interval's archive and hands it to the pushers; a failure is counted as a
    /// lost interval. Returns the path written.
    fn write(&mut self, profile: &Profile, observer: &mut dyn Observer) -> Option<PathBuf> {
        let path = self.opts.dir.join(store::archive_name(profile.meta.start_unix_ns, self.pid, self.seq));
        self.seq += 1;
        match archive::write_file(profile, &path) {
            Ok(()) => {
                self.summary.archives += 1;
                self.summary.bytes += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                self.lost_since_written = 0;
                self.lost_samples = 0;
                for p in &self.pushers {
                    p.enqueue(path.clone());
                }
                Some(path)
            }
            Err(e) => {
                let msg = crate::error_text::error_chain(&e);
                observer.on_event(Event::IntervalLost { error: &msg });
                self.summary.lost_intervals += 1;
                self.lost_since_written += 1;
                self.lost_samples += profile.meta.total_samples;
                self.written_samples -= profile.meta.total_samples;
                None
            }
        }
    }

    /// Writes the last interval (ending `end`) and lets the pushers send what they still hold
    /// within their grace period (all at the same time). Returns the last interval's profile and what was written.
    pub fn finish(
        mut self,
        session: &mut Session,
        base: &Metadata,
        end: Instant,
        observer: &mut dyn Observer,
    ) -> Result<(Profile, usize, ContinuousSummary), RecordError> {
        let profile = self.flush(session, base, end, observer)?;
        let pushers = std::mem::take(&mut self.pushers);
        for p in &pushers {
            p.begin_finish();
        }
        for p in pushers {
            let pending = p.stats().unsent;
            if pending > 0 {
                observer.on_event(Event::FlushingPush { pending, endpoint: p.endpoint(), grace: p.grace() });
            }
            let endpoint = p.endpoint().to_string();
            self.summary.push.push(PushSummary { endpoint, stats: p.finish() });
        }
        self.forward_push_messages(observer);
        Ok((profile, self.processes, self.summary))
    }
}

/// `bytes` for a person: `512 B`, `12 KiB`, `1.5 MiB`.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Continuous options for tests: archives in `dir`, 1 s intervals, no push.
    fn test_options(dir: PathBuf, retention: store::Retention) -> ContinuousOptions {
        ContinuousOptions { dir, interval: Duration::from_secs(1), retention, push: Vec::new() }
    }
    use crate::record::observer::Silent;

    /// Events collected as text.
    #[derive(Default)]
    struct Collect(Vec<String>);
    impl Observer for Collect {
        fn on_event(&mut self, event: Event<'_>) {
            self.0.push(format!("{event:?}"));
        }
    }

    /// Interval `i`'s profile: 10 samples, and a note of 4 KiB that does not compress, so its
    /// archive is larger than 4 KiB.
    fn interval_profile(i: u64) -> Profile {
        let mut b = crate::profile::ProfileBuilder::new(Metadata {
            start_unix_ns: 1_795_000_000_000_000_000 + i * 1_000_000_000,
            ..Metadata::default()
        });
        let f = b.frame(crate::profile::Frame::new("f", "app", crate::profile::FrameKind::User));
        let s = b.stack(vec![f]);
        b.add(s, 1, "app", 10);
        let mut p = b.finish();
        p.meta.total_samples = 10;
        let mut rng = fastrand::Rng::with_seed(i);
        p.meta.notes.push((0..4096).map(|_| rng.alphanumeric()).collect());
        p
    }

    /// Intervals that fail to write (the directory gone, as after ENOSPC) are counted in the next
    /// archive written, and that count starts over after it; the recording's summary keeps the
    /// total.
    #[test]
    fn record_lost_intervals_total_survives_a_successful_write() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("a");
        let opts = test_options(d.clone(), Default::default());
        let mut w = IntervalWriter::new(&opts, Instant::now(), SystemTime::now(), "prof", &mut Silent).unwrap();
        let mut events = Collect::default();
        let base = Metadata::default();
        let meta = |w: &IntervalWriter| w.interval_meta(&Aggregator::default(), &Losses::new(), None, &base, w.mono0);
        let lost = |m: &Metadata| m.losses.get(&LossReason::IntervalsLost).copied();

        std::fs::remove_dir(&d).unwrap();
        for i in 0..3 {
            w.written_samples += 10;
            assert_eq!(w.write(&interval_profile(i), &mut events), None);
        }
        assert_eq!(events.0.iter().filter(|e| e.contains("IntervalLost")).count(), 3, "{:?}", events.0);
        let m = meta(&w);
        assert_eq!(lost(&m), Some(3));
        assert!(m.notes.iter().any(|n| n == "3 earlier interval(s) with 30 samples could not be written"), "{m:?}");

        std::fs::create_dir(&d).unwrap();
        w.written_samples += 10;
        assert!(w.write(&interval_profile(3), &mut events).is_some());
        assert_eq!(lost(&meta(&w)), None, "counted in the archive written, not again");
        assert_eq!(w.summary.lost_intervals, 3, "the summary's total");
        w.written_samples += 10;
        assert_eq!((w.write(&interval_profile(4), &mut events).is_some(), w.summary.lost_intervals), (true, 3));
        assert_eq!(w.summary.archives, 2);
    }

    /// A size limit below one archive keeps the archive just written (never deleting what was
    /// just recorded) and says so once, however many intervals follow.
    #[test]
    fn record_retain_size_below_one_archive_keeps_newest_and_warns_once() {
        let dir = tempfile::tempdir().unwrap();
        let opts = test_options(dir.path().join("a"), store::Retention { max_bytes: Some(1024), max_age: None });
        let mut w = IntervalWriter::new(&opts, Instant::now(), SystemTime::now(), "prof", &mut Silent).unwrap();
        let mut events = Collect::default();
        let mut paths = Vec::new();
        for i in 0..3u64 {
            let written = w.write(&interval_profile(i), &mut events).expect("written");
            w.retain(Some(&written), &mut events);
            paths.push(written);
        }
        assert!(paths[2].exists() && !paths[0].exists() && !paths[1].exists());
        assert_eq!(w.summary.deleted, 2);
        let warnings: Vec<_> = events.0.iter().filter(|e| e.contains("Warning")).collect();
        assert_eq!(warnings.len(), 1, "{:?}", events.0);
        assert!(warnings[0].contains("--retain-size 1 KiB is smaller than one archive ("), "{}", warnings[0]);
        assert!(warnings[0].contains("KiB): only the newest is kept"), "{}", warnings[0]);
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(12 * 1024), "12 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 / 2), "1.5 MiB");
    }

    /// An archive directory others can write to is made private with a warning when it is this
    /// user's, and refused (nothing written) when another user owns it.
    #[test]
    fn record_archive_dir_writable_by_others_is_fixed_or_refused() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("a");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        let opts = test_options(d.clone(), Default::default());
        let mut events = Collect::default();
        IntervalWriter::new(&opts, Instant::now(), SystemTime::now(), "prof", &mut events).unwrap();
        assert_eq!(std::fs::metadata(&d).unwrap().mode() & 0o777, 0o700);
        assert_eq!(events.0.len(), 1, "{:?}", events.0);
        assert!(events.0[0].contains("was writable by group or others (mode 0777); changed to 0700"), "{:?}", events.0);

        if std::fs::metadata(&d).unwrap().uid() != 0 {
            eprintln!("SKIPPED record_archive_dir_writable_by_others_is_fixed_or_refused (refusal): not root");
            return;
        }
        std::os::unix::fs::chown(&d, Some(12345), None).unwrap();
        let Err(e) = IntervalWriter::new(&opts, Instant::now(), SystemTime::now(), "prof", &mut Silent) else {
            panic!("a directory of uid 12345 was used");
        };
        assert!(matches!(e, RecordError::Store { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains(&format!("`{}`", d.display())) && msg.contains("owned by uid 12345"), "{msg}");
    }

    /// Small drift keeps the offset (intervals stay back to back); a step forward or backward,
    /// or a suspend, re-syncs archive times to the wall clock and says so.
    #[test]
    fn record_clock_steps_resync_archive_times() {
        let dir = tempfile::tempdir().unwrap();
        let opts = test_options(dir.path().join("a"), Default::default());
        let (mono0, wall0) = (Instant::now(), SystemTime::now());
        let mut w = IntervalWriter::new(&opts, mono0, wall0, "prof", &mut Silent).unwrap();
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
}
