//! Every reader of input prof does not control, on crafted inputs, under a 512 MiB address-space
//! limit (`RLIMIT_AS`): a `.prof` archive, a pprof profile and a folded file through
//! `prof report FILE`, a JIT perf map and a `/proc/PID/maps` text parsed in a child test process.
//! Each must end with a clear error (or a bounded result), never an abort or a crash on an
//! allocation sized from what the input declares. The limits themselves are documented in
//! `docs/archive-format.md` and `docs/export.md` (Limits).

mod common;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};

/// The address-space limit of every child: 512 MiB.
const LIMIT: u64 = 512 << 20;

/// Environment variable naming the case a re-executed test binary runs (see `child`).
const CHILD_CASE: &str = "PROF_BOUNDED_MEMORY_CASE";

/// Runs `cmd` with its address space limited to [`LIMIT`].
fn run_limited(cmd: &mut Command) -> Output {
    common::limit_address_space(cmd, LIMIT);
    cmd.output().expect("run the child")
}

/// `prof report FILE` under the limit must exit 1 with an error naming the file and saying
/// `reason`, and no signal, panic or allocation failure.
fn report_fails_clearly(path: &Path, reason: &str) {
    let out = run_limited(Command::new(env!("CARGO_BIN_EXE_prof")).arg("report").arg(path));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let name = path.file_name().unwrap().to_string_lossy();
    assert_eq!(out.status.signal(), None, "{name}: killed by a signal: {stderr}");
    assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
    assert!(!stderr.contains("memory allocation of") && !stderr.contains("panicked"), "{name}: {stderr}");
    assert!(stderr.contains(&format!("`{}`", path.display())) && stderr.contains(reason), "{name}: {stderr}");
}

/// An archive whose body is `body_len` bytes: a minimal `META`, then a `FRMS` section filling the
/// rest and declaring as many frames as 10-byte frames would fill, then `fill` bytes. Compressed
/// as it is written, so the body is never held whole.
fn frame_bomb(body_len: u64, fill: u8) -> Vec<u8> {
    let mut meta = Vec::new();
    for field in [&b"x"[..], b"", b""] {
        meta.extend_from_slice(&(field.len() as u32).to_le_bytes());
        meta.extend_from_slice(field);
    }
    meta.extend_from_slice(&0u32.to_le_bytes()); // cpus
    meta.extend_from_slice(&0u32.to_le_bytes()); // event
    meta.extend_from_slice(&[0; 24]); // frequency, start, end
    meta.extend_from_slice(&0u32.to_le_bytes()); // target
    meta.extend_from_slice(&[0; 8]); // total samples
    meta.extend_from_slice(&[0; 8]); // losses, notes
    let mut head = b"META".to_vec();
    head.extend_from_slice(&(meta.len() as u64).to_le_bytes());
    head.extend_from_slice(&meta);
    let frames_len = body_len - head.len() as u64 - 12;
    head.extend_from_slice(b"FRMS");
    head.extend_from_slice(&frames_len.to_le_bytes());
    head.extend_from_slice(&(((frames_len - 4) / 10) as u32).to_le_bytes());

    let mut crc = crc32fast::Hasher::new();
    let mut zstd = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    crc.update(&head);
    zstd.write_all(&head).unwrap();
    let chunk = vec![fill; 1 << 20];
    let mut left = body_len - head.len() as u64;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        crc.update(&chunk[..n]);
        zstd.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    let payload = zstd.finish().unwrap();
    let mut header = prof::archive::MAGIC.to_vec();
    header.extend_from_slice(&prof::archive::VERSION.to_le_bytes());
    header.extend_from_slice(&0u16.to_le_bytes());
    header.extend_from_slice(&body_len.to_le_bytes());
    header.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    header.extend_from_slice(&crc.finalize().to_le_bytes());
    let header_crc = crc32fast::hash(&header);
    header.extend_from_slice(&header_crc.to_le_bytes());
    header.extend_from_slice(&payload);
    header
}

/// Crafted archives: a 33 KB file with a 1 GiB body (more than the limit can inflate), a 64 MiB
/// body declaring 6.7 million frames of garbage (reserved up front before: 590 MB), a 250 MiB
/// body of 26 million valid empty frames (2.3 GB in memory).
#[test]
fn bounded_memory_archive() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, u64, u8, &str); 3] = [
        ("bomb-1g.prof", 1 << 30, 0, "cannot decompress the archive body: out of memory"),
        ("garbage-frames.prof", 64 << 20, 0xff, "frame name needs 4294967295 bytes"),
        ("empty-frames.prof", 250 << 20, 0, "frame table would take"),
    ];
    for (name, body_len, fill, reason) in cases {
        let path = dir.path().join(name);
        let bytes = frame_bomb(body_len, fill);
        assert!(bytes.len() < 64 << 10, "{name}: {} bytes", bytes.len());
        std::fs::write(&path, bytes).unwrap();
        report_fails_clearly(&path, reason);
    }
}

/// Crafted pprof: a 51 KB gzip of 26 million empty samples (1.9 GB decoded before), and a 1 MB
/// one of gzip members that inflate to 1 GiB (more than the limit can hold).
#[test]
fn bounded_memory_pprof() {
    let dir = tempfile::tempdir().unwrap();
    let member = |mib: usize| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&b"\x12\x00".repeat(mib << 19)).unwrap();
        gz.finish().unwrap()
    };
    let samples = member(50);
    let one_mib = member(1);
    let huge: Vec<u8> = std::iter::repeat_n(&one_mib[..], 1023).flatten().copied().collect();
    for (name, bytes, reason) in [
        ("samples.pb.gz", samples, "would take more than 1073741824 bytes of memory"),
        ("bomb.pb.gz", huge, "out of memory"),
    ] {
        assert!(bytes.len() < 2 << 20, "{name}: {} bytes", bytes.len());
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        report_fails_clearly(&path, reason);
    }
}

/// Crafted folded text: 32 MiB of nothing but distinct frames (2.5 GB in memory before).
#[test]
fn bounded_memory_folded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("distinct.folded");
    let mut text = String::with_capacity(33 << 20);
    let mut frame = 0u64;
    while text.len() < 32 << 20 {
        text.push('c');
        for _ in 0..100 {
            std::fmt::Write::write_fmt(&mut text, format_args!(";{frame:x}")).unwrap();
            frame += 1;
        }
        text.push_str(" 1\n");
    }
    std::fs::write(&path, text).unwrap();
    report_fails_clearly(&path, "the profile would take more than");
}

/// Runs the case `case` of [`child`] in a re-executed test binary under the limit; it must
/// exit successfully.
fn child_succeeds(case: &str) -> String {
    let out = run_limited(
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "bounded_memory_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_CASE, case),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), None, "{case}: killed by a signal: {stderr}");
    assert!(out.status.success(), "{case}: {stdout}\n{stderr}");
    stdout
}

/// The work of the child processes (nothing when not a child).
#[test]
fn bounded_memory_child() {
    let Ok(case) = std::env::var(CHILD_CASE) else { return };
    match case.as_str() {
        "perf-map" => {
            // 64 MiB of the shortest valid lines, every start distinct: 11 million symbols.
            let mut text = String::with_capacity(64 << 20);
            let mut i = 0u64;
            while text.len() + 24 < 64 << 20 {
                std::fmt::Write::write_fmt(&mut text, format_args!("{i:x} 1 f\n")).unwrap();
                i += 1;
            }
            let map = prof::symbolize::perf_map::PerfMap::parse(&text);
            assert_eq!(map.len() as u64, i);
            assert_eq!(map.lookup(i - 1), Some("f"));
            let per_symbol = map.heap_bytes() as f64 / i as f64;
            println!(
                "perf map: {i} symbols, {} heap bytes, {per_symbol:.1} per symbol, peak RSS {}",
                map.heap_bytes(),
                peak_rss()
            );
            // 16 bytes of entry and 2 of name ("f\n") per symbol.
            assert!(per_symbol <= 18.5, "{per_symbol} bytes per symbol");
        }
        "maps" => {
            // As many executable mappings as the kernel allows by default (vm.max_map_count),
            // each with a 256-byte path.
            let path = "/".repeat(256);
            let text: String = (0..65_530u64)
                .map(|i| format!("{:x}-{:x} r-xp 00000000 fd:01 {i} {path}\n", i << 12, (i + 1) << 12))
                .collect();
            let maps = prof::process::maps::parse_maps(&text);
            assert_eq!(maps.len(), 65_530);
            println!("maps: {} mappings, peak RSS {}", maps.len(), peak_rss());
        }
        other => panic!("unknown case {other}"),
    }
}

/// The child's peak resident set size, as `/proc/self/status` shows it.
fn peak_rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).unwrap_or("?").trim().to_string()
}

/// A 64 MiB perf map of 11 million minimal lines parses under the limit, at 16 bytes per symbol
/// plus its name (before: 40 bytes plus a heap string each, 949 MB for such a map).
#[test]
fn bounded_memory_perf_map() {
    let out = child_succeeds("perf-map");
    assert!(out.contains("perf map: "), "{out}");
    println!("{out}");
}

/// `/proc/PID/maps` of the most mappings a process can have parses under the limit.
#[test]
fn bounded_memory_proc_maps() {
    let out = child_succeeds("maps");
    assert!(out.contains("maps: 65530 mappings"), "{out}");
    println!("{out}");
}
