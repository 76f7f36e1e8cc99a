//! `prof record --off-cpu` on a workload whose blocking is known (tests/workloads/offcpu.c):
//! its main thread spends 70% of each 10 ms period in nanosleep and 30% blocked reading a pipe
//! that a feeder thread writes once a period. The off-CPU profile must split the main thread's
//! time 70/30 between those stacks, add up to the threads' wall time, name the user and kernel
//! frames, and say it counts nanoseconds in every format. Needs root (or CAP_BPF + CAP_PERFMON).

mod common;

use std::ffi::OsStr;
use std::time::Instant;

use common::{count_where, has_frame, prof, prof_ok, read_folded, workload};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// The sample types (`type/unit`) of a pprof file.
fn sample_types(path: &std::path::Path) -> Vec<String> {
    let proto = prof::output::pprof::decode(&std::fs::read(path).unwrap(), "pprof").expect("pprof reads");
    let text = |i: i64| String::from_utf8_lossy(&proto.string_table[i as usize]).into_owned();
    proto.sample_type.iter().map(|t| format!("{}/{}", text(t.r#type), text(t.unit))).collect()
}

/// Seconds the workload runs (and is recorded).
const SECONDS: f64 = 3.0;

/// The main thread's off-CPU time is 70% nanosleep and 30% pipe read within 5 points, under
/// the user frames main → sleeper → nanosleep and main → reader → read; the two threads' blocked time adds up to their
/// wall time within 5%; stacks end in the scheduler (no frame of prof's own BPF program); the
/// folded weights are nanoseconds and `prof report` reads them back as ms; the pprof has the
/// `off_cpu/nanoseconds` sample type.
#[test]
fn offcpu_shares_follow_known_blocking() {
    let _m = bpf_test!("offcpu_shares_follow_known_blocking");
    let bin = workload("offcpu");
    let dir = tempfile::tempdir().unwrap();
    let folded = dir.path().join("off.folded");
    let pprof = dir.path().join("off.pb.gz");
    let secs = SECONDS.to_string();
    let started = Instant::now();
    let out = prof_ok(&[
        os("record"),
        os("--off-cpu"),
        os("-o"),
        folded.as_os_str(),
        os("-o"),
        pprof.as_os_str(),
        os("--"),
        bin.as_os_str(),
        os(&secs),
    ]);
    let wall = started.elapsed().as_secs_f64();
    let summary = String::from_utf8_lossy(&out.stderr).into_owned();
    println!("{summary}");
    assert!(summary.contains("ms blocked from 1 process (off-cpu on"), "{summary}");

    let stacks = read_folded(&folded);
    let main: Vec<(String, u64)> = stacks.iter().filter(|(s, _)| s.starts_with("w_offcpu;")).cloned().collect();
    let main_total = count_where(&main, |_| true);
    // Shares by where the thread blocked (the kernel's nanosleep or pipe read), whatever user
    // frames were walked; then the user frames by name.
    let sleeping = count_where(&main, |s| has_frame(s, "do_nanosleep_[k]"));
    let reading = count_where(&main, |s| has_frame(s, "anon_pipe_read_[k]") || has_frame(s, "pipe_read_[k]"));
    let named = count_where(&main, |s| {
        let user: Vec<&str> = s.split(';').take_while(|f| !f.ends_with("_[k]")).collect();
        let called = |a: &str, b: &str| user.windows(2).any(|w| w[0] == a && w[1] == b);
        (called("main", "sleeper") && user.iter().any(|f| f.contains("nanosleep")))
            || (called("main", "reader") && user.iter().any(|f| f.contains("read")))
    });
    let pct = |n: u64| n as f64 * 100.0 / main_total as f64;
    println!(
        "main thread: {main_total} ns off the CPU: {:.1}% in nanosleep, {:.1}% in read; {:.1}% under \
         main;sleeper;…nanosleep or main;reader;…read",
        pct(sleeping),
        pct(reading),
        pct(named)
    );
    assert!((pct(sleeping) - 70.0).abs() <= 5.0, "nanosleep share {:.1}%: {main:#?}", pct(sleeping));
    assert!((pct(reading) - 30.0).abs() <= 5.0, "read share {:.1}%: {main:#?}", pct(reading));
    // Walks that reach libc before its unwind table is built fall back to frame pointers
    // (libc has none) and miss a frame or two: the first tens of ms at most.
    assert!(pct(named) >= 90.0, "user frames named for {:.1}%: {main:#?}", pct(named));

    // Both threads are blocked nearly all the time: their off-CPU time is their wall time.
    let threads = count_where(&stacks, |s| s.starts_with("w_offcpu;") || s.starts_with("feeder;"));
    let expected = 2.0 * SECONDS * 1e9;
    println!("threads: {:.1} ms blocked of {:.1} ms wall (prof ran {wall:.2} s)", threads as f64 / 1e6, expected / 1e6);
    assert!((threads as f64 - expected).abs() <= 0.05 * expected, "{threads} ns blocked, expected ~{expected}");

    // The reason is the root frame under the comm; stacks end in the scheduler.
    for (s, n) in &stacks {
        let reason = s.split(';').nth(1).unwrap_or("");
        assert!(reason.starts_with("[off-cpu: ") && reason.ends_with(']'), "{s} {n}");
        assert!(!s.contains("bpf_prog_") && !s.contains("bpf_trace_run"), "prof's own frames: {s}");
    }
    let in_schedule = count_where(&main, |s| s.ends_with(";__schedule_[k]"));
    assert!(in_schedule as f64 >= 0.99 * main_total as f64, "{main:#?}");
    assert!(count_where(&main, |s| s.starts_with("w_offcpu;[off-cpu: sleeping];")) as f64 >= 0.95 * main_total as f64);

    // Folded weights are nanoseconds: prof reads the file back as time blocked.
    let table = prof_ok(&[os("report"), folded.as_os_str(), os("--top"), os("5")]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    println!("{table}");
    let last = table.lines().last().unwrap_or("");
    let ms: f64 =
        last.strip_suffix(" ms blocked in total").and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{table}"));
    let all = count_where(&stacks, |_| true);
    assert!((ms - all as f64 / 1e6).abs() < 0.1, "{ms} ms vs {all} ns");

    // The pprof says what its values are, and reads back as the same time.
    let raw = std::process::Command::new(env!("CARGO_BIN_EXE_prof"))
        .args([os("report"), pprof.as_os_str(), os("-o"), os("-")])
        .output()
        .unwrap();
    assert!(raw.status.success());
    assert_eq!(sample_types(&pprof), ["off_cpu/nanoseconds"]);
    let back = String::from_utf8_lossy(&raw.stdout).into_owned();
    let back_total: u64 =
        back.lines().filter_map(|l| l.rsplit_once(' ')).map(|(_, c)| c.parse::<u64>().unwrap_or(0)).sum();
    assert_eq!(back_total, all);
}

/// `-p PID` records the blocking of that process's threads only: another process blocking the
/// same way (same program) is not in the profile, and the target's two threads are blocked for
/// about the recording's length each.
#[test]
fn offcpu_pid_filter_sees_only_the_target() {
    let _m = bpf_test!("offcpu_pid_filter_sees_only_the_target");
    let bin = workload("offcpu");
    // The target and another instance of the same program, blocking the same way.
    let mut both: Vec<std::process::Child> =
        (0..2).map(|_| std::process::Command::new(&bin).arg("60").spawn().unwrap()).collect();
    let pid = both[0].id().to_string();
    let dir = tempfile::tempdir().unwrap();
    let folded = dir.path().join("p.folded");
    let args = [os("record"), os("--off-cpu"), os("-p"), os(&pid), os("-d"), os("2"), os("--pid-in-name")];
    let out = prof().args(args).arg("-o").arg(&folded).output().unwrap();
    for child in &mut both {
        let _ = (child.kill(), child.wait());
    }
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stacks = read_folded(&folded);
    let roots = [format!("w_offcpu [{pid}]"), format!("feeder [{pid}]")];
    for (s, n) in &stacks {
        assert!(roots.iter().any(|r| s.split(';').next() == Some(r.as_str())), "not the target: {s} {n}");
    }
    let main = count_where(&stacks, |s| s.starts_with(&format!("{};", roots[0])));
    let feeder = count_where(&stacks, |s| s.starts_with(&format!("{};", roots[1])));
    println!("-p {pid}: main {:.1} ms, feeder {:.1} ms blocked in 2 s", main as f64 / 1e6, feeder as f64 / 1e6);
    for blocked in [main, feeder] {
        assert!((1.8e9..=2.2e9).contains(&(blocked as f64)), "{blocked} ns blocked in a 2 s recording");
    }
}

/// A block far longer than a drain interval keeps its stacks: they are swept out of the kernel
/// at the next drains while the thread sleeps, and must still be known when its time is
/// counted. One sleep of 1.5 s recorded with a drain every 100 ms: it is counted whole, under
/// the kernel's nanosleep and main → once → sleeper, with no placeholder for a lost stack.
#[test]
fn offcpu_long_block_keeps_its_stacks() {
    let _m = bpf_test!("offcpu_long_block_keeps_its_stacks");
    let bin = workload("offcpu");
    let dir = tempfile::tempdir().unwrap();
    let folded = dir.path().join("sleep.folded");
    let args = [os("record"), os("--off-cpu"), os("--drain-interval"), os("100ms"), os("-o")];
    prof_ok(&[&args[..], &[folded.as_os_str(), os("--"), bin.as_os_str(), os("--once"), os("1.5")]].concat());
    let stacks = read_folded(&folded);
    let long = |s: &str| has_frame(s, "do_nanosleep_[k]") && has_frame(s, "sleeper");
    let sleeping = stacks.iter().filter(|(s, _)| long(s)).map(|(_, n)| *n).max().unwrap_or(0);
    println!("{:.1} ms under main;once;sleeper: {stacks:#?}", sleeping as f64 / 1e6);
    // The 1.5 s sleep, and the warm-up's 30 sleeps of 10 ms whose walks had the table.
    assert!((1.5e9..1.9e9).contains(&(sleeping as f64)), "{sleeping} ns in the longest sleep stack");
    assert!(stacks.iter().all(|(s, _)| !s.contains("[missing")), "{stacks:#?}");
    assert!(stacks.iter().any(|(s, n)| *n >= 1_500_000_000 && s.contains(";main;once;sleeper;")), "{stacks:#?}");
}

/// `--wall`: on-CPU samples weighted by the sampling period and off-CPU time add up, for each
/// thread, to its wall time (two threads spinning for 3 s and the main thread waiting for
/// them, each within 8%), under `[on-cpu]` (with the spinning function) and `[off-cpu: …]`;
/// the pprof's sample type is `wall/nanoseconds`.
#[test]
fn offcpu_wall_adds_up_to_each_threads_wall_time() {
    let _m = bpf_test!("offcpu_wall_adds_up_to_each_threads_wall_time");
    let dir = tempfile::tempdir().unwrap();
    let bin = workload("threads");
    let (folded, pprof) = (dir.path().join("w.folded"), dir.path().join("w.pb.gz"));
    let args = [os("record"), os("--wall"), os("-F"), os("999"), os("-o"), folded.as_os_str(), os("-o")];
    prof_ok(&[&args[..], &[pprof.as_os_str(), os("--"), bin.as_os_str(), os(&SECONDS.to_string())]].concat());
    let stacks = read_folded(&folded);
    for comm in ["w_threads", "thr_a", "thr_b"] {
        let prefix = format!("{comm};");
        let total = count_where(&stacks, |s| s.starts_with(&prefix));
        let on_cpu = count_where(&stacks, |s| s.starts_with(&format!("{comm};[on-cpu];")));
        println!("{comm}: {:.1} ms, {:.1} ms on the CPU", total as f64 / 1e6, on_cpu as f64 / 1e6);
        assert!((total as f64 - SECONDS * 1e9).abs() <= 0.08 * SECONDS * 1e9, "{comm}: {total} ns: {stacks:#?}");
    }
    for (comm, spin) in [("thr_a", "spin_a"), ("thr_b", "spin_b")] {
        let spinning = count_where(&stacks, |s| s.starts_with(&format!("{comm};[on-cpu];")) && has_frame(s, spin));
        assert!(spinning as f64 >= 0.3 * SECONDS * 1e9, "{comm}: {spinning} ns in {spin}: {stacks:#?}");
    }
    for (s, n) in &stacks {
        let state = s.split(';').nth(1).unwrap_or("");
        assert!(state == "[on-cpu]" || state.starts_with("[off-cpu: "), "{s} {n}");
    }
    let waiting = count_where(&stacks, |s| s.starts_with("w_threads;[off-cpu: sleeping];"));
    assert!(waiting as f64 >= 0.9 * SECONDS * 1e9, "main thread waiting {waiting} ns: {stacks:#?}");
    assert_eq!(sample_types(&pprof), ["wall/nanoseconds"]);
}

/// Lock contention: four workers take turns on one mutex, each holding it while it sleeps, so
/// that at any time three wait in the futex. The workers' off-CPU time is 75% in the futex wait
/// (under contend → pthread_mutex_lock and the kernel's futex_wait) and 25% in the holder's
/// nanosleep, within 5 points.
#[test]
fn offcpu_lock_contention_shows_futex_waits() {
    let _m = bpf_test!("offcpu_lock_contention_shows_futex_waits");
    let bin = workload("lockwait");
    let dir = tempfile::tempdir().unwrap();
    let folded = dir.path().join("lock.folded");
    let args = [os("record"), os("--off-cpu"), os("-o"), folded.as_os_str(), os("--"), bin.as_os_str()];
    prof_ok(&[&args[..], &[os(&SECONDS.to_string())]].concat());
    let stacks = read_folded(&folded);
    let workers: Vec<(String, u64)> = stacks.iter().filter(|(s, _)| s.starts_with("worker;")).cloned().collect();
    let total = count_where(&workers, |_| true);
    let futex = count_where(&workers, |s| has_frame(s, "futex_wait_[k]"));
    let named = count_where(&workers, |s| {
        has_frame(s, "futex_wait_[k]") && s.contains(";worker;contend;") && s.contains("pthread_mutex_lock")
    });
    let holding = count_where(&workers, |s| has_frame(s, "do_nanosleep_[k]"));
    let pct = |n: u64| n as f64 * 100.0 / total as f64;
    println!(
        "workers: {:.1} ms off the CPU: {:.1}% futex wait ({:.1}% under contend;…pthread_mutex_lock), {:.1}% holding",
        total as f64 / 1e6,
        pct(futex),
        pct(named),
        pct(holding)
    );
    assert!((total as f64 - 4.0 * SECONDS * 1e9).abs() <= 0.05 * 4.0 * SECONDS * 1e9, "{total} ns: {workers:#?}");
    assert!((pct(futex) - 75.0).abs() <= 5.0, "{workers:#?}");
    assert!((pct(holding) - 25.0).abs() <= 5.0, "{workers:#?}");
    assert!(pct(named) >= 0.9 * pct(futex), "{workers:#?}");
}

/// The number in a summary line `  <prefix>N<suffix>`, e.g. `  note: 29371 blocks off the CPU
/// counted`.
fn summary_number(summary: &str, prefix: &str, suffix: &str) -> Option<u64> {
    summary.lines().find_map(|l| l.trim_start().strip_prefix(prefix)?.strip_suffix(suffix)?.parse().ok())
}

/// 10,000 context switches a second (ten threads sleeping on a 1 ms absolute schedule for 3 s):
/// nothing is lost, the blocks counted are the switches the workload made (getrusage: a loaded
/// machine makes fewer than 30,000, since a sleep whose time has passed does not block) within
/// 3%, and the eleven threads' blocked time is their wall time within 5%. With a budget of 1,000
/// switch-outs per CPU per second the rest is counted as lost for that reason, and counted plus
/// lost is again the workload's switches.
#[test]
fn offcpu_ten_thousand_switches_a_second_lose_nothing() {
    let _m = bpf_test!("offcpu_ten_thousand_switches_a_second_lose_nothing");
    let bin = workload("switches");
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("sw.prof");
    let run = |budget: &str| {
        let args = [os("record"), os("--off-cpu"), os("--off-cpu-budget"), os(budget), os("-o")];
        let tail = [archive.as_os_str(), os("--"), bin.as_os_str(), os("10"), os("1000"), os("3")];
        let out = prof_ok(&[&args[..], &tail[..]].concat());
        let summary = String::from_utf8_lossy(&out.stderr).into_owned();
        println!("{summary}");
        let counted = summary_number(&summary, "note: ", " blocks off the CPU counted").expect("blocks counted");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let made = summary_number(&stdout, "voluntary switches ", "").expect("the workload's switches");
        println!("the workload made {made} voluntary switches");
        assert!(made >= 20_000, "the workload made only {made} switches in 3 s: the rate is not tested");
        (summary, counted, made)
    };
    let (summary, counted, made) = run("20000");
    let profile = prof::archive::read_file(&archive).expect("archive reads");
    // Blocks under --min-block (1 µs) are skipped by design, not lost.
    let lost: Vec<_> = profile.meta.losses.keys().filter(|r| **r != prof::profile::LossReason::OffCpuShort).collect();
    assert!(lost.is_empty(), "{lost:?}\n{summary}");
    assert!(counted.abs_diff(made) * 100 <= made * 3, "{counted} blocks counted, {made} made\n{summary}");
    let expected = 11.0 * 3.0 * 1e9;
    let total = profile.total() as f64;
    assert!((total - expected).abs() <= 0.05 * expected, "{total} ns blocked, expected ~{expected}");

    let (summary, limited, made) = run("1000");
    let suffix = " blocks (blocks not recorded: a CPU's --off-cpu-budget was spent)";
    let lost = summary_number(&summary, "lost: ", suffix).expect("budget losses");
    let profile = prof::archive::read_file(&archive).expect("archive reads");
    assert_eq!(profile.meta.losses.get(&prof::profile::LossReason::OffCpuBudget), Some(&lost));
    // Each CPU records at most 1,000 a second: 2 CPUs, 3 s (and a partial second).
    assert!(limited <= 2 * 4 * 1000, "{limited} blocks counted\n{summary}");
    assert!((limited + lost).abs_diff(made) * 100 <= made * 3, "{limited} + {lost} blocks vs {made} made");
}
