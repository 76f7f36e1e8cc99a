//! Symbolizing stripped binaries through the path a recording uses (a running process captured in
//! a `ProcessTable`, then `Symbolizer::user`): names from `.dynsym` when `.symtab` is gone,
//! `module+0xoffset` when no symbol covers an address, and a `.gnu_debuglink` to a missing file
//! or to a file with the wrong CRC falls back to the ELF symbols. Only the affected frames
//! degrade: another module in the same request still resolves. Each unresolved frame says why
//! (`Unresolved`), and the counters by reason reach `prof record -v`.

mod common;
#[path = "common/symbols.rs"]
mod symbols;

use std::path::{Path, PathBuf};

use prof::symbolize::{Frames, Unresolved};
use symbols::{os, run, symbol_value, symbol_value_size, Captured};

/// Builds the split workload into `dir/name` (with `-rdynamic`: every global function in
/// `.dynsym`) with debug information, frame pointers and no optimization.
fn build(dir: &Path, name: &str, rdynamic: bool) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workloads/split.c");
    let exe = dir.join(name);
    let mut args = vec![os("-O0"), os("-g"), os("-fno-omit-frame-pointer"), os("-o"), exe.as_os_str(), src.as_os_str()];
    if rdynamic {
        args.push(os("-rdynamic"));
    }
    run("gcc", &args);
    exe
}

/// The frames of a resolved address symbolized from ELF symbols only: one frame named `name`,
/// with no file or line (no DWARF), in `module`.
fn assert_elf_symbol_only(frames: &Frames, name: &str, module: &str) {
    assert!(frames.is_resolved(), "{frames:?}");
    assert_eq!(frames.len(), 1, "inline frames without DWARF? {frames:?}");
    assert_eq!((frames[0].name.as_str(), frames[0].module.as_str()), (name, module));
    assert_eq!((frames[0].file.as_deref(), frames[0].line), (None, None), "{frames:?}");
}

/// The frames of an address resolved with DWARF: the function, its inlined `spin`, a line.
fn assert_dwarf(frames: &Frames, name: &str) {
    assert!(frames.is_resolved(), "{frames:?}");
    assert_eq!(frames[0].name, name, "{frames:?}");
    assert!(frames.iter().any(|f| f.name == "spin" && f.inlined), "no inline frame: {frames:?}");
    assert!(frames.last().unwrap().file.as_deref().unwrap_or("").ends_with("split.c"), "{frames:?}");
}

/// Stripped of `.symtab` but built with `-rdynamic`: exported functions are named from
/// `.dynsym`; a static function (in no symbol table any more) is `module+0xoffset`, marked as
/// missing symbols, not given a neighbour's name; libc in the same request still resolves.
#[test]
fn symbolize_stripped_binary_uses_dynsym() {
    let dir = tempfile::tempdir().unwrap();
    let full = build(dir.path(), "full", true);
    let exe = dir.path().join("dynonly");
    run("strip", &[os("--strip-all"), os("-o"), exe.as_os_str(), full.as_os_str()]);
    let mut c = Captured::start(&exe);
    let leaf = c.addr(&exe, symbol_value(&full, "leaf_a") + 30);
    let draw = c.addr(&exe, symbol_value(&full, "draw") + 8);
    let getpid = c.libc_getpid();
    let frames = c.symbolize(&[leaf, draw, getpid]);
    assert_elf_symbol_only(&frames[0], "leaf_a", "dynonly");
    assert!(!frames[1].is_resolved(), "static `draw` named from another symbol: {:?}", frames[1]);
    assert_eq!(frames[1][0].name, c.offset_name("dynonly", draw));
    // blazesym's reason: only .dynsym left, and it does not cover the address.
    assert_eq!(frames[1].unresolved_reason(), Some(Unresolved::MissingSymbols));
    assert!(frames[2].is_resolved() && frames[2][0].name.contains("getpid"), "{:?}", frames[2]);
    assert_eq!(c.sym.stats().failed_binaries, 0);
    assert_eq!((c.sym.stats().unresolved, c.sym.stats().missing_symbols), (1, 1));
}

/// Fully stripped (no `.symtab`, and `.dynsym` holds only imports): frames are
/// `module+0xoffset` with the address's file offset, marked as missing symbols; libc in the same
/// request still resolves.
#[test]
fn symbolize_fully_stripped_binary_keeps_module_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let full = build(dir.path(), "full", false);
    let exe = dir.path().join("bare");
    run("strip", &[os("--strip-all"), os("-o"), exe.as_os_str(), full.as_os_str()]);
    let mut c = Captured::start(&exe);
    let leaf = c.addr(&exe, symbol_value(&full, "leaf_a") + 30);
    let main = c.addr(&exe, symbol_value(&full, "main") + 4);
    let getpid = c.libc_getpid();
    let frames = c.symbolize(&[leaf, main, getpid]);
    for (f, addr) in frames[..2].iter().zip([leaf, main]) {
        assert!(!f.is_resolved(), "{f:?}");
        assert_eq!((f.len(), f[0].name.clone(), f[0].module.as_str()), (1, c.offset_name("bare", addr), "bare"));
        assert_eq!(f.unresolved_reason(), Some(Unresolved::MissingSymbols), "{f:?}");
    }
    assert!(frames[2].is_resolved() && frames[2][0].name.contains("getpid"), "{:?}", frames[2]);
    assert_eq!((c.sym.stats().unresolved, c.sym.stats().missing_symbols), (2, 2));
}

/// `.gnu_debuglink` next to the binary: with the right file, DWARF from it (inline frames,
/// lines); with the file missing, or present with the wrong CRC (another build's debug file
/// under the linked name), the binary's own `.symtab` names the functions and nothing fails; the
/// wrong CRC is reported as a problem naming the module.
#[test]
fn symbolize_debuglink_missing_or_wrong_crc_falls_back_to_symtab() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let full = build(d, "full", false);
    let debug = d.join("linked.debug");
    run("objcopy", &[os("--only-keep-debug"), full.as_os_str(), debug.as_os_str()]);
    // Stripped of DWARF only (the .symtab stays), linked to `linked.debug` (CRC of the good one).
    let linked = |name: &str| {
        let exe = d.join(name);
        let link = format!("--add-gnu-debuglink={}", debug.display());
        run("objcopy", &[os("--strip-debug"), os(&link), full.as_os_str(), exe.as_os_str()]);
        exe
    };
    let (good, missing, bad_crc) = (linked("good"), linked("missing"), linked("badcrc"));
    let leaf_value = symbol_value(&full, "leaf_a") + 30;

    // The control: the link works when its file is right.
    let mut c = Captured::start(&good);
    let frames = c.symbolize(&[c.addr(&good, leaf_value)]);
    assert_dwarf(&frames[0], "leaf_a");
    drop(c);

    // Missing: a fresh symbolizer, so nothing is cached from the good file.
    std::fs::rename(&debug, d.join("elsewhere.debug")).unwrap();
    let mut c = Captured::start(&missing);
    let getpid = c.libc_getpid();
    // The padding after `_start`, before the next function (.text is 16-byte aligned per function).
    let (start, size) = symbol_value_size(&full, "_start");
    let gap = c.addr(&missing, start + size + 1);
    let frames = c.symbolize(&[c.addr(&missing, leaf_value), getpid, gap]);
    assert_elf_symbol_only(&frames[0], "leaf_a", "missing");
    assert!(c.sym.take_problems().is_empty(), "a missing debug file is normal, not a problem");
    assert!(frames[1].is_resolved() && frames[1][0].name.contains("getpid"), "{:?}", frames[1]);
    // No symbol covers the padding: an unknown address in a binary that has symbols.
    assert_eq!(frames[2][0].name, c.offset_name("missing", gap));
    assert_eq!(frames[2].unresolved_reason(), Some(Unresolved::UnknownAddress), "{:?}", frames[2]);
    assert_eq!((c.sym.stats().unresolved, c.sym.stats().unknown_address), (1, 1));
    drop(c);

    // Wrong CRC: a debug file of another build (different code, so a different checksum).
    let other_dir = tempfile::tempdir().unwrap();
    let other = build(other_dir.path(), "other", true);
    run("objcopy", &[os("--only-keep-debug"), other.as_os_str(), debug.as_os_str()]);
    let mut c = Captured::start(&bad_crc);
    let getpid = c.libc_getpid();
    let frames = c.symbolize(&[c.addr(&bad_crc, leaf_value), getpid]);
    assert_elf_symbol_only(&frames[0], "leaf_a", "badcrc");
    assert!(frames[1].is_resolved() && frames[1][0].name.contains("getpid"), "{:?}", frames[1]);
    assert_eq!(c.sym.stats().failed_binaries, 0);
    let problems = c.sym.take_problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("`badcrc`: debug information unusable") && problems[0].contains("checksum"),
        "{problems:?}"
    );
}

/// End to end: `prof record -v` of a fully stripped binary writes its frames as `bare+0x…`
/// (nearly every sample has one), libc's frames under them are still named, and the verbose
/// counters say the addresses were left for lack of symbols.
#[test]
fn symbolize_stripped_binary_recorded_as_module_offsets() {
    let _m = bpf_test!("symbolize_stripped_binary_recorded_as_module_offsets");
    let dir = tempfile::tempdir().unwrap();
    let full = build(dir.path(), "full", false);
    let exe = dir.path().join("bare");
    run("strip", &[os("--strip-all"), os("-o"), exe.as_os_str(), full.as_os_str()]);
    let folded = dir.path().join("x.folded");
    let out =
        common::prof_ok(&[os("record"), os("-v"), os("-o"), folded.as_os_str(), os("--"), exe.as_os_str(), os("2")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let counters = stderr.lines().find(|l| l.contains("left as module+offset")).expect("-v prints the counters");
    let without: u64 =
        counters.split(" without symbols").next().and_then(|h| h.rsplit('(').next()).unwrap().parse().unwrap();
    assert!(without > 0, "{counters}");
    let stacks: Vec<_> = common::read_folded(&folded).into_iter().filter(|(s, _)| s.starts_with("bare;")).collect();
    let total = common::count_where(&stacks, |_| true);
    let offsets = common::count_where(&stacks, |s| s.split(';').any(|f| f.starts_with("bare+0x")));
    assert!(total >= 20 && offsets * 100 >= total * 90, "{offsets} of {total}: {stacks:?}");
    assert!(stacks.iter().any(|(s, _)| s.contains("__libc_start_call_main;bare+0x")), "{stacks:?}");
}
