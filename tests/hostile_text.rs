//! Names other users control (symbol names, comms, the command line) carrying terminal escape
//! sequences, BEL, the one-character CSI (U+009B) and a right-to-left override reach no
//! output raw: not the
//! end-of-recording summary printed on root's terminal, not the flame graph SVGs, not the
//! speedscope or diff JSON, not the diff table.

use prof::diff::render::{self, DiffSvgOptions};
use prof::output::flamegraph::{self, SvgOptions};
use prof::output::{speedscope, RenderOptions};
use prof::profile::{Frame, FrameKind, Metadata, Profile, ProfileBuilder};
use prof::record::{EndReason, EndStages, Recording};

/// What a hostile process puts into its names.
const HOSTILE: [&str; 4] = ["\u{1b}[31m", "\u{7}", "\u{9b}2J", "\u{202e}"];

/// A profile whose frame names, modules, comm, target and notes all carry [`HOSTILE`].
fn hostile_profile() -> Profile {
    let evil = HOSTILE.concat();
    let meta = Metadata {
        target: format!("./app{evil} --flag"),
        frequency_hz: 99,
        notes: vec![format!("note{evil}")],
        ..Metadata::default()
    };
    let mut b = ProfileBuilder::new(meta);
    let outer = b.frame(Frame::new(format!("main{evil}"), format!("lib{evil}.so"), FrameKind::User));
    let inner = b.frame(Frame::new(format!("work{evil}"), format!("lib{evil}.so"), FrameKind::User));
    let kernel = b.frame(Frame::new(format!("sys{evil}"), "[kernel.kallsyms]", FrameKind::Kernel));
    let one = b.stack(vec![outer, inner]);
    let two = b.stack(vec![outer, kernel]);
    b.add(one, 7, &format!("comm{evil}"), 30);
    b.add(two, 7, &format!("comm{evil}"), 10);
    let mut p = b.finish();
    p.meta.total_samples = p.total();
    p
}

/// Fails naming the output and the raw character when `text` holds a control character (other
/// than a newline or tab) or a bidirectional override.
fn assert_inert(what: &str, text: &str) {
    if let Some(c) = text.chars().find(|&c| (c.is_control() && c != '\n' && c != '\t') || c == '\u{202e}') {
        panic!("{what} holds the raw character {c:?}:\n{text}");
    }
}

/// The summary `prof record` prints names the target, command status, notes, top functions,
/// modules and written paths with their control characters escaped, visibly.
#[test]
fn hostile_text_summary_has_no_raw_controls() {
    let recording = Recording {
        profile: hostile_profile(),
        processes: 1,
        symbolize: Default::default(),
        ended_by: EndReason::CommandExited { status: format!("exit status: 1{}", HOSTILE.concat()), code: 1 },
        map_sizes: (0, 0),
        continuous: None,
        end_stages: EndStages::default(),
        unwind_table_bytes: 0,
        command_stopped: false,
        handed_over: Default::default(),
        verified: Vec::new(),
    };
    let text = prof::record::summary::summary(&recording, &[format!("out{}.svg", HOSTILE[0])], 5);
    assert_inert("the summary", &text);
    assert!(text.contains(r"work\x1b[31m\x07\u{9b}2J"), "{text}");
    assert!(text.contains(r"./app\x1b[31m"), "{text}");
}

/// The flame graph's title (the target) and frames, and the speedscope JSON, hold no raw
/// control character; the JSON still parses back to the original names.
#[test]
fn hostile_text_svg_and_speedscope_have_no_raw_controls() {
    let p = hostile_profile();
    let (title, subtitle) = flamegraph::default_title(&p.meta);
    let opts = SvgOptions { title, subtitle, deterministic: true, no_javascript: false };
    let mut svg = Vec::new();
    flamegraph::write_svg(&p, &RenderOptions::default(), &opts, &mut svg).unwrap();
    assert_inert("the SVG", &String::from_utf8(svg).unwrap());

    let mut json = Vec::new();
    speedscope::write(&p, &mut json).unwrap();
    assert_inert("the speedscope JSON", &String::from_utf8(json.clone()).unwrap());
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let names: Vec<&str> =
        v["shared"]["frames"].as_array().unwrap().iter().filter_map(|f| f["name"].as_str()).collect();
    assert!(names.contains(&format!("work{}", HOSTILE.concat()).as_str()), "{names:?}");
}

/// `prof diff`'s table, SVG and JSON hold no raw control character from names or sources.
#[test]
fn hostile_text_diff_outputs_have_no_raw_controls() {
    let (base, new) = (hostile_profile(), hostile_profile());
    let source = format!("base{}.prof", HOSTILE.concat());
    let d = prof::diff::diff(&base, &source, &new, &source, &Default::default()).unwrap();
    let mut table = Vec::new();
    render::write_table(&d, 20, &mut table).unwrap();
    assert_inert("the diff table", &String::from_utf8(table).unwrap());
    let mut svg = Vec::new();
    render::write_svg(&d, &DiffSvgOptions { deterministic: true, ..Default::default() }, &mut svg).unwrap();
    assert_inert("the diff SVG", &String::from_utf8(svg).unwrap());
    let mut json = Vec::new();
    render::write_json(&d, &mut json).unwrap();
    assert_inert("the diff JSON", &String::from_utf8(json).unwrap());
}
