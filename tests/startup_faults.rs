//! Faults at start-up, made real on this machine: bpf() hidden by a seccomp filter (ENOSYS), an
//! old kernel as uname(2) reports it (the UNAME26 personality), a low memlock limit (prlimit),
//! a frequency above kernel.perf_event_max_sample_rate, and no PMU. Each asserts the message,
//! the exit status and the files written. Needs root or CAP_BPF+CAP_PERFMON; skips with a
//! reason outside CI, fails in CI.

mod common;

use std::ffi::OsStr;
use std::process::{Command, Output};

use common::workload;
use prof::profile::EventKind;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn prof_bin() -> &'static OsStr {
    OsStr::new(env!("CARGO_BIN_EXE_prof"))
}

fn max_sample_rate() -> u64 {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_max_sample_rate").unwrap().trim().parse().unwrap()
}

/// bpf() returning ENOSYS (a seccomp filter stands in for a kernel without it) is "eBPF is not
/// available", not the EPERM refusal: exit 1, no output file.
#[test]
fn startup_bpf_enosys_is_unavailable_not_refused() {
    let _m = bpf_test!("startup_bpf_enosys_is_unavailable_not_refused");
    let deny = workload("deny_syscall");
    let dir = tempfile::tempdir().unwrap();
    let folded = dir.path().join("x.folded");
    let out = Command::new(&deny)
        .args([OsStr::new("ENOSYS"), OsStr::new("bpf"), prof_bin()])
        .args(["record", "-d", "1", "-o"])
        .arg(&folded)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("eBPF is not available: bpf() returned ENOSYS"), "{err}");
    assert!(!err.contains("refused") && !err.contains("missing: CAP_"), "{err}");
    assert!(!folded.exists(), "nothing recorded, nothing written");

    // The same filter with EPERM is the other message.
    let out = Command::new(&deny)
        .args([OsStr::new("EPERM"), OsStr::new("bpf"), prof_bin()])
        .args(["record", "-d", "1", "-o"])
        .arg(&folded)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the kernel refused bpf()") && !err.contains("not available"), "{err}");
    assert!(!folded.exists());
}

/// A kernel older than 5.8 as uname(2) reports it (`setarch --uname-2.6`: 2.6.x) is refused
/// with the release, the minimum and the override flag, before any file is written. With
/// `--no-kernel-version-check` prof records, after one warning naming the release, with the
/// fallback program (no `bpf_loop` before 5.17).
#[test]
fn startup_old_kernel_refused_unless_overridden() {
    let _m = bpf_test!("startup_old_kernel_refused_unless_overridden");
    let dir = tempfile::tempdir().unwrap();
    let folded = dir.path().join("x.folded");
    let record = |extra: &[&str]| {
        Command::new("setarch")
            .arg("--uname-2.6")
            .arg(prof_bin())
            .args(["record", "-d", "1", "--unwind", "fp"])
            .args(extra)
            .arg("-o")
            .arg(&folded)
            .output()
            .expect("setarch runs (util-linux)")
    };
    let out = record(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("kernel 2.6."), "{err}");
    assert!(err.contains("older than 5.8") && err.contains("--no-kernel-version-check"), "{err}");
    assert!(!folded.exists(), "refused before writing");

    let out = record(&["--no-kernel-version-check"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("prof: warning: kernel 2.6.")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("older than 5.8"), "{err}");
    // The full program's unwinder needs bpf_loop (5.17): the fallback program is loaded instead,
    // and one note says why and what that disables.
    let notes: Vec<&str> = err.lines().filter(|l| l.contains("has no bpf_loop (new in 5.17)")).collect();
    assert_eq!(notes.len(), 1, "{err}");
    assert!(notes[0].contains("sampling without CO-RE; disabled: unwinding with unwind tables"), "{err}");
    assert!(!std::fs::read_to_string(&folded).unwrap().is_empty(), "a system-wide second has samples");
}

/// Under a 64 KiB memlock limit prof records (it raises the limit for loading where it may, and
/// this kernel charges BPF memory to the memory cgroup anyway), and the command it spawns
/// inherits the limit prof was given (64 KiB), not the raised one: with the hard limit at 64 KiB
/// (raising it needs CAP_SYS_RESOURCE) and below a higher hard limit (prof lifts the soft one).
#[test]
fn startup_low_memlock_records_and_child_keeps_the_limit() {
    let _m = bpf_test!("startup_low_memlock_records_and_child_keeps_the_limit");
    let hard = std::fs::read_to_string("/proc/self/limits")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Max locked memory").map(|v| v.split_whitespace().nth(1).unwrap().to_string()))
        .unwrap();
    assert!(hard == "unlimited" || hard.parse::<u64>().unwrap() > 65536, "hard memlock limit {hard}");
    for limits in ["--memlock=65536:65536".to_string(), format!("--memlock=65536:{hard}")] {
        let dir = tempfile::tempdir().unwrap();
        let folded = dir.path().join("x.folded");
        let seen = dir.path().join("ulimit");
        let script = format!("ulimit -l > {}; i=0; while [ $i -lt 1000000 ]; do i=$((i+1)); done", seen.display());
        let out = Command::new("prlimit")
            .args([limits.as_str(), "--"])
            .arg(prof_bin())
            .args(["record", "-d", "60", "--unwind", "fp", "-o"])
            .arg(&folded)
            .args(["--", "sh", "-c", &script])
            .output()
            .expect("prlimit runs (util-linux)");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{limits}: {err}");
        assert!(err.contains("command exited: exit status: 0"), "{limits}: {err}");
        assert_eq!(std::fs::read_to_string(&seen).unwrap().trim(), "64", "{limits}: the child's limit, in KiB");
        let samples: u64 = common::read_folded(&folded).iter().map(|(_, c)| c).sum();
        assert!(samples > 0, "{limits}: the shell loop was sampled: {err}");
    }
}

/// Asks for one more than kernel.perf_event_max_sample_rate: prof samples at the limit, warns
/// once naming both rates, and the archive and the summary show the rate used (--strict-freq:
/// `tests/cli.rs::cli_strict_freq_above_kernel_limit_is_refused`). The event is cycles when
/// this machine has a PMU, else cpu-clock with the note saying so (this VM has none).
#[test]
fn startup_frequency_above_limit_falls_back_to_it() {
    let _m = bpf_test!("startup_frequency_above_limit_falls_back_to_it");
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("x.prof");
    let before = max_sample_rate();
    let requested = (before + 1).to_string();
    let out = common::prof()
        .args(["record", "-F", &requested, "--unwind", "fp", "-o"])
        .arg(&archive)
        .args(["--", "sleep", "0.5"])
        .output()
        .unwrap();
    let after = max_sample_rate();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("prof: warning: sampling at")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    let p = prof::archive::read_file(&archive).unwrap();
    let hz = p.meta.frequency_hz;
    // The kernel may lower the limit on its own (perf throttling): the rate is the limit prof
    // read at start, between the values read before and after.
    assert!(after <= hz && hz <= before, "archive says {hz} Hz, limit {before} before and {after} after");
    assert!(warnings[0].contains(&format!("sampling at {hz} Hz instead of the requested {requested} Hz")), "{err}");
    assert!(err.contains(&format!("at {hz} Hz on")), "the summary shows the rate used: {err}");

    let has_pmu = match prof::sample::perf_events::open_event(EventKind::Cycles, 99, 0) {
        Ok(_) => true,
        Err(e) if prof::sample::perf_events::is_unsupported(&e) => false,
        Err(e) => panic!("perf_event_open(cycles): {e}"),
    };
    let note = "hardware cycles event not available (no PMU, e.g. a VM): sampling with cpu-clock";
    if has_pmu {
        assert_eq!(p.meta.event, EventKind::Cycles.into(), "{err}");
    } else {
        assert_eq!(p.meta.event.to_string(), "cpu-clock");
        assert!(err.contains(&format!("note: {note}")), "{err}");
        assert!(p.meta.notes.iter().any(|n| n == note), "{:?}", p.meta.notes);
    }
}
