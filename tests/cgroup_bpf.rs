//! `prof record --cgroup`: two cgroups made under the cgroup2 mount, one busy workload moved
//! into each before it starts, and a recording of one of them. Only its samples may be
//! captured, every sample must carry its cgroup, and the other's samples must be dropped in the
//! kernel before any stack is walked (counted as skipped, not as samples). The cgroups are
//! removed, their processes killed, even when a check fails. Needs root.

mod common;

use std::ffi::{CString, OsStr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use common::{prof, prof_ok, prof_without_btf, workload};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// A cgroup made for a test under the cgroup2 mount; on drop its processes are killed and it is
/// removed (its children first, the last made first).
struct TestCgroup {
    dir: PathBuf,
    children: Vec<PathBuf>,
}

impl TestCgroup {
    /// `<mount>/prof-test-<test>-<pid>` with the children `names`.
    fn new(test: &str, names: &[&str]) -> TestCgroup {
        let mount = prof::process::cgroup::cgroup2_mount().expect("a cgroup2 mount");
        let dir = mount.join(format!("prof-test-{test}-{}", std::process::id()));
        let mut cg = TestCgroup { dir: dir.clone(), children: Vec::new() };
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir `{}`: {e}", dir.display()));
        for name in names {
            let child = dir.join(name);
            std::fs::create_dir(&child).unwrap_or_else(|e| panic!("mkdir `{}`: {e}", child.display()));
            cg.children.push(child);
        }
        cg
    }

    /// Makes `rel` (`a/late`) below it, a child removed before those made earlier; returns its
    /// index.
    fn add_child(&mut self, rel: &str) -> usize {
        let child = self.dir.join(rel);
        std::fs::create_dir(&child).unwrap_or_else(|e| panic!("mkdir `{}`: {e}", child.display()));
        self.children.push(child);
        self.children.len() - 1
    }

    /// Path of child `i` below the mount root, as `--cgroup` takes it.
    fn arg(&self, i: usize) -> String {
        let mount = prof::process::cgroup::cgroup2_mount().unwrap();
        format!("/{}", self.children[i].strip_prefix(&mount).unwrap().display())
    }

    /// Starts `cmd` inside child `i`: the process moves itself there before it execs, so every
    /// instruction of the workload runs in the cgroup.
    fn spawn_in(&self, i: usize, cmd: &mut Command) -> Running {
        let procs = CString::new(self.children[i].join("cgroup.procs").into_os_string().into_encoded_bytes()).unwrap();
        // SAFETY: between fork and exec the closure calls only open, write and close (all
        // async-signal-safe) on memory made before the fork; it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                libc::close(fd);
                if written != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Running(cmd.spawn().expect("workload starts"))
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for dir in self.children.iter().rev().chain(std::iter::once(&self.dir)) {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let pids = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                for pid in pids.lines().filter_map(|p| p.parse::<i32>().ok()) {
                    // SAFETY: kill has no memory-safety preconditions.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                // Children before the parent: a cgroup with children cannot be removed.
                if dir == &self.dir {
                    for child in self.children.iter().rev() {
                        let _ = std::fs::remove_dir(child);
                    }
                }
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() || Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// A workload killed and reaped on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Workload `name` run for 6 s in each of two sibling cgroups `a` and `b` of a test cgroup
/// (fields drop in order: the workloads, then the cgroups).
struct Pair {
    a: Running,
    b: Running,
    cg: TestCgroup,
}

impl Pair {
    fn start(test: &str, name: &str) -> Pair {
        let bin = workload(name);
        Pair::start_bins(test, &bin, &bin)
    }

    /// `a_bin` in cgroup `a`, `b_bin` in `b`, each run for 6 s.
    fn start_bins(test: &str, a_bin: &Path, b_bin: &Path) -> Pair {
        let cg = TestCgroup::new(test, &["a", "b"]);
        let a = cg.spawn_in(0, Command::new(a_bin).arg("6"));
        let b = cg.spawn_in(1, Command::new(b_bin).arg("6"));
        Pair { a, b, cg }
    }

    /// The pids of workloads `a` and `b`.
    fn pids(&self) -> (u32, u32) {
        (self.a.0.id(), self.b.0.id())
    }
}

/// The number in the recording's note on samples of other cgroups skipped in the kernel.
fn skipped(profile: &prof::profile::Profile) -> u64 {
    let note = profile.meta.notes.iter().find(|n| n.starts_with("--cgroup: ")).expect("the --cgroup note");
    note["--cgroup: ".len()..].split(' ').next().and_then(|n| n.parse().ok()).expect("a count in the note")
}

/// Runs prof with `args`.
fn prof_run(args: &[&OsStr]) -> Output {
    prof().args(args).output().expect("prof runs")
}

/// Records system-wide with `--cgroup` for child 0 of `cg` (plus `extra` options) by `run`
/// (which runs prof with the arguments it is given) and returns the profile.
fn record_cgroup(cg: &TestCgroup, extra: &[&str], dir: &Path, run: fn(&[&OsStr]) -> Output) -> prof::profile::Profile {
    let out = dir.join("cg.prof");
    let cgroup_arg = cg.arg(0);
    let mut args = vec![os("record"), os("--cgroup"), os(&cgroup_arg)];
    args.extend(extra.iter().map(|s| os(s)));
    args.extend([os("-d"), os("3"), os("-o"), out.as_os_str()]);
    let res = run(&args);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{stderr}");
    println!("{stderr}");
    prof::archive::read_file(&out).expect("archive reads")
}

/// Starts two spinning workloads in sibling cgroups `a` and `b` (named for `test`), records
/// `a` alone for 3 s by `run`, and checks: only a's samples, each in its cgroup's path, every
/// sample the kernel took kept; b's samples (and every other task's) counted as skipped before
/// any stack walk.
fn check_only_a_recorded(test: &str, run: fn(&[&OsStr]) -> Output) {
    let pair = Pair::start(test, "split");
    let cg = &pair.cg;
    let dir = tempfile::tempdir().unwrap();
    let p = record_cgroup(cg, &[], dir.path(), run);
    let pids: std::collections::BTreeSet<u32> = p.samples.iter().map(|s| s.pid).collect();
    assert_eq!(pids, [pair.pids().0].into_iter().collect(), "only the selected cgroup's workload is sampled");
    assert!(p.total() >= 100, "the selected workload has {} samples in 3 s", p.total());
    for s in &p.samples {
        assert_eq!(p.cgroup_of(s).map(|c| c.path.as_str()), Some(cg.arg(0).as_str()), "{s:?}");
    }
    // The kernel's own count of samples it took stacks for: a's alone.
    assert_eq!(p.total(), p.meta.total_samples, "the kernel took no sample outside the cgroup");
    // b spins as long as a on the other CPU: its samples were dropped in the kernel before any
    // stack walk, with every other task's.
    let skipped = skipped(&p);
    assert!(skipped >= 100, "{skipped} samples of other cgroups skipped; about {} of b's expected", p.total());
    assert!(p.meta.target.ends_with(&format!("in cgroup {}", cg.arg(0))), "{}", p.meta.target);
}

/// Two spinning workloads in sibling cgroups; `--cgroup` one of them keeps only its process's
/// samples, each in its cgroup's path; the other's samples are counted as skipped before any
/// stack was taken and are not among the samples the kernel took.
#[test]
fn cgroup_record_keeps_only_the_selected_cgroup() {
    let _m = bpf_test!("cgroup_record_keeps_only_the_selected_cgroup");
    check_only_a_recorded("on", prof_run);
}

/// The same without kernel BTF: the fallback object filters by cgroup in the kernel too.
#[test]
fn cgroup_record_without_btf_keeps_only_the_selected_cgroup() {
    let _m = bpf_test!("cgroup_record_without_btf_keeps_only_the_selected_cgroup");
    check_only_a_recorded("nobtf", prof_without_btf);
}

/// The parent of the two cgroups selects both (descendants are in), and the report groups and
/// filters them by cgroup.
#[test]
fn cgroup_record_takes_descendants_and_report_groups_them() {
    let _m = bpf_test!("cgroup_record_takes_descendants_and_report_groups_them");
    let pair = Pair::start("parent", "split");
    let (cg, (a, b)) = (&pair.cg, pair.pids());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("both.prof");
    let mount = prof::process::cgroup::cgroup2_mount().unwrap();
    // An absolute path under the mount works as well as one relative to it.
    prof_ok(&[os("record"), os("--cgroup"), cg.dir.as_os_str(), os("-d"), os("3"), os("-o"), out.as_os_str()]);
    let p = prof::archive::read_file(&out).unwrap();
    let pids: std::collections::BTreeSet<u32> = p.samples.iter().map(|s| s.pid).collect();
    assert_eq!(pids, [a, b].into_iter().collect());

    let table = prof_ok(&[os("report"), out.as_os_str(), os("--by"), os("cgroup")]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(table.contains(&cg.arg(0)) && table.contains(&cg.arg(1)), "{table}");
    let parent = format!("/{}", cg.dir.strip_prefix(&mount).unwrap().display());
    let folded = dir.path().join("a.folded");
    prof_ok(&[
        os("report"),
        out.as_os_str(),
        os("--cgroup"),
        os(&cg.arg(0)),
        os("--by"),
        os("cgroup"),
        os("-o"),
        folded.as_os_str(),
    ]);
    let lines = common::read_folded(&folded);
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|(s, _)| s.starts_with(&format!("{};w_split;", cg.arg(0)))), "{lines:?}");
    // The parent's path as a filter keeps both.
    let kept = prof_ok(&[os("report"), out.as_os_str(), os("--cgroup"), os(&parent), os("--by"), os("pid")]);
    let kept = String::from_utf8_lossy(&kept.stdout).into_owned();
    assert!(kept.contains(&a.to_string()) && kept.contains(&b.to_string()), "{kept}");
}

/// A cgroup made below the selected one after the recording started is in: the kernel checks
/// each sample's ancestry, not a list of ids taken at the start.
#[test]
fn cgroup_record_takes_cgroups_made_after_it_started() {
    use std::io::BufRead;
    let _m = bpf_test!("cgroup_record_takes_cgroups_made_after_it_started");
    let mut cg = TestCgroup::new("late", &["a"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("late.prof");
    let mut rec = prof()
        .args([os("record"), os("--cgroup"), os(&cg.arg(0)), os("-d"), os("4"), os("-o"), out.as_os_str()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("prof runs");
    let mut stderr = std::io::BufReader::new(rec.stderr.take().unwrap()).lines();
    let started = stderr.next().and_then(Result::ok).unwrap_or_default();
    assert!(started.starts_with("prof: recording"), "{started}");
    let late = cg.add_child("a/late");
    let spin = cg.spawn_in(late, Command::new(workload("split")).arg("2"));
    let pid = spin.0.id();
    let status = rec.wait().unwrap();
    let rest: Vec<String> = stderr.map_while(Result::ok).collect();
    assert!(status.success(), "{rest:?}");
    let p = prof::archive::read_file(&out).unwrap();
    let pids: std::collections::BTreeSet<u32> = p.samples.iter().map(|s| s.pid).collect();
    assert_eq!(pids, [pid].into_iter().collect(), "{rest:?}");
    assert!(p.total() >= 50, "{} samples of 2 s spinning", p.total());
    assert!(p.samples.iter().all(|s| p.cgroup_of(s).is_some_and(|c| c.path == cg.arg(late))), "{:?}", p.cgroups);
}

/// Off-CPU time with `--cgroup`: only the selected cgroup's blocking workload is recorded; the
/// other's switch-outs are skipped before their stacks are walked.
#[test]
fn cgroup_record_off_cpu_keeps_only_the_selected_cgroup() {
    let _m = bpf_test!("cgroup_record_off_cpu_keeps_only_the_selected_cgroup");
    let pair = Pair::start("off", "offcpu");
    let dir = tempfile::tempdir().unwrap();
    let p = record_cgroup(&pair.cg, &["--off-cpu"], dir.path(), prof_run);
    let pids: std::collections::BTreeSet<u32> = p.samples.iter().map(|s| s.pid).collect();
    assert_eq!(pids, [pair.pids().0].into_iter().collect());
    // Two threads blocked ~3 s each.
    assert!(p.total() > 2_000_000_000, "{} ns blocked", p.total());
    // The other workload switches out ~200 times a second (two threads, 10 ms period).
    assert!(skipped(&p) >= 300, "{} switch-outs skipped", skipped(&p));
}

/// `prof top --once --cgroup`: the live view samples only the selected cgroup's process (the
/// split workload) and none of the other's (the same code under other names and another
/// process name).
#[test]
fn cgroup_top_shows_only_the_selected_cgroup() {
    let _m = bpf_test!("cgroup_top_shows_only_the_selected_cgroup");
    let pair = Pair::start_bins("top", &workload("split"), &common::split_renamed());
    let out = prof_ok(&[
        os("top"),
        os("--once"),
        os("-d"),
        os("3"),
        os("--top"),
        os("1000000"),
        os("--cgroup"),
        os(&pair.cg.arg(0)),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{text}");
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert!(rows.iter().any(|l| l.contains(" leaf_a ")), "{text}");
    assert!(rows.iter().all(|l| l.ends_with(" w_split")), "only the selected cgroup's process:\n{text}");
    assert!(!text.contains("new_"), "{text}");
}

/// A `--cgroup` that is not a cgroup v2 directory is refused before recording, naming it.
#[test]
fn cgroup_record_refuses_what_is_not_a_cgroup() {
    let out = prof().args(["record", "--cgroup", "/no/such/cgroup-x", "-d", "1"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("--cgroup `/no/such/cgroup-x`"), "{err}");
    let out = prof().args(["record", "--cgroup", "/proc/self", "-d", "1"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("--cgroup `/proc/self`: not under the cgroup v2 mount"), "{err}");
}
