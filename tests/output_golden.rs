//! Golden tests of the output stage: folded text, deterministic flame graph SVGs and top tables
//! of small fixed profiles, compared with `tests/fixtures/output/<case>.*`.
//!
//! A missing golden file is created (the test passes and says so), `PROF_BLESS=1` rewrites every
//! golden file, and a mismatch fails naming the file and first differing line, leaving the actual
//! output next to it as `<file>.actual`.

mod common;

use std::path::Path;

use prof::output::flamegraph::{self, SvgError, SvgOptions};
use prof::output::{folded, top, Format, RenderOptions};
use prof::profile::{
    EventKind, Frame, FrameKind, LossReason, Metadata, Profile, ProfileBuilder, MISSING_KERNEL_STACK,
    MISSING_USER_STACK,
};

/// Compares `actual` with `tests/fixtures/output/<name>`.
fn check_golden(name: &str, actual: &str) {
    common::check_golden("output", name, actual);
}

/// A small builder for test profiles: frames by name, stacks outermost first.
struct Fixture {
    builder: ProfileBuilder,
}

impl Fixture {
    fn new(meta: Metadata) -> Self {
        Fixture { builder: ProfileBuilder::new(meta) }
    }

    fn add(&mut self, pid: u32, comm: &str, frames: &[Frame], count: u64) {
        let ids = frames.iter().map(|f| self.builder.frame(f.clone())).collect();
        let stack = self.builder.stack(ids);
        self.builder.add(stack, pid, comm, count);
    }

    fn finish(self) -> Profile {
        self.builder.finish()
    }
}

fn user(name: &str, module: &str) -> Frame {
    Frame::new(name, module, FrameKind::User)
}

fn inlined(name: &str, module: &str) -> Frame {
    Frame { inlined: true, file: Some("src/main.rs".into()), line: Some(12), ..user(name, module) }
}

fn kernel(name: &str) -> Frame {
    Frame::new(name, "[kernel.kallsyms]", FrameKind::Kernel)
}

/// A recording of a CPU burner: user, inlined, kernel, recursive and placeholder frames, two
/// processes with the same comm, a second comm and the idle task.
fn burner_profile() -> Profile {
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
        total_samples: 0,
        ..Metadata::default()
    };
    meta.losses.insert(LossReason::KernelStackFault, 2);
    let start = user("_start", "burner");
    let libc_main = user("__libc_start_main", "libc.so.6");
    let main = user("main", "burner");
    let spin = user("burner::spin", "burner");
    let hash = inlined("burner::hash", "burner");
    let fib = user("burner::fib", "burner");
    let memcpy = user("__memcpy_avx_unaligned", "libc.so.6");
    let write = user("__GI___libc_write", "libc.so.6");
    let entry = kernel("entry_SYSCALL_64_after_hwframe");
    let do_syscall = kernel("do_syscall_64");
    let sys_write = kernel("__x64_sys_write");
    let idle = kernel("do_idle");
    let startup = kernel("cpu_startup_entry");
    let base = [start, libc_main, main];
    let with = |extra: &[Frame]| -> Vec<Frame> { base.iter().chain(extra).cloned().collect() };

    let mut f = Fixture::new(meta);
    f.add(100, "burner", &with(std::slice::from_ref(&spin)), 40);
    f.add(100, "burner", &with(&[spin.clone(), hash.clone()]), 25);
    f.add(101, "burner", &with(&[spin.clone(), hash]), 5);
    f.add(100, "burner", &with(&[memcpy]), 10);
    f.add(100, "burner", &with(&[fib.clone(), fib.clone(), fib]), 7);
    f.add(100, "burner", &with(&[write, entry.clone(), do_syscall.clone(), sys_write]), 8);
    f.add(100, "burner", &with(&[spin, Frame::placeholder(MISSING_KERNEL_STACK)]), 2);
    f.add(200, "kworker/0:1", &[Frame::placeholder(MISSING_USER_STACK), entry, do_syscall], 3);
    f.add(0, "swapper/0", &[startup, idle], 6);
    let mut profile = f.finish();
    profile.meta.total_samples = profile.total();
    profile
}

/// A profile whose names try to break the folded format, the SVG and the terminal.
fn hostile_profile() -> Profile {
    let meta = Metadata { target: "<img src=x onerror=alert(1)>".into(), ..Metadata::default() };
    let mut f = Fixture::new(meta);
    let script = user("<script>alert(1)</script>", "evil.so");
    let onload = user("\"onload=alert(1)", "evil.so");
    let amp = user("fish&chips", "a&b.so");
    let semicolon = user("<[u8; 8] as Debug>::fmt", "evil.so");
    let newline = user("line\nbreak\r\tand\u{1b}[31mred", "evil.so");
    let number = user("worker 2", "evil.so");
    let kernel_amp = kernel("k&<k>");
    let cdata = user("]]><svg onload=alert(1)>", "evil.so");
    let long = user(&format!("{}::🔥", "ü".repeat(300)), "evil.so");
    f.add(7, "<script>", &[script.clone(), onload.clone(), amp.clone()], 5);
    f.add(7, "<script>", &[script.clone(), semicolon, kernel_amp], 3);
    f.add(8, "# not a comment", &[newline, number], 2);
    f.add(9, "", &[user("", "evil.so"), onload], 1);
    f.add(10, "long", &[long, cdata], 4);
    let mut profile = f.finish();
    profile.meta.total_samples = profile.total();
    profile
}

/// Renders the three outputs of `profile` and checks them against `<case>.{folded,svg,txt}`.
fn check_case(case: &str, profile: &Profile, render: &RenderOptions) -> String {
    let mut folded_text = Vec::new();
    folded::write(profile, render, &mut folded_text).expect("writing folded text to memory failed");
    let folded_text = String::from_utf8(folded_text).expect("folded output is not UTF-8");
    check_golden(&format!("{case}.folded"), &folded_text);

    let (title, subtitle) = flamegraph::default_title(&profile.meta);
    let svg_opts = SvgOptions { title, subtitle, deterministic: true, no_javascript: false };
    let mut svg = Vec::new();
    flamegraph::write_svg(profile, render, &svg_opts, &mut svg).expect("drawing the SVG failed");
    let svg = String::from_utf8(svg).expect("SVG output is not UTF-8");
    check_golden(&format!("{case}.svg"), &svg);

    let rows = top::top(profile, 20);
    let mut table = Vec::new();
    top::write_table(&rows, profile.meta.total_samples, &mut table).expect("writing table failed");
    check_golden(&format!("{case}.txt"), &String::from_utf8(table).expect("table is not UTF-8"));
    svg
}

/// The burner profile's folded text, SVG and top table match their golden files.
#[test]
fn output_burner_matches_golden() {
    check_case("burner", &burner_profile(), &RenderOptions::default());
}

/// The burner profile with `comm [pid]` roots matches its golden files.
#[test]
fn output_burner_pid_in_name_matches_golden() {
    check_case("burner_pids", &burner_profile(), &RenderOptions { pid_in_name: true, ..RenderOptions::default() });
}

/// Hostile names match their golden files and are escaped in the SVG.
#[test]
fn output_hostile_names_match_golden_and_are_escaped() {
    let svg =
        check_case("hostile", &hostile_profile(), &RenderOptions { pid_in_name: true, ..RenderOptions::default() });
    assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "`<script>` frame not escaped");
    assert!(!svg.contains("<script>alert"), "raw `<script>` in the SVG");
    assert!(svg.contains("fish&amp;chips"), "`&` not escaped");
    assert!(!svg.contains("fish&chips"), "raw `&` in the SVG");
    assert!(!svg.contains("\"onload="), "raw `\"onload=` in the SVG");
    assert!(svg.contains("&lt;img src=x onerror=alert(1)&gt;"), "title not escaped");
    assert!(svg.contains("]]&gt;&lt;svg onload=alert(1)&gt;"), "`]]>` frame not escaped");
    assert!(!svg.contains("]]><svg onload"), "raw `]]>` in the SVG");
}

/// Two renderings of the same profile give byte-identical SVGs.
#[test]
fn flamegraph_deterministic_is_byte_identical() {
    let profile = burner_profile();
    let opts = SvgOptions { title: "t".into(), subtitle: None, deterministic: true, no_javascript: false };
    let render = |_| {
        let mut out = Vec::new();
        flamegraph::write_svg(&profile, &RenderOptions::default(), &opts, &mut out).expect("drawing the SVG failed");
        out
    };
    assert!(render(1) == render(2), "deterministic SVGs differ");
}

/// Kernel and inlined frames carry the suffixes the java palette colors by.
#[test]
fn flamegraph_kernel_and_inline_frames_are_colored_apart() {
    let lines = folded::lines(&burner_profile(), &RenderOptions::default());
    assert!(lines.iter().any(|l| l.contains(";do_syscall_64_[k];")), "no kernel suffix: {lines:?}");
    assert!(lines.iter().any(|l| l.contains(";burner::hash_[i] ")), "no inline suffix: {lines:?}");
    let mut svg = Vec::new();
    let opts = SvgOptions { title: "t".into(), subtitle: None, deterministic: true, no_javascript: false };
    flamegraph::write_svg(&burner_profile(), &RenderOptions::default(), &opts, &mut svg)
        .expect("drawing the SVG failed");
    let svg = String::from_utf8(svg).expect("SVG output is not UTF-8");
    let fill_of = |name: &str| -> String {
        let at = svg.find(&format!("<title>{name} (")).unwrap_or_else(|| panic!("no `{name}` frame"));
        let rest = &svg[at..];
        let fill = rest.find("fill=\"").expect("frame without fill") + "fill=\"".len();
        rest[fill..fill + rest[fill..].find('"').expect("unterminated fill")].to_string()
    };
    assert_ne!(fill_of("do_syscall_64"), fill_of("main"), "kernel frame colored like a user frame");
    assert!(svg.contains("function search("), "search script missing");
    assert!(svg.contains("function zoom("), "zoom script missing");
}

/// An empty profile is an error, not an empty SVG.
#[test]
fn flamegraph_empty_profile_is_error() {
    let mut out = Vec::new();
    let opts = SvgOptions::default();
    let err = flamegraph::write_svg(&Profile::default(), &RenderOptions::default(), &opts, &mut out);
    assert!(matches!(err, Err(SvgError::Empty)), "expected SvgError::Empty, got {err:?}");
    assert!(out.is_empty(), "wrote {} bytes for an empty profile", out.len());
}

/// The default title names target, duration, samples, frequency, event and losses.
#[test]
fn flamegraph_default_title_describes_recording() {
    let (title, subtitle) = flamegraph::default_title(&burner_profile().meta);
    assert_eq!(title, "prof: ./burner (10.0 s)");
    assert_eq!(subtitle.as_deref(), Some("106 samples · 99 Hz · cpu-clock · 2 losses"));
}

/// Recursive functions count once per stack in the top table's total column.
#[test]
fn top_recursion_counts_once_per_stack() {
    let rows = top::top(&burner_profile(), 100);
    let fib = rows.iter().find(|r| r.name == "burner::fib").expect("no burner::fib row");
    assert_eq!((fib.self_count, fib.total_count), (7, 7));
    let main = rows.iter().find(|r| r.name == "main").expect("no main row");
    assert_eq!(main.total_count, 97);
    assert!(rows.iter().all(|r| r.name != "burner"), "comm listed as a function");
}

/// Output formats are chosen from the path's extension.
#[test]
fn output_format_from_extension() {
    assert_eq!(Format::from_path(Path::new("a/b.prof")), Some(Format::Archive));
    assert_eq!(Format::from_path(Path::new("out.folded")), Some(Format::Folded));
    assert_eq!(Format::from_path(Path::new("flame.SVG")), Some(Format::Svg));
    assert_eq!(Format::from_path(Path::new("flame.txt")), None);
    assert_eq!(Format::from_path(Path::new("flame")), None);
}
