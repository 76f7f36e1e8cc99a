//! Recording through the PLT and the vDSO (BPF, a real perf event): samples in a stub are
//! `<symbol>@plt` frames under their caller, never `_init` or `module+0x…`, in each way the plt
//! workload is built; `-fno-plt` has none; and samples in the vDSO are named from its symbols
//! (`__vdso_clock_gettime`), as perf names them.

mod common;

use std::ffi::OsStr;
use std::path::Path;

use common::{count_where, has_frame, plt_workload, prof_ok, read_folded, PltKind};

/// Records `bin` for `seconds` and returns its own folded stacks (those under its name) and
/// their total.
fn record(bin: &Path, seconds: &str) -> (Vec<(String, u64)>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let folded = dir.path().join("x.folded");
    let os = OsStr::new;
    prof_ok(&[os("record"), os("-o"), folded.as_os_str(), os("--"), bin.as_os_str(), os(seconds)]);
    let name = format!("{};", bin.file_name().unwrap().to_str().unwrap());
    let mine: Vec<(String, u64)> = read_folded(&folded).into_iter().filter(|(s, _)| s.starts_with(&name)).collect();
    let total = count_where(&mine, |_| true);
    assert!(total >= 50, "{}: only {total} samples in {seconds} s", bin.display());
    (mine, total)
}

/// With IBT stubs (`.plt.sec`) and plain `.plt` stubs, at least 3% of the samples (about 17%
/// measured) are in `abs@plt` called from `spin`; no frame is `_init` or an unnamed offset
/// of the workload; with `-fno-plt` no frame is a stub.
#[test]
fn record_plt_stub_frames_are_named() {
    let _m = bpf_test!("record_plt_stub_frames_are_named");
    for kind in [PltKind::Ibt, PltKind::Plain, PltKind::NoPlt] {
        let bin = plt_workload(kind);
        let (mine, total) = record(&bin, "3");
        let stubs = count_where(&mine, |s| s.split(';').any(|f| f.ends_with("@plt")));
        let abs = count_where(&mine, |s| s.ends_with(";spin;abs@plt"));
        println!("{kind:?}: {abs} of {total} samples in abs@plt, {stubs} in any stub");
        if kind == PltKind::NoPlt {
            assert_eq!(stubs, 0, "{kind:?}: {mine:?}");
        } else {
            assert!(abs * 100 >= total * 3, "{kind:?}: {abs} of {total} in abs@plt: {mine:?}");
        }
        let module = bin.file_name().unwrap().to_str().unwrap();
        let unnamed = count_where(&mine, |s| has_frame(s, "_init") || s.contains(&format!(";{module}+0x")));
        assert_eq!(unnamed, 0, "{kind:?}: {mine:?}");
    }
}

/// The workload reads the clock every 64 calls: at least 2% of its samples (about 15%
/// measured) are in `__vdso_clock_gettime`, none is left as `[vdso]+0x…`, and the walk goes
/// from it through every caller (`spin;now;` and libc's `clock_gettime`) with the vDSO's own
/// unwind table (with frame pointers alone, a caller was skipped in ~10% of them).
#[test]
fn record_vdso_frames_are_named() {
    let _m = bpf_test!("record_vdso_frames_are_named");
    let (mine, total) = record(&plt_workload(PltKind::Plain), "3");
    let vdso = count_where(&mine, |s| has_frame(s, "__vdso_clock_gettime"));
    let under_spin = count_where(&mine, |s| s.contains(";main;spin;") && has_frame(s, "__vdso_clock_gettime"));
    println!("vdso: {vdso} of {total} samples in __vdso_clock_gettime, {under_spin} under spin");
    assert!(vdso * 100 >= total * 2, "{vdso} of {total}: {mine:?}");
    assert!(under_spin * 10 >= vdso * 9, "{under_spin} of {vdso} under spin: {mine:?}");
    let whole = count_where(&mine, |s| {
        let frames: Vec<&str> = s.split(';').collect();
        frames.iter().position(|f| *f == "__vdso_clock_gettime").is_some_and(|i| {
            i >= 3 && frames[i - 1].contains("clock_gettime") && frames[i - 2] == "now" && frames[i - 3] == "spin"
        })
    });
    println!("vdso: {whole} of {vdso} with every caller");
    // One sample may fall in the first moments, before the workload's unwind tables are
    // loaded and frame pointers are the only way (docs/unwinding.md); more than that, or
    // more than 3%, is the unwinder's fault (frame pointers alone miss a caller in ~10%).
    let misses = vdso - whole;
    assert!(misses <= 1 || misses * 100 <= vdso * 3, "{whole} of {vdso} with every caller: {mine:?}");
    assert_eq!(count_where(&mine, |s| s.contains("[vdso]+0x")), 0, "{mine:?}");
}
