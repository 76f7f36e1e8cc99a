//! Crafted ELF/DWARF handed to the symbolizer the way a recording does (a running process of the
//! binary captured, then `Symbolizer::user`): truncated `.debug_info`, bogus `.debug_aranges`,
//! `SHF_COMPRESSED` sections whose header declares a terabyte, zlib and zstd bombs (honest or
//! lying about their size), and a compressed `.symtab` bomb. Each runs in a child process under a 512 MiB
//! address-space limit (`RLIMIT_AS`): no panic or abort may escape, memory stays bounded, the
//! crafted module's frames degrade with a problem naming the module and the error, and libc in
//! the same request still symbolizes.

mod common;
#[path = "common/symbols.rs"]
mod symbols;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use prof::symbolize::plt::{PltHit, PltNames};
use symbols::{symbol_value, Captured};

/// The address-space limit of each child: 512 MiB.
const LIMIT: u64 = 512 << 20;

/// Environment variable naming the crafted binary a re-executed test binary symbolizes.
const CHILD_BINARY: &str = "PROF_MALFORMED_BINARY";

const SHF_COMPRESSED: u64 = 0x800;

/// One section header of an ELF64 file: where the header is, and the section's name, flags,
/// offset and size.
#[derive(Debug)]
struct Shdr {
    at: usize,
    name: String,
    flags: u64,
    offset: u64,
    size: u64,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// The section headers of an ELF64 little-endian file.
fn sections(elf: &[u8]) -> Vec<Shdr> {
    let (shoff, num, strndx) = (u64_at(elf, 40) as usize, u16_at(elf, 60) as usize, u16_at(elf, 62) as usize);
    let raw = |i: usize| shoff + i * 64;
    let names_at = u64_at(elf, raw(strndx) + 24) as usize;
    (0..num)
        .map(|i| {
            let at = raw(i);
            let name_off = names_at + u32_at(elf, at) as usize;
            let end = elf[name_off..].iter().position(|&b| b == 0).unwrap();
            let name = String::from_utf8_lossy(&elf[name_off..name_off + end]).into_owned();
            Shdr { at, name, flags: u64_at(elf, at + 8), offset: u64_at(elf, at + 24), size: u64_at(elf, at + 32) }
        })
        .collect()
}

fn section<'a>(shdrs: &'a [Shdr], name: &str) -> &'a Shdr {
    shdrs.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no {name}"))
}

/// Points section `name` at `content`, appended to the file, optionally flagged compressed.
fn replace_section(elf: &mut Vec<u8>, name: &str, content: &[u8], compressed: bool) {
    let (at, flags) = {
        let shdrs = sections(elf);
        let s = section(&shdrs, name);
        (s.at, s.flags)
    };
    while !elf.len().is_multiple_of(8) {
        elf.push(0);
    }
    let offset = elf.len() as u64;
    elf.extend_from_slice(content);
    let flags = if compressed { flags | SHF_COMPRESSED } else { flags };
    elf[at + 8..at + 16].copy_from_slice(&flags.to_le_bytes());
    elf[at + 24..at + 32].copy_from_slice(&offset.to_le_bytes());
    elf[at + 32..at + 40].copy_from_slice(&(content.len() as u64).to_le_bytes());
}

/// An ELF64 compression header (`Elf64_Chdr`, zlib) declaring `size` bytes, then `zlib`.
fn compressed(size: u64, zlib: &[u8]) -> Vec<u8> {
    compressed_as(1, size, zlib) // ELFCOMPRESS_ZLIB
}

/// An ELF64 compression header of type `kind` declaring `size` bytes, then `data`.
fn compressed_as(kind: u32, size: u64, data: &[u8]) -> Vec<u8> {
    let mut out = kind.to_le_bytes().to_vec();
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&1u64.to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// zstd of `n` zero bytes, compressed as it is produced.
fn zstd_zeros(n: u64) -> Vec<u8> {
    let mut z = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..n / chunk.len() as u64 {
        z.write_all(&chunk).unwrap();
    }
    z.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

/// zlib of `n` zero bytes, compressed as it is produced (~1 KB per MB).
fn zlib_zeros(n: u64) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..n / chunk.len() as u64 {
        z.write_all(&chunk).unwrap();
    }
    z.finish().unwrap()
}

/// The split workload's bytes with `edit` applied, written executable to `dir/name`.
fn craft(dir: &Path, name: &str, edit: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let mut elf = std::fs::read(common::workload("split")).unwrap();
    edit(&mut elf);
    let path = dir.join(name);
    std::fs::write(&path, &elf).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The split workload with its `.debug_info` section header cut to half the section's size,
/// written as `dir/truncated`.
fn truncated_debug_info(dir: &Path) -> PathBuf {
    craft(dir, "truncated", |elf| {
        let s = sections(elf);
        let info = section(&s, ".debug_info");
        let at = info.at;
        let half = info.size / 2;
        elf[at + 32..at + 40].copy_from_slice(&half.to_le_bytes());
    })
}

/// What the child found for `binary`: lines `frame NAME RESOLVED REASON FRAMES` (the outermost
/// frame's name, and how many frames inlining gave) for `leaf_a` and libc's
/// `getpid`, `problem TEXT` for each problem, `failed N`.
fn symbolize_in_child(binary: &Path) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "symbolize_malformed_child", "--nocapture", "--test-threads=1"]).env(CHILD_BINARY, binary);
    common::limit_address_space(&mut cmd, LIMIT);
    let out = cmd.output().expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let name = binary.file_name().unwrap().to_string_lossy();
    assert_eq!(out.status.signal(), None, "{name}: killed by a signal (abort?): {stderr}");
    assert!(out.status.success(), "{name}: {stdout}\n{stderr}");
    assert!(!stderr.contains("memory allocation of"), "{name}: {stderr}");
    stdout
}

/// The child: symbolizes `leaf_a` of the binary named by [`CHILD_BINARY`] and libc's `getpid`
/// in one request, and prints what came out. Does nothing when run as an ordinary test.
#[test]
fn symbolize_malformed_child() {
    let Ok(binary) = std::env::var(CHILD_BINARY) else { return };
    let binary = PathBuf::from(binary);
    let mut c = Captured::start(&binary);
    let leaf = c.addr(&binary, symbol_value(&common::workload("split"), "leaf_a") + 30);
    let getpid = c.libc_getpid();
    let frames = c.symbolize(&[leaf, getpid]);
    // The harness has printed `test … ` without a newline.
    println!();
    for f in &frames {
        println!("frame {} {} {:?} {}", f[0].name, f.is_resolved(), f.unresolved_reason(), f.len());
    }
    for p in c.sym.take_problems() {
        println!("problem {p}");
    }
    println!("failed {}", c.sym.stats().failed_binaries);
}

/// Asserts the child's report: `leaf_a` as `expect_leaf` (a name, or a `module+0x` prefix),
/// libc's `getpid` resolved, and exactly one problem naming the module and containing `error`.
fn assert_degrades(report: &str, module: &str, expect_leaf: &str, error: &str) {
    let frames: Vec<&str> = report.lines().filter_map(|l| l.strip_prefix("frame ")).collect();
    assert_eq!(frames.len(), 2, "{report}");
    assert!(frames[0].starts_with(expect_leaf), "{module}: leaf_a came out as {}", frames[0]);
    assert!(frames[1].contains("getpid") && frames[1].contains(" true "), "{module}: libc: {}", frames[1]);
    let problems: Vec<&str> = report.lines().filter_map(|l| l.strip_prefix("problem ")).collect();
    assert_eq!(problems.len(), 1, "{module}: {report}");
    assert!(problems[0].starts_with(&format!("`{module}`: ")) && problems[0].contains(error), "{module}: {report}");
}

/// Truncated `.debug_info` (half its size), or one whose header claims a terabyte past the end of
/// the file: the DWARF is given up with a problem naming the module and the error, and `leaf_a`
/// is still named from the ELF symbol table. Bogus `.debug_aranges` (one
/// range covering every address, pointing at a unit far beyond `.debug_info`): no panic, no
/// wrong name; the right unit is still found.
#[test]
fn symbolize_malformed_dwarf_falls_back_to_elf_symbols() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = truncated_debug_info(dir.path());
    let report = symbolize_in_child(&truncated);
    println!("{report}");
    assert_degrades(&report, "truncated", "leaf_a true None 1", "debug information unusable");

    // A section header that claims a terabyte, far past the end of the file.
    let beyond = craft(dir.path(), "beyond", |elf| {
        let s = sections(elf);
        let at = section(&s, ".debug_info").at;
        elf[at + 32..at + 40].copy_from_slice(&(1u64 << 40).to_le_bytes());
    });
    let report = symbolize_in_child(&beyond);
    println!("{report}");
    assert_degrades(&report, "beyond", "leaf_a true None 1", "debug information unusable");

    let aranges = craft(dir.path(), "aranges", |elf| {
        let mut a = Vec::new();
        a.extend_from_slice(&44u32.to_le_bytes()); // unit length
        a.extend_from_slice(&2u16.to_le_bytes()); // version
        a.extend_from_slice(&0x7fff_fff0u32.to_le_bytes()); // .debug_info offset: far beyond it
        a.extend_from_slice(&[8, 0, 0, 0, 0, 0]); // address size, segment size, padding
        a.extend_from_slice(&0u64.to_le_bytes()); // start
        a.extend_from_slice(&u64::MAX.to_le_bytes()); // length: everything
        a.extend_from_slice(&[0; 16]); // terminator
        replace_section(elf, ".debug_aranges", &a, false);
    });
    let report = symbolize_in_child(&aranges);
    println!("{report}");
    let frames: Vec<&str> = report.lines().filter(|l| l.starts_with("frame ")).collect();
    // blazesym does not trust the aranges: it finds the unit itself, and nothing degrades (the
    // DWARF is used: `spin` inlined into `leaf_a`, 2 frames).
    assert!(frames[0].starts_with("frame leaf_a true None 2"), "{report}");
    assert!(frames[1].contains("getpid") && frames[1].contains(" true "), "{report}");
    assert!(!report.contains("problem "), "{report}");
}

/// Compressed `.debug_info` whose header declares 1 TiB, an honest zlib bomb of 1 GiB, and
/// lying zlib and zstd ones (declare 4 KiB, inflate to 1 GiB): under a 512 MiB address-space limit each is
/// refused before blazesym inflates it, with a problem naming the module and the section, and
/// `leaf_a` is named from the ELF symbol table.
#[test]
fn symbolize_compressed_debug_bombs_stay_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let info = {
        let elf = std::fs::read(common::workload("split")).unwrap();
        let s = sections(&elf);
        let info = section(&s, ".debug_info");
        elf[info.offset as usize..(info.offset + info.size) as usize].to_vec()
    };
    let huge =
        craft(dir.path(), "huge", |elf| replace_section(elf, ".debug_info", &compressed(1 << 40, &zlib(&info)), true));
    let report = symbolize_in_child(&huge);
    println!("{report}");
    assert_degrades(&report, "huge", "leaf_a true None 1", "section `.debug_info` declares 1099511627776 bytes");

    let bomb = zlib_zeros(1 << 30);
    let honest =
        craft(dir.path(), "honest", |elf| replace_section(elf, ".debug_info", &compressed(1 << 30, &bomb), true));
    let report = symbolize_in_child(&honest);
    println!("{report}");
    assert_degrades(&report, "honest", "leaf_a true None 1", "section `.debug_info` declares 1073741824 bytes");

    let lying = craft(dir.path(), "lying", |elf| replace_section(elf, ".debug_info", &compressed(4096, &bomb), true));
    let report = symbolize_in_child(&lying);
    println!("{report}");
    assert_degrades(&report, "lying", "leaf_a true None 1", "inflates to more than the 4096 bytes it declares");

    let zstd = compressed_as(2, 4096, &zstd_zeros(1 << 30)); // ELFCOMPRESS_ZSTD
    let zstd_lying = craft(dir.path(), "zstd", |elf| replace_section(elf, ".debug_info", &zstd, true));
    let report = symbolize_in_child(&zstd_lying);
    println!("{report}");
    assert_degrades(&report, "zstd", "leaf_a true None 1", "inflates to more than the 4096 bytes it declares");
}

/// A zlib bomb in `.symtab` (which ELF symbolization itself needs): the binary is not opened at
/// all; its frames stay `module+0x…` marked `Failed`, with a problem naming it, and libc still
/// resolves.
#[test]
fn symbolize_compressed_symtab_bomb_refuses_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = zlib_zeros(1 << 30);
    let symtab = craft(dir.path(), "symtab", |elf| replace_section(elf, ".symtab", &compressed(4096, &bomb), true));
    let report = symbolize_in_child(&symtab);
    println!("{report}");
    assert_degrades(&report, "symtab", "symtab+0x", "cannot be symbolized: section `.symtab` inflates to more");
    assert!(report.contains("false Some(Failed)") && report.contains("failed 1"), "{report}");
}

/// End to end: `prof record` of a binary with truncated `.debug_info` prints one warning naming
/// the module and the error, writes the profile, and names the binary's functions (from its ELF
/// symbols, so without inline frames).
#[test]
fn symbolize_malformed_binary_recorded_with_one_warning() {
    let _m = bpf_test!("symbolize_malformed_binary_recorded_with_one_warning");
    let dir = tempfile::tempdir().unwrap();
    let truncated = truncated_debug_info(dir.path());
    let folded = dir.path().join("x.folded");
    let out = common::prof_ok(&[
        "record".as_ref(),
        "-o".as_ref(),
        folded.as_os_str(),
        "--".as_ref(),
        truncated.as_os_str(),
        "2".as_ref(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("prof: warning: `truncated`")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("debug information unusable"), "{stderr}");
    let stacks = common::read_folded(&folded);
    let mine: Vec<_> = stacks.into_iter().filter(|(s, _)| s.starts_with("truncated;")).collect();
    let total = common::count_where(&mine, |_| true);
    let named = common::count_where(&mine, |s| s.contains(";dispatch;leaf_"));
    assert!(total >= 20 && named * 100 >= total * 90, "{named} of {total} samples named: {mine:?}");
    assert!(!mine.iter().any(|(s, _)| s.contains("spin_[i]")), "inline frames without DWARF? {mine:?}");
}

/// Sets the 8-byte field at `field` (byte offset within the header) of section `name`.
fn set_section_field(elf: &mut [u8], name: &str, field: usize, value: u64) {
    let at = section(&sections(elf), name).at;
    elf[at + field..at + field + 8].copy_from_slice(&value.to_le_bytes());
}

/// `sh_offset`, `sh_size` and `sh_link` (4 bytes) in an `Elf64_Shdr`.
const SH_OFFSET: usize = 24;
const SH_SIZE: usize = 32;
const SH_LINK: usize = 40;

/// The plt workload (plain `.plt`) and the file offset of its `abs@plt` stub.
fn plt_binary() -> (Vec<u8>, u64) {
    let elf = std::fs::read(common::plt_workload(common::PltKind::Plain)).unwrap();
    let names = PltNames::parse(&elf);
    let stub = names.entries().into_iter().find(|(_, n)| *n == "abs@plt").expect("abs@plt named").0;
    (elf, stub)
}

/// Crafted PLT-related sections give no stub names, never a panic: `.rela.plt` cut short or
/// placed outside the file, its symbol table link out of range or to a non-symbol table, the
/// string table outside the file, `.plt` outside the file (also where offset + size overflows)
/// or claiming a terabyte, and a file cut off inside `.rela.plt`.
#[test]
fn symbolize_malformed_plt_sections_give_no_names() {
    let (elf, stub) = plt_binary();
    let len = elf.len() as u64;
    let rela_plt = section(&sections(&elf), ".rela.plt").offset;
    let plt = section(&sections(&elf), ".plt").offset;
    let plt_index = sections(&elf).iter().position(|s| s.name == ".plt").unwrap() as u64;
    type Edit = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("rela.plt cut mid-entry", Box::new(|e| set_section_field(e, ".rela.plt", SH_SIZE, 36))),
        ("rela.plt past the end", Box::new(move |e| set_section_field(e, ".rela.plt", SH_OFFSET, len + 4096))),
        ("rela.plt size overflows", Box::new(|e| set_section_field(e, ".rela.plt", SH_SIZE, u64::MAX - 7))),
        ("rela.plt links nowhere", Box::new(|e| set_section_field(e, ".rela.plt", SH_LINK, 0xfff0))),
        ("rela.plt links to .plt", Box::new(move |e| set_section_field(e, ".rela.plt", SH_LINK, plt_index))),
        ("dynstr past the end", Box::new(move |e| set_section_field(e, ".dynstr", SH_OFFSET, len * 2))),
        ("plt past the end", Box::new(move |e| set_section_field(e, ".plt", SH_OFFSET, len + 16))),
        ("plt offset overflows", Box::new(|e| set_section_field(e, ".plt", SH_OFFSET, u64::MAX - 15))),
        ("plt of a terabyte", Box::new(|e| set_section_field(e, ".plt", SH_SIZE, 1 << 40))),
        ("cut inside rela.plt", Box::new(move |e| e.truncate(rela_plt as usize + 30))),
    ];
    for (case, edit) in cases {
        let mut crafted = elf.clone();
        edit(&mut crafted);
        let names = PltNames::parse(&crafted);
        assert!(!matches!(names.lookup(stub), Some(PltHit::Stub(_))), "{case}: {:?}", names.lookup(stub));
        assert!(names.entries().iter().all(|(_, n)| *n != "abs@plt"), "{case}: {:?}", names.entries());
        if case.starts_with("plt ") {
            assert_eq!(names.lookup(plt), None, "{case}: the broken .plt is not a PLT section");
        }
    }
    // Read from a file the same way (through the read cache, not a slice).
    let dir = tempfile::tempdir().unwrap();
    let cut = craft(dir.path(), "cut", |e| *e = elf[..rela_plt as usize + 30].to_vec());
    assert_eq!(PltNames::read(&cut).named(), 0);
}

/// Every byte of the section header table set to 0x00 or 0xff in turn, and the PLT entries
/// filled with jumps to wild slots: no panic, and names stay stub names within bounds (a moved
/// string table may well name them wrongly).
#[test]
fn symbolize_malformed_plt_header_sweep() {
    let (elf, _) = plt_binary();
    let plt_bytes: u64 = sections(&elf).iter().filter(|s| s.name.starts_with(".plt")).map(|s| s.size).sum();
    let shoff = u64_at(&elf, 40) as usize;
    let table = shoff..elf.len().min(shoff + 64 * u16_at(&elf, 60) as usize);
    for at in table {
        for value in [0x00, 0xff] {
            let mut crafted = elf.clone();
            crafted[at] = value;
            let entries = PltNames::parse(&crafted).entries().into_iter().map(|(_, n)| n.len()).collect::<Vec<_>>();
            assert!(entries.len() as u64 <= plt_bytes / 8, "byte {at:#x} = {value:#x}: {} names", entries.len());
            assert!(entries.iter().all(|&n| n <= 1024 + "@plt".len()), "byte {at:#x} = {value:#x}: {entries:?}");
        }
    }
    let mut wild = elf.clone();
    let shdrs = sections(&elf);
    let plt = section(&shdrs, ".plt");
    for entry in wild[plt.offset as usize..(plt.offset + plt.size) as usize].chunks_mut(16) {
        entry[..6].copy_from_slice(&[0xff, 0x25, 0x00, 0x00, 0x00, 0x80]);
    }
    let names = PltNames::parse(&wild);
    assert!(names.entries().iter().all(|(off, _)| *off < plt.offset || *off >= plt.offset + plt.size));
}
