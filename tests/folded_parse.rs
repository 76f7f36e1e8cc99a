//! Tests of the folded stacks parser: round trips with the writer, errors naming file and line,
//! lenient mode, saturation, suffixes, and lines from other tools.

use prof::output::folded::{self, FoldedError, ParsedFolded};
use prof::output::RenderOptions;
use prof::profile::{Frame, FrameKind, Metadata, Profile, ProfileBuilder, MISSING_KERNEL_STACK, MISSING_USER_STACK};

/// A profile with every kind of frame and a few names that need sanitizing.
fn sample_profile() -> Profile {
    let mut b = ProfileBuilder::new(Metadata::default());
    let user = |b: &mut ProfileBuilder, name: &str| b.frame(Frame::new(name, "app", FrameKind::User));
    let main = user(&mut b, "main");
    let work = user(&mut b, "app::work");
    let semi = user(&mut b, "<[u8; 4]>::len");
    let odd = user(&mut b, " spaced\nname 12 ");
    let hash = user(&mut b, "# hash");
    let blank = user(&mut b, "\u{a0}");
    let nbsp = user(&mut b, "nbsp\u{a0}12");
    let tab = user(&mut b, "tab\tend;");
    let inl = b.frame(Frame { inlined: true, ..Frame::new("app::inner", "app", FrameKind::User) });
    let k1 = b.frame(Frame::new("entry_SYSCALL_64", "[kernel.kallsyms]", FrameKind::Kernel));
    let k2 = b.frame(Frame::new("do_syscall_64", "[kernel.kallsyms]", FrameKind::Kernel));
    let missing_user = b.frame(Frame::placeholder(MISSING_USER_STACK));
    let missing_kernel = b.frame(Frame::placeholder(MISSING_KERNEL_STACK));
    let stacks = [
        vec![main, work],
        vec![main, work, inl],
        vec![main, semi, odd],
        vec![hash, blank, nbsp, tab],
        vec![main, k1, k2],
        vec![missing_user, k1],
        vec![main, work, missing_kernel],
        vec![],
    ];
    for (i, frames) in stacks.into_iter().enumerate() {
        let stack = b.stack(frames);
        b.add(stack, 10 + i as u32, "app", 1 + i as u64);
        b.add(stack, 99, "other proc", 100);
    }
    b.finish()
}

/// Writes `profile` as folded text.
fn write_text(profile: &Profile, opts: &RenderOptions) -> String {
    let mut out = Vec::new();
    folded::write(profile, opts, &mut out).expect("writing to memory failed");
    String::from_utf8(out).expect("folded output is not UTF-8")
}

/// Parses `text` strictly, failing the test on error.
fn parse_ok(text: &str) -> ParsedFolded {
    folded::parse(text.as_bytes(), "test.folded", false).unwrap_or_else(|e| panic!("{e}"))
}

/// Parses `text` strictly and returns the error's message.
fn parse_err(text: &str) -> String {
    match folded::parse(text.as_bytes(), "file.folded", false) {
        Ok(parsed) => panic!("expected an error, parsed {:?}", parsed.profile),
        Err(e) => e.to_string(),
    }
}

/// The (comm, pid, frames, count) of every sample, sorted, for comparing profiles.
fn flatten(profile: &Profile) -> Vec<(String, u32, Vec<Frame>, u64)> {
    let mut out: Vec<_> = profile
        .samples
        .iter()
        .map(|s| (s.comm.clone(), s.pid, profile.stack_frames(s.stack).cloned().collect(), s.count))
        .collect();
    out.sort();
    out
}

/// Writing, parsing and writing again gives identical text, with and without pids.
#[test]
fn folded_round_trip_is_stable() {
    for pid_in_name in [false, true] {
        let opts = RenderOptions { pid_in_name, ..RenderOptions::default() };
        let first = write_text(&sample_profile(), &opts);
        let parsed = parse_ok(&first);
        assert_eq!(parsed.skipped_lines, 0);
        let second = write_text(&parsed.profile, &opts);
        assert_eq!(first, second, "round trip changed the text (pid_in_name = {pid_in_name})");
    }
}

/// Written lines are sorted, merged across pids and newline-terminated, with sanitized names.
#[test]
fn folded_write_sorts_merges_and_sanitizes() {
    let text = write_text(&sample_profile(), &RenderOptions::default());
    assert!(text.ends_with('\n'));
    let lines: Vec<&str> = text.lines().collect();
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted, "lines are not sorted");
    assert!(lines.contains(&"app 8"), "empty stack line missing: {lines:?}");
    assert!(lines.contains(&"app;main;<[u8: 4]>::len;spaced name_12 3"), "{lines:?}");
    assert!(lines.contains(&"app;#_hash;[unknown];nbsp_12;tab end: 4"), "{lines:?}");
    assert!(lines.contains(&"app;main;entry_SYSCALL_64_[k];do_syscall_64_[k] 5"), "{lines:?}");
    assert!(lines.contains(&"app;main;app::work;app::inner_[i] 2"), "{lines:?}");
    assert!(lines.contains(&"app;[missing user stack];entry_SYSCALL_64_[k] 6"), "{lines:?}");
    assert!(lines.contains(&"other proc;main;app::work 100"), "{lines:?}");
}

/// Root frames `comm [pid]` give the pid back; other roots have pid 0.
#[test]
fn folded_comm_pid_is_parsed() {
    let parsed = parse_ok("my app [4242];main 3\nplain;main 2\nodd [x];main 1\n");
    let samples = flatten(&parsed.profile);
    let main = vec![Frame::new("main", "", FrameKind::User)];
    assert_eq!(
        samples,
        vec![
            ("my app".to_string(), 4242, main.clone(), 3),
            ("odd [x]".to_string(), 0, main.clone(), 1),
            ("plain".to_string(), 0, main, 2),
        ]
    );
}

/// The `_[k]`, `_[i]` and `_[j]` suffixes and prof's placeholders set the frame kind.
#[test]
fn folded_suffixes_set_frame_kind() {
    let text = "app;[missing user stack];[unknown];jitted_[j];inl_[i];sys_[k];[missing kernel stack] 1\n";
    let parsed = parse_ok(text);
    let frames: Vec<Frame> = parsed.profile.stack_frames(parsed.profile.samples[0].stack).cloned().collect();
    let inl = Frame { inlined: true, ..Frame::new("inl", "", FrameKind::User) };
    assert_eq!(
        frames,
        vec![
            Frame::placeholder(MISSING_USER_STACK),
            Frame::new("[unknown]", "", FrameKind::User),
            Frame::new("jitted", "", FrameKind::User),
            inl,
            Frame::new("sys", "", FrameKind::Kernel),
            Frame::placeholder(MISSING_KERNEL_STACK),
        ]
    );
}

/// A line as written by `perf script | inferno-collapse-perf` parses with the comm as root.
#[test]
fn folded_perf_collapse_line_parses() {
    let parsed = parse_ok("perf;main;foo 12\nperf;main;foo;bar 3\n");
    let profile = &parsed.profile;
    assert_eq!(profile.samples.len(), 2);
    assert_eq!(profile.samples[0].comm, "perf");
    assert_eq!(profile.samples[0].pid, 0);
    assert_eq!(profile.samples[0].count, 12);
    let names: Vec<&str> = profile.stack_frames(profile.samples[0].stack).map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["main", "foo"]);
    assert_eq!(profile.meta.total_samples, 15);
    assert_eq!(profile.meta.target, "test.folded");
}

/// Each malformed line is an error naming the file and the 1-based line.
#[test]
fn folded_malformed_line_names_file_and_line() {
    let prefix = "a;b 1\n\n# comment\na;c 2\nx 3\nx;y 4\n";
    let cases = [
        ("a;b", "expected `STACK COUNT`, found no count"),
        ("a;b -3", "count `-3` is negative"),
        ("a;b 12x", "expected `STACK COUNT`, found `12x` instead of a count"),
        ("a;b 1.5", "count `1.5` is fractional"),
        ("42", "expected `STACK COUNT`, found an empty stack"),
        ("a;b 10 5", "expected `STACK COUNT`, found two counts (`10` and 5)"),
    ];
    for (line, reason) in cases {
        let message = parse_err(&format!("{prefix}{line}\na;b 1\n"));
        let expected = format!("`file.folded` line 7: {reason}");
        assert!(message.starts_with(&expected), "for `{line}`: expected `{expected}…`, got `{message}`");
    }
}

/// Lenient mode skips malformed lines and counts them.
#[test]
fn folded_lenient_skips_and_counts() {
    let text = b"a;b 1\nno count here\na;b -1\na;c 2.5\na;c 2\n";
    let parsed = folded::parse(text, "x.folded", true).expect("lenient parse failed");
    assert_eq!(parsed.skipped_lines, 3);
    assert_eq!(parsed.profile.meta.total_samples, 3);
    assert_eq!(parsed.profile.samples.len(), 2);
}

/// Input without samples is an `Empty` error naming the source.
#[test]
fn folded_empty_input_is_error() {
    for text in ["", "\n\n  \n", "# only a comment\n", "a;b 0\n"] {
        let err = folded::parse(text.as_bytes(), "nothing.folded", false).expect_err(text);
        assert_eq!(err, FoldedError::Empty { file: "nothing.folded".into() });
        assert_eq!(err.to_string(), "`nothing.folded` has no samples: expected lines of `STACK COUNT`");
    }
    let err = folded::parse(b"bad\n", "x.folded", true).expect_err("all lines skipped");
    assert_eq!(err, FoldedError::Empty { file: "x.folded".into() });
}

/// Counts near and above `u64::MAX` saturate when read, summed and written.
#[test]
fn folded_counts_saturate() {
    let max = u64::MAX;
    let parsed = parse_ok(&format!("a;b {max}\na;b 5\nc 99999999999999999999999\n"));
    let counts: Vec<u64> = flatten(&parsed.profile).into_iter().map(|s| s.3).collect();
    assert_eq!(counts, [max, max]);
    assert_eq!(parsed.profile.meta.total_samples, max);

    let mut b = ProfileBuilder::new(Metadata::default());
    let frame = b.frame(Frame::new("f", "", FrameKind::User));
    let stack = b.stack(vec![frame]);
    b.add(stack, 1, "a", max - 1);
    b.add(stack, 2, "a", 10);
    assert_eq!(write_text(&b.finish(), &RenderOptions::default()), format!("a;f {max}\n"));
}

/// Invalid UTF-8 is an error naming the line, and is decoded lossily in lenient mode.
#[test]
fn folded_invalid_utf8_errors_unless_lenient() {
    let text = b"a;b 1\na;\xff\xfe 2\n";
    let err = folded::parse(text, "bin.folded", false).expect_err("invalid UTF-8 accepted");
    assert_eq!(err, FoldedError::InvalidUtf8 { file: "bin.folded".into(), line: 2 });
    assert!(err.to_string().starts_with("`bin.folded` line 2: not valid UTF-8"), "{err}");
    let parsed = folded::parse(text, "bin.folded", true).expect("lenient parse failed");
    assert_eq!(parsed.profile.meta.total_samples, 3);
    assert!(parsed.profile.frames.iter().any(|f| f.name == "\u{fffd}\u{fffd}"));
}

/// CRLF line ends, blank lines, surrounding whitespace and `12.0` counts are accepted.
#[test]
fn folded_tolerates_crlf_whitespace_and_zero_fractions() {
    let parsed = parse_ok("a;b 1\r\n\r\n   a;b 2.0  \r\n\ta;c\t3\n");
    assert_eq!(flatten(&parsed.profile).into_iter().map(|s| s.3).collect::<Vec<_>>(), [3, 3]);
}

/// Two stacks of `u64::MAX` samples each are half of the profile each in the top table (shares
/// from exact sums), not 100% each as saturated totals would make them.
#[test]
fn folded_huge_counts_give_honest_top_shares() {
    let max = u64::MAX;
    let parsed = parse_ok(&format!("a;f {max}\nb;g {max}\nc;h 1\n"));
    let rows = prof::output::top::top(&parsed.profile, 10);
    let shares: Vec<(&str, u64, f64, f64)> =
        rows.iter().map(|r| (r.name.as_str(), r.self_count, r.self_pct, r.total_pct)).collect();
    assert_eq!(shares.len(), 3, "{shares:?}");
    for &(name, count, self_pct, total_pct) in &shares[..2] {
        assert_eq!(count, max, "{name}");
        assert!((self_pct - 50.0).abs() < 1e-9 && (total_pct - 50.0).abs() < 1e-9, "{shares:?}");
    }
    assert_eq!((shares[2].0, shares[2].1), ("h", 1));
    assert!(shares[2].2 < 1e-9, "{shares:?}");
    let mut table = Vec::new();
    prof::output::top::write_table(&rows, parsed.profile.meta.total_samples, &mut table).unwrap();
    let table = String::from_utf8(table).unwrap();
    assert_eq!(table.matches(" 50.00   50.00  ").count(), 2, "{table}");
}

/// Text of nothing but distinct frames (each a few bytes, ~250 in memory) is refused once the
/// profile would take 8 bytes per input byte (at least 64 MiB), naming the line; before, 32 MiB
/// of it took 2.5 GB. Text of repeated frames of the same size parses.
#[test]
fn folded_distinct_frames_are_bounded_by_the_input() {
    let mut text = String::new();
    let mut frame = 0u64;
    while text.len() < 16 << 20 {
        text.push('c');
        for _ in 0..100 {
            text.push_str(&format!(";{frame:x}"));
            frame += 1;
        }
        text.push_str(" 1\n");
    }
    let err = folded::parse(text.as_bytes(), "distinct.folded", true).unwrap_err();
    assert!(
        matches!(err, FoldedError::TooMuchMemory { line, limit, .. } if line > 1 && limit == 8 * text.len() as u64),
        "{err}"
    );
    assert!(err.to_string().starts_with("`distinct.folded` line "), "{err}");

    let line = format!("c{} 1\n", (0..100).map(|f| format!(";{f:x}")).collect::<String>());
    let repeated = line.repeat(text.len() / line.len());
    let parsed = parse_ok(&repeated);
    assert_eq!(parsed.profile.frames.len(), 100);
}
