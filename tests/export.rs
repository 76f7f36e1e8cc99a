//! Export to the ecosystem's formats: pprof (`.pb.gz`) and speedscope (`.speedscope.json`).
//!
//! Golden files of a small synthetic profile (the pprof message decoded to readable text, the
//! speedscope JSON pretty-printed) live in `tests/fixtures/export/`, with `real.prof`: a real
//! recording of the split, syscalls, rust_burner and cxx workloads (kernel frames, Rust inlined
//! chains, five processes). The real one is checked against the consumers themselves:
//! `go tool pprof` (`-top`, `-traces`, `-diff_base`) must agree with prof's own top table, and
//! speedscope's own app must import the speedscope file with the same frames and weights.
//! Without `go`, or node/npm/Chromium, those tests print `SKIPPED <test>: <reason>`; with
//! `CI=true` they fail instead.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use prost::Message;

use prof::output::pprof::{self, proto};
use prof::output::{speedscope, top, Format};
use prof::profile::{
    EventKind, Frame, FrameKind, LossReason, Metadata, Profile, ProfileBuilder, SampledEvent, MISSING_KERNEL_STACK,
    MISSING_USER_STACK,
};

use common::{prof, prof_ok};

/// The real recording every consumer test reads.
fn real_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export/real.prof")
}

fn real_profile() -> Profile {
    prof::archive::read_file(&real_fixture()).expect("tests/fixtures/export/real.prof reads")
}

fn user(name: &str, module: &str) -> Frame {
    Frame::new(name, module, FrameKind::User)
}

fn at(frame: Frame, file: &str, line: u32) -> Frame {
    Frame { file: Some(file.into()), line: Some(line), ..frame }
}

fn inlined(frame: Frame) -> Frame {
    Frame { inlined: true, ..frame }
}

fn kernel(name: &str, module: &str) -> Frame {
    Frame::new(name, module, FrameKind::Kernel)
}

/// A small profile with every kind of frame: user frames with and without source lines, a
/// two-deep inlined chain, core-kernel and kernel-module frames, both placeholders, a user frame
/// of unknown module, two processes with one comm, a second comm and the idle task.
fn synthetic_profile() -> Profile {
    let mut meta = Metadata {
        prof_version: "0.1.0".into(),
        hostname: "testhost".into(),
        kernel_release: "6.8.0".into(),
        cpus: vec![0, 1],
        event: EventKind::CpuClock.into(),
        frequency_hz: 99,
        start_unix_ns: 1_700_000_000_000_000_000,
        end_unix_ns: 1_700_000_010_000_000_000,
        target: "./burner".into(),
        total_samples: 60,
        ..Metadata::default()
    };
    meta.losses.insert(LossReason::UserStackFault, 3);
    meta.notes.push("hardware cycles unavailable, used cpu-clock".into());
    let mut b = ProfileBuilder::new(meta);
    let mut add = |pid: u32, comm: &str, frames: &[Frame], count: u64| {
        let ids = frames.iter().map(|f| b.frame(f.clone())).collect();
        let stack = b.stack(ids);
        b.add(stack, pid, comm, count);
    };
    let start = user("_start", "burner");
    let main = at(user("main", "burner"), "src/main.rs", 30);
    let spin = at(user("burner::spin", "burner"), "src/main.rs", 20);
    let hash = inlined(at(user("burner::hash", "burner"), "src/hash.rs", 8));
    let mix = inlined(at(user("burner::mix", "burner"), "src/hash.rs", 3));
    let write = user("__GI___libc_write", "libc.so.6");
    let jit = user("[unknown]+0x7f0012", "");
    let entry = kernel("entry_SYSCALL_64_after_hwframe", "[kernel.kallsyms]");
    let do_write = kernel("nft_do_chain", "[nf_tables]");
    let idle = kernel("default_idle", "[kernel.kallsyms]");
    add(100, "burner", &[start.clone(), main.clone(), spin.clone(), hash.clone(), mix.clone()], 20);
    add(100, "burner", &[start.clone(), main.clone(), spin.clone(), hash.clone()], 9);
    add(101, "burner", &[start.clone(), main.clone(), spin.clone(), hash], 4);
    add(100, "burner", &[start.clone(), main.clone(), write, entry.clone(), do_write], 6);
    add(100, "burner", &[Frame::placeholder(MISSING_USER_STACK), entry], 3);
    add(102, "helper 2", &[jit, Frame::placeholder(MISSING_KERNEL_STACK)], 2);
    add(0, "swapper/0", &[idle], 16);
    b.finish()
}

/// The decoded pprof message as stable, readable text: every field, strings resolved.
fn dump(p: &proto::Profile) -> String {
    use std::fmt::Write;
    let s = |i: i64| -> String { format!("{:?}", String::from_utf8_lossy(&p.string_table[i as usize])) };
    let vt = |v: &proto::ValueType| format!("{}/{}", s(v.r#type), s(v.unit));
    let mut out = String::new();
    let w = &mut out;
    writeln!(w, "sample_type: {}", p.sample_type.iter().map(vt).collect::<Vec<_>>().join(" ")).unwrap();
    writeln!(w, "period_type: {} period: {}", p.period_type.as_ref().map(vt).unwrap_or_default(), p.period).unwrap();
    writeln!(w, "time_nanos: {} duration_nanos: {}", p.time_nanos, p.duration_nanos).unwrap();
    writeln!(
        w,
        "drop_frames: {} keep_frames: {} default_sample_type: {} doc_url: {}",
        s(p.drop_frames),
        s(p.keep_frames),
        s(p.default_sample_type),
        s(p.doc_url)
    )
    .unwrap();
    for &c in &p.comment {
        writeln!(w, "comment: {}", s(c)).unwrap();
    }
    for m in &p.mapping {
        writeln!(
            w,
            "mapping {}: file {} build_id {} memory {:#x}-{:#x} offset {:#x} functions={} filenames={} \
             line_numbers={} inline_frames={}",
            m.id,
            s(m.filename),
            s(m.build_id),
            m.memory_start,
            m.memory_limit,
            m.file_offset,
            m.has_functions,
            m.has_filenames,
            m.has_line_numbers,
            m.has_inline_frames
        )
        .unwrap();
    }
    for l in &p.location {
        writeln!(w, "location {}: mapping {} address {:#x} folded={}", l.id, l.mapping_id, l.address, l.is_folded)
            .unwrap();
        for line in &l.line {
            let name = p.function.iter().find(|f| f.id == line.function_id).map_or(String::new(), |f| s(f.name));
            writeln!(w, "  function {} {name} line {} column {}", line.function_id, line.line, line.column).unwrap();
        }
    }
    for f in &p.function {
        writeln!(
            w,
            "function {}: name {} system_name {} file {} start_line {}",
            f.id,
            s(f.name),
            s(f.system_name),
            s(f.filename),
            f.start_line
        )
        .unwrap();
    }
    for sample in &p.sample {
        let labels: Vec<String> = sample
            .label
            .iter()
            .map(|l| format!("{}={}", s(l.key), if l.str != 0 { s(l.str) } else { l.num.to_string() }))
            .collect();
        writeln!(w, "sample: locations {:?} values {:?} labels {}", sample.location_id, sample.value, labels.join(" "))
            .unwrap();
    }
    writeln!(w, "strings: {}", p.string_table.len()).unwrap();
    out
}

/// The pprof bytes of the synthetic profile, decoded, match the golden text; writing is
/// deterministic (byte-identical twice) and the file is gzip.
#[test]
fn export_pprof_golden() {
    let profile = synthetic_profile();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    pprof::write(&profile, &mut a).unwrap();
    pprof::write(&profile, &mut b).unwrap();
    assert_eq!(a, b, "pprof output is not deterministic");
    assert!(pprof::is_gzip(&a));
    let decoded = pprof::decode(&a, "synthetic.pb.gz").unwrap();
    assert_eq!(decoded, pprof::to_proto(&profile));
    common::check_golden("export", "synthetic.pprof.txt", &dump(&decoded));
    // The raw protobuf is what gzip wraps.
    assert_eq!(proto::Profile::decode(&decoded.encode_to_vec()[..]).unwrap(), decoded);
}

/// The speedscope file of the synthetic profile matches the golden (pretty-printed) JSON.
#[test]
fn export_speedscope_golden() {
    let mut out = Vec::new();
    speedscope::write(&synthetic_profile(), &mut out).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
    common::check_golden(
        "export",
        "synthetic.speedscope.json",
        &(serde_json::to_string_pretty(&value).unwrap() + "\n"),
    );
}

/// `.pb.gz`, `.pprof` and `.speedscope.json` choose the new formats; `.json`, `.gz` alone do not.
#[test]
fn export_formats_from_path() {
    for (path, format) in [
        ("cpu.pb.gz", Some(Format::Pprof)),
        ("a/CPU.PB.GZ", Some(Format::Pprof)),
        ("cpu.pprof", Some(Format::Pprof)),
        ("cpu.speedscope.json", Some(Format::Speedscope)),
        ("cpu.json", None),
        ("cpu.gz", None),
        ("pb.gz", None),
        ("cpu.prof", Some(Format::Archive)),
    ] {
        assert_eq!(Format::from_path(Path::new(path)), format, "{path}");
    }
}

/// The top table printed by `prof report` for `input`.
fn report_table(input: &Path) -> String {
    let out = prof_ok(&[OsStr::new("report"), input.as_os_str(), OsStr::new("--top"), OsStr::new("1000")]);
    String::from_utf8(out.stdout).unwrap()
}

/// `prof report` → pprof → `prof report` gives the same top table (every function's self and
/// total share, module and the sample total) as the original, for the real recording and the
/// synthetic profile, compressed or raw; `prof diff` reads pprof too.
#[test]
fn export_pprof_round_trip_top_table() {
    let dir = tempfile::tempdir().unwrap();
    let synthetic = dir.path().join("synthetic.prof");
    prof::archive::write_file(&synthetic_profile(), &synthetic).unwrap();
    for original in [real_fixture(), synthetic] {
        let pb = dir.path().join("out.pb.gz");
        let pprof_ext = dir.path().join("out.pprof");
        prof_ok(&[
            OsStr::new("report"),
            original.as_os_str(),
            OsStr::new("-o"),
            pb.as_os_str(),
            OsStr::new("-o"),
            pprof_ext.as_os_str(),
        ]);
        assert_eq!(std::fs::read(&pb).unwrap(), std::fs::read(&pprof_ext).unwrap());
        let expected = report_table(&original);
        assert_eq!(report_table(&pb), expected, "{}", original.display());
        // Raw protobuf, under a name that does not say pprof, is recognized too.
        let raw = dir.path().join("raw.bin");
        let message = pprof::decode(&std::fs::read(&pb).unwrap(), "out.pb.gz").unwrap();
        std::fs::write(&raw, message.encode_to_vec()).unwrap();
        assert_eq!(report_table(&raw), expected);
        // Folded output from the pprof is byte-identical to the original's.
        let (a, b) = (dir.path().join("a.folded"), dir.path().join("b.folded"));
        prof_ok(&[OsStr::new("report"), original.as_os_str(), OsStr::new("-o"), a.as_os_str()]);
        prof_ok(&[OsStr::new("report"), pb.as_os_str(), OsStr::new("-o"), b.as_os_str()]);
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        // prof diff reads it, and finds nothing changed.
        let out = prof_ok(&[OsStr::new("diff"), original.as_os_str(), pb.as_os_str()]);
        let table = String::from_utf8_lossy(&out.stdout);
        assert!(table.contains("\n0 of ") && table.contains("changed significantly"), "{table}");
    }
}

/// A CPU profile written by Go's runtime/pprof (`tests/fixtures/export/go-cpu.pb.gz`: Go 1.19,
/// a loop in `main.burn`; real addresses and mappings, no labels) reads into the expected table:
/// modules are the binary's file name, the comm is the main binary's.
#[test]
fn export_pprof_reads_go_runtime_profile() {
    let go = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export/go-cpu.pb.gz");
    common::check_golden("export", "go-cpu.txt", &report_table(&go));
    let p = pprof::read(&std::fs::read(&go).unwrap(), "go-cpu.pb.gz").unwrap();
    assert_eq!(p.meta.frequency_hz, 100);
    assert!(p.meta.event.is_unknown(), "{:?}", p.meta.event);
    assert!(p.samples.iter().all(|s| s.comm == "main" && s.pid == 0), "{:?}", p.samples);
}

/// The metadata survives the round trip through pprof's fields and comments.
#[test]
fn export_pprof_round_trip_metadata() {
    let original = synthetic_profile();
    let mut bytes = Vec::new();
    pprof::write(&original, &mut bytes).unwrap();
    let back = pprof::read(&bytes, "x.pb.gz").unwrap();
    let (a, b) = (&original.meta, &back.meta);
    assert_eq!(
        (&b.prof_version, &b.hostname, &b.kernel_release, &b.event, b.frequency_hz, &b.target),
        (&a.prof_version, &a.hostname, &a.kernel_release, &a.event, a.frequency_hz, &a.target)
    );
    assert_eq!((b.start_unix_ns, b.end_unix_ns, b.total_samples), (a.start_unix_ns, a.end_unix_ns, a.total_samples));
    assert_eq!(b.losses, a.losses);
    assert_eq!(b.notes[..a.notes.len()], a.notes[..]);
    assert!(b.notes.last().unwrap().contains("read from pprof `x.pb.gz`"), "{:?}", b.notes);
}

/// An event name prof does not sample with, or none, goes through pprof and an archive and
/// comes back as the same name.
#[test]
fn export_pprof_keeps_other_event_names() {
    for name in ["", "task-clock", "cycles"] {
        let mut original = synthetic_profile();
        original.meta.event = SampledEvent::from_name(name);
        let mut bytes = Vec::new();
        pprof::write(&original, &mut bytes).unwrap();
        let back = pprof::read(&bytes, "x.pb.gz").unwrap();
        assert_eq!(back.meta.event, original.meta.event);
        let mut archived = Vec::new();
        prof::archive::write(&back, &mut archived).unwrap();
        let again = prof::archive::read(&archived).unwrap();
        assert_eq!(again.meta.event.to_string(), name);
    }
}

/// `prof report DIR --from … -o x.pb.gz` writes a range of an archive directory as pprof.
#[test]
fn export_pprof_from_archive_directory_range() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("archives");
    std::fs::create_dir(&d).unwrap();
    for i in 0..3 {
        let mut b = ProfileBuilder::new(common::interval_meta(i, 10));
        let f = b.frame(user(if i == 0 { "early" } else { "late" }, "app"));
        let s = b.stack(vec![f]);
        b.add(s, 1, "app", 10);
        prof::archive::write_file(
            &b.finish(),
            &d.join(prof::store::archive_name(common::T0 + i * 10 * common::SEC, 42, i)),
        )
        .unwrap();
    }
    let from = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_nanos(common::T0 + 10 * common::SEC),
    )
    .to_string();
    let pb = dir.path().join("range.pb.gz");
    prof_ok(&[
        OsStr::new("report"),
        d.as_os_str(),
        OsStr::new("--from"),
        OsStr::new(&from),
        OsStr::new("-o"),
        pb.as_os_str(),
    ]);
    let p = pprof::read(&std::fs::read(&pb).unwrap(), "range.pb.gz").unwrap();
    let rows = top::top(&p, 10);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].name.as_str(), rows[0].self_count), ("late", 20));
    assert_eq!(p.meta.start_unix_ns, common::T0 + 10 * common::SEC);
    assert_eq!(p.meta.end_unix_ns, common::T0 + 30 * common::SEC);
}

/// Malformed pprof input fails with exit status 1 and an error naming the file, in
/// `prof report` and `prof diff`; nothing panics.
#[test]
fn export_pprof_malformed_input_fails_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut valid = Vec::new();
    pprof::write(&synthetic_profile(), &mut valid).unwrap();
    let mut gz_garbage = Vec::new();
    {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(&mut gz_garbage, flate2::Compression::default());
        e.write_all(b"\x0a\xff\xff\xff\x0fnot a profile").unwrap();
        e.finish().unwrap();
    }
    // A sample that references a location the profile does not have.
    let mut dangling = pprof::to_proto(&synthetic_profile());
    dangling.sample[0].location_id.push(4242);
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("truncated.pb.gz", valid[..valid.len() / 2].to_vec(), "decompress"),
        ("garbage.pb.gz", b"\x1f\x8bgarbage".to_vec(), "decompress"),
        ("notproto.pb.gz", gz_garbage, "not a valid pprof profile"),
        ("raw-garbage.pprof", b"\x0a\x05\x08".to_vec(), "not a valid pprof profile"),
        ("dangling.pb", dangling.encode_to_vec(), "location 4242"),
    ];
    let fixture = real_fixture();
    for (name, bytes, reason) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let report = vec![OsStr::new("report"), path.as_os_str()];
        let diff = vec![OsStr::new("diff"), fixture.as_os_str(), path.as_os_str()];
        for args in [report, diff] {
            let out = prof().args(&args).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
            assert!(stderr.contains(&format!("`{}`", path.display())) && stderr.contains(reason), "{name}: {stderr}");
            assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// go tool pprof

/// The `go` command, or `None` (after printing SKIPPED) when it is not installed; in CI a
/// missing `go` fails the test.
fn go_command(test: &str) -> Option<PathBuf> {
    let found = ["go", "/usr/lib/go/bin/go"].into_iter().map(PathBuf::from).find(|go| {
        Command::new(go).arg("version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: go not installed in CI (scripts/setup installs golang-go)"
        );
        println!("SKIPPED {test}: go not installed");
    }
    found
}

/// Runs `go tool pprof ARGS` offline and hermetically (its own HOME, caches and temp dir, no
/// network, no module or toolchain downloads) and returns its stdout.
fn go_pprof(go: &Path, args: &[&OsStr]) -> String {
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-pprof-home");
    std::fs::create_dir_all(home.join("tmp")).unwrap();
    let out = Command::new(go)
        .arg("tool")
        .arg("pprof")
        .args(args)
        .env("HOME", &home)
        .env("PPROF_TMPDIR", home.join("tmp"))
        .env("PPROF_BINARY_PATH", home.join("binaries"))
        .env("GOCACHE", home.join("gocache"))
        .env("GOPATH", home.join("gopath"))
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "")
        .env_remove("PPROF_TOOLS")
        .current_dir(&home)
        .stdin(Stdio::null())
        .output()
        .expect("go tool pprof runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "go tool pprof {args:?} failed: {stderr}");
    assert!(!stderr.contains("symbolization") && !stderr.contains("rror"), "go tool pprof {args:?} warned: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// A value as `go tool pprof -unit=ms` prints it (`885.77ms`, `0`, `-2ms`), in milliseconds.
fn parse_ms(token: &str) -> f64 {
    token.strip_suffix("ms").unwrap_or(token).parse().unwrap_or_else(|_| panic!("not a ms value: {token:?}"))
}

/// A percentage (`31.35%`).
fn parse_pct(token: &str) -> f64 {
    token.strip_suffix('%').and_then(|t| t.parse().ok()).unwrap_or_else(|| panic!("not a percentage: {token:?}"))
}

/// One row of `go tool pprof -top`.
#[derive(Debug)]
struct PprofRow {
    flat_ms: f64,
    flat_pct: f64,
    cum_pct: f64,
    name: String,
}

/// The rows of `go tool pprof -top` output: `flat flat% sum% cum cum% NAME`, `(inline)` removed.
fn parse_top(text: &str) -> Vec<PprofRow> {
    let mut lines = text.lines().skip_while(|l| !l.trim_start().starts_with("flat  flat%"));
    assert!(lines.next().is_some(), "no -top header in:\n{text}");
    lines
        .map(|line| {
            let mut rest = line.trim_start();
            let mut tokens = Vec::new();
            for _ in 0..5 {
                let (token, tail) = rest.split_once(char::is_whitespace).unwrap_or_else(|| panic!("bad row {line:?}"));
                tokens.push(token);
                rest = tail.trim_start();
            }
            let name = rest.strip_suffix(" (inline)").unwrap_or(rest).to_string();
            PprofRow {
                flat_ms: parse_ms(tokens[0]),
                flat_pct: parse_pct(tokens[1]),
                cum_pct: parse_pct(tokens[4]),
                name,
            }
        })
        .collect()
}

/// `go tool pprof -top` on prof's pprof of a real recording lists the same top 10 functions as
/// prof's own top table (up to the order of functions with equal self time), with self and total
/// shares within 0.1 points.
#[test]
fn export_pprof_top_matches_go_tool_pprof() {
    let Some(go) = go_command("export_pprof_top_matches_go_tool_pprof") else { return };
    let dir = tempfile::tempdir().unwrap();
    let pb = dir.path().join("real.pb.gz");
    prof_ok(&[OsStr::new("report"), real_fixture().as_os_str(), OsStr::new("-o"), pb.as_os_str()]);
    const N: usize = 10;
    let text = go_pprof(
        &go,
        &[
            OsStr::new("-top"),
            OsStr::new(&format!("-nodecount={N}")),
            OsStr::new("-nodefraction=0"),
            OsStr::new("-unit=ms"),
            pb.as_os_str(),
        ],
    );
    println!("{text}");
    let theirs = parse_top(&text);
    assert_eq!(theirs.len(), N, "{text}");

    let profile = real_profile();
    let ours = top::top(&profile, usize::MAX);
    let mut table = Vec::new();
    top::write_table(&ours[..N], profile.total(), &mut table).unwrap();
    println!("prof's table:\n{}", String::from_utf8_lossy(&table));
    for row in &theirs {
        let matching: Vec<_> = ours.iter().filter(|r| r.name == row.name).collect();
        assert_eq!(matching.len(), 1, "{}: pprof names one function, prof has {matching:?}", row.name);
        let r = matching[0];
        assert!(
            (r.self_pct - row.flat_pct).abs() <= 0.1,
            "{}: self {:.2}% vs pprof {:.2}%",
            r.name,
            r.self_pct,
            row.flat_pct
        );
        assert!(
            (r.total_pct - row.cum_pct).abs() <= 0.1,
            "{}: total {:.2}% vs pprof {:.2}%",
            r.name,
            r.total_pct,
            row.cum_pct
        );
    }
    // Same self shares in the same order; the same functions except among ties at the cut.
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert!((a.self_pct - b.flat_pct).abs() <= 0.1, "row {i}: prof {a:?} vs pprof {b:?}");
    }
    let cut = ours[N - 1].self_count;
    for r in ours.iter().take_while(|r| r.self_count > cut) {
        assert!(theirs.iter().any(|t| t.name == r.name), "{} is in prof's top {N} but not pprof's:\n{text}", r.name);
    }
    for t in &theirs {
        let r = ours.iter().find(|r| r.name == t.name).unwrap();
        assert!(r.self_count >= cut, "{} is in pprof's top {N} but below prof's", t.name);
    }
}

/// `go tool pprof -traces` shows every sample of prof's pprof with its frames (outermost
/// first after reversal, inlined ones included), comm and pid labels, and its CPU time.
#[test]
fn export_pprof_traces_match_go_tool_pprof() {
    let Some(go) = go_command("export_pprof_traces_match_go_tool_pprof") else { return };
    let dir = tempfile::tempdir().unwrap();
    let pb = dir.path().join("real.pb.gz");
    prof_ok(&[OsStr::new("report"), real_fixture().as_os_str(), OsStr::new("-o"), pb.as_os_str()]);
    let text = go_pprof(&go, &[OsStr::new("-traces"), OsStr::new("-unit=ms"), pb.as_os_str()]);

    // (comm, pid, frames outermost first) → milliseconds, summed over identical traces.
    type Key = (String, u32, Vec<String>);
    let mut theirs: BTreeMap<Key, f64> = BTreeMap::new();
    let blocks = text.split("-----------+-------------------------------------------------------").skip(1);
    for block in blocks.filter(|b| !b.trim().is_empty()) {
        let (mut comm, mut pid, mut frames, mut value) = (None, None, Vec::new(), None);
        for line in block.lines().filter(|l| !l.trim().is_empty()) {
            let t = line.trim_start();
            if value.is_none() {
                if let Some((key, v)) = t.split_once(":  ") {
                    match key {
                        "comm" => comm = Some(v.to_string()),
                        "pid" => pid = Some(v.parse::<u32>().unwrap()),
                        other => panic!("unexpected label {other}"),
                    }
                    continue;
                }
                let (v, frame) = t.split_once("   ").unwrap_or_else(|| panic!("bad trace line {line:?}"));
                value = Some(parse_ms(v));
                frames.push(frame.to_string());
            } else {
                frames.push(t.to_string());
            }
        }
        let frames: Vec<String> =
            frames.iter().rev().map(|f| f.strip_suffix(" (inline)").unwrap_or(f).to_string()).collect();
        let key = (comm.expect("comm label"), pid.expect("pid label"), frames);
        *theirs.entry(key).or_default() += value.expect("a value");
    }

    let profile = real_profile();
    let period_ms = pprof::period_ns(&profile.meta).unwrap() as f64 / 1e6;
    let mut ours: BTreeMap<Key, f64> = BTreeMap::new();
    for s in &profile.samples {
        let frames = profile.stack_frames(s.stack).map(|f| f.name.clone()).collect();
        *ours.entry((s.comm.clone(), s.pid, frames)).or_default() += s.count as f64 * period_ms;
    }
    assert_eq!(theirs.keys().collect::<Vec<_>>(), ours.keys().collect::<Vec<_>>());
    for (key, ms) in &ours {
        assert!((theirs[key] - ms).abs() < 0.02, "{key:?}: {} ms vs {ms} ms", theirs[key]);
    }
}

/// `go tool pprof -diff_base` between two of prof's pprof files shows each function's change
/// in self time as prof counts it.
#[test]
fn export_pprof_diff_base_in_go_tool_pprof() {
    let Some(go) = go_command("export_pprof_diff_base_in_go_tool_pprof") else { return };
    let dir = tempfile::tempdir().unwrap();
    let base = real_profile();
    // NEW: w_split twice as long, w_cxx gone.
    let mut new = base.clone();
    new.samples.retain(|s| s.comm != "w_cxx");
    for s in &mut new.samples {
        if s.comm == "w_split" {
            s.count *= 2;
        }
    }
    let (base_pb, new_pb) = (dir.path().join("base.pb.gz"), dir.path().join("new.pb.gz"));
    for (p, path) in [(&base, &base_pb), (&new, &new_pb)] {
        pprof::write(p, std::fs::File::create(path).unwrap()).unwrap();
    }
    let text = go_pprof(
        &go,
        &[
            OsStr::new("-top"),
            OsStr::new("-nodecount=1000"),
            OsStr::new("-nodefraction=0"),
            OsStr::new("-unit=ms"),
            OsStr::new("-diff_base"),
            base_pb.as_os_str(),
            new_pb.as_os_str(),
        ],
    );
    println!("{}", text.lines().take(20).collect::<Vec<_>>().join("\n"));
    let period_ms = pprof::period_ns(&base.meta).unwrap() as f64 / 1e6;
    // Self time is additive, so functions of one name in several modules sum (pprof merges them).
    let self_ms = |p: &Profile| {
        let mut m: HashMap<String, f64> = HashMap::new();
        for r in top::top(p, usize::MAX) {
            *m.entry(r.name).or_default() += r.self_count as f64 * period_ms;
        }
        m
    };
    let (b, n) = (self_ms(&base), self_ms(&new));
    let rows = parse_top(&text);
    let mut changed = 0;
    for name in b.keys().chain(n.keys()).collect::<std::collections::BTreeSet<_>>() {
        let expected = n.get(name).unwrap_or(&0.0) - b.get(name).unwrap_or(&0.0);
        let got = rows.iter().find(|r| &r.name == name).map_or(0.0, |r| r.flat_ms);
        assert!((got - expected).abs() < 0.02, "{name}: pprof diff {got} ms, expected {expected} ms");
        changed += usize::from(expected.abs() > 0.0);
    }
    assert!(changed >= 3, "the diff should change several functions");
    let spin = rows.iter().find(|r| r.name == "spin").expect("spin in the diff");
    assert!(spin.flat_ms > 800.0, "{spin:?}");
    let cxx = rows.iter().find(|r| r.name == "shapes::Spinner<long>::spin(long)").expect("cxx spin in the diff");
    assert!(cxx.flat_ms < -600.0, "{cxx:?}");
}

// ---------------------------------------------------------------------------------------------
// speedscope

/// Node, npm and Chromium, or `false` (after printing SKIPPED); in CI, missing ones fail.
fn speedscope_tools(test: &str) -> bool {
    let missing: Vec<&str> = ["/usr/bin/chromium", "node", "npm"]
        .into_iter()
        .filter(|cmd| {
            Command::new("sh")
                .args(["-c", &format!("command -v {cmd}")])
                .stdout(Stdio::null())
                .status()
                .map(|s| !s.success())
                .unwrap_or(true)
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{test}: missing {missing:?} in CI (run scripts/setup)");
    println!("SKIPPED {test}: missing {missing:?} (run scripts/setup)");
    false
}

/// Per profile name: (unit, total weight, self weight per frame name, total weight per name).
type Weights = BTreeMap<String, (String, u64, BTreeMap<String, u64>, BTreeMap<String, u64>)>;

/// What speedscope exported: its evented profiles replayed into weights per frame name.
fn exported_weights(v: &serde_json::Value) -> Weights {
    let frames: Vec<&str> =
        v["shared"]["frames"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    let mut out = Weights::new();
    for p in v["profiles"].as_array().unwrap() {
        assert_eq!(p["type"], "evented", "{p}");
        let (mut selfs, mut totals) = (BTreeMap::new(), BTreeMap::new());
        let mut stack: Vec<usize> = Vec::new();
        let mut last = p["startValue"].as_u64().unwrap();
        for e in p["events"].as_array().unwrap() {
            let at = e["at"].as_u64().unwrap();
            if at > last && !stack.is_empty() {
                *selfs.entry(frames[*stack.last().unwrap()].to_string()).or_insert(0) += at - last;
                let mut names: Vec<&str> = stack.iter().map(|&f| frames[f]).collect();
                names.sort_unstable();
                names.dedup();
                for name in names {
                    *totals.entry(name.to_string()).or_insert(0) += at - last;
                }
            }
            last = at;
            let frame = e["frame"].as_u64().unwrap() as usize;
            match e["type"].as_str().unwrap() {
                "O" => stack.push(frame),
                "C" => assert_eq!(stack.pop(), Some(frame), "unbalanced close"),
                t => panic!("event type {t}"),
            }
        }
        let total = p["endValue"].as_u64().unwrap() - p["startValue"].as_u64().unwrap();
        out.insert(
            p["name"].as_str().unwrap().to_string(),
            (p["unit"].as_str().unwrap().to_string(), total, selfs, totals),
        );
    }
    out
}

/// What the profile should show in speedscope: one profile per (pid, comm), weights in ns.
fn expected_weights(profile: &Profile) -> Weights {
    let period = pprof::period_ns(&profile.meta).unwrap();
    let mut out = Weights::new();
    for s in &profile.samples {
        let w = s.count * period;
        let entry = out
            .entry(format!("{} [{}]", s.comm, s.pid))
            .or_insert_with(|| ("nanoseconds".into(), 0, BTreeMap::new(), BTreeMap::new()));
        entry.1 += w;
        let mut names: Vec<&str> = profile.stack_frames(s.stack).map(|f| f.name.as_str()).collect();
        if let Some(leaf) = names.last() {
            *entry.2.entry(leaf.to_string()).or_insert(0) += w;
        }
        names.sort_unstable();
        names.dedup();
        for name in names {
            *entry.3.entry(name.to_string()).or_insert(0) += w;
        }
    }
    out
}

/// The speedscope export of a real recording opens in speedscope's own app (the npm package,
/// in headless Chromium): its importer builds one profile per process with the expected names,
/// frame names and weights (total, self and total per function), as its Export shows.
#[test]
fn export_speedscope_loads_in_speedscope() {
    let test = "export_speedscope_loads_in_speedscope";
    if !speedscope_tools(test) {
        return;
    }
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/speedscope");
    if !harness.join("node_modules/speedscope/package.json").exists()
        || !harness.join("node_modules/playwright-core/package.json").exists()
    {
        let st = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&harness)
            .status()
            .expect("npm runs");
        assert!(st.success(), "npm ci in tests/speedscope failed");
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("speedscope");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("real.speedscope.json");
    let exported = dir.join("real.exported.json");
    let _ = std::fs::remove_file(&exported);
    prof_ok(&[OsStr::new("report"), real_fixture().as_os_str(), OsStr::new("-o"), file.as_os_str()]);
    let out =
        Command::new("node").arg(harness.join("import.mjs")).arg(&file).arg(&exported).output().expect("node runs");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));

    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&exported).unwrap()).unwrap();
    assert!(v["exporter"].as_str().unwrap().starts_with("speedscope@"), "{}", v["exporter"]);
    let profile = real_profile();
    let theirs = exported_weights(&v);
    let ours = expected_weights(&profile);
    assert_eq!(theirs.keys().collect::<Vec<_>>(), ours.keys().collect::<Vec<_>>(), "profile names");
    for (name, expected) in &ours {
        assert_eq!(&theirs[name], expected, "profile {name}");
    }
    // The largest process is the one speedscope opens first.
    let first = v["profiles"][v["activeProfileIndex"].as_u64().unwrap() as usize]["name"].as_str().unwrap();
    assert_eq!(first, ours.iter().max_by_key(|(_, w)| w.1).unwrap().0);
}

/// Reads crafted pprof `bytes` named `name`, which must fail with a `TooMuchMemory` error naming
/// the file and `what`; returns how long the read took.
fn reject_memory(name: &str, bytes: &[u8], what: &str) -> std::time::Duration {
    let started = std::time::Instant::now();
    let err = match pprof::read(bytes, name) {
        Ok(p) => panic!("{name}: read {} samples", p.samples.len()),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert!(matches!(err, pprof::PprofError::TooMuchMemory { .. }), "{name}: {msg}");
    assert!(msg.starts_with(&format!("`{name}`: ")) && msg.contains(what), "{name}: {msg}");
    started.elapsed()
}

/// Crafted pprof inputs whose decoded form is far larger than their bytes are refused before the
/// memory is allocated: a 51 KB gzip of 26 million empty samples (2 bytes each on the wire, 72 in
/// memory: 1.9 GB before), a location of 300 lines naming one function with an 8 MiB name (each
/// line a frame copying the name: 2.4 GB), and a sample listing one location of 1000 lines 300,000
/// times (a stack of 300 million frames: 1.2 GB).
#[test]
fn export_pprof_refuses_inputs_that_explode_in_memory() {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let empty_samples = b"\x12\x00".repeat(1 << 20);
    for _ in 0..25 {
        gz.write_all(&empty_samples).unwrap();
    }
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 64 << 10, "{} bytes", bomb.len());
    reject_memory("samples.pb.gz", &bomb, "the protobuf message");

    let function = proto::Function { id: 1, name: 1, ..Default::default() };
    let line = proto::Line { function_id: 1, ..Default::default() };
    let long_names = proto::Profile {
        sample_type: vec![proto::ValueType { r#type: 2, unit: 3 }],
        sample: vec![proto::Sample { location_id: vec![1], value: vec![1], label: vec![] }],
        location: vec![proto::Location { id: 1, line: vec![line.clone(); 300], ..Default::default() }],
        function: vec![function.clone()],
        string_table: vec![b"".to_vec(), vec![b'f'; 8 << 20], b"samples".to_vec(), b"count".to_vec()],
        ..Default::default()
    };
    let took = reject_memory("names.pb", &long_names.encode_to_vec(), "the frames of location 1");
    assert!(took < std::time::Duration::from_secs(20), "{took:?}");

    let deep = proto::Profile {
        sample: vec![proto::Sample { location_id: vec![1; 300_000], value: vec![1], label: vec![] }],
        location: vec![proto::Location { id: 1, line: vec![line; 1000], ..Default::default() }],
        string_table: vec![b"".to_vec(), b"f".to_vec(), b"samples".to_vec(), b"count".to_vec()],
        ..long_names
    };
    let took = reject_memory("deep.pb", &deep.encode_to_vec(), "the stack of sample 0");
    assert!(took < std::time::Duration::from_secs(20), "{took:?}");
}
