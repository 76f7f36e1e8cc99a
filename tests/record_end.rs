//! How a recording ends, as scripts see it: `prof record -- cmd` exits with the command's
//! status (128 + the signal's number when a signal killed it), like perf; when `-d` ends the
//! recording first, the summary says the command was stopped; `-p` ends when every target has
//! exited. Needs root (or CAP_BPF + CAP_PERFMON).

mod common;

use std::ffi::OsStr;
use std::time::{Duration, Instant};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Runs `prof record -o DIR/x.folded ARGS…`; returns its exit code and stderr.
fn record(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.folded");
    let mut cmd = common::prof();
    cmd.args([os("record"), os("-o"), out.as_os_str()]).args(args);
    let run = cmd.output().expect("prof runs");
    (run.status.code(), String::from_utf8_lossy(&run.stderr).into_owned())
}

/// The command's exit status is prof's; a command killed by a signal gives 128 + its number.
#[test]
fn record_end_exits_with_the_commands_status() {
    let _m = bpf_test!("record_end_exits_with_the_commands_status");
    let (code, stderr) = record(&["--", "sh", "-c", "exit 3"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("command exited: exit status: 3"), "{stderr}");
    let (code, stderr) = record(&["--", "sh", "-c", "kill -KILL $$"]);
    assert_eq!(code, Some(128 + 9), "{stderr}");
    let (code, stderr) = record(&["--", "true"]);
    assert_eq!(code, Some(0), "{stderr}");
}

/// `-d` ends the recording while the command still runs: prof succeeds and says it stopped
/// the command.
#[test]
fn record_end_duration_stops_a_running_command_and_says_so() {
    let _m = bpf_test!("record_end_duration_stops_a_running_command_and_says_so");
    let t = Instant::now();
    let (code, stderr) = record(&["-d", "1", "--", "sleep", "30"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(t.elapsed() < Duration::from_secs(20), "{stderr}");
    assert!(
        stderr.contains("the duration (-d) elapsed while the command was still running: it was sent SIGTERM"),
        "{stderr}"
    );
    let (_, stderr) = record(&["-d", "5", "--", "true"]);
    assert!(!stderr.contains("still running"), "{stderr}");
}

/// `-p` ends once every process given has exited, and says so (before, it recorded until
/// interrupted).
#[test]
fn record_end_pid_targets_exiting_end_the_recording() {
    let _m = bpf_test!("record_end_pid_targets_exiting_end_the_recording");
    let mut a = std::process::Command::new("sleep").arg("1").spawn().unwrap();
    let mut b = std::process::Command::new("sleep").arg("2").spawn().unwrap();
    let pids = format!("{},{}", a.id(), b.id());
    let t = Instant::now();
    let (code, stderr) = record(&["-p", &pids, "-d", "60"]);
    let took = t.elapsed();
    let _ = (a.wait(), b.wait());
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("every process given with -p exited"), "{stderr}");
    assert!(took >= Duration::from_millis(1500) && took < Duration::from_secs(20), "{took:?}: {stderr}");
}
