//! The `prof` command line: usage errors, bad input files, and the permission-denied path, each
//! with a clear message naming the problem and a non-zero exit, and no output file created.

mod common;

use std::process::Output;

use common::prof;

fn run(args: &[&str]) -> Output {
    prof().args(args).output().expect("prof runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A malformed duration is a usage error (exit 2) that quotes the bad value.
#[test]
fn cli_bad_duration_is_usage_error() {
    let out = run(&["record", "-d", "ten"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("`ten`"), "{}", stderr(&out));
    for bad in ["5ms", "2s"] {
        let out = run(&["record", "--drain-interval", bad]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("`{bad}`: expected a drain interval from 10ms to 1s")),
            "{}",
            stderr(&out)
        );
    }
}

/// `-F` outside 1..=i32::MAX Hz is a usage error (exit 2) that says the range in words, not
/// clap's `1..18446744073709551615`.
#[test]
fn cli_frequency_out_of_range_in_words() {
    for bad in ["0", "2147483648"] {
        let out = run(&["record", "-F", bad, "-d", "1"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!(
                "invalid value '{bad}' for '--frequency <HZ>': the frequency must be a whole number of samples per \
                 second between 1 and 2147483647 Hz"
            )),
            "{}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains("18446744073709551615"), "{}", stderr(&out));
    }
}

/// An event ring buffer size that is not a power of two from 4 KiB to 1 GiB is a usage error
/// (exit 2) quoting the value.
#[test]
fn cli_bad_events_buffer_size_is_usage_error() {
    for bad in ["5000", "2KiB", "2GiB", "0", "x"] {
        let out = run(&["record", "--events-buffer-size", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains(&format!("`{bad}`")), "{}", stderr(&out));
    }
    let out = run(&["record", "--events-buffer-size", "5000"]);
    assert!(stderr(&out).contains("expected a power of two from 4KiB to 1GiB"), "{}", stderr(&out));
}

/// A duration too large for a clock (`1e20` seconds, `1000000000y`) is a usage error (exit 2)
/// that quotes it and says the limit, for every option taking a duration; a huge but
/// representable one (`--retain-age 213504d`, beyond u64 nanoseconds) is accepted.
#[test]
fn cli_huge_durations_are_usage_errors_or_accepted() {
    for args in [
        &["record", "-d", "1e20"][..],
        &["record", "-d", "1000000000y"],
        &["record", "--interval", "1e20"],
        &["record", "--retain-age", "1e20"],
        &["record", "--push-timeout", "1e20"],
        &["record", "-d", "1e12"],
    ] {
        let out = run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        let value = args[2];
        assert!(err.contains(&format!("`{value}`: duration too large; at most 1000000d")), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // Accepted: the run stops later, at the output check before recording.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.txt");
    let out = run(&["record", "--retain-age", "213504d", "-d", "1", "-o", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("unknown output format"), "{}", stderr(&out));
}

/// An output with an unknown extension is refused before anything is recorded.
#[test]
fn cli_unknown_output_format_is_refused_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.txt");
    let out = run(&["record", "-d", "1", "-o", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown output format"), "{}", stderr(&out));
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "a file was created");
}

/// A PID that does not exist is named in the error; one no kernel gives is a usage error saying
/// the range.
#[test]
fn cli_missing_pid_is_named() {
    let out = run(&["record", "-p", "999999999", "-d", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("a process id is a whole number between 1 and 4194303 (the kernel's largest)"),
        "{}",
        stderr(&out)
    );
    if !common::bpf_available("cli_missing_pid_is_named") {
        return;
    }
    // The largest PID a kernel gives; no process has it here (pid_max is smaller, or no process
    // got that far).
    let pid = "4194303";
    assert!(!std::path::Path::new("/proc/4194303").exists());
    let out = run(&["record", "-p", pid, "-d", "1", "-o", "/nonexistent-dir-prof/x.svg"]);
    assert_eq!(out.status.code(), Some(1));
    // The output directory is checked first.
    assert!(stderr(&out).contains("directory does not exist"), "{}", stderr(&out));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.svg");
    let out = run(&["record", "-p", pid, "-d", "1", "-o", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no process with PID 4194303"), "{}", stderr(&out));
    assert!(!path.exists());
}

/// A missing input file (its OS error said once), a truncated archive and a malformed folded
/// line are each reported with the file name (and line), exit 1.
#[test]
fn cli_report_bad_inputs_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.prof");
    let out = run(&["report", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("missing.prof"), "{}", stderr(&out));
    // The OS error once, not again after the message that already holds it.
    assert_eq!(stderr(&out).matches("(os error 2)").count(), 1, "{}", stderr(&out));

    let good = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/archive/v1-small.prof")).unwrap();
    let truncated = dir.path().join("cut.prof");
    std::fs::write(&truncated, &good[..good.len() - 5]).unwrap();
    let out = run(&["report", truncated.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("cut.prof") && err.contains("truncated"), "{err}");

    let folded = dir.path().join("bad.folded");
    std::fs::write(&folded, "a;b 3\nc;d three\n").unwrap();
    let out = run(&["report", folded.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("bad.folded") && err.contains("line 2"), "{err}");

    // Lenient: skip with one warning and report the rest.
    let out = run(&["report", "--lenient", folded.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("skipped 1 malformed line"), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("b"));
}

/// `prof report` prints a top table of a folded file, and converts it to SVG and back.
#[test]
fn cli_report_folded_to_table_svg_and_folded() {
    let dir = tempfile::tempdir().unwrap();
    let folded = dir.path().join("in.folded");
    std::fs::write(&folded, "app;main;work 30\napp;main;idle 10\napp;main;work;read_[k] 10\n").unwrap();
    let out = run(&["report", folded.to_str().unwrap(), "--top", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    let first_row = table.lines().nth(1).unwrap_or_default();
    assert!(first_row.contains("60.00") && first_row.contains("work"), "{table}");
    let svg = dir.path().join("out.svg");
    let back = dir.path().join("out.folded");
    let out = run(&["report", folded.to_str().unwrap(), "-o", svg.to_str().unwrap(), "-o", back.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    assert_eq!(
        std::fs::read_to_string(&back).unwrap(),
        "app;main;idle 10\napp;main;work 30\napp;main;work;read_[k] 10\n"
    );
}

/// Without CAP_BPF/CAP_PERFMON, `prof record` exits 1 before creating any file, naming the
/// missing capabilities, `perf_event_paranoid`, and the fix. Tested by dropping privileges
/// (as nobody with setpriv, and as root without CAP_PERFMON with capsh).
#[test]
fn cli_permission_denied_names_capabilities() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("x.svg");
    let out = if prof::sample::privileges::check().is_err() {
        run(&["record", "-d", "1", "-o", out_path.to_str().unwrap()])
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"])
            .arg(env!("CARGO_BIN_EXE_prof"))
            .args(["record", "-d", "1", "-o", out_path.to_str().unwrap()])
            .output()
            .expect("setpriv runs (util-linux)")
    };
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    for needle in ["CAP_BPF", "CAP_PERFMON", "perf_event_paranoid", "setcap"] {
        assert!(err.contains(needle), "missing {needle:?} in: {err}");
    }
    // The current values of both sysctls, as the kernel has them now.
    for sysctl in ["perf_event_paranoid", "unprivileged_bpf_disabled"] {
        let value = std::fs::read_to_string(format!("/proc/sys/kernel/{sysctl}")).unwrap();
        let line = format!("kernel.{sysctl} = {} (", value.trim());
        assert!(err.contains(&line), "missing {line:?} in: {err}");
    }
    assert!(!out_path.exists());

    if prof::sample::privileges::check().is_ok() {
        // Root without CAP_PERFMON (and CAP_SYS_ADMIN): exactly that capability is named.
        let cmd = format!("exec {} record -d 1 -o {}", env!("CARGO_BIN_EXE_prof"), out_path.display());
        let out = std::process::Command::new("capsh")
            .args(["--drop=cap_perfmon,cap_sys_admin", "--", "-c", &cmd])
            .output()
            .expect("capsh runs (libcap2-bin)");
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains("missing: CAP_PERFMON\n"), "{}", stderr(&out));
        assert!(!out_path.exists());
    }
}

/// With --strict-freq, a frequency above kernel.perf_event_max_sample_rate is refused with the
/// limit and the sysctl fix, before any file is written (without it prof samples at the limit:
/// `tests/startup_faults.rs::startup_frequency_above_limit_falls_back_to_it`).
#[test]
fn cli_strict_freq_above_kernel_limit_is_refused() {
    let max: u64 =
        std::fs::read_to_string("/proc/sys/kernel/perf_event_max_sample_rate").unwrap().trim().parse().unwrap();
    let too_high = (max + 1).to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.folded");
    let out = run(&["record", "-F", &too_high, "--strict-freq", "-d", "1", "-o", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("{too_high} Hz is above kernel.perf_event_max_sample_rate = {max}")), "{err}");
    assert!(err.contains(&format!("sysctl kernel.perf_event_max_sample_rate={too_high}")), "{err}");
    assert!(!err.contains("warning"), "{err}");
    assert!(!path.exists());
}

/// A folded input for the output tests.
fn small_folded(dir: &std::path::Path) -> std::path::PathBuf {
    let folded = dir.join("in.folded");
    std::fs::write(&folded, "app;main;work 3\napp;main;idle 1\n").unwrap();
    folded
}

/// An output that is a symbolic link (as `/dev/stdout` is) is refused with its name and the
/// `-o -` hint, before anything is written: the link and the file it points to stay as they were.
#[test]
fn cli_output_symlink_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let folded = small_folded(dir.path());
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    for name in ["link.folded", "link.prof"] {
        let link = dir.path().join(name);
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let out = run(&["report", folded.to_str().unwrap(), "-o", link.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(name) && err.contains("symbolic link") && err.contains("`-o -`"), "{err}");
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "{name} was replaced");
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
}

/// An output that is a FIFO is refused (a rename would replace it), and stays a FIFO.
#[test]
fn cli_output_fifo_is_refused() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let folded = small_folded(dir.path());
    let fifo = dir.path().join("pipe.svg");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs (coreutils)");
    assert!(made.success());
    let out = run(&["report", folded.to_str().unwrap(), "-o", fifo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("pipe.svg") && err.contains("FIFO"), "{err}");
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
}

/// `-o -` writes folded stacks to standard output, or the format `--format` names.
#[test]
fn cli_output_dash_writes_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let folded = small_folded(dir.path());
    let out = run(&["report", folded.to_str().unwrap(), "-o", "-"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "app;main;idle 1\napp;main;work 3\n");
    assert!(stderr(&out).contains("wrote standard output"), "{}", stderr(&out));
    assert!(!dir.path().join("-").exists());
    let out = run(&["report", folded.to_str().unwrap(), "-o", "-", "--format", "svg"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("<svg"));
    let out = run(&["diff", folded.to_str().unwrap(), folded.to_str().unwrap(), "-o", "-"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "app;main;idle 1 1\napp;main;work 3 3\n");
}

/// The same output twice is refused before anything is written: `-o - -o -` (two documents
/// run together on standard output), and one file under two spellings, for report, diff and
/// record (checked before recording).
#[test]
fn cli_output_given_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let folded = small_folded(dir.path());
    let input = folded.to_str().unwrap();
    let svg = dir.path().join("a.svg");
    let same = dir.path().join(".").join("a.svg");
    let (svg, same) = (svg.to_str().unwrap(), same.to_str().unwrap());
    for args in [
        vec!["report", input, "-o", "-", "-o", "-"],
        vec!["report", input, "-o", svg, "-o", same],
        vec!["diff", input, input, "-o", svg, "-o", same],
        vec!["record", "-d", "1", "-o", svg, "-o", same],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("is given twice as an output"), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!dir.path().join("a.svg").exists(), "{args:?}");
    }
}

/// Every output file is 0600 whatever the umask (here 000), like archives: profiles show what
/// the machine's processes ran.
#[test]
fn cli_outputs_are_private_under_any_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let folded = small_folded(dir.path());
    let names = ["a.svg", "a.folded", "a.prof", "a.pb.gz", "a.speedscope.json"];
    let mut cmd = format!("umask 000; exec {} report {}", env!("CARGO_BIN_EXE_prof"), folded.display());
    for name in names {
        cmd.push_str(&format!(" -o {}", dir.path().join(name).display()));
    }
    let out = std::process::Command::new("sh").args(["-c", &cmd]).output().expect("sh runs");
    assert!(out.status.success(), "{}", stderr(&out));
    for name in names {
        let mode = std::fs::metadata(dir.path().join(name)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name} is {mode:o}");
    }
}
