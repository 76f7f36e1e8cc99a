//! Go binaries stripped of symbols and DWARF (`go build -ldflags=-s -w`, as Debian ships `go`,
//! `compile` and `link`) symbolized from `.gopclntab`, through the path a recording uses (a
//! running process captured in a `ProcessTable`, then `Symbolizer::user`). The oracle is Go's
//! own `go tool addr2line` on the same binary and addresses.

mod common;
#[path = "common/symbols.rs"]
mod symbols;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{workload, workload_with};
use symbols::Captured;

/// Addresses inside some functions of the unstripped build (`nm -S`: start, middle, last byte;
/// assembly functions carry an `.abi0` suffix there, not in `.gopclntab`):
/// ours, the runtime's, the standard library's. Stripping leaves the code where it was.
fn addresses(unstripped: &Path) -> Vec<u64> {
    let nm = Command::new("nm").arg("-S").arg(unstripped).output().expect("nm (binutils) runs");
    let wanted = [
        "main.churn",
        "main.build",
        "main.sum",
        "main.main",
        "runtime.mallocgc",
        "runtime.systemstack.abi0",
        "runtime.mcall",
        "runtime.goexit.abi0",
        "runtime.gcDrain",
        "runtime.scanobject",
        "runtime.mapassign_faststr",
        "strconv.FormatInt",
        "fmt.Fprintln",
        "sync.(*WaitGroup).Wait",
        "time.Now",
    ];
    let mut out = Vec::new();
    for line in String::from_utf8_lossy(&nm.stdout).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() == 4 && (f[2] == "T" || f[2] == "t") && wanted.contains(&f[3]) {
            let (start, size) = (u64::from_str_radix(f[0], 16).unwrap(), u64::from_str_radix(f[1], 16).unwrap());
            out.extend([start, start + size / 2, start + size - 1]);
        }
    }
    assert_eq!(out.len(), 3 * wanted.len(), "functions missing from `{}`: {out:x?}", unstripped.display());
    out
}

/// `go tool addr2line`'s (function, file, line) for each address of `exe`.
fn addr2line(exe: &Path, addrs: &[u64]) -> Vec<(String, String, u32)> {
    let mut child = Command::new("go")
        .args(["tool", "addr2line"])
        .arg(exe)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("go tool addr2line runs (golang-go)");
    let input: String = addrs.iter().map(|a| format!("{a:#x}\n")).collect();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2 * addrs.len(), "addr2line output: {text}");
    lines
        .chunks(2)
        .map(|c| {
            let (file, line) = c[1].rsplit_once(':').expect("file:line");
            (c[0].to_string(), file.to_string(), line.parse().expect("a line number"))
        })
        .collect()
}

/// Every address of the stripped build gets the function `go tool addr2line` gives as its
/// outermost frame, and addr2line's file and line (those of the innermost inlined call) on its
/// innermost frame, in the binary's module; none is left as `module+0x…`.
#[test]
fn symbolize_go_stripped_matches_addr2line() {
    let full = workload("gc_heavy");
    let stripped = workload_with("gc_heavy", "gc_heavy_stripped", &["-ldflags=-s -w"]);
    let nm = Command::new("nm").arg(&stripped).output().unwrap();
    assert!(String::from_utf8_lossy(&nm.stderr).contains("no symbols"), "not stripped: {}", stripped.display());
    let addrs = addresses(&full);
    let expected = addr2line(&stripped, &addrs);
    let mut c = Captured::start(&stripped);
    // Not position-independent: run-time addresses are link-time addresses.
    let frames = c.symbolize(&addrs);
    for ((addr, frames), (name, file, line)) in addrs.iter().zip(&frames).zip(&expected) {
        assert_ne!(name, "?", "addr2line does not know {addr:#x}");
        assert!(frames.is_resolved(), "{addr:#x}: {frames:?}");
        let (outer, inner) = (&frames[0], &frames[frames.len() - 1]);
        assert_eq!(
            (outer.name.as_str(), outer.module.as_str(), outer.inlined),
            (name.as_str(), "w_gc_heavy_stripped", false)
        );
        assert_eq!((inner.file.as_deref(), inner.line), (Some(file.as_str()), Some(*line)), "{addr:#x}: {frames:?}");
        assert!(frames[1..].iter().all(|f| f.inlined), "{addr:#x}: {frames:?}");
    }
    assert_eq!(c.sym.stats().unresolved, 0);
}

/// Inlined calls: every address of some hot functions of the stripped build gets the same
/// frames (names and inlined marks) from `.gopclntab`'s inline trees as the unstripped build
/// gets from its DWARF, and some of them do have inlined frames; an inlining frame of
/// `main.churn` is at its call site, in `gc_heavy.go`.
#[test]
fn symbolize_go_stripped_inline_frames_match_dwarf() {
    let full = workload("gc_heavy");
    let stripped = workload_with("gc_heavy", "gc_heavy_stripped", &["-ldflags=-s -w"]);
    let mut addrs = Vec::new();
    for f in ["main.churn", "runtime.mallocgc", "runtime.scanobject"] {
        let (start, size) = symbols::symbol_value_size(&full, f);
        addrs.extend((start..start + size).step_by(3));
    }
    let ours = Captured::start(&stripped).symbolize(&addrs);
    let dwarf = Captured::start(&full).symbolize(&addrs);
    let view = |f: &prof::profile::Frame| (f.name.clone(), f.inlined);
    let mut inlined = 0;
    for ((addr, ours), dwarf) in addrs.iter().zip(&ours).zip(&dwarf) {
        let (a, b): (Vec<_>, Vec<_>) = (ours.iter().map(view).collect(), dwarf.iter().map(view).collect());
        assert_eq!(a, b, "{addr:#x}");
        inlined += usize::from(ours.len() > 1);
        if ours.len() > 1 && ours[0].name == "main.churn" {
            assert!(ours[0].file.as_deref().is_some_and(|f| f.ends_with("/gc_heavy.go")), "{addr:#x}: {ours:?}");
        }
    }
    assert!(inlined > 20, "only {inlined} of {} addresses have inlined frames", addrs.len());
}
