//! The unwind-table manager without BPF: tables are built once per binary and shared, each
//! mapping gets the right bias, unused tables are evicted when the row array is full, and a
//! binary that does not fit is reported, not fatal.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use prof::process::maps::parse_maps;
use prof::process::BinaryKey;
use prof::process::MappingInfo;
use prof::profile::unwind::UnwindStatus;
use prof::unwind::manager::{TableManager, TableSink, TableState};
use prof::unwind::resume::{Resumed, StackCopy, Suspended};
use prof::unwind::{CfaRule, ProcMapping, UnwindRow, PENDING_ROWS};

/// A row array in memory standing in for the kernel's.
#[derive(Default)]
struct FakeSink {
    rows: Vec<Option<UnwindRow>>,
    procs: HashMap<u32, Vec<ProcMapping>>,
}

impl FakeSink {
    fn new(capacity: usize) -> FakeSink {
        FakeSink { rows: vec![None; capacity], procs: HashMap::new() }
    }
}

impl TableSink for FakeSink {
    fn capacity(&self) -> u32 {
        self.rows.len() as u32
    }
    fn write_rows(&mut self, first: u32, rows: &[UnwindRow]) -> Result<(), String> {
        let first = first as usize;
        if first + rows.len() > self.rows.len() {
            return Err(format!("rows {first}.. do not fit"));
        }
        for (i, r) in rows.iter().enumerate() {
            assert!(self.rows[first + i].is_none(), "row {} written twice without a release", first + i);
            self.rows[first + i] = Some(*r);
        }
        Ok(())
    }
    fn release_rows(&mut self, first: u32, n: u32) {
        for r in &mut self.rows[first as usize..(first + n) as usize] {
            assert!(r.is_some(), "released a row never written");
            *r = None;
        }
    }
    fn set_process(&mut self, tgid: u32, mappings: &[ProcMapping]) -> Result<(), String> {
        self.procs.insert(tgid, mappings.to_vec());
        Ok(())
    }
    fn remove_process(&mut self, tgid: u32) {
        self.procs.remove(&tgid);
    }
    fn read_row(&self, index: u32) -> Option<UnwindRow> {
        *self.rows.get(index as usize)?
    }
}

/// The executable mappings of this test process, as the symbolizer would capture them.
fn own_mappings() -> Vec<MappingInfo> {
    let text = std::fs::read_to_string("/proc/self/maps").unwrap();
    parse_maps(&text)
        .into_iter()
        .map(|m| {
            let binary = m.is_file().then(|| {
                let path = PathBuf::from(&m.path);
                let meta = std::fs::metadata(&path).unwrap();
                (BinaryKey { dev: meta.dev(), inode: meta.ino() }, path)
            });
            MappingInfo { start: m.start, end: m.end, offset: m.offset, binary, module: m.module_name() }
        })
        .collect()
}

/// The row the fake kernel would use for a runtime address of process `tgid`, as the BPF
/// walker finds it: mapping by address, then the last row at or before `addr - bias`.
fn walker_row(sink: &FakeSink, tgid: u32, addr: u64) -> Option<UnwindRow> {
    let m = sink.procs.get(&tgid)?.iter().find(|m| m.start <= addr && addr < m.end)?;
    let vaddr = addr.wrapping_sub(m.bias);
    let rows = &sink.rows[m.first_row as usize..(m.first_row + m.n_rows) as usize];
    let idx = rows.partition_point(|r| r.is_some_and(|r| r.pc <= vaddr));
    idx.checked_sub(1).and_then(|i| rows[i])
}

/// This test binary's own code: the walker finds a real CFI rule (not "no info") for the
/// address of a function of this process, through the mapping's bias.
#[test]
fn unwind_manager_loads_tables_with_bias() {
    let mut sink = FakeSink::new(1 << 20);
    let mut mgr = TableManager::inline(1 << 20);
    let maps = own_mappings();
    mgr.process_seen(&mut sink, 1, &maps).unwrap();
    let addr = own_mappings as fn() -> Vec<MappingInfo> as usize as u64;
    let row = walker_row(&sink, 1, addr).expect("a row covers a function of this binary");
    assert!(matches!(row.cfa, CfaRule::Sp(_) | CfaRule::Fp(_)), "{row:?}");
    assert!(mgr.tables().any(|t| matches!(t.state, TableState::Loaded { .. })));
    assert!(mgr.stats().rows_written > 0);
}

/// Two processes mapping the same binaries share one copy of each table.
#[test]
fn unwind_manager_shares_tables_between_processes() {
    let mut sink = FakeSink::new(1 << 20);
    let mut mgr = TableManager::inline(1 << 20);
    let maps = own_mappings();
    mgr.process_seen(&mut sink, 1, &maps).unwrap();
    let written = mgr.stats().rows_written;
    let built = mgr.stats().built;
    mgr.process_seen(&mut sink, 2, &maps).unwrap();
    assert_eq!(mgr.stats().rows_written, written, "the second process reuses the loaded tables");
    assert_eq!(mgr.stats().built, built);
    assert_eq!(sink.procs[&1], sink.procs[&2]);
}

/// When the array is full, tables of exited processes are evicted to make room; a table that
/// can never fit is reported as not loaded and its mappings fall back to frame pointers.
#[test]
fn unwind_manager_evicts_unused_and_reports_no_room() {
    let maps = own_mappings();
    // Room for the largest table but not for all of them at once.
    let mut probe_sink = FakeSink::new(1 << 22);
    let mut probe = TableManager::inline(1 << 22);
    probe.process_seen(&mut probe_sink, 1, &maps).unwrap();
    let sizes: Vec<u32> = probe
        .tables()
        .filter_map(|t| match t.state {
            TableState::Loaded { rows, .. } => Some(rows),
            _ => None,
        })
        .collect();
    let largest = *sizes.iter().max().unwrap();
    let total: u32 = sizes.iter().sum();
    assert!(sizes.len() >= 2 && total > largest, "this test needs two binaries with tables: {sizes:?}");

    let mut sink = FakeSink::new(largest as usize);
    let mut mgr = TableManager::inline(largest);
    mgr.process_seen(&mut sink, 1, &maps).unwrap();
    let failed: Vec<String> = mgr
        .tables()
        .filter_map(|t| match &t.state {
            TableState::Failed(why) => Some(why.clone()),
            _ => None,
        })
        .collect();
    assert!(failed.iter().any(|w| w.contains("no room")), "{failed:?}");
    assert!(mgr.stats().no_room > 0);
    // Mappings whose table did not fit have no rows: the walker uses frame pointers there.
    assert!(sink.procs[&1].iter().any(|m| m.n_rows == 0 && m.end > m.start));

    // After the process exits, its tables can be evicted and another process loads again.
    mgr.process_exited(&mut sink, 1);
    assert!(!sink.procs.contains_key(&1));
    mgr.evict_all_unused(&mut sink);
    mgr.process_seen(&mut sink, 2, &maps).unwrap();
    assert!(mgr.stats().evicted > 0);
    assert!(sink.procs[&2].iter().any(|m| m.n_rows > 0));
}

/// With the background builder, mappings are sent at once (marked as waiting for their table)
/// and again with the tables once they are built; a walk handed over waits, then goes on.
#[test]
fn unwind_manager_builds_in_the_background() {
    let mut sink = FakeSink::new(1 << 20);
    let mut mgr = TableManager::new(1 << 20);
    let maps = own_mappings();
    mgr.process_seen(&mut sink, 7, &maps).unwrap();
    // Only the vDSO's table (a few dozen rows from memory) is built at once.
    let vdso = maps.iter().find(|m| m.module == "[vdso]").map(|m| m.start);
    assert!(sink.procs[&7].iter().all(|m| m.n_rows == 0 || Some(m.start) == vdso), "nothing is ready yet");
    // The kernel's walker is told which tables are coming, to hand samples over, and a walk
    // handed over waits for them.
    let addr = own_mappings as fn() -> Vec<MappingInfo> as usize as u64;
    let ours = sink.procs[&7].iter().find(|m| m.start <= addr && addr < m.end).expect("this test's code is mapped");
    assert_eq!(ours.first_row, PENDING_ROWS, "{ours:?}");
    let handed = Suspended {
        tgid: 7,
        frames: vec![],
        pc: addr,
        sp: 0x7000,
        fp: 0,
        fp_down: 0,
        pc_certain: true,
        stack: StackCopy::default(),
        tables_only: false,
        unplaced_reported: false,
    };
    let mut walk = handed.clone();
    assert!(matches!(mgr.resume(&sink, &mut walk, false), Resumed::Waiting(_)));
    assert!(walk.frames.is_empty());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while mgr.pending() > 0 {
        assert!(std::time::Instant::now() < deadline, "tables were not built within 60 s");
        mgr.poll(&mut sink);
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let row = walker_row(&sink, 7, addr).expect("the walker has the table once it is built");
    assert!(matches!(row.cfa, CfaRule::Sp(_) | CfaRule::Fp(_)), "{row:?}");
    // Once built, the walk goes on with the rows read back from the kernel: the function's
    // first instruction has CFA = SP + 8, whose return address the (empty) copy lacks.
    let mut walk = handed.clone();
    assert_eq!(mgr.resume(&sink, &mut walk, false), Resumed::Done(UnwindStatus::CopyEnd));
    assert_eq!(walk.frames, vec![addr]);
    // An unknown process has no mappings: its mappings are asked for once, then frame pointers
    // only (FP 0 ends the chain).
    let mut walk = Suspended { tgid: 8, ..handed };
    assert_eq!(mgr.resume(&sink, &mut walk, false), Resumed::Unplaced);
    assert_eq!(mgr.resume(&sink, &mut walk, false), Resumed::Done(UnwindStatus::Complete));
}

/// Tables of exited processes stay loaded for a while (short-lived processes come back to the
/// same binaries) and are forgotten after KEEP_UNUSED_TICKS intervals unused.
#[test]
fn unwind_manager_keeps_unused_tables_for_a_while() {
    use prof::unwind::manager::KEEP_UNUSED_TICKS;
    let mut sink = FakeSink::new(1 << 20);
    let mut mgr = TableManager::inline(1 << 20);
    let maps = own_mappings();
    mgr.process_seen(&mut sink, 1, &maps).unwrap();
    let built = mgr.stats().built;
    mgr.process_exited(&mut sink, 1);
    mgr.tick(&mut sink);
    mgr.process_seen(&mut sink, 2, &maps).unwrap();
    assert_eq!(mgr.stats().built, built, "a process of the same binaries reuses the kept tables");
    mgr.process_exited(&mut sink, 2);
    for _ in 0..=KEEP_UNUSED_TICKS {
        mgr.tick(&mut sink);
    }
    assert_eq!(mgr.tables().count(), 0, "unused tables are forgotten eventually");
    assert!(mgr.stats().evicted > 0);
    assert!(sink.rows.iter().all(Option::is_none), "the rows of forgotten tables are released to the sink");
}

/// Processes that are gone without an exit event are forgotten, and their mappings removed
/// from the walker.
#[test]
fn unwind_manager_forgets_dead_processes() {
    let mut sink = FakeSink::new(1 << 20);
    let mut mgr = TableManager::inline(1 << 20);
    let maps = own_mappings();
    mgr.process_seen(&mut sink, 1, &maps).unwrap();
    mgr.process_seen(&mut sink, 2, &maps).unwrap();
    mgr.forget_dead(&mut sink, |tgid| tgid == 2);
    assert!(!mgr.knows(1) && mgr.knows(2));
    assert!(!sink.procs.contains_key(&1) && sink.procs.contains_key(&2));
}

/// The vDSO has no file, but its table is built from prof's own image (the same in every
/// process of this kernel): the walker gets rows for the `[vdso]` mapping, and the row at
/// `clock_gettime`'s code in this process is a real CFI rule.
#[test]
fn unwind_manager_vdso_gets_a_table() {
    let mut sink = FakeSink::new(1 << 20);
    let mut mgr = TableManager::inline(1 << 20);
    let maps = own_mappings();
    let vdso = maps.iter().find(|m| m.module == "[vdso]").expect("a [vdso] mapping").clone();
    assert!(vdso.binary.is_none());
    mgr.process_seen(&mut sink, 1, &maps).unwrap();
    let m = sink.procs[&1].iter().find(|m| m.start == vdso.start).expect("the walker has the [vdso] mapping");
    assert!(m.n_rows > 0, "{m:?}");
    // Somewhere in the image there is code the table describes with a CFA rule.
    let described = (vdso.start..vdso.end)
        .step_by(16)
        .filter_map(|addr| walker_row(&sink, 1, addr))
        .any(|row| matches!(row.cfa, CfaRule::Sp(_) | CfaRule::Fp(_)));
    assert!(described);
    // A mapping of another size (another ABI's vDSO) gets no rows.
    let mut other = maps.clone();
    other.iter_mut().filter(|m| m.module == "[vdso]").for_each(|m| m.end += 4096);
    mgr.process_seen(&mut sink, 2, &other).unwrap();
    assert!(sink.procs[&2].iter().filter(|m| m.start == vdso.start).all(|m| m.n_rows == 0));
}
