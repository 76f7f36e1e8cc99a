//! What a recording tells whoever runs it while it runs: the library never prints, it hands
//! [`Event`]s to an [`Observer`]. The `prof` binary prints them to stderr (the live status line
//! on a terminal); tests and other front ends (a future `prof top`, the web UI's status) can
//! collect or show them their own way.

use std::path::Path;
use std::time::Duration;

use super::status::Status;

/// Something that happened during a recording.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event<'a> {
    /// Sampling has started.
    Started {
        /// What is recorded: `system-wide`, `pid 1,2` or the command line.
        target: &'a str,
        /// The perf event sampled (`cpu-clock`, `cycles`).
        event: &'a str,
        /// Samples per second per CPU.
        frequency_hz: u64,
        /// CPUs sampled.
        cpus: usize,
    },
    /// Each interval will be pushed to a profile store (`--push`).
    Pushing {
        /// The store's URL.
        endpoint: &'a str,
        /// The series name the profiles get.
        series: &'a str,
    },
    /// Once per drain (every second): the recording so far.
    Status(Status),
    /// Sampling stopped; the profile is being finished (the status line is over).
    Stopped,
    /// A temp file a crashed recorder left in the archive directory (an unfinished archive)
    /// was moved into its quarantine subdirectory.
    Quarantined {
        /// Where it was.
        from: &'a Path,
        /// Where it is now.
        to: &'a Path,
    },
    /// An interval could not be written (e.g. disk full); it is counted as lost and recording
    /// goes on.
    IntervalLost {
        /// What failed, with its causes.
        error: &'a str,
    },
    /// The pusher still has intervals to send and is given its grace period.
    FlushingPush {
        /// Intervals not sent yet.
        pending: u64,
        /// The store's URL.
        endpoint: &'a str,
        /// How long it may take at most.
        grace: Duration,
    },
    /// News worth a line (e.g. pushing works again after an outage).
    Notice {
        /// What, for a person.
        message: &'a str,
    },
    /// Something went wrong that does not stop the recording.
    Warning {
        /// What, for a person.
        message: &'a str,
    },
}

/// Receives a recording's [`Event`]s, on the recording's thread.
pub trait Observer {
    /// Called for each event, in the order they happen.
    fn on_event(&mut self, event: Event<'_>);
}

/// An observer that ignores every event.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Observer for Silent {
    fn on_event(&mut self, _event: Event<'_>) {}
}
