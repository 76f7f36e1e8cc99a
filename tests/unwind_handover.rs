//! Samples taken while a binary's unwind table is still being built: the kernel's walker hands
//! them to userspace with a copy of the stack, and prof finishes their walk once the table is
//! ready, instead of guessing with frame pointers. Needs root (or CAP_BPF + CAP_PERFMON) and
//! clang (scripts/setup).

mod common;

use std::ffi::OsStr;
use std::path::Path;

use common::{count_where, prof_ok, read_folded, which, workload_with, Background};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// The number in "handed over: N samples reached code whose unwind table …", 0 without the
/// line.
fn handed_over(summary: &str) -> u64 {
    summary
        .lines()
        .find_map(|l| l.trim().strip_prefix("handed over: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A front-end run of clang first maps libLLVM and libclang-cpp, whose tables (~2M rows) take
/// the table builder seconds in a debug build; the workload that runs next, C without frame
/// pointers, has its small table queued behind them. Its samples meanwhile are handed over and
/// finished once its table is ready: ≥95% reach `main` through all 13 levels (with frame
/// pointers none would), the summary says how many were handed over, none had to be finished
/// without their table, and every sample is accounted for.
#[test]
fn unwind_handover_finishes_walks_once_the_table_is_ready() {
    let _m = bpf_test!("unwind_handover_finishes_walks_once_the_table_is_ready");
    let Ok(clang) = which("clang++") else { panic!("clang++ is not installed (scripts/setup installs it)") };
    let deep = workload_with("deep", "deep_nofp", &["-O2", "-g", "-fomit-frame-pointer"]);
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workloads/clang_input.cpp");
    let dir = tempfile::tempdir().unwrap();
    let folded = dir.path().join("handover.folded");
    let script = format!("'{}' -O2 -fsyntax-only '{}' && exec '{}' 4", clang.display(), src.display(), deep.display());
    let out = prof_ok(&[os("record"), os("-o"), folded.as_os_str(), os("--"), os("sh"), os("-c"), os(&script)]);
    let summary = String::from_utf8_lossy(&out.stderr);

    let stacks: Vec<(String, u64)> =
        read_folded(&folded).into_iter().filter(|(s, _)| s.starts_with("w_deep_nofp;")).collect();
    let total = count_where(&stacks, |_| true);
    let chain: Vec<String> = (1..=13).map(|i| format!("level{i}")).collect();
    let chain = format!(";main;{};leaf_", chain.join(";"));
    let reached = count_where(&stacks, |s| s.contains(&chain));
    let pct = reached as f64 * 100.0 / total.max(1) as f64;
    let n = handed_over(&summary);
    println!("deep_nofp: {reached} of {total} samples reach main ({pct:.1}%); {n} samples handed over");
    // ~400 samples of 4 s at 99 Hz on an idle machine; fewer when other work shares the CPUs.
    assert!(total >= 100, "expected ~400 samples of 4 s at 99 Hz, got {total}\n{summary}");
    assert!(n > 0, "no sample was handed over: the tables were ready before the workload ran?\n{summary}");
    assert!(pct >= 95.0, "only {pct:.1}% reach main\n{summary}");
    assert!(!summary.contains("without it"), "walks were finished without their table:\n{summary}");
    assert!(!summary.contains("accounting mismatch"), "{summary}");
}

/// A library loaded with `dlopen` after the process was captured, built without frame
/// pointers: its first samples have PCs outside every mapping prof knows. The kernel asks for
/// the mappings again and hands those samples over; once the mappings (and the library's
/// table) are read, their walks are finished: every sample in the library reaches `main`.
#[test]
fn unwind_handover_finishes_walks_in_code_mapped_after_capture() {
    let _m = bpf_test!("unwind_handover_finishes_walks_in_code_mapped_after_capture");
    let lib = workload_with("late_lib", "late_lib_nofp", &["-shared", "-fPIC", "-O2", "-g", "-fomit-frame-pointer"]);
    let bin = workload_with("late_dlopen", "late_dlopen_nofp", &["-O2", "-g", "-fomit-frame-pointer"]);
    let dir = tempfile::tempdir().unwrap();
    let folded = dir.path().join("late.folded");
    let out = prof_ok(&[
        os("record"),
        os("-o"),
        folded.as_os_str(),
        os("--"),
        bin.as_os_str(),
        lib.as_os_str(),
        os("1"),
        os("1"),
    ]);
    let summary = String::from_utf8_lossy(&out.stderr);
    let stacks = read_folded(&folded);
    let late = count_where(&stacks, |s| s.contains(";late_inner"));
    let rooted = count_where(&stacks, |s| s.contains(";main;late_hot;late_inner"));
    let n = handed_over(&summary);
    println!("late library: {rooted} of {late} samples in late_inner reach main; {n} handed over");
    assert!(late >= 30, "expected ~99 samples in the library, got {late}\n{summary}");
    assert!(n > 0, "the first samples in the library were not handed over\n{summary}");
    assert_eq!(rooted, late, "{stacks:?}\n{summary}");
}

/// prof stopped (SIGSTOP) while clang's tables are being built: the kernel cannot hand samples
/// over once the buffer is full, so it walks them with frame pointers and counts them; after
/// SIGCONT the summary says how many, and every sample taken is accounted for.
#[test]
fn unwind_handover_full_buffer_is_counted_not_lost() {
    let _m = bpf_test!("unwind_handover_full_buffer_is_counted_not_lost");
    let Ok(clang) = which("clang++") else { panic!("clang++ is not installed (scripts/setup installs it)") };
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workloads/clang_input.cpp");
    let dir = tempfile::tempdir().unwrap();
    let (folded, object) = (dir.path().join("stopped.folded"), dir.path().join("a.o"));
    let bg = Background::start(&[
        os("record"),
        os("-o"),
        folded.as_os_str(),
        os("--"),
        clang.as_os_str(),
        os("-O2"),
        os("-c"),
        src.as_os_str(),
        os("-o"),
        object.as_os_str(),
    ]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    bg.signal(libc::SIGSTOP);
    // ~200 samples at 99 Hz on 2 CPUs, more than the 1 MiB buffer holds (25-60 records).
    std::thread::sleep(std::time::Duration::from_secs(3));
    bg.signal(libc::SIGCONT);
    let (status, summary) = bg.finish();
    println!("{summary}");
    assert!(status.success(), "{summary}");
    assert!(summary.contains("walked with frame pointers (the hand-over buffer was full)"), "{summary}");
    assert!(handed_over(&summary) > 0, "{summary}");
    assert!(!summary.contains("accounting mismatch"), "{summary}");
    assert!(count_where(&read_folded(&folded), |_| true) > 0);
}
