//! Unwind tables built from real binaries (no BPF): a C fixture compiled at test time with known
//! prologues, checked instruction by instruction and row by row against `readelf`'s own
//! evaluation of the same call-frame information; the system libc; `.debug_frame`-only code;
//! malformed files; and load biases of running PIE and non-PIE processes.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use object::{Object, ObjectSection, ObjectSymbol};
use prof::unwind::cfi::{self, CfiError, LoadSegment};
use prof::unwind::{CfaRule, FpRule, TableSource, UnwindTable};

const LIBC: &str = "/lib/x86_64-linux-gnu/libc.so.6";
const PYTHON: &str = "/usr/bin/python3.11";

static BUILD: Mutex<()> = Mutex::new(());

/// Compiles tests/workloads/unwind_fixture.c with `flags` into the test temp dir as `name`
/// (rebuilt when the source is newer) and returns its path.
fn fixture(name: &str, flags: &[&str]) -> PathBuf {
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workloads/unwind_fixture.c");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("unwind_tables");
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join(name);
    if is_fresh(&bin, &src) {
        return bin;
    }
    let tmp = dir.join(format!("{name}.tmp"));
    let out = Command::new("cc").args(flags).arg("-o").arg(&tmp).arg(&src).output().expect("cc runs");
    assert!(out.status.success(), "building {name}: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::rename(&tmp, &bin).unwrap();
    bin
}

fn is_fresh(bin: &Path, src: &Path) -> bool {
    match (std::fs::metadata(bin), std::fs::metadata(src)) {
        (Ok(b), Ok(s)) => b.modified().unwrap() >= s.modified().unwrap(),
        _ => false,
    }
}

/// The fixture as the tests describe it: PIE, -O2, frame pointers omitted except where the
/// source asks for one, `.eh_frame` only.
fn pie_fixture() -> PathBuf {
    fixture("unwind_fixture", &["-O2", "-fomit-frame-pointer"])
}

/// The same code built as a non-PIE executable.
fn nopie_fixture() -> PathBuf {
    fixture("unwind_fixture_nopie", &["-O2", "-fomit-frame-pointer", "-no-pie"])
}

/// The fixture's own code described by `.debug_frame` only; crt1's `_start` and the PLT still
/// come with `.eh_frame`.
fn debug_frame_fixture() -> PathBuf {
    fixture("unwind_fixture_dbg", &["-O2", "-fomit-frame-pointer", "-fno-asynchronous-unwind-tables", "-g"])
}

/// [`debug_frame_fixture`] with `.eh_frame` (and its header) removed: `.debug_frame` only.
fn debug_frame_only_fixture() -> PathBuf {
    let with_eh = debug_frame_fixture();
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let bin = with_eh.with_file_name("unwind_fixture_dbg_only");
    if !is_fresh(&bin, &with_eh) {
        let out = Command::new("objcopy")
            .args(["--remove-section=.eh_frame", "--remove-section=.eh_frame_hdr"])
            .arg(&with_eh)
            .arg(&bin)
            .output()
            .expect("objcopy (binutils) runs");
        assert!(out.status.success(), "objcopy: {}", String::from_utf8_lossy(&out.stderr));
    }
    bin
}

/// Address and size of the symbol `name` (static or dynamic symbol table).
fn symbol(path: &Path, name: &str) -> Option<(u64, u64)> {
    let data = std::fs::read(path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    file.symbols()
        .chain(file.dynamic_symbols())
        .find(|s| s.name() == Ok(name) && s.address() != 0)
        .map(|s| (s.address(), s.size()))
}

/// Address range of section `name`, if present.
fn section_range(path: &Path, name: &str) -> Option<(u64, u64)> {
    let data = std::fs::read(path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    file.section_by_name(name).map(|s| (s.address(), s.address() + s.size()))
}

/// The rule our table gives at `pc`, or a panic naming the PC.
fn rule_at(table: &UnwindTable, pc: u64) -> (CfaRule, FpRule) {
    let row = table.lookup(pc).unwrap_or_else(|| panic!("no row at {pc:#x}"));
    (row.cfa, row.fp)
}

/// Rows strictly increase, no two consecutive rows repeat a rule, the count of unsupported rows
/// is right, and the last row closes the covered range.
fn assert_invariants(table: &UnwindTable) {
    for pair in table.rows.windows(2) {
        assert!(pair[0].pc < pair[1].pc, "rows not increasing: {pair:?}");
        assert!((pair[0].cfa, pair[0].fp) != (pair[1].cfa, pair[1].fp), "duplicate rule: {pair:?}");
    }
    let unsupported = table.rows.iter().filter(|r| r.cfa == CfaRule::Unsupported).count();
    assert_eq!(table.unsupported_rows, unsupported);
    if let Some(last) = table.rows.last() {
        assert_eq!(last.cfa, CfaRule::NoInfo, "last row must close the table");
    }
}

/// One instruction of an `objdump -d` listing: address, mnemonic, operands.
struct Insn {
    addr: u64,
    mnemonic: String,
    operands: String,
}

/// The instructions of function `name` in `path`, from objdump.
fn disassemble(path: &Path, name: &str) -> Vec<Insn> {
    let out = Command::new("objdump")
        .args(["-d", "--no-show-raw-insn", "-M", "att"])
        .arg(format!("--disassemble={name}"))
        .arg(path)
        .output()
        .expect("objdump (binutils) runs");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let (addr, rest) = line.trim_start().split_once(":\t")?;
            let addr = u64::from_str_radix(addr, 16).ok()?;
            let mut parts = rest.split_whitespace();
            let mnemonic = parts.next()?.to_string();
            let operands = parts.next().unwrap_or("").to_string();
            Some(Insn { addr, mnemonic, operands })
        })
        .collect()
}

/// Simulates the prologue of `name` (pushes, `sub $n,%rsp`, `mov %rsp,%rbp`) up to its first
/// control transfer and checks, after each instruction, that the table has the rule the
/// instruction implies. Returns how many instructions were checked.
fn check_prologue(path: &Path, table: &UnwindTable, name: &str) -> usize {
    let insns = disassemble(path, name);
    assert!(!insns.is_empty(), "{name} not disassembled");
    assert_eq!(rule_at(table, insns[0].addr), (CfaRule::Sp(8), FpRule::Unchanged), "{name} entry");
    let (mut cfa, mut rbp_saved) = (CfaRule::Sp(8), None::<i32>);
    let mut checked = 0;
    for pair in insns.windows(2) {
        let (insn, next) = (&pair[0], &pair[1]);
        let m = insn.mnemonic.as_str();
        if m.starts_with('j') || m.starts_with("call") || m.starts_with("ret") || m == "leave" {
            break;
        }
        match (m, insn.operands.as_str(), cfa) {
            ("push", reg, CfaRule::Sp(off)) => {
                cfa = CfaRule::Sp(off + 8);
                if reg == "%rbp" {
                    rbp_saved = Some(-(off as i32 + 8));
                }
            }
            ("sub", ops, CfaRule::Sp(off)) if ops.ends_with(",%rsp") => {
                let imm = ops.trim_start_matches("$0x").trim_end_matches(",%rsp");
                cfa = CfaRule::Sp(off + u32::from_str_radix(imm, 16).unwrap());
            }
            ("mov", "%rsp,%rbp", CfaRule::Sp(off)) => cfa = CfaRule::Fp(off),
            // Something this simulation does not model: another change to the CFA register, or
            // the caller's rbp overwritten before it was saved.
            (_, ops, CfaRule::Sp(_)) if ops.ends_with("%rsp") => break,
            (_, ops, CfaRule::Fp(_)) if ops.ends_with("%rbp") => break,
            (_, ops, _) if ops.ends_with("%rbp") && rbp_saved.is_none() => break,
            _ => {}
        }
        let fp = rbp_saved.map_or(FpRule::Unchanged, FpRule::AtCfa);
        assert_eq!(rule_at(table, next.addr), (cfa, fp), "{name}: after `{m} {}`", insn.operands);
        checked += 1;
    }
    checked
}

/// One FDE as `readelf --debug-dump=frames-interp` shows it.
struct ReadelfFde {
    section: String,
    start: u64,
    end: u64,
    /// (section, offset) of its CIE.
    cie: (String, String),
    /// (LOC, CFA, rbp column if any, ra column), in order.
    rows: Vec<ReadelfRow>,
}

/// LOC, CFA, the rbp column if shown, the ra column.
type ReadelfRow = (u64, String, Option<String>, String);

/// Every FDE `readelf` evaluates in `path`; FDEs without rows of their own (readelf prints none
/// when the FDE has no instructions) get their CIE's initial row at their start.
fn readelf_fdes(path: &Path) -> Vec<ReadelfFde> {
    // Not following debug links: our table reads only the file itself.
    let out = Command::new("readelf")
        .args(["--debug-dump=frames-interp", "--debug-dump=no-follow-links"])
        .arg(path)
        .output()
        .expect("readelf (binutils) runs");
    assert!(out.status.success(), "readelf: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fdes: Vec<ReadelfFde> = Vec::new();
    let mut cie_rows: HashMap<(String, String), ReadelfRow> = HashMap::new();
    let mut section = String::new();
    // The CIE being read, or None while reading an FDE.
    let mut in_cie: Option<(String, String)> = None;
    let mut columns: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Contents of the ") {
            section = rest.split_whitespace().next().unwrap_or("").to_string();
            continue;
        }
        // Register rules print as `r9 (r9)`: one column, two words.
        let mut words: Vec<String> = Vec::new();
        for word in line.split_whitespace() {
            match words.last_mut() {
                Some(last) if word.starts_with('(') => *last = format!("{last} {word}"),
                _ => words.push(word.to_string()),
            }
        }
        if words.len() >= 4 && words[3] == "CIE" {
            in_cie = Some((section.clone(), words[0].to_string()));
            continue;
        }
        if words.len() >= 6 && words[3] == "FDE" {
            let (start, end) = words[5].trim_start_matches("pc=").split_once("..").unwrap();
            fdes.push(ReadelfFde {
                section: section.clone(),
                start: u64::from_str_radix(start, 16).unwrap(),
                end: u64::from_str_radix(end, 16).unwrap(),
                cie: (section.clone(), words[4].trim_start_matches("cie=").to_string()),
                rows: Vec::new(),
            });
            in_cie = None;
            continue;
        }
        if words.first().is_some_and(|w| w == "LOC") {
            columns = words;
            continue;
        }
        let Some(loc) = words.first().filter(|w| w.len() == 16).and_then(|w| u64::from_str_radix(w, 16).ok()) else {
            continue;
        };
        assert_eq!(words.len(), columns.len(), "readelf row not understood: {line}");
        let col = |name: &str| columns.iter().position(|c| c == name).map(|i| words[i].clone());
        let row = (loc, col("CFA").unwrap(), col("rbp"), col("ra").unwrap_or_default());
        match (&in_cie, fdes.last_mut()) {
            (Some(key), _) => {
                cie_rows.insert(key.clone(), row);
            }
            (None, Some(fde)) => fde.rows.push(row),
            (None, None) => {}
        }
    }
    for fde in &mut fdes {
        if fde.rows.is_empty() {
            if let Some((_, cfa, rbp, ra)) = cie_rows.get(&fde.cie) {
                fde.rows.push((fde.start, cfa.clone(), rbp.clone(), ra.clone()));
            }
        }
    }
    fdes
}

/// `reg+N` / `reg-N` as readelf prints a CFA.
fn reg_offset(s: &str) -> Option<(&str, i64)> {
    let i = s.find(['+', '-'])?;
    let (reg, num) = s.split_at(i);
    Some((reg, num.parse().ok()?))
}

/// The rule we must produce for a readelf row. `in_plt`: the row is inside `.plt`, where the one
/// expression is GNU ld's lazy-binding rule.
fn expected_rule(cfa: &str, rbp: Option<&str>, ra: &str, in_plt: bool) -> (CfaRule, FpRule) {
    const UNSUPPORTED: (CfaRule, FpRule) = (CfaRule::Unsupported, FpRule::Unchanged);
    if ra == "u" {
        return (CfaRule::End, FpRule::Unchanged);
    }
    if ra != "c-8" {
        return UNSUPPORTED;
    }
    let offset = |n: i64| u32::try_from(n).ok().filter(|n| n % 8 == 0);
    let cfa = match (cfa, reg_offset(cfa)) {
        ("exp", _) if in_plt => CfaRule::Plt(8),
        (_, Some(("rsp", n))) => match offset(n) {
            Some(n) => CfaRule::Sp(n),
            None => return UNSUPPORTED,
        },
        (_, Some(("rbp", n))) => match offset(n) {
            Some(n) => CfaRule::Fp(n),
            None => return UNSUPPORTED,
        },
        _ => return UNSUPPORTED,
    };
    let fp = match rbp {
        None | Some("u") | Some("s") => FpRule::Unchanged,
        Some(c) => match c.strip_prefix('c').and_then(|n| n.parse::<i64>().ok()) {
            Some(n) if n % 8 == 0 && n.abs() <= 8 * 127 => FpRule::AtCfa(n as i32),
            _ => return UNSUPPORTED,
        },
    };
    (cfa, fp)
}

/// What a readelf cross-check saw.
#[derive(Debug, Default)]
struct CrossCheck {
    rows: usize,
    plt_rows: usize,
    end_rows: usize,
    unsupported_rows: usize,
    gaps: usize,
}

/// Checks every row readelf evaluates for `path` against `lookup` in our table (rows of
/// `.debug_frame` FDEs where an `.eh_frame` FDE covers the PC are `.eh_frame`'s), and that every
/// gap between FDEs starts with a NoInfo row.
fn cross_check(path: &Path, table: &UnwindTable) -> CrossCheck {
    let fdes = readelf_fdes(path);
    assert!(!fdes.is_empty(), "readelf found no FDEs in {}", path.display());
    let plt = section_range(path, ".plt");
    // The union of the `.eh_frame` FDE ranges, sorted and disjoint.
    let mut eh_ranges: Vec<(u64, u64)> = Vec::new();
    let mut eh_fdes: Vec<(u64, u64)> =
        fdes.iter().filter(|f| f.section == ".eh_frame").map(|f| (f.start, f.end)).collect();
    eh_fdes.sort_unstable();
    for (start, end) in eh_fdes {
        match eh_ranges.last_mut() {
            Some(last) if last.1 >= start => last.1 = last.1.max(end),
            _ => eh_ranges.push((start, end)),
        }
    }
    let eh_covers = |pc: u64| {
        let i = eh_ranges.partition_point(|r| r.0 <= pc);
        i > 0 && pc < eh_ranges[i - 1].1
    };
    let mut seen = CrossCheck::default();
    for fde in &fdes {
        // The last row readelf shows for each LOC is the one in force there.
        let mut by_loc: Vec<&ReadelfRow> = Vec::new();
        for row in &fde.rows {
            if by_loc.last().is_some_and(|last| last.0 == row.0) {
                by_loc.pop();
            }
            by_loc.push(row);
        }
        for (loc, cfa, rbp, ra) in by_loc {
            if *loc < fde.start || *loc >= fde.end || (fde.section != ".eh_frame" && eh_covers(*loc)) {
                continue;
            }
            let in_plt = plt.is_some_and(|(s, e)| (s..e).contains(loc));
            let want = expected_rule(cfa, rbp.as_deref(), ra, in_plt);
            let got = rule_at(table, *loc);
            assert_eq!(got, want, "{}: at {loc:#x} readelf says CFA {cfa} rbp {rbp:?} ra {ra}", path.display());
            seen.rows += 1;
            match want.0 {
                CfaRule::Plt(_) => seen.plt_rows += 1,
                CfaRule::End => seen.end_rows += 1,
                CfaRule::Unsupported => seen.unsupported_rows += 1,
                _ => {}
            }
        }
    }
    let mut ranges: Vec<(u64, u64)> = fdes.iter().filter(|f| f.start < f.end).map(|f| (f.start, f.end)).collect();
    ranges.sort_unstable();
    let mut covered_to = 0;
    for (i, &(start, end)) in ranges.iter().enumerate() {
        if i > 0 && covered_to < start {
            assert_eq!(rule_at(table, covered_to).0, CfaRule::NoInfo, "gap at {covered_to:#x}");
            seen.gaps += 1;
        }
        covered_to = covered_to.max(end);
    }
    assert_eq!(rule_at(table, covered_to).0, CfaRule::NoInfo, "after the last FDE");
    if let Some(&(first, _)) = ranges.first() {
        assert!(first == 0 || table.lookup(first - 1).is_none(), "a row before the first FDE");
    }
    seen
}

/// The frameless leaf, the register-saving function and the frame-pointer function have exactly
/// the rules their instructions imply, instruction by instruction through each prologue.
#[test]
fn unwind_fixture_prologues() {
    let bin = pie_fixture();
    let table = cfi::table_from_path(&bin).unwrap();
    assert_eq!(table.source, TableSource::EhFrame);
    assert_eq!(table.skipped_fdes, 0);
    assert_invariants(&table);

    let (leaf, size) = symbol(&bin, "fixture_leaf").unwrap();
    for pc in leaf..leaf + size {
        assert_eq!(rule_at(&table, pc), (CfaRule::Sp(8), FpRule::Unchanged), "leaf at {pc:#x}");
    }

    let framed = disassemble(&bin, "fixture_framed");
    let push = framed.iter().position(|i| i.mnemonic == "push" && i.operands == "%rbp").unwrap();
    let mov = framed.iter().position(|i| i.mnemonic == "mov" && i.operands == "%rsp,%rbp").unwrap();
    assert_eq!(rule_at(&table, framed[0].addr), (CfaRule::Sp(8), FpRule::Unchanged));
    assert_eq!(rule_at(&table, framed[push + 1].addr), (CfaRule::Sp(16), FpRule::AtCfa(-16)));
    assert_eq!(rule_at(&table, framed[mov + 1].addr), (CfaRule::Fp(16), FpRule::AtCfa(-16)));
    let ret = framed.iter().rposition(|i| i.mnemonic.starts_with("ret")).unwrap();
    assert_eq!(rule_at(&table, framed[ret].addr).0, CfaRule::Sp(8), "after leave");

    assert!(check_prologue(&bin, &table, "fixture_framed") >= 2);
    // Six pushes (rbp among them, as a plain register) and a stack buffer.
    let pushes = check_prologue(&bin, &table, "fixture_pushes");
    assert!(pushes >= 7, "only {pushes} prologue instructions checked");
    let after_sub = disassemble(&bin, "fixture_pushes")
        .windows(2)
        .find(|w| w[0].mnemonic == "sub" && w[0].operands.ends_with(",%rsp"))
        .map(|w| w[1].addr)
        .unwrap();
    let (cfa, fp) = rule_at(&table, after_sub);
    assert!(matches!(cfa, CfaRule::Sp(n) if n > 1600), "{cfa:?}");
    assert!(matches!(fp, FpRule::AtCfa(n) if n < -16), "{fp:?}");
    assert!(check_prologue(&bin, &table, "main") >= 3);
}

/// Every row readelf evaluates for the fixture matches ours, PLT rows included.
#[test]
fn unwind_fixture_matches_readelf() {
    let bin = pie_fixture();
    let table = cfi::table_from_path(&bin).unwrap();
    let seen = cross_check(&bin, &table);
    assert!(seen.rows > 30, "{seen:?}");
    assert!(seen.plt_rows >= 1, "the lazy-binding .plt row: {seen:?}");
    assert_eq!(seen.unsupported_rows, 0, "{seen:?}");
}

/// `_start` (crt1) has an undefined return address: the outermost frame.
#[test]
fn unwind_start_is_end() {
    for bin in [pie_fixture(), nopie_fixture()] {
        let table = cfi::table_from_path(&bin).unwrap();
        let (start, _) = symbol(&bin, "_start").unwrap();
        assert_eq!(rule_at(&table, start), (CfaRule::End, FpRule::Unchanged), "{}", bin.display());
    }
}

/// Every row readelf evaluates for the system libc (and python3.11, when installed) matches
/// ours: PLT expressions become `Plt`, other expressions (signal trampolines, longjmp) and
/// register rules `Unsupported`, undefined return addresses (`clone3`'s child) `End`.
#[test]
fn unwind_system_binaries_match_readelf() {
    if !Path::new(LIBC).exists() {
        println!("SKIPPED unwind_system_binaries_match_readelf: no {LIBC}");
        return;
    }
    let table = cfi::table_from_path(Path::new(LIBC)).unwrap();
    assert_invariants(&table);
    assert_eq!(table.skipped_fdes, 0);
    let seen = cross_check(Path::new(LIBC), &table);
    println!("libc cross-check: {seen:?}, {} rows in our table", table.rows.len());
    assert!(seen.rows > 10_000, "{seen:?}");
    assert!(seen.plt_rows >= 1, "{seen:?}");
    assert!(seen.end_rows >= 1, "clone/clone3 child frames: {seen:?}");

    if Path::new(PYTHON).exists() {
        let table = cfi::table_from_path(Path::new(PYTHON)).unwrap();
        assert_invariants(&table);
        let seen = cross_check(Path::new(PYTHON), &table);
        println!("python3.11 cross-check: {seen:?}, {} rows in our table", table.rows.len());
        assert!(seen.rows > 10_000, "{seen:?}");
    }
}

/// Row counts and build times for libc and python3.11, for information.
#[test]
fn unwind_system_binaries_timing() {
    for path in [LIBC, PYTHON] {
        let path = Path::new(path);
        if !path.exists() {
            println!("{}: not present", path.display());
            continue;
        }
        let started = Instant::now();
        let table = cfi::table_from_path(path).unwrap();
        let took = started.elapsed();
        assert_invariants(&table);
        println!(
            "{}: {} rows ({} unsupported) from {} FDEs ({} skipped), source {}, built in {:.1} ms ({} build)",
            path.display(),
            table.rows.len(),
            table.unsupported_rows,
            table.fdes,
            table.skipped_fdes,
            table.source.name(),
            took.as_secs_f64() * 1000.0,
            if cfg!(debug_assertions) { "debug" } else { "release" },
        );
        assert!(!table.rows.is_empty());
    }
}

/// Code compiled with `-fno-asynchronous-unwind-tables -g` is described by `.debug_frame`;
/// alone it gives a DebugFrame table, next to crt1's `.eh_frame` a Both table where each
/// section's rows are used where they apply.
#[test]
fn unwind_debug_frame_sources() {
    let both = debug_frame_fixture();
    let table = cfi::table_from_path(&both).unwrap();
    assert_eq!(table.source, TableSource::Both);
    assert_invariants(&table);
    cross_check(&both, &table);
    let (start, _) = symbol(&both, "_start").unwrap();
    assert_eq!(rule_at(&table, start).0, CfaRule::End, "_start from .eh_frame");
    assert!(check_prologue(&both, &table, "fixture_pushes") >= 7, "fixture_pushes from .debug_frame");

    // Both sections describing the same code: `.eh_frame`'s rows, exactly as without the copy.
    let twice = fixture("unwind_fixture_twice", &["-O2", "-fomit-frame-pointer", "-DUNWIND_FIXTURE_BOTH_SECTIONS"]);
    let table = cfi::table_from_path(&twice).unwrap();
    let eh_only = cfi::table_from_path(&pie_fixture()).unwrap();
    assert_eq!(table.source, TableSource::Both);
    assert!(table.fdes > eh_only.fdes);
    assert_eq!(table.rows, eh_only.rows);

    let only = debug_frame_only_fixture();
    let out = Command::new("readelf").arg("-S").arg(&only).output().unwrap();
    let sections = String::from_utf8_lossy(&out.stdout);
    assert!(!sections.contains(".eh_frame") && sections.contains(".debug_frame"));
    let table = cfi::table_from_path(&only).unwrap();
    assert_eq!(table.source, TableSource::DebugFrame);
    assert!(table.fdes >= 4 && table.rows.len() >= 10, "{table:?}");
    assert_invariants(&table);
    cross_check(&only, &table);
    assert!(check_prologue(&only, &table, "fixture_framed") >= 2);
    assert_eq!(rule_at(&table, start).0, CfaRule::NoInfo, "_start has no CFI left");
}

/// File range of section `name`.
fn section_file_range(data: &[u8], name: &str) -> (usize, usize) {
    let file = object::File::parse(data).unwrap();
    let (offset, size) = file.section_by_name(name).unwrap().file_range().unwrap();
    (offset as usize, (offset + size) as usize)
}

/// Truncated files and random bytes (with and without a valid ELF header in front) give errors
/// or partial tables, never a panic.
#[test]
fn unwind_malformed_files_do_not_panic() {
    let data = std::fs::read(pie_fixture()).unwrap();
    for len in [0, 4, 16, 63, 64, 65, 200, data.len() / 4, data.len() / 2, data.len() - 1] {
        let result = cfi::table_from_elf(&data[..len]);
        assert!(result.is_err(), "truncated to {len}: {result:?}");
        let _ = cfi::load_segments(&data[..len]);
    }
    let mut rng = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
    for i in 0..400 {
        let len = rng.usize(..4096);
        let mut blob: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        if i % 2 == 0 {
            let keep = len.min(64);
            blob[..keep].copy_from_slice(&data[..keep]);
        }
        if let Ok(table) = cfi::table_from_elf(&blob) {
            assert_invariants(&table);
        }
        let _ = cfi::load_segments(&blob);
    }
}

/// Random corruption inside `.eh_frame` gives an error or a table that still keeps the
/// invariants, never a panic.
#[test]
fn unwind_corrupted_eh_frame_does_not_panic() {
    let data = std::fs::read(pie_fixture()).unwrap();
    let (start, end) = section_file_range(&data, ".eh_frame");
    let mut rng = fastrand::Rng::with_seed(0x2545_f491_4f6c_dd1d);
    let (mut ok, mut err) = (0, 0);
    for round in 0..500 {
        let mut copy = data.clone();
        for _ in 0..1 + round % 8 {
            let at = start + rng.usize(..end - start);
            copy[at] = if round % 3 == 0 { 0xff } else { rng.u8(..) };
        }
        match cfi::table_from_elf(&copy) {
            Ok(table) => {
                assert_invariants(&table);
                ok += 1;
            }
            Err(_) => err += 1,
        }
    }
    println!("corrupted .eh_frame: {ok} tables, {err} errors");
    assert!(ok > 0);
}

/// A CIE that no longer parses costs only the FDEs that use it; the rest of `.eh_frame` is
/// read, and a first entry whose length runs past the section leaves nothing: an error.
#[test]
fn unwind_bad_cie_skips_its_fdes() {
    let data = std::fs::read(pie_fixture()).unwrap();
    let clean = cfi::table_from_elf(&data).unwrap();
    let (start, end) = section_file_range(&data, ".eh_frame");
    // The entries: (offset, is CIE), walked by their 32-bit lengths.
    let mut entries = Vec::new();
    let mut at = start;
    while at + 8 <= end {
        let len = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        let id = u32::from_le_bytes(data[at + 4..at + 8].try_into().unwrap());
        entries.push((at, id == 0));
        at += 4 + len;
    }
    let cies: Vec<usize> = entries.iter().filter(|e| e.1).map(|e| e.0).collect();
    assert!(cies.len() >= 2, "crt1 and the compiler each bring a CIE: {entries:?}");

    let mut copy = data.clone();
    copy[cies[1] + 8] = 0x7f; // CIE version: unsupported
    let table = cfi::table_from_elf(&copy).unwrap();
    assert!(table.skipped_fdes >= 3, "{} skipped", table.skipped_fdes);
    assert_eq!(table.fdes + table.skipped_fdes, clean.fdes);
    let (start_sym, _) = symbol(&pie_fixture(), "_start").unwrap();
    assert_eq!(rule_at(&table, start_sym).0, CfaRule::End, "_start's FDE uses the first CIE");
    let (leaf, _) = symbol(&pie_fixture(), "fixture_leaf").unwrap();
    assert_eq!(rule_at(&table, leaf).0, CfaRule::NoInfo);

    let mut copy = data.clone();
    copy[start..start + 4].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    let err = cfi::table_from_elf(&copy).unwrap_err();
    assert!(matches!(err, CfiError::Malformed { section: ".eh_frame", .. }), "{err}");
}

/// A copy of the ELF64 file `data` whose section `name` has its file offset moved past the end.
fn section_moved_outside(data: &[u8], name: &str) -> Vec<u8> {
    let file = object::File::parse(data).unwrap();
    let index = file.section_by_name(name).unwrap().index().0;
    let shoff = u64::from_le_bytes(data[0x28..0x30].try_into().unwrap()) as usize;
    let sh_offset = shoff + 64 * index + 24;
    let mut copy = data.to_vec();
    copy[sh_offset..sh_offset + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    copy
}

/// A `.debug_frame` whose bytes lie outside the file costs one skipped entry and leaves the
/// `.eh_frame` rows; with only that section left, it is an error.
#[test]
fn unwind_unreadable_section_keeps_the_other() {
    let data = std::fs::read(debug_frame_fixture()).unwrap();
    let clean = cfi::table_from_elf(&data).unwrap();
    let table = cfi::table_from_elf(&section_moved_outside(&data, ".debug_frame")).unwrap();
    assert_eq!(table.source, TableSource::EhFrame);
    assert_eq!(table.skipped_fdes, 1);
    assert!(table.fdes < clean.fdes && !table.rows.is_empty());

    let data = std::fs::read(debug_frame_only_fixture()).unwrap();
    let err = cfi::table_from_elf(&section_moved_outside(&data, ".debug_frame")).unwrap_err();
    assert!(matches!(err, CfiError::Malformed { section: ".debug_frame", .. }), "{err}");
}

/// Another architecture is refused with its machine number; an unaligned copy of a good file
/// gives the same table as the file.
#[test]
fn unwind_arch_and_alignment() {
    let data = std::fs::read(pie_fixture()).unwrap();
    let mut arm = data.clone();
    arm[18..20].copy_from_slice(&183u16.to_le_bytes()); // e_machine = EM_AARCH64
    let err = cfi::table_from_elf(&arm).unwrap_err();
    assert!(matches!(err, CfiError::UnsupportedArch { machine: 183, bits: 64 }), "{err}");
    let path = PathBuf::from("/nonexistent/unwind");
    let err = cfi::table_from_path(&path).unwrap_err();
    assert!(matches!(err, CfiError::Read { .. }) && err.to_string().contains("/nonexistent/unwind"));

    let mut shifted = vec![0u8; data.len() + 1];
    shifted[1..].copy_from_slice(&data);
    assert_eq!(cfi::table_from_elf(&shifted[1..]).unwrap(), cfi::table_from_elf(&data).unwrap());
    assert_eq!(cfi::load_segments(&shifted[1..]).unwrap(), cfi::load_segments(&data).unwrap());
}

/// A binary without call-frame sections gives an empty table, not an error.
#[test]
fn unwind_no_cfi_is_empty() {
    let bin = debug_frame_only_fixture();
    let stripped = bin.with_file_name("unwind_fixture_no_cfi");
    {
        let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        if !is_fresh(&stripped, &bin) {
            let out = Command::new("objcopy").args(["--strip-debug"]).arg(&bin).arg(&stripped).output().unwrap();
            assert!(out.status.success());
        }
    }
    let table = cfi::table_from_path(&stripped).unwrap();
    assert_eq!(table, UnwindTable::default());
}

/// Maps lines of `exe` in a `/proc/PID/maps` text: (start, file offset, executable).
fn maps_of(maps: &str, exe: &Path) -> Vec<(u64, u64, bool)> {
    maps.lines()
        .filter(|l| l.ends_with(exe.to_str().unwrap()))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let start = u64::from_str_radix(f[0].split('-').next().unwrap(), 16).unwrap();
            (start, u64::from_str_radix(f[2], 16).unwrap(), f[1].contains('x'))
        })
        .collect()
}

/// The bias of every mapping of a running PIE and non-PIE fixture turns the ELF address of
/// `fixture_leaf` into the address the process printed; maps built by hand from the segments
/// (page-aligned like the kernel's) give the same bias.
#[test]
fn unwind_load_bias_pie_and_nopie() {
    for (bin, pie) in [(pie_fixture(), true), (nopie_fixture(), false)] {
        let data = std::fs::read(&bin).unwrap();
        let segments = cfi::load_segments(&data).unwrap();
        assert!(segments.iter().any(|s| s.executable), "{segments:?}");
        let (leaf, _) = symbol(&bin, "fixture_leaf").unwrap();

        let out = Command::new(&bin).arg("maps").output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        let printed = text.lines().next().and_then(|l| l.strip_prefix("fixture_leaf ")).unwrap();
        let runtime = u64::from_str_radix(printed, 16).unwrap();
        let mappings = maps_of(&text, &bin);
        assert!(mappings.len() >= 2, "{text}");
        let shared_page = |offset: u64| {
            let in_page = |s: &&LoadSegment| (s.offset & !0xfff) <= offset && offset < s.offset + s.filesz;
            segments.iter().filter(in_page).count() > 1
        };
        let mut exec_bias = None;
        for &(start, offset, executable) in &mappings {
            let bias = cfi::load_bias(&segments, start, offset).unwrap_or_else(|| panic!("no segment for {offset:#x}"));
            if executable {
                assert_eq!(leaf.wrapping_add(bias), runtime, "{}", bin.display());
                exec_bias = Some(bias);
            }
            // Where two segments share the page, the offset alone cannot say which one this
            // mapping is; elsewhere every mapping of the file has the same bias.
            if !shared_page(offset) {
                assert_eq!(bias, runtime.wrapping_sub(leaf), "mapping at {start:#x}, offset {offset:#x}");
            }
        }
        let exec_bias = exec_bias.expect("an executable mapping");
        if pie {
            assert_ne!(exec_bias, 0);
        } else {
            assert_eq!(exec_bias, 0);
        }

        // The same from mappings constructed the way the kernel lays them out.
        let base: u64 = if pie { 0x5555_5555_0000 } else { 0 };
        for seg in segments.iter().filter(|s| s.filesz > 0 && !shared_page(s.offset & !0xfff)) {
            let (start, offset) = (base + (seg.vaddr & !0xfff), seg.offset & !0xfff);
            assert_eq!(cfi::load_bias(&segments, start, offset), Some(base), "{seg:?}");
        }
        // A non-PIE mapped below its link address (as if relocated down) gives a wrapped bias.
        if !pie {
            let exec = segments.iter().find(|s| s.executable).unwrap();
            let bias = cfi::load_bias(&segments, (exec.vaddr & !0xfff) - 0x10000, exec.offset & !0xfff).unwrap();
            assert_eq!(bias, 0u64.wrapping_sub(0x10000));
            assert_eq!(exec.vaddr.wrapping_add(bias), exec.vaddr - 0x10000);
        }
        assert_eq!(cfi::load_bias(&segments, 0x1000, 0x10_0000_0000), None);
    }
}

/// Building from an open file (reading only headers and call-frame sections) gives the same
/// table and segments as from the whole file's bytes; a file whose `.eh_frame` cannot fit the
/// row budget is refused before evaluation.
#[test]
fn unwind_table_from_file_matches_and_refuses_oversized() {
    let file = std::fs::File::open(LIBC).unwrap();
    let (table, segments) = cfi::table_from_file(&file, 1 << 20).unwrap();
    let bytes = std::fs::read(LIBC).unwrap();
    assert_eq!(table, cfi::table_from_elf(&bytes).unwrap());
    assert_eq!(segments, cfi::load_segments(&bytes).unwrap());
    match cfi::table_from_file(&file, 100) {
        Err(CfiError::TooLarge { rows, max: 100, .. }) => assert!(rows > 100),
        other => panic!("expected TooLarge, got {:?}", other.map(|(t, _)| t.rows.len())),
    }
}

/// A Go binary with an uncompressed `.debug_frame` (`-ldflags=-compressdwarf=false`) gets no
/// rows from it: Go's rows end the walk at the runtime's stack switches, its frame pointers
/// cross them. The same section read as a C binary's would give thousands of rows.
#[test]
fn unwind_go_debug_frame_left_out() {
    let go = common::workload_with("gc_heavy", "gc_heavy_dwarf", &["-ldflags=-compressdwarf=false"]);
    let data = std::fs::read(&go).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let debug_frame = file.section_by_name(".debug_frame").expect("Go writes .debug_frame");
    assert!(debug_frame.compressed_file_range().unwrap().format == object::CompressionFormat::None);
    assert!(debug_frame.size() > 1000);
    let table = cfi::table_from_path(&go).unwrap();
    assert_eq!((table.source, table.fdes, table.rows.len()), (TableSource::None, 0, 0), "{go:?}");
    // Renamed so nothing marks the binary as Go, the same bytes give `.debug_frame` rows.
    let mut renamed = data.clone();
    for (from, to) in [(&b".gopclntab"[..], &b".xxpclntab"[..]), (b".note.go.buildid", b".note.xx.buildid")] {
        let at = renamed.windows(from.len()).position(|w| w == from).expect("section name in the file");
        renamed[at..at + to.len()].copy_from_slice(to);
    }
    let table = cfi::table_from_elf(&renamed).unwrap();
    assert_eq!(table.source, TableSource::DebugFrame);
    assert!(table.fdes > 1000 && table.rows.len() > 1000, "{} FDEs, {} rows", table.fdes, table.rows.len());
}
