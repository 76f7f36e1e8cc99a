//! Go programs with the real BPF walker in `--unwind auto`: the runtime switches between
//! goroutine stacks and the system stack (systemstack, mcall, morestack) on every allocation
//! slow path and garbage collection, and the walker follows the frame pointers across those
//! switches to the roots of the stacks. A stripped build (`-ldflags=-s -w`) is named from its
//! `.gopclntab`. Needs root (or CAP_BPF + CAP_PERFMON) and Debian's golang-go; skips outside CI
//! when BPF is unavailable.

mod common;

use std::path::Path;

use common::{has_frame, outermost_user_frame, prof_ok, read_folded, workload, workload_with, GO_ROOTS};

/// Records `bin 4` (seconds) in auto mode; returns the folded stacks of the workload's process.
fn record(dir: &Path, bin: &Path) -> Vec<(String, u64)> {
    let folded = dir.join("go.folded");
    prof_ok(&[
        "record".as_ref(),
        "-F".as_ref(),
        "499".as_ref(),
        "--unwind".as_ref(),
        "auto".as_ref(),
        "-o".as_ref(),
        folded.as_os_str(),
        "--".as_ref(),
        bin.as_os_str(),
        "4".as_ref(),
    ]);
    let comm: String = bin.file_name().unwrap().to_string_lossy().chars().take(15).collect();
    read_folded(&folded).into_iter().filter(|(s, _)| s.starts_with(&format!("{comm};"))).collect()
}

/// Samples with user frames, and of those the ones whose outermost frame is a Go root.
fn root_reach(stacks: &[(String, u64)]) -> (u64, u64) {
    let user: Vec<_> = stacks.iter().filter_map(|(s, n)| Some((outermost_user_frame(s)?, *n))).collect();
    let total = user.iter().map(|(_, n)| n).sum();
    let reached = user.iter().filter(|(f, _)| GO_ROOTS.contains(f)).map(|(_, n)| n).sum();
    (total, reached)
}

/// Checks ≥95% root reach and that GC work on the system stack was sampled and reached a root
/// too (the switch is crossed, not just goroutine stacks that never switch); returns the share.
fn assert_reaches_roots(what: &str, stacks: &[(String, u64)]) -> f64 {
    let (total, reached) = root_reach(stacks);
    let share = reached as f64 * 100.0 / total.max(1) as f64;
    let ends: Vec<_> = stacks
        .iter()
        .filter(|(s, _)| !outermost_user_frame(s).is_some_and(|f| GO_ROOTS.contains(&f)))
        .take(10)
        .collect();
    println!("{what}: {reached} of {total} samples ({share:.1}%) reach a Go root");
    assert!(total >= 200, "{what}: only {total} samples with user frames");
    assert!(share >= 95.0, "{what}: {share:.1}% of {total} samples reach a Go root; some that do not: {ends:#?}");
    let switched = |s: &str| {
        outermost_user_frame(s) == Some("runtime.goexit")
            && s.split(';').any(|f| f == "runtime.systemstack" || f == "runtime.mcall")
            && has_frame(s, "main.churn")
    };
    let across = common::count_where(stacks, switched);
    assert!(across > 0, "{what}: no sample crossed from the system stack back to main.churn's goroutine");
    share
}

/// The GC-heavy Go program (frame pointers, no unwind rows): ≥95% of its samples reach
/// `runtime.goexit`, `runtime.mstart` or `runtime.rt0_go`, including samples taken on the system
/// stack whose stacks continue into the goroutine that switched (`main.churn`).
#[test]
fn unwind_go_stacks_cross_stack_switches() {
    let _m = bpf_test!("unwind_go_stacks_cross_stack_switches");
    let bin = workload("gc_heavy");
    let dir = tempfile::tempdir().unwrap();
    let stacks = record(dir.path(), &bin);
    assert_reaches_roots("gc_heavy", &stacks);
}

/// The same program stripped of symbols and DWARF: the stacks reach the roots as well, and its
/// frames are named from `.gopclntab` (no `module+0x…` frames of the binary).
#[test]
fn unwind_go_stripped_named_from_pclntab() {
    let _m = bpf_test!("unwind_go_stripped_named_from_pclntab");
    let bin = workload_with("gc_heavy", "gc_heavy_stripped", &["-ldflags=-s -w"]);
    let dir = tempfile::tempdir().unwrap();
    let stacks = record(dir.path(), &bin);
    assert_reaches_roots("gc_heavy stripped", &stacks);
    let unnamed = common::count_where(&stacks, |s| s.split(';').any(|f| f.starts_with("w_gc_heavy_stripped+0x")));
    assert_eq!(unnamed, 0, "stripped Go frames left unnamed: {:#?}", &stacks[..stacks.len().min(10)]);
    assert!(common::count_where(&stacks, |s| has_frame(s, "main.build")) > 0, "main.build never named");
}
