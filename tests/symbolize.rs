//! Symbolization without BPF: a process we start is captured, exits (and its binary is deleted),
//! and its addresses still resolve to the right functions, files and lines; kernel addresses
//! resolve through kallsyms; unknown addresses keep `module+0xoffset`.

mod common;
#[path = "common/symbols.rs"]
mod symbols;

use std::process::Command;

use prof::process::ProcessTable;
use prof::symbolize::Symbolizer;

/// Address of `symbol` in the running process `pid` whose executable is `exe`, from `nm` and
/// the mapping of the file at offset 0 (a PIE's load base).
fn runtime_addr(pid: u32, exe: &std::path::Path, symbol: &str) -> u64 {
    runtime_addr_in(&format!("/proc/{pid}/maps"), exe, symbol)
}

/// [`runtime_addr`] from the maps file at `maps` (e.g. one thread's).
fn runtime_addr_in(maps: &str, exe: &std::path::Path, symbol: &str) -> u64 {
    let nm = Command::new("nm").arg(exe).output().expect("nm (binutils) runs");
    let text = String::from_utf8_lossy(&nm.stdout);
    let value = text
        .lines()
        .find_map(|l| {
            let mut parts = l.split_whitespace();
            let (v, _, name) = (parts.next()?, parts.next()?, parts.next()?);
            (name == symbol).then(|| u64::from_str_radix(v, 16).unwrap())
        })
        .unwrap_or_else(|| panic!("{symbol} not in nm output"));
    let maps = std::fs::read_to_string(maps).unwrap();
    let name = exe.file_name().unwrap().to_str().unwrap();
    let base = maps
        .lines()
        .find(|l| l.contains(name) && l.split_whitespace().nth(2) == Some("00000000"))
        .map(|l| u64::from_str_radix(l.split('-').next().unwrap(), 16).unwrap())
        .expect("mapping at offset 0");
    base + value
}

/// A copy of the split workload named `name` in a temp dir, running, captured by a new
/// symbolizer; returns what the tests need, including the runtime address of `leaf_a`.
struct Running {
    _dir: tempfile::TempDir,
    exe: std::path::PathBuf,
    child: std::process::Child,
    pid: u32,
    leaf_a: u64,
    sym: Symbolizer,
    procs: ProcessTable,
}

/// Runs a binary just copied: a test on another thread that forks while the copy's file is
/// still open for writing makes exec fail with ETXTBSY for a moment (the child holds the
/// descriptor until its own exec), so retry briefly.
fn spawn_fresh(exe: &std::path::Path) -> std::process::Child {
    for _ in 0..100 {
        match Command::new(exe).arg("30").spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            other => return other.unwrap(),
        }
    }
    panic!("`{}` stayed busy (ETXTBSY) for 1 s", exe.display());
}

/// Captures `pid`, a process just spawned: until its exec has mapped its code, it has no
/// executable mapping to capture (tried for up to 1 s).
fn capture_once_mapped(procs: &mut ProcessTable, pid: u32) -> bool {
    for _ in 0..100 {
        if procs.capture(pid, pid) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

fn run_captured(name: &str) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join(name);
    std::fs::copy(common::workload("split"), &exe).unwrap();
    let child = spawn_fresh(&exe);
    let pid = child.id();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let leaf_a = runtime_addr(pid, &exe, "leaf_a");
    let sym = Symbolizer::new();
    let mut procs = ProcessTable::default();
    assert!(procs.capture(pid, pid));
    Running { _dir: dir, exe, child, pid, leaf_a, sym, procs }
}

/// A process that exited and whose binary was deleted still symbolizes: function, module, inline
/// chain, file and line; each address is symbolized once (cached), and an address outside any
/// mapping stays visible as `[unknown]+0x…`.
#[test]
fn symbolize_exited_process_with_deleted_binary() {
    let Running { _dir, exe, mut child, pid, leaf_a, mut sym, mut procs } = run_captured("gone");
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_file(&exe).unwrap();

    // 30 bytes into leaf_a is inside the inlined spin loop.
    let frames = sym.user(&mut procs, pid, &[leaf_a + 30, 0x10])[..].to_vec();
    let leaf = &frames[0];
    assert_eq!(leaf[0].name, "leaf_a", "{leaf:?}");
    assert_eq!(leaf[0].module, "gone");
    assert!(leaf.iter().any(|f| f.name == "spin" && f.inlined), "inline frame missing: {leaf:?}");
    assert!(leaf.last().unwrap().file.as_deref().unwrap_or("").ends_with("split.c"), "{leaf:?}");
    assert!(leaf.last().unwrap().line.is_some());
    assert_eq!(frames[1][0].name, "[unknown]+0x10");
    let resolved = sym.stats().resolved;
    sym.user(&mut procs, pid, &[leaf_a + 30]);
    assert_eq!(sym.stats().resolved, resolved, "the address was symbolized twice");
}

/// `symbols_only_for` (the recording profiler's own process) names that process's frames from
/// ELF symbols only, without inlined frames or lines, while a binary another process of the
/// same batch maps keeps its full frames for both.
#[test]
fn symbolize_symbols_only_for_own_process() {
    let Running { _dir, exe, mut child, pid, leaf_a, mut procs, .. } = run_captured("own");
    let mut sym = Symbolizer::new();
    sym.symbols_only_for(pid);
    let own = &sym.user(&mut procs, pid, &[leaf_a + 30])[0];
    assert_eq!(own[0].name, "leaf_a", "{own:?}");
    assert!(own.iter().all(|f| !f.inlined && f.file.is_none() && f.line.is_none()), "{own:?}");

    // The same binary run by another process: a batch with both names both fully.
    let mut other = spawn_fresh(&exe);
    let other_pid = other.id();
    assert!(capture_once_mapped(&mut procs, other_pid));
    let other_leaf = runtime_addr(other_pid, &exe, "leaf_a");
    let mut sym = Symbolizer::new();
    sym.symbols_only_for(pid);
    let (a, b) = (procs.instance(pid), procs.instance(other_pid));
    let frames = sym.user_batch(&mut procs, &[(a, vec![leaf_a + 30]), (b, vec![other_leaf + 30])]);
    for leaf in [&frames[0][0], &frames[1][0]] {
        assert!(leaf.iter().any(|f| f.name == "spin" && f.inlined), "inline frame missing: {leaf:?}");
        assert!(leaf.last().unwrap().line.is_some(), "{leaf:?}");
    }
    for c in [&mut child, &mut other] {
        c.kill().unwrap();
        c.wait().unwrap();
    }
}

/// Kernel addresses from /proc/kallsyms resolve to their function in `[kernel.kallsyms]`.
#[test]
fn symbolize_kernel_address_via_kallsyms() {
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let addr = kallsyms.lines().find_map(|l| {
        let mut p = l.split_whitespace();
        let (a, t, name) = (p.next()?, p.next()?, p.next()?);
        (name == "schedule" && (t == "T" || t == "t")).then(|| u64::from_str_radix(a, 16).unwrap())
    });
    let Some(addr) = addr.filter(|a| *a != 0) else {
        println!("SKIPPED symbolize_kernel_address_via_kallsyms: kallsyms addresses hidden (kptr_restrict)");
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI runs as root: kallsyms must be readable");
        return;
    };
    let mut sym = Symbolizer::new();
    let frames = sym.kernel(&[addr + 1]);
    assert_eq!(frames[0][0].name, "schedule");
    assert_eq!(frames[0][0].module, "[kernel.kallsyms]");
}

/// Evicting exited processes forgets their mappings and cached symbols, closes their binaries and
/// drops blazesym's mapping of them, even when the binary was replaced at its path meanwhile.
#[test]
fn symbolize_evicts_exited_processes_completely() {
    let Running { _dir, exe, mut child, pid, leaf_a, mut sym, mut procs } = run_captured("evictme");
    assert_eq!(sym.user(&mut procs, pid, &[leaf_a + 30])[0][0].name, "leaf_a");
    let mapped =
        || std::fs::read_to_string("/proc/self/maps").unwrap().lines().filter(|l| l.contains("evictme")).count();
    assert!(mapped() > 0, "blazesym should have mapped the binary to symbolize it");
    child.kill().unwrap();
    child.wait().unwrap();
    // A new build lands at the same path (new inode).
    std::fs::remove_file(&exe).unwrap();
    std::fs::write(&exe, b"not the same binary").unwrap();

    sym.process_exited(&procs, pid);
    procs.exited(pid);
    evict(&mut procs, &mut sym);
    assert_eq!(cache_sizes(&procs, &sym), (0, 0));
    assert_eq!(mapped(), 0, "the binary is still mapped after eviction");
}

/// A captured process that dies without an exit event (never sampled, or the event was lost) is
/// found through /proc and evicted at the second eviction after its death, not the first.
#[test]
fn symbolize_evicts_dead_processes_without_exit_events() {
    let Running { _dir, exe: _, mut child, pid, leaf_a, mut sym, mut procs } = run_captured("silent");
    sym.user(&mut procs, pid, &[leaf_a + 30]);
    let open = cache_sizes(&procs, &sym);
    assert!(open.0 >= 1 && open.1 >= 1);
    evict(&mut procs, &mut sym);
    assert_eq!(cache_sizes(&procs, &sym), open, "a live process is kept");
    child.kill().unwrap();
    child.wait().unwrap();
    evict(&mut procs, &mut sym);
    assert_eq!(cache_sizes(&procs, &sym), open, "kept one more interval for samples still in the kernel");
    evict(&mut procs, &mut sym);
    assert_eq!(cache_sizes(&procs, &sym), (0, 0));
}

/// What the recorder does after each interval: evict exited processes, forget their symbols.
fn evict(procs: &mut ProcessTable, sym: &mut Symbolizer) {
    let evicted = procs.evict_exited();
    sym.forget(&evicted);
}

/// Open binaries and cached user symbols.
fn cache_sizes(procs: &ProcessTable, sym: &Symbolizer) -> (usize, usize) {
    (procs.open_binaries(), sym.cached_user_symbols())
}

/// A binary whose DWARF is garbage but whose ELF symbol table is fine is still symbolized to
/// its functions from the symbol table (without inline frames or lines); only the debug
/// information is given up, not the binary.
#[test]
fn symbolize_garbage_dwarf_falls_back_to_the_symbol_table() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("garbled");
    let size = {
        let out = Command::new("readelf").args(["-S", "-W"]).arg(common::workload("split")).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text.lines().find(|l| l.contains(" .debug_info ")).expect("split is built with -g").to_string();
        let fields: Vec<&str> = line.split_whitespace().collect();
        let at = fields.iter().position(|f| *f == ".debug_info").unwrap();
        usize::from_str_radix(fields[at + 4], 16).unwrap()
    };
    let garbage = dir.path().join("garbage");
    let mut rng = fastrand::Rng::with_seed(7);
    std::fs::write(&garbage, (0..size).map(|_| rng.u8(..)).collect::<Vec<u8>>()).unwrap();
    let status = Command::new("objcopy")
        .arg(format!("--update-section=.debug_info={}", garbage.display()))
        .arg(common::workload("split"))
        .arg(&exe)
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = spawn_fresh(&exe);
    let pid = child.id();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let leaf_a = runtime_addr(pid, &exe, "leaf_a");
    let mut procs = ProcessTable::default();
    assert!(procs.capture(pid, pid));
    let mut sym = Symbolizer::new();
    let frames = sym.user(&mut procs, pid, &[leaf_a + 30]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(frames[0].last().unwrap().name, "leaf_a", "{:?}", frames[0]);
    assert!(frames[0].is_resolved());
}

/// A process whose leader thread exited (`pthread_exit`) while a worker runs: the leader's maps
/// are empty, yet capturing the process through the leader's id reads the worker's, and the
/// worker's addresses symbolize (issue 12 item 15: when the leader was sampled just before it
/// exited, the process was never captured and its samples stayed unsymbolized).
#[test]
fn symbolize_process_whose_leader_exited() {
    let exe = common::workload("leader_exit");
    let mut child = Command::new(&exe).arg("20").spawn().unwrap();
    let pid = child.id();
    let leader_maps = format!("/proc/{pid}/task/{pid}/maps");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::fs::read_to_string(&leader_maps).is_ok_and(|m| !m.is_empty()) {
        assert!(std::time::Instant::now() < deadline, "the leader did not exit");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let worker = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|&t| t != pid)
        .expect("the worker runs");
    let addr = runtime_addr_in(&format!("/proc/{pid}/task/{worker}/maps"), &exe, "worker_burn") + 4;
    let mut procs = ProcessTable::default();
    let captured = procs.capture(pid, pid);
    let frames = Symbolizer::new().user(&mut procs, pid, &[addr]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(captured, "the process was not captured through its leader's id");
    assert_eq!(frames[0].last().unwrap().name, "worker_burn", "{:?}", frames[0]);
}

/// A perf map owned by a non-root user other than the process's owner is ignored with a warning
/// naming the file and both owners, and its names are not used; the same map owned by the
/// process's owner, or by root, names the frame.
#[test]
fn symbolize_foreign_owned_perf_map_is_ignored_with_warning() {
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI runs as root: chown must work");
        println!("SKIPPED symbolize_foreign_owned_perf_map_is_ignored_with_warning: not root (needs chown)");
        return;
    }
    const OWNER: u32 = 4242;
    const STRANGER: u32 = 4243;
    let mut child = Command::new("sleep").arg("30").uid(OWNER).gid(OWNER).spawn().unwrap();
    let pid = child.id();
    let map = std::path::PathBuf::from(format!("/tmp/perf-{pid}.map"));
    std::fs::write(&map, "1000 100 planted_by_stranger\n").unwrap();
    // The name the map gives address 0x1010 (outside every mapping), with the map owned by `uid`.
    let name_with_owner = |uid: u32| {
        std::os::unix::fs::chown(&map, Some(uid), Some(uid)).unwrap();
        let mut procs = ProcessTable::default();
        assert!(procs.capture(pid, pid));
        let mut sym = Symbolizer::new();
        let frames = sym.user(&mut procs, pid, &[0x1010]);
        (frames[0][0].name.clone(), sym.take_warnings())
    };
    let foreign = name_with_owner(STRANGER);
    let own = name_with_owner(OWNER);
    let root = name_with_owner(0);
    let _ = std::fs::remove_file(&map);
    child.kill().unwrap();
    child.wait().unwrap();

    assert_eq!(foreign.0, "[unknown]+0x1010", "a foreign map's name was used");
    assert_eq!(foreign.1.len(), 1, "{:?}", foreign.1);
    let warning = &foreign.1[0];
    assert!(warning.starts_with("ignored perf map `") && warning.contains(&format!("perf-{pid}.map`")), "{warning}");
    assert!(warning.contains(&format!("owned by uid {STRANGER}, not by root or the process's owner (uid {OWNER})")));
    assert_eq!(own, ("planted_by_stranger".to_string(), vec![]));
    assert_eq!(root, ("planted_by_stranger".to_string(), vec![]));
}

/// The user stack of a process that exited before its mappings were read becomes one
/// `[exited] <comm>` placeholder frame above its kernel frames, keeping every sample; a live
/// process's stack in the same profile is symbolized as usual.
#[test]
fn symbolize_unread_exited_process_becomes_exited_placeholder() {
    use prof::aggregate::Aggregator;
    use prof::profile::{FrameKind, Metadata};
    use prof::sample::{RawCount, StackRef};
    let Running { _dir, exe: _, mut child, pid, leaf_a, mut sym, mut procs } = run_captured("alive");
    let mut gone = Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let kallsyms_addr = 0xffff_ffff_8100_0000;
    let raw = |tgid: u32, comm: &str, user: &[u64], count: u64| RawCount {
        tgid,
        start: 0,
        tid: tgid,
        cgroup: 0,
        comm: comm.to_string(),
        user: StackRef::Frames(user.into()),
        kernel: StackRef::Frames([kallsyms_addr].as_slice().into()),
        count,
        unwind: prof::profile::unwind::UnwindStatus::KernelFp,
        state: None,
        python: StackRef::Empty,
    };
    let mut counts = Aggregator::default();
    counts.add(vec![
        raw(gone_pid, "w_gone", &[0x5555_5555_1234, 0x5555_5555_2000], 7),
        raw(gone_pid, "w_gone", &[0x5555_5555_1300], 2),
        raw(pid, "alive", &[leaf_a + 30], 5),
    ]);
    let p = prof::symbolize::build_profile(&counts, &mut sym, &mut procs, Metadata::default());
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(p.total(), 14, "samples were dropped");
    let user_frames = |s: &prof::profile::Sample| -> Vec<String> {
        p.stack_frames(s.stack).filter(|f| f.kind != FrameKind::Kernel).map(|f| f.name.clone()).collect()
    };
    let gone_samples: Vec<_> = p.samples.iter().filter(|s| s.pid == gone_pid).collect();
    assert_eq!(gone_samples.iter().map(|s| s.count).sum::<u64>(), 9);
    for s in &gone_samples {
        assert_eq!(user_frames(s), vec!["[exited] w_gone".to_string()], "{:?}", p.frames);
        assert_eq!(p.stack_frames(s.stack).filter(|f| f.kind == FrameKind::Kernel).count(), 1, "kernel frame lost");
    }
    let alive: Vec<_> = p.samples.iter().filter(|s| s.pid == pid).collect();
    assert_eq!(alive.len(), 1);
    assert_eq!(user_frames(alive[0]).first().map(String::as_str), Some("leaf_a"), "{:?}", p.frames);
}

/// Two processes one after the other under the same PID, each with its own perf map at the same
/// path: each is named from its own map, and a map read for the first is never used for the
/// second; a map not read before the first exited is not read for it from the second's file.
#[test]
fn symbolize_perf_maps_of_processes_sharing_a_pid_stay_apart() {
    use prof::process::ProcessId;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI runs as root: ns_last_pid must be writable");
        println!("SKIPPED symbolize_perf_maps_of_processes_sharing_a_pid_stay_apart: not root (sets ns_last_pid)");
        return;
    }
    let mut first = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = first.id();
    let map = format!("/tmp/perf-{pid}.map");
    std::fs::write(&map, "1000 100 first_jit\n").unwrap();
    let mut procs = ProcessTable::default();
    assert!(capture_once_mapped(&mut procs, pid));
    let first_id = procs.instance(pid);
    let mut sym = Symbolizer::new();
    let mut unread = Symbolizer::new();
    let name = |sym: &mut Symbolizer, procs: &mut ProcessTable, p: ProcessId| {
        sym.user_batch(procs, &[(p, vec![0x1010])])[0][0][0].name.clone()
    };
    let first_name = name(&mut sym, &mut procs, first_id);
    first.kill().unwrap();
    first.wait().unwrap();
    // Start times count clock ticks: let one pass so the two processes differ.
    std::thread::sleep(std::time::Duration::from_millis(30));
    std::fs::write(&map, "1000 100 second_jit\n").unwrap();
    let second = common::spawn_as_pid(Command::new("sleep").arg("30"), pid);
    let Some(mut second) = second else {
        let _ = std::fs::remove_file(&map);
        panic!("could not get PID {pid} again");
    };
    assert!(capture_once_mapped(&mut procs, pid));
    let second_id = procs.instance(pid);
    let names = (
        name(&mut sym, &mut procs, second_id),
        name(&mut sym, &mut procs, first_id),
        name(&mut unread, &mut procs, first_id),
    );
    second.kill().unwrap();
    second.wait().unwrap();
    let _ = std::fs::remove_file(&map);
    assert_ne!(first_id.start, second_id.start);
    assert_eq!(first_name, "first_jit");
    assert_eq!(names.0, "second_jit", "the first process's map was used for the second");
    assert_eq!(names.1, "first_jit");
    assert_eq!(names.2, "[unknown]+0x1010", "the second's map was read for the first");
}

/// A binary rewritten in place (same inode, new contents: `cp` over it) after its process was
/// captured and exited: its addresses are not named from the new contents (whose functions sit
/// at the same offsets under other names); they stay `module+0x…`, with a warning naming the
/// binary and both build IDs.
#[test]
fn symbolize_binary_rewritten_in_place_is_not_trusted() {
    use std::os::unix::fs::MetadataExt;
    let Running { _dir, exe, mut child, pid, leaf_a, mut sym, mut procs } = run_captured("rewritten");
    child.kill().unwrap();
    child.wait().unwrap();
    let inode = std::fs::metadata(&exe).unwrap().ino();
    let renamed = common::split_renamed();
    std::fs::write(&exe, std::fs::read(renamed).unwrap()).unwrap();
    assert_eq!(std::fs::metadata(&exe).unwrap().ino(), inode, "not rewritten in place");
    let frames = sym.user(&mut procs, pid, &[leaf_a + 30]);
    let warnings = sym.take_warnings();
    assert!(frames[0].iter().all(|f| !f.name.starts_with("new_")), "named from the new contents: {:?}", frames[0]);
    assert!(frames[0][0].name.starts_with("rewritten+0x") && !frames[0].is_resolved(), "{:?}", frames[0]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("/rewritten` was rewritten in place"), "{warnings:?}");
    assert!(warnings[0].contains("build ID ") && warnings[0].contains(" now"), "{warnings:?}");
}

/// An address in a process's `[vdso]` is named from the vDSO's dynamic symbols, as `nm -D`
/// names them in the image dumped from the process: read from the process while it runs, and
/// from prof's own vDSO (the same kernel's) once it has exited.
#[test]
fn symbolize_vdso_frames_named_from_its_image() {
    let bin = common::plt_workload(common::PltKind::Plain);
    let mut captured = symbols::Captured::start(&bin);
    let (start, end, ..) = symbols::maps(captured.pid).into_iter().find(|m| m.3 == "[vdso]").expect("a [vdso] mapping");
    let image = std::fs::File::open(format!("/proc/{}/mem", captured.pid)).unwrap();
    let mut bytes = vec![0u8; (end - start) as usize];
    std::os::unix::fs::FileExt::read_exact_at(&image, &mut bytes, start).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dumped = dir.path().join("vdso.so");
    std::fs::write(&dumped, &bytes).unwrap();
    // x86_64's vDSO is linked at 0: a symbol's value is its offset in the mapping.
    let value = symbols::tool_row("nm", &["-D"], &dumped, |f| {
        (f.len() == 3 && f[2].split('@').next() == Some("__vdso_clock_gettime")).then(|| symbols::hex(f[0]))
    })
    .expect("__vdso_clock_gettime in the vDSO");
    let addrs = [start + value, start + value + 3, start];
    let expect = |frames: &[prof::symbolize::Frames]| {
        let names: Vec<(&str, &str)> = frames.iter().map(|f| (f[0].name.as_str(), f[0].module.as_str())).collect();
        assert_eq!(
            names,
            [("__vdso_clock_gettime", "[vdso]"), ("__vdso_clock_gettime", "[vdso]"), ("[vdso]+0x0", "[vdso]")]
        );
    };
    expect(&captured.symbolize(&addrs));
    captured.child.kill().unwrap();
    captured.child.wait().unwrap();
    captured.sym = Symbolizer::new();
    expect(&captured.symbolize(&addrs));
}
