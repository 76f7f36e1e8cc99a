//! The push thread: a bounded queue of archive paths, drained in order; each archive is read
//! back, converted and posted, and retried with exponential backoff and jitter while the store
//! is unreachable. The recorder's side ([`Pusher::enqueue`]) only takes a mutex for a few
//! instructions: it never waits for the network.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::client::{Client, IngestRequest, Outcome};
use super::{Protocol, PushMessage, PushOptions, PushStats, Series};
use crate::archive::{self, ArchiveError};
use crate::profile::{format_unix_ns, unix_ns};

/// Notes kept for the next archive's metadata; more are counted, not kept, so a long outage
/// cannot grow an archive.
const MAX_NOTES: usize = 16;

/// Hands archives to the push thread and reports what it did.
pub struct Pusher {
    shared: Arc<Shared>,
    grace: Duration,
    display: String,
    series_name: String,
    messages: Option<SyncSender<PushMessage>>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled on every change the other side may wait for: a new path, closing, done.
    changed: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<PathBuf>,
    capacity: usize,
    /// The push thread holds an archive it has not finished with.
    in_flight: bool,
    stats: PushStats,
    notes: Vec<String>,
    notes_left_out: usize,
    /// Set by [`Pusher::finish`]: push what is queued until this instant, then stop.
    closing: Option<Instant>,
    /// The push thread has stopped.
    done: bool,
}

impl State {
    fn note(&mut self, note: String) {
        if self.notes.len() < MAX_NOTES {
            self.notes.push(note);
        } else {
            self.notes_left_out += 1;
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The delay before retry number `failures` (1 for the first): `initial × 2^(failures−1)`,
/// capped at `max`, with "equal jitter" (uniform in [½, 1] of that), so recorders that lost
/// the same store do not come back in lockstep and the delay still grows.
pub fn backoff(initial: Duration, max: Duration, failures: u32, rng: &mut fastrand::Rng) -> Duration {
    let initial = initial.max(Duration::from_millis(1));
    let max = max.max(initial);
    let exp = failures.saturating_sub(1).min(30);
    let base = initial.saturating_mul(1u32 << exp).min(max);
    let half = base / 2;
    half + half.mul_f64(rng.f64())
}

/// Hands a message to the recording's side, if it listens; never waits (a full channel drops
/// it: the archives' notes keep it).
fn report(to: Option<&SyncSender<PushMessage>>, warning: bool, text: &str) {
    if let Some(to) = to {
        let _ = to.try_send(PushMessage { warning, text: text.to_string() });
    }
}

/// The file name of `path`, for messages.
fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

/// True when an archive read failed because the file is gone.
fn is_missing(e: &ArchiveError) -> bool {
    matches!(e.inner(), ArchiveError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
}

impl Pusher {
    /// Starts the push thread for `series` at `client`'s endpoint, which speaks `protocol`.
    pub fn start(client: Client, protocol: Protocol, series: Series, opts: PushOptions) -> std::io::Result<Pusher> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State { capacity: opts.queue_capacity.max(1), ..State::default() }),
            changed: Condvar::new(),
        });
        let display = client.endpoint().display().to_string();
        let (grace, messages) = (opts.grace, opts.messages.clone());
        let series_name = protocol.describe(&series);
        let worker = Worker { shared: Arc::clone(&shared), client, protocol, series, opts, display: display.clone() };
        let thread = std::thread::Builder::new().name("prof-push".into()).spawn(move || worker.run())?;
        Ok(Pusher { shared, grace, display, series_name, messages, thread: Some(thread) })
    }

    /// The store's URL (without credentials).
    pub fn endpoint(&self) -> &str {
        &self.display
    }

    /// The series, as the protocol names it (see [`Protocol::describe`]).
    pub fn series_name(&self) -> &str {
        &self.series_name
    }

    /// How long [`finish`](Pusher::finish) waits at most.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// Queues an archive for pushing; never waits. A full queue drops its oldest path.
    pub fn enqueue(&self, path: PathBuf) {
        let mut st = self.shared.lock();
        st.stats.queued += 1;
        if st.queue.len() >= st.capacity {
            if let Some(old) = st.queue.pop_front() {
                st.stats.dropped += 1;
                if st.stats.dropped == 1 || st.stats.dropped.is_power_of_two() {
                    let msg = format!(
                        "push queue full ({} archives): dropped `{}` from the queue ({} dropped so far; the archives stay on disk)",
                        st.capacity,
                        file_name(&old),
                        st.stats.dropped
                    );
                    report(self.messages.as_ref(), true, &msg);
                    st.note(msg);
                }
            }
        }
        st.queue.push_back(path);
        self.shared.changed.notify_all();
    }

    /// The counters so far.
    pub fn stats(&self) -> PushStats {
        let st = self.shared.lock();
        let mut stats = st.stats;
        stats.unsent = st.queue.len() as u64 + u64::from(st.in_flight);
        stats
    }

    /// Push problems since the last call, for the next archive's notes.
    pub fn take_notes(&self) -> Vec<String> {
        let mut st = self.shared.lock();
        let mut notes = std::mem::take(&mut st.notes);
        let left_out = std::mem::take(&mut st.notes_left_out);
        if left_out > 0 {
            notes.push(format!("{left_out} more push problems (see the recorder's log)"));
        }
        notes
    }

    /// Starts the grace period now without waiting for it: the push thread retries at once,
    /// then works through the queue until `now + grace`. For several pushers that end
    /// together, so that their grace periods run at the same time; [`finish`](Pusher::finish)
    /// then waits for it.
    pub fn begin_finish(&self) {
        let mut st = self.shared.lock();
        if st.closing.is_none() {
            st.closing = Some(Instant::now() + self.grace);
            self.shared.changed.notify_all();
        }
    }

    /// Lets the push thread work through the queue for up to the grace period (retrying at
    /// once, then with backoff until the deadline; the period started by
    /// [`begin_finish`](Pusher::begin_finish) if it was called), stops it, and returns the
    /// final counters; `unsent` counts the archives it did not get to.
    pub fn finish(mut self) -> PushStats {
        self.begin_finish();
        let mut st = self.shared.lock();
        let deadline = st.closing.unwrap_or_else(Instant::now);
        while !st.done {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = self.shared.changed.wait_timeout(st, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        let mut stats = st.stats;
        stats.unsent = st.queue.len() as u64 + u64::from(st.in_flight);
        // Nothing more starts; an attempt under way ends within its timeout.
        st.queue.clear();
        let done = st.done;
        drop(st);
        if done {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
        stats
    }
}

impl Drop for Pusher {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        let now = Instant::now();
        if st.closing.is_none_or(|d| d > now) {
            st.closing = Some(now);
        }
        st.queue.clear();
        self.shared.changed.notify_all();
    }
}

/// The push thread's side.
struct Worker {
    shared: Arc<Shared>,
    client: Client,
    protocol: Protocol,
    series: Series,
    opts: PushOptions,
    display: String,
}

/// What the push thread keeps from one attempt to the next, across archives.
struct Retries {
    rng: fastrand::Rng,
    /// Consecutive failed attempts.
    failures: u32,
    /// The reason of the last rejection logged.
    last_rejection: String,
    /// Closing began while waiting for a retry (the one immediate retry it allows is used).
    closing_seen: bool,
}

/// What the thread does next after waiting for a retry.
enum Wait {
    Retry,
    Stop,
}

impl Worker {
    fn warn(&self, msg: &str) {
        report(self.opts.messages.as_ref(), true, msg);
    }

    fn run(self) {
        let mut retries = Retries {
            // Forked from fastrand's per-thread generator (seeded from the monotonic clock in ns
            // and the thread), so recorders that lost the same store draw different jitter.
            rng: fastrand::Rng::new(),
            failures: 0,
            last_rejection: String::new(),
            closing_seen: false,
        };
        let mut overflow_warned = false;
        while let Some(path) = self.next_path() {
            let Some((requests, merged)) = self.requests(&path) else { continue };
            if merged > 0 {
                self.overflowed(&path, merged, &mut overflow_warned);
            }
            if self.push(&path, &requests, &mut retries).is_break() {
                self.stop();
                return;
            }
        }
    }

    /// Waits for the next queued archive and marks it in flight; `None` (and the thread marked
    /// stopped) once the queue is empty and closing has begun.
    fn next_path(&self) -> Option<PathBuf> {
        let mut st = self.shared.lock();
        loop {
            if let Some(p) = st.queue.pop_front() {
                st.in_flight = true;
                return Some(p);
            }
            if st.closing.is_some() {
                st.done = true;
                self.shared.changed.notify_all();
                return None;
            }
            st = self.shared.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The requests that push the archive at `path` (one per label set, see
    /// [`Protocol::requests`]) and the label sets merged into the overflow. An archive that
    /// cannot be pushed is counted and skipped (`None`): deleted (by retention) before its
    /// turn, or unreadable.
    fn requests(&self, path: &Path) -> Option<(Vec<IngestRequest>, usize)> {
        let request = match archive::read_file(path) {
            Ok(profile) => self
                .protocol
                .requests(self.client.endpoint(), &self.series, profile)
                .map_err(|e| (false, format!("cannot push `{}`: {e}", path.display()))),
            Err(e) if is_missing(&e) => {
                Err((true, format!("`{}` was deleted before it could be pushed", file_name(path))))
            }
            Err(e) => Err((false, format!("cannot push: {e}"))),
        };
        match request {
            Ok(r) => Some(r),
            Err((deleted, msg)) => {
                self.warn(&msg);
                let mut st = self.shared.lock();
                if deleted {
                    st.stats.missing += 1;
                } else {
                    st.stats.unreadable += 1;
                }
                st.in_flight = false;
                st.note(msg);
                None
            }
        }
    }

    /// Sends the `requests` of the archive at `path`, in order, each until the store accepts or
    /// rejects it. The archive counts as pushed when the store accepted every request, as
    /// rejected when it refused one (the others are still sent). `Break` when the closing
    /// deadline passes first: the thread stops.
    fn push(&self, path: &Path, requests: &[IngestRequest], retries: &mut Retries) -> ControlFlow<()> {
        let mut rejection = None;
        for request in requests {
            if let Some(reason) = self.send(request, retries)? {
                rejection.get_or_insert(reason);
            }
        }
        match rejection {
            None => self.accepted(),
            Some(reason) => self.rejected(path, reason, retries),
        }
        ControlFlow::Continue(())
    }

    /// Sends one request until the store accepts it (`None`) or rejects it (the reason),
    /// waiting with backoff between attempts that can be retried; `Break` when the closing
    /// deadline passes first.
    fn send(&self, request: &IngestRequest, retries: &mut Retries) -> ControlFlow<(), Option<String>> {
        loop {
            let Some(timeout) = self.attempt_timeout() else { return ControlFlow::Break(()) };
            match self.client.send(request, timeout) {
                Outcome::Accepted => {
                    self.recovered(retries);
                    return ControlFlow::Continue(None);
                }
                Outcome::Rejected(reason) => {
                    retries.failures = 0;
                    return ControlFlow::Continue(Some(reason));
                }
                Outcome::Retry(reason) => {
                    retries.failures += 1;
                    self.failing(&reason, retries.failures);
                    let delay =
                        backoff(self.opts.initial_backoff, self.opts.max_backoff, retries.failures, &mut retries.rng);
                    if let Wait::Stop = self.wait_retry(Instant::now() + delay, &mut retries.closing_seen) {
                        return ControlFlow::Break(());
                    }
                }
            }
        }
    }

    /// The timeout of the next attempt: the configured one, cut to what is left of the closing
    /// deadline; `None` once that deadline has passed.
    fn attempt_timeout(&self) -> Option<Duration> {
        let st = self.shared.lock();
        match st.closing {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                (!left.is_zero()).then(|| left.min(self.opts.timeout))
            }
            None => Some(self.opts.timeout),
        }
    }

    /// Counts an archive whose every request was accepted.
    fn accepted(&self) {
        let mut st = self.shared.lock();
        st.stats.pushed += 1;
        st.in_flight = false;
    }

    /// After an accepted request: when attempts had failed, notes that pushing works again.
    fn recovered(&self, retries: &mut Retries) {
        if retries.failures > 0 {
            let mut st = self.shared.lock();
            let msg = format!(
                "push to `{}` works again after {} failed attempts; {} archives queued",
                self.display,
                retries.failures,
                st.queue.len()
            );
            report(self.opts.messages.as_ref(), false, &msg);
            st.note(msg);
        }
        retries.failures = 0;
    }

    /// Counts a rejected archive (not retried) and notes it; warns once per distinct reason.
    fn rejected(&self, path: &Path, reason: String, retries: &mut Retries) {
        let msg = format!("push of `{}` rejected by `{}`: {reason}", file_name(path), self.display);
        let mut st = self.shared.lock();
        st.stats.rejected += 1;
        st.in_flight = false;
        retries.failures = 0;
        if reason != retries.last_rejection {
            self.warn(&format!("{msg} (not retried; later rejections for the same reason are only counted)"));
            retries.last_rejection = reason;
        }
        st.note(msg);
    }

    /// Notes that `merged` label sets of the archive at `path` went into the overflow set;
    /// warns the first time.
    fn overflowed(&self, path: &Path, merged: usize, warned: &mut bool) {
        let msg = format!(
            "`{}`: {merged} label sets beyond the first {} pushed as `{}`",
            file_name(path),
            super::split::MAX_SERIES,
            super::split::OVERFLOW_VALUE
        );
        if !*warned {
            *warned = true;
            self.warn(&format!("{msg} (later intervals' overflows are only noted in their archives)"));
        }
        self.shared.lock().note(msg);
    }

    /// Counts a failed attempt that will be retried; the first of a run of failures (`failures`
    /// counts them) is warned about and noted.
    fn failing(&self, reason: &str, failures: u32) {
        let mut st = self.shared.lock();
        st.stats.retries += 1;
        if failures == 1 {
            let msg = format!(
                "push to `{}` failing since {}: {reason}; retrying with backoff, archives are kept",
                self.display,
                format_unix_ns(unix_ns(SystemTime::now()))
            );
            self.warn(&msg);
            st.note(msg);
        }
    }

    /// Waits until `at`, or until closing begins (then retries at once: the recorder is about
    /// to exit), or until the closing deadline passes (then stops).
    fn wait_retry(&self, at: Instant, closing_seen: &mut bool) -> Wait {
        let mut st = self.shared.lock();
        loop {
            let now = Instant::now();
            if let Some(deadline) = st.closing {
                if now >= deadline {
                    return Wait::Stop;
                }
                if !*closing_seen {
                    *closing_seen = true;
                    return Wait::Retry;
                }
            }
            if now >= at {
                return Wait::Retry;
            }
            let until = st.closing.map_or(at, |d| d.min(at));
            st = self
                .shared
                .changed
                .wait_timeout(st, until.saturating_duration_since(now))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Marks the thread stopped (the archive in hand counts as unsent).
    fn stop(&self) {
        let mut st = self.shared.lock();
        st.done = true;
        self.shared.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Retry delays double from the initial delay up to the cap, each within [½, 1] of its
    /// step.
    #[test]
    fn push_backoff_doubles_with_jitter_up_to_the_cap() {
        let mut rng = fastrand::Rng::new();
        let (initial, max) = (Duration::from_secs(1), Duration::from_secs(60));
        for failures in 1..=12u32 {
            let step = Duration::from_secs(1u64 << (failures - 1)).min(max);
            for _ in 0..50 {
                let d = backoff(initial, max, failures, &mut rng);
                assert!(d >= step / 2 && d <= step, "failure {failures}: {d:?} outside [{:?}, {step:?}]", step / 2);
            }
        }
        assert!(backoff(initial, max, u32::MAX, &mut rng) <= max);
        assert!(backoff(Duration::ZERO, Duration::ZERO, 1, &mut rng) <= Duration::from_millis(1));
    }
}
