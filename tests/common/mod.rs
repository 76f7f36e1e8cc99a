//! Helpers shared by the integration tests: the BPF gate, building the C workloads, running the
//! `prof` binary, and reading folded output.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

/// Serializes tests that sample the machine: two recordings at once would compete for 2 CPUs.
static MACHINE: Mutex<()> = Mutex::new(());

/// Takes the machine for one BPF test.
pub fn machine() -> MutexGuard<'static, ()> {
    MACHINE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Returns true when BPF tests can run. Otherwise prints `SKIPPED <test>: <reason>` and returns
/// false, or panics when `CI=true` (CI runs as root: BPF must work there).
pub fn bpf_available(test: &str) -> bool {
    let reason = if let Err(msg) = prof::sample::privileges::check() {
        Some(msg.lines().next().unwrap_or("no privileges").to_string())
    } else if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        Some(
            "no /sys/kernel/btf/vmlinux (the unwinding tests need BTF; tests/record_no_btf.rs hides it itself)"
                .to_string(),
        )
    } else {
        None
    };
    match reason {
        None => true,
        Some(r) if std::env::var("CI").as_deref() == Ok("true") => panic!("{test}: BPF unavailable in CI: {r}"),
        Some(r) => {
            println!("SKIPPED {test}: {r}");
            false
        }
    }
}

/// Skips (or, in CI, fails) the calling test when BPF is unavailable, and takes the machine.
#[macro_export]
macro_rules! bpf_test {
    ($name:expr) => {{
        if !common::bpf_available($name) {
            return;
        }
        common::machine()
    }};
}

/// The split workload built with every function of its hot path renamed (`new_leaf_a`, …):
/// the same code at the same offsets under other names, so symbols read from the wrong file
/// show up as `new_*` names.
pub fn split_renamed() -> PathBuf {
    workload_with(
        "split",
        "split_renamed",
        &[
            "-O0",
            "-g",
            "-fno-omit-frame-pointer",
            "-Dleaf_a=new_leaf_a",
            "-Dleaf_b=new_leaf_b",
            "-Dleaf_c=new_leaf_c",
            "-Ddispatch=new_dispatch",
            "-Drun=new_run",
        ],
    )
}

/// How `tests/workloads/plt.c` calls into libc: the three ways a compiler and linker build it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PltKind {
    /// IBT stubs: `.plt.sec` called, `.plt` holding the lazy-binding halves.
    Ibt,
    /// Plain lazy `.plt` stubs.
    Plain,
    /// `-fno-plt`: calls through the GOT, no stub.
    NoPlt,
}

/// The plt workload built as `kind` (with -fno-builtin, so `abs` stays a call into libc).
/// Debian's crt files carry no IBT marker, so `-z ibtplt` asks the linker for `.plt.sec`.
pub fn plt_workload(kind: PltKind) -> PathBuf {
    let common = ["-O1", "-g", "-fno-omit-frame-pointer", "-fno-builtin"];
    let (variant, flags): (&str, &[&str]) = match kind {
        PltKind::Ibt => ("plt_ibt", &["-fcf-protection", "-Wl,-z,ibtplt"]),
        PltKind::Plain => ("plt_plain", &["-fcf-protection=none"]),
        PltKind::NoPlt => ("plt_none", &["-fno-plt"]),
    };
    workload_with("plt", variant, &[&common[..], flags].concat())
}

/// Limits the address space (`RLIMIT_AS`) of the process `cmd` starts to `bytes`, from before
/// it execs.
pub fn limit_address_space(cmd: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec the closure only calls setrlimit, which is async-signal-safe,
    // on a stack value; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

static BUILD: Mutex<()> = Mutex::new(());

/// Builds `tests/workloads/<name>.c` (or `.rs`, `.go`, `.cpp`) with frame pointers in every function
/// (-O0: gcc 12 ignores -mno-omit-leaf-frame-pointer when optimizing; Rust: a release-like
/// build that keeps frame pointers) and returns the binary's path.
pub fn workload(name: &str) -> PathBuf {
    build_workload(name, name, |compiler| match compiler {
        "rustc" => vec!["-O", "-g", "-C", "force-frame-pointers=yes", "--crate-name", "rust_burner"],
        "cc" => vec!["-O0", "-g", "-fno-omit-frame-pointer", "-pthread"],
        "go" => vec![], // Go keeps frame pointers on x86_64
        _ => vec!["-O0", "-g", "-fno-omit-frame-pointer"],
    })
}

/// Builds `tests/workloads/<name>.c` (or `.rs`, `.go`) with `flags` into a binary named after
/// `variant` (e.g. `deep_nofp`), for tests that need specific code generation (no frame
/// pointers, optimization; for Go, `go build` flags such as `-ldflags=-s -w`). Rebuilt when
/// the source is newer.
pub fn workload_with(name: &str, variant: &str, flags: &[&str]) -> PathBuf {
    build_workload(name, variant, |_| flags.to_vec())
}

/// Compiles the workload source `name` (C, Rust, Go or C++, by which file exists) into
/// `w_<variant>` with the flags `flags(compiler)`, unless the binary is newer than the source.
fn build_workload<'a>(name: &str, variant: &str, flags: impl Fn(&str) -> Vec<&'a str>) -> PathBuf {
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workloads");
    let (src, compiler) = match dir.join(format!("{name}.c")) {
        c if c.exists() => (c, "cc"),
        _ if dir.join(format!("{name}.rs")).exists() => (dir.join(format!("{name}.rs")), "rustc"),
        _ if dir.join(format!("{name}.go")).exists() => (dir.join(format!("{name}.go")), "go"),
        _ => (dir.join(format!("{name}.cpp")), "c++"),
    };
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("workloads");
    std::fs::create_dir_all(&out_dir).unwrap();
    let bin = out_dir.join(format!("w_{variant}"));
    let fresh = match (std::fs::metadata(&bin), std::fs::metadata(&src)) {
        (Ok(b), Ok(s)) => b.modified().unwrap() >= s.modified().unwrap(),
        _ => false,
    };
    if !fresh {
        let mut cmd = Command::new(compiler);
        if compiler == "go" {
            // Debian's toolchain, its caches kept out of $HOME; the workloads need no modules.
            let go = out_dir.join("go");
            cmd.arg("build").env("GOCACHE", go.join("cache")).env("GOPATH", go.join("path"));
            cmd.env("GOFLAGS", "-mod=mod").env("CGO_ENABLED", "0");
        }
        let out = cmd.args(flags(compiler)).arg("-o").arg(&bin).arg(&src).output().expect("the compiler runs");
        assert!(out.status.success(), "building {variant}: {}", String::from_utf8_lossy(&out.stderr));
    }
    bin
}

/// The interpreter of pyenv's build of `minor` (`3.12`) under /root/.pyenv/versions, if
/// installed (never on a fresh CI machine: tests of other versions than Debian's are extra).
pub fn pyenv(minor: &str) -> Option<PathBuf> {
    let dir = std::fs::read_dir("/root/.pyenv/versions").ok()?;
    let root = dir
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&format!("{minor}."))))?;
    Some(root.join(format!("bin/python{minor}"))).filter(|p| p.exists())
}

/// The full path of `program` on PATH.
pub fn which(program: &str) -> Result<PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.exists()).ok_or(())
}

/// The `prof` binary under test.
pub fn prof() -> Command {
    Command::new(env!("CARGO_BIN_EXE_prof"))
}

/// Runs `prof` with `args` and returns its output, failing the test with stderr on error.
pub fn prof_ok(args: &[&std::ffi::OsStr]) -> Output {
    let out = prof().args(args).output().expect("prof runs");
    assert!(out.status.success(), "prof {:?} failed: {}", args, String::from_utf8_lossy(&out.stderr));
    out
}

/// Runs `prof` with `args`, expecting a runtime error (exit status 1), and returns its stderr.
pub fn prof_err<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let out = prof().args(args).output().expect("prof runs");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "prof {:?}: {err}", args.iter().map(AsRef::as_ref).collect::<Vec<_>>());
    err
}

/// Runs `prof args…` where the kernel's BTF cannot be seen and tracefs is not mounted: an
/// empty tmpfs over `/sys/kernel/btf` and tracefs unmounted, in a private mount namespace
/// (`unshare -m`), so the rest of the machine is not affected.
pub fn prof_without_btf(args: &[&std::ffi::OsStr]) -> Output {
    let script = "mount -t tmpfs none /sys/kernel/btf || exit 97; \
                  umount /sys/kernel/debug/tracing 2>/dev/null; umount /sys/kernel/tracing 2>/dev/null; \
                  test -e /sys/kernel/btf/vmlinux && exit 98; exec \"$0\" \"$@\"";
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .arg(env!("CARGO_BIN_EXE_prof"))
        .args(args)
        .output()
        .expect("unshare runs");
    assert!(
        !matches!(out.status.code(), Some(97 | 98)),
        "could not hide /sys/kernel/btf: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Reads a folded file into (stack, count) pairs.
pub fn read_folded(path: &Path) -> Vec<(String, u64)> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .lines()
        .map(|l| {
            let (stack, count) = l.rsplit_once(' ').unwrap_or_else(|| panic!("bad folded line {l:?}"));
            (stack.to_string(), count.parse().unwrap_or_else(|_| panic!("bad count in {l:?}")))
        })
        .collect()
}

/// Samples whose stack satisfies `pred`.
pub fn count_where(folded: &[(String, u64)], pred: impl Fn(&str) -> bool) -> u64 {
    folded.iter().filter(|(s, _)| pred(s)).map(|(_, c)| c).sum()
}

/// True when `stack` has `frame` as one of its `;`-separated frames.
pub fn has_frame(stack: &str, frame: &str) -> bool {
    stack.split(';').any(|f| f == frame)
}

/// The functions a Go stack starts at, as perf shows them: `runtime.goexit` (every goroutine,
/// `main.main`'s too), `runtime.mstart` (the system stack of each thread the runtime starts),
/// `runtime.rt0_go` (the main thread's system stack).
pub const GO_ROOTS: &[&str] = &["runtime.goexit", "runtime.mstart", "runtime.rt0_go"];

/// The outermost user frame of a folded stack: the first after the command name that is not a
/// kernel frame (`_[k]`); `None` for a stack of kernel frames only.
pub fn outermost_user_frame(stack: &str) -> Option<&str> {
    stack.split(';').skip(1).find(|f| !f.ends_with("_[k]"))
}

/// A `prof record` running in the background, with its stderr collected.
pub struct Background {
    /// The prof process.
    pub child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    /// Stderr lines read so far.
    pub stderr: Vec<String>,
}

impl Background {
    /// Starts `prof` with `args` and waits until it says it is recording.
    pub fn start(args: &[&std::ffi::OsStr]) -> Background {
        Background::spawn(prof().args(args), "prof: recording")
    }

    /// Starts `cmd` (which runs prof, perhaps through a wrapper such as `unshare`) and waits
    /// until a stderr line starts with `ready`.
    pub fn spawn(cmd: &mut Command, ready: &str) -> Background {
        use std::io::BufRead;
        let mut child =
            cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().expect("prof starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut bg = Background { child, lines: rx, stderr: Vec::new() };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match bg.lines.recv_timeout(left) {
                Ok(line) => {
                    let started = line.starts_with(ready);
                    bg.stderr.push(line);
                    if started {
                        return bg;
                    }
                }
                Err(_) => panic!("prof did not print {ready:?}: {:?}", bg.stderr),
            }
        }
    }

    /// Sends a signal to prof.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Waits for prof to exit; returns its status and all of its stderr.
    pub fn finish(mut self) -> (std::process::ExitStatus, String) {
        let status = self.child.wait().expect("prof exits");
        self.stderr.extend(self.lines.iter());
        (status, self.stderr.join("\n"))
    }
}

/// How many characters of a differing line a mismatch message shows.
const EXCERPT_CHARS: usize = 120;

/// Compares `actual` with the golden file `tests/fixtures/<area>/<name>`. A missing golden file
/// is created (the test passes and says so), `PROF_BLESS=1` rewrites it, and a mismatch fails
/// naming the file and first differing line, leaving the actual output as `<file>.actual`.
pub fn check_golden(area: &str, name: &str, actual: &str) {
    use std::fs;
    let fixtures_dir = || Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(area);
    let path = fixtures_dir().join(name);
    let actual_path = fixtures_dir().join(format!("{name}.actual"));
    let bless = std::env::var("PROF_BLESS").is_ok_and(|v| v == "1");
    if bless || !path.exists() {
        fs::create_dir_all(fixtures_dir()).expect("failed to create the fixtures directory");
        fs::write(&path, actual).unwrap_or_else(|e| panic!("failed to write `{}`: {e}", path.display()));
        let _ = fs::remove_file(&actual_path);
        eprintln!("note: wrote golden file `{}`", path.display());
        return;
    }
    let expected = fs::read_to_string(&path).unwrap_or_else(|e| panic!("failed to read `{}`: {e}", path.display()));
    if expected == actual {
        let _ = fs::remove_file(&actual_path);
        return;
    }
    fs::write(&actual_path, actual).unwrap_or_else(|e| panic!("failed to write `{}`: {e}", actual_path.display()));
    let mut expected_lines = expected.split('\n');
    let mut actual_lines = actual.split('\n');
    let mut line = 1;
    loop {
        match (expected_lines.next(), actual_lines.next()) {
            (Some(e), Some(a)) if e == a => line += 1,
            (e, a) => {
                let (e, a) = (e.unwrap_or("<end of file>"), a.unwrap_or("<end of file>"));
                let column = e.chars().zip(a.chars()).take_while(|(x, y)| x == y).count();
                panic!(
                    "`{}` differs at line {line}, column {}:\n  expected: {}\n  actual:   {}\n\
                     actual output written to `{}`; rerun with PROF_BLESS=1 to accept it",
                    path.display(),
                    column + 1,
                    excerpt(e, column),
                    excerpt(a, column),
                    actual_path.display(),
                );
            }
        }
    }
}

/// Up to [`EXCERPT_CHARS`] characters of `line` around character `column`.
fn excerpt(line: &str, column: usize) -> String {
    let start = column.saturating_sub(EXCERPT_CHARS / 2);
    let text: String = line.chars().skip(start).take(EXCERPT_CHARS).collect();
    let prefix = if start > 0 { "…" } else { "" };
    format!("{prefix}{text:?}")
}

/// Start of the synthetic archive intervals of the store and serve tests (ns since the epoch).
pub const T0: u64 = 1_795_000_000_000_000_000;
/// One second in nanoseconds.
pub const SEC: u64 = 1_000_000_000;

/// Metadata of synthetic interval `i`: 10 s from `T0 + 10 s × i`, `n` samples, 99 Hz cpu-clock.
pub fn interval_meta(i: u64, n: u64) -> prof::profile::Metadata {
    prof::profile::Metadata {
        start_unix_ns: T0 + i * 10 * SEC,
        end_unix_ns: T0 + (i + 1) * 10 * SEC,
        total_samples: n,
        frequency_hz: 99,
        event: prof::profile::EventKind::CpuClock.into(),
        target: "system-wide".into(),
        ..Default::default()
    }
}

/// Start of the intervals of the exact-range tests: not on a millisecond, as real recordings
/// start, so an archive's name (milliseconds) is earlier than its real start.
pub fn odd_start(i: u64) -> u64 {
    T0 + 456_789_123 + i * 2 * SEC
}

/// An archive of 2 s from [`odd_start`]`(i)` to `odd_start(i + 1)` (by its metadata) with
/// `100 + i` samples of `f<i>` in `app`, named by its start as the recorder names it.
pub fn write_odd_interval(dir: &Path, i: u64) -> PathBuf {
    use prof::profile::{Frame, FrameKind, ProfileBuilder};
    let meta = prof::profile::Metadata {
        start_unix_ns: odd_start(i),
        end_unix_ns: odd_start(i + 1),
        ..interval_meta(0, 100 + i)
    };
    let mut b = ProfileBuilder::new(meta);
    let f = b.frame(Frame::new(format!("f{i}"), "app", FrameKind::User));
    let s = b.stack(vec![f]);
    b.add(s, 1, "app", 100 + i);
    let path = dir.join(prof::store::archive_name(odd_start(i), 42, i));
    prof::archive::write_file(&b.finish(), &path).unwrap();
    path
}

/// Σ counts + Σ dropped samples equals the kernel's sample total, in an archive.
pub fn assert_conserved(archive: &Path) -> prof::profile::Profile {
    let p = prof::archive::read_file(archive).expect("archive reads");
    let dropped = p.meta.losses.get(&prof::profile::LossReason::CountsMapFull).copied().unwrap_or(0);
    assert_eq!(p.total() + dropped, p.meta.total_samples, "Σ counts + Σ drops != samples taken: {:?}", p.meta);
    assert!(!p.meta.notes.iter().any(|n| n.contains("mismatch")), "{:?}", p.meta.notes);
    p
}

/// Spawns `cmd` as process `pid` (root only) by setting the kernel's last allocated PID just
/// below it: other processes on the machine may take it first, so tries up to 200 times. None
/// when it never got that PID.
pub fn spawn_as_pid(cmd: &mut Command, pid: u32) -> Option<std::process::Child> {
    for _ in 0..200 {
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).unwrap();
        let mut child = cmd.spawn().unwrap();
        if child.id() == pid {
            return Some(child);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    None
}

/// The memory of the BPF maps process `pid` holds open: the `memlock` the kernel reports for
/// each map descriptor (a map open twice counts twice; prof opens each once).
pub fn bpf_map_bytes(pid: u32) -> Option<u64> {
    let mut bytes = 0;
    for e in std::fs::read_dir(format!("/proc/{pid}/fdinfo")).ok()?.flatten() {
        let info = std::fs::read_to_string(e.path()).unwrap_or_default();
        if info.lines().any(|l| l.starts_with("map_id:")) {
            let memlock =
                info.lines().find_map(|l| l.strip_prefix("memlock:")).and_then(|v| v.trim().parse::<u64>().ok());
            bytes += memlock.unwrap_or(0);
        }
    }
    Some(bytes)
}
