//! Recording while `kernel.kptr_restrict = 2` hides kernel addresses from everyone, root
//! included (`/proc/kallsyms` reads as zeros): one warning like perf's, kernel frames kept as
//! `[kernel.kallsyms]+0xADDRESS`, user stacks symbolized as usual, the profile still written.
//!
//! The sysctl is machine-wide: it is set only for the few seconds of the recordings and put back
//! by a guard, also when the test panics.

mod common;

use std::ffi::OsStr;
use std::path::Path;

use common::{assert_conserved, count_where, has_frame, prof_ok, read_folded, workload};
use prof::profile::FrameKind;

const KPTR_RESTRICT: &str = "/proc/sys/kernel/kptr_restrict";

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Sets `kernel.kptr_restrict` and puts the old value back when dropped (on panic too).
struct KptrRestrict {
    old: String,
}

impl KptrRestrict {
    fn set(value: &str) -> KptrRestrict {
        let old = std::fs::read_to_string(KPTR_RESTRICT).expect("kptr_restrict readable");
        std::fs::write(KPTR_RESTRICT, value).expect("kptr_restrict writable (root)");
        KptrRestrict { old }
    }
}

impl Drop for KptrRestrict {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(KPTR_RESTRICT, self.old.trim()) {
            eprintln!("could not restore {KPTR_RESTRICT} to {}: {e}", self.old.trim());
        }
    }
}

/// Lines of `stderr` that warn about hidden kernel addresses.
fn hidden_warnings(stderr: &str) -> usize {
    stderr.lines().filter(|l| l.contains("warning") && l.contains("kernel addresses are hidden")).count()
}

/// True for a kernel frame left unnamed: `[kernel.kallsyms]+0x<kernel address>_[k]`.
fn is_address_frame(frame: &str) -> bool {
    let hex = frame.strip_prefix("[kernel.kallsyms]+0x").and_then(|f| f.strip_suffix("_[k]"));
    hex.and_then(|h| u64::from_str_radix(h, 16).ok()).is_some_and(|a| a >= 0xffff_8000_0000_0000)
}

/// With `kptr_restrict = 2`, a recording of a syscall-heavy workload warns exactly once naming
/// the sysctl and the fix; every kernel frame is `[kernel.kallsyms]+0x…` (a real kernel address,
/// none named), found under the workload's user frames, which are symbolized (`main`,
/// `do_reads`) as usual; the archive and folded output are written, conserve every sample, and
/// say why kernel frames are unnamed. A continuous recording warns once too, not per interval.
#[test]
fn record_hidden_kallsyms_warns_once_and_keeps_addresses() {
    let _m = bpf_test!("record_hidden_kallsyms_warns_once_and_keeps_addresses");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI runs as root: the sysctl must be writable");
        println!("SKIPPED record_hidden_kallsyms_warns_once_and_keeps_addresses: setting kptr_restrict needs root");
        return;
    }
    let bin = workload("syscalls");
    let dir = tempfile::tempdir().unwrap();
    let (folded, archive, archives) = (dir.path().join("x.folded"), dir.path().join("x.prof"), dir.path().join("dir"));
    let (one, continuous) = {
        let _hidden = KptrRestrict::set("2");
        let zeros = std::fs::read_to_string("/proc/kallsyms").unwrap();
        assert!(zeros.lines().take(100).all(|l| l.starts_with("0000000000000000 ")), "kallsyms not hidden");
        let one = prof_ok(&[
            os("record"),
            os("-o"),
            folded.as_os_str(),
            os("-o"),
            archive.as_os_str(),
            os("--"),
            bin.as_os_str(),
            os("2"),
        ]);
        let continuous = prof_ok(&[
            os("record"),
            os("--continuous"),
            os("--dir"),
            archives.as_os_str(),
            os("--interval"),
            os("1s"),
            os("-d"),
            os("2.5"),
        ]);
        (one, continuous)
    };
    let restored = std::fs::read_to_string(KPTR_RESTRICT).unwrap();
    assert_ne!(restored.trim(), "2", "kptr_restrict was not restored");

    let stderr = String::from_utf8_lossy(&one.stderr);
    assert_eq!(hidden_warnings(&stderr), 1, "{stderr}");
    assert!(
        stderr.contains("kernel.kptr_restrict = 2") && stderr.contains("sysctl kernel.kptr_restrict=0"),
        "{stderr}"
    );

    let stacks: Vec<(String, u64)> =
        read_folded(&folded).into_iter().filter(|(s, _)| s.starts_with("w_syscalls;")).collect();
    let total = count_where(&stacks, |_| true);
    assert!(total >= 40, "expected ~200 samples of 2 s at 99 Hz (fewer on a busy machine), got {total}");
    let frames = || stacks.iter().flat_map(|(s, _)| s.split(';'));
    let kernel: Vec<&str> = frames().filter(|f| f.ends_with("_[k]")).collect();
    assert!(!kernel.is_empty(), "no kernel frames: {stacks:?}");
    assert!(kernel.iter().all(|f| is_address_frame(f)), "a kernel frame is not an address: {kernel:?}");
    let user_then_kernel = count_where(&stacks, |s| {
        let fs: Vec<&str> = s.split(';').collect();
        let k = fs.iter().position(|f| f.ends_with("_[k]"));
        let reads = fs.iter().position(|f| *f == "do_reads");
        matches!((reads, k), (Some(r), Some(k)) if r < k) && has_frame(s, "main")
    });
    assert!(user_then_kernel * 2 >= total, "{user_then_kernel} of {total} samples in the kernel under do_reads");
    let symbolized = count_where(&stacks, |s| has_frame(s, "main") && has_frame(s, "do_reads"));
    assert!(symbolized * 100 >= total * 90, "user stacks degraded: {symbolized} of {total} reach main/do_reads");

    let p = assert_conserved(&archive);
    assert!(p.meta.notes.iter().any(|n| n.contains("kernel frames unnamed")), "{:?}", p.meta.notes);
    let kernel_frames: Vec<_> = p.frames.iter().filter(|f| f.kind == FrameKind::Kernel).collect();
    assert!(!kernel_frames.is_empty());
    assert!(kernel_frames
        .iter()
        .all(|f| f.module == "[kernel.kallsyms]" && f.name.starts_with("[kernel.kallsyms]+0x")));

    let stderr = String::from_utf8_lossy(&continuous.stderr);
    assert_eq!(hidden_warnings(&stderr), 1, "{stderr}");
    let (entries, _) = prof::store::list(Path::new(&archives)).unwrap();
    assert!(entries.len() >= 2, "{} archives", entries.len());
    for e in &entries {
        let p = prof::archive::read_file(&e.path).unwrap();
        assert!(p.meta.notes.iter().any(|n| n.contains("kernel frames unnamed")), "{:?}", p.meta.notes);
    }
}
