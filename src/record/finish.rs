//! Finishing a profile, the one path for a whole recording and for each interval of a
//! continuous one: symbolize the counts, note what kept kernel frames unnamed, name each binary's
//! unwind table in the unwind report; and, after an interval, forget the processes that exited.

use super::observer::{Event, Observer};
use super::session::Session;
use crate::aggregate::Aggregator;
use crate::profile::{Metadata, Profile};
use crate::symbolize;
use crate::unwind::manager::TableState;

/// The note a profile gets when kernel addresses were hidden (the warning said more).
pub const KERNEL_FRAMES_UNNAMED: &str =
    "kernel frames unnamed: /proc/kallsyms hid kernel addresses (kernel.kptr_restrict)";

impl Session {
    /// Warns (once) when `/proc/kallsyms` hides kernel addresses, before sampling starts, the way
    /// `perf record` does, so the user can stop and fix it; [`Session::finish_profile`] then
    /// does not warn again. Only when kernel stacks are sampled.
    pub fn warn_hidden_kernel_symbols(&mut self, observer: &mut dyn Observer) {
        if let Err(e) = symbolize::kallsyms::probe(std::path::Path::new("/proc/kallsyms")) {
            observer.on_event(Event::Warning { message: &e.to_string() });
            self.kernel_symbols_warned = true;
        }
    }

    /// The symbolized profile of `counts` (drained by this session) with `meta`. Why kernel
    /// frames stayed unnamed, if they did, is noted in the profile, and told to `observer` as a
    /// warning once per session (see [`Session::warn_hidden_kernel_symbols`]); so is each binary
    /// whose debug information or symbols could not be used, the first time.
    pub fn finish_profile(&mut self, counts: &Aggregator, meta: Metadata, observer: &mut dyn Observer) -> Profile {
        let mut profile = symbolize::build_profile(counts, &mut self.symbolizer, &mut self.procs, meta);
        profile.ns_pids = profile.samples.iter().filter_map(|s| Some((s.pid, self.procs.ns_pid(s.pid)?))).collect();
        if let Some(problem) = self.symbolizer.kernel_symbols_problem() {
            if !self.kernel_symbols_warned {
                observer.on_event(Event::Warning { message: problem });
                self.kernel_symbols_warned = true;
            }
            profile.meta.notes.push(KERNEL_FRAMES_UNNAMED.to_string());
        }
        for problem in self.symbolizer.take_problems() {
            observer.on_event(Event::Warning { message: &problem });
            profile.meta.notes.push(problem);
        }
        profile.meta.notes.extend(self.symbolizer.take_warnings().into_iter().map(|w| format!("warning: {w}")));
        if let Some(tables) = &self.tables {
            for info in tables.tables() {
                if let Some(b) = profile.meta.unwind.binaries.get_mut(&info.module) {
                    b.table = info.describe();
                    if let TableState::Failed(why) = &info.state {
                        let warning = table_not_loaded(&info.module, why);
                        if self.tables_warned.insert(info.module.clone()) {
                            observer.on_event(Event::Warning { message: &warning });
                        }
                        profile.meta.notes.push(format!("warning: {warning}"));
                    }
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
            t.tick(&mut self.sampler);
        }
        crate::sample::trim_heap();
    }
}

/// The warning for a binary sampled without its unwind table: which binary, why (with the
/// option that fixes it, when one does), and what was done instead.
fn table_not_loaded(module: &str, why: &str) -> String {
    format!("the unwind table of {module} was not loaded ({why}): its frames were walked with frame pointers, so stacks through it may end early")
}
