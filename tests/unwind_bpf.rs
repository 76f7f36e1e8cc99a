//! Unwinding user stacks without frame pointers, with the real BPF walker: C built with
//! `-O2 -fomit-frame-pointer`, a Rust release build without frame pointers, and Debian's
//! python3. Needs root (or CAP_BPF + CAP_PERFMON); skips outside CI when BPF is unavailable.

mod common;

use std::ffi::OsStr;
use std::path::Path;

use common::{count_where, has_frame, prof_ok, read_folded, workload_with};
use prof::profile::unwind::UnwindMode;

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn pct(n: u64, total: u64) -> f64 {
    n as f64 * 100.0 / total.max(1) as f64
}

/// The 13-deep chain of tests/workloads/deep.c, outermost first.
fn deep_chain() -> String {
    let levels: Vec<String> = (1..=13).map(|i| format!("level{i}")).collect();
    format!(";main;{};leaf_", levels.join(";"))
}

/// Records `bin SECONDS` with `extra` flags; returns the workload's folded stacks and the archive.
fn record(
    dir: &Path,
    name: &str,
    bin: &Path,
    secs: &str,
    extra: &[&str],
) -> (Vec<(String, u64)>, prof::profile::Profile) {
    let folded = dir.join(format!("{name}.folded"));
    let archive = dir.join(format!("{name}.prof"));
    let mut args = vec![os("record"), os("-o"), folded.as_os_str(), os("-o"), archive.as_os_str()];
    args.extend(extra.iter().map(|s| os(s)));
    args.extend([os("--"), bin.as_os_str(), os(secs)]);
    prof_ok(&args);
    let comm: String = bin.file_name().unwrap().to_string_lossy().chars().take(15).collect();
    let stacks = read_folded(&folded).into_iter().filter(|(s, _)| s.starts_with(&format!("{comm};"))).collect();
    (stacks, prof::archive::read_file(&archive).expect("archive reads"))
}

fn split(stacks: &[(String, u64)]) -> (f64, f64, f64) {
    let total = count_where(stacks, |_| true);
    let share = |leaf: &str| pct(count_where(stacks, |s| has_frame(s, leaf)), total);
    (share("leaf_a"), share("leaf_b"), share("leaf_c"))
}

/// C built with -O2 -fomit-frame-pointer: with unwind tables ≥95% of samples reach `main`
/// through all 13 levels, and the 50/30/20 leaf split matches the frame-pointer build's within
/// sampling noise (4 standard deviations, ~6 points); with frame pointers only (`--unwind fp`) almost none do, so the tables are what
/// makes the difference.
#[test]
fn unwind_omit_frame_pointer_c_reaches_main() {
    let _m = bpf_test!("unwind_omit_frame_pointer_c_reaches_main");
    let nofp = workload_with("deep", "deep_nofp", &["-O2", "-g", "-fomit-frame-pointer"]);
    let fp = workload_with("deep", "deep_fp", &["-O2", "-g", "-fno-omit-frame-pointer"]);
    let dir = tempfile::tempdir().unwrap();
    let chain = deep_chain();

    let (stacks, archive) = record(dir.path(), "nofp", &nofp, "20", &[]);
    let total = count_where(&stacks, |_| true);
    assert!(total >= 1500, "expected ~1980 samples of 20 s at 99 Hz, got {total}");
    let deep = pct(count_where(&stacks, |s| s.contains(&chain)), total);
    let (a, b, c) = split(&stacks);
    println!(
        "deep_nofp (auto): {deep:.1}% of {total} samples reach main through 13 levels; split {a:.1}/{b:.1}/{c:.1}"
    );
    assert!(deep >= 95.0, "only {deep:.1}% reach main: {stacks:?}");
    let report = &archive.meta.unwind;
    assert_eq!(report.modes.only(), Some(UnwindMode::Auto));
    let bin = report.binaries.get("w_deep_nofp").unwrap_or_else(|| panic!("no report for the workload: {report:?}"));
    assert!(bin.table.starts_with(".eh_frame"), "{bin:?}");
    assert!(pct(bin.complete, bin.samples) >= 95.0, "{bin:?}");

    let (fp_stacks, _) = record(dir.path(), "fp", &fp, "20", &["--unwind", "fp"]);
    let fp_total = count_where(&fp_stacks, |_| true);
    // The frame-pointer walker skips the caller of a leaf that sets up no frame (gcc -O2 omits
    // it in leaves even with -fno-omit-frame-pointer), so level13 is not required here.
    let fp_deep =
        pct(count_where(&fp_stacks, |s| s.contains(";main;level1;level2;") && s.contains(";leaf_")), fp_total);
    let (fa, fb, fc) = split(&fp_stacks);
    println!("deep_fp (fp): {fp_deep:.1}% of {fp_total} samples reach main; split {fa:.1}/{fb:.1}/{fc:.1}");
    assert!(fp_deep >= 95.0, "the frame-pointer build should reach main: {fp_deep:.1}%");
    // Two independent recordings of ~2,000 samples each: a leaf's share differs between them by
    // sampling noise alone with a standard deviation of ~1.5 points (binomial, two samples); a
    // bias of the DWARF walker would show as a difference beyond 4 of those.
    let (n1, n2) = (total as f64, fp_total as f64);
    for (x, y, leaf) in [(a, fa, "leaf_a"), (b, fb, "leaf_b"), (c, fc, "leaf_c")] {
        let p = (x + y) / 200.0;
        let sigma = 100.0 * (p * (1.0 - p) * (1.0 / n1 + 1.0 / n2)).sqrt();
        assert!(
            (x - y).abs() <= 4.0 * sigma,
            "{leaf}: {x:.1}% without frame pointers vs {y:.1}% with (more than 4 × {sigma:.2} points apart)"
        );
    }

    let (fp_only, archive) = record(dir.path(), "nofp_fp", &nofp, "3", &["--unwind", "fp"]);
    let t = count_where(&fp_only, |_| true);
    let reach = pct(count_where(&fp_only, |s| s.contains(&chain)), t);
    println!("deep_nofp (--unwind fp): {reach:.1}% of {t} samples reach main");
    assert!(reach < 50.0, "frame pointers alone should not unwind -fomit-frame-pointer code: {reach:.1}%");
    assert_eq!(archive.meta.unwind.modes.only(), Some(UnwindMode::Fp));
}

/// A Rust release build without frame pointers unwinds from the hot function through
/// `rust_burner::main` and the standard library's start-up code to `main`.
#[test]
fn unwind_rust_release_without_frame_pointers() {
    let _m = bpf_test!("unwind_rust_release_without_frame_pointers");
    let bin = workload_with(
        "rust_burner",
        "rust_nofp",
        &["-C", "opt-level=3", "-C", "force-frame-pointers=no", "-g", "--crate-name", "rust_burner"],
    );
    let dir = tempfile::tempdir().unwrap();
    let (stacks, _) = record(dir.path(), "rust", &bin, "5", &[]);
    let total = count_where(&stacks, |_| true);
    let grind = count_where(&stacks, |s| has_frame(s, "rust_burner::engine::Gear<u64>::grind"));
    let full = count_where(&stacks, |s| {
        has_frame(s, "rust_burner::engine::Gear<u64>::grind")
            && has_frame(s, "rust_burner::main")
            && has_frame(s, "main")
    });
    println!("rust_nofp: {full} of {grind} samples in grind reach main ({:.1}%), {total} samples", pct(full, grind));
    assert!(pct(grind, total) >= 80.0, "{stacks:?}");
    assert!(pct(full, grind) >= 95.0, "{stacks:?}");
}

/// Debian's python3 (no frame pointers, stripped) running a busy loop: ≥90% of its samples
/// unwind from the eval loop through `Py_RunMain` and `Py_BytesMain` (called by `main`) to the
/// outermost frame, and `prof report --unwind-report` prints the per-binary figures.
#[test]
fn unwind_python_busy_loop_reaches_main() {
    let _m = bpf_test!("unwind_python_busy_loop_reaches_main");
    let Some(python) = ["/usr/bin/python3", "/usr/bin/python3.11"].into_iter().map(Path::new).find(|p| p.exists())
    else {
        panic!("python3 is not installed (scripts/setup installs it)");
    };
    let dir = tempfile::tempdir().unwrap();
    let folded = dir.path().join("py.folded");
    let archive = dir.path().join("py.prof");
    let script = "import time\nend = time.time() + 8\nn = 0\nwhile time.time() < end:\n    n += 1\n";
    // The interpreter's native frames, as they are without Python frames merged in
    // (tests/python_record.rs has those).
    prof_ok(&[
        os("record"),
        os("--python"),
        os("off"),
        os("-o"),
        folded.as_os_str(),
        os("-o"),
        archive.as_os_str(),
        os("--"),
        python.as_os_str(),
        os("-c"),
        os(script),
    ]);
    let stacks: Vec<(String, u64)> =
        read_folded(&folded).into_iter().filter(|(s, _)| s.starts_with("python3")).collect();
    let total = count_where(&stacks, |_| true);
    let eval = count_where(&stacks, |s| has_frame(s, "_PyEval_EvalFrameDefault"));
    let full = count_where(&stacks, |s| {
        has_frame(s, "_PyEval_EvalFrameDefault") && has_frame(s, "Py_RunMain") && has_frame(s, "Py_BytesMain")
    });
    println!(
        "python: {full} of {total} samples reach main through Py_RunMain ({:.1}%); {eval} in the eval loop",
        pct(full, total)
    );
    assert!(total >= 600, "expected ~790 samples of 8 s, got {total}");
    assert!(pct(full, total) >= 90.0, "{:?}", &stacks[..stacks.len().min(20)]);

    let out = prof_ok(&[os("report"), archive.as_os_str(), os("--unwind-report")]);
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(text.contains("unwinding (auto)"), "{text}");
    assert!(text.lines().any(|l| l.contains("python3") && l.contains(".eh_frame (")), "{text}");
}

/// `--unwind dwarf` walks with tables only and still reaches main on code that has them.
#[test]
fn unwind_dwarf_mode_uses_tables_only() {
    let _m = bpf_test!("unwind_dwarf_mode_uses_tables_only");
    let nofp = workload_with("deep", "deep_nofp", &["-O2", "-g", "-fomit-frame-pointer"]);
    let dir = tempfile::tempdir().unwrap();
    let (stacks, archive) = record(dir.path(), "dwarf", &nofp, "3", &["--unwind", "dwarf"]);
    let total = count_where(&stacks, |_| true);
    let deep = pct(count_where(&stacks, |s| s.contains(&deep_chain())), total);
    println!("deep_nofp (dwarf): {deep:.1}% of {total} samples reach main");
    assert!(deep >= 90.0, "{stacks:?}");
    assert_eq!(archive.meta.unwind.modes.only(), Some(UnwindMode::Dwarf));
}

/// The BPF program, walker included, passes the verifier on this kernel in every unwind mode,
/// and the row index space is sized as asked, rounded up to whole chunks of 65,536 rows, the
/// first created at the start (none with `--unwind fp`).
#[test]
fn unwind_bpf_program_passes_verifier_in_every_mode() {
    use prof::sample::{Sampler, SamplerOptions};
    let _m = bpf_test!("unwind_bpf_program_passes_verifier_in_every_mode");
    for mode in [UnwindMode::Auto, UnwindMode::Dwarf, UnwindMode::Fp] {
        let opts = SamplerOptions { unwind: mode, unwind_rows: 2 * 65536 + 1, ..Default::default() };
        let mut sampler = Sampler::start(&opts).unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        let expected = if mode == UnwindMode::Fp { 0 } else { 3 * 65536 };
        assert_eq!(sampler.unwind_capacity(), expected, "{mode:?}");
        // The first chunk (65,536 rows of 8 bytes) exists from the start: installing it waits
        // for an RCU grace period, which the first process captured would otherwise wait for.
        let first_chunk = if mode == UnwindMode::Fp { 0 } else { 512 << 10 };
        assert_eq!(sampler.unwind_row_memory(), (first_chunk, first_chunk), "{mode:?}: one chunk before any table");
        assert_eq!(sampler.unwind_mode(), mode);
        sampler.stop().unwrap();
    }
}

/// A frame larger than 512 KiB (CFA = RSP + ~600 KiB in `big_frame`, built without frame
/// pointers): its row keeps the offset, so ≥95% of the samples in `burn` reach `main` through
/// it instead of ending with "unsupported CFI rule".
#[test]
fn unwind_frame_above_512k_reaches_main() {
    let _m = bpf_test!("unwind_frame_above_512k_reaches_main");
    let bin = workload_with("bigframe", "bigframe_nofp", &["-O2", "-g", "-fomit-frame-pointer"]);
    let dir = tempfile::tempdir().unwrap();
    let (stacks, archive) = record(dir.path(), "bigframe", &bin, "3", &[]);
    let burn = count_where(&stacks, |s| has_frame(s, "burn"));
    let full = count_where(&stacks, |s| s.contains(";main;big_frame;burn"));
    println!("bigframe: {full} of {burn} samples in burn reach main through big_frame");
    assert!(burn >= 100, "{stacks:?}");
    assert!(pct(full, burn) >= 95.0, "{stacks:?}");
    let unsupported: u64 = archive
        .meta
        .unwind
        .binaries
        .values()
        .map(|b| b.stopped.get(&prof::profile::unwind::UnwindStatus::Unsupported).copied().unwrap_or(0))
        .sum();
    assert_eq!(unsupported, 0, "{:?}", archive.meta.unwind);
}
