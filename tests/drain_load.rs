//! Draining under load: with every CPU busy, many unique stacks and a drain every 100 ms, the
//! counts drained plus the samples dropped equal the kernel's sample total exactly, and no
//! count loses its stack between the counts and the stack map.
//!
//! The recording lasts `PROF_DRAIN_LOAD_SECS` seconds (default 60, about 600 drains); set it
//! to 600 for the ten-minute version.
mod common;

use std::ffi::OsStr;

use common::{assert_conserved, count_where, has_frame, prof_ok, read_folded, workload};
use prof::profile::LossReason;

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Three processes of 20,000 distinct stacks each on two CPUs, sampled at 999 Hz and drained
/// every 100 ms: Σ counts + Σ drops == samples taken, no stack error, and the workload's samples
/// are there with full stacks.
#[test]
fn drain_load_every_100ms_conserves_every_sample() {
    let _m = bpf_test!("drain_load_every_100ms_conserves_every_sample");
    let secs: u64 = std::env::var("PROF_DRAIN_LOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let bin = workload("manystacks");
    let dir = tempfile::tempdir().unwrap();
    let (folded, archive) = (dir.path().join("m.folded"), dir.path().join("m.prof"));
    let script = format!("{0} {secs} 20000 & {0} {secs} 20000 & {0} {secs} 20000; wait", bin.display());
    let out = prof_ok(&[
        os("record"),
        os("-F"),
        os("999"),
        os("--drain-interval"),
        os("100ms"),
        os("-o"),
        folded.as_os_str(),
        os("-o"),
        archive.as_os_str(),
        os("--"),
        os("sh"),
        os("-c"),
        os(&script),
    ]);
    let profile = assert_conserved(&archive);
    let stacks = read_folded(&folded);
    let mine = count_where(&stacks, |s| s.starts_with("w_manystacks;"));
    let in_leaf = count_where(&stacks, |s| s.starts_with("w_manystacks;") && has_frame(s, "leaf"));
    let distinct = stacks.iter().filter(|(s, _)| s.starts_with("w_manystacks;") && has_frame(s, "leaf")).count();
    println!(
        "drain load: {} samples in {secs} s, {mine} in the workload, {distinct} distinct leaf stacks, losses {:?}",
        profile.meta.total_samples, profile.meta.losses
    );
    // Two CPUs at 999 Hz: ~2,000 samples a second when the machine is ours; at least a third
    // of that on a loaded one.
    assert!(profile.meta.total_samples >= 600 * secs, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(mine * 10 >= profile.meta.total_samples * 9, "the workload owns the CPUs: {mine}");
    assert!(in_leaf * 10 >= mine * 9, "{in_leaf} of {mine} in leaf");
    assert!(distinct >= 10_000, "expected many distinct stacks, got {distinct}");
    // A stack error is a count whose stack the drain could not find: a drain race, never a
    // property of the workload.
    for r in [LossReason::UserStackError, LossReason::KernelStackError] {
        assert_eq!(profile.meta.losses.get(&r).copied().unwrap_or(0), 0, "{r:?}: {:?}", profile.meta.losses);
    }
}
