//! Symbolization: addresses → frames with blazesym. Kernel frames come from kallsyms;
//! user frames from ELF symbols and DWARF (inlined functions as their own frames, Rust and C++
//! names demangled), PLT stubs as `<symbol>@plt` from the binary's relocations ([`plt`]), vDSO
//! frames from its image in memory ([`vdso`]), JIT frames from `/tmp/perf-PID.map`.
//!
//! User addresses are resolved through the [`ProcessTable`] the recording keeps (mappings and
//! open binaries captured when a process is first seen), so processes that exit during the
//! recording are still symbolized. Each (binary, offset) and each kernel address is symbolized
//! once; one blazesym symbolizer and its caches live for the whole recording. Frames that cannot
//! be symbolized keep `module+0xoffset` ([`Frames::unresolved_reason`] says which, and why):
//! nothing vanishes. A binary with broken debug information is named from its ELF symbols; its
//! compressed sections are checked first ([`elf_check`]) so a crafted one cannot exhaust memory;
//! each broken binary is reported once ([`Symbolizer::take_problems`]). Go binaries stripped of
//! their symbols are named from Go's own function table ([`gopclntab`], [`go_binary`]), inlined
//! calls included. [`build_profile`] turns the aggregated counts into a profile.

mod build;
pub mod elf_check;
pub mod go_binary;
pub mod gopclntab;
pub mod jit_maps;
pub mod kallsyms;
pub mod perf_map;
pub mod plt;
pub mod python;
pub mod vdso;

pub use build::build_profile;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::rc::Rc;

use blazesym::symbolize::source::{Elf, Source};
use blazesym::symbolize::{CodeInfo, Input, Reason, Sym, Symbolized};

use crate::process::{BinaryKey, Evicted, ProcessId, ProcessTable};
use crate::profile::{Frame, FrameKind};
use perf_map::PerfMap;

/// Module name of kernel frames (as perf names it).
pub const KERNEL_MODULE: &str = "[kernel.kallsyms]";
/// Module name of JIT frames from a perf map.
pub const JIT_MODULE: &str = "[jit]";
/// Binaries whose problems are listed one by one (a recording of thousands of broken binaries
/// gets that many lines, then one saying there are more).
pub const MAX_PROBLEMS: usize = 20;

/// Symbolization counters, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SymbolizeStats {
    /// Distinct addresses resolved to a function.
    pub resolved: u64,
    /// Distinct addresses left as `module+0xoffset` (in binaries and the kernel).
    pub unresolved: u64,
    /// Of `unresolved`: no symbols could name them ([`Unresolved::MissingSymbols`]).
    pub missing_symbols: u64,
    /// Of `unresolved`: symbols exist, none covers them ([`Unresolved::UnknownAddress`]).
    pub unknown_address: u64,
    /// Of `unresolved`: in binaries that could not be symbolized ([`Unresolved::Failed`]).
    pub failed: u64,
    /// Binaries whose symbolization failed or panicked.
    pub failed_binaries: u64,
}

impl SymbolizeStats {
    /// Counts one distinct address left unresolved, and why.
    fn unresolved(&mut self, why: Unresolved) {
        self.unresolved += 1;
        match why {
            Unresolved::MissingSymbols => self.missing_symbols += 1,
            Unresolved::UnknownAddress => self.unknown_address += 1,
            Unresolved::Failed => self.failed += 1,
            Unresolved::NoBinary => {}
        }
    }
}

/// Why an address was left as `module+0xoffset` (see [`Frames::unresolved_reason`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unresolved {
    /// The binary (or the kernel) has no symbols that could name it: a stripped binary (no
    /// `.symtab`; its `.dynsym`, if any, does not cover the address), or kallsyms with hidden
    /// addresses.
    MissingSymbols,
    /// The binary has a symbol table, but no symbol covers the address (e.g. padding between
    /// functions; PLT stubs are named from relocations instead).
    UnknownAddress,
    /// Symbolizing the binary failed: unreadable or malformed even without its debug
    /// information, or the symbolizer panicked on it.
    Failed,
    /// No binary to look in: the address is outside every mapping, in anonymous memory with no
    /// JIT map entry for it, or its binary could not be opened.
    NoBinary,
}

/// Frames for one address, outermost (caller) first: an address inside inlined code expands to
/// the containing function followed by each inlined function. Cheap to clone (shared).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frames {
    frames: Rc<[Frame]>,
    unresolved: Option<Unresolved>,
}

impl Default for Frames {
    fn default() -> Self {
        Frames { frames: Rc::from(Vec::new()), unresolved: None }
    }
}

impl Frames {
    /// Frames of an address a symbol was found for (a function, a JIT entry).
    fn resolved(frames: Vec<Frame>) -> Frames {
        Frames { frames: Rc::from(frames), unresolved: None }
    }

    /// The one frame of an address no symbol was found for, named `module+0xoffset`.
    fn unresolved(frame: Frame, why: Unresolved) -> Frames {
        Frames { frames: Rc::from(vec![frame]), unresolved: Some(why) }
    }

    /// True when a symbol was found; false for a `module+0xoffset` frame.
    pub fn is_resolved(&self) -> bool {
        self.unresolved.is_none()
    }

    /// Why no symbol was found, for a `module+0xoffset` frame; `None` when resolved.
    pub fn unresolved_reason(&self) -> Option<Unresolved> {
        self.unresolved
    }
}

impl std::ops::Deref for Frames {
    type Target = [Frame];

    fn deref(&self) -> &[Frame] {
        &self.frames
    }
}

/// The symbolizer of one recording.
pub struct Symbolizer {
    blaze: blazesym::symbolize::Symbolizer,
    user_cache: HashMap<(BinaryKey, u64), Frames>,
    kernel_cache: HashMap<u64, Frames>,
    /// JIT maps per process (a later process under the same PID has its own).
    perf_maps: HashMap<ProcessId, Option<PerfMap>>,
    /// The `/tmp` of each process seen with JIT code, held open to read its map after it exits.
    held_tmp: HashMap<ProcessId, jit_maps::HeldTmp>,
    /// Loaded on first use; `Err` keeps the reason (e.g. hidden addresses) for one warning.
    kallsyms: Option<Result<kallsyms::Kallsyms, String>>,
    /// `kallsyms` holds only the symbols of the addresses it was read for (with
    /// `release_parsed`): new addresses read the file again.
    kallsyms_partial: bool,
    /// Paths under which each binary was handed to blazesym (what its caches are keyed by).
    blaze_paths: HashMap<BinaryKey, Vec<std::path::PathBuf>>,
    /// Drop blazesym's parsed debug info of a binary as soon as a batch is symbolized (see
    /// [`Symbolizer::release_parsed_binaries`]).
    release_parsed: bool,
    stats: SymbolizeStats,
    /// The PLT stub names of each binary symbolized (see [`plt`]).
    plt: HashMap<BinaryKey, plt::PltNames>,
    /// The vDSO of prof's own process, read on first use (see [`vdso`]).
    own_vdso: Option<Option<Rc<vdso::VdsoSymbols>>>,
    /// The vDSO symbols used for each process with frames in its `[vdso]`.
    vdso: HashMap<ProcessId, Option<Rc<vdso::VdsoSymbols>>>,
    /// What [`elf_check::check`] said of each binary opened.
    checked: HashMap<BinaryKey, elf_check::Verdict>,
    /// Problems not taken yet (see [`Symbolizer::take_problems`]).
    problems: Vec<String>,
    /// Modules a problem was recorded for.
    problem_modules: HashSet<String>,
    /// Problems worth a warning (a refused perf map, a rewritten binary), until taken.
    warnings: Vec<String>,
    /// Binaries found rewritten in place since they were opened: never named from.
    rewritten: std::collections::HashSet<BinaryKey>,
    /// Go function tables of binaries blazesym left addresses of (`None`: not a Go binary).
    go_tables: HashMap<BinaryKey, Option<go_binary::GoBinary>>,
    /// Names of the Python code objects of the processes running CPython.
    python: python::PythonNames,
    /// A process (the recording profiler itself) whose binaries, when no other process in a
    /// batch maps them, are named from their ELF symbols only (see
    /// [`Symbolizer::symbols_only_for`]).
    symbols_only_tgid: Option<u32>,
}

impl std::fmt::Debug for Symbolizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Symbolizer").field("cached", &self.user_cache.len()).field("stats", &self.stats).finish()
    }
}

impl Default for Symbolizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Symbolizer {
    /// A symbolizer with code info, inlined functions and demangling enabled.
    pub fn new() -> Self {
        let blaze = blazesym::symbolize::Symbolizer::builder()
            .enable_code_info(true)
            .enable_inlined_fns(true)
            .enable_demangling(true)
            .build();
        Symbolizer {
            blaze,
            user_cache: HashMap::new(),
            kernel_cache: HashMap::new(),
            perf_maps: HashMap::new(),
            held_tmp: HashMap::new(),
            kallsyms: None,
            kallsyms_partial: false,
            blaze_paths: HashMap::new(),
            release_parsed: false,
            stats: SymbolizeStats::default(),
            checked: HashMap::new(),
            plt: HashMap::new(),
            own_vdso: None,
            vdso: HashMap::new(),
            problems: Vec::new(),
            problem_modules: HashSet::new(),
            warnings: Vec::new(),
            rewritten: Default::default(),
            go_tables: HashMap::new(),
            python: python::PythonNames::default(),
            symbols_only_tgid: None,
        }
    }

    /// With `true`, [`Symbolizer::user_batch`] drops blazesym's parsed debug info (DWARF
    /// units, line tables, symbol tables, mmaps) of each binary right after symbolizing its
    /// addresses; the symbols found stay cached here. Peak memory is then that of the largest
    /// binary rather than of all of them, at the cost of parsing a binary again if new
    /// addresses of it come later. Kernel symbols are then read for the addresses asked only
    /// (a few KB, where the whole table takes ~5 MB), at the cost of reading `/proc/kallsyms`
    /// again for new addresses. Right for a recording symbolized once, at its end.
    pub fn release_parsed_binaries(&mut self, release: bool) {
        self.release_parsed = release;
    }

    /// Names the frames of process `tgid` from ELF symbols only (no inlined frames, no source
    /// lines) in binaries no other process of the same batch maps. For the recording profiler's
    /// own process: its frames in its own profile are its overhead, which function names show,
    /// while parsing its own debug information (tens of MB of DWARF) would be most of the
    /// memory and time of the end of a recording. Another prof profiling this one still gets
    /// its full frames.
    pub fn symbols_only_for(&mut self, tgid: u32) {
        self.symbols_only_tgid = Some(tgid);
    }

    /// Why kernel frames could not be symbolized, if they could not (for one warning).
    pub fn kernel_symbols_problem(&self) -> Option<&str> {
        match &self.kallsyms {
            Some(Err(e)) => Some(e),
            _ => None,
        }
    }

    /// A process was captured: if it may run JIT code, hold its `/tmp` open, so that its perf
    /// map can be read after it exits even when that `/tmp` belonged to its own mount namespace
    /// (a container's). Released with the process in [`Symbolizer::forget`].
    pub fn process_seen(&mut self, procs: &ProcessTable, tgid: u32) {
        if !procs.may_have_jit(tgid) {
            return;
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = self.held_tmp.entry(procs.instance(tgid)) {
            if let Some(held) = jit_maps::HeldTmp::open(tgid) {
                slot.insert(held);
            }
        }
    }

    /// A process exited: read its JIT map now, while `/proc/PID/root` may still resolve (it is
    /// dropped with the process in [`Symbolizer::forget`]).
    pub fn process_exited(&mut self, procs: &ProcessTable, tgid: u32) {
        // Most processes have no JIT code: skip the /proc lookups for them (3 path walks).
        if procs.may_have_jit(tgid) {
            self.perf_map(procs.instance(tgid));
        }
    }

    /// The names of Python code objects (processes running CPython, their code objects read
    /// so far).
    pub fn python(&mut self) -> &mut python::PythonNames {
        &mut self.python
    }

    /// Warnings since the last call (e.g. a perf map ignored for its owner), oldest first.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// The JIT map of process `pid`, read at first use ([`jit_maps::read`]). With its start
    /// time unknown, a map already read for any process under its PID is used. A map is only read for the process
    /// that has the PID now: once another took it, the file at its path is that one's.
    fn perf_map(&mut self, pid: ProcessId) -> Option<&PerfMap> {
        let key = match pid.start {
            0 => self.perf_maps.keys().copied().filter(|k| k.tgid == pid.tgid).max().unwrap_or(pid),
            _ => pid,
        };
        let (warnings, held_tmp) = (&mut self.warnings, &self.held_tmp);
        self.perf_maps
            .entry(key)
            .or_insert_with(|| {
                let now = crate::process::start_time(key.tgid);
                if key.start != 0 && now.is_some_and(|now| now != key.start) {
                    return None;
                }
                // Its own held /tmp; with its start time unknown, the one held under its PID.
                let held = match key.start {
                    0 => held_tmp.iter().find(|(k, _)| k.tgid == key.tgid).map(|(_, h)| h),
                    _ => held_tmp.get(&key),
                };
                jit_maps::read(key.tgid, held).unwrap_or_else(|refused| {
                    warnings.push(refused.to_string());
                    None
                })
            })
            .as_ref()
    }

    /// Forgets what [`ProcessTable::evict_exited`] evicted: the JIT maps of those processes and
    /// every cached symbol of the closed binaries, here and in blazesym.
    pub fn forget(&mut self, evicted: &Evicted) {
        self.python.forget(&evicted.processes);
        for tgid in &evicted.processes {
            self.perf_maps.retain(|pid, _| pid.tgid != *tgid);
            self.vdso.retain(|pid, _| pid.tgid != *tgid);
            self.held_tmp.retain(|pid, _| pid.tgid != *tgid);
        }
        for &key in &evicted.binaries {
            self.checked.remove(&key);
            self.plt.remove(&key);
            self.user_cache.retain(|(k, _), _| *k != key);
            self.rewritten.remove(&key);
            self.go_tables.remove(&key);
            self.release_blazesym(key);
        }
    }

    /// Cached user symbols (for memory accounting).
    pub fn cached_user_symbols(&self) -> usize {
        self.user_cache.len()
    }

    /// Counters so far.
    pub fn stats(&self) -> &SymbolizeStats {
        &self.stats
    }

    /// Symbolizes kernel addresses (from `/proc/kallsyms`); returns frames per address, in
    /// input order.
    pub fn kernel(&mut self, addrs: &[u64]) -> Vec<Frames> {
        let missing = self.missing_kernel(addrs);
        if self.needs_kallsyms(&missing) {
            let loaded = self.kernel_symbols_loader(&missing)();
            self.set_kallsyms(loaded);
        }
        self.resolve_kernel(&missing);
        addrs.iter().map(|a| self.kernel_cache[a].clone()).collect()
    }

    /// The kernel addresses of `addrs` not symbolized yet, once each.
    fn missing_kernel(&self, addrs: &[u64]) -> Vec<u64> {
        let mut missing: Vec<u64> = addrs.iter().copied().filter(|a| !self.kernel_cache.contains_key(a)).collect();
        missing.sort_unstable();
        missing.dedup();
        missing
    }

    /// Whether naming `missing` needs kallsyms read (first, or again after a partial read).
    fn needs_kallsyms(&self, missing: &[u64]) -> bool {
        !missing.is_empty() && (self.kallsyms.is_none() || self.kallsyms_partial)
    }

    /// What reads the kernel symbols `missing` needs: the whole table, or, symbolizing once,
    /// only theirs.
    fn kernel_symbols_loader(&self, missing: &[u64]) -> impl FnOnce() -> Result<kallsyms::Kallsyms, String> + Send {
        let only = self.release_parsed.then(|| missing.to_vec());
        move || {
            let path = std::path::Path::new("/proc/kallsyms");
            match only {
                Some(addrs) => kallsyms::Kallsyms::load_for(path, &addrs),
                None => kallsyms::Kallsyms::load(path),
            }
            .map_err(|e| e.to_string())
        }
    }

    fn set_kallsyms(&mut self, loaded: Result<kallsyms::Kallsyms, String>) {
        self.kallsyms = Some(loaded);
        self.kallsyms_partial = self.release_parsed;
    }

    /// Names `missing` (not in the cache) from the kernel symbols read.
    fn resolve_kernel(&mut self, missing: &[u64]) {
        let Some(table) = self.kallsyms.as_ref() else { return };
        for &addr in missing {
            let frames = match table.as_ref().map(|t| t.lookup(addr)) {
                Ok(Some((name, module))) => {
                    self.stats.resolved += 1;
                    let module = module.map_or_else(|| KERNEL_MODULE.to_string(), |m| format!("[{m}]"));
                    Frames::resolved(vec![Frame::new(name, module, FrameKind::Kernel)])
                }
                found => {
                    let why = if found.is_ok() { Unresolved::UnknownAddress } else { Unresolved::MissingSymbols };
                    self.stats.unresolved(why);
                    Frames::unresolved(
                        Frame::new(format!("{KERNEL_MODULE}+{addr:#x}"), KERNEL_MODULE, FrameKind::Kernel),
                        why,
                    )
                }
            };
            self.kernel_cache.insert(addr, frames);
        }
    }

    /// Symbolizes user addresses of process `tgid` (whichever process was captured under that
    /// PID); returns frames per address, in input order.
    pub fn user(&mut self, procs: &mut ProcessTable, tgid: u32, addrs: &[u64]) -> Vec<Frames> {
        self.user_batch(procs, &[(ProcessId::any(tgid), addrs.to_vec())]).pop().unwrap_or_default()
    }

    /// Symbolizes kernel addresses and the user addresses of several processes (see
    /// [`Symbolizer::kernel`] and [`Symbolizer::user_batch`]), reading `/proc/kallsyms` on
    /// another thread meanwhile when it is not loaded yet: the kernel takes ~65 ms to format
    /// its 120k symbols, time that would otherwise add to the end of every recording.
    pub fn symbolize_all(
        &mut self,
        procs: &mut ProcessTable,
        kernel_addrs: &[u64],
        per_process: &[(ProcessId, Vec<u64>)],
    ) -> SymbolizedAll {
        let missing = self.missing_kernel(kernel_addrs);
        let load = self.needs_kallsyms(&missing).then(|| self.kernel_symbols_loader(&missing));
        std::thread::scope(|scope| {
            let loader = load.map(|load| scope.spawn(load));
            let user = self.user_batch(procs, per_process);
            if let Some(h) = loader {
                let loaded = h.join().unwrap_or_else(|_| Err("reading /proc/kallsyms panicked".to_string()));
                self.set_kallsyms(loaded);
                self.resolve_kernel(&missing);
            }
            SymbolizedAll { kernel: self.kernel(kernel_addrs), user }
        })
    }

    /// Symbolizes the user addresses of several processes at once (frames per address, in
    /// input order, per process): each binary is symbolized once for every process mapping it,
    /// binary by binary (see [`Symbolizer::release_parsed_binaries`]).
    pub fn user_batch(&mut self, procs: &mut ProcessTable, per_process: &[(ProcessId, Vec<u64>)]) -> Vec<Vec<Frames>> {
        let mut per_binary: HashMap<BinaryKey, Vec<u64>> = HashMap::new();
        // Binaries with addresses of a process other than `symbols_only_tgid`'s.
        let mut full: HashSet<BinaryKey> = HashSet::new();
        // The addresses that fall in binaries and are not cached yet, per binary.
        for (pid, addrs) in per_process {
            let own = self.symbols_only_tgid == Some(pid.tgid);
            if !procs.knows(*pid) {
                // Missed its first-sample event (ring buffer full): try now, it may still run.
                procs.capture(pid.tgid, pid.tgid);
            }
            for &addr in addrs {
                if let Some((m, Some(key))) = procs.find(*pid, addr) {
                    let off = addr - m.start + m.offset;
                    if !self.user_cache.contains_key(&(key, off)) {
                        per_binary.entry(key).or_default().push(off);
                        if !own {
                            full.insert(key);
                        }
                    }
                }
            }
        }
        let mut binaries: Vec<(BinaryKey, Vec<u64>)> = per_binary.into_iter().collect();
        binaries.sort_unstable_by_key(|(key, _)| *key);
        for (key, mut offsets) in binaries {
            offsets.sort_unstable();
            offsets.dedup();
            let symbols_only = self.symbols_only_tgid.is_some() && !full.contains(&key);
            self.symbolize_binary(procs, key, &offsets, symbols_only);
            if self.release_parsed {
                self.plt.remove(&key);
                self.release_blazesym(key);
            }
        }
        per_process
            .iter()
            .map(|(pid, addrs)| addrs.iter().map(|&a| self.user_frames(procs, *pid, a)).collect())
            .collect()
    }

    /// Drops blazesym's caches of one binary (under every path it was opened by).
    fn release_blazesym(&mut self, key: BinaryKey) {
        for path in self.blaze_paths.remove(&key).unwrap_or_default() {
            let evict = blazesym::symbolize::evict::Evict::Elf(blazesym::symbolize::evict::Elf::new(path));
            let _ = self.blaze.evict(&evict);
        }
    }

    /// Symbolizes `offsets` of one binary into the cache; with `symbols_only`, from its ELF
    /// symbols alone (see [`Symbolizer::symbols_only_for`]).
    fn symbolize_binary(&mut self, procs: &ProcessTable, key: BinaryKey, offsets: &[u64], symbols_only: bool) {
        let Some(bin) = procs.binary(key) else {
            return;
        };
        let module = bin.module.clone();
        let change = if self.rewritten.contains(&key) { None } else { bin.rewritten() };
        if let Some(change) = change {
            self.warnings.push(format!(
                "binary `{}` was rewritten in place after it was mapped ({change}): its addresses are left as `{module}+0x…`",
                bin.path
            ));
            self.rewritten.insert(key);
        }
        if self.rewritten.contains(&key) {
            // Its contents are no longer the code that was sampled: no name beats a wrong one.
            self.stats.failed_binaries += 1;
            for &off in offsets {
                self.stats.unresolved(Unresolved::Failed);
                self.user_cache.insert((key, off), unknown_frame(&module, off, Unresolved::Failed));
            }
            return;
        }
        let path = bin.symbolization_path(key);
        let used = self.blaze_paths.entry(key).or_default();
        if !used.contains(&path) {
            used.push(path.clone());
        }
        // PLT stubs have no symbols: named from the binary's relocations, never by blazesym
        // (which would give them the symbol before them, `_init`).
        let plt = self.plt.entry(key).or_insert_with(|| plt::PltNames::read(&path));
        let mut in_plt = Vec::new();
        let offsets: Vec<u64> = offsets
            .iter()
            .copied()
            .filter(|&off| match plt.lookup(off) {
                Some(hit) => {
                    in_plt.push((off, Frame::new(hit.name(), module.as_str(), FrameKind::User)));
                    false
                }
                None => true,
            })
            .collect();
        for (off, frame) in in_plt {
            self.stats.resolved += 1;
            self.user_cache.insert((key, off), Frames::resolved(vec![frame]));
        }
        if offsets.is_empty() {
            return;
        }
        let verdict = self.checked.entry(key).or_insert_with(|| elf_check::check(&path)).clone();
        let results = match verdict {
            elf_check::Verdict::Ok if symbols_only => {
                run_blazesym(&self.blaze, &Source::Elf(elf_symbols_only(path.clone())), &offsets)
            }
            elf_check::Verdict::Ok => self.blazesym_with_fallback(&module, path.clone(), &offsets),
            elf_check::Verdict::NoDebugInfo(why) => {
                self.problem(&module, format!("debug information not used: {why}; functions named from ELF symbols"));
                run_blazesym(&self.blaze, &Source::Elf(elf_symbols_only(path.clone())), &offsets)
            }
            elf_check::Verdict::Refuse(why) => Err(why),
        };
        if let Err(why) = &results {
            self.stats.failed_binaries += 1;
            self.problem(&module, format!("cannot be symbolized: {why}; its frames stay `module+0xoffset`"));
        }
        for (i, &off) in offsets.iter().enumerate() {
            let frames = match results.as_ref().map(|r| r.get(i)) {
                Ok(Some(Ok(sym))) => {
                    self.stats.resolved += 1;
                    sym_frames(sym, &module, FrameKind::User)
                }
                found => match self.go_frames(key, &path, &module, off) {
                    Some(frames) => {
                        self.stats.resolved += 1;
                        frames
                    }
                    None => {
                        let why = match found {
                            Ok(Some(Err(reason))) => *reason,
                            _ => Unresolved::Failed,
                        };
                        self.stats.unresolved(why);
                        unknown_frame(&module, off, why)
                    }
                },
            };
            self.user_cache.insert((key, off), frames);
        }
    }

    /// blazesym with the binary's debug information, and if that fails (garbage DWARF, a bad
    /// debug link) again with its ELF symbols only: broken debug information must not cost the
    /// binary its symbol table.
    fn blazesym_with_fallback(&mut self, module: &str, path: PathBuf, offsets: &[u64]) -> BlazeResults {
        let first = run_blazesym(&self.blaze, &Source::Elf(Elf::new(path.clone())), offsets);
        let Err(why) = first else { return first };
        let second = run_blazesym(&self.blaze, &Source::Elf(elf_symbols_only(path)), offsets);
        if second.is_ok() {
            self.problem(module, format!("debug information unusable: {why}; functions named from ELF symbols"));
        }
        second
    }

    /// The frames of file offset `off` of a Go binary from its `.gopclntab` (read once per
    /// binary, when blazesym first leaves one of its addresses unnamed); `None` for other
    /// binaries and addresses the table does not cover.
    fn go_frames(&mut self, key: BinaryKey, path: &std::path::Path, module: &str, off: u64) -> Option<Frames> {
        if !self.go_tables.contains_key(&key) {
            let table = match go_binary::GoBinary::open(path) {
                Ok(table) => table,
                // Not ELF or unreadable: blazesym has said so already, if it matters.
                Err(gopclntab::PclnError::Io(_) | gopclntab::PclnError::Elf(_)) => None,
                Err(e) => {
                    self.problem(module, format!("Go function table unusable: {e}"));
                    None
                }
            };
            self.go_tables.insert(key, table);
        }
        let funcs = self.go_tables.get(&key)?.as_ref()?.frames_at_offset(off)?;
        let frames = funcs
            .into_iter()
            .map(|f| Frame {
                name: f.name,
                module: module.to_string(),
                kind: FrameKind::User,
                inlined: f.inlined,
                file: f.file,
                line: f.line,
            })
            .collect();
        Some(Frames::resolved(frames))
    }

    /// Records a problem with a binary, once per module, for the first [`MAX_PROBLEMS`] modules;
    /// the next gets one line saying there are more, and later ones nothing (so the modules
    /// remembered stay bounded).
    fn problem(&mut self, module: &str, what: String) {
        if self.problem_modules.len() > MAX_PROBLEMS || !self.problem_modules.insert(module.to_string()) {
            return;
        }
        if self.problem_modules.len() <= MAX_PROBLEMS {
            self.problems.push(format!("`{module}`: {what}"));
        } else {
            self.problems.push(format!(
                "more than {MAX_PROBLEMS} binaries could not be fully symbolized; the others are not listed"
            ));
        }
    }

    /// Problems with binaries found since the last call (debug information not usable, a binary
    /// that cannot be symbolized at all), one per module, each naming the module and the error:
    /// for one warning each.
    pub fn take_problems(&mut self) -> Vec<String> {
        std::mem::take(&mut self.problems)
    }

    fn user_frames(&mut self, procs: &ProcessTable, pid: ProcessId, addr: u64) -> Frames {
        match procs.find(pid, addr) {
            Some((m, Some(key))) => {
                let off = addr - m.start + m.offset;
                match self.user_cache.get(&(key, off)) {
                    Some(f) => f.clone(),
                    // binary could not be opened
                    None => unknown_frame(&m.module_name(), off, Unresolved::NoBinary),
                }
            }
            Some((m, None)) if m.path == "[vdso]" => {
                let (module, offset) = (m.module_name(), addr - m.start);
                // The process as captured, when the caller does not know its start time.
                let pid = if pid.start == 0 { procs.instance(pid.tgid) } else { pid };
                match self.vdso(pid, m.start, m.end).as_deref().and_then(|v| v.lookup(offset)) {
                    Some(name) => Frames::resolved(vec![Frame::new(name, module, FrameKind::User)]),
                    None => unknown_frame(&module, offset, Unresolved::NoBinary),
                }
            }
            Some((m, None)) if !m.path.is_empty() => {
                unknown_frame(&m.module_name(), addr - m.start, Unresolved::NoBinary)
            }
            // Anonymous executable memory or no mapping: JIT code, if the process has a perf map.
            _ => match self.perf_map(pid).and_then(|m| m.lookup(addr)) {
                Some(name) => Frames::resolved(vec![Frame::new(name, JIT_MODULE, FrameKind::User)]),
                None => unknown_frame("[unknown]", addr, Unresolved::NoBinary),
            },
        }
    }

    /// The vDSO symbols for process `pid`, whose `[vdso]` is mapped at `start..end`: its own
    /// image while it runs (the same process: its start time unchanged before and after the
    /// read), else prof's own if it is the same size (the same kernel's image for the same
    /// ABI). Read once per process.
    fn vdso(&mut self, pid: ProcessId, start: u64, end: u64) -> Option<Rc<vdso::VdsoSymbols>> {
        let own = self.own_vdso.get_or_insert_with(|| vdso::VdsoSymbols::own().map(Rc::new)).clone();
        self.vdso
            .entry(pid)
            .or_insert_with(|| {
                let same = || pid.start != 0 && crate::process::start_time(pid.tgid) == Some(pid.start);
                let theirs = same().then(|| vdso::VdsoSymbols::of_process(pid.tgid, start, end)).flatten();
                match (theirs.filter(|_| same()), own) {
                    (Some(theirs), Some(own)) if theirs == *own => Some(own),
                    (Some(theirs), _) => Some(Rc::new(theirs)),
                    (None, own) => own.filter(|o| Some(o.size()) == end.checked_sub(start)),
                }
            })
            .clone()
    }
}

/// What [`Symbolizer::symbolize_all`] found: frames per address, in input order.
#[derive(Debug)]
pub struct SymbolizedAll {
    /// Per kernel address.
    pub kernel: Vec<Frames>,
    /// Per process, per user address.
    pub user: Vec<Vec<Frames>>,
}

fn unknown_frame(module: &str, offset: u64, why: Unresolved) -> Frames {
    Frames::unresolved(Frame::new(format!("{module}+{offset:#x}"), module, FrameKind::User), why)
}

/// Per address its symbol or why there is none; `Err` when the whole request failed, saying why.
type BlazeResults = Result<Vec<Result<Sym<'static>, Unresolved>>, String>;

/// An ELF source that reads only the symbol tables, not DWARF or debug links.
fn elf_symbols_only(path: PathBuf) -> Elf {
    let mut elf = Elf::new(path);
    elf.debug_syms = false;
    elf
}

/// Runs one blazesym request. A failure or a panic inside blazesym degrades to `Err` with the
/// error (every address unknown) instead of ending the recording.
fn run_blazesym(blaze: &blazesym::symbolize::Symbolizer, src: &Source<'_>, addrs: &[u64]) -> BlazeResults {
    let result = catch_unwind(AssertUnwindSafe(|| blaze.symbolize(src, Input::FileOffset(addrs))));
    match result {
        Ok(Ok(syms)) => Ok(syms
            .into_iter()
            .map(|s| match s {
                Symbolized::Sym(sym) => Ok(sym.into_owned()),
                Symbolized::Unknown(reason) => Err(unresolved_reason(reason)),
            })
            .collect()),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(panic) => {
            let msg =
                panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
            Err(format!("the symbolizer panicked ({})", msg.as_deref().unwrap_or("no message")))
        }
    }
}

/// Our reason for blazesym's.
fn unresolved_reason(reason: Reason) -> Unresolved {
    match reason {
        Reason::MissingSyms => Unresolved::MissingSymbols,
        Reason::UnknownAddr | Reason::InvalidFileOffset | Reason::Unmapped => Unresolved::UnknownAddress,
        Reason::MissingComponent => Unresolved::NoBinary,
        _ => Unresolved::Failed,
    }
}

fn location(ci: Option<&CodeInfo<'_>>) -> (Option<String>, Option<u32>) {
    match ci {
        Some(ci) => {
            let file = match &ci.dir {
                Some(dir) if !dir.as_os_str().is_empty() => dir.join(&*ci.file).to_string_lossy().into_owned(),
                _ => ci.file.to_string_lossy().into_owned(),
            };
            (Some(file), ci.line)
        }
        None => (None, None),
    }
}

/// The frames of one symbol, outermost first: the function, then each function inlined into it.
/// Each frame's file:line is where execution is inside that frame (the call site of the next).
fn sym_frames(sym: &Sym<'_>, module: &str, kind: FrameKind) -> Frames {
    let names: Vec<&Cow<'_, str>> = std::iter::once(&sym.name).chain(sym.inlined.iter().map(|f| &f.name)).collect();
    let n = names.len();
    let mut frames = Vec::with_capacity(n);
    for (i, name) in names.into_iter().enumerate() {
        let ci = if i + 1 < n { sym.inlined[i].code_info.as_ref() } else { sym.code_info.as_deref() };
        let (file, line) = location(ci);
        frames.push(Frame { name: name.to_string(), module: module.to_string(), kind, inlined: i > 0, file, line });
    }
    Frames::resolved(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One problem per module, the first [`MAX_PROBLEMS`] modules listed, then one line saying
    /// there are more, then nothing.
    #[test]
    fn symbolize_problems_once_per_module_and_bounded() {
        let mut s = Symbolizer::new();
        s.problem("a", "first".to_string());
        s.problem("a", "second".to_string());
        assert_eq!(s.take_problems(), vec!["`a`: first".to_string()]);
        for i in 0..MAX_PROBLEMS + 5 {
            s.problem(&format!("m{i}"), "broken".to_string());
        }
        let problems = s.take_problems();
        assert_eq!(problems.len(), MAX_PROBLEMS);
        assert!(problems.last().unwrap().starts_with(&format!("more than {MAX_PROBLEMS} binaries")), "{problems:?}");
        assert_eq!(s.problem_modules.len(), MAX_PROBLEMS + 1);
    }
}
