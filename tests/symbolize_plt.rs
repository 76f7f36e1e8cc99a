//! PLT stub names (`<symbol>@plt`) checked against objdump's (binutils, the oracle): Debian's
//! sqlite3 library and program, libc and python3, and the plt workload built with IBT stubs
//! (`.plt.sec`), plain `.plt` stubs and `-fno-plt`, and libstdc++ (names demangled); then in a running process through the
//! symbolizer, where the `.plt` header is `[plt]` rather than the symbol before it.

mod common;
#[path = "common/symbols.rs"]
mod symbols;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{plt_workload, PltKind};
use prof::symbolize::plt::{stub_name, PltHit, PltNames};
use symbols::{hex, symbol_value, tool_row, Captured};

/// Stubs as (file offset, name).
type Stubs = BTreeSet<(u64, String)>;

/// objdump's PLT stub labels of `path`: (file offset, `<symbol>@plt`), and those of
/// `IRELATIVE` slots (`*ABS*+0x<resolver>@plt`) as (file offset, resolver address). Symbols are demangled as prof demangles them (objdump -C's
/// demangler abbreviates differently: `std::istream` for `std::basic_istream<char, …>`).
fn objdump_stubs(path: &Path) -> (Stubs, BTreeSet<(u64, u64)>) {
    let out = Command::new("objdump")
        .args(["-d", "-F", "-j", ".plt", "-j", ".plt.sec", "-j", ".plt.got"])
        .arg(path)
        .output()
        .expect("objdump (binutils, scripts/setup) runs");
    assert!(out.status.success(), "objdump {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    let (mut named, mut absolute) = (BTreeSet::new(), BTreeSet::new());
    // 0000000000026030 <sqlite3ColumnExpr@plt> (File Offset: 0x26030):
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // (instructions that jump to a label carry a file offset too, indented)
        if line.starts_with(char::is_whitespace) || !line.ends_with("):") {
            continue;
        }
        let Some((label, rest)) = line.split_once("> (File Offset: 0x") else { continue };
        let Some((_, name)) = label.split_once(" <") else { continue };
        let offset = u64::from_str_radix(rest.trim_end_matches("):"), 16).unwrap();
        if !name.ends_with("@plt") {
            continue; // `.plt` itself, or `sym@plt-0x10` for the header
        }
        if let Some(resolver) = name.strip_prefix("*ABS*+0x") {
            absolute.insert((offset, hex(resolver.trim_end_matches("@plt"))));
        } else {
            named.insert((offset, stub_name(name.trim_end_matches("@plt"))));
        }
    }
    (named, absolute)
}

/// True when the binary has a `.plt.sec` section (its `.plt` entries are lazy-binding halves,
/// which objdump does not label).
fn has_plt_sec(path: &Path) -> bool {
    tool_row("objdump", &["-h"], path, |f| (f.get(1) == Some(&".plt.sec")).then_some(())).is_some()
}

/// Checks prof's PLT names of `path` against objdump's; returns how many stubs are named.
fn check_against_objdump(path: &Path) -> usize {
    let names = PltNames::read(path);
    let ours: Stubs = names.entries().into_iter().map(|(o, n)| (o, n.to_string())).collect();
    let (mut theirs, absolute) = objdump_stubs(path);
    // An IRELATIVE stub is named after the IFUNC symbol (`nm -D`, type `i`) at its resolver's
    // address, the public name before `_`-prefixed aliases, then the shortest; `[plt]` if none.
    let ifuncs = ifunc_symbols(path);
    for (offset, resolver) in &absolute {
        match ifuncs.get(resolver).and_then(|n| n.iter().min_by_key(|n| (n.starts_with('_'), n.len(), *n))) {
            Some(best) => theirs.insert((*offset, stub_name(best))),
            None => {
                assert_eq!(names.lookup(*offset), Some(PltHit::Unnamed), "{} at {offset:#x}", path.display());
                false
            }
        };
    }
    for (offset, name) in &theirs {
        // Every byte of the stub, not just its first.
        for at in [*offset, offset + 7] {
            assert_eq!(names.lookup(at), Some(PltHit::Stub(name)), "{} at {at:#x}", path.display());
        }
    }
    if has_plt_sec(path) {
        // The extra names are the lazy-binding halves in `.plt`, of the same symbols.
        assert!(ours.is_superset(&theirs), "{}: objdump names stubs prof does not", path.display());
        let symbols: BTreeSet<&String> = theirs.iter().map(|(_, n)| n).collect();
        assert!(ours.iter().all(|(_, n)| symbols.contains(n)), "{}: {ours:?} vs {theirs:?}", path.display());
    } else {
        assert_eq!(ours, theirs, "{}", path.display());
    }
    theirs.len()
}

/// The IFUNC symbols of `path` by address (`nm -D`, type `i`), without versions.
fn ifunc_symbols(path: &Path) -> BTreeMap<u64, Vec<String>> {
    let mut ifuncs = BTreeMap::<u64, Vec<String>>::new();
    let nm = Command::new("nm").args(["-D", "--defined-only"]).arg(path).output().expect("nm runs");
    for line in String::from_utf8_lossy(&nm.stdout).lines() {
        if let [value, "i", name] = line.split_whitespace().collect::<Vec<_>>()[..] {
            ifuncs.entry(hex(value)).or_default().push(name.split('@').next().unwrap_or(name).to_string());
        }
    }
    ifuncs
}

/// The real file behind a command on PATH or a library path (following links).
fn real(path: &str) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|e| panic!("`{path}` (scripts/setup installs it): {e}"))
}

/// Debian's binaries: every stub objdump labels in `.plt` and `.plt.got` has the same name in
/// prof, at every byte of the stub, and prof names no other; libc's `IRELATIVE` stubs are
/// named after their IFUNC symbols.
#[test]
fn plt_names_of_debian_binaries_agree_with_objdump() {
    for (path, at_least) in [
        (real("/usr/lib/x86_64-linux-gnu/libsqlite3.so.0"), 500),
        (real("/usr/bin/sqlite3"), 100),
        (real("/usr/bin/python3"), 200),
        (real("/usr/lib/x86_64-linux-gnu/libc.so.6"), 50),
    ] {
        let n = check_against_objdump(&path);
        println!("{}: {n} stubs agree with objdump", path.display());
        assert!(n >= at_least, "{}: only {n} stubs", path.display());
    }
}

/// The plt workload's `abs@plt` is named in each build that has stubs (IBT: in `.plt.sec`, and
/// its lazy half in `.plt`; plain: in `.plt`), as objdump names it; `-fno-plt` has no `abs@plt`.
#[test]
fn plt_names_of_the_workload_builds_agree_with_objdump() {
    for kind in [PltKind::Ibt, PltKind::Plain, PltKind::NoPlt] {
        let bin = plt_workload(kind);
        check_against_objdump(&bin);
        let names = PltNames::read(&bin);
        let abs: Vec<u64> = names.entries().into_iter().filter(|(_, n)| *n == "abs@plt").map(|(o, _)| o).collect();
        let expected = match kind {
            PltKind::Ibt => 2,
            PltKind::Plain => 1,
            PltKind::NoPlt => 0,
        };
        assert_eq!(abs.len(), expected, "{kind:?}: abs@plt at {abs:x?}");
        assert_eq!(has_plt_sec(&bin), kind == PltKind::Ibt, "{kind:?}: the build flags no longer give its layout");
    }
}

/// libstdc++'s stubs (into itself, mostly) are named demangled (as prof names the functions
/// they call), for the symbols objdump names.
#[test]
fn plt_names_of_libstdcxx_are_demangled() {
    let lib = real("/usr/lib/x86_64-linux-gnu/libstdc++.so.6");
    let n = check_against_objdump(&lib);
    let names = PltNames::read(&lib);
    let cxx = names.entries().into_iter().filter(|(_, n)| n.contains("::")).count();
    println!("{}: {n} stubs, {cxx} demangled", lib.display());
    assert!(cxx >= 100, "only {cxx} demangled stubs");
}

/// In a running process, an address in the `abs@plt` stub symbolizes to `abs@plt` and one in
/// the `.plt` header to `[plt]` (not `_init`, the symbol before it), both in the workload's
/// module; an address in `spin` is still `spin`.
#[test]
fn plt_stub_frames_in_a_running_process() {
    for kind in [PltKind::Ibt, PltKind::Plain] {
        let bin = plt_workload(kind);
        let module = bin.file_name().unwrap().to_str().unwrap().to_string();
        let names = PltNames::read(&bin);
        let (stub, _) = names.entries().into_iter().find(|(_, n)| *n == "abs@plt").expect("abs@plt");
        let (header, vma) = objdump_section(&bin, ".plt");
        // ld puts the code of a small PIE at link addresses equal to its file offsets.
        assert_eq!(header, vma, "{kind:?}: `.plt` is not at the link address of its file offset");
        let mut captured = Captured::start(&bin);
        let addrs = [
            captured.addr(&bin, stub + 4),
            captured.addr(&bin, header + 2),
            captured.addr(&bin, symbol_value(&bin, "spin")),
        ];
        let frames = captured.symbolize(&addrs);
        let names: Vec<(&str, &str)> = frames.iter().map(|f| (f[0].name.as_str(), f[0].module.as_str())).collect();
        assert_eq!(
            names,
            [("abs@plt", module.as_str()), ("[plt]", module.as_str()), ("spin", module.as_str())],
            "{kind:?}"
        );
        assert!(frames.iter().all(|f| f.is_resolved()), "{kind:?}");
    }
}

/// The file offset and link address of section `name` (objdump -h).
fn objdump_section(path: &Path, name: &str) -> (u64, u64) {
    tool_row("objdump", &["-h"], path, |f| (f.len() >= 6 && f[1] == name).then(|| (hex(f[5]), hex(f[3]))))
        .unwrap_or_else(|| panic!("no {name} in `{}`", path.display()))
}
