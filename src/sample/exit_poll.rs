//! Exits found by polling /proc, for the fallback BPF object (kernels without BTF), which has
//! no exit tracepoint: a process announced by its first sample is checked about once a second
//! and reported gone when its /proc entry vanished or now belongs to another process.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often announced processes are checked.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// The processes announced to userspace, with their start times.
#[derive(Debug, Default)]
pub(super) struct ExitPoll {
    live: HashMap<u32, Option<u64>>,
    last: Option<Instant>,
}

impl ExitPoll {
    /// A process was announced (first sample or exec): watch it.
    pub(super) fn watch(&mut self, tgid: u32) {
        self.live.entry(tgid).or_insert_with(|| crate::process::start_time(tgid));
    }

    /// Processes that exited since the last check (at most one check per second; `force`
    /// checks now). A process whose start time could not be read when it was announced is
    /// gone once its /proc entry is.
    pub(super) fn exited(&mut self, force: bool) -> Vec<u32> {
        let now = Instant::now();
        if !force && self.last.is_some_and(|t| now.duration_since(t) < POLL_EVERY) {
            return Vec::new();
        }
        self.last = Some(now);
        let mut gone = Vec::new();
        self.live.retain(|&tgid, then| {
            let alive = match (crate::process::start_time(tgid), *then) {
                (None, _) => false,
                (Some(now), Some(then)) => now == then,
                (Some(_), None) => true,
            };
            if !alive {
                gone.push(tgid);
            }
            alive
        });
        gone.sort_unstable();
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_poll_reports_a_process_once_it_is_gone() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        let mut poll = ExitPoll::default();
        poll.watch(pid);
        poll.watch(std::process::id());
        assert!(poll.exited(true).is_empty());
        child.kill().unwrap();
        child.wait().unwrap();
        // rate-limited: a check right after the last one does nothing unless forced
        assert!(poll.exited(false).is_empty());
        assert_eq!(poll.exited(true), vec![pid]);
        assert!(poll.exited(true).is_empty(), "reported once");
    }
}
