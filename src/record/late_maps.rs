//! Code mapped after a process was first captured, with `--unwind fp`: the kernel's
//! frame-pointer walker does not tell when a sampled address lies outside the mappings prof
//! captured (the walker of `--unwind auto` does, with a maps-stale event), so each drain's user
//! stacks are checked here, and the processes with such an address get their mappings read
//! again before anything is symbolized ([`ProcessTable::refresh`]). A process that loads code
//! and exits before the next drain (within a second) is gone by then: its late code stays
//! `[unknown]+0x…`.
//!
//! [`ProcessTable::refresh`]: crate::process::ProcessTable::refresh

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use super::observer::Observer;
use super::session::Session;
use crate::process::{refresh, ProcessId, Refresh};
use crate::sample::{RawCount, StackRef};

impl Session {
    /// Reads again the mappings of each live process whose user stacks in `drained` hold an
    /// address outside every mapping captured for it (at most [`refresh::MAX_PER_DRAIN`]
    /// processes per drain), so that late-loaded code is named. Only with `--unwind fp`: the
    /// in-kernel walker of the other modes asks for this itself.
    pub(super) fn refresh_late_mappings(&mut self, drained: &[RawCount], observer: &mut dyn Observer) {
        if self.tables.is_some() {
            return;
        }
        // Ordered, so which processes wait for the next drain when there are too many is
        // deterministic.
        let mut per_process: BTreeMap<ProcessId, HashSet<u64>> = BTreeMap::new();
        for rc in drained {
            if let (StackRef::Frames(ips), true) = (&rc.user, rc.tgid != 0) {
                per_process.entry(ProcessId { tgid: rc.tgid, start: rc.start }).or_default().extend(ips.iter());
            }
        }
        let now = Instant::now();
        let mut reread = 0;
        for (pid, addrs) in per_process {
            if reread >= refresh::MAX_PER_DRAIN {
                break;
            }
            let addrs: Vec<u64> = addrs.into_iter().collect();
            match self.procs.refresh(pid, pid.tgid, &addrs, now) {
                Refresh::NotNeeded => {}
                Refresh::Unchanged => reread += 1,
                Refresh::NewMappings => {
                    reread += 1;
                    self.process_captured(pid.tgid, observer);
                }
            }
        }
    }
}
