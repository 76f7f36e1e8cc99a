//! perf's habits at `prof record` (docs/perf-users.md): `-g`, `--call-graph fp|dwarf|lbr`, `-a`,
//! `-e cycles|cpu-clock` and a command without `--` work or say what prof does instead; what
//! prof cannot do is refused with a message naming the alternatives.

mod common;

use std::ffi::OsStr;

/// Runs `prof record ARGS…` with `-o DIR/x.prof`; returns the exit code, stderr and the archive
/// (if written).
fn record(args: &[&str]) -> (Option<i32>, String, Option<prof::profile::Profile>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.prof");
    let run = common::prof().arg("record").arg("-o").arg(&out).args(args.iter().map(OsStr::new)).output().unwrap();
    let archive = prof::archive::read_file(&out).ok();
    (run.status.code(), String::from_utf8_lossy(&run.stderr).into_owned(), archive)
}

/// Options prof cannot honour are usage errors (exit 2) that say what it accepts; no BPF needed.
#[test]
fn perf_habits_refused_with_what_prof_accepts() {
    let (code, stderr, _) = record(&["--call-graph", "bogus", "-d", "1"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("expected fp, dwarf[,SIZE] or lbr"), "{stderr}");
    let (code, stderr, _) = record(&["--call-graph", "dwarf,lots", "-d", "1"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("stack dump size"), "{stderr}");
    let (code, stderr, _) = record(&["-e", "cache-misses", "-d", "1"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("prof samples with `cycles` or `cpu-clock`"), "{stderr}");
    let (code, stderr, _) = record(&["--call-graph", "fp", "--unwind", "auto", "-d", "1"]);
    assert_eq!(code, Some(2), "{stderr}");
    let (code, stderr, _) = record(&["-a", "-p", "1", "-d", "1"]);
    assert_eq!(code, Some(2), "{stderr}");
}

/// `-g -a -e cpu-clock` record the whole system with the software timer and a note about `-g`;
/// `--call-graph fp` is `--unwind fp`, `--call-graph dwarf,SIZE` is `--unwind auto` with a note.
#[test]
fn perf_habits_record_as_perf_users_type_them() {
    let _m = bpf_test!("perf_habits_record_as_perf_users_type_them");
    let (code, stderr, archive) = record(&["-g", "-a", "-e", "cpu-clock", "-d", "1"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("prof: note: -g: prof always records call graphs"), "{stderr}");
    let archive = archive.expect("archive written");
    assert_eq!(archive.meta.event, prof::profile::SampledEvent::Perf(prof::profile::EventKind::CpuClock));
    assert_eq!(archive.meta.unwind.modes.only(), Some(prof::profile::unwind::UnwindMode::Auto));

    let (code, stderr, archive) = record(&["--call-graph", "fp", "-d", "1"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(archive.unwrap().meta.unwind.modes.only(), Some(prof::profile::unwind::UnwindMode::Fp));

    let (code, stderr, archive) = record(&["--call-graph", "dwarf,16384", "-d", "1"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("--call-graph dwarf: prof unwinds with each binary's DWARF tables"), "{stderr}");
    assert_eq!(archive.unwrap().meta.unwind.modes.only(), Some(prof::profile::unwind::UnwindMode::Auto));
}

/// A command after the options needs no `--`, its own options included; `-a` with a command
/// records the whole system while the command runs, as `perf record -a -- sleep N` does.
#[test]
fn perf_habits_command_without_double_dash() {
    let _m = bpf_test!("perf_habits_command_without_double_dash");
    let (code, stderr, archive) = record(&["sh", "-c", "exit 4"]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("command exited: exit status: 4"), "{stderr}");
    assert!(archive.expect("archive written").meta.target.starts_with("sh"));
    // A process the command has nothing to do with, busy for the whole recording.
    let mut busy = std::process::Command::new(common::workload("short")).arg("4000").spawn().unwrap();
    let (code, stderr, archive) = record(&["-a", "sh", "-c", "sleep 1.5; exit 3"]);
    busy.kill().unwrap();
    busy.wait().unwrap();
    assert_eq!(code, Some(3), "{stderr}");
    let archive = archive.expect("archive written");
    assert_eq!(archive.meta.target, "system-wide while `sh (+2 args)` ran");
    let short: u64 = archive.samples.iter().filter(|s| s.comm == "w_short").map(|s| s.count).sum();
    // 1.5 s at 99 Hz of a process on the CPU all along: ~148 samples.
    assert!(short >= 100, "{short} samples of the busy process; {stderr}");
}
