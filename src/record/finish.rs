//! Finishing a profile, the one path for a whole recording and for each interval of a
//! continuous one: symbolize the counts, note what kept kernel frames unnamed, name each binary's
//! unwind table in the unwind report; and, after an interval, forget the processes that exited.

use super::session::Session;
use crate::aggregate::Aggregator;
use crate::profile::{Metadata, Profile};
use crate::symbolize;

impl Session {
    /// The symbolized profile of `counts` (drained by this session) with `meta`.
    pub fn finish_profile(&mut self, counts: &Aggregator, meta: Metadata) -> Profile {
        let mut profile = symbolize::build_profile(counts, &mut self.symbolizer, &mut self.procs, meta);
        if let Some(problem) = self.symbolizer.kernel_symbols_problem() {
            profile.meta.notes.push(problem.to_string());
        }
        if let Some(tables) = &self.tables {
            for info in tables.tables() {
                if let Some(b) = profile.meta.unwind.binaries.get_mut(&info.module) {
                    b.table = info.describe();
                }
            }
        }
        profile
    }

    /// After an interval is written: forgets the processes that exited (their mappings, JIT
    /// maps, binaries no one maps any more and their symbols), ages unused unwind tables and
    /// returns freed memory to the system, so a long recording stays flat.
    pub fn forget_exited(&mut self) {
        let evicted = self.procs.evict_exited();
        self.symbolizer.forget(&evicted);
        if let Some(t) = self.tables.as_mut() {
            t.tick();
        }
        crate::sample::trim_heap();
    }
}
