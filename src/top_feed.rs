//! Where `prof top`'s intervals come from: a recording prof runs itself (on a thread, as a
//! continuous recording into a private temporary directory, one archive per refresh) or an
//! archive directory another `prof record --continuous` writes. Both are read the same way,
//! by following the directory.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};

use prof::profile::Profile;
use prof::record::{ContinuousOptions, EndReason, Event, Observer, RecordOptions, Recording};
use prof::store::Retention;
use prof::top::DirFollower;

/// The intervals `prof top` shows.
pub struct Feed {
    follower: DirFollower,
    live: Option<Live>,
}

/// A recording prof runs for `prof top`.
struct Live {
    thread: Option<JoinHandle<Result<Recording, prof::record::RecordError>>>,
    stop: Arc<AtomicBool>,
    messages: Receiver<String>,
    /// Removed when `prof top` ends.
    _dir: tempfile::TempDir,
}

/// What a poll of the feed found.
#[derive(Default)]
pub struct Polled {
    /// New intervals, oldest first.
    pub profiles: Vec<Profile>,
    /// Warnings and notes for the status line (not yet escaped).
    pub messages: Vec<String>,
    /// The live recording ended by itself (the command or every -p process exited): why.
    pub ended: Option<String>,
}

/// Forwards a recording's warnings and notices to the view (its status line replaces the
/// recording's).
struct ToView(Sender<String>);

impl Observer for ToView {
    fn on_event(&mut self, event: Event<'_>) {
        let text = match event {
            Event::Warning { message } => format!("warning: {message}"),
            Event::Notice { message } => message.to_string(),
            Event::IntervalLost { error } => format!("an interval was lost: {error}"),
            _ => return,
        };
        let _ = self.0.send(text);
    }
}

impl Feed {
    /// Follows an archive directory that another recorder writes.
    pub fn dir(dir: &Path) -> Result<Feed> {
        if !dir.is_dir() {
            anyhow::bail!(
                "`{}` is not a directory (prof top DIR follows `prof record --continuous --dir DIR`)",
                dir.display()
            );
        }
        Ok(Feed { follower: DirFollower::new(dir), live: None })
    }

    /// Starts recording `opts` (one archive per `delay`) on a thread; `stop` ends it.
    pub fn live(mut opts: RecordOptions, delay: Duration, stop: Arc<AtomicBool>) -> Result<Feed> {
        let dir =
            tempfile::Builder::new().prefix("prof-top-").tempdir().context("failed to create a temporary directory")?;
        opts.continuous = Some(ContinuousOptions {
            dir: dir.path().to_path_buf(),
            interval: delay,
            // The view reads each archive once, right after it is written.
            retention: Retention { max_bytes: None, max_age: Some(delay * 4) },
            push: Vec::new(),
        });
        let (tx, messages) = mpsc::channel();
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("prof-top-record".into())
            .spawn(move || prof::record::record(&opts, &thread_stop, &mut ToView(tx)))
            .context("failed to start the recording thread")?;
        let follower = DirFollower::new(dir.path());
        Ok(Feed { follower, live: Some(Live { thread: Some(thread), stop, messages, _dir: dir }) })
    }

    /// The intervals that appeared since the last poll, and what the recording said. Fails when
    /// the recording failed (no permission to sample, …) or the directory cannot be read.
    pub fn poll(&mut self) -> Result<Polled> {
        let mut out = Polled::default();
        if let Some(live) = &mut self.live {
            out.messages.extend(live.messages.try_iter());
            if live.thread.as_ref().is_some_and(|t| t.is_finished()) {
                let recording = join(live.thread.take())?;
                out.ended = recording.map(|r| ended_text(&r.ended_by));
            }
        }
        let polled = self
            .follower
            .poll(prof::top::follow::MAX_PER_POLL)
            .with_context(|| format!("failed to list `{}`", self.follower.dir().display()))?;
        out.profiles = polled.profiles;
        out.messages.extend(polled.warnings);
        Ok(out)
    }

    /// Ends the recording prof runs (if any) and waits for it.
    pub fn finish(mut self) -> Result<()> {
        if let Some(live) = &mut self.live {
            live.stop.store(true, Ordering::SeqCst);
            join(live.thread.take())?;
        }
        Ok(())
    }
}

fn join(thread: Option<JoinHandle<Result<Recording, prof::record::RecordError>>>) -> Result<Option<Recording>> {
    let Some(thread) = thread else { return Ok(None) };
    match thread.join() {
        Ok(result) => Ok(Some(result?)),
        // The panic was printed by the hook; the view closes and restores the terminal.
        Err(_) => anyhow::bail!("the recording stopped: it panicked"),
    }
}

fn ended_text(reason: &EndReason) -> String {
    match reason {
        EndReason::CommandExited { status, .. } => format!("the command exited ({status}); recording ended"),
        EndReason::TargetsExited => "every process given with -p exited; recording ended".to_string(),
        EndReason::Duration | EndReason::Signal => "recording ended".to_string(),
    }
}
