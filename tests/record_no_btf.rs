//! Recording on a kernel without BTF, and a program the verifier rejects.
//!
//! Without `/sys/kernel/btf/vmlinux` prof loads its fallback object (no CO-RE, no `tp_btf`):
//! sampling still works with frame pointers, and one note names what is disabled. The tests
//! hide BTF from prof by mounting an empty tmpfs over `/sys/kernel/btf` in a private mount
//! namespace (`unshare -m`), so the rest of the machine is not affected. tracefs is unmounted in
//! that namespace too: prof must mount it to attach the fallback's fork tracepoint.
mod common;

use std::ffi::OsStr;
use std::path::Path;

use common::{count_where, has_frame, prof_without_btf, read_folded, workload};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// A command and the children it forks and execs are sampled and symbolized without BTF, and
/// the summary says once that BTF is missing and what that disables; every sample carries its
/// cgroup.
#[test]
fn record_no_btf_samples_command_and_children_with_frame_pointers() {
    let _m = bpf_test!("record_no_btf_samples_command_and_children_with_frame_pointers");
    let short = workload("short");
    let dir = tempfile::tempdir().unwrap();
    let folded = dir.path().join("x.folded");
    let archive = dir.path().join("x.prof");
    // sh forks a child per iteration, and each child execs the burner: following the command
    // needs the fork tracepoint, naming the child needs the exec event.
    let script = format!("for i in $(seq 20); do {} 60; done", short.display());
    let (f, a) = (folded.to_str().unwrap(), archive.to_str().unwrap());
    let out = prof_without_btf(&["record", "-o", f, "-o", a, "--", "sh", "-c", &script].map(os));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let notes: Vec<&str> = stderr.lines().filter(|l| l.contains("no kernel BTF")).collect();
    assert_eq!(notes.len(), 1, "exactly one line about BTF: {stderr}");
    assert!(notes[0].contains("/sys/kernel/btf/vmlinux"), "{}", notes[0]);
    assert!(notes[0].contains("disabled: unwinding with unwind tables"), "{}", notes[0]);
    assert!(stderr.contains("frame pointers (--unwind fp)"), "{stderr}");
    let stacks = read_folded(&folded);
    let mine: Vec<(String, u64)> = stacks.iter().filter(|(s, _)| s.starts_with("w_short;")).cloned().collect();
    let total = count_where(&mine, |_| true);
    let own = count_where(&mine, |s| has_frame(s, "short_burn") && has_frame(s, "main"));
    println!("children without BTF: {own} of {total} samples in main;short_burn");
    assert!(total >= 60, "20 × 60 ms at 99 Hz should give ~120 samples, got {total}: {stacks:?}");
    assert!(own as f64 >= 0.9 * total as f64, "{mine:?}");
    // Only the command and its children: the target filter holds without BTF too.
    assert!(stacks.iter().all(|(s, _)| ["w_short;", "sh;", "seq;"].iter().any(|p| s.starts_with(p))), "{stacks:?}");
    // Every sample carries the cgroup it ran in, resolved to its path.
    let p = prof::archive::read_file(&archive).unwrap();
    assert!(p.samples.iter().all(|s| p.cgroup_of(s).is_some_and(|c| c.path.starts_with('/'))), "{:?}", p.cgroups);
}

/// Features that need BTF are refused with a message naming BTF, before anything is written.
#[test]
fn record_no_btf_refuses_dwarf_unwinding() {
    let _m = bpf_test!("record_no_btf_refuses_dwarf_unwinding");
    let dir = tempfile::tempdir().unwrap();
    let folded = dir.path().join("x.folded");
    let out = prof_without_btf(&[
        os("record"),
        os("--unwind"),
        os("dwarf"),
        os("-o"),
        folded.as_os_str(),
        os("--"),
        os("true"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--unwind dwarf"), "{stderr}");
    assert!(stderr.contains("/sys/kernel/btf/vmlinux"), "{stderr}");
    assert!(!folded.exists());
}

/// A program the verifier rejects (forced with `PROF_FAULT_INJECT=verifier`, which makes the
/// program read a map value without the null check) ends prof with an error that names the
/// kernel release and quotes the verifier log's tail; no output file is written.
#[test]
fn record_verifier_rejection_names_kernel_and_log() {
    let _m = bpf_test!("record_verifier_rejection_names_kernel_and_log");
    let dir = tempfile::tempdir().unwrap();
    let folded = dir.path().join("x.folded");
    let out = common::prof()
        .env(prof::sample::FAULT_INJECT_ENV, "verifier")
        .args([os("record"), os("-o"), folded.as_os_str(), os("--"), os("true")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert!(stderr.contains(release.trim()), "kernel release {release:?} missing: {stderr}");
    assert!(
        stderr.contains(&format!("the verifier of kernel {} rejected the BPF program", release.trim())),
        "{stderr}"
    );
    // The verifier's own words for an unchecked map value.
    assert!(stderr.contains("invalid mem access 'map_value_or_null'"), "{stderr}");
    assert!(!Path::new(&folded).exists());
}
