//! Samples are counted per thread: a recording of two threads running different functions keeps
//! each thread's id, `prof report --by tid` lists them, and `--tid` keeps one thread's samples
//! (from the archive and from prof's pprof). Needs root (or CAP_BPF + CAP_PERFMON).

mod common;

use std::ffi::OsStr;

use common::{count_where, prof_ok, read_folded, workload};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Each thread's samples are its own: filtering by the tid of `thr_a` leaves only `spin_a`, in
/// the archive and in the pprof written from it.
#[test]
fn record_threads_are_kept_apart() {
    let _m = bpf_test!("record_threads_are_kept_apart");
    let bin = workload("threads");
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("t.prof");
    prof_ok(&[os("record"), os("-o"), archive.as_os_str(), os("--"), bin.as_os_str(), os("2")]);

    let out = prof_ok(&[os("report"), archive.as_os_str(), os("--by"), os("tid")]);
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{table}");
    // Rows: SELF% TOTAL% SAMPLES TID COMM.
    let tid_of = |comm: &str| -> u32 {
        table
            .lines()
            .find(|l| l.split_whitespace().nth(4) == Some(comm))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no row for {comm}:\n{table}"))
    };
    let (a, b) = (tid_of("thr_a"), tid_of("thr_b"));
    assert_ne!(a, b);

    let pprof = dir.path().join("t.pb.gz");
    prof_ok(&[os("report"), archive.as_os_str(), os("-o"), pprof.as_os_str()]);
    for input in [&archive, &pprof] {
        let folded = dir.path().join("a.folded");
        let tid = a.to_string();
        prof_ok(&[os("report"), input.as_os_str(), os("--tid"), os(&tid), os("-o"), folded.as_os_str()]);
        let stacks = read_folded(&folded);
        let total = count_where(&stacks, |_| true);
        let in_a = count_where(&stacks, |s| s.contains(";spin_a"));
        let in_b = count_where(&stacks, |s| s.contains(";spin_b"));
        println!("{}: --tid {a}: {in_a} of {total} samples in spin_a, {in_b} in spin_b", input.display());
        assert!(total >= 50, "expected ~200 samples of thread thr_a, got {total}");
        assert!(in_a * 100 >= total * 95, "{stacks:?}");
        assert_eq!(in_b, 0, "{stacks:?}");
    }
}
