//! Aggregation: drained in-kernel counts are summed per (process and its start time, thread, cgroup, comm, user stack, kernel
//! stack, how the user stack's walk ended, on-CPU or why off it) across drains. Addresses only: symbolization turns
//! the sums into a profile ([`crate::symbolize::build_profile`]).

use std::collections::{HashMap, HashSet};

use crate::profile::unwind::UnwindStatus;
use crate::profile::ThreadState;
use crate::sample::{RawCount, StackRef};

/// What samples are counted by: one distinct stack of one process.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// The process.
    pub tgid: u32,
    /// The process's start in clock ticks since boot (0: unknown): a later process under the
    /// same PID is counted apart.
    pub start: u64,
    /// The thread sampled (0: unknown).
    pub tid: u32,
    /// The thread's cgroup v2 id.
    pub cgroup: u64,
    /// The thread's name when sampled.
    pub comm: String,
    /// The user stack (innermost first), or why it is missing.
    pub user: StackRef,
    /// The kernel stack (innermost first), or why it is missing.
    pub kernel: StackRef,
    /// How the user stack's walk ended.
    pub unwind: UnwindStatus,
    /// None for on-CPU samples; why the thread waited for off-CPU time.
    pub state: Option<ThreadState>,
    /// The thread's Python frames (words of the kernel's Python stack), or
    /// [`StackRef::Empty`].
    pub python: StackRef,
}

/// Sums drained counts over a recording.
#[derive(Debug, Default)]
pub struct Aggregator {
    counts: HashMap<Key, u64>,
    total: u64,
    tgids: HashSet<u32>,
}

impl Aggregator {
    /// Adds one drain's counts.
    pub fn add(&mut self, drained: Vec<RawCount>) {
        for rc in drained {
            self.total = self.total.saturating_add(rc.count);
            self.tgids.insert(rc.tgid);
            let key = Key {
                tgid: rc.tgid,
                start: rc.start,
                tid: rc.tid,
                cgroup: rc.cgroup,
                comm: rc.comm,
                user: rc.user,
                kernel: rc.kernel,
                unwind: rc.unwind,
                state: rc.state,
                python: rc.python,
            };
            let c = self.counts.entry(key).or_default();
            *c = c.saturating_add(rc.count);
        }
    }

    /// Samples counted so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Every distinct stack with its count, in no particular order.
    pub fn counts(&self) -> impl Iterator<Item = (&Key, u64)> + '_ {
        self.counts.iter().map(|(k, &n)| (k, n))
    }

    /// Distinct processes seen so far (not counting the idle task).
    pub fn processes(&self) -> usize {
        self.process_ids().count()
    }

    /// The distinct processes seen so far (not the idle task), in no particular order.
    pub fn process_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.tgids.iter().copied().filter(|&t| t != 0)
    }
}
