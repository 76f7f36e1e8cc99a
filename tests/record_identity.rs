//! End-to-end recordings (real BPF sampler) where a process's identity is ambiguous: its binary
//! replaced at its path while it runs, a PID reused by another program, a process in another
//! mount and PID namespace. Symbols must come from what each process really maps. The
//! recordings need root or CAP_BPF+CAP_PERFMON, the `symbolize_*` checks (the symbolizer alone)
//! root for namespaces; they skip with a reason outside CI and fail in CI.

mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{prof_ok, spawn_as_pid, workload, workload_with};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Runs a binary just written, retrying while another test's fork still holds it open for
/// writing (ETXTBSY).
fn spawn_fresh(cmd: &mut Command) -> std::process::Child {
    for _ in 0..100 {
        match cmd.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(Duration::from_millis(10))
            }
            other => return other.unwrap(),
        }
    }
    panic!("{cmd:?} stayed busy (ETXTBSY) for 1 s");
}

/// Records `pid` for 2 s into an archive in `dir`.
fn record_pid(dir: &Path, pid: u32) -> prof::profile::Profile {
    let archive = dir.join("x.prof");
    prof_ok(&[os("record"), os("-p"), os(&pid.to_string()), os("-d"), os("2"), os("-o"), archive.as_os_str()]);
    common::assert_conserved(&archive)
}

/// Names of the functions in `p`'s stacks.
fn function_names(p: &prof::profile::Profile) -> Vec<(String, String)> {
    p.frames.iter().map(|f| (f.name.clone(), f.module.clone())).collect()
}

/// A file bind-mounted over another, unmounted when dropped (also when the test fails).
struct BindMount(std::path::PathBuf);

impl BindMount {
    fn new(source: &Path, target: &Path) -> BindMount {
        let st = Command::new("mount").arg("--bind").arg(source).arg(target).status().unwrap();
        assert!(st.success(), "mount --bind failed");
        BindMount(target.to_path_buf())
    }
}

impl Drop for BindMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A binary replaced at its path while its process runs (a new file renamed over it; then a new
/// file bind-mounted over the path, which keeps the path without ` (deleted)`): the process's
/// frames carry the old binary's names, none of the new one's, since binaries are identified by
/// (device, inode) and read through the process's own mapping.
#[test]
fn record_binary_replaced_in_place_keeps_old_symbols() {
    let _m = bpf_test!("record_binary_replaced_in_place_keeps_old_symbols");
    let (old, new) = (workload("split"), common::split_renamed());
    for how in ["rename", "bind mount"] {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app");
        std::fs::copy(&old, &app).unwrap();
        let mut child = spawn_fresh(Command::new(&app).arg("5"));
        std::thread::sleep(Duration::from_millis(100));
        let staged = dir.path().join("app.new");
        std::fs::copy(&new, &staged).unwrap();
        let mount = match how {
            "rename" => {
                std::fs::rename(&staged, &app).unwrap();
                None
            }
            _ => Some(BindMount::new(&staged, &app)),
        };
        let mapped_inode = {
            use std::os::unix::fs::MetadataExt;
            let exe = std::fs::metadata(format!("/proc/{}/exe", child.id())).unwrap().ino();
            assert_ne!(std::fs::metadata(&app).unwrap().ino(), exe, "{how}: the path still names the old file");
            exe
        };
        let p = record_pid(dir.path(), child.id());
        let mounted = mount.is_some();
        drop(mount);
        let _ = child.kill();
        let _ = child.wait();
        let names = function_names(&p);
        let module = if mounted { "app" } else { "app (deleted)" };
        let old_leaves: Vec<_> = names.iter().filter(|(n, _)| n.starts_with("leaf_")).collect();
        println!("{how} (mapped inode {mapped_inode}): {} leaf frames", old_leaves.len());
        assert!(!old_leaves.is_empty(), "{how}: no frame of the old binary: {names:?}");
        assert!(old_leaves.iter().all(|(_, m)| m == module), "{how}: {old_leaves:?}");
        assert!(names.iter().all(|(n, _)| !n.starts_with("new_")), "{how}: the new binary's names leaked: {names:?}");
    }
}

/// Two programs run one after the other under the same PID in one system-wide recording (the
/// first exits, the second is a new process given the same PID). Both load at the same addresses
/// (no ASLR) and have the same code under different names, so a symbol of one used for the other
/// would show: the first's samples carry only its names (`leaf_*`), the second's only its own
/// (`new_leaf_*`).
#[test]
fn record_pid_reuse_keeps_processes_apart() {
    let _m = bpf_test!("record_pid_reuse_keeps_processes_apart");
    let (first, second) = (workload("split"), common::split_renamed());
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("x.prof");
    let no_aslr = |bin: &Path| {
        let mut cmd = Command::new("setarch");
        cmd.args(["-R"]).arg(bin).arg("1.5");
        cmd
    };
    let bg = common::Background::start(&[os("record"), os("-d"), os("60"), os("-o"), archive.as_os_str()]);
    let mut a = no_aslr(&first).spawn().unwrap();
    let pid = a.id();
    assert!(a.wait().unwrap().success());
    let b = spawn_as_pid(&mut no_aslr(&second), pid);
    let reused = b.is_some();
    if let Some(mut b) = b {
        assert!(b.wait().unwrap().success());
    }
    bg.signal(libc::SIGINT);
    let (status, stderr) = bg.finish();
    assert!(status.success(), "{stderr}");
    assert!(reused, "could not get PID {pid} again for the second program");
    let p = common::assert_conserved(&archive);
    let names = |comm: &str| -> (u64, Vec<String>) {
        let mut n = 0;
        let mut names = Vec::new();
        for s in p.samples.iter().filter(|s| s.pid == pid && s.comm == comm) {
            n += s.count;
            names.extend(p.stack_frames(s.stack).map(|f| f.name.clone()));
        }
        names.sort();
        names.dedup();
        (n, names)
    };
    let (n_a, names_a) = names("w_split");
    let (n_b, names_b) = names("w_split_renamed");
    println!("PID {pid}: first {n_a} samples, second {n_b} samples");
    assert!(n_a >= 10 && n_b >= 10, "1.5 s each at 99 Hz (less on a busy machine): {n_a} and {n_b} samples");
    assert!(names_a.iter().any(|n| n.starts_with("leaf_")), "first: {names_a:?}");
    assert!(names_a.iter().all(|n| !n.starts_with("new_")), "the second's names in the first: {names_a:?}");
    assert!(names_b.iter().any(|n| n.starts_with("new_leaf_")), "second: {names_b:?}");
    assert!(names_b.iter().all(|n| !n.starts_with("leaf_")), "the first's names in the second: {names_b:?}");
}

/// A process in its own mount and PID namespace with its own root directory (a minimal
/// container: a directory holding one static binary), killed when dropped.
struct Container {
    root: tempfile::TempDir,
    unshare: std::process::Child,
    /// The process's PID on the host (it is PID 1 inside).
    pid: u32,
}

impl Container {
    /// Builds a root holding `bin` as `/app` and an empty `/tmp` (after `prepare` ran on the root
    /// directory), and runs `/app args` in it.
    fn start(bin: &Path, args: &[&str], prepare: impl FnOnce(&Path)) -> Container {
        let root = tempfile::tempdir().unwrap();
        std::fs::copy(bin, root.path().join("app")).unwrap();
        prepare(root.path());
        let mut unshare = Command::new("unshare");
        unshare.args(["--mount", "--pid", "--fork", "--kill-child"]).arg(format!("--root={}", root.path().display()));
        let unshare = spawn_fresh(unshare.arg("/app").args(args));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let pid = loop {
            if let Some(pid) = child_of(unshare.id()) {
                break pid;
            }
            assert!(std::time::Instant::now() < deadline, "the container's process did not start");
            std::thread::sleep(Duration::from_millis(10));
        };
        // Let it exec (its comm becomes `app`).
        std::thread::sleep(Duration::from_millis(100));
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let nspid = status.lines().find(|l| l.starts_with("NSpid:")).unwrap();
        assert!(nspid.ends_with("\t1"), "not PID 1 in its namespace: {nspid}");
        Container { root, unshare, pid }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

/// The first child of process `parent`, from `/proc/*/stat`.
fn child_of(parent: u32) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let ppid: u32 = stat[stat.rfind(')')? + 2..].split_whitespace().nth(1)?.parse().ok()?;
        (ppid == parent).then_some(pid)
    })
}

/// A static build of workload `name` (it runs alone in a container's root).
fn static_workload(name: &str) -> std::path::PathBuf {
    workload_with(name, &format!("{name}_static"), &["-O0", "-g", "-fno-omit-frame-pointer", "-static"])
}

/// A JIT in its own mount and PID namespace and root (PID 1 there, its `/tmp` only in its root)
/// is recorded from the host: its JIT code is named from its own `/tmp/perf-1.map`, found through
/// its root with its namespace's PID, and its binary's functions are named too.
#[test]
fn record_container_process_and_its_jit_map() {
    let _m = bpf_test!("record_container_process_and_its_jit_map");
    let c = Container::start(&static_workload("jit"), &["6"], |root| std::fs::create_dir(root.join("tmp")).unwrap());
    assert!(c.root.path().join("tmp/perf-1.map").exists(), "the JIT wrote no map in its root");
    assert!(!Path::new(&format!("/tmp/perf-{}.map", c.pid)).exists());
    let dir = tempfile::tempdir().unwrap();
    let p = record_pid(dir.path(), c.pid);
    drop(c);
    let in_frames = |pred: &dyn Fn(&prof::profile::Frame) -> bool| -> u64 {
        p.samples.iter().filter(|s| p.stack_frames(s.stack).any(pred)).map(|s| s.count).sum()
    };
    let total = p.total();
    let jitted = in_frames(&|f| f.name == "jitted_hot_loop" && f.module == "[jit]");
    let own = in_frames(&|f| f.module == "app" && !f.name.starts_with("app+"));
    let unknown = in_frames(&|f| f.name.starts_with("[unknown]"));
    println!(
        "container: {jitted} of {total} samples in jitted_hot_loop, {own} with named frames of app, {unknown} unknown"
    );
    assert!(total >= 50, "2 s of a busy process: {total} samples");
    assert!(jitted * 10 >= total * 8, "{:?}", function_names(&p));
    assert!(own * 10 >= total * 9, "the binary's frames are not named: {:?}", function_names(&p));
}

/// A container's perf map path that leads out of its root is not followed: a `/tmp` that is a
/// symlink to a host directory, and a map that is a symlink to a host file. Both hold a planted
/// name; a map that is a regular file inside the root is read (the same check's control).
#[test]
fn symbolize_container_perf_map_stays_in_its_root() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI runs as root: namespaces must work");
        println!("SKIPPED symbolize_container_perf_map_stays_in_its_root: not root (needs namespaces)");
        return;
    }
    let host = tempfile::tempdir().unwrap();
    let planted = host.path().join("perf-1.map");
    std::fs::write(&planted, "1000 100 planted_outside_root\n").unwrap();
    let bin = static_workload("short");
    let name_of_0x1010 = |prepare: &dyn Fn(&Path)| -> String {
        let c = Container::start(&bin, &["10000"], prepare);
        let mut procs = prof::process::ProcessTable::default();
        assert!(procs.capture(c.pid, c.pid));
        let frames = prof::symbolize::Symbolizer::new().user(&mut procs, c.pid, &[0x1010]);
        frames[0][0].name.clone()
    };
    let tmp_links_out = name_of_0x1010(&|root| std::os::unix::fs::symlink(host.path(), root.join("tmp")).unwrap());
    let map_links_out = name_of_0x1010(&|root| {
        std::fs::create_dir(root.join("tmp")).unwrap();
        std::os::unix::fs::symlink(&planted, root.join("tmp/perf-1.map")).unwrap();
    });
    let map_inside = name_of_0x1010(&|root| {
        std::fs::create_dir(root.join("tmp")).unwrap();
        std::fs::write(root.join("tmp/perf-1.map"), "1000 100 inside_root\n").unwrap();
    });
    assert_eq!(tmp_links_out, "[unknown]+0x1010", "followed /tmp out of the container's root");
    assert_eq!(map_links_out, "[unknown]+0x1010", "followed the map's symlink out of the root");
    assert_eq!(map_inside, "inside_root");
}

/// A JIT in its own mount and PID namespace whose `/tmp` is a tmpfs of that namespace, recorded
/// as a command until it exits: its `/tmp` (and the namespace) are gone when the recording ends,
/// yet its JIT code is named from the `/tmp/perf-1.map` it wrote there (read at its exit event
/// when prof gets there before the kernel releases its root, else through its `/tmp` held open:
/// `symbolize_container_jit_map_after_exit` checks the latter alone).
#[test]
fn record_container_jit_map_read_after_exit() {
    let _m = bpf_test!("record_container_jit_map_read_after_exit");
    let root = tempfile::tempdir().unwrap();
    std::fs::copy(static_workload("jit"), root.path().join("app")).unwrap();
    std::fs::create_dir(root.path().join("tmp")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("x.prof");
    let script = r#"mount -t tmpfs none "$0/tmp" && exec chroot "$0" /app 2"#;
    let out = prof_ok(&[
        os("record"),
        os("-o"),
        archive.as_os_str(),
        os("--"),
        os("unshare"),
        os("--mount"),
        os("--pid"),
        os("--fork"),
        os("sh"),
        os("-c"),
        os(script),
        root.path().as_os_str(),
    ]);
    assert!(!root.path().join("tmp/perf-1.map").exists(), "the map was written on the host, not in a private /tmp");
    let p = common::assert_conserved(&archive);
    let app: Vec<_> = p.samples.iter().filter(|s| s.comm == "app").collect();
    let total: u64 = app.iter().map(|s| s.count).sum();
    let jitted: u64 = app
        .iter()
        .filter(|s| p.stack_frames(s.stack).any(|f| f.name == "jitted_hot_loop" && f.module == "[jit]"))
        .map(|s| s.count)
        .sum();
    println!("container after exit: {jitted} of {total} samples in jitted_hot_loop");
    assert!(total >= 50, "2 s of a busy JIT: {total} samples; {}", String::from_utf8_lossy(&out.stderr));
    assert!(jitted * 10 >= total * 8, "{:?}", function_names(&p));
}

/// The symbolizer alone: a JIT in its own mount and PID namespace with a tmpfs `/tmp` is captured
/// and seen, then exits (taking its namespace and `/tmp` with it) before its JIT address is
/// symbolized: the name still comes from its `/tmp/perf-1.map`, through the `/tmp` held open
/// since it was seen.
#[test]
fn symbolize_container_jit_map_after_exit() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI runs as root: namespaces must work");
        println!("SKIPPED symbolize_container_jit_map_after_exit: not root (needs namespaces)");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    std::fs::copy(static_workload("jit"), root.path().join("app")).unwrap();
    std::fs::create_dir(root.path().join("tmp")).unwrap();
    let script = r#"mount -t tmpfs none "$0/tmp" && exec chroot "$0" /app 30"#;
    let mut unshare = spawn_fresh(
        Command::new("unshare")
            .args(["--mount", "--pid", "--fork", "--kill-child", "sh", "-c", script])
            .arg(root.path()),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let (pid, map) = loop {
        let found = child_of(unshare.id()).and_then(|pid| {
            let map = std::fs::read_to_string(format!("/proc/{pid}/root/tmp/perf-1.map")).ok()?;
            Some((pid, map)).filter(|(_, m)| m.ends_with('\n'))
        });
        if let Some(found) = found {
            break found;
        }
        assert!(std::time::Instant::now() < deadline, "the container's JIT wrote no map");
        std::thread::sleep(Duration::from_millis(10));
    };
    let addr = u64::from_str_radix(map.split_whitespace().next().unwrap(), 16).unwrap();
    let mut procs = prof::process::ProcessTable::default();
    assert!(procs.capture(pid, pid));
    let mut sym = prof::symbolize::Symbolizer::new();
    sym.process_seen(&procs, pid);
    let _ = unshare.kill();
    let _ = unshare.wait();
    while Path::new(&format!("/proc/{pid}")).exists() {
        assert!(std::time::Instant::now() < deadline + Duration::from_secs(5), "the container did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
    let frames = sym.user(&mut procs, pid, &[addr + 2]);
    assert!(!root.path().join("tmp/perf-1.map").exists(), "the map was written on the host");
    assert_eq!(frames[0][0].name, "jitted_hot_loop", "{:?}", frames[0]);
}

/// A process that is PID 1 in its own PID namespace keeps that pid beside the host's: in the
/// archive, as `app [PID ns:1]` with `--pid-in-name`, in the `PID-NS` column of `--by pid`,
/// and as the pprof label `pid_ns`, which reads back.
#[test]
fn record_container_process_keeps_its_namespace_pid() {
    let _m = bpf_test!("record_container_process_keeps_its_namespace_pid");
    let c = Container::start(&static_workload("jit"), &["4"], |root| std::fs::create_dir(root.join("tmp")).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let p = record_pid(dir.path(), c.pid);
    let pid = c.pid;
    drop(c);
    assert!(p.samples.iter().any(|s| s.pid == pid), "no samples of {pid}");
    assert_eq!(p.ns_pids.iter().map(|(&k, &v)| (k, v)).collect::<Vec<_>>(), [(pid, 1)]);

    let archive = dir.path().join("x.prof");
    let root = format!("app [{pid} ns:1]");
    let folded_of = |input: &Path, name: &str| {
        let out = dir.path().join(name);
        prof_ok(&[os("report"), input.as_os_str(), os("--pid-in-name"), os("-o"), out.as_os_str()]);
        let folded = common::read_folded(&out);
        assert!(!folded.is_empty() && folded.iter().all(|(s, _)| s.starts_with(&format!("{root};"))), "{folded:?}");
        folded
    };
    let from_archive = folded_of(&archive, "a.folded");
    let table = String::from_utf8(prof_ok(&[os("report"), archive.as_os_str(), os("--by"), os("pid")]).stdout).unwrap();
    let mut lines = table.lines();
    assert!(lines.next().is_some_and(|l| l.ends_with("PID     PID-NS  COMM")), "{table}");
    let row = lines.next().unwrap_or_default().split_whitespace().skip(3).collect::<Vec<_>>();
    assert_eq!(row, [pid.to_string().as_str(), "1", "app"], "{table}");
    // pprof: the label, and what reads back from it (and from the folded file).
    let pprof = dir.path().join("x.pb.gz");
    prof_ok(&[os("report"), archive.as_os_str(), os("-o"), pprof.as_os_str()]);
    let message = prof::output::pprof::decode(&std::fs::read(&pprof).unwrap(), "x.pb.gz").unwrap();
    let text = |i: i64| String::from_utf8_lossy(&message.string_table[i as usize]).into_owned();
    let ns_labels: Vec<(i64, i64)> = message
        .sample
        .iter()
        .map(|s| {
            let num = |key: &str| s.label.iter().find(|l| text(l.key) == key).map_or(-1, |l| l.num);
            (num("pid"), num("pid_ns"))
        })
        .collect();
    assert!(!ns_labels.is_empty() && ns_labels.iter().all(|&l| l == (i64::from(pid), 1)), "{ns_labels:?}");
    let back = prof::input::load(&pprof, false).unwrap().profile;
    assert_eq!(back.ns_pids.get(&pid), Some(&1));
    assert_eq!(folded_of(&pprof, "b.folded"), from_archive);
    assert_eq!(folded_of(&dir.path().join("a.folded"), "c.folded"), from_archive);
}

/// The kernel's exec event says who the process is, so that capturing it reads neither
/// `/proc/PID/stat` nor `status`: its start time is the one `stat` gives, and its pid in its
/// own pid namespace 1 for a container's first process, its own pid for a host process.
#[test]
fn exec_event_tells_start_time_and_namespace_pid() {
    use prof::process::{start_time, NsPid};
    use prof::sample::{ProcEvent, Sampler, SamplerOptions};
    let _m = bpf_test!("exec_event_tells_start_time_and_namespace_pid");
    let mut sampler = Sampler::start(&SamplerOptions::default()).unwrap();
    let mut unshare =
        spawn_fresh(Command::new("unshare").args(["--pid", "--fork", "--kill-child", "sh", "-c", "exec sleep 3"]));
    let host = unshare.id();
    let mut inner = None;
    let mut execs = std::collections::HashMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while std::time::Instant::now() < deadline {
        inner = inner.or_else(|| child_of(host));
        for ev in sampler.poll_events(Duration::from_millis(50)).unwrap() {
            if let ProcEvent::Exec { tgid, known } = ev {
                execs.insert(tgid, known);
            }
        }
        if inner.is_some_and(|i| execs.contains_key(&i)) && execs.contains_key(&host) {
            break;
        }
    }
    let inner = inner.expect("unshare's child started");
    let (outer_known, inner_known) = (execs.get(&host).copied(), execs.get(&inner).copied());
    let (outer_start, inner_start) = (start_time(host), start_time(inner));
    let _ = unshare.kill();
    let _ = unshare.wait();
    sampler.stop().unwrap();
    let outer_known = outer_known.expect("unshare's exec event");
    let inner_known = inner_known.expect("the container process's exec event");
    assert_eq!((outer_known.start_time, outer_known.ns_pid), (outer_start, NsPid::Same));
    assert_eq!((inner_known.start_time, inner_known.ns_pid), (inner_start, NsPid::Nested(1)));
    assert!(outer_start.is_some() && inner_start.is_some());
}
