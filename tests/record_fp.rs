//! Recording with `--unwind fp` (the kernel's frame-pointer walker), end to end with the real
//! BPF program: code a process maps after it was first captured is named, completeness is judged
//! from the outermost frame, and an unresolved caller frame gets the same `module+0xoffset` as
//! with the unwind tables (`--unwind auto`), the offset of its call instruction. Needs root (or
//! CAP_BPF + CAP_PERFMON); skips outside CI when BPF is unavailable.

mod common;
#[path = "common/symbols.rs"]
mod symbols;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{count_where, has_frame, prof_ok, read_folded, workload, workload_with};
use symbols::{os, run};

fn pct(n: u64, total: u64) -> f64 {
    n as f64 * 100.0 / total.max(1) as f64
}

/// Records `cmd` with `--unwind MODE` into a folded file and an archive in `dir`; returns the
/// stacks of processes named `comm`, the archive and prof's stderr.
fn record(
    dir: &Path,
    mode: &str,
    comm: &str,
    cmd: &[&std::ffi::OsStr],
) -> (Vec<(String, u64)>, prof::profile::Profile, String) {
    let folded = dir.join(format!("{mode}.folded"));
    let archive = dir.join(format!("{mode}.prof"));
    let mut args = vec![
        os("record"),
        os("--unwind"),
        os(mode),
        os("-o"),
        folded.as_os_str(),
        os("-o"),
        archive.as_os_str(),
        os("--"),
    ];
    args.extend_from_slice(cmd);
    let out = prof_ok(&args);
    let stacks = read_folded(&folded).into_iter().filter(|(s, _)| s.starts_with(&format!("{comm};"))).collect();
    let profile = prof::archive::read_file(&archive).expect("archive reads");
    (stacks, profile, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A process that runs 2 s (CPU time), then loads a shared library with `dlopen` and spends 3 s in it: with
/// `--unwind fp` the library's functions are named (its mapping appeared after the process was
/// captured; the drain notices addresses outside every mapping and reads the maps again), and
/// almost no sample is left with an unnamed leaf.
#[test]
fn record_fp_names_code_loaded_after_capture() {
    let _m = bpf_test!("record_fp_names_code_loaded_after_capture");
    let lib = workload_with("late_lib", "late_lib", &["-shared", "-fPIC", "-O0", "-g", "-fno-omit-frame-pointer"]);
    let bin = workload("late_dlopen");
    let dir = tempfile::tempdir().unwrap();
    let (stacks, _, _) =
        record(dir.path(), "fp", "w_late_dlopen", &[bin.as_os_str(), lib.as_os_str(), os("2"), os("3")]);
    let total = count_where(&stacks, |_| true);
    let late = count_where(&stacks, |s| has_frame(s, "late_hot") && s.contains(";main;late_hot"));
    let warm = count_where(&stacks, |s| has_frame(s, "warm_up"));
    let unknown =
        count_where(&stacks, |s| s.split(';').any(|f| f.starts_with("[unknown]") || f.starts_with("w_late_lib+")));
    println!(
        "late dlopen (fp): {late} of {total} samples in late_hot ({:.1}%), {warm} in warm_up, {unknown} unnamed",
        pct(late, total)
    );
    assert!(total >= 100, "expected up to ~495 samples of 5 s (fewer on a busy machine), got {total}");
    assert!(warm > 0, "{stacks:?}");
    assert!(pct(late, total) >= 40.0, "the late library's functions are not named: {stacks:?}");
    assert!(pct(unknown, total) < 2.0, "{stacks:?}");
}

/// A frame-pointer workload whose stacks all reach `__libc_start_call_main`: with `--unwind fp`
/// the summary and the unwind report say that nearly all of them reach an entry point, judged
/// from the outermost frame (the kernel's walker gives no end reason), instead of "0 of N".
#[test]
fn record_fp_completeness_judged_from_outermost_frame() {
    let _m = bpf_test!("record_fp_completeness_judged_from_outermost_frame");
    let bin = workload("split");
    let dir = tempfile::tempdir().unwrap();
    let (stacks, profile, stderr) = record(dir.path(), "fp", "w_split", &[bin.as_os_str(), os("3")]);
    let total = count_where(&stacks, |_| true);
    let rooted = count_where(&stacks, |s| s.starts_with("w_split;__libc_start_call_main;main;"));
    let bin_report = &profile.meta.unwind.binaries["w_split"];
    println!("split (fp): {rooted} of {total} folded stacks start at __libc_start_call_main; report {bin_report:?}");
    assert!(pct(rooted, total) >= 90.0, "the workload's stacks should be complete: {stacks:?}");
    assert!(pct(bin_report.complete, bin_report.samples) >= 90.0, "{bin_report:?}");
    let line =
        stderr.lines().find(|l| l.contains("frame pointers (--unwind fp)")).unwrap_or_else(|| panic!("{stderr}"));
    let (complete, samples) = profile.meta.unwind.totals();
    assert!(line.contains(&format!("{complete} of {samples} user stacks reach an entry point")), "{line}");
    assert!(pct(complete, samples) >= 90.0, "{line}");
    let report = profile.meta.unwind.render(10);
    assert!(
        report.starts_with(&format!("unwinding (fp): {complete} of {samples} user stacks reach an entry point")),
        "{report}"
    );
}

/// Offsets of the `bare+0x…` frames that are callers (another frame of the workload below
/// them), with their samples.
fn caller_offsets(stacks: &[(String, u64)]) -> BTreeMap<u64, u64> {
    let mut offsets = BTreeMap::new();
    for (stack, count) in stacks {
        let frames: Vec<&str> = stack.split(';').filter(|f| !f.ends_with("_[k]")).collect();
        for pair in frames.windows(2) {
            if let (Some(off), true) = (pair[0].strip_prefix("bare+0x"), pair[1].starts_with("bare+0x")) {
                *offsets.entry(u64::from_str_radix(off, 16).unwrap()).or_default() += count;
            }
        }
    }
    offsets
}

/// The instructions of `exe` (`objdump -d`): address → (mnemonic, address of the next one).
fn instructions(exe: &Path) -> BTreeMap<u64, (String, u64)> {
    let out = Command::new("objdump").args(["-d", "--no-show-raw-insn"]).arg(exe).output().expect("objdump runs");
    let mut insns: Vec<(u64, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (addr, rest) = l.trim_start().split_once(":\t")?;
            Some((u64::from_str_radix(addr, 16).ok()?, rest.split_whitespace().next()?.to_string()))
        })
        .collect();
    insns.sort();
    insns.windows(2).map(|w| (w[0].0, (w[0].1.clone(), w[1].0))).collect()
}

/// A stripped frame-pointer build of the split workload recorded with `--unwind fp` and with
/// `--unwind auto` (its `.eh_frame` tables): the unresolved caller frames (`bare+0x…` above
/// another) carry the same offsets in both, and each offset is the last byte of a call
/// instruction (the return address − 1), which `addr2line -f` on the unstripped build names as
/// the calling function.
#[test]
fn record_unresolved_caller_offsets_agree_between_fp_and_auto() {
    let _m = bpf_test!("record_unresolved_caller_offsets_agree_between_fp_and_auto");
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    let bare = dir.path().join("bare");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workloads/split.c");
    run("gcc", &[os("-O0"), os("-g"), os("-fno-omit-frame-pointer"), os("-o"), full.as_os_str(), src.as_os_str()]);
    run("strip", &[os("--strip-all"), os("-o"), bare.as_os_str(), full.as_os_str()]);
    let (fp_stacks, _, _) = record(dir.path(), "fp", "bare", &[bare.as_os_str(), os("3")]);
    let (auto_stacks, _, _) = record(dir.path(), "auto", "bare", &[bare.as_os_str(), os("3")]);
    let (fp, auto) = (caller_offsets(&fp_stacks), caller_offsets(&auto_stacks));
    println!("caller offsets (fp): {fp:x?}\ncaller offsets (auto): {auto:x?}");
    // Offsets seen in at least 2% of a mode's caller frames: sampling noise aside, both modes
    // walk the same call sites (main → run → dispatch → leaf_a/b/c).
    let frequent = |m: &BTreeMap<u64, u64>| {
        let total: u64 = m.values().sum();
        m.iter().filter(|(_, &n)| n * 50 >= total).map(|(&o, _)| o).collect::<Vec<u64>>()
    };
    let (fp_hot, auto_hot) = (frequent(&fp), frequent(&auto));
    assert!(fp_hot.len() >= 5, "main, run and dispatch's three calls: {fp:x?}");
    assert_eq!(fp_hot, auto_hot, "the modes name the same caller frames differently");
    let insns = instructions(&full);
    for off in fp_hot {
        // The text segment of a gcc PIE is mapped at its file offset: offset = link address.
        let (start, (mnemonic, next)) = insns.range(..=off).next_back().unwrap_or_else(|| panic!("{off:#x}"));
        assert!(
            mnemonic.starts_with("call") && *next == off + 1,
            "{off:#x} is not the last byte of a call: {start:#x} {mnemonic}, next {next:#x}"
        );
        let a2l = Command::new("addr2line")
            .args(["-f", "-e"])
            .arg(&full)
            .arg(format!("{off:#x}"))
            .output()
            .expect("addr2line runs");
        let function = String::from_utf8_lossy(&a2l.stdout).lines().next().unwrap_or("").to_string();
        assert!(["main", "run", "dispatch"].contains(&function.as_str()), "addr2line names {off:#x} `{function}`");
    }
}
