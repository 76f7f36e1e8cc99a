//! Churn soak: a continuous system-wide recording while ~200 short processes a second start and
//! exit, spread over 1,000 distinct binaries (copies of one workload: each copy is its own file,
//! so its own cache entry). prof's resident memory, open descriptors and BPF map memory must
//! level off instead of growing with the number of processes seen.
//!
//! `PROF_SOAK_SECS` sets the length (default 90 s; the reliability case asks for an hour, which
//! `PROF_SOAK_SECS=3600 cargo test --test churn_soak` runs). The run is split in thirds: the
//! first warms up, and the last third's peaks may not exceed the middle third's by more than a
//! small margin (10% of RSS, one 512 KiB chunk of unwind rows), and descriptors never exceed one
//! per binary; a leak per process (6,000 processes per third at the default length) shows as
//! growth of its size times that count.
mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{workload, Background};

/// Distinct binaries the churn runs.
const BINARIES: usize = 1000;
/// Processes started per second.
const RATE: u64 = 200;

/// One reading of prof's footprint.
#[derive(Debug, Clone, Copy)]
struct Reading {
    rss_kib: u64,
    fds: u64,
    map_kib: u64,
}

/// prof's resident memory, open descriptors, and the memory of the BPF maps it holds open (the
/// `memlock` the kernel reports for each map descriptor).
fn read_footprint(pid: u32) -> Option<Reading> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches(" kB").parse().ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some(Reading { rss_kib, fds, map_kib: common::bpf_map_bytes(pid)? / 1024 })
}

/// Copies the `short` workload into `dir` `BINARIES` times.
fn binaries(dir: &Path) -> Vec<PathBuf> {
    let short = workload("short");
    (0..BINARIES)
        .map(|i| {
            let p = dir.join(format!("churn{i:04}"));
            std::fs::copy(&short, &p).unwrap();
            p
        })
        .collect()
}

/// Starts `RATE` processes a second round-robin over `bins`, each burning 2 ms, until `stop`;
/// returns how many were started.
fn churn(bins: Vec<PathBuf>, stop: Arc<AtomicBool>, started: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let t0 = Instant::now();
        let mut running: Vec<Child> = Vec::new();
        let mut n: u64 = 0;
        while !stop.load(Ordering::Relaxed) {
            let due = t0 + Duration::from_micros(n * 1_000_000 / RATE);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let bin = &bins[(n as usize) % bins.len()];
            if let Ok(c) = Command::new(bin).arg("2").stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
                running.push(c);
            }
            running.retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
            n += 1;
            started.store(n, Ordering::Relaxed);
        }
        for mut c in running {
            let _ = c.wait();
        }
    })
}

fn max_of(readings: &[Reading], f: impl Fn(&Reading) -> u64) -> u64 {
    readings.iter().map(f).max().unwrap_or(0)
}

#[test]
fn churn_soak_footprint_levels_off() {
    let _m = bpf_test!("churn_soak_footprint_levels_off");
    let secs: u64 = std::env::var("PROF_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(90).max(30);
    let dir = tempfile::tempdir().unwrap();
    let bins = binaries(dir.path());
    let archive_dir = dir.path().join("archives");
    let bg = Background::start(&[
        OsStr::new("record"),
        OsStr::new("--continuous"),
        OsStr::new("--dir"),
        archive_dir.as_os_str(),
        OsStr::new("--interval"),
        OsStr::new("5s"),
    ]);
    let pid = bg.child.id();
    let (stop, started) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let driver = churn(bins, stop.clone(), started.clone());
    let t0 = Instant::now();
    let mut readings = Vec::new();
    while t0.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(1));
        readings.push(read_footprint(pid).expect("prof is running"));
    }
    stop.store(true, Ordering::Relaxed);
    driver.join().unwrap();
    // Churn over: within three intervals every churned process is known dead and forgotten,
    // with its binaries' descriptors.
    std::thread::sleep(Duration::from_secs(16));
    let after = read_footprint(pid).expect("prof is running");
    bg.signal(libc::SIGINT);
    let (status, stderr) = bg.finish();
    assert!(status.success(), "{stderr}");

    let started = started.load(Ordering::Relaxed);
    let rate = started as f64 / secs as f64;
    assert!(rate > 0.8 * RATE as f64, "the churn reached only {rate:.0} processes/s");
    let third = readings.len() / 3;
    let (middle, last) = (&readings[third..2 * third], &readings[2 * third..]);
    let report = format!(
        "{started} processes over {secs} s ({rate:.0}/s); peaks middle/last third: RSS {}/{} KiB, fds {}/{}, \
         BPF maps {}/{} KiB; first {:?}",
        max_of(middle, |r| r.rss_kib),
        max_of(last, |r| r.rss_kib),
        max_of(middle, |r| r.fds),
        max_of(last, |r| r.fds),
        max_of(middle, |r| r.map_kib),
        max_of(last, |r| r.map_kib),
        readings[0],
    );
    println!("churn soak: {report}; 16 s after the churn: {after:?}");
    let rss_mid = max_of(middle, |r| r.rss_kib);
    assert!(max_of(last, |r| r.rss_kib) <= rss_mid + (rss_mid / 10).max(8 * 1024), "RSS still growing: {report}");
    // The descriptors held at a moment are one per binary mapped by a process alive across the
    // last few intervals: near all 1,000 of the churn's, how near depends on how the intervals
    // fall (peaks of 957 then 1,021 were seen), so "the last third's peak above the middle
    // third's" is no test of a leak. What a leak per process breaks is the bound: never more
    // than one descriptor per binary on top of what prof held before the churn.
    assert!(
        max_of(&readings, |r| r.fds) <= readings[0].fds + BINARIES as u64 + 16,
        "more descriptors than binaries: {report}"
    );
    assert!(after.fds <= readings[0].fds + 16, "descriptors not closed after the churn: {after:?}; {report}");
    // The fixed maps never change; unwind rows come in 512 KiB chunks made as tables load (the
    // churn's 1,000 tables in the first seconds). A table kept per process, or chunks never
    // freed, would keep adding chunks; one more for a binary the machine starts meanwhile is
    // allowed.
    let maps: Vec<u64> = readings.iter().map(|r| r.map_kib).collect();
    assert!(maps.iter().all(|&m| m > 0), "no BPF map memory read: {maps:?}");
    // One chunk is 512 KiB of rows plus the map's own page or so.
    let chunk_kib = prof::sample::row_chunks::CHUNK_BYTES / 1024 + 16;
    assert!(
        max_of(last, |r| r.map_kib) <= max_of(middle, |r| r.map_kib) + chunk_kib,
        "BPF map memory still growing: {maps:?}"
    );
    // The churned processes were sampled and symbolized: the soak exercised the caches.
    let merged = dir.path().join("all.folded");
    common::prof_ok(&[
        OsStr::new("report"),
        archive_dir.as_os_str(),
        OsStr::new("--from"),
        OsStr::new("-1h"),
        OsStr::new("-o"),
        merged.as_os_str(),
    ]);
    let folded = common::read_folded(&merged);
    let churned = common::count_where(&folded, |s| s.starts_with("churn"));
    let burning = common::count_where(&folded, |s| s.starts_with("churn") && common::has_frame(s, "short_burn"));
    // The rest is the dynamic loader starting each process (CPU feature probing is slow in a
    // VM), named too; and processes gone before their mappings could be read, kept as one
    // `[exited] <comm>` frame. A leaf left as `module+0x…` in a captured process means the caches
    // failed it.
    let exited = common::count_where(&folded, |s| s.starts_with("churn") && s.contains(";[exited] churn"));
    let named_leaf = |s: &str| s.rsplit(';').next().is_some_and(|f| !f.contains("+0x"));
    let named = common::count_where(&folded, |s| s.starts_with("churn") && !s.contains(";[exited] ") && named_leaf(s));
    let captured = churned - exited;
    assert!(churned > 100, "only {churned} samples of the churned processes: {report}");
    assert!(burning * 10 >= churned * 3, "{burning} of {churned} churn samples in short_burn");
    assert!(exited * 4 <= churned, "{exited} of {churned} churn samples in processes never captured");
    let unnamed: Vec<&(String, u64)> =
        folded.iter().filter(|(s, _)| s.starts_with("churn") && !s.contains(";[exited] ") && !named_leaf(s)).collect();
    assert!(
        named * 100 >= captured * 97,
        "{named} of {captured} captured churn samples end in a named function: {unnamed:?}"
    );
    println!("churn soak: {churned} churn samples, {burning} in short_burn, {exited} exited before capture, {named} of the rest named");
}

/// prof raises its own open-files limit (it keeps one descriptor per binary mapped) but the
/// command it starts gets the limit prof was given.
#[test]
fn record_raises_open_files_limit_but_not_the_commands() {
    let _m = bpf_test!("record_raises_open_files_limit_but_not_the_commands");
    let dir = tempfile::tempdir().unwrap();
    let (mine, profs) = (dir.path().join("mine"), dir.path().join("prof_limits"));
    let script = format!("ulimit -Sn > '{}'; cat /proc/$PPID/limits > '{}'", mine.display(), profs.display());
    let out = Command::new("prlimit")
        .args(["--nofile=1000:5000", "--"])
        .arg(env!("CARGO_BIN_EXE_prof"))
        .args(["record", "-o"])
        .arg(dir.path().join("x.folded"))
        .args(["--", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(&mine).unwrap().trim(), "1000", "the command's soft limit");
    let limits = std::fs::read_to_string(&profs).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&fields[3..5], ["5000", "5000"], "prof's limits: {line}");
}
