//! Unwind tables of the large binaries users profile most: Debian's clang, whose libLLVM
//! (~0.95M rows) and libclang-cpp (~1.0M rows) have tables larger than the fixed 2^20-row array
//! prof used to have. With default settings both load (the kernel memory grows in chunks with
//! what is mapped), and the compile's stacks reach `_start`; with only small binaries mapped the
//! BPF maps stay small. Needs root (or CAP_BPF + CAP_PERFMON) and clang (scripts/setup).

mod common;

use std::ffi::OsStr;
use std::path::Path;

use common::{count_where, prof_ok, read_folded, which, Background};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// The root frame and PID of a folded stack recorded with `--pid-in-name`: `clang++ [123]`.
fn pid_of(stack: &str) -> Option<u32> {
    let root = stack.split(';').next()?;
    root.rsplit_once(" [")?.1.strip_suffix(']')?.parse().ok()
}

/// `clang++ -O2` compiles the same file twice in one recording. Both of its big libraries get
/// their tables with the default `--unwind-rows` (before, they were "not loaded" and stacks
/// through them ended), the summary says how much kernel memory the tables took, and in both
/// compiles ≥95% of the samples' stacks reach `_start`: the second finds the tables built, the
/// first runs while they are built (seconds in this unoptimized test build, ~0.3 s in a release
/// build) and has its samples handed over meanwhile.
#[test]
fn unwind_large_clang_tables_load_by_default() {
    let _m = bpf_test!("unwind_large_clang_tables_load_by_default");
    let Ok(clang) = which("clang++") else { panic!("clang++ is not installed (scripts/setup installs it)") };
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workloads/clang_input.cpp");
    let (folded, archive) = (dir.path().join("clang.folded"), dir.path().join("clang.prof"));
    let script = format!(
        "'{0}' -O2 -c '{1}' -o '{2}/a.o' && '{0}' -O2 -c '{1}' -o '{2}/b.o'",
        clang.display(),
        src.display(),
        dir.path().display()
    );
    let out = prof_ok(&[
        os("record"),
        os("--pid-in-name"),
        os("-o"),
        folded.as_os_str(),
        os("-o"),
        archive.as_os_str(),
        os("--"),
        os("sh"),
        os("-c"),
        os(&script),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stderr}");

    let profile = prof::archive::read_file(&archive).expect("archive reads");
    for lib in ["libLLVM", "libclang-cpp"] {
        let (name, b) = profile
            .meta
            .unwind
            .binaries
            .iter()
            .find(|(name, _)| name.starts_with(lib))
            .unwrap_or_else(|| panic!("no samples in {lib}: {:?}", profile.meta.unwind.binaries.keys()));
        let rows: u64 = b
            .table
            .strip_prefix(".eh_frame (")
            .and_then(|t| t.strip_suffix(" rows)"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{name}: table {:?}", b.table));
        assert!(rows > 900_000, "{name}: {rows} rows");
    }
    assert!(!stderr.contains("not loaded"), "{stderr}");
    let mib = table_mib(&stderr);
    // ~2M rows of 8 bytes in 512 KiB chunks, with libc, libstdc++ and clang's own.
    assert!((15.0..40.0).contains(&mib), "{mib} MiB");

    let stacks: Vec<(String, u64)> = read_folded(&folded).into_iter().filter(|(s, _)| s.starts_with("clang")).collect();
    let pids: std::collections::BTreeSet<u32> = stacks.iter().filter_map(|(s, _)| pid_of(s)).collect();
    let (Some(&first), Some(&second)) = (pids.first(), pids.last()) else { panic!("clang was not sampled") };
    // The first compile runs while both tables are being built (seconds in this unoptimized
    // build): its samples are handed over and finished once they are ready; the second finds
    // them built.
    for (which, pid) in [("first", first), ("second", second)] {
        let mine: Vec<(String, u64)> = stacks.iter().filter(|(s, _)| pid_of(s) == Some(pid)).cloned().collect();
        let total = count_where(&mine, |_| true);
        let rooted = count_where(&mine, |s| s.split(';').nth(1) == Some("_start"));
        let pct = rooted as f64 * 100.0 / total.max(1) as f64;
        println!("{which} compile: {rooted} of {total} samples reach _start ({pct:.1}%)");
        assert!(total >= 200, "expected several seconds of compile, got {total} samples");
        assert!(pct >= 95.0, "{which}: {:?}", &mine[..mine.len().min(20)]);
    }
}

/// With only small binaries mapped (a C workload and libc), every BPF map prof holds takes at
/// most 16 MiB together, unwind rows included (a few 512 KiB chunks, not a fixed array).
#[test]
fn unwind_large_small_binaries_keep_maps_small() {
    let _m = bpf_test!("unwind_large_small_binaries_keep_maps_small");
    let bin = common::workload_with("deep", "deep_nofp", &["-O2", "-g", "-fomit-frame-pointer"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("deep.folded");
    let bg = Background::start(&[os("record"), os("-o"), out.as_os_str(), os("--"), bin.as_os_str(), os("4")]);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let bytes = common::bpf_map_bytes(bg.child.id()).expect("prof is running");
    let (status, stderr) = bg.finish();
    assert!(status.success(), "{stderr}");
    println!("BPF maps: {:.1} MiB; {stderr}", bytes as f64 / 1048576.0);
    assert!(bytes <= 16 << 20, "{bytes} bytes of BPF maps with only small binaries mapped");
    let mib = table_mib(&stderr);
    assert!((0.5..=2.0).contains(&mib), "{mib} MiB of tables for a small program and libc");
}

/// The unwind tables' kernel memory the summary reports (`tables 19.5 MiB in the kernel`).
fn table_mib(summary: &str) -> f64 {
    summary
        .split("tables ")
        .nth(1)
        .and_then(|t| t.split(" MiB").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no table memory in the summary: {summary}"))
}

/// When a table still cannot be loaded (here: a ceiling of one 65,536-row chunk, which
/// python3.11's ~65k rows and libc's ~28k cannot share), the summary names the binary, why,
/// and the option that fixes it, without `-v`.
#[test]
fn unwind_large_table_not_loaded_is_named() {
    let _m = bpf_test!("unwind_large_table_not_loaded_is_named");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("py.folded");
    let script = "import time\nend = time.time() + 3\nwhile time.time() < end:\n    pass\n";
    let run = prof_ok(&[
        os("record"),
        os("--unwind-rows"),
        os("1"),
        os("-o"),
        out.as_os_str(),
        os("--"),
        os("python3"),
        os("-c"),
        os(script),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    println!("{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("warning: the unwind table of"))
        .unwrap_or_else(|| panic!("no warning naming the binary: {stderr}"));
    assert!(line.contains("python") || line.contains("libc.so.6"), "{line}");
    assert!(line.contains("raise --unwind-rows"), "{line}");
}
