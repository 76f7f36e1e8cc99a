//! Helpers of the symbolization tests: building and inspecting binaries with binutils, and a
//! running process captured in a `ProcessTable` and symbolized as a recording would.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use prof::process::ProcessTable;
use prof::symbolize::{Frames, Symbolizer};

/// Runs a tool (gcc, strip, objcopy) and fails the test with its stderr if it fails.
pub fn run(program: &str, args: &[&std::ffi::OsStr]) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program} runs: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

pub fn os<S: AsRef<std::ffi::OsStr> + ?Sized>(s: &S) -> &std::ffi::OsStr {
    s.as_ref()
}

/// The link-time address (`nm`) of `symbol` in `exe`.
pub fn symbol_value(exe: &Path, symbol: &str) -> u64 {
    let nm = Command::new("nm").arg(exe).output().expect("nm (binutils) runs");
    String::from_utf8_lossy(&nm.stdout)
        .lines()
        .find_map(|l| {
            let mut parts = l.split_whitespace();
            let (v, _, name) = (parts.next()?, parts.next()?, parts.next()?);
            (name == symbol).then(|| u64::from_str_radix(v, 16).unwrap())
        })
        .unwrap_or_else(|| panic!("{symbol} not in `{}`", exe.display()))
}

/// The link-time address and size (`nm -S`) of `symbol` in `exe`.
pub fn symbol_value_size(exe: &Path, symbol: &str) -> (u64, u64) {
    tool_row("nm", &["-S"], exe, |f| (f.len() == 4 && f[3] == symbol).then(|| (hex(f[0]), hex(f[1]))))
        .unwrap_or_else(|| panic!("{symbol} with a size not in `{}`", exe.display()))
}

/// A hexadecimal number printed by binutils.
pub fn hex(s: &str) -> u64 {
    u64::from_str_radix(s, 16).unwrap_or_else(|_| panic!("`{s}` is not hexadecimal"))
}

/// What `pick` makes of the first line of `program ARGS… path`'s output (split into fields by
/// whitespace) it accepts.
pub fn tool_row<T>(program: &str, args: &[&str], path: &Path, pick: impl Fn(&[&str]) -> Option<T>) -> Option<T> {
    let out = Command::new(program).args(args).arg(path).output().unwrap_or_else(|e| panic!("{program} runs: {e}"));
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| pick(&l.split_whitespace().collect::<Vec<_>>()))
}

/// The executable mappings of `pid` as (start, end, file offset, path).
pub fn maps(pid: u32) -> Vec<(u64, u64, u64, String)> {
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (start, end) = f[0].split_once('-')?;
            let hex = |s: &str| u64::from_str_radix(s, 16).unwrap();
            Some((hex(start), hex(end), hex(f[2]), f.get(5).copied().unwrap_or("").to_string()))
        })
        .collect()
}

/// A process of a (possibly stripped) binary, captured by a new symbolizer, killed when dropped.
pub struct Captured {
    /// The process.
    pub child: std::process::Child,
    /// Its pid.
    pub pid: u32,
    /// Its mappings, captured.
    pub procs: ProcessTable,
    /// The symbolizer.
    pub sym: Symbolizer,
}

impl Drop for Captured {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Captured {
    pub fn start(exe: &Path) -> Captured {
        let child = Command::new(exe).arg("30").spawn().unwrap();
        let pid = child.id();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut procs = ProcessTable::default();
        assert!(procs.capture(pid, pid));
        Captured { child, pid, procs, sym: Symbolizer::new() }
    }

    /// Runtime address of link-time address `value` of the binary at `exe` (a PIE: its mapping
    /// at file offset 0 is the load base).
    pub fn addr(&self, exe: &Path, value: u64) -> u64 {
        let base = maps(self.pid)
            .into_iter()
            .find(|(_, _, off, path)| *off == 0 && Path::new(path) == exe)
            .map(|(start, ..)| start)
            .expect("mapping at offset 0");
        base + value
    }

    /// The runtime address of `getpid` in the process's libc (another module).
    pub fn libc_getpid(&self) -> u64 {
        let libc = maps(self.pid).into_iter().find(|(.., p)| p.contains("libc.so")).expect("libc mapped").3;
        let nm = Command::new("nm").args(["-D", "--defined-only"]).arg(&libc).output().unwrap();
        let value = String::from_utf8_lossy(&nm.stdout)
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 3 && f[2].split('@').next() == Some("getpid"))
                    .then(|| u64::from_str_radix(f[0], 16).unwrap())
            })
            .expect("getpid in libc");
        self.addr(Path::new(&libc), value)
    }

    /// The `module+0xoffset` name prof gives `addr` when unresolved: its file offset.
    pub fn offset_name(&self, module: &str, addr: u64) -> String {
        let (start, _, off, _) =
            maps(self.pid).into_iter().find(|(s, e, ..)| (*s..*e).contains(&addr)).expect("a mapping");
        format!("{module}+{:#x}", addr - start + off)
    }

    pub fn symbolize(&mut self, addrs: &[u64]) -> Vec<Frames> {
        self.sym.user(&mut self.procs, self.pid, addrs)
    }
}
