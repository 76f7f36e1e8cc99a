//! The running session: the sampler and the command it profiles, what is known about the
//! processes sampled, their unwind tables and the counts drained so far; the loop that drains
//! every second and captures processes as they appear, and the stop.

use std::ffi::OsString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::observer::{Event, Observer};
use super::{EndReason, RecordError};
use crate::aggregate::Aggregator;
use crate::process::ProcessTable;
use crate::profile::unwind::UnwindMode;
use crate::profile::unwind::UnwindStatus;
use crate::python::Detector;
use crate::sample::deferred::DeferredSample;
use crate::sample::spawn::PausedChild;
use crate::sample::{ProcEvent, RawCount, Sampler, SamplerOptions, StackRef};
use crate::symbolize::Symbolizer;
use crate::unwind::manager::TableManager;
use crate::unwind::resume::Resumed;

/// How often the kernel maps are drained. Once a second keeps the stack map small (it holds only
/// stacks first seen since the last drain) at ~one syscall per new key.
pub const DRAIN_INTERVAL: Duration = Duration::from_secs(1);

/// Every this many drains, processes that exited without an exit event (never sampled after
/// their exec) are dropped from the unwinder's process table.
const FORGET_DEAD_DRAINS: u64 = 10;

/// Distinct Python problems warned about at most (one per unsupported binary, or a full map
/// naming each PID): a machine full of such processes warns a few times, not once each.
const MAX_PYTHON_WARNINGS: usize = 16;

/// How often finished unwind tables are picked up while some are being built.
const TABLE_POLL: Duration = Duration::from_millis(10);

/// How often the counts are drained while Python processes are sampled (besides every
/// `--drain-interval`), when the kernel took a sample of one since the last drain: their code
/// objects can only be read while they run, so a process that exits loses the names of the
/// functions first sampled in its last this long. Shorter costs more drains (each one a pass
/// over the kernel's counts).
const PYTHON_DRAIN: Duration = Duration::from_millis(100);

/// How often a spawned command is checked for exit while waiting for events.
const CHILD_POLL: Duration = Duration::from_millis(50);

/// Bytes of stack copies the handed-over samples waiting for their tables may hold; beyond,
/// the oldest are finished with frame pointers where a table is missing (as the kernel does
/// when it cannot hand over). A sample holds from one page to 64 KiB of stack (a Python main
/// thread some 12 KiB): 512 to 8,000 samples, a second or more of both CPUs at 1999 Hz, the
/// time a large binary's table takes to build on a busy machine.
const MAX_WAITING_BYTES: usize = 32 << 20;

/// How long the stop waits for tables still being built, so that samples handed over for them
/// are finished with them.
const STOP_TABLE_WAIT: Duration = Duration::from_secs(3);

/// Everything a recording holds while it runs.
#[derive(Debug)]
pub(super) struct Session {
    /// The BPF sampler.
    pub sampler: Sampler,
    /// Mappings and open binaries of every process sampled.
    pub procs: ProcessTable,
    /// Symbols found so far (kept across the intervals of a continuous recording).
    pub symbolizer: Symbolizer,
    /// Counts drained since the start (or since the last interval was written).
    pub counts: Aggregator,
    /// Unwind tables (None with `--unwind fp`).
    pub tables: Option<TableManager>,
    /// The command being profiled.
    child: Option<PausedChild>,
    /// When sampling started.
    pub start: Instant,
    /// How often the kernel maps are drained ([`DRAIN_INTERVAL`] unless asked otherwise).
    pub drain_every: Duration,
    /// CPU hotplug notes not yet written to a profile (a CPU went offline or came back).
    pub cpu_notes: Vec<String>,
    /// Hidden kernel addresses were warned about (once per session).
    pub(super) kernel_symbols_warned: bool,
    /// Binaries whose unwind table could not be loaded, warned about (once per session).
    pub(super) tables_warned: std::collections::HashSet<String>,
    /// The processes given with `-p`: the recording ends when all have exited.
    target_pids: Vec<u32>,
    /// The command was still running at the stop and was sent SIGTERM.
    pub command_stopped: bool,
    /// Samples the kernel handed over whose walk waits for a table being built.
    waiting: Vec<DeferredSample>,
    /// Handed-over samples finished so far.
    pub handed_over: HandedOver,
    /// Finds CPython in processes as they are captured (None with `--python off`).
    python: Option<Detector>,
    /// Processes whose Python frames the kernel walks.
    pub python_procs: std::collections::HashSet<u32>,
    /// Python problems warned about (once per session each).
    python_warned: std::collections::HashSet<String>,
    /// Processes captured at their exec and not announced since: the announcement of their
    /// first sample needs no second capture (code mapped after the exec that a sample runs in
    /// is read again on the kernel walker's request, or by a refresh).
    captured_at_exec: std::collections::HashSet<u32>,
}

/// What became of the samples the kernel handed over (their walk reached a binary whose table
/// was being built).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HandedOver {
    /// Finished in userspace and counted.
    pub finished: u64,
    /// Of those, finished without a table that was still not built (the queue was full, or
    /// the recording ended first).
    pub without_table: u64,
    /// Samples the kernel could not hand over (its buffer was full): walked on with frame
    /// pointers there.
    pub buffer_full: u64,
}

impl Session {
    /// Starts sampling and, when given, the command (paused until the sampler follows it).
    /// `symbolize_once`: the profile is symbolized once, at the end, so each binary's parsed
    /// debug information can be dropped right after its addresses are resolved.
    pub fn start(
        opts: &SamplerOptions,
        command: Option<&[OsString]>,
        symbolize_once: bool,
    ) -> Result<Session, RecordError> {
        let sampler = Sampler::start(opts)?;
        let mut symbolizer = Symbolizer::new();
        symbolizer.release_parsed_binaries(symbolize_once);
        symbolizer.symbols_only_for(std::process::id());
        let tables = match sampler.unwind_mode() {
            UnwindMode::Fp => None,
            _ => Some(TableManager::new(sampler.unwind_capacity())),
        };
        let child = match command {
            Some(cmd) => {
                let spawn_err = |source| RecordError::Spawn {
                    command: cmd.first().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
                    source,
                };
                let mut c = PausedChild::spawn(cmd).map_err(spawn_err)?;
                sampler.add_target(c.pid())?;
                c.resume().map_err(spawn_err)?;
                Some(c)
            }
            None => None,
        };
        Ok(Session {
            sampler,
            procs: ProcessTable::default(),
            symbolizer,
            counts: Aggregator::default(),
            tables,
            child,
            start: Instant::now(),
            drain_every: DRAIN_INTERVAL,
            cpu_notes: Vec::new(),
            kernel_symbols_warned: false,
            tables_warned: Default::default(),
            target_pids: match &opts.targets {
                crate::sample::Targets::Pids { pids, .. } => pids.clone(),
                _ => Vec::new(),
            },
            command_stopped: false,
            waiting: Vec::new(),
            handed_over: HandedOver::default(),
            python: opts.python.then(Detector::default),
            python_procs: Default::default(),
            python_warned: Default::default(),
            captured_at_exec: Default::default(),
        })
    }

    /// Drains every `drain_every`, calling `after_drain` after each drain (it reports the
    /// status; a continuous recording writes its intervals there), until the duration elapses, the command exits, or
    /// `stop` is set (by a signal handler).
    pub fn run(
        &mut self,
        duration: Option<Duration>,
        stop: &AtomicBool,
        after_drain: &mut dyn FnMut(&mut Session, &mut dyn Observer) -> Result<(), RecordError>,
        observer: &mut dyn Observer,
    ) -> Result<EndReason, RecordError> {
        let mut next_drain = self.start + self.drain_every;
        let mut next_python_drain = self.start + PYTHON_DRAIN;
        // The kernel's count of samples of Python processes at the last drain.
        let mut python_sampled = 0;
        let mut drains: u64 = 0;
        loop {
            if stop.load(Ordering::SeqCst) {
                return Ok(EndReason::Signal);
            }
            if duration.is_some_and(|d| self.start.elapsed() >= d) {
                return Ok(EndReason::Duration);
            }
            if let Some(status) = self.child.as_mut().and_then(PausedChild::try_wait) {
                return Ok(EndReason::CommandExited { status: status.to_string(), code: shell_code(status) });
            }
            if !self.target_pids.is_empty() && self.target_pids.iter().all(|&pid| !process_alive(pid)) {
                return Ok(EndReason::TargetsExited);
            }
            let python_drain = if self.python_procs.is_empty() { next_drain } else { next_python_drain };
            self.wait_and_capture(self.next_wait(next_drain.min(python_drain), duration), observer)?;
            let now = Instant::now();
            if now < next_drain {
                if now >= python_drain {
                    // Only when the kernel sampled a Python process since the last drain: a
                    // Python daemon that sleeps costs no drain ten times a second.
                    let sampled = self.sampler.python_samples();
                    if sampled != python_sampled {
                        self.drain_counts(observer)?;
                    }
                    python_sampled = sampled;
                    next_python_drain = now + PYTHON_DRAIN;
                }
                continue;
            }
            self.drain_counts(observer)?;
            python_sampled = self.sampler.python_samples();
            next_python_drain = Instant::now() + PYTHON_DRAIN;
            for note in self.sampler.check_cpus() {
                observer.on_event(Event::Warning { message: &note });
                self.cpu_notes.push(note);
            }
            next_drain += self.drain_every;
            drains += 1;
            if drains.is_multiple_of(FORGET_DEAD_DRAINS) {
                if let Some(t) = self.tables.as_mut() {
                    t.forget_dead(&mut self.sampler, |tgid| std::path::Path::new(&format!("/proc/{tgid}")).exists());
                }
            }
            after_drain(self, observer)?;
        }
    }

    /// How long to wait for process events: until the next drain, the end of the duration, the
    /// next check of the command, or (tables being built) the next pick-up, whichever is first.
    /// Signals interrupt the wait at once; a spawned command's exit does not, so it is polled.
    fn next_wait(&self, next_drain: Instant, duration: Option<Duration>) -> Duration {
        let now = Instant::now();
        let mut wait = next_drain.saturating_duration_since(now);
        if self.child.is_some() || !self.target_pids.is_empty() {
            wait = wait.min(CHILD_POLL);
        }
        if let Some(d) = duration {
            wait = wait.min((self.start + d).saturating_duration_since(now));
        }
        if self.tables.as_ref().is_some_and(|t| t.pending() > 0) {
            wait = wait.min(TABLE_POLL);
        }
        wait
    }

    /// Drains the kernel's counts into the session's, reading the code objects of their Python
    /// frames while the processes still run.
    fn drain_counts(&mut self, observer: &mut dyn Observer) -> Result<(), RecordError> {
        let drained = self.sampler.drain()?;
        self.symbolizer.python().read_new(&drained);
        self.refresh_late_mappings(&drained, observer);
        self.learn_cgroups(&drained);
        self.counts.add(drained);
        Ok(())
    }

    /// Waits up to `wait` for process events, captures the processes they name and picks up
    /// unwind tables that were built meanwhile.
    fn wait_and_capture(&mut self, wait: Duration, observer: &mut dyn Observer) -> Result<(), RecordError> {
        let events = self.sampler.poll_events(wait)?;
        self.handle_events(events, observer);
        if let Some(t) = self.tables.as_mut() {
            if t.poll(&mut self.sampler) > 0 {
                // A large table's scratch vectors were freed by the builder thread: return
                // them to the system.
                crate::sample::trim_heap();
            }
        }
        self.finish_handed_over(false, observer);
        Ok(())
    }

    /// Finishes the walks of the samples the kernel handed over whose tables are ready now,
    /// and counts them; with `force` (or past [`MAX_WAITING_BYTES`]), those still waiting too.
    fn finish_handed_over(&mut self, force: bool, observer: &mut dyn Observer) {
        for s in self.sampler.take_deferred() {
            let pid = crate::process::ProcessId { tgid: s.walk.tgid, start: s.start };
            self.symbolizer.python().read_stack(pid, &s.python);
            self.waiting.push(s);
        }
        if self.waiting.is_empty() {
            return;
        }
        let Some(tables) = self.tables.as_ref() else {
            // Tables are off: the kernel never hands samples over.
            self.waiting.clear();
            return;
        };
        let mut done = Vec::new();
        let mut unplaced = Vec::new();
        self.waiting.retain_mut(|s| match tables.resume(&self.sampler, &mut s.walk, false) {
            Resumed::Done(status) => {
                done.push(counted(s, status));
                false
            }
            Resumed::Waiting(_) => true,
            Resumed::Unplaced => {
                unplaced.push((s.walk.tgid, s.tid));
                true
            }
        });
        let excess = if force { self.waiting.len() } else { over_budget(&self.waiting) };
        for mut s in self.waiting.drain(..excess) {
            if let Resumed::Done(status) = tables.resume(&self.sampler, &mut s.walk, true) {
                done.push(counted(&mut s, status));
            }
            self.handed_over.without_table += 1;
        }
        self.handed_over.finished += done.len() as u64;
        self.counts.add(done.into_iter().map(|c| self.sampler.weighed(c)).collect());
        // Code mapped after the mappings were read (the kernel's request to read them again may
        // have been answered by a read that came too early): read them now; the walks go on at
        // the next call.
        unplaced.sort_unstable();
        unplaced.dedup_by_key(|(tgid, _)| *tgid);
        for (tgid, tid) in unplaced {
            if self.procs.capture(tgid, tid) {
                self.process_captured(tgid, observer);
            }
        }
    }

    /// Looks up the paths of the cgroups of new counts while they exist: a cgroup removed
    /// before the profile is built (a short-lived container) keeps the path seen here.
    fn learn_cgroups(&mut self, drained: &[RawCount]) {
        let now = Instant::now();
        for c in drained.iter().filter(|c| c.cgroup != 0) {
            self.procs.cgroups.path(c.cgroup, now);
        }
    }

    /// Stops sampling (so the last drain is complete and the totals final), drains a last time
    /// and ends the command if it still runs: it was started for the session.
    pub fn stop(&mut self, observer: &mut dyn Observer) -> Result<(), RecordError> {
        let events = self.sampler.poll_events(Duration::ZERO)?;
        self.handle_events(events, observer);
        let drained = self.sampler.stop()?;
        self.symbolizer.python().read_new(&drained);
        let events = self.sampler.poll_events(Duration::ZERO)?;
        self.handle_events(events, observer);
        self.refresh_late_mappings(&drained, observer);
        self.learn_cgroups(&drained);
        self.counts.add(drained);
        self.finish_waiting_walks(observer);
        observer.on_event(Event::Stopped);
        if let Some(c) = self.child.as_mut() {
            if c.try_wait().is_none() {
                c.signal(libc::SIGTERM);
                let _ = c.wait();
                self.command_stopped = true;
            }
        }
        Ok(())
    }

    /// Finishes every handed-over sample: waits (a bounded time) for the tables they need, then
    /// finishes those still waiting without them.
    fn finish_waiting_walks(&mut self, observer: &mut dyn Observer) {
        let deadline = Instant::now() + STOP_TABLE_WAIT;
        self.finish_handed_over(false, observer);
        while !self.waiting.is_empty()
            && self.tables.as_ref().is_some_and(|t| t.pending() > 0)
            && Instant::now() < deadline
        {
            std::thread::sleep(TABLE_POLL);
            if let Some(t) = self.tables.as_mut() {
                t.poll(&mut self.sampler);
            }
            self.finish_handed_over(false, observer);
        }
        self.finish_handed_over(true, observer);
    }

    /// What became of the samples handed over so far, with the kernel's count (in `stats`) of
    /// those it could not hand over.
    pub fn handed_over_totals(&self, stats: &crate::sample::KernelStats) -> HandedOver {
        HandedOver { buffer_full: stats.handover_full, ..self.handed_over }
    }

    /// Samples that lost a stack or were dropped, since the start.
    pub(super) fn lost(&self) -> u64 {
        let stats = self.sampler.stats();
        stats.map(|s| crate::profile::lost_samples(&s.losses)).unwrap_or(0)
    }

    /// Captures processes at their first sample, exec or mapping change (for symbolization and
    /// for their unwind tables), and notes their exit.
    fn handle_events(&mut self, events: Vec<ProcEvent>, observer: &mut dyn Observer) {
        for ev in events {
            let (tgid, tid, known) = match ev {
                // The announcement that follows an exec: the exec's capture is the image's, and
                // with unwind tables the kernel walker asks for a new capture when a sample
                // runs in code mapped since (MapsStale). Without the exec's capture (its event
                // was lost), the process may still run the image it had before: read again.
                ProcEvent::FirstSample { tgid, .. } if self.captured_at_exec.remove(&tgid) => continue,
                ProcEvent::FirstSample { tgid, tid, known } => (tgid, tid, known),
                ProcEvent::Exec { tgid, known } => {
                    self.symbolizer.python().exec(tgid);
                    if self.procs.capture_known(tgid, tgid, known) {
                        if self.tables.is_some() {
                            self.captured_at_exec.insert(tgid);
                        }
                        self.process_captured(tgid, observer);
                    }
                    continue;
                }
                ProcEvent::MapsStale { tgid, known } => (tgid, tgid, known),
                ProcEvent::Exit { tgid } => {
                    self.captured_at_exec.remove(&tgid);
                    if self.python_procs.remove(&tgid) {
                        self.sampler.remove_python_process(tgid);
                    }
                    self.symbolizer.process_exited(&self.procs, tgid);
                    self.procs.exited(tgid);
                    if let Some(t) = self.tables.as_mut() {
                        t.process_exited(&mut self.sampler, tgid);
                    }
                    continue;
                }
            };
            if self.procs.capture_known(tgid, tid, known) {
                self.process_captured(tgid, observer);
            }
        }
    }

    /// After mappings of `tgid` were captured (first, or again): its JIT `/tmp` is held, its
    /// unwind tables follow the new mappings.
    pub(super) fn process_captured(&mut self, tgid: u32, observer: &mut dyn Observer) {
        // First, since it is quick and the samples before it have no Python frames.
        self.python_seen(tgid, observer);
        self.symbolizer.process_seen(&self.procs, tgid);
        if let Some(t) = self.tables.as_mut() {
            if let Err(e) = t.process_seen(&mut self.sampler, tgid, &self.procs.latest(tgid)) {
                observer.on_event(Event::Warning { message: &e.to_string() });
            }
        }
    }

    /// After mappings of `tgid` were captured: the kernel walks its Python frames when it runs
    /// a CPython prof can read (and stops when it exec'd something else).
    fn python_seen(&mut self, tgid: u32, observer: &mut dyn Observer) {
        let Some(detector) = self.python.as_mut() else { return };
        let found = detector.detect(&self.procs.latest(tgid));
        self.symbolizer.python().set_process(tgid, found.clone().ok().flatten());
        let result = match found {
            Ok(Some(py)) => self.sampler.set_python_process(tgid, &py).map(|()| true).map_err(|e| e.to_string()),
            Ok(None) => Ok(false),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(true) => {
                self.python_procs.insert(tgid);
            }
            Ok(false) | Err(_) => {
                if self.python_procs.remove(&tgid) {
                    self.sampler.remove_python_process(tgid);
                }
            }
        }
        if let Err(message) = result {
            if self.python_warned.len() < MAX_PYTHON_WARNINGS && self.python_warned.insert(message.clone()) {
                observer.on_event(Event::Warning { message: &message });
            }
        }
    }
}

/// How many of the oldest `waiting` samples must be finished now for the rest to hold at most
/// [`MAX_WAITING_BYTES`] of stack.
fn over_budget(waiting: &[DeferredSample]) -> usize {
    // Each also holds up to three stacks of addresses (user, kernel, Python).
    let size = |s: &DeferredSample| s.walk.stack.bytes.len() + 3 * 8 * crate::sample::MAX_STACK_DEPTH;
    let mut held: usize = waiting.iter().map(size).sum();
    let mut excess = 0;
    for s in waiting {
        if held <= MAX_WAITING_BYTES {
            break;
        }
        held -= size(s);
        excess += 1;
    }
    excess
}

/// A handed-over sample whose walk ended, as a count of one.
fn counted(s: &mut DeferredSample, status: UnwindStatus) -> RawCount {
    let frames = std::mem::take(&mut s.walk.frames);
    RawCount {
        tgid: s.walk.tgid,
        start: s.start,
        tid: s.tid,
        cgroup: s.cgroup,
        comm: std::mem::take(&mut s.comm),
        user: if frames.is_empty() { StackRef::Empty } else { StackRef::Frames(frames.into()) },
        kernel: s.kernel.clone(),
        count: 1,
        unwind: status,
        state: None,
        python: s.python.clone(),
    }
}

/// The code a shell gives a command's end: its exit status, or 128 + the number of the signal
/// that killed it.
fn shell_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => (code & 0xff) as u8,
        (None, Some(signal)) => (128 + (signal & 0x7f)) as u8,
        (None, None) => 1,
    }
}

/// True while process `pid` exists and is not a zombie (a `-p` target that exited but was not
/// yet reaped by its parent has ended for the recording).
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name's closing parenthesis.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::StackRef;
    use crate::unwind::resume::{StackCopy, Suspended};

    fn waiting(stack_bytes: usize) -> DeferredSample {
        DeferredSample {
            start: 0,
            tid: 1,
            cgroup: 0,
            comm: String::new(),
            kernel: StackRef::Empty,
            python: StackRef::Empty,
            walk: Suspended {
                tgid: 1,
                frames: Vec::new(),
                pc: 0,
                sp: 0,
                fp: 0,
                fp_down: 0,
                pc_certain: true,
                stack: StackCopy { base: 0, bytes: vec![0; stack_bytes] },
                tables_only: false,
                unplaced_reported: false,
            },
        }
    }

    /// The queue is bounded by what its samples hold, not by their number: small stacks (a
    /// Python main thread's) may wait by the thousand, full copies by the few hundred, and the
    /// oldest go first.
    #[test]
    fn waiting_samples_are_bounded_by_their_bytes() {
        let small: Vec<DeferredSample> = (0..2000).map(|_| waiting(12 << 10)).collect();
        assert_eq!(over_budget(&small), 0);
        let full: Vec<DeferredSample> = (0..1000).map(|_| waiting(64 << 10)).collect();
        let excess = over_budget(&full);
        let per = (64 << 10) + 3 * 8 * crate::sample::MAX_STACK_DEPTH;
        assert_eq!(excess, 1000 - MAX_WAITING_BYTES / per);
        // Oldest first: one large sample ahead of small ones is the one finished.
        let mut mixed = vec![waiting(MAX_WAITING_BYTES)];
        mixed.extend((0..10).map(|_| waiting(4096)));
        assert_eq!(over_budget(&mixed), 1);
        assert_eq!(over_budget(&[]), 0);
    }
}
