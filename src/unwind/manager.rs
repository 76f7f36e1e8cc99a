//! Which unwind tables are in the kernel: builds a binary's table the first time a process
//! mapping it is seen (on a background thread, so a large binary never stalls the recording:
//! until its table is ready the kernel hands samples that reach it over with a copy of their
//! stack, and [`TableManager::resume`] finishes their walk), writes it once into the
//! kernel's row array (shared by every process that maps the binary), tells the walker each
//! process's mappings, and evicts tables no live process uses when room is needed. Talks to the
//! kernel through [`TableSink`], so it is tested without BPF.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::sync::mpsc;

use super::alloc::RangeAlloc as Rows;
use super::cfi;
use super::resume::{self, Place, Resumed, Suspended};
use super::{ProcMapping, TableSource, UnwindRow, PENDING_ROWS};
use crate::process::vdso::VDSO_MODULE;
use crate::process::{BinaryKey, MappingInfo};

/// Where the unwind tables go: the sampler's BPF maps, or a fake in tests.
pub trait TableSink {
    /// Rows the kernel's array holds.
    fn capacity(&self) -> u32;
    /// Writes rows at `first` (a range the manager allocated); the error says why not.
    fn write_rows(&mut self, first: u32, rows: &[UnwindRow]) -> Result<(), String>;
    /// Forgets rows written at `first` (their table was evicted): the sink may free the memory.
    fn release_rows(&mut self, first: u32, n: u32);
    /// Replaces the walker's view of a process's mappings.
    fn set_process(&mut self, tgid: u32, mappings: &[ProcMapping]) -> Result<(), String>;
    /// Forgets a process.
    fn remove_process(&mut self, tgid: u32);
    /// Row `index` as the kernel holds it (None: not written).
    fn read_row(&self, index: u32) -> Option<UnwindRow>;
}

/// What is known about one binary's table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableState {
    /// In the kernel at rows `[first, first + rows)`.
    Loaded {
        /// First row.
        first: u32,
        /// Rows.
        rows: u32,
    },
    /// Being built on the background thread (samples that reach it meanwhile are handed over:
    /// see [`TableManager::resume`]).
    Pending,
    /// The binary has no call-frame information (frame pointers are used).
    Empty,
    /// Not loaded: the reason (unreadable ELF, no room in the row array, …).
    Failed(String),
}

/// Per-binary facts for reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableInfo {
    /// Module name.
    pub module: String,
    /// State of its table.
    pub state: TableState,
    /// Where the rows came from.
    pub source: TableSource,
    /// Rows the walker cannot evaluate.
    pub unsupported_rows: usize,
    /// Load segments (to compute each mapping's bias).
    segments: Vec<cfi::LoadSegment>,
    /// The last [`TableManager::tick`] generation in which a known process mapped the binary.
    last_used: u64,
}

impl TableInfo {
    /// A table of `module` being built, first used in tick `generation`.
    fn pending(module: &str, generation: u64) -> TableInfo {
        TableInfo {
            module: module.to_string(),
            state: TableState::Pending,
            source: TableSource::None,
            unsupported_rows: 0,
            segments: Vec::new(),
            last_used: generation,
        }
    }

    /// A short description for the unwind report: `.eh_frame (1234 rows)`, `none`, or why not.
    pub fn describe(&self) -> String {
        match &self.state {
            TableState::Loaded { rows, .. } => format!("{} ({rows} rows)", self.source.name()),
            TableState::Pending => "being built".to_string(),
            TableState::Empty => "none: frame pointers".to_string(),
            TableState::Failed(why) => format!("not loaded: {why}"),
        }
    }
}

/// Counters of the table manager.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManagerStats {
    /// Tables built from ELF files.
    pub built: u64,
    /// Rows written into the kernel.
    pub rows_written: u64,
    /// Tables evicted to make room.
    pub evicted: u64,
    /// Tables that did not fit even after evicting every unused one.
    pub no_room: u64,
}

/// A built table, or why not.
type Built = Result<(super::UnwindTable, Vec<cfi::LoadSegment>), String>;

/// Reads and evaluates one binary's call-frame information, reading only its headers and
/// call-frame sections. Binaries whose `.eh_frame` alone implies more rows than the kernel array
/// holds are refused before the (costly) evaluation.
fn build(file: File, capacity: u32) -> Built {
    match cfi::table_from_file(&file, u64::from(capacity)) {
        Ok(built) => Ok(built),
        Err(e @ cfi::CfiError::TooLarge { .. }) => Err(format!("{e} (raise --unwind-rows)")),
        Err(e) => Err(crate::error_text::error_chain(&e)),
    }
}

/// The background thread that builds tables.
#[derive(Debug)]
struct Builder {
    requests: mpsc::Sender<(BinaryKey, File)>,
    results: mpsc::Receiver<(BinaryKey, Built)>,
}

impl Builder {
    fn spawn(capacity: u32) -> Option<Builder> {
        let (req_tx, req_rx) = mpsc::channel::<(BinaryKey, File)>();
        let (res_tx, res_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("prof-unwind".into())
            .spawn(move || {
                // Ends when the manager (the request sender) is dropped.
                for (key, file) in req_rx {
                    let built = build(file, capacity);
                    if res_tx.send((key, built)).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        Some(Builder { requests: req_tx, results: res_rx })
    }
}

/// The unwind tables of a recording.
#[derive(Debug)]
pub struct TableManager {
    rows: Rows,
    capacity: u32,
    tables: HashMap<BinaryKey, TableInfo>,
    /// How many of `tables` are being built (asked for on every wait for events, so counted
    /// as they change rather than each time).
    pending: usize,
    /// Mappings of each known process (to re-send when a table becomes ready).
    procs: HashMap<u32, Vec<MappingInfo>>,
    /// None: tables are built inline (tests, or no thread could be started).
    builder: Option<Builder>,
    stats: ManagerStats,
    /// Counts [`TableManager::tick`]s (intervals of a continuous recording).
    generation: u64,
    /// Bytes of the vDSO image its table was built from (0: not built).
    vdso_size: u64,
    /// Mappings of the last processes that exited, newest last: walks handed over by the
    /// kernel may still need them.
    exited: std::collections::VecDeque<(u32, Vec<MappingInfo>)>,
}

/// Exited processes whose mappings are kept for walks still to be finished.
const KEEP_EXITED: usize = 64;

/// Ticks (intervals) a table no process uses is kept before it is forgotten: short-lived
/// processes come back to the same binaries, and rebuilding a table each time costs far more
/// than keeping rows that sit in the fixed-size kernel array anyway. Tables unused for less
/// than this are still evicted at once when room is needed.
pub const KEEP_UNUSED_TICKS: u64 = 30;

/// The key the vDSO's table is kept under: the vDSO has no file, so no device and inode, and
/// no real device number is all ones.
const VDSO_KEY: BinaryKey = BinaryKey { dev: u64::MAX, inode: u64::MAX };

/// The key of the table a mapping uses: its binary's, or the vDSO's.
fn table_key(m: &MappingInfo) -> Option<BinaryKey> {
    match &m.binary {
        Some((key, _)) => Some(*key),
        None if m.module == VDSO_MODULE => Some(VDSO_KEY),
        None => None,
    }
}

/// The vDSO's table, from the `.eh_frame` of prof's own image (the same as every process's of
/// this kernel and ABI whose mapping has the same size), and that size.
fn build_vdso() -> (Built, u64) {
    let Some(image) = crate::process::vdso::own_image() else {
        return (Err("prof's own vDSO could not be read".to_string()), 0);
    };
    let built = cfi::table_from_elf(&image)
        .and_then(|table| Ok((table, cfi::load_segments(&image)?)))
        .map_err(|e| crate::error_text::error_chain(&e));
    (built, image.len() as u64)
}

impl TableManager {
    /// A manager for a row array of `capacity` rows that builds tables on a background thread.
    pub fn new(capacity: u32) -> TableManager {
        TableManager { builder: Builder::spawn(capacity), ..TableManager::inline(capacity) }
    }

    /// A manager that builds each table at once, in [`TableManager::process_seen`].
    pub fn inline(capacity: u32) -> TableManager {
        TableManager {
            rows: Rows::new(capacity),
            capacity,
            tables: HashMap::new(),
            pending: 0,
            procs: HashMap::new(),
            builder: None,
            stats: Default::default(),
            generation: 0,
            vdso_size: 0,
            exited: Default::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &ManagerStats {
        &self.stats
    }

    /// What is known about each binary's table.
    pub fn tables(&self) -> impl Iterator<Item = &TableInfo> {
        self.tables.values()
    }

    /// Tables being built in the background.
    pub fn pending(&self) -> usize {
        debug_assert_eq!(self.pending, self.tables.values().filter(|t| t.state == TableState::Pending).count());
        self.pending
    }

    /// True when the manager has loaded mappings for `tgid`.
    pub fn knows(&self, tgid: u32) -> bool {
        self.procs.contains_key(&tgid)
    }

    /// Tells the walker a process's mappings, with the tables that are ready; starts building
    /// the tables of binaries not seen before.
    pub fn process_seen(
        &mut self,
        sink: &mut dyn TableSink,
        tgid: u32,
        mappings: &[MappingInfo],
    ) -> Result<(), String> {
        self.procs.insert(tgid, mappings.to_vec());
        for m in mappings {
            if let Some((key, path)) = &m.binary {
                match self.tables.get_mut(key) {
                    Some(t) => t.last_used = self.generation,
                    None => self.start_build(sink, *key, path, &m.module),
                }
            } else if m.module == VDSO_MODULE && !self.tables.contains_key(&VDSO_KEY) {
                // A few hundred rows from memory: built at once.
                self.tables.insert(VDSO_KEY, TableInfo::pending(&m.module, self.generation));
                self.pending += 1;
                let (built, size) = build_vdso();
                self.vdso_size = size;
                self.finish(sink, VDSO_KEY, built);
            }
        }
        self.push_process(sink, tgid)
    }

    /// Stores the tables the background thread finished and re-sends the mappings of every
    /// process that maps one of them. Returns how many tables were finished.
    pub fn poll(&mut self, sink: &mut dyn TableSink) -> usize {
        let Some(builder) = &self.builder else {
            return 0;
        };
        let done: Vec<(BinaryKey, Built)> = builder.results.try_iter().collect();
        if done.is_empty() {
            return 0;
        }
        let mut ready = HashSet::new();
        for (key, built) in done {
            if self.tables.get(&key).is_some_and(|t| t.state == TableState::Pending) {
                self.finish(sink, key, built);
                ready.insert(key);
            }
        }
        let affected: Vec<u32> = self
            .procs
            .iter()
            .filter(|(_, maps)| maps.iter().any(|m| m.binary.as_ref().is_some_and(|(k, _)| ready.contains(k))))
            .map(|(t, _)| *t)
            .collect();
        for tgid in affected {
            // A process that exited meanwhile is not an error worth reporting here.
            let _ = self.push_process(sink, tgid);
        }
        ready.len()
    }

    /// Forgets the processes `alive` says are gone. Exit events only come for processes that
    /// were sampled; a process captured at exec that exited before its first sample would
    /// otherwise keep its mapping slots in the kernel forever.
    pub fn forget_dead(&mut self, sink: &mut dyn TableSink, alive: impl Fn(u32) -> bool) {
        let dead: Vec<u32> = self.procs.keys().copied().filter(|&t| !alive(t)).collect();
        for tgid in dead {
            self.process_exited(sink, tgid);
        }
    }

    /// A process exited: the walker forgets it; its tables stay cached until room is needed.
    pub fn process_exited(&mut self, sink: &mut dyn TableSink, tgid: u32) {
        if let Some(mappings) = self.procs.remove(&tgid) {
            sink.remove_process(tgid);
            if self.exited.len() == KEEP_EXITED {
                self.exited.pop_front();
            }
            self.exited.push_back((tgid, mappings));
        }
    }

    /// Continues a walk the kernel handed over (see [`resume`]) with the tables loaded now and
    /// the process's mappings (kept for a while after it exits). A process prof does not know
    /// has no mappings: frame pointers only. With `force`, tables still being built count as
    /// absent, so the walk ends.
    pub fn resume(&self, sink: &dyn TableSink, walk: &mut Suspended, force: bool) -> Resumed {
        let mappings = match self.procs.get(&walk.tgid) {
            Some(m) => m.as_slice(),
            None => self.exited.iter().rev().find(|(t, _)| *t == walk.tgid).map_or(&[][..], |(_, m)| m.as_slice()),
        };
        resume::resume(walk, &ProcessRules { manager: self, sink, mappings }, force)
    }

    /// The table a mapping uses and the mapping's load bias, when the table is known.
    fn mapping_table(&self, m: &MappingInfo) -> Option<(BinaryKey, &TableInfo)> {
        // Another ABI's vDSO (a mapping of another size) is not the image the table was built
        // from: frame pointers there.
        let key = table_key(m).filter(|&k| k != VDSO_KEY || m.end - m.start == self.vdso_size)?;
        Some((key, self.tables.get(&key)?))
    }

    /// Marks the end of an interval of a long recording: tables (and cached failures) of
    /// binaries no known process has mapped for [`KEEP_UNUSED_TICKS`] ticks are forgotten and
    /// their rows freed, so memory stays flat however many binaries come and go.
    pub fn tick(&mut self, sink: &mut dyn TableSink) {
        self.generation += 1;
        self.mark_used();
        let horizon = self.generation.saturating_sub(KEEP_UNUSED_TICKS);
        self.evict_where(sink, |_, t| t.last_used < horizon);
    }

    /// Forgets the tables (and cached failures) of every binary no known process maps, freeing
    /// their rows (when the kernel array is full).
    pub fn evict_all_unused(&mut self, sink: &mut dyn TableSink) {
        let used: HashSet<BinaryKey> = self.procs.values().flatten().filter_map(table_key).collect();
        self.evict_where(sink, |key, _| !used.contains(key));
    }

    fn mark_used(&mut self) {
        let generation = self.generation;
        for key in self.procs.values().flatten().filter_map(table_key) {
            if let Some(t) = self.tables.get_mut(&key) {
                t.last_used = generation;
            }
        }
    }

    fn evict_where(&mut self, sink: &mut dyn TableSink, stale: impl Fn(&BinaryKey, &TableInfo) -> bool) {
        let evict: Vec<BinaryKey> = self
            .tables
            .iter()
            .filter(|(k, t)| t.state != TableState::Pending && stale(k, t))
            .map(|(k, _)| *k)
            .collect();
        for key in evict {
            if let Some(TableInfo { state: TableState::Loaded { first, rows }, .. }) = self.tables.remove(&key) {
                self.rows.release(first, rows);
                sink.release_rows(first, rows);
                self.stats.evicted += 1;
            }
        }
    }

    /// The walker's view of a process: each mapping with its table's rows and load bias.
    fn push_process(&mut self, sink: &mut dyn TableSink, tgid: u32) -> Result<(), String> {
        let Some(mappings) = self.procs.get(&tgid) else {
            return Ok(());
        };
        let out: Vec<ProcMapping> = mappings
            .iter()
            .map(|m| {
                let mut pm = ProcMapping { start: m.start, end: m.end, bias: 0, first_row: 0, n_rows: 0 };
                match self.mapping_table(m) {
                    Some((_, info)) if info.state == TableState::Pending => pm.first_row = PENDING_ROWS,
                    Some((_, info)) => {
                        if let (&TableState::Loaded { first, rows }, Some(bias)) =
                            (&info.state, cfi::load_bias(&info.segments, m.start, m.offset))
                        {
                            pm.bias = bias;
                            pm.first_row = first;
                            pm.n_rows = rows;
                        }
                    }
                    None => {}
                }
                pm
            })
            .collect();
        sink.set_process(tgid, &out)
    }

    fn start_build(&mut self, sink: &mut dyn TableSink, key: BinaryKey, path: &std::path::Path, module: &str) {
        self.tables.insert(key, TableInfo::pending(module, self.generation));
        self.pending += 1;
        // A descriptor of our own: the path may be a /proc/self/fd link the symbolizer closes.
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                self.finish(sink, key, Err(format!("failed to open `{module}` ({}): {e}", path.display())));
                return;
            }
        };
        match &self.builder {
            Some(b) => {
                if let Err(mpsc::SendError((_, file))) = b.requests.send((key, file)) {
                    // The thread is gone: build here.
                    self.builder = None;
                    let built = build(file, self.capacity);
                    self.finish(sink, key, built);
                }
            }
            None => {
                let built = build(file, self.capacity);
                self.finish(sink, key, built);
            }
        }
    }

    /// Stores a built table (or its failure) for `key`.
    fn finish(&mut self, sink: &mut dyn TableSink, key: BinaryKey, built: Built) {
        self.stats.built += 1;
        let (state, source, unsupported_rows, segments) = match built {
            Err(why) => (TableState::Failed(why), TableSource::None, 0, Vec::new()),
            Ok((table, segments)) => {
                let state = if table.rows.is_empty() {
                    TableState::Empty
                } else if table.rows.last().is_some_and(|r| r.pc > u64::from(u32::MAX)) {
                    TableState::Failed("virtual addresses above 4 GiB".to_string())
                } else {
                    self.store(sink, &table.rows)
                };
                (state, table.source, table.unsupported_rows, segments)
            }
        };
        if let Some(info) = self.tables.get_mut(&key) {
            if info.state == TableState::Pending {
                self.pending -= 1;
            }
            info.state = state;
            info.source = source;
            info.unsupported_rows = unsupported_rows;
            info.segments = segments;
        }
    }

    /// Allocates room (evicting tables no process uses, if needed) and writes the rows.
    fn store(&mut self, sink: &mut dyn TableSink, rows: &[UnwindRow]) -> TableState {
        let Ok(n) = u32::try_from(rows.len()) else {
            return TableState::Failed("table too large".to_string());
        };
        let first = match self.rows.alloc(n) {
            Some(f) => Some(f),
            None => {
                self.evict_all_unused(sink);
                self.rows.alloc(n)
            }
        };
        let Some(first) = first else {
            self.stats.no_room += 1;
            return TableState::Failed(format!(
                "no room for {n} rows in the kernel's unwind table ({} rows; raise --unwind-rows)",
                sink.capacity()
            ));
        };
        if let Err(why) = sink.write_rows(first, rows) {
            self.rows.release(first, n);
            return TableState::Failed(format!("writing the rows failed: {why}"));
        }
        self.stats.rows_written += u64::from(n);
        TableState::Loaded { first, rows: n }
    }
}

/// The rules of one process's code for [`resume`]: its mappings, the manager's tables, and the
/// rows as the kernel holds them.
struct ProcessRules<'a> {
    manager: &'a TableManager,
    sink: &'a dyn TableSink,
    mappings: &'a [MappingInfo],
}

impl resume::Rules for ProcessRules<'_> {
    fn place(&self, pc: u64) -> Place {
        let Some(m) = self.mappings.iter().find(|m| m.start <= pc && pc < m.end) else {
            return Place::Unmapped;
        };
        let Some((key, info)) = self.manager.mapping_table(m) else {
            return Place::NoTable;
        };
        let (first, rows) = match info.state {
            TableState::Pending => return Place::Pending(key),
            TableState::Loaded { first, rows } => (first, rows),
            _ => return Place::NoTable,
        };
        let Some(bias) = cfi::load_bias(&info.segments, m.start, m.offset) else {
            return Place::NoTable;
        };
        let vaddr = pc.wrapping_sub(bias);
        if vaddr > u64::from(u32::MAX) {
            return Place::NoTable;
        }
        // The last row at or before vaddr, as the kernel's binary search finds it.
        let (mut lo, mut hi) = (first, first.saturating_add(rows));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.sink.read_row(mid) {
                Some(r) if r.pc <= vaddr => lo = mid + 1,
                Some(_) => hi = mid,
                None => return Place::NoTable,
            }
        }
        match lo.checked_sub(1).filter(|&i| i >= first).and_then(|i| self.sink.read_row(i)) {
            Some(row) => Place::Row { row, vaddr },
            None => Place::NoTable,
        }
    }
}
